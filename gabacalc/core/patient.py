"""The patient, validated on creation against the limits in ``tables/input_limits.csv``."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from gabacalc.core.wording import dialysis_words, fmt_as_given, fmt_beside_edges, fmt_number
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules, default_rules

__all__ = [
    "BOTH_SCR_AND_CRCL",
    "DIALYSIS_CHOICES",
    "NO_RENAL_FUNCTION",
    "PATIENT_FIELDS",
    "SCR_ON_DIALYSIS",
    "SCR_UNITS",
    "SCR_UNIT_ALIASES",
    "SEXES",
    "Patient",
    "check_in_limits",
    "check_number",
    "checked_choice",
    "checked_risks",
    "checked_rules",
    "in_limits",
    "older_adult",
    "renal_input_refusal",
]

SEXES = ("female", "male")
SCR_UNITS = ("mg/dL", "umol/L")
DIALYSIS_CHOICES = ("none", "hemodialysis", "peritoneal")
SCR_UNIT_ALIASES = {"mg/dl": "mg/dL", "umol/l": "umol/L", "µmol/l": "umol/L", "μmol/l": "umol/L"}


def checked_rules(rules: Any) -> Rules:
    """The rule tables to use: ``rules`` if it is a :class:`~gabacalc.rules.Rules`, the shipped
    tables if it is None; anything else is an InputError."""
    if rules is None:
        return default_rules()
    if not isinstance(rules, Rules):
        raise InputError(
            f"rules {value_text(rules)} is not a set of rule tables; pass what "
            "gabacalc.load_rules() returns, or leave it out for the shipped tables",
            field="rules",
        )
    return rules


def check_number(value: Any, field: str, label: str, allowed: str = "") -> float:
    """A real, finite number, or an InputError naming the field (and ``allowed``, the
    range, when one is given).

    True and False are refused (a flag is not a number), and so is an integer too large for
    a float.

    Examples
    --------
    >>> check_number("72", "age_years", "age")
    72.0
    >>> check_number(True, "age_years", "age")
    Traceback (most recent call last):
    gabacalc.errors.InputError: age True is not a number (true/false given)
    >>> check_number("1e309", "age_years", "age", "18-110 years")
    Traceback (most recent call last):
    gabacalc.errors.InputError: age '1e309' is not a finite number; allowed: 18-110 years
    """
    give = f"; allowed: {allowed}" if allowed else ""
    if isinstance(value, bool | np.bool_):
        raise InputError(f"{label} {value!r} is not a number (true/false given){give}", field=field)
    try:
        number = float(value)
    except OverflowError:
        raise InputError(
            f"{label} {value_text(value)} is not a finite number (too large){give}", field=field
        ) from None
    except (TypeError, ValueError):
        raise InputError(
            f"{label} {value_text(value)} is not a number{give}", field=field
        ) from None
    if not math.isfinite(number):
        raise InputError(f"{label} {value_text(value)} is not a finite number{give}", field=field)
    return number


def _allowed(row: Mapping[str, str]) -> str:
    """A limits row's range in words, e.g. ``"18-110 years"``."""
    return _range_words(row["min"], row["max"], row["unit"], row["min_inclusive"])


@functools.lru_cache(maxsize=256)  # a few rows, each checked for every patient
def _range_words(low_text: str, high_text: str, unit: str, min_inclusive: str) -> str:
    low, high = fmt_number(float(low_text), 2), fmt_number(float(high_text), 2)
    if min_inclusive == "true":
        return f"{low}-{high} {unit}"
    return f"above {low} and at most {high} {unit}"


def in_limits(value: Any, row: Mapping[str, str]) -> Any:
    """Whether a value is inside its row of ``input_limits.csv`` (a scalar or an array).

    The one test of a limit: :func:`check_in_limits` (one patient) and cohort mode (every
    row at once) both use it. NaN is never inside.

    Examples
    --------
    >>> limits = default_rules().limits["age_years"]
    >>> bool(in_limits(72.0, limits)), in_limits(np.array([12.0, 110.0, np.nan]), limits)
    (True, array([False,  True, False]))
    """
    low, high = float(row["min"]), float(row["max"])
    low_ok = value >= low if row["min_inclusive"] == "true" else value > low
    high_ok = value <= high if row["max_inclusive"] == "true" else value < high
    return low_ok & high_ok


def older_adult(age_years: Any, rules: Rules) -> Any:
    """Whether a patient is an older adult (``older_adult_age_years`` in
    ``tables/clinical_thresholds.csv``): scalar or array.

    Examples
    --------
    >>> bool(older_adult(65, default_rules())), bool(older_adult(64.99, default_rules()))
    (True, False)
    """
    return age_years >= rules.threshold("older_adult_age_years")


#: The renal-input refusals of :func:`renal_input_refusal` (0: the inputs are accepted).
BOTH_SCR_AND_CRCL, SCR_ON_DIALYSIS, NO_RENAL_FUNCTION = 1, 2, 3


def renal_input_refusal(has_scr: Any, has_crcl: Any, on_dialysis: Any) -> Any:
    """Which renal-input rule of :class:`Patient` refuses the inputs (scalar or array).

    The one statement of these rules: Patient raises the refusal's message, and cohort mode
    plans a row that one applies to through Patient, so that it gets that message. 0: none
    applies; :data:`BOTH_SCR_AND_CRCL`: a creatinine and a CrCl, give one;
    :data:`SCR_ON_DIALYSIS`: a creatinine on dialysis (Cockcroft-Gault needs a steady state);
    :data:`NO_RENAL_FUNCTION`: no creatinine, CrCl or dialysis status.

    Parameters
    ----------
    has_scr, has_crcl, on_dialysis : bool or numpy.ndarray of bool
        Whether a serum creatinine and a CrCl are given, and whether on dialysis.

    Examples
    --------
    >>> renal_input_refusal(True, False, False), renal_input_refusal(True, True, False)
    (0, 1)
    >>> no = np.array([False, False])
    >>> renal_input_refusal(np.array([True, False]), no, np.array([True, False]))
    array([2, 3])
    """
    # One expression for a scalar and an array alike ("^ True" is "not" for both); the
    # three cases exclude each other, the first taking precedence.
    both = has_scr & has_crcl
    scr_on_dialysis = has_scr & on_dialysis & (both ^ True)
    nothing = (has_scr | has_crcl | on_dialysis) ^ True
    return (
        BOTH_SCR_AND_CRCL * both + SCR_ON_DIALYSIS * scr_on_dialysis + NO_RENAL_FUNCTION * nothing
    )


def check_in_limits(
    value: Any, parameter: str, rules: Rules, *, field: str | None = None, hint: str = ""
) -> float:
    """Check a value against its row of ``input_limits.csv``; the message names the range.

    Examples
    --------
    >>> check_in_limits(72, "age_years", default_rules())
    72.0
    >>> check_in_limits(12, "age_years", default_rules())
    Traceback (most recent call last):
    gabacalc.errors.InputError: age 12 years is outside 18-110 years (gabacalc plans for adults)
    """
    row = rules.limits[parameter]
    label, unit = row["label"], row["unit"]
    allowed = _allowed(row)
    number = check_number(value, field or parameter, label, allowed)
    if in_limits(number, row):
        return number
    low, high = float(row["min"]), float(row["max"])
    default_hint = {"age_years": "gabacalc plans for adults"}.get(parameter, "")
    hint = hint or default_hint
    # The value keeps its side of each bound: 110.004 is not written as the allowed 110.
    shown = (  # a number of nonsense size is shown as given (1e+308), not in 300 digits
        fmt_as_given(number) if abs(number) >= 1e15 else fmt_beside_edges(number, (low, high), 2)
    )
    where = f"outside {allowed}" if allowed[0].isdigit() else f"outside the range ({allowed})"
    message = f"{label} {shown} {unit} is {where}"
    raise InputError(message + (f" ({hint})" if hint else ""), field=field or parameter)


def checked_choice(value: Any, field: str, label: str, choices: tuple[str, ...]) -> str:
    """``value`` as the one of ``choices`` it names (case and spaces aside), or an InputError
    naming the choices.

    Examples
    --------
    >>> checked_choice(" Female", "sex", "sex", SEXES)
    'female'
    """
    text = value.strip() if isinstance(value, str) else ""
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise InputError(
        f"{label} {value_text(value)} is not one of: {', '.join(choices)}", field=field
    )


@dataclass(frozen=True)
class Patient:
    """A patient's inputs for a renal dose estimate.

    Give ``scr`` (with ``scr_unit``) or a measured/known ``crcl_ml_min``, not both. On
    dialysis leave ``scr`` out (Cockcroft-Gault needs a steady state); a residual
    ``crcl_ml_min`` may be given.

    Parameters
    ----------
    age_years : float
        Age [years], 18-110.
    sex : {"female", "male"}
        Sex used by Cockcroft-Gault and the Devine ideal weight.
    weight_kg : float
        Actual body weight [kg], 30-350.
    height_cm : float, optional
        Height [cm], 120-230; needed for ideal or adjusted weight.
    scr : float, optional
        Serum creatinine, in ``scr_unit``.
    scr_unit : {"mg/dL", "umol/L"}
        Unit of ``scr`` (default mg/dL).
    crcl_ml_min : float, optional
        A measured or externally calculated creatinine clearance [mL/min].
    dialysis : {"none", "hemodialysis", "peritoneal"}
        Dialysis status.
    risks : sequence of str, optional
        Safety context from ``tables/context_choices.csv``: "opioids", "cns-depressants",
        "respiratory", "falls", "pregnancy", "misuse", "epilepsy", "unstable-renal"
        (a ";"- or ","-separated string is accepted too).
    pain_type : str
        "radicular" (sciatica, radiculopathy), "non-radicular" (mechanical low back pain),
        "phn", "diabetic-neuropathy" or "other" (default).
    rules : Rules, optional
        Rule tables whose limits apply (default the shipped tables).

    Raises
    ------
    InputError
        A value outside its range (with the range and a hint), an unknown choice, both or
        neither of ``scr`` and ``crcl_ml_min``, or ``scr`` on dialysis.

    Examples
    --------
    >>> p = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> p.scr_mg_dl
    1.3
    >>> Patient(age_years=72, sex="female", weight_kg=60, scr=88)
    Traceback (most recent call last):
    gabacalc.errors.InputError: serum creatinine 88 mg/dL is outside 0.2-20 mg/dL (did you mean
    88 umol/L? set the creatinine unit, scr_unit / --scr-unit, to umol/L)
    """

    age_years: float
    sex: str
    weight_kg: float
    height_cm: float | None = None
    scr: float | None = None
    scr_unit: str = "mg/dL"
    crcl_ml_min: float | None = None
    dialysis: str = "none"
    risks: tuple[str, ...] = ()
    pain_type: str = "other"
    rules: Rules | None = dataclass_field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = checked_rules(self.rules)
        set_ = object.__setattr__  # normalise fields of this frozen dataclass once
        set_(self, "sex", checked_choice(self.sex, "sex", "sex", SEXES))
        set_(
            self,
            "dialysis",
            checked_choice(self.dialysis, "dialysis", "dialysis", DIALYSIS_CHOICES),
        )
        unit = SCR_UNIT_ALIASES.get(str(self.scr_unit).strip().lower(), self.scr_unit)
        set_(self, "scr_unit", checked_choice(unit, "scr_unit", "creatinine unit", SCR_UNITS))
        set_(self, "risks", checked_risks(self.risks, rules))
        set_(
            self,
            "pain_type",
            checked_choice(self.pain_type, "pain_type", "pain type", tuple(rules.pain_types)),
        )
        set_(self, "age_years", check_in_limits(self.age_years, "age_years", rules))
        set_(self, "weight_kg", check_in_limits(self.weight_kg, "weight_kg", rules))
        if self.height_cm is not None:
            set_(self, "height_cm", check_in_limits(self.height_cm, "height_cm", rules))
        refusal = renal_input_refusal(
            self.scr is not None, self.crcl_ml_min is not None, self.dialysis != "none"
        )
        if refusal == BOTH_SCR_AND_CRCL:
            raise InputError(
                "both serum creatinine and a creatinine clearance were given; give one: "
                "scr to estimate CrCl, or crcl_ml_min for a measured CrCl",
                field="crcl_ml_min",
            )
        if refusal == SCR_ON_DIALYSIS:
            raise InputError(
                f"serum creatinine is not used on {dialysis_words(self.dialysis)} "
                "(Cockcroft-Gault needs a steady state); leave scr out, or give a "
                "measured residual CrCl as crcl_ml_min",
                field="scr",
            )
        if refusal == NO_RENAL_FUNCTION:
            raise InputError(
                "no renal function given: give serum creatinine (scr, with scr_unit) or a "
                "measured creatinine clearance (crcl_ml_min), or a dialysis status",
                field="scr",
            )
        if self.scr is not None:
            set_(self, "scr", self._checked_scr(rules))
        elif self.crcl_ml_min is not None:
            set_(self, "crcl_ml_min", check_in_limits(self.crcl_ml_min, "crcl_ml_min", rules))

    def _checked_scr(self, rules: Rules) -> float:
        if self.scr_unit == "mg/dL":
            other_unit, row = "umol/L", "scr_mg_dl"
        else:
            other_unit, row = "mg/dL", "scr_umol_l"
        value = check_number(self.scr, "scr", "serum creatinine", _allowed(rules.limits[row]))
        other_row = "scr_umol_l" if row == "scr_mg_dl" else "scr_mg_dl"
        # A value outside this unit's range but inside the other's is most likely a unit slip.
        looks_other = not _within(value, rules.limits[row]) and _within(
            value, rules.limits[other_row]
        )
        hint = (
            f"did you mean {fmt_number(value, 2)} {other_unit}? set the creatinine unit, "
            f"scr_unit / --scr-unit, to {other_unit}"
            if looks_other
            else ""
        )
        return check_in_limits(value, row, rules, field="scr", hint=hint)

    @property
    def scr_mg_dl(self) -> float | None:
        """Serum creatinine in mg/dL (converted from umol/L when needed)."""
        if self.scr is None:
            return None
        if self.scr_unit == "mg/dL":
            return self.scr
        return self.scr / default_rules().constants["scr_umol_per_mg_dl"]

    def as_dict(self) -> dict[str, Any]:
        """The inputs as plain data (for summaries, JSON and re-building a plan)."""
        return {
            "age_years": self.age_years,
            "sex": self.sex,
            "weight_kg": self.weight_kg,
            "height_cm": self.height_cm,
            "scr": self.scr,
            "scr_unit": self.scr_unit,
            "crcl_ml_min": self.crcl_ml_min,
            "dialysis": self.dialysis,
            "risks": list(self.risks),
            "pain_type": self.pain_type,
        }


def checked_risks(value: Any, rules: Rules) -> tuple[str, ...]:
    """Known risk names, in the table's order, each once ("a;b", "a,b" or a list), or an
    InputError naming the known ones.

    Examples
    --------
    >>> checked_risks("falls; opioids", default_rules())
    ('opioids', 'falls')
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.replace(";", ",").split(",")
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        items = list(value)
    else:
        raise InputError(
            f"risks {value_text(value)} is not a list of risk names; give e.g. "
            "['opioids', 'falls'] or 'opioids;falls'",
            field="risks",
        )
    names = [str(item).strip().lower() for item in items if str(item).strip()]
    known = tuple(rules.risks)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"risk {value_text(unknown[0])} is not one of: {', '.join(known)}", field="risks"
        )
    return tuple(n for n in known if n in names)


def _within(value: float, row: dict[str, str] | Any) -> bool:
    return float(row["min"]) <= value <= float(row["max"])


#: The fields a patient record holds (the Patient dataclass's, less its rule tables): the
#: columns cohort mode reads and the record a saved plan rebuilds from.
PATIENT_FIELDS = tuple(f.name for f in fields(Patient) if f.name != "rules")
