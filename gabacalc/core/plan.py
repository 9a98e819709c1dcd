"""Build a gabapentin titration, maintenance, review and taper plan.

The engine turns a patient and options into a day-by-day schedule. Everything clinical it
uses comes from the rule tables; this module only applies them:

1. estimate CrCl and pick the band (``renal``);
2. clamp the start and the target to the band maximum and to what the allowed strengths
   can make;
3. climb from the start toward the target with the titration preset, never more than the
   daily rise limit and never faster than the EU SPC speed limits;
4. hold the target until the review date (the later of start + review weeks and 14 days at
   target);
5. then the taper that applies if there is no clear benefit: steps never go up, each lasts
   at least 7 days, and it reaches 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gabacalc._version import __version__
from gabacalc.core.doses import Formulary, Split, doses_for
from gabacalc.core.patient import (
    PATIENT_FIELDS,
    Patient,
    check_in_limits,
    check_number,
    checked_rules,
    older_adult,
)
from gabacalc.core.renal import WEIGHT_BASES, BandChoice, RenalEstimate, estimate_crcl, select_band
from gabacalc.core.startlow import start_low_reasons
from gabacalc.core.taper import NoGradualStep, TaperStep, cut_range, descend
from gabacalc.core.wording import (
    VERIFICATION_TEXT,
    fmt_as_given,
    fmt_beside_edges,
    fmt_mg,
    fmt_number,
    frequency_text,
)
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules, TaperPreset, TitrationPreset
from gabacalc.rules.flags import in_severity_order

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "WEEKDAYS",
    "Plan",
    "PlanOptions",
    "build_plan",
    "build_taper",
    "products_used",
    "rebuild_plan",
    "resolve_options",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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

LIMIT_RENAL = "renal band"
LIMIT_TARGET = "requested target"
LIMIT_STRENGTHS = "allowed strengths"
LIMIT_SPEED = "titration speed limit"
LIMIT_LABEL = "label maximum"


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


@dataclass(frozen=True)
class Plan:
    """A complete illustrative plan. Requires physician verification.

    Attributes
    ----------
    patient : Patient
    options : PlanOptions
    estimate : RenalEstimate
    band : BandChoice
    summary : dict
        JSON-serialisable key figures (see :func:`build_plan`).
    schedule : pandas.DataFrame
        One row per calendar day.
    steps : pandas.DataFrame
        One row per regimen change.
    """

    patient: Patient
    options: PlanOptions
    estimate: RenalEstimate
    band: BandChoice
    summary: dict[str, Any]
    schedule: pd.DataFrame = field(repr=False)
    steps: pd.DataFrame = field(repr=False)
    formulary: Formulary | None = field(default=None, repr=False, compare=False)
    #: The rule tables the plan was built from: renderers word the plan from these, so that
    #: a plan built from local tables is printed with their wording, not the shipped tables'.
    rules: Rules | None = field(default=None, repr=False, compare=False)

    @property
    def flags(self) -> list[dict[str, str]]:
        """The flags raised for this plan (code, severity, message, action, source_id)."""
        return list(self.summary["flags"])

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw the plan (daily dose against date) on ``ax`` and return the Axes.

        Never saves or shows a figure by itself. Needs matplotlib.
        """
        from gabacalc.render.chart import plot_plan

        return plot_plan(self, ax=ax)

    # The conversions below call the edge writers; like ``plot`` they import them when
    # called (a declared exception to "core imports no edge"), so the core stays light.

    def to_frame(self) -> pd.DataFrame:
        """The day-by-day schedule as a new DataFrame (the CSV's table), stamped in ``attrs``.

        Examples
        --------
        >>> from datetime import date
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> frame = plan.to_frame()
        >>> int(frame["daily_mg"].iloc[0]), frame.attrs["verification"]
        (300, 'Illustrative plan - requires physician verification')
        """
        frame = self.schedule.copy()
        frame.attrs = dict(self.schedule.attrs)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The JSON record as plain data: verification, versions, summary and steps.

        The same record ``gabacalc plan --json`` writes; :func:`rebuild_plan` takes it back.

        Examples
        --------
        >>> from datetime import date
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> record = plan.to_dict()
        >>> record["verification"], record["summary"]["max_daily_mg"]
        ('Illustrative plan - requires physician verification', 3600)
        >>> rebuild_plan(record).summary == plan.summary
        True
        """
        from gabacalc.render.records import plan_record

        return plan_record(self)

    def to_json(self) -> str:
        """The JSON record as text, byte for byte what ``gabacalc plan --json`` writes.

        Examples
        --------
        >>> import json
        >>> from datetime import date
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> json.loads(plan.to_json())["summary"]["band"]
        'CrCl >= 60 mL/min'
        """
        from gabacalc.render.records import json_text

        return json_text(self)

    def to_pdf(self, path: str | Path, pagesize: str = "letter") -> Path:
        """Write the plan's PDF to ``path`` (whole or not at all) and return the path.

        Parameters
        ----------
        path : str or pathlib.Path
        pagesize : {"letter", "a4"}

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from datetime import date
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> out = plan.to_pdf(pathlib.Path(tempfile.mkdtemp()) / "plan.pdf")
        >>> out.read_bytes()[:5]
        b'%PDF-'
        """
        from gabacalc.files.plan_files import write_pdf

        return write_pdf(self, path, pagesize=pagesize)

    def to_png(self, path: str | Path) -> Path:
        """Write the plan's chart as a PNG to ``path`` (whole or not at all); return the path.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from datetime import date
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> out = plan.to_png(pathlib.Path(tempfile.mkdtemp()) / "plan.png")
        >>> out.read_bytes()[:4]
        b'\\x89PNG'
        """
        from gabacalc.files.plan_files import write_png

        return write_png(self, path)

    def _repr_html_(self) -> str:
        """The plan as HTML for Jupyter (see :func:`gabacalc.render.display.plan_html`)."""
        from gabacalc.render.display import plan_html

        return plan_html(self)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Plan {s['band_words']}: {fmt_mg(s['start_daily_mg'])}/day to "
            f"{fmt_mg(s['target_daily_mg'])}/day by {s['target_reached_date']}, "
            f"review {s['review_date']}; {VERIFICATION_TEXT}>"
        )


# ---------------------------------------------------------------------------- options


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
            f"weight basis {basis!r} is not one of: {', '.join(WEIGHT_BASES)}",
            field="weight_basis",
        )
    start = _whole_mg(
        check_in_limits(
            start_daily_mg if start_daily_mg is not None else d["start_daily_mg"],
            "start_daily_mg",
            rules,
        ),
        "start_daily_mg",
    )
    target = _whole_mg(
        check_in_limits(
            target_daily_mg if target_daily_mg is not None else d["target_daily_mg"],
            "target_daily_mg",
            rules,
        ),
        "target_daily_mg",
    )
    titration_name = titration if titration is not None else d["titration"]
    if not isinstance(titration_name, str) or titration_name not in rules.titration_presets:
        raise InputError(
            f"titration preset {titration_name!r} is not one of: "
            f"{', '.join(rules.titration_presets)}",
            field="titration",
        )
    taper_name = taper if taper is not None else d["taper"]
    if not isinstance(taper_name, str) or taper_name not in rules.taper_presets:
        raise InputError(
            f"taper preset {taper_name!r} is not one of: {', '.join(rules.taper_presets)}",
            field="taper",
        )
    weeks_value = review_weeks if review_weeks is not None else rules.review["default_review_weeks"]
    weeks = check_in_limits(weeks_value, "review_weeks", rules)
    if weeks != int(weeks):
        raise InputError(
            f"review after {fmt_as_given(weeks)} weeks is not a whole number of weeks (4-6)",
            field="review_weeks",
        )
    when = _start_date(start_date if start_date is not None else date.today(), rules)
    if not isinstance(oral_solution, bool | np.bool_):
        raise InputError(
            f"oral_solution {value_text(oral_solution)} is not True or False", field="oral_solution"
        )
    formulary = Formulary.from_options(rules, _strengths(strengths_mg), bool(oral_solution))
    days = _dialysis_days(dialysis_days, rules)
    if dialysis_days is not None and patient.dialysis != "hemodialysis":
        raise InputError(
            f"dialysis days are given but dialysis is {patient.dialysis}; the days set the "
            "post-hemodialysis supplement: give dialysis hemodialysis (--dialysis "
            "hemodialysis), or leave the dialysis days out",
            field="dialysis_days",
        )
    current = None
    if current_daily_mg is not None:
        current = _whole_mg(
            check_in_limits(current_daily_mg, "current_daily_mg", rules), "current_daily_mg"
        )
    current_count = None
    if current_doses_per_day is not None:
        count = check_number(current_doses_per_day, "current_doses_per_day", "doses per day")
        if count not in (1, 2, 3):
            raise InputError(
                f"doses per day {fmt_as_given(count)} is outside 1-3 (once, twice or "
                "three times daily)",
                field="current_doses_per_day",
            )
        current_count = int(count)
    most = None
    if max_products is not None:
        number = check_number(max_products, "max_products", "products")
        if number != int(number) or number < 1:
            raise InputError(
                f"at most {fmt_number(number, 2)} products is not a whole number of 1 or more; "
                "give e.g. --max-products 2",
                field="max_products",
            )
        most = int(number)
    return PlanOptions(
        weight_basis=basis,
        start_daily_mg=start,
        target_daily_mg=target,
        titration=titration_name,
        taper=taper_name,
        review_weeks=int(weeks),
        start_date=when,
        strengths_mg=formulary.solid_mg,
        oral_solution=bool(oral_solution),
        dialysis_days=days,
        current_daily_mg=current,
        current_doses_per_day=current_count,
        chosen=chosen,
        max_products=most,
    )


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


def _dialysis_days(value: Iterable[str] | str | None, rules: Rules) -> tuple[str, ...]:
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


# ------------------------------------------------------------------------------ engine


@dataclass(frozen=True)
class _Day:
    split: Split
    phase: str
    limited_by: tuple[str, ...] = ()
    reason: str = ""
    source_id: str = ""


class _Engine:
    """One plan's working state: the band, the allowed forms, and the rules."""

    def __init__(self, rules: Rules, band: BandChoice, formulary: Formulary) -> None:
        self.rules = rules
        self.band = band
        self.formulary = formulary
        self.admin_size = rules.administration_size_mg
        self.fewer_doses_words: list[str] = []

    def floor(self, cap_mg: float) -> Split | None:
        return self.formulary.floor_daily(cap_mg, self.band.doses_per_day, self.admin_size)

    def split_as_taken(self, daily_mg: int, max_count: int) -> Split | None:
        """A dose exactly as it is, in the fewest administrations' loss: the count the dose
        calls for (at most ``max_count``), else fewer (400 mg once daily from 400 mg
        capsules), so that a current dose the strengths can make is never changed."""
        usual = doses_for(daily_mg, max_count, self.admin_size)
        for count in range(usual, 0, -1):
            found = self.formulary.split(daily_mg, count)
            if found is not None:
                return found
        return None

    def split(self, daily_mg: int, max_count: int | None = None) -> Split | None:
        count = self.band.doses_per_day if max_count is None else max_count
        return self.formulary.split_for_daily(daily_mg, count, self.admin_size)

    def impossible(self, what: str, cap_mg: float) -> InputError:
        """The refusal for a dose the allowed forms cannot make, with what would help."""
        smallest = self._smallest_measurable()
        if cap_mg < smallest:
            advice = str(self.rules.texts["hint_below_measurable"])
            hint = (
                f"{fmt_mg(cap_mg)}/day is below the smallest dose any gabapentin form "
                f"measures ({fmt_mg(smallest)}): {advice[0].lower()}{advice[1:]}"
            )
        else:
            hint = self.strengths_hint(cap_mg)
        return InputError(
            f"{what}: the allowed forms ({self.formulary.forms_text() or 'none'}) cannot make "
            f"any dose of at most {fmt_mg(cap_mg)}/day split as the plan takes it (one "
            f"administration per {fmt_mg(self.admin_size)}/day, up to "
            f"{self.band.doses_per_day} a day; this band's maximum is "
            f"{fmt_mg(self.band.max_daily_mg)}/day, {self.band.words}); {hint}",
            field="strengths_mg",
        )

    def strengths_hint(self, cap_mg: float) -> str:
        """What to allow so that a dose up to ``cap_mg`` can be made (only what is missing)."""
        missing = [
            s
            for s in self.rules.strengths
            if not s.is_solution and s.strength_mg not in self.formulary.solid_mg
        ]
        small = [s for s in missing if s.strength_mg <= cap_mg]
        words = [f"{_strength_words(small)} (strengths_mg / --strengths)"] if small else []
        if self.formulary.solution is None:
            words.append(
                f"the oral solution (oral_solution / --oral-solution), which measures "
                f"{fmt_mg(self._solution_step())} steps"
            )
        if not words:
            return "no other labelled form can make it: consider a lower dose"
        return f"allow {' or '.join(words)}"

    def _smallest_measurable(self) -> float:
        solids = [s.strength_mg for s in self.rules.strengths if not s.is_solution]
        return min([*solids, self._solution_step()])

    def _solution_step(self) -> float:
        solution = next(s for s in self.rules.strengths if s.is_solution)
        assert solution.volume_ml is not None and solution.measure_step_ml is not None
        return solution.strength_mg / solution.volume_ml * solution.measure_step_ml

    # ------------------------------------------------------------------ coming down
    def descend(
        self, daily_mg: int, max_doses: int, preset: TaperPreset, floor_mg: int = 0
    ) -> list[TaperStep]:
        """The preset's steps down to ``floor_mg``, or the refusal naming what would help."""
        try:
            return descend(self.formulary, daily_mg, max_doses, self.admin_size, preset, floor_mg)
        except NoGradualStep as stuck:
            raise self.no_gradual_step(stuck, max_doses, preset) from None

    def no_gradual_step(
        self, stuck: NoGradualStep, max_doses: int, preset: TaperPreset
    ) -> InputError:
        """Refuse a reduction the allowed strengths cannot make gradually, naming the fix."""
        mg, floor_mg = stuck.daily_mg, stuck.floor_mg
        lowest, _, _ = cut_range(mg, preset)
        if preset.kind == "fixed":
            cut = f"{fmt_mg(mg - max(lowest, 0))}/day"
        else:
            assert preset.max_cut_fraction is not None
            cut = f"{_fraction_words(preset.max_cut_fraction)} of the dose"
        solids: list[Any] = []
        solution = ""
        for strength in self.rules.strengths:
            if strength.is_solution:
                if self.formulary.solution is not None:
                    continue
                trial = replace(self.formulary, solution=strength)
            else:
                if strength.strength_mg in self.formulary.solid_mg:
                    continue
                added = tuple(sorted((*self.formulary.solid_mg, strength.strength_mg)))
                forms = tuple(
                    sorted(
                        (*self.formulary.solid_forms, (strength.strength_mg, strength.unit_name))
                    )
                )
                trial = replace(self.formulary, solid_mg=added, solid_forms=forms)
            try:
                descend(trial, mg, max_doses, self.admin_size, preset, floor_mg)
            except NoGradualStep:
                continue
            if strength.is_solution:
                solution = "the oral solution (oral_solution / --oral-solution)"
            else:
                solids.append(strength)
        helps = [f"{_strength_words(solids)} (strengths_mg / --strengths)"] if solids else []
        helps += [solution] if solution else []
        others = []
        for other in self.rules.taper_presets.values():
            if other.preset == preset.preset:
                continue
            try:
                descend(self.formulary, mg, max_doses, self.admin_size, other, floor_mg)
            except NoGradualStep:
                continue
            others.append(other.preset)
        fix = f"allow {' or '.join(helps)}" if helps else "allow more strengths"
        fix += f" to taper below {fmt_mg(mg)}/day"
        if others:
            fix += f", or use the {_or_words(others)} taper (taper / --taper)"
        where = f" toward {fmt_mg(floor_mg)}/day" if floor_mg else ""
        stop = (
            ""
            if floor_mg
            else f", and a taper stops only from {fmt_mg(preset.stop_from_max_mg)}/day or less"
        )
        return InputError(
            f"the {preset.preset} taper cannot come down from {fmt_mg(mg)}/day{where} with "
            f"the allowed forms ({self.formulary.forms_text() or 'none'}): no step down of at "
            f"most {cut} can be made from them{stop}; {fix}",
            field="strengths_mg",
        )


def _or_words(items: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _strength_words(strengths: Sequence[Any]) -> str:
    """E.g. ``"100 mg capsules"`` or ``"100 mg or 300 mg capsules or 600 mg tablets"``."""
    by_unit: dict[str, list[int]] = {}
    for s in strengths:
        by_unit.setdefault(s.unit_name, []).append(s.strength_mg)
    return _or_words(
        [f"{_or_words([fmt_mg(m) for m in mgs])} {unit}s" for unit, mgs in by_unit.items()]
    )


def _fraction_words(value: Any) -> str:
    names = {2: "a half", 3: "a third", 4: "a quarter", 5: "a fifth"}
    if value.numerator == 1 and value.denominator in names:
        return names[value.denominator]
    return f"{fmt_number(float(value) * 100)}%"


def build_plan(
    patient: Patient,
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
    rules: Rules | None = None,
) -> Plan:
    """Build an illustrative titration plan clamped to the patient's renal band.

    Parameters
    ----------
    patient : Patient
    weight_basis : {"auto", "actual", "ideal", "adjusted"}, optional
        Weight for Cockcroft-Gault (default ``auto``).
    start_daily_mg : int, optional
        First day's dose [mg/day], 100-300 (default 300).
    target_daily_mg : int, optional
        Dose to titrate to [mg/day], 300-3,600 (default 1,800); clamped to the band.
    titration : {"label-phn", "weekly", "gentle"}, optional
        Titration preset from ``tables/titration_presets.csv`` (default ``weekly``).
    taper : {"weekly", "gradual"}, optional
        Taper preset from ``tables/taper_presets.csv`` (default ``weekly``).
    review_weeks : int, optional
        Efficacy review after 4-6 weeks (default 6), and at least 14 days at target.
    start_date : datetime.date, optional
        Day 1 (default today).
    strengths_mg : sequence of int, optional
        Capsule/tablet strengths allowed [mg] (default 100, 300, 400, 600, 800).
    oral_solution : bool
        Allow the 50 mg/mL oral solution, measured in 0.5 mL steps (default False).
    dialysis_days : sequence of str, optional
        Hemodialysis weekdays (default mon, wed, fri).
    current_daily_mg : int, optional
        Re-plan from a dose the patient already takes [mg/day] (e.g. after renal function
        changed). Above the band maximum it is lowered at once to the band maximum
        (gabapentin accumulates); above the target it comes down by the taper preset's
        steps, each held at least 7 days; below the target, titration goes on from it.
        The current dose and what changes on day 1 are flagged (``CURRENT_DOSE``).
    current_doses_per_day : int, optional
        How many administrations a day the current dose is taken in (1-3); a reduction
        never uses more.
    max_products : int, optional
        Keep the plan to at most this many products (strength and form): among the allowed
        products, the set that reaches the highest target, then starts nearest the requested
        start, then needs the fewest units (within a set, ``tables/preferred_combinations.csv``
        names the combinations preferred, e.g. 700 mg as 400 mg and 300 mg).
    rules : Rules, optional
        Rule tables (default the shipped ones).

    Returns
    -------
    Plan
        With ``summary`` (dict), ``schedule`` (one row per day) and ``steps`` (one row per
        regimen change).

    Raises
    ------
    InputError
        Bad or contradictory input, or a plan the allowed forms cannot make (the message
        says what would make it possible).

    References
    ----------
    NEURONTIN US prescribing information, sections 2.1, 2.3 (Table 1), 2.5 and 3;
    gabapentin EU SPC 4.2; see ``tables/sources.csv``.

    Examples
    --------
    >>> from datetime import date
    >>> patient = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> plan = build_plan(patient, target_daily_mg=1800, start_date=date(2026, 1, 5))
    >>> plan.summary["band"], plan.summary["max_daily_mg"], plan.summary["target_daily_mg"]
    ('CrCl > 30 to < 60 mL/min', 1400, 1400)
    >>> plan.summary["target_reached_date"], plan.summary["review_date"]
    ('2026-02-13', '2026-02-27')
    >>> first = plan.steps.iloc[0]
    >>> int(first["daily_mg"]), first["frequency"], first["bedtime_take"]
    (100, 'once daily', '1 x 100 mg capsule')
    >>> [f["code"] for f in plan.flags][:2]  # age 72 and CrCl 32: start low by default
    ['TARGET_LIMITED_RENAL', 'START_LOW_DEFAULT']
    >>> int(plan.schedule["daily_mg"].max()) <= plan.summary["max_daily_mg"]
    True
    """
    rules = checked_rules(rules)
    if current_doses_per_day is not None and current_daily_mg is None:
        # Never a silent choice: doses a day without the dose they split would be ignored.
        raise InputError(
            "current doses per day were given without a current dose; give the current dose "
            "(current_daily_mg / --current-mg) too, or leave both out for a new start",
            field="current_daily_mg",
        )
    options = resolve_options(
        patient,
        rules,
        weight_basis=weight_basis,
        start_daily_mg=start_daily_mg,
        target_daily_mg=target_daily_mg,
        titration=titration,
        taper=taper,
        review_weeks=review_weeks,
        start_date=start_date,
        strengths_mg=strengths_mg,
        oral_solution=oral_solution,
        dialysis_days=dialysis_days,
        current_daily_mg=current_daily_mg,
        current_doses_per_day=current_doses_per_day,
        max_products=max_products,
    )
    return plan_from_options(patient, options, rules)


def apply_start_low(
    patient: Patient,
    estimate: RenalEstimate,
    options: PlanOptions,
    rules: Rules,
    *,
    rises: bool = True,
) -> tuple[PlanOptions, list[str], dict[str, str]]:
    """Use the start-low defaults where they apply and the clinician chose nothing else.

    Returns the options to plan with, the flag codes raised, and the flags' wording.
    A start dose or preset the clinician chose is kept, and flagged if it is faster. A
    re-plan has no start: it goes slow (the titration preset only, ``GO_SLOW_*`` flags),
    and one that does not rise (``rises=False``) needs neither.
    """
    reasons = start_low_reasons(patient, estimate, rules)
    if not reasons or not rises:
        return options, [], {}
    low_start = int(rules.threshold("start_low_start_daily_mg"))
    low_titration = rules.thresholds["start_low_titration"]
    changes: dict[str, Any] = {}
    what, overridden, codes = [], [], []
    if "titration" not in options.chosen:
        changes["titration"] = low_titration
        what.append(f"the {low_titration} titration preset")
    elif options.titration != low_titration:
        overridden.append(f"the {options.titration} titration preset")
    if options.current_daily_mg is None:
        if "start_daily_mg" not in options.chosen:
            changes["start_daily_mg"] = low_start
            what.append(f"a {fmt_mg(low_start)} start")
        elif options.start_daily_mg > low_start:
            overridden.append(f"a {fmt_mg(options.start_daily_mg)} start")
    prefix = "START_LOW" if options.current_daily_mg is None else "GO_SLOW"
    if changes:
        options = replace(options, **changes)
        codes.append(f"{prefix}_DEFAULT")
    if overridden:
        codes.append(f"{prefix}_OVERRIDDEN")
    words = {
        "start_low_reasons": "; ".join(reasons),
        "start_low_what": " and ".join(what),
        "start_low_choice": " and ".join(overridden),
    }
    return options, codes, words


def context_flag_codes(patient: Patient, target_daily_mg: int | None, rules: Rules) -> list[str]:
    """Safety-context flags for this patient (``tables/flags.csv``), most are from risks.

    Examples
    --------
    >>> p = Patient(age_years=70, sex="male", weight_kg=80, crcl_ml_min=90,
    ...             risks=["opioids", "falls"], pain_type="non-radicular")
    >>> from gabacalc.rules import default_rules
    >>> context_flag_codes(p, 2400, default_rules())
    ['RESP_OPIOIDS', 'RESP_OLDER_ADULT', 'BEERS_FALLS', 'NON_RADICULAR', 'ABOVE_1800',
     'SOMNOLENCE_DRIVING']
    """
    older = older_adult(patient.age_years, rules)
    return context_codes(patient.risks, older, patient.pain_type, target_daily_mg, rules)


def context_codes(
    risk_names: Iterable[str],
    older: bool,
    pain_type: str,
    target_daily_mg: int | None,
    rules: Rules,
) -> list[str]:
    """:func:`context_flag_codes` from what it depends on (for cohort mode, without a Patient).

    ``older`` is whether the patient is at least the older-adult age of ``tables/``.
    """
    risks = set(risk_names)
    wanted = [
        ("RESP_OPIOIDS", "opioids" in risks),
        ("RESP_CNS_DEPRESSANTS", "cns-depressants" in risks),
        ("RESP_RESPIRATORY", "respiratory" in risks),
        ("RESP_OLDER_ADULT", older),
        ("BEERS_FALLS", older and "falls" in risks),
        # Gabapentin with an opioid and another CNS depressant: 3 or more CNS-active drugs.
        ("BEERS_CNS_ACTIVE", older and {"opioids", "cns-depressants"} <= risks),
        ("NON_RADICULAR", pain_type == "non-radicular"),
        (
            "ABOVE_1800",
            target_daily_mg is not None
            and target_daily_mg > rules.threshold("no_added_benefit_above_mg"),
        ),
        ("PREGNANCY", "pregnancy" in risks),
        ("MISUSE", "misuse" in risks),
        ("EPILEPSY", "epilepsy" in risks),
        ("UNSTABLE_RENAL", "unstable-renal" in risks),
        ("SOMNOLENCE_DRIVING", True),
    ]
    return [code for code, applies in wanted if applies]


@dataclass
class _Setup:
    """What every entry point works out first: the estimate, band, forms and flag wording."""

    estimate: RenalEstimate
    band: BandChoice
    formulary: Formulary
    engine: _Engine
    flag_codes: list[str]
    context: dict[str, Any]


def _prepare(patient: Patient, options: PlanOptions, rules: Rules) -> _Setup:
    estimate = estimate_crcl(patient, options.weight_basis, rules)
    band = select_band(estimate, patient.dialysis, rules)
    formulary = Formulary.from_options(rules, options.strengths_mg, options.oral_solution)
    flag_codes = [*estimate.flag_codes, *band.flag_codes]
    current = options.current_daily_mg
    if current is not None and current > int(rules.limits["target_daily_mg"]["max"]):
        flag_codes.append("CURRENT_ABOVE_LABEL_MAX")
    context: dict[str, Any] = {
        "age_years": patient.age_years,
        "max_daily_mg": band.max_daily_mg,
        "min_daily_mg": band.min_daily_mg,
        # Text, not a number: the flag prints it on the right side of every band edge.
        "crcl_ml_min": estimate.crcl_text if estimate.crcl_text is not None else "",
        "height_cm": patient.height_cm if patient.height_cm is not None else "",
        "current_daily_mg": current if current is not None else "",
        "requested_target_daily_mg": options.target_daily_mg,
        "target_kind": "requested" if "target_daily_mg" in options.chosen else "default",
        "requested_start_daily_mg": options.start_daily_mg,
        "dialysis_days": ", ".join(d.capitalize() for d in options.dialysis_days),
        "scr_text": _scr_words(patient.scr, patient.scr_unit, rules),
        "low_scr_text": _scr_words(
            rules.threshold("low_scr_older_adult_below_mg_dl"), "mg/dL", rules, threshold=True
        ),
        "implausible_crcl_above_ml_min": rules.threshold("implausible_crcl_above_ml_min"),
        "taper": options.taper,
        "taper_interval_days": rules.taper_presets[options.taper].interval_days,
        "label_max_daily_mg": int(rules.limits["target_daily_mg"]["max"]),
        "allowed_forms": formulary.forms_text(),
    }
    engine = _Engine(rules, band, formulary)
    hint = engine.strengths_hint(options.target_daily_mg)
    context["strengths_hint"] = hint[0].upper() + hint[1:] + "."
    return _Setup(estimate, band, formulary, engine, flag_codes, context)


def _scr_words(scr: float | None, unit: str, rules: Rules, *, threshold: bool = False) -> str:
    """A creatinine in both units, e.g. ``"0.5 mg/dL (44 umol/L)"``, each on its side of the
    low-creatinine threshold (0.6999 mg/dL is not written as the threshold's 0.7)."""
    if scr is None:
        return ""
    per = rules.constants["scr_umol_per_mg_dl"]
    # The threshold itself is written plainly; a patient's value keeps its side of it.
    low_mg = () if threshold else (rules.threshold("low_scr_older_adult_below_mg_dl"),)
    mg_dl = scr if unit == "mg/dL" else scr / per
    mg_text = fmt_beside_edges(mg_dl, low_mg, 2)
    umol_text = fmt_beside_edges(
        mg_dl * per, [edge * per for edge in low_mg], 0 if unit == "mg/dL" else 1
    )
    if unit == "mg/dL":
        return f"{mg_text} mg/dL ({umol_text} umol/L)"
    return f"{umol_text} umol/L ({mg_text} mg/dL)"


def _fewer_words(engine: _Engine) -> str:
    """The steps taken in fewer administrations, for ``TAPER_FEWER_DOSES``."""
    words = list(dict.fromkeys(engine.fewer_doses_words))
    if not words:
        return ""
    return f"{' and '.join(words)} {'is' if len(words) == 1 else 'are'}"


def estimate_flags(
    patient: Patient, weight_basis: str | None, rules: Rules
) -> list[dict[str, str]]:
    """The flags of the renal estimate and band alone (``gabacalc crcl``), worded as in a plan.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> p = Patient(age_years=20, sex="male", weight_kg=120, height_cm=180, scr=0.3)
    >>> [f["code"] for f in estimate_flags(p, None, default_rules())]
    ['CRCL_IMPLAUSIBLE_HIGH']
    """
    options = resolve_options(patient, rules, weight_basis=weight_basis)
    setup = _prepare(patient, options, rules)
    return _flags(rules, setup.flag_codes, setup.context)


def plan_from_options(patient: Patient, options: PlanOptions, rules: Rules) -> Plan:
    """Build the plan for already-resolved options (the shared path of every entry point)."""
    if options.max_products is not None:
        options = _fewest_products(patient, options, rules)
    return _assemble(_course(patient, options, rules))


def products_used(plan: Plan) -> list[str]:
    """The products (strength and form) a plan's schedule uses, largest strength first.

    Examples
    --------
    >>> from datetime import date
    >>> p = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    >>> products_used(build_plan(p, start_date=date(2026, 1, 5), max_products=2))
    ['gabapentin 300 mg capsule', 'gabapentin 100 mg capsule']
    """
    assert plan.formulary is not None
    return _products_in(plan.formulary, plan.schedule)


def _products_in(formulary: Formulary, schedule: pd.DataFrame) -> list[str]:
    doses: set[int] = set()
    for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"):
        doses.update(int(x) for x in schedule[column].unique() if x > 0)
    found: dict[str, int] = {}
    for mg in doses:
        for portion in formulary.portions(mg):
            found[portion.product] = portion.strength_mg + (10**6 if portion.is_solution else 0)
    return sorted(found, key=lambda name: (found[name] >= 10**6, -found[name], name))


def _fewest_products(patient: Patient, options: PlanOptions, rules: Rules) -> PlanOptions:
    """The allowed strengths narrowed to at most ``options.max_products`` products.

    Every set of at most N of the allowed products is tried; the chosen set reaches the
    highest target, then starts nearest the requested start dose, then needs the fewest
    units over the schedule, then comes first in strength order.
    """
    assert options.max_products is not None
    products: list[tuple[int, bool]] = [(mg, False) for mg in options.strengths_mg]
    if options.oral_solution:
        products.append((0, True))
    if len(products) <= options.max_products:
        return options
    best: tuple[tuple[float, ...], PlanOptions] | None = None
    for size in range(1, options.max_products + 1):
        for subset in itertools.combinations(products, size):
            solids = tuple(mg for mg, solution in subset if not solution)
            candidate = replace(
                options, strengths_mg=solids, oral_solution=any(sol for _, sol in subset)
            )
            try:
                if not solids and not candidate.oral_solution:
                    continue
                course = _course(patient, candidate, rules)
            except InputError:
                continue
            units = 0.0
            formulary = course.formulary
            for day in course.days:
                for mg in day.split.parts:
                    if mg:
                        units += sum(p.count for p in formulary.portions(mg))
            score = (
                -float(course.target),
                abs(course.days[0].split.daily_mg - options.start_daily_mg),
                units,
            )
            if best is None or score < best[0]:
                best = (score, candidate)
    if best is None:
        raise InputError(
            f"no set of at most {options.max_products} of the allowed products "
            "can make this plan; allow more products (e.g. --max-products "
            f"{options.max_products + 1})",
            field="max_products",
        )
    return best[1]


def summary_from_options(patient: Patient, options: PlanOptions, rules: Rules) -> dict[str, Any]:
    """``plan_from_options(...).summary`` without building the schedule and steps frames.

    Cohort mode needs only the summary of each distinct plan; the frames are most of a
    plan's cost. The summary is the same dict, made by the same code.
    """
    return _conclude(_course(patient, options, rules)).summary


def _course(patient: Patient, options: PlanOptions, rules: Rules) -> _Course:
    """The engine's days for a titration plan, with its flags raised so far."""
    setup = _prepare(patient, options, rules)
    estimate, band, formulary, engine = setup.estimate, setup.band, setup.formulary, setup.engine
    current = options.current_daily_mg
    rises = current is None or current < min(options.target_daily_mg, band.max_daily_mg)
    options, start_low_codes, start_low_words = apply_start_low(
        patient, estimate, options, rules, rises=rises
    )
    flag_codes = [*start_low_codes, *setup.flag_codes]
    advice = "advice_start" if current is None else "advice_rise" if rises else "advice_hold"
    context = {**setup.context, **start_low_words, "start_advice": rules.texts[advice]}

    # Target: at most the band maximum, and makeable from the allowed forms.
    target_cap = min(options.target_daily_mg, band.max_daily_mg)
    target_split = engine.floor(target_cap)
    if target_split is None:
        raise engine.impossible("cannot make a target dose", target_cap)
    target = target_split.daily_mg
    target_limits: list[str] = []
    if band.max_daily_mg < options.target_daily_mg:
        target_limits.append(LIMIT_RENAL)
        flag_codes.append("TARGET_LIMITED_RENAL")
    if target < target_cap:
        target_limits.append(LIMIT_STRENGTHS)
        flag_codes.append("TARGET_LIMITED_STRENGTHS")
    if target < band.min_daily_mg:
        flag_codes.append("TARGET_BELOW_BAND_RANGE")

    preset = rules.titration_presets[options.titration]
    days: list[_Day]
    if options.current_daily_mg is not None:
        days = _titration_from_current(
            engine, options, preset, target, tuple(target_limits) or (LIMIT_TARGET,), flag_codes
        )
    else:
        start_cap = min(options.start_daily_mg, band.max_daily_mg, target)
        start_split = engine.floor(start_cap)
        if start_split is None:
            raise engine.impossible("cannot make a start dose", start_cap)
        first_limits = []
        if start_split.daily_mg < options.start_daily_mg:
            if band.max_daily_mg < options.start_daily_mg:
                first_limits.append(LIMIT_RENAL)
                flag_codes.append("START_LIMITED")
            if target < options.start_daily_mg:
                first_limits.append(LIMIT_TARGET)
            if start_split.daily_mg < start_cap:
                first_limits.append(LIMIT_STRENGTHS)
        days = _titrate(
            engine,
            start_split,
            target,
            preset,
            tuple(first_limits),
            tuple(target_limits) or (LIMIT_TARGET,),
        )
    context.update(
        start_daily_mg=days[0].split.daily_mg,
        target_daily_mg=target,
        target_cap_mg=target_cap,
        **_current_words(options, days[0].split),
    )
    if current is not None:
        flag_codes.append("CURRENT_DOSE")

    # Maintenance at the target until the review date (titration ends there, or a
    # re-plan's reduction does).
    reached_index = next(i for i, d in enumerate(days) if d.split.daily_mg == target)
    context["target_reached_day"] = reached_index + 1
    review_index = max(options.review_weeks * 7, reached_index + rules.review["min_days_at_target"])
    maintenance = _Day(
        split=days[reached_index].split,
        phase="maintenance",
        limited_by=tuple(target_limits),
        reason="maintenance at the target dose until the efficacy review",
        source_id=rules.source_of("review_rule.csv")[0],
    )
    days = days[:reached_index] + [maintenance] * (review_index - reached_index + 1)

    # The taper that applies if there is no clear benefit at the review.
    taper = rules.taper_presets[options.taper]
    taper_days = _taper(engine, maintenance.split, taper, flag_codes)
    days = days + taper_days

    flag_codes.extend(context_flag_codes(patient, target, rules))
    context["fewer_doses_steps"] = _fewer_words(engine)
    return _Course(
        patient,
        options,
        rules,
        estimate,
        band,
        formulary,
        days,
        target,
        reached_index,
        review_index,
        flag_codes,
        context,
    )


def _titration_from_current(
    engine: _Engine,
    options: PlanOptions,
    preset: TitrationPreset,
    target: int,
    target_limits: tuple[str, ...],
    flag_codes: list[str],
) -> list[_Day]:
    """A re-plan's days from the current dose to the first day at the target.

    Above the band maximum the dose is lowered at once (it accumulates); above the target
    it comes down by the taper preset's steps; below, titration goes on from it.
    """
    assert options.current_daily_mg is not None
    current = options.current_daily_mg
    band, rules = engine.band, engine.rules
    taper = rules.taper_presets[options.taper]
    count = min(options.current_doses_per_day or band.doses_per_day, band.doses_per_day)
    if current > band.max_daily_mg:
        held = _lowered_at_once(engine, count, "reduction", taper, flag_codes)
        lowered = held[0].split
        if lowered.daily_mg > target:
            flag_codes.append("CURRENT_ABOVE_TARGET")
            return held + _reduction(
                engine, lowered.daily_mg, lowered.doses_per_day, target, taper, flag_codes
            )
        first, limits = lowered, list(held[0].limited_by)
    elif current > target:
        flag_codes.append("CURRENT_ABOVE_TARGET")
        return _reduction(engine, current, count, target, taper, flag_codes)
    else:
        found = engine.split_as_taken(current, count) or engine.floor(current)
        if found is None:
            raise engine.impossible("cannot make the current dose", current)
        first, limits = found, []
        if found.daily_mg < current:
            # A cut the plan makes: flagged, and never larger than one taper step.
            if found.daily_mg < cut_range(current, taper)[0]:
                raise engine.no_gradual_step(NoGradualStep(current, found.daily_mg), count, taper)
            flag_codes.append("CURRENT_NOT_MAKEABLE")
            limits.append(LIMIT_STRENGTHS)
    # A re-plan skips the start ramp: the patient is already on the drug.
    no_ramp = TitrationPreset(**{**preset.__dict__, "ramp_steps": 0})
    return _titrate(engine, first, target, no_ramp, tuple(limits), target_limits)


def _lowered_at_once(
    engine: _Engine, max_doses: int, phase: str, taper: TaperPreset, flag_codes: list[str]
) -> list[_Day]:
    """A current dose above the band maximum: the band maximum at once, held one interval.

    Gabapentin accumulates when renal function falls, so this is the one cut that does not
    wait for the taper's steps. With normal renal function the band maximum is the label's.
    """
    band, rules = engine.band, engine.rules
    lowered = engine.formulary.floor_daily(band.max_daily_mg, max_doses, engine.admin_size)
    if lowered is None:
        raise engine.impossible("cannot make a dose within the band", band.max_daily_mg)
    if band.max_daily_mg < int(rules.limits["target_daily_mg"]["max"]):
        flag_codes.append("CURRENT_ABOVE_BAND")
        limit, why = LIMIT_RENAL, "lowered at once to the renal band maximum"
    else:
        limit, why = LIMIT_LABEL, "lowered at once to the label's maximum"
    return [_Day(lowered, phase, (limit,), why, band.band.source_id)] * taper.interval_days


def _current_words(options: PlanOptions, first: Split) -> dict[str, str]:
    """How a re-plan or taper's day 1 differs from the current dose, in words."""
    current = options.current_daily_mg
    if current is None:
        return {}
    count = options.current_doses_per_day
    regimen = f"{fmt_mg(current)}/day" + (f" {frequency_text(count)}" if count else "")
    taken = f"{fmt_mg(first.daily_mg)}/day {frequency_text(first.doses_per_day)}"
    detail = f"{taken} ({_regimen_text(first)})"
    change = first.daily_mg - current
    if change < 0:
        day1 = f"day 1 lowers it by {fmt_mg(-change)}/day to {detail}"
    elif change > 0:
        day1 = f"day 1 raises it by {fmt_mg(change)}/day to {detail}"
    elif count is not None and count != first.doses_per_day:
        day1 = f"day 1 keeps the dose but takes it {frequency_text(first.doses_per_day)}: {detail}"
    else:
        day1 = f"day 1 keeps it unchanged: {detail}"
    return {"current_regimen": regimen, "day1_change": day1}


def _titrate(
    engine: _Engine,
    start: Split,
    target: int,
    preset: TitrationPreset,
    first_limits: tuple[str, ...],
    target_limits: tuple[str, ...],
) -> list[_Day]:
    """Days from the start dose up to (and including) the first day at the target.

    ``target_limits`` says why a step that the target caps is lower than the preset's:
    the requested target itself, or what lowered the target (renal band, strengths).
    """
    rules = engine.rules
    source = preset.source_id
    days = [_Day(start, "titration", first_limits, "start dose", source)]
    current = start
    scheme = start.daily_mg  # what the preset alone would give
    t = 0
    step_index = 0
    while current.daily_mg < target:
        step_index += 1
        interval = (
            preset.ramp_interval_days
            if step_index <= preset.ramp_steps
            else preset.step_interval_days
        )
        t_next = t + interval
        scheme = scheme + preset.step_mg
        limits: list[str] = []
        wanted = scheme
        if wanted > target:
            wanted = target
            limits.extend(target_limits)
        rise_cap = current.daily_mg + rules.max_rise_per_day_mg
        cap = min(wanted, rise_cap)
        nxt = engine.floor(cap)
        if nxt is None or nxt.daily_mg <= current.daily_mg:
            if scheme >= target + rules.max_rise_per_day_mg:
                raise InputError(
                    f"cannot titrate from {fmt_mg(current.daily_mg)}/day toward "
                    f"{fmt_mg(target)}/day without rising more than "
                    f"{fmt_mg(rules.max_rise_per_day_mg)}/day in one day using "
                    f"{engine.formulary.forms_text()}; allow more strengths (e.g. 100 mg "
                    "capsules) or the oral solution",
                    field="strengths_mg",
                )
            continue  # the allowed forms cannot make this step yet; try the next
        # The EU SPC speed limits: no reaching a dose sooner than its minimum days.
        for dose_mg, min_days in rules.earliest_reach:
            if nxt.daily_mg >= dose_mg and t_next < min_days:
                t_next = min_days
                limits.append(LIMIT_SPEED)
        if cap < wanted:
            limits.append(LIMIT_STRENGTHS)
        label = "target dose reached" if nxt.daily_mg >= target else "titration step"
        reason = f"{label} ({preset.preset}: {preset.description})"
        days.extend([days[-1]] * (t_next - t - 1))
        days.append(_Day(nxt, "titration", tuple(dict.fromkeys(limits)), reason, source))
        current, t = nxt, t_next
    return days


def _taper(
    engine: _Engine,
    start: Split,
    preset: TaperPreset,
    flag_codes: list[str],
    *,
    from_mg: int | None = None,
    max_doses: int | None = None,
) -> list[_Day]:
    """Taper days, ending with one day at 0 mg (stopped).

    The steps come from ``from_mg`` (default the start's dose; a current dose the allowed
    forms cannot make), each held the preset's interval, in at most ``max_doses``
    administrations. A start the preset would stop from at once is held one interval first,
    so that no plan stops abruptly from a dose.
    """
    mg = start.daily_mg if from_mg is None else from_mg
    count = start.doses_per_day if max_doses is None else max_doses
    source = preset.source_id
    reason = f"taper step ({preset.preset}: {preset.description})"
    steps = engine.descend(mg, count, preset)
    days: list[_Day] = []
    for step in steps:
        days.extend([_Day(step.split, "taper", (), reason, source)] * preset.interval_days)
    _note_fewer(steps, flag_codes, engine)
    if not steps and mg > 0:
        if start.daily_mg < mg and start.daily_mg < cut_range(mg, preset)[0]:
            # Holding a dose the forms can make would itself be too large a cut.
            raise engine.no_gradual_step(NoGradualStep(mg, 0), count, preset)
        days.extend([_Day(start, "taper", (), reason, source)] * preset.interval_days)
    stop = Split(0, 0, 0)
    days.append(_Day(stop, "taper", (), "stop: no gabapentin from this day", source))
    return days


def _note_fewer(steps: Sequence[TaperStep], flag_codes: list[str], engine: _Engine) -> None:
    fewer = [s.split for s in steps if s.fewer_doses]
    if not fewer:
        return
    flag_codes.append("TAPER_FEWER_DOSES")
    words = [f"{fmt_mg(s.daily_mg)}/day {frequency_text(s.doses_per_day)}" for s in fewer]
    engine.fewer_doses_words.extend(words)


def _reduction(
    engine: _Engine,
    current_mg: int,
    max_doses: int,
    target: int,
    preset: TaperPreset,
    flag_codes: list[str],
) -> list[_Day]:
    """A re-plan from above the target: the taper preset's steps down to the target."""
    steps = engine.descend(current_mg, max_doses, preset, floor_mg=target)
    _note_fewer(steps, flag_codes, engine)
    reason = f"reduction toward the target ({preset.preset} taper steps: {preset.description})"
    days: list[_Day] = []
    for k, step in enumerate(steps):
        held = preset.interval_days if k < len(steps) - 1 else 1
        days.extend(
            [_Day(step.split, "reduction", (LIMIT_TARGET,), reason, preset.source_id)] * held
        )
    return days


# -------------------------------------------------------------------------- assembling


def _supplement(
    rules: Rules, band: BandChoice, formulary: Formulary, maintenance_mg: int
) -> tuple[int, float, int]:
    """The post-hemodialysis supplement for a maintenance dose.

    Returns (column, the label's supplement [mg], the dose the allowed forms make [mg]).
    The column is matched in the patient's own row (scaled like the maintenance range); a
    dose between columns takes the lower column; below column 1, column 1's supplement
    in proportion.
    """
    columns = rules.supplements[band.band.band_id]
    col1, dose1, supp1 = columns[0]
    if maintenance_mg <= 0:
        return col1, 0.0, 0
    chosen = None
    for column, dose, supplement in columns:
        if dose * band.scale <= maintenance_mg + 1e-9:
            chosen = (column, float(supplement))
    if chosen is None:
        chosen = (col1, supp1 * maintenance_mg / (dose1 * band.scale))
    column, label_mg = chosen
    return column, label_mg, formulary.floor_single(label_mg)


@dataclass
class _Course:
    """What the engine decided for one plan, before it is written out as frames.

    ``reached_index`` and ``review_index`` are None for a taper-only plan. ``flag_codes``
    and ``context`` are the flags raised so far and the words their messages use.
    """

    patient: Patient
    options: PlanOptions
    rules: Rules
    estimate: RenalEstimate
    band: BandChoice
    formulary: Formulary
    days: Sequence[_Day]
    target: int
    reached_index: int | None
    review_index: int | None
    flag_codes: list[str]
    context: dict[str, Any]
    target_split: Split | None = None  # a taper's: the dose it comes down from


@dataclass
class _Concluded:
    """A course's summary and what the frames need beside the days."""

    summary: dict[str, Any]
    supplement: Any  # daily mg -> (column, label supplement mg, made mg)
    hemodialysis: bool
    taper_index: int
    stop_index: int


def _conclude(course: _Course) -> _Concluded:
    """The dialysis supplement, the flags and the summary of a course (no frames)."""
    rules, band, formulary, context = course.rules, course.band, course.formulary, course.context
    days, target, flag_codes = course.days, course.target, course.flag_codes
    hemodialysis = course.patient.dialysis == "hemodialysis"
    review_index = course.review_index
    taper_index = review_index + 1 if review_index is not None else 0
    stop_index = len(days) - 1

    supplement_cache: dict[int, tuple[int, float, int]] = {}

    def supplement(mg: int) -> tuple[int, float, int]:
        if mg not in supplement_cache:
            supplement_cache[mg] = _supplement(rules, band, formulary, mg)
        return supplement_cache[mg]

    post_dialysis_target: int | None = None
    if hemodialysis:
        flag_codes.append("HD_SUPPLEMENT")
        given = sorted({d.split.daily_mg for d in days if d.split.daily_mg > 0}, reverse=True)
        if course.reached_index is not None:
            post_dialysis_target = supplement(target)[2]
            context["supplement_words"] = _supplement_words(course, supplement, target)
        else:
            made = {supplement(mg)[2] for mg in given}
            post_dialysis_target = made.pop() if len(made) == 1 else None
            context["supplement_words"] = "varies by step: " + "; ".join(
                _supplement_words(course, supplement, mg) for mg in given
            )
        # Report the target's own rounding if it has one, else the first day's that does.
        checked = [target, *given] if course.reached_index is not None else given
        for mg in dict.fromkeys(checked):
            _, wanted_mg, made_mg = supplement(mg)
            if made_mg == 0 and wanted_mg > 0 and "HD_SUPPLEMENT_ZERO" not in flag_codes:
                flag_codes.append("HD_SUPPLEMENT_ZERO")
                context.update(zero_label_mg=fmt_number(wanted_mg), zero_at_mg=fmt_number(mg))
            elif 0 < made_mg < wanted_mg - 1e-9 and "HD_SUPPLEMENT_ROUNDED" not in flag_codes:
                flag_codes.append("HD_SUPPLEMENT_ROUNDED")
                context.update(
                    rounded_label_mg=fmt_number(wanted_mg),
                    rounded_mg=fmt_number(made_mg),
                    rounded_at_mg=fmt_number(mg),
                )
        smallest = min(wanted for mg in given for _, wanted, _ in [supplement(mg)]) if given else 0
        context["measure_hint"] = _measure_hint(rules, formulary, smallest)

    flags = _flags(rules, flag_codes, context)
    summary = _summary(course, post_dialysis_target, taper_index, stop_index, flags)
    return _Concluded(summary, supplement, hemodialysis, taper_index, stop_index)


def _supplement_words(course: _Course, supplement: Any, daily_mg: int) -> str:
    """E.g. "200 mg at 400 mg/day (column 3 of the label's table)", with any working."""
    column, label_mg, made = supplement(daily_mg)
    band = course.band
    words = f"{fmt_number(made)} mg at {fmt_mg(daily_mg)}/day (column {column} of the label's table"
    if band.scale < 1:
        columns = course.rules.supplements[band.band.band_id]
        dose = next(d for c, d, _ in columns if c == column)
        below = band.band.proportional_below_ml_min or 0
        crcl = course.estimate.crcl_text or "0"
        words += (
            f", found in the row scaled by CrCl: {fmt_mg(daily_mg)}/day at CrCl "
            f"{crcl} sits in column {column}: {fmt_number(dose)} x "
            f"{crcl}/{fmt_number(below)} = {fmt_number(dose * band.scale, 1)} mg"
        )
    words += ")"
    if made < label_mg - 1e-9:
        words += f"; the label's {fmt_number(label_mg, 1)} mg rounded down to what can be made"
    return words


def _measure_hint(rules: Rules, formulary: Formulary, smallest_mg: float) -> str:
    """Advice for a dose the allowed forms cannot measure, matching what is allowed."""
    step = formulary.solution_step_mg
    if step is None:
        return str(rules.texts["hint_allow_solution"])
    if smallest_mg < step:
        return str(rules.texts["hint_below_measurable"])
    return str(rules.texts["hint_solution_steps"])


def _assemble(course: _Course) -> Plan:
    """Turn the engine's days into the schedule, steps, flags and summary."""
    concluded = _conclude(course)
    options, band, formulary, days = course.options, course.band, course.formulary, course.days
    start = options.start_date
    hemodialysis, supplement = concluded.hemodialysis, concluded.supplement
    reached_index, review_index = course.reached_index, course.review_index
    taper_index, stop_index = concluded.taper_index, concluded.stop_index

    records: dict[str, list[Any]] = {c: [] for c in SCHEDULE_COLUMNS}
    # In a titration plan the taper applies only without clear benefit at the review.
    conditional = review_index is not None
    dialysis_weekdays = {WEEKDAYS.index(d) for d in options.dialysis_days}
    described: dict[int, str] = {}

    def describe(mg: int) -> str:
        if mg not in described:
            described[mg] = formulary.describe(mg)
        return described[mg]

    words = course.context
    previous = options.current_daily_mg or 0
    for i, day in enumerate(days):
        when = start + timedelta(days=i)
        s = day.split
        post = 0
        dialysis_day = hemodialysis and when.weekday() in dialysis_weekdays and s.daily_mg > 0
        if dialysis_day:
            post = supplement(s.daily_mg)[2]
        notes = []
        if i == 0 and options.current_daily_mg is not None:
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
        if i == stop_index:
            notes.append("stopped: no gabapentin from this day")
        if post:
            notes.append("post-dialysis supplement after each 4-hour session")
        elif dialysis_day:
            notes.append(
                "dialysis day: the label's post-dialysis supplement rounds to 0 mg with the "
                "allowed forms (see the flags)"
            )
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
    columns: dict[str, Any] = dict(records)
    columns["date"] = pd.to_datetime(records["date"])
    columns["conditional"] = np.asarray(records["conditional"], dtype=bool)
    for name in _INT_COLUMNS:
        columns[name] = np.asarray(records[name], dtype=np.int64)
    schedule = pd.DataFrame(columns, columns=list(SCHEDULE_COLUMNS))

    steps = _steps(days, records, hemodialysis)
    attrs = {
        "verification": VERIFICATION_TEXT,
        "gabacalc_version": __version__,
        "rules_version": course.rules.rules_version,
        "rules_sha256": course.rules.rules_sha256,
    }
    schedule.attrs.update(attrs)
    steps.attrs.update(attrs)
    return Plan(
        patient=course.patient,
        options=options,
        estimate=course.estimate,
        band=band,
        summary=concluded.summary,
        schedule=schedule,
        steps=steps,
        formulary=formulary,
        rules=course.rules,
    )


def _steps(
    days: Sequence[_Day], records: Mapping[str, list[Any]], hemodialysis: bool
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


class _Words(dict[str, Any]):
    """A flag's context as message words: numbers written the safe way when a message uses them."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        super().__init__()
        self._context = context

    def __missing__(self, key: str) -> Any:
        value = self._context[key]
        word = fmt_number(value) if isinstance(value, int | float) else value
        self[key] = word
        return word


def _flags(rules: Rules, codes: Sequence[str], context: Mapping[str, Any]) -> list[dict[str, str]]:
    words = _Words(context)
    out = []
    for code in in_severity_order(codes, rules.flags):
        row = rules.flags[code]
        out.append(
            {
                "code": code,
                "severity": row["severity"],
                "message": row["message"].format_map(words),
                "action": row["action"].format_map(words),
                "source_id": row["source_id"],
                "source_section": row["source_section"],
            }
        )
    return out


def _summary(
    course: _Course,
    post_dialysis_mg: int | None,
    taper_index: int,
    stop_index: int,
    flags: list[dict[str, str]],
) -> dict[str, Any]:
    patient, options, rules = course.patient, course.options, course.rules
    estimate, band, formulary = course.estimate, course.band, course.formulary
    target, reached_index, review_index = course.target, course.reached_index, course.review_index
    start = options.start_date

    def iso(i: int | None) -> str | None:
        return None if i is None else (start + timedelta(days=i)).isoformat()

    target_split = course.target_split or course.days[reached_index or 0].split
    titration = rules.titration_presets[options.titration]
    taper = rules.taper_presets[options.taper]
    weight_source = "gabacalc-conventions clinical-basis section 3 (weight for Cockcroft-Gault)"
    if estimate.weight_used_kg is not None and estimate.weight_used in ("ideal", "adjusted"):
        weight_source += "; devine-1974 (ideal body weight)"
    return {
        "verification": VERIFICATION_TEXT,
        "gabacalc_version": __version__,
        "rules_version": rules.rules_version,
        "rules_sha256": rules.rules_sha256,
        "crcl_ml_min": estimate.crcl_ml_min,
        "crcl_text": estimate.crcl_text,
        "crcl_method": estimate.formula_text,
        "crcl_source": estimate.method,
        "weight_basis": estimate.weight_basis,
        "weight_used": estimate.weight_used,
        "weight_used_kg": estimate.weight_used_kg,
        "weight_reason": estimate.weight_reason,
        "ideal_weight_kg": estimate.ideal_weight_kg,
        "adjusted_weight_kg": estimate.adjusted_weight_kg,
        "bmi_kg_m2": estimate.bmi_kg_m2,
        "band": band.label,
        "band_words": band.words,
        "band_id": band.band.band_id,
        "band_reason": band.reason,
        "band_rule": rules.texts["band_edge_rule"],
        "band_source": f"{band.band.source_id} {band.band.source_section}",
        "band_scale": band.scale,
        "doses_per_day": band.doses_per_day,
        "min_daily_mg": band.min_daily_mg,
        "max_daily_mg": band.max_daily_mg,
        "start_daily_mg": course.days[0].split.daily_mg,
        "requested_start_daily_mg": options.start_daily_mg,
        "target_daily_mg": target,
        "requested_target_daily_mg": options.target_daily_mg,
        "target_doses_per_day": target_split.doses_per_day,
        "target_regimen": _regimen_text(target_split),
        "titration": options.titration,
        "titration_description": titration.description,
        "titration_source": f"{titration.source_id} {titration.source_section}",
        "taper": options.taper,
        "taper_description": taper.description,
        "taper_source": f"{taper.source_id} {taper.source_section}",
        "weight_basis_source": weight_source,
        "review_weeks": options.review_weeks,
        "max_products": options.max_products,
        "allowed_forms": formulary.forms_text(),
        "start_date": iso(0),
        "target_reached_date": iso(reached_index),
        "target_reached_day": None if reached_index is None else reached_index + 1,
        "review_date": iso(review_index),
        "review_rule": rules.texts["review_rule"],
        "review_with_benefit": rules.texts["review_with_benefit"],
        "review_without_benefit": rules.texts["review_without_benefit"],
        "taper_start_date": iso(taper_index),
        "taper_end_date": iso(stop_index),
        "taper_note": rules.texts["taper_conditional"]
        + " The taper end date is the first day with no gabapentin.",
        "post_dialysis_mg": post_dialysis_mg,
        "dialysis": patient.dialysis,
        "kind": "titration",
        "current_daily_mg": options.current_daily_mg,
        "current_doses_per_day": options.current_doses_per_day,
        "current_regimen": course.context.get("current_regimen"),
        "day1_change": course.context.get("day1_change"),
        "flags": flags,
        "guidance": [dict(row) for row in rules.guidance],
        "inputs": {"patient": patient.as_dict(), "options": options.as_dict()},
    }


_WHEN = {"morning": "in the morning", "midday": "at midday", "bedtime": "at bedtime"}


def _regimen_text(split: Split) -> str:
    """E.g. ``"700 mg in the morning, 700 mg at bedtime"``."""
    doses = {"morning": split.morning_mg, "midday": split.midday_mg, "bedtime": split.bedtime_mg}
    return ", ".join(
        f"{fmt_mg(doses[time])} {words}" for time, words in _WHEN.items() if doses[time]
    )


# --------------------------------------------------------------------- other entry points


def build_taper(
    patient: Patient,
    current_daily_mg: float,
    *,
    current_doses_per_day: int | None = None,
    taper: str | None = None,
    weight_basis: str | None = None,
    start_date: date | None = None,
    strengths_mg: Iterable[int] | None = None,
    oral_solution: bool = False,
    dialysis_days: Iterable[str] | str | None = None,
    rules: Rules | None = None,
) -> Plan:
    """A taper for a patient already taking gabapentin.

    Day 1 is the first reduced dose (or, if the current dose is above the renal band
    maximum, the band maximum, flagged). Steps never go up, each lasts at least 7 days, and
    the last day is 0 mg. The returned plan has only taper days; its ``target_daily_mg`` is
    the current dose after any renal lowering, and its review date is day 1.

    Examples
    --------
    >>> from datetime import date
    >>> p = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    >>> t = build_taper(p, 1800, current_doses_per_day=3, start_date=date(2026, 3, 2))
    >>> t.steps["daily_mg"].tolist()
    [1500, 1200, 900, 600, 300, 200, 100, 0]
    """
    rules = checked_rules(rules)
    if current_daily_mg is None:
        raise InputError(
            "a taper needs the current dose (current_daily_mg / --current-mg), in mg/day",
            field="current_daily_mg",
        )
    options = resolve_options(
        patient,
        rules,
        weight_basis=weight_basis,
        taper=taper,
        start_date=start_date,
        strengths_mg=strengths_mg,
        oral_solution=oral_solution,
        dialysis_days=dialysis_days,
        current_daily_mg=current_daily_mg,
        current_doses_per_day=current_doses_per_day,
    )
    assert options.current_daily_mg is not None
    setup = _prepare(patient, options, rules)
    band, engine = setup.band, setup.engine
    flag_codes, context = setup.flag_codes, setup.context
    context["start_advice"] = rules.texts["advice_hold"]  # a taper has no start
    current = options.current_daily_mg
    count = min(options.current_doses_per_day or band.doses_per_day, band.doses_per_day)
    flag_codes.extend(context_flag_codes(patient, None, rules))
    taper_preset = rules.taper_presets[options.taper]
    if current > band.max_daily_mg:
        first_days = _lowered_at_once(engine, count, "taper", taper_preset, flag_codes)
        held = first_days[0].split
        days = first_days + _taper(engine, held, taper_preset, flag_codes)
    else:
        found = engine.split_as_taken(current, count) or engine.formulary.floor_daily(
            current, count, engine.admin_size
        )
        if found is None:
            raise engine.impossible("cannot make the current dose", current)
        held = found
        # The first step comes from the dose the patient takes, made or not.
        days = _taper(engine, held, taper_preset, flag_codes, from_mg=current, max_doses=count)
    context.update(start_daily_mg=days[0].split.daily_mg, **_current_words(options, days[0].split))
    flag_codes.append("CURRENT_DOSE")
    context["fewer_doses_steps"] = _fewer_words(engine)
    plan = _assemble(
        _Course(
            patient,
            options,
            rules,
            setup.estimate,
            band,
            setup.formulary,
            days,
            held.daily_mg,
            None,
            None,
            flag_codes,
            context,
            target_split=held,
        )
    )
    plan.summary.update(
        kind="taper",
        current_daily_mg=current,
        requested_target_daily_mg=current,
        taper_note=rules.texts["taper_is_the_plan"]
        + " The taper end date is the first day with no gabapentin.",
        review_with_benefit=None,
        review_without_benefit=None,
        review_rule=None,
        review_weeks=None,  # a taper has no titration and no review
        titration=None,
        guidance=[g for g in plan.summary["guidance"] if g["when"] != "during titration"],
    )
    return plan


def rebuild_plan(summary: Mapping[str, Any], rules: Rules | None = None) -> Plan:
    """Rebuild a plan exactly from a summary's recorded inputs (e.g. a saved JSON).

    Parameters
    ----------
    summary : mapping
        ``plan.summary``, or the record of a JSON file gabacalc wrote (with a ``summary``).
    rules : Rules, optional
        Rule tables (default the shipped ones); a different checksum gives a different plan.

    Examples
    --------
    >>> from datetime import date
    >>> p = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> plan = build_plan(p, start_date=date(2026, 1, 5))
    >>> rebuild_plan(plan.summary).schedule.equals(plan.schedule)
    True

    The record ``gabacalc plan --json`` writes (summary and steps) works as well:

    >>> import json
    >>> from gabacalc.render.records import json_text
    >>> rebuild_plan(json.loads(json_text(plan))).schedule.equals(plan.schedule)
    True
    """
    patient_kw, o, kind = _recorded_inputs(summary)
    patient = Patient(**patient_kw, rules=checked_rules(rules))
    if patient.dialysis != "hemodialysis":  # recorded as the default; given only on dialysis
        o = {**o, "dialysis_days": None}
    when = o["start_date"]
    if kind == "taper":
        return build_taper(
            patient,
            o["current_daily_mg"],
            current_doses_per_day=o["current_doses_per_day"],
            taper=o["taper"],
            weight_basis=o["weight_basis"],
            start_date=when,
            strengths_mg=o["strengths_mg"],
            oral_solution=o["oral_solution"],
            dialysis_days=o["dialysis_days"],
            rules=rules,
        )
    return build_plan(
        patient,
        weight_basis=o["weight_basis"],
        start_daily_mg=o["start_daily_mg"],
        target_daily_mg=o["target_daily_mg"],
        titration=o["titration"],
        taper=o["taper"],
        review_weeks=o["review_weeks"],
        start_date=when,
        strengths_mg=o["strengths_mg"],
        oral_solution=o["oral_solution"],
        dialysis_days=o["dialysis_days"],
        current_daily_mg=o["current_daily_mg"],
        current_doses_per_day=o.get("current_doses_per_day"),
        max_products=o.get("max_products"),
        rules=rules,
    )


_RECORDED_PATIENT = PATIENT_FIELDS


def _recorded_inputs(summary: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
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
