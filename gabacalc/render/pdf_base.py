"""What the plan's PDF and the patient's handout share: page sizes, fonts, escaping, pages.

An edge module with no clinical content: the reportlab groundwork of
:mod:`gabacalc.render.pdf` and :mod:`gabacalc.render.handout`. The page canvas puts the
verification text and the stamp in every page's header and footer, with "page X of Y".
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from gabacalc.core.wording import VERIFICATION_TEXT
from gabacalc.errors import InputError
from gabacalc.rules import Provenance

__all__ = [
    "BOLD",
    "FONT",
    "PAGE_SIZES",
    "canvas_class",
    "keep_units",
    "page_size",
    "paragraph",
    "pdf_escape",
    "register_fonts",
]

PAGE_SIZES = ("letter", "a4")


def page_size(pagesize: str) -> tuple[float, float]:
    """The reportlab page size for ``"letter"`` or ``"a4"`` (the PDF and the handout)."""
    from reportlab.lib.pagesizes import A4, letter

    sizes = dict(zip(PAGE_SIZES, (letter, A4), strict=True))
    if pagesize not in sizes:
        raise InputError(
            f"page size {pagesize!r} is not one of: {', '.join(PAGE_SIZES)}", field="pagesize"
        )
    return sizes[pagesize]


FONT = "DejaVuSans"
BOLD = "DejaVuSans-Bold"


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Register DejaVu Sans (regular and bold) with reportlab, once."""
    import importlib.util

    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    # matplotlib ships DejaVu Sans; find it without importing matplotlib (slow to import).
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, BOLD)


def pdf_escape(text: Any) -> str:
    """Text for a reportlab Paragraph: escaped, with :func:`keep_units` applied."""
    from xml.sax.saxutils import escape

    # Escaped, so that typed text (a name with "<b>" or "&") appears literally; and with
    # non-breaking spaces, so that a count never wraps away from its unit.
    return escape(keep_units(str(text)))


def canvas_class(
    provenance: Provenance, pagesize: tuple[float, float], font_size: float = 7
) -> type:
    """A canvas that holds its pages until the end, so each footer can say "of Y"."""
    from reportlab.pdfgen.canvas import Canvas

    stamp = provenance.page_line()
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
                self.setFont(FONT, font_size)
                self.drawString(36, height - 24, VERIFICATION_TEXT)
                self.drawRightString(width - 36, height - 24, f"page {number} of {total}")
                self.line(36, 30, width - 36, 30)
                self.drawString(36, 20, stamp)
                self.drawRightString(width - 36, 20, f"page {number} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


_NBSP = "\u00a0"
_KEEP = re.compile(
    r"(?<=\d) (?=(mg|mL|x|capsules?|tablets?|days?)\b)|(?<=\bx) (?=\d)"
    r"|(?<=\bmg) (?=(capsules?|tablets?|oral)\b)|(?<=\boral) (?=solution\b)"
)


def keep_units(text: str) -> str:
    """Non-breaking spaces inside "1 x 300 mg capsule", so a count never wraps from its product."""
    return _KEEP.sub(_NBSP, text)


def paragraph(text: str, style: Any) -> Any:
    """A reportlab paragraph of plain text: escaped, units kept with their counts, and each
    newline a line break (what the plan PDF and the handout both write)."""
    from reportlab.platypus import Paragraph

    return Paragraph(pdf_escape(keep_units(text)).replace("\n", "<br/>"), style)
