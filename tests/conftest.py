"""Shared fixtures and checks for the gabacalc test suite."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

import gabacalc
from gabacalc.core.examples import EXAMPLE_START_DATE, example_patient


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """With GABACALC_NO_SKIPS set (as .ci/run sets it), a skipped test fails: CI installs
    every extra, so a skip there means a test that tests nothing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("GABACALC_NO_SKIPS") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but CI runs every test: {report.longrepr}"


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
