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

import click

from gabacalc._version import __version__
from gabacalc.cli.commands.cohort import cohort
from gabacalc.cli.commands.info import demo, tables
from gabacalc.cli.commands.plan import crcl, plan, taper
from gabacalc.cli.failures import GabacalcGroup, stop_on_signals
from gabacalc.core.wording import VERIFICATION_TEXT
from gabacalc.errors import GabacalcError

__all__ = ["main"]


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: gabacalc's version and the rule tables' version and checksum."""
    if not value or ctx.resilient_parsing:
        return
    from gabacalc.rules import default_rules

    try:
        tables = default_rules().provenance.tables_text()
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
    cls=GabacalcGroup,
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
    ctx.with_resource(stop_on_signals())


for _command in (plan, taper, crcl, cohort, demo, tables):
    main.add_command(_command)
