"""Writing planned cohort chunks as CSV: pyarrow's writer when it is installed, else
plain Python; both give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.render.records import neutralise_cell, neutralise_cells


def csv_renderer() -> Callable[[pd.DataFrame, bool, IO[bytes]], None]:
    """The CSV renderer: pyarrow's when it is installed (much faster), else plain Python."""
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return render_csv_python
    return render_csv_arrow


#: Rows rendered at a time by the Python renderer (bounds the memory it takes).
RENDER_ROWS = 10_000


def render_csv_python(frame: pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
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
    for start in range(0, len(frame), RENDER_ROWS):
        rows = zip(*(column[start : start + RENDER_ROWS] for column in cells), strict=True)
        sink.write(("\n".join(map(",".join, rows)) + "\n").encode("utf-8"))


def render_csv_arrow(frame: pd.DataFrame, header: bool, sink: IO[bytes]) -> None:
    """The same bytes as :func:`render_csv_python`, written by pyarrow's CSV writer."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.table({str(name): _arrow_column(frame[name]) for name in frame.columns})
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, options)


def _quoted(text: str) -> str:
    return '"' + neutralise_cell(text).replace('"', '""') + '"'


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
    """A result column as pyarrow writes it for :func:`render_csv_arrow`."""
    import pyarrow as pa

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = [neutralise_cell(str(v)) for v in column.cat.categories]
        codes = column.cat.codes.to_numpy()
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        # Each cell's text taken from the categories: pyarrow's CSV writer turns a
        # dictionary column into text more slowly than this take does (same bytes).
        return pa.array(categories, type=pa.string()).take(indices)
    if pd.api.types.is_float_dtype(dtype):
        return pa.array(_rounded(column), from_pandas=True)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return pa.array(column, from_pandas=True)
    texts = neutralise_cells(column.astype("str"))
    return pa.array(texts, type=pa.string(), from_pandas=True)
