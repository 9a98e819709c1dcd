"""``gabacalc cohort``: plan every row of a cohort file."""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

import click

from gabacalc.cli.failures import user_errors
from gabacalc.cli.options import quiet_option
from gabacalc.errors import InputError
from gabacalc.files.cohort_defaults import DEFAULT_CHUNK_ROWS

__all__ = ["cohort"]


def _progress_bar(stack: contextlib.ExitStack) -> Callable[[int, int], None]:
    """An ``on_progress(done, total)`` that draws a bar on stderr.

    The total is known only at the first call, so the bar opens then; ``stack`` closes it
    (finishing the line) however the run ends.
    """
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = stack.enter_context(
                click.progressbar(length=total, file=sys.stderr, label="Planning")
            )
        bar.update(done - shown)
        shown = done

    return update


@click.command(
    epilog="""\b
Example (columns id, age_years, sex, weight_kg, and scr, crcl_ml_min or dialysis):
  gabacalc cohort clinic.csv --out clinic-plans.csv
  gabacalc cohort clinic.parquet --out clinic-plans.parquet --chunk-rows 20000
  zcat clinic.csv.gz | gabacalc cohort - --out clinic-plans.csv --xlsx clinic-plans.xlsx
\b
Every row comes back once, in order; a row that cannot be planned has status "error"
and the reason in its error column, and the other rows are still planned.
Exit codes: 0 done (even with error rows); 2 a mistake in the input (nothing written);
1 another failure (nothing written).
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Results: .csv, or .parquet (needs pyarrow), or - for CSV on standard output. "
    "Written whole or not at all.",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False),
    help="Also write the results as a workbook (at most 1,048,575 rows).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    help="Rows read and planned at a time; memory grows with this, not with the file.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes planning chunks at once [default: the CPUs this process may use, "
    "at most 4]. The results are the same bytes whatever the number.",
)
@click.option(
    "--delimiter",
    default=",",
    show_default=True,
    help="What separates a CSV's cells: , ; or tab.",
)
@click.option(
    "--decimal",
    default=".",
    show_default=True,
    help="A CSV's decimal mark: . or , (with --delimiter ';').",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: only when stderr is a terminal).",
)
@quiet_option
def cohort(
    input_path: str,
    out_path: str,
    xlsx_path: str | None,
    chunk_rows: int,
    workers: int | None,
    delimiter: str,
    decimal: str,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Plan every patient of a CSV or Parquet cohort file: one result row per input row.

    INPUT is a .csv, .csv.gz or .parquet file, or - for CSV on standard input.
    """
    from gabacalc.files.cohort_io import default_workers, run_cohort_file

    show = (sys.stderr.isatty() and not quiet) if progress is None else progress
    with user_errors(), contextlib.ExitStack() as stack:
        report = run_cohort_file(
            input_path,
            _standard_output() if out_path == "-" else out_path,
            chunk_rows=chunk_rows,
            on_progress=_progress_bar(stack) if show else None,
            workers=workers or default_workers(),
            xlsx_path=xlsx_path,
            delimiter=delimiter,
            decimal=decimal,
        )
    if quiet:
        return
    # With the results on standard output, what is said of them goes to standard error.
    say = functools.partial(click.echo, err=out_path == "-")
    say(f"Wrote {'standard output' if out_path == '-' else report.out_path}")
    if xlsx_path:
        say(f"Wrote {xlsx_path}")
    say(report.summary_text())
    for line in report.provenance.lines():
        say(line)


def _standard_output() -> str:
    """Standard output as a path the results can be written to, when it is a pipe or a
    terminal (written as they come, as a pipe named with --out is).

    A file that standard output was sent to (``> results.csv``, ``>> all.csv``) is not
    written: whole or not at all would replace it, and an appended file would lose what
    it held. Name that file with --out instead.
    """
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # not a process's own (e.g. captured)
        mode = 0
    stream = stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)
    if not stream or not os.path.exists(_STDOUT) or sys.stdout.fileno() != 1:
        raise InputError(
            "--out - writes the results to standard output when it is a pipe or a terminal "
            "(e.g. | gzip > results.csv.gz); to write a file, name it: --out results.csv",
            field="out_path",
        )
    sys.stdout.flush()
    return _STDOUT


_STDOUT = "/dev/stdout"
