"""The plan engine: titration presets, clamps, review, taper, re-planning, the contract."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from plan_checks import check_plan_invariants

import gabacalc
from gabacalc import Patient, build_plan, build_taper

MONDAY = date(2026, 1, 5)
YOUNG_NORMAL = Patient(age_years=40, sex="male", weight_kg=80, crcl_ml_min=100)


def test_summary_and_schedule_carry_the_contract_keys(example_plan: gabacalc.Plan) -> None:
    summary_keys = {
        "crcl_ml_min",
        "crcl_method",
        "weight_basis",
        "weight_used_kg",
        "band",
        "doses_per_day",
        "max_daily_mg",
        "target_daily_mg",
        "requested_target_daily_mg",
        "start_date",
        "target_reached_date",
        "review_date",
        "taper_start_date",
        "taper_end_date",
        "post_dialysis_mg",
        "flags",
        "verification",
        "gabacalc_version",
        "rules_version",
        "rules_sha256",
    }
    assert summary_keys <= set(example_plan.summary)
    schedule_columns = [
        "date",
        "day",
        "phase",
        "daily_mg",
        "morning_mg",
        "midday_mg",
        "bedtime_mg",
        "post_dialysis_mg",
        "max_daily_mg",
        "limited_by",
        "note",
    ]
    assert set(schedule_columns) <= set(example_plan.schedule.columns)
    assert (
        example_plan.summary["verification"]
        == "Illustrative plan - requires physician verification"
    )
    assert example_plan.schedule.attrs["verification"] == gabacalc.VERIFICATION_TEXT
    assert example_plan.steps.attrs["rules_sha256"] == example_plan.summary["rules_sha256"]
    for flag in example_plan.summary["flags"]:
        assert {"code", "message", "source_id"} <= set(flag)
    json.dumps(example_plan.summary)
    check_plan_invariants(example_plan)


def test_label_phn_ramp_is_300_once_twice_then_three_times_daily() -> None:
    plan = build_plan(YOUNG_NORMAL, titration="label-phn", start_date=MONDAY)
    first_three = plan.schedule.head(3)
    assert first_three["daily_mg"].tolist() == [300, 600, 900]
    assert first_three["doses_per_day"].tolist() == [1, 2, 3]
    assert first_three["bedtime_take"].tolist() == ["1 x 300 mg capsule"] * 3
    # then up by 300 mg/day every 3 days: 1,200 on day 6, 1,500 on day 9, 1,800 on day 12
    assert plan.summary["target_reached_date"] == "2026-01-16"


def test_weekly_preset_goes_up_300_mg_each_week() -> None:
    plan = build_plan(YOUNG_NORMAL, titration="weekly", start_date=MONDAY)
    titration = plan.steps[plan.steps["phase"] != "taper"]
    assert titration["daily_mg"].tolist() == [300, 600, 900, 1200, 1500, 1800]
    assert titration["days"].tolist()[:-1] == [7, 7, 7, 7, 7]


def test_gentle_preset_goes_up_100_mg_every_3_days() -> None:
    plan = build_plan(
        YOUNG_NORMAL, titration="gentle", start_daily_mg=100, target_daily_mg=600, start_date=MONDAY
    )
    titration = plan.steps[plan.steps["phase"] != "taper"]
    assert titration["daily_mg"].tolist() == [100, 200, 300, 400, 500, 600]
    assert titration["days"].tolist()[:-1] == [3, 3, 3, 3, 3]
    # 400 mg is the first dose split in two: 200 mg in the morning and at bedtime.
    four = titration[titration["daily_mg"] == 400].iloc[0]
    assert (four["morning_mg"], four["bedtime_mg"]) == (200, 200)


def test_uneven_split_puts_the_larger_dose_at_bedtime() -> None:
    plan = build_plan(
        YOUNG_NORMAL,
        titration="gentle",
        start_daily_mg=100,
        target_daily_mg=1000,
        start_date=MONDAY,
    )
    step = plan.steps[plan.steps["daily_mg"] == 1000].iloc[0]
    assert (step["morning_mg"], step["midday_mg"], step["bedtime_mg"]) == (300, 300, 400)
    assert step["frequency"] == "three times daily"


def test_renal_clamp_is_recorded_on_the_days_it_binds() -> None:
    patient = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=25)
    plan = build_plan(patient, titration="weekly", start_daily_mg=300, start_date=MONDAY)
    maintenance = plan.schedule[plan.schedule["phase"] == "maintenance"]
    assert (maintenance["daily_mg"] == 700).all()
    assert (maintenance["limited_by"] == "renal band").all()
    first = plan.schedule.iloc[0]
    assert first["limited_by"] == ""  # 300 mg was what was asked for on day 1
    codes = [f["code"] for f in plan.flags]
    assert "TARGET_LIMITED_RENAL" in codes


def test_the_summary_says_why_the_target_is_below_the_one_asked_for() -> None:
    """The core says why (the renal band, the allowed strengths); the renderers only word it."""

    def limited_by(plan: gabacalc.Plan) -> list[str]:
        return plan.summary["target_limited_by"]

    assert limited_by(build_plan(YOUNG_NORMAL, start_date=MONDAY)) == []
    crcl_40 = Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=40)
    assert limited_by(build_plan(crcl_40, start_date=MONDAY)) == ["renal band"]
    only_100 = build_plan(YOUNG_NORMAL, target_daily_mg=2050, strengths_mg=[100], start_date=MONDAY)
    assert (only_100.summary["target_daily_mg"], limited_by(only_100)) == (
        2000,
        ["allowed strengths"],
    )
    crcl_7_5 = Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=7.5)
    assert limited_by(build_plan(crcl_7_5, start_date=MONDAY)) == [
        "renal band",
        "allowed strengths",
    ]  # the scaled maximum 150 mg/day; capsules make 100
    assert limited_by(build_taper(crcl_40, 1800, start_date=MONDAY)) == ["renal band"]
    assert limited_by(build_taper(YOUNG_NORMAL, 1800, start_date=MONDAY)) == []


def test_review_is_the_later_of_the_review_weeks_and_14_days_at_target() -> None:
    fast = build_plan(YOUNG_NORMAL, titration="label-phn", review_weeks=4, start_date=MONDAY)
    assert fast.summary["review_date"] == "2026-02-02"  # 4 weeks (target on day 12)
    slow = build_plan(
        YOUNG_NORMAL, titration="weekly", target_daily_mg=3600, review_weeks=4, start_date=MONDAY
    )
    # 3,600 is reached on day 78 (2026-03-23); 14 days later wins over 4 weeks.
    assert slow.summary["target_reached_date"] == "2026-03-23"
    assert slow.summary["review_date"] == "2026-04-06"


def test_the_review_day_and_the_taper_are_marked() -> None:
    plan = build_plan(YOUNG_NORMAL, start_date=MONDAY)
    notes = dict(zip(plan.schedule["date"].dt.date.astype(str), plan.schedule["note"], strict=True))
    assert "efficacy review" in notes[plan.summary["review_date"]]
    assert "taper begins" in notes[plan.summary["taper_start_date"]]
    assert "stopped" in notes[plan.summary["taper_end_date"]]


def test_weekly_taper_from_1800() -> None:
    plan = build_plan(YOUNG_NORMAL, start_date=MONDAY)
    taper = plan.steps[plan.steps["phase"] == "taper"]
    assert taper["daily_mg"].tolist() == [1500, 1200, 900, 600, 300, 200, 100, 0]
    assert taper["days"].tolist() == [7] * 7 + [1]


def test_gradual_taper_comes_down_in_proportional_steps_to_zero() -> None:
    plan = build_plan(YOUNG_NORMAL, taper="gradual", oral_solution=True, start_date=MONDAY)
    taper = plan.steps[plan.steps["phase"] == "taper"]["daily_mg"].tolist()
    assert taper[0] == 1350  # 1,800 less a quarter
    assert taper[-1] == 0
    reductions = [a - b for a, b in zip([1800, *taper], taper, strict=False)]
    assert all(r > 0 for r in reductions)
    assert reductions[-2] < reductions[0]  # smaller steps near the end


def test_replanning_after_renal_decline_lowers_the_dose_at_once() -> None:
    # On 900 mg/day (CrCl 70) when CrCl falls to 25: the 15-30 band allows 700 once daily.
    patient = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=25)
    plan = build_plan(
        patient, current_daily_mg=900, target_daily_mg=1800, start_date=date(2026, 1, 26)
    )
    first = plan.schedule.iloc[0]
    assert (first["daily_mg"], first["doses_per_day"]) == (700, 1)
    assert "renal band" in first["limited_by"]
    assert "CURRENT_ABOVE_BAND" in [f["code"] for f in plan.flags]
    check_plan_invariants(plan)


def test_replanning_from_a_lower_dose_titrates_on_without_the_ramp() -> None:
    plan = build_plan(YOUNG_NORMAL, current_daily_mg=600, titration="label-phn", start_date=MONDAY)
    assert plan.schedule["daily_mg"].head(4).tolist() == [600, 600, 600, 900]


def test_taper_for_a_patient_already_on_gabapentin() -> None:
    plan = build_taper(YOUNG_NORMAL, 1200, current_doses_per_day=2, start_date=MONDAY)
    assert plan.summary["kind"] == "taper"
    assert plan.summary["review_date"] is None
    assert plan.steps["daily_mg"].tolist() == [900, 600, 300, 200, 100, 0]
    assert (plan.steps["doses_per_day"] <= 2).all()
    check_plan_invariants(plan)


def test_a_taper_from_100_mg_still_takes_a_week() -> None:
    plan = build_taper(YOUNG_NORMAL, 100, start_date=MONDAY)
    assert plan.steps["daily_mg"].tolist() == [100, 0]
    assert plan.steps["days"].tolist() == [7, 1]


def test_current_dose_above_the_label_maximum_is_flagged() -> None:
    plan = build_taper(YOUNG_NORMAL, 4800, start_date=MONDAY)
    codes = [f["code"] for f in plan.flags]
    # Normal renal function: the label's maximum, not a renal band, is what was exceeded.
    assert "CURRENT_ABOVE_LABEL_MAX" in codes and "CURRENT_ABOVE_BAND" not in codes
    assert plan.schedule["daily_mg"].max() == 3600


def test_hemodialysis_supplement_rounded_down_and_flagged(hemodialysis_plan: gabacalc.Plan) -> None:
    flags = {f["code"]: f for f in hemodialysis_plan.flags}
    assert "HD_SUPPLEMENT_ROUNDED" in flags
    assert "350 mg" in flags["HD_SUPPLEMENT_ROUNDED"]["message"]
    assert "oral solution" in flags["HD_SUPPLEMENT_ROUNDED"]["action"]
    assert hemodialysis_plan.summary["post_dialysis_mg"] == 300
    check_plan_invariants(hemodialysis_plan)


def test_flag_messages_write_numbers_the_safe_way(hemodialysis_plan: gabacalc.Plan) -> None:
    from conftest import assert_safe_dose_text

    patient = Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=25)
    plan = build_plan(patient, target_daily_mg=3600, start_date=MONDAY)
    for flag in [*plan.flags, *hemodialysis_plan.flags]:
        assert_safe_dose_text(flag["message"] + " " + flag["action"])
        assert "{" not in flag["message"] + flag["action"]
    assert "3,600 mg/day" in " ".join(f["message"] for f in plan.flags)


@pytest.mark.parametrize("strengths", [[100], [100, 800], [100, 400], [600, 800, 100]])
def test_every_administration_is_made_from_the_allowed_strengths(strengths: list[int]) -> None:
    plan = build_plan(
        YOUNG_NORMAL,
        strengths_mg=strengths,
        start_daily_mg=300,
        target_daily_mg=2400,
        start_date=MONDAY,
    )
    check_plan_invariants(plan)


def test_schedules_are_kept_per_rule_tables_and_dropped_with_them(tmp_path: Path) -> None:
    """A schedule is worked out once per key and tables; other tables never see it, and the
    cache goes when its tables do (an id reused later cannot find stale schedules)."""
    import gc
    import shutil
    import weakref

    from gabacalc.core.engine import BandLimits
    from gabacalc.core.schedule import schedule, schedule_key
    from gabacalc.rules import default_tables_dir, load_rules
    from gabacalc.rules.memo import memo

    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    local = load_rules(folder)
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90)
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5), rules=local)
    key = schedule_key("titration", plan.options, BandLimits.of(plan.band))
    found = schedule(key, local)
    assert schedule(key, local) is found
    assert schedule(key, gabacalc.default_rules()) is not found
    cache = weakref.ref(memo(local, "schedules")["cache"])
    assert cache() is not None
    del plan, found, local
    gc.collect()
    assert cache() is None
