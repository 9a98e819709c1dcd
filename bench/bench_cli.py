"""Median wall time of the command line against Python starting with pandas, and of
``plan --pdf`` against a bare one-figure matplotlib PDF (the floor any PDF with a chart pays).

Run from the repository root: ``python bench/bench_cli.py [--runs 9]``. Prints figures; it
asserts nothing (timings belong here, not in the tests).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATIENT = [
    "--age", "72", "--sex", "female", "--weight-kg", "60", "--height-cm", "160",
    "--scr", "1.3", "--start-date", "2026-01-05",
]  # fmt: skip


BARE_PDF = (
    "from matplotlib.figure import Figure; fig = Figure(); "
    "fig.subplots().plot([0, 1], [0, 1]); fig.savefig({path!r}, format='pdf')"
)


def median_seconds(
    cases: dict[str, list[str]], runs: int, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    """Each case's median wall time, the cases taking turns so that a busy moment of a
    shared machine falls on all of them alike."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        cases = {
            'python -c "import pandas"': [python, "-c", "import pandas"],
            "gabacalc plan ... --csv": [
                python, "-m", "gabacalc", "plan", *PATIENT, "--csv", f"{folder}/p.csv",
            ],
            "gabacalc plan ... --pdf": [
                python, "-m", "gabacalc", "plan", *PATIENT, "--pdf", f"{folder}/p.pdf",
            ],
            "one-figure matplotlib PDF": [python, "-c", BARE_PDF.format(path=f"{folder}/b.pdf")],
            "gabacalc plan ... --handout": [
                python, "-m", "gabacalc", "plan", *PATIENT, "--handout", f"{folder}/h.pdf",
            ],
            "gabacalc --help": [python, "-m", "gabacalc", "--help"],
            "gabacalc plan --help": [python, "-m", "gabacalc", "plan", "--help"],
            "gabacalc --version": [python, "-m", "gabacalc", "--version"],
            'python -c "import gabacalc"': [python, "-c", "import gabacalc"],
        }  # fmt: skip
        # A TAB completion as bash asks for it: "gabacalc plan --dia<TAB>".
        completion = [python, "-c", "from gabacalc.cli import main; main(prog_name='gabacalc')"]
        complete_env = {
            "_GABACALC_COMPLETE": "bash_complete",
            "COMP_WORDS": "gabacalc plan --dia",
            "COMP_CWORD": "2",
        }
        print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
        print(f"median of {runs} runs:")
        seconds = median_seconds(cases, runs)
        for name in cases:
            print(f"  {name:<30} {seconds[name]:6.2f} s")
        tab = median_seconds({"TAB completion (--dia)": completion}, runs, complete_env)
        print(f"  {'TAB completion (--dia)':<30} {tab['TAB completion (--dia)']:6.2f} s")
        ratio = seconds["gabacalc plan ... --pdf"] / seconds["one-figure matplotlib PDF"]
        print(f"plan --pdf / one-figure matplotlib PDF: {ratio:.2f}x (target: within 1.5x)")


if __name__ == "__main__":
    main()
