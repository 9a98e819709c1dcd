"""The built-in example patient used by ``gabacalc demo``, the README and the notebooks."""

from __future__ import annotations

from datetime import date

from gabacalc.core.patient import Patient

__all__ = ["EXAMPLE_START_DATE", "example_patient"]

#: A fixed day 1, so that the demo's files are the same on every run.
EXAMPLE_START_DATE = date(2026, 1, 5)


def example_patient() -> Patient:
    """A 72-year-old woman, 60 kg, 160 cm, serum creatinine 1.3 mg/dL (CrCl about 32 mL/min).

    Examples
    --------
    >>> example_patient().age_years
    72.0
    """
    return Patient(
        age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3, scr_unit="mg/dL"
    )
