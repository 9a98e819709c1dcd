"""Safe dose wording (Joint Commission "Do Not Use" list, ISMP 2021).

Every dose a person reads passes through here: no trailing zero ("300 mg", never
"300.0 mg"), a leading zero ("0.5 mL"), a space between number and unit, commas from
1,000, and frequencies spelled out ("three times daily", "at bedtime"), never
QD, QOD, HS, qhs, BID or TID.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache

from gabacalc.rules.provenance import VERIFICATION_TEXT

__all__ = [
    "VERIFICATION_TEXT",
    "administration_times",
    "fmt_as_given",
    "fmt_beside_edges",
    "fmt_mg",
    "fmt_ml",
    "fmt_number",
    "frequency_text",
    "is_exact",
    "printable",
]

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


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` with terminal control characters escaped (``\x1b`` written out), so a
    file name, a column name or a citation cannot move the cursor or recolour a terminal.

    Examples
    --------
    >>> printable("scr\x1b[2J")
    'scr\\x1b[2J'
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def fmt_as_given(value: object) -> str:
    """A value for a message, never rounded: text as given, a number in full.

    Examples
    --------
    >>> fmt_as_given(17.999), fmt_as_given(1800.0), fmt_as_given(" 1e309 "), fmt_as_given(1e308)
    ('17.999', '1,800', '1e309', '1e+308')
    """
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value)
    if isinstance(value, int):
        return f"{value:,}"
    text = repr(float(value))
    if text.endswith(".0") and abs(value) < 1e16:
        return f"{int(value):,}"
    return text


def fmt_beside_edges(value: float, edges: Iterable[float], decimals: int = 1) -> str:
    """A number with enough decimals to sit on the same side of every edge as the value.

    A CrCl of 59.97 mL/min is written "59.97", not "60", because it is below the 60 mL/min
    band edge; 30.004 is written "30.004", not "30", because it is above 30. Each edge is
    compared three ways (below, equal, above), so whichever side of an edge a band takes,
    the printed number lands in the same band as the unrounded one. Otherwise the number is
    written as :func:`fmt_number` would, with ``decimals`` decimals at most.

    Parameters
    ----------
    value : float
        The unrounded number.
    edges : iterable of float
        The edges that matter for this number, from the rule tables (e.g. the renal band
        bounds, or an input's allowed range); infinite edges are ignored.
    decimals : int
        The decimals written when no edge is close (default 1).

    Returns
    -------
    str
        The number the safe way (see :func:`fmt_number`).

    Examples
    --------
    >>> edges = (0, 15, 30, 60)
    >>> fmt_beside_edges(59.97, edges), fmt_beside_edges(30.004, edges)
    ('59.97', '30.004')
    >>> fmt_beside_edges(32.349, edges), fmt_beside_edges(60.0, edges), fmt_beside_edges(15, edges)
    ('32.3', '60', '15')
    """
    finite = [float(edge) for edge in edges if math.isfinite(edge)]
    places = decimals
    while True:
        text = fmt_number(value, places)
        printed = float(text.replace(",", ""))
        if printed == value:  # exact (is_exact)
            return text
        if all(_side(printed, edge) == _side(value, edge) for edge in finite):
            return text
        places += 1  # ends: enough places write the float exactly, and is_exact is then true


def is_exact(text: str, value: float) -> bool:
    """Whether a number written by :func:`fmt_number` is the value itself, unrounded.

    Examples
    --------
    >>> is_exact("32.5", 32.5), is_exact("32.3", 32.349)
    (True, False)
    """
    return float(text.replace(",", "")) == value


def _side(number: float, edge: float) -> int:
    return (number > edge) - (number < edge)


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


def dialysis_words(dialysis: str) -> str:
    """The dialysis kind as a person says it.

    Examples
    --------
    >>> dialysis_words("hemodialysis"), dialysis_words("peritoneal")
    ('hemodialysis', 'peritoneal dialysis')
    """
    return dialysis if dialysis.endswith("dialysis") else f"{dialysis} dialysis"
