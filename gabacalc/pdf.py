"""The plan as a PDF to check, sign and file (reportlab; the chart drawn by matplotlib).

An edge module: it lays out what the core decided. Page 1 carries the banner, the inputs,
the renal estimate with its formula, the weight used and why, the band and its edge rule,
the target, the key dates, the chart and then the flags; then the steps table (its header
repeated on every page it runs to), the review, the taper and the sources. Every page has
the verification text in its header and footer, with the gabacalc version, the rules
checksum and "page X of Y".

Text is real text in an embedded TrueType font (DejaVu Sans, shipped with matplotlib), so
that it can be searched and read back. With ``SOURCE_DATE_EPOCH`` set the document is
built in reportlab's invariant mode: two runs give the same bytes.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gabacalc.atomic import atomic_write_bytes
from gabacalc.chart import render_png
from gabacalc.display import SEVERITY_COLOURS
from gabacalc.errors import InputError
from gabacalc.export import dates_text, patient_text, source_ids, step_records
from gabacalc.rules import Rules, default_rules
from gabacalc.wording import VERIFICATION_TEXT, fmt_mg, fmt_number, frequency_text

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.plan import Plan

__all__ = ["PAGE_SIZES", "pdf_bytes", "write_pdf"]

PAGE_SIZES = ("letter", "a4")
_FONT = "DejaVuSans"
_BOLD = "DejaVuSans-Bold"


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(_FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(_BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    addMapping(_FONT, 0, 0, _FONT)
    addMapping(_FONT, 1, 0, _BOLD)
    addMapping(_FONT, 0, 1, _FONT)
    addMapping(_FONT, 1, 1, _BOLD)


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=_FONT, fontSize=8.5, leading=11)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "head": ParagraphStyle("head", parent=base, fontName=_BOLD, fontSize=7.5, leading=9),
        "h1": ParagraphStyle("h1", parent=base, fontName=_BOLD, fontSize=14, leading=17),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=_BOLD,
            fontSize=10.5,
            leading=13,
            spaceBefore=7,
            spaceAfter=3,
        ),
        "banner": ParagraphStyle(
            "banner",
            parent=base,
            fontName=_BOLD,
            fontSize=11,
            leading=14,
            textColor=colors.white,
            backColor=colors.HexColor("#b00020"),
            borderPadding=5,
            alignment=1,
            spaceAfter=8,
        ),
    }


def _esc(text: Any) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text))


def _stamp(summary: dict[str, Any]) -> str:
    return (
        f"{VERIFICATION_TEXT} | gabacalc {summary['gabacalc_version']} | rules "
        f"{summary['rules_version']} sha256 {summary['rules_sha256'][:16]}"
    )


def _canvas_class(summary: dict[str, Any], pagesize: tuple[float, float]) -> type:
    """A canvas that holds its pages until the end, so each footer can say "of Y"."""
    from reportlab.pdfgen.canvas import Canvas

    stamp = _stamp(summary)
    width, height = pagesize

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.setFont(_FONT, 7)
                self.drawString(36, height - 24, VERIFICATION_TEXT)
                self.drawRightString(width - 36, height - 24, f"page {number} of {total}")
                self.line(36, 30, width - 36, 30)
                self.drawString(36, 20, stamp)
                self.drawRightString(width - 36, 20, f"page {number} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _key_value_table(rows: list[tuple[str, str]], styles: dict[str, Any], width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    data = [
        [Paragraph(_esc(key), styles["head"]), Paragraph(_esc(value), styles["cell"])]
        for key, value in rows
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


def _steps_table(plan: Plan, styles: dict[str, Any], width: float) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    heads = ["Step", "Dates", "Daily dose", "Morning", "Midday", "Bedtime", "Phase"]
    post = bool((plan.steps["post_dialysis_mg"] > 0).any())
    if post:
        heads.insert(6, "After dialysis")
    data = [[Paragraph(h, styles["head"]) for h in heads]]

    def cell(text: str) -> Any:
        return Paragraph(_esc(text).replace("\n", "<br/>"), styles["cell"])

    for row in step_records(plan.steps):
        start = row["start_date"]
        end = row["end_date"]
        dates = f"{start} to {end}\n({row['days']} days)" if start != end else f"from {start}"
        if row["daily_mg"] == 0:
            daily = "stop: no gabapentin"
        else:
            daily = f"{fmt_mg(row['daily_mg'])}/day\n{row['frequency']}"
            if row["limited_by"]:
                daily += f"\nlimited by {row['limited_by']}"
        times = []
        for time in ("morning", "midday", "bedtime"):
            mg = row[f"{time}_mg"]
            times.append(f"{fmt_mg(mg)}\n{row[f'{time}_take']}" if mg else "-")
        line = [str(row["step"]), dates, daily, *times, row["phase"]]
        if post:
            line.insert(
                6,
                f"{fmt_mg(row['post_dialysis_mg'])}\n{row['post_dialysis_take']}"
                if row["post_dialysis_mg"]
                else "-",
            )
        data.append([cell(x) for x in line])
    fractions = [0.06, 0.15, 0.13, 0.19, 0.16, 0.19, 0.12]
    if post:
        fractions = [0.06, 0.13, 0.12, 0.15, 0.12, 0.15, 0.15, 0.12]
    table = Table(data, colWidths=[width * f for f in fractions], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _flag_rows(plan: Plan, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    out = []
    for flag in plan.summary["flags"]:
        text = (
            f"<b>{_esc(flag['severity'].upper())} {_esc(flag['code'])}</b>: "
            f"{_esc(flag['message'])}<br/>What to do: {_esc(flag['action'])}<br/>"
            f"<font size='6.5'>Source: {_esc(flag['source_id'])} "
            f"{_esc(flag['source_section'])}</font>"
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


def _story(plan: Plan, rules: Rules, width: float) -> list[Any]:
    from reportlab.platypus import Image, Paragraph, Spacer

    styles = _styles()
    s = plan.summary
    story: list[Any] = [
        Paragraph(_esc(VERIFICATION_TEXT), styles["banner"]),
        Paragraph(
            "Gabapentin taper plan" if s["kind"] == "taper" else "Gabapentin titration plan",
            styles["h1"],
        ),
        Paragraph(
            _esc(
                f"gabacalc {s['gabacalc_version']}; rule tables {s['rules_version']}, "
                f"sha256 {s['rules_sha256']}"
            ),
            styles["small"],
        ),
        Spacer(1, 6),
    ]
    weight = "not used (CrCl given or dialysis)"
    if s["weight_used_kg"] is not None:
        weight = (
            f"{s['weight_used']} body weight {fmt_number(s['weight_used_kg'])} kg: "
            f"{s['weight_reason']}"
        )
    crcl = s["crcl_method"]
    band = (
        f"{s['band']}: {fmt_number(s['min_daily_mg'])}-{fmt_mg(s['max_daily_mg'])}/day, "
        f"{frequency_text(s['doses_per_day'])} ({s['band_source']}). {s['band_reason']}."
    )
    if s["kind"] == "taper":
        target = f"Taper from {fmt_mg(s['target_daily_mg'])}/day ({s['taper']} preset)"
    else:
        target = f"{fmt_mg(s['target_daily_mg'])}/day: {s['target_regimen']}"
        if s["target_daily_mg"] != s["requested_target_daily_mg"]:
            why = [f["message"] for f in s["flags"] if f["code"].startswith("TARGET_")]
            target += f". Asked for {fmt_mg(s['requested_target_daily_mg'])}/day. " + " ".join(why)
    rows = [
        ("Patient", patient_text(s)),
        ("Renal estimate", crcl),
        ("Weight used", weight),
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
    story.append(_key_value_table(rows, styles, width))
    story.append(Spacer(1, 4))
    png = render_png(plan)
    story.append(Image(io.BytesIO(png), width=width, height=width * 5.2 / 9))
    story.append(Paragraph("Flags", styles["h2"]))
    story.extend(_flag_rows(plan, styles, width) or [Paragraph("None.", styles["body"])])
    story.append(Paragraph("Steps", styles["h2"]))
    story.append(_steps_table(plan, styles, width))
    if s["kind"] == "titration":
        story.append(Paragraph(f"Efficacy review on {_esc(s['review_date'])}", styles["h2"]))
        for key in ("review_rule", "review_with_benefit", "review_without_benefit"):
            story.append(Paragraph(_esc(s[key]), styles["body"]))
    story.append(Paragraph("Taper", styles["h2"]))
    taper = rules.taper_presets.get(s["taper"])
    taper_text = f"{s['taper']} preset" + (f": {taper.description}" if taper else "")
    story.append(
        Paragraph(
            _esc(
                f"{taper_text}. From {s['taper_start_date']}; no gabapentin from "
                f"{s['taper_end_date']}. Steps never go up and none is skipped."
            ),
            styles["body"],
        )
    )
    if s["kind"] == "titration":
        story.append(Paragraph(_esc(s["taper_note"]), styles["body"]))
    story.append(Paragraph("Sources", styles["h2"]))
    for source_id in source_ids(plan):
        source = rules.sources.get(source_id)
        if source is None:
            continue
        story.append(
            Paragraph(
                f"<b>{_esc(source_id)}</b>: {_esc(source['citation'])} ({_esc(source['revision'])};"
                f" {_esc(source['where'])})",
                styles["small"],
            )
        )
    story.append(Spacer(1, 8))
    story.append(Paragraph(_esc(VERIFICATION_TEXT), styles["banner"]))
    return story


def pdf_bytes(plan: Plan, pagesize: str = "letter", rules: Rules | None = None) -> bytes:
    """The plan as PDF bytes (invariant when ``SOURCE_DATE_EPOCH`` is set).

    Parameters
    ----------
    plan : Plan
    pagesize : {"letter", "a4"}
    rules : Rules, optional
        For the sources' citations (default the shipped tables).

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> pdf_bytes(plan)[:5]
    b'%PDF-'
    """
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.platypus import SimpleDocTemplate

    sizes = {"letter": letter, "a4": A4}
    if pagesize not in sizes:
        raise InputError(
            f"page size {pagesize!r} is not one of: {', '.join(PAGE_SIZES)}", field="pagesize"
        )
    _register_fonts()
    size = sizes[pagesize]
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
        author=f"gabacalc {plan.summary['gabacalc_version']}",
        subject=_stamp(plan.summary),
        creator=f"gabacalc {plan.summary['gabacalc_version']}",
        invariant=invariant,
    )
    story = _story(plan, rules or default_rules(), doc.width)
    doc.build(story, canvasmaker=_canvas_class(plan.summary, size))
    return buffer.getvalue()


def write_pdf(
    plan: Plan, path: str | Path, pagesize: str = "letter", rules: Rules | None = None
) -> Path:
    """Write the plan as a PDF to ``path``, whole or not at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> write_pdf(plan, pathlib.Path(tempfile.mkdtemp()) / "plan.pdf").stat().st_size > 10_000
    True
    """
    return atomic_write_bytes(path, pdf_bytes(plan, pagesize, rules))
