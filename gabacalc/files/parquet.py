"""Cohort Parquet files (pyarrow, imported when needed): reading a cohort in batches as
the cells a CSV would give, and writing typed results, a row group per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort import INPUT_COLUMNS, check_columns
from gabacalc.core.wording import printable
from gabacalc.errors import InputError
from gabacalc.files.cohort_columns import as_dates, codes_list, column_kind
from gabacalc.files.cohort_parse import TEXT_COLUMNS


def parquet_chunks(source: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, int, int]]:
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
        if name in TEXT_COLUMNS and frame[name].dtype != object:
            frame[name] = frame[name].astype(object)  # as the CSV reader gives: plain cells
    return frame


class ParquetWriter:
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
            fields = [pa.field(name, _ARROW_TYPES[column_kind(name)]()) for name in names]
            self.schema = pa.schema(fields, metadata=self.trace)
            self.writer = pq.ParquetWriter(self.handle, self.schema)
        arrays = [_parquet_column(frame[name], column_kind(name), frame) for name in names]
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
    """A result column as a typed Arrow array (see :class:`ParquetWriter`)."""
    import pyarrow as pa

    if kind in ("int", "float", "bool"):
        return pa.array(column, type=_ARROW_TYPES[kind](), from_pandas=True)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)  # few distinct values
    indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
    if kind == "enum":
        return pa.DictionaryArray.from_arrays(indices, pa.array(uniques.astype("str")))
    if kind == "date":
        days = as_dates(pd.Series(uniques)).to_numpy().astype("datetime64[D]")
        return pa.array(days, type=pa.date32()).take(indices)
    if kind == "flags":
        table = pa.array([codes_list(v) for v in uniques], type=pa.list_(pa.string()))
        ok = (frame["status"].astype("str") == "ok").to_numpy()
        empty = len(uniques)  # a planned row without flags: an empty list
        filled = np.where((codes < 0) & ok, empty, codes)
        table = pa.concat_arrays([table, pa.array([[]], type=pa.list_(pa.string()))])
        return table.take(pa.array(filled, type=pa.int32(), mask=filled < 0))
    texts = pa.array([str(v) for v in uniques], type=pa.string())
    return texts.take(indices)
