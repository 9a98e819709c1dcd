"""Renal estimate: Cockcroft-Gault, Devine ideal weight, adjusted weight, the auto basis."""

from __future__ import annotations

import pytest

from gabacalc import (
    Patient,
    adjusted_body_weight,
    cockcroft_gault,
    devine_ideal_weight,
    estimate_crcl,
    select_band,
)


def test_cockcroft_gault_by_hand() -> None:
    # (140 - 40) x 70 / (72 x 1.0) = 97.22 (men); x 0.85 for women = 82.64
    assert cockcroft_gault(40, 70, 1.0, "male") == pytest.approx(97.2222, abs=1e-4)
    assert cockcroft_gault(40, 70, 1.0, "female") == pytest.approx(82.6389, abs=1e-4)


def test_devine_ideal_weight_by_hand() -> None:
    # 5 ft 10 in (177.8 cm) man: 50 + 2.3 x 10 = 73 kg; 5 ft 4 in woman: 45.5 + 9.2 = 54.7
    assert devine_ideal_weight(177.8, "male") == pytest.approx(73.0)
    assert devine_ideal_weight(162.56, "female") == pytest.approx(54.7)


def test_adjusted_weight_by_hand() -> None:
    assert adjusted_body_weight(120, 70) == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("weight_kg", "expected_basis", "why"),
    [
        (50, "actual", "BMI 16.3: below 18.5 uses actual weight"),
        (76, "ideal", "BMI 24.0: ideal 73 kg is lower than actual 76 kg"),
        (60, "actual", "BMI 19.6: actual 60 kg is lower than ideal 73 kg"),
        (110, "adjusted", "BMI 35.9: 25 and over uses adjusted weight"),
    ],
)
def test_auto_weight_basis_follows_bmi(weight_kg: float, expected_basis: str, why: str) -> None:
    patient = Patient(age_years=60, sex="male", weight_kg=weight_kg, height_cm=177.8, scr=1.0)
    estimate = estimate_crcl(patient)
    assert estimate.weight_used == expected_basis, why
    expected_kg = {"actual": weight_kg, "ideal": 73.0, "adjusted": 73.0 + 0.4 * (weight_kg - 73.0)}[
        expected_basis
    ]
    assert estimate.weight_used_kg == pytest.approx(expected_kg)
    assert estimate.crcl_ml_min == pytest.approx(80 * expected_kg / 72)


def test_no_height_uses_actual_weight_and_flags_it() -> None:
    estimate = estimate_crcl(Patient(age_years=60, sex="male", weight_kg=120, scr=1.0))
    assert estimate.weight_used == "actual"
    assert "NO_HEIGHT" in estimate.flag_codes
    assert "no height" in estimate.weight_reason


def test_requested_bases_are_honoured() -> None:
    patient = Patient(age_years=60, sex="male", weight_kg=110, height_cm=177.8, scr=1.0)
    assert estimate_crcl(patient, "actual").weight_used_kg == 110
    assert estimate_crcl(patient, "ideal").weight_used_kg == pytest.approx(73.0)
    assert estimate_crcl(patient, "adjusted").weight_used_kg == pytest.approx(87.8)


def test_umol_per_litre_is_converted_and_shown() -> None:
    patient = Patient(age_years=60, sex="male", weight_kg=72, scr=176.8, scr_unit="umol/L")
    estimate = estimate_crcl(patient, "actual")
    assert estimate.scr_mg_dl == pytest.approx(2.0)
    assert estimate.crcl_ml_min == pytest.approx(40.0)
    assert "(176.8 umol/L / 88.4 = 2 mg/dL)" in estimate.formula_text


def test_short_stature_flags_the_extrapolated_ideal_weight() -> None:
    patient = Patient(age_years=60, sex="female", weight_kg=50, height_cm=145, scr=1.0)
    assert "SHORT_STATURE_IBW" in estimate_crcl(patient).flag_codes
    assert "SHORT_STATURE_IBW" not in estimate_crcl(patient, "actual").flag_codes


def test_crcl_is_never_rounded_before_banding() -> None:
    # 59.96 would print as 60.0 but is below 60: the > 30 to < 60 band.
    patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=59.96)
    assert select_band(estimate_crcl(patient), "none").band.band_id == "crcl-30-60"


def test_proportional_reduction_below_15_rounds_down_to_whole_mg() -> None:
    patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=7.7)
    band = select_band(estimate_crcl(patient), "none")
    # 100 x 7.7/15 = 51.3 -> 51; 300 x 7.7/15 = 154
    assert (band.min_daily_mg, band.max_daily_mg) == (51, 154)
    assert "PROPORTIONAL_REDUCTION" in band.flag_codes


def test_given_crcl_is_labelled_as_given() -> None:
    estimate = estimate_crcl(Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=42))
    assert estimate.method == "given"
    assert estimate.formula_text.startswith("given: 42 mL/min")
