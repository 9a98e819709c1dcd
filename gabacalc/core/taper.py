"""How a dose comes down: the taper presets' steps, made from the allowed strengths.

The label (NEURONTIN 2.5) asks that any reduction or stop be gradual, over at least a week,
because stopping abruptly risks withdrawal seizures. A taper preset in
``tables/taper_presets.csv`` says how far one step may go (``weekly``: 300 mg/day while
above 300 mg/day, then 100 mg/day; ``gradual``: about a quarter of the dose, never more
than ``max_cut_fraction``) and the largest dose it stops from (``stop_from_max_mg``).

The allowed strengths cannot always make the preset's step. Then a step is taken:

1. as the preset's step if it can be made, else the nearest makeable dose that is still a
   smaller cut than the preset allows (never a larger one);
2. in as many administrations as the dose calls for (never more than the step before), or
   in fewer where the strengths cannot split it (1,200 mg as 600 mg twice daily);
3. and where no such dose exists, the taper is refused (:class:`NoGradualStep`), never
   replaced by a jump or a stop.

Pure: no I/O. Used by the titration plan's conditional taper, by a re-plan that comes down
to its target, and by :func:`gabacalc.build_taper`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from gabacalc.core.doses import Formulary, Split, doses_for
from gabacalc.rules import TaperPreset

__all__ = ["NoGradualStep", "TaperStep", "cut_range", "descend", "next_step"]


class NoGradualStep(Exception):
    """No step the preset allows can be made from the allowed strengths at ``daily_mg``."""

    def __init__(self, daily_mg: int, floor_mg: int) -> None:
        super().__init__(daily_mg, floor_mg)
        self.daily_mg = daily_mg
        self.floor_mg = floor_mg


@dataclass(frozen=True)
class TaperStep:
    """One step down: the dose as taken, and whether it uses fewer administrations."""

    split: Split
    fewer_doses: bool


def cut_range(daily_mg: int, preset: TaperPreset) -> tuple[int, int, float]:
    """The doses one step of ``preset`` may go to from ``daily_mg``.

    Returns ``(lowest, highest, preferred)`` [mg/day]: the next dose must be at least
    ``lowest`` (the largest cut the preset allows) and at most ``highest`` (the smallest
    cut worth a step); ``preferred`` is the preset's own step.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> presets = default_rules().taper_presets
    >>> cut_range(1800, presets["weekly"]), cut_range(200, presets["weekly"])
    ((1500, 1799, 1500), (100, 199, 100))
    >>> cut_range(300, presets["gradual"])
    (200, 275, 225.0)
    """
    if preset.kind == "fixed":
        assert preset.step_mg and preset.low_threshold_mg and preset.low_step_mg
        if daily_mg > preset.low_threshold_mg:
            lowest = max(daily_mg - preset.step_mg, preset.low_threshold_mg)
        else:
            lowest = daily_mg - preset.low_step_mg
        return lowest, daily_mg - 1, lowest
    assert preset.fraction is not None and preset.min_step_mg is not None
    assert preset.max_cut_fraction is not None
    lowest = math.ceil(daily_mg * (1 - preset.max_cut_fraction))
    return lowest, daily_mg - preset.min_step_mg, daily_mg * (1 - preset.fraction)


def next_step(
    formulary: Formulary,
    daily_mg: int,
    max_doses: int,
    administration_size_mg: int,
    preset: TaperPreset,
    floor_mg: int = 0,
) -> TaperStep | None:
    """The next step down from ``daily_mg`` toward ``floor_mg``; None: stop from here.

    Stopping is allowed only on the way to 0 and from at most the preset's
    ``stop_from_max_mg``. Administrations never exceed ``max_doses``.

    Raises
    ------
    NoGradualStep
        No dose the preset allows can be made from the allowed strengths.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> rules = default_rules()
    >>> only_600 = Formulary.from_options(rules, (600,), False)
    >>> only_400 = Formulary.from_options(rules, (400,), False)
    >>> step = next_step(only_400, 1000, 3, 300, rules.taper_presets["weekly"])
    >>> step.split, step.fewer_doses  # 800 mg/day as 400 mg twice daily, not skipped
    (Split(morning_mg=400, midday_mg=0, bedtime_mg=400), True)
    >>> next_step(only_600, 1800, 3, 300, rules.taper_presets["weekly"])
    Traceback (most recent call last):
    ...
    gabacalc.core.taper.NoGradualStep: (1800, 0)
    """
    lowest, highest, preferred = cut_range(daily_mg, preset)
    if floor_mg == 0 and preset.kind == "fixed" and lowest <= 0:
        if daily_mg <= preset.stop_from_max_mg:
            return None  # the preset's last step: stop
        raise NoGradualStep(daily_mg, floor_mg)
    quantum = formulary.quantum_mg
    first = max(lowest, floor_mg, 1)
    doses = [d for d in range(math.ceil(first / quantum) * quantum, highest + 1, quantum) if d > 0]
    if preset.kind == "fixed":
        doses.sort()  # the preset's step where it can be made, else the nearest smaller cut
    else:
        doses.sort(key=lambda d: (abs(d - max(preferred, floor_mg)), d))
    for dose, count, fewer in _candidates(doses, max_doses, administration_size_mg):
        split = formulary.split(dose, count)
        if split is not None:
            return TaperStep(split, fewer)
    if floor_mg == 0 and daily_mg <= preset.stop_from_max_mg:
        return None
    raise NoGradualStep(daily_mg, floor_mg)


def _candidates(
    doses: list[int], max_doses: int, administration_size_mg: int
) -> Iterator[tuple[int, int, bool]]:
    """(dose, administrations, fewer than usual): the usual count for every dose first."""
    for dose in doses:
        yield dose, doses_for(dose, max_doses, administration_size_mg), False
    for dose in doses:
        usual = doses_for(dose, max_doses, administration_size_mg)
        for count in range(usual - 1, 0, -1):
            yield dose, count, True


def descend(
    formulary: Formulary,
    daily_mg: int,
    max_doses: int,
    administration_size_mg: int,
    preset: TaperPreset,
    floor_mg: int = 0,
) -> list[TaperStep]:
    """Every step from ``daily_mg`` down to ``floor_mg`` (to 0: the steps before the stop).

    Each step's administrations are at most the step before's.

    Raises
    ------
    NoGradualStep
        At the first dose from which no allowed step can be made.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> rules = default_rules()
    >>> f = Formulary.from_options(rules, None, False)
    >>> [s.split.daily_mg for s in descend(f, 1200, 3, 300, rules.taper_presets["weekly"])]
    [900, 600, 300, 200, 100]
    >>> [s.split.daily_mg for s in descend(f, 1200, 3, 300, rules.taper_presets["weekly"], 700)]
    [900, 700]
    """
    steps: list[TaperStep] = []
    mg, count = daily_mg, max_doses
    while mg > floor_mg:
        step = next_step(formulary, mg, count, administration_size_mg, preset, floor_mg)
        if step is None:
            break
        steps.append(step)
        mg, count = step.split.daily_mg, step.split.doses_per_day
    return steps
