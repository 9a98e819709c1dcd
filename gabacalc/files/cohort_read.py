"""Reading a cohort file: which format it is, opening it (a file, gzip, a pipe, standard
input) and giving its rows in chunks, in file order, its columns checked first.

CSV bytes are cut into blocks of whole rows here and parsed where they are planned
(:mod:`gabacalc.files.cohort_parse`); Parquet is read by :mod:`gabacalc.files.parquet`.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from gabacalc.core.cohort import check_columns
from gabacalc.core.wording import printable
from gabacalc.errors import InputError
from gabacalc.files.cohort_parse import (
    CsvBlock,
    Dialect,
    FileRows,
    StrayQuote,
    changed_while_read,
    check_header,
    file_stamp,
    row_blocks,
)
from gabacalc.files.parquet import parquet_chunks

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: The input name that means standard input (CSV).
STDIN = "-"


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".csv.gz")


_PARQUET_HINT = "install pyarrow for Parquet: pip install 'gabacalc[cohort]'"


def is_stream(path: Path) -> bool:
    """A pipe or a character device (a FIFO, ``/dev/stdin``, ``/dev/null``): read or
    written as it comes, with no size and no way back."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def format_of(path: Path, what: str) -> str:
    if what == "input" and (str(path) == STDIN or _is_gzip(path)):
        return "csv"
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None and what != "results" and is_stream(path):
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


def cohort_chunks(
    source: Path, in_format: str, chunk_rows: int, dialect: Dialect | None = None
) -> Iterator[tuple[Any, int, int]]:
    """(chunk, done, total) in file order; the columns are checked first.

    A CSV chunk is a :class:`CsvBlock` (its rows as bytes, parsed where it is planned); a
    Parquet chunk is a DataFrame. A pipe's size is not known: its total is what was read.
    """
    if in_format == "parquet":
        yield from parquet_chunks(source, chunk_rows)
        return
    with contextlib.ExitStack() as stack:
        position: Callable[[], int] | None = None
        opened: tuple[int, tuple[int, int, int, int]] | None = None  # a file: fd, stamp
        if str(source) == STDIN:  # no size to show progress against: total 0
            raw: IO[bytes] = sys.stdin.buffer
            total, position = 0, lambda: 0
        elif not source.is_file():  # a pipe (FIFO): no size either
            raw = stack.enter_context(_open_input(source))
            total, position = 0, lambda: 0
        else:
            total = source.stat().st_size
            raw = stack.enter_context(_open_input(source))
            opened = (raw.fileno(), file_stamp(raw.fileno()))
            if _is_gzip(source):
                packed = raw
                unpacked = gzip.GzipFile(fileobj=packed, mode="rb")
                stack.callback(unpacked.close)
                raw = cast(IO[bytes], unpacked)
                position = functools.partial(lambda f: min(f.tell(), total), packed)
        # A plain file's bytes are its rows, where the blocks say (see FileRows); a gzip
        # file's (read through a position of its own) are not.
        in_file = opened if position is None else None
        try:
            yield from _csv_blocks(
                source, raw, total, chunk_rows, position, dialect or Dialect(), in_file
            )
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise InputError(
                f"cannot read the cohort {str(source)!r} as gzip-compressed CSV ({error}); "
                "nothing was written",
                field="input",
            ) from None
        except StrayQuote as stray:
            raise InputError(
                f"cannot read the cohort {str(source)!r} as CSV: line {stray.line:,} has a "
                "double quote inside a cell that does not start with one (as in 5'10\"); "
                'put that cell in double quotes, doubling its quote ("5\'10"""), or remove '
                "the quote; nothing was written",
                field="input",
            ) from None
        # Read to its end as it was opened: else rows were cut from a file being written.
        if opened is not None and file_stamp(opened[0]) != opened[1]:
            raise changed_while_read(str(source))


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
    dialect: Dialect | None = None,
    in_file: tuple[int, tuple[int, int, int, int]] | None = None,
) -> Iterator[tuple[CsvBlock, int, int]]:
    """``in_file``: the descriptor and :func:`file_stamp` of a plain file (the rows' bytes
    are then where the blocks say they are, see :class:`FileRows`)."""
    dialect = dialect or Dialect()
    blocks = row_blocks(raw, chunk_rows, dialect.delimiter)
    header = next(blocks, None)
    if header is None:
        raise InputError(
            f"the cohort {str(source)!r} is empty: it needs a header row, e.g. "
            "id,age_years,sex,weight_kg,scr",
            field="input",
        )
    after_header = header[1] + 1
    check_header(source, header[0], dialect)
    check_columns(
        printable(str(c))
        for c in CsvBlock(str(source), header[0], b"", after_header, dialect).frame().columns
    )
    any_rows = False
    for body, first_line, done in blocks:
        where = done if position is None else position()
        at = (
            None
            if in_file is None
            else FileRows(in_file[0], done - len(body), len(body), in_file[1])
        )
        yield CsvBlock(str(source), header[0], body, first_line, dialect, at), where, total
        any_rows = True
    if not any_rows:  # a header and no rows: no patients, and a results file that says so
        yield CsvBlock(str(source), header[0], b"", after_header, dialect), total, total
