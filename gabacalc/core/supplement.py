"""The post-hemodialysis supplement: the label's dose for each maintenance dose, what the
allowed forms make of it, and the flags and words a plan on hemodialysis carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gabacalc.core.doses import Formulary
from gabacalc.core.renal import BandChoice
from gabacalc.core.wording import fmt_mg, fmt_number
from gabacalc.rules import Rules

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.course import Course

__all__ = ["Supplements", "dialysis_supplement"]


class Supplements:
    """The supplement for each daily dose of one plan, worked out once per dose.

    Calling it with a maintenance dose [mg/day] gives (column, the label's supplement
    [mg], the dose the allowed forms make [mg]).
    """

    def __init__(self, rules: Rules, band: BandChoice, formulary: Formulary) -> None:
        self.rules, self.band, self.formulary = rules, band, formulary
        self._found: dict[int, tuple[int, float, int]] = {}

    def __call__(self, daily_mg: int) -> tuple[int, float, int]:
        if daily_mg not in self._found:
            self._found[daily_mg] = _supplement(self.rules, self.band, self.formulary, daily_mg)
        return self._found[daily_mg]


def dialysis_supplement(course: Course, supplement: Supplements) -> int | None:
    """Raise the supplement's flags and words on ``course``; the target's supplement [mg].

    None for a taper whose steps' supplements differ.
    """
    rules, formulary, context = course.rules, course.formulary, course.context
    flag_codes, target = course.flag_codes, course.target
    flag_codes.append("HD_SUPPLEMENT")
    given = sorted({d.split.daily_mg for d in course.days if d.split.daily_mg > 0}, reverse=True)
    post_dialysis_target: int | None
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
    return post_dialysis_target


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


def _supplement_words(course: Course, supplement: Supplements, daily_mg: int) -> str:
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
