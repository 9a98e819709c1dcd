"""The clinical rule tables in ``tables/``: typed rows, parsing, cross-table checks, the lock.

Every clinical number gabacalc uses lives in a CSV table with a ``source_id`` and a
``source_section`` on each row. ``manifest.json`` records each table's version and sha256;
loading recomputes the hashes (line endings normalised), validates every table, reports
all problems at once, and refuses to return rules that do not match the manifest.

- :mod:`~gabacalc.rules.rows`: the frozen typed rows and :class:`Rules`, which holds them;
- :mod:`~gabacalc.rules.lock`: the manifest, the checksums, :func:`write_manifest`;
- :mod:`~gabacalc.rules.parse`: the CSV rows read into typed rows, table by table;
- :mod:`~gabacalc.rules.checks`: what one table names, another must hold;
- :mod:`~gabacalc.rules.load`: where the tables are, and :func:`load_rules`;
- :mod:`~gabacalc.rules.provenance`: the stamp every output carries;
- :mod:`~gabacalc.rules.flags`: the registry of flag codes.

The core receives the resulting ``Rules``.
"""

from __future__ import annotations

from gabacalc.rules.load import (
    CLINICAL_BASIS,
    clinical_basis_path,
    clinical_basis_text,
    default_rules,
    default_tables_dir,
    load_rules,
)
from gabacalc.rules.lock import MANIFEST, TABLE_FILES, combined_sha256, table_sha256, write_manifest
from gabacalc.rules.provenance import PROVENANCE_COLUMNS, VERIFICATION_TEXT, Provenance
from gabacalc.rules.rows import RenalBand, Rules, Strength, TaperPreset, TitrationPreset

__all__ = [
    "CLINICAL_BASIS",
    "MANIFEST",
    "PROVENANCE_COLUMNS",
    "TABLE_FILES",
    "VERIFICATION_TEXT",
    "Provenance",
    "RenalBand",
    "Rules",
    "Strength",
    "TaperPreset",
    "TitrationPreset",
    "clinical_basis_path",
    "clinical_basis_text",
    "combined_sha256",
    "default_rules",
    "default_tables_dir",
    "load_rules",
    "table_sha256",
    "write_manifest",
]
