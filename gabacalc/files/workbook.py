"""Workbooks for spreadsheet users: the plan, or a cohort's results, as typed .xlsx sheets.

An edge module: it formats what the core decided. Needs the ``workbook`` extra
(``pip install "gabacalc[workbook]"``, XlsxWriter).

The first sheet is what a person reads first: the verification banner, the gabacalc
version and the rule tables' version and checksum, then the patient line, the renal
estimate, the band and the flags (a cohort: the run's counts). The next sheets are typed
tables: real date cells (shown as YYYY-MM-DD, so never ``###`` in a narrow column), whole
mg and decimals as numbers (shown in the reader's own locale), booleans as booleans, ids
and other text as text cells as given (a leading zero is kept; a text that a spreadsheet
would run as a formula gets a leading apostrophe, the CSV's guard), a frozen header row
with a filter, and columns sized to their contents. Every sheet's printed header carries
the verification text.

The same plan gives the same bytes when ``SOURCE_DATE_EPOCH`` is set (the workbook's
creation time); otherwise it is now.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gabacalc.core.wording import VERIFICATION_TEXT
from gabacalc.errors import InputError
from gabacalc.render.records import header_lines, neutralise_cell
from gabacalc.rules import Provenance

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan

__all__ = ["MAX_ROWS", "plan_workbook", "results_workbook", "write_plan_workbook"]

#: Data rows a worksheet holds below its header row (Excel's limit is 1,048,576 rows).
MAX_ROWS = 1_048_575
_HINT = 'workbooks need the workbook extra: pip install "gabacalc[workbook]"'
_MAX_WIDTH = 60


def xlsxwriter_module() -> Any:
    try:
        import xlsxwriter
    except ImportError:
        raise InputError(_HINT, field="xlsx") from None
    return xlsxwriter


def _created() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.replace(tzinfo=None)


class _Book:
    """An in-memory workbook with the formats every gabacalc sheet uses."""

    def __init__(self, title: str) -> None:
        self.buffer = io.BytesIO()
        self.book = xlsxwriter_module().Workbook(
            self.buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.book.set_properties(
            {
                "title": title,
                "subject": VERIFICATION_TEXT,
                "author": "gabacalc",
                "comments": VERIFICATION_TEXT,
                "created": _created(),
            }
        )
        self.banner = self.book.add_format({"bold": True, "font_size": 14})
        self.bold = self.book.add_format({"bold": True})
        self.wrap = self.book.add_format({"text_wrap": True, "valign": "top"})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self.whole = self.book.add_format({"num_format": "#,##0"})
        self.decimal = self.book.add_format({"num_format": "0.0##"})
        self.header = self.book.add_format({"bold": True, "bottom": 1})

    def sheet(self, name: str) -> Any:
        sheet = self.book.add_worksheet(name)
        sheet.set_header(f"&L{VERIFICATION_TEXT}")
        return sheet

    def lines_sheet(self, name: str, lines: Sequence[str]) -> None:
        """A first sheet: the banner, then one line a row, wrapped in a wide column."""
        sheet = self.sheet(name)
        sheet.set_column(0, 0, 110, self.wrap)
        sheet.write_string(0, 0, neutralise_cell(lines[0]), self.banner)
        for row, line in enumerate(lines[1:], start=1):
            sheet.write_string(row, 0, neutralise_cell(line))

    def table_sheet(self, name: str, frame: pd.DataFrame) -> None:
        """A typed table: one header row (frozen, with a filter), one row per frame row."""
        sheet = self.sheet(name)
        n = len(frame)
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, str(column), self.header)
            width = len(str(column))
            cell_format, kind = self._kind(frame[column])
            values = frame[column].tolist()
            for row, value in enumerate(values, start=1):
                if _missing(value):
                    continue
                if kind == "date":
                    sheet.write_datetime(row, col, _as_datetime(value), cell_format)
                    width = max(width, 10)
                elif kind == "bool":
                    sheet.write_boolean(row, col, bool(value))
                elif kind == "number":
                    sheet.write_number(row, col, value, cell_format)
                    width = max(width, len(f"{value:,}"))
                else:
                    text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
                    sheet.write_string(row, col, neutralise_cell(text))
                    width = max(width, len(text))
            sheet.set_column(col, col, min(width + 2, _MAX_WIDTH))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(n, 1), max(len(frame.columns) - 1, 0))

    def _kind(self, column: pd.Series) -> tuple[Any, str]:
        dtype = column.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return self.date, "date"
        if pd.api.types.is_bool_dtype(dtype):
            return None, "bool"
        if pd.api.types.is_integer_dtype(dtype):
            return self.whole, "number"
        if pd.api.types.is_float_dtype(dtype):
            return self.decimal, "number"
        return None, "text"

    def close(self) -> bytes:
        self.book.close()
        return self.buffer.getvalue()


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return pd.Timestamp(value).to_pydatetime()


def plan_workbook(plan: Plan) -> bytes:
    """The plan as .xlsx bytes: a "Plan" sheet to read first, then "Schedule" and "Steps".

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> plan_workbook(plan)[:2]
    b'PK'
    """
    book = _Book("gabacalc plan")
    book.lines_sheet("Plan", header_lines(plan))
    book.table_sheet("Schedule", plan.schedule)
    book.table_sheet("Steps", plan.steps)
    return book.close()


def write_plan_workbook(plan: Plan, path: str | Path) -> Path:
    """Write :func:`plan_workbook` to ``path``, whole or not at all."""
    from gabacalc.files.atomic import atomic_write_bytes

    return atomic_write_bytes(path, plan_workbook(plan))


def results_workbook(results: pd.DataFrame, summary_line: str | None = None) -> bytes:
    """A cohort's results as .xlsx bytes: a "Cohort" sheet, then the typed "Results".

    Parameters
    ----------
    results : pandas.DataFrame
        Typed results (:func:`gabacalc.read_results`), the stamp in ``attrs``.
    summary_line : str, optional
        The run's counts, e.g. "1,000 rows: 2 errors, 310 flagged".

    Raises
    ------
    InputError
        More rows than a worksheet holds (:data:`MAX_ROWS`).
    """
    if len(results) > MAX_ROWS:
        raise InputError(
            f"the results have {len(results):,} rows, more than a workbook sheet holds "
            f"({MAX_ROWS:,} below its header); drop --xlsx and use the CSV or Parquet "
            "results, or split the cohort",
            field="xlsx",
        )
    stamp = Provenance.from_record(results.attrs)
    lines = [stamp.verification, stamp.record_line()]
    if summary_line:
        lines.append(f"Cohort: {summary_line}")
    lines.append(
        "One row per patient, in the input's order; a row with status error has its "
        "reason in the error column. Each plan requires physician verification."
    )
    book = _Book("gabacalc cohort results")
    book.lines_sheet("Cohort", lines)
    book.table_sheet("Results", results)
    return book.close()
