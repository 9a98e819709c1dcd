"""Safety invariants every plan must satisfy, shared by the plan and property tests."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import gabacalc

_SOLID = re.compile(r"^(\d+) x ([\d,]+) mg (capsule|tablet)s?$")
_SOLUTION = re.compile(r"^([\d.]+) mL oral solution \(([\d,]+) mg\)$")


def made_mg(take: str, plan: gabacalc.Plan) -> int:
    """Read back what an administration text gives, checking each part is an allowed form."""
    if not take:
        return 0
    solution = _SOLUTION.match(take)
    if solution:
        assert plan.options.oral_solution, take
        volume, mg = float(solution.group(1)), int(solution.group(2).replace(",", ""))
        assert (volume * 2) == int(volume * 2), f"not a 0.5 mL step: {take}"
        assert volume * 50 == mg, take
        return mg
    total = 0
    for part in take.split(" + "):
        match = _SOLID.match(part)
        assert match, f"unreadable administration: {take!r}"
        count, strength = int(match.group(1)), int(match.group(2).replace(",", ""))
        assert strength in plan.options.strengths_mg, take
        total += count * strength
    return total


def check_plan_invariants(plan: gabacalc.Plan) -> None:
    """The non-negotiable safety rules, checked on one plan."""
    s, sched = plan.summary, plan.schedule
    maximum = s["max_daily_mg"]
    # 1. No day's dose exceeds the renal band maximum.
    assert (sched["daily_mg"] <= maximum).all()
    assert (sched["max_daily_mg"] == maximum).all()
    # 2. The administrations sum to the day's dose and each is made from allowed forms.
    parts = sched["morning_mg"] + sched["midday_mg"] + sched["bedtime_mg"]
    assert (parts == sched["daily_mg"]).all()
    assert (sched["doses_per_day"] <= s["doses_per_day"]).all()
    for row in plan.steps.itertuples():
        for time in ("morning", "midday", "bedtime"):
            assert made_mg(getattr(row, f"{time}_take"), plan) == getattr(row, f"{time}_mg")
        # An uneven split puts the larger dose at bedtime.
        assert row.bedtime_mg >= row.midday_mg and row.bedtime_mg >= row.morning_mg
        if row.post_dialysis_mg:
            assert made_mg(row.post_dialysis_take, plan) == row.post_dialysis_mg
    # 3. One row per calendar day from the start date, numbered from 1.
    start = sched["date"].iloc[0]
    assert list(sched["date"]) == [start + timedelta(days=i) for i in range(len(sched))]
    assert list(sched["day"]) == list(range(1, len(sched) + 1))
    # 4. Titration never rises more than 300 mg/day in a day, nor faster than the EU SPC.
    daily = sched["daily_mg"].tolist()
    rises = [b - a for a, b in itertools.pairwise(daily)]
    assert max(rises, default=0) <= 300
    if s["kind"] == "titration" and s["current_daily_mg"] is None:
        for dose, min_days in ((1800, 7), (2400, 14), (3600, 21)):
            reached = sched.index[sched["daily_mg"] >= dose]
            if len(reached):
                assert reached[0] >= min_days, (dose, reached[0])
    # 5. The taper: never up, ends at 0, every step at least 7 days, never above the target.
    taper = sched[sched["phase"] == "taper"]
    assert len(taper) and taper["daily_mg"].iloc[-1] == 0
    assert taper["daily_mg"].is_monotonic_decreasing
    steps = plan.steps[plan.steps["phase"] == "taper"]
    assert (steps["days"].iloc[:-1] >= 7).all()
    assert steps["daily_mg"].iloc[-1] == 0
    assert (sched["daily_mg"] <= max(s["target_daily_mg"], sched["daily_mg"].iloc[0])).all()
    # 6. Phases come in order and the review date follows the rule.
    order = {"titration": 0, "maintenance": 1, "taper": 2}
    assert sched["phase"].map(order).is_monotonic_increasing
    if s["kind"] == "titration":
        reached_day = s["target_reached_day"]
        review = sched.loc[sched["date"].dt.date.astype(str) == s["review_date"], "day"]
        assert int(review.iloc[0]) - 1 == max(s["review_weeks"] * 7, reached_day - 1 + 14)
        assert sched.loc[sched["day"] == reached_day, "daily_mg"].item() == s["target_daily_mg"]
    # 7. Every output carries the verification text, the version and the checksum.
    for attrs in (sched.attrs, plan.steps.attrs):
        assert attrs["verification"] == gabacalc.VERIFICATION_TEXT
        assert attrs["rules_sha256"] == s["rules_sha256"]
