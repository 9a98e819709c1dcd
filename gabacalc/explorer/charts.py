"""The charts the explorer shows: their screen resolution, the pinned chart, shared scales."""

from __future__ import annotations

import dataclasses
from typing import Any

from gabacalc.core.plan import Plan

__all__ = ["SCREEN_DPI", "PinnedChart", "same_scales", "scales"]

#: The chart's resolution on screen (the PNG file keeps its own 150 dpi).
SCREEN_DPI = 80


@dataclasses.dataclass
class PinnedChart:
    """The pinned plan's chart, kept while it stays pinned (only its scales change)."""

    plan: Plan
    figure: Any
    own_scales: tuple[tuple[float, float], tuple[float, float]]
    png_scales: Any = None
    png: bytes = b""


def scales(fig: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """A chart's date and dose limits, as the axes hold them now."""
    ax = fig.axes[0]
    return tuple(ax.get_xlim()), tuple(ax.get_ylim())


def same_scales(
    figures: list[Any], own: list[tuple[tuple[float, float], tuple[float, float]]]
) -> list[Any]:
    """Put the charts of a comparison on one date and one dose scale (the union of their own)."""
    left = min(x[0] for x, _ in own)
    right = max(x[1] for x, _ in own)
    top = max(y[1] for _, y in own)
    for fig in figures:
        fig.axes[0].set_xlim(left, right)
        fig.axes[0].set_ylim(0, top)
    return figures
