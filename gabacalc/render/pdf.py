"""The plan as a PDF to check, sign and file (reportlab; the chart drawn by matplotlib).

An edge module: it lays out what the core decided, in the words of
``gabacalc.render.phrases`` (the terminal text and the JSON carry the same content). Page 1
carries the banner, the identification and verification fields (blank lines where not
given) and the time prepared, the basis (inputs, renal formula, schemes and weight basis
with their sources, band and edge rule, target, dates), the chart and the flags; then the
titration and maintenance steps to the review, the review's decision, the taper in its own
section headed as conditional, the dispensing quantities, what to do when and counselling,
the prescriber and verification blocks, and the sources. Every page has the verification
text in its header and footer, with the gabacalc version, the rules checksum and "page X
of Y". Text a user typed (a patient's name) is escaped: it appears literally.

Text is real text in an embedded TrueType font (DejaVu Sans, shipped with matplotlib), so
that it can be searched and read back. With ``SOURCE_DATE_EPOCH`` set the document is
built in reportlab's invariant mode: two runs give the same bytes.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import VERIFICATION_TEXT, fmt_mg, fmt_number, frequency_text
from gabacalc.render.display import SEVERITY_COLOURS
from gabacalc.render.pdf_base import (
    BOLD,
    FONT,
    PAGE_SIZES,
    canvas_class,
    keep_units,
    page_size,
    paragraph,
    pdf_escape,
    register_fonts,
)
from gabacalc.render.pdf_chart import chart_drawing
from gabacalc.render.phrases import (
    Identification,
    decision,
    dispensing,
    fmt_date,
    guidance_rows,
    identification_rows,
    prepared_text,
    scheme_rows,
    signature_blocks,
    step_entries,
)
from gabacalc.render.records import dates_text, patient_text, source_ids
from gabacalc.rules import Rules, default_rules
from gabacalc.rules.flags import TARGET_REASON_CODES

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan

__all__ = ["PAGE_SIZES", "page_size", "pdf_bytes"]


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "sign": ParagraphStyle("sign", parent=base, fontSize=9, leading=20),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "head": ParagraphStyle("head", parent=base, fontName=BOLD, fontSize=7.5, leading=9),
        "h1": ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=14, leading=17),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=BOLD,
            fontSize=10.5,
            leading=13,
            spaceBefore=7,
            spaceAfter=3,
            keepWithNext=1,
        ),
        "banner": ParagraphStyle(
            "banner",
            parent=base,
            fontName=BOLD,
            fontSize=11,
            leading=14,
            textColor=colors.white,
            backColor=colors.HexColor("#b00020"),
            borderPadding=5,
            alignment=1,
            spaceAfter=8,
        ),
    }


def _grid(data: list[list[Any]], widths: list[float], header: bool = True) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")))
    table.setStyle(TableStyle(commands))
    return table


def _key_value_table(rows: list[tuple[str, str]], styles: dict[str, Any], width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    data = [
        [paragraph(key, styles["head"]), paragraph(value, styles["cell"])] for key, value in rows
    ]
    table = Table(data, colWidths=[width * 0.2, width * 0.8])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _identification(
    ident: Identification | None, styles: dict[str, Any], width: float
) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    rows = [*identification_rows(ident), ("Prepared", prepared_text())]
    if len(rows) % 2:
        rows.append(("", ""))
    # Two label-value pairs a line: the block stays short, so page 1 keeps the chart.
    data = [
        [
            paragraph(a, styles["head"]),
            paragraph(b, styles["cell"]),
            paragraph(c, styles["head"]),
            paragraph(d, styles["cell"]),
        ]
        for (a, b), (c, d) in zip(rows[0::2], rows[1::2], strict=True)
    ]
    table = Table(data, colWidths=[width * f for f in (0.17, 0.33, 0.17, 0.33)])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return [Paragraph("Identification and verification", styles["h2"]), table]


def _steps_table(entries: list[dict[str, Any]], styles: dict[str, Any], width: float) -> Any:
    heads = ["Step", "Dates", "Total a day", "Take", "Phase"]
    data = [[paragraph(h, styles["head"]) for h in heads]]
    for row in entries:
        daily = "stop" if row["daily_mg"] == 0 else f"{fmt_mg(row['daily_mg'])} a day"
        if row["limited_by"]:
            daily += f"\nlimited by {row['limited_by']}"
        phase = row["phase"] + ("\n(conditional)" if row["conditional"] else "")
        line = [str(row["step"]), row["dates_text"], daily, "\n".join(row["dose_lines"]), phase]
        data.append([paragraph(x, styles["cell"]) for x in line])
    fractions = [0.06, 0.2, 0.13, 0.49, 0.12]
    return _grid(data, [width * f for f in fractions])


def _dispensing_table(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    table = dispensing(plan)
    products = table["products"]
    heads = ["Step", "Dates", *[f"{name} ({table['unit'][name]})" for name in products]]
    data = [[paragraph(h, styles["head"]) for h in heads]]
    for row in table["steps"]:
        cells = [str(row["step"]), row["dates_text"]]
        cells += [fmt_number(row["units"][name], 2) for name in products]
        data.append([paragraph(x, styles["cell"]) for x in cells])
    for total in table["totals"]:
        cells = ["", total["label"], *[fmt_number(total["units"][n], 2) for n in products]]
        data.append([paragraph(x, styles["head"]) for x in cells])
    rest = 0.7 / max(len(products), 1)
    out = [
        Paragraph("Dispensing quantities", styles["h2"]),
        Paragraph(
            pdf_escape(
                "Units of each product for each step (post-dialysis doses counted on the "
                "dialysis days), and the totals to dispense."
            ),
            styles["body"],
        ),
        _grid(data, [width * 0.06, width * 0.24, *[width * rest] * len(products)]),
    ]
    if table["note"]:
        out.append(Paragraph(pdf_escape(table["note"]), styles["body"]))
    return out


def _decision(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    block = decision(plan)
    assert block is not None
    text = (
        f"<b>{pdf_escape(block['heading'])}</b><br/>{pdf_escape(block['rule'])}<br/>"
        f"<b>Continue:</b> {pdf_escape(block['continue'])}<br/>"
        f"<b>Or taper and consider alternatives:</b> {pdf_escape(block['taper'])}"
    )
    table = Table([[Paragraph(text, styles["body"])]], colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f3f3f3")),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return [Spacer_(6), table]


def Spacer_(height: float) -> Any:
    from reportlab.platypus import Spacer

    return Spacer(1, height)


def _guidance(plan: Plan, styles: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph

    rows = guidance_rows(plan, "clinician")
    out = [Paragraph("What to do when, and counselling", styles["h2"])]
    for row in rows:
        out.append(
            Paragraph(
                f"<b>{pdf_escape(row['when'].capitalize())}.</b> "
                f"{pdf_escape(keep_units(row['text']))} "
                f"<font size='6.5'>(source: {pdf_escape(row['source_id'])} "
                f"{pdf_escape(row['source_section'])})</font>",
                styles["body"],
            )
        )
    return out


def _signatures(styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    cells = []
    for title, lines in signature_blocks():
        text = f"<b>{pdf_escape(title)}</b><br/>" + "<br/>".join(
            f"{pdf_escape(line)}: {'_' * 34}" for line in lines
        )
        cells.append(Paragraph(text, styles["sign"]))
    return [
        KeepTogether(
            [
                Paragraph("Prescriber and verification", styles["h2"]),
                _grid([cells], [width / 2, width / 2], header=False),
            ]
        )
    ]


def _flag_rows(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    out = []
    for flag in plan.summary["flags"]:
        text = (
            f"<b>{pdf_escape(flag['severity'].upper())} {pdf_escape(flag['code'])}</b>: "
            f"{pdf_escape(keep_units(flag['message']))}<br/>"
            f"What to do: {pdf_escape(flag['action'])}<br/>"
            f"<font size='6.5'>Source: {pdf_escape(flag['source_id'])} "
            f"{pdf_escape(flag['source_section'])}</font>"
        )
        table = Table([[Paragraph(text, styles["cell"])]], colWidths=[width])
        table.setStyle(
            TableStyle(
                [
                    (
                        "BACKGROUND",
                        (0, 0),
                        (-1, -1),
                        colors.HexColor(SEVERITY_COLOURS[flag["severity"]]),
                    ),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        out.append(table)
    return out


def _inputs_rows(plan: Plan) -> list[tuple[str, str]]:
    s = plan.summary
    band = (
        f"{s['band_words']}: {fmt_number(s['min_daily_mg'])} to {fmt_mg(s['max_daily_mg'])} "
        f"a day, {frequency_text(s['doses_per_day'])} ({s['band_source']}). {s['band_reason']}."
    )
    if s["kind"] == "taper":
        target = f"Taper from {fmt_mg(s['target_daily_mg'])} a day ({s['taper']} preset)"
    else:
        target = f"{fmt_mg(s['target_daily_mg'])} a day: {s['target_regimen']}"
        if s["target_daily_mg"] != s["requested_target_daily_mg"]:
            why = [f["message"] for f in s["flags"] if f["code"] in TARGET_REASON_CODES]
            target += f". Asked for {fmt_mg(s['requested_target_daily_mg'])} a day. " + " ".join(
                why
            )
    rows = [
        ("Patient", patient_text(s)),
        ("Renal estimate", s["crcl_method"]),
        *scheme_rows(plan),
        ("Band", band),
        ("Edge rule", s["band_rule"]),
        *(
            [("Current dose", f"{s['current_regimen']}; {s['day1_change']}")]
            if s["current_daily_mg"] is not None
            else []
        ),
        ("Target" if s["kind"] == "titration" else "Taper", target),
        ("Allowed forms", s["allowed_forms"]),
        ("Key dates", dates_text(s)),
    ]
    if s["dialysis"] == "hemodialysis":
        amount = (
            fmt_mg(s["post_dialysis_mg"])
            if s["post_dialysis_mg"] is not None
            else "A supplement that varies by step (see the steps)"
        )
        rows.append(("Dialysis", f"{amount} after each hemodialysis session"))
    return rows


def _steps(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    """The steps: to the review, the decision and the conditional taper; or the taper."""
    from reportlab.platypus import Paragraph, Spacer

    s = plan.summary
    story: list[Any] = []
    entries = step_entries(plan)
    block = decision(plan)
    if block is not None:
        story.append(Paragraph("Titration and maintenance, to the review", styles["h2"]))
        story.append(_steps_table([e for e in entries if not e["conditional"]], styles, width))
        story += _decision(plan, styles, width)
        story.append(Paragraph(pdf_escape(block["taper_heading"]), styles["h2"]))
        story.append(
            Paragraph(
                pdf_escape(
                    f"{s['taper']} taper: {s['taper_description']}. Steps never go up and "
                    f"none is skipped. {block['taper_note']}"
                ),
                styles["body"],
            )
        )
        story.append(Spacer(1, 3))
        story.append(_steps_table([e for e in entries if e["conditional"]], styles, width))
    else:
        story.append(Paragraph("Taper", styles["h2"]))
        story.append(
            Paragraph(
                pdf_escape(
                    f"{s['taper']} taper: {s['taper_description']}. Steps never go up and none "
                    f"is skipped. No gabapentin from {fmt_date(s['taper_end_date'])}."
                ),
                styles["body"],
            )
        )
        story.append(Spacer(1, 3))
        story.append(_steps_table(entries, styles, width))
    return story


def _sources(plan: Plan, rules: Rules, styles: dict[str, Any]) -> list[Any]:
    """The full citation of every source the plan names."""
    from reportlab.platypus import Paragraph

    story: list[Any] = [Paragraph("Sources", styles["h2"])]
    for source_id in source_ids(plan):
        source = rules.sources.get(source_id)
        if source is None:
            continue
        story.append(
            Paragraph(
                f"<b>{pdf_escape(source_id)}</b>: {pdf_escape(source['citation'])} "
                f"({pdf_escape(source['revision'])};"
                f" {pdf_escape(source['where'])})",
                styles["small"],
            )
        )
    return story


def _story(
    plan: Plan, rules: Rules, width: float, identification: Identification | None
) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer

    styles = _styles()
    s = plan.summary
    story: list[Any] = [
        Paragraph(pdf_escape(VERIFICATION_TEXT), styles["banner"]),
        Paragraph(
            "Gabapentin taper plan" if s["kind"] == "taper" else "Gabapentin titration plan",
            styles["h1"],
        ),
        Paragraph(
            pdf_escape(
                f"{plan.provenance.footer_text()}. Immediate-release gabapentin only. "
                "To check, sign and file."
            ),
            styles["small"],
        ),
    ]
    story += _identification(identification, styles, width)
    story.append(Paragraph("Basis", styles["h2"]))
    story.append(_key_value_table(_inputs_rows(plan), styles, width))
    story.append(Spacer(1, 4))
    # Drawn as vectors (no matplotlib import: most of the command's time). Its size
    # keeps the chart, and the first flags, on page 1.
    story.append(chart_drawing(plan, width, width * 0.42))
    story.append(Paragraph("Flags", styles["h2"]))
    story.extend(_flag_rows(plan, styles, width) or [Paragraph("None.", styles["body"])])
    story += _steps(plan, styles, width)
    story += _dispensing_table(plan, styles, width)
    story += _guidance(plan, styles)
    story += _signatures(styles, width)
    story += _sources(plan, rules, styles)
    story.append(Spacer(1, 8))
    story.append(Paragraph(pdf_escape(VERIFICATION_TEXT), styles["banner"]))
    return story


def pdf_bytes(
    plan: Plan,
    pagesize: str = "letter",
    rules: Rules | None = None,
    identification: Identification | None = None,
) -> bytes:
    """The plan as PDF bytes (invariant when ``SOURCE_DATE_EPOCH`` is set).

    Parameters
    ----------
    plan : Plan
    pagesize : {"letter", "a4"}
    rules : Rules, optional
        For the sources' citations (default the shipped tables).
    identification : Identification, optional
        Patient name, date of birth, number and the dates of the creatinine and weight;
        blank lines to fill by hand where not given.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> pdf_bytes(plan)[:5]
    b'%PDF-'
    """
    from reportlab.platypus import SimpleDocTemplate

    size = page_size(pagesize)
    register_fonts()
    buffer = io.BytesIO()
    invariant = 1 if os.environ.get("SOURCE_DATE_EPOCH") else 0
    doc = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=40,
        title="Gabapentin plan - " + VERIFICATION_TEXT,
        author=f"gabacalc {plan.provenance.gabacalc_version}",
        subject=plan.provenance.page_line(),
        creator=f"gabacalc {plan.provenance.gabacalc_version}",
        invariant=invariant,
    )
    story = _story(plan, rules or plan.rules or default_rules(), doc.width, identification)
    doc.build(story, canvasmaker=canvas_class(plan.provenance, size))
    return buffer.getvalue()
