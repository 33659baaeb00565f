"""Each day's notebook runs headless from top to bottom, and its 'break it' cell is diagnosed."""

from __future__ import annotations

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("katas/day*/notebook.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_the_notebook_runs_and_its_break_it_cell_is_diagnosed(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    magics = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%diagnose")]
    assert magics, f"{path} has no %%diagnose cell to break"
    shown = "".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for cell in magics
        for out in cell.outputs
    )
    assert "error" in shown, f"the diagnosis of {path}'s break-it cell is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_the_notebook_is_saved_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    stale = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert not stale, f"{path}: cells {stale} carry outputs; clear them before committing"


def test_there_is_a_notebook_per_day():
    days = {p.name for p in (ROOT / "katas").glob("day*") if p.is_dir()}
    assert days and days == {p.parent.name for p in NOTEBOOKS}
