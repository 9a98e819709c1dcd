"""Rewrite tests/golden/ from what gabacalc makes now (see tests/golden.py).

Run from the project root after a change that is meant to change an output:
``python scripts/update_goldens.py``; then read ``git diff tests/golden``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import golden

if __name__ == "__main__":
    found = golden.outputs()
    golden.write(found)
    print(f"wrote {len(found)} golden outputs to {golden.GOLDEN}")
