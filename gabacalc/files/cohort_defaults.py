"""How a cohort file is run unless told otherwise (light: the command line's help reads it
without importing pandas)."""

from __future__ import annotations

#: Rows read and planned at a time unless told: what a worker holds at once (the rows,
#: their plans and their CSV, some 16 MB), so memory stays flat however long the file.
DEFAULT_CHUNK_ROWS = 25_000
