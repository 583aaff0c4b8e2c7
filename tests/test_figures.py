"""Paper figures: analysis results are data and viz draws them; the old name of the word-curves figure."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from motionclr_lens import viz
from motionclr_lens.analysis import GroundingScores, HeadStatistics, WordCurves, score_grounding, taxonomy
from motionclr_lens.viz import figures

PACKAGE = Path(__file__).resolve().parents[1] / "motionclr_lens"
WORDS = ["a", "person", "jumps", "then", "walks"]
FRAMES = [None, None, (0, 10), None, (10, 30)]
SEGMENTS = [None, None, 0, None, 1]


def curves() -> np.ndarray:
    c = np.full((5, 30), 0.05)
    c[2, :10] = 1.0
    c[4, 10:] = 1.0
    return c


def head_statistics() -> HeadStatistics:
    rng = np.random.default_rng(0)
    rows = []
    for kind in ("self", "cross"):
        for layer in range(3):
            for head in range(4):
                values = {m: float(rng.random()) for m in ("entropy", "locality", "periodicity", "grounding")}
                if kind == "self":
                    values["grounding"] = np.nan
                else:
                    values["locality"] = values["periodicity"] = np.nan
                rows.append({"kind": kind, "layer": layer, "head": head, **values})
    return HeadStatistics(rows)


def test_analysis_loads_no_viz_module():
    """Run in a fresh interpreter: other tests' imports would hide a module-level import of viz."""
    code = (
        "import json, sys\n"
        "import motionclr_lens.analysis, motionclr_lens.analysis.grounding, motionclr_lens.analysis.heads\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('motionclr_lens.viz'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_analysis_and_viz_import_no_private_name_of_another_module():
    offenders = []
    for path in sorted([*(PACKAGE / "analysis").glob("*.py"), *(PACKAGE / "viz").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                offenders += [
                    f"{path.name}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert offenders == []


def test_deprecated_word_curves_warns_and_still_draws():
    with pytest.warns(DeprecationWarning, match="word_curves_figure"):
        fig = viz.word_curves(curves(), WORDS, title="old name", truth=FRAMES)
    assert isinstance(fig, Figure)
    assert [line.get_label() for line in fig.axes[0].get_lines()][:5] == [
        "a (no frames)",
        "person (no frames)",
        "jumps",
        "then (no frames)",
        "walks",
    ]
    plt.close(fig)
    assert viz.word_curves_figure is figures.word_curves_figure


def test_plots_of_results_are_the_viz_figures():
    rows = score_grounding({"perfect": curves(), "reversed": curves()[:, ::-1]}, WORDS, FRAMES, SEGMENTS)
    scores = GroundingScores(rows)
    stats = head_statistics()
    tax = taxonomy(stats, clusters=2)
    pairs = [
        (WordCurves(WORDS, curves()).plot(title="t"), figures.word_curves_figure(curves(), WORDS, title="t")),
        (scores.plot(title="t"), figures.grounding_scores_figure(scores, title="t")),
        (stats.plot("cross"), figures.head_statistics_figure(stats, "cross")),
        (stats.plot("self", ["entropy"]), figures.head_statistics_figure(stats, "self", ["entropy"])),
        (tax.plot(title="t"), figures.head_taxonomy_figure(tax, "t")),
    ]
    for from_result, from_viz in pairs:
        assert isinstance(from_result, Figure)
        assert from_result.get_size_inches().tolist() == from_viz.get_size_inches().tolist()
        assert [a.get_title() for a in from_result.axes] == [a.get_title() for a in from_viz.axes]
        plt.close(from_result)
        plt.close(from_viz)
    assert [a.get_title() for a in stats.plot("self").axes[:3]] == [
        "self: entropy",
        "self: locality",
        "self: periodicity",
    ]
    plt.close("all")
