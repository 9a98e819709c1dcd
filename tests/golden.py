"""Golden outputs: every output gabacalc makes, for the scenario table and a few more cases.

A move or a split of the code must change no byte a user sees. ``outputs()`` runs the
command line (the surface users have) and the notebook display for each case and returns
``{name: bytes}``. Text outputs are kept whole under tests/golden/ so a difference reads as a
diff; the binary ones (PDF, PNG, workbook) are kept as SHA-256 digests in
tests/golden/SHA256SUMS, with the versions of the libraries that drew them.

Regenerate after a change that is meant to change an output, and say why in the commit:
``python scripts/update_goldens.py``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

GOLDEN = Path(__file__).parent / "golden"
SUMS = GOLDEN / "SHA256SUMS"
BINARY = (".pdf", ".png", ".xlsx")
#: The libraries whose own bytes are inside the binary outputs.
DRAWN_BY = ("reportlab", "matplotlib", "xlsxwriter")
EPOCH = "1767225600"  # 2026-01-01 00:00 UTC: the documents' prepared time
START = "2026-01-05"

_HERE = Path(__file__).parent
_FILES = {
    "csv": "--csv",
    "json": "--json",
    "fhir.json": "--fhir",
    "ics": "--ics",
    "xlsx": "--xlsx",
    "png": "--png",
    "pdf": "--pdf",
    "handout.pdf": "--handout",
}


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in keep.split("-") if part)[:60]


def _scenario_args(row: dict[str, str]) -> list[str]:
    args = ["--age", row["age_years"], "--sex", row["sex"], "--weight-kg", row["weight_kg"]]
    given = (("height_cm", "--height-cm"), ("scr", "--scr"), ("crcl_ml_min", "--crcl"))
    for column, option in given:
        if row[column]:
            args += [option, row[column]]
    if row["scr_unit"]:
        args += ["--scr-unit", row["scr_unit"]]
    args += ["--dialysis", row["dialysis"], "--target-mg", row["target_daily_mg"]]
    if row["oral_solution"] == "true":
        args.append("--oral-solution")
    return args


def cases() -> dict[str, list[str]]:
    """Every case: a name and the command-line words that make it."""
    with (_HERE / "scenarios.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = {
        f"scenario-{_slug(row['scenario'])}": ["plan", *_scenario_args(row), "--start-date", START]
        for row in rows
    }
    older = ["--age", "72", "--sex", "female", "--weight-kg", "60", "--height-cm", "160"]
    found.update(
        {
            "replan-above-target": [
                "plan", "--age", "50", "--sex", "male", "--weight-kg", "80", "--crcl", "90",
                "--current-mg", "3600", "--current-doses", "3", "--target-mg", "900",
                "--start-date", START,
            ],
            "replan-above-band": [
                "plan", *older, "--scr", "1.3", "--current-mg", "2400", "--current-doses", "3",
                "--start-date", START,
            ],
            "taper-weekly": [
                "taper", "--age", "50", "--sex", "male", "--weight-kg", "80", "--crcl", "90",
                "--current-mg", "1800", "--current-doses", "3", "--taper", "weekly",
                "--start-date", START,
            ],
            "taper-gradual-solution": [
                "taper", *older, "--scr", "1.3", "--current-mg", "900", "--current-doses", "3",
                "--taper", "gradual", "--oral-solution", "--start-date", START,
            ],
            "identified-a4-risks": [
                "plan", *older, "--scr", "1.3", "--risk", "opioids", "--risk", "falls",
                "--pain-type", "non-radicular", "--strengths", "100,300,600",
                "--patient-name", "Ann Example", "--patient-dob", "1954-03-02",
                "--patient-id", "00123", "--scr-date", "2025-12-20", "--weight-date",
                "2025-12-21", "--pagesize", "a4", "--start-date", START,
            ],
            "hemodialysis-days": [
                "plan", "--age", "66", "--sex", "male", "--weight-kg", "80",
                "--dialysis", "hemodialysis", "--dialysis-days", "tue,thu,sat",
                "--start-date", START,
            ],
            "slow-lower-target": [
                "plan", *older, "--scr", "0.9", "--titration", "gentle", "--target-mg", "1200",
                "--review-weeks", "4", "--start-date", START,
            ],
        }
    )  # fmt: skip
    return found


@contextmanager
def _environment() -> Iterator[None]:
    before = {key: os.environ.get(key) for key in ("SOURCE_DATE_EPOCH", "TZ", "COLUMNS")}
    os.environ.update({"SOURCE_DATE_EPOCH": EPOCH, "TZ": "UTC", "COLUMNS": "100"})
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(runner: CliRunner, args: list[str]) -> bytes:
    from gabacalc.cli import main

    result = runner.invoke(main, args, catch_exceptions=False)
    return (
        f"exit {result.exit_code}\n".encode()
        + result.stdout_bytes
        + b"\n--- stderr\n"
        + (result.stderr_bytes or b"")
    )


def _cohort_input(folder: Path) -> Path:
    path = folder / "cohort.csv"
    path.write_text(
        "id,age_years,sex,weight_kg,height_cm,scr,scr_unit,crcl_ml_min,dialysis,start_date\n"
        "00123,72,female,60,160,1.3,mg/dL,,none,2026-01-05\n"
        "b,50,male,80,,,,90,none,2026-01-05\n"
        "c,66,male,80,,,,,hemodialysis,2026-01-05\n"
        "d,45,female,70,165,88,umol/L,,none,2026-01-05\n"
        "e,130,male,80,,,,90,none,2026-01-05\n"
        "f,80,female,45,150,0.5,mg/dL,,none,2026-01-05\n"
        "g,40,male,,180,1.0,mg/dL,,none,2026-01-05\n",
        encoding="utf-8",
    )
    return path


@functools.cache
def outputs() -> dict[str, bytes]:
    """Every golden output, by file name, made afresh."""
    import gabacalc

    found: dict[str, bytes] = {}
    runner = CliRunner()
    with _environment(), tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        here = Path.cwd()
        for name, args in cases().items():
            found[f"{name}.terminal.txt"] = _run(runner, args)
            words = list(args)
            for suffix, option in _FILES.items():
                words += [option, f"{name}.{suffix}"]
            written = found[f"{name}.written.txt"] = _run(runner, words)
            if not written.startswith(b"exit 0"):
                raise AssertionError(f"golden case {name} was refused: {written!r}")
            for suffix in _FILES:
                found[f"{name}.{suffix}"] = (here / f"{name}.{suffix}").read_bytes()
        source = _cohort_input(here)
        found["cohort.written.txt"] = _run(
            runner,
            ["cohort", source.name, "--out", "out.csv", "--xlsx",
             "out.xlsx", "--no-progress"],
        )  # fmt: skip
        if not found["cohort.written.txt"].startswith(b"exit 0"):
            raise AssertionError(f"golden cohort was refused: {found['cohort.written.txt']!r}")
        found["cohort.csv"] = (here / "out.csv").read_bytes()
        found["cohort.xlsx"] = (here / "out.xlsx").read_bytes()
        found["crcl.terminal.txt"] = _run(
            runner, ["crcl", "--age", "72", "--sex", "female", "--weight-kg", "60",
                     "--height-cm", "160", "--scr", "1.3"]
        )  # fmt: skip
        found["refused.terminal.txt"] = _run(
            runner, ["plan", "--age", "17", "--sex", "male", "--weight-kg", "80", "--crcl", "90"]
        )
        found["version.terminal.txt"] = _run(runner, ["--version"])
        patient = gabacalc.Patient(
            age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3, scr_unit="mg/dL"
        )
        plan = gabacalc.build_plan(patient, start_date=date(2026, 1, 5))
        found["display.plan.html"] = plan._repr_html_().encode()
        found["display.estimate.html"] = gabacalc.estimate_crcl(patient)._repr_html_().encode()
    return found


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drawn_by() -> str:
    return " ".join(f"{name}=={version(name)}" for name in DRAWN_BY)


def write(found: dict[str, bytes]) -> None:
    """Replace tests/golden/ with ``found``."""
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.iterdir():
        old.unlink()
    sums = [f"# drawn by {drawn_by()}"]
    for name, data in sorted(found.items()):
        if name.endswith(BINARY):
            sums.append(f"{digest(data)}  {name}")
        else:
            (GOLDEN / name).write_bytes(data)
    SUMS.write_text("\n".join(sums) + "\n", encoding="utf-8")
