"""The layers (STYLE.md) as pyproject.toml's import-linter contracts declare them.

``lint-imports`` (run by .ci/run) checks the arrows; these tests check that the contracts
cover the package: every module is in the core or an edge, so a new module cannot sit
outside the rule unseen.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}


def _modules() -> set[str]:
    package = ROOT / "gabacalc"
    names = set()
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names - {"gabacalc"}


def test_every_module_is_in_the_core_or_an_edge() -> None:
    core = set(CONTRACTS["core-below-edges"]["source_modules"])
    edges = set(CONTRACTS["core-below-edges"]["forbidden_modules"])
    assert not core & edges
    unplaced = sorted(_modules() - core - edges)
    assert unplaced == [], (
        f"{', '.join(unplaced)}: add each to the core (source_modules) or the edges "
        "(forbidden_modules) of the core-below-edges contract in pyproject.toml"
    )


def test_every_edge_but_the_cli_may_not_import_the_cli() -> None:
    edges = set(CONTRACTS["core-below-edges"]["forbidden_modules"])
    top = {"gabacalc.cli", "gabacalc.__main__"}
    assert set(CONTRACTS["cli-on-top"]["forbidden_modules"]) == top
    assert set(CONTRACTS["cli-on-top"]["source_modules"]) == edges - top


def test_the_declared_exceptions_are_the_plan_and_estimate_convenience_methods_only() -> None:
    assert CONTRACTS["core-below-edges"]["ignore_imports"] == [
        "gabacalc.plan -> gabacalc.chart",  # Plan.plot, Plan.to_png
        "gabacalc.plan -> gabacalc.display",  # Plan._repr_html_
        "gabacalc.plan -> gabacalc.export",  # Plan.to_dict, Plan.to_json
        "gabacalc.plan -> gabacalc.pdf",  # Plan.to_pdf
        "gabacalc.renal -> gabacalc.display",  # RenalEstimate._repr_html_
    ]


def test_the_declared_exceptions_are_imported_inside_functions_only() -> None:
    """A module-level import of an edge would load it with the core: only methods may."""
    import ast

    for path, edge in (
        ("plan.py", "chart"),
        ("plan.py", "display"),
        ("plan.py", "export"),
        ("plan.py", "pdf"),
        ("renal.py", "display"),
    ):
        tree = ast.parse((ROOT / "gabacalc" / path).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
        assert f"gabacalc.{edge}" not in {n.module for n in top}, (path, edge)
        inner = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == f"gabacalc.{edge}"
        ]
        assert inner, f"{path} no longer imports {edge}: drop the exception from pyproject.toml"
