"""Values worked out from one Rules object's tables alone, kept while that object lives.

A memo is a plain dict per Rules object and name: what a pure function of the tables (and
of small hashable arguments) gives, so that it is worked out once, not once per plan.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["memo"]

#: Each Rules object's memos (by its id), dropped with it.
_MEMOS: dict[int, dict[str, dict[Any, Any]]] = {}


def memo(rules: object, name: str) -> dict[Any, Any]:
    """The memo ``name`` of ``rules``: a dict that lasts as long as ``rules`` does.

    Examples
    --------
    >>> from gabacalc.rules import default_rules
    >>> squares = memo(default_rules(), "doctest squares")
    >>> squares.setdefault(3, 3 * 3)
    9
    >>> memo(default_rules(), "doctest squares") is squares
    True
    """
    memos = _MEMOS.get(id(rules))
    if memos is None:
        memos = _MEMOS[id(rules)] = {}
        # Before the id can be reused by another object, its memos are gone.
        weakref.finalize(rules, _MEMOS.pop, id(rules), None)
    return memos.setdefault(name, {})
