"""The command line's value types: numbers, dates, and names typed in any case.

Each name list comes from where the core or the rule tables define it, read only when first
needed (help, completion or a value).
"""

from __future__ import annotations

import calendar
import difflib
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import click

from gabacalc.cli.failures import InputFailure
from gabacalc.errors import GabacalcError

__all__ = [
    "DATE",
    "DIALYSIS",
    "NUMBER",
    "PAGESIZE",
    "PAIN_TYPE",
    "RISK",
    "SCR_UNIT",
    "SEX",
    "TAPER",
    "TITRATION",
    "WEIGHT_BASIS",
    "DateType",
    "NameChoice",
    "NumberType",
    "module_names",
    "rules_names",
]


class NumberType(click.ParamType):
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


class DateType(click.ParamType):
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


NUMBER, DATE = NumberType(), DateType()


class NameChoice(click.Choice):
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
        raise InputFailure(f"{self.label} {value!r} is not one of: {', '.join(names)}{hint}")


def rules_names(kind: str) -> Callable[[], Sequence[str]]:
    def load() -> Sequence[str]:
        from gabacalc.rules import default_rules

        return list(getattr(default_rules(), kind))

    return load


def module_names(module: str, constant: str) -> Callable[[], Sequence[str]]:
    def load() -> Sequence[str]:
        import importlib

        names: Sequence[str] = getattr(importlib.import_module(f"gabacalc.{module}"), constant)
        return names

    return load


SEX = NameChoice("sex", module_names("core.patient", "SEXES"), {"f": "female", "m": "male"})
SCR_UNIT = NameChoice(
    "creatinine unit",
    module_names("core.patient", "SCR_UNITS"),
    {"umol": "umol/L", "µmol/l": "umol/L", "μmol/l": "umol/L", "µmol": "umol/L", "mg": "mg/dL"},
)
DIALYSIS = NameChoice(
    "dialysis",
    module_names("core.patient", "DIALYSIS_CHOICES"),
    {"hd": "hemodialysis", "haemodialysis": "hemodialysis", "pd": "peritoneal", "no": "none"},
)
WEIGHT_BASIS = NameChoice("weight basis", module_names("core.renal", "WEIGHT_BASES"))
RISK = NameChoice("risk", rules_names("risks"))
PAIN_TYPE = NameChoice("pain type", rules_names("pain_types"))
TITRATION = NameChoice("titration preset", rules_names("titration_presets"))
TAPER = NameChoice("taper preset", rules_names("taper_presets"))
PAGESIZE = NameChoice("page size", lambda: ("letter", "a4"))
