"""The layers (STYLE.md) as pyproject.toml's import-linter contract declares them.

``lint-imports`` (run by .ci/run) checks the arrows; these tests check that the contract
covers the package: every module sits in exactly one layer, so a new module cannot sit
outside the rule unseen, and the only upward imports are the declared convenience methods.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
LAYERS = [[name.strip() for name in line.split("|")] for line in CONTRACTS["layers"]["layers"]]


def _modules() -> set[str]:
    names = set()
    for path in (ROOT / "gabacalc").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names - {"gabacalc"}


def _layer_of(module: str) -> list[int]:
    return [
        i
        for i, line in enumerate(LAYERS)
        for top in line
        if module == top or module.startswith(top + ".")
    ]


def test_the_layers_are_front_ends_files_renderers_core_rules_errors() -> None:
    assert LAYERS == [
        ["gabacalc.__main__", "gabacalc.jupyter"],
        ["gabacalc.cli", "gabacalc.explorer"],
        ["gabacalc.files"],
        ["gabacalc.render"],
        ["gabacalc.core"],
        ["gabacalc.rules"],
        ["gabacalc.errors", "gabacalc._version"],
    ]


def test_every_module_is_in_exactly_one_layer() -> None:
    placed = {module: _layer_of(module) for module in _modules()}
    unplaced = sorted(module for module, layers in placed.items() if len(layers) != 1)
    assert unplaced == [], (
        f"{', '.join(unplaced)}: put each in one sub-package (rules, core, render, files) "
        "or name it in one line of the layers contract in pyproject.toml"
    )


def test_the_declared_exceptions_are_the_plan_and_estimate_convenience_methods_only() -> None:
    assert CONTRACTS["layers"]["ignore_imports"] == [
        "gabacalc.core.plan -> gabacalc.render.chart",  # Plan.plot
        "gabacalc.core.plan -> gabacalc.render.display",  # Plan._repr_html_
        "gabacalc.core.plan -> gabacalc.render.records",  # Plan.to_dict, Plan.to_json
        "gabacalc.core.plan -> gabacalc.files.plan_files",  # Plan.to_pdf, Plan.to_png
        "gabacalc.core.renal -> gabacalc.render.display",  # RenalEstimate._repr_html_
    ]


def test_the_declared_exceptions_are_imported_inside_functions_only() -> None:
    """A module-level import of an upper layer would load it with the core: only methods may."""
    for exception in CONTRACTS["layers"]["ignore_imports"]:
        importer, imported = (part.strip() for part in exception.split("->"))
        path = ROOT / (importer.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
        assert imported not in top, exception
        inner = [
            n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == imported
        ]
        assert inner, f"{importer} no longer imports {imported}: drop the exception"
