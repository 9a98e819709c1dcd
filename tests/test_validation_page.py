"""docs/validation.md: the scenario table as a page a pharmacy committee reads before adoption.

For each row of tests/scenarios.csv the page shows the inputs, what the label and the stated
conventions require (worked out by hand, with the source), what gabacalc gives, and pass or
fail. This test rebuilds the page from the table and the current code on every run, so it
can never go stale: if the committed page differs, the test writes the new page and fails,
asking for it to be committed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import gabacalc
from gabacalc.core.wording import fmt_mg, fmt_number
from tests.test_scenarios import ROWS, _plan

PAGE = Path(__file__).resolve().parent.parent / "docs" / "validation.md"

#: (what the row requires, the scenario column, the summary key)
CHECKS = (
    ("band", "band_id", "band_id"),
    ("lowest a day [mg]", "min_daily_mg", "min_daily_mg"),
    ("highest a day [mg]", "max_daily_mg", "max_daily_mg"),
    ("doses a day", "doses_per_day", "doses_per_day"),
    ("start [mg a day]", "start_daily_mg", "start_daily_mg"),
    ("titration", "titration", "titration"),
    ("target [mg a day]", "target_daily_mg_planned", "target_daily_mg"),
    ("target regimen", "target_regimen", "target_regimen"),
    ("target reached", "target_reached_date", "target_reached_date"),
    ("review", "review_date", "review_date"),
    ("after each dialysis [mg]", "post_dialysis_mg", "post_dialysis_mg"),
)


def _inputs(row: dict[str, str]) -> str:
    parts = [f"{row['age_years']} years", row["sex"], f"{row['weight_kg']} kg"]
    if row["height_cm"]:
        parts.append(f"{row['height_cm']} cm")
    if row["scr"]:
        parts.append(f"serum creatinine {row['scr']} {row['scr_unit'] or 'mg/dL'}")
    if row["crcl_ml_min"]:
        parts.append(f"CrCl {row['crcl_ml_min']} mL/min")
    if row["dialysis"] != "none":
        parts.append(row["dialysis"])
    parts.append(f"asked for {fmt_mg(float(row['target_daily_mg']))} a day")
    if row["oral_solution"] == "true":
        parts.append("oral solution allowed")
    return ", ".join(parts)


def _given(value: object) -> str:
    if value is None:
        return ""
    return fmt_number(value) if isinstance(value, int | float) else str(value)


def build_page(rows: list[dict[str, str]] = ROWS) -> tuple[str, list[str]]:
    """The page's text and the scenarios that fail."""
    rules = gabacalc.default_rules()
    failed = []
    lines = [
        "# gabacalc validation against the scenario table",
        "",
        f"{gabacalc.VERIFICATION_TEXT}. gabacalc {gabacalc.__version__}; rule tables "
        f"{rules.rules_version}, sha256 {rules.rules_sha256}.",
        "",
        "Each scenario below was worked out by hand from the NEURONTIN label (section 2.3,",
        "Table 1, and section 3) and the conventions of the clinical basis",
        "(`gabacalc tables --conventions`), with its source. The test suite rebuilds this page",
        "from `tests/scenarios.csv` and the code on every run, and fails if it changed.",
        "Day 1 is Monday 5 January 2026 in every scenario.",
        "",
    ]
    for row in rows:
        summary = _plan(row).summary
        table = ["| | required | gabacalc gives | result |", "|---|---|---|---|"]
        ok_all = True
        for label, column, key in CHECKS:
            required = row[column]
            given = _given(summary[key])
            ok = required == given or (required == "" and summary[key] is None)
            if column in ("min_daily_mg", "max_daily_mg", "doses_per_day", "start_daily_mg"):
                ok = int(required) == summary[key]
            if column in ("target_daily_mg_planned", "post_dialysis_mg") and required:
                ok = int(required) == summary[key]
            ok_all &= ok
            table.append(f"| {label} | {required} | {given} | {'pass' if ok else 'FAIL'} |")
        if not ok_all:
            failed.append(row["scenario"])
        lines += [
            f"## {row['scenario']}: {'pass' if ok_all else 'FAIL'}",
            "",
            f"Inputs: {_inputs(row)}.",
            "",
            f"Why: {row['why']} (source: {row['source']}).",
            "",
            *table,
            "",
        ]
    passed = len(rows) - len(failed)
    lines.insert(10, f"Result: {passed} of {len(rows)} scenarios pass.")
    lines.insert(11, "")
    return "\n".join(lines).rstrip() + "\n", failed


def test_every_scenario_passes_and_the_page_says_so() -> None:
    text, failed = build_page()
    assert failed == []
    assert f"Result: {len(ROWS)} of {len(ROWS)} scenarios pass." in text
    assert text.count(": pass\n") == len(ROWS)


def test_the_committed_validation_page_is_current() -> None:
    text, _ = build_page()
    old = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if old != text:
        PAGE.write_text(text, encoding="utf-8")
    assert old == text, f"{PAGE} was stale and has been regenerated: commit it"


def test_the_page_can_fail() -> None:
    # A scenario that disagrees with gabacalc is reported as FAIL, never hidden.
    row = dict(ROWS[0], review_date="2026-01-01")
    text, failed = build_page([row])
    assert failed == [row["scenario"]]
    assert "| review | 2026-01-01 | 2026-02-23 | FAIL |" in text
    assert "Result: 0 of 1 scenarios pass." in text


def test_the_scenario_table_is_readable_text() -> None:
    with (Path(__file__).parent / "scenarios.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in ("why", "source"):
            assert not any(s in row[column] for s in (">=", "<=", "->", " + ", "<", ">")), row
