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

import dataclasses
import inspect
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

try:
    import ipywidgets as widgets
    import traitlets
except ImportError as error:  # pragma: no cover - the test suite installs the extra
    raise ImportError(
        'gabacalc.explore needs ipywidgets: pip install "gabacalc[jupyter]"'
    ) from error

from gabacalc.core.examples import example_patient
from gabacalc.core.patient import DIALYSIS_CHOICES, SCR_UNITS, SEXES, Patient
from gabacalc.core.plan import WEEKDAYS, Plan, build_plan
from gabacalc.core.renal import WEIGHT_BASES
from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg, frequency_text
from gabacalc.errors import GabacalcError, InputError
from gabacalc.render.chart import figure_for, figure_png
from gabacalc.render.display import compare_html, error_html, plan_html
from gabacalc.rules import Rules, default_rules

__all__ = ["CONTROL_NAMES", "PATIENT_FIELDS", "PLAN_KEYWORDS", "Explorer", "explore"]

#: The inputs of a patient, in the dataclass's order.
PATIENT_FIELDS = tuple(f.name for f in dataclasses.fields(Patient) if f.name != "rules")
#: The options of a plan, in ``build_plan``'s order.
PLAN_KEYWORDS = tuple(
    name
    for name, parameter in inspect.signature(build_plan).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "rules"
)
CONTROL_NAMES = PATIENT_FIELDS + PLAN_KEYWORDS

#: The chart's resolution on screen (the PNG file keeps its own 150 dpi).
_SCREEN_DPI = 80
_DESCRIPTION = {"description_width": "13em"}
_WIDTH = "27em"

_LABELS = {
    "age_years": "Age (years)",
    "sex": "Sex",
    "weight_kg": "Weight (kg)",
    "height_cm": "Height (cm)",
    "scr": "Serum creatinine",
    "scr_unit": "Creatinine unit",
    "crcl_ml_min": "Given CrCl (mL/min)",
    "dialysis": "Dialysis",
    "risks": "Risks",
    "pain_type": "Pain type",
    "weight_basis": "Weight basis",
    "start_daily_mg": "Start (mg/day)",
    "target_daily_mg": "Target (mg/day)",
    "titration": "Titration preset",
    "taper": "Taper preset",
    "review_weeks": "Review after (weeks)",
    "start_date": "Start date",
    "strengths_mg": "Strengths allowed (mg)",
    "oral_solution": "Oral solution allowed",
    "dialysis_days": "Dialysis days",
    "current_daily_mg": "Current dose (mg/day)",
    "current_doses_per_day": "Current doses a day",
    "max_products": "At most N products",
}
_GROUPS = (
    ("Patient", ("age_years", "sex", "weight_kg", "height_cm", "risks", "pain_type")),
    ("Renal function", ("scr", "scr_unit", "crcl_ml_min", "dialysis", "dialysis_days")),
    (
        "Plan",
        (
            "weight_basis",
            "start_daily_mg",
            "target_daily_mg",
            "titration",
            "taper",
            "review_weeks",
            "start_date",
        ),
    ),
    ("Forms and re-plan", ("strengths_mg", "oral_solution", "current_daily_mg")),
)


# ---------------------------------------------------------------------------- widgets


class _Slider(widgets.FloatSlider):
    """A slider that refuses a value outside its range instead of moving it to the end."""

    @traitlets.validate("value")
    def _validate_value(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not self.min <= value <= self.max:
            raise traitlets.TraitError(
                f"{self.tooltip} {value:g} is outside this slider's {self.min:g}-{self.max:g}"
            )
        return value


class _Choice(widgets.Dropdown):
    """A drop-down whose choices may include None ("default"): None selects that entry.

    ipywidgets reads a value of None as "nothing selected" (a blank box); here None is a
    choice like any other, shown by its label.
    """

    @traitlets.validate("value")
    def _validate_value(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value not in self._options_values:
            choices = ", ".join(str(label) for label in self._options_labels)
            raise traitlets.TraitError(f"{self.tooltip} {value!r} is not one of: {choices}")
        return self._options_values[self._options_values.index(value)]

    @traitlets.observe("value")
    def _propagate_value(self, change: Any) -> None:
        index = self._options_values.index(change["new"])
        if self.index != index:  # type: ignore[has-type]
            self.index = index


class _Optional(widgets.HBox):
    """A control that may be left out: a tick box, then the control (``value`` None if off)."""

    value = traitlets.Any(None)

    def __init__(self, name: str, inner: Any, value: Any, off_text: str) -> None:
        self._syncing = False
        self.given = widgets.Checkbox(
            value=value is not None,
            description=_LABELS[name],
            indent=False,
            tooltip=f"{name}: untick for {off_text}",
            layout=widgets.Layout(width="13em"),
        )
        self.inner = inner
        # No tooltip on the box itself: the browser's widget manager fails to draw a Box
        # with one (jupyterlab-manager, ipywidgets 8.1); the tick box carries it instead.
        super().__init__([self.given, inner])
        self.value = value
        self._show(value)
        self.given.observe(self._from_parts, "value")
        inner.observe(self._from_parts, "value")

    def _show(self, value: Any) -> None:
        self._syncing = True
        try:
            if value is not None:
                self.inner.value = value
            self.given.value = value is not None
            self.inner.disabled = value is None
        finally:
            self._syncing = False

    def _from_parts(self, _change: Any) -> None:
        if not self._syncing:
            self.inner.disabled = not self.given.value
            self.value = self.inner.value if self.given.value else None

    @traitlets.validate("value")
    def _validate_value(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and isinstance(self.inner, _Slider):
            value = self.inner._validate_value({"value": value})  # refused as the slider would
        return value

    @traitlets.observe("value")
    def _to_parts(self, change: Any) -> None:
        self._show(change["new"])


def _limits(rules: Rules, parameter: str) -> tuple[float, float]:
    row = rules.limits[parameter]
    return float(row["min"]), float(row["max"])


def _slider(name: str, rules: Rules, parameter: str, step: float, fmt: str, value: Any) -> _Slider:
    low, high = _limits(rules, parameter)
    return _Slider(
        value=low if value is None else value,
        min=low,
        max=high,
        step=step,
        readout_format=fmt,
        continuous_update=False,
        tooltip=name,
        layout=widgets.Layout(width=_WIDTH),
    )


def _dropdown(name: str, options: Sequence[Any], value: Any) -> Any:
    return _Choice(
        options=options,
        value=value,
        description=_LABELS[name],
        tooltip=name,
        style=_DESCRIPTION,
        layout=widgets.Layout(width=_WIDTH),
    )


def _with_default(choices: Iterable[Any], label: str = "default") -> list[tuple[str, Any]]:
    return [(label, None), *((str(choice), choice) for choice in choices)]


def _many(name: str, options: Sequence[Any], value: Sequence[Any]) -> Any:
    return widgets.SelectMultiple(
        options=list(options),
        value=tuple(value),
        rows=min(len(options), 5),
        description=_LABELS[name],
        tooltip=f"{name} (ctrl- or shift-click for several)",
        style=_DESCRIPTION,
        layout=widgets.Layout(width=_WIDTH),
    )


def _make_control(name: str, value: Any, rules: Rules) -> Any:
    """The widget for one input, starting at ``value`` (None: not given or default)."""
    # Slider steps are how finely a hand can drag; a typed value keeps its own precision.
    # Doses move in the smallest labelled capsule or tablet strength.
    mg_step = min(s.strength_mg for s in rules.strengths if not s.is_solution)

    def labelled(widget: Any) -> Any:
        widget.description = _LABELS[name]
        widget.style = _DESCRIPTION
        return widget

    if name == "age_years":
        return labelled(_slider(name, rules, "age_years", 1, ".0f", value))
    if name == "weight_kg":
        return labelled(_slider(name, rules, "weight_kg", 0.5, ".1f", value))
    if name == "height_cm":
        inner = _slider(name, rules, "height_cm", 1, ".0f", value)
        return _Optional(name, inner, value, "height not given")
    if name == "crcl_ml_min":
        inner = _slider(name, rules, "crcl_ml_min", 0.5, ".1f", value)
        return _Optional(name, inner, value, "no given CrCl")
    if name in ("start_daily_mg", "target_daily_mg"):
        # Unticked, the greyed slider rests on the tables' default (only shown, not passed).
        shown = value if value is not None else float(rules.defaults[name])
        inner = _slider(name, rules, name, mg_step, ",.0f", shown)
        return _Optional(name, inner, value, "the default")
    if name == "current_daily_mg":
        low, _ = _limits(rules, name)
        inner = _slider(name, rules, name, mg_step, ",.0f", value)
        if value is None:
            inner.value = low + mg_step if rules.limits[name]["min_inclusive"] != "true" else low
        return _Optional(name, inner, value, "no current dose (a new start)")
    if name == "scr":
        inner = widgets.FloatText(
            value=value or 0, step=0.01, tooltip=name, layout=widgets.Layout(width=_WIDTH)
        )
        return _Optional(name, inner, value, "no serum creatinine")
    if name == "sex":
        return _dropdown(name, SEXES, value)
    if name == "scr_unit":
        return _dropdown(name, SCR_UNITS, value)
    if name == "dialysis":
        return _dropdown(name, DIALYSIS_CHOICES, value)
    if name == "pain_type":
        return _dropdown(name, tuple(rules.pain_types), value)
    if name == "risks":
        return _many(name, tuple(rules.risks), value or ())
    if name == "weight_basis":
        return _dropdown(name, _with_default(WEIGHT_BASES), value)
    if name == "titration":
        return _dropdown(name, _with_default(rules.titration_presets), value)
    if name == "taper":
        return _dropdown(name, _with_default(rules.taper_presets), value)
    if name == "review_weeks":
        low, high = _limits(rules, "review_weeks")
        return _dropdown(name, _with_default(range(int(low), int(high) + 1)), value)
    if name == "current_doses_per_day":
        counts = [("not given", None), *((frequency_text(n), n) for n in (1, 2, 3))]
        return _dropdown(name, counts, value)
    if name == "max_products":
        products = sum(1 for s in rules.strengths)
        choices = [("any number", None), *((str(n), n) for n in range(1, products + 1))]
        return _dropdown(name, choices, value)
    if name == "start_date":
        return widgets.DatePicker(
            value=value,
            description=_LABELS[name],
            tooltip=f"{name} (empty: today)",
            style=_DESCRIPTION,
            layout=widgets.Layout(width=_WIDTH),
        )
    if name == "strengths_mg":
        solids = sorted(s.strength_mg for s in rules.strengths if not s.is_solution)
        if value is None:
            value = [
                s.strength_mg for s in rules.strengths if not s.is_solution and s.default_allowed
            ]
        return _many(name, solids, sorted(value))
    if name == "dialysis_days":
        if value is None:
            value = rules.defaults["dialysis_days"].split(";")
        return _many(name, WEEKDAYS, value if not isinstance(value, str) else value.split(","))
    if name == "oral_solution":
        return widgets.Checkbox(
            value=bool(value), description=_LABELS[name], tooltip=name, indent=True
        )
    raise NotImplementedError(f"the explorer has no control for {name!r}")


# --------------------------------------------------------------------------- explorer


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
            name: _make_control(name, start.get(name), self.rules) for name in CONTROL_NAMES
        }
        self.plan: Plan | None = None
        self.error: str | None = None
        self.baseline: Plan | None = None
        self.figures: list[Any] = []
        self.redraw_seconds = 0.0
        self._holding = False
        self._pinned_chart: _PinnedChart | None = None

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
        placed = {name for _, names in _GROUPS for name in names}
        extra = tuple(name for name in CONTROL_NAMES if name not in placed)
        for title, names in (*_GROUPS[:-1], (_GROUPS[-1][0], _GROUPS[-1][1] + extra)):
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
                pngs = [figure_png(self.figures[0], _SCREEN_DPI)]
            else:
                a_fig, b_fig = self._baseline_figure(), figure_for(plan)
                assert self._pinned_chart is not None
                own = [self._pinned_chart.own_scales, _scales(b_fig)]
                self.figures = _same_scales([a_fig, b_fig], own)
                self.display_html.value = compare_html(
                    self.baseline, plan, names=("A (pinned)", "B (the controls)"), rules=self.rules
                )
                pngs = [self._baseline_png(), figure_png(self.figures[1], _SCREEN_DPI)]
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
            self._pinned_chart = _PinnedChart(baseline, fig, _scales(fig))
        return self._pinned_chart.figure

    def _baseline_png(self) -> bytes:
        """A's chart as PNG, drawn again only when the shared scales moved."""
        pinned = self._pinned_chart
        assert pinned is not None
        now = _scales(pinned.figure)
        if now != pinned.png_scales:
            pinned.png, pinned.png_scales = figure_png(pinned.figure, _SCREEN_DPI), now
        return pinned.png

    def __repr__(self) -> str:
        if self.plan is None:
            return f"<gabacalc explorer: no plan: {self.error} | {VERIFICATION_TEXT}>"
        s = self.plan.summary
        return (
            f"<gabacalc explorer: {s['band_words']}, {fmt_mg(s['start_daily_mg'])}/day to "
            f"{fmt_mg(s['target_daily_mg'])}/day | {self.plan.provenance.one_line()}>"
        )


@dataclasses.dataclass
class _PinnedChart:
    """The pinned plan's chart, kept while it stays pinned (only its scales change)."""

    plan: Plan
    figure: Any
    own_scales: tuple[tuple[float, float], tuple[float, float]]
    png_scales: Any = None
    png: bytes = b""


def _scales(fig: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    ax = fig.axes[0]
    return tuple(ax.get_xlim()), tuple(ax.get_ylim())


def _same_scales(
    figures: list[Any], own: list[tuple[tuple[float, float], tuple[float, float]]]
) -> list[Any]:
    """Put the charts of a comparison on one date and one dose scale (the union of their own)."""
    left = min(x[0] for x, _ in own)
    right = max(x[1] for x, _ in own)
    top = max(y[1] for _, y in own)
    for fig in figures:
        fig.axes[0].set_xlim(left, right)
        fig.axes[0].set_ylim(0, top)
    return figures


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
    ('CrCl > 15 to <= 30 mL/min', 700)
    >>> _ = explorer.set(strengths_mg=[800])
    >>> explorer.plan is None, explorer.error.split(":")[0]
    (True, 'cannot make a target dose')
    """
    rules = options.pop("rules", None)
    return Explorer(patient, rules=rules, **options)
