"""The result columns of cohort mode, assembled from per-row arrays and per-key tables.

Text columns, and a key's whole numbers, are small tables of values with a code per row (a
key's fields share one code array, the flags and their severity another): a million rows
need a few code arrays, never a Python string made per row. Numbers are the estimate's and the
band's own arrays, taken over rather than copied. Rows planned on their own (refusals, and
rows the vectorised checks leave) then overwrite theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.cohort_columns import INT_FIELDS, KEY_FIELDS, SUMMARY_COLUMNS
from gabacalc.core.cohort_flags import Outcome, codes_of, row_flags, severity
from gabacalc.core.cohort_parse import CohortColumns
from gabacalc.core.cohort_renal import METHOD_NAMES, BandArrays, RenalArrays
from gabacalc.core.cohort_result import (
    CodedColumn,
    Column,
    DecimalColumn,
    ResultColumns,
    RowTextColumn,
    WholeColumn,
)
from gabacalc.core.patient import DIALYSIS_CHOICES
from gabacalc.core.renal import WEIGHT_BASES, WEIGHT_USED, band_label
from gabacalc.errors import GabacalcError, InputError
from gabacalc.rules import Rules

__all__ = ["assemble", "check_representatives"]


@dataclass
class _Parts:
    """The result's columns while they are assembled.

    ``numbers``: float (NaN empty), or int64 with ``present``. ``texts``: per-row codes
    (-1 empty) into small tables of values (texts, and a key's whole numbers), one code
    array shared by the tables indexed alike.
    """

    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)
    texts: list[tuple[np.ndarray, dict[str, list[Any]]]] = field(default_factory=list)


def assemble(
    df: pd.DataFrame,
    rules: Rules,
    cols: CohortColumns,
    renal: RenalArrays,
    bands: BandArrays,
    group: np.ndarray,
    reps: Sequence[Outcome | None],
    singles: Mapping[int, Outcome | InputError],
    older: np.ndarray,
) -> ResultColumns:
    """The result's columns (see :func:`gabacalc.plan_cohort`); takes over ``renal``'s and
    ``bands``' arrays, which become its columns."""
    flag_codes, flag_table = row_flags(rules, cols, renal, bands, group, reps, older)
    parts = _Parts()
    _per_row(parts, rules, cols, renal, bands, group)
    _per_key(parts, group, reps)
    parts.texts.append(
        (
            flag_codes,
            {
                "flag_codes": [";".join(codes) for codes in flag_table],
                "flag_severity": [severity(rules, codes) for codes in flag_table],
            },
        )
    )
    status, errors, error_codes, count = _singles(parts, rules, cols, group, singles)
    columns = _columns(parts, df)
    if "current_daily_mg" in df.columns or "current_doses_per_day" in df.columns:
        columns.update(_audit(parts, status, count))
    columns["status"] = CodedColumn(status, ["ok", "error"])
    columns["error"] = CodedColumn(error_codes, errors)
    trace = rules.provenance.columns()
    for name, value in trace.items():
        columns[name] = CodedColumn(np.zeros(cols.n, dtype=np.int8), [value])
    return ResultColumns(df.index, columns, trace)


def _owned(values: np.ndarray) -> np.ndarray:
    """``values`` itself when this call made it (it may be written), else a copy."""
    return values if values.flags.owndata and values.flags.writeable else values.copy()


def _per_row(
    parts: _Parts,
    rules: Rules,
    cols: CohortColumns,
    renal: RenalArrays,
    bands: BandArrays,
    group: np.ndarray,
) -> None:
    """The columns of the vectorised estimate and band (empty outside a planned key)."""
    in_group = group >= 0
    outside = ~in_group
    for name, values in (
        ("crcl_ml_min", renal.crcl),
        ("weight_used_kg", renal.used_kg),
        ("ideal_weight_kg", renal.ibw),
        ("adjusted_weight_kg", renal.abw),
        ("bmi_kg_m2", renal.bmi),
        ("band_scale", bands.scale),
    ):
        column = parts.numbers[name] = _owned(values)
        column[outside] = np.nan
    for name, values in (
        ("doses_per_day", bands.doses),
        ("min_daily_mg", bands.min_mg),
        ("max_daily_mg", bands.max_mg),
    ):
        parts.numbers[name] = _owned(values)
        parts.present[name] = in_group
    current = cols.num["current_daily_mg"]
    # Only planned rows' doses are whole mg in range; another row's may not fit an int64.
    parts.numbers["current_daily_mg"] = np.where(in_group, np.nan_to_num(current), 0).astype(
        np.int64
    )
    parts.present["current_daily_mg"] = in_group & ~np.isnan(current)
    for name, values, names in (
        ("crcl_source", renal.method, list(METHOD_NAMES)),
        ("weight_basis", cols.basis, list(WEIGHT_BASES)),
        ("weight_used", renal.used, list(WEIGHT_USED)),
        ("band_id", bands.index, [b.band_id for b in rules.bands]),
        ("dialysis", cols.dialysis, list(DIALYSIS_CHOICES)),
    ):
        parts.texts.append((np.where(in_group, values, -1), {name: names}))
    parts.texts.append(_band_labels(rules, bands, in_group))


def _per_key(parts: _Parts, group: np.ndarray, reps: Sequence[Outcome | None]) -> None:
    """The columns that depend only on the plan key, from the key's plan."""
    summaries = [r[0] if r is not None else {} for r in reps]
    key_tables = {name: [s.get(name) for s in summaries] for name in KEY_FIELDS}
    parts.texts.append((np.where(group >= 0, group, -1), key_tables))


def _singles(
    parts: _Parts,
    rules: Rules,
    cols: CohortColumns,
    group: np.ndarray,
    singles: Mapping[int, Outcome | InputError],
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Rows planned on their own overwrite theirs: the j-th such row takes the entry
    appended j-th to every text table (None, empty, on an error row).

    Returns the status codes (0 ok, 1 error), the error messages and each row's code into
    them, and the current doses per day.
    """
    n = cols.n
    status = np.where(group >= 0, 0, 1).astype(np.int8)
    error_codes = np.full(n, -1, dtype=np.int64)
    errors: list[str] = []
    count = cols.num["current_doses_per_day"].copy()
    single_rows = np.array(sorted(singles), dtype=np.int64)
    for k, (codes, tables) in enumerate(parts.texts):
        length = len(next(iter(tables.values())))  # the same for every table of the group
        if len(single_rows) and codes.dtype.itemsize < 8:
            codes = codes.astype(np.int64)
            parts.texts[k] = (codes, tables)
        codes[single_rows] = length + np.arange(len(single_rows))
    _unshare_present(parts, single_rows)
    for i in single_rows.tolist():
        outcome = singles[i]
        if isinstance(outcome, InputError):
            error_codes[i] = len(errors)
            errors.append(str(outcome))
            for _, tables in parts.texts:
                for entries in tables.values():
                    entries.append(None)
            continue
        status[i] = 0
        summary = outcome[0]
        count[i] = np.nan if outcome[2] is None else outcome[2]
        _overwrite(parts, i, summary, rules)
    return status, errors, error_codes, count


def _unshare_present(parts: _Parts, single_rows: np.ndarray) -> None:
    """Give each ``present`` mask its own array before rows planned on their own write it."""
    if not len(single_rows):
        return
    seen: set[int] = set()
    for name, mask in parts.present.items():
        if id(mask) in seen:
            parts.present[name] = mask.copy()
        seen.add(id(mask))


def _overwrite(parts: _Parts, i: int, summary: Mapping[str, Any], rules: Rules) -> None:
    """Row ``i``'s values from its own plan's summary."""
    for name in parts.numbers:
        value = summary[name]
        if name in parts.present:
            parts.numbers[name][i] = 0 if value is None else value
            parts.present[name][i] = value is not None
        else:
            parts.numbers[name][i] = np.nan if value is None else value
    codes_here = codes_of(summary)
    row_text = {
        "flag_codes": ";".join(codes_here),
        "flag_severity": severity(rules, codes_here),
    }
    for _, tables in parts.texts:
        for name, entries in tables.items():
            entries.append(row_text[name] if name in row_text else summary[name])


def _columns(parts: _Parts, df: pd.DataFrame) -> dict[str, Column]:
    """The id, summary and flag columns, in output order."""
    text_columns = {
        name: (codes, entries) for codes, tables in parts.texts for name, entries in tables.items()
    }
    columns: dict[str, Column] = {"id": RowTextColumn(df["id"].array)}
    for name in (*SUMMARY_COLUMNS, "flag_codes", "flag_severity"):
        if name in parts.present:
            columns[name] = WholeColumn(parts.numbers[name], parts.present[name])
        elif name in parts.numbers:
            columns[name] = DecimalColumn(parts.numbers[name])
        else:
            codes, entries = text_columns[name]
            kind = "whole" if name in INT_FIELDS else "text"
            columns[name] = CodedColumn(codes, entries, kind)
    return columns


def _audit(parts: _Parts, status: np.ndarray, count: np.ndarray) -> dict[str, Column]:
    """The current-dose audit columns: above the band maximum, too many administrations."""
    numbers = parts.numbers
    ok = status == 0
    has_count = ok & ~np.isnan(count)
    count_int = np.where(ok, np.nan_to_num(count), 0).astype(np.int64)
    has_current = ok & parts.present["current_daily_mg"]
    excess = np.maximum(numbers["current_daily_mg"] - numbers["max_daily_mg"], 0)
    extra = np.maximum(count_int - numbers["doses_per_day"], 0)
    return {
        "current_doses_per_day": WholeColumn(count_int, has_count),
        "audit_above_band_max": WholeColumn(excess > 0, has_current),
        "audit_excess_mg": WholeColumn(excess, has_current),
        "audit_too_many_doses": WholeColumn(extra > 0, has_count),
        "audit_excess_doses": WholeColumn(extra, has_count),
    }


def _band_labels(
    rules: Rules, bands: BandArrays, in_group: np.ndarray
) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """The band as select_band prints it (:func:`~gabacalc.core.renal.band_label`), written
    once per distinct printed label.

    A scaled band's label writes the scale with 3 decimals unless that would print 1; two
    scales whose 3-decimal text is the same and below 1 therefore have the same label, so
    band_label is called once per such text (a million rows have thousands of distinct
    scales but at most a thousand texts per band).
    """
    labels: list[Any] = [b.words for b in rules.bands]
    codes = np.where(in_group, bands.index, -1).astype(np.int64)
    scaled = in_group & bands.scaled
    if scaled.any():
        scales = bands.scale[scaled]
        scale_codes, unique_scales = pd.factorize(scales)
        texts = np.array([f"{s:.3f}" for s in unique_scales.tolist()], dtype=object)
        # A text of "1.000" prints with more places (the scale keeps its side of 1): keyed
        # by the scale itself.
        keys = np.where(texts == "1.000", unique_scales.astype(str), texts)
        key_codes, unique_keys = pd.factorize(keys)
        pairs = bands.index[scaled].astype(np.int64) * len(unique_keys) + key_codes[scale_codes]
        pair_codes, _ = pd.factorize(pairs)
        # factorize numbers the pairs in order of first appearance: each pair's first row
        # is where the running maximum of the codes rises.
        first = np.flatnonzero(np.diff(np.maximum.accumulate(pair_codes), prepend=-1) > 0)
        firsts = zip(bands.index[scaled][first].tolist(), scales[first].tolist(), strict=True)
        for band_i, scale in firsts:
            labels.append(band_label(rules.bands[int(band_i)], float(scale)))
        codes[scaled] = len(rules.bands) + pair_codes
    return codes, {"band": labels}


def check_representatives(
    result: ResultColumns, reps: Sequence[Outcome | None], rows: Sequence[int]
) -> None:
    """Each key's own row must agree with its plan.

    Both are made by the same rule functions, the plan's on one patient and the row's on
    arrays; a disagreement is a gabacalc bug (a rule that gives one answer for a number and
    another for an array), named with the rule, never a wrong row.
    """
    checked = [(outcome[0], i) for outcome, i in zip(reps, rows, strict=True) if outcome and i >= 0]
    if not checked:
        return
    positions = [i for _, i in checked]
    names = (
        "band",
        "band_id",
        "min_daily_mg",
        "max_daily_mg",
        "doses_per_day",
        "crcl_ml_min",
        "weight_used_kg",
        "bmi_kg_m2",
        "band_scale",
    )
    got = {name: result.values_at(name, positions) for name in (*names, "flag_codes")}
    for k, (summary, i) in enumerate(checked):
        wanted = {name: summary[name] for name in names}
        wanted["flag_codes"] = ";".join(codes_of(summary))
        problems = [
            name
            for name, value in wanted.items()
            if not (got[name][k] is None if value is None else got[name][k] == value)
        ]
        if problems:
            rules_named = ", ".join(f"{name} ({_RULE_OF[name]})" for name in problems)
            row_id = result.values_at("id", [i])[0]
            raise GabacalcError(
                "gabacalc internal error: the cohort path disagrees with build_plan on "
                f"{rules_named} for row {i} (id {row_id!r}); please report it"
            )


#: The rule function behind each value the self-check compares (named in its error).
_RULE_OF = {
    "band": "renal.band_index and renal.band_label",
    "band_id": "renal.band_index",
    "min_daily_mg": "renal.band_scale and renal.scaled_daily_mg",
    "max_daily_mg": "renal.band_scale and renal.scaled_daily_mg",
    "doses_per_day": "renal.band_index",
    "crcl_ml_min": "renal.cockcroft_gault",
    "weight_used_kg": "renal.choose_weight_basis",
    "bmi_kg_m2": "renal.body_mass_index",
    "band_scale": "renal.band_scale",
    "flag_codes": "the flag registry, gabacalc.rules.flags",
}
