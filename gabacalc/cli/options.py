"""The options plan and taper share (patient, forms, outputs) and what they become.

Every option is a keyword of a public function: :func:`patient_from` makes the
:class:`~gabacalc.Patient`, :func:`form_keywords` the form keywords of ``build_plan`` and
``build_taper``, :func:`identification_from` the documents' identification.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from gabacalc.cli.choices import (
    DATE,
    DIALYSIS,
    NUMBER,
    PAGESIZE,
    PAIN_TYPE,
    RISK,
    SCR_UNIT,
    SEX,
    WEIGHT_BASIS,
)

__all__ = [
    "OUTPUT_KINDS",
    "TAPER_HELP",
    "TO_STDOUT",
    "form_keywords",
    "form_options",
    "identification_from",
    "output_options",
    "parse_strengths",
    "patient_from",
    "patient_options",
    "quiet_option",
]


def parse_strengths(text: str | None) -> list[int] | None:
    """``--strengths`` as a list of mg (the cohort's parser, naming the option)."""
    from gabacalc.core.cohort_parse import parse_strengths as parse

    return parse(text, "--strengths", "100,300,400")


def patient_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--age", type=NUMBER, required=True, help="Age [years], 18-110."),
        click.option(
            "--sex", type=SEX, required=True, help="female or male (f, m) for Cockcroft-Gault."
        ),
        click.option("--weight-kg", type=NUMBER, required=True, help="Actual weight [kg]."),
        click.option("--height-cm", type=NUMBER, help="Height [cm]; for ideal/adjusted weight."),
        click.option("--scr", type=NUMBER, help="Serum creatinine, in --scr-unit."),
        click.option(
            "--scr-unit",
            type=SCR_UNIT,
            default="mg/dL",
            show_default=True,
            help="mg/dL or umol/L (umol).",
        ),
        click.option("--crcl", type=NUMBER, help="A measured or known CrCl [mL/min], not SCr."),
        click.option(
            "--dialysis",
            type=DIALYSIS,
            default="none",
            show_default=True,
            help="none, hemodialysis (HD) or peritoneal (PD).",
        ),
        click.option(
            "--risk",
            "risks",
            type=RISK,
            multiple=True,
            help="Safety context, repeatable: opioids, cns-depressants, respiratory, falls, "
            "pregnancy, misuse, epilepsy, unstable-renal.",
        ),
        click.option(
            "--pain-type",
            type=PAIN_TYPE,
            default="other",
            show_default=True,
            help="radicular, non-radicular, phn, diabetic-neuropathy or other.",
        ),
        click.option(
            "--weight-basis",
            type=WEIGHT_BASIS,
            help="auto (default), actual, ideal or adjusted weight for Cockcroft-Gault.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def form_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--start-date",
            type=DATE,
            help="Day 1, YYYY-MM-DD (default today).",
        ),
        click.option("--strengths", help="Solid strengths allowed [mg], e.g. 100,300,400."),
        click.option(
            "--oral-solution",
            is_flag=True,
            help="Allow the 250 mg/5 mL oral solution (measured in 0.5 mL steps).",
        ),
        click.option("--dialysis-days", help="Hemodialysis days, e.g. mon,wed,fri (default)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors (the files carry everything)."
)
#: What plan and taper can write, in the order they are made.
TAPER_HELP = "Taper preset: weekly (default) or gradual; the plan states its steps and source."
OUTPUT_KINDS = ("csv", "pdf", "png", "json", "xlsx", "fhir", "ics", "handout")
TO_STDOUT = ("csv", "json", "fhir")


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        quiet_option,
        click.option("--csv", "csv_path", help="Write the day-by-day schedule (- for stdout)."),
        click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Write a PDF."),
        click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Write the chart."),
        click.option("--json", "json_path", help="Write the summary and steps (- for stdout)."),
        click.option(
            "--xlsx",
            "xlsx_path",
            type=click.Path(dir_okay=False),
            help="Write a workbook: the plan sheet, then the schedule and steps as typed tables.",
        ),
        click.option(
            "--fhir",
            "fhir_path",
            help="Write an HL7 FHIR R4 Bundle of draft proposals as JSON (- for stdout).",
        ),
        click.option(
            "--ics",
            "ics_path",
            type=click.Path(dir_okay=False),
            help="Write the regimen changes and the review as calendar events.",
        ),
        click.option(
            "--handout",
            "handout_path",
            type=click.Path(dir_okay=False),
            help="Write the patient's plain-language schedule (PDF, large type, tick boxes).",
        ),
        click.option("--patient-name", help="For the documents only; never needed to plan."),
        click.option(
            "--patient-dob",
            type=DATE,
            help="Date of birth, YYYY-MM-DD (documents only).",
        ),
        click.option("--patient-id", help="Hospital or MRN number (documents only)."),
        click.option(
            "--scr-date",
            type=DATE,
            help="Date of the creatinine or CrCl, YYYY-MM-DD (printed; blank line if not given).",
        ),
        click.option(
            "--weight-date",
            type=DATE,
            help="Date of the weight, YYYY-MM-DD (printed; blank line if not given).",
        ),
        click.option(
            "--pagesize",
            type=PAGESIZE,
            default="letter",
            show_default=True,
            help="PDF page size: letter or a4.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def patient_from(kw: dict[str, Any]) -> Any:
    from gabacalc.core.patient import Patient

    return Patient(
        age_years=kw.pop("age"),
        sex=kw.pop("sex"),
        weight_kg=kw.pop("weight_kg"),
        height_cm=kw.pop("height_cm"),
        scr=kw.pop("scr"),
        scr_unit=kw.pop("scr_unit"),
        crcl_ml_min=kw.pop("crcl"),
        dialysis=kw.pop("dialysis"),
        risks=kw.pop("risks"),
        pain_type=kw.pop("pain_type"),
    )


def form_keywords(kw: dict[str, Any]) -> dict[str, Any]:
    when = kw.pop("start_date")
    return {
        "start_date": when.date() if isinstance(when, datetime) else when,
        "strengths_mg": parse_strengths(kw.pop("strengths")),
        "oral_solution": kw.pop("oral_solution"),
        "dialysis_days": kw.pop("dialysis_days"),
    }


def identification_from(kw: dict[str, Any]) -> Any:
    """The document-only details (never part of the plan, never in a file name)."""
    from gabacalc.render.phrases import Identification

    def day(value: datetime | None) -> Any:
        return value.date() if isinstance(value, datetime) else value

    return Identification(
        patient_name=kw.pop("patient_name"),
        patient_dob=day(kw.pop("patient_dob")),
        patient_id=kw.pop("patient_id"),
        scr_date=day(kw.pop("scr_date")),
        weight_date=day(kw.pop("weight_date")),
    )
