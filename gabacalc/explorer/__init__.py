"""Explore scenarios in Jupyter: a control for every input, the plan redrawn on each change.

An edge module for the ``jupyter`` extra (``pip install "gabacalc[jupyter]"``, which brings
ipywidgets). It decides nothing clinical: it reads its controls, passes their values
unchanged to :class:`~gabacalc.Patient` and :func:`~gabacalc.build_plan`, and shows what
they return, the plan's display (:mod:`gabacalc.render.display`) and chart
(:mod:`gabacalc.render.chart`), or the :class:`~gabacalc.InputError` message in place of the plan.

The controls are named as the ``Patient`` fields and the ``build_plan`` keywords (the
names are read from their signatures, so a new keyword without a control fails at once).
A control left at "default" (or "not given") passes None, so the defaults and the
start-low rule of the tables apply exactly as they do in ``build_plan``. Slider ranges are
the rows of ``tables/input_limits.csv``; a value set from code outside a slider's range is
refused (``traitlets.TraitError``), never moved to the nearest end. Serum creatinine is a
number box, not a slider: its range depends on the unit, and a value in the wrong unit
must reach the patient check to get its "did you mean" hint.
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401
except ImportError as error:  # pragma: no cover - the test suite installs the extra
    raise ImportError(
        'gabacalc.explore needs ipywidgets: pip install "gabacalc[jupyter]"'
    ) from error

from gabacalc.explorer.controls import CONTROL_NAMES, PATIENT_FIELDS, PLAN_KEYWORDS
from gabacalc.explorer.widget import Explorer, explore

__all__ = ["CONTROL_NAMES", "PATIENT_FIELDS", "PLAN_KEYWORDS", "Explorer", "explore"]
