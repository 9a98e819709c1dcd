"""Cohort mode: a table of patients in, one plan summary per patient out.

Read as a clinician: a small hand-made clinic list with every band edge, dialysis kinds,
units and bad rows; an audit of current prescriptions; then the promise that every row gets
exactly what ``build_plan`` gives that patient, checked field by field on thousands of
random patients.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabacalc
from gabacalc.core.cohort import AUDIT_COLUMNS, OUTPUT_COLUMNS, SUMMARY_COLUMNS, plan_cohort
from gabacalc.files.cohort_io import read_results, run_cohort_file, typed_results

RULES = gabacalc.default_rules()
START = "2026-01-05"
PATIENT_FIELDS = (
    "age_years",
    "sex",
    "weight_kg",
    "height_cm",
    "scr",
    "scr_unit",
    "crcl_ml_min",
    "dialysis",
    "risks",
    "pain_type",
)

# id, age, sex, weight, height, scr, unit, crcl, dialysis, band, max mg/day, administrations
CLINIC = [
    ("edge-60", 50, "male", 80, 180, None, None, 60, "none", "crcl-60-plus", 3600, 3),
    ("just-under-60", 50, "male", 80, 180, None, None, 59.99, "none", "crcl-30-60", 1400, 2),
    ("edge-30", 50, "male", 80, 180, None, None, 30, "none", "crcl-15-30", 700, 1),
    ("edge-15", 50, "male", 80, 180, None, None, 15, "none", "crcl-15-or-less", 300, 1),
    ("half-of-15", 50, "male", 80, 180, None, None, 7.5, "none", "crcl-15-or-less", 150, 1),
    ("bad-age", 300, "male", 80, 180, 1.0, "mg/dL", None, "none", None, None, None),
    (
        "hemodialysis",
        66,
        "male",
        80,
        None,
        None,
        None,
        None,
        "hemodialysis",
        "crcl-15-or-less",
        300,
        1,
    ),
    (
        "peritoneal",
        58,
        "female",
        70,
        165,
        None,
        None,
        None,
        "peritoneal",
        "crcl-15-or-less",
        300,
        1,
    ),
    ("bad-sex", 50, "x", 80, 180, 1.0, "mg/dL", None, "none", None, None, None),
    ("umol", 72, "female", 60, 160, 115, "umol/L", None, "none", "crcl-30-60", 1400, 2),
    ("obese", 45, "male", 150, 170, 1.1, "mg/dL", None, "none", "crcl-60-plus", 3600, 3),
    ("no-height", 80, "female", 55, None, 1.4, "mg/dL", None, "none", "crcl-15-30", 700, 1),
    ("unit-slip", 72, "female", 60, 160, 88, "mg/dL", None, "none", None, None, None),
]


def clinic() -> pd.DataFrame:
    columns = ["id", "age_years", "sex", "weight_kg", "height_cm", "scr", "scr_unit"]
    columns += ["crcl_ml_min", "dialysis"]
    frame = pd.DataFrame([row[:9] for row in CLINIC], columns=columns)
    frame["start_date"] = START
    return frame


def single(row: dict[str, Any]) -> dict[str, Any] | str:
    """What the single-patient path gives one row: the summary, or the refusal's message."""
    patient = {k: v for k, v in row.items() if k in PATIENT_FIELDS and not _empty(v)}
    options = {
        k: v for k, v in row.items() if k not in PATIENT_FIELDS and k != "id" and not _empty(v)
    }
    options["start_date"] = date.fromisoformat(options["start_date"])
    if "strengths_mg" in options:
        options["strengths_mg"] = [int(x) for x in options["strengths_mg"].split(";")]
    if "current_daily_mg" not in options:
        # Without a current dose the cohort reads doses a day for its audit only.
        options.pop("current_doses_per_day", None)
    try:
        return gabacalc.build_plan(gabacalc.Patient(**patient), **options).summary
    except gabacalc.InputError as error:
        return str(error)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# ----------------------------------------------------------------------- a small clinic


def test_every_row_comes_back_once_in_order_with_its_id() -> None:
    out = plan_cohort(clinic())
    assert out["id"].tolist() == [row[0] for row in CLINIC]
    assert out.index.equals(clinic().index)
    assert list(out.columns) == [c for c in OUTPUT_COLUMNS if c not in AUDIT_COLUMNS]


def test_band_edges_dialysis_and_units_give_the_labels_band() -> None:
    out = plan_cohort(clinic()).set_index("id")
    for name, *_, band_id, maximum, doses in CLINIC:
        row = out.loc[name]
        if band_id is None:
            assert row["status"] == "error", name
            continue
        assert row["status"] == "ok", (name, row["error"])
        assert (row["band_id"], row["max_daily_mg"], row["doses_per_day"]) == (
            band_id,
            maximum,
            doses,
        ), name
    assert out.loc["half-of-15", "band"] == (
        "CrCl of 15 mL/min or less, scaled by CrCl divided by 15 (factor 0.5)"
    )
    assert out.loc["half-of-15", "min_daily_mg"] == 50
    assert out.loc["edge-15", "band_scale"] == 1.0
    assert "HD_NO_RESIDUAL_CRCL" in out.loc["hemodialysis", "flag_codes"].split(";")
    # The label's 350 mg supplement (at 300 mg/day), rounded down to what capsules make.
    assert out.loc["hemodialysis", "post_dialysis_mg"] == 300
    assert "PERITONEAL_DIALYSIS" in out.loc["peritoneal", "flag_codes"].split(";")
    assert pd.isna(out.loc["peritoneal", "post_dialysis_mg"])
    assert out.loc["obese", "weight_used"] == "adjusted"
    assert out.loc["no-height", "weight_used"] == "actual"
    assert "NO_HEIGHT" in out.loc["no-height", "flag_codes"].split(";")
    assert out.loc["umol", "crcl_source"] == "cockcroft-gault"
    assert round(out.loc["umol", "crcl_ml_min"], 1) == 32.3  # 115 umol/L = 1.3 mg/dL


def test_a_bad_row_says_why_in_the_single_patient_words_and_the_rest_are_planned() -> None:
    out = plan_cohort(clinic()).set_index("id")
    assert out.loc["bad-age", "error"] == (
        "age 300 years is outside 18-110 years (gabacalc plans for adults)"
    )
    assert out.loc["bad-sex", "error"] == "sex 'x' is not one of: female, male"
    assert out.loc["unit-slip", "error"] == (
        "serum creatinine 88 mg/dL is outside 0.2-20 mg/dL (did you mean 88 umol/L? set "
        "the creatinine unit, scr_unit / --scr-unit, to umol/L)"
    )
    errors = out[out["status"] == "error"]
    assert errors[["band", "target_daily_mg", "flag_codes"]].isna().all().all()
    assert (out.loc[out["status"] == "ok", "error"].isna()).all()
    assert (out["status"] == "ok").sum() == len(CLINIC) - 3


def test_each_row_matches_build_plan_for_that_patient() -> None:
    frame = clinic()
    out = plan_cohort(frame)
    for record, (_, row) in zip(frame.to_dict("records"), out.iterrows(), strict=True):
        _assert_same(row, single(record), record)


def test_every_row_carries_the_verification_text_and_the_rules_checksum() -> None:
    out = plan_cohort(clinic())
    assert (out["verification"] == gabacalc.VERIFICATION_TEXT).all()
    assert (out["rules_sha256"] == RULES.rules_sha256).all()
    assert (out["rules_version"] == RULES.rules_version).all()
    assert (out["gabacalc_version"] == gabacalc.__version__).all()
    assert out.attrs["rules_sha256"] == RULES.rules_sha256


def test_whole_mg_are_integers_and_dates_iso_text() -> None:
    out = plan_cohort(clinic())
    assert out["max_daily_mg"].dtype == "Int64"
    assert out["target_daily_mg"].dtype == "Int64"
    assert out["crcl_ml_min"].dtype == np.float64
    assert out.loc[0, "start_date"] == START
    assert out.loc[0, "review_date"] == "2026-02-23"  # day 50: 14 days after day 36


# --------------------------------------------------------------------------- the audit


def test_audit_current_1800_three_times_daily_at_crcl_20() -> None:
    frame = pd.DataFrame(
        {
            "id": ["too-much", "within", "no-current"],
            "age_years": [70, 70, 70],
            "sex": ["female", "female", "female"],
            "weight_kg": [60, 60, 60],
            "crcl_ml_min": [20, 20, 20],
            "current_daily_mg": [1800, 600, None],
            "current_doses_per_day": [3, 1, None],
            "start_date": START,
        }
    )
    out = plan_cohort(frame).set_index("id")
    too_much = out.loc["too-much"]
    # The > 15 to <= 30 band allows 200-700 mg/day once daily.
    assert (too_much["max_daily_mg"], too_much["doses_per_day"]) == (700, 1)
    assert too_much["audit_above_band_max"] is True or too_much["audit_above_band_max"]
    assert too_much["audit_excess_mg"] == 1100
    assert too_much["audit_too_many_doses"]
    assert too_much["audit_excess_doses"] == 2
    assert "CURRENT_ABOVE_BAND" in too_much["flag_codes"].split(";")
    assert too_much["start_daily_mg"] == 700  # lowered at once to the band maximum
    within = out.loc["within"]
    assert not within["audit_above_band_max"] and within["audit_excess_mg"] == 0
    assert not within["audit_too_many_doses"] and within["audit_excess_doses"] == 0
    assert out.loc["no-current", ["audit_above_band_max", "audit_excess_mg"]].isna().all()
    assert list(out.columns) == list(OUTPUT_COLUMNS)[1:]  # id became the index


def test_a_current_administration_count_outside_1_to_3_is_refused() -> None:
    frame = pd.DataFrame(
        {
            "id": [1],
            "age_years": [50],
            "sex": ["male"],
            "weight_kg": [80],
            "scr": [1.0],
            "current_doses_per_day": [4],
        }
    )
    out = plan_cohort(frame)
    assert out.loc[0, "error"] == (
        "doses per day 4 is outside 1-3 (once, twice or three times daily)"
    )


# ------------------------------------------------------------------ columns and defaults


def test_a_missing_optional_column_takes_the_single_patient_default() -> None:
    frame = pd.DataFrame(
        {"id": ["a"], "age_years": [50], "sex": ["male"], "weight_kg": [80], "scr": [1.0]}
    )
    out = plan_cohort(frame)
    expected = gabacalc.build_plan(
        gabacalc.Patient(age_years=50, sex="male", weight_kg=80, scr=1.0)
    ).summary
    _assert_same(out.iloc[0], expected, {})
    assert out.loc[0, "start_date"] == date.today().isoformat()


def test_a_table_without_a_required_column_is_refused_naming_what_it_has() -> None:
    frame = clinic().rename(columns={"age_years": "age"})
    with pytest.raises(gabacalc.InputError, match=r"no age_years column; found: id, age, sex"):
        plan_cohort(frame)
    with pytest.raises(gabacalc.InputError, match="no renal column"):
        plan_cohort(clinic().drop(columns=["scr", "crcl_ml_min", "dialysis"]))


def test_a_misspelt_column_is_refused_not_ignored() -> None:
    frame = clinic().rename(columns={"height_cm": "heigth_cm"})
    with pytest.raises(gabacalc.InputError, match="did you mean 'height_cm'"):
        plan_cohort(frame)


def test_an_empty_table_gives_an_empty_result_with_every_column() -> None:
    out = plan_cohort(clinic().iloc[0:0])
    assert len(out) == 0
    assert list(out.columns) == [c for c in OUTPUT_COLUMNS if c not in AUDIT_COLUMNS]


def test_text_cells_are_read_as_the_single_patient_path_reads_them() -> None:
    frame = pd.DataFrame(
        {
            "id": ["text", "risks", "bad-number", "bad-risk"],
            "age_years": ["72", "72", "seventy", "72"],
            "sex": [" Female ", "female", "female", "female"],
            "weight_kg": ["60", "60", "60", "60"],
            "height_cm": ["160", "160", "160", "160"],
            "scr": ["1.3", "1.3", "1.3", "1.3"],
            "risks": [None, "Opioids; falls", None, "smoking"],
            "start_date": [START, START, START, START],
        }
    )
    out = plan_cohort(frame).set_index("id")
    assert out.loc["text", "status"] == "ok"
    assert out.loc["text", "max_daily_mg"] == 1400
    flags = out.loc["risks", "flag_codes"].split(";")
    assert {"RESP_OPIOIDS", "BEERS_FALLS", "START_LOW_DEFAULT"} <= set(flags)
    assert out.loc["bad-number", "error"] == "age 'seventy' is not a number; allowed: 18-110 years"
    assert out.loc["bad-risk", "error"].startswith("risk 'smoking' is not one of: opioids,")


# -------------------------------------------------------- the same answers as build_plan


def random_cohort(seed: int, rows: int) -> list[dict[str, Any]]:
    """Random patients and options, band edges and mistakes included (seeded)."""
    rng = np.random.default_rng(seed)
    risks, pains = list(RULES.risks), list(RULES.pain_types)

    def pick(values: list[Any]) -> Any:
        return values[int(rng.integers(len(values)))]

    out = []
    for k in range(rows):
        r: dict[str, Any] = {"id": f"p{k}", "start_date": pick([START, "2026-03-02"])}
        r["age_years"] = (
            pick([18.0, 64.99, 65.0, 110.0])
            if rng.random() < 0.05
            else round(float(rng.uniform(18, 105)), int(rng.integers(0, 3)))
        )
        if rng.random() < 0.01:
            r["age_years"] = pick([12.0, 300.0, 17.9])
        r["sex"] = pick(["female", "male", "Female", " MALE "]) if rng.random() > 0.005 else "x"
        r["weight_kg"] = round(float(rng.uniform(35, 220)), 1)
        if rng.random() < 0.7:
            r["height_cm"] = round(float(rng.uniform(135, 205)), 1)
        kind = rng.choice(
            ["scr", "umol", "crcl", "edge", "hd", "pd"], p=[0.4, 0.15, 0.15, 0.1, 0.12, 0.08]
        )
        if kind == "scr":
            r["scr"] = round(float(rng.lognormal(0.2, 0.7)), 2)
        elif kind == "umol":
            r["scr"] = float(round(rng.lognormal(4.6, 0.7)))
            r["scr_unit"] = pick(["umol/L", "µmol/L", "UMOL/L"])
        elif kind == "crcl":
            r["crcl_ml_min"] = round(float(rng.uniform(1, 160)), 2)
        elif kind == "edge":
            r["crcl_ml_min"] = pick([60.0, 59.999, 30.0, 30.001, 15.0, 14.999, 7.5, 5.0, 4.99])
        else:
            r["dialysis"] = "hemodialysis" if kind == "hd" else "peritoneal"
            if rng.random() < 0.4:
                r["crcl_ml_min"] = round(float(rng.uniform(1, 25)), 1)
        if rng.random() < 0.01:
            r["scr"] = 88.0  # a unit slip, or a contradiction with a CrCl or dialysis
        if rng.random() < 0.5:
            chosen = [name for name in risks if rng.random() < 0.15]
            if rng.random() < 0.02:
                chosen.append("smoking")
            r["risks"] = pick([";", ",", "; "]).join(chosen)
        if rng.random() < 0.6:
            r["pain_type"] = pick(pains)
        optional = {
            "weight_basis": (0.2, ["auto", "actual", "ideal", "adjusted"]),
            "start_daily_mg": (0.2, [100.0, 150.0, 200.0, 300.0, 400.0]),
            "target_daily_mg": (0.3, [300.0, 600.0, 1200.0, 1250.0, 1800.0, 2400.0, 3600.0]),
            "titration": (0.2, list(RULES.titration_presets)),
            "taper": (0.2, list(RULES.taper_presets)),
            "review_weeks": (0.1, [4.0, 5.0, 6.0]),
            "strengths_mg": (0.15, ["100;300;400", "300", "600;800", "100", "300;400;600"]),
            "oral_solution": (0.15, [True, False]),
            "current_daily_mg": (0.3, [100.0, 600.0, 1200.0, 1800.0, 3600.0, 4000.0]),
            "current_doses_per_day": (0.3, [1.0, 2.0, 3.0]),
        }
        for name, (rate, values) in optional.items():
            if rng.random() < rate:
                r[name] = pick(values)
        # Dialysis days belong to hemodialysis; on anything else they are a mistake.
        if rng.random() < (0.5 if kind == "hd" else 0.01):
            r["dialysis_days"] = pick(["mon;wed;fri", "tue,thu,sat", "mon;thu", "Tuesday"])
        out.append(r)
    return out


def _assert_same(row: Any, expected: dict[str, Any] | str, record: Any) -> None:
    if isinstance(expected, str):
        assert (row["status"], row["error"]) == ("error", expected), record
        return
    assert row["status"] == "ok", (record, row["error"])
    for name in SUMMARY_COLUMNS:
        got, want = row[name], expected[name]
        same = pd.isna(got) if want is None else (not pd.isna(got) and got == want)
        assert same, (name, got, want, record)
    assert row["flag_codes"] == ";".join(f["code"] for f in expected["flags"]), record


finite = {"allow_nan": False, "allow_infinity": False}
# Numbers near each limit and band edge, and a few outside (the row is then refused).
_EDGES = st.sampled_from([60.0, 59.999, 30.0, 30.001, 15.0, 14.999, 7.5, 4.99, 150.0, 150.01])


@st.composite
def cohort_rows(draw: st.DrawFn) -> dict[str, Any]:
    """One random patient with random options, as a cohort row (cells as a file gives them)."""
    r: dict[str, Any] = {"start_date": draw(st.sampled_from([START, "2026-03-02", None]))}
    r["age_years"] = draw(
        st.floats(18, 110, **finite) | st.sampled_from([18.0, 64.99, 65.0, 110.0, 17.9, 300.0])
    )
    r["sex"] = draw(st.sampled_from(["female", "male", "Female", " MALE ", "x"]))
    r["weight_kg"] = draw(st.floats(30, 350, **finite))
    r["height_cm"] = draw(
        st.none() | st.floats(120, 230, **finite) | st.sampled_from([152.3, 152.4, 154.0])
    )
    kind = draw(st.sampled_from(["scr", "umol", "crcl", "edge", "hemodialysis", "peritoneal"]))
    if kind == "scr":
        r["scr"] = draw(st.floats(0.2, 20, **finite) | st.sampled_from([0.69, 88.0]))
    elif kind == "umol":
        r["scr"] = draw(st.floats(18, 1768, **finite))
        r["scr_unit"] = draw(st.sampled_from(["umol/L", "µmol/L", "UMOL/L"]))
    elif kind in ("crcl", "edge"):
        r["crcl_ml_min"] = draw(st.floats(0.5, 250, **finite) if kind == "crcl" else _EDGES)
    else:
        r["dialysis"] = kind
        r["crcl_ml_min"] = draw(st.none() | st.floats(0.5, 30, **finite) | _EDGES)
    if draw(st.integers(0, 15)) == 0:  # a contradiction: a creatinine beside a CrCl or dialysis
        r["scr"] = 1.0
    r["risks"] = ";".join(draw(st.lists(st.sampled_from(list(RULES.risks)), max_size=3)))
    r["pain_type"] = draw(st.none() | st.sampled_from(list(RULES.pain_types)))
    optional = {
        "weight_basis": st.sampled_from(["auto", "actual", "ideal", "adjusted"]),
        "start_daily_mg": st.sampled_from([100.0, 150.0, 200.0, 300.0, 400.0]),
        "target_daily_mg": st.integers(300, 3600).map(float) | st.just(1250.0),
        "titration": st.sampled_from(list(RULES.titration_presets)),
        "taper": st.sampled_from(list(RULES.taper_presets)),
        "review_weeks": st.sampled_from([4.0, 5.0, 6.0]),
        "strengths_mg": st.sets(st.sampled_from([100, 300, 400, 600, 800]), min_size=1).map(
            lambda values: ";".join(str(v) for v in sorted(values))
        ),
        "oral_solution": st.booleans(),
        "dialysis_days": st.sets(
            st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat"]), min_size=1
        ).map(lambda days: ";".join(sorted(days))),
        "current_daily_mg": st.sampled_from([100.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 4000.0])
        | st.integers(50, 3600).map(float),
        "current_doses_per_day": st.sampled_from([1.0, 2.0, 3.0]),
    }
    for name, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            r[name] = draw(strategy)
    return r


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(cohort_rows(), min_size=1, max_size=6), st.data())
def test_the_cohort_gives_what_build_plan_gives_for_random_patients_and_options(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Cohort against single: every summary value and the flag codes, row by row."""
    records = [{"id": f"p{k}", **r} for k, r in enumerate(rows)]
    # Siblings: the same options and kidneys, another age, weight and risks, so that rows
    # share a plan key as in a real cohort and a rule left out of the key shows.
    for r in records[:3]:
        sibling = {**r, "id": f"{r['id']}-sibling"}
        sibling["age_years"] = data.draw(st.sampled_from([30.0, 64.0, 65.0, 80.0]))
        sibling["weight_kg"] = data.draw(st.sampled_from([r["weight_kg"], 60.0, 120.0]))
        sibling["risks"] = data.draw(st.sampled_from(["", "opioids", "falls", "respiratory"]))
        records.append(sibling)
    frame = pd.DataFrame(records)
    out = plan_cohort(frame)
    assert out["id"].tolist() == [r["id"] for r in records]
    for record, row in zip(records, out.to_dict("records"), strict=True):
        cells = {k: v for k, v in record.items() if v is not None}
        cells.setdefault("start_date", str(date.today()))
        _assert_same(row, single(cells), record)


def test_the_cohort_gives_what_build_plan_gives_on_a_thousand_seeded_patients() -> None:
    """A cheap bulk check beside the differential test: one cohort of many keys at once."""
    records = random_cohort(seed=5, rows=1000)
    out = plan_cohort(pd.DataFrame(records))
    assert out["id"].tolist() == [r["id"] for r in records]
    assert 0 < (out["status"] == "error").sum() < len(records) / 3  # mistakes are in the mix
    for record, row in zip(records, out.to_dict("records"), strict=True):
        _assert_same(row, single(record), record)


def test_splitting_the_cohort_into_pieces_changes_nothing() -> None:
    records = pd.DataFrame(random_cohort(seed=6, rows=300))
    whole = plan_cohort(records)
    pieces = pd.concat([plan_cohort(records.iloc[i : i + 37]) for i in range(0, 300, 37)])
    pd.testing.assert_frame_equal(whole, pieces)


def test_the_flag_codes_are_the_same_when_the_merged_codes_kept_start_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cohort mode numbers the flag-code parts it meets and keeps each merged combination
    (per rule tables), starting again when they grow too many: a cohort whose calls each
    start again (here: every call) gets the same flags as one that keeps them."""
    from gabacalc.core import cohort_flags

    records = pd.DataFrame(random_cohort(seed=9, rows=300))
    kept = plan_cohort(records)
    monkeypatch.setattr(cohort_flags, "_MERGED_KEPT", 0)
    pieces = pd.concat([plan_cohort(records.iloc[i : i + 37]) for i in range(0, 300, 37)])
    again = plan_cohort(records)
    pd.testing.assert_frame_equal(kept, pieces)
    pd.testing.assert_frame_equal(kept, again)
    assert kept["flag_codes"].nunique() > 100  # many combinations of flags, merged anew


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_dask_reads_the_csv_and_plans_the_same_rows_as_gabacalc_cohort(
    tmp_path: Path, scheduler: str
) -> None:
    """What a dask user runs: dd.read_csv with dask's default string settings (text as
    pyarrow strings), plan_cohort per partition, computed by worker processes (or
    threads). The rows are those ``gabacalc cohort`` writes for the same file."""
    import dask
    import dask.dataframe as dd

    source = tmp_path / "cohort.csv"
    pd.DataFrame(random_cohort(seed=7, rows=120)).to_csv(source, index=False)
    run_cohort_file(source, tmp_path / "results.csv")
    expected = read_results(tmp_path / "results.csv")
    assert dask.config.get("dataframe.convert-string") is not False  # dask's default, kept
    # Text columns that may hold numbers in some partitions and blanks in others are read
    # as text, as gabacalc cohort reads them; numbers are left to dask's own inference.
    text = {"strengths_mg": "str", "dialysis_days": "str", "risks": "str", "titration": "str"}
    parts = dd.read_csv(source, blocksize=2_000, dtype={"id": "str", **text})
    assert parts.npartitions > 1
    assert isinstance(parts.dtypes["sex"], pd.StringDtype)  # text as dask makes it, not object
    meta = plan_cohort(pd.read_csv(source, nrows=5, dtype={"id": "str", **text})).iloc[:0]
    got = parts.map_partitions(plan_cohort, meta=meta).compute(scheduler=scheduler)
    got = typed_results(got.reset_index(drop=True))
    decimals = got.select_dtypes("float64").columns
    got[decimals] = got[decimals].round(6)
    assert len(got) == 120 and got["id"].tolist() == expected["id"].tolist()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


# ------------------------------------------------------------------------------- files


def _write_cohort(path: Path, rows: int = 60) -> pd.DataFrame:
    frame = pd.DataFrame(random_cohort(seed=8, rows=rows))
    frame.loc[3, "id"] = "=HYPERLINK(1)#3"  # a formula and a comment mark in a cell
    frame["weight_kg"] = frame["weight_kg"].astype(object)
    frame.loc[5, "weight_kg"] = "heavy"  # a bad number: a row error, not a crash
    frame.to_csv(path, index=False)
    return frame


def test_a_file_streamed_in_small_chunks_equals_the_in_memory_result(tmp_path: Path) -> None:
    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    frame = _write_cohort(source)
    seen: list[tuple[int, int]] = []
    report = run_cohort_file(
        source, target, chunk_rows=7, on_progress=lambda done, total: seen.append((done, total))
    )
    back = read_results(target)
    expected = typed_results(plan_cohort(pd.read_csv(source, dtype={"id": "str"})))
    assert (report.rows, report.chunks) == (60, 9)
    assert report.errors == int((expected["status"] == "error").sum())
    assert back.loc[3, "id"] == "'=HYPERLINK(1)#3"  # kept whole, made harmless
    assert back.loc[5, "error"] == "weight 'heavy' is not a number; allowed: 30-350 kg"
    back.loc[3, "id"] = frame.loc[3, "id"]
    # The file writes decimals (CrCl, weights, BMI, scale) to 6 places, exactly.
    decimals = expected.select_dtypes("float64").columns
    expected[decimals] = expected[decimals].round(6)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False, check_exact=True)
    assert seen[-1][0] == seen[-1][1] == source.stat().st_size
    assert back.attrs["rules_sha256"] == RULES.rules_sha256
    assert back.attrs["verification"] == gabacalc.VERIFICATION_TEXT
    assert not target.read_text().startswith("#")  # a plain table, no comment lines


def _planned_as_text(source: Path) -> pd.DataFrame:
    """What plan_cohort gives for a cohort file's cells read as plain text (numbers as
    numbers), as read_results reads a results file back."""
    as_text = pd.read_csv(source, dtype=object, keep_default_na=False, na_values=[""])
    for name in ("age_years", "weight_kg", "scr", "current_daily_mg"):
        if name in as_text.columns:
            as_text[name] = pd.to_numeric(as_text[name])
    expected = typed_results(plan_cohort(as_text))
    decimals = expected.select_dtypes("float64").columns
    expected[decimals] = expected[decimals].round(6)
    return expected


def test_text_cells_of_a_file_are_read_as_the_text_written(tmp_path: Path) -> None:
    """A cohort file's text columns give every row what the same cells give as plain text:
    ids of digits, odd case and spaces, bad choices, numbers and dates as text, a flag
    written 1 or 0, true/false beside an empty cell, a number beyond int64 beside one,
    "nan", empty cells, and a column with no cell filled, in chunks of two rows."""
    source = tmp_path / "cohort.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,scr,scr_unit,dialysis,risks,pain_type,titration,taper,"
        "start_date,strengths_mg,oral_solution,dialysis_days,current_daily_mg\n"
        "007,70,female,60,1.3,mg/dL,none,opioids;falls,radicular,gentle,,2026-01-05,,,,\n"
        "0012,70, Female ,60,115,umol/l,NONE, OPIOIDS ,Radicular ,gentle,,,300;100,yes,,600\n"
        "b,70,x,60,1.3,,,bogus,,GENTLE,,05/01/2026,abc,maybe,,\n"
        "c,70,male,60,,,hemodialysis,,phn,,,2026-02-30,100,0,mon;wed;fri,300\n"
        "d,70,male,60,1.3,mg/dL,,,,weekly,,2026-01-05,,no,mon,\n"
        "e,70,,60,1.3,,,,,,,,,,,\n"
        "f,70,male,60,1.3,,,,,,,,300,1,,\n"  # numbers and a flag, as text
        "g,70,male,60,1.3,,,,,,,,100,0,,\n"
        "h,70,male,60,1.3,,,nan,,,,,,,,\n"
        "i,70,male,60,1.3,,,nan,,,,,,,,\n",
        encoding="utf-8",
    )
    # Each file's first chunks are the ones that teach a worker to read a column as text
    # at once, so these are in a file of their own.
    again = tmp_path / "again.csv"
    again.write_text(
        "id,age_years,sex,weight_kg,scr,dialysis,risks,dialysis_days\n"
        "TRUE,70,male,60,1.3,hemodialysis,,TRUE\n"
        ",70,male,60,1.3,none,,\n"
        "u1,70,male,60,1.3,none,,12345678901234567890\n"
        "h,70,male,60,1.3,none,,\n",
        encoding="utf-8",
    )
    # and a first chunk whose text column pandas reads as text with an empty cell as ""
    beyond = tmp_path / "beyond.csv"
    beyond.write_text(
        "id,age_years,sex,weight_kg,scr,dialysis,dialysis_days\n"
        "u1,70,male,60,1.3,none,12345678901234567890\n"
        "h,70,male,60,1.3,none,\n",
        encoding="utf-8",
    )
    for path in (source, again, beyond):
        run_cohort_file(path, tmp_path / "results.csv", chunk_rows=2)
        back = read_results(tmp_path / "results.csv")
        pd.testing.assert_frame_equal(back, _planned_as_text(path), check_dtype=False)
        if path == source:
            assert back["id"].tolist()[:2] == ["007", "0012"]  # ids of digits as written
            assert (
                back["status"].tolist() == ["ok", "ok", *["error"] * 4, "ok", "ok"] + ["error"] * 2
            )
            assert back["error"].str.contains("risk 'nan' is not one of").tolist()[8:] == [
                True,
                True,
            ]
        elif path == again:
            assert back["id"][0] == "TRUE" and pd.isna(back["id"][1])
            assert back["status"].tolist() == ["error", "ok", "error", "ok"]
        else:
            assert back["status"].tolist() == ["error", "ok"]  # no days given for h


def test_ids_of_digits_stay_text_where_pandas_reads_a_block_in_pieces(tmp_path: Path) -> None:
    """pandas reads a large or wide block in pieces, each typed on its own: ids all digits
    in one piece and not in another come back as numbers and text mixed. They are still
    written as given ("0000001", not "1")."""
    notes = [f"note{k}" for k in range(100)]  # 100 more columns: pieces of about 10,000 rows
    head = ",".join(["id", "age_years", "sex", "weight_kg", "scr", *notes])
    rows = [f"{i:07d},70,male,60,1.3" + "," * len(notes) for i in range(10_500)]
    rows += [f"X{i},70,male,60,1.3" + "," * len(notes) for i in range(100)]
    source = tmp_path / "wide.csv"
    source.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    run_cohort_file(source, tmp_path / "results.csv", chunk_rows=20_000)
    ids = read_results(tmp_path / "results.csv")["id"]
    assert ids.iloc[0] == "0000000" and ids.iloc[10_499] == "0010499"
    assert ids.iloc[-1] == "X99" and len(ids) == 10_600


def test_one_plan_serves_cells_that_differ_only_in_spelling(tmp_path: Path) -> None:
    """Rows whose options are spelt differently but mean the same ("False", "no", empty;
    "300;100" and "100,300") share one plan in a file run, and each row still gets its own
    CrCl and flags (a regression: the second spelling's plan once replaced the first's)."""
    source = tmp_path / "cohort.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,height_cm,scr,crcl_ml_min,oral_solution,strengths_mg\n"
        "a,71.9,female,217.9,197.5,1.23,,False,300;100\n"
        'b,72.99,Female,132.2,174.8,,63.45,,"100,300"\n'
        "c,75,male,80,180,1.1,,no,100;300\n",
        encoding="utf-8",
    )
    run_cohort_file(source, tmp_path / "results.csv", chunk_rows=3)
    back = read_results(tmp_path / "results.csv")
    expected = typed_results(plan_cohort(pd.read_csv(source, dtype={"id": "str"})))
    assert back["crcl_source"].tolist() == ["cockcroft-gault", "given", "cockcroft-gault"]
    decimals = expected.select_dtypes("float64").columns
    expected[decimals] = expected[decimals].round(6)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_the_same_file_gives_the_same_bytes(tmp_path: Path) -> None:
    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=30)
    run_cohort_file(source, tmp_path / "a.csv", chunk_rows=4)
    run_cohort_file(source, tmp_path / "b.csv", chunk_rows=11)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_a_number_too_large_for_a_float_is_refused_as_written_whatever_the_chunks(
    tmp_path: Path,
) -> None:
    """A cell pandas would read as infinite ("1e400", "inf") is refused naming the cell as
    written, in a chunk of its own as beside a cell that is not a number at all: the same
    bytes whatever the chunk size (it was "weight inf" in a chunk of one row)."""
    source = tmp_path / "cohort.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,scr\n"
        "a,70,male,1e400,1.3\n"
        "b,70,male,heavy,1.3\n"
        "c,inf,male,60,1.3\n"
        "d,70,male,60,1.3\n",
        encoding="utf-8",
    )
    written = []
    for rows in (1, 2, 4):
        run_cohort_file(source, tmp_path / "results.csv", chunk_rows=rows)
        written.append((tmp_path / "results.csv").read_bytes())
    assert written[0] == written[1] == written[2]
    errors = read_results(tmp_path / "results.csv")["error"].tolist()
    assert errors[0] == "weight '1e400' is not a finite number; allowed: 30-350 kg"
    assert errors[2].startswith("age 'inf' is not a finite number")
    assert pd.isna(errors[3])


def test_the_python_and_pyarrow_csv_writers_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results are the same bytes whether or not pyarrow (the fast writer) is installed."""
    pytest.importorskip("pyarrow")
    from gabacalc.core.cohort import plan_frame
    from gabacalc.files import cohort_write
    from gabacalc.files.cohort_read import cohort_chunks

    source = tmp_path / "cohort.csv"
    _write_cohort(source)
    assert cohort_write.csv_renderer() is cohort_write.csv_pieces_arrow
    chunks = [block.frame() for block, _, _ in cohort_chunks(source, "csv", 13)]
    planned = [plan_frame(c, RULES, date(2026, 1, 5), {}, categorical=True) for c in chunks]

    def written_by(render: Any) -> bytes:
        sink = io.BytesIO()
        for k, result in enumerate(planned):
            render(result, k == 0, sink)
        return sink.getvalue()

    written = written_by(cohort_write.render_csv_arrow)
    python = written_by(cohort_write.render_csv_python)
    monkeypatch.setattr(cohort_write, "RENDER_ROWS", 5)  # the Python writer, 5 rows at a time
    python_by_5 = written_by(cohort_write.render_csv_python)
    # pyarrow's, 4 rows at a time, and with every whole-number column written per row (as
    # one whose values span too far for a table of texts is) instead of through a table
    monkeypatch.setattr(cohort_write, "ARROW_RENDER_ROWS", 4)
    monkeypatch.setattr(cohort_write, "_FEW", 0)
    # and every table made distinct by pandas, not the plain-Python way short ones are
    monkeypatch.setattr(cohort_write, "_SHORT", 0)
    arrow_by_4 = written_by(cohort_write.render_csv_arrow)
    assert written == python == python_by_5 == arrow_by_4
    assert written.count(b"\n") == 61  # the header and every row
    assert b"'=HYPERLINK" in written  # the formula cell is neutralised by both


def test_the_csv_writers_agree_on_a_chunk_as_the_command_writes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command writes a chunk's result columns as planned, not a frame: a key's plan
    columns (doses, dates, regimen) share one code array and are written as one, so are
    the stamp's columns (one text on every row), and the band's scale (1 except below
    CrCl 15) is written through a table of texts. Every way gives the same bytes: both
    writers, the result as a frame (each column its own codes), and the paths for many
    values."""
    from gabacalc.core.cohort import plan_columns
    from gabacalc.core.cohort_result import CodedColumn, DecimalColumn
    from gabacalc.files import cohort_write

    cohort = pd.DataFrame(random_cohort(seed=11, rows=150))
    cohort.loc[:9, "scr"] = np.nan  # ten patients with a measured CrCl below 15
    cohort.loc[:9, "crcl_ml_min"] = [7.5, 9.0, 11.25, 12.0, 14.9, 5.0, 7.5, 13.0, 10.0, 3.0]
    options = ["dialysis", "dialysis_days", "strengths_mg", "start_daily_mg", "oral_solution"]
    cohort.loc[:9, options] = None  # the defaults
    result = plan_columns(cohort, RULES, date(2026, 1, 5), {})
    columns = list(result.columns.values())
    coded = [c for c in columns if isinstance(c, CodedColumn)]
    assert any(a.codes is b.codes for a, b in itertools.pairwise(coded))
    scale = result.columns["band_scale"]
    assert isinstance(scale, DecimalColumn) and 1 < len(pd.unique(scale.values)) < 20
    assert cohort_write._few_values(scale.values)  # so it takes the path through a table

    def written(render: Any, chunk: Any) -> bytes:
        sink = io.BytesIO()
        render(chunk, True, sink)
        return sink.getvalue()

    arrow = written(cohort_write.render_csv_arrow, result)
    python = written(cohort_write.render_csv_python, result)
    as_frame = written(cohort_write.render_csv_arrow, result.frame(False))
    monkeypatch.setattr(cohort_write, "_FEW_DECIMALS", 0)  # every decimal row by row
    monkeypatch.setattr(cohort_write, "_SHORT", 0)
    plain = written(cohort_write.render_csv_arrow, result)
    assert arrow == python == as_frame == plain
    assert arrow.count(b"\n") == 151
    assert b",0.5," in arrow  # CrCl 7.5: half the dose of CrCl 15


def test_both_csv_writers_agree_on_coded_columns_of_every_shape() -> None:
    """Coded columns as a chunk may hold them: sharing one code array (with rows of no
    entry), with tables of different lengths on one code array, a column of one text
    first, whole numbers given as floats or missing (NaN, NA) in short and long tables,
    texts 1, 1.0 and True, and a message with quotes and a leading "=" on every row."""
    from gabacalc.core.cohort_result import CodedColumn, ResultColumns
    from gabacalc.files import cohort_write

    codes = np.array([0, 1, -1, 1, 2, 0])
    fewer = np.array([0, 1, -1, 1, 0, 0])  # codes into 2 entries, for tables of 2 and 3
    many = np.array([0, 70, -1, 69, 3, 1])  # into a table of 71 entries (pandas' path)
    long_whole = [float(v) for v in range(70)] + [float("nan")]
    columns = {
        "stamp": CodedColumn(np.zeros(6, dtype=np.int8), ["illustrative"]),
        "dose": CodedColumn(codes, [300.0, 600, np.int64(900)], "whole"),
        "regimen": CodedColumn(codes, ["a", None, 'say "b"']),
        "text": CodedColumn(codes, [1, 1.0, True]),
        "missing": CodedColumn(codes, [float("nan"), pd.NA, 5], "whole"),
        "two": CodedColumn(fewer, [1, 2], "whole"),
        "three": CodedColumn(fewer, ["p", "q", "r"]),  # the same codes, a longer table
        "long": CodedColumn(many, long_whole, "whole"),
        "message": CodedColumn(np.zeros(6, dtype=np.int64), ['=HYPERLINK("x") "quoted"']),
        "one": CodedColumn(np.array([0, 0, -1, 0, 0, 0]), ["only"]),  # not on every row
    }
    chunk = ResultColumns(pd.RangeIndex(6), columns, {})
    arrow, python = io.BytesIO(), io.BytesIO()
    cohort_write.render_csv_arrow(chunk, True, arrow)
    cohort_write.render_csv_python(chunk, True, python)
    assert arrow.getvalue() == python.getvalue()
    lines = python.getvalue().decode().splitlines()
    message = '"\'=HYPERLINK(""x"") ""quoted"""'  # quotes doubled, the formula made harmless
    assert lines[1] == f'"illustrative",300,"a","1",,1,"p",0,{message},"only"'
    assert lines[2] == f'"illustrative",600,,"1.0",,2,"q",,{message},"only"'
    assert lines[3] == f'"illustrative",,,,,,,,{message},'
    assert lines[5] == f'"illustrative",900,"say ""b""","True",5,1,"p",3,{message},"only"'


def test_both_csv_writers_agree_on_any_frame_of_result_types() -> None:
    """Also where the last column is text that differs on every row (the line end then goes
    after it), a text needs its quotes doubled, a frame has no rows, every row is the same,
    whole numbers lie beyond float64's, or a zero is negative."""
    from gabacalc.files import cohort_write

    frame = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "x": [0.5, float("nan"), 32.449],
            "ok": pd.array([True, None, False], dtype="boolean"),
            "note": pd.Series(['say "hi"', None, "=1+1"], dtype="str"),
        }
    )
    odd = [
        pd.DataFrame({"n": [5, 5, 5]}),  # every row the same text
        pd.DataFrame({"b": pd.array([True, True], dtype="boolean")}),
        pd.DataFrame({"i": pd.array([None, None], dtype="Int64")}),
        pd.DataFrame({"big": np.array([2**53 + 1, 2**53 + 3], dtype=np.int64)}),  # not floats
        pd.DataFrame({"zero": [-0.0, 0.0, -1e-9]}),  # one text for zero: "0"
        pd.DataFrame({"one": pd.Categorical(["a", "a"])}),
    ]
    for rows in (frame, frame.iloc[:0], *odd):
        arrow, python = io.BytesIO(), io.BytesIO()
        cohort_write.render_csv_arrow(rows, True, arrow)
        cohort_write.render_csv_python(rows, True, python)
        assert arrow.getvalue() == python.getvalue(), list(rows.columns)
    assert python.getvalue().endswith(b'\n"a"\n"a"\n')
    arrow = io.BytesIO()
    cohort_write.render_csv_arrow(odd[3], False, arrow)
    assert arrow.getvalue() == b"9007199254740993\n9007199254740995\n"
    arrow = io.BytesIO()
    cohort_write.render_csv_arrow(odd[4], False, arrow)
    assert arrow.getvalue() == b"0\n0\n0\n"
    arrow = io.BytesIO()
    cohort_write.render_csv_arrow(frame.iloc[:0], True, arrow)
    assert arrow.getvalue() == b'"n","x","ok","note"\n'
    arrow = io.BytesIO()
    cohort_write.render_csv_arrow(frame, False, arrow)
    assert arrow.getvalue().splitlines() == [
        b'1,0.5,true,"say ""hi"""', b",,,", b"3,32.449,false,\"'=1+1\"",
    ]  # fmt: skip


def test_worker_processes_give_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    """Two worker processes planning chunks at once write exactly what one process writes,
    and leave no part files behind."""
    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=60)
    one = run_cohort_file(source, tmp_path / "one.csv", chunk_rows=7)
    two = run_cohort_file(source, tmp_path / "two.csv", chunk_rows=7, workers=2)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    assert one == dataclasses.replace(two, out_path=one.out_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "one.csv", "two.csv"]


def test_a_worker_reads_its_rows_in_the_input_file_where_the_run_cut_them(
    tmp_path: Path,
) -> None:
    """Worker processes that are copies of the run read their blocks' rows in the input
    file themselves, not through a pipe. Each block says where its rows are, and those are
    exactly the bytes the run cut into whole rows: here after a byte-order mark, with
    \\r\\n and lone \\r line ends, a quoted cell holding a line end, and blank lines. A
    compressed file, whose bytes are not the rows, passes its rows whole."""
    import gzip
    import pickle

    from gabacalc.files.cohort_read import cohort_chunks

    lines = [
        "a,50,male,80,1.0\r\n",
        '"b\nc",60,female,70,0.9\r',
        "\n\n",
        "d,70,male,90,1.2\n",
        "e,80,female,60,1.4\r\n",
        "f,55,male,85,1.1",
    ]
    data = ("\ufeffid,age_years,sex,weight_kg,scr\n" + "".join(lines)).encode("utf-8")
    source = tmp_path / "cohort.csv"
    source.write_bytes(data)
    ids = []
    for block, _, _ in cohort_chunks(source, "csv", 2):
        assert block.at is not None and block.at.length == len(block.body) > 0
        assert data[block.at.offset : block.at.offset + block.at.length] == block.body
        left = block.without_rows()
        assert left.body == b"" and block.body not in pickle.dumps(left)  # what is sent
        assert left.with_rows() == block
        ids += left.with_rows().frame()["id"].tolist()
    assert ids == ["a", "b\nc", "d", "e", "f"]
    packed = tmp_path / "cohort.csv.gz"
    packed.write_bytes(gzip.compress(data))
    for block, _, _ in cohort_chunks(packed, "csv", 2):
        assert block.at is None and block.without_rows() is block


def test_rows_left_in_an_input_file_that_changed_since_the_run_opened_it_are_refused(
    tmp_path: Path,
) -> None:
    """A worker does not read rows from a file that changed while the run read it (the run
    cut it into whole rows as it was): the run stops with an error that says so, and
    nothing is written."""
    from gabacalc.files import cohort_read

    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    _write_cohort(source, rows=20)
    blocks = cohort_read.cohort_chunks(source, "csv", 5)
    block, _, _ = next(blocks)
    left = block.without_rows()
    with source.open("ab") as more:  # another program adds a row
        more.write(b"z,50,male,80,1.0\n")
    with pytest.raises(gabacalc.InputError, match="changed while it was being read") as error:
        left.with_rows()
    assert str(source) in str(error.value) and "nothing was written" in str(error.value)
    blocks.close()
    # The same, end to end, through worker processes that are copies of the run (as a
    # command-line run starts them: a fresh process, no other thread), when the run's view
    # of the file is not the file's.
    script = (
        "import sys\n"
        "from gabacalc.files import cohort_read\n"
        "from gabacalc.files.cohort_io import run_cohort_file\n"
        "cohort_read.file_stamp = lambda fd: (0, 0, 0, 0)\n"
        "try:\n"
        "    run_cohort_file(sys.argv[1], sys.argv[2], chunk_rows=5, workers=2)\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(source), str(target)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.startswith("InputError the cohort "), done.stdout + done.stderr
    assert "changed while it was being read" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


@pytest.mark.parametrize("name", ["cohort.csv", "cohort.csv.gz"])
def test_an_input_file_that_changes_while_the_run_reads_it_is_refused(
    tmp_path: Path, name: str
) -> None:
    """Another program still writing the cohort while the run reads it (here: adding a row
    after the first chunk): the run is refused, saying so, and the results it replaces are
    left as they were. One process reads the file here; workers check the same."""
    import gzip

    source, target = tmp_path / name, tmp_path / "results.csv"
    _write_cohort(tmp_path / "plain.csv", rows=20)
    data = (tmp_path / "plain.csv").read_bytes()
    source.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    target.write_text("the previous results\n")
    row = b"z,50,male,80,1.0\n"

    written: list[int] = []

    def another_program_writes(done: int, total: int) -> None:
        if not written:  # once, after the first chunk
            with source.open("ab") as more:
                written.append(more.write(gzip.compress(row) if name.endswith(".gz") else row))

    with pytest.raises(gabacalc.InputError, match="changed while it was being read"):
        run_cohort_file(source, target, chunk_rows=5, on_progress=another_program_writes)
    assert target.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "plain.csv", "results.csv"])
    report = run_cohort_file(source, target, chunk_rows=5)  # as it is now, read whole
    assert report.rows == 21


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc settings (Linux)")
def test_a_worker_keeps_the_memory_a_chunk_frees_for_the_next() -> None:
    """A worker process sets glibc's malloc to reuse freed blocks (fewer fresh pages for
    the kernel to zero); glibc takes both settings (in a process of its own, as a
    worker's are)."""
    script = "from gabacalc.files.cohort_pool import keep_freed_memory; print(keep_freed_memory())"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True", done.stderr


def test_workers_writing_through_a_link_or_into_a_pipe_give_the_same_bytes(
    tmp_path: Path,
) -> None:
    """Workers write a regular file in place, chunk by chunk at each chunk's place (here
    through a symbolic link); a pipe, which has no places, gets the chunks in order through
    the run. Both are the bytes one process writes."""
    import os
    import threading

    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=60)
    run_cohort_file(source, tmp_path / "one.csv", chunk_rows=7)
    wanted = (tmp_path / "one.csv").read_bytes()
    (tmp_path / "link.csv").symlink_to("real.csv")
    run_cohort_file(source, tmp_path / "link.csv", chunk_rows=7, workers=2)
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_bytes() == wanted
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run_cohort_file(source, fifo, chunk_rows=7, workers=2)
    reader.join(60)
    assert got == [wanted]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cohort.csv", "link.csv", "one.csv", "out.csv", "real.csv",
    ]  # fmt: skip
    # Where workers write in place: a regular file (from where its rows start); a pipe never.
    from gabacalc.files.cohort_share import output_place

    with (tmp_path / "real.csv").open("ab") as regular:
        place = output_place(regular)
        if sys.platform == "linux":  # through /proc; elsewhere workers write part files
            assert place is not None and place[1] == len(wanted)
            assert os.path.samefile(place[0], tmp_path / "real.csv")
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as pipe:
        assert output_place(pipe) is None
    os.close(read_end)


def test_workers_share_the_plans_they_make() -> None:
    """A plan one worker made (here: a refusal, and a plan holding the rule tables) reaches
    another through the run's folder whole, with the other worker's own rule tables; a
    key the other planned itself keeps its own plan; a file that cannot be read is skipped
    (the worker then plans those keys itself)."""
    import tempfile

    from gabacalc.files.cohort_share import KeyShare, PlanCache

    folder = Path(tempfile.mkdtemp())
    one, two = KeyShare(folder, RULES, PlanCache()), KeyShare(folder, RULES, PlanCache())
    refusal = gabacalc.InputError("age 300 years is outside 18-110 years", field="age_years")
    one.cache[("a",)] = refusal
    one.cache[("b",)] = ({"max_daily_mg": 300}, RULES, None)
    two.cache[("b",)] = ({"max_daily_mg": 300}, RULES, "its own")
    one.publish(0)
    one.publish(2)  # nothing new: an empty file, so that others need not wait for chunk 2
    two.take(3)  # chunk 1 (not planned yet) is looked for again next time
    assert sorted(p.name for p in folder.iterdir()) == ["keys-0.pickle", "keys-2.pickle"]
    got = two.cache[("a",)]
    assert isinstance(got, gabacalc.InputError)
    assert (str(got), got.field) == (str(refusal), "age_years")
    assert two.cache[("b",)][2] == "its own"
    assert two.waiting == {1}
    two.cache[("c",)] = ({}, RULES, None)
    two.publish(1)
    one.take(4)
    assert one.cache[("c",)][1] is RULES
    assert list(one.cache) == [("a",), ("b",), ("c",)]
    (folder / "keys-4.pickle").write_bytes(b"not a pickle")
    two.take(5)
    assert two.waiting == {3}  # chunk 4's file is skipped; chunk 3's never came


def test_chunks_take_their_places_in_the_output_in_file_order() -> None:
    """Chunk k is placed right after chunk k - 1, however the workers finish: a worker
    whose chunk's turn has not come in time gives up (and leaves the chunk to the run,
    which places it when it reaches it in file order); nobody waits for long, so a failed
    chunk or a dead worker leaves no one waiting."""
    import multiprocessing
    import threading

    from gabacalc.files.cohort_share import Turns

    turns = Turns(multiprocessing.get_context("fork"), start=10)
    assert turns.try_take(1, 5, wait_s=0.05) is None  # chunk 0 is not in place yet
    places: dict[int, int | None] = {}
    late = threading.Thread(target=lambda: places.setdefault(1, turns.try_take(1, 5, 30)))
    late.start()  # chunk 1 waits a while for chunk 0
    places[0] = turns.try_take(0, 100)
    late.join(60)
    assert turns.try_take(3, 1, wait_s=0.05) is None  # chunk 2 failed: chunk 3 gives up
    places[2] = turns.take(2, 7)  # the run places the chunk left to it
    assert places == {0: 10, 1: 110, 2: 115}
    with pytest.raises(gabacalc.GabacalcError, match="internal error: chunk 5"):
        turns.take(5, 1)  # never its turn: the run's error, not a wait


def test_a_bad_worker_count_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=3)
    for workers in (0, -1, 1.5, True):
        with pytest.raises(gabacalc.InputError, match=r"workers .* is not a whole number above 0"):
            run_cohort_file(source, tmp_path / "out.csv", workers=workers)  # type: ignore[arg-type]
    assert not (tmp_path / "out.csv").exists()


#: One CSV text, written the ways spreadsheets and scripts write it.
CSV_ROWS = (
    "id,age_years,sex,weight_kg,scr,risks,start_date\n"
    'a,72,female,60,1.3,"opioids;falls",2026-01-05\n'
    '"b, the second",50,male,80,1.0,,2026-01-05\n'
    '"c ""quoted""\nover two lines",66,female,70,0.9,,2026-01-05\n'
    "d,300,male,80,1.0,,2026-01-05\n"
    "e,45,male,90,1.1,,2026-01-05\n"
)


@pytest.mark.parametrize(
    "variant",
    [
        "as is",
        "windows line ends",
        "byte-order mark",
        "quoted names after a byte-order mark",
        "no final newline",
        "blank lines",
    ],
)
def test_any_way_of_writing_the_csv_gives_the_same_results(tmp_path: Path, variant: str) -> None:
    """Rows are split into chunks at row ends only (never inside a quoted cell), whatever the
    line ends, a byte-order mark, blank lines or a missing final newline."""
    text = {
        "as is": CSV_ROWS,
        "windows line ends": CSV_ROWS.replace("\n", "\r\n").replace("\r\nover", "\nover"),
        "byte-order mark": "\ufeff" + CSV_ROWS,
        "quoted names after a byte-order mark": '\ufeff"id","age_years","sex",'
        + CSV_ROWS.split(",", 3)[3],
        "no final newline": CSV_ROWS.rstrip("\n"),
        "blank lines": "\n" + CSV_ROWS.replace("\na,", "\n\na,") + "\n\n",
    }[variant]
    source = tmp_path / "cohort.csv"
    source.write_bytes(text.encode("utf-8"))
    (tmp_path / "plain.csv").write_text(CSV_ROWS, encoding="utf-8")
    expected = run_cohort_file(tmp_path / "plain.csv", tmp_path / "expected.csv")
    for chunk_rows in (1, 2, 100):
        report = run_cohort_file(source, tmp_path / "results.csv", chunk_rows=chunk_rows)
        assert (report.rows, report.errors) == (expected.rows, expected.errors) == (5, 1)
        got = (tmp_path / "results.csv").read_bytes()
        assert got == (tmp_path / "expected.csv").read_bytes(), chunk_rows
    back = read_results(tmp_path / "results.csv")
    assert back["id"].tolist() == ["a", "b, the second", 'c "quoted"\nover two lines', "d", "e"]


def test_a_header_without_rows_gives_a_results_file_without_rows(tmp_path: Path) -> None:
    source = tmp_path / "cohort.csv"
    source.write_text("id,age_years,sex,weight_kg,scr\n", encoding="utf-8")
    report = run_cohort_file(source, tmp_path / "results.csv")
    assert (report.rows, report.chunks) == (0, 1)
    back = read_results(tmp_path / "results.csv")
    assert len(back) == 0 and "max_daily_mg" in back.columns
    # The stamp travels on the rows; with no row there is no plan to trace, but the
    # columns that would carry it are there.
    assert {"verification", "gabacalc_version", "rules_sha256"} <= set(back.columns)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"id,age_years,sex,weight_kg,scr\na,50,male,80,1.0\nb,50,male,80,1.0,extra\n",
            r"cannot read the cohort '.*' as CSV: Error tokenizing data. C error: Expected 5 "
            r"fields in line 3, saw 6; nothing was written$",
        ),
        (
            b"id,age_years,sex,weight_kg,scr\na,50,male,80,1.0,x\nb,50,male,80,1.0\n",
            r"cannot read the cohort '.*' as CSV: the row on line 2 has more cells than the "
            r"header has columns; nothing was written$",
        ),
        (
            b"id,age_years,sex,weight_kg,scr\na,50,male,80,1.0\nb\xe9,50,male,80,1.0\n",
            r"the cohort '.*' is not UTF-8 text \(invalid continuation byte on or after line 2\); "
            r"save it as CSV UTF-8$",
        ),
        (
            b"id,age_years,sex,weight_kg,scr,notes\na,50,male,80,1.0,ok\n"
            b'b,50,male,80,1.0,height 5\'10"\nc,50,male,80,1.0,"two\nlines"\n',
            r"cannot read the cohort '.*' as CSV: line 3 has a double quote inside a cell that "
            r"does not start with one \(as in 5'10\"\); put that cell in double quotes, doubling "
            r"its quote \(\"5'10\"\"\"\), or remove the quote; nothing was written$",
        ),
    ],
    ids=[
        "a row with a cell too many",
        "a first row with a cell too many",
        "not UTF-8",
        "a stray quote (which rows its newlines end is unclear)",
    ],
)
def test_a_file_pandas_cannot_read_is_refused_and_nothing_is_written(
    tmp_path: Path, content: bytes, message: str
) -> None:
    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    source.write_bytes(content)
    target.write_text("the previous results\n")
    with pytest.raises(gabacalc.InputError, match=message):
        run_cohort_file(source, target)
    assert target.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "results.csv"]


def test_line_numbers_in_a_refusal_are_the_files_lines(tmp_path: Path) -> None:
    """Whatever the chunk size, and with blank lines before the header and between rows, a
    refusal names the line of the file a person would find the problem on."""
    source = tmp_path / "cohort.csv"
    rows = "a,50,male,80,1.0\n"
    cases = {
        # line 1 blank, 2 header, 3-4 rows, 5 blank, 6 row, 7 the unterminated quote
        "\nid,age_years,sex,weight_kg,scr\n" + rows * 2 + "\n" + rows + 'b,50,male,80,"1.0\n': (
            "EOF inside string starting at line 7"
        ),
        "\nid,age_years,sex,weight_kg,scr\n" + rows * 2 + "\n" + rows + "b,50,male,80,1,x\n": (
            "line 7"
        ),
    }
    for text, where in cases.items():
        source.write_text(text, encoding="utf-8")
        for chunk_rows in (1, 2, 3, 1000):
            with pytest.raises(gabacalc.InputError) as refused:
                run_cohort_file(source, tmp_path / "results.csv", chunk_rows=chunk_rows)
            assert where in str(refused.value), (chunk_rows, str(refused.value))


def test_blank_lines_between_rows_give_the_same_parquet(tmp_path: Path) -> None:
    """A chunk of blank lines only is skipped, not written as an empty part of the file."""
    pytest.importorskip("pyarrow")
    rows = "a,50,male,80,1.0\nb,72,female,60,1.3\n"
    (tmp_path / "plain.csv").write_text("id,age_years,sex,weight_kg,scr\n" + rows)
    (tmp_path / "blank.csv").write_text("id,age_years,sex,weight_kg,scr\n\n\n" + rows)
    run_cohort_file(tmp_path / "plain.csv", tmp_path / "plain.parquet")
    for workers in (1, 2):
        run_cohort_file(
            tmp_path / "blank.csv", tmp_path / "blank.parquet", chunk_rows=1, workers=workers
        )
        pd.testing.assert_frame_equal(
            read_results(tmp_path / "blank.parquet"),
            read_results(tmp_path / "plain.parquet"),
        )


def test_progress_moves_with_the_rows_written(tmp_path: Path) -> None:
    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=60)
    seen: list[int] = []
    run_cohort_file(
        source, tmp_path / "results.csv", chunk_rows=10, on_progress=lambda d, t: seen.append(d)
    )
    assert len(seen) == 6 and seen == sorted(set(seen)) and seen[-1] == source.stat().st_size


def test_a_failed_flush_to_disk_keeps_the_old_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a failed write to disk to one fsync only: if that is the background
    one, the run must still fail and leave the last results in place."""
    from gabacalc.files import cohort_io

    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    _write_cohort(source, rows=20)
    target.write_text("the previous results\n")
    failures = iter([OSError(5, "Input/output error")])

    def fsync(fd: int) -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    monkeypatch.setattr(cohort_io.os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output error"):
        run_cohort_file(source, target, chunk_rows=5)
    assert target.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "results.csv"]


@pytest.mark.skipif(sys.platform != "linux", reason="copies this process into the workers")
def test_a_worker_that_dies_gives_one_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process killed mid-run (out of memory, say) ends the run with one gabacalc
    error that says what to try, not a traceback, and nothing is written."""
    import multiprocessing
    import os

    from gabacalc.files import cohort_pool

    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    _write_cohort(source, rows=20)
    target.write_text("the previous results\n")
    monkeypatch.setattr(
        cohort_pool, "pool_context", lambda **_: multiprocessing.get_context("fork")
    )
    monkeypatch.setattr(cohort_pool.Planner, "plan", lambda *_: os._exit(9))
    with pytest.raises(gabacalc.GabacalcError, match="a worker process stopped before it finished"):
        run_cohort_file(source, target, chunk_rows=5, workers=2)
    assert target.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "results.csv"]


def test_a_failing_worker_leaves_nothing_behind(tmp_path: Path) -> None:
    """A refusal raised in a worker process (here: a bad row in the third chunk) reaches the
    caller as the same error, naming the file's line, and neither the results nor any part
    file is left."""
    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    good = "a,50,male,80,1.0\n" * 4
    source.write_text(
        "id,age_years,sex,weight_kg,scr\n" + good * 2 + "b,50,male,80\nb,50,male,80,1.0,x\n" + good,
        encoding="utf-8",
    )
    with pytest.raises(gabacalc.InputError, match=r"Expected 5 fields in line 11, saw 6;"):
        run_cohort_file(source, target, chunk_rows=4, workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def test_nothing_is_written_when_the_run_fails(tmp_path: Path) -> None:
    source, target = tmp_path / "cohort.csv", tmp_path / "results.csv"
    _write_cohort(source, rows=20)
    target.write_text("the previous results\n")

    def interrupted(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_cohort_file(source, target, chunk_rows=5, on_progress=interrupted)
    assert target.read_text() == "the previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "results.csv"]


def test_a_missing_file_or_column_is_refused_with_what_was_found(tmp_path: Path) -> None:
    with pytest.raises(gabacalc.InputError, match="no such file"):
        run_cohort_file(tmp_path / "nope.csv", tmp_path / "out.csv")
    source = tmp_path / "cohort.csv"
    source.write_text("id,age,sex,weight_kg,scr\n1,50,male,80,1.0\n")
    with pytest.raises(gabacalc.InputError, match="no age_years column; found: id, age, sex"):
        run_cohort_file(source, tmp_path / "out.csv")
    with pytest.raises(gabacalc.InputError, match=r"neither \.csv nor \.parquet"):
        run_cohort_file(source, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.csv").exists()


def test_parquet_in_and_out_when_pyarrow_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = _write_cohort(tmp_path / "cohort.csv", rows=40)
    frame["weight_kg"] = pd.to_numeric(frame["weight_kg"], errors="coerce")
    frame.to_parquet(tmp_path / "cohort.parquet")
    report = run_cohort_file(
        tmp_path / "cohort.parquet", tmp_path / "results.parquet", chunk_rows=9
    )
    back = read_results(tmp_path / "results.parquet")
    expected = typed_results(plan_cohort(frame))
    assert report.rows == 40
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back.attrs["verification"] == gabacalc.VERIFICATION_TEXT


def test_parquet_without_pyarrow_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    source = tmp_path / "cohort.csv"
    _write_cohort(source, rows=3)
    with pytest.raises(gabacalc.InputError, match=r"pip install 'gabacalc\[cohort\]'"):
        run_cohort_file(source, tmp_path / "results.parquet")


# ------------------------------------------------------- files every tool opens (issue 14)

MRN_CSV = (
    "id,age_years,sex,weight_kg,scr,start_date,current_daily_mg\n"
    "00123,72,female,60,1.3,2026-01-05,1800\n"
    "00124,300,male,80,1.0,2026-01-05,\n"
    "7,40,male,80,1.0,2026-01-05,\n"
)


def test_results_csv_opens_with_every_readers_defaults(tmp_path: Path) -> None:
    import duckdb
    import polars as pl

    (tmp_path / "clinic.csv").write_text(MRN_CSV, encoding="utf-8")
    target = tmp_path / "results.csv"
    run_cohort_file(tmp_path / "clinic.csv", target)
    text = target.read_text(encoding="utf-8")
    assert '"00123"' in text  # the MRN written exactly as given, as text
    plain = pd.read_csv(target)
    assert len(plain) == 3 and plain.columns[0] == "id"
    assert (plain["verification"] == gabacalc.VERIFICATION_TEXT).all()
    assert plain["max_daily_mg"].tolist()[0] == 1400
    frame = pl.read_csv(target)
    assert frame.height == 3 and frame.width == len(plain.columns)
    assert frame["rules_sha256"].unique().to_list() == [RULES.rules_sha256]
    # A reader that keeps text as text (polars' schema override, pandas' dtype) keeps zeros.
    assert pl.read_csv(target, schema_overrides={"id": pl.String})["id"][0] == "00123"
    count = duckdb.connect().execute(f"select count(*) from read_csv('{target}')").fetchone()
    assert count == (3,)


def test_read_results_gives_types_and_the_stamp(tmp_path: Path) -> None:
    (tmp_path / "clinic.csv").write_text(MRN_CSV, encoding="utf-8")
    run_cohort_file(tmp_path / "clinic.csv", tmp_path / "results.csv")
    back = gabacalc.read_results(tmp_path / "results.csv")
    assert back["id"].tolist() == ["00123", "00124", "7"]  # ids as text, zeros kept
    assert back["review_date"].dtype == "datetime64[s]"
    assert back.loc[0, "review_date"] == pd.Timestamp("2026-02-16")
    assert back["max_daily_mg"].dtype == "Int64" and back.loc[0, "max_daily_mg"] == 1400
    assert back["audit_above_band_max"].dtype == "boolean"
    assert bool(back.loc[0, "audit_above_band_max"])
    assert back["crcl_ml_min"].dtype == "float64"
    assert isinstance(back["status"].dtype, pd.CategoricalDtype)
    assert back.loc[0, "flag_codes"][:2] == ["TARGET_LIMITED_RENAL", "CURRENT_ABOVE_BAND"]
    assert back.loc[1, "flag_codes"] is None  # the error row planned nothing
    assert isinstance(back.loc[2, "flag_codes"], list)
    # The column does not shadow pandas' own DataFrame.flags.
    assert "flags" not in back.columns and list(back.flag_codes) == list(back["flag_codes"])
    assert back.attrs == {
        "verification": gabacalc.VERIFICATION_TEXT,
        "gabacalc_version": gabacalc.__version__,
        "rules_version": RULES.rules_version,
        "rules_sha256": RULES.rules_sha256,
    }


def test_parquet_results_are_typed_with_the_stamp_in_the_metadata(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "clinic.csv").write_text(MRN_CSV, encoding="utf-8")
    run_cohort_file(tmp_path / "clinic.csv", tmp_path / "results.parquet", chunk_rows=2)
    schema = pq.read_schema(tmp_path / "results.parquet")
    for name in ("start_date", "target_reached_date", "review_date", "taper_start_date"):
        assert schema.field(name).type == pa.date32(), name
    assert schema.field("flag_codes").type == pa.list_(pa.string())
    assert schema.field("id").type == pa.string()
    assert schema.field("max_daily_mg").type == pa.int64()
    assert schema.field("audit_above_band_max").type == pa.bool_()
    for name in ("band", "status", "flag_severity", "crcl_source", "verification"):
        assert pa.types.is_dictionary(schema.field(name).type), name
    assert schema.metadata[b"gabacalc.rules_sha256"] == RULES.rules_sha256.encode()
    assert schema.metadata[b"gabacalc.verification"] == gabacalc.VERIFICATION_TEXT.encode()
    codes = pq.read_table(tmp_path / "results.parquet").column("flag_codes").to_pylist()
    assert codes[0][:1] == ["TARGET_LIMITED_RENAL"] and codes[1] is None
    # The same rows and types whichever file they were written to.
    run_cohort_file(tmp_path / "clinic.csv", tmp_path / "results.csv")
    pd.testing.assert_frame_equal(
        gabacalc.read_results(tmp_path / "results.parquet"),
        gabacalc.read_results(tmp_path / "results.csv"),
    )


def test_a_rule_that_answers_differently_for_an_array_is_a_gabacalc_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The self-check compares each key's plan with its own row; it names the rule."""
    import gabacalc.core.cohort_renal

    real = gabacalc.core.cohort_renal.body_mass_index

    def off_for_arrays(weight_kg: Any, height_cm: Any) -> Any:
        return real(weight_kg, height_cm) * 1.01

    monkeypatch.setattr(gabacalc.core.cohort_renal, "body_mass_index", off_for_arrays)
    with pytest.raises(gabacalc.GabacalcError) as error:
        plan_cohort(clinic())
    assert not isinstance(error.value, AssertionError)
    assert "bmi_kg_m2 (renal.body_mass_index)" in str(error.value)


def test_local_tables_without_an_oral_solution_plan_alike_one_by_one_and_as_a_cohort(
    tmp_path: Path,
) -> None:
    """A site's tables may leave the oral solution out: a plan is then made (or refused)
    the same way alone and in a cohort, and a hint never suggests a solution the tables do
    not have. (The hint's words are made only when a flag needs them: its lookup of the
    solution used to fail whenever any plan was made.)"""
    import shutil

    from gabacalc.rules import default_tables_dir, load_rules, write_manifest

    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    strengths = folder / "strengths.csv"
    lines = strengths.read_text().splitlines(keepends=True)
    strengths.write_text("".join(line for line in lines if "oral_solution" not in line))
    write_manifest(folder, "local-no-solution")
    rules = load_rules(folder)
    assert not any(s.is_solution for s in rules.strengths)
    patient = gabacalc.Patient(age_years=70, sex="male", weight_kg=70, height_cm=175, scr=1.0)
    rows = []
    for target in (None, 1250):  # 1,250 mg/day cannot be made: TARGET_LIMITED_STRENGTHS
        options = {} if target is None else {"target_daily_mg": target}
        plan = gabacalc.build_plan(patient, rules=rules, start_date=date(2026, 1, 5), **options)
        codes = [flag["code"] for flag in plan.summary["flags"]]
        assert ("TARGET_LIMITED_STRENGTHS" in codes) == (target is not None)
        assert "oral solution" not in " ".join(flag["message"] for flag in plan.summary["flags"])
        rows.append((codes, {**patient.as_dict(), "id": str(target), **options}))
    cohort = pd.DataFrame([row for _, row in rows]).assign(start_date="2026-01-05")
    out = plan_cohort(cohort, rules=rules)
    assert out["status"].tolist() == ["ok", "ok"]
    assert out["flag_codes"].tolist() == [";".join(codes) for codes, _ in rows]


def test_each_row_of_a_refused_plan_is_planned_once_and_gets_build_plans_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three patients share a plan that cannot be made (only 800 mg tablets, in a band whose
    maximum is 700 mg/day). Each row comes back with exactly the refusal build_plan gives
    that patient, and each goes through the single-patient core once: the first as the
    plan's own, the other two on their own (their words may name their own values), in
    one call and across chunks with a cache."""
    import gabacalc.core.cohort as cohort_module

    planned: list[int] = []
    plan_rows = cohort_module._plan_rows

    def counted(*args: Any) -> Any:
        planned.extend(args[-1].tolist())
        return plan_rows(*args)

    monkeypatch.setattr(cohort_module, "_plan_rows", counted)
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "age_years": [50, 61, 74],
            "sex": ["male", "female", "male"],
            "weight_kg": [80, 62, 70],
            "crcl_ml_min": [20, 25, 16],
            "strengths_mg": "800",
            "start_date": START,
        }
    )
    expected = []
    for row in frame.itertuples():
        patient = gabacalc.Patient(
            age_years=row.age_years,
            sex=row.sex,
            weight_kg=row.weight_kg,
            crcl_ml_min=row.crcl_ml_min,
        )
        with pytest.raises(gabacalc.InputError) as refusal:
            gabacalc.build_plan(patient, strengths_mg=[800], start_date=date(2026, 1, 5))
        expected.append(str(refusal.value))
    for cache in (None, {}):
        planned.clear()
        out = cohort_module.plan_frame(frame, RULES, date(2026, 1, 5), cache)
        assert out["status"].tolist() == ["error"] * 3
        assert out["error"].tolist() == expected
        assert sorted(planned) == [0, 1, 2]
    planned.clear()  # the cache now holds the refused plan: the rows are planned on their own
    out = cohort_module.plan_frame(frame, RULES, date(2026, 1, 5), cache)
    assert out["error"].tolist() == expected
    assert sorted(planned) == [0, 1, 2]
