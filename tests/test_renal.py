"""Renal estimate: Cockcroft-Gault, Devine ideal weight, adjusted weight, the auto basis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gabacalc import (
    Patient,
    adjusted_body_weight,
    cockcroft_gault,
    default_rules,
    devine_ideal_weight,
    estimate_crcl,
    select_band,
)
from gabacalc.core.patient import DIALYSIS_CHOICES, in_limits
from gabacalc.core.renal import (
    WEIGHT_BASES,
    band_index,
    band_scale,
    below_devine_height,
    body_mass_index,
    choose_weight_basis,
    scaled_daily_mg,
    scr_in_mg_dl,
)
from gabacalc.core.startlow import start_low_criteria


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


# ------------------------------------------- one rule for a number and an array (pvlib)


def _grid() -> dict[str, Any]:
    """Patients on a grid with every band edge and BMI row, NaN where a value is absent."""
    rng = np.random.default_rng(12)
    n = 400
    crcl = rng.uniform(0.5, 160, n)
    crcl[:12] = [60, 59.999, 30, 30.001, 15, 14.999, 7.5, 0.5, np.nan, np.nan, np.nan, 150]
    height = rng.uniform(120, 230, n)
    height[::7] = np.nan
    height[1::11] = 152.4
    return {
        "age": rng.uniform(18, 110, n),
        "weight": rng.uniform(30, 350, n),
        "height": height,
        "scr": rng.uniform(0.2, 20, n),
        "female": rng.random(n) < 0.5,
        "umol": rng.random(n) < 0.3,
        "basis": rng.integers(0, len(WEIGHT_BASES), n),
        "dialysis": rng.integers(0, len(DIALYSIS_CHOICES), n),
        "crcl": crcl,
        "respiratory": rng.random(n) < 0.2,
    }


def _same(array: Any, scalars: list[Any]) -> None:
    """Element by element, exactly (NaN where NaN), and each scalar a plain Python number."""
    assert all(type(v) in (int, float, bool) for v in scalars), {type(v) for v in scalars}
    got = np.asarray(array).tolist()
    assert len(got) == len(scalars)
    for a, b in zip(got, scalars, strict=True):
        assert (a != a and b != b) or a == b, (a, b)


def test_each_rule_gives_an_array_what_it_gives_each_number() -> None:
    g = _grid()
    rows = range(len(g["age"]))
    sex = ["female" if f else "male" for f in g["female"]]
    basis = [WEIGHT_BASES[b] for b in g["basis"]]
    dialysis = [DIALYSIS_CHOICES[d] for d in g["dialysis"]]
    pick = {name: [float(v) if isinstance(v, float) else v for v in g[name].tolist()] for name in g}

    ibw = devine_ideal_weight(g["height"], g["female"])
    _same(ibw, [devine_ideal_weight(pick["height"][i], sex[i]) for i in rows])
    abw = adjusted_body_weight(g["weight"], ibw)
    _same(abw, [adjusted_body_weight(pick["weight"][i], ibw.tolist()[i]) for i in rows])
    bmi = body_mass_index(g["weight"], g["height"])
    _same(bmi, [body_mass_index(pick["weight"][i], pick["height"][i]) for i in rows])
    used, rule = choose_weight_basis(g["basis"], g["weight"], ibw, bmi)
    one = [
        choose_weight_basis(basis[i], pick["weight"][i], ibw.tolist()[i], bmi.tolist()[i])
        for i in rows
    ]
    _same(used, [u for u, _ in one])
    _same(rule, [r for _, r in one])
    scr = scr_in_mg_dl(g["scr"], g["umol"])
    _same(scr, [scr_in_mg_dl(pick["scr"][i], bool(g["umol"][i])) for i in rows])
    crcl = cockcroft_gault(g["age"], g["weight"], scr, g["female"])
    _same(
        crcl,
        [cockcroft_gault(pick["age"][i], pick["weight"][i], scr.tolist()[i], sex[i]) for i in rows],
    )
    short = below_devine_height(g["height"], g["basis"])
    _same(short, [bool(below_devine_height(pick["height"][i], basis[i])) for i in rows])

    index = band_index(g["crcl"], g["dialysis"])
    _same(index, [band_index(pick["crcl"][i], dialysis[i]) for i in rows])
    scale = band_scale(index, g["crcl"])
    _same(scale, [band_scale(index.tolist()[i], pick["crcl"][i]) for i in rows])
    _same(scaled_daily_mg(300, scale), [scaled_daily_mg(300, scale.tolist()[i]) for i in rows])

    rules = default_rules()
    criteria = start_low_criteria(g["respiratory"], g["age"], g["dialysis"], g["crcl"], rules)
    for name, values in criteria.items():
        one_each = [
            start_low_criteria(
                bool(g["respiratory"][i]), pick["age"][i], dialysis[i], pick["crcl"][i], rules
            )[name]
            for i in rows
        ]
        _same(values, [bool(v) for v in one_each])
    limits = rules.limits["crcl_ml_min"]
    _same(in_limits(g["crcl"], limits), [bool(in_limits(pick["crcl"][i], limits)) for i in rows])
