"""The explorer: controls for every input above the plan's display and chart.

It reads its controls (:mod:`gabacalc.explorer.controls`), passes their values unchanged
to :class:`~gabacalc.Patient` and :func:`~gabacalc.build_plan`, and shows what they
return, or the :class:`~gabacalc.InputError` message in place of the plan.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from gabacalc.core.examples import example_patient
from gabacalc.core.patient import Patient
from gabacalc.core.plan import Plan, build_plan
from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg
from gabacalc.errors import GabacalcError, InputError
from gabacalc.explorer.charts import SCREEN_DPI, PinnedChart, same_scales, scales
from gabacalc.explorer.controls import (
    CONTROL_NAMES,
    GROUPS,
    PATIENT_FIELDS,
    PLAN_KEYWORDS,
    make_control,
)
from gabacalc.render.chart import figure_for, figure_png
from gabacalc.render.display import compare_html, error_html, plan_html
from gabacalc.rules import Rules, default_rules

__all__ = ["Explorer", "explore"]


class Explorer(widgets.VBox):
    """Controls for every input above the plan's display and chart; see :func:`explore`.

    Attributes
    ----------
    controls : dict of str to widget
        One widget per ``Patient`` field and ``build_plan`` keyword, by that name; set a
        widget's ``value`` (or call :meth:`set`) and the plan is redrawn.
    plan : Plan or None
        The plan the controls give now (None while they give an error).
    error : str or None
        The refusal shown in place of the plan, if any.
    baseline : Plan or None
        The plan pinned as "A" in compare mode.
    figures : list of matplotlib.figure.Figure
        The chart(s) on show: one, or A and B in compare mode.
    redraw_seconds : float
        How long the last redraw took.
    """

    def __init__(self, patient: Patient | None = None, rules: Rules | None = None, **options: Any):
        unknown = sorted(set(options) - set(PLAN_KEYWORDS))
        if unknown:
            raise InputError(
                f"explore() has no option {unknown[0]!r}; its options are build_plan's "
                f"keywords: {', '.join(PLAN_KEYWORDS)}",
                field=unknown[0],
            )
        patient = patient if patient is not None else example_patient()
        self.rules = rules or patient.rules or default_rules()
        start = {**patient.as_dict(), **options}
        self.controls: dict[str, Any] = {
            name: make_control(name, start.get(name), self.rules) for name in CONTROL_NAMES
        }
        self.plan: Plan | None = None
        self.error: str | None = None
        self.baseline: Plan | None = None
        self.figures: list[Any] = []
        self.redraw_seconds = 0.0
        self._holding = False
        self._pinned_chart: PinnedChart | None = None

        self.display_html = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.charts = widgets.HBox([], layout=widgets.Layout(width="100%"))
        self.compare_button = widgets.ToggleButton(
            value=False,
            description="Compare",
            icon="columns",
            tooltip="Pin this plan as A; the controls then change B, shown beside it",
        )
        self.status = widgets.HTML()
        self.compare_button.observe(self._on_compare, "value")
        groups = []
        placed = {name for _, names in GROUPS for name in names}
        extra = tuple(name for name in CONTROL_NAMES if name not in placed)
        for title, names in (*GROUPS[:-1], (GROUPS[-1][0], GROUPS[-1][1] + extra)):
            groups.append(
                widgets.VBox(
                    [widgets.HTML(f"<strong>{title}</strong>")]
                    + [self.controls[name] for name in names],
                    layout=widgets.Layout(margin="0 1.5em 0.5em 0"),
                )
            )
        controls_box = widgets.Box(groups, layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__(
            [
                controls_box,
                widgets.HBox([self.compare_button, self.status]),
                self.charts,
                self.display_html,
            ]
        )
        for widget in self.controls.values():
            widget.observe(self._on_change, "value")
        self.redraw()

    # ---- driving it from code

    def values(self) -> dict[str, Any]:
        """What the controls hold now, by name (None for "default" or "not given").

        The dialysis days count only on hemodialysis (build_plan refuses them otherwise), so
        they are None when another dialysis status is chosen.
        """
        held = {name: widget.value for name, widget in self.controls.items()}
        if "dialysis_days" in held and held.get("dialysis") != "hemodialysis":
            held["dialysis_days"] = None
        return held

    def set(self, **values: Any) -> Explorer:
        """Set several controls at once and redraw once (e.g. ``scr=None, crcl_ml_min=25``).

        Raises
        ------
        InputError
            A name that is not a control.
        traitlets.TraitError
            A value a control cannot hold (outside a slider's range, not among a list's
            choices); the controls set before it keep their new values.
        """
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise InputError(
                f"the explorer has no control {unknown[0]!r}; its controls are: "
                f"{', '.join(self.controls)}",
                field=unknown[0],
            )
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = tuple(value) if isinstance(value, list) else value
        finally:
            self._holding = False
            self.redraw()
        return self

    def pin(self) -> Explorer:
        """Compare mode: keep the current plan as A; the controls go on changing B.

        Raises
        ------
        InputError
            When the controls give no plan to pin (the message says why).
        """
        if self.plan is None:
            raise InputError(f"there is no plan to pin as A: {self.error}")
        self.baseline = self.plan
        self._holding = True
        self.compare_button.value = True
        self._holding = False
        self.redraw()
        return self

    def unpin(self) -> Explorer:
        """Leave compare mode: one plan again."""
        self.baseline = None
        self._holding = True
        self.compare_button.value = False
        self._holding = False
        self.redraw()
        return self

    # ---- redrawing

    def _on_change(self, _change: Mapping[str, Any]) -> None:
        if not self._holding:
            self.redraw()

    def _on_compare(self, change: Mapping[str, Any]) -> None:
        if self._holding:
            return
        try:
            self.pin() if change["new"] else self.unpin()
        except InputError as refusal:
            self._holding = True
            self.compare_button.value = False
            self._holding = False
            self.status.value = error_html(str(refusal), self.rules)

    def _build(self) -> Plan:
        values = self.values()
        patient = Patient(**{name: values[name] for name in PATIENT_FIELDS}, rules=self.rules)
        return build_plan(patient, rules=self.rules, **{n: values[n] for n in PLAN_KEYWORDS})

    def redraw(self) -> None:
        """Build the plan from the controls and show it, or show why there is none."""
        began = time.perf_counter()
        try:
            plan = self._build()
        except GabacalcError as refusal:
            self.plan, self.error, self.figures = None, str(refusal), []
            self.display_html.value = error_html(str(refusal), self.rules)
            self.charts.children = ()
        else:
            self.plan, self.error = plan, None
            if self.baseline is None:
                self.figures = [figure_for(plan)]
                self.display_html.value = plan_html(plan, self.rules)
                pngs = [figure_png(self.figures[0], SCREEN_DPI)]
            else:
                a_fig, b_fig = self._baseline_figure(), figure_for(plan)
                assert self._pinned_chart is not None
                own = [self._pinned_chart.own_scales, scales(b_fig)]
                self.figures = same_scales([a_fig, b_fig], own)
                self.display_html.value = compare_html(
                    self.baseline, plan, names=("A (pinned)", "B (the controls)"), rules=self.rules
                )
                pngs = [self._baseline_png(), figure_png(self.figures[1], SCREEN_DPI)]
            width = f"{100 // len(pngs)}%"
            self.charts.children = tuple(
                widgets.Image(
                    value=png, format="png", layout=widgets.Layout(width=width, max_width="900px")
                )
                for png in pngs
            )
        self.redraw_seconds = time.perf_counter() - began
        self.status.value = (
            f"<small>{'A and B' if self.baseline is not None else 'Plan'} redrawn in "
            f"{self.redraw_seconds:.2f} s</small>"
        )

    def _baseline_figure(self) -> Any:
        """A's figure, drawn once per pin, with its own scales remembered."""
        baseline = self.baseline
        assert baseline is not None
        if self._pinned_chart is None or self._pinned_chart.plan is not baseline:
            fig = figure_for(baseline)
            self._pinned_chart = PinnedChart(baseline, fig, scales(fig))
        return self._pinned_chart.figure

    def _baseline_png(self) -> bytes:
        """A's chart as PNG, drawn again only when the shared scales moved."""
        pinned = self._pinned_chart
        assert pinned is not None
        now = scales(pinned.figure)
        if now != pinned.png_scales:
            pinned.png, pinned.png_scales = figure_png(pinned.figure, SCREEN_DPI), now
        return pinned.png

    def __repr__(self) -> str:
        if self.plan is None:
            return f"<gabacalc explorer: no plan: {self.error} | {VERIFICATION_TEXT}>"
        s = self.plan.summary
        return (
            f"<gabacalc explorer: {s['band_words']}, {fmt_mg(s['start_daily_mg'])}/day to "
            f"{fmt_mg(s['target_daily_mg'])}/day | {self.plan.provenance.one_line()}>"
        )


def explore(patient: Patient | None = None, **options: Any) -> Explorer:
    """An interactive explorer: move a control and the plan and its chart are redrawn.

    Needs the ``jupyter`` extra (ipywidgets). Every control passes its value to
    :class:`~gabacalc.Patient` or :func:`~gabacalc.build_plan` unchanged; a combination they
    refuse shows the refusal in place of the plan.

    Parameters
    ----------
    patient : Patient, optional
        Where the controls start (default the built-in example patient).
    **options
        ``build_plan`` keywords the controls start at (e.g. ``target_daily_mg=1200``,
        ``start_date=date(2026, 1, 5)``), and ``rules`` for other rule tables.

    Returns
    -------
    Explorer
        A widget (display it in Jupyter) with ``controls``, ``plan``, :meth:`Explorer.set`
        and a compare mode (:meth:`Explorer.pin`).

    Raises
    ------
    InputError
        An option that is not a ``build_plan`` keyword.

    Examples
    --------
    >>> from datetime import date
    >>> explorer = explore(start_date=date(2026, 1, 5))
    >>> explorer.plan.summary["max_daily_mg"]
    1400
    >>> _ = explorer.set(scr=None, crcl_ml_min=25)
    >>> explorer.plan.summary["band"], explorer.plan.summary["max_daily_mg"]
    ('CrCl above 15 and up to 30 mL/min', 700)
    >>> _ = explorer.set(strengths_mg=[800])
    >>> explorer.plan is None, explorer.error.split(":")[0]
    (True, 'cannot make a target dose')
    """
    rules = options.pop("rules", None)
    return Explorer(patient, rules=rules, **options)
