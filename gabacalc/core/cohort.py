"""Cohort mode: one plan summary per patient row, computed for a whole table at once.

``plan_cohort`` answers, for every row of a DataFrame, what :func:`gabacalc.build_plan` would
answer for that patient, without a Python loop over patients:

1. The renal estimate (Cockcroft-Gault with the weight-basis rules, umol/L conversion, a
   given CrCl, dialysis) and the band lookup (edge convention, the proportional reduction
   below CrCl 15) are computed with numpy over every row. These are the only values that
   vary continuously from patient to patient.
2. Everything else in a plan depends only on a small discrete key: the band's dose range
   and administrations, dialysis, whether the start-low rule applies, and the options.
   One plan is built per unique key, through the single-patient core
   (:func:`gabacalc.core.plan.summary_codes_from_options`, with the key's first patient),
   and its dates and doses are broadcast to the key's rows.
3. The flag codes that depend on the patient rather than on the doses (the estimate's, the
   band's and the safety context's) are worked out per row with the core's own rules and
   merged in the core's order.
4. A row the vectorised checks do not accept is planned on its own through the same core,
   so that a refusal carries the single-patient path's exact message.

Pure: a DataFrame in, a DataFrame out, no file I/O and no global state, so it runs
unchanged on one partition at a time (e.g. ``dask.dataframe.map_partitions``).

The steps live beside this module: :mod:`gabacalc.core.cohort_columns` (the columns),
:mod:`~gabacalc.core.cohort_parse` (the input as arrays), :mod:`~gabacalc.core.cohort_renal`
(step 1), :mod:`~gabacalc.core.cohort_flags` (step 3), :mod:`~gabacalc.core.cohort_frame`
(the result's columns) and :mod:`~gabacalc.core.cohort_result` (what they are).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort_columns import (
    AUDIT_COLUMNS,
    BOOL_FIELDS,
    FLOAT_FIELDS,
    INPUT_COLUMNS,
    INT_FIELDS,
    OUTPUT_COLUMNS,
    REQUIRED_COLUMNS,
    SUMMARY_COLUMNS,
    TRACE_COLUMNS,
    check_columns,
)
from gabacalc.core.cohort_flags import Outcome, dose_codes
from gabacalc.core.cohort_frame import assemble, check_representatives
from gabacalc.core.cohort_parse import CohortColumns, group_rows, parse_columns, row_kwargs
from gabacalc.core.cohort_renal import (
    BandArrays,
    RenalArrays,
    band_arrays,
    options_ok,
    renal_arrays,
)
from gabacalc.core.cohort_result import ResultColumns
from gabacalc.core.options import resolve_options
from gabacalc.core.patient import DIALYSIS_CHOICES, Patient, checked_rules, older_adult
from gabacalc.core.plan import summary_codes_from_options
from gabacalc.core.startlow import respiratory_risks, start_low_applies
from gabacalc.errors import InputError, value_text
from gabacalc.rules import Rules

__all__ = [
    "AUDIT_COLUMNS",
    "BOOL_FIELDS",
    "FLOAT_FIELDS",
    "INPUT_COLUMNS",
    "INT_FIELDS",
    "OUTPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "SUMMARY_COLUMNS",
    "TRACE_COLUMNS",
    "check_columns",
    "plan_cohort",
    "plan_columns",
    "plan_frame",
]

#: The build_plan options kept as codes into their distinct values, part of the plan key.
_TEXT_KEYS = ("titration", "taper", "start_date", "strengths_mg", "oral_solution")
#: A key array, with the table its codes index (None: the array holds the values).
_KeyColumns = list[tuple[np.ndarray, "list[Any] | None"]]
_RowPlanner = Callable[[np.ndarray], "list[Outcome | InputError]"]


def plan_cohort(df: pd.DataFrame, *, rules: Rules | None = None) -> pd.DataFrame:
    """Plan a whole cohort: one summary row per patient row, in the same order.

    Every row gets what :func:`gabacalc.build_plan` gives that patient (the same numbers,
    dates and flag codes); a row that build_plan would refuse comes back with
    ``status="error"`` and the refusal's message. One bad row never stops the others.

    Parameters
    ----------
    df : pandas.DataFrame
        One patient per row. Columns: ``id`` (carried through unchanged), the
        :class:`~gabacalc.Patient` fields (``age_years``, ``sex``, ``weight_kg`` are
        required; ``height_cm``, ``scr`` with ``scr_unit``, ``crcl_ml_min``, ``dialysis``,
        ``risks`` as names separated by ";", ``pain_type``), and the build_plan keywords
        (``weight_basis``, ``start_daily_mg`` [mg/day], ``target_daily_mg`` [mg/day],
        ``titration``, ``taper``, ``review_weeks``, ``start_date`` (YYYY-MM-DD),
        ``strengths_mg`` (e.g. "100;300"), ``oral_solution`` (true/false),
        ``dialysis_days`` (e.g. "mon;wed;fri"), ``current_daily_mg`` [mg/day]), plus
        ``current_doses_per_day`` (1-3) for the re-plan and the audit. A missing optional
        column, or an empty cell, takes the single-patient default (``start_date``: today,
        the same day for every row of the call). Other columns are ignored.
    rules : Rules, optional
        Rule tables (default the shipped ones).

    Returns
    -------
    pandas.DataFrame
        One row per input row, same order and same index, columns :data:`OUTPUT_COLUMNS`:
        ``id``; the summary keys (``crcl_ml_min`` [mL/min], ``weight_used_kg`` [kg],
        ``band``, ``doses_per_day``, ``max_daily_mg`` [mg/day], ``target_daily_mg``
        [mg/day], dates as ISO strings, ...); ``flag_codes`` (the flag codes, ";"-separated, in
        build_plan's order) and ``flag_severity`` (the highest); with
        ``current_daily_mg`` or ``current_doses_per_day`` columns, the audit:
        ``audit_above_band_max`` and ``audit_excess_mg`` (current dose minus the band
        maximum, 0 if within), ``audit_too_many_doses`` and ``audit_excess_doses``
        (administrations above the band's); ``status`` ("ok" or "error") and ``error``;
        and the verification text, gabacalc version, rules version and checksum (also in
        ``attrs``). Whole mg are nullable ``Int64``; on an error row every output but
        ``id``, ``status``, ``error`` and the trace columns is empty.

    Raises
    ------
    InputError
        The frame lacks a required column (the message lists what it has), has none of
        ``scr``, ``crcl_ml_min`` and ``dialysis``, or has a column whose name looks like a
        misspelt input column.

    See Also
    --------
    gabacalc.build_plan : the same plan for one patient, with the schedule and steps.

    Examples
    --------
    >>> import pandas as pd
    >>> cohort = pd.DataFrame({
    ...     "id": ["a", "b", "c"], "age_years": [72, 50, 300],
    ...     "sex": ["female", "male", "male"], "weight_kg": [60, 80, 80],
    ...     "height_cm": [160, None, None], "scr": [1.3, 1.0, 1.0],
    ...     "start_date": "2026-01-05",
    ... })
    >>> out = plan_cohort(cohort)
    >>> out[["id", "band", "max_daily_mg", "target_daily_mg", "status"]]
      id                               band  max_daily_mg  target_daily_mg status
    0  a  CrCl above 30 and below 60 mL/min          1400             1400     ok
    1  b          CrCl of 60 mL/min or more          3600             1800     ok
    2  c                                NaN          <NA>             <NA>  error
    >>> out.loc[0, "review_date"], round(float(out.loc[0, "crcl_ml_min"]), 1)
    ('2026-02-27', 32.3)
    >>> out.loc[2, "error"]
    'age 300 years is outside 18-110 years (gabacalc plans for adults)'
    """
    rules = checked_rules(rules)
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            f"the cohort {value_text(df)} is not a pandas DataFrame; build one with one "
            "row per patient (e.g. pandas.read_csv), or use gabacalc cohort for a file",
            field="df",
        )
    return plan_frame(df, rules, date.today(), None)


def plan_frame(
    df: pd.DataFrame,
    rules: Rules,
    today: date,
    cache: dict[Hashable, Outcome | InputError] | None,
    *,
    categorical: bool = False,
) -> pd.DataFrame:
    """plan_cohort with a fixed 'today' and an optional cache of plans by key (per file).

    ``categorical`` gives the text columns as pandas Categoricals (each distinct text
    once) instead of ``str``.
    """
    return plan_columns(df, rules, today, cache).frame(categorical)


def plan_columns(
    df: pd.DataFrame,
    rules: Rules,
    today: date,
    cache: dict[Hashable, Outcome | InputError] | None,
) -> ResultColumns:
    """:func:`plan_frame`'s result as columns of arrays, before a DataFrame is made of them
    (what the cohort file writers write)."""
    check_columns(df.columns)
    cols = parse_columns(df, rules, today)
    # A row far outside its limits (a height of 1e-300 cm) may divide by zero or overflow
    # here; it is refused by the limit checks, so numpy need not warn about it.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        renal = renal_arrays(cols, rules)
    bands = band_arrays(cols, renal, rules)
    fast = _vectorised_rows(df, cols, renal, bands, rules)
    older = older_adult(cols.num["age_years"], rules)
    key_columns = _plan_key(cols, renal, bands, rules)
    raw_columns = [name for name in df.columns if name in INPUT_COLUMNS]
    plan_rows = functools.partial(_plan_rows, df, raw_columns, rules, today)
    group, reps, rep_rows, singles = _plan_keys(key_columns, fast, cache, plan_rows)
    del key_columns
    # Every other row (a refusal, or one the vectorised checks leave) on its own; a refused
    # key's first row planned here has its refusal already.
    single_rows = np.flatnonzero(group < 0)
    single_rows = single_rows[~np.isin(single_rows, list(singles))]
    singles.update(zip(single_rows.tolist(), plan_rows(single_rows), strict=True))
    result = assemble(df, rules, cols, renal, bands, group, reps, singles, older)
    check_representatives(result, reps, rep_rows)
    return result


def _vectorised_rows(
    df: pd.DataFrame,
    cols: CohortColumns,
    renal: RenalArrays,
    bands: BandArrays,
    rules: Rules,
) -> np.ndarray:
    """The rows the vectorised path takes: every input check passes and a band applies."""
    fast: np.ndarray = renal.ok & options_ok(cols, rules) & (bands.index >= 0)
    if "dialysis_days" in df.columns:  # days without hemodialysis: the core refuses the row
        hemo = cols.dialysis == DIALYSIS_CHOICES.index("hemodialysis")
        fast &= hemo | df["dialysis_days"].isna().to_numpy(dtype=bool)
    return fast


def _plan_key(
    cols: CohortColumns, renal: RenalArrays, bands: BandArrays, rules: Rules
) -> _KeyColumns:
    """The plan key: what a plan depends on besides the continuous estimate.

    Dialysis days matter only on hemodialysis, whose supplement also depends on the exact
    scale.
    """
    num, tc = cols.num, cols.text_codes
    hemo = cols.dialysis == DIALYSIS_CHOICES.index("hemodialysis")
    resp = np.array([bool(respiratory_risks(v, rules)) for v in cols.risk_values] or [False])
    start_low = start_low_applies(
        resp[cols.risk_codes], num["age_years"], cols.dialysis, renal.crcl, rules
    )
    current = num["current_daily_mg"]
    return [
        (bands.index, None),
        (bands.min_mg, None),
        (bands.max_mg, None),
        (bands.doses, None),
        (cols.dialysis, None),
        (np.where(hemo & bands.scaled, bands.scale, -1.0), None),
        (start_low, None),
        (cols.basis, None),
        (num["start_daily_mg"], None),
        (num["target_daily_mg"], None),
        (num["review_weeks"], None),
        (current, None),
        (np.where(np.isnan(current), -1.0, num["current_doses_per_day"]), None),
        *((tc[name], cols.text_values[name]) for name in _TEXT_KEYS),
        (np.where(hemo, tc["dialysis_days"], -1), cols.text_values["dialysis_days"]),
    ]


def _plan_keys(
    key_columns: _KeyColumns,
    fast: np.ndarray,
    cache: dict[Hashable, Outcome | InputError] | None,
    plan_rows: _RowPlanner,
) -> tuple[np.ndarray, list[Outcome | None], list[int], dict[int, Outcome | InputError]]:
    """One plan per key, from the key's first row (or the cache).

    Returns each row's key (-1: not planned by key), each key's plan (None: refused), each
    key's first row where its plan was made here (-1: from the cache), and the refusal of
    each such first row whose key was refused (its row's own: it was planned on its own).
    """
    n = len(fast)
    group = np.full(n, -1, dtype=np.int64)
    fast_rows = np.flatnonzero(fast)
    if not len(fast_rows):
        return group, [], [], {}
    every = len(fast_rows) == n  # then the key arrays need no copy taken at fast_rows
    codes, first = group_rows([values for values, _ in key_columns], None if every else fast_rows)
    firsts = fast_rows[first]
    if cache is None:
        outcomes = plan_rows(firsts)
        rep_rows = firsts.tolist()
    else:
        # Groups whose cells differ only in spelling ("no" and "false") share a key.
        keys = _key_values(key_columns, firsts)
        new: dict[Hashable, int] = {}  # each key not planned yet, and its first group
        for k, key in enumerate(keys):
            if key not in cache and key not in new:
                new[key] = k
        rows = firsts[list(new.values())]
        for key, outcome in zip(new, plan_rows(rows), strict=True):
            cache[key] = outcome
        outcomes = [cache[key] for key in keys]
        rep_rows = [-1] * len(keys)
        for k in new.values():
            rep_rows[k] = int(firsts[k])
    reps = [None if isinstance(o, InputError) else o for o in outcomes]
    planned = np.array([r is not None for r in reps])[codes]
    group[fast_rows[planned]] = codes[planned]
    refused: dict[int, Outcome | InputError] = {
        row: outcome
        for row, outcome in zip(rep_rows, outcomes, strict=True)
        if row >= 0 and isinstance(outcome, InputError)
    }
    return group, reps, rep_rows, refused


def _key_values(key_columns: _KeyColumns, rows: np.ndarray) -> list[Hashable]:
    """The keys' values (not codes) at ``rows``, to recognise a key from an earlier chunk."""
    columns = []
    for values, table in key_columns:
        column = values[rows].tolist()
        if table is not None:
            column = [None if v < 0 else table[v] for v in column]
        columns.append([None if isinstance(v, float) and v != v else v for v in column])
    return list(zip(*columns, strict=True))


def _plan_rows(
    df: pd.DataFrame, raw_columns: Sequence[str], rules: Rules, today: date, rows: np.ndarray
) -> list[Outcome | InputError]:
    """Rows through the single-patient core (their cells taken out only for them)."""
    raw = {name: _cells_of(df[name], rows) for name in raw_columns}
    outcomes: list[Outcome | InputError] = []
    for k in range(len(rows)):
        try:
            outcomes.append(_plan_row({n: v[k] for n, v in raw.items()}, rules, today))
        except InputError as error:
            # Kept (and cached) without its traceback, which would pin this chunk's data.
            outcomes.append(error.with_traceback(None))
        except Exception as error:  # a bug must cost one row, and say so, not the run
            outcomes.append(_internal_error(error))
    return outcomes


def _plan_row(cells: Mapping[str, Any], rules: Rules, today: date) -> Outcome:
    """One row through the single-patient core: (the summary's result columns and flag
    codes, its dose codes, current doses per day)."""
    patient_kw, options_kw, count = row_kwargs(cells, today)
    patient = Patient(**patient_kw, rules=rules)
    options = resolve_options(patient, rules, **options_kw, current_doses_per_day=count)
    summary, codes = summary_codes_from_options(patient, options, rules)
    # Only what the result takes: a whole summary (the guidance, the flags' messages) is
    # some 50 kB, and a million rows may have thousands of keys, each kept to the end.
    columns: Mapping[str, object] = summary
    kept: dict[str, Any] = {name: columns[name] for name in SUMMARY_COLUMNS}
    kept["flag_codes"] = codes
    return kept, dose_codes(kept, patient, rules), options.current_doses_per_day


def _internal_error(error: Exception) -> InputError:
    """The error row for a row the single-patient core failed on unexpectedly (a bug)."""
    return InputError(
        f"gabacalc internal error while planning this row ({type(error).__name__}: "
        f"{value_text(str(error))}); the other rows are unaffected; please report it",
        field="internal",
    )


def _cells_of(series: pd.Series, rows: np.ndarray) -> np.ndarray:
    """A column's cells at ``rows`` (positions) for the single-patient path (numbers stay
    numbers, dates Timestamps), taken from its array (pandas' row indexing costs more)."""
    numeric = isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf"
    if numeric:
        taken: np.ndarray = series.to_numpy()[rows]
        return taken
    return series.array[rows].to_numpy(dtype=object)
