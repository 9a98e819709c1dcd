"""The ``gabacalc`` command: a thin layer over the public functions.

Each command parses its options, calls one public function, calls the writers, and turns a
``GabacalcError`` into one ``Error: ...`` line. Exit codes: 0 success; 2 a mistake in the
input (a value out of range, an unknown name, a bad option); 1 anything else that stopped
the command (a rule table that fails its checks, a file that cannot be written). Nothing
is written unless every output was made: all files are prepared first, then renamed into
place together.

matplotlib and reportlab are imported only when a PNG or PDF is asked for, so that
``gabacalc plan ... --csv out.csv`` costs little more than starting Python with pandas.
"""

from __future__ import annotations

import calendar
import contextlib
import difflib
import functools
import math
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from gabacalc._version import __version__
from gabacalc.core.wording import VERIFICATION_TEXT, printable
from gabacalc.errors import GabacalcError, InputError, RuleTableError
from gabacalc.files.atomic import write_error_text, write_files

__all__ = ["main"]

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


class _InputFailure(click.ClickException):
    """A mistake in the input: one ``Error: ...`` line, exit 2."""

    exit_code = 2


class _Failure(click.ClickException):
    """Anything else that stopped the command: one ``Error: ...`` line, exit 1."""

    exit_code = 1


class _Number(click.ParamType):
    """A number, passed on as a float; text that is not a finite number is passed on as
    written, so the core refuses it naming the value as given and the allowed range."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return number if math.isfinite(number) else value


class _Date(click.ParamType):
    """A date written YYYY-MM-DD; one that does not exist (2026-02-30) is refused as such."""

    name = "yyyy-mm-dd"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        parts = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
        if parts is None:
            self.fail(f"{text!r} is not a date written YYYY-MM-DD, e.g. 2026-01-05", param, ctx)
        year, month, day = (int(part) for part in parts.groups())
        if not 1 <= month <= 12:
            self.fail(f"{text} does not exist: there is no month {month}", param, ctx)
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            self.fail(
                f"{text} does not exist: {calendar.month_name[month]} {year} has {last} days",
                param,
                ctx,
            )
        return date(year, month, day)


_NUMBER, _DATE = _Number(), _Date()


def _one_line(error: click.UsageError) -> str:
    """click's own refusal (a bad or missing option) as one line: the message, the option's
    help (its range or form) and where to read more."""
    text = error.format_message().strip().rstrip(".")
    param = getattr(error, "param", None)
    if isinstance(param, click.Option) and param.help:
        text += f"; expected: {param.help.strip().rstrip('.')}"
    names = []
    ctx = error.ctx
    while ctx is not None and ctx.parent is not None:  # the root is "gabacalc" however run
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    where = " ".join(["gabacalc", *reversed(names)])
    return printable(" ".join(text.split())) + f"; see '{where} --help'"


class _Group(click.Group):
    """The gabacalc group: click's usage errors become one ``Error: ...`` line (exit 2)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _InputFailure(_one_line(error)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            if isinstance(error, _InputFailure | _Failure):
                raise
            raise _InputFailure(_one_line(error)) from None


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C stops (clean-up runs, then "Aborted!", exit 1)."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Handle SIGTERM and SIGHUP (``timeout``, systemd, docker, Slurm, a closed terminal) as
    SIGINT is handled: the command unwinds, its worker processes are stopped and its
    temporary files removed. The previous handlers come back when the command ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(signal.Signals(signum).name)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            number = getattr(signal, name)
            previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn gabacalc's errors into one ``Error:`` line (never a traceback)."""
    try:
        yield
    except InputError as error:
        raise _InputFailure(printable(str(error))) from None
    except RuleTableError as error:
        raise _Failure(printable(str(error))) from None
    except GabacalcError as error:
        raise _Failure(printable(str(error))) from None
    except OSError as error:
        raise _Failure(printable(write_error_text(error))) from None


def _parse_strengths(text: str | None) -> list[int] | None:
    if text is None:
        return None
    values = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(int(item))
        except ValueError:
            raise InputError(
                f"strength {item!r} in --strengths is not a whole number of mg; "
                "give e.g. 100,300,400",
                field="strengths_mg",
            ) from None
    return values


# ---------------------------------------------------------------------- shared options


class _Choice(click.Choice):
    """A choice typed in any case, with the short forms clinicians type, and a "did you
    mean" for a near miss.

    The names come from ``load`` when first needed (help, completion or a value), so the
    rule tables are read only then; if they cannot be read, the value is passed on and
    the command reports the tables' problem.
    """

    def __init__(
        self, label: str, load: Callable[[], Sequence[str]], aliases: dict[str, str] | None = None
    ) -> None:
        self.label = label
        self._load = load
        self._names: tuple[str, ...] | None = None
        self.aliases = {key.lower(): value for key, value in (aliases or {}).items()}
        self.case_sensitive = False

    @property
    def choices(self) -> tuple[str, ...]:
        if self._names is None:
            try:
                self._names = tuple(self._load())
            except GabacalcError:
                self._names = ()
        return self._names

    @choices.setter
    def choices(self, names: Sequence[str]) -> None:
        self._names = tuple(names)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return f"[{'|'.join(self.choices)}]" if self.choices else None

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        text = self.aliases.get(text.lower(), text)
        names = self.choices
        if not names:
            return text
        for name in names:
            if name.lower() == text.lower():
                return name
        close = difflib.get_close_matches(text.lower(), [n.lower() for n in names], n=1)
        hint = ""
        if close:
            hint = f"; did you mean {next(n for n in names if n.lower() == close[0])!r}?"
        # One line in gabacalc's own words, as for a value the planner refuses.
        raise _InputFailure(f"{self.label} {value!r} is not one of: {', '.join(names)}{hint}")


def _rules_names(kind: str) -> Callable[[], Sequence[str]]:
    def load() -> Sequence[str]:
        from gabacalc.rules import default_rules

        return list(getattr(default_rules(), kind))

    return load


def _names(module: str, constant: str) -> Callable[[], Sequence[str]]:
    def load() -> Sequence[str]:
        import importlib

        names: Sequence[str] = getattr(importlib.import_module(f"gabacalc.{module}"), constant)
        return names

    return load


_SEX = _Choice("sex", _names("core.patient", "SEXES"), {"f": "female", "m": "male"})
_SCR_UNIT = _Choice(
    "creatinine unit",
    _names("core.patient", "SCR_UNITS"),
    {"umol": "umol/L", "µmol/l": "umol/L", "μmol/l": "umol/L", "µmol": "umol/L", "mg": "mg/dL"},
)
_DIALYSIS = _Choice(
    "dialysis",
    _names("core.patient", "DIALYSIS_CHOICES"),
    {"hd": "hemodialysis", "haemodialysis": "hemodialysis", "pd": "peritoneal", "no": "none"},
)
_WEIGHT_BASIS = _Choice("weight basis", _names("core.renal", "WEIGHT_BASES"))
_RISK = _Choice("risk", _rules_names("risks"))
_PAIN_TYPE = _Choice("pain type", _rules_names("pain_types"))
_TITRATION = _Choice("titration preset", _rules_names("titration_presets"))
_TAPER = _Choice("taper preset", _rules_names("taper_presets"))
_PAGESIZE = _Choice("page size", lambda: ("letter", "a4"))


def _patient_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--age", type=_NUMBER, required=True, help="Age [years], 18-110."),
        click.option(
            "--sex", type=_SEX, required=True, help="female or male (f, m) for Cockcroft-Gault."
        ),
        click.option("--weight-kg", type=_NUMBER, required=True, help="Actual weight [kg]."),
        click.option("--height-cm", type=_NUMBER, help="Height [cm]; for ideal/adjusted weight."),
        click.option("--scr", type=_NUMBER, help="Serum creatinine, in --scr-unit."),
        click.option(
            "--scr-unit",
            type=_SCR_UNIT,
            default="mg/dL",
            show_default=True,
            help="mg/dL or umol/L (umol).",
        ),
        click.option("--crcl", type=_NUMBER, help="A measured or known CrCl [mL/min], not SCr."),
        click.option(
            "--dialysis",
            type=_DIALYSIS,
            default="none",
            show_default=True,
            help="none, hemodialysis (HD) or peritoneal (PD).",
        ),
        click.option(
            "--risk",
            "risks",
            type=_RISK,
            multiple=True,
            help="Safety context, repeatable: opioids, cns-depressants, respiratory, falls, "
            "pregnancy, misuse, epilepsy, unstable-renal.",
        ),
        click.option(
            "--pain-type",
            type=_PAIN_TYPE,
            default="other",
            show_default=True,
            help="radicular, non-radicular, phn, diabetic-neuropathy or other.",
        ),
        click.option(
            "--weight-basis",
            type=_WEIGHT_BASIS,
            help="auto (default), actual, ideal or adjusted weight for Cockcroft-Gault.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _form_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--start-date",
            type=_DATE,
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


_quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors (the files carry everything)."
)
#: What plan and taper can write, in the order they are made.
_TAPER_HELP = "Taper preset: weekly (default) or gradual; the plan states its steps and source."
_OUTPUT_KINDS = ("csv", "pdf", "png", "json", "xlsx", "fhir", "ics", "handout")
_TO_STDOUT = ("csv", "json", "fhir")


def _output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        _quiet_option,
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
            type=_DATE,
            help="Date of birth, YYYY-MM-DD (documents only).",
        ),
        click.option("--patient-id", help="Hospital or MRN number (documents only)."),
        click.option(
            "--scr-date",
            type=_DATE,
            help="Date of the creatinine or CrCl, YYYY-MM-DD (printed; blank line if not given).",
        ),
        click.option(
            "--weight-date",
            type=_DATE,
            help="Date of the weight, YYYY-MM-DD (printed; blank line if not given).",
        ),
        click.option(
            "--pagesize",
            type=_PAGESIZE,
            default="letter",
            show_default=True,
            help="PDF page size: letter or a4.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _patient(kw: dict[str, Any]) -> Any:
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


def _form_keywords(kw: dict[str, Any]) -> dict[str, Any]:
    when = kw.pop("start_date")
    return {
        "start_date": when.date() if isinstance(when, datetime) else when,
        "strengths_mg": _parse_strengths(kw.pop("strengths")),
        "oral_solution": kw.pop("oral_solution"),
        "dialysis_days": kw.pop("dialysis_days"),
    }


# ---------------------------------------------------------------------------- writing


def _identification(kw: dict[str, Any]) -> Any:
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


def _render(plan: Any, kind: str, pagesize: str, ident: Any = None) -> bytes:
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


def _emit(
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
        if kind not in _TO_STDOUT:
            raise InputError(f"--{kind} cannot write to stdout; give a file name", field=kind)
    if pagesize not in ("letter", "a4"):
        raise InputError(f"page size {pagesize!r} is not one of: letter, a4", field="pagesize")
    rendered = {kind: _render(plan, kind, pagesize, ident) for kind in asked}
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
    from gabacalc.render.terminal import stamp_lines

    report(" | ".join(stamp_lines(plan.summary)))


# --------------------------------------------------------------------------- commands


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: gabacalc's version and the rule tables' version and checksum."""
    if not value or ctx.resilient_parsing:
        return
    from gabacalc.rules import default_rules

    try:
        rules = default_rules()
        tables = f"rule tables {rules.rules_version} (sha256 {rules.rules_sha256})"
    except GabacalcError as error:
        tables = f"rule tables not usable: {error}"
    click.echo(f"gabacalc {__version__}\n{tables}\n{VERIFICATION_TEXT}")
    ctx.exit()


_COMPLETION = """\b
Shell completion (commands, options and their choices):
  bash: eval "$(_GABACALC_COMPLETE=bash_source gabacalc)"   (in ~/.bashrc)
  zsh:  eval "$(_GABACALC_COMPLETE=zsh_source gabacalc)"    (in ~/.zshrc)
  fish: _GABACALC_COMPLETE=fish_source gabacalc | source
"""


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nStart with: gabacalc demo\nEvery output: "
    + VERIFICATION_TEXT
    + ".\n\n"
    + _COMPLETION,
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version, the rule tables' version and checksum, and exit.",
)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Illustrative gabapentin titration plans clamped to renal function.

    Every plan is illustrative and requires physician verification.
    """
    ctx.with_resource(_stop_on_signals())


@main.command(epilog=_EPILOG_PLAN)
@_patient_options
@click.option("--start-mg", type=_NUMBER, help="First day's dose [mg/day], 100-300.")
@click.option("--target-mg", type=_NUMBER, help="Target [mg/day], 300-3,600 (default 1,800).")
@click.option(
    "--titration", type=_TITRATION, help="Titration preset: label-phn, weekly (default) or gentle."
)
@click.option("--taper", type=_TAPER, help=_TAPER_HELP)
@click.option("--review-weeks", type=_NUMBER, help="Efficacy review after 4-6 weeks (default 6).")
@click.option(
    "--current-mg",
    type=_NUMBER,
    help="Re-plan from the dose the patient takes now [mg/day]; never cut abruptly.",
)
@click.option(
    "--current-doses", type=_NUMBER, help="Administrations per day of the current dose, 1-3."
)
@click.option(
    "--max-products",
    type=int,
    help="Keep the plan to at most N products (strength and form), as the band allows.",
)
@_form_options
@_output_options
def plan(**kw: Any) -> None:
    """Build a titration plan and print it, or write CSV, PDF, PNG, JSON, XLSX, FHIR, ICS."""
    from gabacalc.core.plan import build_plan

    outputs = {k: kw.pop(f"{k}_path") for k in _OUTPUT_KINDS}
    pagesize, quiet = kw.pop("pagesize"), kw.pop("quiet")
    with _user_errors():
        ident = _identification(kw)
        patient = _patient(kw)
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
            **_form_keywords(kw),
        )
        _emit(result, outputs, pagesize, quiet, ident)


@main.command(
    epilog="""\b
Example (already on 1,800 mg/day three times daily, CrCl 40 mL/min):
  gabacalc taper --age 60 --sex male --weight-kg 70 --crcl 40 \\
      --current-mg 1800 --current-doses 3 --pdf taper.pdf
"""
)
@_patient_options
@click.option("--current-mg", type=_NUMBER, required=True, help="Current dose [mg/day].")
@click.option("--current-doses", type=_NUMBER, help="Current administrations per day, 1-3.")
@click.option("--taper", type=_TAPER, help=_TAPER_HELP)
@_form_options
@_output_options
def taper(**kw: Any) -> None:
    """A taper for a patient already taking gabapentin (never stop abruptly)."""
    from gabacalc.core.plan import build_taper

    outputs = {k: kw.pop(f"{k}_path") for k in _OUTPUT_KINDS}
    pagesize, quiet = kw.pop("pagesize"), kw.pop("quiet")
    with _user_errors():
        ident = _identification(kw)
        patient = _patient(kw)
        result = build_taper(
            patient,
            kw.pop("current_mg"),
            current_doses_per_day=kw.pop("current_doses"),
            taper=kw.pop("taper"),
            weight_basis=kw.pop("weight_basis"),
            **_form_keywords(kw),
        )
        _emit(result, outputs, pagesize, quiet, ident)


@main.command(
    epilog="""\b
Example:
  gabacalc crcl --age 72 --sex female --weight-kg 60 --height-cm 160 --scr 1.3
"""
)
@_patient_options
def crcl(**kw: Any) -> None:
    """The renal estimate (formula with the numbers) and the label's band, only."""
    from gabacalc.core.plan import estimate_flags
    from gabacalc.core.renal import estimate_crcl, select_band
    from gabacalc.render.terminal import estimate_text
    from gabacalc.rules import default_rules

    with _user_errors():
        rules = default_rules()
        patient = _patient(kw)
        basis = kw.pop("weight_basis")
        estimate = estimate_crcl(patient, basis or rules.defaults["weight_basis"], rules)
        band = select_band(estimate, patient.dialysis, rules)
        flags = estimate_flags(patient, basis, rules)
        stamp = {
            "gabacalc_version": __version__,
            "rules_version": rules.rules_version,
            "rules_sha256": rules.rules_sha256,
        }
        text = estimate_text(estimate, band, stamp, rules.texts["band_edge_rule"], flags)
        click.echo(text, nl=False)


def _progress_bar(stack: contextlib.ExitStack) -> Callable[[int, int], None]:
    """An ``on_progress(done, total)`` that draws a bar on stderr.

    The total is known only at the first call, so the bar opens then; ``stack`` closes it
    (finishing the line) however the run ends.
    """
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = stack.enter_context(
                click.progressbar(length=total, file=sys.stderr, label="Planning")
            )
        bar.update(done - shown)
        shown = done

    return update


@main.command(
    epilog="""\b
Example (columns id, age_years, sex, weight_kg, and scr, crcl_ml_min or dialysis):
  gabacalc cohort clinic.csv --out clinic-plans.csv
  gabacalc cohort clinic.parquet --out clinic-plans.parquet --chunk-rows 20000
  zcat clinic.csv.gz | gabacalc cohort - --out clinic-plans.csv --xlsx clinic-plans.xlsx
\b
Every row comes back once, in order; a row that cannot be planned has status "error"
and the reason in its error column, and the other rows are still planned.
Exit codes: 0 done (even with error rows); 2 a mistake in the input (nothing written);
1 another failure (nothing written).
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Results: .csv, or .parquet (needs pyarrow). Written whole or not at all.",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False),
    help="Also write the results as a workbook (at most 1,048,575 rows).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Rows read and planned at a time; memory grows with this, not with the file.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes planning chunks at once [default: the CPUs this process may use, "
    "at most 4]. The results are the same bytes whatever the number.",
)
@click.option(
    "--delimiter",
    default=",",
    show_default=True,
    help="What separates a CSV's cells: , ; or tab.",
)
@click.option(
    "--decimal",
    default=".",
    show_default=True,
    help="A CSV's decimal mark: . or , (with --delimiter ';').",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: only when stderr is a terminal).",
)
@_quiet_option
def cohort(
    input_path: str,
    out_path: str,
    xlsx_path: str | None,
    chunk_rows: int,
    workers: int | None,
    delimiter: str,
    decimal: str,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Plan every patient of a CSV or Parquet cohort file: one result row per input row.

    INPUT is a .csv, .csv.gz or .parquet file, or - for CSV on standard input.
    """
    from gabacalc.files.cohort_io import default_workers, run_cohort_file
    from gabacalc.render.terminal import stamp_lines

    show = (sys.stderr.isatty() and not quiet) if progress is None else progress
    with _user_errors(), contextlib.ExitStack() as stack:
        report = run_cohort_file(
            input_path,
            out_path,
            chunk_rows=chunk_rows,
            on_progress=_progress_bar(stack) if show else None,
            workers=workers or default_workers(),
            xlsx_path=xlsx_path,
            delimiter=delimiter,
            decimal=decimal,
        )
    if quiet:
        return
    click.echo(f"Wrote {report.out_path}")
    if xlsx_path:
        click.echo(f"Wrote {xlsx_path}")
    click.echo(report.summary_text())
    stamp = {
        "gabacalc_version": report.gabacalc_version,
        "rules_version": report.rules_version,
        "rules_sha256": report.rules_sha256,
    }
    for line in stamp_lines(stamp):
        click.echo(line)


@main.command(
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

    with _user_errors():
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
        _emit(result, dict(paths), "letter")


@main.command(
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
        with _user_errors():
            click.echo(clinical_basis_text(), nl=False)
        click.echo(f"{VERIFICATION_TEXT} | gabacalc {__version__}")
        return

    folder = Path(tables_dir) if tables_dir else default_tables_dir()
    with _user_errors():
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
