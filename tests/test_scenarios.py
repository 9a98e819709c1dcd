"""The clinician-readable scenario table (tests/scenarios.csv), row by row.

Each row gives a patient, the band, limits, regimen and key dates a pharmacist would work
out by hand from the label, and the source that justifies them. Day 1 is Monday
2026-01-05 for every row.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

import gabacalc

with (Path(__file__).parent / "scenarios.csv").open(encoding="utf-8") as _handle:
    ROWS = list(csv.DictReader(_handle))


def _number(text: str) -> float | None:
    return float(text) if text else None


def _plan(row: dict[str, str]) -> gabacalc.Plan:
    patient = gabacalc.Patient(
        age_years=float(row["age_years"]),
        sex=row["sex"],
        weight_kg=float(row["weight_kg"]),
        height_cm=_number(row["height_cm"]),
        scr=_number(row["scr"]),
        scr_unit=row["scr_unit"] or "mg/dL",
        crcl_ml_min=_number(row["crcl_ml_min"]),
        dialysis=row["dialysis"],
    )
    return gabacalc.build_plan(
        patient,
        target_daily_mg=int(row["target_daily_mg"]),
        oral_solution=row["oral_solution"] == "true",
        start_date=date(2026, 1, 5),
    )


@pytest.mark.parametrize("row", ROWS, ids=[r["scenario"] for r in ROWS])
def test_scenario(row: dict[str, str]) -> None:
    plan = _plan(row)
    s = plan.summary
    assert s["band_id"] == row["band_id"]
    assert s["min_daily_mg"] == int(row["min_daily_mg"])
    assert s["max_daily_mg"] == int(row["max_daily_mg"])
    assert s["doses_per_day"] == int(row["doses_per_day"])
    assert s["start_daily_mg"] == int(row["start_daily_mg"])
    assert s["titration"] == row["titration"]
    assert s["target_daily_mg"] == int(row["target_daily_mg_planned"])
    assert s["target_regimen"] == row["target_regimen"]
    assert s["target_reached_date"] == row["target_reached_date"]
    assert s["review_date"] == row["review_date"]
    expected_post = int(row["post_dialysis_mg"]) if row["post_dialysis_mg"] else None
    assert s["post_dialysis_mg"] == expected_post
    assert int(plan.schedule["daily_mg"].max()) <= s["max_daily_mg"]


def test_scenario_table_covers_every_band_edge_the_issue_names() -> None:
    crcls = {r["crcl_ml_min"] for r in ROWS}
    assert {"60", "59.9", "30.1", "30", "15.1", "15", "7.5"} <= crcls
    assert {"hemodialysis", "peritoneal"} <= {r["dialysis"] for r in ROWS}
    assert all(r["source"] and r["why"] for r in ROWS)


def test_readme_example_formula_is_shown_with_numbers() -> None:
    row = next(r for r in ROWS if r["scenario"].startswith("README example"))
    s = _plan(row).summary
    assert s["crcl_method"] == (
        "Cockcroft-Gault: (140 - 72 years) x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 = 32.3 mL/min"
    )
    assert s["weight_used"] == "ideal"


# The label's Table 1: the five example-regimen columns line up across rows, so a
# maintenance dose in column k gets column k's post-hemodialysis supplement.
SUPPLEMENT_ALIGNMENT = [
    # residual CrCl, requested target, maintenance planned, supplement (oral solution allowed)
    (20, 300, 300, 150),  # > 15 to 29 row: 300 mg is column 2 -> 150 mg
    (20, 400, 400, 200),  # column 3 -> 200 mg
    (20, 500, 500, 250),  # column 4 -> 250 mg
    (20, 700, 700, 350),  # column 5 -> 350 mg
    (20, 450, 450, 200),  # between columns 3 and 4: the lower column (convention)
    (15, 300, 300, 350),  # 15 row: 300 mg is column 5 -> 350 mg
    (45, 1000, 1000, 250),  # > 30 to 59 row: 1,000 mg (500 twice daily) is column 4 -> 250 mg
    (80, 1800, 1800, 200),  # >= 60 row: 1,800 mg (600 three times daily) is column 3 -> 200 mg
    # CrCl 7.5: the 15 row halved (50, 62.5, 75, 100, 150); 150 mg is its column 5 -> 350 mg
    (7.5, 300, 150, 350),
]


@pytest.mark.parametrize(("crcl", "target", "planned", "supplement"), SUPPLEMENT_ALIGNMENT)
def test_hemodialysis_supplement_follows_the_labels_columns(
    crcl: float, target: int, planned: int, supplement: int
) -> None:
    patient = gabacalc.Patient(
        age_years=50, sex="male", weight_kg=80, crcl_ml_min=crcl, dialysis="hemodialysis"
    )
    plan = gabacalc.build_plan(
        patient, target_daily_mg=target, oral_solution=True, start_date=date(2026, 1, 5)
    )
    assert plan.summary["target_daily_mg"] == planned
    assert plan.summary["post_dialysis_mg"] == supplement


def test_hemodialysis_supplement_below_column_one_is_proportional() -> None:
    # > 15 to 29 row, column 1 is 200 mg -> 125 mg; a 100 mg start day gets 125 x 100/200.
    patient = gabacalc.Patient(
        age_years=50, sex="male", weight_kg=80, crcl_ml_min=20, dialysis="hemodialysis"
    )
    plan = gabacalc.build_plan(
        patient, target_daily_mg=300, oral_solution=True, start_date=date(2026, 1, 5)
    )
    monday = plan.schedule.iloc[0]
    assert monday["daily_mg"] == 100
    assert monday["post_dialysis_mg"] == 50  # 62.5 mg rounded down to the 0.5 mL step
    assert monday["post_dialysis_take"] == "1 mL oral solution (50 mg)"


def test_hemodialysis_supplement_only_on_dialysis_days() -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, dialysis="hemodialysis")
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), dialysis_days="tue,thu,sat")
    given = plan.schedule[plan.schedule["post_dialysis_mg"] > 0]
    assert set(given["date"].dt.day_of_week) == {1, 3, 5}
    assert (
        plan.schedule["morning_mg"] + plan.schedule["midday_mg"] + plan.schedule["bedtime_mg"]
        == plan.schedule["daily_mg"]
    ).all()
