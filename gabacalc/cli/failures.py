"""How the command reports what stopped it: one ``Error: ...`` line, never a traceback.

Exit codes: 2 a mistake in the input (a value out of range, an unknown name, a bad option);
1 anything else that stopped the command. SIGTERM and SIGHUP stop a command as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from gabacalc.core.wording import printable
from gabacalc.errors import GabacalcError, InputError, RuleTableError
from gabacalc.files.atomic import write_error_text

__all__ = [
    "Failure",
    "GabacalcGroup",
    "InputFailure",
    "Stopped",
    "one_line",
    "stop_on_signals",
    "user_errors",
]


class InputFailure(click.ClickException):
    """A mistake in the input: one ``Error: ...`` line, exit 2."""

    exit_code = 2


class Failure(click.ClickException):
    """Anything else that stopped the command: one ``Error: ...`` line, exit 1."""

    exit_code = 1


def one_line(error: click.UsageError) -> str:
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


class GabacalcGroup(click.Group):
    """The gabacalc group: click's usage errors become one ``Error: ...`` line (exit 2).

    Run from the command line (``args`` not given), the process ends as soon as the
    command has: its files are written, closed and synced by then, and its output is
    flushed here, so Python's own tear-down of pandas, pyarrow and a run's objects (a
    tenth of a second) is skipped. Called with ``args`` (a script, click's test runner),
    it returns or raises as click does.
    """

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        if args is not None or not kwargs.get("standalone_mode", True):
            return super().main(args, *rest, **kwargs)
        try:
            super().main(args, *rest, **kwargs)
        except SystemExit as stop:
            _end_process(stop.code)
        _end_process(0)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise InputFailure(one_line(error)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            if isinstance(error, InputFailure | Failure):
                raise
            raise InputFailure(one_line(error)) from None


def _end_process(code: Any) -> None:
    """End the process now with ``code`` (as ``sys.exit`` takes it), its output flushed.

    If the output cannot be flushed (a pipe closed by its reader), Python's own exit
    reports it; a stream the command was started without (``>&-``) is skipped.
    """
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    if code is None:
        os._exit(0)
    if isinstance(code, int):
        os._exit(code)
    raise SystemExit(code)  # a message: Python prints it and exits 1


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C stops (clean-up runs, then "Aborted!", exit 1)."""


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Handle SIGTERM and SIGHUP (``timeout``, systemd, docker, Slurm, a closed terminal) as
    SIGINT is handled: the command unwinds, its worker processes are stopped and its
    temporary files removed. The previous handlers come back when the command ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

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
def user_errors() -> Iterator[None]:
    """Turn gabacalc's errors into one ``Error:`` line (never a traceback)."""
    try:
        yield
    except InputError as error:
        raise InputFailure(printable(str(error))) from None
    except RuleTableError as error:
        raise Failure(printable(str(error))) from None
    except GabacalcError as error:
        raise Failure(printable(str(error))) from None
    except OSError as error:
        raise Failure(printable(write_error_text(error))) from None
