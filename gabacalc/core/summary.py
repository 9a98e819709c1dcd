"""A plan's summary: its key figures as one typed, JSON-serialisable record.

:class:`Summary` names every key with its type, so that each reader (the renderers, the
files, cohort mode) is checked by mypy; :class:`Flag` is one raised flag, worded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from gabacalc.core.doses import Split
from gabacalc.core.wording import fmt_mg, fmt_number
from gabacalc.rules import Rules
from gabacalc.rules.flags import in_severity_order

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.course import Course

__all__ = ["Flag", "Inputs", "Summary", "regimen_text", "taper_summary", "worded_flags"]


class Flag(TypedDict):
    """One raised flag of ``tables/flags.csv``, its message and action worded for the plan."""

    code: str
    severity: str
    message: str
    action: str
    source_id: str
    source_section: str


class Inputs(TypedDict):
    """What a plan was built from, as asked for (:func:`gabacalc.rebuild_plan` reads it)."""

    patient: dict[str, Any]
    options: dict[str, Any]


class Summary(TypedDict):
    """A plan's key figures (see :func:`gabacalc.build_plan`); dates are ISO strings.

    A taper (``kind="taper"``) has no titration and no review: its ``titration``,
    ``review_weeks`` and review texts are None, and so are the target's date and day.
    """

    verification: str
    gabacalc_version: str
    rules_version: str
    rules_sha256: str
    crcl_ml_min: float | None
    crcl_text: str | None
    crcl_method: str
    crcl_source: str
    weight_basis: str
    weight_used: str | None
    weight_used_kg: float | None
    weight_reason: str
    ideal_weight_kg: float | None
    adjusted_weight_kg: float | None
    bmi_kg_m2: float | None
    band: str
    band_words: str
    band_id: str
    band_reason: str
    band_rule: str
    band_source: str
    band_scale: float
    doses_per_day: int
    min_daily_mg: int
    max_daily_mg: int
    start_daily_mg: int
    requested_start_daily_mg: int
    target_daily_mg: int
    requested_target_daily_mg: int
    #: Why the target (a taper's: the dose it holds) is below the requested one (a taper's:
    #: the current dose): "renal band", "allowed strengths", both, or none (as requested).
    target_limited_by: list[str]
    target_doses_per_day: int
    target_regimen: str
    titration: str | None
    titration_description: str
    titration_source: str
    taper: str
    taper_description: str
    taper_source: str
    weight_basis_source: str
    review_weeks: int | None
    max_products: int | None
    allowed_forms: str
    start_date: str
    target_reached_date: str | None
    target_reached_day: int | None
    review_date: str | None
    review_rule: str | None
    review_with_benefit: str | None
    review_without_benefit: str | None
    taper_start_date: str
    taper_end_date: str
    taper_note: str
    post_dialysis_mg: int | None
    dialysis: str
    kind: Literal["titration", "taper"]
    current_daily_mg: int | None
    current_doses_per_day: int | None
    current_regimen: str | None
    day1_change: str | None
    flags: list[Flag]
    guidance: list[dict[str, str]]
    inputs: Inputs


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


def raised_codes(rules: Rules, codes: Sequence[str]) -> list[str]:
    """The codes of a plan's flags, as :func:`worded_flags` lists them: each raised code
    once, most urgent first.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> raised_codes(default_rules(), ["SOMNOLENCE_DRIVING", "RESP_OPIOIDS", "RESP_OPIOIDS"])
    ['RESP_OPIOIDS', 'SOMNOLENCE_DRIVING']
    """
    return in_severity_order(codes, rules.flags)


def worded_flags(rules: Rules, codes: Sequence[str], context: Mapping[str, Any]) -> list[Flag]:
    """Each raised code once, most urgent first, its message and action worded."""
    words = _Words(context)
    out: list[Flag] = []
    for code in raised_codes(rules, codes):
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


def summary_of(course: Course, post_dialysis_mg: int | None, flags: list[Flag]) -> Summary:
    """The summary of a course (a taper's with :func:`taper_summary` applied)."""
    patient, options, rules = course.patient, course.options, course.rules
    estimate, band, start = course.estimate, course.band, course.options.start_date
    reached_index, review_index = course.reached_index, course.review_index
    titration = rules.titration_presets[options.titration]
    taper = rules.taper_presets[options.taper]
    stamp = rules.provenance
    summary: Summary = {
        "verification": stamp.verification,
        "gabacalc_version": stamp.gabacalc_version,
        "rules_version": stamp.rules_version,
        "rules_sha256": stamp.rules_sha256,
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
        "target_daily_mg": course.target,
        "requested_target_daily_mg": options.target_daily_mg,
        "target_limited_by": list(course.schedule.target_limited_by),
        "target_doses_per_day": course.target_split.doses_per_day,
        "target_regimen": regimen_text(course.target_split),
        "titration": options.titration,
        "titration_description": titration.description,
        "titration_source": f"{titration.source_id} {titration.source_section}",
        "taper": options.taper,
        "taper_description": taper.description,
        "taper_source": f"{taper.source_id} {taper.source_section}",
        "weight_basis_source": _weight_source(course),
        "review_weeks": options.review_weeks,
        "max_products": options.max_products,
        "allowed_forms": course.formulary.forms_text(),
        "start_date": _iso(start, 0),
        "target_reached_date": None if reached_index is None else _iso(start, reached_index),
        "target_reached_day": None if reached_index is None else reached_index + 1,
        "review_date": None if review_index is None else _iso(start, review_index),
        "review_rule": rules.texts["review_rule"],
        "review_with_benefit": rules.texts["review_with_benefit"],
        "review_without_benefit": rules.texts["review_without_benefit"],
        "taper_start_date": _iso(start, course.taper_index),
        "taper_end_date": _iso(start, course.stop_index),
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
    return taper_summary(summary, rules) if course.kind == "taper" else summary


def _iso(start: date, day_index: int) -> str:
    return (start + timedelta(days=day_index)).isoformat()


def _weight_source(course: Course) -> str:
    estimate = course.estimate
    source = "gabacalc-conventions clinical-basis section 3 (weight for Cockcroft-Gault)"
    if estimate.weight_used_kg is not None and estimate.weight_used in ("ideal", "adjusted"):
        source += "; devine-1974 (ideal body weight)"
    return source


def taper_summary(summary: Summary, rules: Rules) -> Summary:
    """A taper's summary: the current dose is the plan; no titration and no review."""
    current = summary["current_daily_mg"]
    assert current is not None  # a taper comes down from the current dose
    taper = summary.copy()
    taper["kind"] = "taper"
    taper["requested_target_daily_mg"] = current
    taper["taper_note"] = (
        rules.texts["taper_is_the_plan"]
        + " The taper end date is the first day with no gabapentin."
    )
    taper["review_with_benefit"] = None
    taper["review_without_benefit"] = None
    taper["review_rule"] = None
    taper["review_weeks"] = None  # a taper has no titration and no review
    taper["titration"] = None
    taper["guidance"] = [g for g in summary["guidance"] if g["when"] != "during titration"]
    return taper


_WHEN = {"morning": "in the morning", "midday": "at midday", "bedtime": "at bedtime"}


def regimen_text(split: Split) -> str:
    """E.g. ``"700 mg in the morning, 700 mg at bedtime"``."""
    doses = {"morning": split.morning_mg, "midday": split.midday_mg, "bedtime": split.bedtime_mg}
    return ", ".join(
        f"{fmt_mg(doses[time])} {words}" for time, words in _WHEN.items() if doses[time]
    )
