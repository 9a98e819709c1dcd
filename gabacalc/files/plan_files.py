"""The plan's own files, each written whole or not at all (see :mod:`gabacalc.files.atomic`).

The renderers make the text and bytes; these functions write them. FHIR, calendar and
workbook files have their own modules here (:mod:`gabacalc.files.fhir`,
:mod:`gabacalc.files.ics`, :mod:`gabacalc.files.workbook`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gabacalc.files.atomic import atomic_write_bytes, atomic_write_text
from gabacalc.render.chart import render_png
from gabacalc.render.handout import handout_bytes
from gabacalc.render.pdf import pdf_bytes
from gabacalc.render.records import csv_text, json_text

if TYPE_CHECKING:  # pragma: no cover
    from gabacalc.core.plan import Plan
    from gabacalc.render.phrases import Identification
    from gabacalc.rules import Rules

__all__ = ["write_csv", "write_handout", "write_json", "write_pdf", "write_png"]


def write_csv(plan: Plan, path: str | Path) -> Path:
    """Write the schedule CSV to ``path``, whole or not at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> path = write_csv(plan, pathlib.Path(tempfile.mkdtemp()) / "plan.csv")
    >>> path.read_text().splitlines()[0].split(",")[:3]
    ['date', 'day', 'phase']
    """
    return atomic_write_text(path, csv_text(plan))


def write_json(plan: Plan, path: str | Path, identification: Identification | None = None) -> Path:
    """Write the summary and steps as JSON to ``path``, whole or not at all.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from datetime import date
    >>> from gabacalc import Patient, build_plan
    >>> plan = build_plan(Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
    ...                   start_date=date(2026, 1, 5))
    >>> path = write_json(plan, pathlib.Path(tempfile.mkdtemp()) / "plan.json")
    >>> json.loads(path.read_text())["summary"]["band"]
    'CrCl of 60 mL/min or more'
    """
    return atomic_write_text(path, json_text(plan, identification))


def write_pdf(
    plan: Plan,
    path: str | Path,
    pagesize: str = "letter",
    rules: Rules | None = None,
    identification: Identification | None = None,
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
    return atomic_write_bytes(path, pdf_bytes(plan, pagesize, rules, identification))


def write_handout(
    plan: Plan,
    path: str | Path,
    identification: Identification | None = None,
    pagesize: str = "letter",
) -> Path:
    """Write the patient's schedule to ``path``, whole or not at all."""
    return atomic_write_bytes(path, handout_bytes(plan, identification, pagesize))


def write_png(plan: Plan, path: str | Path, dpi: int = 150) -> Path:
    """Write the chart as a PNG to ``path``, whole or not at all."""
    return atomic_write_bytes(path, render_png(plan, dpi))
