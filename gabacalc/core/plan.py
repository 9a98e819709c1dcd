"""Build a gabapentin titration, maintenance, review and taper plan: the :class:`Plan`.

The entry points (:func:`build_plan`, :func:`build_taper`, :func:`rebuild_plan`) put the
layers of the core together; each layer is a module with one job:

1. :mod:`~gabacalc.core.options` checks the options and fills the defaults;
2. :mod:`~gabacalc.core.course` estimates CrCl, picks the band (``renal``), applies the
   start-low rule and raises the patient's flags;
3. :mod:`~gabacalc.core.schedule` computes the days from a small hashable key (once per
   key): the climb, maintenance until the review, and the taper if there is no clear
   benefit (with :mod:`~gabacalc.core.engine` and :mod:`~gabacalc.core.steps`);
4. :mod:`~gabacalc.core.assemble` writes it out: the dialysis supplement
   (:mod:`~gabacalc.core.supplement`), the typed summary (:mod:`~gabacalc.core.summary`)
   and the schedule and steps frames;
5. :mod:`~gabacalc.core.record` reads a saved plan's inputs back.

Everything clinical comes from the rule tables; these modules only apply them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gabacalc.core.assemble import conclude, frames
from gabacalc.core.course import Course, plan_course
from gabacalc.core.course import context_codes as context_codes
from gabacalc.core.course import context_flag_codes as context_flag_codes
from gabacalc.core.course import estimate_flags as estimate_flags
from gabacalc.core.doses import Formulary
from gabacalc.core.options import WEEKDAYS, PlanOptions, document_options, resolve_options
from gabacalc.core.patient import Patient, checked_rules
from gabacalc.core.record import recorded_inputs
from gabacalc.core.renal import BandChoice, RenalEstimate
from gabacalc.core.summary import Flag, Summary, raised_codes
from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg
from gabacalc.errors import InputError
from gabacalc.rules import Provenance, Rules

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "PLAN_OPTIONS",
    "WEEKDAYS",
    "Plan",
    "PlanOptions",
    "build_plan",
    "build_taper",
    "products_used",
    "rebuild_plan",
    "resolve_options",
]

#: The options build_plan takes, in its order (each documented once, in OPTION_DOCS).
PLAN_OPTIONS = (
    "weight_basis",
    "start_daily_mg",
    "target_daily_mg",
    "titration",
    "taper",
    "review_weeks",
    "start_date",
    "strengths_mg",
    "oral_solution",
    "dialysis_days",
    "current_daily_mg",
    "current_doses_per_day",
    "max_products",
    "rules",
)


@dataclass(frozen=True)
class Plan:
    """A complete illustrative plan. Requires physician verification.

    Attributes
    ----------
    patient : Patient
    options : PlanOptions
    estimate : RenalEstimate
    band : BandChoice
    summary : Summary
        JSON-serialisable key figures, typed (see :class:`gabacalc.core.summary.Summary`).
    schedule : pandas.DataFrame
        One row per calendar day.
    steps : pandas.DataFrame
        One row per regimen change.
    """

    patient: Patient
    options: PlanOptions
    estimate: RenalEstimate
    band: BandChoice
    summary: Summary
    schedule: pd.DataFrame = field(repr=False)
    steps: pd.DataFrame = field(repr=False)
    formulary: Formulary | None = field(default=None, repr=False, compare=False)
    #: The rule tables the plan was built from: renderers word the plan from these, so that
    #: a plan built from local tables is printed with their wording, not the shipped tables'.
    rules: Rules | None = field(default=None, repr=False, compare=False)

    @property
    def flags(self) -> list[Flag]:
        """The flags raised for this plan (code, severity, message, action, source_id)."""
        return list(self.summary["flags"])

    @property
    def provenance(self) -> Provenance:
        """The stamp every output of this plan carries: its rule tables', built once with them.

        Examples
        --------
        >>> from datetime import date
        >>> from gabacalc import Patient, build_plan
        >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        ...                   start_date=date(2026, 1, 5))
        >>> plan.provenance.rules_sha256 == plan.summary["rules_sha256"]
        True
        """
        if self.rules is not None:
            return self.rules.provenance
        return Provenance.from_record(self.summary)

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
        'CrCl of 60 mL/min or more'
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


@document_options(*PLAN_OPTIONS)
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
    {options}

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
    ('CrCl above 30 and below 60 mL/min', 1400, 1400)
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
    _check_current_dose_given(current_daily_mg, current_doses_per_day)
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


def _check_current_dose_given(
    current_daily_mg: float | None, current_doses_per_day: int | None
) -> None:
    """Never a silent choice: doses a day without the dose they split would be ignored."""
    if current_doses_per_day is not None and current_daily_mg is None:
        raise InputError(
            "current doses per day were given without a current dose; give the current dose "
            "(current_daily_mg / --current-mg) too, or leave both out for a new start",
            field="current_daily_mg",
        )


def plan_from_options(patient: Patient, options: PlanOptions, rules: Rules) -> Plan:
    """Build the plan for already-resolved options (the shared path of every entry point)."""
    if options.max_products is not None:
        options = _fewest_products(patient, options, rules)
    return _plan_of(plan_course(patient, options, rules, kind="titration"))


def _plan_of(course: Course) -> Plan:
    """The plan of a course: its summary, schedule and steps."""
    concluded = conclude(course)
    schedule, steps = frames(course, concluded)
    return Plan(
        patient=course.patient,
        options=course.options,
        estimate=course.estimate,
        band=course.band,
        summary=concluded.summary,
        schedule=schedule,
        steps=steps,
        formulary=course.formulary,
        rules=course.rules,
    )


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
                course = plan_course(patient, candidate, rules, kind="titration")
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


def summary_codes_from_options(
    patient: Patient, options: PlanOptions, rules: Rules
) -> tuple[Summary, list[str]]:
    """What cohort mode keeps of each distinct plan: the summary without its flags' words
    (its ``flags`` empty) and the flags' codes in the plan's order.

    ``plan_from_options(...).summary`` without the schedule and steps frames (most of a
    plan's cost) or the flags' words (a quarter of the rest), neither of which cohort mode
    writes; made by the same code.
    """
    course = plan_course(patient, options, rules, kind="titration")
    return conclude(course, worded=False).summary, raised_codes(rules, course.flag_codes)


# --------------------------------------------------------------------- other entry points


@document_options(
    "current_doses_per_day",
    "taper",
    "weight_basis",
    "start_date",
    "strengths_mg",
    "oral_solution",
    "dialysis_days",
    "rules",
)
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

    Parameters
    ----------
    patient : Patient
    current_daily_mg : int
        The dose the patient takes now [mg/day]; above the band maximum it is lowered at
        once to the band maximum (flagged).
    {options}

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
    return _plan_of(plan_course(patient, options, rules, kind="taper"))


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
    patient_kw, o, kind = recorded_inputs(summary)
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
