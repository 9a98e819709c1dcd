"""How long the explorer takes to redraw after a control moves, and where the time goes.

Run from the repository root: ``python bench/bench_explore.py [--runs 15]``. Each redraw
builds the plan from the controls, writes its HTML display and draws its chart to a PNG
(two of each in compare mode). Prints medians and ranges; it asserts nothing (timings
belong here, not in the tests).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gabacalc  # noqa: E402
from gabacalc.core.examples import EXAMPLE_START_DATE, example_patient  # noqa: E402
from gabacalc.explorer import explore  # noqa: E402
from gabacalc.explorer.charts import SCREEN_DPI  # noqa: E402
from gabacalc.render.chart import figure_for, figure_png  # noqa: E402
from gabacalc.render.display import plan_html  # noqa: E402


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def show(label: str, times: list[float]) -> None:
    print(
        f"{label:<52} median {statistics.median(times) * 1000:6.0f} ms "
        f"(range {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms, {len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    print(f"Python {platform.python_version()}, gabacalc {gabacalc.__version__}, {cpu_model()}")

    start = time.perf_counter()
    explorer = explore(start_date=EXAMPLE_START_DATE)
    first = time.perf_counter() - start
    print(f"{'first explore() (imports matplotlib, first chart)':<52} {first:.2f} s")

    values = iter(range(10**6))

    def move_crcl() -> None:
        # A hand dragging the CrCl slider: a new value each time, one redraw.
        explorer.controls["crcl_ml_min"].value = 10 + next(values) % 80

    # Wall time from setting a control's value to the redraw being done.
    explorer.set(scr=None, crcl_ml_min=30)
    show("redraw after one control moves", timed(move_crcl, runs))
    explorer.pin()
    show("redraw in compare mode (A and B)", timed(move_crcl, runs))
    explorer.unpin()

    patient = example_patient()
    plan = gabacalc.build_plan(patient, start_date=EXAMPLE_START_DATE)
    show(
        "  of which build_plan",
        timed(lambda: gabacalc.build_plan(patient, start_date=EXAMPLE_START_DATE), runs),
    )
    show("  of which plan_html", timed(lambda: plan_html(plan), runs))
    show(
        f"  of which the chart (figure and PNG at {SCREEN_DPI} dpi)",
        timed(lambda: figure_png(figure_for(plan), SCREEN_DPI), runs),
    )


if __name__ == "__main__":
    main()
