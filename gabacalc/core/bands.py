"""The label's renal dosing band: which applies, its proportional reduction, and its words.

Pure functions, for one patient or an array of them (``band_index``, ``band_scale``,
``scaled_daily_mg``), and the one patient's choice with its reason (:func:`select_band`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gabacalc.core.arrays import pick
from gabacalc.core.patient import DIALYSIS_CHOICES
from gabacalc.core.wording import fmt_beside_edges, fmt_number, is_exact
from gabacalc.errors import RuleTableError
from gabacalc.rules import RenalBand, Rules, default_rules

if TYPE_CHECKING:
    from gabacalc.core.renal import RenalEstimate

__all__ = [
    "BandChoice",
    "band_flag_codes",
    "band_index",
    "band_label",
    "band_scale",
    "crcl_text",
    "estimate_band",
    "scaled_daily_mg",
    "select_band",
]


def crcl_text(crcl_ml_min: float, rules: Rules | None = None, decimals: int = 1) -> str:
    """A CrCl [mL/min] as every output prints it: never across a band edge from its value.

    ``decimals`` decimals, or more where fewer would put the printed number on the other
    side of (or on) a band edge of ``tables/renal_bands.csv``: 59.97 under "below 60", never
    "60"; 30.004, never "30" (30 itself is in the band up to 30).

    Examples
    --------
    >>> crcl_text(59.97), crcl_text(30.004), crcl_text(32.349), crcl_text(60.0)
    ('59.97', '30.004', '32.3', '60')
    """
    edges = (rules or default_rules()).crcl_edges_ml_min
    return fmt_beside_edges(crcl_ml_min, edges, decimals)


@dataclass(frozen=True)
class BandChoice:
    """The renal band that applies, after the edge rule and any proportional reduction.

    Attributes
    ----------
    band : RenalBand
        The label's row.
    label : str
        The summary's and the cohort's ``band`` value: the same words as ``words``
        (the table's symbol form never reaches an output; ``band.band_id`` is the key to
        match on).
    words : str
        The band as a person reads it, in words: what every document prints.
    scale : float
        CrCl / 15 below 15 mL/min, else 1.
    min_daily_mg, max_daily_mg : int
        The range after scaling [mg/day] (scaled values rounded down to whole mg).
    doses_per_day : int
    reason : str
        Why this band: the CrCl and the edge rule, or the dialysis convention.
    flag_codes : tuple of str
    """

    band: RenalBand
    label: str
    scale: float
    min_daily_mg: int
    max_daily_mg: int
    doses_per_day: int
    reason: str
    flag_codes: tuple[str, ...]
    words: str = ""


def select_band(estimate: RenalEstimate, dialysis: str, rules: Rules | None = None) -> BandChoice:
    """Apply the unrounded CrCl to the label's bands (gabacalc's edge convention).

    Hemodialysis without a residual CrCl uses the CrCl 15 row unscaled; peritoneal
    dialysis uses the band for CrCl 15 or less (scaled by a residual CrCl below 15 if given).

    Examples
    --------
    >>> from gabacalc.core.patient import Patient
    >>> from gabacalc.core.renal import estimate_crcl
    >>> est = estimate_crcl(Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=7.5))
    >>> choice = select_band(est, "none")
    >>> choice.band.band_id, choice.min_daily_mg, choice.max_daily_mg, choice.doses_per_day
    ('crcl-15-or-less', 50, 150, 1)
    """
    rules = rules or default_rules()
    crcl = estimate.crcl_ml_min
    value = math.nan if crcl is None else crcl
    index = band_index(value, dialysis, rules)
    if index < 0:
        raise RuleTableError([f"no renal band contains CrCl {crcl!r} mL/min"])
    band = rules.bands[index]
    scale = band_scale(index, value, rules)
    hd_no_residual = dialysis == "hemodialysis" and crcl is None
    codes = band_flag_codes(hd_no_residual, dialysis == "peritoneal", scale < 1)
    if hd_no_residual:
        reason = "hemodialysis without a residual CrCl: the label's CrCl 15 row, unscaled"
    elif dialysis == "peritoneal":
        reason = f"peritoneal dialysis: the band for {band.words} (no label guidance)"
    else:
        assert crcl is not None
        text = crcl_text(crcl, rules, decimals=2)
        note = "unrounded" if is_exact(text, crcl) else "rounded; the band uses the unrounded value"
        reason = f"CrCl {text} mL/min ({note}) falls in {band.words}"
    words = band_label(band, scale)
    return BandChoice(
        band=band,
        label=words,
        scale=scale,
        min_daily_mg=scaled_daily_mg(band.min_daily_mg, scale),
        max_daily_mg=scaled_daily_mg(band.max_daily_mg, scale),
        doses_per_day=band.doses_per_day,
        reason=reason,
        flag_codes=codes,
        words=words,
    )


def estimate_band(estimate: RenalEstimate, rules: Rules | None = None) -> BandChoice | None:
    """The band the estimate alone places the patient in, or None if the dialysis status decides.

    A Cockcroft-Gault estimate comes from a serum creatinine, and a patient with one is never
    on dialysis, so its band is the no-dialysis band; a given CrCl's band depends on the
    dialysis status, which only a plan knows. What an estimate's display shows as its band.

    Examples
    --------
    >>> from gabacalc.core.patient import Patient
    >>> from gabacalc.core.renal import estimate_crcl
    >>> est = estimate_crcl(Patient(age_years=72, sex="female", weight_kg=60, scr=1.3))
    >>> estimate_band(est).band.band_id
    'crcl-30-60'
    >>> estimate_band(estimate_crcl(Patient(age_years=60, sex="male", weight_kg=70,
    ...                                     crcl_ml_min=40))) is None
    True
    """
    if estimate.method != "cockcroft-gault":
        return None
    return select_band(estimate, "none", rules)


def band_index(crcl_ml_min: Any, dialysis: Any, rules: Rules | None = None) -> Any:
    """Which band of ``rules.bands`` applies: for one patient or an array of them.

    The first band that contains the unrounded CrCl (the edge convention of
    ``tables/renal_bands.csv``); hemodialysis without a residual CrCl (NaN) and peritoneal
    dialysis take the lowest band. -1 where no band applies (no CrCl, no dialysis).

    Parameters
    ----------
    crcl_ml_min : float or array
        Unrounded CrCl [mL/min], NaN where there is none.
    dialysis : str or array of int
        A name of :data:`~gabacalc.core.patient.DIALYSIS_CHOICES`, or indices into it.
    rules : Rules, optional

    Examples
    --------
    >>> band_index(60.0, "none"), band_index(59.99, "none"), band_index(float("nan"), "none")
    (0, 1, -1)
    >>> band_index(float("nan"), "hemodialysis"), band_index(40.0, "peritoneal")
    (3, 3)
    """
    rules = rules or default_rules()
    crcl = crcl_ml_min
    code = DIALYSIS_CHOICES.index(dialysis) if isinstance(dialysis, str) else dialysis
    index = pick(code == code, -1, -1)  # (an array of -1 for an array)
    for i, band in enumerate(rules.bands):
        index = pick(band.contains(crcl) & (index < 0), i, index)
    hemo_without = (code == DIALYSIS_CHOICES.index("hemodialysis")) & (crcl != crcl)  # NaN
    lowest = hemo_without | (code == DIALYSIS_CHOICES.index("peritoneal"))
    return pick(lowest, len(rules.bands) - 1, index)


def band_scale(index: Any, crcl_ml_min: Any, rules: Rules | None = None) -> Any:
    """The label's proportional reduction: CrCl / 15 below 15 mL/min in the band that says
    so, else 1 (also where there is no CrCl). Scalar or array; ``index`` as
    :func:`band_index` gives it.

    Examples
    --------
    >>> band_scale(3, 7.5), band_scale(3, float("nan")), band_scale(0, 90.0)
    (0.5, 1.0, 1.0)
    """
    rules = rules or default_rules()
    crcl = crcl_ml_min
    threshold = _proportional_below(rules.bands, index)
    proportional = (crcl == crcl) & (threshold == threshold) & (crcl < threshold)  # not NaN
    return pick(proportional, crcl / pick(proportional, threshold, 1.0), 1.0)


def _proportional_below(bands: Sequence[RenalBand], index: Any) -> Any:
    """The proportional-reduction threshold [mL/min] of band ``index`` (NaN where the band
    has none): for an int, or per row for an array of indices."""
    if isinstance(index, np.ndarray):
        below = [
            math.nan if b.proportional_below_ml_min is None else b.proportional_below_ml_min
            for b in bands
        ]
        return np.asarray(below)[np.maximum(index, 0)]
    value = bands[max(int(index), 0)].proportional_below_ml_min
    return math.nan if value is None else value


def scaled_daily_mg(daily_mg: Any, scale: Any) -> Any:
    """A band's dose scaled by the proportional reduction, rounded down to whole mg
    (scalar or array).

    Examples
    --------
    >>> scaled_daily_mg(300, 0.5), scaled_daily_mg(300, 1.0)
    (150, 300)
    """
    scaled = daily_mg * scale + 1e-9
    if isinstance(scaled, np.ndarray):
        return np.floor(scaled).astype(np.int64)
    return math.floor(scaled)


def band_flag_codes(hd_no_residual: bool, peritoneal: bool, scaled: bool) -> tuple[str, ...]:
    """The flag codes a band choice raises, in their order: the one mapping, which
    :func:`select_band` uses and cohort mode tabulates.

    Examples
    --------
    >>> band_flag_codes(hd_no_residual=False, peritoneal=True, scaled=True)
    ('PERITONEAL_DIALYSIS', 'PROPORTIONAL_REDUCTION')
    """
    found = (
        (hd_no_residual, "HD_NO_RESIDUAL_CRCL"),
        (peritoneal and not hd_no_residual, "PERITONEAL_DIALYSIS"),
        (scaled, "PROPORTIONAL_REDUCTION"),
    )
    return tuple(code for raised, code in found if raised)


def band_label(band: RenalBand, scale: float) -> str:
    """The band in words, as every output prints it, with the proportional scale below 15 mL/min.

    Words, not symbols ("of 15 mL/min or less", not "<= 15"): the summary, the JSON record
    and the cohort's band column are read by people too. The scale keeps its side of 1:
    0.99999, never "1", for a CrCl just below 15.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> band_label(default_rules().bands[0], 1.0)
    'CrCl of 60 mL/min or more'
    >>> band_label(default_rules().bands[-1], 0.5)
    'CrCl of 15 mL/min or less, scaled by CrCl divided by 15 (factor 0.5)'
    """
    if scale >= 1:
        return band.words
    return (
        f"{band.words}, scaled by CrCl divided by "
        f"{fmt_number(band.proportional_below_ml_min or 0)} "
        f"(factor {fmt_beside_edges(scale, (1,), 3)})"
    )
