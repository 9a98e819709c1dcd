"""The registry of flag codes: each code of ``tables/flags.csv`` and where a plan raises it.

A plan's flags are raised in groups, in this order: the start-low advice, the renal
estimate's, the band's, the doses' (the engine: limits, current dose, taper), the safety
context's, then the post-dialysis supplement's. The codes then keep that order within each
severity (warning, caution, info). Cohort mode works out the groups that depend on the
patient rather than the doses row by row, and needs to know which group each code is in;
the single-patient core raises them. Both read this one registry, and :func:`registry_problems`
checks it against ``tables/flags.csv`` both ways when the tables are loaded: a code here that
the table lacks, or a row of the table that no rule raises, refuses the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "FLAG_GROUPS",
    "GROUP_ORDER",
    "SEVERITY_ORDER",
    "TARGET_REASON_CODES",
    "codes_in",
    "highest_severity",
    "in_severity_order",
    "registry_problems",
]

#: The groups a plan raises its flags in, in raised order, and who raises them.
GROUP_ORDER = (
    "start_low",  # plan.apply_start_low (startlow.start_low_criteria)
    "estimate",  # renal.estimate_crcl
    "band",  # renal.select_band
    "dose",  # the plan engine (plan._prepare, plan._course and the taper)
    "context",  # plan.context_codes
    "dialysis",  # plan._supplement (post-dialysis supplement)
)

#: Every flag code a rule can raise, and its group.
FLAG_GROUPS: Mapping[str, str] = {
    "START_LOW_DEFAULT": "start_low",
    "START_LOW_OVERRIDDEN": "start_low",
    "GO_SLOW_DEFAULT": "start_low",
    "GO_SLOW_OVERRIDDEN": "start_low",
    "SHORT_STATURE_IBW": "estimate",
    "NO_HEIGHT": "estimate",
    "CRCL_GIVEN": "estimate",
    "CRCL_IMPLAUSIBLE_HIGH": "estimate",
    "LOW_SCR_OLDER_ADULT": "estimate",
    "HD_NO_RESIDUAL_CRCL": "band",
    "PERITONEAL_DIALYSIS": "band",
    "PROPORTIONAL_REDUCTION": "band",
    "TARGET_LIMITED_RENAL": "dose",
    "TARGET_LIMITED_STRENGTHS": "dose",
    "START_LIMITED": "dose",
    "TARGET_BELOW_BAND_RANGE": "dose",
    "CURRENT_ABOVE_BAND": "dose",
    "CURRENT_ABOVE_LABEL_MAX": "dose",
    "CURRENT_DOSE": "dose",
    "CURRENT_ABOVE_TARGET": "dose",
    "CURRENT_NOT_MAKEABLE": "dose",
    "TAPER_FEWER_DOSES": "dose",
    "RESP_OPIOIDS": "context",
    "RESP_CNS_DEPRESSANTS": "context",
    "RESP_RESPIRATORY": "context",
    "RESP_OLDER_ADULT": "context",
    "BEERS_FALLS": "context",
    "BEERS_CNS_ACTIVE": "context",
    "NON_RADICULAR": "context",
    "ABOVE_1800": "context",
    "PREGNANCY": "context",
    "MISUSE": "context",
    "EPILEPSY": "context",
    "UNSTABLE_RENAL": "context",
    "SOMNOLENCE_DRIVING": "context",
    "HD_SUPPLEMENT": "dialysis",
    "HD_SUPPLEMENT_ROUNDED": "dialysis",
    "HD_SUPPLEMENT_ZERO": "dialysis",
}

#: The codes that say why a plan's target is not the dose asked for: a document prints
#: their messages beside the target (they are in the registry; a test checks it).
TARGET_REASON_CODES = frozenset(
    {"TARGET_LIMITED_RENAL", "TARGET_LIMITED_STRENGTHS", "TARGET_BELOW_BAND_RANGE"}
)

#: Severities from the most to the least urgent.
SEVERITY_ORDER: Mapping[str, int] = {"warning": 0, "caution": 1, "info": 2}


def registry_problems(table_codes: Iterable[str]) -> list[str]:
    """What keeps ``tables/flags.csv`` and the registry apart, one line per code (empty if
    they agree).

    Examples
    --------
    >>> registry_problems(FLAG_GROUPS)
    []
    >>> registry_problems([*FLAG_GROUPS, "NEW_RULE"])[0][:60]
    'flags.csv: code NEW_RULE is raised by no rule of gabacalc (t'
    """
    codes = list(table_codes)
    problems = [
        f"flags.csv: code {code} is raised by no rule of gabacalc (the flag registry, "
        "gabacalc/rules/flags.py, has no such code); remove the row or add the rule"
        for code in codes
        if code not in FLAG_GROUPS
    ]
    problems += [
        f"flags.csv: no row for code {code}, which gabacalc raises (group {group}); add "
        "its row with severity, message, action and source"
        for code, group in FLAG_GROUPS.items()
        if code not in codes
    ]
    return problems


def codes_in(*groups: str) -> frozenset[str]:
    """The codes of these groups.

    Examples
    --------
    >>> sorted(codes_in("band"))
    ['HD_NO_RESIDUAL_CRCL', 'PERITONEAL_DIALYSIS', 'PROPORTIONAL_REDUCTION']
    """
    unknown = [g for g in groups if g not in GROUP_ORDER]
    if unknown:
        raise ValueError(f"unknown flag group {unknown[0]!r}; one of {', '.join(GROUP_ORDER)}")
    return frozenset(code for code, group in FLAG_GROUPS.items() if group in groups)


def in_severity_order(codes: Iterable[str], flags: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Each code once, in raised order within each severity, the most urgent first.

    ``flags`` is ``Rules.flags`` (the rows of ``tables/flags.csv`` by code).

    Examples
    --------
    >>> rows = {"A": {"severity": "info"}, "B": {"severity": "warning"}}
    >>> in_severity_order(["A", "B", "A"], rows)
    ['B', 'A']
    """
    return sorted(dict.fromkeys(codes), key=lambda c: SEVERITY_ORDER[flags[c]["severity"]])


def highest_severity(codes: Sequence[str], flags: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The most urgent severity among the codes (None for no codes).

    Examples
    --------
    >>> highest_severity(["A", "B"], {"A": {"severity": "info"}, "B": {"severity": "caution"}})
    'caution'
    """
    if not codes:
        return None
    return min((flags[c]["severity"] for c in codes), key=SEVERITY_ORDER.__getitem__)
