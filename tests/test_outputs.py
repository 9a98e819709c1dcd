"""Issue 14: the workbook, the calendar, FHIR and the command-line conventions around them."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from icalendar import Calendar

import gabacalc
from gabacalc import VERIFICATION_TEXT, default_rules
from gabacalc.cli import main
from gabacalc.files.ics import plan_calendar
from gabacalc.files.workbook import plan_workbook, results_workbook
from gabacalc.render.records import header_lines
from tests.conftest import assert_safe_dose_text
from tests.test_cli import CLINIC_CSV, CLINIC_IDS, EXAMPLE

REPO = Path(__file__).resolve().parent.parent
EPOCH = "1767603600"  # 2026-01-05 09:00 UTC


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert "Traceback" not in result.output + result.stderr
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def stamp_ok(text: str) -> None:
    rules = default_rules()
    assert VERIFICATION_TEXT in text
    assert gabacalc.__version__ in text
    assert rules.rules_version in text and rules.rules_sha256 in text


# ---------------------------------------------------------------------------- workbook


def test_the_plan_workbook_reads_first_then_holds_typed_tables(
    example_plan: gabacalc.Plan,
) -> None:
    book = openpyxl.load_workbook(io.BytesIO(plan_workbook(example_plan)))
    assert book.sheetnames == ["Plan", "Schedule", "Steps"]
    first = [row[0].value for row in book["Plan"].iter_rows()]
    assert first == header_lines(example_plan)  # banner, stamp, patient, estimate, band, flags
    assert first[0] == VERIFICATION_TEXT
    stamp_ok("\n".join(first))
    assert any(line.startswith("Patient: 72 years, female") for line in first)
    assert any("TARGET_LIMITED_RENAL" in line for line in first)
    sheet = book["Schedule"]
    header = [cell.value for cell in sheet[1]]
    assert header == list(example_plan.schedule.columns)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    day1 = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert day1["date"].value == datetime(2026, 1, 5) and day1["date"].is_date
    assert day1["date"].number_format == "yyyy-mm-dd"
    assert day1["daily_mg"].value == 100 and day1["daily_mg"].data_type == "n"
    assert day1["phase"].value == "titration"
    assert sheet.max_row == len(example_plan.schedule) + 1
    date_column = sheet.column_dimensions["A"].width
    assert date_column >= 10  # wide enough for a date: never ###
    for name in book.sheetnames:
        assert VERIFICATION_TEXT in book[name].oddHeader.left.text


def test_the_plan_workbook_is_the_same_bytes_with_source_date_epoch(
    example_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    again = gabacalc.rebuild_plan(example_plan.summary)
    assert plan_workbook(again) == plan_workbook(example_plan)


def test_the_results_workbook_keeps_ids_as_text_and_types(tmp_path: Path) -> None:
    (tmp_path / "clinic.csv").write_text(
        "id,age_years,sex,weight_kg,scr,start_date,current_daily_mg\n"
        "00123,72,female,60,1.3,2026-01-05,1800\n"
        "=1+1,300,male,80,1.0,2026-01-05,\n",
        encoding="utf-8",
    )
    gabacalc.files.cohort_io.run_cohort_file(tmp_path / "clinic.csv", tmp_path / "r.csv")
    results = gabacalc.read_results(tmp_path / "r.csv")
    book = openpyxl.load_workbook(io.BytesIO(results_workbook(results, "2 rows: 1 error")))
    assert book.sheetnames == ["Cohort", "Results"]
    stamp_ok("\n".join(str(row[0].value) for row in book["Cohort"].iter_rows()))
    sheet = book["Results"]
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["id"].value == "00123" and row["id"].data_type == "s"  # the zeros kept
    assert row["review_date"].is_date and row["review_date"].value == datetime(2026, 2, 16)
    assert row["max_daily_mg"].value == 1400
    assert row["audit_above_band_max"].value is True
    assert row["crcl_ml_min"].data_type == "n"  # a number, shown in the reader's locale
    assert row["flag_codes"].value.startswith("TARGET_LIMITED_RENAL; ")
    bad = {name: cell for name, cell in zip(header, sheet[3], strict=True)}
    assert bad["id"].value == "'=1+1" and bad["id"].data_type == "s"  # text, never a formula
    assert sheet.freeze_panes == "A2"


def test_a_cohort_beyond_a_sheet_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gabacalc.files.workbook

    monkeypatch.setattr(gabacalc.files.workbook, "MAX_ROWS", 5)  # the same rule, a smaller sheet
    (tmp_path / "clinic.csv").write_text(CLINIC_CSV, encoding="utf-8")
    out, book = tmp_path / "plans.csv", tmp_path / "plans.xlsx"
    code, _, err = run(
        "cohort", str(tmp_path / "clinic.csv"), "--out", str(out), "--xlsx", str(book)
    )
    assert code == 2
    assert err.strip() == (
        "Error: the cohort has 6 rows, more than a workbook sheet holds (5 below its header); "
        "drop --xlsx (the CSV or Parquet results hold every row) or split the cohort; nothing "
        "was written"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.csv"]


def test_cohort_writes_results_and_workbook_together(tmp_path: Path) -> None:
    (tmp_path / "clinic.csv").write_text(CLINIC_CSV, encoding="utf-8")
    out, book = tmp_path / "plans.parquet", tmp_path / "plans.xlsx"
    code, text, _ = run(
        "cohort", str(tmp_path / "clinic.csv"), "--out", str(out), "--xlsx", str(book)
    )
    assert code == 0 and f"Wrote {book}" in text
    sheet = openpyxl.load_workbook(book)["Results"]
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == CLINIC_IDS


# ---------------------------------------------------------------------------- calendar


def test_the_calendar_has_each_regimen_change_and_the_review(example_plan: gabacalc.Plan) -> None:
    calendar = Calendar.from_ical(plan_calendar(example_plan))
    events = list(calendar.walk("VEVENT"))
    steps = example_plan.steps
    s = example_plan.summary
    assert len(events) == len(steps) + 1
    starts = [event.decoded("dtstart") for event in events]
    assert starts[: len(steps)] == [d.date() for d in steps["start_date"]]
    review = events[-1]
    assert review.decoded("dtstart") == date.fromisoformat(s["review_date"])
    assert "efficacy review" in str(review.get("summary"))
    for event, (_, step) in zip(events, steps.iterrows(), strict=False):
        description = str(event.get("description"))
        stamp_ok(description)
        assert_safe_dose_text(description + str(event.get("summary")))
        assert " + " not in description
        if step["phase"] == "taper":  # conditional: says so
            assert str(event.get("summary")).startswith(
                f"gabacalc: If no clear benefit at the review on {s['review_date']}"
            )
    assert "1,400 mg/day, twice daily" in " ".join(str(e.get("summary")) for e in events)


def test_the_calendar_is_the_same_bytes_with_source_date_epoch(
    many_flags_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    again = gabacalc.rebuild_plan(many_flags_plan.summary)
    assert plan_calendar(again) == plan_calendar(many_flags_plan)


# ------------------------------------------------------------------ the command line


def test_plan_writes_every_new_output_at_once(tmp_path: Path) -> None:
    paths = {kind: tmp_path / f"p.{kind}" for kind in ("csv", "json", "xlsx", "ics")}
    paths["fhir"] = tmp_path / "p.fhir.json"
    args = [a for kind, path in paths.items() for a in (f"--{kind}", str(path))]
    code, out, _ = run("plan", *EXAMPLE, *args)
    assert code == 0
    for path in paths.values():
        assert f"Wrote {path}" in out
    assert json.loads(paths["fhir"].read_text())["resourceType"] == "Bundle"
    assert paths["xlsx"].read_bytes()[:2] == b"PK"
    assert paths["ics"].read_bytes().startswith(b"BEGIN:VCALENDAR")


def test_a_failing_output_leaves_none_written(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "p.ics"
    code, _, err = run(
        "taper", "--age", "60", "--sex", "m", "--weight-kg", "70", "--crcl", "40",
        "--current-mg", "1800", "--xlsx", str(tmp_path / "t.xlsx"),
        "--fhir", str(tmp_path / "t.json"), "--ics", str(missing),
    )  # fmt: skip
    assert code == 1 and "no-such-folder" in err
    assert list(tmp_path.iterdir()) == []


def test_fhir_to_stdout() -> None:
    code, out, err = run("plan", *EXAMPLE, "--fhir", "-")
    assert code == 0
    assert json.loads(out)["type"] == "collection"
    assert VERIFICATION_TEXT in err


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["--sex", "F"], "female"),
        (["--sex", "m"], "male"),
        (["--sex", "FEMALE"], "female"),
        (["--dialysis", "HD"], "hemodialysis"),
        (["--dialysis", "pd"], "peritoneal"),
        (["--scr-unit", "umol"], "umol/L"),
        (["--scr-unit", "MG/DL"], "mg/dL"),
        (["--titration", "Gentle"], "gentle"),
        (["--risk", "OPIOIDS"], "opioids"),
    ],
)
def test_choices_take_any_case_and_the_short_forms(typed: list[str], meant: str) -> None:
    base = ["--age", "66", "--sex", "male", "--weight-kg", "80", "--start-date", "2026-01-05"]
    kidney = [] if "--dialysis" in typed else ["--crcl", "50"]
    if typed[0] == "--scr-unit":
        kidney = ["--scr", "1.1" if meant == "mg/dL" else "97"]
    code, out, _ = run("plan", *base, *kidney, *typed, "--json", "-")
    assert code == 0, out
    s = json.loads(out)["summary"]
    values = {
        "--sex": s["inputs"]["patient"]["sex"],
        "--dialysis": s["dialysis"],
        "--scr-unit": s["inputs"]["patient"]["scr_unit"],
        "--titration": s["titration"],
        "--risk": (s["inputs"]["patient"]["risks"] or [None])[0],
    }
    assert values[typed[0]] == meant


def test_a_near_miss_gets_a_did_you_mean() -> None:
    code, _, err = run("plan", *EXAMPLE, "--risk", "opiods")
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "Error: risk 'opiods' is not one of: opioids, cns-depressants, respiratory, falls, "
        "pregnancy, misuse, epilepsy, unstable-renal; did you mean 'opioids'?"
    )
    code, _, err = run("plan", *EXAMPLE, "--dialysis", "hemodialisis")
    assert code == 2 and err.strip().endswith("did you mean 'hemodialysis'?")


def test_short_help_quiet_and_a_version_with_the_rules() -> None:
    assert run("-h")[1] == run("--help")[1]
    assert run("plan", "-h")[1] == run("plan", "--help")[1]
    assert "_GABACALC_COMPLETE=bash_source gabacalc" in run("--help")[1]
    code, out, _ = run("--version")
    rules = default_rules()
    assert code == 0
    assert out.splitlines() == [
        f"gabacalc {gabacalc.__version__}",
        f"rule tables {rules.rules_version} (sha256 {rules.rules_sha256})",
        VERIFICATION_TEXT,
    ]


def test_quiet_prints_nothing_and_still_writes(tmp_path: Path) -> None:
    code, out, err = run("plan", *EXAMPLE, "--csv", str(tmp_path / "p.csv"), "--quiet")
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / "p.csv").stat().st_size > 100
    (tmp_path / "clinic.csv").write_text(CLINIC_CSV, encoding="utf-8")
    code, out, err = run(
        "cohort", str(tmp_path / "clinic.csv"), "--out", str(tmp_path / "r.csv"), "-q"
    )
    assert (code, out, err) == (0, "", "")


def test_cohort_reads_stdin_and_gzip_and_gives_the_same_bytes(tmp_path: Path) -> None:
    plain, packed = tmp_path / "clinic.csv", tmp_path / "clinic.csv.gz"
    plain.write_text(CLINIC_CSV, encoding="utf-8")
    packed.write_bytes(gzip.compress(CLINIC_CSV.encode("utf-8")))
    assert run("cohort", str(plain), "--out", str(tmp_path / "a.csv"))[0] == 0
    assert run("cohort", str(packed), "--out", str(tmp_path / "b.csv"))[0] == 0
    code, _, _ = run("cohort", "-", "--out", str(tmp_path / "c.csv"), stdin=CLINIC_CSV.encode())
    assert code == 0
    expected = (tmp_path / "a.csv").read_bytes()
    assert (tmp_path / "b.csv").read_bytes() == expected
    assert (tmp_path / "c.csv").read_bytes() == expected


def test_a_broken_gzip_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "clinic.csv.gz"
    bad.write_bytes(b"not gzip at all")
    code, _, err = run("cohort", str(bad), "--out", str(tmp_path / "r.csv"))
    assert code == 2 and err.startswith(f"Error: cannot read the cohort '{bad}' as gzip")
    assert not (tmp_path / "r.csv").exists()


def test_help_and_completion_do_not_load_pandas() -> None:
    """``gabacalc --help`` and a TAB completion import neither pandas nor the planner."""
    probe = (
        "import sys\n"
        "from gabacalc.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'gabacalc.core.plan', "
        "'gabacalc.core.cohort') if m in sys.modules)\n"
        "print('heavy:', ','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "Usage: gabacalc" in result.stdout or "Usage: -c" in result.stdout
    assert result.stderr.strip() == "heavy:"
    env = {
        "_GABACALC_COMPLETE": "bash_complete",
        "COMP_WORDS": "gabacalc plan --dia",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from gabacalc.cli import main; main(prog_name='gabacalc')"],
        capture_output=True, text=True, cwd=REPO, check=False,
        env={**__import__("os").environ, **env},
    )  # fmt: skip
    assert "--dialysis" in done.stdout and "--dialysis-days" in done.stdout


def test_the_import_is_light_and_the_api_whole() -> None:
    probe = (
        "import sys, gabacalc\n"
        "print('pandas' in sys.modules)\n"
        "gabacalc.read_results, gabacalc.build_plan\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split() == ["False", "True"]
    assert set(gabacalc.__all__) <= set(dir(gabacalc))
    with pytest.raises(AttributeError):
        gabacalc.no_such_name  # noqa: B018


def test_results_csv_from_stdin_opens_in_pandas(tmp_path: Path) -> None:
    code, _, _ = run("cohort", "-", "--out", str(tmp_path / "r.csv"), stdin=CLINIC_CSV.encode())
    assert code == 0
    assert pd.read_csv(tmp_path / "r.csv")["id"].tolist() == CLINIC_IDS
