"""Plans and renal estimates as HTML, for Jupyter (``_repr_html_``) and for embedding.

An edge module: it formats what the core decided and decides nothing clinical. Every value
is escaped. The markup is plain HTML (tables with captions, a few inline styles, no script
and no style sheet), so it reads the same in Jupyter, a browser or an HTML viewer that
drops styles. Every fragment starts and ends with the verification line, the gabacalc
version and the rule tables' version and checksum.

Flags are tinted by severity with the PDF's colours (:data:`SEVERITY_COLOURS`), dates never
wrap, and the long reference sections (the band edge rule, the sources) are collapsible
``<details>`` that a reader opens when needed.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gabacalc.core.engine import LIMIT_RENAL, LIMIT_STRENGTHS
from gabacalc.core.wording import fmt_mg, fmt_number, frequency_text
from gabacalc.render.html_blocks import (
    CAPTION_STYLE,
    CELL_STYLE,
    TABLE_STYLE,
    details_html,
    esc,
    grid_table,
    key_table,
    lines_html,
    text_html,
)
from gabacalc.render.records import patient_text, source_ids

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan
    from gabacalc.core.renal import BandChoice, RenalEstimate
    from gabacalc.rules import Provenance, Rules

__all__ = ["SEVERITY_COLOURS", "compare_html", "error_html", "estimate_html", "plan_html"]

#: Background tint of a flag by severity, shared with the PDF so both read the same.
SEVERITY_COLOURS = {"warning": "#fde2e1", "caution": "#fff3cd", "info": "#e8f0fe"}
#: Background of a figure that differs between two compared plans.
DIFFERS_COLOUR = "#ffe08a"

_TIMES = ("morning", "midday", "bedtime")


def _banner(stamp: Provenance) -> str:
    sha = stamp.rules_sha256
    return (
        '<div style="border:2px solid #b00020;padding:0.4em 0.6em;margin:0 0 0.6em 0">'
        f"<strong>{esc(stamp.verification)}</strong><br>"
        f"gabacalc {esc(stamp.gabacalc_version)} | rule tables {esc(stamp.rules_version)} "
        f'(sha256 <span title="{esc(sha)}">{esc(sha[:12])}</span>)'
        "</div>"
    )


def _footer(stamp: Provenance) -> str:
    return f"<p><small>{esc(stamp.verification)}. {esc(stamp.footer_text())}.</small></p>"


def _range_text(min_daily_mg: int, max_daily_mg: int, doses_per_day: int) -> str:
    """E.g. ``"400-1,400 mg/day, twice daily"``."""
    return f"{fmt_number(min_daily_mg)}-{fmt_mg(max_daily_mg)}/day, {frequency_text(doses_per_day)}"


def _weight_rows(
    used: str | None,
    used_kg: float | None,
    reason: str,
    actual_kg: float | None,
    ideal_kg: float | None,
    adjusted_kg: float | None,
    bmi: float | None,
) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    if used_kg is not None:
        rows.append(("Weight used", [f"{used} body weight {fmt_number(used_kg)} kg", reason]))
    candidates = []
    if actual_kg is not None:
        candidates.append(f"actual {fmt_number(actual_kg)} kg")
    if ideal_kg is not None:
        candidates.append(f"ideal (Devine) {fmt_number(ideal_kg)} kg")
    if adjusted_kg is not None:
        candidates.append(f"adjusted {fmt_number(adjusted_kg)} kg")
    if bmi is not None:
        candidates.append(f"BMI {fmt_number(bmi)} kg/m2")
    if candidates and used_kg is not None:
        rows.append(("Weights", [", ".join(candidates)]))
    return rows


def _flags_table(flags: Sequence[Mapping[str, Any]]) -> str:
    if not flags:
        return "<p>No flags.</p>"
    rows = [
        (
            f["severity"],
            f["message"],
            f["action"],
            f"{f['source_id']} {f.get('source_section', '')}".strip(),
            f["code"],
        )
        for f in flags
    ]
    tints = [
        f"background:{SEVERITY_COLOURS[f['severity']]}" if f["severity"] in SEVERITY_COLOURS else ""
        for f in flags
    ]
    return grid_table(
        "Flags", ("Severity", "Message", "Action", "Source", "Code"), rows, row_styles=tints
    )


# --------------------------------------------------------------------------------- plan


def _target_rows(plan: Plan) -> list[tuple[str, list[str]]]:
    s = plan.summary
    target, requested = s["target_daily_mg"], s["requested_target_daily_mg"]
    regimen = f"{fmt_mg(target)}/day: {s['target_regimen']}"
    if s["kind"] == "taper":
        asked = f"the current dose of {fmt_mg(requested)}/day"
        label = "Taper from"
    else:
        chosen = s["inputs"]["options"]["target_daily_mg"] is not None
        asked = f"the {'requested' if chosen else 'default'} target of {fmt_mg(requested)}/day"
        label = "Target"
    if not s["target_limited_by"]:
        return [(label, [regimen, f"as {asked}"])]
    words = {
        LIMIT_RENAL: f"the renal band maximum is {fmt_mg(s['max_daily_mg'])}/day",
        LIMIT_STRENGTHS: f"the allowed forms make at most {fmt_mg(target)}/day within it",
    }
    why = "; ".join(words[limit] for limit in s["target_limited_by"])
    return [(label, [regimen, f"lowered from {asked}: {why}"])]


def _key_rows(plan: Plan) -> list[tuple[str, list[str]]]:
    s = plan.summary
    patient = s["inputs"]["patient"]
    crcl = s["crcl_ml_min"]
    rows: list[tuple[str, list[str]]] = [("Patient", [patient_text(s)])]
    if crcl is None:
        rows.append(("CrCl", [s["crcl_method"]]))
    else:
        rows.append(("CrCl", [f"{s['crcl_text']} mL/min", s["crcl_method"]]))
    rows += _weight_rows(
        s["weight_used"],
        s["weight_used_kg"],
        s["weight_reason"],
        patient["weight_kg"],
        s["ideal_weight_kg"],
        s["adjusted_weight_kg"],
        s["bmi_kg_m2"],
    )
    rows.append(
        (
            "Band",
            [
                f"{s['band_words']}: "
                f"{_range_text(s['min_daily_mg'], s['max_daily_mg'], s['doses_per_day'])}",
                s["band_reason"],
                f"Source: {s['band_source']}",
                # Last in the cell: a block after which no line break is needed.
                details_html("Edge rule:", " " + text_html(s["band_rule"])),
            ],
        )
    )
    rows.append(("Maximum", [f"{fmt_mg(s['max_daily_mg'])}/day (renal band)"]))
    first = plan.steps.iloc[0]
    start = [f"{fmt_mg(s['start_daily_mg'])}/day on {s['start_date']}"]
    if s["current_daily_mg"] is not None:
        start.append(f"current dose {s['current_regimen']}; {s['day1_change']}")
    if first["limited_by"]:
        start.append(f"limited by {first['limited_by']}")
    rows.append(("Start", start))
    rows += _target_rows(plan)
    if s["target_reached_date"] is not None:
        rows.append(
            ("Target reached", [f"{s['target_reached_date']} (day {s['target_reached_day']})"])
        )
    if s["review_date"] is not None:
        rows.append(("Review", [s["review_date"], s["review_rule"] or ""]))
    if s["kind"] == "taper":
        taper = f"{s['taper_start_date']}; stopped from {s['taper_end_date']}"
    else:
        taper = (
            f"{s['taper_start_date']}; stopped from {s['taper_end_date']} "
            "(only if no clear benefit at the review)"
        )
    rows.append(("Taper", [taper, f"preset: {s['taper']}"]))
    if s["post_dialysis_mg"] is not None:
        rows.append(
            (
                "After dialysis",
                [f"{fmt_mg(s['post_dialysis_mg'])} after each hemodialysis session at the target"],
            )
        )
    if s["kind"] == "taper":
        presets = f"taper {s['taper']}"
    else:
        presets = (
            f"titration {s['titration']}, taper {s['taper']}, review after "
            f"{s['review_weeks']} weeks"
        )
    rows.append(("Presets", [presets]))
    rows.append(("Allowed forms", [s["allowed_forms"]]))
    return rows


def _review_table(plan: Plan) -> str:
    s = plan.summary
    if s["kind"] == "taper":
        return key_table(
            "Taper",
            [
                (
                    "Taper",
                    [
                        f"a taper of a current dose of {fmt_mg(s['current_daily_mg'] or 0)}/day: "
                        f"from {s['taper_start_date']}, no gabapentin from {s['taper_end_date']}"
                    ],
                )
            ],
        )
    return key_table(
        "Review decision",
        [
            ("Review on", [s["review_date"] or ""]),
            ("Decision", [s["review_with_benefit"] or "", s["review_without_benefit"] or ""]),
            ("Taper", [s["taper_note"]]),
        ],
    )


def _take(mg: int, take: str) -> str:
    return f"{fmt_mg(mg)}: {take}" if mg else ""


def _steps_table(plan: Plan) -> str:
    steps = plan.steps
    conditional_taper = plan.summary["kind"] != "taper"
    dialysis = bool((steps["post_dialysis_mg"] > 0).any())
    header = [
        "Step",
        "Dates",
        "Days",
        "Phase",
        "Daily dose",
        "How often",
        "Morning",
        "Midday",
        "Bedtime",
    ]
    if dialysis:
        header.append("After each dialysis session")
    header += ["Limited by", "Source"]
    rows = []
    for row in steps.to_dict("records"):
        start = row["start_date"].date().isoformat()
        end = row["end_date"].date().isoformat()
        phase = str(row["phase"])
        if phase == "taper" and conditional_taper:
            phase = "taper (if no clear benefit)"
        daily = int(row["daily_mg"])
        how = str(row["frequency"]) if daily else "stop: no gabapentin from this day"
        cells = [
            str(row["step"]),
            start if start == end else f"{start} to {end}",
            str(row["days"]),
            phase,
            f"{fmt_mg(daily)}/day",
            how,
            *(_take(int(row[f"{t}_mg"]), str(row[f"{t}_take"])) for t in _TIMES),
        ]
        if dialysis:
            cells.append(_take(int(row["post_dialysis_mg"]), str(row["post_dialysis_take"])))
        cells += [str(row["limited_by"]), str(row["source_id"])]
        rows.append(cells)
    return grid_table("Steps (what to take each day)", header, rows, nowrap=("Dates",))


def _sources_section(plan: Plan, rules: Rules) -> str:
    """The sources the plan's numbers come from, collapsed under one line."""
    items = []
    for source_id in source_ids(plan):
        source = rules.sources.get(source_id)
        if source is None:
            items.append(f"<li><strong>{esc(source_id)}</strong></li>")
            continue
        items.append(
            f"<li><strong>{esc(source_id)}</strong>: {text_html(source['citation'])} "
            f"({text_html(source['revision'])}; {text_html(source['where'])})</li>"
        )
    return details_html(f"Sources ({len(items)})", f"<ul>{''.join(items)}</ul>")


def plan_html(plan: Plan, rules: Rules | None = None) -> str:
    """The plan as an HTML fragment: verification, key figures, flags, review, steps.

    Parameters
    ----------
    plan : Plan
        A plan from :func:`~gabacalc.build_plan`, :func:`~gabacalc.build_taper` or
        :func:`~gabacalc.rebuild_plan`.
    rules : Rules, optional
        For the sources' citations (default the shipped tables, as the PDF).

    Returns
    -------
    str
        Escaped HTML: the verification banner with the gabacalc and rule-table versions
        and checksum, the basis of every number (CrCl and formula, weight used and why,
        band with its edge rule and source, maximum, start, target and why it was
        lowered, dates), the flags, the review decision, and one row per step.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> patient = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> text = plan_html(build_plan(patient, start_date=date(2026, 1, 5)))
    >>> "Illustrative plan - requires physician verification" in text
    True
    >>> "CrCl above 30 and below 60 mL/min" in text
    True
    """
    stamp = plan.provenance
    parts = [
        '<div class="gabacalc-plan">',
        _banner(stamp),
        key_table("Illustrative gabapentin plan: key figures", _key_rows(plan)),
        _flags_table(plan.flags),
        _review_table(plan),
        _steps_table(plan),
        _sources_section(plan, _rules(rules or plan.rules)),
        _footer(stamp),
        "</div>",
    ]
    return "".join(parts)


def _rules(rules: Rules | None) -> Rules:
    from gabacalc.rules import default_rules

    return rules or default_rules()


def error_html(message: str, rules: Rules | None = None) -> str:
    """A refusal shown where a plan would be: the message, with the verification stamp.

    Examples
    --------
    >>> text = error_html("age 12 years is outside 18-110 years (gabacalc plans for adults)")
    >>> "<strong>No plan:</strong> age 12 years is outside 18-110 years" in text
    True
    >>> "Illustrative plan - requires physician verification" in text
    True
    """
    rules = _rules(rules)
    stamp = rules.provenance
    return (
        '<div class="gabacalc-error">'
        + _banner(stamp)
        + '<p role="alert" style="border-left:4px solid #b00020;padding:0.3em 0.6em;'
        f'background:{SEVERITY_COLOURS["warning"]}"><strong>No plan:</strong> '
        f"{text_html(message)}</p>" + _footer(stamp) + "</div>"
    )


def _comparison_rows(plan: Plan) -> dict[str, list[str]]:
    """What a reader compares between two plans: each key figure, the flags, the steps."""
    rows = {label: [t for t in texts if t] for label, texts in _key_rows(plan)}
    rows["Flags"] = [", ".join(f"{f['code']} ({f['severity']})" for f in plan.flags) or "none"]
    doses = [f"{fmt_number(int(mg))}" for mg in plan.steps["daily_mg"]]
    rows["Steps"] = [f"{len(doses)} steps: {' then '.join(doses)} mg/day"]
    return rows


def compare_html(
    first: Plan, second: Plan, names: tuple[str, str] = ("A", "B"), rules: Rules | None = None
) -> str:
    """Two plans side by side, the figures that differ highlighted.

    A table of the key figures (patient, CrCl, band, maximum, start, target, dates, presets,
    flags and step doses) for both plans, each row that differs tinted and marked
    "differs", then the two full displays next to each other.

    Parameters
    ----------
    first, second : Plan
    names : tuple of str
        Column headings for the two plans (default "A" and "B").
    rules : Rules, optional
        For the sources' citations (default the shipped tables).

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> def plan(crcl):
    ...     patient = Patient(age_years=60, sex="male", weight_kg=80, crcl_ml_min=crcl)
    ...     return build_plan(patient, start_date=date(2026, 1, 5))
    >>> text = compare_html(plan(50), plan(25))
    >>> text.count('class="gabacalc-differs"') >= 3  # CrCl, band, maximum at least
    True
    """
    a_rows, b_rows = _comparison_rows(first), _comparison_rows(second)
    labels = list(a_rows) + [label for label in b_rows if label not in a_rows]
    body = []
    for label in labels:
        a_texts, b_texts = a_rows.get(label, []), b_rows.get(label, [])
        differs = [str(t) for t in a_texts] != [str(t) for t in b_texts]
        attrs = f' class="gabacalc-differs" style="background:{DIFFERS_COLOUR}"' if differs else ""
        body.append(
            f'<tr{attrs}><th style="{CELL_STYLE}">{esc(label)}</th>'
            f'<td style="{CELL_STYLE}">{lines_html(a_texts)}</td>'
            f'<td style="{CELL_STYLE}">{lines_html(b_texts)}</td>'
            f'<td style="{CELL_STYLE}">{"differs" if differs else ""}</td></tr>'
        )
    a_name, b_name = names
    table = (
        f'<table class="gabacalc-comparison" style="{TABLE_STYLE};width:100%;table-layout:fixed">'
        '<colgroup><col style="width:12%"><col style="width:40%"><col style="width:40%">'
        '<col style="width:8%"></colgroup>'
        f'<caption style="{CAPTION_STYLE}">Comparison: {esc(a_name)} and '
        f"{esc(b_name)} (rows that differ highlighted)</caption>"
        f'<thead><tr><th style="{CELL_STYLE}"></th><th style="{CELL_STYLE}">{esc(a_name)}</th>'
        f'<th style="{CELL_STYLE}">{esc(b_name)}</th><th style="{CELL_STYLE}"></th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    stamp = first.provenance
    rules = _rules(rules or first.rules)
    side = "".join(
        # Each plan scrolls sideways on its own if its steps table is wider than half a page.
        f'<div style="flex:1 1 0;width:0;min-width:0;overflow-x:auto"><h4>{esc(name)}</h4>'
        f"{plan_html(plan, rules)}</div>"
        for name, plan in ((a_name, first), (b_name, second))
    )
    return (
        '<div class="gabacalc-compare" style="width:100%">'
        + _banner(stamp)
        + table
        + f'<div style="display:flex;gap:1em;align-items:flex-start;width:100%">{side}</div>'
        + _footer(stamp)
        + "</div>"
    )


# ----------------------------------------------------------------------------- estimate


def _flag_message(template: str, words: Mapping[str, str]) -> str | None:
    """A flag's message with its values filled in, or None if one is not known here."""
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not fields <= set(words):
        return None
    return template.format_map(words)


def estimate_html(estimate: RenalEstimate, rules: Rules | None = None) -> str:
    """A renal estimate as an HTML fragment: verification, CrCl and formula, weight, band.

    The band is the one :func:`~gabacalc.core.renal.estimate_band` gives: the estimate's own
    for a Cockcroft-Gault estimate; for a given CrCl it depends on the dialysis status, which
    a plan shows.

    Parameters
    ----------
    estimate : RenalEstimate
        From :func:`~gabacalc.estimate_crcl`.
    rules : Rules, optional
        The rule tables the estimate was made with (default the shipped ones); their
        version and checksum are printed.

    Returns
    -------
    str
        Escaped HTML.

    Examples
    --------
    >>> from gabacalc import Patient, estimate_crcl
    >>> patient = Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    >>> text = estimate_html(estimate_crcl(patient))
    >>> "Illustrative plan - requires physician verification" in text
    True
    >>> "x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 = 32.3 mL/min" in text
    True
    """
    from gabacalc.core.renal import estimate_band
    from gabacalc.rules import default_rules

    rules = rules or default_rules()
    stamp = rules.provenance
    band = estimate_band(estimate, rules)
    codes = list(estimate.flag_codes)
    words: dict[str, str] = {}
    if estimate.crcl_ml_min is not None:
        words["crcl_ml_min"] = str(estimate.crcl_text)
    if band is not None:
        codes += [c for c in band.flag_codes if c not in codes]
        words.update(
            min_daily_mg=fmt_number(band.min_daily_mg), max_daily_mg=fmt_number(band.max_daily_mg)
        )
    parts = [
        '<div class="gabacalc-estimate">',
        _banner(stamp),
        key_table("Renal estimate", _estimate_rows(estimate, band, rules)),
        _flags_table(_estimate_flags(codes, words, rules)),
        _footer(stamp),
        "</div>",
    ]
    return "".join(parts)


def _estimate_rows(
    estimate: RenalEstimate, band: BandChoice | None, rules: Rules
) -> list[tuple[str, list[str]]]:
    """The estimate's key figures: CrCl and formula, creatinine, weight, band and maximum."""
    rows: list[tuple[str, list[str]]] = []
    if estimate.crcl_ml_min is None:
        rows.append(("CrCl", [estimate.formula_text]))
    else:
        rows.append(("CrCl", [f"{estimate.crcl_text} mL/min", estimate.formula_text]))
    if estimate.scr_mg_dl is not None:
        rows.append(("Serum creatinine", [f"{fmt_number(estimate.scr_mg_dl, 2)} mg/dL"]))
    rows.append(("Weight basis", [estimate.weight_basis]))
    rows += _weight_rows(
        estimate.weight_used,
        estimate.weight_used_kg,
        estimate.weight_reason,
        None,
        estimate.ideal_weight_kg,
        estimate.adjusted_weight_kg,
        estimate.bmi_kg_m2,
    )
    if band is None:
        rows.append(("Band", ["depends on the dialysis status: build a plan to see it"]))
        return rows
    rows.append(
        (
            "Band",
            [
                f"{band.words}: "
                f"{_range_text(band.min_daily_mg, band.max_daily_mg, band.doses_per_day)}",
                band.reason,
                f"Edge rule: {rules.texts['band_edge_rule']}",
                f"Source: {band.band.source_id} {band.band.source_section}",
            ],
        )
    )
    rows.append(("Maximum", [f"{fmt_mg(band.max_daily_mg)}/day (renal band)"]))
    return rows


def _estimate_flags(
    codes: Sequence[str], words: Mapping[str, str], rules: Rules
) -> list[dict[str, str]]:
    """The flags' rows, each message filled in with the values known here."""
    flags = []
    for code in codes:
        row = rules.flags[code]
        message = _flag_message(row["message"], words)
        flags.append(
            {
                "code": code,
                "severity": row["severity"],
                "message": message or "see the plan's flags for the full message",
                "action": row["action"],
                "source_id": row["source_id"],
                "source_section": row["source_section"],
            }
        )
    return flags
