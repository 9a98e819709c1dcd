"""What each results column holds (its kind), and the conversions the results reader and
the Parquet writer share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort import TRACE_COLUMNS

#: Result columns that hold one of a few values: pandas ``category``, Parquet dictionary.
ENUM_COLUMNS = (
    "crcl_source",
    "weight_basis",
    "weight_used",
    "band",
    "band_id",
    "dialysis",
    "target_regimen",
    "titration",
    "taper",
    "allowed_forms",
    "flag_severity",
    "status",
    *TRACE_COLUMNS,
)


def column_kind(name: str) -> str:
    """How a result column is typed: id, int, float, bool, date, flags, enum or text."""
    from gabacalc.core.cohort import BOOL_FIELDS, FLOAT_FIELDS, INT_FIELDS

    if name == "id":
        return "id"
    if name in INT_FIELDS:
        return "int"
    if name in FLOAT_FIELDS:
        return "float"
    if name in BOOL_FIELDS:
        return "bool"
    if name.endswith("_date"):
        return "date"
    if name == "flag_codes":
        return "flags"
    if name in ENUM_COLUMNS:
        return "enum"
    return "text"


def codes_list(text: Any) -> list[str]:
    return [code for code in str(text).split(";") if code]


def as_dates(column: pd.Series) -> pd.Series:
    """ISO text, dates or timestamps as ``datetime64[s]`` (parsed once per distinct value)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.astype("datetime64[s]")
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Index(uniques).astype("str"), format="%Y-%m-%d").astype(
        "datetime64[s]"
    )
    values = np.append(parsed.to_numpy(), np.datetime64("NaT", "s"))[codes]
    return pd.Series(values, index=column.index, dtype="datetime64[s]")
