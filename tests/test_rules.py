"""Rule tables: sources on every row, checksums, and validation that reports every problem."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from gabacalc.errors import RuleTableError
from gabacalc.rules import (
    TABLE_FILES,
    default_rules,
    default_tables_dir,
    load_rules,
    table_sha256,
    write_manifest,
)


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """A private copy of the shipped tables, for tampering."""
    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    return folder


def _edit(folder: Path, name: str, old: str, new: str, *, rehash: bool = True) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if rehash:
        write_manifest(folder, "test")


def test_every_row_of_every_table_cites_a_known_source() -> None:
    rules = default_rules()
    for name in TABLE_FILES:
        if name == "sources.csv":
            continue
        for row in rules.rows[name]:
            assert row["source_id"] in rules.sources, (name, row)
            assert row["source_section"], (name, row)


def test_rules_carry_a_version_and_a_checksum_over_every_table() -> None:
    rules = default_rules()
    assert rules.rules_version
    assert len(rules.rules_sha256) == 64
    assert set(rules.table_sha256) == set(TABLE_FILES)


def test_bands_are_the_labels_table_with_the_edge_convention() -> None:
    rules = default_rules()
    assert [(b.min_daily_mg, b.max_daily_mg, b.doses_per_day) for b in rules.bands] == [
        (900, 3600, 3),
        (400, 1400, 2),
        (200, 700, 1),
        (100, 300, 1),
    ]
    assert rules.band_for(60).band_id == "crcl-60-plus"
    assert rules.band_for(59.999).band_id == "crcl-30-60"
    assert rules.band_for(30).band_id == "crcl-15-30"
    assert rules.band_for(30.0001).band_id == "crcl-30-60"
    assert rules.band_for(15).band_id == "crcl-15-or-less"
    assert rules.band_for(15.0001).band_id == "crcl-15-30"


def test_a_changed_table_is_refused_naming_the_file_and_the_fix(tables: Path) -> None:
    _edit(tables, "renal_bands.csv", "900,3600,3", "900,4800,3", rehash=False)
    with pytest.raises(RuleTableError) as info:
        load_rules(tables)
    message = str(info.value)
    assert "renal_bands.csv" in message
    assert "does not match the manifest" in message
    assert "update_manifest.py" in message


def test_line_endings_do_not_change_the_checksum(tables: Path) -> None:
    path = tables / "sources.csv"
    before = table_sha256(path.read_bytes())
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert table_sha256(path.read_bytes()) == before
    load_rules(tables)  # still matches the manifest


def test_a_gap_between_bands_is_reported(tables: Path) -> None:
    _edit(
        tables,
        "renal_bands.csv",
        "crcl-30-60,CrCl > 30 to < 60 mL/min,CrCl above 30 and below 60 mL/min,>30-59,30,false,60",
        "crcl-30-60,CrCl > 30 to < 60 mL/min,CrCl above 30 and below 60 mL/min,>30-59,30,false,59",
    )
    with pytest.raises(RuleTableError, match="gap between crcl-30-60"):
        load_rules(tables)


def test_an_edge_in_both_bands_is_an_overlap(tables: Path) -> None:
    _edit(tables, "renal_bands.csv", "60,true,inf", "60,false,inf")
    with pytest.raises(RuleTableError, match="gap at CrCl 60"):
        load_rules(tables)
    _edit(tables, "renal_bands.csv", "60,false,inf", "60,true,inf")
    _edit(tables, "renal_bands.csv", "30,false,60,false", "30,false,60,true")
    with pytest.raises(RuleTableError, match="overlap at CrCl 60"):
        load_rules(tables)


def test_every_problem_is_reported_at_once(tables: Path) -> None:
    _edit(tables, "renal_bands.csv", "400,1400,2", "400,4000,2")  # max rises as CrCl falls
    _edit(tables, "strengths.csv", '100 mg",mg', '100 mg",g')
    _edit(tables, "flags.csv", "NO_HEIGHT,caution", "NO_HEIGHT,urgent")
    _edit(tables, "taper_presets.csv", ",nhs-fife-2025,", ",nowhere-2030,")
    with pytest.raises(RuleTableError) as info:
        load_rules(tables)
    problems = info.value.problems
    assert any("rises as CrCl falls" in p for p in problems)
    assert any("unit 'g' is not mg" in p for p in problems)
    assert any("severity 'urgent'" in p for p in problems)
    assert any("'nowhere-2030' is not in sources.csv" in p for p in problems)
    assert len(problems) >= 4


def test_a_missing_table_is_reported(tables: Path) -> None:
    (tables / "texts.csv").unlink()
    with pytest.raises(RuleTableError, match=r"texts\.csv: missing"):
        load_rules(tables)


def test_a_malformed_number_is_reported(tables: Path) -> None:
    _edit(
        tables,
        "titration_presets.csv",
        "weekly,Up by 300 mg/day once a week,300",
        "weekly,Up by 300 mg/day once a week,three hundred",
    )
    with pytest.raises(RuleTableError, match="step_mg 'three hundred' is not a number"):
        load_rules(tables)


def test_hemodialysis_supplement_columns_must_line_up(tables: Path) -> None:
    _edit(tables, "hemodialysis_supplements.csv", "crcl-30-60,2,600,150", "crcl-30-60,2,600,175")
    with pytest.raises(RuleTableError, match="column 2 has different supplements"):
        load_rules(tables)


def test_a_taper_step_shorter_than_a_week_is_refused(tables: Path) -> None:
    with (tables / "taper_presets.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][-3] == "7"
    _edit(
        tables, "taper_presets.csv", ",fixed,300,300,100,,,,100,7,", ",fixed,300,300,100,,,,100,3,"
    )
    with pytest.raises(RuleTableError, match="shorter than 7 days"):
        load_rules(tables)


def test_a_flag_row_that_no_rule_raises_is_refused_naming_it(tables: Path) -> None:
    path = tables / "flags.csv"
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(
            ["NEW_RULE", "info", "A rule nobody wrote.", "None.", "gabacalc-conventions", "x"]
        )
    write_manifest(tables, "test")
    with pytest.raises(RuleTableError) as info:
        load_rules(tables)
    assert info.value.problems == [
        "flags.csv: code NEW_RULE is raised by no rule of gabacalc (the flag registry, "
        "gabacalc/rules/flags.py, has no such code); remove the row or add the rule"
    ]


def test_a_flag_that_a_rule_raises_but_the_table_lacks_is_refused_naming_it(
    tables: Path,
) -> None:
    path = tables / "flags.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith("EPILEPSY,")), "utf-8")
    write_manifest(tables, "test")
    with pytest.raises(RuleTableError) as info:
        load_rules(tables)
    assert info.value.problems == [
        "flags.csv: no row for code EPILEPSY, which gabacalc raises (group context); add "
        "its row with severity, message, action and source"
    ]


def test_every_code_the_core_raises_is_registered_in_its_group() -> None:
    """The registry's groups are where the core raises each code (read from the source)."""
    import importlib
    import re

    from gabacalc.rules.flags import FLAG_GROUPS, codes_in

    def raised(*modules: object) -> set[str]:
        codes: set[str] = set()
        for module in modules:
            text = Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8")
            codes |= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', text)) & set(FLAG_GROUPS)
        return codes

    # The estimate's modules (gabacalc/core/renal.py and the weights and bands it builds on)
    # raise the estimate and band codes between them.
    renal = ("renal", "weights", "bands", "arrays")
    renal_codes = raised(*(importlib.import_module(f"gabacalc.core.{name}") for name in renal))
    assert renal_codes == codes_in("estimate", "band")
    # The plan's layers (gabacalc/core/plan.py names them) raise the dose, context and
    # dialysis codes between them.
    layers = ("plan", "course", "schedule", "steps", "engine", "supplement", "summary", "assemble")
    plan_codes = raised(*(importlib.import_module(f"gabacalc.core.{name}") for name in layers))
    assert codes_in("dose", "context", "dialysis") <= plan_codes
    assert plan_codes - codes_in("dose", "context", "dialysis") == set()


def test_the_codes_a_document_prints_beside_the_target_are_registered_dose_codes() -> None:
    """The flags that say why a target is not the one asked for (printed beside it in the
    PDF) are named once, in the registry, among the plan engine's codes."""
    from gabacalc.rules.flags import TARGET_REASON_CODES, codes_in

    assert TARGET_REASON_CODES
    assert TARGET_REASON_CODES.issubset(codes_in("dose"))
