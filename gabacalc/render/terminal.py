"""The plan as plain text for a terminal: the basis of every number, then the steps.

An edge module: it formats what the core decided. Lines stay within about 100 columns
except where a long sentence wraps; nothing depends on terminal colours.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import fmt_mg, fmt_number, frequency_text
from gabacalc.render.phrases import (
    BLANK,
    Identification,
    decision,
    dispensing,
    guidance_rows,
    identification_rows,
    prepared_text,
    scheme_rows,
    signature_blocks,
    step_dates_text,
    step_entries,
)
from gabacalc.render.records import dates_text, patient_text, step_records

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from gabacalc.core.plan import Plan
    from gabacalc.core.renal import BandChoice, RenalEstimate
    from gabacalc.core.summary import Flag, Summary
    from gabacalc.rules import Provenance

__all__ = ["dispensing_lines", "estimate_text", "plan_text", "step_lines"]

_WIDTH = 100
_LABEL = 14


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
    estimate: RenalEstimate,
    band: BandChoice,
    provenance: Provenance,
    band_rule: str,
    flags: list[Flag] | None = None,
) -> str:
    """The renal estimate and band only (``gabacalc crcl``), with the estimate's flags."""
    weight = None
    if estimate.weight_used_kg is not None:
        weight = (
            f"{estimate.weight_used} body weight {fmt_number(estimate.weight_used_kg)} kg: "
            f"{estimate.weight_reason}"
        )
    band_text = (
        f"{band.words}: {fmt_number(band.min_daily_mg)} to {fmt_mg(band.max_daily_mg)} a day "
        f"in {band.doses_per_day} divided doses ({band.band.source_id} "
        f"{band.band.source_section})"
        if band.doses_per_day > 1
        else f"{band.words}: {fmt_number(band.min_daily_mg)} to {fmt_mg(band.max_daily_mg)} "
        f"a day once daily ({band.band.source_id} {band.band.source_section})"
    )
    lines = [*provenance.lines(), ""]
    lines += _estimate_fields(
        estimate.crcl_text, estimate.formula_text, weight, band_text, band.reason, band_rule
    )
    if flags:
        lines += ["", "Flags"]
        for flag in flags:
            lines += _field(f"  {flag['severity'].upper()}", f"{flag['code']}: {flag['message']}")
            lines += _field("", f"What to do: {flag['action']}")
            lines += _field("", f"Source: {flag['source_id']} {flag['source_section']}")
    lines += ["", provenance.verification]
    return "\n".join(lines) + "\n"


def step_lines(steps: pd.DataFrame) -> list[str]:
    """One block per regimen change: dates, daily dose, how often, what to take when."""
    lines = []
    rows = step_records(steps)
    for i, row in enumerate(rows):
        when = step_dates_text(row, last=i == len(rows) - 1)
        step, phase = f"{row['step']:>3}.", row["phase"]
        if row["daily_mg"] == 0:
            lines.append(f"{step} {when}  {phase}: stop, no gabapentin from this day")
            continue
        limited = f"  [limited by {row['limited_by']}]" if row["limited_by"] else ""
        lines.append(
            f"{step} {when}  {phase}: {fmt_mg(row['daily_mg'])} a day, {row['frequency']}{limited}"
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


def _entry_lines(entries: list[dict[str, Any]]) -> list[str]:
    """Each step: its dates in words, then its prescription-style dose lines."""
    lines = []
    for row in entries:
        limited = f" [limited by {row['limited_by']}]" if row["limited_by"] else ""
        conditional = " (conditional)" if row["conditional"] else ""
        lines += _wrap(
            f"{row['step']:>3}. {row['dates_text']}, {row['phase']}{conditional}{limited}", "     "
        )
        for line in row["dose_lines"]:
            lines += _wrap(f"     {line}", "       ")
    return lines


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def dispensing_lines(plan: Plan) -> list[str]:
    """The dispensing table as text: units of each product per step, then the totals."""
    table = dispensing(plan)
    products = table["products"]
    short = [
        name.removeprefix("gabapentin ").replace("oral solution", "solution") for name in products
    ]
    width = max([10, *(len(x) + 2 for x in short)])
    label = 30
    lines = [" " * (label + 2) + "".join(f"{x:>{width}}" for x in short)]
    lines.append(
        " " * (label + 2) + "".join(f"{'(' + table['unit'][n] + ')':>{width}}" for n in products)
    )
    for row in table["steps"]:
        head = f"step {row['step']} ({row['days']} day{'s' if row['days'] != 1 else ''}"
        head += ", conditional)" if row["conditional"] else ")"
        cells = "".join(f"{fmt_number(row['units'][n], 2):>{width}}" for n in products)
        lines.append(f"  {head:<{label}}{cells}")
    for total in table["totals"]:
        for i, part in enumerate(textwrap.wrap(total["label"], label)):
            cells = "".join(f"{fmt_number(total['units'][n], 2):>{width}}" for n in products)
            lines.append(f"  {part:<{label}}{cells if i == 0 else ''}")
    if table["note"]:
        lines += _field("  Note", table["note"])
    return lines


def _basis_lines(plan: Plan) -> list[str]:
    """The basis: patient, CrCl, schemes, band, edge rule, doses, forms, dialysis, dates."""
    s = plan.summary
    band_text = (
        f"{s['band_words']}: {fmt_number(s['min_daily_mg'])} to {fmt_mg(s['max_daily_mg'])} "
        f"a day, {frequency_text(s['doses_per_day'])} ({s['band_source']})"
    )
    lines = _field("Patient", patient_text(s))
    crcl = (
        s["crcl_method"]
        if s["crcl_text"] is None
        else f"{s['crcl_text']} mL/min: {s['crcl_method']}"
    )
    lines += _field("CrCl", crcl)
    for label, value in scheme_rows(plan):
        lines += _field(label.replace(" scheme", "").replace("Weight basis", "Weight"), value)
    lines += _field("Band", band_text)
    lines += _field("", s["band_reason"])
    lines += _field("Edge rule", s["band_rule"])
    if s["current_daily_mg"] is not None:
        lines += _field("Current dose", f"{s['current_regimen']}; {s['day1_change']}")
    if s["kind"] == "taper":
        lines += _field("Taper from", f"{fmt_mg(s['target_daily_mg'])} a day")
    else:
        target = f"{fmt_mg(s['target_daily_mg'])} a day: {s['target_regimen']}"
        if s["target_daily_mg"] != s["requested_target_daily_mg"]:
            target += f" (asked for {fmt_mg(s['requested_target_daily_mg'])} a day; see flags)"
        lines += _field("Target", target)
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
    return lines


def _flag_lines(s: Summary) -> list[str]:
    """Each flag with what to do and its source, or "none"."""
    lines: list[str] = []
    for flag in s["flags"]:
        lines += _field(f"  {flag['severity'].upper()}", f"{flag['code']}: {flag['message']}")
        lines += _field("", f"What to do: {flag['action']}")
        lines += _field("", f"Source: {flag['source_id']} {flag['source_section']}")
    if not s["flags"]:
        lines.append("  none")
    return lines


def _step_lines(plan: Plan) -> list[str]:
    """The steps: to the review, the decision and the conditional taper; or the taper."""
    s = plan.summary
    lines: list[str] = []
    entries = step_entries(plan)
    block = decision(plan)
    if block is not None:
        lines += ["", "Titration and maintenance, to the review"]
        lines += _entry_lines([e for e in entries if not e["conditional"]])
        lines += ["", block["heading"]]
        lines += _field("", block["rule"])
        lines += _field("  Continue", block["continue"])
        lines += _field("  Or taper", block["taper"])
        lines += ["", block["taper_heading"]]
        lines += _field("", f"{s['taper']} taper: {s['taper_description']}. {block['taper_note']}")
        lines += _entry_lines([e for e in entries if e["conditional"]])
    else:
        lines += ["", "Taper"]
        lines += _field("", f"{s['taper']} taper: {s['taper_description']}.")
        lines += _entry_lines(entries)
    return lines


def plan_text(plan: Plan, identification: Identification | None = None) -> str:
    """The whole plan as terminal text: the same content as the PDF.

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
    lines = [*plan.provenance.lines(), "", "Identification and verification"]
    for label, value in [*identification_rows(identification), ("Prepared", prepared_text())]:
        lines.append(f"  {label + ':':<28}{value}")
    lines += ["", "Basis"]
    lines += _basis_lines(plan)
    lines += ["", "Flags"]
    lines += _flag_lines(s)
    lines += _step_lines(plan)
    lines += ["", "Dispensing quantities (units for each step, then the totals)"]
    lines += dispensing_lines(plan)
    lines += ["", "What to do when, and counselling"]
    for row in guidance_rows(plan, "clinician"):
        lines += _wrap(f"  {row['when'].capitalize()}: {row['text']}", "    ")
        lines += _wrap(f"    (source: {row['source_id']} {row['source_section']})", "     ")
    lines += ["", "Prescriber and verification"]
    for title, fields in signature_blocks():
        lines.append(f"  {title}")
        lines += [f"    {field + ':':<11}{BLANK}" for field in fields]
    lines += ["", *plan.provenance.lines()]
    return "\n".join(lines) + "\n"
