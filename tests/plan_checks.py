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
    for part in take.split(" and "):
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
    order = {"titration": 0, "reduction": 0, "maintenance": 1, "taper": 2}
    assert sched["phase"].map(order).is_monotonic_increasing
    if s["kind"] == "titration":
        reached_day = s["target_reached_day"]
        review = sched.loc[sched["date"].dt.date.astype(str) == s["review_date"], "day"]
        assert int(review.iloc[0]) - 1 == max(s["review_weeks"] * 7, reached_day - 1 + 14)
        assert sched.loc[sched["day"] == reached_day, "daily_mg"].item() == s["target_daily_mg"]
    # 7. The summary says why the target is below the dose asked for, and only then: the
    # renal band where its maximum is lower, the allowed strengths where they make less.
    target, asked = s["target_daily_mg"], s["requested_target_daily_mg"]
    expected = ["renal band"] if maximum < asked else []
    expected += ["allowed strengths"] if target < min(asked, maximum) else []
    assert s["target_limited_by"] == expected
    assert bool(expected) == (target < asked)
    # 8. Every output carries the verification text, the version and the checksum.
    for attrs in (sched.attrs, plan.steps.attrs):
        assert attrs["verification"] == gabacalc.VERIFICATION_TEXT
        assert attrs["rules_sha256"] == s["rules_sha256"]


def _lowest_next_mg(daily_mg: int, taper: str) -> float:
    """The lowest dose one step of a taper preset may go to (written out independently)."""
    if taper == "weekly":  # NHS Fife: 300 mg/day a week while above 300, then 100 mg/day
        return max(daily_mg - 300, 300) if daily_mg > 300 else daily_mg - 100
    assert taper == "gradual"  # never more than a third of the current dose in one step
    return daily_mg * 2 / 3


STOP_FROM_MAX_MG = 100  # both presets stop only from 100 mg/day or less


def check_gradual(plan: gabacalc.Plan) -> None:
    """No cut larger than the taper preset allows, no abrupt stop, each level a week.

    The dose before day 1 is the current dose of a re-plan or taper (0 for a new start). A
    current dose above the band maximum may be lowered at once to the band maximum, and is
    then held a full week.
    """
    s, daily = plan.summary, plan.schedule["daily_mg"].tolist()
    taper = plan.options.taper
    current = s["current_daily_mg"]
    levels: list[tuple[int, int]] = []  # (dose, days held), the dose before day 1 first
    for mg in daily:
        if levels and levels[-1][0] == mg:
            levels[-1] = (mg, levels[-1][1] + 1)
        else:
            levels.append((mg, 1))
    before = current if current is not None else 0
    first = daily[0]
    if before > s["max_daily_mg"] and first <= s["max_daily_mg"]:
        # Lowered at once to the band maximum (accumulation), then held a week.
        assert levels[0][1] >= 7, levels[:2]
        before = first
    chain = [(before, 7), *levels]  # the current dose's own history is not the plan's
    for (a, held), (b, _) in itertools.pairwise(chain):
        if b >= a:
            continue
        assert held >= 7 or (a, held) == chain[0], f"{a} mg/day held {held} days before {b}"
        if b == 0:
            assert a <= STOP_FROM_MAX_MG, f"stopped from {a} mg/day ({taper})"
        else:
            assert b >= _lowest_next_mg(a, taper) - 1e-9, f"{a} -> {b} mg/day ({taper})"
