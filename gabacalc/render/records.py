"""Write a plan as CSV (the day-by-day schedule) or JSON (the summary and the steps).

An edge module: it formats what the core decided. Both formats are deterministic (same
plan, same bytes) and carry the verification text, the gabacalc version and the rule
tables' version and checksum.

The CSV is a plain table, one header row and one row per day, that ``pandas.read_csv``,
``polars.read_csv``, R's ``read.csv``, DuckDB and LibreOffice read with their defaults. The
verification text, the gabacalc version, the rules version and checksum, and the plan's
flag codes are columns on every row, so they survive filtering and copying; the human
context (patient line, renal estimate, band, flag wording) is in the JSON, the PDF and the
workbook (:func:`header_lines`). Text cells a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a leading apostrophe
(:func:`neutralise_cell`, the guard the workbook uses too).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from gabacalc.core.wording import fmt_mg, fmt_number

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan
    from gabacalc.core.summary import Flag, Summary
    from gabacalc.render.phrases import Identification

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "STAMP_COLUMNS",
    "csv_text",
    "header_lines",
    "json_text",
    "neutralise_cell",
    "neutralise_cells",
    "plan_record",
    "plan_schema",
    "source_ids",
    "step_records",
]

_DIALYSIS_WORDS = {
    "none": "no dialysis",
    "hemodialysis": "on hemodialysis",
    "peritoneal": "on peritoneal dialysis",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The version of the plan record's JSON Schema (``gabacalc/schemas/plan-record.schema.json``):
#: the major number rises when a change would break a reader.
PLAN_SCHEMA_VERSION = "1.0"
#: The provenance columns every row of a CSV carries (the plan summary's keys).
#: The stamp every output carries (each a key of the plan summary).
StampKey = Literal["verification", "gabacalc_version", "rules_version", "rules_sha256"]
STAMP_COLUMNS: tuple[StampKey, ...] = (
    "verification",
    "gabacalc_version",
    "rules_version",
    "rules_sha256",
)
_ALSO = re.compile(r"\balso ([a-z][a-z0-9]*(?:-[a-z0-9]+)+)")


def neutralise_cell(text: str) -> str:
    """Make a text cell safe to open in a spreadsheet: the one formula guard of every writer.

    A text a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
    tab or carriage return) gets a leading apostrophe; every other text, and every other
    character, is kept exactly as given (an id "A#12" stays "A#12"). Applying it twice
    changes nothing more.

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(1)"), neutralise_cell("1 x 100 mg capsule")
    ("'=HYPERLINK(1)", '1 x 100 mg capsule')
    >>> neutralise_cell(neutralise_cell("-1")), neutralise_cell("id #3")
    ("'-1", 'id #3')
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def neutralise_cells(texts: pd.Series) -> pd.Series:
    """:func:`neutralise_cell` on every cell of a text column; a missing cell stays missing.

    The starts are tested on the whole column at once, and only the cells that need the
    apostrophe go through :func:`neutralise_cell` (a million ids cost one vectorised test,
    not a million calls).

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_cells(pd.Series(["a1", "=1+1", None, "-3"], dtype="str")).tolist()
    ['a1', "'=1+1", nan, "'-3"]
    """
    risky = texts.str.startswith(_FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
    if not risky.any():
        return texts
    out = texts.copy()
    out[risky] = texts[risky].map(neutralise_cell)
    return out


def header_lines(plan: Plan) -> list[str]:
    """What a person reads before the table: verification, versions, the basis, the flags.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> header_lines(plan)[0]
    'Illustrative plan - requires physician verification'
    """
    s = plan.summary
    lines = [
        plan.provenance.verification,
        plan.provenance.record_line(),
        f"Patient: {patient_text(s)}",
        f"Renal estimate: {s['crcl_method']}",
        f"Band: {s['band_words']}, {fmt_number(s['min_daily_mg'])} to "
        f"{fmt_mg(s['max_daily_mg'])} a day ({s['band_source']}). {s['band_reason']}",
        f"Target: {fmt_mg(s['target_daily_mg'])} a day ({s['target_regimen']})",
        f"Dates: {dates_text(s)}",
    ]
    if s["kind"] == "titration":
        lines.append(
            "Rows with conditional True are the taper: only if there is no clear benefit at "
            "the review; never start it automatically."
        )
    lines.extend(flag_text(flag) for flag in s["flags"])
    return lines


def patient_text(summary: Mapping[str, Any]) -> str:
    """The patient's inputs in one line: what every document and display says of the patient.

    Examples
    --------
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=72, sex="female", weight_kg=60, scr=1.3))
    >>> patient_text(plan.summary)  # doctest: +NORMALIZE_WHITESPACE
    '72 years, female, 60 kg, height not given, serum creatinine 1.3 mg/dL, no dialysis,
    risks: none recorded, pain type: other'
    """
    p = summary["inputs"]["patient"]
    parts = [f"{fmt_number(p['age_years'])} years", p["sex"], f"{fmt_number(p['weight_kg'])} kg"]
    parts.append(
        f"{fmt_number(p['height_cm'])} cm" if p["height_cm"] is not None else "height not given"
    )
    if p["scr"] is not None:
        parts.append(f"serum creatinine {fmt_number(p['scr'], 2)} {p['scr_unit']}")
    if p["crcl_ml_min"] is not None:
        parts.append(f"CrCl given {summary['crcl_text']} mL/min")
    parts.append(_DIALYSIS_WORDS.get(p["dialysis"], p["dialysis"]))
    parts.append(f"risks: {', '.join(p['risks']) or 'none recorded'}")
    parts.append(f"pain type: {p['pain_type']}")
    return ", ".join(parts)


def dates_text(summary: Summary) -> str:
    """The key dates in one line, each with its weekday."""
    from gabacalc.render.phrases import fmt_date as day

    s = summary
    if s["kind"] == "taper":
        return f"taper from {day(s['start_date'])}; no gabapentin from {day(s['taper_end_date'])}"
    reached = (
        f"target reached {day(s['target_reached_date'])} (day {s['target_reached_day']})"
        if s["target_reached_date"]
        else "target not reached"
    )
    return (
        f"start {day(s['start_date'])}; {reached}; efficacy review {day(s['review_date'])}; "
        f"taper only if no clear benefit at the review, from {day(s['taper_start_date'])}, "
        f"no gabapentin from {day(s['taper_end_date'])}"
    )


def flag_text(flag: Flag) -> str:
    """One flag as a line: severity, code, message, what to do, source."""
    return (
        f"{flag['severity'].upper()} {flag['code']}: {flag['message']} "
        f"What to do: {flag['action']} (source: {flag['source_id']} {flag['source_section']})"
    )


def source_ids(plan: Plan) -> list[str]:
    """The ``source_id`` of every rule the plan used, each once, in the order first used.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> source_ids(plan)[:2]
    ['neurontin-uspi', 'gabacalc-conventions']
    """
    s = plan.summary
    ids = [s["band_source"].split()[0], "gabacalc-conventions"]
    ids += [f["source_id"] for f in s["flags"]]
    ids += [str(x) for x in plan.steps["source_id"] if x]
    ids += [s["titration_source"].split()[0], s["taper_source"].split()[0]]
    ids += [row["source_id"] for row in s["guidance"] if row["audience"] == "clinician"]
    if s["crcl_source"] == "cockcroft-gault":
        ids.append("cockcroft-gault-1976")
    if "devine-1974" in s["weight_basis_source"]:
        ids.append("devine-1974")
    # A source named inside a section ("also enke-2018") is cited too: list it in full.
    sections = [f["source_section"] for f in s["flags"]]
    sections += [r["source_section"] for r in s["guidance"] if r["audience"] == "clinician"]
    ids += [m for text in sections for m in _ALSO.findall(text)]
    seen: list[str] = []
    for source in ids:
        if source not in seen:
            seen.append(source)
    return seen


def csv_text(plan: Plan) -> str:
    """The schedule as a plain CSV table (``\\n`` line ends), the stamp on every row.

    Columns: the schedule's (``date`` as YYYY-MM-DD, whole mg as digits), then
    ``flag_codes`` (the plan's flag codes, ";"-separated) and :data:`STAMP_COLUMNS`.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> import io, pandas as pd
    >>> back = pd.read_csv(io.StringIO(csv_text(plan)))
    >>> back["daily_mg"].iloc[[0, 7]].tolist(), back["date"].iloc[0]
    ([300, 600], '2026-01-05')
    >>> back["verification"].iloc[-1]
    'Illustrative plan - requires physician verification'
    """
    s = plan.summary
    table = plan.schedule.copy()
    table["date"] = table["date"].dt.strftime("%Y-%m-%d")
    for column in table.columns:
        if pd.api.types.is_string_dtype(table[column]) and column != "date":
            table[column] = table[column].map(neutralise_cell)
    table["flag_codes"] = ";".join(flag["code"] for flag in s["flags"])
    for column in STAMP_COLUMNS:
        table[column] = neutralise_cell(str(s[column]))
    out = io.StringIO()
    table.to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


def plan_record(plan: Plan, identification: Identification | None = None) -> dict[str, Any]:
    """The summary and the steps as plain data (what the JSON holds).

    Besides the summary and the steps, ``document`` holds what the PDF and the terminal
    text say: the identification fields (None where not given), each step's dates in words
    and prescription-style dose lines, the review decision, the schemes with their sources,
    and the dispensing quantities. There is no preparation time: the same inputs give the
    same bytes.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> record = plan_record(plan)
    >>> record["verification"], record["steps"][0]["start_date"]
    ('Illustrative plan - requires physician verification', '2026-01-05')
    """
    from gabacalc.render.phrases import (
        Identification,
        decision,
        dispensing,
        scheme_rows,
        signature_blocks,
        step_entries,
    )

    s = plan.summary
    rows = step_records(plan.steps)
    record: dict[str, Any] = {
        "schema_version": PLAN_SCHEMA_VERSION,
        **plan.provenance.columns(),
        "summary": s,
        "steps": rows,
    }
    if plan.formulary is not None:
        record["document"] = {
            "identification": (identification or Identification()).as_dict(),
            "basis": [{"label": k, "text": v} for k, v in scheme_rows(plan)],
            "steps": [
                {
                    "step": e["step"],
                    "conditional": e["conditional"],
                    "dates_text": e["dates_text"],
                    "dose_lines": e["dose_lines"],
                }
                for e in step_entries(plan)
            ],
            "decision": decision(plan),
            "dispensing": dispensing(plan),
            "sign_off": [{"role": role, "fields": fields} for role, fields in signature_blocks()],
        }
    return record


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`plan_record`, shipped in the package.

    Examples
    --------
    >>> schema = plan_schema()
    >>> schema["properties"]["schema_version"]["const"] == PLAN_SCHEMA_VERSION
    True
    """
    from importlib.resources import files

    text = files("gabacalc").joinpath("schemas", "plan-record.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def step_records(steps: pd.DataFrame) -> list[dict[str, Any]]:
    """The steps as plain dicts: dates as ISO strings, numbers as Python ints.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> step_records(plan.steps)[0]["end_date"], step_records(plan.steps)[0]["daily_mg"]
    ('2026-01-11', 300)
    """
    table = steps.copy()
    for column in ("start_date", "end_date"):
        table[column] = table[column].dt.strftime("%Y-%m-%d")
    return [
        {str(key): _plain(value) for key, value in row.items()}
        for row in table.to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def json_text(plan: Plan, identification: Identification | None = None) -> str:
    """The plan record as indented JSON (ASCII, no NaN), ending in a newline."""
    return json.dumps(plan_record(plan, identification), indent=2, allow_nan=False) + "\n"
