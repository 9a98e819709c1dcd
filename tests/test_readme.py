"""The README's commands are the contract: every ``gabacalc`` line in it runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from gabacalc import VERIFICATION_TEXT
from gabacalc.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[str]:
    """Each ``gabacalc ...`` line of the README's bash blocks (the two setup commands too)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_gives_the_two_contract_commands() -> None:
    commands = readme_commands()
    assert commands[0] == (
        "python3.11 -m venv .venv && .venv/bin/pip install . && .venv/bin/gabacalc demo"
    )
    assert commands[1] == (
        'python3.11 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/python -m pytest'
    )


@pytest.mark.parametrize(
    "command", [c for c in readme_commands() if c.startswith("gabacalc ")], ids=lambda c: c[:50]
)
def test_every_readme_command_runs(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output + result.stderr
    assert VERIFICATION_TEXT in result.output + result.stderr


def test_the_readme_error_example_is_what_the_command_prints() -> None:
    text = README.read_text()
    shown = re.search(r"```text\n\$ (gabacalc .*)\n(Error: .*)\n```", text)
    assert shown is not None
    result = CliRunner().invoke(main, shlex.split(shown.group(1))[1:])
    assert result.exit_code == 2
    assert result.stderr.strip() == shown.group(2)


def test_the_main_job_runs_as_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0
    folder = tmp_path / "gabacalc-demo"
    assert sorted(p.name for p in folder.iterdir()) == [
        "handout.pdf",
        "plan.csv",
        "plan.json",
        "plan.pdf",
        "plan.png",
    ]


def test_the_readme_python_example_runs_and_shows_what_it_says() -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    plan = namespace["plan"]
    summary = plan.summary  # type: ignore[attr-defined]
    shown = re.search(r"# '(Cockcroft-Gault: .*)'", block.group(1))
    assert shown is not None and summary["crcl_method"] == shown.group(1)
    assert (summary["band"], summary["max_daily_mg"]) == ("CrCl above 30 and below 60 mL/min", 1400)
    assert namespace["replan"].summary["max_daily_mg"] == 700  # type: ignore[attr-defined]
    assert namespace["same"].schedule.equals(plan.schedule)  # type: ignore[attr-defined]


def test_the_readme_explorer_example_runs_and_shows_what_it_says() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "gabacalc.explore(" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    explorer = namespace["explorer"]
    assert "# 700" in block
    assert explorer.baseline.summary["max_daily_mg"] == 700  # type: ignore[attr-defined]
