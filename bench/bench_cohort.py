"""Benchmark cohort mode: ``python bench/bench_cohort.py [--rows N] [--repeat N] [--workers N]``.

Makes a seeded synthetic cohort (realistic ages, heights, weights and creatinine; some
dialysis, measured CrCl, current doses and risks; a few bad rows) and prints, each timing
run ``--repeat`` times (default 3; this kind of machine varies from run to run):

- end to end: seconds and peak memory of ``python -m gabacalc cohort`` on ``--rows`` rows
  (default 1,000,000), in a child process. Memory is that of the command and its worker
  processes together, read from /proc while it runs: the proportional set size (a page
  the workers share with the process they were copied from counts once, split between
  them) and the resident set size (such a page counts in each, so the sum overstates).
  Reading it slows the command (on a 2-core machine, by a tenth), so the seconds are
  timed in runs that do not read it, and the memory in as many more runs that do;
- beside it, pyarrow reading the same input and writing an output of the same shape, and
  the command's time as a multiple of that;
- in memory: seconds for ``plan_cohort`` on 100,000 patients (the mixed cohort, and a plain
  one: ages, sexes, weights, heights and creatinine), and its peak memory above its input
  on ``--rows`` patients;
- per patient: ``plan_cohort`` against ``build_plan`` in a loop on the same 1,000 patients.

The gabacalc modules are byte-compiled first, as an installed copy is (see
:func:`compiled_as_installed`).

Targets (2-core machine): 1,000,000 rows in under 10 s and 500 MB; 100,000 patients in
under 1 s; at least 100 times faster per patient than the loop. Speed lives here, not in
the tests.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import itertools
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RISK_RATES = {
    "opioids": 0.20,
    "cns-depressants": 0.10,
    "respiratory": 0.08,
    "falls": 0.06,
    "pregnancy": 0.005,
    "misuse": 0.02,
    "epilepsy": 0.02,
    "unstable-renal": 0.03,
}
PAIN_TYPES = {
    "radicular": 0.35,
    "non-radicular": 0.10,
    "phn": 0.10,
    "diabetic-neuropathy": 0.25,
    "other": 0.20,
}
CURRENT_MG = {300: 0.15, 600: 0.2, 900: 0.2, 1200: 0.15, 1800: 0.15, 2400: 0.08, 3600: 0.07}


def synthetic_cohort(rows: int, seed: int = 20260105) -> pd.DataFrame:
    """A seeded cohort of adults on (or starting) gabapentin, as a clinic would export it.

    About 1 % hemodialysis and 0.3 % peritoneal dialysis, 3 % with a measured CrCl, 20 %
    with creatinine in umol/L, 15 % without a height, 70 % with a current dose, and about
    0.1 % bad rows (age 300, sex "x", creatinine 88 given as mg/dL).
    """
    rng = np.random.default_rng(seed)
    female = rng.random(rows) < 0.55
    age = np.clip(np.rint(rng.normal(62, 14, rows)), 18, 100)
    height = np.where(female, rng.normal(162, 7, rows), rng.normal(176, 7.5, rows))
    height = np.round(np.clip(height, 135, 210), 1)
    bmi = np.clip(rng.lognormal(np.log(28), 0.2, rows), 16, 60)
    weight = np.round(np.clip(bmi * (height / 100) ** 2, 35, 250), 1)
    ckd = rng.random(rows) < 0.06
    scr = np.where(
        ckd,
        rng.lognormal(np.log(2.4), 0.6, rows),
        rng.lognormal(np.log(0.9), 0.25, rows) * np.where(female, 0.85, 1.0),
    )
    scr = np.round(np.clip(scr, 0.3, 15), 2)
    umol = rng.random(rows) < 0.2
    scr_text = np.where(umol, np.rint(scr * 88.4), scr)
    kind = rng.random(rows)
    hemo, peritoneal = kind < 0.01, (kind >= 0.01) & (kind < 0.013)
    measured = (kind >= 0.013) & (kind < 0.043)
    residual = (hemo | peritoneal) & (rng.random(rows) < 0.15)
    crcl = np.where(
        measured, np.round(rng.uniform(8, 140, rows), 1), np.round(rng.uniform(2, 12, rows), 1)
    )
    has_scr = ~(hemo | peritoneal | measured)
    risk_names = np.array(list(RISK_RATES))
    draws = rng.random((rows, len(RISK_RATES))) < np.array(list(RISK_RATES.values()))
    patterns, inverse = np.unique(draws, axis=0, return_inverse=True)
    texts = np.array([";".join(risk_names[p]) for p in patterns], dtype=object)
    risks = texts[inverse.ravel()]
    on_drug = rng.random(rows) < 0.7
    current = rng.choice(list(CURRENT_MG), rows, p=list(CURRENT_MG.values()))
    doses = rng.choice([1, 2, 3], rows, p=[0.15, 0.35, 0.5])
    frame = pd.DataFrame(
        {
            "id": [f"P{i:07d}" for i in range(rows)],
            "age_years": age,
            "sex": np.where(female, "female", "male"),
            "weight_kg": weight,
            "height_cm": np.where(rng.random(rows) < 0.15, np.nan, height),
            "scr": np.where(has_scr, scr_text, np.nan),
            "scr_unit": np.where(umol, "umol/L", "mg/dL"),
            "crcl_ml_min": np.where(measured | residual, crcl, np.nan),
            "dialysis": np.select([hemo, peritoneal], ["hemodialysis", "peritoneal"], "none"),
            "risks": risks,
            "pain_type": rng.choice(list(PAIN_TYPES), rows, p=list(PAIN_TYPES.values())),
            "start_date": "2026-01-05",
            "current_daily_mg": np.where(on_drug, current, np.nan),
            "current_doses_per_day": np.where(on_drug, doses, np.nan),
        }
    )
    bad = np.flatnonzero(rng.random(rows) < 0.001)
    for n, i in enumerate(bad):
        column, value = [("age_years", 300), ("sex", "x"), ("scr", 88.0)][n % 3]
        if column == "scr":
            frame.loc[i, ["scr", "scr_unit", "crcl_ml_min", "dialysis"]] = [
                88.0,
                "mg/dL",
                np.nan,
                "none",
            ]
        else:
            frame.loc[i, column] = value
    return frame


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}); Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )


_CHILD = """
import sys
from gabacalc.files.cohort_io import run_cohort_file
report = run_cohort_file(sys.argv[1], sys.argv[2])
print(report.rows, report.errors, report.flagged)
"""


def compiled_as_installed() -> Path:
    """Byte-compile gabacalc's modules where they are, as pip does when it installs the
    package, so that the timed command loads them as an installed copy does.

    A checkout on the path (``pip install -e``) on a machine that sets
    PYTHONDONTWRITEBYTECODE keeps no bytecode: each run of the command would first compile
    every gabacalc module again (about 0.08 s on the 2-core machine), which no installed
    copy does, and which the pyarrow baseline (compiled) does not pay either.
    """
    import gabacalc

    folder = Path(gabacalc.__file__).parent
    if not compileall.compile_dir(folder, quiet=1):
        raise SystemExit(f"could not byte-compile {folder}: the timings would include it")
    return folder


def _cli_has_cohort() -> bool:
    try:
        from gabacalc.cli import main
    except ImportError:
        return False
    return "cohort" in getattr(main, "commands", {})


def end_to_end(
    source: Path, target: Path, workers: int | None = None, *, watch: bool = False
) -> dict[str, Any]:
    """One run of the command on ``source``: seconds, what it printed, and (``watch``) peak
    memory. Reading memory from /proc while the command runs costs it time (reading a
    process's proportional set walks its page tables, and holds up its memory mappings
    meanwhile), so runs that are timed do not watch."""
    if _cli_has_cohort():
        command = [sys.executable, "-m", "gabacalc", "cohort", str(source), "--out", str(target)]
        how = "python -m gabacalc cohort"
        if workers is not None:
            command += ["--workers", str(workers)]
            how += f" --workers {workers}"
    else:
        command = [sys.executable, "-c", _CHILD, str(source), str(target)]
        how = "run_cohort_file in a child process"
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss_mb, pss_mb = _watch_memory(process) if watch else (math.nan, math.nan)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"the cohort run failed:\n{stdout}\n{stderr}")
    lines = stdout.strip().splitlines()
    return {
        "how": how,
        "seconds": seconds,
        "rss_mb": rss_mb,
        "pss_mb": pss_mb,
        "output_mb": target.stat().st_size / 1e6,
        "summary": lines[1] if len(lines) > 1 else stdout.strip(),
    }


def _tree_memory_kb(pid: int, source: str) -> int:
    """Memory of a process and all its descendants (the workers), from /proc.

    ``source`` "statm": the resident set (cheap to read; a page shared by several
    processes counts in full in each, so the sum overstates). "smaps_rollup": the
    proportional set (a page shared by n processes counts 1/n in each; slower to read).
    """
    total_kb, stack = 0, [pid]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    while stack:
        current = stack.pop()
        try:
            if source == "statm":
                total_kb += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page_kb
            else:
                for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total_kb


def _watch_memory(process: subprocess.Popen[str]) -> tuple[float, float]:
    """Peak memory of ``process`` and its workers together, in MB: (resident, proportional).

    The resident sum is read every 50 ms, the proportional one every 250 ms (reading it
    costs CPU the run would use).
    """
    if not Path("/proc/self/smaps_rollup").exists():
        process.wait()
        return math.nan, math.nan
    rss = pss = 0
    tick = 0
    while process.poll() is None:
        rss = max(rss, _tree_memory_kb(process.pid, "statm"))
        if tick % 5 == 0:
            pss = max(pss, _tree_memory_kb(process.pid, "smaps_rollup"))
        tick += 1
        time.sleep(0.05)
    return rss / 1024, pss / 1024


def in_memory(rows: int, repeat: int) -> tuple[list[float], pd.DataFrame]:
    from gabacalc import plan_cohort

    cohort = synthetic_cohort(rows, seed=7)
    plan_cohort(cohort.head(1000))  # warm the caches of the strength tables
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = plan_cohort(cohort)
        times.append(time.perf_counter() - start)
    return times, out


def loop_ratio(rows: int, repeat: int) -> tuple[list[float], float]:
    """plan_cohort on ``rows`` patients (``repeat`` times) and build_plan in a loop (once)."""
    import gabacalc
    from gabacalc import plan_cohort
    from gabacalc.core.cohort_parse import row_kwargs

    cohort = synthetic_cohort(rows, seed=11)
    today = date(2026, 1, 5)
    vectorised = []
    for _ in range(repeat):
        start = time.perf_counter()
        plan_cohort(cohort)
        vectorised.append(time.perf_counter() - start)
    start = time.perf_counter()
    for record in cohort.to_dict("records"):
        patient_kw, options_kw, _ = row_kwargs(record, today)
        with contextlib.suppress(gabacalc.InputError):
            gabacalc.build_plan(gabacalc.Patient(**patient_kw), **options_kw)
    return vectorised, time.perf_counter() - start


def arrow_baseline(source: Path, results: Path, repeat: int) -> list[float] | None:
    """Seconds pyarrow takes to read ``source`` and write a table shaped as ``results``.

    The floor a file-to-file command can hope for: the same bytes in, the same shape out,
    and no planning at all. None without pyarrow.
    """
    try:
        import pyarrow.csv as pa_csv
    except ImportError:
        return None
    with results.open(encoding="utf-8") as handle:  # the results' "#," provenance lines
        skip = sum(1 for _ in itertools.takewhile(lambda line: line.startswith("#"), handle))
    # The output's shape, read before the clock starts.
    shaped = pa_csv.read_csv(results, read_options=pa_csv.ReadOptions(skip_rows=skip))
    times = []
    with tempfile.TemporaryDirectory() as temp:
        for _ in range(repeat):
            start = time.perf_counter()
            pa_csv.read_csv(source)
            pa_csv.write_csv(shaped, Path(temp) / "out.csv")
            times.append(time.perf_counter() - start)
    return times


def plain_cohort(rows: int, seed: int = 3) -> pd.DataFrame:
    """Ages, sexes, weights, heights and creatinine only: no dialysis, no options."""
    rng = np.random.default_rng(seed)
    female = rng.random(rows) < 0.5
    return pd.DataFrame(
        {
            "id": [f"P{i:07d}" for i in range(rows)],
            "age_years": rng.integers(18, 100, rows).astype(float),
            "sex": np.where(female, "female", "male"),
            "weight_kg": np.round(rng.uniform(45, 140, rows), 1),
            "height_cm": np.round(rng.uniform(145, 200, rows), 1),
            "scr": np.round(rng.uniform(0.5, 4, rows), 2),
            "start_date": "2026-01-05",
        }
    )


def timed(frame: pd.DataFrame, repeat: int) -> list[float]:
    from gabacalc import plan_cohort

    plan_cohort(frame.head(1000))  # warm the caches of the strength tables
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        plan_cohort(frame)
        times.append(time.perf_counter() - start)
    return times


_MEMORY_CHILD = """
import gc, sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from bench_cohort import synthetic_cohort
from gabacalc import plan_cohort
page = __import__("os").sysconf("SC_PAGE_SIZE")
def rss():
    return int(Path("/proc/self/statm").read_text().split()[1]) * page
cohort = synthetic_cohort(int(sys.argv[1]))
plan_cohort(cohort.head(1000))
gc.collect()
base, peak, running = rss(), [0], [True]
def watch():
    while running[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.005)
thread = threading.Thread(target=watch)
thread.start()
out = plan_cohort(cohort)
peak[0] = max(peak[0], rss())
running[0] = False
thread.join()
print((peak[0] - base) / 1e6)
"""


def memory_above_input(rows: int) -> float | None:
    """Peak resident memory [MB] of ``plan_cohort`` on ``rows`` patients above its input
    (in a child process, the input built and the caches warm before the baseline)."""
    if not Path("/proc/self/statm").exists():
        return None
    folder = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(rows), folder],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def _runs(values: list[float], places: int) -> str:
    """``"median 8.10 (runs 8.02, 8.10, 8.51)"``: this machine's timings vary run to run."""
    shown = ", ".join(f"{v:.{places}f}" for v in values)
    return f"median {statistics.median(values):.{places}f} (runs {shown})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows end to end")
    parser.add_argument("--memory-rows", type=int, default=100_000)
    parser.add_argument("--loop-rows", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing")
    parser.add_argument("--workers", type=int, help="--workers for the command (default its own)")
    parser.add_argument("--keep", help="folder to keep the files in (default a temp folder)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"gabacalc byte-compiled in {compiled_as_installed()}, as pip installs it")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(args.keep or temp)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "cohort.csv"
        synthetic_cohort(args.rows).to_csv(source, index=False)
        runs = [
            end_to_end(source, folder / "results.csv", args.workers) for _ in range(args.repeat)
        ]
        watched = [
            end_to_end(source, folder / "results.csv", args.workers, watch=True)
            for _ in range(args.repeat)
        ]
        arrow = arrow_baseline(source, folder / "results.csv", args.repeat)
        input_mb = source.stat().st_size / 1e6
    first = runs[0]
    print(
        f"end to end ({first['how']}), {args.rows:,} rows ({input_mb:.0f} MB in, "
        f"{first['output_mb']:.0f} MB out; {first['summary']}):\n"
        f"  seconds: {_runs([r['seconds'] for r in runs], 2)}  [target < 10 s]\n"
        f"  peak memory of all its processes together, MB, in {args.repeat} more runs that "
        f"watch it: proportional (a page shared by n processes counted 1/n in each) "
        f"{_runs([r['pss_mb'] for r in watched], 0)}; resident (shared pages counted in each) "
        f"{_runs([r['rss_mb'] for r in watched], 0)}  [target < 500 MB]; those runs took "
        f"{_runs([r['seconds'] for r in watched], 2)} s"
    )
    if arrow is None:
        print("  pyarrow is not installed: no read-and-write baseline (pip install pyarrow)")
    else:
        ratio = statistics.median([r["seconds"] for r in runs]) / statistics.median(arrow)
        print(
            f"  pyarrow reading the same input and writing an output of the same shape, "
            f"seconds: {_runs(arrow, 2)}; the command takes {ratio:.2f} times that"
            f"  [target < 1.5]"
        )
    times, out = in_memory(args.memory_rows, args.repeat)
    print(
        f"in memory: plan_cohort on {args.memory_rows:,} patients "
        f"({(out['status'] == 'error').sum()} errors), seconds: {_runs(times, 3)}"
        f"  [target < 1 s]"
    )
    plain = timed(plain_cohort(args.memory_rows), args.repeat)
    print(
        f"in memory: plan_cohort on {args.memory_rows:,} plain patients (ages, sexes, weights, "
        f"heights, creatinine; no dialysis), seconds: {_runs(plain, 3)}  [target < 0.15 s]"
    )
    above = memory_above_input(args.rows)
    if above is not None:
        print(
            f"in memory: plan_cohort on {args.rows:,} patients, peak resident memory above "
            f"its input: {above:.0f} MB  [target < 600 MB]"
        )
    vectorised, looped = loop_ratio(args.loop_rows, max(args.repeat, 5))
    median = statistics.median(vectorised)
    print(
        f"per patient, {args.loop_rows:,} patients: plan_cohort seconds {_runs(vectorised, 3)}; "
        f"build_plan in a loop {looped:.2f} s: {looped / median:.0f} times faster"
        f"  [target >= 100]"
    )


if __name__ == "__main__":
    main()
