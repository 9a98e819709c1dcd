"""Which doses the allowed strengths can make, and how to split a day's dose.

A dose is only worth printing if the patient can take it from the products the clinician
allows. ``Formulary`` answers three questions for the plan engine: can this single
administration be made (and from what), what is the largest daily dose at or below a cap
that splits into makeable administrations, and how is that day split (the larger dose at
bedtime).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from gabacalc.core.wording import administration_times, fmt_mg, fmt_ml, fmt_number
from gabacalc.errors import InputError
from gabacalc.rules import Rules, Strength
from gabacalc.rules.memo import memo

__all__ = ["Formulary", "Portion", "Split"]

# Highest single administration worth tabulating [mg]: above the label's 3,600 mg/day
# ceiling taken once, plus the largest post-dialysis supplement; only a table size.
_TABLE_LIMIT_MG = 4800
#: A refusal names at most this many of the values it refuses (then how many more).
_NAMED = 3


@dataclass(frozen=True)
class Split:
    """One day's dose as taken: mg at morning, midday and bedtime (0 where not given)."""

    morning_mg: int
    midday_mg: int
    bedtime_mg: int

    @property
    def daily_mg(self) -> int:
        """The total of the day's administrations [mg]."""
        return self.morning_mg + self.midday_mg + self.bedtime_mg

    @property
    def doses_per_day(self) -> int:
        """How many administrations are given."""
        return sum(1 for p in self.parts if p > 0)

    @property
    def parts(self) -> tuple[int, int, int]:
        """(morning, midday, bedtime) [mg]."""
        return (self.morning_mg, self.midday_mg, self.bedtime_mg)


@dataclass(frozen=True)
class Portion:
    """One product's share of an administration: how many units (or mL) of what.

    Attributes
    ----------
    product : str
        The product as prescribed, e.g. ``"gabapentin 300 mg capsule"``.
    strength_mg : int
        Per unit (capsule, tablet) or per ``volume_ml`` of the oral solution.
    unit_name : str
        ``"capsule"``, ``"tablet"`` or ``"oral solution"``.
    count : float
        Units, or mL for the oral solution.
    is_solution : bool
    mg_per_unit : float
        mg in one unit, or in 1 mL of the oral solution.
    appearance : str
        What the brand's product looks like, in words (``"white capsule, 100 mg"``).
    """

    product: str
    strength_mg: int
    unit_name: str
    count: float
    is_solution: bool
    mg_per_unit: float
    appearance: str


@dataclass(frozen=True)
class Formulary:
    """The strengths a clinician allows, and what they can make.

    Parameters
    ----------
    solid_mg : tuple of int
        Allowed capsule/tablet strengths [mg].
    solution : Strength or None
        The oral solution, when allowed.
    solid_forms : tuple of (int, str)
        ``(strength_mg, unit_name)`` for wording, e.g. ``(300, "capsule")``.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> f = Formulary.from_options(default_rules(), (100, 300, 400, 600, 800), False)
    >>> f.describe(500)
    '1 x 400 mg capsule and 1 x 100 mg capsule'
    >>> f.split(1000, 3)
    Split(morning_mg=300, midday_mg=300, bedtime_mg=400)
    """

    solid_mg: tuple[int, ...]
    solid_forms: tuple[tuple[int, str], ...]
    solution: Strength | None
    preferred: tuple[tuple[int, tuple[int, ...]], ...] = ()
    appearance: tuple[tuple[int, str], ...] = ()

    @classmethod
    def from_options(
        cls, rules: Rules, strengths_mg: Iterable[int] | None, oral_solution: bool
    ) -> Formulary:
        """Build from the clinician's choices, checking each strength is a labelled one.

        Built once per choice and rule tables (a Formulary is frozen, so one is shared);
        a refused choice is refused each time.
        """
        requested = None if strengths_mg is None else tuple(strengths_mg)
        # Keyed by each strength's type too: 300.0 and 300 are equal but not the same choice.
        key = (
            None if requested is None else tuple((type(mg), mg) for mg in requested),
            oral_solution,
        )
        built = memo(rules, "formularies")
        found = built.get(key)
        if found is None:
            found = built[key] = cls._build(rules, requested, oral_solution)
        return found

    @classmethod
    def _build(
        cls, rules: Rules, strengths_mg: tuple[int, ...] | None, oral_solution: bool
    ) -> Formulary:
        solids = {s.strength_mg: s for s in rules.strengths if not s.is_solution}
        if strengths_mg is None:
            chosen = tuple(sorted(mg for mg, s in solids.items() if s.default_allowed))
        else:
            requested = list(strengths_mg)
            unknown = list(dict.fromkeys(mg for mg in requested if mg not in solids))
            if unknown:
                named = ", ".join(fmt_mg(u) for u in unknown[:_NAMED])
                if len(unknown) > _NAMED:
                    named += f" and {len(unknown) - _NAMED:,} more"
                what = (
                    f"strength {named} is not a labelled capsule or tablet"
                    if len(unknown) == 1
                    else f"strengths {named} are not labelled capsules or tablets"
                )
                raise InputError(
                    f"{what}; allowed strengths are {', '.join(fmt_mg(m) for m in sorted(solids))}",
                    field="strengths_mg",
                )
            chosen = tuple(sorted(set(requested)))
        solution = next((s for s in rules.strengths if s.is_solution), None)
        if not chosen and not (oral_solution and solution):
            raise InputError(
                "no strength is allowed: allow at least one capsule or tablet strength "
                f"({', '.join(fmt_mg(m) for m in sorted(solids))}) or the oral solution",
                field="strengths_mg",
            )
        return cls(
            solid_mg=chosen,
            solid_forms=tuple((mg, solids[mg].unit_name) for mg in chosen),
            solution=solution if oral_solution else None,
            preferred=tuple(
                (dose, units)
                for dose, units in sorted(rules.preferred_combinations.items())
                if set(units) <= set(chosen)
            ),
            appearance=tuple((mg, solids[mg].appearance) for mg in chosen),
        )

    # ------------------------------------------------------------------ single doses
    @property
    def solution_step_mg(self) -> float | None:
        """The smallest dose the oral solution measures [mg] (its volume step)."""
        if self.solution is None:
            return None
        assert self.solution.volume_ml is not None and self.solution.measure_step_ml is not None
        return self.solution.strength_mg / self.solution.volume_ml * self.solution.measure_step_ml

    @property
    def quantum_mg(self) -> int:
        """The finest dose increment any allowed form offers [mg]."""
        quanta = list(self.solid_mg)
        step = self.solution_step_mg
        if step is not None:
            quanta.append(int(step))
        return functools.reduce(math.gcd, quanta)

    def can_make(self, dose_mg: float, *, solids_only: bool = False) -> bool:
        """Whether one administration of ``dose_mg`` can be measured exactly."""
        if dose_mg <= 0 or dose_mg != int(dose_mg) or dose_mg > _TABLE_LIMIT_MG:
            return False
        if self._combo(int(dose_mg)) is not None:
            return True
        if solids_only:
            return False
        step = self.solution_step_mg
        return step is not None and int(dose_mg) % step == 0

    def floor_single(self, dose_mg: float) -> int:
        """The largest makeable single administration at or below ``dose_mg`` (0 if none)."""
        dose = min(math.floor(dose_mg), _TABLE_LIMIT_MG)
        for candidate in range(dose, 0, -1):
            if self.can_make(candidate):
                return candidate
        return 0

    def describe(self, dose_mg: int) -> str:
        """What to take for one administration, e.g. ``"1 x 300 mg capsule"``."""
        if dose_mg <= 0:
            return ""
        combo = self._combo(dose_mg)
        if combo is not None:
            names = dict(self.solid_forms)
            return " and ".join(
                f"{count} x {fmt_mg(mg)} {names[mg]}{'s' if count > 1 else ''}"
                for mg, count in combo
            )
        solution = self.solution
        if solution is None or solution.volume_ml is None:
            raise InputError(f"{fmt_mg(dose_mg)} cannot be made from the allowed strengths")
        volume = dose_mg * solution.volume_ml / solution.strength_mg
        return f"{fmt_ml(volume)} {solution.unit_name} ({fmt_mg(dose_mg)})"

    def _combo(self, dose_mg: int) -> tuple[tuple[int, int], ...] | None:
        """(strength, count) pairs for one administration, the preferred combination first."""
        for dose, units in self.preferred:
            if dose == dose_mg:
                counts: dict[int, int] = {}
                for mg in units:
                    counts[mg] = counts.get(mg, 0) + 1
                return tuple(sorted(counts.items(), reverse=True))
        return _solid_combo(self.solid_mg, dose_mg)

    def portions(self, dose_mg: int) -> tuple[Portion, ...]:
        """What one administration of ``dose_mg`` is made of, product by product.

        Examples
        --------
        >>> from gabacalc.rules import default_rules
        >>> f = Formulary.from_options(default_rules(), (100, 300, 400, 600, 800), False)
        >>> [(p.product, p.count) for p in f.portions(700)]
        [('gabapentin 400 mg capsule', 1), ('gabapentin 300 mg capsule', 1)]
        """
        if dose_mg <= 0:
            return ()
        combo = self._combo(dose_mg)
        if combo is not None:
            names = dict(self.solid_forms)
            looks = dict(self.appearance)
            return tuple(
                Portion(
                    product=f"gabapentin {fmt_mg(mg)} {names[mg]}",
                    strength_mg=mg,
                    unit_name=names[mg],
                    count=count,
                    is_solution=False,
                    mg_per_unit=mg,
                    appearance=looks.get(mg, ""),
                )
                for mg, count in combo
            )
        solution = self.solution
        if solution is None or solution.volume_ml is None:
            raise InputError(f"{fmt_mg(dose_mg)} cannot be made from the allowed strengths")
        per_ml = solution.strength_mg / solution.volume_ml
        return (
            Portion(
                product=(
                    f"gabapentin oral solution {fmt_number(solution.strength_mg)} mg per "
                    f"{fmt_ml(solution.volume_ml)} ({fmt_number(per_ml)} mg per mL)"
                ),
                strength_mg=solution.strength_mg,
                unit_name=solution.unit_name,
                count=dose_mg / per_ml,
                is_solution=True,
                mg_per_unit=per_ml,
                appearance=solution.appearance,
            ),
        )

    def forms_text(self) -> str:
        """The allowed forms in words, e.g. ``"100 mg, 300 mg capsules; oral solution"``."""
        words = [fmt_mg(mg) + " " + name for mg, name in self.solid_forms]
        if self.solution is not None:
            words.append(
                f"oral solution {fmt_number(self.solution.strength_mg)} mg per "
                f"{fmt_ml(self.solution.volume_ml or 0)}"
            )
        return ", ".join(words)

    # ------------------------------------------------------------------ daily doses
    def split(self, daily_mg: int, doses_per_day: int) -> Split | None:
        """The most even split of a day's dose into makeable administrations.

        The larger administrations go last in the day (bedtime first, then midday).
        Returns None when no split into ``doses_per_day`` makeable administrations exists.
        """
        return _split(self, daily_mg, doses_per_day)

    def floor_daily(
        self, cap_mg: float, max_doses_per_day: int, administration_size_mg: int
    ) -> Split | None:
        """The largest makeable day's dose at or below ``cap_mg``, split as it would be taken.

        The number of administrations grows with the dose: one per ``administration_size_mg``
        (the label's 300 mg once, twice, three times daily), up to ``max_doses_per_day``.
        """
        return _floor_daily(self, cap_mg, max_doses_per_day, administration_size_mg)

    def split_for_daily(
        self, daily_mg: int, max_doses_per_day: int, administration_size_mg: int
    ) -> Split | None:
        """Split a day's dose using the administration count the dose calls for."""
        count = doses_for(daily_mg, max_doses_per_day, administration_size_mg)
        return self.split(daily_mg, count)


def doses_for(daily_mg: float, max_doses_per_day: int, administration_size_mg: int) -> int:
    """Administrations for a day's dose: one per ``administration_size_mg``, capped.

    Examples
    --------
    >>> doses_for(300, 3, 300), doses_for(400, 3, 300), doses_for(1800, 2, 300)
    (1, 2, 2)
    """
    return max(1, min(max_doses_per_day, math.ceil(daily_mg / administration_size_mg)))


@functools.lru_cache(maxsize=64)
def _solid_table(solid_mg: tuple[int, ...]) -> tuple[tuple[tuple[int, int], ...] | None, ...]:
    """For every dose 0..limit, the fewest-units combination of the strengths (or None)."""
    best: list[tuple[int, ...] | None] = [None] * (_TABLE_LIMIT_MG + 1)
    best[0] = ()
    # Larger strengths first, so ties in unit count prefer larger strengths.
    for dose in range(1, _TABLE_LIMIT_MG + 1):
        choice: tuple[int, ...] | None = None
        for mg in sorted(solid_mg, reverse=True):
            if mg <= dose and best[dose - mg] is not None:
                prev = best[dose - mg]
                assert prev is not None
                candidate = tuple(sorted((mg, *prev), reverse=True))
                if choice is None or _better(candidate, choice):
                    choice = candidate
        best[dose] = choice
    out: list[tuple[tuple[int, int], ...] | None] = []
    for units in best:
        if units is None:
            out.append(None)
            continue
        counts: dict[int, int] = {}
        for mg in units:
            counts[mg] = counts.get(mg, 0) + 1
        out.append(tuple(sorted(counts.items(), reverse=True)))
    return tuple(out)


def _better(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Fewer units first, then fewer different strengths, then larger strengths."""
    return (len(a), len(set(a)), [-x for x in a]) < (len(b), len(set(b)), [-x for x in b])


def _solid_combo(solid_mg: tuple[int, ...], dose_mg: int) -> tuple[tuple[int, int], ...] | None:
    if not solid_mg or dose_mg <= 0 or dose_mg > _TABLE_LIMIT_MG:
        return None
    return _solid_table(solid_mg)[dose_mg]


@functools.lru_cache(maxsize=65536)
def _floor_daily(
    formulary: Formulary, cap_mg: float, max_doses_per_day: int, administration_size_mg: int
) -> Split | None:
    quantum = formulary.quantum_mg
    daily = math.floor(cap_mg / quantum) * quantum
    while daily > 0:
        found = formulary.split_for_daily(daily, max_doses_per_day, administration_size_mg)
        if found is not None:
            return found
        daily -= quantum
    return None


@functools.lru_cache(maxsize=65536)
def _split(formulary: Formulary, daily_mg: int, doses_per_day: int) -> Split | None:
    if daily_mg <= 0 or doses_per_day not in (1, 2, 3):
        return None
    quantum = formulary.quantum_mg
    if daily_mg % quantum:
        return None
    units = daily_mg // quantum
    if units < doses_per_day:
        return None
    # Candidate splits, most even first; within the same spread, the extra on bedtime.
    candidates: list[tuple[int, tuple[int, ...]]] = []
    if doses_per_day == 1:
        candidates.append((0, (units,)))
    elif doses_per_day == 2:
        for first in range(units // 2, 0, -1):
            candidates.append((units - 2 * first, (first, units - first)))
    else:
        for first in range(units // 3, 0, -1):
            for second in range(first, (units - first) // 2 + 1):
                third = units - first - second
                if third >= second:
                    candidates.append((third - first, (first, second, third)))
    candidates.sort(key=lambda c: c[0])
    # Capsules and tablets where they can make the day; the oral solution only if needed.
    passes = (True, False) if formulary.solution is not None else (True,)
    for solids_only, (_, parts_units) in (
        (solids_only, c) for solids_only in passes for c in candidates
    ):
        parts = [p * quantum for p in parts_units]
        if all(formulary.can_make(p, solids_only=solids_only) for p in parts):
            named = dict(zip(administration_times(doses_per_day), parts, strict=True))
            return Split(
                morning_mg=named.get("morning", 0),
                midday_mg=named.get("midday", 0),
                bedtime_mg=named.get("bedtime", 0),
            )
    return None
