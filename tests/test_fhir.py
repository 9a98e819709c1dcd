"""The FHIR R4 Bundle an EHR receives: draft proposals, each checked against the models."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import fhirclient.models.bundle as r4_bundle
import pytest

import gabacalc
from gabacalc import VERIFICATION_TEXT
from gabacalc.files.fhir import bundle_json, plan_bundle
from tests.conftest import assert_safe_dose_text

WHEN = datetime(2026, 1, 5, 9, 0)
#: FHIR R4 EventTiming, the codes gabacalc may use for a time of day.
EVENT_TIMING = {"MORN", "NOON", "HS"}


def resources(plan: gabacalc.Plan, kind: str) -> list[dict[str, Any]]:
    data = json.loads(bundle_json(plan, WHEN))
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def readable_texts(node: Any) -> list[str]:
    """Every text a person reads in a resource (not the codes)."""
    if isinstance(node, dict):
        found = [
            v for k, v in node.items() if k in ("text", "detail", "display") and isinstance(v, str)
        ]
        for value in node.values():
            found += readable_texts(value)
        return found
    if isinstance(node, list):
        return [t for item in node for t in readable_texts(item)]
    return []


def test_every_bundle_passes_the_r4_models(
    example_plan: gabacalc.Plan, hemodialysis_plan: gabacalc.Plan, many_flags_plan: gabacalc.Plan
) -> None:
    taper = gabacalc.build_taper(
        gabacalc.Patient(age_years=60, sex="male", weight_kg=70, crcl_ml_min=40),
        1800,
        current_doses_per_day=3,
        start_date=date(2026, 1, 5),
    )
    for plan in (example_plan, hemodialysis_plan, many_flags_plan, taper):
        data = json.loads(bundle_json(plan, WHEN))
        # fhir.resources built it; the SMART client's R4 (4.0.1) models check it again,
        # refusing an unknown element, a wrong type or a missing required element.
        r4_bundle.Bundle(data, strict=True)
        assert data["resourceType"] == "Bundle" and data["type"] == "collection"


def test_a_request_per_step_as_a_draft_proposal_within_the_band(
    example_plan: gabacalc.Plan,
) -> None:
    requests = resources(example_plan, "MedicationRequest")
    steps = example_plan.steps[example_plan.steps["daily_mg"] > 0]
    assert len(requests) == len(steps)
    s = example_plan.summary
    for request, (_, step) in zip(requests, steps.iterrows(), strict=True):
        assert request["status"] == "draft" and request["intent"] == "proposal"
        assert request["medicationCodeableConcept"]["text"].startswith("gabapentin ")
        assert "coding" not in request["medicationCodeableConcept"]  # no code without a source
        assert request["note"][0]["text"].startswith(VERIFICATION_TEXT)
        assert s["rules_sha256"] in request["note"][0]["text"]
        total = 0
        for dosage in request["dosageInstruction"]:
            repeat = dosage["timing"]["repeat"]
            assert repeat["boundsPeriod"] == {
                "start": step["start_date"].strftime("%Y-%m-%d"),
                "end": step["end_date"].strftime("%Y-%m-%d"),
            }
            assert set(repeat["when"]) <= EVENT_TIMING
            assert dosage["route"]["text"] == "oral"
            dose = dosage["doseAndRate"][0]["doseQuantity"]
            assert dose["unit"] == "mg" and dose["system"] == "http://unitsofmeasure.org"
            maximum = dosage["maxDosePerPeriod"]
            assert maximum["numerator"]["value"] == s["max_daily_mg"] == 1400
            assert maximum["denominator"]["code"] == "d"
            total += dose["value"]
        assert total == step["daily_mg"] <= s["max_daily_mg"]
    # The first step of the example: 100 mg at bedtime.
    first = requests[0]["dosageInstruction"]
    assert [(d["timing"]["repeat"]["when"], d["doseAndRate"][0]["doseQuantity"]["value"])
            for d in first] == [(["HS"], 100)]  # fmt: skip


def test_the_conditional_taper_says_its_condition(example_plan: gabacalc.Plan) -> None:
    s = example_plan.summary
    requests = resources(example_plan, "MedicationRequest")
    phases = example_plan.steps.loc[example_plan.steps["daily_mg"] > 0, "phase"].tolist()
    for request, phase in zip(requests, phases, strict=True):
        condition = f"no clear benefit at the efficacy review on {s['review_date']}"
        texts = [d["text"] for d in request["dosageInstruction"]]
        if phase == "taper":
            assert all(condition in text for text in texts)
            assert any(condition in note["text"] for note in request["note"])
        else:
            assert not any(condition in text for text in texts)
    maintenance = requests[phases.index("maintenance")]
    assert any(f"Efficacy review on {s['review_date']}" in n["text"] for n in maintenance["note"])


def test_each_flag_is_a_detected_issue(many_flags_plan: gabacalc.Plan) -> None:
    issues = resources(many_flags_plan, "DetectedIssue")
    flags = many_flags_plan.summary["flags"]
    assert len(issues) == len(flags) >= 8
    severity = {"warning": "high", "caution": "moderate", "info": "low"}
    for issue, flag in zip(issues, flags, strict=True):
        assert issue["code"]["coding"][0]["code"] == flag["code"]
        assert issue["severity"] == severity[flag["severity"]]
        assert issue["detail"].startswith(flag["message"])
        assert flag["source_id"] in issue["detail"]
        assert issue["mitigation"][0]["action"]["text"] == flag["action"]
        assert len(issue["implicated"]) == len(resources(many_flags_plan, "MedicationRequest"))


def test_provenance_carries_the_version_and_checksum(example_plan: gabacalc.Plan) -> None:
    (provenance,) = resources(example_plan, "Provenance")
    s = example_plan.summary
    assert provenance["recorded"] == "2026-01-05T09:00:00Z"
    assert provenance["agent"][0]["who"]["display"] == f"gabacalc {gabacalc.__version__}"
    what = provenance["entity"][0]["what"]
    assert what["identifier"]["value"] == s["rules_sha256"]
    assert s["rules_version"] in what["display"]
    assert provenance["reason"][0]["text"] == VERIFICATION_TEXT
    targets = {t["reference"] for t in provenance["target"]}
    assert len(targets) == len(resources(example_plan, "MedicationRequest")) + len(s["flags"])


def test_hemodialysis_supplement_is_its_own_dosage(hemodialysis_plan: gabacalc.Plan) -> None:
    request = resources(hemodialysis_plan, "MedicationRequest")[0]
    after = [d for d in request["dosageInstruction"] if "additionalInstruction" in d]
    assert len(after) == 1
    assert after[0]["timing"]["repeat"]["dayOfWeek"] == ["mon", "wed", "fri"]
    assert "after each hemodialysis session" in after[0]["text"]


def test_the_words_are_safe_and_the_bytes_the_same(
    many_flags_plan: gabacalc.Plan, hemodialysis_plan: gabacalc.Plan
) -> None:
    for plan in (many_flags_plan, hemodialysis_plan):
        text = bundle_json(plan, WHEN)
        for words in readable_texts(json.loads(text)):
            assert_safe_dose_text(words)
            assert " + " not in words
        again = gabacalc.rebuild_plan(plan.summary)
        assert bundle_json(again, WHEN) == text


def test_source_date_epoch_fixes_the_recorded_time(
    example_plan: gabacalc.Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767603600")  # 2026-01-05 09:00 UTC
    assert bundle_json(example_plan) == bundle_json(example_plan, WHEN)
    bundle = plan_bundle(example_plan)
    assert bundle.entry[1].resource.status == "draft"
