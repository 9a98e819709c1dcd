"""The flag codes of every cohort row: the key's plan's dose codes and the row's own.

A key's plan (one patient, through build_plan's core) gives the start-low, dose and
post-dialysis codes; each row's own estimate, band and safety context give the rest. They
are merged in the core's order (:func:`gabacalc.rules.flags.in_severity_order`), once per
distinct combination, and each row takes its combination's codes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gabacalc.core.bands import band_flag_codes
from gabacalc.core.cohort_parse import CohortColumns
from gabacalc.core.cohort_renal import BandArrays, RenalArrays
from gabacalc.core.course import context_codes, context_flag_codes
from gabacalc.core.patient import Patient
from gabacalc.core.renal import estimate_flag_codes
from gabacalc.errors import GabacalcError
from gabacalc.rules import Rules
from gabacalc.rules.flags import codes_in, highest_severity, in_severity_order
from gabacalc.rules.memo import memo

__all__ = ["DoseCodes", "Outcome", "codes_of", "dose_codes", "row_flags", "severity"]

#: A plan's flag codes that come from its doses: (start-low, dose, post-dialysis).
DoseCodes = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
#: A row planned through the single-patient core: (its summary's result columns and
#: ``flag_codes``, its :func:`dose_codes`, current doses per day).
Outcome = tuple[dict[str, Any], DoseCodes, "int | None"]

# Flag codes by where a plan raises them (gabacalc.rules.flags, the one registry).
_START_LOW_CODES = codes_in("start_low")
_PER_ROW_CODES = codes_in("estimate", "band")
_DIALYSIS_CODES = codes_in("dialysis")

#: At most this many merged combinations are kept per rule tables (then they start again).
_MERGED_KEPT = 200_000


def codes_of(summary: Mapping[str, Any]) -> list[str]:
    """The flag codes of a planned row's summary, in the plan's order."""
    return list(summary["flag_codes"])


def severity(rules: Rules, codes: Sequence[str]) -> str | None:
    """The highest severity among ``codes`` (None without any), once per distinct codes."""
    known = memo(rules, "cohort flag severity")
    key = tuple(codes)
    if key not in known:
        if len(known) > _MERGED_KEPT:
            known.clear()
        known[key] = highest_severity(key, rules.flags)
    found: str | None = known[key]
    return found


def row_flags(
    rules: Rules,
    cols: CohortColumns,
    renal: RenalArrays,
    bands: BandArrays,
    group: np.ndarray,
    reps: Sequence[Outcome | None],
    older: np.ndarray,
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Each planned row's flag codes, as codes into a table of distinct code tuples.

    A row's codes are its key's dose codes, its estimate's, its band's and its safety
    context's, merged in the core's order. Each distinct part gets a number (kept per rule
    tables), so a row's combination of parts is one whole number, worked out for every row
    at once; each distinct combination is merged once per rule tables (the chunks of a
    file, and the calls of a session, share them).
    """
    out = np.full(cols.n, -1, dtype=np.int64)
    rows = np.flatnonzero(group >= 0)
    if not len(rows):
        return out, []
    estimate_kind, estimate_table = _estimate_codes(renal)
    band_kind, band_table = _band_codes(bands)
    known = _merged(rules)
    context_part = _context_parts(rules, cols, group, reps, older, rows, known)
    no_plan: DoseCodes = ((), (), ())
    dose_id = np.array([known.part(rep[1] if rep else no_plan) for rep in reps] or [0])
    kinds = len(estimate_table) * len(band_table)
    combination = (
        dose_id[group[rows]] * kinds + estimate_kind[rows] * len(band_table) + band_kind[rows]
    ) * _PART_IDS + context_part

    def merge(value: int) -> int:  # the merged codes of a combination never met before
        first, context_k = divmod(value, _PART_IDS)
        dose_part, kind = divmod(first, kinds)
        estimate_k, band_k = divmod(kind, len(band_table))
        start_low, dose, dialysis = known.parts[dose_part]
        parts = (
            start_low,
            estimate_table[estimate_k],
            band_table[band_k],
            dose,
            known.parts[context_k],
            dialysis,
        )
        # The core's flag order: groups in raised order, then severity.
        return known.part(
            tuple(in_severity_order([c for part in parts for c in part], rules.flags))
        )

    combos, merged_id = _once_each(combination, known.merged, merge)
    local, distinct = pd.factorize(merged_id)
    out[rows] = local[combos]
    return out, [known.parts[code_id] for code_id in distinct.tolist()]


#: Parts are numbered below this, so that a row's parts make one whole number (int64).
_PART_IDS = 1 << 20


@dataclass
class _Merged:
    """The flag-code parts met so far, numbered, and each combination of them merged (per
    rule tables; all are dropped together when one grows past :data:`_MERGED_KEPT`)."""

    numbers: dict[Any, int] = field(default_factory=dict)
    parts: list[Any] = field(default_factory=list)
    merged: dict[int, int] = field(default_factory=dict)
    contexts: dict[int, int] = field(default_factory=dict)  # a context's codes' part
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def part(self, value: Any) -> int:
        """The number of a part (a code tuple, a plan's :data:`DoseCodes`, or a context's
        risks or pain type, tagged). Numbered under a lock: threads planning at once (dask's
        threads scheduler) share the numbers, and two parts must never get one."""
        number = self.numbers.get(value)
        if number is not None:
            return number
        with self.lock:
            number = self.numbers.get(value)
            if number is None:
                if len(self.parts) >= _PART_IDS:  # never: they start again at _MERGED_KEPT
                    raise GabacalcError("gabacalc internal error: too many flag-code parts")
                self.parts.append(value)
                number = self.numbers[value] = len(self.parts) - 1
        return number


def _merged(rules: Rules) -> _Merged:
    kept = memo(rules, "cohort merged flag codes")
    known: _Merged | None = kept.get("known")
    sizes = (0,) if known is None else (len(known.parts), len(known.merged), len(known.contexts))
    if known is None or max(sizes) > _MERGED_KEPT:
        known = kept["known"] = _Merged()
    return known


def _estimate_codes(renal: RenalArrays) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """The estimate's codes (estimate_crcl): a given CrCl, or Cockcroft-Gault without a
    height, or with a height under 60 inches; an implausibly high estimate; an older
    adult's low creatinine. As a kind per row and the kinds' codes."""
    estimated = renal.method == 0
    kind = np.select([renal.method == 1, estimated & renal.short, renal.no_height], [1, 2, 3], 0)
    kind = kind + 4 * renal.implausible + 8 * renal.low_scr
    table = [
        estimate_flag_codes(
            given=base == 1,
            short=base == 2,
            no_height=base == 3,
            implausible=bool(k & 1),
            low_scr=bool(k & 2),
        )
        for k in range(4)
        for base in range(4)
    ]
    return kind, table


def _band_codes(bands: BandArrays) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """The band's codes (select_band), as a kind per row and the kinds' codes."""
    kind = np.where(bands.hd_no_residual, 2, np.where(bands.peritoneal, 4, 0))
    kind = kind + bands.scaled.astype(np.int64)
    table = [
        band_flag_codes(hd_no_residual=dialysis == 1, peritoneal=dialysis == 2, scaled=scaled)
        for dialysis in range(3)
        for scaled in (False, True)
    ]
    return kind, table


def _context_parts(
    rules: Rules,
    cols: CohortColumns,
    group: np.ndarray,
    reps: Sequence[Outcome | None],
    older: np.ndarray,
    rows: np.ndarray,
    known: _Merged,
) -> np.ndarray:
    """The safety context's codes (context_flag_codes) of each of ``rows``, as the part
    number (in ``known``) of the codes: worked out once per distinct context (risks, older
    adult, pain type, target) per rule tables."""
    targets = np.array([r[0]["target_daily_mg"] if r else 0 for r in reps] or [0])
    target = targets[group[rows]]
    if len(target) and not 0 <= int(target.min()) <= int(target.max()) < _PART_IDS:
        raise GabacalcError(f"gabacalc internal error: a target beyond {_PART_IDS:,} mg/day")
    risk_id = np.array([known.part(("risks", v)) for v in cols.risk_values] or [0])
    pain_id = np.array([known.part(("pain", v)) for v in cols.pain_values] or [0])
    context = (
        (risk_id[cols.risk_codes[rows]] * 2 + older[rows]) * _PART_IDS
        + pain_id[cols.pain_codes[rows]]
    ) * _PART_IDS + target

    def codes_of(value: int) -> int:  # the codes of a context never met before
        first, target_mg = divmod(value, _PART_IDS)
        risk_older, pain_part = divmod(first, _PART_IDS)
        risk_part, is_older = divmod(risk_older, 2)
        codes = context_codes(
            known.parts[risk_part][1], bool(is_older), known.parts[pain_part][1], target_mg, rules
        )
        return known.part(tuple(codes))

    index, part = _once_each(context, known.contexts, codes_of)
    out: np.ndarray = part[index]
    return out


def _once_each(
    values: np.ndarray, known: dict[int, int], make: Callable[[int], int]
) -> tuple[np.ndarray, np.ndarray]:
    """``make(value)`` for each distinct value, kept in ``known`` (per rule tables) so that
    it is worked out once: each row's index into the distinct values, and their results."""
    index, distinct = pd.factorize(values)
    found = np.empty(len(distinct), dtype=np.int64)
    for k, value in enumerate(distinct.tolist()):
        number = known.get(value)
        if number is None:
            number = known[value] = make(value)
        found[k] = number
    return index, found


def dose_codes(summary: Mapping[str, Any], patient: Patient, rules: Rules) -> DoseCodes:
    """A key's plan's codes that come from its doses: (start-low, dose, post-dialysis).

    Worked out once, when the key is planned (its plan then serves every row and chunk
    that has the key): the plan's codes less those of the patient it was made for.
    """
    per_patient = _PER_ROW_CODES | set(
        context_flag_codes(patient, summary["target_daily_mg"], rules)
    )
    codes = codes_of(summary)
    return (
        tuple(c for c in codes if c in _START_LOW_CODES),
        tuple(c for c in codes if c not in per_patient | _START_LOW_CODES | _DIALYSIS_CODES),
        tuple(c for c in codes if c in _DIALYSIS_CODES),
    )
