"""Cohort files: read a CSV or Parquet cohort in chunks, plan it, write the results whole.

An edge module: it reads and writes files and leaves every clinical decision to
:func:`gabacalc.plan_cohort`. Memory stays flat however long the file: one chunk at a time
is read, planned and appended to a temporary file beside the output, which is renamed over
the output only when every row is written (:func:`gabacalc.files.atomic.atomic_open`). If
anything fails, the output is untouched and the temporary file removed.

This module runs a file: the checks, the loop over chunks and the report. The jobs it
joins are each in a module of their own: :mod:`~gabacalc.files.cohort_read` (formats,
opening, chunks), :mod:`~gabacalc.files.cohort_parse` (CSV bytes to rows),
:mod:`~gabacalc.files.cohort_pool` (planning, here or in worker processes),
:mod:`~gabacalc.files.cohort_write` (CSV), :mod:`~gabacalc.files.parquet` and
:mod:`~gabacalc.files.cohort_results` (reading results back, typed).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from gabacalc.errors import InputError
from gabacalc.files.atomic import atomic_open
from gabacalc.files.cohort_defaults import DEFAULT_CHUNK_ROWS
from gabacalc.files.cohort_parse import Dialect, csv_dialect
from gabacalc.files.cohort_pool import COUNTS, append_part, default_workers, planned_chunks
from gabacalc.files.cohort_read import STDIN, cohort_chunks, format_of, is_stream
from gabacalc.files.cohort_results import (
    read_cohort_results,
    read_results,
    read_results_from,
    typed_results,
)
from gabacalc.files.parquet import ParquetWriter
from gabacalc.rules import Provenance, Rules, default_rules

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "CohortReport",
    "default_workers",
    "read_cohort_results",
    "read_results",
    "run_cohort_file",
    "typed_results",
]


@dataclass(frozen=True)
class CohortReport:
    """What a cohort file run did.

    Attributes
    ----------
    input_path, out_path : Path
    rows : int
        Rows read, and written: every input row comes back exactly once.
    errors : int
        Rows refused (``status`` "error"), each with its reason in ``error``.
    flagged : int
        Planned rows with a warning flag (e.g. the current dose above the band maximum,
        opioids) or more administrations than the band allows.
    above_band_max : int
        Rows whose current dose is above the band maximum (0 without current doses).
    too_many_doses : int
        Rows whose current administrations are more than the band's.
    chunks : int
        Chunks read.
    out_format : {"csv", "parquet"}
    gabacalc_version, rules_version, rules_sha256 : str
    """

    input_path: Path
    out_path: Path
    rows: int
    errors: int
    flagged: int
    above_band_max: int
    too_many_doses: int
    chunks: int
    out_format: str
    gabacalc_version: str
    rules_version: str
    rules_sha256: str

    @property
    def provenance(self) -> Provenance:
        """The stamp the run's results carry."""
        return Provenance(self.gabacalc_version, self.rules_version, self.rules_sha256)

    def summary_text(self) -> str:
        """One line for a person, e.g. ``"1,000 rows: 2 errors, 310 flagged"``."""
        text = (
            f"{_count(self.rows, 'row')}: {_count(self.errors, 'error')}, {self.flagged:,} flagged"
        )
        if self.above_band_max or self.too_many_doses:
            text += (
                f" ({self.above_band_max:,} above the band maximum, "
                f"{self.too_many_doses:,} with too many administrations)"
            )
        return text


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def run_cohort_file(
    input_path: str | Path,
    out_path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
    rules: Rules | None = None,
    workers: int = 1,
    xlsx_path: str | Path | None = None,
    delimiter: str = ",",
    decimal: str = ".",
) -> CohortReport:
    """Plan every patient of a cohort file and write one result row per input row.

    Parameters
    ----------
    input_path : str or Path
        A ``.csv`` (UTF-8, a header row; see :func:`gabacalc.plan_cohort` for the columns;
        rows may end in ``\\n``, ``\\r\\n`` or ``\\r``), a gzip-compressed ``.csv.gz``,
        ``"-"`` for CSV on standard input or a pipe (a FIFO) giving CSV (no progress is
        reported then), or a ``.parquet`` file (needs pyarrow; list cells are read as
        ``;``-separated text where a list makes sense: ``risks``, ``strengths_mg``,
        ``dialysis_days``). Ids are read as text in every format, never rounded.
    out_path : str or Path
        ``.csv`` or ``.parquet``. A CSV is a plain table (one header row, then one row
        per patient) that ``pandas.read_csv`` and other readers open with their defaults;
        the verification text, the gabacalc version and the rules version and sha256 are
        columns on every row. Text cells (ids exactly as given) are quoted, and one that a
        spreadsheet would run as a formula (starting with ``=``, ``+``, ``-`` or ``@``)
        gets a leading ``'``. A Parquet file is typed (dates as ``date32``, ``flag_codes``
        as ``list<string>``, enumerations as dictionary columns) and carries the stamp in
        its metadata too. :func:`read_results` reads either back with its types. Written
        whole or not at all.
    chunk_rows : int
        Rows per chunk (memory grows with this, not with the file).
    on_progress : callable, optional
        Called as ``on_progress(done, total)`` after each chunk: bytes of a CSV, rows of a
        Parquet file.
    rules : Rules, optional
        Rule tables (default the shipped ones).
    workers : int
        Processes that plan chunks at the same time (1: all in this process). The output
        is the same bytes whatever the number; a file of one chunk is planned in this
        process. Outside a plain command-line run, workers may start as new Python
        processes, so a script that calls this needs the usual
        ``if __name__ == "__main__":`` guard. Workers end when this process ends, even
        when it is killed.
    xlsx_path : str or Path, optional
        Also write the results as a workbook (needs the workbook extra; see
        :func:`gabacalc.files.workbook.results_workbook`). It is made from the results file
        before that file is put in place, so either both are written or neither; a cohort
        of more rows than a worksheet holds (1,048,575) is refused, writing nothing.
    delimiter : str
        What separates a CSV's cells: ``","`` (default), ``";"`` or ``"tab"``.
    decimal : str
        A CSV's decimal mark: ``"."`` (default) or ``","`` (with ``delimiter=";"``).

    Returns
    -------
    CohortReport

    Raises
    ------
    InputError
        The input is missing, unreadable, not CSV or Parquet, or lacks a required column
        (the message lists the columns found and expected); Parquet without pyarrow (with
        the install hint). A bad row is not an error: it comes back with its reason.
    OSError
        The output cannot be written (the target is left as it was).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text(
    ...     "id,age_years,sex,weight_kg,scr,start_date\\n"
    ...     "a,72,female,60,1.3,2026-01-05\\n"
    ...     "b,300,male,80,1.0,2026-01-05\\n")
    >>> report = run_cohort_file(folder / "cohort.csv", folder / "results.csv")
    >>> report.summary_text()
    '2 rows: 1 error, 1 flagged'
    >>> read_results(folder / "results.csv")[["id", "max_daily_mg", "status"]]
      id  max_daily_mg status
    0  a          1400     ok
    1  b          <NA>  error
    """
    source, target = Path(input_path), Path(out_path)
    dialect, in_format, out_format = _check_run(
        source, target, chunk_rows, workers, xlsx_path, delimiter, decimal
    )
    rules = rules or default_rules()
    run = _Run(
        source=source,
        target=target,
        in_format=in_format,
        out_format=out_format,
        rules=rules,
        today=date.today(),  # one day 1 for every row of the run
        chunk_rows=chunk_rows,
        workers=workers,
        dialect=dialect,
    )
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(atomic_open(target, "wb"))
        counts, chunks = _write_results(run, handle, stack, on_progress)
        report = CohortReport(
            input_path=source,
            out_path=target,
            rows=counts["rows"],
            errors=counts["errors"],
            flagged=counts["flagged"],
            above_band_max=counts["above_band_max"],
            too_many_doses=counts["too_many_doses"],
            chunks=chunks,
            out_format=run.out_format,
            gabacalc_version=rules.provenance.gabacalc_version,
            rules_version=rules.provenance.rules_version,
            rules_sha256=rules.provenance.rules_sha256,
        )
        if xlsx_path is not None:
            _write_workbook(handle, run.out_format, report, xlsx_path)
    return report


@dataclass(frozen=True)
class _Run:
    """What one run reads, how, and what it writes."""

    source: Path
    target: Path
    in_format: str
    out_format: str
    rules: Rules
    today: date
    chunk_rows: int
    workers: int
    dialect: Dialect


def _check_run(
    source: Path,
    target: Path,
    chunk_rows: int,
    workers: int,
    xlsx_path: str | Path | None,
    delimiter: str,
    decimal: str,
) -> tuple[Dialect, str, str]:
    """Refuse options and paths that cannot work, before anything is read or written:
    (the CSV dialect, the input's format, the output's)."""
    for name, value in (("chunk rows", chunk_rows), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} {value!r} is not a whole number above 0")
    dialect = csv_dialect(delimiter, decimal)
    in_format = format_of(source, "input")
    out_format = format_of(target, "output")
    if str(source) != STDIN and not (source.is_file() or is_stream(source)):
        raise InputError(f"cannot read the cohort {str(source)!r}: no such file", field="input")
    if in_format == "parquet" and not source.is_file():
        raise InputError(
            f"cannot read the cohort {str(source)!r}: Parquet is read from a file, not a "
            "pipe; save it to a file first, or send CSV through the pipe",
            field="input",
        )
    if str(source) != STDIN and source.resolve() == target.resolve():
        raise InputError("the output would overwrite the input; give another --out path")
    if xlsx_path is not None:
        from gabacalc.files.workbook import xlsxwriter_module

        if is_stream(target):  # the workbook is made from the results file, read back
            raise InputError(
                f"--xlsx is made from the results file, which {str(target)!r} (a pipe or a "
                "device) cannot give back; give --out a file name, e.g. --out results.csv",
                field="xlsx",
            )
        xlsxwriter_module()  # the extra is there, before any planning
        if Path(xlsx_path).resolve() in (target.resolve(), source.resolve()):
            raise InputError(
                "the workbook would overwrite the results or the input; give another --xlsx path",
                field="xlsx",
            )
    return dialect, in_format, out_format


def _write_results(
    run: _Run,
    handle: IO[bytes],
    stack: contextlib.ExitStack,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, int], int]:
    """Plan every chunk and write its results to ``handle``: (the counts, chunks read)."""
    trace = run.rules.provenance.columns()
    counts = dict.fromkeys(COUNTS, 0)
    sync = stack.enter_context(_BackgroundSync(handle))
    parquet = ParquetWriter(handle, trace) if run.out_format == "parquet" else None
    # Closed on the way out however the run ends (a signal may arrive while the generator
    # waits at a yield), so its workers and part files go before the output.
    results = stack.enter_context(
        contextlib.closing(
            planned_chunks(
                cohort_chunks(run.source, run.in_format, run.chunk_rows, run.dialect),
                (run.rules, run.today, run.out_format),
                run.workers,
                run.target,
                handle,
            )
        )
    )
    chunks = 0
    for planned, done, total in results:
        if parquet is not None:
            parquet.write(planned.payload)
        elif planned.payload is not None:  # a worker's part file
            append_part(planned.payload, handle)
        sync.start()
        chunks += 1
        for name, value in planned.counts.items():
            counts[name] += value
        if on_progress is not None and total:
            on_progress(done, total)
    if chunks == 0:
        raise InputError(f"the cohort {str(run.source)!r} has no header row", field="input")
    if parquet is not None:
        parquet.close()
    return counts, chunks


def _write_workbook(
    handle: IO[bytes], out_format: str, report: CohortReport, xlsx_path: str | Path
) -> None:
    """Make the workbook from the results written so far (still a temporary file)."""
    from gabacalc.files.atomic import atomic_write_bytes
    from gabacalc.files.workbook import MAX_ROWS, results_workbook

    if report.rows > MAX_ROWS:
        raise InputError(
            f"the cohort has {report.rows:,} rows, more than a workbook sheet holds "
            f"({MAX_ROWS:,} below its header); drop --xlsx (the CSV or Parquet results "
            "hold every row) or split the cohort; nothing was written",
            field="xlsx",
        )
    handle.flush()
    with open(os.dup(handle.fileno()), "rb") as copy:
        copy.seek(0)
        results = read_results_from(copy, out_format)
    atomic_write_bytes(xlsx_path, results_workbook(results, report.summary_text()))


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _BackgroundSync:
    """Flush what is written to disk in a background thread while the next chunk is planned.

    The final flush (:func:`gabacalc.files.atomic.atomic_open`) then has little left to do. A
    failure is raised at the next chunk or at the end (so the target is not replaced); the
    thread is joined before the file is closed.

    What is on disk then leaves the page cache (``POSIX_FADV_DONTNEED``, where there is
    one): the results of a large cohort stream through a few chunks' worth of memory
    instead of filling it, and each chunk is written into pages just freed. (On a virtual
    machine that hands freed memory back to its host, writing into memory the file has not
    used before costs several times as much: 1.3 against 0.3 s of system time for 640 MB.)
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.thread: threading.Thread | None = None
        self.error: OSError | None = None
        # a device or a pipe (/dev/null, a FIFO) has nothing to flush to disk
        self.regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)

    def __enter__(self) -> _BackgroundSync:
        return self

    def start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return  # still flushing the last chunks; the next call takes what is new
        self._raise()
        self.handle.flush()
        if not self.regular:
            return
        self.thread = threading.Thread(target=self._sync, args=(self.handle.fileno(),))
        self.thread.start()

    def _sync(self, fd: int) -> None:
        try:
            written = os.fstat(fd).st_size
            os.fsync(fd)
        except OSError as error:  # Linux reports a failed write-back to one fsync only
            self.error = error
            return
        if hasattr(os, "posix_fadvise"):
            # Pages up to what this fsync wrote, whole: the kernel drops only those on disk
            # (a page written since, by this process or a worker, stays until it is).
            synced = written - written % _PAGE_BYTES
            with contextlib.suppress(OSError):  # advice only: a file system may not take it
                os.posix_fadvise(fd, 0, synced, os.POSIX_FADV_DONTNEED)

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.thread.join()
        if exc[0] is None:
            self._raise()
