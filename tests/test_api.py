"""The public API: listed in ``gabacalc.__all__``, documented with runnable examples,
typed, and reproducible from a saved summary."""

from __future__ import annotations

import doctest
import inspect
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import gabacalc
from gabacalc import Patient, build_plan, build_taper, rebuild_plan

MONDAY = date(2026, 1, 5)


def _public() -> list[tuple[str, object]]:
    return [(name, getattr(gabacalc, name)) for name in gabacalc.__all__]


def _functions() -> list[tuple[str, Callable[..., object]]]:
    return [(n, o) for n, o in _public() if callable(o) and not inspect.isclass(o)]


def test_every_name_in_all_exists_once() -> None:
    assert len(set(gabacalc.__all__)) == len(gabacalc.__all__)
    missing = [name for name in gabacalc.__all__ if not hasattr(gabacalc, name)]
    assert missing == []
    assert {"Patient", "Plan", "build_plan", "build_taper", "rebuild_plan"} <= set(gabacalc.__all__)


@pytest.mark.parametrize("name", [n for n, o in _public() if callable(o)])
def test_every_public_class_and_function_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(gabacalc, name)) or ""
    assert len(doc.splitlines()[0]) > 10, f"{name} needs a one-line summary"


@pytest.mark.parametrize("name", [n for n, _ in _functions()])
def test_every_public_function_has_a_numpydoc_example_that_runs(name: str) -> None:
    function = getattr(gabacalc, name)
    doc = inspect.getdoc(function) or ""
    assert "\nExamples\n--------\n" in doc, f"{name} has no numpydoc Examples section"
    examples = doctest.DocTestParser().get_examples(doc)
    assert examples, f"{name}'s Examples section has no >>> example"
    # The module's doctests (pytest --doctest-modules) run these; check they are collected.
    module = inspect.getmodule(inspect.unwrap(function))
    assert module is not None and module.__name__.startswith("gabacalc.")
    found = doctest.DocTestFinder().find(module)
    assert any(t.name.endswith(f".{function.__name__}") and t.examples for t in found)


@pytest.mark.parametrize("name", ["build_plan", "build_taper"])
def test_every_parameter_of_an_entry_point_is_documented_once(name: str) -> None:
    """The shared option entries (core/options.py) reach every entry point's docstring."""
    function = getattr(gabacalc, name)
    doc = inspect.getdoc(function) or ""
    parameters = doc.split("\nParameters\n----------\n")[1].split("\n\n")[0]
    documented = [line.split(" : ")[0] for line in parameters.splitlines() if " : " in line]
    assert "{options}" not in doc
    assert documented == list(inspect.signature(function).parameters)


def test_the_package_is_marked_typed() -> None:
    assert (Path(gabacalc.__file__).parent / "py.typed").is_file()


def test_public_functions_are_fully_annotated() -> None:
    for name, function in _functions():
        signature = inspect.signature(inspect.unwrap(function))
        assert signature.return_annotation is not inspect.Signature.empty, name
        for parameter in signature.parameters.values():
            assert parameter.annotation is not inspect.Parameter.empty, (name, parameter.name)


# A saved summary (JSON) rebuilds the same plan: the schedule, the steps and the summary.

_OLDER = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
_OBESE_UMOL = Patient(
    age_years=58,
    sex="male",
    weight_kg=130,
    height_cm=175,
    scr=110,
    scr_unit="umol/L",
    risks=["opioids", "falls"],
    pain_type="radicular",
)
_DIALYSIS = Patient(age_years=66, sex="male", weight_kg=80, dialysis="hemodialysis", crcl_ml_min=8)

_CASES: dict[str, Callable[[], gabacalc.Plan]] = {
    "titration, defaults": lambda: build_plan(_OLDER, start_date=MONDAY),
    "titration, every option chosen": lambda: build_plan(
        _OBESE_UMOL,
        weight_basis="adjusted",
        start_daily_mg=200,
        target_daily_mg=2400,
        titration="label-phn",
        taper="gradual",
        review_weeks=4,
        start_date=MONDAY,
        strengths_mg=[100, 300],
        oral_solution=True,
    ),
    "titration, hemodialysis": lambda: build_plan(
        _DIALYSIS, dialysis_days="tue,thu,sat", start_date=MONDAY
    ),
    "taper": lambda: build_taper(
        _OBESE_UMOL,
        2400,
        current_doses_per_day=2,
        taper="gradual",
        oral_solution=True,  # the gradual taper needs it below 300 mg/day
        start_date=MONDAY,
    ),
    "taper, above the band": lambda: build_taper(_OLDER, 1800, start_date=MONDAY),
    "re-plan from a current dose": lambda: build_plan(
        Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=25),
        current_daily_mg=1200,
        target_daily_mg=1800,
        start_date=date(2026, 1, 26),
    ),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_a_summary_saved_as_json_rebuilds_the_same_plan(case: str, tmp_path: Path) -> None:
    plan = _CASES[case]()
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(plan.summary, allow_nan=False), encoding="utf-8")
    saved = json.loads(path.read_text(encoding="utf-8"))
    rebuilt = rebuild_plan(saved)
    pd.testing.assert_frame_equal(rebuilt.schedule, plan.schedule)
    pd.testing.assert_frame_equal(rebuilt.steps, plan.steps)
    assert rebuilt.schedule.attrs == plan.schedule.attrs
    assert rebuilt.summary == plan.summary
    assert rebuilt.patient == plan.patient and rebuilt.options == plan.options


def test_the_rebuild_cases_cover_what_they_say() -> None:
    plans = {case: make() for case, make in _CASES.items()}
    assert plans["taper"].summary["kind"] == "taper"
    assert plans["taper, above the band"].flags[0]["code"] == "CURRENT_ABOVE_BAND"
    replan = plans["re-plan from a current dose"]
    assert replan.summary["current_daily_mg"] == 1200
    assert replan.summary["start_daily_mg"] == replan.summary["max_daily_mg"] == 700
    assert plans["titration, hemodialysis"].summary["post_dialysis_mg"]
    chosen = plans["titration, every option chosen"].summary
    assert (chosen["titration"], chosen["taper"], chosen["review_weeks"]) == (
        "label-phn",
        "gradual",
        4,
    )
    assert chosen["weight_used"] == "adjusted"
