"""Record the rule tables' checksums in tables/manifest.json after a reviewed change.

Usage: python scripts/update_manifest.py [RULES_VERSION]

Run this only once a clinical reviewer has approved the table changes: gabacalc refuses to
plan while any table differs from its recorded checksum.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gabacalc.rules import MANIFEST, write_manifest

folder = Path(__file__).resolve().parent.parent / "tables"
current = (
    json.loads((folder / MANIFEST).read_text())["rules_version"]
    if (folder / MANIFEST).exists()
    else "2026.11.1"
)
version = sys.argv[1] if len(sys.argv) > 1 else current
print(write_manifest(folder, version))
