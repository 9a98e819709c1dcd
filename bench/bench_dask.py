"""Which dask scheduler to use for plan_cohort: median wall time per scheduler.

Run from the repository root: ``python bench/bench_dask.py [--rows 100000] [--runs 3]``.
Reads a synthetic cohort CSV with ``dd.read_csv`` (dask's default string settings), plans
each partition with :func:`gabacalc.plan_cohort` and computes it with each scheduler;
``gabacalc cohort`` on the same file is the yardstick. Prints figures; asserts nothing.
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

import dask.dataframe as dd
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_cohort import synthetic_cohort

from gabacalc import plan_cohort

REPO = Path(__file__).resolve().parent.parent
TEXT = {"id": "str", "risks": "str", "strengths_mg": "str", "dialysis_days": "str"}


def timed(run: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cohort.csv"
        synthetic_cohort(args.rows).to_csv(source, index=False)
        meta = plan_cohort(pd.read_csv(source, nrows=5, dtype=TEXT)).iloc[:0]
        parts = dd.read_csv(source, blocksize="4MB", dtype=TEXT)
        planned = parts.map_partitions(plan_cohort, meta=meta)
        print(
            f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"{args.rows:,} rows in {parts.npartitions} partitions; median of {args.runs} runs"
        )
        for scheduler in ("processes", "threads", "synchronous"):
            seconds = timed(lambda s=scheduler: planned.compute(scheduler=s), args.runs)
            print(f"  dask, {scheduler:<12} {seconds:6.2f} s")
        command = [sys.executable, "-m", "gabacalc", "cohort", str(source), "--out",
                   f"{folder}/out.csv", "--quiet"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        seconds = timed(lambda: subprocess.run(command, check=True, env=env), args.runs)
        print(f"  gabacalc cohort (CSV to CSV, default workers) {seconds:6.2f} s")


if __name__ == "__main__":
    main()
