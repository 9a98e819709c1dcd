"""The columns of cohort mode: what :func:`gabacalc.plan_cohort` reads and writes.

Kept apart from the planner so that a reader or writer of cohort files (and a test) can
name the columns without the planning code, and so that a table's columns are checked,
with a message naming what it has, before any row is planned.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable

from gabacalc.core.patient import PATIENT_FIELDS
from gabacalc.core.plan import PLAN_OPTIONS
from gabacalc.errors import InputError
from gabacalc.rules import PROVENANCE_COLUMNS

__all__ = [
    "AUDIT_COLUMNS",
    "BOOL_FIELDS",
    "FLOAT_FIELDS",
    "INPUT_COLUMNS",
    "INT_FIELDS",
    "KEY_FIELDS",
    "NUMERIC_COLUMNS",
    "OPTION_COLUMNS",
    "OUTPUT_COLUMNS",
    "PATIENT_COLUMNS",
    "RENAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SUMMARY_COLUMNS",
    "TRACE_COLUMNS",
    "check_columns",
]

PATIENT_COLUMNS = PATIENT_FIELDS
#: build_plan's options a cohort column can give (``current_doses_per_day`` comes last, with
#: the audit; the fewest-products search and the rule tables are not per row).
OPTION_COLUMNS = tuple(
    name for name in PLAN_OPTIONS if name not in ("current_doses_per_day", "max_products", "rules")
)
#: Every column plan_cohort reads: ``id``, the Patient fields, the build_plan keywords, and
#: ``current_doses_per_day`` (the re-plan from ``current_daily_mg`` and the audit).
INPUT_COLUMNS = ("id", *PATIENT_COLUMNS, *OPTION_COLUMNS, "current_doses_per_day")
#: Columns every cohort must have (a renal column, scr, crcl_ml_min or dialysis, too).
REQUIRED_COLUMNS = ("id", "age_years", "sex", "weight_kg")
RENAL_COLUMNS = ("scr", "crcl_ml_min", "dialysis")

#: The input columns read as numbers.
NUMERIC_COLUMNS = (
    "age_years",
    "weight_kg",
    "height_cm",
    "scr",
    "crcl_ml_min",
    "start_daily_mg",
    "target_daily_mg",
    "review_weeks",
    "current_daily_mg",
    "current_doses_per_day",
)

#: The summary keys carried per row (see :func:`gabacalc.build_plan`), in output order.
SUMMARY_COLUMNS = (
    "crcl_ml_min",
    "crcl_source",
    "weight_basis",
    "weight_used",
    "weight_used_kg",
    "ideal_weight_kg",
    "adjusted_weight_kg",
    "bmi_kg_m2",
    "band",
    "band_id",
    "band_scale",
    "doses_per_day",
    "min_daily_mg",
    "max_daily_mg",
    "dialysis",
    "start_daily_mg",
    "requested_start_daily_mg",
    "target_daily_mg",
    "requested_target_daily_mg",
    "target_doses_per_day",
    "target_regimen",
    "titration",
    "taper",
    "review_weeks",
    "allowed_forms",
    "start_date",
    "target_reached_date",
    "target_reached_day",
    "review_date",
    "taper_start_date",
    "taper_end_date",
    "post_dialysis_mg",
    "current_daily_mg",
)
#: Added when the input has ``current_daily_mg`` or ``current_doses_per_day``.
AUDIT_COLUMNS = (
    "current_doses_per_day",
    "audit_above_band_max",
    "audit_excess_mg",
    "audit_too_many_doses",
    "audit_excess_doses",
)
TRACE_COLUMNS = PROVENANCE_COLUMNS
#: Every output column, in order (the audit columns only with current-dose columns).
OUTPUT_COLUMNS = (
    "id",
    *SUMMARY_COLUMNS,
    "flag_codes",
    "flag_severity",
    *AUDIT_COLUMNS,
    "status",
    "error",
    *TRACE_COLUMNS,
)

FLOAT_FIELDS = frozenset(
    {
        "crcl_ml_min",
        "weight_used_kg",
        "ideal_weight_kg",
        "adjusted_weight_kg",
        "bmi_kg_m2",
        "band_scale",
    }
)
INT_FIELDS = frozenset(
    {
        "doses_per_day",
        "min_daily_mg",
        "max_daily_mg",
        "start_daily_mg",
        "requested_start_daily_mg",
        "target_daily_mg",
        "requested_target_daily_mg",
        "target_doses_per_day",
        "review_weeks",
        "target_reached_day",
        "post_dialysis_mg",
        "current_daily_mg",
        "current_doses_per_day",
        "audit_excess_mg",
        "audit_excess_doses",
    }
)
BOOL_FIELDS = frozenset({"audit_above_band_max", "audit_too_many_doses"})
#: Summary fields that depend only on the plan key, taken from the key's plan.
KEY_FIELDS = (
    "start_daily_mg",
    "requested_start_daily_mg",
    "target_daily_mg",
    "requested_target_daily_mg",
    "target_doses_per_day",
    "target_regimen",
    "titration",
    "taper",
    "review_weeks",
    "allowed_forms",
    "start_date",
    "target_reached_date",
    "target_reached_day",
    "review_date",
    "taper_start_date",
    "taper_end_date",
    "post_dialysis_mg",
)


def check_columns(columns: Iterable[Hashable]) -> None:
    """Refuse a cohort table without the columns every row needs, or with a misspelt one.

    Raises
    ------
    InputError
        Naming the columns found and the columns expected.

    Examples
    --------
    >>> check_columns(["id", "age_years", "sex", "weight_kg", "scr"])
    >>> check_columns(["id", "age", "sex", "weight_kg", "scr"])
    Traceback (most recent call last):
    gabacalc.errors.InputError: the cohort has no age_years column; found: id, age, sex,
    weight_kg, scr; expected id, age_years, sex, weight_kg and one of scr, crcl_ml_min,
    dialysis (optional: height_cm, scr_unit, risks, pain_type, weight_basis, start_daily_mg,
    target_daily_mg, titration, taper, review_weeks, start_date, strengths_mg, oral_solution,
    dialysis_days, current_daily_mg, current_doses_per_day)
    """
    found = [str(c) for c in columns]
    optional = [c for c in INPUT_COLUMNS if c not in (*REQUIRED_COLUMNS, *RENAL_COLUMNS)]
    expected = (
        f"expected {', '.join(REQUIRED_COLUMNS)} and one of {', '.join(RENAL_COLUMNS)} "
        f"(optional: {', '.join(optional)})"
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise InputError(
            f"the cohort has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}; "
            f"found: {', '.join(found) or 'no columns'}; {expected}",
            field=missing[0],
        )
    if not any(c in found for c in RENAL_COLUMNS):
        raise InputError(
            f"the cohort has no renal column (scr, crcl_ml_min or dialysis); "
            f"found: {', '.join(found)}; {expected}",
            field="scr",
        )
    for name in found:
        if name in INPUT_COLUMNS or name in OUTPUT_COLUMNS:
            continue
        # A column a clinical input was meant for, spelt another way, must not be dropped
        # without a word: that would plan without a current dose, dialysis or a risk.
        plain = _plain_name(name)
        close = difflib.get_close_matches(plain, INPUT_COLUMNS, n=1, cutoff=0.75)
        if close and close[0] not in found:
            raise InputError(
                f"column {name!r} is not a cohort column; did you mean {close[0]!r}? "
                f"(column names are exact and lower case: rename it, or drop it; {expected})",
                field=close[0],
            )
        clinical = [t for t in _CLINICAL_WORDS if t in plain]
        if clinical:
            raise InputError(
                f"column {name!r} looks like a clinical input ({clinical[0]}) but is not a "
                f"cohort column, so gabacalc would not read it; rename it to the column it "
                f"is meant for, or drop it ({expected})",
                field=name,
            )


#: Parts of a column name that mean a clinical input: such a column is never ignored.
_CLINICAL_WORDS = (
    "current",
    "dose",
    "dialysis",
    "risk",
    "taper",
    "titration",
    "crcl",
    "clearance",
    "creat",
    "scr",
    "strength",
    "solution",
    "opioid",
    "pregnan",
)


def _plain_name(name: str) -> str:
    """A column name folded for comparison: lower case, spaces and hyphens as underscores."""
    return "_".join(name.strip().lower().replace("-", " ").split())
