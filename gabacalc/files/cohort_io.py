"""Cohort files: read a CSV or Parquet cohort in chunks, plan it, write the results whole.

An edge module: it reads and writes files and leaves every clinical decision to
:func:`gabacalc.plan_cohort`. Memory stays flat however long the file: one chunk at a time
is read, planned and appended to a temporary file beside the output, which is renamed over
the output only when every row is written (:func:`gabacalc.files.atomic.atomic_open`). If anything
fails, the output is untouched and the temporary file removed.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import itertools
import multiprocessing
import os
import re
import shutil
import signal
import stat
import sys
import threading
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import pandas as pd

from gabacalc.core.cohort import INPUT_COLUMNS, TRACE_COLUMNS, check_columns, plan_frame
from gabacalc.core.wording import printable
from gabacalc.errors import GabacalcError, InputError
from gabacalc.files.atomic import atomic_open, temp_folder
from gabacalc.rules import Provenance, Rules, default_rules

__all__ = [
    "CohortReport",
    "default_workers",
    "read_cohort_results",
    "read_results",
    "run_cohort_file",
    "typed_results",
]

#: Read as text, so that a cell is never turned into a number or a date on the way in.
_TEXT_COLUMNS = {
    name: object
    for name in (
        "id",
        "sex",
        "scr_unit",
        "dialysis",
        "risks",
        "pain_type",
        "weight_basis",
        "titration",
        "taper",
        "start_date",
        "strengths_mg",
        "oral_solution",
        "dialysis_days",
    )
}
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: The input name that means standard input (CSV).
STDIN = "-"


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".csv.gz")


_PARQUET_HINT = "install pyarrow for Parquet: pip install 'gabacalc[cohort]'"
# A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def _is_stream(path: Path) -> bool:
    """A pipe or a character device (a FIFO, ``/dev/stdin``, ``/dev/null``): read or
    written as it comes, with no size and no way back."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _format_of(path: Path, what: str) -> str:
    if what == "input" and (str(path) == STDIN or _is_gzip(path)):
        return "csv"
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None and what != "results" and _is_stream(path):
        return "csv"  # a pipe named without a suffix (e.g. <(zcat clinic.csv.gz)) is CSV
    if fmt is None:
        raise InputError(
            f"{what} {str(path)!r} is neither .csv nor .parquet; name it e.g. results.csv",
            field="out_path" if what == "output" else "input_path",
        )
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError(f"{what} {str(path)!r} is Parquet: {_PARQUET_HINT}") from None
    return fmt


def run_cohort_file(
    input_path: str | Path,
    out_path: str | Path,
    *,
    chunk_rows: int = 50_000,
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
    for name, value in (("chunk rows", chunk_rows), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} {value!r} is not a whole number above 0")
    dialect = _dialect(delimiter, decimal)
    in_format = _format_of(source, "input")
    out_format = _format_of(target, "output")
    if str(source) != STDIN and not (source.is_file() or _is_stream(source)):
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

        xlsxwriter_module()  # the extra is there, before any planning
        if Path(xlsx_path).resolve() in (target.resolve(), source.resolve()):
            raise InputError(
                "the workbook would overwrite the results or the input; give another --xlsx path",
                field="xlsx",
            )
    rules = rules or default_rules()
    today = date.today()  # one day 1 for every row of the run
    counts = dict.fromkeys(_COUNTS, 0)
    trace = rules.provenance.columns()
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(atomic_open(target, "wb"))
        sync = stack.enter_context(_BackgroundSync(handle))
        parquet = _ParquetWriter(handle, trace) if out_format == "parquet" else None
        planner = (rules, today, out_format)
        chunks = 0
        # Closed on the way out however the run ends (a signal may arrive while the
        # generator waits at a yield), so its workers and part files go before the output.
        planned_chunks = stack.enter_context(
            contextlib.closing(
                _planned(
                    _chunks(source, in_format, chunk_rows, dialect),
                    planner,
                    workers,
                    target,
                    handle,
                )
            )
        )
        for planned, done, total in planned_chunks:
            if parquet is not None:
                parquet.write(planned.payload)
            elif planned.payload is not None:  # a worker's part file
                with planned.payload.open("rb") as part:
                    shutil.copyfileobj(part, handle, _COPY_BYTES)
                planned.payload.unlink()
            sync.start()
            chunks += 1
            for name, value in planned.counts.items():
                counts[name] += value
            if on_progress is not None and total:
                on_progress(done, total)
        if chunks == 0:
            raise InputError(f"the cohort {str(source)!r} has no header row", field="input")
        if parquet is not None:
            parquet.close()
        report = CohortReport(
            input_path=source,
            out_path=target,
            rows=counts["rows"],
            errors=counts["errors"],
            flagged=counts["flagged"],
            above_band_max=counts["above_band_max"],
            too_many_doses=counts["too_many_doses"],
            chunks=chunks,
            out_format=out_format,
            gabacalc_version=trace["gabacalc_version"],
            rules_version=trace["rules_version"],
            rules_sha256=trace["rules_sha256"],
        )
        if xlsx_path is not None:
            _write_workbook(handle, out_format, report, xlsx_path)
    return report


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
        results = _read_results_from(copy, out_format)
    atomic_write_bytes(xlsx_path, results_workbook(results, report.summary_text()))


class _BackgroundSync:
    """Flush what is written to disk in a background thread while the next chunk is planned.

    The final flush (:func:`gabacalc.files.atomic.atomic_open`) then has little left to do. A
    failure is raised at the next chunk or at the end (so the target is not replaced); the
    thread is joined before the file is closed.
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
            os.fsync(fd)
        except OSError as error:  # Linux reports a failed write-back to one fsync only
            self.error = error

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.thread.join()
        if exc[0] is None:
            self._raise()


#: Worker processes the command line starts unless told: each holds a chunk's data and
#: plans, so more than a few costs memory for little gain.
_MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Worker processes for a cohort file: the CPUs this process may use, at most 4.

    Examples
    --------
    >>> 1 <= default_workers() <= 4
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_DEFAULT_WORKERS))


# ----------------------------------------------------------------------------- planning

_COUNTS = ("rows", "errors", "flagged", "above_band_max", "too_many_doses")


def _chunk_counts(result: pd.DataFrame) -> dict[str, int]:
    """What a planned chunk adds to the report (see :class:`CohortReport`)."""
    ok = result["status"] == "ok"
    flagged = result["flag_severity"] == "warning"
    above = too_many = 0
    if "audit_too_many_doses" in result.columns:
        above_rows = result["audit_above_band_max"].fillna(False).astype(bool)
        doses_rows = result["audit_too_many_doses"].fillna(False).astype(bool)
        above, too_many = int(above_rows.sum()), int(doses_rows.sum())
        flagged |= doses_rows
    return {
        "rows": len(result),
        "errors": int((~ok).sum()),
        "flagged": int((flagged.fillna(False).astype(bool) & ok).sum()),
        "above_band_max": above,
        "too_many_doses": too_many,
    }


@dataclass(frozen=True)
class _Planned:
    """A planned chunk and its counts. The payload is, for Parquet, the result frame; for
    CSV, None (written already) or the part file a worker wrote it to."""

    payload: Any
    counts: dict[str, int]


class _Planner:
    """Plans chunks one after another, keeping one plan per key across them (per file).

    What a worker process runs, too: each worker has its own.
    """

    def __init__(self, rules: Rules, today: date, out_format: str) -> None:
        self.rules, self.today = rules, today
        self.cache: dict[Hashable, Any] = {}
        self.render = _csv_renderer() if out_format == "csv" else None

    def __call__(self, chunk: pd.DataFrame | _CsvBlock, header: bool, sink: IO[bytes]) -> _Planned:
        """Plan a chunk; CSV results are written to ``sink`` (with the header row if asked)."""
        frame = chunk.frame() if isinstance(chunk, _CsvBlock) else chunk
        result = plan_frame(frame, self.rules, self.today, self.cache, categorical=True)
        del frame  # the input's cells are not needed to write the results
        if self.render is None:
            return _Planned(result, _chunk_counts(result))
        self.render(result, header, sink)
        return _Planned(None, _chunk_counts(result))


_WORKER_PLANNER: list[_Planner] = []  # the planner of a worker process (set when it starts)


def _start_worker(rules: Rules, today: date, out_format: str, run: int, copied: bool) -> None:
    _end_with_parent(run, copied)
    _WORKER_PLANNER.append(_Planner(rules, today, out_format))


def _end_with_parent(run: int, copied: bool) -> None:
    """Make this worker process end when the run that started it ends, however it ends.

    The run stops its workers itself on an error, Ctrl-C, SIGTERM or SIGHUP (it handles
    the signal and shuts the pool down); so a worker ignores SIGINT (a Ctrl-C reaches the
    whole process group) and takes SIGTERM and SIGHUP plainly. If the run is killed
    outright (``kill -9``), Linux sends the worker SIGKILL as its parent (the run, or the
    fork server the run started, which ends with it) goes; elsewhere a thread waits for
    the parent to go and ends the worker. ``run`` is the run's process id; ``copied``
    says the worker is a copy of it (fork), not started by a fork server.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # a forked worker starts with them held
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if sys.platform == "linux":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have gone before the request was made: a copy's parent is the
        # run; a fork server's workers end with it, and it with the run.
        if (copied and os.getppid() != run) or _gone(run):
            os._exit(1)
        return
    watched = multiprocessing.parent_process()
    if watched is not None:  # pragma: no cover - not on Linux

        def wait_for_parent() -> None:
            watched.join()
            os._exit(1)

        threading.Thread(target=wait_for_parent, daemon=True).start()


def _gone(pid: int) -> bool:
    """The process has ended (on Linux, a process ended but not yet reaped counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_STOP_SIGNALS = {
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP while a worker may be forked, and take them after.

    Python ignores an exception raised in its fork handlers, so a signal that arrives
    during a fork would be lost (and the run go on); held, it arrives just after.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not on POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _plan_in_worker(chunk: pd.DataFrame | _CsvBlock, header: bool, part: Path) -> _Planned:
    """Plan a chunk in a worker; CSV goes to the file ``part`` (not back through a pipe)."""
    with part.open("wb") as sink:
        planned = _WORKER_PLANNER[0](chunk, header, sink)
    return _Planned(part, planned.counts) if planned.payload is None else planned


_COPY_BYTES = 1 << 22


def _planned(
    chunks: Iterator[tuple[Any, int, int]],
    planner: tuple[Rules, date, str],
    workers: int,
    target: Path,
    handle: IO[bytes],
) -> Generator[tuple[_Planned, int, int], None, None]:
    """(planned chunk, done, total) in file order, planned here or by worker processes.

    With workers, at most ``workers + 1`` chunks are in flight at once (memory stays flat)
    and results are taken in the order the chunks were read. A worker writes a chunk's
    CSV to a part file in a temporary folder beside ``target``; the folder is removed
    when the run ends, however it ends.
    """
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None) if workers > 1 else None
    in_order = itertools.chain([first] if second is None else [first, second], chunks)
    if second is None:  # one process: no start-up cost for a small file
        here = _Planner(*planner)
        for k, (chunk, done, total) in enumerate(in_order):
            yield here(chunk, k == 0, handle), done, total
        return
    context = _pool_context(may_fork=isinstance(first[0], _CsvBlock))
    folder = temp_folder(target)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(*planner, os.getpid(), context.get_start_method() == "fork"),
    )
    try:
        pending: deque[tuple[Future[_Planned], int, int]] = deque()
        for k, (chunk, done, total) in enumerate(in_order):
            part = folder / f"{k}.csv"
            with _signals_held():  # submit may fork a worker
                future = pool.submit(_plan_in_worker, chunk, k == 0, part)
            pending.append((future, done, total))
            del chunk
            if len(pending) > workers:
                future, done_then, total_then = pending.popleft()
                yield future.result(), done_then, total_then
        while pending:
            future, done_then, total_then = pending.popleft()
            yield future.result(), done_then, total_then
    except BrokenProcessPool:
        raise GabacalcError(
            "a worker process stopped before it finished (out of memory, or stopped from "
            "outside); run again with --workers 1 or a smaller --chunk-rows; nothing was "
            "written"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(folder, ignore_errors=True)


def _pool_context(*, may_fork: bool) -> Any:
    """How worker processes start.

    Copying this process ("fork") is fastest: a worker has gabacalc imported already. It is
    safe only while this process runs no other thread that could hold a lock (the lock
    would stay held in the copy): so only on Linux, with no other Python thread (as in a
    command-line run), and for CSV input (``may_fork``; reading Parquet starts pyarrow's
    threads). Otherwise (e.g. in Jupyter), a fork server that has imported gabacalc once
    starts the workers (:mod:`gabacalc.files._forkserver_preload`: it ends with this process);
    where there is none (Windows), each starts a fresh interpreter.
    """
    methods = multiprocessing.get_all_start_methods()
    if may_fork and sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["gabacalc.files._forkserver_preload"])
        return context
    return multiprocessing.get_context("spawn")


#: Result columns that hold one of a few values: pandas ``category``, Parquet dictionary.
ENUM_COLUMNS = (
    "crcl_source",
    "weight_basis",
    "weight_used",
    "band",
    "band_id",
    "dialysis",
    "target_regimen",
    "titration",
    "taper",
    "allowed_forms",
    "flag_severity",
    "status",
    *TRACE_COLUMNS,
)


def _kind(name: str) -> str:
    """How a result column is typed: id, int, float, bool, date, flags, enum or text."""
    from gabacalc.core.cohort import BOOL_FIELDS, FLOAT_FIELDS, INT_FIELDS

    if name == "id":
        return "id"
    if name in INT_FIELDS:
        return "int"
    if name in FLOAT_FIELDS:
        return "float"
    if name in BOOL_FIELDS:
        return "bool"
    if name.endswith("_date"):
        return "date"
    if name == "flag_codes":
        return "flags"
    if name in ENUM_COLUMNS:
        return "enum"
    return "text"


def _codes_list(text: Any) -> list[str]:
    return [code for code in str(text).split(";") if code]


def typed_results(frame: pd.DataFrame) -> pd.DataFrame:
    """A results table with the column types :func:`read_results` gives.

    Ids as text exactly as given; whole mg as nullable ``Int64``; decimals as
    ``float64``; booleans as nullable ``boolean``; dates (the ``*_date`` columns) as
    ``datetime64[s]``; ``flag_codes`` as a list of codes per row (empty when a planned row
    has none, missing on an error row); enumerations (:data:`ENUM_COLUMNS`) as
    ``category`` with sorted categories; other text as ``str``. ``attrs`` are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> from gabacalc import plan_cohort
    >>> out = plan_cohort(pd.DataFrame({"id": ["00123"], "age_years": [72], "sex": ["female"],
    ...     "weight_kg": [60], "scr": [1.3], "start_date": ["2026-01-05"]}))
    >>> typed = typed_results(out)
    >>> typed.loc[0, "id"], typed.loc[0, "review_date"], typed.loc[0, "flag_codes"][:1]
    ('00123', Timestamp('2026-02-27 00:00:00'), ['TARGET_LIMITED_RENAL'])
    """
    out = frame.copy(deep=False)
    ok = out["status"].astype("str") == "ok" if "status" in out.columns else None
    for name in out.columns:
        column, kind = out[name], _kind(str(name))
        if isinstance(column.dtype, pd.CategoricalDtype) and kind not in ("enum",):
            column = column.astype("str").where(column.notna())
        if kind == "id":
            out[name] = column.astype("str").where(column.notna())
        elif kind == "int":
            out[name] = column.astype("Int64")
        elif kind == "float":
            out[name] = column.astype("float64")
        elif kind == "bool":
            out[name] = column.astype("boolean")
        elif kind == "date":
            out[name] = _dates(column)
        elif kind == "flags":
            out[name] = _flag_lists(column, ok)
        elif kind == "enum":
            values = column.astype("str").where(column.notna())
            out[name] = pd.Categorical(values, categories=sorted(values.dropna().unique()))
        else:
            out[name] = column.astype("str").where(column.notna())
    out.attrs = dict(frame.attrs)
    return out


def _dates(column: pd.Series) -> pd.Series:
    """ISO text, dates or timestamps as ``datetime64[s]`` (parsed once per distinct value)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.astype("datetime64[s]")
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Index(uniques).astype("str"), format="%Y-%m-%d").astype(
        "datetime64[s]"
    )
    values = np.append(parsed.to_numpy(), np.datetime64("NaT", "s"))[codes]
    return pd.Series(values, index=column.index, dtype="datetime64[s]")


def _flag_lists(column: pd.Series, ok: pd.Series | None) -> pd.Series:
    """Flag codes as one list per row: from ";"-joined text, or from Parquet's lists."""
    codes, uniques = pd.factorize(column.map(_key_of), use_na_sentinel=True)
    table = [list(key) for key in uniques]
    values = np.empty(len(column), dtype=object)
    for i, code in enumerate(codes):
        values[i] = None if code < 0 else table[code]
    if ok is not None:  # a planned row without flags has an empty list, not a missing one
        for row in np.flatnonzero(ok.to_numpy() & (codes < 0)):
            values[row] = []
    return pd.Series(values, index=column.index, dtype=object)


def _key_of(value: Any) -> tuple[str, ...] | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return tuple(_codes_list(value))
    return tuple(str(code) for code in value)  # a list or array from Parquet


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by ``gabacalc cohort`` back with its column types.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` results file (Parquet needs pyarrow).

    Returns
    -------
    pandas.DataFrame
        One row per patient, typed as :func:`typed_results` says (dates as dates, whole mg
        as ``Int64``, booleans as ``boolean``, ``flag_codes`` as lists, ids as text), with
        the stamp (``verification``, ``gabacalc_version``, ``rules_version``,
        ``rules_sha256``) in ``attrs``.

    Raises
    ------
    InputError
        The file is neither .csv nor .parquet, or is Parquet and pyarrow is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text(
    ...     "id,age_years,sex,weight_kg,scr,start_date\\n00123,72,female,60,1.3,2026-01-05\\n")
    >>> _ = run_cohort_file(folder / "cohort.csv", folder / "results.csv")
    >>> back = read_results(folder / "results.csv")
    >>> back.loc[0, "id"], back["review_date"].dtype, back["max_daily_mg"].dtype
    ('00123', dtype('<M8[s]'), Int64Dtype())
    >>> back.attrs["verification"]
    'Illustrative plan - requires physician verification'
    """
    source = Path(path)
    return _read_results_from(source, _format_of(source, "results"))


#: The name read_results had before it was exported as ``gabacalc.read_results``.
read_cohort_results = read_results


def _read_results_from(source: Path | IO[bytes], fmt: str) -> pd.DataFrame:
    """:func:`read_results` for a path or an open binary file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(source)
        frame = table.to_pandas(date_as_object=False)
        meta = table.schema.metadata or {}
        stamp = {k.decode()[9:]: v.decode() for k, v in meta.items() if k.startswith(b"gabacalc.")}
    else:
        header = pd.read_csv(source, nrows=0, encoding="utf-8").columns
        if not isinstance(source, Path):
            source.seek(0)
        kinds = {name: _kind(name) for name in header}
        dtypes = {"int": "Int64", "float": "float64", "bool": "boolean"}
        frame = pd.read_csv(
            source,
            dtype={name: dtypes.get(kind, "str") for name, kind in kinds.items()},
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
        )
        stamp = {}
        for name in TRACE_COLUMNS:
            if name in frame.columns and len(frame):
                stamp[name] = str(frame[name].iloc[0])
    typed = typed_results(frame)
    typed.attrs.update(stamp)
    return typed


# ------------------------------------------------------------------------------ reading


def _chunks(
    source: Path, in_format: str, chunk_rows: int, dialect: _Dialect | None = None
) -> Iterator[tuple[Any, int, int]]:
    """(chunk, done, total) in file order; the columns are checked first.

    A CSV chunk is a :class:`_CsvBlock` (its rows as bytes, parsed where it is planned); a
    Parquet chunk is a DataFrame. A pipe's size is not known: its total is what was read.
    """
    if in_format == "parquet":
        yield from _parquet_chunks(source, chunk_rows)
        return
    with contextlib.ExitStack() as stack:
        position: Callable[[], int] | None = None
        if str(source) == STDIN:  # no size to show progress against: total 0
            raw: IO[bytes] = sys.stdin.buffer
            total, position = 0, lambda: 0
        elif not source.is_file():  # a pipe (FIFO): no size either
            raw = stack.enter_context(_open_input(source))
            total, position = 0, lambda: 0
        else:
            total = source.stat().st_size
            raw = stack.enter_context(_open_input(source))
            if _is_gzip(source):
                packed = raw
                unpacked = gzip.GzipFile(fileobj=packed, mode="rb")
                stack.callback(unpacked.close)
                raw = cast(IO[bytes], unpacked)
                position = functools.partial(lambda f: min(f.tell(), total), packed)
        try:
            yield from _csv_blocks(source, raw, total, chunk_rows, position, dialect or _Dialect())
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise InputError(
                f"cannot read the cohort {str(source)!r} as gzip-compressed CSV ({error}); "
                "nothing was written",
                field="input",
            ) from None
        except _StrayQuote as stray:
            raise InputError(
                f"cannot read the cohort {str(source)!r} as CSV: line {stray.line:,} has a "
                "double quote inside a cell that does not start with one (as in 5'10\"); "
                'put that cell in double quotes, doubling its quote ("5\'10"""), or remove '
                "the quote; nothing was written",
                field="input",
            ) from None


def _open_input(source: Path) -> IO[bytes]:
    try:
        return source.open("rb")
    except OSError as error:
        raise InputError(
            f"cannot read the cohort {str(source)!r}: {error.strerror or error}", field="input"
        ) from None


def _csv_blocks(
    source: Path,
    raw: IO[bytes],
    total: int,
    chunk_rows: int,
    position: Callable[[], int] | None = None,
    dialect: _Dialect | None = None,
) -> Iterator[tuple[_CsvBlock, int, int]]:
    dialect = dialect or _Dialect()
    blocks = _row_blocks(raw, chunk_rows, dialect.delimiter)
    header = next(blocks, None)
    if header is None:
        raise InputError(
            f"the cohort {str(source)!r} is empty: it needs a header row, e.g. "
            "id,age_years,sex,weight_kg,scr",
            field="input",
        )
    after_header = header[1] + 1
    _check_header(source, header[0], dialect)
    check_columns(
        printable(str(c))
        for c in _CsvBlock(str(source), header[0], b"", after_header, dialect).frame().columns
    )
    any_rows = False
    for body, first_line, done in blocks:
        where = done if position is None else position()
        yield _CsvBlock(str(source), header[0], body, first_line, dialect), where, total
        any_rows = True
    if not any_rows:  # a header and no rows: no patients, and a results file that says so
        yield _CsvBlock(str(source), header[0], b"", after_header, dialect), total, total


@dataclass(frozen=True)
class _Dialect:
    """How cells are separated and decimals written (``--delimiter``, ``--decimal``)."""

    delimiter: str = ","
    decimal: str = "."


def _dialect(delimiter: str, decimal: str) -> _Dialect:
    named = {"tab": "\t", "\\t": "\t"}
    delimiter = named.get(delimiter.lower(), delimiter) if isinstance(delimiter, str) else ""
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r") or delimiter.isalnum():
        raise InputError(
            f"delimiter {delimiter!r} is not one character that separates cells; give "
            "e.g. --delimiter ';' (or tab)",
            field="delimiter",
        )
    if decimal not in (".", ","):
        raise InputError(
            f"decimal mark {decimal!r} is not one of: . or ,; give --decimal ','",
            field="decimal",
        )
    if decimal == delimiter:
        raise InputError(
            f"the decimal mark and the delimiter are both {decimal!r}; a file with decimal "
            "commas separates cells with ';': give --delimiter ';' --decimal ','",
            field="decimal",
        )
    return _Dialect(delimiter, decimal)


def _check_header(source: Path, header: bytes, dialect: _Dialect) -> None:
    """Refuse a header that names a column twice, and one that looks separated by another
    character than the delimiter (a ``;`` file read as ``,``), with the fix."""
    text = header.decode("utf-8-sig", errors="replace").strip("\r\n")
    names = next(csv.reader([text], delimiter=dialect.delimiter), [])
    seen: dict[str, int] = {}
    for k, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"the cohort {str(source)!r} has the column {printable(name)!r} twice (columns "
                f"{seen[name]} and {k}); which one to use is not clear: remove or rename one",
                field="input",
            )
        seen[name] = k
    if len(names) > 1:
        return
    for other, word, option in ((";", "semicolon", "';'"), ("\t", "tab", "tab")):
        if other != dialect.delimiter and other in text:
            raise InputError(
                f"the cohort {str(source)!r} looks like a {word}-separated file (its header "
                f"has {word}s and no {dialect.delimiter!r}); pass --delimiter {option}"
                + (" (and --decimal ',' if numbers are written like 1,3)" if other == ";" else ""),
                field="input",
            )


def _row_blocks(
    raw: IO[bytes], chunk_rows: int, delimiter: str = ","
) -> Iterator[tuple[bytes, int, int]]:
    """The header line, then blocks of up to ``chunk_rows`` lines: (bytes, the file's line
    number of the first line, bytes of the file read up to the block's end).

    Lines end at a line end outside double quotes (a quoted cell may hold one): ``\\n``,
    ``\\r\\n`` or a lone ``\\r`` (old Mac and Excel exports), so a block always holds whole
    rows. Blank lines before the header, and blocks of blank
    lines only, are skipped (as pandas skips blank lines) but counted. Reads a few MB at
    a time.

    Raises
    ------
    _StrayQuote
        A double quote opens a quoted section inside a cell (``5'10"``): which newlines
        end rows is then ambiguous, so the file is refused rather than split wrongly.
    """
    pending = b""  # bytes read since the last block
    ends: list[int] = []  # line ends in pending (offsets just after each newline)
    quoted = False  # inside a quoted cell at the end of pending
    header_done = False
    previous = _NEWLINE  # the byte before the next read (a line start at the file's start)
    lines = 0  # lines before pending
    offset = 0  # the file's bytes before pending
    starts = np.array([ord(delimiter), _NEWLINE, _CR, _QUOTE], dtype=np.uint8)
    # From a pipe, take what has come (read would wait for 4 MB): rows are planned as
    # they arrive. From a file, read1 gives the same 4 MB reads.
    read = getattr(raw, "read1", raw.read)
    while True:
        data = read(_READ_BYTES)
        while data.endswith(b"\r"):  # a line end: alone, or the first half of \r\n
            more = raw.read(1)
            if not more:
                break
            data += more
        if data:
            if offset == 0 and not pending and data[:3] == _BOM:
                data = data[3:]  # pandas reads the mark itself; the header stays whole
                pending = _BOM
            found, quoted, stray = _line_ends(data, quoted, previous, starts)
            if stray is not None:
                raise _StrayQuote(lines + len(ends) + int(np.count_nonzero(found < stray)) + 1)
            ends.extend((found + len(pending) + 1).tolist())
            pending += data
            previous = pending[-1]
        start = used = 0
        while used < len(ends):
            need = chunk_rows if header_done else 1
            if len(ends) - used < need:
                break
            cut = ends[used + need - 1]
            block, first_line = pending[start:cut], lines + used + 1
            start, used = cut, used + need
            if block.strip(_BLANK):
                yield block, first_line, offset + cut
                header_done = True
        lines += used
        offset += start
        pending, ends = pending[start:], [e - start for e in ends[used:]]
        if not data:
            break
    if pending.strip(_BLANK):  # the last lines (the last perhaps without a newline)
        yield pending, lines + 1, offset + len(pending)


_BLANK = b"\xef\xbb\xbf \t\r\n"  # a byte-order mark and white space
_NEWLINE, _CR, _QUOTE = ord("\n"), ord("\r"), ord('"')
_CELL_STARTS = np.array([ord(","), _NEWLINE, _CR, _QUOTE], dtype=np.uint8)


def _line_ends(
    data: bytes, quoted: bool, previous: int, starts: np.ndarray = _CELL_STARTS
) -> tuple[np.ndarray, bool, int | None]:
    """Where rows end in ``data``: offsets of the line ends (the last byte of each: ``\\n``,
    or a ``\\r`` not followed by ``\\n``) outside quoted cells, whether a quoted cell is left
    open, and the offset of a stray quote (None if there is none). ``starts`` are the
    bytes a quoted cell may follow (the delimiter, line ends, a quote).

    ``quoted`` and ``previous`` (the byte before ``data``) carry on from the bytes before.
    A quote that opens a quoted section must start a cell: follow a comma, a line end, or
    another quote (a quote inside a quoted cell is written twice); one that does not is
    stray.
    """
    codes = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(codes == _NEWLINE)
    returns = np.flatnonzero(codes == _CR)
    if len(returns):
        after = codes[np.minimum(returns + 1, len(codes) - 1)]
        lone = returns[(returns + 1 == len(codes)) | (after != _NEWLINE)]
        if len(lone):
            newlines = np.sort(np.concatenate([newlines, lone]))
    quotes = np.flatnonzero(codes == _QUOTE)
    if len(quotes) == 0:
        return (newlines if not quoted else newlines[:0]), quoted, None
    opening = quotes[(np.arange(len(quotes)) + int(quoted)) % 2 == 0]
    before_opening = np.where(opening > 0, codes[np.maximum(opening - 1, 0)], previous)
    stray = opening[~np.isin(before_opening, starts)]
    before = np.searchsorted(quotes, newlines) + int(quoted)  # quotes before each newline
    return (
        newlines[before % 2 == 0],
        (len(quotes) + int(quoted)) % 2 == 1,
        int(stray[0]) if len(stray) else None,
    )


def _line_count(data: bytes) -> int:
    """Line ends in ``data``: ``\\n``, ``\\r\\n`` and a lone ``\\r`` each count once."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


class _StrayQuote(Exception):
    """A double quote inside a cell that does not start with one, on ``line``."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


_BOM = b"\xef\xbb\xbf"
_READ_BYTES = 1 << 22


@dataclass(frozen=True)
class _CsvBlock:
    """Whole rows of a CSV file, as bytes, with the header line: parsed where it is planned."""

    source: str
    header: bytes
    body: bytes
    first_line: int  # the file's line number of the body's first line
    dialect: _Dialect = _Dialect()

    def frame(self) -> pd.DataFrame:
        """The rows as pandas reads them, text columns as text, index the rows' line numbers.

        A row with more cells than the header has columns is refused wherever it is (pandas
        would take a first row like that as an index column and shift every cell). Messages
        name the line of the file (pandas counts from this block's header).
        """
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    io.BytesIO(self.header + self.body),
                    dtype=_TEXT_COLUMNS,
                    keep_default_na=False,
                    na_values=[""],
                    index_col=False,
                    encoding="utf-8-sig",
                    sep=self.dialect.delimiter,
                    decimal=self.dialect.decimal,
                )
        except pd.errors.ParserWarning:
            blank = _line_count(self.body[: len(self.body) - len(self.body.lstrip(_BLANK))])
            raise InputError(
                f"cannot read the cohort {self.source!r} as CSV: the row on line "
                f"{self.first_line + blank:,} has more cells than the header has columns; "
                "nothing was written",
                field="input",
            ) from None
        except pd.errors.ParserError as error:
            text = re.sub(
                r"\b(line|row) (\d+)",
                lambda m: f"line {self._file_line(m.group(1), int(m.group(2))):,}",
                str(error).strip(),
            )
            raise InputError(
                f"cannot read the cohort {self.source!r} as CSV: {text}; nothing was written",
                field="input",
            ) from None
        except UnicodeDecodeError as error:
            raise InputError(
                f"the cohort {self.source!r} is not UTF-8 text ({error.reason} on or after "
                f"line {self.first_line:,}); save it as CSV UTF-8",
                field="input",
            ) from None
        frame.index = pd.RangeIndex(self.first_line, self.first_line + len(frame))
        return frame

    def _file_line(self, kind: str, number: int) -> int:
        """The file's line for pandas' "line n" (1 is the header) or "row n" (0 is)."""
        block_line = number if kind == "line" else number + 1
        return self.first_line + block_line - 2


def _parquet_chunks(source: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, int, int]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
    except Exception as error:  # pyarrow raises several types for a file it cannot read
        raise InputError(f"cannot read the cohort {str(source)!r} as Parquet: {error}") from None
    total = parquet.metadata.num_rows
    names = [str(name) for name in parquet.schema_arrow.names]
    for k, name in enumerate(names):
        if name in names[:k]:
            raise InputError(
                f"the cohort {str(source)!r} has the column {printable(name)!r} twice (columns "
                f"{names.index(name) + 1} and {k + 1}); which one to use is not clear: remove "
                "or rename one",
                field="input",
            )
    check_columns(printable(name) for name in names)
    wanted = [name for name in names if name in INPUT_COLUMNS]
    done = 0
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
            chunk = _plain_frame(batch)
            chunk.index = pd.RangeIndex(done, done + len(chunk))
            done += len(chunk)
            yield chunk, done, total
        if done == 0:  # no rows: no patients, and a results file that says so
            yield _plain_frame(parquet.schema_arrow.empty_table().select(wanted)), 0, 0
    except OSError as error:  # pyarrow's error for a file cut short or damaged
        raise InputError(f"cannot read the cohort {str(source)!r} as Parquet: {error}") from None


def _nested_word(kind: Any) -> str:
    """``a list``, ``a struct``, ``a map``, ``a list of lists``: what a nested cell is."""
    import pyarrow as pa

    if pa.types.is_map(kind):
        return "a map"
    if pa.types.is_struct(kind):
        return "a struct"
    if pa.types.is_nested(kind.value_type):
        return f"a list of {_nested_word(kind.value_type)[2:]}s"
    return "a list"


#: Parquet columns where a list cell makes sense: read as ";"-separated text, as in a CSV.
_LIST_COLUMNS = ("risks", "strengths_mg", "dialysis_days")


def _plain_frame(batch: Any) -> pd.DataFrame:
    """A Parquet batch as the cells a CSV would give: ids as text exactly as stored (a
    float id is written in full, never rounded); a list in a list column as
    ``;``-separated text (an empty list as missing); any other nested cell (a list where a
    single value belongs, a struct, a map) as a word for what it is (``[a struct]``),
    which that column's check refuses for that row, naming it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        kind = column.type
        if name == "id" and not pa.types.is_string(kind):
            if pa.types.is_floating(kind):
                column = pa.array(
                    [
                        None if v is None else np.format_float_positional(v, trim="-")
                        for v in column.to_pylist()
                    ],
                    type=pa.string(),
                )
            elif pa.types.is_nested(kind):
                column = pa.array(
                    [None if v is None else str(v) for v in column.to_pylist()], type=pa.string()
                )
            else:
                column = pc.cast(column, pa.string())
        elif (
            name in _LIST_COLUMNS
            and (pa.types.is_list(kind) or pa.types.is_large_list(kind))
            and not pa.types.is_nested(kind.value_type)
        ):
            texts = pc.cast(column, pa.list_(pa.string()))
            joined = pc.binary_join(texts, ";")
            column = pc.if_else(pc.equal(pc.list_value_length(texts), 0), None, joined)
        elif pa.types.is_nested(kind):
            word = f"[{_nested_word(kind)}]"
            column = pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), word)
        columns[name] = column
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    for name in frame.columns:
        if name in _TEXT_COLUMNS and frame[name].dtype != object:
            frame[name] = frame[name].astype(object)  # as the CSV reader gives: plain cells
    return frame


# ------------------------------------------------------------------------------ writing


def _csv_renderer() -> Callable[[pd.DataFrame, bool, IO[bytes]], None]:
    """The CSV renderer: pyarrow's when it is installed (much faster), else plain Python."""
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return _render_csv
    return _render_csv_arrow


#: Rows rendered at a time by the Python renderer (bounds the memory it takes).
_RENDER_ROWS = 10_000


def _render_csv(frame: pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
    """Write a result chunk as CSV to ``sink`` (the header row first when ``header``).

    Both renderers give the same bytes: a header of quoted names; text quoted (``"``
    doubled) with a formula cell made harmless; whole numbers as digits; decimals rounded
    to 6 places and written in the shortest positional form (``1``, ``0.5``, ``32.449``);
    ``true``/``false``; an empty cell where a value is missing; ``\\n`` line ends. This one is
    plain Python: each distinct value of a column is written once (most result columns
    hold few), then the rows are joined.
    """
    if header:
        sink.write((",".join(_quoted(str(name)) for name in frame.columns) + "\n").encode())
    cells = [_csv_cells(frame[name]) for name in frame.columns]
    for start in range(0, len(frame), _RENDER_ROWS):
        rows = zip(*(column[start : start + _RENDER_ROWS] for column in cells), strict=True)
        sink.write(("\n".join(map(",".join, rows)) + "\n").encode("utf-8"))


def _render_csv_arrow(frame: pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
    """The same bytes as :func:`_render_csv`, written by pyarrow's CSV writer."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.table({str(name): _arrow_column(frame[name]) for name in frame.columns})
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, options)


def _harmless(text: str) -> str:
    """Prefix ``'`` to a text a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _quoted(text: str) -> str:
    return '"' + _harmless(text).replace('"', '""') + '"'


#: Decimals are written to this many places. Rounded values are 0 or at least 1e-6, and
#: every decimal result column is far below _FLOAT_MAX, where the writers' forms part.
_FLOAT_PLACES = 6
_FLOAT_MAX = 1e9


def _rounded(column: pd.Series) -> np.ndarray:
    values = np.round(column.to_numpy(dtype=np.float64, na_value=np.nan), _FLOAT_PLACES)
    if np.nanmax(np.abs(values), initial=0.0) > _FLOAT_MAX:
        raise AssertionError(f"gabacalc internal error: {column.name} has a value above 1e9")
    return values


def _float_text(value: float) -> str:
    """A rounded decimal in its shortest positional form: 1, 0.5, 0.00005."""
    text = repr(value)
    if "e" in text:  # Python writes values below 1e-4 with an exponent
        text = f"{value:.{_FLOAT_PLACES}f}".rstrip("0")
    return text[:-2] if text.endswith(".0") else text


def _csv_cells(column: pd.Series) -> np.ndarray:
    """Each cell of a column as CSV text (empty where missing), one format per value."""
    dtype = column.dtype
    if pd.api.types.is_float_dtype(dtype):
        codes, numbers = pd.factorize(_rounded(column), use_na_sentinel=True)
        texts = [_float_text(float(v)) for v in numbers]
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        if pd.api.types.is_bool_dtype(dtype):
            texts = ["true" if bool(v) else "false" for v in uniques]
        elif pd.api.types.is_integer_dtype(dtype):
            texts = [str(int(v)) for v in uniques]
        else:
            texts = [_quoted(str(v)) for v in uniques]
    table = np.array([*texts, ""], dtype=object)  # code -1 (missing) takes the last
    out: np.ndarray = table[codes]
    return out


def _arrow_column(column: pd.Series) -> Any:
    """A result column as pyarrow writes it for :class:`_ArrowCsvWriter`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = [_harmless(str(v)) for v in column.cat.categories]
        codes = column.cat.codes.to_numpy()
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))
    if pd.api.types.is_float_dtype(dtype):
        return pa.array(_rounded(column), from_pandas=True)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return pa.array(column, from_pandas=True)
    text = pa.array(column.astype("str"), type=pa.string(), from_pandas=True)
    risky = pc.match_substring_regex(text, "^[=+\\-@\t\r]")
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


class _ParquetWriter:
    """One typed Parquet file, a row group per chunk, the stamp in the schema metadata.

    Column types follow :func:`typed_results`: ids and text as ``string``, whole mg as
    ``int64``, decimals as ``double`` (not rounded), booleans as ``bool``, dates as
    ``date32``, ``flag_codes`` as ``list<string>``, enumerations as dictionary columns.
    """

    def __init__(self, handle: IO[bytes], trace: dict[str, str]) -> None:
        self.handle = handle
        self.trace = {f"gabacalc.{k}".encode(): v.encode() for k, v in trace.items()}
        self.writer: Any = None
        self.schema: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = [str(name) for name in frame.columns]
        if self.schema is None:
            fields = [pa.field(name, _ARROW_TYPES[_kind(name)]()) for name in names]
            self.schema = pa.schema(fields, metadata=self.trace)
            self.writer = pq.ParquetWriter(self.handle, self.schema)
        arrays = [_parquet_column(frame[name], _kind(name), frame) for name in names]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.handle.flush()


def _arrow_types() -> dict[str, Callable[[], Any]]:
    import pyarrow as pa

    return {
        "id": pa.string,
        "text": pa.string,
        "int": pa.int64,
        "float": pa.float64,
        "bool": pa.bool_,
        "date": pa.date32,
        "flags": lambda: pa.list_(pa.string()),
        "enum": lambda: pa.dictionary(pa.int32(), pa.string()),
    }


class _LazyTypes(dict):
    """The Arrow types by kind, made when first asked for (pyarrow is optional)."""

    def __missing__(self, kind: str) -> Callable[[], Any]:
        self.update(_arrow_types())
        return dict.__getitem__(self, kind)


_ARROW_TYPES: dict[str, Callable[[], Any]] = _LazyTypes()


def _parquet_column(column: pd.Series, kind: str, frame: pd.DataFrame) -> Any:
    """A result column as a typed Arrow array (see :class:`_ParquetWriter`)."""
    import pyarrow as pa

    if kind in ("int", "float", "bool"):
        return pa.array(column, type=_ARROW_TYPES[kind](), from_pandas=True)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)  # few distinct values
    indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
    if kind == "enum":
        return pa.DictionaryArray.from_arrays(indices, pa.array(uniques.astype("str")))
    if kind == "date":
        days = _dates(pd.Series(uniques)).to_numpy().astype("datetime64[D]")
        return pa.array(days, type=pa.date32()).take(indices)
    if kind == "flags":
        table = pa.array([_codes_list(v) for v in uniques], type=pa.list_(pa.string()))
        ok = (frame["status"].astype("str") == "ok").to_numpy()
        empty = len(uniques)  # a planned row without flags: an empty list
        filled = np.where((codes < 0) & ok, empty, codes)
        table = pa.concat_arrays([table, pa.array([[]], type=pa.list_(pa.string()))])
        return table.take(pa.array(filled, type=pa.int32(), mask=filled < 0))
    texts = pa.array([str(v) for v in uniques], type=pa.string())
    return texts.take(indices)
