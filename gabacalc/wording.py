"""Safe dose wording (Joint Commission "Do Not Use" list, ISMP 2021).

Every dose a person reads passes through here: no trailing zero ("300 mg", never
"300.0 mg"), a leading zero ("0.5 mL"), a space between number and unit, commas from
1,000, and frequencies spelled out ("three times daily", "at bedtime"), never
QD, QOD, HS, qhs, BID or TID.
"""

from __future__ import annotations

import math
from functools import lru_cache

__all__ = [
    "VERIFICATION_TEXT",
    "administration_times",
    "fmt_mg",
    "fmt_ml",
    "fmt_number",
    "frequency_text",
]

#: Carried by every output a person can see.
VERIFICATION_TEXT = "Illustrative plan - requires physician verification"

_FREQUENCY = {1: "once daily", 2: "twice daily", 3: "three times daily"}
_TIMES = {1: ("bedtime",), 2: ("morning", "bedtime"), 3: ("morning", "midday", "bedtime")}


@lru_cache(maxsize=8192)  # a plan writes the same few numbers many times over
def fmt_number(value: float, decimals: int = 1) -> str:
    """A number the safe way: commas from 1,000, no trailing zero, a leading zero.

    Examples
    --------
    >>> fmt_number(1800.0), fmt_number(0.5), fmt_number(32.449), fmt_number(2.50, 2)
    ('1,800', '0.5', '32.4', '2.5')
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} as a dose")
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_mg(value: float) -> str:
    """A mass in mg, e.g. ``"1,800 mg"``.

    Examples
    --------
    >>> fmt_mg(300.0), fmt_mg(1800), fmt_mg(62.5)
    ('300 mg', '1,800 mg', '62.5 mg')
    """
    return f"{fmt_number(value)} mg"


def fmt_ml(value: float) -> str:
    """A volume in mL, e.g. ``"2.5 mL"`` or ``"0.5 mL"``.

    Examples
    --------
    >>> fmt_ml(0.5), fmt_ml(5.0)
    ('0.5 mL', '5 mL')
    """
    return f"{fmt_number(value, 2)} mL"


def frequency_text(doses_per_day: int) -> str:
    """How often, spelled out.

    Examples
    --------
    >>> frequency_text(1), frequency_text(3)
    ('once daily', 'three times daily')
    """
    return _FREQUENCY[doses_per_day]


def administration_times(doses_per_day: int) -> tuple[str, ...]:
    """When the administrations are taken: one goes at bedtime, then morning, then midday.

    Examples
    --------
    >>> administration_times(2)
    ('morning', 'bedtime')
    """
    return _TIMES[doses_per_day]
