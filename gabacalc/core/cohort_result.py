"""A cohort chunk's result as columns of arrays, before any DataFrame is made of them.

:func:`gabacalc.plan_cohort` turns it into its result frame; the cohort file writers write
it as it is. Most result columns hold a few distinct texts (a key's plan, the band, the
flags, the stamp): they are kept as a code per row into a small table, so a writer writes
each distinct text once, and nothing makes a Python string per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CodedColumn",
    "Column",
    "DecimalColumn",
    "ResultColumns",
    "RowTextColumn",
    "WholeColumn",
]

#: pandas' ``str`` dtype, held as Python strings whether or not pyarrow is installed: the
#: same result everywhere, and taking rows from a small table is then a numpy take.
_TEXT_DTYPE = pd.StringDtype("python", na_value=np.nan)


@dataclass(frozen=True)
class CodedColumn:
    """Cells as a code per row into ``table`` (a code of -1, or a None entry: empty).

    ``kind`` "text": an entry that is not a ``str`` is written as ``str(entry)``; "whole":
    the entries are whole numbers (a key's doses and days). Entries may repeat.
    """

    codes: np.ndarray
    table: Sequence[Any]
    kind: str = "text"

    def texts(self) -> list[str | None]:
        """The table's entries as text (None where empty)."""
        return [None if v is None else str(v) for v in self.table]

    def wholes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's whole number (0 where empty) and where it is present."""
        values = np.array([0 if v is None else v for v in self.table] or [0], dtype=np.int64)
        has = np.array([v is not None for v in self.table] or [False])
        safe = np.maximum(self.codes, 0)
        return values[safe], (self.codes >= 0) & has[safe]


@dataclass(frozen=True)
class WholeColumn:
    """Whole numbers (``int64``) or true/false (``bool``), ``present`` where not empty."""

    values: np.ndarray
    present: np.ndarray

    @property
    def is_bool(self) -> bool:
        return bool(self.values.dtype == np.bool_)


@dataclass(frozen=True)
class DecimalColumn:
    """Decimals (``float64``), NaN where empty."""

    values: np.ndarray


@dataclass(frozen=True)
class RowTextColumn:
    """Text that differs from row to row (the ids): a pandas array of ``str``, or any
    array of values written as ``str(value)`` (missing: empty)."""

    values: Any


Column = CodedColumn | WholeColumn | DecimalColumn | RowTextColumn


@dataclass(frozen=True)
class ResultColumns:
    """A result chunk: its columns in output order, the rows' index, and the stamp.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> result = ResultColumns(
    ...     pd.RangeIndex(2),
    ...     {"band_id": CodedColumn(np.array([0, -1]), ["crcl-60-plus"]),
    ...      "max_daily_mg": WholeColumn(np.array([3600, 0]), np.array([True, False]))},
    ...     {"rules_version": "2026.12.1"})
    >>> result.frame()
            band_id  max_daily_mg
    0  crcl-60-plus          3600
    1           NaN          <NA>
    >>> result.values_at("max_daily_mg", [0, 1])
    [3600, None]
    """

    index: pd.Index
    columns: Mapping[str, Column]
    trace: Mapping[str, str]

    def __len__(self) -> int:
        return len(self.index)

    def frame(self, categorical: bool = False) -> pd.DataFrame:
        """The result frame: nullable integers and booleans, decimals as ``float64``, text
        as ``str`` (``categorical``: as pandas Categoricals, each distinct text once)."""
        data = {name: _pandas_array(column, categorical) for name, column in self.columns.items()}
        # The columns are this result's own arrays (the id's is copy-on-write): no copy.
        result = pd.DataFrame(data, index=self.index, copy=False)
        result.attrs.update(self.trace)
        return result

    def values_at(self, name: str, rows: Sequence[int]) -> list[Any]:
        """Column ``name``'s values at ``rows`` (positions) as Python values, None where
        empty."""
        column = self.columns[name]
        positions = np.asarray(rows, dtype=np.int64)
        if isinstance(column, CodedColumn):
            texts = column.table if column.kind == "whole" else column.texts()
            return [None if c < 0 else texts[c] for c in column.codes[positions].tolist()]
        if isinstance(column, WholeColumn):
            values = column.values[positions].tolist()
            present = column.present[positions].tolist()
            return [v if p else None for v, p in zip(values, present, strict=True)]
        if isinstance(column, DecimalColumn):
            return [None if v != v else v for v in column.values[positions].tolist()]
        cells = pd.Series(column.values).iloc[positions].tolist()
        return [None if pd.isna(v) else v for v in cells]


def _pandas_array(column: Column, categorical: bool) -> Any:
    if isinstance(column, CodedColumn) and column.kind == "whole":
        values, present = column.wholes()
        return pd.arrays.IntegerArray(values, ~present)
    if isinstance(column, CodedColumn):
        return _take_text(column.table, column.codes, categorical)
    if isinstance(column, WholeColumn):
        if column.is_bool:
            return pd.arrays.BooleanArray(column.values, ~column.present)
        return pd.arrays.IntegerArray(column.values, ~column.present)
    return column.values  # decimals as float64, ids as given


def _take_text(values: Sequence[Any], codes: np.ndarray, categorical: bool = False) -> Any:
    """A string column from a small table of values and per-row codes (-1: empty)."""
    texts = [None if v is None else str(v) for v in values] or [None]
    if categorical:
        table_codes, categories = pd.factorize(np.array(texts, dtype=object))
        row_codes = np.where(codes < 0, -1, table_codes[np.maximum(codes, 0)])
        # The codes index the factorized (distinct) categories by construction: from_codes
        # need not check them again.
        return pd.Categorical.from_codes(
            row_codes, categories=pd.Index(categories, dtype="str"), validate=False
        )
    return pd.array(texts, dtype=_TEXT_DTYPE).take(codes, allow_fill=True)
