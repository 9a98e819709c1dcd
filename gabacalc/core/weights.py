"""Body-weight bases for Cockcroft-Gault: ideal and adjusted weight, BMI, and which to use.

Pure functions, for one patient or an array of them: numbers and rule tables in, numbers out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gabacalc.core.arrays import is_female, pick
from gabacalc.core.wording import fmt_beside_edges
from gabacalc.errors import InputError, RuleTableError
from gabacalc.rules import Rules, default_rules

__all__ = [
    "WEIGHT_BASES",
    "WEIGHT_USED",
    "adjusted_body_weight",
    "below_devine_height",
    "body_mass_index",
    "choose_weight_basis",
    "devine_ideal_weight",
    "weight_choice",
]

WEIGHT_BASES = ("auto", "actual", "ideal", "adjusted")
#: The weights Cockcroft-Gault can use (see :func:`choose_weight_basis`).
WEIGHT_USED = ("actual", "ideal", "adjusted")


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


def weight_choice(
    basis: str,
    actual: float,
    ibw: float | None,
    abw: float | None,
    bmi: float | None,
    rules: Rules,
) -> tuple[str, float, str]:
    """For one patient: the weight :func:`choose_weight_basis` picks, its value [kg], and
    why, in words (``ibw``, ``abw`` and ``bmi`` None without a height).

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> weight_choice("auto", 60.0, 52.4, 64.0, 23.4, default_rules())[:2]
    ('ideal', 52.4)
    """
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
