"""Bad input: every refusal names the value, the allowed range or choices, and a hint."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import gabacalc
from gabacalc import InputError, Patient, build_plan

GOOD: dict[str, Any] = {"age_years": 60, "sex": "male", "weight_kg": 80, "scr": 1.0}

PATIENT_ERRORS = [
    # (change to a valid patient, field, words the message must contain)
    ({"age_years": 12}, "age_years", ["age 12 years", "18-110 years", "adults"]),
    ({"age_years": 111}, "age_years", ["age 111 years", "18-110 years"]),
    ({"age_years": "old"}, "age_years", ["age 'old' is not a number"]),
    ({"age_years": float("nan")}, "age_years", ["not a finite number"]),
    ({"weight_kg": 29}, "weight_kg", ["weight 29 kg", "30-350 kg"]),
    ({"weight_kg": 351}, "weight_kg", ["weight 351 kg", "30-350 kg"]),
    ({"height_cm": 119}, "height_cm", ["height 119 cm", "120-230 cm"]),
    ({"height_cm": 231}, "height_cm", ["height 231 cm", "120-230 cm"]),
    ({"sex": "x"}, "sex", ["sex 'x'", "female, male"]),
    ({"scr": 0.1}, "scr", ["serum creatinine 0.1 mg/dL", "0.2-20 mg/dL"]),
    ({"scr": 21}, "scr", ["serum creatinine 21 mg/dL", "0.2-20 mg/dL"]),
    ({"scr": 88}, "scr", ["88 mg/dL", "0.2-20 mg/dL", "did you mean 88 umol/L", "--scr-unit"]),
    (
        {"scr": 1.2, "scr_unit": "umol/L"},
        "scr",
        ["1.2 umol/L", "18-1,768 umol/L", "did you mean 1.2 mg/dL"],
    ),
    ({"scr": 1800, "scr_unit": "umol/L"}, "scr", ["1,800 umol/L", "18-1,768 umol/L"]),
    ({"scr_unit": "mmol/L"}, "scr_unit", ["creatinine unit 'mmol/L'", "mg/dL, umol/L"]),
    ({"crcl_ml_min": 40}, "crcl_ml_min", ["both serum creatinine and a creatinine clearance"]),
    ({"scr": None}, "scr", ["no renal function given"]),
    ({"dialysis": "hemodialysis"}, "scr", ["not used on hemodialysis", "residual CrCl"]),
    ({"dialysis": "sometimes"}, "dialysis", ["dialysis 'sometimes'", "none, hemodialysis"]),
    (
        {"risks": ["opioids", "chocolate"]},
        "risks",
        ["risk 'chocolate'", "opioids, cns-depressants"],
    ),
    ({"pain_type": "headache"}, "pain_type", ["pain type 'headache'", "radicular, non-radicular"]),
]


@pytest.mark.parametrize(("change", "field", "words"), PATIENT_ERRORS)
def test_patient_refusals_name_value_range_and_hint(
    change: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        Patient(**{**GOOD, **change})
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, ValueError)


def test_crcl_must_be_above_zero_and_at_most_250() -> None:
    base = {k: v for k, v in GOOD.items() if k != "scr"}
    with pytest.raises(InputError, match="above 0 and at most 250 mL/min"):
        Patient(**base, crcl_ml_min=0)
    with pytest.raises(InputError, match="creatinine clearance 251 mL/min"):
        Patient(**base, crcl_ml_min=251)
    assert Patient(**base, crcl_ml_min=250).crcl_ml_min == 250


def test_units_and_choices_are_normalised() -> None:
    p = Patient(
        age_years=60,
        sex=" Female ",
        weight_kg=70,
        scr=88.4,
        scr_unit="µmol/L",
        risks="falls; opioids",
    )
    assert (p.sex, p.scr_unit, p.risks) == ("female", "umol/L", ("opioids", "falls"))
    assert p.scr_mg_dl == pytest.approx(1.0)


OPTION_ERRORS = [
    ({"target_daily_mg": 200}, "target_daily_mg", ["target dose 200 mg/day", "300-3,600"]),
    ({"target_daily_mg": 4000}, "target_daily_mg", ["4,000 mg/day", "300-3,600"]),
    ({"start_daily_mg": 50}, "start_daily_mg", ["start dose 50 mg/day", "100-300 mg/day"]),
    ({"start_daily_mg": 400}, "start_daily_mg", ["start dose 400 mg/day", "100-300 mg/day"]),
    ({"review_weeks": 3}, "review_weeks", ["review after 3 weeks", "4-6 weeks"]),
    ({"review_weeks": 8}, "review_weeks", ["review after 8 weeks", "4-6 weeks"]),
    ({"review_weeks": 4.5}, "review_weeks", ["4.5 weeks is not a whole number"]),
    ({"titration": "fast"}, "titration", ["'fast'", "label-phn, weekly, gentle"]),
    ({"taper": "abrupt"}, "taper", ["'abrupt'", "weekly, gradual"]),
    ({"weight_basis": "lean"}, "weight_basis", ["'lean'", "auto, actual, ideal, adjusted"]),
    ({"strengths_mg": [250]}, "strengths_mg", ["250 mg is not a labelled", "100 mg, 300 mg"]),
    ({"strengths_mg": []}, "strengths_mg", ["no strength is allowed", "oral solution"]),
    ({"dialysis_days": "someday"}, "dialysis_days", ["'someday' is not a weekday", "mon,wed,fri"]),
    ({"start_date": "2026-01-05"}, "start_date", ["is not a date", "YYYY-MM-DD"]),
    ({"current_daily_mg": 0}, "current_daily_mg", ["current dose 0 mg/day", "above 0"]),
]


@pytest.mark.parametrize(("change", "field", "words"), OPTION_ERRORS)
def test_option_refusals_name_value_range_and_hint(
    change: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        build_plan(Patient(**GOOD), **change)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_ideal_or_adjusted_weight_needs_a_height() -> None:
    for basis in ("ideal", "adjusted"):
        with pytest.raises(InputError, match="needs the height") as info:
            build_plan(Patient(**GOOD), weight_basis=basis)
        assert info.value.field == "height_cm"


def test_a_plan_the_allowed_forms_cannot_make_says_what_would_make_it_possible() -> None:
    # CrCl 5: the 15 row scaled by 1/3 is 33-100 mg/day; a 300 mg capsule fits nothing.
    patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=5)
    with pytest.raises(InputError) as info:
        build_plan(patient, strengths_mg=[300], start_date=date(2026, 1, 5))
    message = str(info.value)
    assert "300 mg capsule" in message
    assert "any dose of at most 100 mg/day" in message
    assert "the oral solution (oral_solution / --oral-solution)" in message
    plan = build_plan(patient, strengths_mg=[300], oral_solution=True, start_date=date(2026, 1, 5))
    assert plan.summary["target_daily_mg"] == 100


def test_a_start_the_allowed_forms_cannot_make_names_the_cap_and_the_fix() -> None:
    patient = Patient(age_years=40, sex="male", weight_kg=80, crcl_ml_min=100)
    with pytest.raises(InputError) as info:
        build_plan(patient, strengths_mg=[400, 800], start_date=date(2026, 1, 5))
    message = str(info.value)
    assert message.startswith("cannot make a start dose")
    assert "any dose of at most 300 mg/day" in message
    assert (
        "allow 100 mg or 300 mg capsules (strengths_mg / --strengths) or the oral solution"
        in message
    )


def test_errors_are_gabacalc_errors() -> None:
    assert issubclass(gabacalc.InputError, gabacalc.GabacalcError)
    assert issubclass(gabacalc.RuleTableError, gabacalc.GabacalcError)
