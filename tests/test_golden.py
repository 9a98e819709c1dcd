"""Every output, byte for byte, against tests/golden/ (see tests/golden.py).

A refactor that moves code must leave these unchanged. When an output is meant to change,
run ``python scripts/update_goldens.py`` and say in the commit what changed and why.
"""

from __future__ import annotations

import difflib

import golden
import pytest

SUMS = {
    line.split("  ", 1)[1]: line.split("  ", 1)[0]
    for line in golden.SUMS.read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
}
DRAWN_BY = golden.SUMS.read_text(encoding="utf-8").splitlines()[0].removeprefix("# drawn by ")
KEPT = sorted(path.name for path in golden.GOLDEN.iterdir() if path.name != "SHA256SUMS")


def test_every_output_has_a_golden_and_every_golden_an_output() -> None:
    assert sorted({*KEPT, *SUMS}) == sorted(golden.outputs())


@pytest.mark.parametrize("name", KEPT)
def test_text_output_unchanged(name: str) -> None:
    found = golden.outputs().get(name, b"(no longer made)")
    expected = (golden.GOLDEN / name).read_bytes()
    if found != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            found.decode("utf-8", "replace").splitlines(),
            "golden",
            "now",
            lineterm="",
            n=1,
        )
        pytest.fail(f"{name} changed:\n" + "\n".join(list(diff)[:60]))


@pytest.mark.parametrize("name", sorted(SUMS))
def test_binary_output_unchanged(name: str) -> None:
    assert golden.digest(golden.outputs().get(name, b"")) == SUMS[name], (
        f"{name} changed (golden drawn by {DRAWN_BY}; now {golden.drawn_by()}): look at its "
        "pages, then run scripts/update_goldens.py if the change is meant"
    )
