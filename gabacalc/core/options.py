"""The options of a plan: checked, with the defaults of ``tables/defaults.csv`` filled in.

:func:`resolve_options` is the one place an option is checked; every entry point (a plan, a
taper, a cohort row) goes through it, so a bad option is refused with the same words
everywhere.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from gabacalc.core.doses import Formulary
from gabacalc.core.patient import Patient, check_in_limits, check_number, in_limits
from gabacalc.core.renal import WEIGHT_BASES
from gabacalc.core.wording import fmt_as_given, fmt_number
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules

__all__ = [
    "OPTION_DOCS",
    "WEEKDAYS",
    "PlanOptions",
    "dialysis_weekdays",
    "document_options",
    "resolve_options",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: The numpydoc entry of each option, written once: :func:`document_options` puts them into
#: the docstrings of the entry points that take them (build_plan, build_taper).
OPTION_DOCS: dict[str, str] = {
    "weight_basis": """\
weight_basis : {"auto", "actual", "ideal", "adjusted"}, optional
    Weight for Cockcroft-Gault (default ``auto``).""",
    "start_daily_mg": """\
start_daily_mg : int, optional
    First day's dose [mg/day], 100-300 (default 300).""",
    "target_daily_mg": """\
target_daily_mg : int, optional
    Dose to titrate to [mg/day], 300-3,600 (default 1,800); clamped to the band.""",
    "titration": """\
titration : {"label-phn", "weekly", "gentle"}, optional
    Titration preset from ``tables/titration_presets.csv`` (default ``weekly``).""",
    "taper": """\
taper : {"weekly", "gradual"}, optional
    Taper preset from ``tables/taper_presets.csv`` (default ``weekly``).""",
    "review_weeks": """\
review_weeks : int, optional
    Efficacy review after 4-6 weeks (default 6), and at least 14 days at target.""",
    "start_date": """\
start_date : datetime.date, optional
    Day 1 (default today).""",
    "strengths_mg": """\
strengths_mg : sequence of int, optional
    Capsule/tablet strengths allowed [mg] (default 100, 300, 400, 600, 800).""",
    "oral_solution": """\
oral_solution : bool
    Allow the 50 mg/mL oral solution, measured in 0.5 mL steps (default False).""",
    "dialysis_days": """\
dialysis_days : sequence of str, optional
    Hemodialysis weekdays (default mon, wed, fri).""",
    "current_daily_mg": """\
current_daily_mg : int, optional
    Re-plan from a dose the patient already takes [mg/day] (e.g. after renal function
    changed). Above the band maximum it is lowered at once to the band maximum
    (gabapentin accumulates); above the target it comes down by the taper preset's
    steps, each held at least 7 days; below the target, titration goes on from it.
    The current dose and what changes on day 1 are flagged (``CURRENT_DOSE``).""",
    "current_doses_per_day": """\
current_doses_per_day : int, optional
    How many administrations a day the current dose is taken in (1-3); a reduction
    never uses more.""",
    "max_products": """\
max_products : int, optional
    Keep the plan to at most this many products (strength and form): among the allowed
    products, the set that reaches the highest target, then starts nearest the requested
    start, then needs the fewest units (within a set, ``tables/preferred_combinations.csv``
    names the combinations preferred, e.g. 700 mg as 400 mg and 300 mg).""",
    "rules": """\
rules : Rules, optional
    Rule tables (default the shipped ones).""",
}

_F = TypeVar("_F", bound=Callable[..., Any])


def document_options(*names: str) -> Callable[[_F], _F]:
    """Put the :data:`OPTION_DOCS` entries of ``names``, in that order, where the decorated
    function's docstring has a line ``{options}`` (as pandas' ``doc`` decorator shares
    parameter text): each option is described once, and ``help()`` shows it in full.

    Examples
    --------
    >>> @document_options("start_date")
    ... def f(start_date=None):
    ...     '''Do it.
    ...
    ...     Parameters
    ...     ----------
    ...     {options}
    ...     '''
    >>> print(f.__doc__.splitlines()[4])
        start_date : datetime.date, optional
    """

    def apply(function: _F) -> _F:
        doc = function.__doc__
        if doc is None:  # python -OO strips docstrings
            return function
        marker = "    {options}\n"
        if marker not in doc:
            raise ValueError(f"{function.__name__}'s docstring has no line {{options}}")
        entries = "\n".join(OPTION_DOCS[name] for name in names)
        function.__doc__ = doc.replace(marker, textwrap.indent(entries, "    ") + "\n")
        return function

    return apply


@dataclass(frozen=True)
class PlanOptions:
    """The options a plan was built with, after defaults were applied and checked.

    ``requested_*`` keep what the caller asked for; the plan records both.
    """

    weight_basis: str
    start_daily_mg: int
    target_daily_mg: int
    titration: str
    taper: str
    review_weeks: int
    start_date: date
    strengths_mg: tuple[int, ...]
    oral_solution: bool
    dialysis_days: tuple[str, ...]
    current_daily_mg: int | None = None
    current_doses_per_day: int | None = None
    chosen: tuple[str, ...] = ()
    max_products: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The options as asked for, as plain data (dates as ISO strings).

        Options left to their defaults are None, so that re-building from this record
        applies the same defaults (including the start-low rule) again.
        """

        def asked(name: str) -> Any:
            return getattr(self, name) if name in self.chosen else None

        return {
            "weight_basis": self.weight_basis,
            "start_daily_mg": asked("start_daily_mg"),
            "target_daily_mg": asked("target_daily_mg"),
            "titration": asked("titration"),
            "taper": asked("taper"),
            "review_weeks": self.review_weeks,
            "start_date": self.start_date.isoformat(),
            "strengths_mg": list(self.strengths_mg),
            "oral_solution": self.oral_solution,
            "dialysis_days": list(self.dialysis_days),
            "current_daily_mg": self.current_daily_mg,
            "current_doses_per_day": self.current_doses_per_day,
            "max_products": self.max_products,
        }


def resolve_options(
    patient: Patient,
    rules: Rules,
    *,
    weight_basis: str | None = None,
    start_daily_mg: float | None = None,
    target_daily_mg: float | None = None,
    titration: str | None = None,
    taper: str | None = None,
    review_weeks: float | None = None,
    start_date: date | None = None,
    strengths_mg: Iterable[int] | None = None,
    oral_solution: bool = False,
    dialysis_days: Iterable[str] | str | None = None,
    current_daily_mg: float | None = None,
    current_doses_per_day: int | None = None,
    max_products: int | None = None,
) -> PlanOptions:
    """Check every option and fill the defaults from ``tables/defaults.csv``.

    Raises
    ------
    InputError
        An option outside its range or not among its choices, with the allowed values, or
        of the wrong type (a patient that is not a Patient, a text where a list is due).
    """
    if not isinstance(patient, Patient):
        raise InputError(
            f"patient {value_text(patient)} is not a gabacalc Patient; build one with "
            "Patient(age_years=..., sex=..., weight_kg=..., scr=... or crcl_ml_min=...)",
            field="patient",
        )
    d = rules.defaults
    chosen = tuple(
        name
        for name, value in (
            ("start_daily_mg", start_daily_mg),
            ("target_daily_mg", target_daily_mg),
            ("titration", titration),
            ("taper", taper),
        )
        if value is not None
    )
    basis = weight_basis if weight_basis is not None else d["weight_basis"]
    if not isinstance(basis, str) or basis not in WEIGHT_BASES:
        raise InputError(
            f"weight basis {value_text(basis)} is not one of: {', '.join(WEIGHT_BASES)}",
            field="weight_basis",
        )
    start = _dose_in_limits(start_daily_mg, d["start_daily_mg"], "start_daily_mg", rules)
    target = _dose_in_limits(target_daily_mg, d["target_daily_mg"], "target_daily_mg", rules)
    titration_name = _preset(titration, d["titration"], rules.titration_presets, "titration")
    taper_name = _preset(taper, d["taper"], rules.taper_presets, "taper")
    weeks = _review_weeks(review_weeks, rules)
    when = _start_date(start_date if start_date is not None else date.today(), rules)
    solution = _oral_solution(oral_solution)
    formulary = Formulary.from_options(rules, _strengths(strengths_mg), solution)
    days = _dialysis_days_for(patient, dialysis_days, rules)
    current = None
    if current_daily_mg is not None:
        current = _whole_mg(
            check_in_limits(current_daily_mg, "current_daily_mg", rules), "current_daily_mg"
        )
    return PlanOptions(
        weight_basis=basis,
        start_daily_mg=start,
        target_daily_mg=target,
        titration=titration_name,
        taper=taper_name,
        review_weeks=weeks,
        start_date=when,
        strengths_mg=formulary.solid_mg,
        oral_solution=solution,
        dialysis_days=days,
        current_daily_mg=current,
        current_doses_per_day=_doses_per_day(current_doses_per_day, rules),
        chosen=chosen,
        max_products=_max_products(max_products),
    )


def _oral_solution(value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InputError(
            f"oral_solution {value_text(value)} is not True or False", field="oral_solution"
        )
    return bool(value)


def _dialysis_days_for(
    patient: Patient, value: Iterable[str] | str | None, rules: Rules
) -> tuple[str, ...]:
    """The dialysis days, refused when given for a patient not on hemodialysis."""
    days = dialysis_weekdays(value, rules)
    if value is not None and patient.dialysis != "hemodialysis":
        raise InputError(
            f"dialysis days are given but dialysis is {patient.dialysis}; the days set the "
            "post-hemodialysis supplement: give dialysis hemodialysis (--dialysis "
            "hemodialysis), or leave the dialysis days out",
            field="dialysis_days",
        )
    return days


def _dose_in_limits(value: float | None, default: str, field_name: str, rules: Rules) -> int:
    """A daily dose option (or its default) within ``tables/input_limits.csv``, in whole mg."""
    given = value if value is not None else default
    return _whole_mg(check_in_limits(given, field_name, rules), field_name)


def _preset(value: str | None, default: str, presets: Mapping[str, Any], kind: str) -> str:
    """A titration or taper preset's name (or the default one), among the table's presets."""
    name = value if value is not None else default
    if not isinstance(name, str) or name not in presets:
        raise InputError(
            f"{kind} preset {value_text(name)} is not one of: {', '.join(presets)}",
            field=kind,
        )
    return name


def _review_weeks(value: float | None, rules: Rules) -> int:
    weeks_value = value if value is not None else rules.review["default_review_weeks"]
    weeks = check_in_limits(weeks_value, "review_weeks", rules)
    if weeks != int(weeks):
        raise InputError(
            f"review after {fmt_as_given(weeks)} weeks is not a whole number of weeks (4-6)",
            field="review_weeks",
        )
    return int(weeks)


def _doses_per_day(value: int | None, rules: Rules) -> int | None:
    """The administrations a day a current dose is taken in (``current_doses_per_day`` in
    ``tables/input_limits.csv``: once to three times daily), or None."""
    if value is None:
        return None
    count = check_number(value, "current_doses_per_day", "doses per day")
    row = rules.limits["current_doses_per_day"]
    if not (in_limits(count, row) and count == int(count)):
        low, high = int(float(row["min"])), int(float(row["max"]))
        raise InputError(
            f"doses per day {fmt_as_given(count)} is outside {low}-{high} (once, twice or "
            "three times daily)",
            field="current_doses_per_day",
        )
    return int(count)


def _max_products(value: int | None) -> int | None:
    """The most products (strength and form) a plan may use, or None for no limit."""
    if value is None:
        return None
    number = check_number(value, "max_products", "products")
    if number != int(number) or number < 1:
        raise InputError(
            f"at most {fmt_number(number, 2)} products is not a whole number of 1 or more; "
            "give e.g. --max-products 2",
            field="max_products",
        )
    return int(number)


def _start_date(value: Any, rules: Rules) -> date:
    """Day 1 as a date inside the plausible window of ``tables/clinical_thresholds.csv``."""
    if value is pd.NaT:  # NaT passes for a datetime, but it is no date
        raise InputError(
            f"start date {value_text(value)} is not a date (YYYY-MM-DD)", field="start_date"
        )
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise InputError(
            f"start date {value_text(value)} is not a date (YYYY-MM-DD)", field="start_date"
        )
    earliest, latest = rules.start_date_window
    if not earliest <= value <= latest:
        raise InputError(
            f"start date {value.isoformat()} is outside {earliest.isoformat()} to "
            f"{latest.isoformat()} (gabacalc's window of plausible start dates); "
            "check the year",
            field="start_date",
        )
    return date(value.year, value.month, value.day)  # a plain date, not a subclass


def _strengths(value: Any) -> tuple[int, ...] | None:
    """The allowed strengths as whole mg, or None for the default ones."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(
            f"strengths_mg {value_text(value)} is not a list of strengths in mg; give e.g. "
            "[100, 300, 400]",
            field="strengths_mg",
        )
    strengths = []
    for item in value:
        mg = check_number(item, "strengths_mg", "strength")
        if mg != int(mg):
            raise InputError(
                f"strength {fmt_number(mg, 2)} mg is not a whole number of mg; give e.g. "
                "[100, 300, 400]",
                field="strengths_mg",
            )
        strengths.append(int(mg))
    return tuple(strengths)


def _whole_mg(value: float, field_name: str) -> int:
    if value != int(value):
        raise InputError(
            f"{field_name.replace('_', ' ')} {fmt_as_given(value)} mg is not a whole number of mg",
            field=field_name,
        )
    return int(value)


#: The spellings of each weekday accepted for dialysis days: the name and its standard
#: abbreviations (any case). Anything else is refused, so "monkey" is never read as Monday.
_DAY_SPELLINGS = {
    spelling: day
    for day, spellings in (
        ("mon", ("mon", "monday")),
        ("tue", ("tue", "tues", "tuesday")),
        ("wed", ("wed", "weds", "wednesday")),
        ("thu", ("thu", "thur", "thurs", "thursday")),
        ("fri", ("fri", "friday")),
        ("sat", ("sat", "saturday")),
        ("sun", ("sun", "sunday")),
    )
    for spelling in spellings
}


def dialysis_weekdays(value: Iterable[str] | str | None, rules: Rules) -> tuple[str, ...]:
    """The hemodialysis weekdays (default ``tables/defaults.csv``'s), in week order."""
    if value is None:
        value = rules.defaults["dialysis_days"].split(";")
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    elif isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(
            f"dialysis days {value_text(value)} is not a list of weekdays; use e.g. mon,wed,fri",
            field="dialysis_days",
        )
    days = []
    for item in value:
        if isinstance(item, str) and not item.strip():
            continue  # "mon;wed;fri;": an empty item between separators, as in the other lists
        name = _DAY_SPELLINGS.get(str(item).strip().lower().rstrip("."))
        if name is None:
            raise InputError(
                f"dialysis day {value_text(item)} is not a weekday; give day names or their "
                "abbreviations, e.g. mon,wed,fri or Monday,Wednesday,Friday",
                field="dialysis_days",
            )
        if name not in days:
            days.append(name)
    if not days:
        raise InputError("no dialysis days given; use e.g. mon,wed,fri", field="dialysis_days")
    return tuple(sorted(days, key=WEEKDAYS.index))
