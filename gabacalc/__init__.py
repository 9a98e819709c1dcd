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

import importlib
from typing import TYPE_CHECKING, Any

from gabacalc._version import __version__
from gabacalc.core.wording import VERIFICATION_TEXT

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.cohort import plan_cohort
    from gabacalc.core.patient import Patient
    from gabacalc.core.plan import Plan, PlanOptions, build_plan, build_taper, rebuild_plan
    from gabacalc.core.renal import (
        BandChoice,
        RenalEstimate,
        adjusted_body_weight,
        body_mass_index,
        cockcroft_gault,
        devine_ideal_weight,
        estimate_crcl,
        select_band,
    )
    from gabacalc.errors import GabacalcError, InputError, RuleTableError
    from gabacalc.files.cohort_io import read_results
    from gabacalc.jupyter import explore
    from gabacalc.rules import Rules, default_rules, load_rules

# The public names and the module that defines each: loaded when first used (PEP 562), so
# that ``import gabacalc`` (and ``gabacalc --help``, a TAB completion) does not pay for
# pandas and the planning machinery before a plan is asked for.
_WHERE = {
    "GabacalcError": "errors",
    "InputError": "errors",
    "RuleTableError": "errors",
    "Patient": "core.patient",
    "Plan": "core.plan",
    "PlanOptions": "core.plan",
    "build_plan": "core.plan",
    "build_taper": "core.plan",
    "rebuild_plan": "core.plan",
    "BandChoice": "core.renal",
    "RenalEstimate": "core.renal",
    "adjusted_body_weight": "core.renal",
    "body_mass_index": "core.renal",
    "cockcroft_gault": "core.renal",
    "devine_ideal_weight": "core.renal",
    "estimate_crcl": "core.renal",
    "select_band": "core.renal",
    "Rules": "rules",
    "default_rules": "rules",
    "load_rules": "rules",
    "plan_cohort": "core.cohort",
    "read_results": "files.cohort_io",
    "explore": "jupyter",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gabacalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gabacalc.{module}"), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


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
    "read_results",
    "rebuild_plan",
    "select_band",
]
