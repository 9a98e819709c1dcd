"""Jupyter entry points that import their widgets only when called.

``import gabacalc`` must stay light (no ipywidgets, matplotlib or click), so the public
:func:`explore` lives here and imports :mod:`gabacalc.explorer`, which needs the
``jupyter`` extra, on its first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.patient import Patient
    from gabacalc.explorer import Explorer

__all__ = ["explore"]


def explore(patient: Patient | None = None, **options: Any) -> Explorer:
    """Explore scenarios in Jupyter: controls for every input, the plan redrawn on each change.

    Needs the ``jupyter`` extra (``pip install "gabacalc[jupyter]"``); ipywidgets is
    imported only when this is called. See :func:`gabacalc.explorer.explore`.

    Examples
    --------
    >>> from datetime import date
    >>> explorer = explore(start_date=date(2026, 1, 5))
    >>> sorted(explorer.controls)[:3]
    ['age_years', 'crcl_ml_min', 'current_daily_mg']
    >>> explorer.plan.summary["max_daily_mg"]
    1400
    """
    from gabacalc.explorer import explore as _explore

    return _explore(patient, **options)
