"""Bad arguments of any type or size are an InputError, never another exception.

An embedding program, a notebook or a cohort file can hand gabacalc anything: a huge
integer, a text where a list is due, NaN inside a list, pandas' NaT, None, an empty dict,
True where a number is due. Each public function either plans or refuses with an
InputError that a caller can show; an OverflowError, TypeError or KeyError would be a bug.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabacalc
from gabacalc import InputError, Patient, build_plan, build_taper, plan_cohort, rebuild_plan

START = date(2026, 1, 5)
BASE_PATIENT: dict[str, Any] = {"age_years": 50, "sex": "male", "weight_kg": 80, "scr": 1.0}
PATIENT = Patient(**BASE_PATIENT)

#: Values of every kind and size a caller might pass by mistake.
special = st.sampled_from(
    [
        None,
        True,
        False,
        np.True_,
        0,
        -1,
        10**400,
        -(10**400),
        2**63,
        math.nan,
        math.inf,
        -math.inf,
        np.nan,
        np.float64("nan"),
        np.int64(300),
        pd.NaT,
        pd.NA,
        "",
        "300",
        "male",
        "opioids",
        "mon,wed,fri",
        "2026-01-05",
        "x" * 5000,
        b"300",
        [],
        ["x" * 5000],
        list(range(5000)),
        {},
        {"a": 1},
        [math.nan],
        [300, math.nan],
        [None],
        ["300"],
        [True],
        [10**400],
        (100, 300),
        {100, 300},
        np.array([100, 300]),
        np.array([]),
        Decimal("NaN"),
        Decimal("1e400"),
        Fraction(10**400, 3),
        complex(1, 1),
        object(),
        date.min,
        date.max,
        date(9999, 12, 31),
        datetime(1, 1, 1),
        pd.Timestamp("2262-04-11"),
        timedelta(days=1),
        Patient,
    ]
)
anything = st.one_of(
    special,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.dates(),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=4), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def succeeds_or_refuses(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The call's result, or None if it raised an InputError; any other exception fails."""
    try:
        return call(*args, **kwargs)
    except InputError as error:
        assert str(error), "an InputError must say what is wrong"
        # It names the value cut short (a 5,000-character text or list is not repeated).
        assert len(str(error)) < _LONGEST_MESSAGE, str(error)[:300]
        return None


#: No refusal is longer than this: the longest name the forms, the band and what to allow.
_LONGEST_MESSAGE = 1000


PATIENT_FIELDS = [f.name for f in dataclasses.fields(Patient)]


@FUZZ
@given(st.sampled_from(PATIENT_FIELDS), anything)
def test_patient_takes_anything_in_any_field(name: str, value: Any) -> None:
    succeeds_or_refuses(Patient, **{**BASE_PATIENT, name: value})


@FUZZ
@given(st.dictionaries(st.sampled_from(PATIENT_FIELDS), anything, max_size=4))
def test_patient_takes_any_mix_of_fields(kwargs: dict[str, Any]) -> None:
    # A missing required argument stays Python's own TypeError (a call that cannot be made);
    # every value of every field is what must be refused as an InputError.
    succeeds_or_refuses(Patient, **{**BASE_PATIENT, "scr": None, **kwargs})


#: Every keyword of build_plan (read from its signature, so a new one is fuzzed too).
PLAN_KEYWORDS = [name for name in inspect.signature(build_plan).parameters if name != "patient"]


@FUZZ
@given(st.sampled_from(PLAN_KEYWORDS), anything)
def test_build_plan_takes_anything_in_any_keyword(name: str, value: Any) -> None:
    for base in ({"start_date": START}, {"start_date": START, "current_daily_mg": 2400}):
        plan = succeeds_or_refuses(build_plan, PATIENT, **{**base, name: value})
        if plan is not None:
            assert int(plan.schedule["daily_mg"].max()) <= plan.summary["max_daily_mg"]


#: Long values a caller might pass by mistake: a refusal names each cut short.
LONG_VALUES = ["x" * 5000, ["x" * 5000], list(range(5000)), {"x" * 5000: 1}, "7" * 5000]


@pytest.mark.parametrize(
    "value", LONG_VALUES, ids=["text", "list-of-text", "list", "dict", "digits"]
)
@pytest.mark.parametrize("name", PATIENT_FIELDS + PLAN_KEYWORDS)
def test_a_long_value_in_any_field_or_keyword_is_named_cut_short(name: str, value: Any) -> None:
    """Whatever field or keyword a long value is given in, the refusal names it in a few
    words (its first characters and "..."), not in 5,000 characters."""
    if name in PATIENT_FIELDS:
        succeeds_or_refuses(Patient, **{**BASE_PATIENT, name: value})
    else:
        succeeds_or_refuses(build_plan, PATIENT, **{"start_date": START, name: value})


@FUZZ
@given(anything)
def test_build_plan_takes_anything_as_the_patient(value: Any) -> None:
    succeeds_or_refuses(build_plan, value, start_date=START)


TAPER_KEYWORDS = [
    name
    for name in inspect.signature(build_taper).parameters
    if name not in ("patient", "current_daily_mg")
]


@FUZZ
@given(anything, st.sampled_from(TAPER_KEYWORDS), anything)
def test_build_taper_takes_anything(current: Any, name: str, value: Any) -> None:
    succeeds_or_refuses(build_taper, PATIENT, current, **{"start_date": START, name: value})
    succeeds_or_refuses(build_taper, PATIENT, 1800, **{"start_date": START, name: value})


@FUZZ
@given(anything)
def test_rebuild_plan_takes_anything_as_the_record(value: Any) -> None:
    succeeds_or_refuses(rebuild_plan, value)
    succeeds_or_refuses(rebuild_plan, {"summary": value})
    succeeds_or_refuses(rebuild_plan, {"inputs": value})


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    plan = build_plan(PATIENT, start_date=START)
    return plan.summary


@FUZZ
@given(
    st.sampled_from(["patient", "options"]),
    st.sampled_from([*PATIENT_FIELDS, *PLAN_KEYWORDS, "current_doses_per_day", "other"]),
    anything,
)
def test_rebuild_plan_takes_a_record_with_any_value_replaced(
    record: dict[str, Any], part: str, name: str, value: Any
) -> None:
    inputs = {k: dict(v) for k, v in record["inputs"].items()}
    inputs[part][name] = value
    succeeds_or_refuses(rebuild_plan, {**record, "inputs": inputs})
    succeeds_or_refuses(rebuild_plan, {**record, "kind": value})


COHORT = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "age_years": [72, 50, 64],
        "sex": ["female", "male", "male"],
        "weight_kg": [60, 80, 75],
        "scr": [1.3, 1.0, 1.1],
        "start_date": ["2026-01-05"] * 3,
    }
)
COHORT_COLUMNS = [c for c in gabacalc.core.cohort.INPUT_COLUMNS if c not in ("id",)]


@FUZZ
@given(st.sampled_from(COHORT_COLUMNS), anything)
def test_a_cohort_with_any_cell_keeps_every_row(name: str, value: Any) -> None:
    frame = COHORT.copy()
    if name not in frame:
        frame[name] = pd.Series([None, None, None], dtype=object)
    frame[name] = frame[name].astype(object)
    frame.at[1, name] = value
    out = plan_cohort(frame)
    assert out["id"].tolist() == ["a", "b", "c"]
    assert set(out["status"]) <= {"ok", "error"}
    if name not in ("start_date",):  # the other rows are untouched, so they still plan
        assert (out["status"][[0, 2]] == "ok").all(), out["error"].tolist()
    if out.loc[1, "status"] == "error":
        assert out.loc[1, "error"], "an error row says why"


@FUZZ
@given(anything)
def test_plan_cohort_takes_anything_as_the_table(value: Any) -> None:
    succeeds_or_refuses(plan_cohort, value)
    succeeds_or_refuses(plan_cohort, COHORT, rules=value)


# ------------------------------------------------------------------ the start-date window


@pytest.mark.parametrize(
    "when",
    [date(1989, 12, 31), date(2101, 1, 1), date.max, date.min, datetime(9999, 12, 31, 23, 59)],
)
def test_a_start_date_outside_the_window_is_refused_by_name(when: date) -> None:
    with pytest.raises(InputError) as error:
        build_plan(PATIENT, start_date=when)
    shown = (when.date() if isinstance(when, datetime) else when).isoformat()
    assert str(error.value) == (
        f"start date {shown} is outside 1990-01-01 to 2100-12-31 (gabacalc's window of "
        "plausible start dates); check the year"
    )
    assert error.value.field == "start_date"
    with pytest.raises(InputError, match=f"start date {shown} is outside"):
        build_taper(PATIENT, 1800, start_date=when)


@pytest.mark.parametrize("when", [date(1990, 1, 1), date(2100, 12, 31)])
def test_the_window_includes_both_ends(when: date) -> None:
    plan = build_plan(PATIENT, start_date=when)
    assert plan.summary["start_date"] == when.isoformat()
    assert build_taper(PATIENT, 1800, start_date=when).summary["start_date"] == when.isoformat()


def test_the_window_is_cited_data() -> None:
    rules = gabacalc.default_rules()
    assert rules.start_date_window == (date(1990, 1, 1), date(2100, 12, 31))
    rows = {r["parameter"]: r for r in rules.rows["clinical_thresholds.csv"]}
    for name in ("start_date_earliest", "start_date_latest"):
        assert rows[name]["unit"] == "date"
        assert rows[name]["source_id"] == "gabacalc-conventions"
        assert rows[name]["source_section"]


def test_pandas_nat_is_not_a_start_date() -> None:
    with pytest.raises(InputError, match="start date NaT is not a date"):
        build_plan(PATIENT, start_date=pd.NaT)


def test_a_timestamp_start_date_is_a_plain_date() -> None:
    plan = build_plan(PATIENT, start_date=pd.Timestamp("2026-01-05 13:00"))
    assert type(plan.options.start_date) is date
    assert plan.summary["start_date"] == "2026-01-05"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"age_years": True}, "age True is not a number (true/false given)"),
        ({"weight_kg": 10**400}, "weight 1000000000"),
        ({"risks": {}}, "risks {} is not a list of risk names"),
        ({"risks": 3}, "risks 3 is not a list of risk names"),
        ({"sex": None}, "sex None is not one of: female, male"),
    ],
)
def test_patient_refusals_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as error:
        Patient(**{**BASE_PATIENT, **kwargs})
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strengths_mg": "300"}, "strengths_mg '300' is not a list of strengths in mg"),
        ({"strengths_mg": [300, math.nan]}, "strength nan is not a finite number"),
        ({"strengths_mg": [True]}, "strength True is not a number (true/false given)"),
        ({"oral_solution": "yes"}, "oral_solution 'yes' is not True or False"),
        ({"dialysis_days": 3}, "dialysis days 3 is not a list of weekdays"),
        ({"target_daily_mg": 10**400}, "target dose 1000000000"),
        ({"rules": {}}, "rules {} is not a set of rule tables"),
    ],
)
def test_option_refusals_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as error:
        build_plan(PATIENT, start_date=START, **kwargs)
    assert str(error.value).startswith(message)


def test_a_taper_without_a_current_dose_is_refused() -> None:
    with pytest.raises(InputError, match="a taper needs the current dose"):
        build_taper(PATIENT, None)  # type: ignore[arg-type]


def test_rebuild_plan_refuses_an_empty_record() -> None:
    with pytest.raises(InputError, match=r"summary \{\} holds no recorded inputs"):
        rebuild_plan({})


# ------------------------------------------------------------- cohort rows never dropped


def test_a_row_that_fails_unexpectedly_is_an_error_row_and_the_others_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = gabacalc.core.cohort.summary_codes_from_options

    def fails_at_72(patient: Patient, options: Any, rules: Any) -> Any:
        if patient.age_years == 72:
            raise ZeroDivisionError("a simulated bug")
        return real(patient, options, rules)

    monkeypatch.setattr(gabacalc.core.cohort, "summary_codes_from_options", fails_at_72)
    out = plan_cohort(COHORT)
    assert out["status"].tolist() == ["error", "ok", "ok"]
    assert out.loc[0, "error"] == (
        "gabacalc internal error while planning this row (ZeroDivisionError: "
        "'a simulated bug'); the other rows are unaffected; please report it"
    )
    assert out.loc[1, "band"] == "CrCl of 60 mL/min or more"


def test_a_row_with_a_start_date_outside_the_window_is_an_error_row() -> None:
    frame = COHORT.copy()
    frame.loc[1, "start_date"] = "9999-12-31"
    out = plan_cohort(frame)
    assert out["status"].tolist() == ["ok", "error", "ok"]
    assert out.loc[1, "error"].startswith("start date 9999-12-31 is outside 1990-01-01")


def test_a_cohort_file_keeps_every_row_whatever_fails(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gabacalc.files.cohort_io import read_cohort_results, run_cohort_file

    source = tmp_path / "clinic.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,scr,start_date,strengths_mg\n"
        "a,72,female,60,1.3,2026-01-05,\n"
        "b,50,male,80,1.0,9999-12-31,\n"
        f"c,{10**400},male,80,1.0,2026-01-05,\n"
        "d,50,male,80,1.0,2026-01-05,{}\n"
        "e,64,male,75,true,2026-01-05,\n"
        "f,81,male,90,0.9,2026-01-05,\n"
    )
    real = gabacalc.core.cohort.summary_codes_from_options

    def fails_at_81(patient: Patient, options: Any, rules: Any) -> Any:
        if patient.age_years == 81:
            raise KeyError("a simulated bug")
        return real(patient, options, rules)

    monkeypatch.setattr(gabacalc.core.cohort, "summary_codes_from_options", fails_at_81)
    run_cohort_file(source, tmp_path / "results.csv", chunk_rows=2, workers=1)
    out = read_cohort_results(tmp_path / "results.csv")
    assert out["id"].tolist() == ["a", "b", "c", "d", "e", "f"]
    assert out["status"].tolist() == ["ok", "error", "error", "error", "error", "error"]
    errors = out["error"].tolist()
    assert errors[1].startswith("start date 9999-12-31 is outside 1990-01-01 to 2100-12-31")
    assert errors[2].startswith("age 1000000000")
    assert "not a finite number (too large)" in errors[2]
    assert errors[3].startswith("strength '{}' in strengths_mg is not a whole number of mg")
    assert errors[4].startswith("serum creatinine 'true' is not a number")
    assert errors[5].startswith("gabacalc internal error while planning this row (KeyError:")
