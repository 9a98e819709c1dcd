"""Results files read back with their types: the column kinds, :func:`typed_results` and
:func:`read_results` (CSV or Parquet).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort import TRACE_COLUMNS
from gabacalc.files.cohort_columns import as_dates, codes_list, column_kind
from gabacalc.files.cohort_read import format_of


def typed_results(frame: pd.DataFrame) -> pd.DataFrame:
    """A results table with the column types :func:`read_results` gives.

    Ids as text exactly as given; whole mg as nullable ``Int64``; decimals as
    ``float64``; booleans as nullable ``boolean``; dates (the ``*_date`` columns) as
    ``datetime64[s]``; ``flag_codes`` as a list of codes per row (empty when a planned row
    has none, missing on an error row); enumerations (:data:`ENUM_COLUMNS`) as
    ``category`` with sorted categories; other text as ``str``. ``attrs`` are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> from gabacalc import plan_cohort
    >>> out = plan_cohort(pd.DataFrame({"id": ["00123"], "age_years": [72], "sex": ["female"],
    ...     "weight_kg": [60], "scr": [1.3], "start_date": ["2026-01-05"]}))
    >>> typed = typed_results(out)
    >>> typed.loc[0, "id"], typed.loc[0, "review_date"], typed.loc[0, "flag_codes"][:1]
    ('00123', Timestamp('2026-02-27 00:00:00'), ['TARGET_LIMITED_RENAL'])
    """
    out = frame.copy(deep=False)
    ok = out["status"].astype("str") == "ok" if "status" in out.columns else None
    for name in out.columns:
        column, kind = out[name], column_kind(str(name))
        if isinstance(column.dtype, pd.CategoricalDtype) and kind not in ("enum",):
            column = column.astype("str").where(column.notna())
        if kind == "id":
            out[name] = column.astype("str").where(column.notna())
        elif kind == "int":
            out[name] = column.astype("Int64")
        elif kind == "float":
            out[name] = column.astype("float64")
        elif kind == "bool":
            out[name] = column.astype("boolean")
        elif kind == "date":
            out[name] = as_dates(column)
        elif kind == "flags":
            out[name] = _flag_lists(column, ok)
        elif kind == "enum":
            values = column.astype("str").where(column.notna())
            out[name] = pd.Categorical(values, categories=sorted(values.dropna().unique()))
        else:
            out[name] = column.astype("str").where(column.notna())
    out.attrs = dict(frame.attrs)
    return out


def _flag_lists(column: pd.Series, ok: pd.Series | None) -> pd.Series:
    """Flag codes as one list per row: from ";"-joined text, or from Parquet's lists."""
    codes, uniques = pd.factorize(column.map(_key_of), use_na_sentinel=True)
    table = [list(key) for key in uniques]
    values = np.empty(len(column), dtype=object)
    for i, code in enumerate(codes):
        values[i] = None if code < 0 else table[code]
    if ok is not None:  # a planned row without flags has an empty list, not a missing one
        for row in np.flatnonzero(ok.to_numpy() & (codes < 0)):
            values[row] = []
    return pd.Series(values, index=column.index, dtype=object)


def _key_of(value: Any) -> tuple[str, ...] | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return tuple(codes_list(value))
    return tuple(str(code) for code in value)  # a list or array from Parquet


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by ``gabacalc cohort`` back with its column types.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` results file (Parquet needs pyarrow).

    Returns
    -------
    pandas.DataFrame
        One row per patient, typed as :func:`typed_results` says (dates as dates, whole mg
        as ``Int64``, booleans as ``boolean``, ``flag_codes`` as lists, ids as text), with
        the stamp (``verification``, ``gabacalc_version``, ``rules_version``,
        ``rules_sha256``) in ``attrs``.

    Raises
    ------
    InputError
        The file is neither .csv nor .parquet, or is Parquet and pyarrow is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text(
    ...     "id,age_years,sex,weight_kg,scr,start_date\\n00123,72,female,60,1.3,2026-01-05\\n")
    >>> from gabacalc.files.cohort_io import run_cohort_file
    >>> _ = run_cohort_file(folder / "cohort.csv", folder / "results.csv")
    >>> back = read_results(folder / "results.csv")
    >>> back.loc[0, "id"], back["review_date"].dtype, back["max_daily_mg"].dtype
    ('00123', dtype('<M8[s]'), Int64Dtype())
    >>> back.attrs["verification"]
    'Illustrative plan - requires physician verification'
    """
    source = Path(path)
    return read_results_from(source, format_of(source, "results"))


#: The name read_results had before it was exported as ``gabacalc.read_results``.
read_cohort_results = read_results


def read_results_from(source: Path | IO[bytes], fmt: str) -> pd.DataFrame:
    """:func:`read_results` for a path or an open binary file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(source)
        frame = table.to_pandas(date_as_object=False)
        meta = table.schema.metadata or {}
        stamp = {k.decode()[9:]: v.decode() for k, v in meta.items() if k.startswith(b"gabacalc.")}
    else:
        header = pd.read_csv(source, nrows=0, encoding="utf-8").columns
        if not isinstance(source, Path):
            source.seek(0)
        kinds = {name: column_kind(name) for name in header}
        dtypes = {"int": "Int64", "float": "float64", "bool": "boolean"}
        frame = pd.read_csv(
            source,
            dtype={name: dtypes.get(kind, "str") for name, kind in kinds.items()},
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
        )
        stamp = {}
        for name in TRACE_COLUMNS:
            if name in frame.columns and len(frame):
                stamp[name] = str(frame[name].iloc[0])
    typed = typed_results(frame)
    typed.attrs.update(stamp)
    return typed
