"""The plan's dates as an iCalendar file (RFC 5545): each regimen change and the review.

An edge module: it formats what the core decided. Needs the ``calendar`` extra
(``pip install "gabacalc[calendar]"``, icalendar).

Each event is a whole day: the day a regimen step starts (what to take at each time of
day), the efficacy review, and the day with no gabapentin. A taper that applies only
without clear benefit at the review says so in its title and description. Every
description carries the verification text, the gabacalc version and the rule tables'
version and checksum. UIDs are name-based on the plan's content, and the stamp time
(``DTSTAMP``) is ``SOURCE_DATE_EPOCH`` when set, so the same plan gives the same bytes.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg
from gabacalc.errors import InputError
from gabacalc.render.records import step_records

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan

__all__ = ["plan_calendar", "write_ics"]

_NAMESPACE = uuid.UUID("4b1e0c59-07c6-5a40-8f4b-6761626163a1")
_TIME_WORDS = {"morning": "in the morning", "midday": "at midday", "bedtime": "at bedtime"}
_HINT = 'calendar output needs the calendar extra: pip install "gabacalc[calendar]"'


def _stamp_time() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)


def _take_lines(row: dict[str, Any]) -> list[str]:
    lines = []
    for time, words in _TIME_WORDS.items():
        mg = row[f"{time}_mg"]
        if mg:
            lines.append(f"{fmt_mg(mg)} {words}: {row[f'{time}_take'].replace(' + ', ' and ')}")
    if row["post_dialysis_mg"]:
        lines.append(
            f"{fmt_mg(row['post_dialysis_mg'])} after each hemodialysis session: "
            f"{row['post_dialysis_take'].replace(' + ', ' and ')}"
        )
    return lines


def plan_calendar(plan: Plan) -> bytes:
    """The plan's regimen changes and review as iCalendar bytes (CRLF line ends).

    Raises
    ------
    InputError
        icalendar is not installed (with the install hint).

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> plan_calendar(plan).splitlines()[0]
    b'BEGIN:VCALENDAR'
    """
    try:
        from icalendar import Calendar, Event
    except ImportError:
        raise InputError(_HINT, field="ics") from None
    s = plan.summary
    stamp = plan.provenance.sentence()
    seed = json.dumps(s, sort_keys=True, default=str)
    stamp_time = _stamp_time()
    calendar = Calendar()
    calendar.add("prodid", f"-//gabacalc//gabacalc {plan.provenance.gabacalc_version}//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"gabacalc plan ({VERIFICATION_TEXT})")

    def event(day: str, title: str, lines: list[str], key: str) -> None:
        start = date.fromisoformat(day)
        item = Event()
        item.add("uid", f"{uuid.uuid5(_NAMESPACE, seed + '|' + key)}@gabacalc")
        item.add("dtstamp", stamp_time)
        item.add("dtstart", start)
        item.add("dtend", start + timedelta(days=1))
        item.add("summary", title)
        item.add("description", "\n".join([*lines, "", stamp]))
        item.add("transp", "TRANSPARENT")
        calendar.add_component(item)

    conditional = s["kind"] == "titration"
    review = s["review_date"]
    for row in step_records(plan.steps):
        taper_if = conditional and row["phase"] == "taper"
        condition = f"If no clear benefit at the review on {review}: " if taper_if else ""
        if row["daily_mg"] == 0:
            title = f"{condition}no gabapentin from this day"
            lines = ["Stop: no gabapentin from this day."]
        else:
            title = f"{condition}gabapentin {fmt_mg(row['daily_mg'])}/day, {row['frequency']}"
            lines = [f"From {row['start_date']} to {row['end_date']} ({row['phase']}):"]
            lines += _take_lines(row)
        if taper_if:
            lines += ["", s["taper_note"]]
        event(row["start_date"], f"gabacalc: {title}", lines, f"step-{row['step']}")
    if conditional and review:
        event(
            review,
            "gabacalc: efficacy review",
            [
                s["review_rule"] or "",
                s["review_with_benefit"] or "",
                s["review_without_benefit"] or "",
            ],
            "review",
        )
    data: bytes = calendar.to_ical()
    return data


def write_ics(plan: Plan, path: str | Path) -> Path:
    """Write :func:`plan_calendar` to ``path``, whole or not at all."""
    from gabacalc.files.atomic import atomic_write_bytes

    return atomic_write_bytes(path, plan_calendar(plan))
