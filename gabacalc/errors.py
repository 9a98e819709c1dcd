"""The small exception family every gabacalc caller can catch.

``GabacalcError`` is the base. ``InputError`` (also a ``ValueError``) means the patient
data or an option is missing, out of range, contradictory, or asks for a plan that cannot be
made; its message names the value, the allowed range or choices, and a hint.
``RuleTableError`` means a rule table failed validation or its checksum.
"""

from __future__ import annotations

from typing import Any


class GabacalcError(Exception):
    """Base class of every error gabacalc raises on purpose."""


class InputError(GabacalcError, ValueError):
    """Patient data or an option that gabacalc refuses, with what would be accepted.

    Parameters
    ----------
    message : str
        The whole sentence shown to the user: the value, the allowed range and a hint.
    field : str, optional
        The keyword (``build_plan``/``Patient`` name) the problem is about.

    Examples
    --------
    >>> err = InputError("age 12 years is outside 18-110 years", field="age_years")
    >>> isinstance(err, ValueError), err.field
    (True, 'age_years')
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RuleTableError(GabacalcError):
    """A rule table is malformed, inconsistent, or does not match its recorded checksum.

    Parameters
    ----------
    problems : list of str
        Every problem found, so that one run reports them all.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the rule tables failed validation:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


def value_text(value: Any) -> str:
    """A value as an error message names it: its repr, cut short if long.

    Examples
    --------
    >>> value_text("72"), value_text(10**100)[-3:]
    ("'72'", '...')
    """
    try:
        text = repr(value)
    except Exception:  # a repr that fails must not hide the refusal it is part of
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else f"{text[:57]}..."
