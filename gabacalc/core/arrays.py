"""One rule for one patient or a cohort: the helpers the renal rules are written with.

A rule written with :func:`pick` and with operators that mean the same for a number and an
array serves one patient (plain Python numbers) and a cohort (numpy arrays) alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["is_female", "pick"]


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
