"""The safety scenario table (tests/safety_scenarios.csv), row by row.

Each row is a re-plan, taper or estimate a pharmacist would check by hand: the steps the
plan must take (or that it must be refused), the flags it must and must not raise, and text
its flags or refusal must and must not contain, with the source and the reason. ``point``
is the safety rule the row tests (1 gradual steps, 2 re-plans, 3 implausible estimates,
4 dialysis days, 5 printed numbers that keep their band, 6 advice that matches the
options). Day 1 is Monday 2026-01-05.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from plan_checks import check_gradual, check_plan_invariants

import gabacalc

with (Path(__file__).parent / "safety_scenarios.csv").open(encoding="utf-8") as _handle:
    ROWS = list(csv.DictReader(_handle))


def _number(text: str) -> float | None:
    return float(text) if text else None


def _build(row: dict[str, str]) -> gabacalc.Plan:
    patient = gabacalc.Patient(
        age_years=float(row["age_years"]),
        sex=row["sex"],
        weight_kg=float(row["weight_kg"]),
        height_cm=_number(row["height_cm"]),
        scr=_number(row["scr"]),
        crcl_ml_min=_number(row["crcl_ml_min"]),
        dialysis=row["dialysis"],
    )
    common: dict[str, Any] = {
        "taper": row["taper"],
        "strengths_mg": [int(x) for x in row["strengths"].split(";")] if row["strengths"] else None,
        "oral_solution": row["oral_solution"] == "true",
        "start_date": date(2026, 1, 5),
    }
    doses = int(row["current_doses"]) if row["current_doses"] else None
    if row["kind"] == "taper":
        return gabacalc.build_taper(
            patient, float(row["current_mg"]), current_doses_per_day=doses, **common
        )
    return gabacalc.build_plan(
        patient,
        current_daily_mg=_number(row["current_mg"]),
        current_doses_per_day=doses,
        target_daily_mg=_number(row["target_mg"]),
        **common,
    )


def _codes(text: str) -> list[str]:
    return [c for c in text.split(";") if c]


@pytest.mark.parametrize("row", ROWS, ids=[r["scenario"] for r in ROWS])
def test_safety_scenario(row: dict[str, str]) -> None:
    if row["expect_steps_mg"] == "refused":
        with pytest.raises(gabacalc.InputError) as caught:
            _build(row)
        said = str(caught.value)
    else:
        plan = _build(row)
        check_plan_invariants(plan)
        check_gradual(plan)
        if row["expect_steps_mg"]:
            steps = [int(x) for x in row["expect_steps_mg"].split(";")]
            # Maintenance repeats the last titration or reduction dose: one entry per change.
            daily = plan.steps["daily_mg"].tolist()
            changes = [mg for k, mg in enumerate(daily) if k == 0 or mg != daily[k - 1]]
            assert changes == steps
        codes = [f["code"] for f in plan.flags]
        for code in _codes(row["expect_flags"]):
            assert code in codes, (code, codes)
        for code in _codes(row["expect_absent"]):
            assert code not in codes, (code, codes)
        said = " ".join(f"{f['message']} {f['action']}" for f in plan.flags)
        said += " " + " ".join(plan.schedule["note"])
    if row["expect_text"]:
        assert row["expect_text"] in said, said
    if row["absent_text"]:
        assert row["absent_text"] not in said, said


def test_every_row_names_its_source_and_reason() -> None:
    for row in ROWS:
        assert row["source"] and row["why"] and row["point"] in "1234567", row["scenario"]
