"""What every plan works out around its schedule: the estimate, the band, the start-low
rule, the flags raised and the words their messages use.

:func:`plan_course` builds the :class:`Course` of a plan or a taper: the single place where
the patient's values (the estimate, the safety context) meet the schedule that
:func:`gabacalc.core.schedule.schedule` made from the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from gabacalc.core.doses import Formulary, Split
from gabacalc.core.engine import BandLimits, Day, Engine
from gabacalc.core.options import PlanOptions, resolve_options
from gabacalc.core.patient import Patient, older_adult
from gabacalc.core.renal import BandChoice, RenalEstimate, estimate_crcl, select_band
from gabacalc.core.schedule import Schedule, schedule, schedule_key
from gabacalc.core.startlow import start_low_reasons
from gabacalc.core.summary import Flag, regimen_text, worded_flags
from gabacalc.core.wording import fmt_beside_edges, fmt_mg, frequency_text
from gabacalc.rules import Rules

__all__ = [
    "Course",
    "Words",
    "apply_start_low",
    "context_codes",
    "context_flag_codes",
    "estimate_flags",
    "plan_course",
]


class Words(MutableMapping[str, Any]):
    """The words a plan's flag messages and notes use, by name; an entry given as a maker
    is made when it is first read, then kept.

    Most words only ever go into a flag's message, which cohort mode never words: it reads
    none of them, so it makes none (making them was about 7 % of planning a key).

    Examples
    --------
    >>> made = []
    >>> words = Words({"age_years": 70}, {"scr_text": lambda: made.append(1) or "0.5 mg/dL"})
    >>> made, words["age_years"], sorted(words)
    ([], 70, ['age_years', 'scr_text'])
    >>> words["scr_text"], words["scr_text"], made
    ('0.5 mg/dL', '0.5 mg/dL', [1])

    A copy's new entries replace the old ones of the same name, made or given:

    >>> both = words.with_words({"age_years": 71}, {"scr_text": lambda: "1 mg/dL"})
    >>> both["age_years"], both["scr_text"], words["age_years"]
    (71, '1 mg/dL', 70)

    A maker that fails is an error, never a missing word:

    >>> Words({}, {"day1_change": lambda: {}["x"]}).get("day1_change")
    Traceback (most recent call last):
    RuntimeError: gabacalc internal error: making the words 'day1_change' failed (KeyError('x'))
    """

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        makers: dict[str, Callable[[], Any]] | None = None,
    ) -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._makers: dict[str, Callable[[], Any]] = {
            name: make for name, make in (makers or {}).items() if name not in self._values
        }

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            make = self._makers[name]  # KeyError: a name neither given nor made
            try:
                value = make()
            except KeyError as error:  # not "no such word": .get and "in" would hide it
                raise RuntimeError(
                    f"gabacalc internal error: making the words {name!r} failed ({error!r})"
                ) from error
            self._values[name] = value
            del self._makers[name]
        return self._values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._makers.pop(name, None)
        self._values[name] = value

    def __delitem__(self, name: str) -> None:
        if self._makers.pop(name, None) is None:
            del self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._values, *self._makers])

    def __len__(self) -> int:
        return len(self._values) + len(self._makers)

    def with_words(
        self, values: dict[str, Any], makers: dict[str, Callable[[], Any]] | None = None
    ) -> Words:
        """A copy with ``values`` and ``makers`` added (each replacing an entry of that name)."""
        given = {n: v for n, v in self._values.items() if n not in (makers or {})}
        kept = {n: m for n, m in self._makers.items() if n not in values}
        return Words({**given, **values}, {**kept, **(makers or {})})


@dataclass
class Course:
    """What the engine decided for one plan, before it is written out as frames.

    ``flag_codes`` and ``context`` are the flags raised so far and the words their
    messages use (the dialysis supplement adds to both).
    """

    patient: Patient
    options: PlanOptions
    rules: Rules
    estimate: RenalEstimate
    band: BandChoice
    formulary: Formulary
    schedule: Schedule
    flag_codes: list[str]
    context: Words

    @property
    def kind(self) -> str:
        """``"titration"`` or ``"taper"``."""
        return "taper" if self.schedule.reached_index is None else "titration"

    @property
    def days(self) -> tuple[Day, ...]:
        return self.schedule.days

    @property
    def target(self) -> int:
        return self.schedule.target_daily_mg

    @property
    def reached_index(self) -> int | None:
        return self.schedule.reached_index

    @property
    def review_index(self) -> int | None:
        return self.schedule.review_index

    @property
    def taper_index(self) -> int:
        """The taper's first day (day 0 for a taper, the day after the review for a plan)."""
        return self.review_index + 1 if self.review_index is not None else 0

    @property
    def stop_index(self) -> int:
        """The first day with no gabapentin (the last day)."""
        return len(self.days) - 1

    @property
    def target_split(self) -> Split:
        """The target's regimen (a taper's: the dose it comes down from)."""
        found = self.schedule.target_split
        return found or self.days[self.reached_index or 0].split


def plan_course(patient: Patient, options: PlanOptions, rules: Rules, *, kind: str) -> Course:
    """The course of a plan (``kind="titration"``) or a taper (``kind="taper"``).

    Raises
    ------
    InputError
        A schedule the allowed forms cannot make (the message says what would help).
    """
    setup = _prepare(patient, options, rules)
    band = setup.band
    limits = BandLimits.of(band)
    if kind == "taper":
        start_low_codes: list[str] = []
        start_low_words: dict[str, str] = {}
        advice = "advice_hold"  # a taper has no start
    else:
        current = options.current_daily_mg
        rises = current is None or current < min(options.target_daily_mg, band.max_daily_mg)
        options, start_low_codes, start_low_words = apply_start_low(
            patient, setup.estimate, options, rules, rises=rises
        )
        advice = "advice_start" if current is None else "advice_rise" if rises else "advice_hold"
    found = schedule(schedule_key(kind, options, limits), rules)
    first = found.days[0].split
    values: dict[str, Any] = {
        **start_low_words,
        "start_advice": rules.texts[advice],
        "start_daily_mg": first.daily_mg,
    }
    current_words = _current_words(options, first)
    context = setup.context.with_words(values, current_words)
    if kind == "taper":
        codes = [
            *setup.flag_codes,
            *context_flag_codes(patient, None, rules),
            *found.flag_codes,
        ]
    else:
        context.update(
            target_daily_mg=found.target_daily_mg,
            target_cap_mg=found.target_cap_mg,
            target_reached_day=(found.reached_index or 0) + 1,
        )
        codes = [
            *start_low_codes,
            *setup.flag_codes,
            *found.flag_codes,
            *context_flag_codes(patient, found.target_daily_mg, rules),
        ]
    context["fewer_doses_steps"] = found.fewer_doses_steps
    return Course(
        patient=patient,
        options=options,
        rules=rules,
        estimate=setup.estimate,
        band=band,
        formulary=setup.formulary,
        schedule=found,
        flag_codes=codes,
        context=context,
    )


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


@dataclass(frozen=True)
class _Setup:
    """What every entry point works out first: the estimate, band, forms and flag wording."""

    estimate: RenalEstimate
    band: BandChoice
    formulary: Formulary
    flag_codes: list[str]
    context: Words


def _prepare(patient: Patient, options: PlanOptions, rules: Rules) -> _Setup:
    estimate = estimate_crcl(patient, options.weight_basis, rules)
    band = select_band(estimate, patient.dialysis, rules)
    formulary = Formulary.from_options(rules, options.strengths_mg, options.oral_solution)
    flag_codes = [*estimate.flag_codes, *band.flag_codes]
    current = options.current_daily_mg
    if current is not None and current > int(rules.limits["target_daily_mg"]["max"]):
        flag_codes.append("CURRENT_ABOVE_LABEL_MAX")
    values: dict[str, Any] = {
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
        "implausible_crcl_above_ml_min": rules.threshold("implausible_crcl_above_ml_min"),
        "taper": options.taper,
        "taper_interval_days": rules.taper_presets[options.taper].interval_days,
        "label_max_daily_mg": int(rules.limits["target_daily_mg"]["max"]),
    }

    def strengths_hint() -> str:
        engine = Engine(rules, BandLimits.of(band), formulary)
        hint = engine.strengths_hint(options.target_daily_mg)
        return hint[0].upper() + hint[1:] + "."

    # Words only a flag's message uses, made when one does.
    makers: dict[str, Callable[[], Any]] = {
        "dialysis_days": lambda: ", ".join(d.capitalize() for d in options.dialysis_days),
        "scr_text": lambda: _scr_words(patient.scr, patient.scr_unit, rules),
        "low_scr_text": lambda: _scr_words(
            rules.threshold("low_scr_older_adult_below_mg_dl"), "mg/dL", rules, threshold=True
        ),
        "allowed_forms": formulary.forms_text,
        "strengths_hint": strengths_hint,
    }
    context = Words(values, makers)
    return _Setup(
        estimate=estimate, band=band, formulary=formulary, flag_codes=flag_codes, context=context
    )


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


def _current_words(options: PlanOptions, first: Split) -> dict[str, Callable[[], str]]:
    """How a re-plan or taper's day 1 differs from the current dose, in words (as makers of
    :class:`Words`: the day's notes and the summary read them; cohort mode does not)."""
    current = options.current_daily_mg
    if current is None:
        return {}
    count = options.current_doses_per_day

    def regimen() -> str:
        return f"{fmt_mg(current)}/day" + (f" {frequency_text(count)}" if count else "")

    def day1() -> str:
        taken = f"{fmt_mg(first.daily_mg)}/day {frequency_text(first.doses_per_day)}"
        detail = f"{taken} ({regimen_text(first)})"
        change = first.daily_mg - current
        if change < 0:
            return f"day 1 lowers it by {fmt_mg(-change)}/day to {detail}"
        if change > 0:
            return f"day 1 raises it by {fmt_mg(change)}/day to {detail}"
        if count is not None and count != first.doses_per_day:
            return (
                f"day 1 keeps the dose but takes it {frequency_text(first.doses_per_day)}: {detail}"
            )
        return f"day 1 keeps it unchanged: {detail}"

    return {"current_regimen": regimen, "day1_change": day1}


def estimate_flags(patient: Patient, weight_basis: str | None, rules: Rules) -> list[Flag]:
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
    return worded_flags(rules, setup.flag_codes, setup.context)
