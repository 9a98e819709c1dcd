"""Planning chunks: in this process, or in worker processes that end with the run.

Chunks go to the workers in file order and come back in that order. A worker writes a
chunk's CSV into the output at the chunk's place when its turn has come, else to a part
file that the run puts in place (see :mod:`~gabacalc.files.cohort_share`).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import shutil
import signal
import stat
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort import plan_columns
from gabacalc.core.cohort_result import CodedColumn, ResultColumns, WholeColumn
from gabacalc.errors import GabacalcError
from gabacalc.files.atomic import temp_folder
from gabacalc.files.cohort_parse import CsvBlock
from gabacalc.files.cohort_share import (
    KeyShare,
    PlanCache,
    Turns,
    output_place,
    place_part,
    pwrite_all,
)
from gabacalc.files.cohort_write import csv_renderer, write_csv
from gabacalc.rules import Rules

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

COUNTS = ("rows", "errors", "flagged", "above_band_max", "too_many_doses")


def _chunk_counts(result: ResultColumns) -> dict[str, int]:
    """What a planned chunk adds to the report (see :class:`CohortReport`)."""
    ok = _is(result, "status", "ok")
    flagged = _is(result, "flag_severity", "warning")
    above = too_many = 0
    if "audit_too_many_doses" in result.columns:
        above_rows = _true(result, "audit_above_band_max")
        doses_rows = _true(result, "audit_too_many_doses")
        above, too_many = int(above_rows.sum()), int(doses_rows.sum())
        flagged |= doses_rows
    return {
        "rows": len(result),
        "errors": int((~ok).sum()),
        "flagged": int((flagged & ok).sum()),
        "above_band_max": above,
        "too_many_doses": too_many,
    }


def _is(result: ResultColumns, name: str, text: str) -> np.ndarray:
    """The rows whose text in column ``name`` is ``text``."""
    column = result.columns[name]
    assert isinstance(column, CodedColumn)
    matching = [k for k, entry in enumerate(column.texts()) if entry == text]
    return np.isin(column.codes, matching)


def _true(result: ResultColumns, name: str) -> np.ndarray:
    """The rows whose true/false column ``name`` is true (not empty)."""
    column = result.columns[name]
    assert isinstance(column, WholeColumn) and column.is_bool
    return column.values & column.present


@dataclass(frozen=True)
class Planned:
    """A planned chunk and its counts. The payload is, for Parquet, the result frame; for
    CSV, None (written already) or the part file a worker wrote it to."""

    payload: Any
    counts: dict[str, int]


class Planner:
    """Plans chunks one after another, keeping one plan per key across them (per file).

    What a worker process runs, too: each worker has its own, and shares its plans with
    the others through ``share`` (:class:`~gabacalc.files.cohort_share.KeyShare`).
    """

    def __init__(self, rules: Rules, today: date, out_format: str) -> None:
        self.rules, self.today = rules, today
        self.cache = PlanCache()
        self.render = csv_renderer() if out_format == "csv" else None
        self.share: KeyShare | None = None
        self.as_text: set[str] = set()  # text columns a CSV block reads as text at once

    def plan(self, chunk: pd.DataFrame | CsvBlock, number: int = 0) -> ResultColumns:
        """Chunk ``number``'s result (with the plans other workers shared first)."""
        if self.share is not None:
            self.share.take(number)
        if isinstance(chunk, CsvBlock):
            # A text column pandas read as numbers in one chunk (ids all digits) is read as
            # text at once in the next: not twice a chunk.
            frame, again = chunk.with_rows().read(self.as_text)
            self.as_text.update(again)
        else:
            frame = chunk
        return plan_columns(frame, self.rules, self.today, self.cache)

    def __call__(
        self, chunk: pd.DataFrame | CsvBlock, header: bool, sink: IO[bytes], number: int = 0
    ) -> Planned:
        """Plan a chunk; CSV results are written to ``sink`` (with the header row if asked)."""
        result = self.plan(chunk, number)
        if self.render is None:
            return Planned(result.frame(categorical=True), _chunk_counts(result))
        write_csv(self.render, result, header, sink)
        return Planned(None, _chunk_counts(result))


@dataclass(frozen=True)
class _Worker:
    """A worker process's planner, and where it writes CSV (None: to part files)."""

    planner: Planner
    output: int | None = None
    turns: Turns | None = None


_WORKER: list[_Worker] = []  # the worker of a worker process (set when it starts)


def _start_worker(
    rules: Rules,
    today: date,
    out_format: str,
    run: int,
    copied: bool,
    folder: Path,
    output: str | None,
    turns: Turns | None,
) -> None:
    _end_with_parent(run, copied)
    _collect_less()
    keep_freed_memory()
    planner = Planner(rules, today, out_format)
    planner.share = KeyShare(folder, rules, planner.cache)
    fd = None if output is None else os.open(output, os.O_WRONLY)
    _WORKER.append(_Worker(planner, fd, turns))


#: glibc's malloc settings in a worker (``mallopt``, from <malloc.h>): a block up to this
#: size [bytes] (glibc's largest) comes from the heap, not a mapping of its own; and freed
#: heap goes back to the system only when more than this [bytes] is free at its top.
_M_MMAP_THRESHOLD, _WORKER_MMAP_BYTES = -3, 32 << 20
_M_TRIM_THRESHOLD, _WORKER_TRIM_BYTES = -1, 1 << 30


def keep_freed_memory() -> bool:
    """Let a worker's C allocator keep the memory a chunk frees, for the next chunk.

    A chunk's arrays are a few MB each. glibc gives a block that large a mapping of its
    own and hands it back to the system when it is freed, so each chunk's arrays are
    written into fresh pages again, which the kernel must find and zero first (on a
    virtual machine, more costly still). Kept, they are reused: on the bench's million
    rows the run's page faults halve (about 130,000 to 73,000). The memory a worker holds
    at its peak is what it was (what is kept is what the next chunk takes again). True
    where the settings took (glibc, on Linux); elsewhere nothing changes.

    Examples
    --------
    >>> keep_freed_memory() in (True, False)
    True
    """
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc: its mallopt (if any) takes other settings
    mallopt = libc.mallopt
    return bool(mallopt(_M_MMAP_THRESHOLD, _WORKER_MMAP_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _WORKER_TRIM_BYTES)
    )


#: A worker's first-generation collection threshold (Python's default is 700).
_WORKER_GC_THRESHOLD = 10_000


def _collect_less() -> None:
    """Let a worker's garbage collector skip what the worker started with, and run less.

    A worker is a process of its own that only plans chunks: the modules and tables it
    started with are never garbage, so they are set aside (:func:`gc.freeze`: the
    collector no longer walks them, nor writes to the pages they share with the process
    the worker was copied from); and a chunk makes and drops many objects at once, so
    collecting every 700 new ones is too often (the plans a worker keeps grow its later
    collections). Together about 3 % of a worker's time.
    """
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(_WORKER_GC_THRESHOLD, *older)


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


def _plan_in_worker(chunk: pd.DataFrame | CsvBlock, number: int, part: Path) -> Planned:
    """Plan chunk ``number`` in a worker. Its CSV goes into the output at the chunk's place
    if its turn comes in time (payload None), else to the file ``part`` (the payload); not
    back through a pipe."""
    worker = _WORKER[0]
    planner, header = worker.planner, number == 0
    assert planner.share is not None
    if worker.output is None or worker.turns is None or planner.render is None:
        with part.open("wb") as sink:
            planned = planner(chunk, header, sink, number)
        planner.share.publish(number)
        return planned if planned.payload is not None else Planned(part, planned.counts)
    result = planner.plan(chunk, number)
    del chunk
    planner.share.publish(number)  # before writing: the others may need them now
    pieces = list(planner.render(result, header))
    counts = _chunk_counts(result)
    del result
    start = worker.turns.try_take(number, sum(len(piece) for piece in pieces))
    if start is None:  # the chunk before is not in place yet: the run places this one
        with part.open("wb") as sink:
            for piece in pieces:
                sink.write(piece)
        return Planned(part, counts)
    for piece in pieces:
        start = pwrite_all(worker.output, piece, start)
    return Planned(None, counts)


_COPY_BYTES = 1 << 22


def append_part(part: Path, handle: IO[bytes]) -> None:
    """Append a worker's part file to the output, then remove it.

    Into a regular file the kernel copies the bytes where it can
    (:func:`~gabacalc.files.cohort_share.place_part`): they never pass through this
    process, which has the next chunks to hand out. A pipe or a device gets them written.
    """
    handle.flush()
    if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        place_part(part, handle.fileno(), handle.seek(0, os.SEEK_END))
        handle.seek(0, os.SEEK_END)  # the file object learns where the file now ends
        return
    with part.open("rb") as source:
        shutil.copyfileobj(source, handle, _COPY_BYTES)
    part.unlink()


def planned_chunks(
    chunks: Iterator[tuple[Any, int, int]],
    planner: tuple[Rules, date, str],
    workers: int,
    target: Path,
    handle: IO[bytes],
) -> Generator[tuple[Planned, int, int], None, None]:
    """(planned chunk, done, total) in file order, planned here or by worker processes.

    With workers, at most ``workers + 1`` chunks are in flight at once (memory stays flat)
    and results are taken in the order the chunks were read. A worker writes a chunk's
    CSV into ``handle``'s file at the chunk's place when it can reach it (a regular file on
    Linux; see :mod:`~gabacalc.files.cohort_share`), else to a part file in a temporary
    folder beside ``target``, which also holds the plans the workers share; the folder is
    removed when the run ends, however it ends.
    """
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None) if workers > 1 else None
    in_order = itertools.chain([first] if second is None else [first, second], chunks)
    if second is None:  # one process: no start-up cost for a small file
        here = Planner(*planner)
        for k, (chunk, done, total) in enumerate(in_order):
            yield here(chunk, k == 0, handle), done, total
        return
    context = pool_context(may_fork=isinstance(first[0], CsvBlock))
    copies = context.get_start_method() == "fork"  # the workers share this process's files
    folder = temp_folder(target)
    place = output_place(handle) if planner[2] == "csv" else None
    turns = None if place is None else Turns(context, place[1])
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(
            *planner,
            os.getpid(),
            copies,
            folder,
            None if place is None else place[0],
            turns,
        ),
    )
    try:
        pending: deque[tuple[Future[Planned], int, int, int]] = deque()
        for k, (chunk, done, total) in enumerate(in_order):
            part = folder / f"{k}.csv"
            if copies and isinstance(chunk, CsvBlock):  # a copy reads its rows itself
                chunk = chunk.without_rows()
            with _signals_held():  # submit may fork a worker
                future = pool.submit(_plan_in_worker, chunk, k, part)
            pending.append((future, k, done, total))
            del chunk
            if len(pending) > workers:
                future, number, done_then, total_then = pending.popleft()
                yield _in_place(future.result(), number, turns, handle), done_then, total_then
        while pending:
            future, number, done_then, total_then = pending.popleft()
            yield _in_place(future.result(), number, turns, handle), done_then, total_then
    except BrokenProcessPool:
        raise GabacalcError(
            "a worker process stopped before it finished (out of memory, or stopped from "
            "outside); run again with --workers 1 or a smaller --chunk-rows; nothing was "
            "written"
        ) from None
    finally:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        finally:  # the folder goes however the shutdown ends (a second Ctrl-C, say)
            shutil.rmtree(folder, ignore_errors=True)


def _in_place(planned: Planned, number: int, turns: Turns | None, handle: IO[bytes]) -> Planned:
    """A worker's planned chunk, its part file (if any) put in place in the output when
    the workers write there (else the run appends it in order)."""
    if turns is None or not isinstance(planned.payload, Path):
        return planned
    part = planned.payload
    place_part(part, handle.fileno(), turns.take(number, part.stat().st_size))
    return Planned(None, planned.counts)


def pool_context(*, may_fork: bool) -> Any:
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
