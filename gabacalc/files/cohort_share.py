"""What the worker processes of one cohort run share: the plans they made, and the output.

- **Plans by key.** A worker publishes the plans it made for a chunk's new keys as one file
  in the run's temporary folder, and takes the other workers' files before its next chunk,
  so a key met by both workers is planned about once instead of once by each. A plan is a
  pure function of its key and the rule tables, so whichever worker made it, the results
  are the same bytes. The folder is the run's own (mode 0700, removed when the run ends),
  so a plans file there was written by one of the run's workers.
- **The output.** A worker writes a chunk's CSV straight into the run's temporary output at
  the chunk's place in the file (``os.pwrite``), once the chunks before it have taken
  their places (:class:`Turns`): no part file, and no copy of every byte through the run.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import stat
import sys
from collections.abc import Hashable, MutableMapping
from pathlib import Path
from typing import Any

from gabacalc.errors import GabacalcError
from gabacalc.rules import Rules

__all__ = ["KeyShare", "Turns", "output_place", "pwrite_all"]

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


class KeyShare:
    """One worker's view of the plans the run's workers share through ``folder``.

    ``cache`` is the worker's own dict of plans by key. :meth:`take` adds the plans other
    workers published since the last call; :meth:`publish` writes those added to ``cache``
    since then (the worker's own new plans) as the file of chunk ``number``.

    Examples
    --------
    >>> import tempfile
    >>> from gabacalc.rules import default_rules
    >>> folder, rules = Path(tempfile.mkdtemp()), default_rules()
    >>> one, two = KeyShare(folder, rules, {}), KeyShare(folder, rules, {})
    >>> one.cache[("key",)] = ({"max_daily_mg": 300}, rules, None)
    >>> one.publish(0)
    >>> two.take()
    >>> two.cache[("key",)][0], two.cache[("key",)][1] is rules
    ({'max_daily_mg': 300}, True)
    """

    def __init__(self, folder: Path, rules: Rules, cache: MutableMapping[Hashable, Any]) -> None:
        self.folder, self.rules, self.cache = folder, rules, cache
        self.seen: set[str] = set()
        self.shared = len(cache)  # entries of cache already published or taken

    def take(self) -> None:
        """Add the plans published by other workers (a key planned here already is kept)."""
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:  # the run is ending
            return
        for name in names:
            if not (name.startswith(_PREFIX) and name.endswith(_SUFFIX)) or name in self.seen:
                continue
            self.seen.add(name)
            with contextlib.suppress(FileNotFoundError), open(self.folder / name, "rb") as file:
                for key, plan in _Unpickler(file, self.rules).load():
                    self.cache.setdefault(key, plan)
        self.shared = len(self.cache)

    def publish(self, number: int) -> None:
        """Write the plans added to ``cache`` since the last take or publish, if any."""
        new = list(self.cache.items())[self.shared :]
        self.shared = len(self.cache)
        if not new:
            return
        buffer = io.BytesIO()
        _Pickler(buffer, self.rules).dump(new)
        name = f"{_PREFIX}{number}{_SUFFIX}"
        self.seen.add(name)
        temp = self.folder / f"{name}.part"
        temp.write_bytes(buffer.getbuffer())
        os.replace(temp, self.folder / name)  # another worker sees all of it or nothing


class Abandoned(GabacalcError):
    """A chunk's turn will not come: an earlier chunk failed, or the run is stopping."""


class Turns:
    """Places in the output, taken by chunks in file order, shared by the run's workers.

    Chunk ``k`` waits until chunk ``k - 1`` has taken its place, then takes the bytes
    after it. :meth:`give_up` (a chunk failed, or the run is stopping) makes the chunks
    after the failed one raise :class:`Abandoned` instead of waiting for a turn that will
    not come; the chunks before it go on, so the run reports the first failure in file
    order.
    """

    #: Seconds a waiting chunk sleeps between checks that the run still goes on.
    POLL_S = 0.2
    _NONE_FAILED = 1 << 62

    def __init__(self, context: Any, start: int) -> None:
        self.condition = context.Condition()
        self.next_chunk = context.RawValue("q", 0)
        self.offset = context.RawValue("q", start)
        self.failed_from = context.RawValue("q", self._NONE_FAILED)

    def take(self, number: int, size: int) -> int:
        """Where chunk ``number`` of ``size`` bytes goes in the output (after its turn)."""
        with self.condition:
            while True:
                if number > self.failed_from.value:
                    raise Abandoned(f"chunk {number} was not written: the run stopped")
                if self.next_chunk.value == number:
                    break
                self.condition.wait(self.POLL_S)
            start = int(self.offset.value)
            self.offset.value = start + size
            self.next_chunk.value = number + 1
            self.condition.notify_all()
        return start

    def give_up(self, number: int = -1) -> None:
        """Chunk ``number`` failed (default: the run is stopping, every chunk goes)."""
        with self.condition:
            self.failed_from.value = min(self.failed_from.value, number)
            self.condition.notify_all()


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
