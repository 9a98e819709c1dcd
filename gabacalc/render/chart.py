"""Draw a plan: total daily dose against date, with the renal ceiling, phases and review.

An edge module: it draws what the core decided and decides nothing. ``plot_plan`` draws on
the Axes it is given (or a new one) and never saves or shows a figure by itself;
``render_png`` draws on a figure of its own (no pyplot state) for the CLI and the PDF.

Every artist a test or a reader may want carries a ``gid``: ``"dose"`` (titration and
maintenance), ``"taper"`` (conditional, dashed), ``"band-max"``, ``"review"``,
``"post-dialysis"``, ``"phase-<name>"`` and ``"verification"``.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gabacalc.core.wording import fmt_mg, fmt_number

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gabacalc.core.plan import Plan
    from gabacalc.core.summary import Summary

__all__ = ["figure_for", "figure_png", "plot_plan", "render_png"]

_PHASE_COLOURS = {
    "titration": "#dbe9f6",
    "reduction": "#efe3f4",
    "maintenance": "#e3f1df",
    "taper": "#f6e6d6",
}
_DOSE_COLOUR = "#1f4e79"
_TAPER_COLOUR = "#a35200"
_CEILING_COLOUR = "#b00020"


def chart_labels(summary: Summary) -> dict[str, str]:
    """The legend's words, shared by the matplotlib chart and the PDF's drawing.

    Examples
    --------
    >>> chart_labels({"kind": "taper", "max_daily_mg": 3600, "review_date": None,
    ...               "band_words": "CrCl of 60 mL/min or more"})["taper"]
    'taper'
    """
    s = summary
    return {
        "dose": "daily dose",
        "taper": "taper (only if no clear benefit)" if s["kind"] == "titration" else "taper",
        "band-max": f"band maximum {fmt_mg(s['max_daily_mg'])} a day ({s['band_words']})",
        "post-dialysis": "dialysis day total (daily dose and the post-dialysis dose)",
        "review": f"efficacy review {_day_text(s['review_date'])}",
        "current": f"current dose {fmt_mg(s.get('current_daily_mg') or 0)}/day (before day 1)",
    }


def chart_title(summary: Summary) -> str:
    """The chart's title: what the plan does (a climb, a re-plan from the current dose, or a
    taper to a stop), in words.

    Examples
    --------
    >>> chart_title({"kind": "taper", "target_daily_mg": 3600, "taper_end_date": "2026-05-04",
    ...              "current_daily_mg": 3600, "band_words": "CrCl of 60 mL/min or more"})
    'Taper from 3,600 mg/day to stop by Mon 4 May 2026 (CrCl of 60 mL/min or more)'
    """
    s = summary
    current = s.get("current_daily_mg")
    if s["kind"] == "taper":
        return (
            f"Taper from {fmt_mg(current if current is not None else s['target_daily_mg'])}"
            f"/day to stop by {_day_text(s['taper_end_date'])} ({s['band_words']})"
        )
    if current is not None:
        course = (
            f"re-plan from the current {fmt_mg(current)}/day to {fmt_mg(s['target_daily_mg'])}/day"
        )
    else:
        course = f"{fmt_mg(s['start_daily_mg'])}/day up to {fmt_mg(s['target_daily_mg'])}/day"
    return f"{s['band_words']}: {course}, review {_day_text(s['review_date'])}"


def _day_text(iso: str | None) -> str:
    from gabacalc.render.phrases import fmt_date

    return fmt_date(iso)


def _tick_text(when: Any, position: int | None) -> str:
    """ "5 Jan", with the year under the first tick and under January's."""
    year = position == 0 or (when.month == 1 and when.day <= 7)
    return f"{when.day} {when:%b}" + (f"\n{when:%Y}" if year else "")


def _step_xy(dates: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Points for a post-step line that covers each day whole (one extra point at the end)."""
    x = np.append(dates.to_numpy(), dates.iloc[-1] + timedelta(days=1))
    y = np.append(values.to_numpy(dtype=float), float(values.iloc[-1]))
    return x, y


def plot_plan(plan: Plan, ax: Axes | None = None, legend: bool = True) -> Axes:
    """Draw ``plan`` on ``ax`` (or on a new pyplot Axes) and return the Axes.

    Total daily dose as steps (the taper dashed, because it applies only without clear
    benefit at the review), the renal band maximum as a ceiling, phases shaded, the review
    date marked, post-dialysis doses as markers, and the verification text.

    Parameters
    ----------
    plan : Plan
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new Axes from ``matplotlib.pyplot.subplots``.
    legend : bool
        Draw the legend below the Axes (default True; a grid of small charts may omit it).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from datetime import date
    >>> from matplotlib.figure import Figure
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> ax = plot_plan(plan, Figure().subplots())
    >>> [line.get_gid() for line in ax.get_lines()][:3]
    ['dose', 'taper', 'band-max']
    """
    from matplotlib import dates as mdates

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 5.2), layout="constrained")
    s = plan.summary
    labels = chart_labels(s)
    schedule = plan.schedule
    _draw_phases(ax, schedule)
    _draw_doses(ax, schedule, labels)
    if s["current_daily_mg"] is not None:
        _draw_current(ax, schedule, s["current_daily_mg"], labels["current"])
    _draw_ceiling_and_dialysis(ax, schedule, labels)
    if s["kind"] == "titration" and s["review_date"]:
        ax.axvline(
            mdates.date2num(pd.Timestamp(s["review_date"])),
            color="black",
            lw=1.2,
            ls="-.",
            gid="review",
            label=labels["review"],
        )
    _format_axes(ax, schedule, s["current_daily_mg"])
    ax.set_title(chart_title(s), fontsize=10)
    ax.text(
        0.01,
        0.98,
        plan.provenance.one_line(sha_chars=12),
        transform=ax.transAxes,
        fontsize=6.5,
        va="top",
        ha="left",
        gid="verification",
        bbox={"facecolor": "white", "edgecolor": "#999999", "alpha": 0.9, "pad": 2},
    )
    if legend:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=7, frameon=False
        )
    return ax


def _draw_phases(ax: Axes, schedule: pd.DataFrame) -> None:
    """Each phase's days shaded in its colour."""
    dates = schedule["date"]
    for phase, colour in _PHASE_COLOURS.items():
        days = dates[schedule["phase"] == phase]
        if len(days):
            ax.axvspan(
                days.iloc[0],
                days.iloc[-1] + timedelta(days=1),
                color=colour,
                alpha=0.6,
                lw=0,
                gid=f"phase-{phase}",
                label=f"{phase} phase",
                zorder=0,
            )


def _draw_doses(ax: Axes, schedule: pd.DataFrame, labels: dict[str, str]) -> None:
    """The daily dose as steps, the taper dashed and joined to the last held dose."""
    dates = schedule["date"]
    is_taper = (schedule["phase"] == "taper").to_numpy()
    before = ~is_taper
    if before.any():
        x, y = _step_xy(dates[before], schedule["daily_mg"][before])
        ax.step(x, y, where="post", color=_DOSE_COLOUR, lw=2.2, gid="dose", label=labels["dose"])
    else:
        ax.plot([], [], gid="dose")
    if is_taper.any():
        x, y = _step_xy(dates[is_taper], schedule["daily_mg"][is_taper])
        if before.any():
            # Join the taper to the last held dose so the line reads as one course.
            x = np.insert(x, 0, dates[is_taper].iloc[0])
            y = np.insert(y, 0, float(schedule["daily_mg"][before].iloc[-1]))
        label = labels["taper"]
        ax.step(x, y, where="post", color=_TAPER_COLOUR, lw=2, ls="--", gid="taper", label=label)
    else:
        ax.plot([], [], gid="taper")


def _draw_current(ax: Axes, schedule: pd.DataFrame, current_daily_mg: int, label: str) -> None:
    """The dose before day 1, so that the first change is visible (a re-plan or taper)."""
    dates = schedule["date"]
    day0 = dates.iloc[0] - timedelta(days=7)
    ax.step(
        [day0, dates.iloc[0]],
        [current_daily_mg, current_daily_mg],
        where="post",
        color=_DOSE_COLOUR,
        lw=2.2,
        ls=":",
        gid="current",
        label=label,
    )
    ax.plot(
        [dates.iloc[0]] * 2,
        [current_daily_mg, schedule["daily_mg"].iloc[0]],
        color=_DOSE_COLOUR,
        lw=1,
        ls=":",
    )


def _draw_ceiling_and_dialysis(ax: Axes, schedule: pd.DataFrame, labels: dict[str, str]) -> None:
    """The renal band maximum as a ceiling; each dialysis day's supplement on its dose."""
    dates = schedule["date"]
    x, y = _step_xy(dates, schedule["max_daily_mg"])
    ax.step(
        x,
        y,
        where="post",
        color=_CEILING_COLOUR,
        lw=1.2,
        ls=":",
        gid="band-max",
        label=labels["band-max"],
    )

    post = schedule["post_dialysis_mg"] > 0
    if post.any():
        # A dialysis day's total is the daily dose plus the supplement: drawn as a bar on
        # top of the day's dose, so the total is read off the axis like every other dose.
        days = dates[post] + timedelta(hours=12)
        daily = schedule["daily_mg"][post].to_numpy(dtype=float)
        extra = schedule["post_dialysis_mg"][post].to_numpy(dtype=float)
        ax.vlines(days, daily, daily + extra, color="#5b2a86", lw=1.6, gid="post-dialysis-bar")
        ax.plot(
            days,
            daily + extra,
            ls="none",
            marker="_",
            markersize=7,
            mew=1.6,
            color="#5b2a86",
            gid="post-dialysis",
            label=labels["post-dialysis"],
        )


def _format_axes(ax: Axes, schedule: pd.DataFrame, current_daily_mg: int | None) -> None:
    """Axis labels, ticks that name day and month, and limits that hold every line."""
    from matplotlib import dates as mdates
    from matplotlib import ticker

    dates = schedule["date"]
    ax.set_xlabel("Date")
    ax.set_ylabel("Total daily dose (mg/day)")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: fmt_number(v, 0)))
    locator = mdates.AutoDateLocator(maxticks=9)
    ax.xaxis.set_major_locator(locator)
    # Every tick names its day and month in full ("5 Jan"): no offset text in a corner
    # that could be read as a date of the plan.
    ax.xaxis.set_major_formatter(
        ticker.FuncFormatter(lambda v, pos: _tick_text(mdates.num2date(v).date(), pos))
    )
    ax.yaxis.get_offset_text().set_visible(False)
    top = max(
        float(schedule["max_daily_mg"].max()),
        float((schedule["daily_mg"] + schedule["post_dialysis_mg"]).max()),
        float(current_daily_mg or 0),
    )
    ax.set_ylim(0, top * 1.3 + 1)
    first = dates.iloc[0] - timedelta(days=7 if current_daily_mg is not None else 0)
    ax.set_xlim(first, dates.iloc[-1] + timedelta(days=1))


def figure_for(plan: Plan, width_in: float = 9.0, height_in: float = 5.2) -> Figure:
    """A stand-alone Figure (no pyplot) with the plan drawn and the full stamp at the foot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100)
    ax = fig.subplots()
    plot_plan(plan, ax)
    fig.text(0.5, 0.01, plan.provenance.one_line(), ha="center", va="bottom", fontsize=6)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.3)
    return fig


def figure_png(fig: Figure, dpi: int = 150) -> bytes:
    """A Figure as PNG bytes, with no time or software stamp (same figure, same bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def render_png(plan: Plan, dpi: int = 150) -> bytes:
    """The chart as PNG bytes; the same plan always gives the same bytes.

    Examples
    --------
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> render_png(plan)[:4]
    b'\\x89PNG'
    """
    return figure_png(figure_for(plan), dpi)
