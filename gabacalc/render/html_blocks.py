"""The HTML building blocks of the displays: escaping, tables, collapsible sections.

An edge module with no clinical content: :mod:`gabacalc.render.display` builds the plan,
estimate and comparison fragments from these. Every value is escaped; the markup is plain
HTML with a few inline styles, no script and no style sheet.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CAPTION_STYLE",
    "CELL_STYLE",
    "NOWRAP_STYLE",
    "TABLE_STYLE",
    "Markup",
    "details_html",
    "esc",
    "grid_table",
    "key_table",
    "lines_html",
    "text_html",
]

CELL_STYLE = "border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top"
TABLE_STYLE = "border-collapse:collapse;margin:0.3em 0 0.8em 0"
CAPTION_STYLE = "text-align:left;font-weight:bold;padding:2px 0"
NOWRAP_STYLE = "white-space:nowrap"
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


class Markup(str):
    """HTML already escaped and built here (e.g. a ``<details>``), inserted as it is."""


def esc(value: Any) -> str:
    """Escape one value for HTML text or a quoted attribute.

    Examples
    --------
    >>> esc('<b> & "x"')
    '&lt;b&gt; &amp; &quot;x&quot;'
    """
    return html.escape(str(value), quote=True)


def text_html(value: Any) -> str:
    """Escaped text in which no date can break across lines.

    Examples
    --------
    >>> text_html("review 2026-02-16")
    'review <span style="white-space:nowrap">2026-02-16</span>'
    """
    if isinstance(value, Markup):
        return str(value)
    return _ISO_DATE.sub(lambda m: f'<span style="{NOWRAP_STYLE}">{m.group(0)}</span>', esc(value))


def lines_html(texts: Iterable[str]) -> str:
    """The non-empty texts, each escaped, one to a line."""
    return "<br>".join(text_html(t) for t in texts if t)


def details_html(summary: str, body_html: str) -> Markup:
    """A collapsed section: the summary line shows, the body opens on a click."""
    return Markup(f"<details><summary>{esc(summary)}</summary>{body_html}</details>")


def key_table(caption: str, rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A two-column table: a label, then its lines."""
    body = "".join(
        f'<tr><th style="{CELL_STYLE}">{esc(label)}</th>'
        f'<td style="{CELL_STYLE}">{lines_html(texts)}</td></tr>'
        for label, texts in rows
    )
    return (
        f'<table style="{TABLE_STYLE}"><caption style="{CAPTION_STYLE}">{esc(caption)}</caption>'
        f"<tbody>{body}</tbody></table>"
    )


def grid_table(
    caption: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    nowrap: Sequence[str] = (),
    row_styles: Sequence[str] = (),
) -> str:
    """A table with a header; ``nowrap`` names columns kept on one line."""
    head = "".join(f'<th style="{CELL_STYLE}">{esc(h)}</th>' for h in header)
    styles = [f"{CELL_STYLE};{NOWRAP_STYLE}" if h in nowrap else CELL_STYLE for h in header]
    body = "".join(
        (f'<tr style="{row_styles[i]}">' if i < len(row_styles) else "<tr>")
        + "".join(
            f'<td style="{s}">{text_html(cell)}</td>' for s, cell in zip(styles, row, strict=True)
        )
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return (
        f'<table style="{TABLE_STYLE}"><caption style="{CAPTION_STYLE}">{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
