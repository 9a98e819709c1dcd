"""The patient's schedule: a plain-language PDF with a tick box for every dose.

An edge module: it formats what the plan decided and decides nothing. Large type (12 point
and up), plain words, no abbreviations a patient would not know: what the medicine is for,
what each product looks like, when the dose changes, a calendar of every day with its
weekday and date and a tick box for each dose, the review appointment, what to do if drowsy
or dizzy or if a dose is missed, what never to do, when to get help, and a line for the
clinic's phone number. The taper that depends on the review is not on the calendar: the
doctor decides it at the review. Every page carries the verification label and the stamp.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import VERIFICATION_TEXT
from gabacalc.errors import InputError
from gabacalc.render.pdf_base import (
    BOLD,
    FONT,
    canvas_class,
    page_size,
    paragraph,
    register_fonts,
)
from gabacalc.render.phrases import (
    Identification,
    calendar_days,
    fmt_date,
    guidance_rows,
    patient_take,
)

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan

__all__ = ["TICK_BOX", "handout_bytes"]

#: The box a patient ticks for each dose taken.
TICK_BOX = "\u2610"
_TIMES = (("morning", "Morning"), ("midday", "Midday"), ("bedtime", "Bedtime"))
_GROUPS = (
    ("if you feel drowsy or dizzy", "If you feel drowsy or dizzy"),
    ("if you miss a dose", "If you miss a dose"),
    ("never", "Never"),
    ("other medicines", "Other medicines"),
    ("get help right away", "Get help right away"),
)


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    body = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=16, spaceAfter=4)
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=12, leading=15, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName=BOLD, spaceAfter=0),
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=20, leading=24),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=BOLD, fontSize=15, leading=19, spaceBefore=8
        ),
        "banner": ParagraphStyle(
            "banner",
            parent=body,
            fontName=BOLD,
            fontSize=12,
            textColor=colors.white,
            backColor=colors.HexColor("#b00020"),
            borderPadding=5,
            alignment=1,
            spaceAfter=10,
        ),
    }


def _changes(days: list[dict[str, Any]], plan: Plan) -> list[str]:
    """One line per dose change: from which day, and what to take when."""
    assert plan.formulary is not None
    lines = []
    previous: tuple[int, ...] | None = None
    for day in days:
        parts = (int(day["morning_mg"]), int(day["midday_mg"]), int(day["bedtime_mg"]))
        if parts == previous:
            continue
        previous = parts
        if not any(parts):
            lines.append(f"From {fmt_date(day['date'])}: no more gabapentin.")
            continue
        doses = [
            f"{words.lower()} {patient_take(plan.formulary, mg)}"
            for (_, words), mg in zip(_TIMES, parts, strict=True)
            if mg
        ]
        lines.append(
            f"From {fmt_date(day['date'])}: " + "; ".join(doses) + f" ({sum(parts):,} mg a day)."
        )
    return lines


def _week_tables(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import KeepTogether, Table, TableStyle

    assert plan.formulary is not None
    days = calendar_days(plan)
    post = any(d["post_dialysis_mg"] for d in days)
    # Only the times of day this schedule uses: a column that is always empty is noise.
    times = [(t, w) for t, w in _TIMES if any(d[f"{t}_mg"] for d in days)]
    heads = ["Day", *[words for _, words in times]] + (["After dialysis"] if post else [])
    out: list[Any] = []
    previous: tuple[int, ...] | None = None
    for start in range(0, len(days), 7):
        week = days[start : start + 7]
        data = [[paragraph(h, styles["head"]) for h in heads]]
        changed_rows = []
        for i, day in enumerate(week, start=1):
            parts = (int(day["morning_mg"]), int(day["midday_mg"]), int(day["bedtime_mg"]))
            label = fmt_date(day["date"])
            if parts != previous and previous is not None:
                label += "\nnew dose"
                changed_rows.append(i)
            previous = parts
            cells = [label]
            for time, _ in times:
                mg = int(day[f"{time}_mg"])
                cells.append(f"{TICK_BOX} {patient_take(plan.formulary, mg)}" if mg else "")
            if post:
                extra = int(day["post_dialysis_mg"])
                cells.append(f"{TICK_BOX} {patient_take(plan.formulary, extra)}" if extra else "")
            data.append([paragraph(c, styles["cell"]) for c in cells])
        columns = len(heads)
        first = 0.3 if columns <= 3 else 0.24 if columns == 4 else 0.21
        widths = [width * first] + [width * (1 - first) / (columns - 1)] * (columns - 1)
        table = Table(data, colWidths=widths, repeatRows=1)
        commands = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#777777")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]
        commands += [
            ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#fff3cd")) for r in changed_rows
        ]
        table.setStyle(TableStyle(commands))
        title = (
            f"Week {start // 7 + 1}: {fmt_date(week[0]['date'])} to {fmt_date(week[-1]['date'])}"
        )
        out.append(KeepTogether([paragraph(title, styles["h2"]), table]))
    return out


def _story(plan: Plan, identification: Identification | None, width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Spacer

    assert plan.formulary is not None
    styles = _styles()
    days = calendar_days(plan)
    story: list[Any] = [
        paragraph(VERIFICATION_TEXT, styles["banner"]),
        paragraph("Your gabapentin schedule", styles["h1"]),
    ]
    if identification is not None and identification.patient_name:
        story.append(paragraph(f"For: {identification.patient_name}", styles["body"]))
    else:
        story.append(paragraph("For: " + "_" * 30, styles["body"]))
    story += _what_for(plan, days, styles)
    story += _medicine(plan, days, styles)
    story += _when_it_changes(plan, days, styles)
    story.append(paragraph("Clinic phone number: " + "_" * 30, styles["body"]))
    story += _week_tables(plan, styles, width)
    groups = _advice(plan, styles)
    # The last advice, the phone line and the closing label stay on one page together.
    closing = [
        Spacer(1, 8),
        paragraph("Clinic phone number: " + "_" * 30, styles["body"]),
        paragraph(VERIFICATION_TEXT, styles["banner"]),
    ]
    for group in groups[:-1]:
        story.append(KeepTogether(group))
    story.append(KeepTogether([*(groups[-1] if groups else []), *closing]))
    return story


def _what_for(plan: Plan, days: list[dict[str, Any]], styles: dict[str, Any]) -> list[Any]:
    """What the medicine is for, and how the doses are measured and taken."""
    assert plan.formulary is not None
    what_for = [r["text"] for r in guidance_rows(plan, "patient") if r["key"] == "what-for"]
    out = [paragraph("What this medicine is for", styles["h2"])]
    out += [paragraph(t, styles["body"]) for t in what_for]
    liquid = any(
        portion.is_solution
        for day in days
        for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg")
        for portion in (plan.formulary.portions(int(day[column])) if day[column] else ())
    )
    out.append(
        paragraph(
            "Doses are in milligrams (mg). "
            + (
                "The liquid is measured in millilitres (mL): use the oral syringe from the "
                "pharmacy. "
                if liquid
                else ""
            )
            + "Take each dose by mouth, with or without food. Tick the box when you have "
            "taken it.",
            styles["body"],
        )
    )
    return out


def _medicine(plan: Plan, days: list[dict[str, Any]], styles: dict[str, Any]) -> list[Any]:
    """What each product the schedule uses looks like."""
    assert plan.formulary is not None
    out = [paragraph("Your medicine", styles["h2"])]
    looks: dict[str, str] = {}
    for day in days:
        for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"):
            for portion in plan.formulary.portions(int(day[column])) if day[column] else ():
                looks[portion.product] = portion.appearance
    for product, appearance in looks.items():
        out.append(paragraph(f"{product.capitalize()}: {appearance}.", styles["body"]))
    out.append(
        paragraph(
            "This is how the brand looks. Your pharmacy's medicine may look different: "
            "check the label on the box.",
            styles["body"],
        )
    )
    return out


def _when_it_changes(plan: Plan, days: list[dict[str, Any]], styles: dict[str, Any]) -> list[Any]:
    """When the dose changes, the dialysis days, then the review or the stop."""
    s = plan.summary
    out = [paragraph("When your dose changes", styles["h2"])]
    out += [paragraph(line, styles["body"]) for line in _changes(days, plan)]
    if any(d["post_dialysis_mg"] for d in days):
        out.append(
            paragraph(
                "On dialysis days, take the extra dose after each dialysis session.",
                styles["body"],
            )
        )
    if s["kind"] == "titration":
        out.append(paragraph("Your review appointment", styles["h2"]))
        out.append(
            paragraph(
                f"{fmt_date(s['review_date'])}. Your doctor will ask if the medicine helps. "
                "Then you will either keep taking the same dose, or lower it slowly, as your "
                "doctor tells you. Do not stop on your own.",
                styles["body"],
            )
        )
    else:
        out.append(paragraph("When you stop", styles["h2"]))
        out.append(
            paragraph(
                f"From {fmt_date(s['taper_end_date'])} you take no more gabapentin. Lower the "
                "dose only as this schedule shows.",
                styles["body"],
            )
        )
    return out


def _advice(plan: Plan, styles: dict[str, Any]) -> list[list[Any]]:
    """The patient's advice in titled groups: drowsy or dizzy, a missed dose, never, help."""
    rows = guidance_rows(plan, "patient")
    groups = []
    for key, title in _GROUPS:
        texts = [r["text"] for r in rows if r["when"] == key]
        if texts:
            groups.append(
                [paragraph(title, styles["h2"]), *(paragraph(t, styles["body"]) for t in texts)]
            )
    return groups


def handout_bytes(
    plan: Plan, identification: Identification | None = None, pagesize: str = "letter"
) -> bytes:
    """The patient's schedule as PDF bytes (the same bytes when ``SOURCE_DATE_EPOCH`` is set).

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> handout_bytes(plan)[:5]
    b'%PDF-'
    """
    from reportlab.platypus import SimpleDocTemplate

    size = page_size(pagesize)
    if plan.formulary is None:
        raise InputError("this plan has no products to show; build it with build_plan")
    register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=40,
        rightMargin=40,
        topMargin=40,
        bottomMargin=44,
        title="Your gabapentin schedule - " + VERIFICATION_TEXT,
        author=f"gabacalc {plan.provenance.gabacalc_version}",
        creator=f"gabacalc {plan.provenance.gabacalc_version}",
        invariant=1 if os.environ.get("SOURCE_DATE_EPOCH") else 0,
    )
    doc.build(
        _story(plan, identification, doc.width),
        canvasmaker=canvas_class(plan.provenance, size, font_size=8),
    )
    return buffer.getvalue()
