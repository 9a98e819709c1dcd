"""Shared fixtures and checks for the gabacalc test suite."""

from __future__ import annotations

import re
from datetime import date

import pytest

import gabacalc
from gabacalc.examples import EXAMPLE_START_DATE, example_patient

#: Abbreviations that must never appear in anything a person reads (Joint Commission
#: "Do Not Use" list, ISMP 2021).
UNSAFE = re.compile(r"\b(QD|QOD|BID|TID|QID|HS|qhs|q\.d\.|b\.i\.d\.|t\.i\.d\.)\b", re.IGNORECASE)
TRAILING_ZERO = re.compile(r"\b\d+\.0+\s*(mg|mL)\b")
NAKED_DECIMAL = re.compile(r"(?<![\d.])\.\d+\s*(mg|mL)\b")


def assert_safe_dose_text(text: str) -> None:
    """Fail if text a person reads writes a dose the unsafe way."""
    assert not UNSAFE.search(text), f"unsafe abbreviation: {UNSAFE.search(text)}"
    assert not TRAILING_ZERO.search(text), f"trailing zero: {TRAILING_ZERO.search(text)}"
    assert not NAKED_DECIMAL.search(text), f"no leading zero: {NAKED_DECIMAL.search(text)}"


@pytest.fixture
def example_plan() -> gabacalc.Plan:
    """The README's example: 72-year-old woman, CrCl about 32 mL/min, band 400-1,400 mg."""
    return gabacalc.build_plan(
        example_patient(), target_daily_mg=1800, start_date=EXAMPLE_START_DATE
    )


@pytest.fixture
def hemodialysis_plan() -> gabacalc.Plan:
    """Hemodialysis without a residual CrCl, solids only (supplement rounded and flagged)."""
    patient = gabacalc.Patient(age_years=66, sex="male", weight_kg=80, dialysis="hemodialysis")
    return gabacalc.build_plan(patient, start_date=date(2026, 1, 5))


@pytest.fixture
def many_flags_plan() -> gabacalc.Plan:
    """An older woman on opioids and a sleep drug, with falls, epilepsy, unstable renal
    function and mechanical back pain, asked for 2,400 mg/day: eight or more flags."""
    patient = gabacalc.Patient(
        age_years=78,
        sex="female",
        weight_kg=58,
        crcl_ml_min=45,
        risks=["opioids", "cns-depressants", "falls", "epilepsy", "unstable-renal"],
        pain_type="non-radicular",
    )
    return gabacalc.build_plan(patient, target_daily_mg=2400, start_date=date(2026, 1, 5))
