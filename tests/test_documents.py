"""The documents a clinician files: CSV, JSON, PDF and chart, read back and checked."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from pypdf import PdfReader

import gabacalc
from gabacalc import VERIFICATION_TEXT
from gabacalc.render.chart import chart_title, plot_plan, render_png
from gabacalc.render.pdf import pdf_bytes
from gabacalc.render.phrases import fmt_date
from gabacalc.render.records import STAMP_COLUMNS, csv_text, json_text, neutralise_cell
from gabacalc.render.terminal import plan_text
from tests.conftest import assert_safe_dose_text


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, with line breaks and repeated spaces folded."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def long_plan() -> gabacalc.Plan:
    """A slow climb to 3,600 mg/day and a gradual taper: many steps, several pages."""
    patient = gabacalc.Patient(age_years=45, sex="male", weight_kg=85, crcl_ml_min=110)
    return gabacalc.build_plan(
        patient,
        start_daily_mg=100,
        target_daily_mg=3600,
        titration="gentle",
        taper="gradual",
        oral_solution=True,  # the gradual taper needs it below 300 mg/day
        start_date=date(2026, 1, 5),
    )


# ------------------------------------------------------------------------------ CSV


def test_csv_round_trips_through_pandas(example_plan: gabacalc.Plan) -> None:
    back = pd.read_csv(io.StringIO(csv_text(example_plan)), keep_default_na=False)
    schedule = example_plan.schedule
    assert list(back.columns) == [*schedule.columns, "flag_codes", *STAMP_COLUMNS]
    assert back["date"].tolist() == schedule["date"].dt.strftime("%Y-%m-%d").tolist()
    for column in ("day", "daily_mg", "morning_mg", "midday_mg", "bedtime_mg", "max_daily_mg"):
        assert back[column].dtype == np.int64, column
        assert back[column].tolist() == schedule[column].tolist(), column
    for column in ("phase", "note", "bedtime_take", "limited_by"):
        assert back[column].tolist() == schedule[column].tolist(), column


def test_csv_is_a_plain_table_with_the_stamp_and_flags_on_every_row(
    example_plan: gabacalc.Plan,
) -> None:
    text = csv_text(example_plan)
    s = example_plan.summary
    rows = list(csv.reader(io.StringIO(text)))
    assert not text.startswith("#")
    assert {len(row) for row in rows} == {len(rows[0])}  # one header, same width throughout
    back = pd.read_csv(io.StringIO(text))  # pandas' defaults, no options
    assert len(back) == len(example_plan.schedule)
    assert (back["verification"] == VERIFICATION_TEXT).all()
    assert (back["gabacalc_version"] == s["gabacalc_version"]).all()
    assert (back["rules_version"] == s["rules_version"]).all()
    assert (back["rules_sha256"] == s["rules_sha256"]).all()
    codes = ";".join(flag["code"] for flag in s["flags"])
    assert "TARGET_LIMITED_RENAL" in codes
    assert (back["flag_codes"] == codes).all()
    # A filtered copy of a few rows still says where it came from.
    last_week = back[back["date"] >= "2026-04-01"]
    assert set(last_week["verification"]) == {VERIFICATION_TEXT}


def test_csv_opens_with_defaults_in_polars_duckdb_and_the_csv_module(
    example_plan: gabacalc.Plan, tmp_path: Path
) -> None:
    import duckdb
    import polars as pl

    path = tmp_path / "plan.csv"
    path.write_text(csv_text(example_plan), encoding="utf-8")
    n = len(example_plan.schedule)
    frame = pl.read_csv(path)
    assert frame.height == n and frame["daily_mg"].max() == 1400
    assert frame["date"][0] == "2026-01-05"  # ISO dates: pl.read_csv(try_parse_dates=True)
    assert frame["verification"].unique().to_list() == [VERIFICATION_TEXT]
    connection = duckdb.connect()
    got = connection.execute(
        f"select count(*), max(daily_mg), min(date) from read_csv_auto('{path}')"
    ).fetchone()
    assert got == (n, 1400, date(2026, 1, 5))
    with path.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == n


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(example_plan: gabacalc.Plan) -> None:
    assert neutralise_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    for start in ("+", "-", "@", "\t", "\r"):
        assert neutralise_cell(start + "1").startswith("'")
    assert neutralise_cell("1 x 100 mg capsule") == "1 x 100 mg capsule"
    schedule = example_plan.schedule.copy()
    schedule.loc[0, "note"] = "=cmd|' /C calc'!A0"
    crafted = dataclasses.replace(example_plan, schedule=schedule)
    back = pd.read_csv(io.StringIO(csv_text(crafted)), keep_default_na=False)
    assert back.loc[0, "note"] == "'=cmd|' /C calc'!A0"


def test_no_cell_carries_a_comment_mark(example_plan: gabacalc.Plan) -> None:
    # A reader told to skip "#" comments (as older gabacalc CSVs needed) loses no row.
    assert "#" not in csv_text(example_plan)


# ----------------------------------------------------------------------------- JSON


def test_json_holds_the_summary_and_the_steps_and_rebuilds_the_plan(
    example_plan: gabacalc.Plan,
) -> None:
    record = json.loads(json_text(example_plan))
    assert record["verification"] == VERIFICATION_TEXT
    assert record["rules_sha256"] == example_plan.summary["rules_sha256"]
    assert record["summary"] == json.loads(json.dumps(example_plan.summary))
    assert len(record["steps"]) == len(example_plan.steps)
    assert record["steps"][-1]["daily_mg"] == 0
    rebuilt = gabacalc.rebuild_plan(record["summary"])
    assert rebuilt.schedule.equals(example_plan.schedule)


# ------------------------------------------------------------------------ same bytes


def test_same_plan_same_bytes(example_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    again = gabacalc.rebuild_plan(example_plan.summary)
    assert csv_text(again) == csv_text(example_plan)
    assert json_text(again) == json_text(example_plan)
    assert render_png(again) == render_png(example_plan)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert pdf_bytes(again) == pdf_bytes(example_plan)


# ------------------------------------------------------------------------------ PDF


def test_pdf_first_page_has_the_banner_inputs_formula_band_target_dates_and_flags(
    example_plan: gabacalc.Plan,
) -> None:
    pages = pdf_pages(pdf_bytes(example_plan))
    first = pages[0]
    s = example_plan.summary
    assert first.startswith(VERIFICATION_TEXT)
    assert "72 years, female, 60 kg, 160 cm, serum creatinine 1.3 mg/dL" in first
    assert "(140 - 72 years) x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 = 32.3 mL/min" in first
    assert "ideal body weight 52.4 kg" in first
    assert (
        "CrCl above 30 and below 60 mL/min: 400 to 1,400 mg a day, twice daily (neurontin-uspi 2.3"
        in first
    )
    assert "Band edges: the unrounded CrCl is applied to half-open bands" in first
    assert "1,400 mg a day: 700 mg in the morning, 700 mg at bedtime. Asked for 1,800" in first
    assert "efficacy review Fri 27 Feb 2026" in first
    # The flags follow the chart: they begin on page 1 and end by page 2.
    assert s["flags"][0]["code"] in first
    for flag in s["flags"]:
        assert flag["code"] in first + pages[1]
    assert chart_title(s) in first  # the chart, drawn as text and lines


def test_every_pdf_page_has_banner_footer_versions_and_page_x_of_y(
    long_plan: gabacalc.Plan,
) -> None:
    pages = pdf_pages(pdf_bytes(long_plan))
    total = len(pages)
    assert total >= 3
    s = long_plan.summary
    for number, text in enumerate(pages, start=1):
        assert text.count(VERIFICATION_TEXT) >= 2, number  # header and footer
        assert f"page {number} of {total}" in text
        assert f"gabacalc {s['gabacalc_version']}" in text
        assert s["rules_sha256"][:16] in text


def test_pdf_steps_table_lists_every_step_and_repeats_its_header(
    long_plan: gabacalc.Plan,
) -> None:
    pages = pdf_pages(pdf_bytes(long_plan))
    text = " ".join(pages)
    for row in long_plan.steps.itertuples():
        assert fmt_date(row.start_date.date()) in text
        if row.daily_mg:
            assert f"{row.daily_mg:,} mg a day" in text
    table_pages = [p for p in pages if re.search(r"\(\d+ days\) [\d,]+ mg a day gabapentin", p)]
    assert len(table_pages) >= 2
    for page in table_pages:
        assert "Step Dates Total a day Take Phase" in page


def test_pdf_has_review_taper_and_sources(example_plan: gabacalc.Plan) -> None:
    text = " ".join(pdf_pages(pdf_bytes(example_plan)))
    s = example_plan.summary
    assert f"Review on {fmt_date(s['review_date'])}: decide" in text
    assert s["review_with_benefit"] in text
    assert "never stop abruptly" in text
    assert f"no gabapentin from {fmt_date(s['taper_end_date'])}" in text
    assert "neurontin-uspi: NEURONTIN (gabapentin)" in text
    assert "cockcroft-gault-1976: Cockcroft DW, Gault MH" in text


def test_pdf_page_sizes(example_plan: gabacalc.Plan) -> None:
    letter = PdfReader(io.BytesIO(pdf_bytes(example_plan, "letter"))).pages[0].mediabox
    a4 = PdfReader(io.BytesIO(pdf_bytes(example_plan, "a4"))).pages[0].mediabox
    assert (round(float(letter.width)), round(float(letter.height))) == (612, 792)
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)
    with pytest.raises(gabacalc.InputError, match="page size 'b5' is not one of: letter, a4"):
        pdf_bytes(example_plan, "b5")


def test_pdf_of_a_hemodialysis_plan_shows_the_post_dialysis_doses(
    hemodialysis_plan: gabacalc.Plan,
) -> None:
    text = " ".join(pdf_pages(pdf_bytes(hemodialysis_plan)))
    mg = hemodialysis_plan.summary["post_dialysis_mg"]
    assert "after each dialysis session: gabapentin" in text
    assert f"{mg} mg after each hemodialysis session" in text


# ---------------------------------------------------------------------------- chart


def lines_by_gid(ax) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {line.get_gid(): line for line in ax.get_lines()}


def test_chart_draws_the_schedule_the_ceiling_and_the_review(
    example_plan: gabacalc.Plan,
) -> None:
    ax = plot_plan(example_plan, Figure().subplots())
    lines = lines_by_gid(ax)
    schedule = example_plan.schedule
    before = schedule[schedule["phase"] != "taper"]
    taper = schedule[schedule["phase"] == "taper"]
    dose_y = lines["dose"].get_ydata()
    assert list(dose_y[:-1]) == before["daily_mg"].tolist()  # one closing point
    taper_y = lines["taper"].get_ydata()
    assert list(taper_y[1:-1]) == taper["daily_mg"].tolist()  # one joining point
    assert lines["taper"].get_linestyle() == "--"  # conditional, drawn dashed
    assert set(lines["band-max"].get_ydata()) == {1400}
    review = lines["review"].get_xdata()[0]
    assert review == mdates.date2num(pd.Timestamp("2026-02-27"))
    assert ax.get_ylabel() == "Total daily dose (mg/day)"
    assert ax.get_xlabel() == "Date"
    texts = [t.get_text() for t in ax.texts]
    assert any(VERIFICATION_TEXT in t and example_plan.summary["rules_sha256"][:12] in t
               for t in texts)  # fmt: skip
    phases = {p.get_gid() for p in ax.patches}
    assert {"phase-titration", "phase-maintenance", "phase-taper"} <= phases


def test_chart_never_goes_above_the_ceiling(long_plan: gabacalc.Plan) -> None:
    ax = plot_plan(long_plan, Figure().subplots())
    lines = lines_by_gid(ax)
    ceiling = max(lines["band-max"].get_ydata())
    assert max(lines["dose"].get_ydata()) <= ceiling
    assert max(lines["taper"].get_ydata()) <= ceiling


def test_chart_marks_post_dialysis_doses(hemodialysis_plan: gabacalc.Plan) -> None:
    ax = plot_plan(hemodialysis_plan, Figure().subplots())
    marks = lines_by_gid(ax)["post-dialysis"]
    schedule = hemodialysis_plan.schedule
    days = schedule[schedule["post_dialysis_mg"] > 0]
    # Each dialysis day is drawn at its total: the day's dose and the supplement together.
    assert list(marks.get_ydata()) == (days["daily_mg"] + days["post_dialysis_mg"]).tolist()
    assert len(days) > 0
    assert ax.get_ylim()[1] > max(marks.get_ydata())  # never cut off at the top


def test_plan_plot_returns_the_axes_it_was_given(example_plan: gabacalc.Plan) -> None:
    ax = Figure().subplots()
    assert example_plan.plot(ax=ax) is ax


# ------------------------------------------------------------------- safe wording


def test_no_output_writes_a_dose_the_unsafe_way(
    example_plan: gabacalc.Plan, hemodialysis_plan: gabacalc.Plan, long_plan: gabacalc.Plan
) -> None:
    solution = gabacalc.build_plan(
        gabacalc.Patient(age_years=80, sex="female", weight_kg=45, crcl_ml_min=8),
        oral_solution=True,
        start_date=date(2026, 1, 5),
    )
    for plan in (example_plan, hemodialysis_plan, long_plan, solution):
        assert_safe_dose_text(csv_text(plan))
        assert_safe_dose_text(json_text(plan))
        assert_safe_dose_text(plan_text(plan))
        assert_safe_dose_text(" ".join(pdf_pages(pdf_bytes(plan))))
        ax = plot_plan(plan, Figure().subplots())
        legend = ax.get_legend()
        chart_words = [t.get_text() for t in (*ax.texts, *legend.get_texts())]
        assert_safe_dose_text(" ".join([ax.get_title(), *chart_words]))
    assert "mL oral solution" in csv_text(solution)


def test_the_chart_is_on_page_one_even_with_many_flags(many_flags_plan: gabacalc.Plan) -> None:
    plan = many_flags_plan
    reader = PdfReader(io.BytesIO(pdf_bytes(plan)))
    first = " ".join(reader.pages[0].extract_text().split())
    # The chart is drawn as vectors: its title, axis and legend are text on page 1.
    assert chart_title(plan.summary) in first
    assert "Total daily dose (mg/day)" in first and "taper (only if no clear benefit)" in first
    assert "Flags WARNING TARGET_LIMITED_RENAL" in first  # the flags follow it on page 1


# ------------------------------------------------------------------ Plan.to_* conversions


def test_plan_to_frame_is_the_schedule_as_a_copy_with_its_stamp(
    example_plan: gabacalc.Plan,
) -> None:
    frame = example_plan.to_frame()
    pd.testing.assert_frame_equal(frame, example_plan.schedule)
    assert frame.attrs["verification"] == gabacalc.VERIFICATION_TEXT
    assert frame.attrs["rules_sha256"] == example_plan.summary["rules_sha256"]
    frame.loc[0, "daily_mg"] = 9999
    assert int(example_plan.schedule.loc[0, "daily_mg"]) != 9999, "a copy, not the plan's own"


def test_plan_to_dict_and_to_json_are_the_json_record(example_plan: gabacalc.Plan) -> None:
    assert example_plan.to_json() == json_text(example_plan)
    assert example_plan.to_dict() == json.loads(json_text(example_plan))
    assert gabacalc.rebuild_plan(example_plan.to_dict()).summary == example_plan.summary


def test_plan_to_pdf_and_to_png_write_what_the_writers_write(
    example_plan: gabacalc.Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    pdf = example_plan.to_pdf(tmp_path / "plan.pdf", pagesize="a4")
    assert pdf == tmp_path / "plan.pdf"
    assert pdf.read_bytes() == pdf_bytes(example_plan, "a4")
    png = example_plan.to_png(tmp_path / "plan.png")
    assert png.read_bytes() == render_png(example_plan)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.pdf", "plan.png"]


# ------------------------------------------------------------------ JSON Schema


def test_the_plan_record_matches_its_shipped_json_schema(
    example_plan: gabacalc.Plan, many_flags_plan: gabacalc.Plan
) -> None:
    import jsonschema

    from gabacalc.render.records import PLAN_SCHEMA_VERSION, plan_schema

    schema = plan_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    taper = gabacalc.build_taper(
        gabacalc.Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=40),
        1800,
        current_doses_per_day=3,
        start_date=date(2026, 1, 5),
    )
    for plan in (example_plan, many_flags_plan, taper):
        record = json.loads(json_text(plan))
        assert record["schema_version"] == PLAN_SCHEMA_VERSION
        validator.validate(record)


def test_the_json_schema_refuses_a_record_that_breaks_it(example_plan: gabacalc.Plan) -> None:
    import jsonschema

    from gabacalc.render.records import plan_schema

    validator = jsonschema.Draft202012Validator(plan_schema())
    good = json.loads(json_text(example_plan))
    broken = [
        {**good, "verification": "A plan"},  # the verification text is required as is
        {**good, "schema_version": "0.9"},
        {k: v for k, v in good.items() if k != "rules_sha256"},
        {**good, "steps": [{**good["steps"][0], "daily_mg": "300 mg"}]},
        {**good, "summary": {**good["summary"], "review_date": "27/02/2026"}},
        {**good, "summary": {**good["summary"], "target_limited_by": ["preference"]}},
    ]
    for record in broken:
        assert not validator.is_valid(record)


def test_a_plan_built_from_local_tables_is_printed_with_their_wording(tmp_path: Path) -> None:
    """The PDF and the notebook display cite the tables the plan was built from."""
    import shutil

    from gabacalc.render.display import plan_html
    from gabacalc.rules import default_tables_dir, load_rules, write_manifest

    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    sources = folder / "sources.csv"
    text = sources.read_text(encoding="utf-8")
    assert "NEURONTIN (gabapentin) capsules" in text
    sources.write_text(
        text.replace("NEURONTIN (gabapentin) capsules", "LOCAL FORMULARY COPY of NEURONTIN", 1),
        encoding="utf-8",
    )
    write_manifest(folder, "local-test")
    local = load_rules(folder)
    patient = gabacalc.Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), rules=local)
    assert plan.rules is local and plan.summary["rules_sha256"] == local.rules_sha256
    pdf = " ".join(" ".join(pdf_pages(pdf_bytes(plan))).split())
    assert "LOCAL FORMULARY COPY of NEURONTIN" in pdf
    assert "LOCAL FORMULARY COPY of NEURONTIN" in plan_html(plan)
