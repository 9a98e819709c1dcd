"""Cohort mode's input, parsed column by column: each distinct cell once, then a take.

A cohort repeats a few values (sexes, units, dates, risk lists) over many rows, so every
text column is parsed once per distinct cell and the answers are broadcast to the rows by
their codes. A cell the parser does not accept marks its row ``odd``: that row is planned
on its own through :class:`~gabacalc.Patient` and build_plan, which give the refusal's exact
message (or, for a spelling only they accept, the plan).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort_columns import (
    NUMERIC_COLUMNS,
    OPTION_COLUMNS,
    PATIENT_COLUMNS,
    REQUIRED_COLUMNS,
)
from gabacalc.core.options import dialysis_weekdays
from gabacalc.core.patient import (
    DIALYSIS_CHOICES,
    SCR_UNIT_ALIASES,
    SCR_UNITS,
    SEXES,
    checked_choice,
    checked_risks,
)
from gabacalc.core.renal import WEIGHT_BASES
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules

__all__ = [
    "CohortColumns",
    "group_rows",
    "missing",
    "parse_columns",
    "parse_strengths",
    "plain",
    "row_kwargs",
]

#: A cell parser: ``parse(cell) -> (ok, value)``.
_Parser = Callable[[Any], tuple[bool, Any]]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def missing(value: Any) -> bool:
    """Whether a cell is empty (None or NaN; a list or other container never is)."""
    if value is None:
        return True
    if isinstance(value, str):  # the common cases first: text and floats
        return False
    if isinstance(value, float):
        return value != value  # NaN
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers are not missing
        return False


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value build_plan would be given."""
    return value.item() if isinstance(value, np.generic) else value


def _factorize(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes and unique cells of a column (containers made hashable)."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
        return codes, list(uniques)
    except TypeError:
        cells = [
            tuple(v) if isinstance(v, list | set) else v for v in series.to_numpy(dtype=object)
        ]
        keys = np.empty(len(cells), dtype=object)
        for i, cell in enumerate(cells):
            try:
                hash(cell)
                keys[i] = cell
            except TypeError:  # a dict, or a list holding one: keyed by its text
                keys[i] = ("unhashable", type(cell).__name__, repr(cell))
        codes, unique_keys = pd.factorize(keys, use_na_sentinel=False)
        first: dict[int, Any] = {}  # each code's first cell, as the parsers are given it
        for i, code in enumerate(codes.tolist()):
            first.setdefault(code, cells[i])
        return codes, [first[k] for k in range(len(unique_keys))]


def _per_unique(
    series: pd.Series, parse: Any, size: int
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Apply ``parse(cell) -> (ok, value)`` once per distinct cell.

    Returns the codes into the parsed values, an ``ok`` mask, and the parsed values.
    """
    codes, uniques = _factorize(series)
    parsed = [parse(u) for u in uniques]
    ok = np.array([p[0] for p in parsed], dtype=bool)
    values = [p[1] for p in parsed]
    return codes, ok[codes], values


def _numeric(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN where missing) and a mask of cells that are not a finite number.

    Conversion follows :func:`gabacalc.core.patient.check_number` (Python's ``float``).
    """
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):

        def parse(cell: Any) -> tuple[bool, float]:
            if missing(cell):
                return True, math.nan
            if isinstance(cell, bool | np.bool_):  # as check_number: a flag is not a number
                return False, math.nan
            try:
                number = float(cell)
            except (TypeError, ValueError, OverflowError):
                return False, math.nan
            return math.isfinite(number), number if math.isfinite(number) else math.nan

        codes, ok, parsed = _per_unique(series, parse, len(series))
        table = np.array(parsed, dtype=np.float64)
        return table[codes], ~ok
    if series.dtype == np.float64:  # numpy's own floats: the column itself, read-only
        values = series.to_numpy()
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isinf(values)


def group_rows(
    columns: Sequence[np.ndarray], rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by several key arrays, each taken at ``rows`` (default every row): group
    codes and each group's first row (a position in ``rows``).

    The columns are taken one at a time, so that a million rows and twenty keys never hold
    twenty copies at once. Groups are numbered in order of first appearance.

    Examples
    --------
    >>> codes, first = group_rows([np.array([1, 1, 2, 1]), np.array([0.5, 0.5, 0.5, np.nan])])
    >>> codes.tolist(), first.tolist()
    ([0, 0, 1, 2], [0, 2, 3])
    """
    size = len(columns[0]) if rows is None else len(rows)
    combined, count = np.zeros(size, dtype=np.int64), 1
    for column in columns:
        codes, values = _value_codes(column if rows is None else column[rows])
        if values == 1:
            continue
        if count * values >= 1 << 62:  # renumber before the codes could overflow
            combined, uniques = pd.factorize(combined)
            count = len(uniques)
        combined, count = combined * values + codes, count * values
    combined, _ = pd.factorize(combined)
    # factorize numbers the groups in order of first appearance, so a group's first row is
    # where the running maximum of the codes rises (no sort needed).
    rises = np.diff(np.maximum.accumulate(combined), prepend=-1) > 0
    return combined.astype(np.int64, copy=False), np.flatnonzero(rises)


#: Whole numbers spanning fewer than this many values are their own codes (no hashing).
_SPAN = 1 << 20


def _value_codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of equal values (NaN equal to NaN), and how many codes there may be.

    Small codes and whole numbers (the usual key: a band, a dose, a choice, NaN where not
    given) are numbered by their value, without hashing; anything else by factorize.
    """
    if column.dtype.kind in "biu" and len(column):
        low, high = int(column.min()), int(column.max())
        if high - low < _SPAN:
            return column.astype(np.int64) - low, high - low + 1
    elif column.dtype.kind == "f" and len(column):
        nan = np.isnan(column)
        if nan.all():
            return np.zeros(len(column), dtype=np.int64), 1
        low, high = np.nanmin(column), np.nanmax(column)
        filled = np.where(nan, low, column)
        if high - low < _SPAN and np.array_equal(filled, np.floor(filled)):
            span = int(high - low) + 1
            return np.where(nan, span, filled - low).astype(np.int64), span + 1
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), len(uniques)


@dataclass
class CohortColumns:
    """The input parsed into arrays; ``odd`` marks rows the vectorised path does not take."""

    n: int
    num: dict[str, np.ndarray]
    odd: np.ndarray
    female: np.ndarray
    dialysis: np.ndarray  # index into DIALYSIS_CHOICES
    umol: np.ndarray
    risk_codes: np.ndarray
    risk_values: list[tuple[str, ...]]
    pain_codes: np.ndarray
    pain_values: list[str]
    basis: np.ndarray  # index into WEIGHT_BASES
    text_codes: dict[str, np.ndarray]
    text_values: dict[str, list[Any]]


def parse_columns(df: pd.DataFrame, rules: Rules, today: date) -> CohortColumns:
    """Every input column of ``df`` as arrays (``today``: the start date of an empty cell)."""
    n = len(df)
    odd = np.zeros(n, dtype=bool)
    num = _numbers(df, odd)
    sex = _choice_column(df, odd, "sex", SEXES, "", "sex")
    dialysis = _choice_column(df, odd, "dialysis", DIALYSIS_CHOICES, "none", "dialysis")
    unit = _choice_column(
        df, odd, "scr_unit", SCR_UNITS, "mg/dL", "creatinine unit", SCR_UNIT_ALIASES
    )
    pains = tuple(rules.pain_types)
    pain_idx = _choice_column(df, odd, "pain_type", pains, "other", "pain type")
    risk_codes, risk_values = _keyed(df, odd, "risks", _risks_parser(rules))
    basis_codes, basis_values = _keyed(df, odd, "weight_basis", _basis_parser(rules))
    text_codes: dict[str, np.ndarray] = {}
    text_values: dict[str, list[Any]] = {}
    for name, parse in _option_parsers(rules, today).items():
        text_codes[name], text_values[name] = _keyed(df, odd, name, parse)
    return CohortColumns(
        n=n,
        num=num,
        odd=odd,
        female=sex == SEXES.index("female"),
        dialysis=dialysis,
        umol=unit == SCR_UNITS.index("umol/L"),
        risk_codes=risk_codes,
        risk_values=risk_values,
        pain_codes=pain_idx,
        pain_values=list(pains),
        basis=np.asarray(basis_values, dtype=np.int8)[basis_codes],
        text_codes=text_codes,
        text_values=text_values,
    )


def _numbers(df: pd.DataFrame, odd: np.ndarray) -> dict[str, np.ndarray]:
    """The numeric columns as float64 (NaN empty), marking rows with a non-number ``odd``.

    An absent column is one read-only array of NaN shared by every such name: a plain
    cohort has most of them, and a million rows of NaN each is 8 MB.
    """
    absent = np.full(len(df), np.nan)
    absent.flags.writeable = False
    num: dict[str, np.ndarray] = {}
    for name in NUMERIC_COLUMNS:
        if name in df.columns:
            values, bad = _numeric(df[name])
            odd |= bad
            num[name] = values
        else:
            num[name] = absent
    return num


def _choice_column(
    df: pd.DataFrame,
    odd: np.ndarray,
    name: str,
    choices: Sequence[str],
    default: str,
    label: str,
    aliases: Mapping[str, str] | None = None,
) -> np.ndarray:
    """A choice column as indexes into ``choices`` (as Patient reads it: checked_choice)."""
    if name not in df.columns:
        return np.full(len(df), choices.index(default), dtype=np.int8)
    spellings = aliases or {}

    def parse(cell: Any) -> tuple[bool, int]:
        if missing(cell):
            return name != "sex", choices.index(default) if default else -1
        text = spellings.get(str(cell).strip().lower(), cell)
        try:
            return True, choices.index(checked_choice(text, name, label, tuple(choices)))
        except InputError:
            return False, -1

    codes, ok, parsed = _per_unique(df[name], parse, len(df))
    odd |= ~ok
    return np.asarray(parsed, dtype=np.int8)[codes]  # a few choices: a byte a row


def _keyed(
    df: pd.DataFrame, odd: np.ndarray, name: str, parse: _Parser
) -> tuple[np.ndarray, list[Any]]:
    """A column as codes into its parsed distinct cells (an absent column: one empty cell)."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=np.int8), [parse(None)[1]]
    codes, ok, values = _per_unique(df[name], parse, len(df))
    odd |= ~ok
    return _narrow(codes, len(values)), values


def _narrow(codes: np.ndarray, size: int) -> np.ndarray:
    """Codes into a table of ``size`` entries in the narrowest integer type that holds them
    (and -1): a million rows of a column with a few distinct cells take 1 MB, not 8."""
    for kind in (np.int8, np.int16, np.int32):
        if size < np.iinfo(kind).max:
            return codes.astype(kind)
    return codes


def _risks_parser(rules: Rules) -> _Parser:
    def risks(cell: Any) -> tuple[bool, tuple[str, ...]]:
        if missing(cell):
            return True, ()
        try:
            return True, checked_risks(cell, rules)
        except (InputError, TypeError, AttributeError):
            return False, ()

    return risks


def _basis_parser(rules: Rules) -> _Parser:
    def basis(cell: Any) -> tuple[bool, int]:
        if missing(cell):
            return True, WEIGHT_BASES.index(rules.defaults["weight_basis"])
        known = isinstance(cell, str) and cell in WEIGHT_BASES
        return (True, WEIGHT_BASES.index(cell)) if known else (False, -1)

    return basis


def _option_parsers(rules: Rules, today: date) -> dict[str, _Parser]:
    """The parsers of the build_plan options kept as codes into their distinct values."""

    def preset(table: Mapping[str, Any]) -> _Parser:
        def parse(cell: Any) -> tuple[bool, str | None]:
            if missing(cell):
                return True, None
            return (True, cell) if isinstance(cell, str) and cell in table else (False, None)

        return parse

    def start(cell: Any) -> tuple[bool, date]:
        parsed = _start_date(cell, today)
        return isinstance(parsed, date), parsed if isinstance(parsed, date) else today

    def strengths(cell: Any) -> tuple[bool, tuple[int, ...] | None]:
        try:
            parsed = parse_strengths(cell)
        except InputError:
            return False, None
        return True, None if parsed is None else tuple(sorted(set(parsed)))

    def oral(cell: Any) -> tuple[bool, bool]:
        try:
            return True, _oral_solution(cell)
        except InputError:
            return False, False

    def days(cell: Any) -> tuple[bool, tuple[str, ...]]:
        try:
            return True, dialysis_weekdays(None if missing(cell) else plain(cell), rules)
        except (InputError, TypeError):
            return False, ()

    return {
        "titration": preset(rules.titration_presets),
        "taper": preset(rules.taper_presets),
        "start_date": start,
        "strengths_mg": strengths,
        "oral_solution": oral,
        "dialysis_days": days,
    }


def _start_date(cell: Any, today: date) -> Any:
    """A date, or the cell itself when it is not one (resolve_options then refuses it)."""
    if missing(cell):
        return today
    cell = plain(cell)
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, str):
        try:
            return _iso_date(cell.strip())
        except ValueError:
            return cell
    return cell


@functools.lru_cache(maxsize=1024)  # a cohort has few distinct start dates
def _iso_date(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()


def parse_strengths(
    cell: Any, where: str = "strengths_mg", example: str = "100;300;400"
) -> list[int] | None:
    """Allowed strengths from a cell or an option: ``"100;300"`` or ``"100,300"``, a number,
    or a list (the one parser of cohort cells and ``--strengths``); ``where`` and ``example``
    name the input in a refusal.

    Examples
    --------
    >>> parse_strengths("100; 300,400"), parse_strengths(None)
    ([100, 300, 400], None)
    >>> parse_strengths("abc", "--strengths", "100,300,400")
    Traceback (most recent call last):
    gabacalc.errors.InputError: strength 'abc' in --strengths is not a whole number of mg; ...
    """
    if missing(cell):
        return None
    cell = plain(cell)
    if isinstance(cell, str):
        items: Iterable[Any] = cell.replace(";", ",").split(",")
    elif isinstance(cell, list | tuple | set | np.ndarray):
        items = list(cell)
    else:
        items = [cell]
    values = []
    for item in items:
        item = plain(item)
        text = item.strip() if isinstance(item, str) else item
        if text == "":
            continue
        if isinstance(text, float) and text.is_integer():
            text = int(text)
        try:
            if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
                raise ValueError
            values.append(int(text))
        except (TypeError, ValueError):
            raise InputError(
                f"strength {value_text(item)} in {where} is not a whole number of mg; "
                f"give e.g. {example}",
                field="strengths_mg",
            ) from None
    return values


def _oral_solution(cell: Any) -> bool:
    if missing(cell):
        return False
    cell = plain(cell)
    if isinstance(cell, bool):
        return cell
    text = str(cell).strip().lower()
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(
        f"oral_solution {value_text(cell)} is not true or false (also accepted: yes/no, 1/0)",
        field="oral_solution",
    )


def row_kwargs(cells: Mapping[str, Any], today: date) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The Patient fields, build_plan keywords and current_doses_per_day of one row."""
    patient: dict[str, Any] = {}
    for name in PATIENT_COLUMNS:
        value = cells.get(name)
        if missing(value):
            if name in REQUIRED_COLUMNS:
                raise InputError(f"{name} is missing (a value is required)", field=name)
            continue
        patient[name] = plain(value)
    options: dict[str, Any] = {}
    for name in OPTION_COLUMNS:
        value = cells.get(name)
        if name == "start_date":
            options[name] = _start_date(value, today)
        elif name == "strengths_mg":
            options[name] = parse_strengths(value)
        elif name == "oral_solution":
            options[name] = _oral_solution(value)
        elif not missing(value):
            options[name] = plain(value)
    count = cells.get("current_doses_per_day")
    return patient, options, None if missing(count) else plain(count)
