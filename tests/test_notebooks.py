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
        "08_causal_patching",
    ]


def test_the_notebooks_are_what_their_source_script_writes():
    """docs/scripts/make_notebooks.py is where the notebooks are edited: a notebook changed by hand alone would be
    undone by the next run of the script."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "docs" / "scripts" / "make_notebooks.py"
    spec = importlib.util.spec_from_file_location("make_notebooks", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.NOTEBOOKS) == [p.stem for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        written = [(c.cell_type, c.source) for c in cells]
        source = [("markdown" if kind == "md" else "code", src) for kind, src in module.NOTEBOOKS[path.stem]]
        differing = [i for i, (a, b) in enumerate(zip(written, source, strict=False)) if a != b]
        assert len(written) == len(source) and not differing, (
            f"{path.name} differs from make_notebooks.py at cells {differing} "
            f"({len(written)} cells in the notebook, {len(source)} in the script)"
        )


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
    assert_every_figure_shows_in_html(nb)


def assert_every_figure_shows_in_html(nb: nbformat.NotebookNode) -> None:
    """Exported to HTML (nbconvert, as a reader without JupyterLab or a code host's preview sees it), every
    figure still shows: a plotly figure carries its HTML beside its mimetype (plotly.js inline once, before the
    first), a matplotlib figure its PNG, and widgets their saved state (which the page's widget manager draws)."""
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(nb)
    plotly_js_seen = False
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = data.get("text/html", "")
            plotly_js_seen = plotly_js_seen or ("plotly.js" in html.lower() and len(html) > 1_000_000)
            if "application/vnd.plotly.v1+json" in data:
                assert "plotly-graph-div" in html, f"cell {index}: a plotly figure with no HTML to show"
                assert plotly_js_seen, f"cell {index}: a plotly figure shown before plotly.js was put in the page"
                div = html.split('id="', 1)[1].split('"', 1)[0]
                assert f'id="{div}"' in page, f"cell {index}: the figure's HTML is not in the exported page"
            if "image/png" in data:
                assert data["image/png"][:40] in page, f"cell {index}: a PNG missing from the exported page"
            if "application/vnd.jupyter.widget-view+json" in data:
                model = data["application/vnd.jupyter.widget-view+json"]["model_id"]
                state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
                assert model in state.get("state", {}), f"cell {index}: a widget whose state was not saved"
                assert "application/vnd.jupyter.widget-state+json" in page
