"""Parsing CSV cohort bytes: the dialect, cutting bytes into blocks of whole rows, and a
block of rows as the DataFrame :func:`gabacalc.plan_cohort` takes. No file is opened here
(a block whose rows were left in the input file reads them from the run's open file).
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort_columns import NUMERIC_COLUMNS
from gabacalc.core.wording import printable
from gabacalc.errors import InputError

#: Read as text, so that a cell is never turned into a number or a date on the way in.
TEXT_COLUMNS: dict[str, Any] = {
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


@dataclass(frozen=True)
class Dialect:
    """How cells are separated and decimals written (``--delimiter``, ``--decimal``)."""

    delimiter: str = ","
    decimal: str = "."


def csv_dialect(delimiter: str, decimal: str) -> Dialect:
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
    return Dialect(delimiter, decimal)


def check_header(source: Path, header: bytes, dialect: Dialect) -> None:
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


def row_blocks(
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
    StrayQuote
        A double quote opens a quoted section inside a cell (``5'10"``): which newlines
        end rows is then ambiguous, so the file is refused rather than split wrongly.
    """
    pending = b""  # bytes read since the last block
    ends = np.empty(0, dtype=np.int64)  # line ends in pending (offsets just after each)
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
                raise StrayQuote(lines + len(ends) + int(np.count_nonzero(found < stray)) + 1)
            ends = np.concatenate([ends, found + len(pending) + 1])
            pending += data
            previous = pending[-1]
        start = used = 0
        while used < len(ends):
            need = chunk_rows if header_done else 1
            if len(ends) - used < need:
                break
            cut = int(ends[used + need - 1])
            block, first_line = pending[start:cut], lines + used + 1
            start, used = cut, used + need
            if _NOT_BLANK.search(block):
                yield block, first_line, offset + cut
                header_done = True
        lines += used
        offset += start
        pending, ends = pending[start:], ends[used:] - start
        if not data:
            break
    if _NOT_BLANK.search(pending):  # the last lines (the last perhaps without a newline)
        yield pending, lines + 1, offset + len(pending)


_BLANK = b"\xef\xbb\xbf \t\r\n"  # a byte-order mark and white space
# A byte that is not blank: found at once in a block of rows, where strip would copy it.
_NOT_BLANK = re.compile(b"[^" + re.escape(_BLANK) + b"]")
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
    # Most files hold no carriage return and no quote at all: a byte search (memchr) says
    # so without a pass over the bytes' codes for each.
    if b"\r" in data:
        returns = np.flatnonzero(codes == _CR)
        after = codes[np.minimum(returns + 1, len(codes) - 1)]
        lone = returns[(returns + 1 == len(codes)) | (after != _NEWLINE)]
        if len(lone):
            newlines = np.sort(np.concatenate([newlines, lone]))
    if b'"' not in data:
        return (newlines if not quoted else newlines[:0]), quoted, None
    quotes = np.flatnonzero(codes == _QUOTE)
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


class StrayQuote(Exception):
    """A double quote inside a cell that does not start with one, on ``line``."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


_BOM = b"\xef\xbb\xbf"
_READ_BYTES = 1 << 22


def _infinite(column: pd.Series) -> bool:
    """Whether pandas read a cell of a number column as infinite."""
    return pd.api.types.is_float_dtype(column.dtype) and bool(np.isinf(column.to_numpy()).any())


def _as_written(column: pd.Series) -> bool:
    """Whether pandas read a column as its text type with every empty cell missing: its
    cells are then the text as written. (A column of numbers, true/false, mixed cells, or
    where an empty cell came back as "", is not.)"""
    if not isinstance(column.dtype, pd.StringDtype):
        return False
    if column.dtype.storage == "pyarrow":  # the shortest cell's length, missing ones aside
        import pyarrow.compute as pc

        shortest = pc.min(pc.binary_length(column.array.__arrow_array__())).as_py()
        return shortest is None or shortest > 0
    return not bool((column == "").any())


def file_stamp(fd: int) -> tuple[int, int, int, int]:
    """What tells an open file's contents have not changed: its device, inode, size and
    modification time [ns]."""
    info = os.fstat(fd)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def changed_while_read(source: str) -> InputError:
    """The refusal of an input file that changed while the run read it."""
    return InputError(
        f"the cohort {source!r} changed while it was being read (its size or "
        "modification time is not what it was when the run opened it); run again "
        "once it is written in full; nothing was written",
        field="input",
    )


@dataclass(frozen=True)
class FileRows:
    """Where a block's rows are in the input file: ``length`` bytes from ``offset`` of the
    file open as ``fd`` in the run, whose :func:`file_stamp` was ``stamp`` when the run
    opened it.

    A worker process that is a copy of the run (fork) shares its open files, so it reads
    its block there itself (one copy from the page cache) instead of taking the bytes
    through a pipe (a copy into the pipe, one out of it, and the pickling either side).
    """

    fd: int
    offset: int
    length: int
    stamp: tuple[int, int, int, int]

    def read(self, source: str) -> bytes:
        """The rows' bytes; refused if the file is not as it was when the run opened it
        (the run cut it into blocks of whole rows as it was then)."""
        changed = changed_while_read(source)
        if file_stamp(self.fd) != self.stamp:
            raise changed
        parts, done = [], 0
        while done < self.length:
            part = os.pread(self.fd, self.length - done, self.offset + done)
            if not part:
                raise changed
            parts.append(part)
            done += len(part)
        if file_stamp(self.fd) != self.stamp:
            raise changed
        return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass(frozen=True)
class CsvBlock:
    """Whole rows of a CSV file, as bytes, with the header line: parsed where it is planned.

    ``at`` says where the rows are in the input file when it is a plain file the run has
    open (None otherwise): :meth:`without_rows` leaves them there for a worker that shares
    the file, and :meth:`with_rows` reads them back where the block is planned.
    """

    source: str
    header: bytes
    body: bytes
    first_line: int  # the file's line number of the body's first line
    dialect: Dialect = Dialect()
    at: FileRows | None = None

    def without_rows(self) -> CsvBlock:
        """The block with its rows left in the input file (itself if they cannot be)."""
        if self.at is None:
            return self
        return replace(self, body=b"")

    def with_rows(self) -> CsvBlock:
        """The block with its rows: read from the input file if they were left there."""
        if self.at is None or len(self.body) == self.at.length:
            return self
        return replace(self, body=self.at.read(self.source))

    def frame(self, text: Collection[str] = ()) -> pd.DataFrame:
        """The rows as pandas reads them, text columns as text, index the rows' line numbers.

        pandas reads each column as what it finds. A text column it reads as its own text
        type, every empty cell missing, is the text as written (and much faster to read and
        to work with than one Python string a cell); any other text column (numbers, as
        ids all digits, true/false, nothing but empty cells, a mix of these, or an empty
        cell read as "") is read again as text, alone, so no cell is ever turned into a
        number on the way in ("007" stays "007", "TRUE" stays "TRUE"). The columns named in
        ``text`` are read as text at once (:meth:`read` tells which were read again).

        A row with more cells than the header has columns is refused wherever it is (pandas
        would take a first row like that as an index column and shift every cell). Messages
        name the line of the file (pandas counts from this block's header).
        """
        return self.read(text)[0]

    def read(self, text: Collection[str] = ()) -> tuple[pd.DataFrame, list[str]]:
        """:meth:`frame`, and the text columns that were read again as text.

        A number column with a cell pandas read as infinite ("inf", "1e400") is read again
        as text too, in this block only: the core then refuses that cell as written, as it
        does when the column holds any other cell that is not a number, whatever the
        block's size.
        """
        frame = self._read(dict.fromkeys(text, object) or None)
        again = [
            name
            for name in TEXT_COLUMNS
            if name in frame.columns and name not in text and not _as_written(frame[name])
        ]
        infinite = [
            name for name in NUMERIC_COLUMNS if name in frame.columns and _infinite(frame[name])
        ]
        if again or infinite:
            as_text = self._read(dict.fromkeys(again + infinite, object), again + infinite)
            for name in again + infinite:
                frame[name] = as_text[name]
        return frame, again

    def _read(
        self, dtype: Mapping[str, Any] | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # "mixed types" in a column: the text columns are read again as text, and
                # the core reads a number column's cells one by one where they are mixed.
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                frame = pd.read_csv(
                    io.BytesIO(self.header + self.body),
                    dtype=dtype,
                    usecols=columns,
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
