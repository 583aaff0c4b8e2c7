"""Every numbered notebook runs top to bottom on the embedded model (the release notebook on the parity
checkpoint beside the project), and is kept without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import PARITY, need
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_numbered_notebooks_are_all_there():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_quickstart",
        "02_attention_maps",
        "03_grounding",
        "04_counting",
        "05_editing_gallery",
        "06_live_editing",
        "07_release_checkpoint",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    if path.stem == "07_release_checkpoint":
        monkeypatch.setenv("MOTIONCLR_RELEASE", str(need(PARITY / "checkpoint")))
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    rich = {"image/png", "application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json"}
    shown = {kind for c in nb.cells for o in c.get("outputs", []) for kind in o.get("data", {})}
    assert shown & rich, f"no figure, plot or widget was shown; outputs: {sorted(shown)}"
