"""Cohort files: read a CSV or Parquet cohort in chunks, plan it, write the results whole.

An edge module: it reads and writes files and leaves every clinical decision to
:func:`gabacalc.plan_cohort`. Memory stays flat however long the file: one chunk at a time
is read, planned and appended to a temporary file beside the output, which is renamed over
the output only when every row is written (:func:`gabacalc.atomic.atomic_open`). If anything
fails, the output is untouched and the temporary file removed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gabacalc._version import __version__
from gabacalc.atomic import atomic_open
from gabacalc.cohort import INPUT_COLUMNS, _plan_frame, check_columns
from gabacalc.errors import InputError
from gabacalc.rules import Rules, default_rules
from gabacalc.wording import VERIFICATION_TEXT

__all__ = ["CohortReport", "read_cohort_results", "run_cohort_file"]

#: Read as text, so that a cell is never turned into a number or a date on the way in.
_TEXT_COLUMNS = {
    name: "str"
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
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PARQUET_HINT = "install pyarrow for Parquet: pip install 'gabacalc[cohort]'"
# A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CohortReport:
    """What a cohort file run did.

    Attributes
    ----------
    input_path, out_path : Path
    rows : int
        Rows read, and written: every input row comes back exactly once.
    errors : int
        Rows refused (``status`` "error"), each with its reason in ``error``.
    flagged : int
        Planned rows with a warning flag (e.g. the current dose above the band maximum,
        opioids) or more administrations than the band allows.
    above_band_max : int
        Rows whose current dose is above the band maximum (0 without current doses).
    too_many_doses : int
        Rows whose current administrations are more than the band's.
    chunks : int
        Chunks read.
    out_format : {"csv", "parquet"}
    gabacalc_version, rules_version, rules_sha256 : str
    """

    input_path: Path
    out_path: Path
    rows: int
    errors: int
    flagged: int
    above_band_max: int
    too_many_doses: int
    chunks: int
    out_format: str
    gabacalc_version: str
    rules_version: str
    rules_sha256: str

    def summary_text(self) -> str:
        """One line for a person, e.g. ``"1,000 rows: 2 errors, 310 flagged"``."""
        text = (
            f"{_count(self.rows, 'row')}: {_count(self.errors, 'error')}, {self.flagged:,} flagged"
        )
        if self.above_band_max or self.too_many_doses:
            text += (
                f" ({self.above_band_max:,} above the band maximum, "
                f"{self.too_many_doses:,} with too many administrations)"
            )
        return text


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _format_of(path: Path, what: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
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


def run_cohort_file(
    input_path: str | Path,
    out_path: str | Path,
    *,
    chunk_rows: int = 100_000,
    on_progress: Callable[[int, int], None] | None = None,
    rules: Rules | None = None,
) -> CohortReport:
    """Plan every patient of a cohort file and write one result row per input row.

    Parameters
    ----------
    input_path : str or Path
        A ``.csv`` (UTF-8, a header row; see :func:`gabacalc.plan_cohort` for the columns)
        or a ``.parquet`` file (needs pyarrow).
    out_path : str or Path
        ``.csv`` or ``.parquet``. A CSV starts with ``#`` comment lines carrying the
        verification text, the gabacalc version and the rules version and sha256 (read it
        with ``pandas.read_csv(path, comment="#")``, or :func:`read_cohort_results`); text
        cells are quoted, and one that a spreadsheet would run as a formula (starting with
        ``=``, ``+``, ``-`` or ``@``) gets a leading ``'``. A Parquet file carries the same
        in its metadata. Written whole or not at all.
    chunk_rows : int
        Rows per chunk (memory grows with this, not with the file).
    on_progress : callable, optional
        Called as ``on_progress(done, total)`` after each chunk: bytes of a CSV, rows of a
        Parquet file.
    rules : Rules, optional
        Rule tables (default the shipped ones).

    Returns
    -------
    CohortReport

    Raises
    ------
    InputError
        The input is missing, unreadable, not CSV or Parquet, or lacks a required column
        (the message lists the columns found and expected); Parquet without pyarrow (with
        the install hint). A bad row is not an error: it comes back with its reason.
    OSError
        The output cannot be written (the target is left as it was).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text(
    ...     "id,age_years,sex,weight_kg,scr,start_date\\n"
    ...     "a,72,female,60,1.3,2026-01-05\\n"
    ...     "b,300,male,80,1.0,2026-01-05\\n")
    >>> report = run_cohort_file(folder / "cohort.csv", folder / "results.csv")
    >>> report.summary_text()
    '2 rows: 1 error, 1 flagged'
    >>> read_cohort_results(folder / "results.csv")[["id", "max_daily_mg", "status"]]
      id  max_daily_mg status
    0  a          1400     ok
    1  b          <NA>  error
    """
    source, target = Path(input_path), Path(out_path)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InputError(f"chunk rows {chunk_rows!r} is not a whole number above 0")
    in_format = _format_of(source, "input")
    out_format = _format_of(target, "output")
    if not source.is_file():
        raise InputError(f"cannot read the cohort {str(source)!r}: no such file", field="input")
    if source.resolve() == target.resolve():
        raise InputError("the output would overwrite the input; give another --out path")
    rules = rules or default_rules()
    today = date.today()  # one day 1 for every row of the run
    cache: dict[Hashable, Any] = {}
    counts = {"rows": 0, "errors": 0, "flagged": 0, "above": 0, "doses": 0, "chunks": 0}
    trace = {
        "verification": VERIFICATION_TEXT,
        "gabacalc_version": __version__,
        "rules_version": rules.rules_version,
        "rules_sha256": rules.rules_sha256,
    }
    with atomic_open(target, "wb") as handle:
        writer = _writer(handle, trace, out_format)
        for chunk, done, total in _chunks(source, in_format, chunk_rows):
            result = _plan_frame(chunk, rules, today, cache, categorical=True)
            writer.write(result)
            counts["chunks"] += 1
            counts["rows"] += len(result)
            ok = result["status"] == "ok"
            counts["errors"] += int((~ok).sum())
            flagged = result["flag_severity"] == "warning"
            if "audit_too_many_doses" in result.columns:
                above = result["audit_above_band_max"].fillna(False).astype(bool)
                doses = result["audit_too_many_doses"].fillna(False).astype(bool)
                counts["above"] += int(above.sum())
                counts["doses"] += int(doses.sum())
                flagged |= doses
            counts["flagged"] += int((flagged.fillna(False).astype(bool) & ok).sum())
            if on_progress is not None:
                on_progress(done, total)
        if counts["chunks"] == 0:
            raise InputError(f"the cohort {str(source)!r} has no header row", field="input")
        writer.close()
    return CohortReport(
        input_path=source,
        out_path=target,
        rows=counts["rows"],
        errors=counts["errors"],
        flagged=counts["flagged"],
        above_band_max=counts["above"],
        too_many_doses=counts["doses"],
        chunks=counts["chunks"],
        out_format=out_format,
        gabacalc_version=__version__,
        rules_version=rules.rules_version,
        rules_sha256=rules.rules_sha256,
    )


def _writer(handle: IO[bytes], trace: dict[str, str], out_format: str) -> Any:
    if out_format == "parquet":
        return _ParquetWriter(handle, trace)
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return _CsvWriter(handle, trace)
    return _ArrowCsvWriter(handle, trace)


def read_cohort_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by :func:`run_cohort_file` back with its column types.

    The CSV's comment lines go to ``attrs`` (verification text, versions, checksum).
    """
    source = Path(path)
    if _format_of(source, "results") == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(source)
        frame = table.to_pandas()
        meta = table.schema.metadata or {}
        frame.attrs.update(
            {k.decode()[9:]: v.decode() for k, v in meta.items() if k.startswith(b"gabacalc.")}
        )
        return frame
    attrs: dict[str, str] = {}
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].strip().lstrip(",").strip('"').partition(": ")
            attrs[key] = value
    from gabacalc.cohort import _BOOL_FIELDS, _FLOAT_FIELDS, _INT_FIELDS

    frame = pd.read_csv(
        source,
        comment="#",
        dtype={"id": "str"},
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8",
    )
    for name in frame.columns:
        if name in _INT_FIELDS:
            frame[name] = frame[name].astype("Int64")
        elif name in _BOOL_FIELDS:
            frame[name] = frame[name].astype("boolean")
        elif name in _FLOAT_FIELDS:
            frame[name] = frame[name].astype("float64")
        else:
            frame[name] = frame[name].astype("str")
    frame.attrs.update(attrs)
    return frame


# ------------------------------------------------------------------------------ reading


def _chunks(
    source: Path, in_format: str, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """(chunk, done, total) in file order; the first chunk's columns are checked."""
    if in_format == "parquet":
        yield from _parquet_chunks(source, chunk_rows)
        return
    total = source.stat().st_size
    with source.open("rb") as raw:
        try:
            reader = pd.read_csv(
                raw,
                chunksize=chunk_rows,
                dtype=_TEXT_COLUMNS,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
            )
            first = True
            for chunk in reader:
                if first:
                    check_columns(chunk.columns)
                    first = False
                yield chunk, min(raw.tell(), total), total
        except pd.errors.EmptyDataError:
            raise InputError(
                f"the cohort {str(source)!r} is empty: it needs a header row, e.g. "
                "id,age_years,sex,weight_kg,scr",
                field="input",
            ) from None
        except pd.errors.ParserError as error:
            raise InputError(
                f"cannot read the cohort {str(source)!r} as CSV: {error}; nothing was written",
                field="input",
            ) from None
        except UnicodeDecodeError as error:
            raise InputError(
                f"the cohort {str(source)!r} is not UTF-8 text ({error.reason} at byte "
                f"{error.start}); save it as CSV UTF-8",
                field="input",
            ) from None


def _parquet_chunks(source: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, int, int]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
    except Exception as error:  # pyarrow raises several types for a file it cannot read
        raise InputError(f"cannot read the cohort {str(source)!r} as Parquet: {error}") from None
    total = parquet.metadata.num_rows
    check_columns(parquet.schema_arrow.names)
    wanted = [name for name in parquet.schema_arrow.names if name in INPUT_COLUMNS]
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
        chunk = batch.to_pandas()
        chunk.index = pd.RangeIndex(done, done + len(chunk))
        done += len(chunk)
        yield chunk, done, total


# ------------------------------------------------------------------------------ writing


class _CsvWriter:
    """CSV with the trace as ``#`` comment lines, text quoted, formulas neutralised.

    Both CSV writers give the same bytes: a header of quoted names; text quoted (``"``
    doubled) with a formula cell made harmless; whole numbers as digits; decimals rounded
    to 6 places and written in the shortest positional form (``1``, ``0.5``, ``32.449``);
    ``true``/``false``; an empty cell where a value is missing; ``\\n`` line ends. This one is
    plain Python: each distinct value of a column is written once (most result columns
    hold few), then the rows are joined.
    """

    def __init__(self, handle: IO[bytes], trace: dict[str, str]) -> None:
        self.handle = handle
        self.header = True
        _write_trace(handle, trace)

    def write(self, frame: pd.DataFrame) -> None:
        lines = []
        if self.header:
            lines.append(",".join(_quoted(str(name)) for name in frame.columns))
            self.header = False
        if len(frame):
            cells = [_csv_cells(frame[name]) for name in frame.columns]
            lines.append("\n".join(map(",".join, zip(*cells, strict=True))))
        if lines:
            self.handle.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> None:
        self.handle.flush()


class _ArrowCsvWriter(_CsvWriter):
    """The same bytes as :class:`_CsvWriter`, written by pyarrow's CSV writer (much faster)."""

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        table = pa.table({str(name): _arrow_column(frame[name]) for name in frame.columns})
        options = pa_csv.WriteOptions(include_header=self.header, quoting_style="needed")
        pa_csv.write_csv(table, self.handle, options)
        self.header = False


def _write_trace(handle: IO[bytes], trace: dict[str, str]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for key, value in trace.items():
        writer.writerow(["#", f"{key}: {value}"])
    handle.write(text.getvalue().encode("utf-8"))


def _harmless(text: str) -> str:
    """Prefix ``'`` to a text a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _quoted(text: str) -> str:
    return '"' + _harmless(text).replace('"', '""') + '"'


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
    """A result column as pyarrow writes it for :class:`_ArrowCsvWriter`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = [_harmless(str(v)) for v in column.cat.categories]
        codes = column.cat.codes.to_numpy()
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))
    if pd.api.types.is_float_dtype(dtype):
        return pa.array(_rounded(column), from_pandas=True)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return pa.array(column, from_pandas=True)
    text = pa.array(column.astype("str"), type=pa.string(), from_pandas=True)
    risky = pc.match_substring_regex(text, "^[=+\\-@\t\r]")
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


class _ParquetWriter:
    """One Parquet file, a row group per chunk, the trace in the schema metadata."""

    def __init__(self, handle: IO[bytes], trace: dict[str, str]) -> None:
        self.handle = handle
        self.trace = {f"gabacalc.{k}".encode(): v.encode() for k, v in trace.items()}
        self.writer: Any = None
        self.schema: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = frame.copy(deep=False)
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = frame[name].astype("str")
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema.with_metadata(
                {**(table.schema.metadata or {}), **self.trace}
            )
            table = table.replace_schema_metadata(self.schema.metadata)
            self.writer = pq.ParquetWriter(self.handle, self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.handle.flush()
