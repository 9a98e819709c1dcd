"""Reading a saved plan's record back: the patient fields, options and kind it holds.

:func:`gabacalc.rebuild_plan` rebuilds the plan from what :func:`recorded_inputs` returns;
a record that cannot be read is refused with what is wrong and what to pass instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from gabacalc.core.options import PlanOptions
from gabacalc.core.patient import PATIENT_FIELDS
from gabacalc.errors import InputError, value_text

__all__ = ["recorded_inputs"]

_RECORDED_PATIENT = PATIENT_FIELDS


def recorded_inputs(summary: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The patient fields, options and kind a plan record holds, or an InputError saying why not."""
    hint = "pass plan.summary, or the record gabacalc plan --json wrote"
    if isinstance(summary, Mapping) and "inputs" not in summary:
        summary = summary.get("summary", summary)
    inputs = summary.get("inputs") if isinstance(summary, Mapping) else None
    patient = inputs.get("patient") if isinstance(inputs, Mapping) else None
    options = inputs.get("options") if isinstance(inputs, Mapping) else None
    if not isinstance(patient, Mapping) or not isinstance(options, Mapping):
        raise InputError(
            f"summary {value_text(summary)} holds no recorded inputs (inputs: patient and "
            f"options); {hint}",
            field="summary",
        )
    unknown = [str(k) for k in patient if k not in _RECORDED_PATIENT]
    absent = [k for k in ("age_years", "sex", "weight_kg") if k not in patient]
    if absent:
        raise InputError(f"the recorded patient lacks {', '.join(absent)}; {hint}", field="summary")
    if unknown:
        raise InputError(
            f"the recorded patient has unknown field {unknown[0]!r}; expected "
            f"{', '.join(_RECORDED_PATIENT)}; {hint}",
            field="summary",
        )
    wanted = (*PlanOptions.__dataclass_fields__, "current_doses_per_day")
    wanted = tuple(name for name in dict.fromkeys(wanted) if name != "chosen")
    missing = [name for name in wanted if name not in options]
    if missing:
        raise InputError(f"the recorded options lack {', '.join(missing)}; {hint}", field="summary")
    when = options["start_date"]
    try:
        start = date.fromisoformat(when) if isinstance(when, str) else None
    except ValueError:
        start = None
    if start is None:
        raise InputError(
            f"the recorded start date {value_text(when)} is not a date (YYYY-MM-DD); {hint}",
            field="start_date",
        )
    kind = summary.get("kind", "titration")
    if not isinstance(kind, str) or kind not in ("titration", "taper"):
        raise InputError(
            f"the record's kind {value_text(kind)} is not titration or taper; {hint}",
            field="summary",
        )
    return {str(k): v for k, v in patient.items()}, {**options, "start_date": start}, kind
