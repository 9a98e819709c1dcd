"""The plan as an HL7 FHIR R4 Bundle, for an EHR: proposals that a physician must verify.

An edge module: it formats what the core decided. Needs the ``fhir`` extra
(``pip install "gabacalc[fhir]"``, the fhir.resources model library); every resource is
built and validated by its model before it is written.

What the Bundle (type ``collection``) holds:

- a ``Patient`` with the sex the plan used (gabacalc knows no name or identifier);
- a ``MedicationRequest`` per regimen step, ``status`` "draft" and ``intent`` "proposal"
  (FHIR's way to say "requires physician verification"): the medication as text (no
  RxNorm code, since gabacalc's rule tables hold none with a source), one
  ``dosageInstruction`` per administration with its time of day (FHIR EventTiming
  codes for morning, noon and bedtime; machine codes, the dosage text says "at bedtime"),
  ``boundsPeriod`` (the step's dates), the dose in mg (UCUM), route oral and
  ``maxDosePerPeriod`` the renal band's maximum per day; the taper that applies only
  without clear benefit at the review says so in its ``note`` and dosage text;
- a ``DetectedIssue`` per flag (severity high for a warning, moderate for a caution, low
  for information), with what to do as its mitigation and the requests it concerns;
- a ``Provenance`` naming gabacalc's version and the rule tables' version and sha256.

Identifiers are name-based UUIDs of the plan's content, so the same plan gives the same
Bundle. ``Provenance.recorded`` is the time given, else ``SOURCE_DATE_EPOCH`` when set (as
for reproducible builds), else now.

FHIR R4 (4.0.1) is built here with fhir.resources' R4B models (R4B, 4.3.0, keeps the R4
structure of every resource used here); the tests also check each Bundle against the R4
4.0.1 models of the SMART on FHIR client library.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg
from gabacalc.files.atomic import atomic_write_text
from gabacalc.render.records import step_records

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan
    from gabacalc.core.summary import Flag, Summary

__all__ = ["FHIR_VERSION", "bundle_json", "plan_bundle", "write_fhir"]

#: The FHIR release the Bundle follows.
FHIR_VERSION = "4.0.1"

_UCUM = "http://unitsofmeasure.org"
_NAMESPACE = uuid.UUID("8f0f7c9e-1e7e-5d2f-9a55-67616261636c")  # gabacalc's own namespace
#: FHIR EventTiming codes for gabacalc's times of day.
_WHEN = {"morning": "MORN", "midday": "NOON", "bedtime": "HS"}
_TIME_WORDS = {"morning": "in the morning", "midday": "at midday", "bedtime": "at bedtime"}
#: DetectedIssue.severity for a flag's severity.
_SEVERITY = {"warning": "high", "caution": "moderate", "info": "low"}
_FLAG_SYSTEM = "urn:gabacalc:flag"
_HINT = 'FHIR output needs the fhir extra: pip install "gabacalc[fhir]"'


def _models() -> Any:
    try:
        from fhir.resources.R4B import bundle
    except ImportError:
        from gabacalc.errors import InputError

        raise InputError(_HINT, field="fhir") from None
    return bundle


def _mg(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "mg", "system": _UCUM, "code": "mg"}


def _words(take: str) -> str:
    """What to take, with words rather than symbols ("and", not "+")."""
    return take.replace(" + ", " and ")


def _recorded(when: datetime | None) -> str:
    if when is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat(timespec="seconds")


def _dosages(row: dict[str, Any], summary: Summary, condition: str) -> list[Any]:
    """One Dosage per administration of a step, each with its time, dose and bounds."""
    bounds = {"start": row["start_date"], "end": row["end_date"]}
    per_day = {
        "numerator": _mg(int(summary["max_daily_mg"])),
        "denominator": {"value": 1, "unit": "day", "system": _UCUM, "code": "d"},
    }
    dosages: list[dict[str, Any]] = []
    for time, when in _WHEN.items():
        mg = int(row[f"{time}_mg"])
        if not mg:
            continue
        text = f"{fmt_mg(mg)} {_TIME_WORDS[time]} ({_words(row[f'{time}_take'])})"
        dosages.append(
            {
                "sequence": len(dosages) + 1,
                "text": condition + text,
                "timing": {
                    "repeat": {
                        "boundsPeriod": bounds,
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "when": [when],
                    }
                },
                "route": {"text": "oral"},
                "doseAndRate": [{"doseQuantity": _mg(mg)}],
                "maxDosePerPeriod": per_day,
            }
        )
    if row["post_dialysis_mg"]:
        mg = int(row["post_dialysis_mg"])
        days = list(summary["inputs"]["options"]["dialysis_days"])
        dosages.append(
            {
                "sequence": len(dosages) + 1,
                "text": f"{condition}{fmt_mg(mg)} after each hemodialysis session "
                f"({_words(row['post_dialysis_take'])})",
                "additionalInstruction": [{"text": "after each hemodialysis session"}],
                "timing": {"repeat": {"boundsPeriod": bounds, "dayOfWeek": days}},
                "route": {"text": "oral"},
                "doseAndRate": [{"doseQuantity": _mg(mg)}],
            }
        )
    return dosages


def _products(row: dict[str, Any]) -> str:
    """The products a step uses, e.g. "gabapentin 100 mg capsule and 300 mg capsule"."""
    names: list[str] = []
    for time in (*_WHEN, "post_dialysis"):
        for part in str(row[f"{time}_take"]).split(" + "):
            if " x " in part:
                name = part.split(" x ", 1)[1]
                name = name[:-1] if name.endswith("capsules") or name.endswith("tablets") else name
                if name not in names:
                    names.append(name)
    return "gabapentin " + " and ".join(names) if names else "gabapentin"


def _request(
    row: dict[str, Any],
    rows: list[dict[str, Any]],
    s: Summary,
    patient_url: str,
    stamp: str,
    conditional: bool,
) -> dict[str, Any]:
    """One step's MedicationRequest: a draft proposal with its notes and dosages."""
    taper_if = conditional and row["phase"] == "taper"
    condition = (
        f"Only if there is no clear benefit at the efficacy review on {s['review_date']}: "
        if taper_if
        else ""
    )
    notes = [{"text": stamp}]
    if taper_if:
        notes.append({"text": f"{condition}{s['taper_note']} {s['review_without_benefit']}"})
    if row["phase"] == "maintenance" and s["review_date"]:
        notes.append({"text": f"Efficacy review on {s['review_date']}. {s['review_rule']}"})
    if row["limited_by"]:
        notes.append({"text": f"Dose limited by the {row['limited_by']} ({s['band_words']})."})
    if row is rows[-2] and not rows[-1]["daily_mg"]:
        notes.append({"text": f"No gabapentin from {rows[-1]['start_date']}."})
    request = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "urn:gabacalc:step", "value": str(row["step"])}],
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {"text": _products(row)},
        "subject": {"reference": patient_url},
        "note": notes,
        "dosageInstruction": _dosages(row, s, condition),
    }
    if taper_if:
        request["reasonCode"] = [
            {"text": "taper if there is no clear benefit at the efficacy review"}
        ]
    else:
        request["reasonCode"] = [{"text": f"{row['phase']}: {row['reason']}"}]
    return request


def _issue(flag: Flag, patient_url: str, requests: list[str]) -> dict[str, Any]:
    """One flag's DetectedIssue, naming the requests it concerns."""
    return {
        "resourceType": "DetectedIssue",
        "status": "preliminary",
        "code": {
            "coding": [{"system": _FLAG_SYSTEM, "code": flag["code"]}],
            "text": flag["code"],
        },
        "severity": _SEVERITY[flag["severity"]],
        "patient": {"reference": patient_url},
        "implicated": [{"reference": r} for r in requests],
        "detail": f"{flag['message']} (source: {flag['source_id']} {flag['source_section']})",
        "mitigation": [{"action": {"text": flag["action"]}}],
    }


def plan_record_bundle(plan: Plan, recorded: datetime | None = None) -> dict[str, Any]:
    """The Bundle as plain JSON data, before the models check it (see :func:`plan_bundle`)."""
    s = plan.summary
    seed = json.dumps(
        {"summary": s, "steps": step_records(plan.steps)}, sort_keys=True, default=str
    )

    def urn(kind: str, n: int = 0) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{seed}|{kind}|{n}')}"

    patient_url = urn("patient")
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": {"resourceType": "Patient", "gender": s["inputs"]["patient"]["sex"]},
        }
    ]
    conditional = s["kind"] == "titration"
    provenance = plan.provenance
    stamp = provenance.sentence()
    requests: list[str] = []
    rows = step_records(plan.steps)
    for row in rows:
        if not row["daily_mg"]:
            continue  # the stop day: the last request's period ends the day before
        url = urn("request", row["step"])
        requests.append(url)
        request = _request(row, rows, s, patient_url, stamp, conditional)
        entries.append({"fullUrl": url, "resource": request})
    issues: list[str] = []
    for n, flag in enumerate(s["flags"]):
        url = urn("issue", n)
        issues.append(url)
        entries.append({"fullUrl": url, "resource": _issue(flag, patient_url, requests)})
    entries.append(
        {
            "fullUrl": urn("provenance"),
            "resource": {
                "resourceType": "Provenance",
                "target": [{"reference": r} for r in (*requests, *issues)],
                "recorded": _recorded(recorded),
                "reason": [{"text": VERIFICATION_TEXT}],
                "agent": [
                    {
                        "type": {"text": "software that drafted the plan"},
                        "who": {"display": f"gabacalc {provenance.gabacalc_version}"},
                    }
                ],
                "entity": [
                    {
                        "role": "source",
                        "what": {
                            "identifier": {
                                "system": "urn:gabacalc:rules-sha256",
                                "value": provenance.rules_sha256,
                            },
                            "display": f"gabacalc {provenance.tables_text()}",
                        },
                    }
                ],
            },
        }
    )
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:gabacalc:plan", "value": urn("bundle")},
        "type": "collection",
        "entry": entries,
    }


def plan_bundle(plan: Plan, recorded: datetime | None = None) -> Any:
    """The plan as a FHIR R4 Bundle of draft medication proposals (a validated model).

    Parameters
    ----------
    plan : Plan
        A plan from :func:`gabacalc.build_plan` or :func:`gabacalc.build_taper`.
    recorded : datetime, optional
        When the Provenance says the plan was drafted (default ``SOURCE_DATE_EPOCH`` when
        set, else now; a naive time is taken as UTC).

    Returns
    -------
    fhir.resources.R4B.bundle.Bundle
        ``.model_dump()`` gives plain data; :func:`bundle_json` the JSON text.

    Raises
    ------
    InputError
        fhir.resources is not installed (with the install hint).

    References
    ----------
    HL7 FHIR R4 (4.0.1): MedicationRequest, Dosage, Timing, DetectedIssue, Provenance.

    Examples
    --------
    >>> from datetime import date, datetime
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> bundle = plan_bundle(plan, recorded=datetime(2026, 1, 5, 9, 0))
    >>> first = bundle.entry[1].resource
    >>> first.status, first.intent, first.dosageInstruction[0].text
    ('draft', 'proposal', '300 mg at bedtime (1 x 300 mg capsule)')
    """
    data = plan_record_bundle(plan, recorded)
    return _models().Bundle.model_validate(data)


def bundle_json(plan: Plan, recorded: datetime | None = None) -> str:
    """The Bundle as indented JSON text ending in a newline (the same plan and time give
    the same bytes)."""
    bundle = plan_bundle(plan, recorded)
    data = json.loads(bundle.model_dump_json(exclude_none=True))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_fhir(plan: Plan, path: str | Path, recorded: datetime | None = None) -> Path:
    """Write the Bundle as JSON to ``path``, whole or not at all."""
    return atomic_write_text(path, bundle_json(plan, recorded))
