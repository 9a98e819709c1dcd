"""``gabacalc plan``, ``gabacalc taper`` and ``gabacalc crcl``."""

from __future__ import annotations

from typing import Any

import click

from gabacalc.cli.choices import NUMBER, TAPER, TITRATION
from gabacalc.cli.failures import user_errors
from gabacalc.cli.options import (
    OUTPUT_KINDS,
    TAPER_HELP,
    form_keywords,
    form_options,
    identification_from,
    output_options,
    patient_from,
    patient_options,
)
from gabacalc.cli.output import emit

__all__ = ["crcl", "plan", "taper"]

_EPILOG_PLAN = """\b
Example (a 72-year-old woman, 60 kg, 160 cm, serum creatinine 1.3 mg/dL):
  gabacalc plan --age 72 --sex female --weight-kg 60 --height-cm 160 \\
      --scr 1.3 --start-date 2026-01-05 --csv plan.csv --pdf plan.pdf
\b
Re-plan from today's dose (3,600 mg/day three times daily, down to 900 mg/day by weekly steps):
  gabacalc plan --age 50 --sex male --weight-kg 80 --crcl 90 \
      --current-mg 3600 --current-doses 3 --target-mg 900
\b
Exit codes: 0 done; 2 a mistake in the input (nothing written); 1 another failure.
"""


@click.command(epilog=_EPILOG_PLAN)
@patient_options
@click.option("--start-mg", type=NUMBER, help="First day's dose [mg/day], 100-300.")
@click.option("--target-mg", type=NUMBER, help="Target [mg/day], 300-3,600 (default 1,800).")
@click.option(
    "--titration", type=TITRATION, help="Titration preset: label-phn, weekly (default) or gentle."
)
@click.option("--taper", type=TAPER, help=TAPER_HELP)
@click.option("--review-weeks", type=NUMBER, help="Efficacy review after 4-6 weeks (default 6).")
@click.option(
    "--current-mg",
    type=NUMBER,
    help="Re-plan from the dose the patient takes now [mg/day]; never cut abruptly.",
)
@click.option(
    "--current-doses", type=NUMBER, help="Administrations per day of the current dose, 1-3."
)
@click.option(
    "--max-products",
    type=int,
    help="Keep the plan to at most N products (strength and form), as the band allows.",
)
@form_options
@output_options
def plan(**kw: Any) -> None:
    """Build a titration plan and print it, or write CSV, PDF, PNG, JSON, XLSX, FHIR, ICS."""
    from gabacalc.core.plan import build_plan

    outputs = {k: kw.pop(f"{k}_path") for k in OUTPUT_KINDS}
    pagesize, quiet = kw.pop("pagesize"), kw.pop("quiet")
    with user_errors():
        ident = identification_from(kw)
        patient = patient_from(kw)
        result = build_plan(
            patient,
            weight_basis=kw.pop("weight_basis"),
            start_daily_mg=kw.pop("start_mg"),
            target_daily_mg=kw.pop("target_mg"),
            titration=kw.pop("titration"),
            taper=kw.pop("taper"),
            review_weeks=kw.pop("review_weeks"),
            current_daily_mg=kw.pop("current_mg"),
            current_doses_per_day=kw.pop("current_doses"),
            max_products=kw.pop("max_products"),
            **form_keywords(kw),
        )
        emit(result, outputs, pagesize, quiet, ident)


@click.command(
    epilog="""\b
Example (already on 1,800 mg/day three times daily, CrCl 40 mL/min):
  gabacalc taper --age 60 --sex male --weight-kg 70 --crcl 40 \\
      --current-mg 1800 --current-doses 3 --pdf taper.pdf
"""
)
@patient_options
@click.option("--current-mg", type=NUMBER, required=True, help="Current dose [mg/day].")
@click.option("--current-doses", type=NUMBER, help="Current administrations per day, 1-3.")
@click.option("--taper", type=TAPER, help=TAPER_HELP)
@form_options
@output_options
def taper(**kw: Any) -> None:
    """A taper for a patient already taking gabapentin (never stop abruptly)."""
    from gabacalc.core.plan import build_taper

    outputs = {k: kw.pop(f"{k}_path") for k in OUTPUT_KINDS}
    pagesize, quiet = kw.pop("pagesize"), kw.pop("quiet")
    with user_errors():
        ident = identification_from(kw)
        patient = patient_from(kw)
        result = build_taper(
            patient,
            kw.pop("current_mg"),
            current_doses_per_day=kw.pop("current_doses"),
            taper=kw.pop("taper"),
            weight_basis=kw.pop("weight_basis"),
            **form_keywords(kw),
        )
        emit(result, outputs, pagesize, quiet, ident)


@click.command(
    epilog="""\b
Example:
  gabacalc crcl --age 72 --sex female --weight-kg 60 --height-cm 160 --scr 1.3
"""
)
@patient_options
def crcl(**kw: Any) -> None:
    """The renal estimate (formula with the numbers) and the label's band, only."""
    from gabacalc.core.plan import estimate_flags
    from gabacalc.core.renal import estimate_crcl, select_band
    from gabacalc.render.terminal import estimate_text
    from gabacalc.rules import default_rules

    with user_errors():
        rules = default_rules()
        patient = patient_from(kw)
        basis = kw.pop("weight_basis")
        estimate = estimate_crcl(patient, basis or rules.defaults["weight_basis"], rules)
        band = select_band(estimate, patient.dialysis, rules)
        flags = estimate_flags(patient, basis, rules)
        text = estimate_text(estimate, band, rules.provenance, rules.texts["band_edge_rule"], flags)
        click.echo(text, nl=False)
