"""Write files whole or not at all, to the place the user named, with the user's umask.

A regular file is written to a temporary file in the folder of its target, flushed to disk,
then renamed over the target, so a reader sees the old file or the new one, never part of
one. The target is the file a symlink points to (the link stays a link), and a file that is
replaced keeps its mode; a new file gets ``0666`` less the umask (a ``umask 077`` user gets
``0600``). A character device or a pipe (``/dev/null``, ``/dev/stdout``, a FIFO) is written
as it is, never replaced by a regular file.

Several files of one command are all written or none (:func:`write_files`): every target
is checked, then every temporary file written, and only then are they renamed.

Temporary names are short and fixed in length (``.gabacalc-<pid>-<random>.tmp``), so an
output name that is legal is never refused because the temporary name would be too long;
a run that was killed (``kill -9``, a power cut) leaves one behind, and the next run that
writes into that folder removes those of processes that no longer exist.

An :class:`OSError` raised while writing names the file as the user gave it, never the
temporary file; :func:`write_error_text` turns one into a line for a person.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gabacalc.errors import InputError

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_targets",
    "remove_leftovers",
    "temp_folder",
    "write_error_text",
    "write_files",
]

_TEMP_PREFIX = ".gabacalc-"
_LEFTOVER = re.compile(r"^\.gabacalc-(\d+)-[0-9a-f]{12}\.(tmp|parts)$")


@dataclass(frozen=True)
class _Target:
    """Where an output named ``given`` is written: ``real`` (links resolved); ``plain``
    when it is a character device or a pipe, written as it is."""

    given: str
    real: Path
    plain: bool


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def check_targets(paths: list[str | Path]) -> list[_Target]:
    """Check that every output can be written before any is: refuse a folder as a target,
    a missing folder, a block device or socket, and the same file named twice.

    Raises
    ------
    InputError
        The same file is named twice (also through a link); the target is a folder.
    OSError
        The folder does not exist (``filename`` is the path as given).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_targets([folder / "a.csv", folder / "./a.csv"])
    Traceback (most recent call last):
    gabacalc.errors.InputError: ... is named twice as an output; give each output its own file
    """
    targets: list[_Target] = []
    seen: dict[Path, str] = {}
    for path in paths:
        given = str(path)
        real = Path(os.path.realpath(given))
        try:
            info = os.stat(given)  # follows every link (/dev/stdout's to a pipe too)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise InputError(
                f"output {given!r} is a folder; give a file name inside it", field="outputs"
            )
        plain = info is not None and (stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode))
        if plain and not real.exists():  # /dev/stdout as a pipe: its link names no path
            real = Path(given)
        if info is not None and not plain and not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"output {given!r} is neither a file, a character device nor a pipe; "
                "give a file name",
                field="outputs",
            )
        if not plain and not real.parent.is_dir():
            raise OSError(errno.ENOENT, "the folder does not exist", given)
        key = Path(f"/dev/ino/{info.st_dev}/{info.st_ino}") if info is not None else real
        if key in seen or real in seen:
            raise InputError(
                f"{given!r} is named twice as an output; give each output its own file",
                field="outputs",
            )
        seen[key] = seen[real] = given
        targets.append(_Target(given, real, plain))
    return targets


def remove_leftovers(folder: str | Path) -> None:
    """Remove temporary files and folders gabacalc left in ``folder`` when a run was killed.

    Only names gabacalc makes (``.gabacalc-<pid>-<random>.tmp`` or ``.parts``) whose
    process no longer exists are removed; another run's files are left alone.
    """
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            found = _LEFTOVER.match(entry.name)
            if found is None or _alive(int(found.group(1))):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def _temp_name(folder: Path, kind: str) -> Path:
    return folder / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.{kind}"


def temp_folder(target: str | Path) -> Path:
    """A new private folder beside the real ``target``, for a command's part files.

    It has a leftover name (see :func:`remove_leftovers`), so a killed run's is cleaned up.
    """
    folder = Path(os.path.realpath(str(target))).parent
    remove_leftovers(folder)
    while True:
        path = _temp_name(folder, "parts")
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return path


def _new_temp(target: _Target) -> tuple[int, Path]:
    folder = target.real.parent
    remove_leftovers(folder)
    while True:
        path = _temp_name(folder, "tmp")
        try:
            # read and write: a caller may read back what it wrote (the cohort workbook)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        except OSError as error:
            raise _named(error, target.given) from None
        return fd, path


def _named(error: OSError, given: str) -> OSError:
    """The same error, naming the user's file instead of a temporary one (or none)."""
    code = error.errno if error.errno is not None else errno.EIO
    return type(error)(code, error.strerror or os.strerror(code), given)


def _unnamed_named(error: OSError, given: str) -> OSError:
    """A write to the handle fails with no file name (a full disk, ``ulimit -f``): name the
    user's file. An error that names a file came from elsewhere in the block (reading the
    input, say) and is left as it is."""
    return error if error.filename is not None else _named(error, given)


def _finish(fd: int, temp: Path, target: _Target) -> None:
    """Flush a temporary file to disk and give it the mode (and owner) the target has, or
    the user's umask for a new file."""
    os.fsync(fd)
    try:
        old = os.stat(target.real)
    except FileNotFoundError:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.fchown(fd, old.st_uid, old.st_gid)


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (where the file system allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``path`` for writing whole or not at all; on success the file is in place.

    A regular file (or a new one) is written to a temporary file beside the real target
    and renamed over it when the block ends; if the block raises, the temporary file is
    removed and the target is untouched. A character device or a pipe is written as it
    is. Errors name ``path`` as given.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_open(target, "w") as handle:
    ...     _ = handle.write("whole")
    >>> target.read_text()
    'whole'
    """
    (target,) = check_targets([path])
    encoding = None if "b" in mode else "utf-8"
    newline = None if "b" in mode else ""
    if target.plain:
        try:
            handle = open(target.real, mode, encoding=encoding, newline=newline)  # noqa: SIM115
        except OSError as error:
            raise _named(error, target.given) from None
        with handle:
            try:
                yield handle
                handle.flush()
            except OSError as error:
                raise _unnamed_named(error, target.given) from None
        return
    fd, temp = _new_temp(target)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            try:
                yield handle
                handle.flush()
                _finish(handle.fileno(), temp, target)
            except OSError as error:
                raise _unnamed_named(error, target.given) from None
        try:
            os.replace(temp, target.real)
        except OSError as error:
            raise _named(error, target.given) from None
        _sync_folder(target.real.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_files(
    files: Mapping[str | Path, bytes] | Iterable[tuple[str | Path, bytes]],
) -> None:
    """Write every file or none: ``files`` maps each path to its bytes (pairs are taken
    too, so that a path given twice is seen and refused).

    Every target is checked first (:func:`check_targets`), then each regular file is
    written to a temporary file beside it and flushed to disk, then devices and pipes are
    written, and only then are the temporary files renamed into place. A failure before
    the renames leaves every target as it was.

    Raises
    ------
    InputError
        A target is a folder, or one file is named twice.
    OSError
        A file cannot be written (``filename`` is the path as given).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_files({folder / "a.txt": b"a", folder / "b.txt": b"b"})
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    pairs = list(files.items()) if isinstance(files, Mapping) else list(files)
    targets = check_targets([path for path, _ in pairs])
    data = [content for _, content in pairs]
    temps: list[tuple[Path, _Target]] = []
    try:
        for target, content in zip(targets, data, strict=True):
            if target.plain:
                continue
            fd, temp = _new_temp(target)
            temps.append((temp, target))
            with os.fdopen(fd, "wb") as handle:
                try:
                    handle.write(content)
                    handle.flush()
                    _finish(handle.fileno(), temp, target)
                except OSError as error:
                    raise _named(error, target.given) from None
        for target, content in zip(targets, data, strict=True):
            if target.plain:
                try:
                    with open(target.real, "wb") as handle:
                        handle.write(content)
                except OSError as error:
                    raise _named(error, target.given) from None
        for temp, target in temps:
            try:
                os.replace(temp, target.real)
            except OSError as error:
                raise _named(error, target.given) from None
        for folder in {target.real.parent for _, target in temps}:
            _sync_folder(folder)
    finally:
        for temp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all."""
    write_files({path: data})
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` whole or not at all (newlines kept as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


#: What a person can do about a failed write, by errno.
_WRITE_HINTS = {
    errno.ENOSPC: "free some space or write to another disk",
    errno.EDQUOT: "free some of your quota or write to another disk",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f); raise the limit",
    errno.EROFS: "the disk is mounted read-only; write to another folder",
    errno.EACCES: "you may not write there; choose a folder you can write to",
    errno.EPERM: "you may not write there; choose a folder you can write to",
    errno.ENOENT: "create the folder first, or choose one that exists",
    errno.ENAMETOOLONG: "give a shorter file name",
    errno.EISDIR: "give a file name, not a folder",
}


def write_error_text(error: OSError) -> str:
    """One line for a person about a failed write: the file as given, why, and a hint.

    Examples
    --------
    >>> import errno
    >>> write_error_text(OSError(errno.ENOSPC, "No space left on device", "plan.csv"))
    "cannot write 'plan.csv': No space left on device; free some space or write to another disk"
    """
    # every file gabacalc writes is named; an error without a name is the terminal's
    name = error.filename if error.filename is not None else "standard output"
    why = error.strerror or str(error)
    hint = _WRITE_HINTS.get(error.errno or 0, "")
    return f"cannot write {str(name)!r}: {why}" + (f"; {hint}" if hint else "")
