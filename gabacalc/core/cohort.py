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
   (:func:`gabacalc.core.plan.summary_from_options`, with the key's first patient), and its dates
   and doses are broadcast to the key's rows.
3. The flag codes that depend on the patient rather than on the doses (the estimate's, the
   band's and the safety context's) are worked out per row with the core's own rules and
   merged in the core's order.
4. A row the vectorised checks do not accept is planned on its own through the same core,
   so that a refusal carries the single-patient path's exact message.

Pure: a DataFrame in, a DataFrame out, no file I/O and no global state, so it runs
unchanged on one partition at a time (e.g. ``dask.dataframe.map_partitions``).
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.course import context_codes, context_flag_codes
from gabacalc.core.options import dialysis_weekdays, resolve_options
from gabacalc.core.patient import (
    DIALYSIS_CHOICES,
    PATIENT_FIELDS,
    SCR_UNIT_ALIASES,
    SCR_UNITS,
    SEXES,
    Patient,
    checked_choice,
    checked_risks,
    checked_rules,
    in_limits,
    older_adult,
)
from gabacalc.core.plan import summary_from_options
from gabacalc.core.renal import (
    WEIGHT_BASES,
    WEIGHT_USED,
    adjusted_body_weight,
    band_index,
    band_label,
    band_scale,
    below_devine_height,
    body_mass_index,
    choose_weight_basis,
    cockcroft_gault,
    devine_ideal_weight,
    implausibly_high,
    low_creatinine_older_adult,
    scaled_daily_mg,
    scr_in_mg_dl,
)
from gabacalc.core.startlow import respiratory_risks, start_low_applies
from gabacalc.errors import GabacalcError, InputError, value_text
from gabacalc.rules import PROVENANCE_COLUMNS, Rules
from gabacalc.rules.flags import codes_in, highest_severity, in_severity_order

__all__ = [
    "AUDIT_COLUMNS",
    "INPUT_COLUMNS",
    "OUTPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "plan_cohort",
]

PATIENT_COLUMNS = PATIENT_FIELDS
OPTION_COLUMNS = (
    "weight_basis",
    "start_daily_mg",
    "target_daily_mg",
    "titration",
    "taper",
    "review_weeks",
    "start_date",
    "strengths_mg",
    "oral_solution",
    "dialysis_days",
    "current_daily_mg",
)
#: Every column plan_cohort reads: ``id``, the Patient fields, the build_plan keywords, and
#: ``current_doses_per_day`` (the re-plan from ``current_daily_mg`` and the audit).
INPUT_COLUMNS = ("id", *PATIENT_COLUMNS, *OPTION_COLUMNS, "current_doses_per_day")
#: Columns every cohort must have (a renal column, scr, crcl_ml_min or dialysis, too).
REQUIRED_COLUMNS = ("id", "age_years", "sex", "weight_kg")
RENAL_COLUMNS = ("scr", "crcl_ml_min", "dialysis")

_NUMERIC_COLUMNS = (
    "age_years",
    "weight_kg",
    "height_cm",
    "scr",
    "crcl_ml_min",
    "start_daily_mg",
    "target_daily_mg",
    "review_weeks",
    "current_daily_mg",
    "current_doses_per_day",
)

#: The summary keys carried per row (see :func:`gabacalc.build_plan`), in output order.
SUMMARY_COLUMNS = (
    "crcl_ml_min",
    "crcl_source",
    "weight_basis",
    "weight_used",
    "weight_used_kg",
    "ideal_weight_kg",
    "adjusted_weight_kg",
    "bmi_kg_m2",
    "band",
    "band_id",
    "band_scale",
    "doses_per_day",
    "min_daily_mg",
    "max_daily_mg",
    "dialysis",
    "start_daily_mg",
    "requested_start_daily_mg",
    "target_daily_mg",
    "requested_target_daily_mg",
    "target_doses_per_day",
    "target_regimen",
    "titration",
    "taper",
    "review_weeks",
    "allowed_forms",
    "start_date",
    "target_reached_date",
    "target_reached_day",
    "review_date",
    "taper_start_date",
    "taper_end_date",
    "post_dialysis_mg",
    "current_daily_mg",
)
#: Added when the input has ``current_daily_mg`` or ``current_doses_per_day``.
AUDIT_COLUMNS = (
    "current_doses_per_day",
    "audit_above_band_max",
    "audit_excess_mg",
    "audit_too_many_doses",
    "audit_excess_doses",
)
TRACE_COLUMNS = PROVENANCE_COLUMNS
#: Every output column, in order (the audit columns only with current-dose columns).
OUTPUT_COLUMNS = (
    "id",
    *SUMMARY_COLUMNS,
    "flag_codes",
    "flag_severity",
    *AUDIT_COLUMNS,
    "status",
    "error",
    *TRACE_COLUMNS,
)

FLOAT_FIELDS = frozenset(
    {
        "crcl_ml_min",
        "weight_used_kg",
        "ideal_weight_kg",
        "adjusted_weight_kg",
        "bmi_kg_m2",
        "band_scale",
    }
)
INT_FIELDS = frozenset(
    {
        "doses_per_day",
        "min_daily_mg",
        "max_daily_mg",
        "start_daily_mg",
        "requested_start_daily_mg",
        "target_daily_mg",
        "requested_target_daily_mg",
        "target_doses_per_day",
        "review_weeks",
        "target_reached_day",
        "post_dialysis_mg",
        "current_daily_mg",
        "current_doses_per_day",
        "audit_excess_mg",
        "audit_excess_doses",
    }
)
BOOL_FIELDS = frozenset({"audit_above_band_max", "audit_too_many_doses"})
#: Summary fields that depend only on the plan key, taken from the key's plan.
_KEY_FIELDS = (
    "start_daily_mg",
    "requested_start_daily_mg",
    "target_daily_mg",
    "requested_target_daily_mg",
    "target_doses_per_day",
    "target_regimen",
    "titration",
    "taper",
    "review_weeks",
    "allowed_forms",
    "start_date",
    "target_reached_date",
    "target_reached_day",
    "review_date",
    "taper_start_date",
    "taper_end_date",
    "post_dialysis_mg",
)

# Flag codes by where a plan raises them (gabacalc.rules.flags, the one registry): a key's plan
# gives the start-low, dose and post-dialysis codes; each row's own estimate, band and
# safety context give the rest.
_START_LOW_CODES = codes_in("start_low")
_PER_ROW_CODES = codes_in("estimate", "band")
_DIALYSIS_CODES = codes_in("dialysis")

_METHOD_NAMES = ("cockcroft-gault", "given", "not estimated")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


# ----------------------------------------------------------------------------- parsing


def _missing(value: Any) -> bool:
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


def _plain(value: Any) -> Any:
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
            if _missing(cell):
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
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isinf(values)


# ------------------------------------------------------------------------ the frame's rows


@dataclass
class _Columns:
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


def _parse(df: pd.DataFrame, rules: Rules, today: date) -> _Columns:
    n = len(df)
    odd = np.zeros(n, dtype=bool)
    num: dict[str, np.ndarray] = {}
    for name in _NUMERIC_COLUMNS:
        if name in df.columns:
            values, bad = _numeric(df[name])
            odd |= bad
        else:
            values = np.full(n, np.nan)
        num[name] = values

    def choice_column(
        name: str, choices: Sequence[str], default: str, label: str, aliases: Mapping[str, str]
    ) -> np.ndarray:
        nonlocal odd
        if name not in df.columns:
            return np.full(n, choices.index(default), dtype=np.int64)

        def parse(cell: Any) -> tuple[bool, int]:
            if _missing(cell):
                return name != "sex", choices.index(default) if default else -1
            text = aliases.get(str(cell).strip().lower(), cell)
            try:
                return True, choices.index(checked_choice(text, name, label, tuple(choices)))
            except InputError:
                return False, -1

        codes, ok, parsed = _per_unique(df[name], parse, n)
        odd |= ~ok
        return np.asarray(parsed, dtype=np.int64)[codes]

    sex = choice_column("sex", SEXES, "", "sex", {})
    dialysis = choice_column("dialysis", DIALYSIS_CHOICES, "none", "dialysis", {})
    unit = choice_column("scr_unit", SCR_UNITS, "mg/dL", "creatinine unit", SCR_UNIT_ALIASES)
    pains = tuple(rules.pain_types)
    pain_idx = choice_column("pain_type", pains, "other", "pain type", {})

    def keyed(name: str, parse: Any) -> tuple[np.ndarray, list[Any]]:
        nonlocal odd
        if name not in df.columns:
            return np.zeros(n, dtype=np.int64), [parse(None)[1]]
        codes, ok, values = _per_unique(df[name], parse, n)
        odd |= ~ok
        return codes, values

    def risks(cell: Any) -> tuple[bool, tuple[str, ...]]:
        if _missing(cell):
            return True, ()
        try:
            return True, checked_risks(cell, rules)
        except (InputError, TypeError, AttributeError):
            return False, ()

    risk_codes, risk_values = keyed("risks", risks)

    def basis(cell: Any) -> tuple[bool, int]:
        if _missing(cell):
            return True, WEIGHT_BASES.index(rules.defaults["weight_basis"])
        known = isinstance(cell, str) and cell in WEIGHT_BASES
        return (True, WEIGHT_BASES.index(cell)) if known else (False, -1)

    basis_codes, basis_values = keyed("weight_basis", basis)

    def preset(table: Mapping[str, Any]) -> Any:
        def parse(cell: Any) -> tuple[bool, str | None]:
            if _missing(cell):
                return True, None
            return (True, cell) if isinstance(cell, str) and cell in table else (False, None)

        return parse

    def start(cell: Any) -> tuple[bool, date]:
        parsed = _start_date(cell, today)
        return isinstance(parsed, date), parsed if isinstance(parsed, date) else today

    def strengths(cell: Any) -> tuple[bool, tuple[int, ...] | None]:
        try:
            parsed = _strengths(cell)
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
            return True, dialysis_weekdays(None if _missing(cell) else _plain(cell), rules)
        except (InputError, TypeError):
            return False, ()

    text_codes: dict[str, np.ndarray] = {}
    text_values: dict[str, list[Any]] = {}
    for name, parse in (
        ("titration", preset(rules.titration_presets)),
        ("taper", preset(rules.taper_presets)),
        ("start_date", start),
        ("strengths_mg", strengths),
        ("oral_solution", oral),
        ("dialysis_days", days),
    ):
        text_codes[name], text_values[name] = keyed(name, parse)
    return _Columns(
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
        basis=np.asarray(basis_values, dtype=np.int64)[basis_codes],
        text_codes=text_codes,
        text_values=text_values,
    )


def _start_date(cell: Any, today: date) -> Any:
    """A date, or the cell itself when it is not one (resolve_options then refuses it)."""
    if _missing(cell):
        return today
    cell = _plain(cell)
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


def _strengths(cell: Any) -> list[int] | None:
    """Allowed strengths from a cell: ``"100;300"`` or ``"100,300"``, a number, or a list."""
    if _missing(cell):
        return None
    cell = _plain(cell)
    if isinstance(cell, str):
        items: Iterable[Any] = cell.replace(";", ",").split(",")
    elif isinstance(cell, list | tuple | set | np.ndarray):
        items = list(cell)
    else:
        items = [cell]
    values = []
    for item in items:
        item = _plain(item)
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
                f"strength {item!r} in strengths_mg is not a whole number of mg; "
                "give e.g. 100;300;400",
                field="strengths_mg",
            ) from None
    return values


def _oral_solution(cell: Any) -> bool:
    if _missing(cell):
        return False
    cell = _plain(cell)
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
        f"oral_solution {cell!r} is not true or false (also accepted: yes/no, 1/0)",
        field="oral_solution",
    )


def _row_kwargs(
    cells: Mapping[str, Any], today: date
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The Patient fields, build_plan keywords and current_doses_per_day of one row."""
    patient: dict[str, Any] = {}
    for name in PATIENT_COLUMNS:
        value = cells.get(name)
        if _missing(value):
            if name in REQUIRED_COLUMNS:
                raise InputError(f"{name} is missing (a value is required)", field=name)
            continue
        patient[name] = _plain(value)
    options: dict[str, Any] = {}
    for name in OPTION_COLUMNS:
        value = cells.get(name)
        if name == "start_date":
            options[name] = _start_date(value, today)
        elif name == "strengths_mg":
            options[name] = _strengths(value)
        elif name == "oral_solution":
            options[name] = _oral_solution(value)
        elif not _missing(value):
            options[name] = _plain(value)
    count = cells.get("current_doses_per_day")
    return patient, options, None if _missing(count) else _plain(count)


# ----------------------------------------------------------------------- the renal estimate


@dataclass
class _Renal:
    crcl: np.ndarray
    method: np.ndarray  # index into _METHOD_NAMES
    used: np.ndarray  # 0 actual, 1 ideal, 2 adjusted, -1 none
    used_kg: np.ndarray
    ibw: np.ndarray
    abw: np.ndarray
    bmi: np.ndarray
    short: np.ndarray
    no_height: np.ndarray
    implausible: np.ndarray  # a Cockcroft-Gault estimate above what adults have
    low_scr: np.ndarray  # an older adult's low creatinine (low muscle mass)
    ok: np.ndarray  # the vectorised checks accept the row


def _whole(values: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.floor(values) == values
    return out


def _renal(cols: _Columns, rules: Rules) -> _Renal:
    """:func:`gabacalc.core.renal.estimate_crcl` for every row (the same functions, on arrays),
    and which rows pass the input checks of Patient (the others are planned on their own)."""
    limits, num = rules.limits, cols.num
    age, weight, height = num["age_years"], num["weight_kg"], num["height_cm"]
    scr, given = num["scr"], num["crcl_ml_min"]
    has_height, has_scr, has_given = ~np.isnan(height), ~np.isnan(scr), ~np.isnan(given)
    on_dialysis = cols.dialysis != DIALYSIS_CHOICES.index("none")
    basis = cols.basis
    needs_height = (basis == WEIGHT_BASES.index("ideal")) | (
        basis == WEIGHT_BASES.index("adjusted")
    )

    scr_ok = np.where(
        cols.umol, in_limits(scr, limits["scr_umol_l"]), in_limits(scr, limits["scr_mg_dl"])
    )
    ok = (
        ~cols.odd
        & in_limits(age, limits["age_years"])
        & in_limits(weight, limits["weight_kg"])
        & (~has_height | in_limits(height, limits["height_cm"]))
        & ~(has_scr & has_given)
        & (~has_scr | (~on_dialysis & scr_ok))
        & (~has_given | in_limits(given, limits["crcl_ml_min"]))
        & (has_scr | has_given | on_dialysis)
        & (has_height | ~needs_height)
    )

    ibw = devine_ideal_weight(height, cols.female, rules)
    abw = adjusted_body_weight(weight, ibw, rules)
    bmi = body_mass_index(weight, height)
    used, _ = choose_weight_basis(basis, weight, ibw, bmi, rules)
    used_kg = np.choose(used, [weight, ibw, abw])
    scr_mg_dl = scr_in_mg_dl(scr, cols.umol, rules)
    crcl_cg = cockcroft_gault(age, used_kg, scr_mg_dl, cols.female, rules)

    method = np.where(has_given, 1, np.where(has_scr, 0, 2))
    estimated = method == 0
    crcl = np.where(has_given, given, np.where(estimated, crcl_cg, np.nan))
    return _Renal(
        crcl=crcl,
        method=method,
        used=np.where(estimated, used, -1),
        used_kg=np.where(estimated, used_kg, np.nan),
        ibw=ibw,
        abw=abw,
        bmi=bmi,
        short=has_height & below_devine_height(height, basis, rules),
        no_height=estimated & ~has_height,
        implausible=estimated & implausibly_high(crcl_cg, rules),
        low_scr=estimated & low_creatinine_older_adult(age, scr_mg_dl, rules),
        ok=ok,
    )


@dataclass
class _Bands:
    index: np.ndarray  # into rules.bands
    scale: np.ndarray
    min_mg: np.ndarray
    max_mg: np.ndarray
    doses: np.ndarray
    hd_no_residual: np.ndarray
    peritoneal: np.ndarray
    scaled: np.ndarray


def _bands(cols: _Columns, renal: _Renal, rules: Rules) -> _Bands:
    """:func:`gabacalc.core.renal.select_band` for every row (the same functions, on arrays)."""
    crcl = renal.crcl
    index = band_index(crcl, cols.dialysis, rules)
    scale = band_scale(index, crcl, rules)
    safe = np.maximum(index, 0)
    band_min = np.array([b.min_daily_mg for b in rules.bands], dtype=np.int64)[safe]
    band_max = np.array([b.max_daily_mg for b in rules.bands], dtype=np.int64)[safe]
    return _Bands(
        index=index,
        scale=scale,
        min_mg=scaled_daily_mg(band_min, scale),
        max_mg=scaled_daily_mg(band_max, scale),
        doses=np.array([b.doses_per_day for b in rules.bands], dtype=np.int64)[safe],
        hd_no_residual=(cols.dialysis == DIALYSIS_CHOICES.index("hemodialysis")) & np.isnan(crcl),
        peritoneal=cols.dialysis == DIALYSIS_CHOICES.index("peritoneal"),
        scaled=scale < 1,
    )


def _options_ok(cols: _Columns, rules: Rules) -> np.ndarray:
    """The range checks of resolve_options that need no plan (the rest fall to the core)."""
    num, limits = cols.num, rules.limits

    def optional(name: str, parameter: str, whole: bool = True) -> np.ndarray:
        values = num[name]
        good = in_limits(values, limits[parameter])
        if whole:
            good &= _whole(values)
        out: np.ndarray = np.isnan(values) | good
        return out

    count = num["current_doses_per_day"]
    return (
        optional("start_daily_mg", "start_daily_mg")
        & optional("target_daily_mg", "target_daily_mg")
        & optional("review_weeks", "review_weeks")
        & optional("current_daily_mg", "current_daily_mg")
        & (np.isnan(count) | np.isin(count, (1.0, 2.0, 3.0)))
    )


# ------------------------------------------------------------------------------ the plan


def _group(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by several key arrays: group codes and each group's first row."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        if len(uniques) > 1:
            combined = combined * len(uniques) + codes
            combined, _ = pd.factorize(combined)
    # factorize numbers the groups in order of first appearance, so a group's first row is
    # where the running maximum of the codes rises (no sort needed).
    rises = np.diff(np.maximum.accumulate(combined), prepend=-1) > 0
    return combined.astype(np.int64, copy=False), np.flatnonzero(rises)


def _plan_row(
    cells: Mapping[str, Any], rules: Rules, today: date
) -> tuple[Mapping[str, Any], Patient, int | None]:
    """One row through the single-patient core: (summary, patient, current doses per day)."""
    patient_kw, options_kw, count = _row_kwargs(cells, today)
    patient = Patient(**patient_kw, rules=rules)
    options = resolve_options(patient, rules, **options_kw, current_doses_per_day=count)
    summary = summary_from_options(patient, options, rules)
    return summary, patient, options.current_doses_per_day


def _codes_of(summary: Mapping[str, Any]) -> list[str]:
    return [flag["code"] for flag in summary["flags"]]


def _merge_codes(
    rules: Rules,
    start_low: Sequence[str],
    estimate: Sequence[str],
    band: Sequence[str],
    dose: Sequence[str],
    context: Sequence[str],
    dialysis: Sequence[str],
) -> tuple[str, ...]:
    """The core's flag order (gabacalc.rules.flags): groups in raised order, then severity."""
    raised = [*start_low, *estimate, *band, *dose, *context, *dialysis]
    return tuple(in_severity_order(raised, rules.flags))


def _severity(rules: Rules, codes: Sequence[str]) -> str | None:
    return highest_severity(codes, rules.flags)


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
    ...     "id": ["a", "b", "c"],
    ...     "age_years": [72, 50, 300],
    ...     "sex": ["female", "male", "male"],
    ...     "weight_kg": [60, 80, 80],
    ...     "height_cm": [160, None, None],
    ...     "scr": [1.3, 1.0, 1.0],
    ...     "start_date": "2026-01-05",
    ... })
    >>> out = plan_cohort(cohort)
    >>> out[["id", "band", "max_daily_mg", "target_daily_mg", "status"]]
      id                      band  max_daily_mg  target_daily_mg status
    0  a  CrCl > 30 to < 60 mL/min          1400             1400     ok
    1  b         CrCl >= 60 mL/min          3600             1800     ok
    2  c                       NaN          <NA>             <NA>  error
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


def check_columns(columns: Iterable[Hashable]) -> None:
    """Refuse a cohort table without the columns every row needs, or with a misspelt one.

    Raises
    ------
    InputError
        Naming the columns found and the columns expected.

    Examples
    --------
    >>> check_columns(["id", "age_years", "sex", "weight_kg", "scr"])
    >>> check_columns(["id", "age", "sex", "weight_kg", "scr"])
    Traceback (most recent call last):
    gabacalc.errors.InputError: the cohort has no age_years column; found: id, age, sex,
    weight_kg, scr; expected id, age_years, sex, weight_kg and one of scr, crcl_ml_min,
    dialysis (optional: height_cm, scr_unit, risks, pain_type, weight_basis, start_daily_mg,
    target_daily_mg, titration, taper, review_weeks, start_date, strengths_mg, oral_solution,
    dialysis_days, current_daily_mg, current_doses_per_day)
    """
    found = [str(c) for c in columns]
    optional = [c for c in INPUT_COLUMNS if c not in (*REQUIRED_COLUMNS, *RENAL_COLUMNS)]
    expected = (
        f"expected {', '.join(REQUIRED_COLUMNS)} and one of {', '.join(RENAL_COLUMNS)} "
        f"(optional: {', '.join(optional)})"
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise InputError(
            f"the cohort has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}; "
            f"found: {', '.join(found) or 'no columns'}; {expected}",
            field=missing[0],
        )
    if not any(c in found for c in RENAL_COLUMNS):
        raise InputError(
            f"the cohort has no renal column (scr, crcl_ml_min or dialysis); "
            f"found: {', '.join(found)}; {expected}",
            field="scr",
        )
    for name in found:
        if name in INPUT_COLUMNS or name in OUTPUT_COLUMNS:
            continue
        # A column a clinical input was meant for, spelt another way, must not be dropped
        # without a word: that would plan without a current dose, dialysis or a risk.
        plain = _plain_name(name)
        close = difflib.get_close_matches(plain, INPUT_COLUMNS, n=1, cutoff=0.75)
        if close and close[0] not in found:
            raise InputError(
                f"column {name!r} is not a cohort column; did you mean {close[0]!r}? "
                f"(column names are exact and lower case: rename it, or drop it; {expected})",
                field=close[0],
            )
        clinical = [t for t in _CLINICAL_WORDS if t in plain]
        if clinical:
            raise InputError(
                f"column {name!r} looks like a clinical input ({clinical[0]}) but is not a "
                f"cohort column, so gabacalc would not read it; rename it to the column it "
                f"is meant for, or drop it ({expected})",
                field=name,
            )


#: Parts of a column name that mean a clinical input: such a column is never ignored.
_CLINICAL_WORDS = (
    "current",
    "dose",
    "dialysis",
    "risk",
    "taper",
    "titration",
    "crcl",
    "clearance",
    "creat",
    "scr",
    "strength",
    "solution",
    "opioid",
    "pregnan",
)


def _plain_name(name: str) -> str:
    """A column name folded for comparison: lower case, spaces and hyphens as underscores."""
    return "_".join(name.strip().lower().replace("-", " ").split())


_Outcome = tuple[Mapping[str, Any], Patient, "int | None"]
_TEXT_KEYS = ("titration", "taper", "start_date", "strengths_mg", "oral_solution")


def plan_frame(
    df: pd.DataFrame,
    rules: Rules,
    today: date,
    cache: dict[Hashable, _Outcome | InputError] | None,
    *,
    categorical: bool = False,
) -> pd.DataFrame:
    """plan_cohort with a fixed 'today' and an optional cache of plans by key (per file).

    ``categorical`` gives the text columns as pandas Categoricals (the file writers use
    their codes and write each distinct text once) instead of ``str``.
    """
    check_columns(df.columns)
    n = len(df)
    cols = _parse(df, rules, today)
    # A row far outside its limits (a height of 1e-300 cm) may divide by zero or overflow
    # here; it is refused by the limit checks, so numpy need not warn about it.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        renal = _renal(cols, rules)
    bands = _bands(cols, renal, rules)
    fast = renal.ok & _options_ok(cols, rules) & (bands.index >= 0)
    hemo = cols.dialysis == DIALYSIS_CHOICES.index("hemodialysis")
    if "dialysis_days" in df.columns:  # days without hemodialysis: the core refuses the row
        fast &= hemo | df["dialysis_days"].isna().to_numpy(dtype=bool)

    num = cols.num
    resp = np.array([bool(respiratory_risks(v, rules)) for v in cols.risk_values] or [False])
    older = older_adult(num["age_years"], rules)
    start_low = start_low_applies(
        resp[cols.risk_codes], num["age_years"], cols.dialysis, renal.crcl, rules
    )
    tc = cols.text_codes
    # The plan key: what a plan depends on besides the continuous estimate. Dialysis days
    # matter only on hemodialysis, whose supplement also depends on the exact scale.
    key_values: list[tuple[np.ndarray, list[Any] | None]] = [
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
        (num["current_daily_mg"], None),
        (np.where(np.isnan(num["current_daily_mg"]), -1.0, num["current_doses_per_day"]), None),
        *((tc[name], cols.text_values[name]) for name in _TEXT_KEYS),
        (np.where(hemo, tc["dialysis_days"], -1), cols.text_values["dialysis_days"]),
    ]
    raw_columns = [name for name in df.columns if name in INPUT_COLUMNS]

    def plan_rows(rows: np.ndarray) -> list[_Outcome | InputError]:
        """Rows through the single-patient core (their cells taken out only for them)."""
        raw = {name: _cells_of(df[name].iloc[rows]) for name in raw_columns}
        outcomes: list[_Outcome | InputError] = []
        for k in range(len(rows)):
            try:
                outcomes.append(_plan_row({n: v[k] for n, v in raw.items()}, rules, today))
            except InputError as error:
                # Kept (and cached) without its traceback, which would pin this chunk's data.
                outcomes.append(error.with_traceback(None))
            except Exception as error:  # a bug must cost one row, and say so, not the run
                outcomes.append(_internal_error(error))
        return outcomes

    def keys_of(rows: np.ndarray) -> list[Hashable]:
        """The keys' values (not codes), to recognise a key from an earlier chunk."""
        columns = []
        for values, table in key_values:
            column = values[rows].tolist()
            if table is not None:
                column = [None if v < 0 else table[v] for v in column]
            columns.append([None if isinstance(v, float) and v != v else v for v in column])
        return list(zip(*columns, strict=True))

    # One plan per key, from the key's first row.
    group = np.full(n, -1, dtype=np.int64)
    reps: list[_Outcome | None] = []
    rep_rows: list[int] = []
    fast_rows = np.flatnonzero(fast)
    if len(fast_rows):
        codes, first = _group([values[fast_rows] for values, _ in key_values])
        firsts = fast_rows[first]
        if cache is None:
            outcomes = plan_rows(firsts)
            rep_rows = firsts.tolist()
        else:
            # Groups whose cells differ only in spelling ("no" and "false") share a key.
            keys = keys_of(firsts)
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
    # Every other row (a refusal, or one the vectorised checks leave) on its own.
    single_rows = np.flatnonzero(group < 0)
    singles = dict(zip(single_rows.tolist(), plan_rows(single_rows), strict=True))

    result = _assemble(df, rules, cols, renal, bands, group, reps, singles, older, categorical)
    _check_representatives(result, reps, rep_rows)
    return result


def _internal_error(error: Exception) -> InputError:
    """The error row for a row the single-patient core failed on unexpectedly (a bug)."""
    return InputError(
        f"gabacalc internal error while planning this row ({type(error).__name__}: "
        f"{value_text(str(error))}); the other rows are unaffected; please report it",
        field="internal",
    )


def _cells_of(series: pd.Series) -> np.ndarray:
    """A column's cells for the single-patient path (numbers stay numbers, dates Timestamps)."""
    numeric = isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf"
    values: np.ndarray = series.to_numpy() if numeric else series.to_numpy(dtype=object)
    return values


def _check_representatives(
    result: pd.DataFrame, reps: Sequence[_Outcome | None], rows: Sequence[int]
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
    got = {
        name: result[name].iloc[positions].to_numpy(dtype=object) for name in (*names, "flag_codes")
    }
    for k, (summary, i) in enumerate(checked):
        wanted = {name: summary[name] for name in names}
        wanted["flag_codes"] = ";".join(_codes_of(summary))
        problems = [
            name
            for name, value in wanted.items()
            if not (pd.isna(got[name][k]) if value is None else got[name][k] == value)
        ]
        if problems:
            rules_named = ", ".join(f"{name} ({_RULE_OF[name]})" for name in problems)
            raise GabacalcError(
                "gabacalc internal error: the cohort path disagrees with build_plan on "
                f"{rules_named} for row {i} (id {result['id'].iloc[i]!r}); please report it"
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


def _assemble(
    df: pd.DataFrame,
    rules: Rules,
    cols: _Columns,
    renal: _Renal,
    bands: _Bands,
    group: np.ndarray,
    reps: Sequence[_Outcome | None],
    singles: Mapping[int, _Outcome | InputError],
    older: np.ndarray,
    categorical: bool,
) -> pd.DataFrame:
    n = cols.n
    in_group = group >= 0
    g_safe = np.maximum(group, 0)
    numbers: dict[str, np.ndarray] = {}  # float (NaN empty) or int64 with `present`
    present: dict[str, np.ndarray] = {}
    # Text columns: per-row codes into small tables of values (-1 empty). Columns whose
    # tables are indexed alike share one code array (a key's fields; the flags and their
    # severity): a million rows need a few code arrays, not one per column.
    text_groups: list[tuple[np.ndarray, dict[str, list[Any]]]] = []

    # Per row, from the vectorised estimate and band.
    for name, values in (
        ("crcl_ml_min", renal.crcl),
        ("weight_used_kg", renal.used_kg),
        ("ideal_weight_kg", renal.ibw),
        ("adjusted_weight_kg", renal.abw),
        ("bmi_kg_m2", renal.bmi),
        ("band_scale", bands.scale),
    ):
        numbers[name] = np.where(in_group, values, np.nan)
    for name, values in (
        ("doses_per_day", bands.doses),
        ("min_daily_mg", bands.min_mg),
        ("max_daily_mg", bands.max_mg),
    ):
        numbers[name] = values.copy()
        present[name] = in_group.copy()
    current = cols.num["current_daily_mg"]
    # Only planned rows' doses are whole mg in range; another row's may not fit an int64.
    numbers["current_daily_mg"] = np.nan_to_num(np.where(in_group, current, 0)).astype(np.int64)
    present["current_daily_mg"] = in_group & ~np.isnan(current)
    for name, values, names in (
        ("crcl_source", renal.method, list(_METHOD_NAMES)),
        ("weight_basis", cols.basis, list(WEIGHT_BASES)),
        ("weight_used", renal.used, list(WEIGHT_USED)),
        ("band_id", bands.index, [b.band_id for b in rules.bands]),
        ("dialysis", cols.dialysis, list(DIALYSIS_CHOICES)),
    ):
        text_groups.append((np.where(in_group, values, -1), {name: names}))
    band_codes, band_table = _band_labels(rules, bands, in_group)
    text_groups.append((band_codes, {"band": band_table}))

    # Per key, from the key's plan.
    summaries = [r[0] if r is not None else {} for r in reps]
    key_tables: dict[str, list[Any]] = {}
    for name in _KEY_FIELDS:
        per_key = [s.get(name) for s in summaries]
        if name in INT_FIELDS:
            table = np.array([0 if v is None else v for v in per_key] or [0], dtype=np.int64)
            has = np.array([v is not None for v in per_key] or [False])
            numbers[name] = table[g_safe]
            present[name] = in_group & has[g_safe]
        else:
            key_tables[name] = per_key
    text_groups.append((np.where(in_group, group, -1), key_tables))

    # Flags: the key's dose codes with the row's estimate, band and safety-context codes.
    flag_codes, flag_table = _flags(rules, cols, renal, bands, group, reps, older)
    text_groups.append(
        (
            flag_codes,
            {
                "flag_codes": [";".join(codes) for codes in flag_table],
                "flag_severity": [_severity(rules, codes) for codes in flag_table],
            },
        )
    )

    # Rows planned on their own overwrite theirs: the j-th such row takes the entry
    # appended j-th to every table (None, empty, on an error row).
    status = np.where(in_group, 0, 1)
    error_codes = np.full(n, -1, dtype=np.int64)
    errors: list[str] = []
    count = cols.num["current_doses_per_day"].copy()
    single_rows = np.array(sorted(singles), dtype=np.int64)
    for codes, tables in text_groups:
        length = len(next(iter(tables.values())))  # the same for every table of the group
        codes[single_rows] = length + np.arange(len(single_rows))
    for i in single_rows.tolist():
        outcome = singles[i]
        if isinstance(outcome, InputError):
            error_codes[i] = len(errors)
            errors.append(str(outcome))
            for _, tables in text_groups:
                for entries in tables.values():
                    entries.append(None)
            continue
        status[i] = 0
        summary = outcome[0]
        count[i] = np.nan if outcome[2] is None else outcome[2]
        for name in numbers:
            value = summary[name]
            if name in present:
                numbers[name][i] = 0 if value is None else value
                present[name][i] = value is not None
            else:
                numbers[name][i] = np.nan if value is None else value
        codes_here = _codes_of(summary)
        row_text = {
            "flag_codes": ";".join(codes_here),
            "flag_severity": _severity(rules, codes_here),
        }
        for _, tables in text_groups:
            for name, entries in tables.items():
                entries.append(row_text[name] if name in row_text else summary[name])
    text_columns = {
        name: (codes, entries) for codes, tables in text_groups for name, entries in tables.items()
    }
    del text_groups

    frame: dict[str, Any] = {"id": df["id"].array}
    for name in (*SUMMARY_COLUMNS, "flag_codes", "flag_severity"):
        if name in present:
            frame[name] = pd.arrays.IntegerArray(numbers[name], ~present[name])
        elif name in numbers:
            frame[name] = numbers[name]
        else:
            frame[name] = _take_text(text_columns[name][1], text_columns[name][0], categorical)
    if "current_daily_mg" in df.columns or "current_doses_per_day" in df.columns:
        ok = status == 0
        has_count = ok & ~np.isnan(count)
        count_int = np.nan_to_num(np.where(ok, count, 0)).astype(np.int64)
        has_current = ok & present["current_daily_mg"]
        excess = np.maximum(numbers["current_daily_mg"] - numbers["max_daily_mg"], 0)
        extra = np.maximum(count_int - numbers["doses_per_day"], 0)
        frame["current_doses_per_day"] = pd.arrays.IntegerArray(count_int, ~has_count)
        frame["audit_above_band_max"] = pd.arrays.BooleanArray(excess > 0, ~has_current)
        frame["audit_excess_mg"] = pd.arrays.IntegerArray(excess, ~has_current)
        frame["audit_too_many_doses"] = pd.arrays.BooleanArray(extra > 0, ~has_count)
        frame["audit_excess_doses"] = pd.arrays.IntegerArray(extra, ~has_count)
    frame["status"] = _take_text(["ok", "error"], status, categorical)
    frame["error"] = _take_text(errors, error_codes, categorical)
    trace = rules.provenance.columns()
    for name, value in trace.items():
        frame[name] = _take_text([value], np.zeros(n, dtype=np.int64), categorical)
    # The columns are this call's own arrays (the id's is copy-on-write): no copy of each.
    result = pd.DataFrame(frame, index=df.index, copy=False)
    result.attrs.update(trace)
    return result


#: pandas' ``str`` dtype, held as Python strings whether or not pyarrow is installed: the
#: same result everywhere, and taking rows from a small table is then a numpy take.
_TEXT_DTYPE = pd.StringDtype("python", na_value=np.nan)


def _take_text(values: Sequence[Any], codes: np.ndarray, categorical: bool = False) -> Any:
    """A string column from a small table of values and per-row codes (-1: empty)."""
    texts = [None if v is None else str(v) for v in values] or [None]
    codes = np.asarray(codes, dtype=np.int64)
    if categorical:
        table_codes, categories = pd.factorize(np.array(texts, dtype=object))
        row_codes = np.where(codes < 0, -1, table_codes[np.maximum(codes, 0)])
        return pd.Categorical.from_codes(row_codes, categories=pd.Index(categories, dtype="str"))
    return pd.array(texts, dtype=_TEXT_DTYPE).take(codes, allow_fill=True)


def _band_labels(rules: Rules, bands: _Bands, in_group: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """The band as select_band prints it, the scale written once per distinct value."""
    labels: list[Any] = [b.label for b in rules.bands]
    codes = np.where(in_group, bands.index, -1)
    scaled = in_group & bands.scaled
    if scaled.any():
        pair_codes, uniques = pd.factorize(
            pd.MultiIndex.from_arrays([bands.index[scaled], bands.scale[scaled]])
        )
        for band_i, scale in uniques:
            labels.append(band_label(rules.bands[int(band_i)], float(scale)))
        codes[scaled] = len(rules.bands) + pair_codes
    return codes, labels


def _flags(
    rules: Rules,
    cols: _Columns,
    renal: _Renal,
    bands: _Bands,
    group: np.ndarray,
    reps: Sequence[_Outcome | None],
    older: np.ndarray,
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Each planned row's flag codes, as codes into a table of distinct code tuples."""
    n = cols.n
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(group >= 0)
    if not len(rows):
        return out, []
    # The estimate's codes (estimate_crcl): a given CrCl, or Cockcroft-Gault without a
    # height, or with a height under 60 inches.
    estimated = renal.method == 0
    estimate_kind = np.select(
        [renal.method == 1, estimated & renal.short, renal.no_height], [1, 2, 3], 0
    )
    estimate_kind = estimate_kind + 4 * renal.implausible + 8 * renal.low_scr
    base_table = [(), ("CRCL_GIVEN",), ("SHORT_STATURE_IBW",), ("NO_HEIGHT",)]
    estimate_table = [
        (
            *base,
            *(("CRCL_IMPLAUSIBLE_HIGH",) if k & 1 else ()),
            *(("LOW_SCR_OLDER_ADULT",) if k & 2 else ()),
        )
        for k in range(4)
        for base in base_table
    ]
    # The band's codes (select_band).
    band_kind = np.where(bands.hd_no_residual, 2, np.where(bands.peritoneal, 4, 0))
    band_kind = band_kind + bands.scaled.astype(np.int64)
    band_table: list[tuple[str, ...]] = []
    for dialysis_codes in ((), ("HD_NO_RESIDUAL_CRCL",), ("PERITONEAL_DIALYSIS",)):
        band_table.extend([dialysis_codes, (*dialysis_codes, "PROPORTIONAL_REDUCTION")])
    # The safety context's codes (context_flag_codes), once per distinct context.
    targets = np.array([r[0]["target_daily_mg"] if r else 0 for r in reps] or [0])
    target = targets[group[rows]]
    context_index, context_first = _group(
        [cols.risk_codes[rows], older[rows], cols.pain_codes[rows], target]
    )
    context_table = [
        tuple(
            context_codes(
                cols.risk_values[cols.risk_codes[rows[p]]],
                bool(older[rows[p]]),
                cols.pain_values[cols.pain_codes[rows[p]]],
                int(target[p]),
                rules,
            )
        )
        for p in context_first
    ]
    # Each key's plan: which of its codes come from the doses.
    dose_table: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    for rep in reps:
        if rep is None:
            dose_table.append(((), (), ()))
            continue
        summary, patient, _ = rep
        per_patient = _PER_ROW_CODES | set(
            context_flag_codes(patient, summary["target_daily_mg"], rules)
        )
        codes = _codes_of(summary)
        dose_table.append(
            (
                tuple(c for c in codes if c in _START_LOW_CODES),
                tuple(
                    c for c in codes if c not in per_patient | _START_LOW_CODES | _DIALYSIS_CODES
                ),
                tuple(c for c in codes if c in _DIALYSIS_CODES),
            )
        )
    combos, first = _group([group[rows], estimate_kind[rows], band_kind[rows], context_index])
    # Many combinations give the same codes: each distinct tuple is merged and kept once.
    merged: dict[tuple[Any, ...], int] = {}
    table: dict[tuple[str, ...], int] = {}
    combo_codes = np.empty(len(first), dtype=np.int64)
    for k, p in enumerate(first.tolist()):
        i = rows[p]
        parts = (
            *dose_table[group[i]],
            estimate_table[estimate_kind[i]],
            band_table[band_kind[i]],
            context_table[context_index[p]],
        )
        if parts not in merged:
            start_low, dose, dialysis, estimate, band, context = parts
            flag_codes = _merge_codes(rules, start_low, estimate, band, dose, context, dialysis)
            merged[parts] = table.setdefault(flag_codes, len(table))
        combo_codes[k] = merged[parts]
    out[rows] = combo_codes[combos]
    return out, list(table)
