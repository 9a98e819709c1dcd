"""``gabacalc demo`` (the built-in example) and ``gabacalc tables`` (the rule tables)."""

from __future__ import annotations

from pathlib import Path

import click

from gabacalc._version import __version__
from gabacalc.cli.failures import user_errors
from gabacalc.cli.output import emit
from gabacalc.core.wording import VERIFICATION_TEXT, printable
from gabacalc.errors import InputError

__all__ = ["demo", "tables"]


@click.command(
    epilog="""\b
Example:
  gabacalc demo --out gabacalc-demo
"""
)
@click.option(
    "--out",
    "folder",
    default="gabacalc-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for plan.csv, plan.pdf, plan.png, plan.json and handout.pdf.",
)
def demo(folder: str) -> None:
    """The built-in example patient: writes CSV, PDF, PNG, JSON and the patient's handout.

    A 72-year-old woman, 60 kg, 160 cm, serum creatinine 1.3 mg/dL; day 1 is 2026-01-05.
    """
    from gabacalc.core.examples import EXAMPLE_START_DATE, example_patient
    from gabacalc.core.plan import build_plan

    with user_errors():
        result = build_plan(example_patient(), start_date=EXAMPLE_START_DATE)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {kind: str(out / f"plan.{kind}") for kind in ("csv", "pdf", "png", "json")}
        paths["handout"] = str(out / "handout.pdf")
        s = result.summary
        click.echo(
            f"Example patient: {s['crcl_method']}; {s['band_words']}; target "
            f"{s['target_daily_mg']:,} mg a day; review {s['review_date']}"
        )
        emit(result, dict(paths), "letter")


@click.command(
    epilog="""\b
Example:
  gabacalc tables
  gabacalc tables --dir my-reviewed-tables
"""
)
@click.option(
    "--dir",
    "tables_dir",
    type=click.Path(file_okay=False),
    help="Check another tables folder (default the shipped tables).",
)
@click.option(
    "--conventions",
    is_flag=True,
    help="Print the clinical basis: the conventions the tables cite by section.",
)
def tables(tables_dir: str | None, conventions: bool) -> None:
    """List the rule tables with their sources, version and checksum, and check them."""
    from gabacalc.rules import clinical_basis_text, default_tables_dir, load_rules

    if conventions:
        with user_errors():
            click.echo(clinical_basis_text(), nl=False)
        click.echo(f"{VERIFICATION_TEXT} | gabacalc {__version__}")
        return

    folder = Path(tables_dir) if tables_dir else default_tables_dir()
    with user_errors():
        if not folder.is_dir():
            raise InputError(f"tables folder {str(folder)!r} does not exist", field="tables_dir")
        rules = load_rules(folder)
    click.echo(printable(f"Rule tables in {folder}"))
    for name in sorted(rules.table_sha256):
        used = sorted(
            {row["source_id"] for row in rules.rows.get(name, ()) if row.get("source_id")}
        )
        click.echo(
            printable(
                f"  {name:<28} version {rules.table_versions[name]}  sha256 "
                f"{rules.table_sha256[name][:16]}  sources: {', '.join(used) or '-'}"
            )
        )
    click.echo("Sources")
    for source_id, source in rules.sources.items():
        click.echo(printable(f"  {source_id}: {source['citation']} ({source['revision']})"))
    click.echo(
        f"All {len(rules.table_sha256)} tables valid: rules {rules.rules_version} "
        f"sha256 {rules.rules_sha256}"
    )
    click.echo(f"{VERIFICATION_TEXT} | gabacalc {__version__}")
