"""The plan's chart as a reportlab drawing, for the PDF (vector, no matplotlib import).

An edge module: it draws what the plan decided, with the same words as the matplotlib
chart (``gabacalc.render.chart.chart_title`` and ``chart_labels``): the total daily dose as steps
(the conditional taper dashed), the renal band maximum as a dotted ceiling, the phases
shaded, the review date marked, a dialysis day drawn at its total, and the verification
stamp. Drawing it here rather than embedding a matplotlib picture keeps ``plan --pdf``
from paying for matplotlib's import (most of the command's time), and the text stays
text: it can be searched and read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from gabacalc.core.wording import fmt_number
from gabacalc.render.chart import chart_labels, chart_title

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan

__all__ = ["chart_drawing"]

_PHASES = {
    "titration": "#dbe9f6",
    "reduction": "#efe3f4",
    "maintenance": "#e3f1df",
    "taper": "#f6e6d6",
}
_FONT = "DejaVuSans"


def _nice_step(top: float) -> float:
    """A round y-axis step giving about five ticks."""
    for step in (25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 6:
            return step
    return 1000


def chart_drawing(plan: Plan, width: float, height: float) -> Any:
    """A reportlab ``Drawing`` of the plan, ``width`` by ``height`` points.

    Examples
    --------
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> drawing = chart_drawing(plan, 400, 250)
    >>> (drawing.width, drawing.height)
    (400, 250)
    """
    from reportlab.graphics.shapes import Drawing, String

    s = plan.summary
    schedule = plan.schedule
    start = schedule["date"].iloc[0].date()
    daily = schedule["daily_mg"].tolist()
    post = schedule["post_dialysis_mg"].tolist()
    phases = schedule["phase"].tolist()
    ceiling = schedule["max_daily_mg"].tolist()
    current = s.get("current_daily_mg")
    top = max(max(ceiling), max(d + p for d, p in zip(daily, post, strict=True)), current or 0)
    # A re-plan or taper shows the current dose for a week before day 1.
    frame = _Frame(
        left=44.0,
        bottom=74.0,
        plot_w=width - 44.0 - 8.0,
        plot_top=height - 18.0,
        days=len(schedule),
        before_days=7 if current is not None else 0,
        top=top * 1.15 + 1,
    )
    review = None
    if s["kind"] == "titration" and s["review_date"]:
        review = (date.fromisoformat(s["review_date"]) - start).days

    drawing = Drawing(width, height)
    _draw_frame(drawing, frame, phases)
    _draw_axes(drawing, frame, start)
    _draw_lines(drawing, frame, daily, post, phases, ceiling, current, review)
    drawing.add(
        String(frame.left + frame.plot_w / 2, height - 11, chart_title(s), fontName=_FONT,
               fontSize=8.5, textAnchor="middle")
    )  # fmt: skip
    drawing.add(
        String(frame.left + 4, frame.plot_top - 9, plan.provenance.one_line(sha_chars=12),
               fontName=_FONT, fontSize=5.5)
    )  # fmt: skip
    keys = [("dose", "#1f4e79", None), ("taper", "#a35200", [4, 2.5])]
    if current is not None:
        keys.append(("current", "#1f4e79", [1, 1.5]))
    keys.append(("band-max", "#b00020", [1, 2]))
    if any(post):
        keys.append(("post-dialysis", "#5b2a86", None))
    if review is not None:
        keys.append(("review", "#000000", [5, 2, 1, 2]))
    _draw_legend(drawing, frame, keys, chart_labels(s))
    return drawing


@dataclass(frozen=True)
class _Frame:
    """Where the plot sits in the drawing, and the days and mg it spans."""

    left: float
    bottom: float
    plot_w: float
    plot_top: float
    days: int
    before_days: int
    top: float

    @property
    def plot_h(self) -> float:
        return self.plot_top - self.bottom

    def x(self, day: float) -> float:
        return self.left + self.plot_w * (day + self.before_days) / (self.days + self.before_days)

    def y(self, mg: float) -> float:
        return self.bottom + self.plot_h * mg / self.top


def _draw_frame(drawing: Any, f: _Frame, phases: list[str]) -> None:
    """The phases shaded, the plot's border, and the week before day 1 named."""
    from reportlab.graphics.shapes import Rect, String
    from reportlab.lib import colors

    x, bottom, plot_h = f.x, f.bottom, f.plot_h
    for phase, colour in _PHASES.items():
        index = [i for i, p in enumerate(phases) if p == phase]
        if index:
            drawing.add(
                Rect(
                    x(index[0]),
                    bottom,
                    x(index[-1] + 1) - x(index[0]),
                    plot_h,
                    fillColor=colors.HexColor(colour),
                    strokeColor=None,
                )
            )
    drawing.add(Rect(f.left, bottom, f.plot_w, plot_h, fillColor=None, strokeColor=colors.black))
    if f.before_days:
        drawing.add(
            String(x(-f.before_days / 2), bottom + 3, "before day 1", fontName=_FONT,
                   fontSize=5.5, textAnchor="middle")
        )  # fmt: skip


def _draw_axes(drawing: Any, f: _Frame, start: date) -> None:
    """The mg ticks and label, then a date tick every week (or two or four), years under."""
    from reportlab.graphics.shapes import Group, Line, String
    from reportlab.lib import colors

    x, y, left, bottom = f.x, f.y, f.left, f.bottom
    step = _nice_step(f.top)
    mg = 0.0
    while mg <= f.top:
        drawing.add(Line(left - 3, y(mg), left, y(mg), strokeColor=colors.black))
        drawing.add(
            String(left - 5, y(mg) - 2.5, fmt_number(mg, 0), fontName=_FONT, fontSize=6.5,
                   textAnchor="end")
        )  # fmt: skip
        mg += step
    label = String(0, 0, "Total daily dose (mg/day)", fontName=_FONT, fontSize=7)
    turned = Group(label)
    turned.rotate(90)
    turned.translate(bottom + f.plot_h / 2 - 50, -12)
    drawing.add(turned)

    days = f.days
    every = 7 if days <= 100 else 14 if days <= 200 else 28
    first = True
    for i in range(-f.before_days, days + 1, every):
        when = start + timedelta(days=i)
        drawing.add(Line(x(i), bottom, x(i), bottom - 3, strokeColor=colors.black))
        text = f"{when.day} {when:%b}"
        drawing.add(
            String(x(i), bottom - 11, text, fontName=_FONT, fontSize=6.5, textAnchor="middle")
        )
        if first or (when.month == 1 and when.day <= every):
            drawing.add(
                String(x(i), bottom - 19, f"{when:%Y}", fontName=_FONT, fontSize=6.5,
                       textAnchor="middle")
            )  # fmt: skip
        first = False


def _draw_lines(
    drawing: Any,
    f: _Frame,
    daily: list[int],
    post: list[int],
    phases: list[str],
    ceiling: list[int],
    current: int | None,
    review: int | None,
) -> None:
    """The ceiling, the doses (the taper dashed), dialysis supplements, the dose before day 1
    and the review day."""
    from reportlab.graphics.shapes import Line, PolyLine
    from reportlab.lib import colors

    x, y = f.x, f.y

    def steps(indexes: list[int], join_from: float | None = None) -> list[float]:
        points: list[float] = []
        if join_from is not None:
            points += [x(indexes[0]), y(join_from)]
        for i in indexes:
            points += [x(i), y(daily[i]), x(i + 1), y(daily[i])]
        return points

    before = [i for i, p in enumerate(phases) if p != "taper"]
    taper = [i for i, p in enumerate(phases) if p == "taper"]
    ceiling_points: list[float] = []
    for i, value in enumerate(ceiling):
        ceiling_points += [x(i), y(value), x(i + 1), y(value)]
    drawing.add(
        PolyLine(ceiling_points, strokeColor=colors.HexColor("#b00020"), strokeWidth=0.9,
                 strokeDashArray=[1, 2])
    )  # fmt: skip
    if before:
        drawing.add(
            PolyLine(steps(before), strokeColor=colors.HexColor("#1f4e79"), strokeWidth=1.8)
        )
    if taper:
        joined = daily[before[-1]] if before else None
        drawing.add(
            PolyLine(steps(taper, joined), strokeColor=colors.HexColor("#a35200"),
                     strokeWidth=1.6, strokeDashArray=[4, 2.5])
        )  # fmt: skip
    for i, extra in enumerate(post):
        if extra:
            drawing.add(
                Line(x(i + 0.5), y(daily[i]), x(i + 0.5), y(daily[i] + extra),
                     strokeColor=colors.HexColor("#5b2a86"), strokeWidth=1.2)
            )  # fmt: skip
            drawing.add(
                Line(x(i + 0.2), y(daily[i] + extra), x(i + 0.8), y(daily[i] + extra),
                     strokeColor=colors.HexColor("#5b2a86"), strokeWidth=1.2)
            )  # fmt: skip
    if current is not None:
        drawing.add(
            PolyLine([x(-f.before_days), y(current), x(0), y(current), x(0), y(daily[0])],
                     strokeColor=colors.HexColor("#1f4e79"), strokeWidth=1.6,
                     strokeDashArray=[1, 1.5])
        )  # fmt: skip
    if review is not None:
        drawing.add(
            Line(x(review), f.bottom, x(review), f.plot_top, strokeColor=colors.black,
                 strokeWidth=0.9, strokeDashArray=[5, 2, 1, 2])
        )  # fmt: skip


def _draw_legend(
    drawing: Any, f: _Frame, keys: list[tuple[str, str, list[float] | None]], labels: dict[str, str]
) -> None:
    """One key per line drawn, two to a row where the words fit."""
    from reportlab.graphics.shapes import Line, String
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    column_w = f.plot_w / 2
    widest = max(stringWidth(labels[key], _FONT, 6.5) for key, _, _ in keys)
    per_row = 2 if widest + 24 < column_w else 1
    for n, (key, colour, dash) in enumerate(keys):
        kx = f.left + (n % per_row) * column_w
        ky = f.bottom - 32 - (n // per_row) * 8.5
        drawing.add(
            Line(kx, ky + 2.5, kx + 16, ky + 2.5, strokeColor=colors.HexColor(colour),
                 strokeWidth=1.4, strokeDashArray=dash)
        )  # fmt: skip
        drawing.add(String(kx + 20, ky, labels[key], fontName=_FONT, fontSize=6.5))
