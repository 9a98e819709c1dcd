"""The provenance stamp: one object per rule tables, every wording of it pinned here."""

from __future__ import annotations

from datetime import date

import gabacalc
from gabacalc.rules import PROVENANCE_COLUMNS, VERIFICATION_TEXT, Provenance, default_rules

STAMP = Provenance("0.1.0", "2026.11.1", "0123456789abcdef" * 4)


def test_every_wording_carries_the_label_or_sits_beside_it() -> None:
    sha = STAMP.rules_sha256
    assert STAMP.verification == VERIFICATION_TEXT
    assert STAMP.tables_text() == f"rule tables 2026.11.1 (sha256 {sha})"
    assert STAMP.lines() == [
        VERIFICATION_TEXT,
        f"gabacalc 0.1.0 | rule tables 2026.11.1 (sha256 {sha})",
    ]
    assert STAMP.sentence() == (
        f"{VERIFICATION_TEXT}. gabacalc 0.1.0; rule tables 2026.11.1 (sha256 {sha})."
    )
    assert STAMP.record_line() == f"gabacalc 0.1.0; rule tables 2026.11.1; rules sha256 {sha}"
    assert STAMP.footer_text() == f"gabacalc 0.1.0; rule tables 2026.11.1, sha256 {sha}"
    assert (
        STAMP.one_line() == f"{VERIFICATION_TEXT} | gabacalc 0.1.0 | rules 2026.11.1 (sha256 {sha})"
    )
    assert STAMP.one_line(sha_chars=12).endswith("(sha256 0123456789ab)")
    assert STAMP.page_line() == (
        f"{VERIFICATION_TEXT} | gabacalc 0.1.0 | rules 2026.11.1 sha256 0123456789abcdef"
    )


def test_the_columns_are_the_stamp_columns_in_order() -> None:
    columns = STAMP.columns()
    assert tuple(columns) == PROVENANCE_COLUMNS
    assert columns["verification"] == VERIFICATION_TEXT
    assert Provenance.from_record(columns) == STAMP


def test_a_record_cannot_replace_the_label() -> None:
    record = {**STAMP.columns(), "verification": "Approved for use"}
    assert Provenance.from_record(record).verification == VERIFICATION_TEXT
    assert Provenance.from_record({}) == Provenance("", "", "")


def test_the_rules_build_their_stamp_once_and_a_plan_uses_its_rules_stamp() -> None:
    rules = default_rules()
    assert rules.provenance is rules.provenance
    assert rules.provenance == Provenance(
        gabacalc.__version__, rules.rules_version, rules.rules_sha256
    )
    patient = gabacalc.Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5))
    assert plan.provenance is rules.provenance
    assert {k: plan.summary[k] for k in PROVENANCE_COLUMNS} == rules.provenance.columns()
    assert plan.schedule.attrs == rules.provenance.columns()
