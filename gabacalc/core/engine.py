"""What the allowed forms can make for one band, and the refusal when they cannot.

:class:`Engine` is one plan's working state: the band's limits, the allowed forms and the
rules. Its refusals name what would make the dose possible (another strength, the oral
solution, another taper preset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gabacalc.core.doses import Formulary, Split, doses_for
from gabacalc.core.renal import BandChoice
from gabacalc.core.taper import NoGradualStep, TaperStep, cut_range, descend
from gabacalc.core.wording import fmt_mg, fmt_number
from gabacalc.errors import InputError
from gabacalc.rules import Rules, TaperPreset

__all__ = [
    "LIMIT_LABEL",
    "LIMIT_RENAL",
    "LIMIT_SPEED",
    "LIMIT_STRENGTHS",
    "LIMIT_TARGET",
    "BandLimits",
    "Day",
    "Engine",
]

LIMIT_RENAL = "renal band"
LIMIT_TARGET = "requested target"
LIMIT_STRENGTHS = "allowed strengths"
LIMIT_SPEED = "titration speed limit"
LIMIT_LABEL = "label maximum"


@dataclass(frozen=True)
class BandLimits:
    """What the engine reads of a renal band: its limits, administrations and words."""

    band_id: str
    words: str
    min_daily_mg: int
    max_daily_mg: int
    doses_per_day: int
    source_id: str

    @classmethod
    def of(cls, band: BandChoice) -> BandLimits:
        """The limits of a chosen band (after any proportional reduction)."""
        return cls(
            band_id=band.band.band_id,
            words=band.words,
            min_daily_mg=band.min_daily_mg,
            max_daily_mg=band.max_daily_mg,
            doses_per_day=band.doses_per_day,
            source_id=band.band.source_id,
        )


@dataclass(frozen=True)
class Day:
    """One day of a plan: the regimen, its phase, what limited it and why."""

    split: Split
    phase: str
    limited_by: tuple[str, ...] = ()
    reason: str = ""
    source_id: str = ""


class Engine:
    """One plan's working state: the band's limits, the allowed forms, and the rules."""

    def __init__(self, rules: Rules, band: BandLimits, formulary: Formulary) -> None:
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
        words = [f"{strength_words(small)} (strengths_mg / --strengths)"] if small else []
        step = self._solution_step()
        if self.formulary.solution is None and step is not None:
            words.append(
                f"the oral solution (oral_solution / --oral-solution), which measures "
                f"{fmt_mg(step)} steps"
            )
        if not words:
            return "no other labelled form can make it: consider a lower dose"
        return f"allow {' or '.join(words)}"

    def _smallest_measurable(self) -> float:
        solids = [s.strength_mg for s in self.rules.strengths if not s.is_solution]
        step = self._solution_step()
        return min([*solids, *([] if step is None else [step])])

    def _solution_step(self) -> float | None:
        """The oral solution's measuring step [mg]; None where the tables have no solution
        (local tables may leave it out)."""
        solution = next((s for s in self.rules.strengths if s.is_solution), None)
        if solution is None:
            return None
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
        helps = [f"{strength_words(solids)} (strengths_mg / --strengths)"] if solids else []
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
            fix += f", or use the {or_words(others)} taper (taper / --taper)"
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


def or_words(items: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def strength_words(strengths: Sequence[Any]) -> str:
    """E.g. ``"100 mg capsules"`` or ``"100 mg or 300 mg capsules or 600 mg tablets"``."""
    by_unit: dict[str, list[int]] = {}
    for s in strengths:
        by_unit.setdefault(s.unit_name, []).append(s.strength_mg)
    return or_words(
        [f"{or_words([fmt_mg(m) for m in mgs])} {unit}s" for unit, mgs in by_unit.items()]
    )


def _fraction_words(value: Any) -> str:
    names = {2: "a half", 3: "a third", 4: "a quarter", 5: "a fifth"}
    if value.numerator == 1 and value.denominator in names:
        return names[value.denominator]
    return f"{fmt_number(float(value) * 100)}%"
