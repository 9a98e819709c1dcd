"""The flag codes of every cohort row: the key's plan's dose codes and the row's own.

A key's plan (one patient, through build_plan's core) gives the start-low, dose and
post-dialysis codes; each row's own estimate, band and safety context give the rest. They
are merged in the core's order (:func:`gabacalc.rules.flags.in_severity_order`), once per
distinct combination, and each row takes its combination's codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gabacalc.core.bands import band_flag_codes
from gabacalc.core.cohort_parse import CohortColumns, group_rows
from gabacalc.core.cohort_renal import BandArrays, RenalArrays
from gabacalc.core.course import context_codes, context_flag_codes
from gabacalc.core.patient import Patient
from gabacalc.core.renal import estimate_flag_codes
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
    """Each planned row's flag codes, as codes into a table of distinct code tuples."""
    out = np.full(cols.n, -1, dtype=np.int64)
    rows = np.flatnonzero(group >= 0)
    if not len(rows):
        return out, []
    estimate_kind, estimate_table = _estimate_codes(renal)
    band_kind, band_table = _band_codes(bands)
    context_index, contexts = _context_codes(rules, cols, group, reps, older, rows)
    # Contexts that raise the same codes are one kind here, as are keys below.
    context_kinds: dict[tuple[str, ...], int] = {}
    kind_of_context = np.array([context_kinds.setdefault(c, len(context_kinds)) for c in contexts])
    context_table = list(context_kinds)
    context_kind = kind_of_context[context_index]
    # Keys whose plans raise the same dose codes are one kind: the combinations are then of
    # a few kinds, not of every key and context.
    dose_kinds: dict[DoseCodes, int] = {}
    no_plan: DoseCodes = ((), (), ())
    key_kind = np.array(
        [dose_kinds.setdefault(rep[1] if rep else no_plan, len(dose_kinds)) for rep in reps] or [0]
    )
    dose_table = list(dose_kinds)
    dose_kind = key_kind[group[rows]]
    combos, first = group_rows([dose_kind, estimate_kind[rows], band_kind[rows], context_kind])
    # Many combinations give the same codes: each distinct tuple is merged once per rule
    # tables (the chunks of a file, and the calls of a session, share them) and kept once.
    merged: dict[tuple[Any, ...], tuple[str, ...]] = memo(rules, "cohort merged flag codes")
    if len(merged) > _MERGED_KEPT:
        merged.clear()
    table: dict[tuple[str, ...], int] = {}
    combo_codes = np.empty(len(first), dtype=np.int64)
    # Each combination's kinds, read from its first row once (as lists: no numpy scalars).
    kinds = zip(
        dose_kind[first].tolist(),
        estimate_kind[rows[first]].tolist(),
        band_kind[rows[first]].tolist(),
        context_kind[first].tolist(),
        strict=True,
    )
    for k, (dose_k, estimate_k, band_k, context_k) in enumerate(kinds):
        start_low, dose, dialysis = dose_table[dose_k]
        parts = (
            start_low,
            estimate_table[estimate_k],
            band_table[band_k],
            dose,
            context_table[context_k],
            dialysis,
        )
        codes = merged.get(parts)
        if codes is None:
            # The core's flag order: groups in raised order, then severity.
            codes = tuple(in_severity_order([c for part in parts for c in part], rules.flags))
            merged[parts] = codes
        combo_codes[k] = table.setdefault(codes, len(table))
    out[rows] = combo_codes[combos]
    return out, list(table)


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


def _context_codes(
    rules: Rules,
    cols: CohortColumns,
    group: np.ndarray,
    reps: Sequence[Outcome | None],
    older: np.ndarray,
    rows: np.ndarray,
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """The safety context's codes (context_flag_codes) of ``rows``, once per distinct
    context: a context index per row of ``rows`` and the contexts' codes."""
    targets = np.array([r[0]["target_daily_mg"] if r else 0 for r in reps] or [0])
    target = targets[group[rows]]
    index, first = group_rows([cols.risk_codes[rows], older[rows], cols.pain_codes[rows], target])
    known = memo(rules, "cohort context codes")  # a pure function of the context
    if len(known) > _MERGED_KEPT:
        known.clear()
    table = []
    at = rows[first]
    contexts = zip(
        cols.risk_codes[at].tolist(),
        older[at].tolist(),
        cols.pain_codes[at].tolist(),
        target[first].tolist(),
        strict=True,
    )
    for risk_code, is_older, pain_code, target_mg in contexts:
        context = (
            cols.risk_values[risk_code],
            bool(is_older),
            cols.pain_values[pain_code],
            int(target_mg),
        )
        codes = known.get(context)
        if codes is None:
            codes = known[context] = tuple(context_codes(*context, rules))
        table.append(codes)
    return index, table


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
