"""The renal estimate and the band of every cohort row, with the core's own functions.

:func:`gabacalc.core.renal.estimate_crcl` and :func:`~gabacalc.core.renal.select_band` for
one patient, here on arrays: each step is the same scalar-or-array function of
``gabacalc.core.renal`` and ``gabacalc.core.patient``, so that the cohort and the single
patient cannot drift apart. Which rows pass Patient's and build_plan's input checks is
worked out here too, with the same limit and refusal functions; a row that does not is
planned on its own, which gives the refusal's message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gabacalc.core.cohort_parse import CohortColumns
from gabacalc.core.patient import DIALYSIS_CHOICES, in_limits, renal_input_refusal
from gabacalc.core.renal import (
    WEIGHT_BASES,
    adjusted_body_weight,
    band_index,
    band_scale,
    below_devine_height,
    body_mass_index,
    choose_weight_basis,
    cockcroft_gault,
    devine_ideal_weight,
    implausibly_high,
    low_creatinine_older_adult,
    scaled_daily_mg,
    scr_in_mg_dl,
)
from gabacalc.rules import Rules

__all__ = [
    "METHOD_NAMES",
    "BandArrays",
    "RenalArrays",
    "band_arrays",
    "options_ok",
    "renal_arrays",
]

#: The estimate's methods, as :attr:`RenalArrays.method` numbers them.
METHOD_NAMES = ("cockcroft-gault", "given", "not estimated")


@dataclass
class RenalArrays:
    """The renal estimate of every row (as :class:`~gabacalc.core.renal.RenalEstimate`)."""

    crcl: np.ndarray
    method: np.ndarray  # index into METHOD_NAMES
    used: np.ndarray  # 0 actual, 1 ideal, 2 adjusted, -1 none
    used_kg: np.ndarray
    ibw: np.ndarray
    abw: np.ndarray
    bmi: np.ndarray
    short: np.ndarray
    no_height: np.ndarray
    implausible: np.ndarray  # a Cockcroft-Gault estimate above what adults have
    low_scr: np.ndarray  # an older adult's low creatinine (low muscle mass)
    ok: np.ndarray  # the vectorised checks accept the row


def _whole(values: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.floor(values) == values
    return out


def renal_arrays(cols: CohortColumns, rules: Rules) -> RenalArrays:
    """:func:`gabacalc.core.renal.estimate_crcl` for every row (the same functions, on arrays),
    and which rows pass the input checks of Patient (the others are planned on their own)."""
    limits, num = rules.limits, cols.num
    age, weight, height = num["age_years"], num["weight_kg"], num["height_cm"]
    scr, given = num["scr"], num["crcl_ml_min"]
    has_height, has_scr, has_given = ~np.isnan(height), ~np.isnan(scr), ~np.isnan(given)
    on_dialysis = cols.dialysis != DIALYSIS_CHOICES.index("none")
    basis = cols.basis
    needs_height = (basis == WEIGHT_BASES.index("ideal")) | (
        basis == WEIGHT_BASES.index("adjusted")
    )

    scr_ok = np.where(
        cols.umol, in_limits(scr, limits["scr_umol_l"]), in_limits(scr, limits["scr_mg_dl"])
    )
    ok = (
        ~cols.odd
        & in_limits(age, limits["age_years"])
        & in_limits(weight, limits["weight_kg"])
        & (~has_height | in_limits(height, limits["height_cm"]))
        & (renal_input_refusal(has_scr, has_given, on_dialysis) == 0)
        & (~has_scr | scr_ok)
        & (~has_given | in_limits(given, limits["crcl_ml_min"]))
        & (has_height | ~needs_height)
    )

    ibw = devine_ideal_weight(height, cols.female, rules)
    abw = adjusted_body_weight(weight, ibw, rules)
    bmi = body_mass_index(weight, height)
    used, _ = choose_weight_basis(basis, weight, ibw, bmi, rules)
    used_kg = np.choose(used, [weight, ibw, abw])
    scr_mg_dl = scr_in_mg_dl(scr, cols.umol, rules)
    crcl_cg = cockcroft_gault(age, used_kg, scr_mg_dl, cols.female, rules)

    method = np.where(has_given, 1, np.where(has_scr, 0, 2)).astype(np.int8)
    estimated = method == 0
    crcl = np.where(has_given, given, np.where(estimated, crcl_cg, np.nan))
    return RenalArrays(
        crcl=crcl,
        method=method,
        used=np.where(estimated, used, -1).astype(np.int8),
        used_kg=np.where(estimated, used_kg, np.nan),
        ibw=ibw,
        abw=abw,
        bmi=bmi,
        short=has_height & below_devine_height(height, basis, rules),
        no_height=estimated & ~has_height,
        implausible=estimated & implausibly_high(crcl_cg, rules),
        low_scr=estimated & low_creatinine_older_adult(age, scr_mg_dl, rules),
        ok=ok,
    )


@dataclass
class BandArrays:
    """The band of every row (as :class:`~gabacalc.core.renal.BandChoice`)."""

    index: np.ndarray  # into rules.bands
    scale: np.ndarray
    min_mg: np.ndarray
    max_mg: np.ndarray
    doses: np.ndarray
    hd_no_residual: np.ndarray
    peritoneal: np.ndarray
    scaled: np.ndarray


def band_arrays(cols: CohortColumns, renal: RenalArrays, rules: Rules) -> BandArrays:
    """:func:`gabacalc.core.renal.select_band` for every row (the same functions, on arrays)."""
    crcl = renal.crcl
    index = band_index(crcl, cols.dialysis, rules)
    scale = band_scale(index, crcl, rules)
    safe = np.maximum(index, 0)
    band_min = np.array([b.min_daily_mg for b in rules.bands], dtype=np.int64)[safe]
    band_max = np.array([b.max_daily_mg for b in rules.bands], dtype=np.int64)[safe]
    return BandArrays(
        index=index,
        scale=scale,
        min_mg=scaled_daily_mg(band_min, scale),
        max_mg=scaled_daily_mg(band_max, scale),
        doses=np.array([b.doses_per_day for b in rules.bands], dtype=np.int64)[safe],
        hd_no_residual=(cols.dialysis == DIALYSIS_CHOICES.index("hemodialysis")) & np.isnan(crcl),
        peritoneal=cols.dialysis == DIALYSIS_CHOICES.index("peritoneal"),
        scaled=scale < 1,
    )


def options_ok(cols: CohortColumns, rules: Rules) -> np.ndarray:
    """The range checks of resolve_options that need no plan (the rest fall to the core)."""
    num, limits = cols.num, rules.limits

    def optional(name: str, parameter: str, whole: bool = True) -> np.ndarray:
        values = num[name]
        good = in_limits(values, limits[parameter])
        if whole:
            good &= _whole(values)
        out: np.ndarray = np.isnan(values) | good
        return out

    return (
        optional("start_daily_mg", "start_daily_mg")
        & optional("target_daily_mg", "target_daily_mg")
        & optional("review_weeks", "review_weeks")
        & optional("current_daily_mg", "current_daily_mg")
        & optional("current_doses_per_day", "current_doses_per_day")
    )
