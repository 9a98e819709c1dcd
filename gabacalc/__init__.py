"""gabacalc: illustrative gabapentin titration plans clamped to renal function.

Every plan is illustrative and requires physician verification.

>>> from datetime import date
>>> import gabacalc
>>> patient = gabacalc.Patient(age_years=72, sex="female", weight_kg=60, height_cm=160,
...                            scr=1.3, scr_unit="mg/dL")
>>> plan = gabacalc.build_plan(patient, target_daily_mg=1800, start_date=date(2026, 1, 5))
>>> plan.summary["verification"]
'Illustrative plan - requires physician verification'
"""

from __future__ import annotations

from gabacalc._version import __version__
from gabacalc.cohort import plan_cohort
from gabacalc.errors import GabacalcError, InputError, RuleTableError
from gabacalc.jupyter import explore
from gabacalc.patient import Patient
from gabacalc.plan import Plan, PlanOptions, build_plan, build_taper, rebuild_plan
from gabacalc.renal import (
    BandChoice,
    RenalEstimate,
    adjusted_body_weight,
    body_mass_index,
    cockcroft_gault,
    devine_ideal_weight,
    estimate_crcl,
    select_band,
)
from gabacalc.rules import Rules, default_rules, load_rules
from gabacalc.wording import VERIFICATION_TEXT

__all__ = [
    "VERIFICATION_TEXT",
    "BandChoice",
    "GabacalcError",
    "InputError",
    "Patient",
    "Plan",
    "PlanOptions",
    "RenalEstimate",
    "RuleTableError",
    "Rules",
    "__version__",
    "adjusted_body_weight",
    "body_mass_index",
    "build_plan",
    "build_taper",
    "cockcroft_gault",
    "default_rules",
    "devine_ideal_weight",
    "estimate_crcl",
    "explore",
    "load_rules",
    "plan_cohort",
    "rebuild_plan",
    "select_band",
]
