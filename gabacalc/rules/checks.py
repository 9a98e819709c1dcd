"""Checks across the rule tables: what one table names, another must hold.

Each check takes the typed :class:`~gabacalc.rules.Rules` (parsed table by table in
:mod:`gabacalc.rules.parse`) and returns the problems it finds, in plain words naming the
table, the row and the value; :func:`cross_table_problems` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable

from gabacalc.rules.flags import registry_problems
from gabacalc.rules.rows import Rules

__all__ = ["cross_table_problems"]

#: The tables whose ``unit`` column is a dose, which gabacalc reads in mg only.
_MG_TABLES = (
    "renal_bands.csv",
    "hemodialysis_supplements.csv",
    "strengths.csv",
    "titration_limits.csv",
)


def cross_table_problems(rules: Rules) -> list[str]:
    """Every problem across the tables, in the order the checks below list them."""
    return [problem for check in _CHECKS for problem in check(rules)]


def sources_cited(rules: Rules) -> list[str]:
    """Every row cites a source of ``sources.csv``, with a section; doses are in mg."""
    problems = []
    for name, table in rules.rows.items():
        if name == "sources.csv":
            continue
        for row in table:
            if row["source_id"] not in rules.sources:
                problems.append(f"{name}: source_id {row['source_id']!r} is not in sources.csv")
            if not row["source_section"]:
                problems.append(f"{name}: a row has an empty source_section")
        if "unit" in (table[0] if table else {}) and name in _MG_TABLES:
            for row in table:
                if row["unit"] != "mg":
                    problems.append(f"{name}: unit {row['unit']!r} is not mg")
    return problems


def supplements_name_bands(rules: Rules) -> list[str]:
    """Each hemodialysis supplement row is for a renal band (when the bands parsed)."""
    if not rules.bands:
        return []
    band_ids = {b.band_id for b in rules.bands}
    return [
        f"hemodialysis_supplements.csv: band_id {band_id!r} is not a renal band"
        for band_id in (row["band_id"] for row in rules.rows["hemodialysis_supplements.csv"])
        if band_id not in band_ids
    ]


def defaults_name_presets(rules: Rules) -> list[str]:
    """The default titration and taper are presets of their tables."""
    problems = []
    titration, taper = rules.defaults.get("titration"), rules.defaults.get("taper")
    if titration not in rules.titration_presets:
        problems.append(f"defaults.csv: titration {titration!r} is not a preset")
    if taper not in rules.taper_presets:
        problems.append(f"defaults.csv: taper {taper!r} is not a preset")
    return problems


def flags_registered(rules: Rules) -> list[str]:
    """``flags.csv`` and the flag registry (gabacalc/rules/flags.py) hold the same codes."""
    return registry_problems(rules.flags)


def start_low_names_known(rules: Rules) -> list[str]:
    """The start-low rule's titration is a preset and its risks are safety-context risks."""
    problems = []
    thresholds = rules.thresholds
    if thresholds.get("start_low_titration") not in rules.titration_presets:
        problems.append("clinical_thresholds.csv: start_low_titration is not a titration preset")
    for name in thresholds.get("start_low_risks", "").split(";"):
        if name and name not in rules.risks:
            problems.append(f"clinical_thresholds.csv: start_low_risks names unknown {name!r}")
    return problems


def combinations_use_strengths(rules: Rules) -> list[str]:
    """Each preferred combination is made of the label's solid strengths."""
    solids = {s.strength_mg for s in rules.strengths if not s.is_solution}
    return [
        f"preferred_combinations.csv row {dose}: a unit is not a strength"
        for dose, units in rules.preferred_combinations.items()
        if not set(units) <= solids
    ]


_CHECKS: tuple[Callable[[Rules], list[str]], ...] = (
    sources_cited,
    supplements_name_bands,
    defaults_name_presets,
    flags_registered,
    start_low_names_known,
    combinations_use_strengths,
)
