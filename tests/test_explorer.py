"""The scenario explorer for Jupyter: move a control, the plan and its chart follow.

The explorer decides nothing itself: every test here compares what it shows with what
``build_plan`` gives for the same inputs.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets
import pytest
import traitlets
from conftest import assert_safe_dose_text
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import gabacalc
from gabacalc import InputError, Patient, build_plan
from gabacalc.core.examples import EXAMPLE_START_DATE, example_patient
from gabacalc.explorer import Explorer, explore

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def explorer() -> Explorer:
    """The example patient (72-year-old woman, CrCl about 32 mL/min) on a fixed day 1."""
    return explore(start_date=EXAMPLE_START_DATE)


def band_line_top(explorer: Explorer, chart: int = 0) -> float:
    """The highest point of the band-maximum line the chart shows."""
    ax = explorer.figures[chart].axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_gid() == "band-max"]
    return float(max(line.get_ydata()))


def stamped(text: str) -> bool:
    rules = gabacalc.default_rules()
    return (
        gabacalc.VERIFICATION_TEXT in text
        and f"gabacalc {gabacalc.__version__}" in text
        and rules.rules_version in text
        and rules.rules_sha256[:12] in text
    )


def test_the_controls_are_named_as_the_patient_fields_and_build_plan_keywords(
    explorer: Explorer,
) -> None:
    fields = [f.name for f in dataclasses.fields(Patient) if f.name != "rules"]
    keywords = [
        name
        for name, p in inspect.signature(build_plan).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "rules"
    ]
    assert list(explorer.controls) == fields + keywords
    assert {"age_years", "scr", "scr_unit", "crcl_ml_min", "risks", "pain_type"} <= set(fields)
    assert {"titration", "taper", "review_weeks", "strengths_mg", "current_daily_mg"} <= set(
        keywords
    )
    labels = [label for label, _ in explorer.controls["current_doses_per_day"].options]
    assert labels == ["not given", "once daily", "twice daily", "three times daily"]


def test_it_opens_on_the_example_patient_with_build_plans_plan(explorer: Explorer) -> None:
    direct = build_plan(example_patient(), start_date=EXAMPLE_START_DATE)
    assert explorer.plan is not None and explorer.error is None
    assert explorer.plan.summary == direct.summary
    assert explorer.plan.summary["max_daily_mg"] == 1400
    assert band_line_top(explorer) == 1400
    assert stamped(explorer.display_html.value)
    assert len(explorer.charts.children) == 1
    assert explorer.charts.children[0].value[:4] == b"\x89PNG"


def test_each_preset_has_a_default_entry_that_leaves_the_choice_to_the_tables(
    explorer: Explorer,
) -> None:
    for name in ("weight_basis", "titration", "taper", "review_weeks"):
        control = explorer.controls[name]
        assert control.options[0] == ("default", None), name
        assert control.value is None, name
        # The page shows the entry "default", not an empty box.
        assert (control.index, control.label) == (0, "default"), name
    explorer.set(titration="gentle")
    assert explorer.controls["titration"].label == "gentle"
    explorer.set(titration=None)
    assert explorer.controls["titration"].index == 0
    with pytest.raises(traitlets.TraitError, match="titration 'fast' is not one of: default"):
        explorer.set(titration="fast")
    rules = gabacalc.default_rules()
    assert [v for _, v in explorer.controls["titration"].options[1:]] == list(
        rules.titration_presets
    )
    assert [v for _, v in explorer.controls["taper"].options[1:]] == list(rules.taper_presets)
    # Start and target left to the defaults: the start-low rule lowers day 1 for this patient.
    assert explorer.controls["start_daily_mg"].value is None
    assert explorer.controls["target_daily_mg"].value is None
    # Their greyed sliders rest on the tables' defaults, which are not passed while unticked.
    assert explorer.controls["target_daily_mg"].inner.value == float(
        rules.defaults["target_daily_mg"]
    )
    assert explorer.controls["target_daily_mg"].inner.disabled
    assert explorer.plan is not None
    assert explorer.plan.summary["start_daily_mg"] == 100
    assert "START_LOW_DEFAULT" in [f["code"] for f in explorer.plan.flags]
    explorer.set(start_daily_mg=300)
    assert explorer.plan.summary["start_daily_mg"] == 300
    assert "START_LOW_OVERRIDDEN" in [f["code"] for f in explorer.plan.flags]


SCENARIOS: dict[str, dict[str, Any]] = {
    "measured CrCl 25": {"scr": None, "crcl_ml_min": 25},
    "umol/L creatinine, opioids and falls, radicular": {
        "scr": 115,
        "scr_unit": "umol/L",
        "risks": ("opioids", "falls"),
        "pain_type": "radicular",
    },
    # The gradual taper needs the oral solution to come down below 200 mg/day.
    "gentle titration, gradual taper with the oral solution, 4-week review, 900 mg target": {
        "titration": "gentle",
        "taper": "gradual",
        "oral_solution": True,
        "review_weeks": 4,
        "target_daily_mg": 900,
    },
    "hemodialysis tue, thu, sat with the oral solution": {
        "scr": None,
        "dialysis": "hemodialysis",
        "dialysis_days": ("tue", "thu", "sat"),
        "oral_solution": True,
    },
    "re-plan from 1,200 mg/day after CrCl fell to 25": {
        "scr": None,
        "crcl_ml_min": 25,
        "current_daily_mg": 1200,
        "current_doses_per_day": 3,
        "start_date": date(2026, 1, 26),
    },
    "actual weight, 100 and 300 mg capsules only, no height": {
        "weight_basis": "actual",
        "strengths_mg": (100, 300),
        "height_cm": None,
        "age_years": 45,
        "sex": "male",
        "weight_kg": 92.5,
    },
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_what_the_controls_hold_goes_to_build_plan_unchanged(explorer: Explorer, name: str) -> None:
    changes = SCENARIOS[name]
    explorer.set(**changes)
    values = {**explorer.values()}
    patient = Patient(**{k: values[k] for k in values if k in Patient.__dataclass_fields__})
    options = {k: v for k, v in values.items() if k not in Patient.__dataclass_fields__}
    direct = build_plan(patient, **options)
    assert explorer.plan is not None, explorer.error
    assert explorer.plan.summary == direct.summary
    assert explorer.plan.steps.equals(direct.steps)
    for key, value in changes.items():
        assert explorer.controls[key].value == value, key
    assert band_line_top(explorer) == direct.summary["max_daily_mg"]


def test_crcl_25_gives_the_700_mg_band_and_the_charts_band_line_moves(
    explorer: Explorer,
) -> None:
    before_png = explorer.charts.children[0].value
    assert band_line_top(explorer) == 1400
    explorer.controls["scr"].value = None  # one control at a time, as a hand would
    assert explorer.plan is None and explorer.error is not None
    assert explorer.error.startswith("no renal function given")
    explorer.controls["crcl_ml_min"].value = 25
    assert explorer.plan is not None
    assert explorer.plan.summary["band"] == "CrCl above 15 and up to 30 mL/min"
    assert explorer.plan.summary["max_daily_mg"] == 700
    assert band_line_top(explorer) == 700
    assert explorer.charts.children[0].value != before_png
    assert "700 mg/day (renal band)" in explorer.display_html.value


def test_an_impossible_combination_shows_the_refusal_in_place_of_the_plan(
    explorer: Explorer,
) -> None:
    explorer.set(scr=None, crcl_ml_min=25, strengths_mg=(800,))
    assert explorer.plan is None
    assert explorer.figures == [] and explorer.charts.children == ()
    assert explorer.error is not None
    assert "the allowed forms (800 mg tablet) cannot make any dose of at most 700 mg/day" in (
        explorer.error
    )
    shown = explorer.display_html.value
    assert "<strong>No plan:</strong>" in shown and "or the oral solution (oral_solution" in shown
    assert stamped(shown)
    assert "Traceback" not in shown
    assert "gabacalc explorer: no plan" in repr(explorer)
    explorer.set(strengths_mg=(100, 800))
    assert explorer.plan is not None and explorer.error is None


def test_contradictory_and_mistyped_inputs_are_refused_with_their_hint(
    explorer: Explorer,
) -> None:
    explorer.set(crcl_ml_min=40)  # serum creatinine is still given
    assert explorer.error is not None and explorer.error.startswith(
        "both serum creatinine and a creatinine clearance were given"
    )
    explorer.set(crcl_ml_min=None, scr=88)
    assert explorer.error is not None
    assert "did you mean 88 umol/L?" in explorer.error
    explorer.set(scr_unit="umol/L")
    assert explorer.plan is not None
    assert explorer.plan.summary["inputs"]["patient"]["scr"] == 88
    explorer.set(dialysis="hemodialysis")
    assert explorer.error is not None and "serum creatinine is not used on hemodialysis" in (
        explorer.error
    )


def test_a_slider_refuses_a_value_outside_its_range_instead_of_moving_it(
    explorer: Explorer,
) -> None:
    limits = gabacalc.default_rules().limits["age_years"]
    slider = explorer.controls["age_years"]
    assert (slider.min, slider.max) == (float(limits["min"]), float(limits["max"]))
    with pytest.raises(traitlets.TraitError, match="age_years 12 is outside"):
        slider.value = 12
    assert slider.value == 72
    with pytest.raises(traitlets.TraitError):
        explorer.set(target_daily_mg=4000)
    assert explorer.controls["target_daily_mg"].value is None
    assert explorer.plan is not None


def test_no_box_carries_a_tooltip_which_the_browser_fails_to_draw(explorer: Explorer) -> None:
    # Found on the page served by voila: a Box with a tooltip showed "javascript error".
    boxes = [w for w in explorer.controls.values() if isinstance(w, ipywidgets.Box)]
    assert boxes and all(box.tooltip is None for box in boxes)


def test_an_optional_control_is_off_until_given(explorer: Explorer) -> None:
    crcl = explorer.controls["crcl_ml_min"]
    assert crcl.value is None and crcl.given.value is False and crcl.inner.disabled
    crcl.value = 30
    assert crcl.given.value is True and crcl.inner.value == 30 and not crcl.inner.disabled
    crcl.given.value = False  # unticking the box is the same as setting None
    assert crcl.value is None and crcl.inner.disabled
    height = explorer.controls["height_cm"]
    height.inner.value = 170  # moving the slider of a given height
    assert height.value == 170
    assert explorer.plan is not None
    assert explorer.plan.summary["inputs"]["patient"]["height_cm"] == 170


def test_compare_lays_two_scenarios_side_by_side_with_the_differences_highlighted(
    explorer: Explorer,
) -> None:
    today = explorer.plan
    explorer.pin()
    assert explorer.baseline is today and explorer.compare_button.value is True
    explorer.set(scr=None, crcl_ml_min=20)
    assert explorer.plan is not None and explorer.plan.summary["max_daily_mg"] == 700
    shown = explorer.display_html.value
    assert 'class="gabacalc-comparison"' in shown and 'class="gabacalc-differs"' in shown
    assert "A (pinned)" in shown and "B (the controls)" in shown
    assert "1,400 mg/day" in shown and "700 mg/day" in shown
    assert stamped(shown)
    assert len(explorer.figures) == 2 and len(explorer.charts.children) == 2
    assert band_line_top(explorer, 0) == 1400 and band_line_top(explorer, 1) == 700
    a, b = (fig.axes[0] for fig in explorer.figures)
    assert a.get_ylim() == b.get_ylim() and a.get_xlim() == b.get_xlim(), "one scale for both"
    explorer.compare_button.value = False  # the button leaves compare mode too
    assert explorer.baseline is None and len(explorer.figures) == 1
    assert 'class="gabacalc-comparison"' not in explorer.display_html.value


def test_there_is_nothing_to_pin_while_the_controls_give_an_error(explorer: Explorer) -> None:
    explorer.set(scr=None)
    with pytest.raises(InputError, match="there is no plan to pin as A: no renal function"):
        explorer.pin()
    explorer.compare_button.value = True  # pressed by hand: refused, and the button pops up
    assert explorer.compare_button.value is False and explorer.baseline is None
    assert "there is no plan to pin" in explorer.status.value
    assert stamped(explorer.status.value)


def test_options_and_control_names_that_do_not_exist_are_refused() -> None:
    with pytest.raises(InputError, match="explore\\(\\) has no option 'target_mg'"):
        explore(target_mg=900)
    explorer = explore(example_patient(), target_daily_mg=900, start_date=EXAMPLE_START_DATE)
    assert explorer.controls["target_daily_mg"].value == 900
    with pytest.raises(InputError, match="no control 'crcl'"):
        explorer.set(crcl=25)


def test_every_view_carries_the_verification_text_and_safe_dose_wording(
    explorer: Explorer,
) -> None:
    views = [explorer.display_html.value, repr(explorer)]
    explorer.pin().set(scr=None, crcl_ml_min=12, titration="gentle")
    views.append(explorer.display_html.value)
    explorer.set(age_years=18, strengths_mg=())
    views.append(explorer.display_html.value)
    for text in views:
        assert stamped(text) or text.startswith("<gabacalc explorer: no plan")
        assert_safe_dose_text(text)
    assert all(stamped(v) for v in views[:3])


def test_gabacalc_explore_is_the_explorer_and_says_how_to_install_ipywidgets() -> None:
    assert isinstance(gabacalc.explore(start_date=EXAMPLE_START_DATE), Explorer)
    code = (
        "import sys; sys.modules['ipywidgets'] = None; import gabacalc\n"
        "try:\n    gabacalc.explore()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == 'gabacalc.explore needs ipywidgets: pip install "gabacalc[jupyter]"'


def test_compared_charts_share_the_scales_of_the_two_plans_shown_now() -> None:
    patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=20)
    explorer = explore(patient, start_date=EXAMPLE_START_DATE).pin()
    own = explorer.figures[0].axes[0].get_ylim()
    explorer.set(crcl_ml_min=90)  # B's band is higher: both charts take B's dose scale
    a, b = (fig.axes[0] for fig in explorer.figures)
    assert a.get_ylim() == b.get_ylim() and a.get_ylim()[1] > own[1]
    explorer.set(crcl_ml_min=20)  # back to A's own scale, not stuck on the larger one
    assert [fig.axes[0].get_ylim() for fig in explorer.figures] == [own, own]


_RULES = gabacalc.default_rules()
_SOLIDS = sorted(s.strength_mg for s in _RULES.strengths if not s.is_solution)
_ONE_EXPLORER = explore(start_date=EXAMPLE_START_DATE)
finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def control_values(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly consistent inputs, and now and then a contradiction or an impossible set."""
    kidney = draw(st.sampled_from(["scr", "crcl", "hemodialysis", "peritoneal", "both"]))
    values: dict[str, Any] = {
        "age_years": draw(st.integers(18, 110)),
        "weight_kg": round(draw(st.floats(30, 350, **finite)) * 2) / 2,
        "scr": draw(st.floats(0.1, 25, **finite)) if kidney in ("scr", "both") else None,
        "crcl_ml_min": draw(st.floats(0, 250, **finite)) if kidney in ("crcl", "both") else None,
        "dialysis": kidney if kidney in ("hemodialysis", "peritoneal") else "none",
        "risks": tuple(draw(st.lists(st.sampled_from(list(_RULES.risks)), max_size=3))),
        "target_daily_mg": draw(st.none() | st.sampled_from(range(300, 3700, 100))),
        "titration": draw(st.sampled_from([None, *_RULES.titration_presets])),
        "taper": draw(st.sampled_from([None, *_RULES.taper_presets])),
        "strengths_mg": tuple(sorted(draw(st.sets(st.sampled_from(_SOLIDS), min_size=1)))),
        "oral_solution": draw(st.booleans()),
        "current_daily_mg": draw(st.none() | st.none() | st.sampled_from(range(100, 4900, 100))),
    }
    return values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=control_values())
def test_whatever_the_controls_hold_the_explorer_shows_build_plans_answer(
    values: dict[str, Any],
) -> None:
    """A plan equal to build_plan's, or build_plan's own refusal word for word."""
    explorer = _ONE_EXPLORER
    explorer.set(**values)
    held = explorer.values()
    try:
        patient = Patient(**{k: held[k] for k in held if k in Patient.__dataclass_fields__})
        direct = build_plan(patient, **{k: v for k, v in held.items() if k not in patient.__dict__})
    except InputError as refusal:
        event("refused")
        assert explorer.plan is None and explorer.error == str(refusal)
        assert "<strong>No plan:</strong>" in explorer.display_html.value
    else:
        event("planned")
        assert explorer.error is None and explorer.plan is not None
        assert explorer.plan.summary == direct.summary
        assert band_line_top(explorer) == direct.summary["max_daily_mg"]
