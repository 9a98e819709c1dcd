"""Renal function: Cockcroft-Gault, body-weight bases, and the label's dosing band.

Pure functions: numbers and rule tables in, numbers and frozen dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gabacalc.core.patient import DIALYSIS_CHOICES, Patient, older_adult
from gabacalc.core.wording import (
    VERIFICATION_TEXT,
    dialysis_words,
    fmt_beside_edges,
    fmt_number,
    is_exact,
)
from gabacalc.errors import InputError, RuleTableError
from gabacalc.rules import RenalBand, Rules, default_rules

__all__ = [
    "WEIGHT_BASES",
    "WEIGHT_USED",
    "BandChoice",
    "RenalEstimate",
    "adjusted_body_weight",
    "band_index",
    "band_label",
    "band_scale",
    "below_devine_height",
    "body_mass_index",
    "choose_weight_basis",
    "cockcroft_gault",
    "crcl_text",
    "devine_ideal_weight",
    "estimate_band",
    "estimate_crcl",
    "implausibly_high",
    "is_female",
    "low_creatinine_older_adult",
    "scaled_daily_mg",
    "scr_in_mg_dl",
    "select_band",
]

WEIGHT_BASES = ("auto", "actual", "ideal", "adjusted")
#: The weights Cockcroft-Gault can use (see :func:`choose_weight_basis`).
WEIGHT_USED = ("actual", "ideal", "adjusted")


def cockcroft_gault(
    age_years: Any, weight_kg: Any, scr_mg_dl: Any, sex: Any, rules: Rules | None = None
) -> Any:
    """Creatinine clearance by Cockcroft-Gault [mL/min], for one patient or an array of them.

    ``(140 - age) x weight / (72 x SCr)``, times 0.85 for women (constants from
    ``tables/formula_constants.csv``).

    Parameters
    ----------
    age_years : float or array
        Age [years].
    weight_kg : float or array
        The body weight chosen for the estimate [kg].
    scr_mg_dl : float or array
        Serum creatinine [mg/dL].
    sex : {"female", "male"}, or an array of those, or a boolean array (True: female)
    rules : Rules, optional
        Rule tables (default the shipped ones).

    Returns
    -------
    float or numpy.ndarray
        Unrounded CrCl [mL/min]: a float for scalar inputs.

    References
    ----------
    Cockcroft DW, Gault MH. Nephron 1976;16:31-41 (``cockcroft-gault-1976``).

    Examples
    --------
    >>> round(cockcroft_gault(72, 60, 1.3, "female"), 2)
    37.05
    >>> round(cockcroft_gault(50, 80, 1.0, "male"), 1)
    100.0
    >>> import numpy as np
    >>> cockcroft_gault(np.array([72, 50]), np.array([60, 80]), 1.0, np.array([True, False]))
    array([ 48.16666667, 100.        ])
    """
    c = (rules or default_rules()).constants
    crcl = (c["cg_age_offset"] - age_years) * weight_kg / (c["cg_divisor"] * scr_mg_dl)
    return pick(is_female(sex), crcl * c["cg_female_factor"], crcl)


def is_female(sex: Any) -> Any:
    """Whether ``sex`` is female: a sex name, an array of names, or a boolean array as is.

    Examples
    --------
    >>> is_female("female"), is_female("male")
    (True, False)
    """
    if isinstance(sex, str):
        return sex == "female"
    values = np.asarray(sex)
    return values if values.dtype == bool else values == "female"


def scr_in_mg_dl(scr: Any, umol: Any, rules: Rules | None = None) -> Any:
    """Serum creatinine in mg/dL from a value in mg/dL or (where ``umol``) in umol/L.

    Examples
    --------
    >>> scr_in_mg_dl(1.3, False), round(scr_in_mg_dl(115.0, True), 2)
    (1.3, 1.3)
    """
    per = (rules or default_rules()).constants["scr_umol_per_mg_dl"]
    return pick(umol, scr / per, scr)


def pick(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``if_true`` where ``condition`` holds, else ``if_false``: Python's conditional for
    scalars, :func:`numpy.where` as soon as one is an array. The rules are written with it
    and with operators that mean the same for a number and an array, so that one function
    serves one patient (plain Python numbers, as before) and a cohort.

    Examples
    --------
    >>> pick(True, 1.0, 2.0), pick(np.array([True, False]), 1.0, 2.0)
    (1.0, array([1., 2.]))
    """
    if condition is True or condition is False:  # one patient's (a Python bool): cheap
        return if_true if condition else if_false
    if isinstance(condition, np.ndarray) or isinstance(if_true, np.ndarray):
        return np.where(condition, if_true, if_false)
    if isinstance(if_false, np.ndarray):
        return np.where(condition, if_true, if_false)
    return if_true if condition else if_false


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


def devine_ideal_weight(height_cm: Any, sex: Any, rules: Rules | None = None) -> Any:
    """Ideal body weight by Devine [kg]: 50 (men) or 45.5 (women) + 2.3 kg per inch over 60.

    A scalar or an array (``sex`` as for :func:`cockcroft_gault`).

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
    base = pick(is_female(sex), c["ibw_base_female_kg"], c["ibw_base_male_kg"])
    inches = height_cm / c["cm_per_inch"]
    return base + c["ibw_kg_per_inch"] * (inches - c["ibw_base_height_in"])


def adjusted_body_weight(actual_kg: Any, ideal_kg: Any, rules: Rules | None = None) -> Any:
    """Adjusted body weight [kg]: IBW + 0.4 x (actual - IBW); a scalar or an array.

    Examples
    --------
    >>> adjusted_body_weight(100, 60)
    76.0
    """
    factor = (rules or default_rules()).constants["abw_factor"]
    return ideal_kg + factor * (actual_kg - ideal_kg)


def body_mass_index(weight_kg: Any, height_cm: Any) -> Any:
    """Body mass index [kg/m^2]; a scalar or an array (NaN where the height is NaN).

    Examples
    --------
    >>> round(body_mass_index(60, 160), 1)
    23.4
    """
    if not isinstance(height_cm, np.ndarray):
        return weight_kg / (height_cm / 100) ** 2
    return weight_kg / _square(np.asarray(height_cm, dtype=np.float64) / 100)


def _square(values: np.ndarray) -> np.ndarray:
    """``x ** 2`` exactly as Python's float power gives it, once per distinct value: an
    array of heights gives the very BMI each height gives alone."""
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if present.any():
        uniques, inverse = np.unique(values[present], return_inverse=True)
        out[present] = np.array([_float_square(float(u)) for u in uniques])[inverse]
    return out


def _float_square(value: float) -> float:
    try:
        return value**2
    except OverflowError:  # a height far outside its limits: the row is refused anyway
        return math.inf


def below_devine_height(height_cm: Any, weight_basis: Any, rules: Rules | None = None) -> Any:
    """``SHORT_STATURE_IBW``: a height under the Devine formula's 60 inches, where the basis
    may use the ideal weight (any but "actual"). Scalar or array (``weight_basis`` a name or
    indices into :data:`WEIGHT_BASES`); False where the height is NaN.

    Examples
    --------
    >>> bool(below_devine_height(150, "auto")), bool(below_devine_height(150, "actual"))
    (True, False)
    """
    c = (rules or default_rules()).constants
    basis = _basis_codes(weight_basis)
    return (height_cm / c["cm_per_inch"] < c["ibw_base_height_in"]) & (
        basis != WEIGHT_BASES.index("actual")
    )


def _basis_codes(weight_basis: Any) -> Any:
    """A weight basis name as its index into WEIGHT_BASES; indices as they are."""
    return WEIGHT_BASES.index(weight_basis) if isinstance(weight_basis, str) else weight_basis


def choose_weight_basis(
    weight_basis: Any, actual_kg: Any, ideal_kg: Any, bmi_kg_m2: Any, rules: Rules | None = None
) -> tuple[Any, Any]:
    """Which weight Cockcroft-Gault uses: for one patient or an array of them.

    ``auto`` chooses by BMI (``tables/weight_basis.csv``); without a height (NaN ideal
    weight and BMI) it uses the actual weight. A requested basis is used as asked.

    Parameters
    ----------
    weight_basis : str or array of int
        A name of :data:`WEIGHT_BASES`, or indices into it.
    actual_kg, ideal_kg, bmi_kg_m2 : float or array
        The candidates (NaN where there is no height).
    rules : Rules, optional

    Returns
    -------
    used : int or array of int
        Index into :data:`WEIGHT_USED` ("actual", "ideal", "adjusted").
    rule : int or array of int
        The row of ``rules.weight_basis`` that chose it, -1 where none did (a requested
        basis, or no height).

    Examples
    --------
    >>> choose_weight_basis("auto", 60.0, 52.4, 23.4)
    (1, 1)
    >>> choose_weight_basis("auto", 60.0, float("nan"), float("nan"))
    (0, -1)
    """
    rules = rules or default_rules()
    basis = _basis_codes(weight_basis)
    # A requested basis as asked (actual unless ideal or adjusted) ...
    used = pick(
        basis == WEIGHT_BASES.index("ideal"), 1, pick(basis == WEIGHT_BASES.index("adjusted"), 2, 0)
    )
    rule = pick(basis == basis, -1, -1)  # (an array of -1 for an array)
    # ... and auto by the BMI row that contains it (none without a height: actual).
    auto = (basis == WEIGHT_BASES.index("auto")) & (bmi_kg_m2 == bmi_kg_m2)  # BMI not NaN
    for k, (low, high, kind, _) in enumerate(rules.weight_basis):
        inside = auto & (bmi_kg_m2 >= low) & (bmi_kg_m2 < high) & (rule < 0)
        if kind == "ideal":
            chosen: Any = 1
        elif kind == "adjusted":
            chosen = 2
        elif kind == "lower-of-ideal-and-actual":
            chosen = pick(ideal_kg <= actual_kg, 1, 0)
        else:
            chosen = 0
        used = pick(inside, chosen, used)
        rule = pick(inside, k, rule)
    return used, rule


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
        """The estimate as HTML for Jupyter (see :func:`gabacalc.render.display.estimate_html`)."""
        from gabacalc.render.display import estimate_html

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
        if below_devine_height(patient.height_cm, weight_basis, rules):
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
        text = f"not estimated: {dialysis_words(patient.dialysis)} without a residual CrCl"
        return unestimated(None, "not estimated", text, "not used: CrCl not estimated on dialysis")

    used, used_kg, reason = _choose_weight(patient, weight_basis, ibw, abw, bmi, rules)
    if patient.height_cm is None:
        codes.append("NO_HEIGHT")
    per = rules.constants["scr_umol_per_mg_dl"]
    scr_mg_dl = scr_in_mg_dl(patient.scr, patient.scr_unit == "umol/L", rules)
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
    return older_adult(age_years, rules) & (
        scr_mg_dl < rules.threshold("low_scr_older_adult_below_mg_dl")
    )


def _choose_weight(
    patient: Patient,
    basis: str,
    ibw: float | None,
    abw: float | None,
    bmi: float | None,
    rules: Rules,
) -> tuple[str, float, str]:
    """The weight :func:`choose_weight_basis` picks, its value, and why (in words)."""
    actual = patient.weight_kg
    nan = math.nan
    used, rule = choose_weight_basis(
        basis, actual, nan if ibw is None else ibw, nan if bmi is None else bmi, rules
    )
    name = WEIGHT_USED[used]
    kg = {"actual": actual, "ideal": ibw, "adjusted": abw}[name]
    if kg is None:  # a requested ideal or adjusted weight without a height: refused earlier
        raise InputError(f"weight basis {basis!r} needs the height", field="height_cm")
    if rule >= 0:
        assert bmi is not None  # a BMI rule chose it
        edges = [edge for row in rules.weight_basis for edge in row[:2]]
        reason = rules.weight_basis[rule][3]
        return name, kg, f"{reason} (auto; BMI {fmt_beside_edges(bmi, edges)} kg/m2)"
    if basis == "auto":
        if bmi is not None:  # load_rules checks that the rows cover every BMI
            raise RuleTableError([f"weight_basis.csv: no row covers BMI {bmi!r} kg/m2"])
        return name, kg, "actual body weight: no height given (auto)"
    words = {
        "actual": "actual body weight (requested)",
        "ideal": "ideal body weight, Devine (requested)",
        "adjusted": "adjusted body weight (requested)",
    }
    return name, kg, words[name]


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
    >>> from gabacalc.core.patient import Patient
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
    codes: list[str] = []
    if dialysis == "hemodialysis" and crcl is None:
        codes.append("HD_NO_RESIDUAL_CRCL")
        reason = "hemodialysis without a residual CrCl: the label's CrCl 15 row, unscaled"
    elif dialysis == "peritoneal":
        codes.append("PERITONEAL_DIALYSIS")
        reason = f"peritoneal dialysis: the band for {band.words} (no label guidance)"
    else:
        assert crcl is not None
        text = crcl_text(crcl, rules, decimals=2)
        note = "unrounded" if is_exact(text, crcl) else "rounded; the band uses the unrounded value"
        reason = f"CrCl {text} mL/min ({note}) falls in {band.words}"
    if scale < 1:
        codes.append("PROPORTIONAL_REDUCTION")
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
        min_daily_mg=scaled_daily_mg(band.min_daily_mg, scale),
        max_daily_mg=scaled_daily_mg(band.max_daily_mg, scale),
        doses_per_day=band.doses_per_day,
        reason=reason,
        flag_codes=tuple(codes),
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
