"""Packaging: the installed wheel carries the rule tables; the import stays light."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import gabacalc
from gabacalc.rules import TABLE_FILES

REPO = Path(__file__).resolve().parent.parent


def _installed_files() -> list[str]:
    try:
        files = importlib.metadata.files("gabacalc")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("gabacalc is not installed (run the README's test command)")
    return [str(f) for f in files or []]


def test_the_installed_wheel_carries_every_table_and_the_manifest() -> None:
    files = _installed_files()
    for name in (*TABLE_FILES, "manifest.json"):
        assert f"gabacalc/tables/{name}" in files, name
    assert "gabacalc/py.typed" in files
    assert "gabacalc/schemas/plan-record.schema.json" in files  # the JSON record's schema
    assert "gabacalc/docs/clinical-basis.md" in files  # what the tables cite by section


def test_the_installed_package_plans_from_another_directory(tmp_path: Path) -> None:
    _installed_files()
    code = (
        "import gabacalc, gabacalc.rules as r; from datetime import date;"
        "p = gabacalc.Patient(age_years=72, sex='female', weight_kg=60, height_cm=160, scr=1.3);"
        "plan = gabacalc.build_plan(p, start_date=date(2026, 1, 5));"
        "print(r.default_tables_dir()); print(plan.summary['rules_sha256'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    tables_dir, sha = Path(out[0]), out[1]
    installed = Path(str(importlib.metadata.distribution("gabacalc").locate_file("gabacalc")))
    assert tables_dir == installed / "tables", "the installed copy must use its own tables"
    assert tables_dir != REPO / "tables"
    assert sha == gabacalc.default_rules().rules_sha256


def test_import_gabacalc_does_not_import_matplotlib_or_click() -> None:
    heavy = ("matplotlib", "click", "reportlab", "ipywidgets", "traitlets")
    code = f"import sys, gabacalc; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_versions_agree() -> None:
    text = (REPO / "gabacalc" / "_version.py").read_text()
    assert f'"{gabacalc.__version__}"' in text


def test_the_installed_console_script_runs_the_main_job(tmp_path: Path) -> None:
    _installed_files()
    script = Path(sys.executable).parent / "gabacalc"
    assert script.exists(), "pip install must create the gabacalc command"
    result = subprocess.run(
        [str(script), "demo"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "gabacalc-demo").iterdir())
    assert written == ["handout.pdf", "plan.csv", "plan.json", "plan.pdf", "plan.png"]
    assert "requires physician verification" in result.stdout
