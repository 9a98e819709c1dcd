"""Each module and function has one job: no module over 600 lines, no function over 80.

Issue 12 point 4. A function's length is its code: its numpydoc docstring (parameters and a
running example, as STYLE.md asks) is not counted, so documenting a function well never
pushes it over. A long module or function is split by job, not by line count: when this
test fails, find the second job in the named place and give it its own module or function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gabacalc"
MODULE_MAX_LINES = 600
FUNCTION_MAX_LINES = 80
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The function's lines from ``def`` to its last line, less its docstring's lines."""
    assert node.end_lineno is not None
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and first.end_lineno is not None
    ):
        lines -= first.end_lineno - first.lineno + 1
    return lines


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_is_at_most_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MODULE_MAX_LINES, f"{_name(path)} has {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_function_is_at_most_80_lines_of_code(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} (line {node.lineno}, {code_lines(node)} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and code_lines(node) > FUNCTION_MAX_LINES
    ]
    assert long == [], f"{_name(path)}: {', '.join(long)}"


def test_a_docstring_is_not_counted_but_code_is() -> None:
    tree = ast.parse('def f(x):\n    """Twice x.\n\n    More.\n    """\n    return 2 * x\n')
    assert code_lines(tree.body[0]) == 2


def test_a_long_function_is_caught() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_MAX_LINES))
    tree = ast.parse(f'def long():\n    """Doc."""\n{body}')
    assert code_lines(tree.body[0]) == FUNCTION_MAX_LINES + 1
