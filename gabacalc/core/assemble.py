"""A course written out: its summary, and its days as the schedule and steps frames.

The frames are what every renderer and file writer reads: one row per calendar day
(:data:`SCHEDULE_COLUMNS`) and one row per regimen change (:data:`STEP_COLUMNS`), stamped
with the verification text and the versions in ``attrs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.course import Course
from gabacalc.core.engine import Day
from gabacalc.core.options import WEEKDAYS
from gabacalc.core.summary import Summary, summary_of, worded_flags
from gabacalc.core.supplement import Supplements, dialysis_supplement
from gabacalc.core.wording import frequency_text

__all__ = ["SCHEDULE_COLUMNS", "STEP_COLUMNS", "Concluded", "conclude", "frames"]

SCHEDULE_COLUMNS = (
    "date",
    "day",
    "phase",
    "conditional",
    "daily_mg",
    "change_mg",
    "doses_per_day",
    "morning_mg",
    "midday_mg",
    "bedtime_mg",
    "post_dialysis_mg",
    "max_daily_mg",
    "limited_by",
    "note",
    "morning_take",
    "midday_take",
    "bedtime_take",
    "post_dialysis_take",
)
STEP_COLUMNS = (
    "step",
    "phase",
    "conditional",
    "start_date",
    "end_date",
    "days",
    "daily_mg",
    "change_mg",
    "doses_per_day",
    "frequency",
    "morning_mg",
    "midday_mg",
    "bedtime_mg",
    "morning_take",
    "midday_take",
    "bedtime_take",
    "post_dialysis_mg",
    "post_dialysis_take",
    "max_daily_mg",
    "limited_by",
    "reason",
    "source_id",
)

_INT_COLUMNS = (
    "day",
    "daily_mg",
    "change_mg",
    "doses_per_day",
    "morning_mg",
    "midday_mg",
    "bedtime_mg",
    "post_dialysis_mg",
    "max_daily_mg",
)


@dataclass(frozen=True)
class Concluded:
    """A course's summary and what the frames need beside the days."""

    summary: Summary
    supplement: Supplements
    hemodialysis: bool
    taper_index: int
    stop_index: int


def conclude(course: Course, *, worded: bool = True) -> Concluded:
    """The dialysis supplement, the flags and the summary of a course (no frames).

    ``worded=False`` leaves the summary's ``flags`` empty (for cohort mode, which keeps
    only the codes, :func:`~gabacalc.core.summary.raised_codes`: wording every flag is a
    quarter of the cost of a plan's summary).
    """
    hemodialysis = course.patient.dialysis == "hemodialysis"
    supplement = Supplements(course.rules, course.band, course.formulary)
    post_dialysis_target = dialysis_supplement(course, supplement) if hemodialysis else None
    flags = worded_flags(course.rules, course.flag_codes, course.context) if worded else []
    return Concluded(
        summary=summary_of(course, post_dialysis_target, flags),
        supplement=supplement,
        hemodialysis=hemodialysis,
        taper_index=course.taper_index,
        stop_index=course.stop_index,
    )


def frames(course: Course, concluded: Concluded) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The schedule (one row per day) and the steps (one row per regimen change)."""
    records = _day_records(course, concluded)
    columns: dict[str, Any] = dict(records)
    columns["date"] = pd.to_datetime(records["date"])
    columns["conditional"] = np.asarray(records["conditional"], dtype=bool)
    for name in _INT_COLUMNS:
        columns[name] = np.asarray(records[name], dtype=np.int64)
    schedule = pd.DataFrame(columns, columns=list(SCHEDULE_COLUMNS))
    steps = _steps(course.days, records, concluded.hemodialysis)
    attrs = course.rules.provenance.columns()
    schedule.attrs.update(attrs)
    steps.attrs.update(attrs)
    return schedule, steps


def _day_records(course: Course, concluded: Concluded) -> dict[str, list[Any]]:
    """The schedule's columns as lists, one item per day."""
    options, band, formulary = course.options, course.band, course.formulary
    start = options.start_date
    hemodialysis, supplement = concluded.hemodialysis, concluded.supplement
    records: dict[str, list[Any]] = {c: [] for c in SCHEDULE_COLUMNS}
    # In a titration plan the taper applies only without clear benefit at the review.
    conditional = course.review_index is not None
    dialysis_weekdays = {WEEKDAYS.index(d) for d in options.dialysis_days}
    described: dict[int, str] = {}

    def describe(mg: int) -> str:
        if mg not in described:
            described[mg] = formulary.describe(mg)
        return described[mg]

    previous = options.current_daily_mg or 0
    for i, day in enumerate(course.days):
        when = start + timedelta(days=i)
        s = day.split
        post = 0
        dialysis_day = hemodialysis and when.weekday() in dialysis_weekdays and s.daily_mg > 0
        if dialysis_day:
            post = supplement(s.daily_mg)[2]
        notes = _notes(course, concluded, i, post, dialysis_day)
        records["date"].append(when)
        records["day"].append(i + 1)
        records["phase"].append(day.phase)
        records["conditional"].append(conditional and day.phase == "taper")
        records["daily_mg"].append(s.daily_mg)
        records["change_mg"].append(s.daily_mg - previous)
        previous = s.daily_mg
        records["doses_per_day"].append(s.doses_per_day)
        records["morning_mg"].append(s.morning_mg)
        records["midday_mg"].append(s.midday_mg)
        records["bedtime_mg"].append(s.bedtime_mg)
        records["post_dialysis_mg"].append(post)
        records["max_daily_mg"].append(band.max_daily_mg)
        records["limited_by"].append("; ".join(day.limited_by))
        records["note"].append("; ".join(notes))
        records["morning_take"].append(describe(s.morning_mg))
        records["midday_take"].append(describe(s.midday_mg))
        records["bedtime_take"].append(describe(s.bedtime_mg))
        records["post_dialysis_take"].append(describe(post))
    return records


def _notes(
    course: Course, concluded: Concluded, i: int, post: int, dialysis_day: bool
) -> list[str]:
    """Day ``i``'s notes: start, target, review, taper, stop, the dialysis supplement."""
    words = course.context
    reached_index, review_index = course.reached_index, course.review_index
    taper_index = concluded.taper_index
    notes = []
    if i == 0 and course.options.current_daily_mg is not None:
        notes.append(f"current dose {words['current_regimen']}; {words['day1_change']}")
    elif i == 0:
        notes.append("start")
    if reached_index is not None and i == reached_index:
        notes.append("target dose reached")
    if i == review_index:
        notes.append("efficacy review")
    if i == taper_index and review_index is not None:
        notes.append("taper begins (only if no clear benefit at review)")
    elif i == taper_index:
        notes.append("taper begins")
    if i == concluded.stop_index:
        notes.append("stopped: no gabapentin from this day")
    if post:
        notes.append("post-dialysis supplement after each 4-hour session")
    elif dialysis_day:
        notes.append(
            "dialysis day: the label's post-dialysis supplement rounds to 0 mg with the "
            "allowed forms (see the flags)"
        )
    return notes


def _steps(
    days: Sequence[Day], records: Mapping[str, list[Any]], hemodialysis: bool
) -> pd.DataFrame:
    """One row per run of days with the same regimen and phase (from the schedule's lists)."""
    rows: list[dict[str, Any]] = []
    start_i = 0
    for i in range(1, len(days) + 1):
        if i < len(days) and (
            days[i] is days[i - 1]
            or (days[i].split, days[i].phase) == (days[start_i].split, days[start_i].phase)
        ):
            continue
        day = days[start_i]
        post = records["post_dialysis_mg"][start_i:i]
        post_mg = max(post) if hemodialysis else 0
        post_take = records["post_dialysis_take"][start_i + post.index(post_mg)] if post_mg else ""
        limited = "; ".join(
            dict.fromkeys(
                part
                for text in records["limited_by"][start_i:i]
                if text
                for part in text.split("; ")
            )
        )
        rows.append(
            {
                "step": len(rows) + 1,
                "phase": day.phase,
                "conditional": records["conditional"][start_i],
                "start_date": records["date"][start_i],
                "end_date": records["date"][i - 1],
                "days": i - start_i,
                "daily_mg": day.split.daily_mg,
                "change_mg": records["change_mg"][start_i],
                "doses_per_day": day.split.doses_per_day,
                "frequency": frequency_text(day.split.doses_per_day)
                if day.split.daily_mg
                else "stop",
                "morning_mg": day.split.morning_mg,
                "midday_mg": day.split.midday_mg,
                "bedtime_mg": day.split.bedtime_mg,
                "morning_take": records["morning_take"][start_i],
                "midday_take": records["midday_take"][start_i],
                "bedtime_take": records["bedtime_take"][start_i],
                "post_dialysis_mg": post_mg,
                "post_dialysis_take": post_take,
                "max_daily_mg": records["max_daily_mg"][start_i],
                "limited_by": limited,
                "reason": day.reason,
                "source_id": day.source_id,
            }
        )
        start_i = i
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in STEP_COLUMNS}
    for name in ("start_date", "end_date"):
        columns[name] = pd.to_datetime(columns[name])
    columns["conditional"] = np.asarray(columns["conditional"], dtype=bool)
    for name in (*_INT_COLUMNS[1:], "step", "days"):
        if name in columns:
            columns[name] = np.asarray(columns[name], dtype=np.int64)
    steps = pd.DataFrame(columns, columns=list(STEP_COLUMNS))
    return steps
