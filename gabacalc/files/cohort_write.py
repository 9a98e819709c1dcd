"""Writing planned cohort chunks as CSV: pyarrow's writer when it is installed, else
plain Python; both give the same bytes.

A chunk comes as its result columns (:class:`~gabacalc.core.cohort_result.ResultColumns`):
most are a code per row into a small table of values, which a writer writes once each. A
DataFrame of the result's column types is written through :func:`result_columns`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort_result import (
    CodedColumn,
    Column,
    DecimalColumn,
    ResultColumns,
    RowTextColumn,
    WholeColumn,
)
from gabacalc.render.records import neutralise_cell, neutralise_cells

#: A CSV renderer: a result chunk (with the header row first when asked) as pieces of bytes.
CsvRenderer = Callable[[ResultColumns, bool], Iterator["bytes | memoryview"]]


def csv_renderer() -> CsvRenderer:
    """The CSV renderer: pyarrow's when it is installed (much faster), else plain Python.

    Both give the same bytes; :func:`write_csv` writes a renderer's pieces to a file.
    """
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return csv_pieces_python
    return csv_pieces_arrow


def write_csv(
    renderer: CsvRenderer, result: ResultColumns | pd.DataFrame, header: bool, sink: IO[bytes]
) -> None:
    """Write a result chunk (its columns, or a result frame) as CSV to ``sink``."""
    if isinstance(result, pd.DataFrame):
        result = result_columns(result)
    for piece in renderer(result, header):
        sink.write(piece)


def result_columns(frame: pd.DataFrame) -> ResultColumns:
    """A frame's columns as the writers take them: a Categorical or text column as text, a
    boolean or integer column (nullable or not) as whole numbers, a float column as
    decimals.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "b"], "n": pd.array([1, None], dtype="Int64")})
    >>> [type(c).__name__ for c in result_columns(frame).columns.values()]
    ['RowTextColumn', 'WholeColumn']
    """
    columns = {str(name): _column_of(frame[name]) for name in frame.columns}
    return ResultColumns(frame.index, columns, {str(k): str(v) for k, v in frame.attrs.items()})


_INT64_MAX = np.iinfo(np.int64).max


def _column_of(series: pd.Series) -> Column:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return CodedColumn(codes, list(series.cat.categories))
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        present = series.notna().to_numpy(dtype=bool)
        if pd.api.types.is_bool_dtype(dtype):
            return WholeColumn(series.to_numpy(dtype=bool, na_value=False), present)
        if dtype.kind == "u" and present.any() and int(series[present].max()) > _INT64_MAX:
            raise ValueError(f"gabacalc internal error: {series.name} has a value above 2**63")
        # Whole numbers as int64 (never through float64, which rounds above 2**53).
        return WholeColumn(series.to_numpy(dtype=np.int64, na_value=0), present)
    if pd.api.types.is_float_dtype(dtype):
        return DecimalColumn(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return RowTextColumn(series.array)


#: Rows rendered at a time by the Python renderer (bounds the memory it takes).
RENDER_ROWS = 10_000


def render_csv_python(result: ResultColumns | pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
    """Write a result chunk as CSV to ``sink`` (the header row first when ``header``).

    Both renderers give the same bytes: a header of quoted names; text quoted (``"``
    doubled) with a formula cell made harmless; whole numbers as digits; decimals rounded
    to 6 places and written in the shortest positional form (``1``, ``0.5``, ``32.449``);
    ``true``/``false``; an empty cell where a value is missing; ``\\n`` line ends. This one is
    plain Python: each distinct value of a column is written once (most result columns
    hold few), then the rows are joined.
    """
    write_csv(csv_pieces_python, result, header, sink)


def csv_pieces_python(result: ResultColumns, header: bool) -> Iterator[bytes]:
    """:func:`render_csv_python`'s bytes, a piece at a time."""
    if header:
        yield _header(result)
    cells = [_csv_cells(name, column) for name, column in result.columns.items()]
    for start in range(0, len(result), RENDER_ROWS):
        rows = zip(*(column[start : start + RENDER_ROWS] for column in cells), strict=True)
        yield ("\n".join(map(",".join, rows)) + "\n").encode("utf-8")


def _header(result: ResultColumns) -> bytes:
    return (",".join(_quoted(str(name)) for name in result.columns) + "\n").encode()


def render_csv_arrow(result: ResultColumns | pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
    """The same bytes as :func:`render_csv_python`, made with pyarrow's compute functions.

    Most result columns hold a few distinct values (a key's plan, the band, the flags, the
    stamp): consecutive columns like that are written as one text per distinct combination
    of their values, and each row takes its combination's text. Each row's line is then
    its id, its numbers and those texts joined: a few cells a row, not 47.
    """
    write_csv(csv_pieces_arrow, result, header, sink)


def csv_pieces_arrow(result: ResultColumns, header: bool) -> Iterator[bytes | memoryview]:
    """:func:`render_csv_arrow`'s bytes, a piece at a time (pyarrow's buffers, not copies)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if header:
        yield _header(result)
    pieces = _pieces(_grouped_cells(result))
    for start in range(0, len(result), ARROW_RENDER_ROWS):
        stop = min(start + ARROW_RENDER_ROWS, len(result))
        rows = [piece.rows(start, stop) for piece in pieces]
        if not any(isinstance(row, pa.Array) for row in rows):  # every row the same text
            rows[0] = pa.repeat(rows[0], stop - start)
        yield _text_bytes(pc.binary_join_element_wise(*rows, ","))


#: Rows the arrow renderer joins at a time: the texts it makes meanwhile stay a few MB (and
#: far below 2 GB, the most one pyarrow text array holds).
ARROW_RENDER_ROWS = 20_000


class _Cells:
    """Cells as CSV text: per row (``texts``), or as codes into a table of distinct texts
    (``codes``, ``table``: a list of texts, or a pyarrow text array)."""

    def __init__(self, texts: Any = None, codes: Any = None, table: Any = None) -> None:
        self.texts, self.codes, self.table = texts, codes, table

    def rows(self, start: int, stop: int) -> Any:
        """The texts of rows ``start`` to ``stop``: a pyarrow text array, or a text that
        every row has."""
        import pyarrow as pa

        if self.codes is None:
            return self.texts.slice(start, stop - start)
        if len(self.table) == 1:
            return self.table[0]
        return self.table.take(pa.array(self.codes[start:stop]))


#: A column with at most this many distinct values is written through a table of texts.
_FEW = 4096
#: A table of at most this many entries is made distinct in plain Python.
_SHORT = 64
#: A decimal column with at most this many distinct values, and few in a sample, is
#: written through a table of texts, like a text column.
_FEW_DECIMALS = 1024
#: Rows sampled to see whether a decimal column holds few distinct values.
_SAMPLE = 512


def _few_values(values: np.ndarray) -> bool:
    """Whether a sample of a column's rows holds few distinct values (cheap: making a
    column of many values distinct costs more than writing it row by row)."""
    step = max(1, len(values) // _SAMPLE)
    return len(pd.unique(values[::step])) <= _SAMPLE // 16


def _cells(name: str, column: Column) -> _Cells:
    """A result column's cells as the CSV writer writes them (see render_csv_python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, CodedColumn):
        return _coded_cells(column)
    if isinstance(column, WholeColumn):
        present, values = column.present, column.values
        if column.is_bool:
            return _Cells(
                codes=np.where(present, values.astype(np.int64), 2), table=["false", "true", ""]
            )
        low = int(values[present].min()) if present.any() else 0
        high = int(values[present].max()) if present.any() else 0
        if high - low < _FEW:
            # A text for each value the column holds (not for every value between).
            offsets = np.where(present, values - low, 0)
            held = np.zeros(high - low + 1, dtype=bool)
            held[offsets[present]] = True
            numbers = np.flatnonzero(held)
            index = np.cumsum(held) - 1
            codes = np.where(present, index[offsets], len(numbers))
            return _Cells(codes=codes, table=[*map(str, (numbers + low).tolist()), ""])
        texts = pc.cast(pa.array(values, mask=~present), pa.string())
        return _Cells(texts=pc.fill_null(texts, ""))
    if isinstance(column, DecimalColumn):
        rounded = _rounded(name, column.values)
        if _few_values(rounded):  # e.g. the band's scale: 1 but below CrCl 15
            codes, uniques = pd.factorize(rounded)  # NaN: -1
            if len(uniques) <= _FEW_DECIMALS:
                texts = pc.cast(pa.array(uniques), pa.string()).to_pylist()
                return _Cells(codes=np.where(codes < 0, len(texts), codes), table=[*texts, ""])
        texts = pc.cast(pa.array(rounded, from_pandas=True), pa.string())
        return _Cells(texts=pc.fill_null(texts, ""))
    series = pd.Series(column.values, copy=False).astype("str")
    texts = pa.array(neutralise_cells(series), type=pa.string(), from_pandas=True)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(texts, '"', '""'), '"', "")
    return _Cells(texts=pc.fill_null(quoted, ""))


def _grouped_cells(result: ResultColumns) -> list[_Cells]:
    """The columns' cells, consecutive coded columns that take their rows from one code
    array (a key's plan: its doses, dates and regimen) as one, and so are a column that
    holds one text on every row (the stamp): each table entry's texts joined once, not
    each column's codes combined row by row."""
    cells: list[_Cells] = []
    group: list[CodedColumn] = []
    for name, column in [*result.columns.items(), ("", None)]:
        if isinstance(column, CodedColumn) and (
            not group or _same_codes(column, group[0]) or _constant(column)
        ):
            group.append(column)
            continue
        if group:
            cells.append(_coded_cells(group[0]) if len(group) == 1 else _shared_cells(group))
            group = []
        if isinstance(column, CodedColumn):
            group.append(column)
        elif column is not None:
            cells.append(_cells(name, column))
    return cells


def _same_codes(column: CodedColumn, first: CodedColumn) -> bool:
    """The column takes its rows from ``first``'s codes, into a table as long."""
    return column.codes is first.codes and len(column.table) == len(first.table)


def _constant(column: CodedColumn) -> bool:
    """Every row has the column's one text."""
    return len(column.table) == 1 and bool((column.codes >= 0).all())


def _coded_cells(column: CodedColumn) -> _Cells:
    codes, table = _coded_texts(column)
    return _Cells(codes=codes, table=table)


def _shared_cells(group: list[CodedColumn]) -> _Cells:
    """Coded columns with one code array (and columns of one text) as one column: each
    entry's texts joined, and last the texts of a row whose code is -1."""
    codes = group[0].codes
    size = len(group[0].table)
    columns = []
    for column in group:
        texts = _entry_texts(column)
        if column is group[0] or _same_codes(column, group[0]):
            columns.append([*texts, ""])
        else:  # a column of one text, the same on every row
            columns.append(texts * (size + 1))
    table = [",".join(row) for row in zip(*columns, strict=True)]
    return _Cells(codes=np.where(codes < 0, size, codes).astype(np.int64), table=table)


def _entry_texts(column: CodedColumn) -> list[str]:
    """Each table entry of a coded column as CSV text, as :func:`_coded_texts` writes it
    (each distinct entry made once)."""
    if column.kind == "whole":
        entries: list[Any] = [None if _absent(v) else v for v in column.table]
        made = {v: "" if v is None else str(int(v)) for v in dict.fromkeys(entries)}
    else:
        entries = column.texts()  # text, so that 1 and 1.0 are two entries
        made = {v: "" if v is None else _quoted(v) for v in dict.fromkeys(entries)}
    return [made[v] for v in entries]


def _absent(entry: Any) -> bool:
    """A table entry written as an empty cell: None, NaN or pandas' NA (as pandas'
    factorize takes them)."""
    return entry is None or entry is pd.NA or (isinstance(entry, float) and entry != entry)


def _coded_texts(column: CodedColumn) -> tuple[np.ndarray, list[str]]:
    """A coded column as a code per row into its distinct texts, the last one empty (each
    distinct value is written once, however often the table repeats it)."""
    entries = column.table if column.kind == "whole" else column.texts()
    if not len(entries):
        return np.zeros(len(column.codes), dtype=np.int64), [""]
    if len(entries) <= _SHORT:  # plain Python is quicker than pandas on a few entries
        first: dict[Any, int] = {}
        entries = [None if _absent(e) else e for e in entries]
        for entry in entries:
            if entry is not None:
                first.setdefault(entry, len(first))
        entry_codes = np.array([-1 if e is None else first[e] for e in entries])
        uniques: Any = list(first)
    else:
        entry_codes, uniques = pd.factorize(np.array(entries, dtype=object))  # None: -1
    if column.kind == "whole":
        table = [str(int(v)) for v in uniques]
    else:
        table = [_quoted(v) for v in uniques]
    empty = len(table)
    # Each entry's text, and last the empty one, which a code of -1 takes: one pass a row.
    lookup = np.append(np.where(entry_codes < 0, empty, entry_codes), empty).astype(np.int64)
    return lookup[column.codes], [*table, ""]


def _pieces(columns: list[_Cells]) -> list[_Cells]:
    """The rows' text pieces: a per-row column as it is, consecutive tabled columns as one
    table of the distinct combinations of their texts; the line end is on the last piece."""
    import pyarrow.compute as pc

    pieces: list[_Cells] = []
    run: list[_Cells] = []
    for cells in [*columns, None]:
        if cells is not None and cells.codes is not None:
            run.append(cells)
            continue
        if run:
            pieces.append(_joined(run, end="\n" if cells is None else ""))
            run = []
        if cells is not None:
            pieces.append(cells)
    if pieces[-1].codes is None:  # a per-row last column
        pieces[-1] = _Cells(texts=pc.binary_join_element_wise(pieces[-1].texts, "\n", ""))
    return pieces


def _joined(run: list[_Cells], end: str) -> _Cells:
    """Consecutive tabled columns as one: each distinct combination of their values joined
    once (a million rows have a few thousand), with a code per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    combined, size = run[0].codes, len(run[0].table)
    for cells in run[1:]:
        if size * len(cells.table) >= 1 << 62:  # renumber before the codes could overflow
            combined, uniques = pd.factorize(combined)
            size = len(uniques)
        combined, size = combined * len(cells.table) + cells.codes, size * len(cells.table)
    codes, uniques = pd.factorize(combined)
    # Each combination's first row, to read its columns' codes from.
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    texts = [
        pa.array(cells.table, type=pa.string()).take(pa.array(cells.codes[first])) for cells in run
    ]
    if end:
        texts[-1] = pc.binary_join_element_wise(texts[-1], end, "")
    table = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, ",")
    return _Cells(codes=codes, table=table)


def _text_bytes(lines: Any) -> memoryview:
    """The characters of a pyarrow text array with no missing values, as one buffer."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[int(first) : int(last)]


@functools.lru_cache(maxsize=16_384)  # a file's chunks write the same flags, bands and plans
def _quoted(text: str) -> str:
    return '"' + neutralise_cell(text).replace('"', '""') + '"'


#: Decimals are written to this many places. Rounded values are 0 or at least 1e-6, and
#: every decimal result column is far below _FLOAT_MAX, where the writers' forms part.
_FLOAT_PLACES = 6
_FLOAT_MAX = 1e9


def _rounded(name: str, values: np.ndarray) -> np.ndarray:
    # + 0.0 makes -0.0 (e.g. a tiny negative rounded) 0.0: one text, "0", in either writer
    rounded = np.round(values, _FLOAT_PLACES) + 0.0
    if np.nanmax(np.abs(rounded), initial=0.0) > _FLOAT_MAX:
        raise AssertionError(f"gabacalc internal error: {name} has a value above 1e9")
    return rounded


def _float_text(value: float) -> str:
    """A rounded decimal in its shortest positional form: 1, 0.5, 0.00005."""
    text = repr(value)
    if "e" in text:  # Python writes values below 1e-4 with an exponent
        text = f"{value:.{_FLOAT_PLACES}f}".rstrip("0")
    return text[:-2] if text.endswith(".0") else text


def _csv_cells(name: str, column: Column) -> np.ndarray:
    """Each cell of a column as CSV text (empty where missing), one format per value."""
    if isinstance(column, CodedColumn):
        codes, coded = _coded_texts(column)
        return np.array(coded, dtype=object)[codes]
    texts: list[str]
    if isinstance(column, DecimalColumn):
        codes, numbers = pd.factorize(_rounded(name, column.values))
        texts = [_float_text(float(v)) for v in numbers]
    elif isinstance(column, WholeColumn):
        codes, uniques = pd.factorize(column.values)
        codes = np.where(column.present, codes, -1)
        if column.is_bool:
            texts = ["true" if bool(v) else "false" for v in uniques]
        else:
            texts = [str(int(v)) for v in uniques]
    else:
        codes, uniques = pd.factorize(column.values, use_na_sentinel=True)
        texts = [_quoted(str(v)) for v in uniques]
    table = np.array([*texts, ""], dtype=object)  # code -1 (missing) takes the last
    out: np.ndarray = table[codes]
    return out
