"""The clinician's document a pharmacist can sign, and the patient's schedule, read back.

Each test reads what a person would read (the PDF's text through pypdf, the terminal text,
the CSV's text cells, the JSON) and checks one promise of the documents: identification
and sign-off fields, the time prepared, prescription-style dose lines, words not symbols,
weekday dates, the conditional taper, dispensing totals, counselling with sources, and the
handout's calendar with a tick box for every dose.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from pypdf import PdfReader

import gabacalc
from gabacalc import VERIFICATION_TEXT
from gabacalc.cli import main
from gabacalc.core.plan import products_used
from gabacalc.render.chart import plot_plan
from gabacalc.render.handout import TICK_BOX, handout_bytes
from gabacalc.render.pdf import pdf_bytes
from gabacalc.render.phrases import BLANK, Identification, dispensing, fmt_date
from gabacalc.render.records import csv_text, json_text
from gabacalc.render.terminal import plan_text
from tests.conftest import assert_safe_dose_text

EPOCH = "1767225600"  # 2026-01-01 00:00 UTC
SYMBOLS = re.compile(r">=|<=|->|=>|[<>]")
INTERNAL = re.compile(
    r"CLINICAL\.md|shared/|\bissue \d|build_plan|build_taper|current_daily_mg|_mg\b"
)
MARKUP = "Ann <b>Smith</b> & <font color='red'>O'Neil</font>"


def text_of(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )


def pages_of(data: bytes) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def solution_plan() -> gabacalc.Plan:
    """CrCl 8 mL/min with the oral solution allowed: doses measured in mL."""
    patient = gabacalc.Patient(age_years=80, sex="female", weight_kg=45, crcl_ml_min=8)
    return gabacalc.build_plan(patient, oral_solution=True, start_date=date(2026, 1, 5))


@pytest.fixture
def taper_plan() -> gabacalc.Plan:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    return gabacalc.build_taper(patient, 3600, current_doses_per_day=3, start_date=date(2026, 3, 2))


@pytest.fixture
def all_plans(
    example_plan: gabacalc.Plan,
    hemodialysis_plan: gabacalc.Plan,
    many_flags_plan: gabacalc.Plan,
    solution_plan: gabacalc.Plan,
    taper_plan: gabacalc.Plan,
) -> list[gabacalc.Plan]:
    return [example_plan, hemodialysis_plan, many_flags_plan, solution_plan, taper_plan]


# ------------------------------------------------------------ identification


def test_blank_lines_to_fill_by_hand_when_no_details_are_given(
    example_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    text = text_of(pdf_bytes(example_plan))
    for label in (
        "Patient name",
        "Date of birth",
        "Hospital or MRN number",
        "Allergies",
        "Date of creatinine or CrCl",
        "Date of weight",
    ):
        assert label in text, label
    assert text.count("____") >= 6 + 8  # six fields and the two sign-off blocks' four lines
    assert "Prepared Thu 1 Jan 2026 00:00 UTC" in text
    assert "Prescriber" in text and "Verified by (pharmacist or physician)" in text
    for line in ("Name", "Signature", "Date", "Time"):
        assert f"{line}: ____" in text
    terminal = plan_text(example_plan)
    assert f"Patient name:               {BLANK}" in terminal
    assert "Prepared:                   Thu 1 Jan 2026 00:00 UTC" in terminal
    assert "Verified by (pharmacist or physician)" in terminal
    record = json.loads(json_text(example_plan))
    assert record["document"]["identification"] == {
        "patient_name": None,
        "patient_dob": None,
        "patient_id": None,
        "scr_date": None,
        "weight_date": None,
    }


def test_given_details_are_printed_literally_markup_and_all(
    example_plan: gabacalc.Plan,
) -> None:
    ident = Identification(
        patient_name=MARKUP,
        patient_dob=date(1954, 3, 12),
        patient_id="MRN <i>0042</i> & co",
        scr_date=date(2025, 12, 29),
        weight_date=date(2025, 12, 30),
    )
    text = text_of(pdf_bytes(example_plan, identification=ident))
    assert MARKUP in text
    assert "MRN <i>0042</i> & co" in text
    assert "Fri 12 Mar 1954" in text
    assert "Mon 29 Dec 2025" in text and "Tue 30 Dec 2025" in text
    assert MARKUP in " ".join(text_of(handout_bytes(example_plan, ident)).split())
    assert f"Patient name:               {MARKUP}" in plan_text(example_plan, ident)
    record = json.loads(json_text(example_plan, ident))
    assert record["document"]["identification"]["patient_name"] == MARKUP
    assert record["document"]["identification"]["scr_date"] == "2025-12-29"


def test_patient_details_are_never_required_and_never_in_a_file_name(tmp_path: Path) -> None:
    args = ["plan", "--age", "50", "--sex", "male", "--weight-kg", "80", "--crcl", "90"]
    out = tmp_path / "out"
    out.mkdir()
    files = ["--pdf", str(out / "a.pdf"), "--handout", str(out / "b.pdf"), "--json"]
    files += [str(out / "c.json"), "--csv", str(out / "d.csv")]
    result = CliRunner().invoke(
        main, [*args, *files, "--patient-name", "Zed Q", "--patient-id", "MRN777"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.pdf", "b.pdf", "c.json", "d.csv"]
    assert not [p for p in tmp_path.rglob("*") if "Zed" in p.name or "777" in p.name]
    assert "MRN777" not in result.output  # the terminal line names the files, not the patient
    assert CliRunner().invoke(main, [*args, "--pdf", str(tmp_path / "x.pdf")]).exit_code == 0


def test_a_bad_date_of_birth_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            *["plan", "--age", "50", "--sex", "male", "--weight-kg", "80", "--crcl", "90"],
            *["--patient-dob", "12/03/1954", "--pdf", str(tmp_path / "x.pdf")],
        ],
    )
    assert result.exit_code == 2
    assert "--patient-dob" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_prepared_time_keeps_pdf_bytes_reproducible(
    example_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    ident = Identification(patient_name="A B")
    assert pdf_bytes(example_plan, identification=ident) == pdf_bytes(
        gabacalc.rebuild_plan(example_plan.summary), identification=ident
    )
    assert handout_bytes(example_plan, ident) == handout_bytes(example_plan, ident)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 86400 + 3600))
    assert "Prepared Fri 2 Jan 2026 01:00 UTC" in text_of(pdf_bytes(example_plan))


# -------------------------------------------------------------- the dose lines


def test_dose_lines_read_like_a_prescription(example_plan: gabacalc.Plan) -> None:
    text = text_of(pdf_bytes(example_plan))
    assert (
        "gabapentin 100 mg capsule: take 1 capsule by mouth at bedtime (total 100 mg a day)" in text
    )
    # 700 mg twice daily is made as 400 mg and 300 mg (the label's combination).
    assert (
        "gabapentin 400 mg capsule: take 1 capsule by mouth twice daily (in the morning and "
        "at bedtime) and gabapentin 300 mg capsule: take 1 capsule by mouth twice daily (in "
        "the morning and at bedtime) (total 1,400 mg a day)"
    ) in text
    for plan_line in json.loads(json_text(example_plan))["document"]["steps"]:
        for line in plan_line["dose_lines"]:
            assert "+" not in line
            assert line.startswith(("gabapentin", "and gabapentin", "stop", "after each"))


def test_oral_solution_lines_carry_the_concentration(solution_plan: gabacalc.Plan) -> None:
    lines = [
        line
        for step in json.loads(json_text(solution_plan))["document"]["steps"]
        for line in step["dose_lines"]
        if "solution" in line
    ]
    assert lines
    for line in lines:
        assert "gabapentin oral solution 250 mg per 5 mL (50 mg per mL): take" in line
        assert re.search(r"take \d+(\.\d)? mL \([\d.]+ mg\) by mouth", line), line


def test_no_plus_or_comparison_symbols_in_anything_a_person_reads(
    all_plans: list[gabacalc.Plan],
) -> None:
    for plan in all_plans:
        for name, text in (
            ("pdf", text_of(pdf_bytes(plan))),
            ("handout", text_of(handout_bytes(plan))),
            ("terminal", plan_text(plan)),
        ):
            assert not SYMBOLS.search(text), (name, SYMBOLS.search(text))
            assert " + " not in text, name
            assert_safe_dose_text(text)
        rows = list(csv.reader(io.StringIO(csv_text(plan))))
        cells = [c for row in rows for c in row if re.search("[A-Za-z]", c)]
        for cell in cells:
            assert not SYMBOLS.search(cell) and " + " not in cell, cell
        ax = plot_plan(plan, Figure().subplots())
        words = [ax.get_title(), *(t.get_text() for t in ax.get_legend().get_texts())]
        assert not any(SYMBOLS.search(w) for w in words), words


def test_no_output_cites_the_projects_development(all_plans: list[gabacalc.Plan]) -> None:
    for plan in all_plans:
        header = "\n".join(line for line in csv_text(plan).splitlines() if line.startswith("#"))
        for text in (
            text_of(pdf_bytes(plan)),
            text_of(handout_bytes(plan)),
            plan_text(plan),
            header,
        ):
            assert not INTERNAL.search(text), INTERNAL.search(text)
        record = json.loads(json_text(plan))
        for flag in record["summary"]["flags"]:
            assert not INTERNAL.search(" ".join(flag.values()))


def test_every_date_a_person_reads_has_its_weekday(example_plan: gabacalc.Plan) -> None:
    text = text_of(pdf_bytes(example_plan))
    plan_part = text[: text.index("Sources neurontin-uspi")]  # citations keep their own dates
    iso = re.findall(r"\b20\d\d-\d\d-\d\d\b", plan_part)
    assert iso == []  # no bare ISO dates in the plan
    days = re.findall(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{1,2}) (\w{3}) (\d{4})\b", text)
    assert len(days) > 40
    for weekday, day, month, year in days:
        when = date(int(year), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                "Sep", "Oct", "Nov", "Dec"].index(month) + 1, int(day))  # fmt: skip
        assert f"{when:%a}" == weekday, (weekday, day, month, year)


def test_a_one_day_step_reads_on_that_day_only() -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    plan = gabacalc.build_plan(patient, titration="label-phn", start_date=date(2026, 1, 5))
    text = plan_text(plan)
    assert "on Mon 5 Jan 2026 only (1 day)" in text  # the label's day 1
    assert "on Tue 6 Jan 2026 only (1 day)" in text  # and day 2
    assert "from Mon 5 Jan 2026" not in text
    assert "on Mon 5 Jan 2026 only (1 day)" in text_of(pdf_bytes(plan))


# ------------------------------------------------------------ the decision


def test_the_taper_has_its_own_conditional_section(example_plan: gabacalc.Plan) -> None:
    pdf = text_of(pdf_bytes(example_plan))
    heading = "Only if there is no clear benefit at the review on Fri 27 Feb 2026"
    for text in (pdf, " ".join(plan_text(example_plan).split())):
        review = text.index("Review on Fri 27 Feb 2026: decide")
        taper = text.index(heading)
        last_titration_row = text.index("Fri 13 Feb 2026 to Fri 27 Feb 2026")
        first_taper_row = text.index("Sat 28 Feb 2026 to Fri 6 Mar 2026")
        assert last_titration_row < review < taper < first_taper_row
        assert "Do not start it automatically" in text


def test_every_taper_row_is_marked_conditional_in_csv_and_json(
    example_plan: gabacalc.Plan, taper_plan: gabacalc.Plan
) -> None:
    import pandas as pd

    back = pd.read_csv(io.StringIO(csv_text(example_plan)), comment="#")
    assert back["conditional"].tolist() == (back["phase"] == "taper").tolist()
    assert back["conditional"].sum() > 7
    record = json.loads(json_text(example_plan))
    for step in record["steps"]:
        assert step["conditional"] is (step["phase"] == "taper")
    # A taper asked for is the plan itself: nothing in it is conditional.
    assert not taper_plan.schedule["conditional"].any()
    assert not any(s["conditional"] for s in json.loads(json_text(taper_plan))["steps"])


def test_titration_scheme_and_weight_basis_are_named_with_sources(
    example_plan: gabacalc.Plan,
) -> None:
    text = text_of(pdf_bytes(example_plan))
    assert "Titration scheme gentle: Up by 100 mg/day every 3 days" in text
    assert "(source: dworkin-2007" in text
    assert "Weight basis auto: ideal body weight 52.4 kg, because BMI 18.5 to below 25" in text
    assert "gabacalc-conventions clinical-basis section 3" in text
    assert "devine-1974" in text
    basis = json.loads(json_text(example_plan))["document"]["basis"]
    assert [b["label"] for b in basis] == ["Titration scheme", "Taper scheme", "Weight basis"]


# ------------------------------------------------------------------ dispensing


def _units_by_hand(plan: gabacalc.Plan, days: object) -> dict[str, float]:
    """Count every unit of every administration of the given days, from the schedule."""
    assert plan.formulary is not None
    totals: dict[str, float] = {}
    for _, row in plan.schedule[days].iterrows():  # type: ignore[index]
        for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"):
            for portion in plan.formulary.portions(int(row[column])) if row[column] else ():
                totals[portion.product] = totals.get(portion.product, 0) + portion.count
    return totals


@pytest.mark.parametrize("name", ["example_plan", "hemodialysis_plan", "solution_plan"])
def test_dispensing_totals_equal_the_sums_over_the_schedule(
    name: str, request: pytest.FixtureRequest
) -> None:
    plan: gabacalc.Plan = request.getfixturevalue(name)
    table = dispensing(plan)
    before = _units_by_hand(plan, ~plan.schedule["conditional"])
    taper = _units_by_hand(plan, plan.schedule["conditional"])
    first, second = table["totals"]
    assert first["label"].startswith("Day 1 to the review on ")
    for product in table["products"]:
        assert first["units"][product] == pytest.approx(before.get(product, 0))
        assert second["units"][product] == pytest.approx(taper.get(product, 0))
    assert set(table["products"]) == set(before) | set(taper)
    text = text_of(pdf_bytes(plan))
    assert "Dispensing quantities" in text
    for product in table["products"]:  # every product named, with its unit
        assert f"{product} ({table['unit'][product]})" in text


def test_the_misuse_flag_limits_the_supply_to_the_review() -> None:
    patient = gabacalc.Patient(
        age_years=40, sex="male", weight_kg=80, crcl_ml_min=90, risks=["misuse"]
    )
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5))
    note = dispensing(plan)["note"]
    assert note.startswith("Misuse history flagged: dispense at most the quantities to the review")
    assert note in text_of(pdf_bytes(plan))


# ------------------------------------------------------------------ products


def test_max_products_keeps_the_plan_to_n_products() -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    free = gabacalc.build_plan(patient, start_date=date(2026, 1, 5))
    assert len(products_used(free)) == 4
    for most in (1, 2, 3):
        plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), max_products=most)
        assert len(products_used(plan)) <= most
        # The band still allows the target: fewer products do not lower the dose.
        assert plan.summary["target_daily_mg"] == free.summary["target_daily_mg"]
        assert plan.summary["start_daily_mg"] == free.summary["start_daily_mg"]
        assert gabacalc.rebuild_plan(plan.summary).schedule.equals(plan.schedule)
    two = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), max_products=2)
    assert f"kept to at most 2: {' and '.join(products_used(two))}" in plan_text(two)
    with pytest.raises(gabacalc.InputError, match="at most 0 products"):
        gabacalc.build_plan(patient, max_products=0)


def test_combinations_follow_the_label_forms() -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=45)
    plan = gabacalc.build_plan(patient, target_daily_mg=1400, start_date=date(2026, 1, 5))
    takes = set(plan.schedule["bedtime_take"])
    assert "1 x 400 mg capsule and 1 x 300 mg capsule" in takes  # 700 mg
    assert "1 x 400 mg capsule and 1 x 100 mg capsule" in takes  # 500 mg
    assert not any("600 mg tablet and 1 x 100" in t for t in takes)


# ---------------------------------------------------------- what to do when


def test_what_to_do_when_and_counselling_cite_label_sections(
    example_plan: gabacalc.Plan,
) -> None:
    text = text_of(pdf_bytes(example_plan))
    expected = {
        "go back one step": "dworkin-2007",
        "hold the current step for another week": "nhs-fife-2025",
        "Never take two doses at once": "neurontin-uspi 17",
        "no more than 12 hours between doses": "neurontin-uspi 2.2",
        "at least 2 hours after such an antacid": "neurontin-uspi 7",
        "Alcohol, opioids and other CNS depressants": "neurontin-uspi 5.7",
        "no driving or operating machinery": "neurontin-uspi 5.3",
        "suicidal thoughts": "neurontin-uspi 5.6",
        "swelling of the face, lips, tongue or throat": "neurontin-uspi 5.1",
        "GRALISE (once-daily gabapentin) and HORIZANT": "gralise-uspi 2",
    }
    for words, source in expected.items():
        at = text.index(words)
        assert source in text[at : at + 400], words
    terminal = " ".join(plan_text(example_plan).split())
    for words in expected:
        assert words in terminal


def test_the_back_pain_warning_rests_on_the_systematic_reviews() -> None:
    patient = gabacalc.Patient(
        age_years=50, sex="male", weight_kg=80, crcl_ml_min=90, pain_type="non-radicular"
    )
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5))
    flag = next(f for f in plan.flags if f["code"] == "NON_RADICULAR")
    assert flag["source_id"] == "shanthanna-2017" and "enke-2018" in flag["source_section"]
    text = text_of(pdf_bytes(plan))
    assert "shanthanna-2017: Shanthanna H et al." in text
    assert "enke-2018: Enke O et al." in text  # named in the section: listed in full too
    assert "horizant-uspi: HORIZANT" in text


def test_tables_conventions_prints_the_clinical_basis_the_tables_cite() -> None:
    result = CliRunner().invoke(main, ["tables", "--conventions"])
    assert result.exit_code == 0
    sections = re.findall(r"^## (\d+)\. ", result.output, flags=re.MULTILINE)
    assert sections == [str(n) for n in range(1, len(sections) + 1)]
    assert VERIFICATION_TEXT in result.output
    rules = gabacalc.default_rules()
    cited = {
        int(n)
        for table in rules.rows.values()
        for row in table
        for n in re.findall(r"clinical-basis section (\d+)", row.get("source_section") or "")
    }
    assert cited and cited <= {int(n) for n in sections}
    for table in rules.rows.values():
        for row in table:
            if row.get("source_id") == "gabacalc-conventions" and "citation" not in row:
                assert "clinical-basis section" in row.get("source_section", ""), row


# -------------------------------------------------------------------- the chart


def test_a_taper_chart_reads_as_a_taper(taper_plan: gabacalc.Plan) -> None:
    ax = plot_plan(taper_plan, Figure().subplots())
    end = fmt_date(taper_plan.summary["taper_end_date"])
    assert ax.get_title().startswith(f"Taper from 3,600 mg/day to stop by {end}")


def test_the_chart_has_no_offset_text_and_full_tick_dates(example_plan: gabacalc.Plan) -> None:
    fig = Figure()
    ax = plot_plan(example_plan, fig.subplots())
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    assert ax.xaxis.get_offset_text().get_text() == ""
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(re.match(r"\d{1,2} [A-Z][a-z]{2}", t) for t in labels)
    assert "2026" in labels[0]  # the year is under the first tick, not in a corner


def test_long_product_names_never_wrap_between_count_and_product(
    example_plan: gabacalc.Plan,
) -> None:
    from gabacalc.render.pdf_base import keep_units

    # Wherever a count meets its unit, the space is a non-breaking one ...
    assert keep_units("take 1 capsule of 300 mg and 1 x 400 mg capsule") == (
        "take 1\u00a0capsule of 300\u00a0mg and 1\u00a0x\u00a0400\u00a0mg\u00a0capsule"
    )
    # ... so that no line of the document ends between "1" and "capsule" or "300" and "mg".
    for plan in (example_plan, gabacalc.build_plan(example_plan.patient, max_products=2)):
        raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(plan))).pages)
        assert not re.search(r"\d\n(mg|mL|capsules?|tablets?|x)\b", raw)
        assert not re.search(r"\bx\n\d", raw)


# -------------------------------------------------------------------- handout


def test_handout_has_a_weekday_calendar_with_a_tick_box_for_every_dose(
    example_plan: gabacalc.Plan,
) -> None:
    data = handout_bytes(example_plan)
    text = text_of(data)
    s = example_plan.summary
    shown = example_plan.schedule[~example_plan.schedule["conditional"]]
    doses = int((shown[["morning_mg", "midday_mg", "bedtime_mg"]] > 0).to_numpy().sum())
    assert text.count(TICK_BOX) == doses
    day = date.fromisoformat(s["start_date"])
    while day <= date.fromisoformat(s["review_date"]):
        assert fmt_date(day) in text, day
        day += timedelta(days=1)
    assert fmt_date(date.fromisoformat(s["taper_end_date"])) not in text  # taper not shown
    assert f"Your review appointment {fmt_date(s['review_date'])}" in text
    assert "Clinic phone number: ____" in text
    for words in (
        "Gabapentin is a medicine for nerve pain",
        "milligrams (mg)",
        "If you feel drowsy or dizzy",
        "If you miss a dose",
        "Never take two doses at once",
        "Never stop taking gabapentin all at once",
        "Do not drive",
        "Do not drink alcohol",
        "Gabapentin 100 mg capsule: white capsule, 100 mg",
        "From Mon 5 Jan 2026: bedtime 1 capsule of 100 mg",
    ):
        assert words in text, words
    for page in pages_of(data):
        assert VERIFICATION_TEXT in page and s["rules_sha256"][:16] in page
    for word in ("CrCl", "mg/day", "titration", " QD", "BID"):
        assert word not in text, word


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (word.lower().endswith("e") and not word.lower().endswith("le"))
    return max(1, count)


def test_handout_advice_reads_at_about_a_sixth_grade_level(example_plan: gabacalc.Plan) -> None:
    # Flesch-Kincaid grade of the patient's advice (the prose the handout takes from tables/).
    text = " ".join(
        r["text"] for r in example_plan.summary["guidance"] if r["audience"] == "patient"
    )
    sentences = [x for x in re.split(r"[.!?]+\s*", text) if x.strip()]
    words = re.findall(r"[A-Za-z']+", text)
    grade = (
        0.39 * len(words) / len(sentences)
        + 11.8 * sum(_syllables(w) for w in words) / len(words)
        - 15.59
    )
    assert grade <= 7, grade


def test_handout_type_is_at_least_12_point(example_plan: gabacalc.Plan) -> None:
    sizes: set[float] = set()
    reader = PdfReader(io.BytesIO(handout_bytes(example_plan)))

    def visit(text: str, cm: object, tm: list[float], font: object, size: float) -> None:
        if text.strip() and VERIFICATION_TEXT not in text and "page " not in text:
            sizes.add(round(size * abs(tm[0]), 1))

    for page in reader.pages[:3]:
        page.extract_text(visitor_text=visit)
    body = {s for s in sizes if s > 0}
    assert body and min(body) >= 12, sorted(body)


def test_handout_of_a_taper_shows_every_day_to_the_stop(taper_plan: gabacalc.Plan) -> None:
    text = text_of(handout_bytes(taper_plan))
    end = date.fromisoformat(taper_plan.summary["taper_end_date"])
    assert f"From {fmt_date(end)} you take no more gabapentin" in text
    assert fmt_date(end - timedelta(days=1)) in text
    doses = int((taper_plan.schedule[["morning_mg", "midday_mg", "bedtime_mg"]] > 0).sum().sum())
    assert text.count(TICK_BOX) == doses


def test_handout_of_a_dialysis_plan_has_after_dialysis_boxes(
    hemodialysis_plan: gabacalc.Plan,
) -> None:
    text = text_of(handout_bytes(hemodialysis_plan))
    shown = hemodialysis_plan.schedule[~hemodialysis_plan.schedule["conditional"]]
    doses = int((shown[["morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"]] > 0)
                .to_numpy().sum())  # fmt: skip
    assert "After dialysis" in text
    assert text.count(TICK_BOX) == doses


def test_the_demo_writes_the_handout_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0
    handout = tmp_path / "gabacalc-demo" / "handout.pdf"
    assert "Your gabapentin schedule" in text_of(handout.read_bytes())
    assert f"Wrote {Path('gabacalc-demo') / 'handout.pdf'}" in result.output
