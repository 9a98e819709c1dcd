"""What the worker processes of one cohort run share: the plans they made, and the output.

- **Plans by key.** After each chunk a worker publishes the plans it made for the chunk's
  new keys, as one file in the run's temporary folder, and takes the other workers' files
  before its next chunk: a key met by both workers is planned about once instead of once
  by each. A plan is a pure function of its key and the rule tables, so whichever worker
  made it, the results are the same bytes. The folder is the run's own (mode 0700,
  removed when the run ends), so a plans file there was written by one of the run's
  workers. Sharing only saves time: a file that cannot be written or read is skipped.
- **The output.** A chunk's CSV takes its place in the run's temporary output in file
  order (:class:`Turns`). A worker whose chunk's turn has come (the chunk before it has
  taken its place) writes it there itself (``os.pwrite``): no part file, and no copy of
  its bytes through the run. One whose turn does not come within a few milliseconds
  leaves its chunk in a part file, which the run puts in place when it gets to it. No
  process waits for another for long, so a chunk that fails or a worker that dies leaves
  nobody waiting.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
import stat
import sys
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from gabacalc.errors import GabacalcError
from gabacalc.rules import Rules

__all__ = ["KeyShare", "PlanCache", "Turns", "output_place", "place_part", "pwrite_all"]

_PREFIX, _SUFFIX = "keys-", ".pickle"
#: The one persistent id in a plans file: the run's rule tables (each worker has them).
_RULES_ID = "rules"


class _Pickler(pickle.Pickler):
    """Pickles plans, writing the rule tables they refer to as a name, not a copy."""

    def __init__(self, file: io.BytesIO, rules: Rules) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.rules = rules

    def persistent_id(self, obj: Any) -> str | None:
        return _RULES_ID if obj is self.rules else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedReader, rules: Rules) -> None:
        super().__init__(file)
        self.rules = rules

    def persistent_load(self, pid: Any) -> Rules:
        if pid != _RULES_ID:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.rules


class PlanCache(dict[Hashable, Any]):
    """A worker's plans by key, remembering which keys were planned here (``cache[key] =``)
    since they were last published; plans taken from other workers are not."""

    def __init__(self) -> None:
        super().__init__()
        self.new: list[Hashable] = []

    def __setitem__(self, key: Hashable, value: Any) -> None:
        if key not in self:
            self.new.append(key)
        super().__setitem__(key, value)


class KeyShare:
    """One worker's view of the plans the run's workers share through ``folder``.

    :meth:`take` adds to ``cache`` the plans other workers published for the chunks before
    chunk ``number``; :meth:`publish` writes those planned here since the last publish as
    chunk ``number``'s file (an empty one if there are none: a later chunk then knows
    there is nothing to wait for). Each file is opened by its chunk's number, once.

    Examples
    --------
    >>> import tempfile
    >>> from gabacalc.rules import default_rules
    >>> folder, rules = Path(tempfile.mkdtemp()), default_rules()
    >>> one, two = KeyShare(folder, rules, PlanCache()), KeyShare(folder, rules, PlanCache())
    >>> one.cache[("key",)] = ({"max_daily_mg": 300}, rules, None)
    >>> one.publish(0)
    >>> two.take(1)
    >>> two.cache[("key",)][0], two.cache[("key",)][1] is rules
    ({'max_daily_mg': 300}, True)
    """

    def __init__(self, folder: Path, rules: Rules, cache: PlanCache) -> None:
        self.folder, self.rules, self.cache = folder, rules, cache
        self.looked_to = 0  # every chunk before this one is taken, or is in ``waiting``
        self.waiting: set[int] = set()  # earlier chunks whose file was not there yet
        self.own: set[int] = set()

    def take(self, number: int) -> None:
        """Add the plans published for chunks before ``number`` (keys planned here stay)."""
        self.waiting.update(range(self.looked_to, number))
        self.looked_to = max(self.looked_to, number)
        for chunk in sorted(self.waiting - self.own):
            try:
                with open(self._name(chunk), "rb") as file:
                    plans = _Unpickler(file, self.rules).load()
            except FileNotFoundError:
                continue  # not planned yet: looked for again before the next chunk
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
                plans = []  # sharing only saves time: this worker plans those keys itself
            self.waiting.discard(chunk)
            for key, plan in plans:
                self.cache.setdefault(key, plan)
        self.waiting -= self.own

    def publish(self, number: int) -> None:
        """Write the plans made here since the last publish as chunk ``number``'s file."""
        new = [(key, self.cache[key]) for key in self.cache.new]
        self.cache.new.clear()
        self.own.add(number)
        buffer = io.BytesIO()
        _Pickler(buffer, self.rules).dump(new)
        temp = self.folder / f"{_PREFIX}{number}{_SUFFIX}.part"
        with contextlib.suppress(OSError):  # sharing only saves time (a full disk, say)
            temp.write_bytes(buffer.getbuffer())
            os.replace(temp, self._name(number))  # others see all of it or nothing

    def _name(self, number: int) -> Path:
        return self.folder / f"{_PREFIX}{number}{_SUFFIX}"


class Turns:
    """Places in the output, taken by chunks in file order, shared by the run's workers.

    Chunk ``k``'s place starts where chunk ``k - 1``'s ends, so it can be taken only once
    chunk ``k - 1``'s has been: by its worker (:meth:`try_take`, which gives up after
    ``wait_s``), or by the run for a chunk left in a part file (:meth:`take`, always that
    chunk's turn, the run taking results in file order).
    """

    #: Seconds a worker waits for its chunk's turn before leaving the chunk in a part file.
    WAIT_S = 0.02
    #: Seconds anyone waits for the lock (held for microseconds; longer means its holder
    #: died with it, and the run is ending).
    LOCK_S = 1.0

    def __init__(self, context: Any, start: int) -> None:
        self.lock = context.Lock()
        self.next_chunk = context.RawValue("q", 0)
        self.offset = context.RawValue("q", start)

    def try_take(self, number: int, size: int, wait_s: float = WAIT_S) -> int | None:
        """Where chunk ``number`` of ``size`` bytes goes, if its turn comes within
        ``wait_s`` seconds; else None."""
        deadline, pause = time.monotonic() + wait_s, 0.0005
        while True:
            if self.next_chunk.value == number:  # a hint: looked at again under the lock
                start = self._take(number, size)
                if start is not None:
                    return start
            if time.monotonic() >= deadline:
                return None
            time.sleep(pause)
            pause = min(2 * pause, 0.004)

    def take(self, number: int, size: int) -> int:
        """Where chunk ``number`` goes, taken by the run: its turn has come."""
        start = self._take(number, size)
        if start is None:
            raise GabacalcError(
                f"gabacalc internal error: chunk {number} could not take its place in the "
                "output; nothing was written; please report it"
            )
        return start

    def _take(self, number: int, size: int) -> int | None:
        if not self.lock.acquire(timeout=self.LOCK_S):
            return None
        try:
            if self.next_chunk.value != number:
                return None
            start = int(self.offset.value)
            self.offset.value = start + size
            self.next_chunk.value = number + 1
            return start
        finally:
            self.lock.release()


def output_place(handle: Any) -> tuple[str, int] | None:
    """A path a worker can open the run's output through, and where its rows start.

    Only for a regular file on Linux (through ``/proc``, which also reaches the run's
    still unnamed temporary file); None otherwise (a device or a pipe is written in order
    by the run itself).
    """
    if sys.platform != "linux":
        return None
    try:
        fd = handle.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    path = f"/proc/{os.getpid()}/fd/{fd}"
    if not os.path.exists(path):
        return None
    handle.flush()
    return path, handle.tell()


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> int:
    """Write all of ``data`` at ``offset`` of the file ``fd`` (pwrite may write less);
    returns the offset after it."""
    view = memoryview(data).cast("B")
    while len(view):
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    return offset


def place_part(part: Path, fd: int, start: int) -> None:
    """Copy a worker's part file into the output ``fd`` at ``start``, then remove it.

    Between two regular files on Linux the kernel copies the bytes (``copy_file_range``);
    elsewhere they pass through this process.
    """
    with part.open("rb") as source:
        size, done = os.fstat(source.fileno()).st_size, 0
        while done < size:
            copied = _copied(source.fileno(), fd, size - done, done, start + done)
            if copied == 0:
                raise OSError(errno.EIO, f"the part file ended after {done:,} bytes")
            done += copied
    part.unlink()


#: What copy_file_range answers where it cannot copy between these two files.
_NOT_HERE = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF}


def _copied(source: int, target: int, count: int, at: int, to: int) -> int:
    if hasattr(os, "copy_file_range"):
        try:
            return os.copy_file_range(source, target, count, at, to)
        except OSError as error:
            if error.errno not in _NOT_HERE:
                raise
    data = os.pread(source, min(count, 1 << 22), at)
    if data:
        pwrite_all(target, data, to)
    return len(data)
