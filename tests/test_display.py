"""HTML display for Jupyter and embedding: what a clinician reads in the notebook."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from conftest import assert_safe_dose_text

import gabacalc
from gabacalc import Patient, build_plan, build_taper, estimate_crcl
from gabacalc.core.wording import fmt_number
from gabacalc.render.display import estimate_html, plan_html

REPO = Path(__file__).resolve().parent.parent
MONDAY = date(2026, 1, 5)
_VOID = {"br", "hr", "img", "meta", "input", "col", "wbr"}


class _Page(HTMLParser):
    """Reads an HTML fragment: checks tags nest, collects text and each captioned table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in _VOID:
            self.open.append(tag)
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()
        if tag == "caption" and self._caption is not None:
            self.caption = "".join(self._caption)
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self.tables[self.caption] = self._rows

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read(fragment: str) -> _Page:
    page = _Page()
    page.feed(fragment)
    page.close()
    assert page.open == [], f"unclosed tags: {page.open}"
    return page


def key_figures(page: _Page, caption: str) -> dict[str, str]:
    return {row[0]: row[1] for row in page.tables[caption]}


def visible_text(page: _Page) -> str:
    return " ".join(page.text)


def test_plan_html_carries_verification_versions_and_checksum(
    example_plan: gabacalc.Plan,
) -> None:
    fragment = plan_html(example_plan)
    page = read(fragment)
    text = visible_text(page)
    s = example_plan.summary
    # first and last words a reader sees
    assert page.text[0] == gabacalc.VERIFICATION_TEXT
    assert text.rstrip().startswith(gabacalc.VERIFICATION_TEXT)
    assert text.count(gabacalc.VERIFICATION_TEXT) == 2
    banner = "".join(page.text[:6])
    assert f"gabacalc {gabacalc.__version__}" in banner
    assert f"rule tables {s['rules_version']}" in banner
    assert s["rules_sha256"][:12] in banner
    assert s["rules_sha256"] in text  # in full at the foot, to trace a printout
    assert example_plan._repr_html_() == fragment


def test_plan_html_shows_the_basis_of_every_key_figure(example_plan: gabacalc.Plan) -> None:
    page = read(plan_html(example_plan))
    key = key_figures(page, "Illustrative gabapentin plan: key figures")
    assert key["CrCl"] == (
        "32.3 mL/min\nCockcroft-Gault: (140 - 72 years) x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 "
        "= 32.3 mL/min"
    )
    assert key["Weight used"].startswith("ideal body weight 52.4 kg\nBMI 18.5 to below 25")
    assert key["Weights"] == (
        "actual 60 kg, ideal (Devine) 52.4 kg, adjusted 55.4 kg, BMI 23.4 kg/m2"
    )
    band = key["Band"].split("\n")
    assert band[0] == "CrCl above 30 and below 60 mL/min: 400-1,400 mg/day, twice daily"
    # 32.35 is rounded (the estimate is 32.3457...): the reason must not call it unrounded.
    assert band[1] == (
        "CrCl 32.35 mL/min (rounded; the band uses the unrounded value) falls in "
        "CrCl above 30 and below 60 mL/min"
    )
    assert band[2] == "Source: neurontin-uspi 2.3 Table 1"
    assert band[3].startswith("Edge rule: Band edges: the unrounded CrCl")  # collapsed, last
    assert key["Maximum"] == "1,400 mg/day (renal band)"
    assert key["Start"] == "100 mg/day on 2026-01-05"
    assert key["Target"] == (
        "1,400 mg/day: 700 mg in the morning, 700 mg at bedtime\n"
        "lowered from the requested target of 1,800 mg/day: the renal band maximum is "
        "1,400 mg/day"
    )
    assert key["Target reached"] == "2026-02-13 (day 40)"
    assert key["Review"].split("\n")[0] == "2026-02-27"
    assert key["Taper"].startswith(
        "2026-02-28; stopped from 2026-04-11 (only if no clear benefit at the review)"
    )


def test_plan_html_shows_every_flag_and_the_review_decision(
    example_plan: gabacalc.Plan,
) -> None:
    page = read(plan_html(example_plan))
    flags = page.tables["Flags"]
    assert flags[0] == ["Severity", "Message", "Action", "Source", "Code"]
    assert len(flags) - 1 == len(example_plan.flags) >= 2
    for row, flag in zip(flags[1:], example_plan.flags, strict=True):
        assert row == [
            flag["severity"],
            flag["message"],
            flag["action"],
            f"{flag['source_id']} {flag['source_section']}",
            flag["code"],
        ]
    s = example_plan.summary
    review = key_figures(page, "Review decision")
    assert review == {
        "Review on": s["review_date"],
        "Decision": f"{s['review_with_benefit']}\n{s['review_without_benefit']}",
        "Taper": s["taper_note"],
    }


def test_plan_html_steps_table_has_one_row_per_step(example_plan: gabacalc.Plan) -> None:
    page = read(plan_html(example_plan))
    table = page.tables["Steps (what to take each day)"]
    header, rows = table[0], table[1:]
    assert header == [
        "Step",
        "Dates",
        "Days",
        "Phase",
        "Daily dose",
        "How often",
        "Morning",
        "Midday",
        "Bedtime",
        "Limited by",
        "Source",
    ]
    assert len(rows) == len(example_plan.steps)
    assert rows[0] == [
        "1",
        "2026-01-05 to 2026-01-07",
        "3",
        "titration",
        "100 mg/day",
        "once daily",
        "",
        "",
        "100 mg: 1 x 100 mg capsule",
        "",
        "dworkin-2007",
    ]
    maintenance = next(r for r in rows if r[3] == "maintenance")
    assert maintenance[4:9] == [
        "1,400 mg/day",
        "twice daily",
        "700 mg: 1 x 400 mg capsule and 1 x 300 mg capsule",
        "",
        "700 mg: 1 x 400 mg capsule and 1 x 300 mg capsule",
    ]
    assert maintenance[9] == "renal band"
    assert rows[-1][1:6] == [
        "2026-04-11",
        "1",
        "taper (if no clear benefit)",
        "0 mg/day",
        "stop: no gabapentin from this day",
    ]


def test_plan_html_writes_doses_safely(
    example_plan: gabacalc.Plan, hemodialysis_plan: gabacalc.Plan
) -> None:
    solution = build_plan(
        Patient(age_years=80, sex="female", weight_kg=45, height_cm=150, scr=3.5),
        oral_solution=True,
        strengths_mg=[300],
        start_date=MONDAY,
    )
    for plan in (example_plan, hemodialysis_plan, solution):
        text = visible_text(read(plan_html(plan)))
        assert_safe_dose_text(text)
        # a number with a trailing ".0" (not part of a version such as 0.1.0)
        assert not re.search(r"(?<![\d.])\d+\.0\b(?!\.)", text)
        assert not re.search(r"\b(None|nan|NaN|NaT)\b", text)
    assert " mL oral solution" in visible_text(read(plan_html(solution)))


def test_plan_html_escapes_every_value(example_plan: gabacalc.Plan) -> None:
    fragment = plan_html(example_plan)
    assert "CrCl above 30 and below 60 mL/min" in fragment
    assert "CrCl > 30" not in fragment
    hostile = '<script>alert("x")</script>'
    summary = {**example_plan.summary, "band": hostile, "allowed_forms": hostile}
    summary["flags"] = [{**example_plan.flags[0], "message": hostile}]
    steps = example_plan.steps.copy()
    steps["bedtime_take"] = hostile
    forged = dataclasses.replace(example_plan, summary=summary, steps=steps)
    fragment = plan_html(forged)
    assert "<script" not in fragment
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in fragment
    assert hostile in visible_text(read(fragment))


def test_plan_html_is_plain_html() -> None:
    plan = build_plan(
        Patient(age_years=40, sex="male", weight_kg=80, crcl_ml_min=100), start_date=MONDAY
    )
    page = read(plan_html(plan))
    assert set(page.tags) <= {
        "div",
        "strong",
        "br",
        "span",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "p",
        "small",
        "details",
        "summary",
        "ul",
        "li",
    }


def test_plan_html_for_hemodialysis_shows_the_supplement(
    hemodialysis_plan: gabacalc.Plan,
) -> None:
    page = read(plan_html(hemodialysis_plan))
    key = key_figures(page, "Illustrative gabapentin plan: key figures")
    assert key["CrCl"] == "not estimated: hemodialysis without a residual CrCl"
    assert "Weight used" not in key
    assert key["After dialysis"] == (
        f"{hemodialysis_plan.summary['post_dialysis_mg']} mg after each hemodialysis session "
        "at the target"
    )
    table = page.tables["Steps (what to take each day)"]
    column = table[0].index("After each dialysis session")
    expected = [
        f"{mg} mg: {take}" if mg else ""
        for mg, take in zip(
            hemodialysis_plan.steps["post_dialysis_mg"],
            hemodialysis_plan.steps["post_dialysis_take"],
            strict=True,
        )
    ]
    assert [row[column] for row in table[1:]] == expected
    assert any(expected)


def test_plan_html_for_a_taper_says_what_is_tapered() -> None:
    patient = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=25)
    taper = build_taper(patient, 1800, start_date=MONDAY)
    page = read(plan_html(taper))
    key = key_figures(page, "Illustrative gabapentin plan: key figures")
    assert key["Taper from"] == (
        "700 mg/day: 700 mg at bedtime\n"
        "lowered from the current dose of 1,800 mg/day: the renal band maximum is 700 mg/day"
    )
    assert "Target reached" not in key and "Review" not in key
    assert key["Taper"].startswith("2026-01-05; stopped from 2026-02-09\n")
    assert "Review decision" not in page.tables
    assert key_figures(page, "Taper") == {
        "Taper": "a taper of a current dose of 1,800 mg/day: from 2026-01-05, "
        "no gabapentin from 2026-02-09"
    }
    rows = page.tables["Steps (what to take each day)"][1:]
    assert {row[3] for row in rows} == {"taper"}
    assert rows[0][-2] == "renal band"


def test_plan_html_for_a_replan_names_the_current_dose() -> None:
    patient = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=25)
    plan = build_plan(patient, current_daily_mg=1200, start_date=MONDAY)
    key = key_figures(read(plan_html(plan)), "Illustrative gabapentin plan: key figures")
    assert key["Start"] == (
        "700 mg/day on 2026-01-05\ncurrent dose 1,200 mg/day; day 1 lowers it by 500 mg/day to "
        "700 mg/day once daily (700 mg at bedtime)\n"
        "limited by renal band"
    )


def test_target_lowered_by_strengths_says_so() -> None:
    patient = Patient(age_years=40, sex="male", weight_kg=80, crcl_ml_min=100)
    plan = build_plan(patient, target_daily_mg=2050, strengths_mg=[100], start_date=MONDAY)
    key = key_figures(read(plan_html(plan)), "Illustrative gabapentin plan: key figures")
    assert plan.summary["target_daily_mg"] == 2000
    assert key["Target"].split("\n")[1] == (
        "lowered from the requested target of 2,050 mg/day: the allowed forms make at most "
        "2,000 mg/day within it"
    )


def test_estimate_html_shows_formula_weight_band_and_stamp() -> None:
    patient = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    estimate = estimate_crcl(patient)
    fragment = estimate_html(estimate)
    assert estimate._repr_html_() == fragment
    page = read(fragment)
    rules = gabacalc.default_rules()
    banner = "".join(page.text[:6])
    assert page.text[0] == gabacalc.VERIFICATION_TEXT
    assert f"gabacalc {gabacalc.__version__}" in banner
    assert f"rule tables {rules.rules_version}" in banner
    assert rules.rules_sha256[:12] in banner
    key = key_figures(page, "Renal estimate")
    assert key["CrCl"] == f"32.3 mL/min\n{estimate.formula_text}"
    assert key["Weight used"].startswith("ideal body weight 52.4 kg\n")
    assert key["Band"].split("\n")[0] == (
        "CrCl above 30 and below 60 mL/min: 400-1,400 mg/day, twice daily"
    )
    assert key["Maximum"] == "1,400 mg/day (renal band)"
    assert_safe_dose_text(visible_text(page))


def test_estimate_html_fills_flag_messages_it_can_and_never_shows_a_placeholder() -> None:
    given = estimate_crcl(Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=7.5))
    page = read(estimate_html(given))
    assert key_figures(page, "Renal estimate")["Band"].startswith("depends on the dialysis")
    flags = page.tables["Flags"]
    assert flags[1][1] == "CrCl 7.5 mL/min was given, not estimated by gabacalc."
    short = estimate_crcl(Patient(age_years=60, sex="female", weight_kg=40, height_cm=140, scr=1))
    page = read(estimate_html(short))
    codes = [row[4] for row in page.tables["Flags"][1:]]
    assert "SHORT_STATURE_IBW" in codes
    assert "{" not in visible_text(page)
    low = estimate_crcl(Patient(age_years=90, sex="female", weight_kg=40, height_cm=150, scr=4))
    page = read(estimate_html(low))
    messages = {row[4]: row[1] for row in page.tables["Flags"][1:]}
    assert messages["PROPORTIONAL_REDUCTION"].startswith(
        f"CrCl {fmt_number(low.crcl_ml_min or 0)} mL/min is below 15"
    )


def test_plain_repr_is_short_and_useful(example_plan: gabacalc.Plan) -> None:
    assert repr(example_plan.estimate) == (
        "<RenalEstimate CrCl 32.3 mL/min (cockcroft-gault, ideal body weight 52.4 kg); "
        "Illustrative plan - requires physician verification>"
    )
    on_dialysis = estimate_crcl(
        Patient(age_years=66, sex="male", weight_kg=80, dialysis="hemodialysis")
    )
    assert repr(on_dialysis) == (
        "<RenalEstimate not estimated: hemodialysis without a residual CrCl; "
        "Illustrative plan - requires physician verification>"
    )
    assert len(repr(example_plan)) < 200
    assert gabacalc.VERIFICATION_TEXT in repr(example_plan)


def test_displaying_a_plan_does_not_import_matplotlib() -> None:
    code = (
        "import sys, gabacalc; from datetime import date;"
        "p = gabacalc.Patient(age_years=72, sex='female', weight_kg=60, height_cm=160, scr=1.3);"
        "plan = gabacalc.build_plan(p, start_date=date(2026, 1, 5));"
        "plan._repr_html_(); plan.estimate._repr_html_(); repr(plan);"
        "print(sorted(m for m in ('matplotlib', 'click', 'reportlab') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


# ------------------------------------------------------------------- polish: how it reads


class _Styled(HTMLParser):
    """Each piece of text with the tags (and their styles and classes) it sits inside."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, str]] = []
        self.pieces: list[tuple[str, tuple[tuple[str, str, str], ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            found = dict(attrs)
            self.stack.append((tag, found.get("style") or "", found.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.pieces.append((data, tuple(self.stack)))


def styled(fragment: str) -> _Styled:
    page = _Styled()
    page.feed(fragment)
    page.close()
    return page


def test_flags_are_tinted_by_severity_with_the_pdfs_colours(
    many_flags_plan: gabacalc.Plan,
) -> None:
    from gabacalc.render import pdf
    from gabacalc.render.display import SEVERITY_COLOURS

    assert pdf.SEVERITY_COLOURS is SEVERITY_COLOURS, "one colour table for both documents"
    assert set(SEVERITY_COLOURS) == {
        row["severity"] for row in gabacalc.default_rules().flags.values()
    }
    page = styled(plan_html(many_flags_plan))
    seen = set()
    for flag in many_flags_plan.flags:
        (where,) = [stack for text, stack in page.pieces if text == flag["code"]]
        row_style = next(style for tag, style, _ in where if tag == "tr")
        assert row_style == f"background:{SEVERITY_COLOURS[flag['severity']]}", flag["code"]
        seen.add(flag["severity"])
    assert seen == {"warning", "caution", "info"}, "the fixture shows every severity"


def test_no_date_can_wrap(example_plan: gabacalc.Plan) -> None:
    page = styled(plan_html(example_plan))
    dates = [(text, stack) for text, stack in page.pieces if re.search(r"\d{4}-\d{2}-\d{2}", text)]
    assert len(dates) > 10
    for text, stack in dates:
        assert any("white-space:nowrap" in style for _, style, _ in stack), text


def test_the_edge_rule_and_the_sources_are_collapsed_and_the_flags_and_steps_are_not(
    example_plan: gabacalc.Plan,
) -> None:
    page = styled(plan_html(example_plan))

    def inside_details(text: str) -> bool:
        (stack,) = [stack for piece, stack in page.pieces if text in piece]
        return any(tag == "details" for tag, _, _ in stack)

    assert inside_details(example_plan.summary["band_rule"])
    citation = gabacalc.default_rules().sources["neurontin-uspi"]["citation"]
    assert inside_details(citation)
    assert inside_details("Sources (")
    assert not inside_details(example_plan.flags[0]["message"])
    assert not inside_details("Steps (what to take each day)")
    assert not inside_details(example_plan.summary["review_with_benefit"])


def test_the_sources_list_every_source_the_plan_used(many_flags_plan: gabacalc.Plan) -> None:
    from gabacalc.render.records import source_ids

    text = "".join(read(plan_html(many_flags_plan)).text)
    sources = gabacalc.default_rules().sources
    ids = source_ids(many_flags_plan)
    assert {f["source_id"] for f in many_flags_plan.flags} <= set(ids)
    for source_id in ids:
        assert f"{source_id}: {sources[source_id]['citation']}" in text
    assert f"Sources ({len(ids)})" in text


def test_a_refusal_shows_the_message_with_the_verification_stamp() -> None:
    from gabacalc.render.display import error_html

    rules = gabacalc.default_rules()
    message = "age 12 years is outside 18-110 years (gabacalc plans for adults)"
    page = read(error_html(message))
    text = "".join(page.text)
    assert f"No plan: {message}" in text
    assert text.count(gabacalc.VERIFICATION_TEXT) == 2
    assert f"gabacalc {gabacalc.__version__}" in text and rules.rules_sha256 in text
    assert "<script" not in error_html("<script>alert(1)</script>")


def test_compare_highlights_exactly_the_figures_that_differ() -> None:
    from gabacalc.render.display import compare_html

    def plan(crcl_ml_min: float) -> gabacalc.Plan:
        patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=crcl_ml_min)
        return build_plan(patient, start_date=MONDAY)

    today, lower = plan(50), plan(25)
    html_text = compare_html(today, lower, names=("today", "lower CrCl"))
    page = styled(html_text)
    rows: dict[str, bool] = {}
    for text, stack in page.pieces:
        if stack[-1][0] == "th" and any("gabacalc-comparison" in c for _, _, c in stack):
            rows[text] = any("gabacalc-differs" in cls for _, _, cls in stack)
    assert rows["CrCl"] and rows["Band"] and rows["Maximum"] and rows["Steps"]
    assert rows["Presets"] is False and rows["Allowed forms"] is False
    assert rows["Patient"] is True  # the given CrCl is part of the patient line
    same = styled(compare_html(today, today))
    assert not any("gabacalc-differs" in cls for _, stack in same.pieces for _, _, cls in stack)
    assert "&lt;details" not in html_text, "the edge rule stays collapsible, not printed as tags"
    text = "".join(read(html_text).text)
    assert "700 mg/day" in text and "1,400 mg/day" in text
    assert text.count(gabacalc.VERIFICATION_TEXT) >= 6, "the comparison and both plans"
    assert_safe_dose_text(text)


def test_an_estimate_from_local_tables_displays_their_stamp_not_the_shipped_ones(
    tmp_path: Path,
) -> None:
    """The estimate carries the rules it was made with, as a plan does: its band words and
    its stamp come from those tables."""
    from gabacalc.rules import default_tables_dir, load_rules, write_manifest

    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    bands = folder / "renal_bands.csv"
    text = bands.read_text(encoding="utf-8")
    assert "CrCl above 30 and below 60 mL/min" in text
    local_words = "CrCl over 30 and under 60"
    bands.write_text(text.replace("CrCl above 30 and below 60", local_words), "utf-8")
    write_manifest(folder, "local-1")
    local = load_rules(folder)
    assert local.rules_sha256 != gabacalc.default_rules().rules_sha256
    patient = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    page = read(estimate_crcl(patient, rules=local)._repr_html_())
    banner = "".join(page.text[:6])
    assert "rule tables local-1" in banner
    assert local.rules_sha256[:12] in banner
    assert key_figures(page, "Renal estimate")["Band"].startswith(f"{local_words} mL/min")
