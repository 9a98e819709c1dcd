"""The explorer's controls: one widget per ``Patient`` field and ``build_plan`` keyword.

The names are read from the signatures, so a new keyword without a control fails at once.
Slider ranges are the rows of ``tables/input_limits.csv``; a value set from code outside a
slider's range is refused (``traitlets.TraitError``), never moved to the nearest end. A
control left at "default" (or "not given") holds None.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from gabacalc.core.patient import DIALYSIS_CHOICES, SCR_UNITS, SEXES, Patient
from gabacalc.core.plan import WEEKDAYS, build_plan
from gabacalc.core.renal import WEIGHT_BASES
from gabacalc.core.wording import frequency_text
from gabacalc.rules import Rules

__all__ = ["CONTROL_NAMES", "GROUPS", "PATIENT_FIELDS", "PLAN_KEYWORDS", "make_control"]

#: The inputs of a patient, in the dataclass's order.
PATIENT_FIELDS = tuple(f.name for f in dataclasses.fields(Patient) if f.name != "rules")
#: The options of a plan, in ``build_plan``'s order.
PLAN_KEYWORDS = tuple(
    name
    for name, parameter in inspect.signature(build_plan).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "rules"
)
CONTROL_NAMES = PATIENT_FIELDS + PLAN_KEYWORDS

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
#: The controls in titled groups, in the order shown.
GROUPS = (
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


def make_control(name: str, value: Any, rules: Rules) -> Any:
    """The widget for one input, starting at ``value`` (None: not given or default)."""
    for kind in (_number_control, _choice_control, _list_or_box_control):
        control = kind(name, value, rules)
        if control is not None:
            return control
    raise NotImplementedError(f"the explorer has no control for {name!r}")


def _number_control(name: str, value: Any, rules: Rules) -> Any | None:
    """A slider or number box for a number input (None: ``name`` is not one)."""
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
    return None


def _choice_control(name: str, value: Any, rules: Rules) -> Any | None:
    """A drop-down for an input with named choices (None: ``name`` has none)."""
    if name == "sex":
        return _dropdown(name, SEXES, value)
    if name == "scr_unit":
        return _dropdown(name, SCR_UNITS, value)
    if name == "dialysis":
        return _dropdown(name, DIALYSIS_CHOICES, value)
    if name == "pain_type":
        return _dropdown(name, tuple(rules.pain_types), value)
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
        low, high = _limits(rules, "current_doses_per_day")
        times = range(int(low), int(high) + 1)
        counts = [("not given", None), *((frequency_text(n), n) for n in times)]
        return _dropdown(name, counts, value)
    if name == "max_products":
        products = sum(1 for s in rules.strengths)
        choices = [("any number", None), *((str(n), n) for n in range(1, products + 1))]
        return _dropdown(name, choices, value)
    return None


def _list_or_box_control(name: str, value: Any, rules: Rules) -> Any | None:
    """A list to pick several from, the date picker or the tick box (None: none of these)."""
    if name == "risks":
        return _many(name, tuple(rules.risks), value or ())
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
    return None
