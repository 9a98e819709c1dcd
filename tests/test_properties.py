"""Hypothesis: the safety invariants hold for random valid patients and options."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_checks import check_gradual, check_plan_invariants

import gabacalc

finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def patients(draw: st.DrawFn) -> gabacalc.Patient:
    kidney = draw(st.sampled_from(["scr", "umol", "crcl", "hemodialysis", "peritoneal"]))
    fields: dict[str, Any] = {
        "age_years": draw(st.floats(18, 110, **finite)),
        "sex": draw(st.sampled_from(["female", "male"])),
        "weight_kg": draw(st.floats(30, 350, **finite)),
        "height_cm": draw(st.none() | st.floats(120, 230, **finite)),
        "risks": draw(st.lists(st.sampled_from(list(gabacalc.default_rules().risks)), max_size=3)),
        "pain_type": draw(st.sampled_from(list(gabacalc.default_rules().pain_types))),
    }
    if kidney == "scr":
        fields["scr"] = draw(st.floats(0.2, 20, **finite))
    elif kidney == "umol":
        fields.update(scr=draw(st.floats(18, 1768, **finite)), scr_unit="umol/L")
    elif kidney == "crcl":
        fields["crcl_ml_min"] = draw(st.floats(0.5, 250, **finite))
    else:
        fields["dialysis"] = kidney
        if draw(st.booleans()):
            fields["crcl_ml_min"] = draw(st.floats(0.5, 30, **finite))
    return gabacalc.Patient(**fields)


options = st.fixed_dictionaries(
    {},
    optional={
        "start_daily_mg": st.integers(100, 300),
        "target_daily_mg": st.integers(300, 3600),
        "titration": st.sampled_from(["label-phn", "weekly", "gentle"]),
        "taper": st.sampled_from(["weekly", "gradual"]),
        "review_weeks": st.integers(4, 6),
        "weight_basis": st.sampled_from(["auto", "actual"]),
        "strengths_mg": st.sets(st.sampled_from([100, 300, 400, 600, 800]), min_size=1).map(sorted),
        "oral_solution": st.booleans(),
        "dialysis_days": st.sets(
            st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat"]), min_size=1
        ).map(sorted),
    },
)


def _build(patient: gabacalc.Patient, opts: dict[str, Any]) -> gabacalc.Plan | None:
    if patient.dialysis != "hemodialysis":  # dialysis days without it are refused
        opts.pop("dialysis_days", None)
    try:
        return gabacalc.build_plan(patient, start_date=date(2026, 1, 5), **opts)
    except gabacalc.InputError as error:
        # The only acceptable refusals for valid inputs: the allowed forms cannot make a
        # dose, or cannot make a gradual step (the message then names what would).
        assert (
            "cannot make" in str(error)
            or "without rising more" in str(error)
            or ("taper cannot come down" in str(error) and "allow" in str(error))
        ), error
        return None


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients(), opts=options)
def test_every_plan_keeps_the_safety_invariants(
    patient: gabacalc.Patient, opts: dict[str, Any]
) -> None:
    plan = _build(patient, opts)
    if plan is None:
        return
    check_plan_invariants(plan)
    check_gradual(plan)
    json.dumps(plan.summary)  # the summary is plain data


@settings(max_examples=60, deadline=None)
@given(patient=patients(), opts=options)
def test_same_inputs_same_plan_and_a_saved_summary_rebuilds_it(
    patient: gabacalc.Patient, opts: dict[str, Any]
) -> None:
    plan = _build(patient, opts)
    if plan is None:
        return
    again = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), **opts)
    assert again.schedule.equals(plan.schedule) and again.summary == plan.summary
    rebuilt = gabacalc.rebuild_plan(json.loads(json.dumps(plan.summary)))
    assert rebuilt.schedule.equals(plan.schedule)
    assert rebuilt.summary == plan.summary


@settings(max_examples=120, deadline=None)
@given(
    patient=patients(),
    current=st.integers(1, 4800),
    count=st.integers(1, 3),
    taper=st.sampled_from(["weekly", "gradual"]),
    solution=st.booleans(),
)
def test_every_taper_keeps_the_safety_invariants(
    patient: gabacalc.Patient, current: int, count: int, taper: str, solution: bool
) -> None:
    try:
        plan = gabacalc.build_taper(
            patient,
            current,
            current_doses_per_day=count,
            taper=taper,
            oral_solution=solution,
            start_date=date(2026, 1, 5),
        )
    except gabacalc.InputError as error:
        assert "cannot make" in str(error) or (
            "taper cannot come down" in str(error) and "allow" in str(error)
        ), error
        return
    check_plan_invariants(plan)
    check_gradual(plan)
    assert plan.schedule["daily_mg"].iloc[0] <= current
    assert plan.schedule["doses_per_day"].iloc[0] <= count
