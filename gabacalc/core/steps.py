"""The days of each phase: a climb, a taper to 0, a reduction, a cut to the band maximum.

Each function returns the days the engine makes for one phase, and appends the flag codes
that phase raises; :mod:`gabacalc.core.schedule` puts the phases together.
"""

from __future__ import annotations

from collections.abc import Sequence

from gabacalc.core.doses import Split
from gabacalc.core.engine import (
    LIMIT_LABEL,
    LIMIT_RENAL,
    LIMIT_SPEED,
    LIMIT_STRENGTHS,
    LIMIT_TARGET,
    Day,
    Engine,
)
from gabacalc.core.taper import NoGradualStep, TaperStep, cut_range
from gabacalc.core.wording import fmt_mg, frequency_text
from gabacalc.errors import InputError
from gabacalc.rules import TaperPreset, TitrationPreset

__all__ = ["fewer_words", "lowered_at_once", "reduction", "taper_days", "titrate"]


def lowered_at_once(
    engine: Engine, max_doses: int, phase: str, taper: TaperPreset, flag_codes: list[str]
) -> list[Day]:
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
    return [Day(lowered, phase, (limit,), why, band.source_id)] * taper.interval_days


def titrate(
    engine: Engine,
    start: Split,
    target: int,
    preset: TitrationPreset,
    first_limits: tuple[str, ...],
    target_limits: tuple[str, ...],
) -> list[Day]:
    """Days from the start dose up to (and including) the first day at the target.

    ``target_limits`` says why a step that the target caps is lower than the preset's:
    the requested target itself, or what lowered the target (renal band, strengths).
    """
    rules = engine.rules
    source = preset.source_id
    days = [Day(start, "titration", first_limits, "start dose", source)]
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
        days.append(Day(nxt, "titration", tuple(dict.fromkeys(limits)), reason, source))
        current, t = nxt, t_next
    return days


def taper_days(
    engine: Engine,
    start: Split,
    preset: TaperPreset,
    flag_codes: list[str],
    *,
    from_mg: int | None = None,
    max_doses: int | None = None,
) -> list[Day]:
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
    days: list[Day] = []
    for step in steps:
        days.extend([Day(step.split, "taper", (), reason, source)] * preset.interval_days)
    _note_fewer(steps, flag_codes, engine)
    if not steps and mg > 0:
        if start.daily_mg < mg and start.daily_mg < cut_range(mg, preset)[0]:
            # Holding a dose the forms can make would itself be too large a cut.
            raise engine.no_gradual_step(NoGradualStep(mg, 0), count, preset)
        days.extend([Day(start, "taper", (), reason, source)] * preset.interval_days)
    stop = Split(0, 0, 0)
    days.append(Day(stop, "taper", (), "stop: no gabapentin from this day", source))
    return days


def _note_fewer(steps: Sequence[TaperStep], flag_codes: list[str], engine: Engine) -> None:
    fewer = [s.split for s in steps if s.fewer_doses]
    if not fewer:
        return
    flag_codes.append("TAPER_FEWER_DOSES")
    words = [f"{fmt_mg(s.daily_mg)}/day {frequency_text(s.doses_per_day)}" for s in fewer]
    engine.fewer_doses_words.extend(words)


def reduction(
    engine: Engine,
    current_mg: int,
    max_doses: int,
    target: int,
    preset: TaperPreset,
    flag_codes: list[str],
) -> list[Day]:
    """A re-plan from above the target: the taper preset's steps down to the target."""
    steps = engine.descend(current_mg, max_doses, preset, floor_mg=target)
    _note_fewer(steps, flag_codes, engine)
    reason = f"reduction toward the target ({preset.preset} taper steps: {preset.description})"
    days: list[Day] = []
    for k, step in enumerate(steps):
        held = preset.interval_days if k < len(steps) - 1 else 1
        days.extend(
            [Day(step.split, "reduction", (LIMIT_TARGET,), reason, preset.source_id)] * held
        )
    return days


def fewer_words(engine: Engine) -> str:
    """The steps taken in fewer administrations, for ``TAPER_FEWER_DOSES``."""
    words = list(dict.fromkeys(engine.fewer_doses_words))
    if not words:
        return ""
    return f"{' and '.join(words)} {'is' if len(words) == 1 else 'are'}"
