"""The start-low rule: who should start gabapentin low and go slow.

A respiratory-depression risk (opioids, CNS depressants, respiratory impairment), age 65 and
over, CrCl below 60 mL/min, or dialysis (thresholds in ``tables/clinical_thresholds.csv``).
:func:`start_low_criteria` is the rule, for one patient or an array of them: the
single-patient plan words its reasons from it (:func:`start_low_reasons`) and cohort mode
puts whether any applies into each row's plan key. A new criterion is added there once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from gabacalc.core.patient import DIALYSIS_CHOICES, Patient, older_adult
from gabacalc.core.renal import RenalEstimate
from gabacalc.core.wording import dialysis_words, fmt_number
from gabacalc.rules import Rules

__all__ = ["respiratory_risks", "start_low_applies", "start_low_criteria", "start_low_reasons"]


def respiratory_risks(risk_names: Iterable[str], rules: Rules) -> list[str]:
    """The risks among ``risk_names`` that call for a low start (``start_low_risks``).

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> respiratory_risks(["falls", "opioids"], default_rules())
    ['opioids']
    """
    names = set(risk_names)
    return [r for r in rules.thresholds["start_low_risks"].split(";") if r in names]


def start_low_criteria(
    respiratory: Any, age_years: Any, dialysis: Any, crcl_ml_min: Any, rules: Rules
) -> dict[str, Any]:
    """Each start-low criterion and whether it applies, in the order the advice names them.

    Parameters
    ----------
    respiratory : bool or array of bool
        Whether the patient has a respiratory-depression risk (:func:`respiratory_risks`).
    age_years : float or array
        Age [years].
    dialysis : str or array of int
        A name of :data:`~gabacalc.core.patient.DIALYSIS_CHOICES`, or indices into it.
    crcl_ml_min : float or array
        Unrounded CrCl [mL/min]; NaN (or None for one patient) where there is none.
    rules : Rules

    Returns
    -------
    dict
        ``{"respiratory": ..., "age": ..., "dialysis": ..., "crcl": ...}``, each a bool or
        a boolean array. The CrCl criterion applies off dialysis only.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> start_low_criteria(False, 70, "none", 90.0, default_rules())
    {'respiratory': False, 'age': True, 'dialysis': False, 'crcl': False}
    """
    code = DIALYSIS_CHOICES.index(dialysis) if isinstance(dialysis, str) else dialysis
    crcl = math.nan if crcl_ml_min is None else crcl_ml_min
    off_dialysis = code == DIALYSIS_CHOICES.index("none")
    return {
        "respiratory": respiratory,
        "age": older_adult(age_years, rules),
        "dialysis": ~off_dialysis if isinstance(off_dialysis, np.ndarray) else not off_dialysis,
        "crcl": off_dialysis & (crcl < rules.threshold("start_low_crcl_below_ml_min")),
    }


def start_low_applies(
    respiratory: Any, age_years: Any, dialysis: Any, crcl_ml_min: Any, rules: Rules
) -> Any:
    """Whether any start-low criterion applies (a bool, or a boolean array).

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> start_low_applies(np.array([False, True]), 50, "none", 90.0, default_rules())
    array([False,  True])
    """
    applies: Any = False
    for criterion in start_low_criteria(
        respiratory, age_years, dialysis, crcl_ml_min, rules
    ).values():
        applies = applies | criterion
    return applies


def start_low_reasons(patient: Patient, estimate: RenalEstimate, rules: Rules) -> list[str]:
    """Why this patient should start low, in words (empty if no reason applies).

    Examples
    --------
    >>> from gabacalc.core.renal import estimate_crcl
    >>> from gabacalc.rules import default_rules
    >>> p = Patient(age_years=70, sex="male", weight_kg=80, crcl_ml_min=90, risks=["opioids"])
    >>> start_low_reasons(p, estimate_crcl(p), default_rules())
    ['respiratory-depression risk (opioids)', 'age 70 years']
    """
    respiratory = respiratory_risks(patient.risks, rules)
    criteria = start_low_criteria(
        bool(respiratory), patient.age_years, patient.dialysis, estimate.crcl_ml_min, rules
    )
    words = {  # written only for the criteria that apply
        "respiratory": lambda: f"respiratory-depression risk ({', '.join(respiratory)})",
        "age": lambda: f"age {fmt_number(patient.age_years)} years",
        "dialysis": lambda: dialysis_words(patient.dialysis),
        "crcl": lambda: f"CrCl {estimate.crcl_text} mL/min",
    }
    return [words[name]() for name, applies in criteria.items() if applies]
