"""Find and load the rule tables: read, check against the lock, parse, check across.

:func:`load_rules` is the one way to a :class:`~gabacalc.rules.Rules`; every problem it
finds is reported at once in a :class:`~gabacalc.errors.RuleTableError`.
"""

from __future__ import annotations

import functools
from pathlib import Path

from gabacalc.errors import RuleTableError
from gabacalc.rules.checks import cross_table_problems
from gabacalc.rules.lock import MANIFEST, read_locked_tables
from gabacalc.rules.parse import parse_csv, parse_rules
from gabacalc.rules.rows import Rules

__all__ = [
    "CLINICAL_BASIS",
    "clinical_basis_path",
    "clinical_basis_text",
    "default_rules",
    "default_tables_dir",
    "load_rules",
]

#: The conventions the tables cite as "clinical-basis section N".
CLINICAL_BASIS = "clinical-basis.md"


def clinical_basis_path() -> Path:
    """Where docs/clinical-basis.md is: inside the installed wheel, or the source tree's."""
    here = Path(__file__).resolve().parent.parent  # the gabacalc package
    packaged = here / "docs" / CLINICAL_BASIS
    return packaged if packaged.is_file() else here.parent / "docs" / CLINICAL_BASIS


def clinical_basis_text() -> str:
    """The clinical basis document: gabacalc's conventions, in numbered sections.

    Examples
    --------
    >>> clinical_basis_text().splitlines()[0]
    '# gabacalc clinical basis'
    """
    path = clinical_basis_path()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleTableError([f"{path}: cannot read the clinical basis ({exc})"]) from None


def default_tables_dir() -> Path:
    """Where the shipped tables are: inside the installed wheel, or the source tree's."""
    here = Path(__file__).resolve().parent.parent  # the gabacalc package
    packaged = here / "tables"
    if (packaged / MANIFEST).is_file():
        return packaged
    return here.parent / "tables"


@functools.cache
def default_rules() -> Rules:
    """The shipped rule tables, loaded and validated once per process.

    Examples
    --------
    >>> rules = default_rules()
    >>> rules is default_rules(), rules.rules_sha256 == load_rules().rules_sha256
    (True, True)
    """
    return load_rules(default_tables_dir())


def load_rules(tables_dir: str | Path | None = None) -> Rules:
    """Load, hash-check and validate the rule tables in a folder.

    Parameters
    ----------
    tables_dir : str or Path, optional
        The folder holding the CSV tables and ``manifest.json``; default the shipped ones.

    Returns
    -------
    Rules
        The validated tables with ``rules_version`` and ``rules_sha256``.

    Raises
    ------
    RuleTableError
        Listing every problem found: a missing file, a checksum that does not match the
        manifest (with the fix), a malformed value, an unknown source, bands that leave a
        gap or overlap, maxima that rise as CrCl falls, an unknown unit.

    Examples
    --------
    >>> rules = load_rules()
    >>> [b.band_id for b in rules.bands]
    ['crcl-60-plus', 'crcl-30-60', 'crcl-15-30', 'crcl-15-or-less']
    >>> len(rules.rules_sha256)
    64
    """
    folder = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    raw, lock = read_locked_tables(folder)
    problems: list[str] = []
    rows = {name: parse_csv(name, data, problems) for name, data in raw.items()}
    if problems:
        raise RuleTableError(problems)
    rules = parse_rules(rows, lock, problems)
    problems += cross_table_problems(rules)
    if problems:
        raise RuleTableError(problems)
    return rules
