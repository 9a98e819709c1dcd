"""What the clinician's documents say, as plain data: one source for the PDF, terminal and JSON.

An edge module: it words what the plan decided and decides nothing clinical. The PDF
(``gabacalc.render.pdf``), the terminal text (``gabacalc.render.terminal``), the JSON record
(``gabacalc.render.records``) and the patient's handout (``gabacalc.render.handout``) all take their
words from here, so that they carry the same content:

- the identification and verification fields (filled when given, blank lines when not);
- the date and time prepared (``SOURCE_DATE_EPOCH`` when set, so bytes are reproducible);
- prescription-style dose lines ("gabapentin 300 mg capsule: take 1 capsule by mouth at
  bedtime (total 300 mg a day)"), with "and" between products and words, not symbols;
- dates with the weekday ("Mon 5 Jan 2026"); a one-day step "on ... only (1 day)";
- the review decision and the conditional taper;
- dispensing quantities per product;
- what to do when, and counselling, each with its source.

Patient details are never required, and never go into a file name.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import fmt_mg, fmt_ml, fmt_number
from gabacalc.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.doses import Formulary, Portion
    from gabacalc.core.plan import Plan
    from gabacalc.core.summary import Summary

__all__ = [
    "BLANK",
    "Identification",
    "decision",
    "dispensing",
    "dose_lines",
    "fmt_date",
    "guidance_rows",
    "identification_rows",
    "patient_take",
    "prepared_at",
    "prepared_text",
    "scheme_rows",
    "signature_blocks",
    "step_dates_text",
    "step_entries",
]

#: What a field to fill by hand shows.
BLANK = "_" * 24

_WHEN = {"morning": "in the morning", "midday": "at midday", "bedtime": "at bedtime"}
_EVERY = {
    ("bedtime",): "at bedtime",
    ("morning", "bedtime"): "twice daily (in the morning and at bedtime)",
    ("morning", "midday", "bedtime"): "three times daily (morning, midday and bedtime)",
}


@dataclass(frozen=True)
class Identification:
    """Who the plan is for and how current its inputs are; every field optional.

    Attributes
    ----------
    patient_name, patient_id : str or None
        As given (the hospital or MRN number); printed as text, never as markup.
    patient_dob : datetime.date or None
        Date of birth.
    scr_date, weight_date : datetime.date or None
        When the creatinine (or CrCl) was measured and the weight taken.

    Examples
    --------
    >>> Identification(patient_name="A <b>B</b>").as_dict()["patient_name"]
    'A <b>B</b>'
    """

    patient_name: str | None = None
    patient_dob: date | None = None
    patient_id: str | None = None
    scr_date: date | None = None
    weight_date: date | None = None

    def __post_init__(self) -> None:
        for name in ("patient_name", "patient_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"{name.replace('_', ' ')} {value!r} is not text", field=name)
            if value is not None and len(value) > 200:
                raise InputError(
                    f"{name.replace('_', ' ')} is {len(value)} characters; at most 200",
                    field=name,
                )
        for name in ("patient_dob", "scr_date", "weight_date"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, date):
                raise InputError(
                    f"{name.replace('_', ' ')} {value!r} is not a date (YYYY-MM-DD)", field=name
                )

    def as_dict(self) -> dict[str, Any]:
        """Plain data (dates as ISO text, None where not given)."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
        }


def fmt_date(value: date | str | None) -> str:
    """A date with its weekday, e.g. ``"Mon 5 Jan 2026"``.

    Examples
    --------
    >>> fmt_date("2026-01-05"), fmt_date(date(2026, 2, 27))
    ('Mon 5 Jan 2026', 'Fri 27 Feb 2026')
    """
    if value is None:
        return ""
    when = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{when:%a} {when.day} {when:%b %Y}"


def prepared_at() -> datetime:
    """When the document is prepared: ``SOURCE_DATE_EPOCH`` when set (reproducible), else now.

    Examples
    --------
    >>> import os
    >>> os.environ["SOURCE_DATE_EPOCH"] = "1767225600"
    >>> prepared_at().isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> del os.environ["SOURCE_DATE_EPOCH"]
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except ValueError:
            raise InputError(
                f"SOURCE_DATE_EPOCH {epoch!r} is not a whole number of seconds since 1970",
                field="SOURCE_DATE_EPOCH",
            ) from None
    return datetime.now(tz=UTC).replace(microsecond=0)


def prepared_text(when: datetime | None = None) -> str:
    """E.g. ``"Thu 1 Jan 2026 00:00 UTC"``."""
    when = when or prepared_at()
    return f"{fmt_date(when.date())} {when:%H:%M} UTC"


def identification_rows(ident: Identification | None) -> list[tuple[str, str]]:
    """(label, value or a blank line) for the identification and verification block.

    Examples
    --------
    >>> rows = identification_rows(Identification(patient_id="MRN 123"))
    >>> rows[0][0], rows[0][1] == BLANK, rows[2]
    ('Patient name', True, ('Hospital or MRN number', 'MRN 123'))
    """
    ident = ident or Identification()

    def given(value: str | date | None) -> str:
        if value is None or value == "":
            return BLANK
        return fmt_date(value) if isinstance(value, date) else value

    return [
        ("Patient name", given(ident.patient_name)),
        ("Date of birth", given(ident.patient_dob)),
        ("Hospital or MRN number", given(ident.patient_id)),
        ("Allergies", BLANK),
        ("Date of creatinine or CrCl", given(ident.scr_date)),
        ("Date of weight", given(ident.weight_date)),
    ]


def signature_blocks() -> list[tuple[str, list[str]]]:
    """The sign-off blocks: who prescribes and who verifies, with lines to fill."""
    lines = ["Name", "Signature", "Date", "Time"]
    return [("Prescriber", lines), ("Verified by (pharmacist or physician)", lines)]


# ---------------------------------------------------------------------------- dates


def step_dates_text(row: dict[str, Any], last: bool = False) -> str:
    """A step's dates in words: a range with its days, "on ... only (1 day)", or "from ..."."""
    start, end, days = row["start_date"], row["end_date"], int(row["days"])
    if row["daily_mg"] == 0 and last:
        return f"from {fmt_date(start)}"
    if start == end:
        return f"on {fmt_date(start)} only (1 day)"
    return f"{fmt_date(start)} to {fmt_date(end)} ({days} days)"


# ----------------------------------------------------------------------- dose lines


def _count_words(portion: Portion, count: float) -> str:
    if portion.is_solution:
        return f"{fmt_ml(count)} ({fmt_mg(count * portion.mg_per_unit)})"
    unit = portion.unit_name + ("s" if count != 1 else "")
    return f"{fmt_number(count)} {unit}"


def dose_lines(
    formulary: Formulary,
    row: dict[str, Any],
    dialysis_days: tuple[str, ...] = (),
) -> list[str]:
    """A step's doses, one prescription-style line per product, with the day's total.

    Examples
    --------
    >>> from gabacalc.core.doses import Formulary
    >>> from gabacalc.rules import default_rules
    >>> f = Formulary.from_options(default_rules(), (100, 300, 400, 600, 800), False)
    >>> row = {"daily_mg": 300, "morning_mg": 0, "midday_mg": 0, "bedtime_mg": 300,
    ...        "post_dialysis_mg": 0}
    >>> dose_lines(f, row)
    ['gabapentin 300 mg capsule: take 1 capsule by mouth at bedtime (total 300 mg a day)']
    >>> row = {"daily_mg": 1400, "morning_mg": 700, "midday_mg": 0, "bedtime_mg": 700,
    ...        "post_dialysis_mg": 0}
    >>> for line in dose_lines(f, row): print(line)
    gabapentin 400 mg capsule: take 1 capsule by mouth twice daily (in the morning and at bedtime)
    and gabapentin 300 mg capsule: take 1 capsule by mouth twice daily (in the morning and at
    bedtime) (total 1,400 mg a day)
    """
    if row["daily_mg"] == 0:
        return ["stop: no gabapentin from this day"]
    times = [t for t in ("morning", "midday", "bedtime") if row[f"{t}_mg"]]
    per_product: dict[str, dict[str, float]] = {}
    portions: dict[str, Portion] = {}
    for time in times:
        for portion in formulary.portions(int(row[f"{time}_mg"])):
            per_product.setdefault(portion.product, {})[time] = portion.count
            portions[portion.product] = portion
    lines: list[str] = []
    for product, counts in per_product.items():
        portion = portions[product]
        values = {counts.get(t, 0) for t in times}
        if len(values) == 1 and tuple(counts) == tuple(times):
            how = f"{_count_words(portion, values.pop())} by mouth {_EVERY[tuple(times)]}"
        else:
            parts = [f"{_count_words(portion, counts[t])} {_WHEN[t]}" for t in times if t in counts]
            how = parts[0].replace(" in the", " by mouth in the", 1)
            if " by mouth" not in how:
                how = how.replace(" at ", " by mouth at ", 1)
            if len(parts) > 1:
                how = ", ".join([how, *parts[1:-1]]) + f" and {parts[-1]}"
        prefix = "and " if lines else ""
        lines.append(f"{prefix}{product}: take {how}")
    lines[-1] += f" (total {fmt_mg(row['daily_mg'])} a day)"
    post = int(row.get("post_dialysis_mg") or 0)
    if post:
        days = _join([d.capitalize() for d in dialysis_days]) if dialysis_days else ""
        for i, portion in enumerate(formulary.portions(post)):
            prefix = "and " if i else "after each dialysis session: "
            lines.append(
                f"{prefix}{portion.product}: take {_count_words(portion, portion.count)} by mouth"
            )
        lines[-1] += f" ({fmt_mg(post)}, dialysis days only" + (f": {days})" if days else ")")
    return lines


def patient_take(formulary: Formulary, dose_mg: int) -> str:
    """One dose in plain words, e.g. ``"1 capsule of 400 mg and 1 capsule of 300 mg"``.

    Examples
    --------
    >>> from gabacalc.core.doses import Formulary
    >>> from gabacalc.rules import default_rules
    >>> f = Formulary.from_options(default_rules(), (100, 300, 400), True)
    >>> patient_take(f, 700), patient_take(f, 200)
    ('1 capsule of 400 mg and 1 capsule of 300 mg', '2 capsules of 100 mg')
    >>> patient_take(f, 125)
    '2.5 mL of the liquid (125 mg)'
    """
    words = []
    for portion in formulary.portions(dose_mg):
        if portion.is_solution:
            words.append(f"{fmt_ml(portion.count)} of the liquid ({fmt_mg(dose_mg)})")
        else:
            unit = portion.unit_name + ("s" if portion.count != 1 else "")
            words.append(f"{fmt_number(portion.count)} {unit} of {fmt_mg(portion.strength_mg)}")
    return " and ".join(words)


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def step_entries(plan: Plan) -> list[dict[str, Any]]:
    """Each step with its dates in words and its dose lines (what every document lists)."""
    from gabacalc.render.records import step_records

    assert plan.formulary is not None
    days = tuple(plan.options.dialysis_days) if plan.summary["dialysis"] == "hemodialysis" else ()
    rows = step_records(plan.steps)
    out = []
    for i, row in enumerate(rows):
        out.append(
            {
                **row,
                "dates_text": step_dates_text(row, last=i == len(rows) - 1),
                "dose_lines": dose_lines(plan.formulary, row, days),
            }
        )
    return out


# ----------------------------------------------------------------- scheme and basis


def scheme_rows(plan: Plan) -> list[tuple[str, str]]:
    """The titration scheme, the taper and the weight basis, each with its source."""
    s = plan.summary
    rows = []
    if s["kind"] == "titration" and (plan.schedule["phase"] == "titration").any():
        rows.append(
            (
                "Titration scheme",
                f"{s['titration']}: {s['titration_description']} (source: {s['titration_source']})",
            )
        )
    elif s["kind"] == "titration":
        # What the plan decided: a re-plan at or above its target never rises.
        rows.append(("Titration scheme", "none: the plan does not rise (see the current dose)"))
    rows.append(
        ("Taper scheme", f"{s['taper']}: {s['taper_description']} (source: {s['taper_source']})")
    )
    if s["weight_used_kg"] is not None:
        rows.append(
            (
                "Weight basis",
                f"{s['weight_basis']}: {s['weight_used']} body weight "
                f"{fmt_number(s['weight_used_kg'])} kg, because {s['weight_reason']} "
                f"(source: {s['weight_basis_source']})",
            )
        )
    else:
        rows.append(("Weight basis", "not used: CrCl given, or dialysis without a residual CrCl"))
    if s.get("max_products"):
        from gabacalc.core.plan import products_used

        rows.append(
            (
                "Products",
                f"kept to at most {s['max_products']}: {_join(products_used(plan))}",
            )
        )
    return rows


# --------------------------------------------------------------------- the decision


def decision(plan: Plan) -> dict[str, Any] | None:
    """The review block and the conditional taper's heading (None for a taper-only plan).

    Examples
    --------
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> decision(plan)["taper_heading"]
    'Only if there is no clear benefit at the review on Mon 23 Feb 2026'
    """
    s = plan.summary
    if s["kind"] != "titration":
        return None
    review = fmt_date(s["review_date"])
    return {
        "heading": f"Review on {review}: decide",
        "rule": s["review_rule"],
        "continue": s["review_with_benefit"],
        "taper": s["review_without_benefit"],
        "taper_heading": f"Only if there is no clear benefit at the review on {review}",
        "taper_note": (
            f"{s['taper_note']} Do not start it automatically: it begins on "
            f"{fmt_date(s['taper_start_date'])} only if the review decides so; no gabapentin "
            f"from {fmt_date(s['taper_end_date'])}."
        ),
    }


# ----------------------------------------------------------------------- dispensing


def _day_units(formulary: Formulary, row: Any) -> dict[str, float]:
    units: dict[str, float] = {}
    for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"):
        mg = int(row[column])
        for portion in formulary.portions(mg) if mg else ():
            units[portion.product] = units.get(portion.product, 0) + portion.count
    return units


def dispensing(plan: Plan) -> dict[str, Any]:
    """Units of each product per step, and the totals to the review and for the taper.

    Returns a dict with ``products`` (names, largest strength first, the oral solution
    last), ``unit`` (per product: "capsules", "tablets" or "mL"), ``steps`` (step number,
    dates text, phase, units per product for the whole step) and ``totals`` (label and
    units per product), and a ``note`` (the misuse advice when that flag is raised).

    Examples
    --------
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> table = dispensing(plan)
    >>> table["totals"][0]["units"]["gabapentin 600 mg tablet"]  # 3 a day for 15 days
    45
    """
    from gabacalc.core.plan import products_used

    assert plan.formulary is not None
    s = plan.summary
    products = products_used(plan)
    unit = _units(plan, products)
    steps = _step_units(plan, products)
    return {
        "products": products,
        "unit": unit,
        "steps": steps,
        "totals": _totals(s, steps, products),
        "note": _misuse_note(s),
    }


def _units(plan: Plan, products: list[str]) -> dict[str, str]:
    """What each product is counted in: "capsules", "tablets" or "mL"."""
    assert plan.formulary is not None
    portion_of = {}
    schedule = plan.schedule
    for column in ("morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"):
        for mg in schedule[column].unique():
            for portion in plan.formulary.portions(int(mg)) if mg else ():
                portion_of[portion.product] = portion
    return {
        name: "mL" if portion_of[name].is_solution else portion_of[name].unit_name + "s"
        for name in products
    }


def _step_units(plan: Plan, products: list[str]) -> list[dict[str, Any]]:
    """Each step with the units of each product for all its days."""
    assert plan.formulary is not None
    schedule = plan.schedule
    entries = step_entries(plan)
    day_units = [
        _day_units(plan.formulary, row)
        for row in schedule[["morning_mg", "midday_mg", "bedtime_mg", "post_dialysis_mg"]].to_dict(
            orient="records"
        )
    ]
    steps = []
    index = 0
    for entry in entries:
        total: dict[str, float] = dict.fromkeys(products, 0)
        for units in day_units[index : index + int(entry["days"])]:
            for name, count in units.items():
                total[name] += count
        index += int(entry["days"])
        steps.append(
            {
                "step": entry["step"],
                "days": entry["days"],
                "dates_text": entry["dates_text"],
                "phase": entry["phase"],
                "conditional": entry["conditional"],
                "units": {name: _plain_number(total[name]) for name in products},
            }
        )
    return steps


def _add(rows: list[dict[str, Any]], products: list[str]) -> dict[str, float]:
    out: dict[str, float] = dict.fromkeys(products, 0)
    for row in rows:
        for name in products:
            out[name] += row["units"][name]
    return {name: _plain_number(out[name]) for name in products}


def _totals(s: Summary, steps: list[dict[str, Any]], products: list[str]) -> list[dict[str, Any]]:
    """The totals to the review and for the conditional taper, or for the whole taper."""
    totals = []
    if s["kind"] == "titration":
        totals.append(
            {
                "label": f"Day 1 to the review on {fmt_date(s['review_date'])}",
                "units": _add([r for r in steps if r["phase"] != "taper"], products),
            }
        )
        totals.append(
            {
                "label": "Taper (only if there is no clear benefit at the review)",
                "units": _add([r for r in steps if r["phase"] == "taper"], products),
            }
        )
    else:
        totals.append({"label": "Taper", "units": _add(steps, products)})
    return totals


def _misuse_note(s: Summary) -> str:
    """How to dispense when a misuse history is flagged ("" otherwise)."""
    if any(f["code"] == "MISUSE" for f in s["flags"]):
        if s["kind"] == "titration":
            return (
                "Misuse history flagged: dispense at most the quantities to the review on "
                f"{fmt_date(s['review_date'])}; supply the taper only once it is decided."
            )
        return "Misuse history flagged: dispense one taper step at a time."
    return ""


def _plain_number(value: float) -> float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


# ------------------------------------------------------------------------- guidance


def guidance_rows(plan: Plan, audience: str = "clinician") -> list[dict[str, str]]:
    """The plan's "what to do when" and counselling rows for one audience, with sources."""
    return [row for row in plan.summary["guidance"] if row["audience"] == audience]


def review_date(plan: Plan) -> date | None:
    """The review date as a date (None for a taper-only plan)."""
    text = plan.summary["review_date"]
    return None if plan.summary["kind"] != "titration" or not text else date.fromisoformat(text)


def calendar_days(plan: Plan) -> list[dict[str, Any]]:
    """Every day a patient follows: to the review (titration) or to the stop (taper).

    The taper that depends on the review is not included: the review decides it.
    """
    schedule = plan.schedule
    if plan.summary["kind"] == "titration":
        schedule = schedule[~schedule["conditional"]]
    out: list[dict[str, Any]] = []
    for row in schedule.to_dict(orient="records"):
        when = row["date"].date()
        out.append({**{str(k): v for k, v in row.items()}, "date": when})
    return out
