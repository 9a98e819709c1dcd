"""Renal function: the Cockcroft-Gault estimate of creatinine clearance, and how it was made.

Pure functions: numbers and rule tables in, numbers and frozen dataclasses out. The weight
bases live in :mod:`gabacalc.core.weights` and the label's bands in
:mod:`gabacalc.core.bands`; their names are importable from here as well, as they always
were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gabacalc.core.arrays import is_female, pick
from gabacalc.core.bands import (
    BandChoice,
    band_index,
    band_label,
    band_scale,
    crcl_text,
    estimate_band,
    scaled_daily_mg,
    select_band,
)
from gabacalc.core.patient import Patient, older_adult
from gabacalc.core.weights import (
    WEIGHT_BASES,
    WEIGHT_USED,
    adjusted_body_weight,
    below_devine_height,
    body_mass_index,
    choose_weight_basis,
    devine_ideal_weight,
    weight_choice,
)
from gabacalc.core.wording import VERIFICATION_TEXT, dialysis_words, fmt_number
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules, default_rules

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
    "estimate_flag_codes",
    "implausibly_high",
    "is_female",
    "low_creatinine_older_adult",
    "scaled_daily_mg",
    "scr_in_mg_dl",
    "select_band",
]


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


def scr_in_mg_dl(scr: Any, umol: Any, rules: Rules | None = None) -> Any:
    """Serum creatinine in mg/dL from a value in mg/dL or (where ``umol``) in umol/L.

    Examples
    --------
    >>> scr_in_mg_dl(1.3, False), round(scr_in_mg_dl(115.0, True), 2)
    (1.3, 1.3)
    """
    per = (rules or default_rules()).constants["scr_umol_per_mg_dl"]
    return pick(umol, scr / per, scr)


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
    rules : Rules or None
        The rule tables it was made with: its notebook display shows their band and stamp.
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
    rules: Rules | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        """The estimate as HTML for Jupyter (see :func:`gabacalc.render.display.estimate_html`)."""
        from gabacalc.render.display import estimate_html

        return estimate_html(self, self.rules)

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
    weights = _candidates(patient, weight_basis, rules)
    if patient.crcl_ml_min is not None or patient.scr is None:
        return _unestimated(patient, weights, rules)
    used, used_kg, reason = weight_choice(
        weight_basis,
        patient.weight_kg,
        weights.ideal_kg,
        weights.adjusted_kg,
        weights.bmi_kg_m2,
        rules,
    )
    scr_mg_dl = scr_in_mg_dl(patient.scr, patient.scr_unit == "umol/L", rules)
    crcl = cockcroft_gault(patient.age_years, used_kg, scr_mg_dl, patient.sex, rules)
    codes = estimate_flag_codes(
        given=False,
        short=weights.short,
        no_height=patient.height_cm is None,
        implausible=bool(implausibly_high(crcl, rules)),
        low_scr=bool(low_creatinine_older_adult(patient.age_years, scr_mg_dl, rules)),
    )
    printed = crcl_text(crcl, rules)
    return RenalEstimate(
        crcl_ml_min=crcl,
        crcl_text=printed,
        method="cockcroft-gault",
        formula_text=_formula_text(patient, used_kg, scr_mg_dl, printed, rules),
        weight_basis=weight_basis,
        weight_used=used,
        weight_used_kg=used_kg,
        weight_reason=reason,
        ideal_weight_kg=weights.ideal_kg,
        adjusted_weight_kg=weights.adjusted_kg,
        bmi_kg_m2=weights.bmi_kg_m2,
        scr_mg_dl=scr_mg_dl,
        flag_codes=codes,
        rules=rules,
    )


@dataclass(frozen=True)
class _Candidates:
    """The weights a height gives (None without one), and the flag it may raise."""

    weight_basis: str
    ideal_kg: float | None
    adjusted_kg: float | None
    bmi_kg_m2: float | None
    short: bool


def _candidates(patient: Patient, weight_basis: str, rules: Rules) -> _Candidates:
    """The ideal and adjusted weights and BMI, after checking the basis can be used."""
    if weight_basis not in WEIGHT_BASES:
        raise InputError(
            f"weight basis {value_text(weight_basis)} is not one of: {', '.join(WEIGHT_BASES)}",
            field="weight_basis",
        )
    if patient.height_cm is None:
        if weight_basis in ("ideal", "adjusted"):
            raise InputError(
                f"weight basis {weight_basis!r} needs the height (height_cm / --height-cm); "
                "give the height, or use weight basis 'actual' or 'auto'",
                field="height_cm",
            )
        return _Candidates(weight_basis, None, None, None, short=False)
    ibw = devine_ideal_weight(patient.height_cm, patient.sex, rules)
    short = below_devine_height(patient.height_cm, weight_basis, rules)
    return _Candidates(
        weight_basis,
        ideal_kg=ibw,
        adjusted_kg=adjusted_body_weight(patient.weight_kg, ibw, rules),
        bmi_kg_m2=body_mass_index(patient.weight_kg, patient.height_cm),
        short=bool(short),
    )


def _unestimated(patient: Patient, weights: _Candidates, rules: Rules) -> RenalEstimate:
    """A CrCl given, or none (dialysis without a creatinine): no formula, no weight used."""
    crcl = patient.crcl_ml_min
    if crcl is not None:
        method, reason = "given", "not used: CrCl was given"
        text = (
            f"given: {crcl_text(crcl, rules, decimals=2)} mL/min "
            "(measured or calculated outside gabacalc)"
        )
    else:
        method, reason = "not estimated", "not used: CrCl not estimated on dialysis"
        text = f"not estimated: {dialysis_words(patient.dialysis)} without a residual CrCl"
    return RenalEstimate(
        crcl_ml_min=crcl,
        crcl_text=None if crcl is None else crcl_text(crcl, rules, decimals=2),
        method=method,
        formula_text=text,
        weight_basis=weights.weight_basis,
        weight_used=None,
        weight_used_kg=None,
        weight_reason=reason,
        ideal_weight_kg=weights.ideal_kg,
        adjusted_weight_kg=weights.adjusted_kg,
        bmi_kg_m2=weights.bmi_kg_m2,
        scr_mg_dl=None,
        flag_codes=estimate_flag_codes(given=method == "given"),
        rules=rules,
    )


def estimate_flag_codes(
    *,
    given: bool,
    short: bool = False,
    no_height: bool = False,
    implausible: bool = False,
    low_scr: bool = False,
) -> tuple[str, ...]:
    """The flag codes an estimate raises, in their order: the one mapping from what was
    found to its codes, which :func:`estimate_crcl` uses and cohort mode tabulates.

    Examples
    --------
    >>> estimate_flag_codes(given=False, no_height=True, low_scr=True)
    ('NO_HEIGHT', 'LOW_SCR_OLDER_ADULT')
    >>> estimate_flag_codes(given=True)
    ('CRCL_GIVEN',)
    """
    found = (
        (given, "CRCL_GIVEN"),
        (short, "SHORT_STATURE_IBW"),
        (no_height, "NO_HEIGHT"),
        (implausible, "CRCL_IMPLAUSIBLE_HIGH"),
        (low_scr, "LOW_SCR_OLDER_ADULT"),
    )
    return tuple(code for raised, code in found if raised)


def _formula_text(
    patient: Patient, used_kg: float, scr_mg_dl: float, printed: str, rules: Rules
) -> str:
    """Cockcroft-Gault with the patient's numbers substituted, as every output prints it."""
    c = rules.constants
    scr_text = f"{fmt_number(scr_mg_dl, 2)} mg/dL"
    if patient.scr_unit == "umol/L":
        per = fmt_number(c["scr_umol_per_mg_dl"])
        scr_text = f"({fmt_number(patient.scr, 1)} umol/L / {per} = {scr_text})"
    female = f" x {fmt_number(c['cg_female_factor'], 2)}" if patient.sex == "female" else ""
    return (
        f"Cockcroft-Gault: ({fmt_number(c['cg_age_offset'])} - "
        f"{fmt_number(patient.age_years)} years) x {fmt_number(used_kg)} kg / "
        f"({fmt_number(c['cg_divisor'])} x {scr_text}){female} = {printed} mL/min"
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
