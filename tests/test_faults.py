"""Faults and hostile input (issue 15): nothing lost, nothing replaced, nothing left behind.

Each test is one promise a user relies on: an output is written whole or not at all, through
links and to devices as named, with the user's umask; a signal or a kill ends every process
the command started and leaves no temporary file; a row is never dropped or merged; every
refusal is one line naming the value or file as given, the allowed range or form, and a hint.

Every process a test starts has a timeout and is reaped. Waiting for a state (workers
started, a temporary file made) polls with a deadline; nothing asserts on time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from gabacalc.cli import main
from gabacalc.core.wording import VERIFICATION_TEXT
from gabacalc.errors import InputError
from gabacalc.files.cohort_io import read_cohort_results, run_cohort_file

EXAMPLE = [
    "--age", "72", "--sex", "female", "--weight-kg", "60", "--height-cm", "160",
    "--scr", "1.3", "--start-date", "2026-01-05",
]  # fmt: skip
HEADER = "id,age_years,sex,weight_kg,scr\n"
ROW = "p{k},72,female,60,1.3\n"
TIMEOUT_S = 60  # the most any process a test starts may take before it is killed


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".gabacalc-"))


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


#: The command line with another thread running (as in Jupyter): workers then come from a
#: fork server, not copies of the process.
THREADED = (
    "import sys, threading; threading.Thread(target=threading.Event().wait, daemon=True)"
    ".start(); from gabacalc.cli import main; sys.argv[0] = 'gabacalc'; main()"
)


def gabacalc_process(
    *args: str, cwd: Path, threaded: bool = False, **kw: object
) -> subprocess.Popen[bytes]:
    """``python -m gabacalc ...`` in its own session (so a test can end all it started)."""
    start = ["-c", THREADED] if threaded else ["-m", "gabacalc"]
    return subprocess.Popen(
        [sys.executable, *start, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **kw,  # type: ignore[arg-type]
    )


@contextlib.contextmanager
def reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """End the process's whole session however the test ends, and reap it."""
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=TIMEOUT_S)


@contextlib.contextmanager
def small_disk(folder: Path, size: str, *, read_only: bool = False) -> Iterator[bool]:
    """A tmpfs of ``size`` mounted on ``folder`` (True), or False if it cannot be mounted."""
    folder.mkdir()
    options = f"size={size}"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        (folder / "plan.csv").write_text("old plan\n")
        if read_only:
            subprocess.run(
                ["mount", "-o", f"remount,ro,{options}", str(folder)],
                timeout=TIMEOUT_S,
                check=True,
            )
        yield True
    finally:
        subprocess.run(["umount", str(folder)], timeout=TIMEOUT_S, check=False)


# ---------------------------------------------------------------- written as named


def test_dev_null_stays_a_device() -> None:
    code, _, err = run("plan", *EXAMPLE, "--csv", "/dev/null")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_cohort_written_to_dev_null_leaves_it_a_device(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + ROW.format(k=1))
    report = run_cohort_file(source, "/dev/null")
    assert report.rows == 1
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert leftovers(tmp_path) == []


def test_a_symlink_is_written_through_and_the_target_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to("real.csv")
    code, _, err = run("plan", *EXAMPLE, "--csv", str(link))
    assert code == 0, err
    assert link.is_symlink()
    written = target.read_text()
    assert written.startswith("date,day,") and VERIFICATION_TEXT in written
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    code, _, err = run("plan", *EXAMPLE, "--json", str(link))
    assert code == 0, err
    assert link.is_symlink() and (tmp_path / "made.json").read_text().startswith("{")


def test_a_fifo_output_is_written_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run("plan", *EXAMPLE, "--csv", str(fifo))
    reader.join(TIMEOUT_S)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and got[0].startswith(b"date,day,") and VERIFICATION_TEXT.encode() in got[0]


def test_dev_stdout_is_written_when_it_is_a_pipe(tmp_path: Path) -> None:
    """/dev/stdout names the pipe the command's output goes to (a link with no path
    behind it): the results are written into the pipe, as to a FIFO."""
    source = tmp_path / "in.csv"
    source.write_text(HEADER + ROW.format(k=1))
    for args in (
        ["cohort", str(source), "--out", "/dev/stdout", "-q"],
        ["plan", *EXAMPLE, "--csv", "/dev/stdout"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "gabacalc", *args],
            capture_output=True, cwd=tmp_path, check=False,
            timeout=TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert VERIFICATION_TEXT.encode() in done.stdout
    assert leftovers(tmp_path) == []


def test_dash_writes_to_stdout() -> None:
    code, out, err = run("plan", *EXAMPLE, "--csv", "-")
    assert code == 0, err
    assert out.startswith("date,day,") and VERIFICATION_TEXT in out


# ---------------------------------------------------------------- all or nothing


def test_one_output_that_is_a_folder_leaves_every_other_output_as_it_was(tmp_path: Path) -> None:
    old = tmp_path / "plan.csv"
    old.write_text("old plan\n")
    (tmp_path / "adir").mkdir()
    code, _, err = run("plan", *EXAMPLE, "--csv", str(old), "--json", str(tmp_path / "adir"))
    assert code == 2
    assert err.strip() == (
        f"Error: output {str(tmp_path / 'adir')!r} is a folder; give a file name inside it"
    )
    assert old.read_text() == "old plan\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("csv_name", "json_name"),
    [("same.out", "same.out"), ("same.out", "./same.out"), ("link.out", "same.out")],
)
def test_the_same_file_named_twice_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv_name: str, json_name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "same.out").write_text("old")
    (tmp_path / "link.out").symlink_to("same.out")
    code, _, err = run("plan", *EXAMPLE, "--csv", csv_name, "--json", json_name)
    assert code == 2
    assert err.strip() == (
        f"Error: {json_name!r} is named twice as an output; give each output its own file"
    )
    assert (tmp_path / "same.out").read_text() == "old"


# ---------------------------------------------------------------- permissions and names


@pytest.mark.parametrize(("mask", "mode"), [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_new_outputs_follow_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        code, _, err = run("plan", *EXAMPLE, "--csv", str(tmp_path / "p.csv"))
        report = run_cohort_file(_cohort(tmp_path, 2), tmp_path / "c.csv")
    finally:
        os.umask(old)
    assert code == 0, err
    assert report.rows == 2
    assert stat.S_IMODE((tmp_path / "p.csv").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "c.csv").stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    out.write_text("old")
    out.chmod(0o600)
    code, _, err = run("plan", *EXAMPLE, "--csv", str(out))
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("length", [249, 255])
def test_a_legal_long_output_name_is_written(tmp_path: Path, length: int) -> None:
    name = "a" * (length - 4) + ".csv"
    code, _, err = run("plan", *EXAMPLE, "--csv", str(tmp_path / name))
    assert code == 0, err
    assert (tmp_path / name).is_file()
    assert leftovers(tmp_path) == []


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    """On a small tmpfs when one can be mounted (ENOSPC); otherwise under ulimit -f (EFBIG)."""
    disk = tmp_path / "disk"
    with small_disk(disk, "8k") as mounted:
        if mounted:
            code, _, err = run("plan", *EXAMPLE, "--csv", str(disk / "plan.csv"))
            assert code == 1
            assert err.strip() == (
                f"Error: cannot write {str(disk / 'plan.csv')!r}: No space left on device; "
                "free some space or write to another disk"
            )
            assert (disk / "plan.csv").read_text() == "old plan\n"
            assert leftovers(disk) == []
            return
    _file_size_limit_names_the_file(tmp_path)


def test_a_file_size_limit_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    _file_size_limit_names_the_file(tmp_path)


def _file_size_limit_names_the_file(tmp_path: Path) -> None:
    import resource

    old = tmp_path / "plan.csv"
    old.write_text("old plan\n")
    limit = 4096  # the CSV is about 11 kB

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = subprocess.run(
        [sys.executable, "-m", "gabacalc", "plan", *EXAMPLE, "--csv", "plan.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=limited,
        check=False,
    )
    assert process.returncode == 1
    assert process.stderr.strip() == (
        "Error: cannot write 'plan.csv': File too large; the file is larger than this "
        "process may write (ulimit -f); raise the limit"
    )
    assert old.read_text() == "old plan\n"
    assert leftovers(tmp_path) == []


def test_a_read_only_folder_names_the_users_file_not_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only tmpfs when one can be mounted; otherwise the file system's refusal is
    stood in for (EROFS from creating the temporary file)."""
    disk = tmp_path / "ro"
    with small_disk(disk, "64k", read_only=True) as mounted:
        if not mounted:
            real_open = os.open

            def read_only(path: object, *args: object, **kw: object) -> int:
                if Path(str(path)).name.startswith(".gabacalc-"):
                    raise OSError(errno.EROFS, "Read-only file system", str(path))
                return real_open(path, *args, **kw)  # type: ignore[arg-type]

            monkeypatch.setattr(os, "open", read_only)
            (disk / "plan.csv").write_text("old plan\n")
        code, _, err = run("plan", *EXAMPLE, "--csv", str(disk / "plan.csv"))
        monkeypatch.undo()
        assert code == 1
        assert err.strip() == (
            f"Error: cannot write {str(disk / 'plan.csv')!r}: Read-only file system; "
            "the disk is mounted read-only; write to another folder"
        )
        assert (disk / "plan.csv").read_text() == "old plan\n"


def test_concurrent_writers_leave_one_whole_output(tmp_path: Path) -> None:
    """Three processes write the same file at once: it ends as one of them wrote it."""
    ages = ["70", "80", "90"]
    wanted = {}
    for age in ages:
        args = [*EXAMPLE[:1], age, *EXAMPLE[2:], "--csv", "-"]
        wanted[age] = run("plan", *args)[1].encode()
    processes = []
    with contextlib.ExitStack() as stack:
        for age in ages:
            args = ["plan", *EXAMPLE[:1], age, *EXAMPLE[2:], "--csv", "shared.csv"]
            processes.append(stack.enter_context(reaped(gabacalc_process(*args, cwd=tmp_path))))
        for process in processes:
            assert process.wait(TIMEOUT_S) == 0
    assert (tmp_path / "shared.csv").read_bytes() in wanted.values()
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- signals and kills


def _cohort(folder: Path, rows: int) -> Path:
    path = folder / "cohort.csv"
    path.write_text(HEADER + "".join(ROW.format(k=k) for k in range(rows)))
    return path


def _planned_rows(folder: Path) -> int:
    """Rows that workers have planned and written into the run's temporary output."""
    rows = 0
    for name in leftovers(folder):
        if name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                rows += (folder / name).read_bytes().count(b'\n"p')
    return rows


def _in_session(session: int) -> list[int]:
    """Processes still in a session (exited ones not yet reaped by their parent aside)."""
    members = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(pid) == session and psutil.Process(pid).status() != "zombie":
                members.append(pid)
    return members


def _workers_running(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.children(recursive=True)
    return []


@pytest.mark.parametrize(
    ("sig", "threaded"),
    [
        (signal.SIGTERM, False),
        (signal.SIGHUP, False),
        (signal.SIGINT, False),
        (signal.SIGKILL, False),
        (signal.SIGTERM, True),
        (signal.SIGKILL, True),
    ],
    ids=["TERM", "HUP", "INT", "KILL", "TERM-forkserver", "KILL-forkserver"],
)
def test_a_signal_mid_run_ends_every_process_and_keeps_the_old_output(
    tmp_path: Path, sig: signal.Signals, threaded: bool
) -> None:
    """The cohort reads a pipe the test holds open, so the run is mid-way (workers started,
    the temporary output open) for as long as the test needs; then the signal. Workers
    are copies of the run, or (another thread running, as in Jupyter) come from a fork
    server."""
    (tmp_path / "plans.csv").write_text("old results\n")
    fifo = tmp_path / "clinic.csv"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # never blocks; holds the pipe open (no end of file)
    try:
        os.write(writer, (HEADER + "".join(ROW.format(k=k) for k in range(6))).encode())
        args = ["cohort", "clinic.csv", "--out", "plans.csv", "--chunk-rows", "1"]
        run_process = gabacalc_process(*args, "--workers", "2", cwd=tmp_path, threaded=threaded)
        with reaped(run_process) as process:
            main_process = psutil.Process(process.pid)
            wait_until(lambda: len(_workers_running(main_process)) >= 1, "worker processes")
            wait_until(lambda: any(n.endswith(".tmp") for n in leftovers(tmp_path)), "temp")
            if threaded:
                # Known gap: a stop while a fork-server worker is still starting can make
                # it print multiprocessing's traceback; so here the workers are up (the
                # chunks in flight are planned: the run waits for the next row) first.
                wait_until(lambda: _planned_rows(tmp_path) >= 2, "planned chunks")
            children = _workers_running(main_process)
            os.kill(process.pid, sig)
            code = process.wait(TIMEOUT_S)
            _, alive = psutil.wait_procs(children, timeout=TIMEOUT_S)
            assert alive == [], f"{len(alive)} worker processes outlived the run"
            # and none started after the children were listed (the session is the run's)
            wait_until(lambda: _in_session(process.pid) == [], "the run's last process")
            stderr = process.stderr.read().decode() if process.stderr else ""
    finally:
        os.close(writer)
    assert (tmp_path / "plans.csv").read_text() == "old results\n"
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert leftovers(tmp_path), "a killed run cannot clean up; the next run does"
        _cohort(tmp_path, 1)
        report = run_cohort_file(tmp_path / "cohort.csv", tmp_path / "next.csv")
        assert report.rows == 1
    else:
        assert code == 1
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1] == "Aborted!"
    assert leftovers(tmp_path) == []


#: The command line with chunk 0 slow to plan (its worker writes its process id to
#: ``slow`` and sleeps), so the other worker finishes the chunks after it first and leaves
#: them to the run (their places in the output come after chunk 0's).
SLOW_FIRST_CHUNK = (
    "import os, sys, time, pathlib\n"
    "from gabacalc.files import cohort_pool\n"
    "real = cohort_pool.Planner.plan\n"
    "def plan(self, chunk, number=0):\n"
    "    if number == 0:\n"
    "        pathlib.Path('slow').write_text(str(os.getpid()))\n"
    "        time.sleep(600)\n"
    "    return real(self, chunk, number)\n"
    "cohort_pool.Planner.plan = plan\n"
    "from gabacalc.cli import main; sys.argv[0] = 'gabacalc'; main()"
)


@pytest.mark.parametrize("how", ["TERM to every process", "HUP to every process", "KILL a worker"])
def test_a_stop_while_a_chunk_waits_for_the_one_before_it_ends_cleanly(
    tmp_path: Path, how: str
) -> None:
    """Chunks planned while chunk 0 is still being planned wait for its place in the output:
    a signal to the whole process group (a closed terminal, ``kill -TERM -- -PGID``) or a
    worker killed outright then ends the run at once, every process with it, the old
    output kept and no temporary file left (no process waits on another that is gone)."""
    (tmp_path / "plans.csv").write_text("old results\n")
    _cohort(tmp_path, 8)
    args = ["cohort", "cohort.csv", "--out", "plans.csv", "--chunk-rows", "1", "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FIRST_CHUNK, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    with reaped(process):
        wait_until(lambda: (tmp_path / "slow").exists(), "chunk 0 being planned")
        parts: list[str] = []

        def chunks_left_to_the_run() -> bool:
            parts[:] = [
                name
                for folder in tmp_path.glob(".gabacalc-*.parts")
                for name in os.listdir(folder)
                if name.endswith(".csv")
            ]
            return len(parts) >= 2

        wait_until(chunks_left_to_the_run, "chunks after chunk 0 planned")
        children = psutil.Process(process.pid).children(recursive=True)
        if how == "KILL a worker":
            os.kill(int((tmp_path / "slow").read_text()), signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGTERM if how.startswith("TERM") else signal.SIGHUP)
        code = process.wait(TIMEOUT_S)
        _, alive = psutil.wait_procs(children, timeout=TIMEOUT_S)
        assert alive == [], f"{len(alive)} worker processes outlived the run"
        stderr = process.stderr.read().decode() if process.stderr else ""
    assert "Traceback" not in stderr
    if how == "KILL a worker":
        assert code == 1
        assert "a worker process stopped before it finished" in stderr
    else:
        assert code == 1 and stderr.strip().splitlines()[-1] == "Aborted!"
    assert (tmp_path / "plans.csv").read_text() == "old results\n"
    assert leftovers(tmp_path) == []


def test_another_runs_temporary_file_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / f".gabacalc-{os.getpid()}-0123456789ab.tmp"
    mine.write_text("in progress")
    gone = tmp_path / ".gabacalc-999999999-0123456789ab.tmp"  # no such process
    gone.write_text("left by a killed run")
    code, _, err = run("plan", *EXAMPLE, "--csv", str(tmp_path / "p.csv"))
    assert code == 0, err
    assert mine.exists() and not gone.exists()


# ---------------------------------------------------------------- cohort input


def _parquet(path: Path, **columns: object) -> Path:
    base: dict[str, object] = {
        "id": ["a", "b"],
        "age_years": [72, 72],
        "sex": ["female", "female"],
        "weight_kg": [60.0, 60.0],
        "scr": [1.3, 1.3],
    }
    pq.write_table(pa.table({**base, **columns}), path)
    return path


def test_parquet_list_cells_are_read_where_a_list_makes_sense(tmp_path: Path) -> None:
    source = _parquet(
        tmp_path / "in.parquet",
        risks=[["opioids", "falls"], []],
        strengths_mg=[[100, 300], None],
    )
    run_cohort_file(source, tmp_path / "out.csv")
    out = read_cohort_results(tmp_path / "out.csv").set_index("id")
    assert list(out["status"]) == ["ok", "ok"]
    assert {"RESP_OPIOIDS", "BEERS_FALLS"} <= set(out.loc["a", "flag_codes"])
    assert "RESP_OPIOIDS" not in out.loc["b", "flag_codes"]


@pytest.mark.parametrize(
    ("column", "cells", "error"),
    [
        ("age_years", pa.array([[72], [72]]), "age '[a list]' is not a number"),
        (
            "risks",
            pa.array([[("k", "v")], [("k", "v")]], type=pa.map_(pa.string(), pa.string())),
            "risk '[a map]' is not one of",
        ),
        ("sex", pa.array([{"x": 1}, {"x": 1}]), "sex '[a struct]' is not one of"),
    ],
)
def test_parquet_nested_cells_where_no_list_belongs_are_error_rows(
    tmp_path: Path, column: str, cells: object, error: str
) -> None:
    source = _parquet(tmp_path / "in.parquet", **{column: cells})
    report = run_cohort_file(source, tmp_path / "out.csv")
    out = read_cohort_results(tmp_path / "out.csv")
    assert report.rows == 2 and report.errors == 2
    assert all(reason.startswith(error) for reason in out["error"])


def test_float_ids_are_kept_exactly_and_never_merge(tmp_path: Path) -> None:
    ids = [1.5, 2.0, 1e10 + 0.5, 1.25, 1.2500001]
    source = _parquet(
        tmp_path / "in.parquet",
        id=ids,
        **{k: [v[0]] * 5 for k, v in {"age_years": [72], "sex": ["female"]}.items()},
        weight_kg=[60.0] * 5,
        scr=[1.3] * 5,
    )
    for out_name in ("out.csv", "out.parquet"):
        run_cohort_file(source, tmp_path / out_name)
        back = read_cohort_results(tmp_path / out_name)
        assert list(back["id"]) == ["1.5", "2", "10000000000.5", "1.25", "1.2500001"]
        assert set(back["status"]) == {"ok"}


def test_csv_ids_are_text_exactly_as_written(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    rows = ["007,72,female,60,1.3", "1.50,72,female,60,1.3", "1e3,72,female,60,1.3"]
    source.write_text(HEADER + "".join(row + "\n" for row in rows))
    run_cohort_file(source, tmp_path / "out.csv")
    assert list(read_cohort_results(tmp_path / "out.csv")["id"]) == ["007", "1.50", "1e3"]


def test_a_zero_row_parquet_gives_an_empty_results_file(tmp_path: Path) -> None:
    source = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string())}).append_column(
        "age_years", pa.array([], pa.int64())).append_column(
        "sex", pa.array([], pa.string())).append_column(
        "weight_kg", pa.array([], pa.float64())).append_column(
        "scr", pa.array([], pa.float64())), source)  # fmt: skip
    report = run_cohort_file(source, tmp_path / "out.csv")
    assert report.rows == 0
    back = read_cohort_results(tmp_path / "out.csv")
    assert len(back) == 0 and "status" in back.columns


def test_a_column_named_twice_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,age_years,sex,weight_kg,scr,scr\na,72,female,60,1.3,2.6\n")
    with pytest.raises(InputError) as refused:
        run_cohort_file(source, tmp_path / "out.csv")
    assert str(refused.value) == (
        f"the cohort {str(source)!r} has the column 'scr' twice (columns 5 and 6); which "
        "one to use is not clear: remove or rename one"
    )
    table = pa.Table.from_arrays(
        [pa.array(["a"]), pa.array([72]), pa.array(["female"]), pa.array([60.0])] * 1
        + [pa.array([1.3]), pa.array([2.6])],
        names=["id", "age_years", "sex", "weight_kg", "scr", "scr"],
    )
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(InputError, match="has the column 'scr' twice"):
        run_cohort_file(tmp_path / "in.parquet", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_cr_only_file_is_read_in_chunks_like_any_other(tmp_path: Path) -> None:
    rows = [ROW.format(k=k).strip() for k in range(10)]
    source = tmp_path / "old-excel.csv"
    source.write_bytes(("\r".join([HEADER.strip(), *rows]) + "\r").encode())
    unix = tmp_path / "unix.csv"
    unix.write_text(HEADER + "".join(r + "\n" for r in rows))
    report = run_cohort_file(source, tmp_path / "cr-out.csv", chunk_rows=3)
    run_cohort_file(unix, tmp_path / "lf-out.csv", chunk_rows=3)
    assert report.chunks == 4 and report.rows == 10
    assert (tmp_path / "cr-out.csv").read_bytes() == (tmp_path / "lf-out.csv").read_bytes()


def test_a_semicolon_file_is_named_as_such_and_read_with_delimiter_and_decimal(
    tmp_path: Path,
) -> None:
    source = tmp_path / "export.csv"
    source.write_text("id;age_years;sex;weight_kg;scr\na;72;female;60,5;1,3\n")
    code, _, err = run("cohort", str(source), "--out", str(tmp_path / "out.csv"))
    assert code == 2
    assert err.strip() == (
        f"Error: the cohort {str(source)!r} looks like a semicolon-separated file (its "
        "header has semicolons and no ','); pass --delimiter ';' (and --decimal ',' if "
        "numbers are written like 1,3)"
    )
    code, _, err = run(
        "cohort", str(source), "--out", str(tmp_path / "out.csv"),
        "--delimiter", ";", "--decimal", ",",
    )  # fmt: skip
    assert code == 0, err
    back = read_cohort_results(tmp_path / "out.csv")
    assert back.loc[0, "weight_used_kg"] == 60.5 and back.loc[0, "status"] == "ok"


def test_a_fifo_input_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "clinic.csv"
    os.mkfifo(fifo)
    data = (HEADER + "".join(ROW.format(k=k) for k in range(5))).encode()

    def feed() -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # open once the reader has (ENXIO before), so the data is not lost
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as error:
                if error.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        os.set_blocking(fd, True)
        os.write(fd, data)
        os.close(fd)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    report = run_cohort_file(fifo, tmp_path / "out.csv", chunk_rows=2)
    feeder.join(TIMEOUT_S)
    assert report.rows == 5 and report.errors == 0


def test_parquet_from_a_pipe_is_refused_with_the_fix(tmp_path: Path) -> None:
    fifo = tmp_path / "clinic.parquet"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="Parquet is read from a file, not a pipe"):
        run_cohort_file(fifo, tmp_path / "out.csv")


def test_numbers_far_out_of_range_are_error_rows_without_numpy_warnings(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,scr,height_cm\n"
        "1,70,female,1e308,1e-300,1e308\n2,1e309,male,-1e308,0,inf\n3,70,female,60,1,160\n"
    )
    process = subprocess.run(
        [sys.executable, "-m", "gabacalc", "cohort", "in.csv", "--out", "out.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert process.returncode == 0
    assert process.stderr == ""
    back = read_cohort_results(tmp_path / "out.csv")
    assert list(back["status"]) == ["error", "error", "ok"]
    assert back.loc[0, "error"] == "weight 1e+308 kg is outside 30-350 kg"


def test_control_characters_in_a_header_are_escaped(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,age,sex,weight_kg,scr,\x1b[2Jevil\n")
    code, _, err = run("cohort", str(source), "--out", str(tmp_path / "out.csv"))
    assert code == 2
    assert err.startswith("Error: the cohort has no age_years column; found: id, age, sex, "
                          "weight_kg, scr, \\x1b[2Jevil; expected")  # fmt: skip
    assert "\x1b" not in err


def test_control_characters_in_a_table_citation_are_escaped(tmp_path: Path) -> None:
    import shutil

    from gabacalc.rules import default_tables_dir, write_manifest

    folder = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), folder)
    sources = folder / "sources.csv"
    sources.write_text(sources.read_text().replace("NEURONTIN (gabapentin)", "NEURONTIN\x1b[31m"))
    write_manifest(folder, "2026.11.1-test")
    code, out, err = run("tables", "--dir", str(folder))
    assert code == 0, err
    assert "\x1b" not in out and "NEURONTIN\\x1b[31m" in out


def test_control_characters_in_a_file_name_are_escaped(tmp_path: Path) -> None:
    code, _, err = run("plan", *EXAMPLE, "--csv", str(tmp_path / "no-folder" / "a\x1b[2J.csv"))
    assert code == 1
    assert "\x1b" not in err and "a\\x1b[2J.csv" in err


# ---------------------------------------------------------------- dialysis days


@pytest.mark.parametrize("days", ["monkey,wedge", "mo,we", "m,w,f", "friday-ish"])
def test_dialysis_days_take_only_day_names_and_their_abbreviations(days: str) -> None:
    args = ["--age", "66", "--sex", "male", "--weight-kg", "80", "--dialysis", "hemodialysis"]
    code, _, err = run("plan", *args, "--dialysis-days", days)
    assert code == 2
    first = days.split(",")[0]
    assert err.strip() == (
        f"Error: dialysis day {first!r} is not a weekday; give day names or their "
        "abbreviations, e.g. mon,wed,fri or Monday,Wednesday,Friday"
    )


def test_dialysis_days_spelled_out_or_abbreviated_are_the_same_plan() -> None:
    args = ["--age", "66", "--sex", "male", "--weight-kg", "80", "--dialysis", "hemodialysis"]
    short = run("plan", *args, "--start-date", "2026-01-05", "--dialysis-days", "tue,thu,sat")
    long = run(
        "plan", *args, "--start-date", "2026-01-05",
        "--dialysis-days", "Tuesday,Thurs,SATURDAY",
    )  # fmt: skip
    assert short[0] == 0 and short == long


@pytest.mark.parametrize("days", ["mon,wed,fri,", " mon , ,wed,fri", "mon;wed;;fri;"])
def test_dialysis_days_skip_an_empty_item_as_the_other_lists_do(days: str) -> None:
    """A separator too many (a trailing comma, two in a row) is no day, as in strengths and
    risks; the days are the same plan as mon,wed,fri. No day at all is still refused."""
    args = ["--age", "66", "--sex", "male", "--weight-kg", "80", "--dialysis", "hemodialysis"]
    wanted = run("plan", *args, "--start-date", "2026-01-05", "--dialysis-days", "mon,wed,fri")
    got = run("plan", *args, "--start-date", "2026-01-05", "--dialysis-days", days)
    assert wanted[0] == 0 and got == wanted
    code, _, err = run("plan", *args, "--dialysis-days", " , ;")
    assert code == 2
    assert err.strip() == "Error: no dialysis days given; use e.g. mon,wed,fri"


def test_dialysis_days_without_hemodialysis_are_refused() -> None:
    code, _, err = run("plan", *EXAMPLE, "--dialysis-days", "mon,wed,fri")
    assert code == 2
    assert err.strip() == (
        "Error: dialysis days are given but dialysis is none; the days set the "
        "post-hemodialysis supplement: give dialysis hemodialysis (--dialysis hemodialysis), "
        "or leave the dialysis days out"
    )


def test_a_cohort_row_with_dialysis_days_but_no_hemodialysis_is_an_error_row(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,age_years,sex,weight_kg,scr,dialysis,dialysis_days\n"
        "a,72,female,60,1.3,none,mon;wed\n"
        "b,66,male,80,,hemodialysis,mon;wed\n"
        "c,72,female,60,1.3,none,\n"
    )
    run_cohort_file(source, tmp_path / "out.csv")
    back = read_cohort_results(tmp_path / "out.csv")
    assert list(back["status"]) == ["error", "ok", "ok"]
    assert back.loc[0, "error"].startswith("dialysis days are given but dialysis is none")


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--age", "17.999"], "Error: age 17.999 years is outside 18-110 years (gabacalc plans for adults)"),  # noqa: E501
        (["--age", "110.0001"], "Error: age 110.0001 years is outside 18-110 years (gabacalc plans for adults)"),  # noqa: E501
        (["--age", "1e309"], "Error: age '1e309' is not a finite number; allowed: 18-110 years"),
        (["--age", "nan"], "Error: age 'nan' is not a finite number; allowed: 18-110 years"),
        (["--age", "seventy"], "Error: age 'seventy' is not a number; allowed: 18-110 years"),
        (["--weight-kg", "29.9999"], "Error: weight 29.9999 kg is outside 30-350 kg"),
    ],
)  # fmt: skip
def test_a_refused_value_is_shown_as_given_with_its_range(args: list[str], message: str) -> None:
    base = dict(zip(EXAMPLE[::2], EXAMPLE[1::2], strict=True))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, _, err = run("crcl", *[x for k, v in base.items() if k != "--start-date" for x in (k, v)])
    assert code == 2
    assert err.strip() == message


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2026-02-30", "2026-02-30 does not exist: February 2026 has 28 days"),
        ("2028-02-30", "2028-02-30 does not exist: February 2028 has 29 days"),
        ("2026-13-01", "2026-13-01 does not exist: there is no month 13"),
        ("05/01/2026", "'05/01/2026' is not a date written YYYY-MM-DD, e.g. 2026-01-05"),
    ],
)
def test_a_start_date_that_does_not_exist_says_so(date: str, message: str) -> None:
    code, _, err = run("plan", *EXAMPLE[:-2], "--start-date", date)
    assert code == 2
    assert err.strip() == (
        f"Error: Invalid value for '--start-date': {message}; expected: Day 1, YYYY-MM-DD "
        "(default today); see 'gabacalc plan --help'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--agee", "3"], "Error: No such option '--agee'. (Did you mean one of: '--age', '--pagesize', '--taper'?); see 'gabacalc plan --help'"),  # noqa: E501
        (["cohort"], "Error: Missing argument 'INPUT'; see 'gabacalc cohort --help'"),
        (["plann"], "Error: No such command 'plann'. Did you mean 'plan'?; see 'gabacalc --help'"),
    ],
)  # fmt: skip
def test_clicks_own_refusals_are_one_line_with_a_hint(args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert err.splitlines() == [message]


def test_no_numpy_warning_reaches_stderr_from_the_command_line(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "gabacalc", "crcl", "--age", "70", "--sex", "female",
         "--weight-kg", "1e308", "--height-cm", "1e308", "--scr", "1e-300"],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert process.returncode == 2
    assert process.stderr == "Error: weight 1e+308 kg is outside 30-350 kg\n"


def test_the_cohort_results_keep_every_row_in_order(tmp_path: Path) -> None:
    """With workers, a chunk per row: every row once, in order (never dropped or merged)."""
    source = _cohort(tmp_path, 7)
    report = run_cohort_file(source, tmp_path / "out.csv", chunk_rows=1, workers=2)
    back = read_cohort_results(tmp_path / "out.csv")
    assert report.rows == 7
    assert list(back["id"]) == [f"p{k}" for k in range(7)]
    assert list(back["status"]) == ["ok"] * 7


def test_plan_cohort_takes_python_list_cells_and_refuses_nested_ones_per_row() -> None:
    from gabacalc import plan_cohort

    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "age_years": [72, 72, [70, 71]],
            "sex": ["female", {"x": 1}, "female"],
            "weight_kg": [60, 60, 60],
            "scr": [1.3, 1.3, 1.3],
            "risks": [["opioids"], ["falls"], ("falls",)],
            "strengths_mg": [[100, 300], None, None],
        }
    )
    out = plan_cohort(frame)
    assert list(out["status"]) == ["ok", "error", "error"]
    assert "RESP_OPIOIDS" in out.loc[0, "flag_codes"].split(";")
    assert out.loc[1, "error"] == "sex {'x': 1} is not one of: female, male"
    assert out.loc[2, "error"] == "age [70, 71] is not a number; allowed: 18-110 years"
