"""Clinical context (issue 6): which flags a plan raises, and the start-low default.

tests/flag_scenarios.csv is the table a clinician reviews: inputs, the flags that must
appear, the flags that must not, and the start dose and preset the plan uses.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

import gabacalc

with (Path(__file__).parent / "flag_scenarios.csv").open(encoding="utf-8") as _handle:
    ROWS = list(csv.DictReader(_handle))


def _codes(text: str) -> set[str]:
    return {c for c in text.split(";") if c}


def _plan(row: dict[str, str]) -> gabacalc.Plan:
    kidney = {"crcl_ml_min": float(row["crcl_ml_min"])} if row["crcl_ml_min"] else {}
    patient = gabacalc.Patient(
        age_years=float(row["age_years"]),
        sex="male",
        weight_kg=80,
        dialysis=row["dialysis"],
        risks=row["risks"],
        pain_type=row["pain_type"],
        **kidney,
    )
    options: dict[str, object] = {"target_daily_mg": int(row["target_daily_mg"])}
    if row["start_daily_mg"]:
        options["start_daily_mg"] = int(row["start_daily_mg"])
    if row["titration"]:
        options["titration"] = row["titration"]
    return gabacalc.build_plan(patient, start_date=date(2026, 1, 5), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("row", ROWS, ids=[r["scenario"] for r in ROWS])
def test_flag_scenario(row: dict[str, str]) -> None:
    plan = _plan(row)
    codes = {f["code"] for f in plan.flags}
    assert _codes(row["expected_flags"]) <= codes
    assert not (_codes(row["absent_flags"]) & codes)
    assert plan.summary["start_daily_mg"] == int(row["start_planned"])
    assert plan.summary["titration"] == row["titration_planned"]


def test_every_flag_has_a_message_an_action_and_a_known_source() -> None:
    rules = gabacalc.default_rules()
    for row in ROWS:
        for flag in _plan(row).flags:
            assert flag["message"] and flag["action"]
            assert flag["source_id"] in rules.sources


def test_start_low_says_why() -> None:
    row = next(r for r in ROWS if r["scenario"].startswith("opioids"))
    flag = next(f for f in _plan(row).flags if f["code"] == "START_LOW_DEFAULT")
    assert "respiratory-depression risk (opioids)" in flag["message"]
    assert "gentle titration preset" in flag["message"] and "100 mg start" in flag["message"]


def test_an_explicit_faster_start_is_named_in_its_flag() -> None:
    row = next(r for r in ROWS if r["scenario"].startswith("explicit start"))
    flag = next(f for f in _plan(row).flags if f["code"] == "START_LOW_OVERRIDDEN")
    assert "age 70 years" in flag["message"] and "a 300 mg start" in flag["message"]


def test_warnings_come_first() -> None:
    row = next(r for r in ROWS if "3 CNS-active" in r["scenario"])
    severities = [f["severity"] for f in _plan(row).flags]
    order = {"warning": 0, "caution": 1, "info": 2}
    assert severities == sorted(severities, key=order.__getitem__)
    assert severities[0] == "warning"


def test_taper_plans_carry_the_context_flags_too() -> None:
    patient = gabacalc.Patient(
        age_years=40, sex="male", weight_kg=80, crcl_ml_min=100, risks=["epilepsy"]
    )
    plan = gabacalc.build_taper(patient, 900, start_date=date(2026, 1, 5))
    assert "EPILEPSY" in {f["code"] for f in plan.flags}


def test_review_decision_is_in_every_plan() -> None:
    plan = _plan(ROWS[0])
    assert plan.summary["review_with_benefit"].startswith("With clear benefit: continue")
    assert "never stop abruptly" in plan.summary["review_without_benefit"]
    assert "SNRI" in plan.summary["review_without_benefit"]


def test_every_flag_reaches_every_output_format(many_flags_plan: gabacalc.Plan) -> None:
    """Terminal, JSON, PDF and the workbook carry every flag's code, message and action;
    the CSV, a plain table, carries every flag's code on every row."""
    import io
    import json

    import openpyxl
    import pandas as pd
    from pypdf import PdfReader

    from gabacalc.files.workbook import plan_workbook
    from gabacalc.render.pdf import pdf_bytes
    from gabacalc.render.records import csv_text, json_text
    from gabacalc.render.terminal import plan_text

    plan = many_flags_plan
    flags = plan.flags
    assert len(flags) >= 8

    def folded(text: str) -> str:
        return " ".join(text.split())

    pdf = folded(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(plan))).pages))
    book = openpyxl.load_workbook(io.BytesIO(plan_workbook(plan)))
    outputs = {
        "terminal": folded(plan_text(plan)),
        "pdf": pdf,
        "xlsx": folded(" ".join(str(row[0].value) for row in book["Plan"].iter_rows())),
    }
    table = pd.read_csv(io.StringIO(csv_text(plan)))
    assert set(table["flag_codes"]) == {";".join(flag["code"] for flag in flags)}
    record = json.loads(json_text(plan))
    assert record["summary"]["flags"] == flags
    for name, text in outputs.items():
        for flag in flags:
            assert flag["code"] in text, (name, flag["code"])
            assert folded(flag["message"]) in text, (name, flag["code"])
            assert folded(flag["action"]) in text, (name, flag["code"])
