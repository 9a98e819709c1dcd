"""The plan as plain text for a terminal: the basis of every number, then the steps.

An edge module: it formats what the core decided. Lines stay within about 100 columns
except where a long sentence wraps; nothing depends on terminal colours.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from gabacalc.export import dates_text, patient_text, step_records
from gabacalc.wording import VERIFICATION_TEXT, fmt_mg, fmt_number

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from gabacalc.plan import Plan
    from gabacalc.renal import BandChoice, RenalEstimate

__all__ = ["estimate_text", "plan_text", "stamp_lines", "step_lines"]

_WIDTH = 100
_LABEL = 14


def stamp_lines(summary: dict[str, Any]) -> list[str]:
    """The verification line and the versions, printed first and last."""
    return [
        VERIFICATION_TEXT,
        f"gabacalc {summary['gabacalc_version']} | rule tables {summary['rules_version']} "
        f"(sha256 {summary['rules_sha256']})",
    ]


def _field(label: str, text: str) -> list[str]:
    """``label`` in a column, ``text`` wrapped beside it."""
    return textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent=f"{label:<{_LABEL}}",
        subsequent_indent=" " * _LABEL,
        break_on_hyphens=False,
    ) or [label]


def _estimate_fields(
    crcl_text: str | None,
    method_text: str,
    weight_text: str | None,
    band_text: str,
    band_reason: str,
    band_rule: str,
) -> list[str]:
    lines = []
    if crcl_text is None:
        lines += _field("CrCl", method_text)
    else:
        lines += _field("CrCl", f"{crcl_text} mL/min: {method_text}")
    if weight_text:
        lines += _field("Weight used", weight_text)
    lines += _field("Band", band_text)
    lines += _field("", band_reason)
    lines += _field("Edge rule", band_rule)
    return lines


def estimate_text(
    estimate: RenalEstimate, band: BandChoice, summary_stamp: dict[str, Any], band_rule: str
) -> str:
    """The renal estimate and band only (``gabacalc crcl``)."""
    weight = None
    if estimate.weight_used_kg is not None:
        weight = (
            f"{estimate.weight_used} body weight {fmt_number(estimate.weight_used_kg)} kg: "
            f"{estimate.weight_reason}"
        )
    band_text = (
        f"{band.label}: {fmt_number(band.min_daily_mg)}-{fmt_mg(band.max_daily_mg)}/day "
        f"in {band.doses_per_day} divided doses ({band.band.source_id} "
        f"{band.band.source_section})"
        if band.doses_per_day > 1
        else f"{band.label}: {fmt_number(band.min_daily_mg)}-{fmt_mg(band.max_daily_mg)}/day "
        f"once daily ({band.band.source_id} {band.band.source_section})"
    )
    lines = [*stamp_lines(summary_stamp), ""]
    lines += _estimate_fields(
        estimate.crcl_text, estimate.formula_text, weight, band_text, band.reason, band_rule
    )
    lines += ["", VERIFICATION_TEXT]
    return "\n".join(lines) + "\n"


def step_lines(steps: pd.DataFrame) -> list[str]:
    """One block per regimen change: dates, daily dose, how often, what to take when."""
    lines = []
    for row in step_records(steps):
        start = row["start_date"]
        end = row["end_date"]
        when = f"{start} to {end}" if start != end else f"from {start}"
        days = "" if start == end else f" ({row['days']} days)"
        step, phase = f"{row['step']:>3}.", row["phase"]
        if row["daily_mg"] == 0:
            lines.append(f"{step} {when}  {phase}: stop, no gabapentin from this day")
            continue
        limited = f"  [limited by {row['limited_by']}]" if row["limited_by"] else ""
        lines.append(
            f"{step} {when}{days}  {phase}: {fmt_mg(row['daily_mg'])}/day, "
            f"{row['frequency']}{limited}"
        )
        for time in ("morning", "midday", "bedtime"):
            mg = row[f"{time}_mg"]
            if mg:
                lines.append(f"       {time:<8} {fmt_mg(mg):>7}  {row[f'{time}_take']}")
        if row["post_dialysis_mg"]:
            lines.append(
                f"       after each dialysis session {fmt_mg(row['post_dialysis_mg'])}  "
                f"{row['post_dialysis_take']}"
            )
    return lines


def plan_text(plan: Plan) -> str:
    """The whole plan as terminal text.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> print(plan_text(plan).splitlines()[0])
    Illustrative plan - requires physician verification
    """
    s = plan.summary
    weight = None
    if s["weight_used_kg"] is not None:
        weight = (
            f"{s['weight_used']} body weight {fmt_number(s['weight_used_kg'])} kg: "
            f"{s['weight_reason']}"
        )
    frequency = "once daily" if s["doses_per_day"] == 1 else f"in {s['doses_per_day']} doses"
    band_text = (
        f"{s['band']}: {fmt_number(s['min_daily_mg'])}-{fmt_mg(s['max_daily_mg'])}/day "
        f"{frequency} ({s['band_source']})"
    )
    lines = [*stamp_lines(s), ""]
    lines += _field("Patient", patient_text(s))
    lines += _estimate_fields(
        s["crcl_text"], s["crcl_method"], weight, band_text, s["band_reason"], s["band_rule"]
    )
    if s["current_daily_mg"] is not None:
        lines += _field("Current dose", f"{s['current_regimen']}; {s['day1_change']}")
    if s["kind"] == "taper":
        lines += _field("Taper", f"from {fmt_mg(s['target_daily_mg'])}/day ({s['taper']} preset)")
    else:
        target = f"{fmt_mg(s['target_daily_mg'])}/day: {s['target_regimen']}"
        if s["target_daily_mg"] != s["requested_target_daily_mg"]:
            target += f" (asked for {fmt_mg(s['requested_target_daily_mg'])}/day; see flags)"
        lines += _field("Target", target)
        lines += _field(
            "Titration",
            f"{s['titration']} preset from {fmt_mg(s['start_daily_mg'])}/day; "
            f"taper preset {s['taper']}",
        )
    lines += _field("Forms", s["allowed_forms"])
    if s["dialysis"] == "hemodialysis":
        days = ", ".join(d.capitalize() for d in s["inputs"]["options"]["dialysis_days"])
        amount = (
            f"{fmt_mg(s['post_dialysis_mg'])}"
            if s["post_dialysis_mg"] is not None
            else "a supplement that varies by step (see the steps)"
        )
        lines += _field("Dialysis", f"{amount} after each hemodialysis session (days: {days})")
    lines += _field("Dates", dates_text(s))
    lines += ["", "Flags"]
    for flag in s["flags"]:
        lines += _field(f"  {flag['severity'].upper()}", f"{flag['code']}: {flag['message']}")
        lines += _field("", f"What to do: {flag['action']}")
        lines += _field("", f"Source: {flag['source_id']} {flag['source_section']}")
    if not s["flags"]:
        lines.append("  none")
    lines += ["", "Steps"]
    lines += step_lines(plan.steps)
    if s["kind"] == "titration":
        lines += ["", f"Efficacy review on {s['review_date']}"]
        lines += _field("", s["review_rule"])
        lines += _field("", s["review_with_benefit"])
        lines += _field("", s["review_without_benefit"])
        lines += _field("", s["taper_note"])
    lines += ["", *stamp_lines(s)]
    return "\n".join(lines) + "\n"
