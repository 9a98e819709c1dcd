"""The schedule engine: a plan's days as a pure function of a small, hashable key.

A schedule depends only on what :class:`ScheduleKey` holds (the band's limits and
administrations, the allowed forms, the doses, presets and review) and on the rule tables,
never on the patient's continuous values. So :func:`schedule` is computed once per key and
rule tables, and the single-patient path (:func:`gabacalc.build_plan`), the taper
(:func:`gabacalc.build_taper`) and cohort mode all obtain their days from it:

1. clamp the target to the band maximum and to what the allowed strengths can make;
2. climb from the start (or a current dose) toward the target with the titration preset,
   never more than the daily rise limit and never faster than the EU SPC speed limits;
3. hold the target until the review date (the later of start + review weeks and 14 days
   at target);
4. then the taper that applies if there is no clear benefit: steps never go up, each lasts
   at least 7 days, and it reaches 0.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from gabacalc.core.doses import Formulary, Split
from gabacalc.core.engine import (
    LIMIT_RENAL,
    LIMIT_STRENGTHS,
    LIMIT_TARGET,
    BandLimits,
    Day,
    Engine,
)
from gabacalc.core.options import PlanOptions
from gabacalc.core.steps import fewer_words, lowered_at_once, reduction, taper_days, titrate
from gabacalc.core.taper import NoGradualStep, cut_range
from gabacalc.rules import Rules, TitrationPreset
from gabacalc.rules.memo import memo

__all__ = ["Schedule", "ScheduleKey", "schedule", "schedule_key", "target_limit_reasons"]

#: How many schedules are kept per rule tables (a cohort has far fewer distinct keys).
CACHE_SIZE = 4096


@dataclass(frozen=True)
class ScheduleKey:
    """Everything a schedule depends on besides the rule tables (frozen and hashable).

    ``kind`` is ``"titration"`` (a plan: start or re-plan, maintenance, conditional taper)
    or ``"taper"`` (a taper from ``current_daily_mg`` only). ``titration`` and
    ``start_daily_mg`` are the ones to plan with, after the start-low rule.
    """

    kind: str
    band: BandLimits
    strengths_mg: tuple[int, ...]
    oral_solution: bool
    start_daily_mg: int
    target_daily_mg: int
    titration: str
    taper: str
    review_weeks: int
    current_daily_mg: int | None
    current_doses_per_day: int | None


@dataclass(frozen=True)
class Schedule:
    """What the engine decided: the days, the target, and the dose flags it raised.

    ``reached_index`` and ``review_index`` are None for a taper; ``target_split`` is a
    taper's held dose (the one it comes down from). ``flag_codes`` are in raised order.
    ``target_limited_by`` says why the target (a taper's held dose) is below the dose asked
    for (see :func:`target_limit_reasons`); empty where it is the dose asked for.
    """

    days: tuple[Day, ...]
    target_daily_mg: int
    target_cap_mg: int
    target_limited_by: tuple[str, ...]
    reached_index: int | None
    review_index: int | None
    flag_codes: tuple[str, ...]
    fewer_doses_steps: str
    target_split: Split | None = None


def schedule_key(kind: str, options: PlanOptions, band: BandLimits) -> ScheduleKey:
    """The key of a plan's schedule, from its resolved options and its band's limits."""
    return ScheduleKey(
        kind=kind,
        band=band,
        strengths_mg=options.strengths_mg,
        oral_solution=options.oral_solution,
        start_daily_mg=options.start_daily_mg,
        target_daily_mg=options.target_daily_mg,
        titration=options.titration,
        taper=options.taper,
        review_weeks=options.review_weeks,
        current_daily_mg=options.current_daily_mg,
        current_doses_per_day=options.current_doses_per_day,
    )


def schedule(key: ScheduleKey, rules: Rules) -> Schedule:
    """The schedule for ``key`` under ``rules``, computed once per key and rule tables.

    Raises
    ------
    InputError
        A schedule the allowed forms cannot make (the message says what would help);
        refusals are not cached.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc.core.patient import Patient
    >>> from gabacalc.core.plan import build_plan
    >>> from gabacalc.rules import default_rules
    >>> p = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    >>> plan = build_plan(p, start_date=date(2026, 1, 5))
    >>> band = BandLimits.of(plan.band)
    >>> found = schedule(schedule_key("titration", plan.options, band), default_rules())
    >>> found.target_daily_mg, found.reached_index, found.review_index
    (1800, 35, 49)
    >>> plan.summary["target_reached_day"], plan.summary["review_date"]
    (36, '2026-02-23')
    >>> found is schedule(schedule_key("titration", plan.options, band), default_rules())
    True
    """
    held = memo(rules, "schedules")  # dropped with the rules (gabacalc.rules.memo)
    cached = held.get("cache")
    if cached is None:
        cached = held["cache"] = _cache_for(rules)
    result: Schedule = cached(key)
    return result


def _cache_for(rules: Rules) -> Callable[[ScheduleKey], Schedule]:
    """A bounded cache of schedules for one Rules object."""
    ref = weakref.ref(rules)  # the cache must not keep the tables alive

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def cached(key: ScheduleKey) -> Schedule:
        live = ref()
        assert live is not None  # the caller holds the rules
        return _compute(key, live)

    return cached


def _compute(key: ScheduleKey, rules: Rules) -> Schedule:
    formulary = Formulary.from_options(rules, key.strengths_mg, key.oral_solution)
    engine = Engine(rules, key.band, formulary)
    if key.kind == "taper":
        return _taper_schedule(engine, key)
    return _titration_schedule(engine, key)


def _titration_schedule(engine: Engine, key: ScheduleKey) -> Schedule:
    """A plan's days: the climb (or re-plan), maintenance to the review, then the taper."""
    band, rules = engine.band, engine.rules
    codes: list[str] = []
    # Target: at most the band maximum, and makeable from the allowed forms.
    target_cap = min(key.target_daily_mg, band.max_daily_mg)
    target_split = engine.floor(target_cap)
    if target_split is None:
        raise engine.impossible("cannot make a target dose", target_cap)
    target = target_split.daily_mg
    target_limited_by = target_limit_reasons(key.target_daily_mg, band.max_daily_mg, target)
    if LIMIT_RENAL in target_limited_by:
        codes.append("TARGET_LIMITED_RENAL")
    if LIMIT_STRENGTHS in target_limited_by:
        codes.append("TARGET_LIMITED_STRENGTHS")
    if target < band.min_daily_mg:
        codes.append("TARGET_BELOW_BAND_RANGE")

    preset = rules.titration_presets[key.titration]
    capped = target_limited_by or (LIMIT_TARGET,)
    if key.current_daily_mg is not None:
        days = _titration_from_current(engine, key, preset, target, capped, codes)
        codes.append("CURRENT_DOSE")
    else:
        days = _titration_from_start(engine, key, preset, target, capped, codes)

    # Maintenance at the target until the review date (titration ends there, or a
    # re-plan's reduction does).
    reached_index = next(i for i, d in enumerate(days) if d.split.daily_mg == target)
    review_index = max(key.review_weeks * 7, reached_index + rules.review["min_days_at_target"])
    maintenance = Day(
        split=days[reached_index].split,
        phase="maintenance",
        limited_by=target_limited_by,
        reason="maintenance at the target dose until the efficacy review",
        source_id=rules.source_of("review_rule.csv")[0],
    )
    days = days[:reached_index] + [maintenance] * (review_index - reached_index + 1)
    # The taper that applies if there is no clear benefit at the review.
    days += taper_days(engine, maintenance.split, rules.taper_presets[key.taper], codes)
    return Schedule(
        days=tuple(days),
        target_daily_mg=target,
        target_cap_mg=target_cap,
        target_limited_by=target_limited_by,
        reached_index=reached_index,
        review_index=review_index,
        flag_codes=tuple(codes),
        fewer_doses_steps=fewer_words(engine),
    )


def target_limit_reasons(requested_mg: int, band_max_mg: int, made_mg: int) -> tuple[str, ...]:
    """Why a target (a taper's: the dose it holds) is below the dose asked for [mg/day].

    The renal band maximum where it is below the dose asked for; the allowed strengths
    where they make less than the lower of the two; both, or neither (the dose as asked).

    Examples
    --------
    >>> target_limit_reasons(1800, 1400, 1400), target_limit_reasons(1800, 3600, 1800)
    (('renal band',), ())
    >>> target_limit_reasons(1800, 700, 600)
    ('renal band', 'allowed strengths')
    """
    limits: list[str] = []
    if band_max_mg < requested_mg:
        limits.append(LIMIT_RENAL)
    if made_mg < min(requested_mg, band_max_mg):
        limits.append(LIMIT_STRENGTHS)
    return tuple(limits)


def _titration_from_start(
    engine: Engine,
    key: ScheduleKey,
    preset: TitrationPreset,
    target: int,
    target_limits: tuple[str, ...],
    flag_codes: list[str],
) -> list[Day]:
    """A new start's days from the start dose to the first day at the target."""
    band = engine.band
    start_cap = min(key.start_daily_mg, band.max_daily_mg, target)
    start_split = engine.floor(start_cap)
    if start_split is None:
        raise engine.impossible("cannot make a start dose", start_cap)
    first_limits = []
    if start_split.daily_mg < key.start_daily_mg:
        if band.max_daily_mg < key.start_daily_mg:
            first_limits.append(LIMIT_RENAL)
            flag_codes.append("START_LIMITED")
        if target < key.start_daily_mg:
            first_limits.append(LIMIT_TARGET)
        if start_split.daily_mg < start_cap:
            first_limits.append(LIMIT_STRENGTHS)
    return titrate(engine, start_split, target, preset, tuple(first_limits), target_limits)


def _titration_from_current(
    engine: Engine,
    key: ScheduleKey,
    preset: TitrationPreset,
    target: int,
    target_limits: tuple[str, ...],
    flag_codes: list[str],
) -> list[Day]:
    """A re-plan's days from the current dose to the first day at the target.

    Above the band maximum the dose is lowered at once (it accumulates); above the target
    it comes down by the taper preset's steps; below, titration goes on from it.
    """
    assert key.current_daily_mg is not None
    current = key.current_daily_mg
    band, rules = engine.band, engine.rules
    taper = rules.taper_presets[key.taper]
    count = min(key.current_doses_per_day or band.doses_per_day, band.doses_per_day)
    if current > band.max_daily_mg:
        held = lowered_at_once(engine, count, "reduction", taper, flag_codes)
        lowered = held[0].split
        if lowered.daily_mg > target:
            flag_codes.append("CURRENT_ABOVE_TARGET")
            return held + reduction(
                engine, lowered.daily_mg, lowered.doses_per_day, target, taper, flag_codes
            )
        first, limits = lowered, list(held[0].limited_by)
    elif current > target:
        flag_codes.append("CURRENT_ABOVE_TARGET")
        return reduction(engine, current, count, target, taper, flag_codes)
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
    return titrate(engine, first, target, no_ramp, tuple(limits), target_limits)


def _taper_schedule(engine: Engine, key: ScheduleKey) -> Schedule:
    """A taper's days from the current dose (after any renal lowering) to 0 mg."""
    assert key.current_daily_mg is not None
    band, rules = engine.band, engine.rules
    codes: list[str] = []
    current = key.current_daily_mg
    count = min(key.current_doses_per_day or band.doses_per_day, band.doses_per_day)
    preset = rules.taper_presets[key.taper]
    if current > band.max_daily_mg:
        first_days = lowered_at_once(engine, count, "taper", preset, codes)
        held = first_days[0].split
        days = first_days + taper_days(engine, held, preset, codes)
    else:
        found = engine.split_as_taken(current, count) or engine.formulary.floor_daily(
            current, count, engine.admin_size
        )
        if found is None:
            raise engine.impossible("cannot make the current dose", current)
        held = found
        # The first step comes from the dose the patient takes, made or not.
        days = taper_days(engine, held, preset, codes, from_mg=current, max_doses=count)
    codes.append("CURRENT_DOSE")
    return Schedule(
        days=tuple(days),
        target_daily_mg=held.daily_mg,
        target_cap_mg=held.daily_mg,
        target_limited_by=target_limit_reasons(current, band.max_daily_mg, held.daily_mg),
        reached_index=None,
        review_index=None,
        flag_codes=tuple(codes),
        fewer_doses_steps=fewer_words(engine),
        target_split=held,
    )
