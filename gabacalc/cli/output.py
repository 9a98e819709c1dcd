"""What plan and taper write: every output rendered first, then all files renamed together."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from gabacalc.cli.options import TO_STDOUT
from gabacalc.core.wording import printable
from gabacalc.errors import InputError
from gabacalc.files.atomic import write_files

__all__ = ["emit", "render_output"]


def render_output(plan: Any, kind: str, pagesize: str, ident: Any = None) -> bytes:
    if kind == "csv":
        from gabacalc.render.records import csv_text

        return csv_text(plan).encode("utf-8")
    if kind == "json":
        from gabacalc.render.records import json_text

        return json_text(plan, ident).encode("utf-8")
    if kind == "png":
        from gabacalc.render.chart import render_png

        return render_png(plan)
    if kind == "xlsx":
        from gabacalc.files.workbook import plan_workbook

        return plan_workbook(plan)
    if kind == "fhir":
        from gabacalc.files.fhir import bundle_json

        return bundle_json(plan).encode("utf-8")
    if kind == "ics":
        from gabacalc.files.ics import plan_calendar

        return plan_calendar(plan)
    if kind == "handout":
        from gabacalc.render.handout import handout_bytes

        return handout_bytes(plan, ident, pagesize)
    from gabacalc.render.pdf import pdf_bytes

    return pdf_bytes(plan, pagesize, identification=ident)


def emit(
    plan: Any,
    outputs: dict[str, str | None],
    pagesize: str,
    quiet: bool = False,
    ident: Any = None,
) -> None:
    """Write the outputs asked for, or print the plan when none was."""
    asked = {kind: path for kind, path in outputs.items() if path}
    if not asked:
        from gabacalc.render.terminal import plan_text

        click.echo(plan_text(plan, ident), nl=False)
        return
    to_stdout = [kind for kind, path in asked.items() if path == "-"]
    if len(to_stdout) > 1:
        raise InputError(
            "only one of --csv, --json and --fhir can write to stdout (-)", field="outputs"
        )
    for kind in to_stdout:
        if kind not in TO_STDOUT:
            raise InputError(f"--{kind} cannot write to stdout; give a file name", field=kind)
    if pagesize not in ("letter", "a4"):
        raise InputError(f"page size {pagesize!r} is not one of: letter, a4", field="pagesize")
    rendered = {kind: render_output(plan, kind, pagesize, ident) for kind in asked}
    files: list[tuple[str | Path, bytes]] = [
        (path, rendered[kind]) for kind, path in asked.items() if path != "-"
    ]
    write_files(files)
    for kind in to_stdout:
        click.echo(rendered[kind].decode("utf-8"), nl=False)
    if quiet:
        return
    report = click.echo if not to_stdout else functools.partial(click.echo, err=True)
    for path, _ in files:
        report(printable(f"Wrote {path}"))
    flags = plan.summary["flags"]
    if flags:
        report("Flags: " + ", ".join(f"{f['code']} ({f['severity']})" for f in flags))
    report(" | ".join(plan.provenance.lines()))
