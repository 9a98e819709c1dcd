"""The lock on the rule tables: ``manifest.json`` pins every table's version and sha256.

Reading the tables checks each one's bytes against the manifest (line endings normalised)
and refuses, naming the file and the fix, on a missing table or a mismatch, as
opensafely's codelists pin a human-edited list with a hash. :func:`write_manifest` records
the tables again after a clinical reviewer approved a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gabacalc.errors import RuleTableError

__all__ = [
    "MANIFEST",
    "TABLE_FILES",
    "Lock",
    "combined_sha256",
    "read_locked_tables",
    "table_sha256",
    "write_manifest",
]

#: Every table gabacalc reads, in the order they are listed to users.
TABLE_FILES: tuple[str, ...] = (
    "sources.csv",
    "renal_bands.csv",
    "hemodialysis_supplements.csv",
    "strengths.csv",
    "titration_presets.csv",
    "titration_limits.csv",
    "taper_presets.csv",
    "review_rule.csv",
    "defaults.csv",
    "input_limits.csv",
    "formula_constants.csv",
    "weight_basis.csv",
    "flags.csv",
    "texts.csv",
    "context_choices.csv",
    "clinical_thresholds.csv",
    "preferred_combinations.csv",
    "guidance.csv",
)
MANIFEST = "manifest.json"
_FIX_HINT = (
    "if the change to the table was reviewed, record it with "
    "`python scripts/update_manifest.py` (or gabacalc.rules.write_manifest); "
    "otherwise restore the file from the release"
)


def table_sha256(data: bytes) -> str:
    """sha256 of a table's bytes with line endings normalised to LF.

    Examples
    --------
    >>> table_sha256(b"a,b\\r\\n1,2\\r\\n") == table_sha256(b"a,b\\n1,2\\n")
    True
    """
    normalised = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(normalised).hexdigest()


def combined_sha256(per_table: Mapping[str, str]) -> str:
    """One checksum over every table's checksum, in file-name order."""
    text = "".join(f"{name} {per_table[name]}\n" for name in sorted(per_table))
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(tables_dir: str | Path, rules_version: str) -> Path:
    """Record every table's sha256 (and one version for all) in ``manifest.json``.

    Run only after a clinical reviewer has approved the table changes.
    """
    folder = Path(tables_dir)
    tables = {
        name: {"version": rules_version, "sha256": table_sha256((folder / name).read_bytes())}
        for name in TABLE_FILES
    }
    manifest = {"rules_version": rules_version, "tables": tables}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Lock:
    """What the manifest pins, checked against the tables' bytes.

    Attributes
    ----------
    rules_version : str
        The version recorded for all the tables.
    table_versions, table_sha256 : Mapping[str, str]
        Each table's recorded version and its (verified) sha256.
    """

    rules_version: str
    table_versions: Mapping[str, str]
    table_sha256: Mapping[str, str]

    @property
    def rules_sha256(self) -> str:
        """The combined checksum of every table."""
        return combined_sha256(self.table_sha256)


def read_locked_tables(folder: Path) -> tuple[dict[str, bytes], Lock]:
    """Every table's bytes in ``folder``, checked against its ``manifest.json``.

    Raises
    ------
    RuleTableError
        The manifest cannot be read; or, listing every one, a table is missing, not
        recorded in the manifest, or does not match its recorded sha256 (with the fix).
    """
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest_tables = manifest["tables"]
        rules_version = str(manifest["rules_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuleTableError([f"{manifest_path}: cannot read the manifest ({exc})"]) from None

    problems: list[str] = []
    raw: dict[str, bytes] = {}
    for name in TABLE_FILES:
        path = folder / name
        try:
            raw[name] = path.read_bytes()
        except OSError:
            problems.append(f"{path}: missing (every rule table must be present)")
    if problems:
        raise RuleTableError(problems)

    sha = {name: table_sha256(data) for name, data in raw.items()}
    problems = [_mismatch(folder, name, manifest_tables.get(name), sha[name]) for name in sha]
    if any(problems):
        raise RuleTableError([p for p in problems if p])
    versions = {n: str(manifest_tables[n].get("version", rules_version)) for n in sha}
    return raw, Lock(rules_version, versions, sha)


def _mismatch(folder: Path, name: str, entry: Any, sha: str) -> str:
    """What is wrong with a table's manifest entry, or ``""``."""
    if not isinstance(entry, dict) or "sha256" not in entry:
        return f"{folder / name}: not recorded in {MANIFEST}; {_FIX_HINT}"
    if entry["sha256"] != sha:
        return (
            f"{folder / name}: sha256 {sha[:12]}... does not match the manifest's "
            f"{str(entry['sha256'])[:12]}...; {_FIX_HINT}"
        )
    return ""
