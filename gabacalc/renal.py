"""Renal function: Cockcroft-Gault, body-weight bases, and the label's dosing band.

Pure functions: numbers and rule tables in, numbers and frozen dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gabacalc.errors import InputError
from gabacalc.patient import Patient
from gabacalc.rules import RenalBand, Rules, default_rules
from gabacalc.wording import VERIFICATION_TEXT, fmt_beside_edges, fmt_number, is_exact

__all__ = [
    "WEIGHT_BASES",
    "BandChoice",
    "RenalEstimate",
    "adjusted_body_weight",
    "band_label",
    "body_mass_index",
    "cockcroft_gault",
    "crcl_text",
    "devine_ideal_weight",
    "estimate_crcl",
    "implausibly_high",
    "low_creatinine_older_adult",
    "select_band",
]

WEIGHT_BASES = ("auto", "actual", "ideal", "adjusted")


def cockcroft_gault(
    age_years: float, weight_kg: float, scr_mg_dl: float, sex: str, rules: Rules | None = None
) -> float:
    """Creatinine clearance by Cockcroft-Gault [mL/min].

    ``(140 - age) x weight / (72 x SCr)``, times 0.85 for women (constants from
    ``tables/formula_constants.csv``).

    Parameters
    ----------
    age_years : float
        Age [years].
    weight_kg : float
        The body weight chosen for the estimate [kg].
    scr_mg_dl : float
        Serum creatinine [mg/dL].
    sex : {"female", "male"}
    rules : Rules, optional
        Rule tables (default the shipped ones).

    Returns
    -------
    float
        Unrounded CrCl [mL/min].

    References
    ----------
    Cockcroft DW, Gault MH. Nephron 1976;16:31-41 (``cockcroft-gault-1976``).

    Examples
    --------
    >>> round(cockcroft_gault(72, 60, 1.3, "female"), 2)
    37.05
    >>> round(cockcroft_gault(50, 80, 1.0, "male"), 1)
    100.0
    """
    c = (rules or default_rules()).constants
    crcl = (c["cg_age_offset"] - age_years) * weight_kg / (c["cg_divisor"] * scr_mg_dl)
    return crcl * c["cg_female_factor"] if sex == "female" else crcl


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


def devine_ideal_weight(height_cm: float, sex: str, rules: Rules | None = None) -> float:
    """Ideal body weight by Devine [kg]: 50 (men) or 45.5 (women) + 2.3 kg per inch over 60.

    References
    ----------
    Devine BJ. Drug Intell Clin Pharm 1974;8:650-655 (``devine-1974``).

    Examples
    --------
    >>> round(devine_ideal_weight(160, "female"), 2)
    52.38
    >>> round(devine_ideal_weight(152.4, "male"), 2)
    50.0
    """
    c = (rules or default_rules()).constants
    base = c["ibw_base_male_kg"] if sex == "male" else c["ibw_base_female_kg"]
    inches = height_cm / c["cm_per_inch"]
    return base + c["ibw_kg_per_inch"] * (inches - c["ibw_base_height_in"])


def adjusted_body_weight(actual_kg: float, ideal_kg: float, rules: Rules | None = None) -> float:
    """Adjusted body weight [kg]: IBW + 0.4 x (actual - IBW).

    Examples
    --------
    >>> adjusted_body_weight(100, 60)
    76.0
    """
    factor = (rules or default_rules()).constants["abw_factor"]
    return ideal_kg + factor * (actual_kg - ideal_kg)


def body_mass_index(weight_kg: float, height_cm: float) -> float:
    """Body mass index [kg/m^2].

    Examples
    --------
    >>> round(body_mass_index(60, 160), 1)
    23.4
    """
    return weight_kg / (height_cm / 100) ** 2


@dataclass(frozen=True)
class RenalEstimate:
    """A CrCl estimate with everything needed to check it by hand.

    Attributes
    ----------
    crcl_ml_min : float or None
        Unrounded CrCl [mL/min]; None on dialysis without a residual CrCl.
    crcl_text : str or None
        The CrCl as every output prints it (see :func:`crcl_text`): on the same side of
        each band edge as the unrounded value. None where ``crcl_ml_min`` is None.
    method : {"cockcroft-gault", "given", "not estimated"}
    formula_text : str
        The formula with the numbers substituted, or how the value was obtained.
    weight_basis : str
        The basis asked for ("auto", "actual", "ideal", "adjusted").
    weight_used : str or None
        The weight the formula used: "actual", "ideal" or "adjusted".
    weight_used_kg : float or None
        That weight [kg].
    weight_reason : str
        Why that weight was used.
    ideal_weight_kg, adjusted_weight_kg, bmi_kg_m2 : float or None
        The candidates, where a height was given.
    scr_mg_dl : float or None
        Serum creatinine in mg/dL.
    flag_codes : tuple of str
        Codes of ``tables/flags.csv`` that this estimate raises.
    """

    crcl_ml_min: float | None
    crcl_text: str | None
    method: str
    formula_text: str
    weight_basis: str
    weight_used: str | None
    weight_used_kg: float | None
    weight_reason: str
    ideal_weight_kg: float | None
    adjusted_weight_kg: float | None
    bmi_kg_m2: float | None
    scr_mg_dl: float | None
    flag_codes: tuple[str, ...]

    def _repr_html_(self) -> str:
        """The estimate as HTML for Jupyter (see :func:`gabacalc.display.estimate_html`)."""
        from gabacalc.display import estimate_html

        return estimate_html(self)

    def __repr__(self) -> str:
        if self.crcl_ml_min is None:
            what = self.formula_text
        else:
            what = f"CrCl {self.crcl_text} mL/min ({self.method}"
            if self.weight_used_kg is not None:
                what += f", {self.weight_used} body weight {fmt_number(self.weight_used_kg)} kg"
            what += ")"
        return f"<RenalEstimate {what}; {VERIFICATION_TEXT}>"


def estimate_crcl(
    patient: Patient, weight_basis: str = "auto", rules: Rules | None = None
) -> RenalEstimate:
    """Estimate creatinine clearance, saying which formula, weight and inputs made it.

    Parameters
    ----------
    patient : Patient
    weight_basis : {"auto", "actual", "ideal", "adjusted"}
        ``auto`` chooses by BMI (``tables/weight_basis.csv``): below 18.5 actual, 18.5 to
        below 25 the lower of ideal and actual, 25 and over adjusted; without a height,
        actual (and flagged).
    rules : Rules, optional

    Returns
    -------
    RenalEstimate

    Raises
    ------
    InputError
        Unknown weight basis, or ideal/adjusted weight without a height.

    Examples
    --------
    >>> p = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> e = estimate_crcl(p)
    >>> round(e.crcl_ml_min, 1), e.weight_used
    (32.3, 'ideal')
    >>> e.formula_text
    'Cockcroft-Gault: (140 - 72 years) x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 = 32.3 mL/min'
    """
    rules = rules or default_rules()
    if weight_basis not in WEIGHT_BASES:
        raise InputError(
            f"weight basis {weight_basis!r} is not one of: {', '.join(WEIGHT_BASES)}",
            field="weight_basis",
        )
    codes: list[str] = []
    ibw = abw = bmi = None
    if patient.height_cm is not None:
        ibw = devine_ideal_weight(patient.height_cm, patient.sex, rules)
        abw = adjusted_body_weight(patient.weight_kg, ibw, rules)
        bmi = body_mass_index(patient.weight_kg, patient.height_cm)
        if (
            patient.height_cm / rules.constants["cm_per_inch"]
            < rules.constants["ibw_base_height_in"]
            and weight_basis != "actual"
        ):
            codes.append("SHORT_STATURE_IBW")
    elif weight_basis in ("ideal", "adjusted"):
        raise InputError(
            f"weight basis {weight_basis!r} needs the height (height_cm / --height-cm); "
            "give the height, or use weight basis 'actual' or 'auto'",
            field="height_cm",
        )

    def unestimated(crcl: float | None, method: str, text: str, reason: str) -> RenalEstimate:
        codes_here = ("CRCL_GIVEN",) if method == "given" else ()
        return RenalEstimate(
            crcl_ml_min=crcl,
            crcl_text=None if crcl is None else crcl_text(crcl, rules, decimals=2),
            method=method,
            formula_text=text,
            weight_basis=weight_basis,
            weight_used=None,
            weight_used_kg=None,
            weight_reason=reason,
            ideal_weight_kg=ibw,
            adjusted_weight_kg=abw,
            bmi_kg_m2=bmi,
            scr_mg_dl=None,
            flag_codes=codes_here,
        )

    if patient.crcl_ml_min is not None:
        given = patient.crcl_ml_min
        text = (
            f"given: {crcl_text(given, rules, decimals=2)} mL/min "
            "(measured or calculated outside gabacalc)"
        )
        return unestimated(given, "given", text, "not used: CrCl was given")
    if patient.scr is None:
        text = f"not estimated: {patient.dialysis} dialysis without a residual CrCl"
        return unestimated(None, "not estimated", text, "not used: CrCl not estimated on dialysis")

    used, used_kg, reason = _choose_weight(patient, weight_basis, ibw, abw, bmi, rules)
    if patient.height_cm is None:
        codes.append("NO_HEIGHT")
    per = rules.constants["scr_umol_per_mg_dl"]
    scr_mg_dl = patient.scr if patient.scr_unit == "mg/dL" else patient.scr / per
    crcl = cockcroft_gault(patient.age_years, used_kg, scr_mg_dl, patient.sex, rules)
    if implausibly_high(crcl, rules):
        codes.append("CRCL_IMPLAUSIBLE_HIGH")
    if low_creatinine_older_adult(patient.age_years, scr_mg_dl, rules):
        codes.append("LOW_SCR_OLDER_ADULT")
    c = rules.constants
    printed = crcl_text(crcl, rules)
    scr_text = f"{fmt_number(scr_mg_dl, 2)} mg/dL"
    if patient.scr_unit == "umol/L":
        scr_text = f"({fmt_number(patient.scr, 1)} umol/L / {fmt_number(per)} = {scr_text})"
    female = f" x {fmt_number(c['cg_female_factor'], 2)}" if patient.sex == "female" else ""
    formula = (
        f"Cockcroft-Gault: ({fmt_number(c['cg_age_offset'])} - "
        f"{fmt_number(patient.age_years)} years) x {fmt_number(used_kg)} kg / "
        f"({fmt_number(c['cg_divisor'])} x {scr_text}){female} = {printed} mL/min"
    )
    return RenalEstimate(
        crcl_ml_min=crcl,
        crcl_text=printed,
        method="cockcroft-gault",
        formula_text=formula,
        weight_basis=weight_basis,
        weight_used=used,
        weight_used_kg=used_kg,
        weight_reason=reason,
        ideal_weight_kg=ibw,
        adjusted_weight_kg=abw,
        bmi_kg_m2=bmi,
        scr_mg_dl=scr_mg_dl,
        flag_codes=tuple(codes),
    )


def implausibly_high(crcl_ml_min: Any, rules: Rules) -> Any:
    """Whether a Cockcroft-Gault estimate is above what adults have (scalar or array).

    The threshold is ``implausible_crcl_above_ml_min`` in ``tables/clinical_thresholds.csv``;
    such an estimate usually means a creatinine, unit or weight error.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> rules = default_rules()
    >>> bool(implausibly_high(180.0, rules)), bool(implausibly_high(120.0, rules))
    (True, False)
    """
    return crcl_ml_min > rules.threshold("implausible_crcl_above_ml_min")


def low_creatinine_older_adult(age_years: Any, scr_mg_dl: Any, rules: Rules) -> Any:
    """Whether an older adult's creatinine is low enough to suggest low muscle mass.

    Cockcroft-Gault then overestimates clearance; gabacalc warns rather than rounding the
    creatinine up (a contested practice). Scalar or array.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> bool(low_creatinine_older_adult(80, 0.5, default_rules()))
    True
    >>> bool(low_creatinine_older_adult(50, 0.5, default_rules()))
    False
    """
    older = age_years >= rules.threshold("older_adult_age_years")
    return older & (scr_mg_dl < rules.threshold("low_scr_older_adult_below_mg_dl"))


def _choose_weight(
    patient: Patient,
    basis: str,
    ibw: float | None,
    abw: float | None,
    bmi: float | None,
    rules: Rules,
) -> tuple[str, float, str]:
    actual = patient.weight_kg
    if basis == "actual":
        return "actual", actual, "actual body weight (requested)"
    if basis == "ideal":
        assert ibw is not None
        return "ideal", ibw, "ideal body weight, Devine (requested)"
    if basis == "adjusted":
        assert abw is not None
        return "adjusted", abw, "adjusted body weight (requested)"
    if ibw is None or abw is None or bmi is None:
        return "actual", actual, "actual body weight: no height given (auto)"
    for low, high, weight, reason in rules.weight_basis:
        if low <= bmi < high:
            edges = [edge for row in rules.weight_basis for edge in row[:2]]
            text = f"{reason} (auto; BMI {fmt_beside_edges(bmi, edges)} kg/m2)"
            if weight == "actual":
                return "actual", actual, text
            if weight == "adjusted":
                return "adjusted", abw, text
            if weight == "ideal":
                return "ideal", ibw, text
            if ibw <= actual:
                return "ideal", ibw, text
            return "actual", actual, text
    raise AssertionError("weight_basis.csv covers every BMI")  # validated at load


@dataclass(frozen=True)
class BandChoice:
    """The renal band that applies, after the edge rule and any proportional reduction.

    Attributes
    ----------
    band : RenalBand
        The label's row.
    label : str
        The band as data (with the table's symbols), e.g. for matching.
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
    >>> from gabacalc.patient import Patient
    >>> est = estimate_crcl(Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=7.5))
    >>> choice = select_band(est, "none")
    >>> choice.band.band_id, choice.min_daily_mg, choice.max_daily_mg, choice.doses_per_day
    ('crcl-15-or-less', 50, 150, 1)
    """
    rules = rules or default_rules()
    crcl = estimate.crcl_ml_min
    codes: list[str] = []
    lowest = rules.bands[-1]
    if dialysis == "hemodialysis" and crcl is None:
        band, scale = lowest, 1.0
        codes.append("HD_NO_RESIDUAL_CRCL")
        reason = "hemodialysis without a residual CrCl: the label's CrCl 15 row, unscaled"
    elif dialysis == "peritoneal":
        band = lowest
        codes.append("PERITONEAL_DIALYSIS")
        scale = _scale(band, crcl) if crcl is not None else 1.0
        reason = f"peritoneal dialysis: the band for {band.words} (no label guidance)"
    else:
        assert crcl is not None
        band = rules.band_for(crcl)
        scale = _scale(band, crcl)
        text = crcl_text(crcl, rules, decimals=2)
        note = "unrounded" if is_exact(text, crcl) else "rounded; the band uses the unrounded value"
        reason = f"CrCl {text} mL/min ({note}) falls in {band.words}"
    if scale < 1:
        codes.append("PROPORTIONAL_REDUCTION")
    min_mg = math.floor(band.min_daily_mg * scale + 1e-9)
    max_mg = math.floor(band.max_daily_mg * scale + 1e-9)
    words = band.words
    if scale < 1:
        words = (
            f"{band.words}, scaled by CrCl divided by "
            f"{fmt_number(band.proportional_below_ml_min or 0)} "
            f"(factor {fmt_beside_edges(scale, (1,), 3)})"
        )
    return BandChoice(
        band=band,
        label=band_label(band, scale),
        scale=scale,
        min_daily_mg=min_mg,
        max_daily_mg=max_mg,
        doses_per_day=band.doses_per_day,
        reason=reason,
        flag_codes=tuple(codes),
        words=words,
    )


def band_label(band: RenalBand, scale: float) -> str:
    """The band as every output prints it, with the proportional scale below 15 mL/min.

    The scale keeps its side of 1: 0.99999, never "1", for a CrCl just below 15.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> band_label(default_rules().bands[-1], 0.5)
    'CrCl <= 15 mL/min, scaled by CrCl/15 = 0.5'
    """
    if scale >= 1:
        return band.label
    return (
        f"{band.label}, scaled by CrCl/{fmt_number(band.proportional_below_ml_min or 0)} "
        f"= {fmt_beside_edges(scale, (1,), 3)}"
    )


def _scale(band: RenalBand, crcl: float | None) -> float:
    below = band.proportional_below_ml_min
    if crcl is None or below is None or crcl >= below:
        return 1.0
    return crcl / below
