"""The notebooks run top to bottom in a fresh kernel, show the verification text, and are
committed with their outputs stripped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_safe_dose_text

import gabacalc

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _shown_text(nb: Any) -> str:
    """Everything a reader sees as text: printed lines, plain and HTML displays."""
    parts = []
    for out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        for kind in ("text/plain", "text/html"):
            if kind in out.get("data", {}):
                parts.append(out["data"][kind])
    return "\n".join(parts)


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_walkthrough.ipynb",
        "02_scenarios.ipynb",
        "03_weight_basis.ipynb",
        "04_explorer.ipynb",
    ]


#: Cells the suite adds (never committed) to drive a notebook's widget through its controls,
#: as a hand would, one control at a time; each prints one JSON line the test reads.
DRIVE = {
    "04_explorer.ipynb": [
        "import json\n"
        "explorer.unpin()\n"
        "explorer.set(scr=1.3, crcl_ml_min=None, strengths_mg=[100, 300, 400, 600, 800])\n"
        "def band_line():\n"
        "    ax = explorer.figures[0].axes[0]\n"
        "    (line,) = [l for l in ax.get_lines() if l.get_gid() == 'band-max']\n"
        "    return float(max(line.get_ydata()))\n"
        "before = {'max': explorer.plan.summary['max_daily_mg'], 'line': band_line()}\n"
        "explorer.controls['scr'].value = None\n"
        "explorer.controls['crcl_ml_min'].value = 25\n"
        "after = {'max': explorer.plan.summary['max_daily_mg'], 'line': band_line(),\n"
        "         'shown': explorer.display_html.value}\n"
        "explorer.controls['crcl_ml_min'].value = None\n"
        "explorer.controls['dialysis'].value = 'hemodialysis'\n"
        "explorer.controls['scr'].value = 2.0\n"
        "refused = {'plan': explorer.plan is None, 'error': explorer.error,\n"
        "           'shown': explorer.display_html.value}\n"
        "print(json.dumps({'before': before, 'after': after, 'refused': refused}))",
    ],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_stripped(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs"
        assert cell.execution_count is None, f"{path.name}: cell {cell.id} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_a_fresh_kernel_and_shows_the_verification_text(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel imports the gabacalc under test, uses the inline backend, and makes its
    # temporary folders under tmp_path.
    here = str(Path(gabacalc.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.getenv("PYTHONPATH")])))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = _read(path)
    for source in DRIVE.get(path.name, []):
        nb.cells.append(nbformat.v4.new_code_cell(source))
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()

    outputs = _outputs(nb)
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == [], "no warnings or errors in a notebook's output"
    shown = _shown_text(nb)
    rules = gabacalc.default_rules()
    assert gabacalc.VERIFICATION_TEXT in shown
    assert f"gabacalc {gabacalc.__version__}" in shown
    assert rules.rules_version in shown and rules.rules_sha256[:12] in shown
    assert_safe_dose_text(shown)
    assert any("image/png" in o.get("data", {}) for o in outputs), "a chart is drawn"
    assert list(workdir.iterdir()) == [], "nothing is written into the working directory"
    if path.name == "04_explorer.ipynb":
        _check_the_explorer_was_driven(nb, rules)
    if path.name == "01_walkthrough.ipynb":
        (folder,) = scratch.glob("gabacalc-walkthrough-*")
        assert sorted(p.name for p in folder.iterdir()) == ["plan.csv", "plan.json", "plan.pdf"]
        assert (folder / "plan.pdf").read_bytes().startswith(b"%PDF")
        assert gabacalc.VERIFICATION_TEXT in (folder / "plan.csv").read_text(encoding="utf-8")


def _check_the_explorer_was_driven(nb: Any, rules: Any) -> None:
    """CrCl 25 gives the 700 mg/day band and moves the chart's band line; an impossible
    combination (creatinine on hemodialysis) shows its refusal in place of the plan."""
    import json

    widget_views = [
        o for o in _outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_views, "the explorer is displayed as a widget"
    (last,) = nb.cells[-1].outputs
    result = json.loads(last.text)
    assert result["before"] == {"max": 1400, "line": 1400.0}
    assert result["after"]["max"] == 700 and result["after"]["line"] == 700.0
    assert "700 mg/day (renal band)" in result["after"]["shown"]
    refused = result["refused"]
    assert refused["plan"] is True
    assert refused["error"].startswith("serum creatinine is not used on hemodialysis")
    assert "<strong>No plan:</strong> serum creatinine is not used" in refused["shown"]
    for shown in (result["after"]["shown"], refused["shown"]):
        assert gabacalc.VERIFICATION_TEXT in shown and rules.rules_sha256 in shown
    # What the page showed is stored with the notebook's widget state, stamped as well.
    state = json.dumps(nb.metadata["widgets"])
    assert gabacalc.VERIFICATION_TEXT in state and rules.rules_sha256[:12] in state
