"""The command line: the README's demo writes its outputs, refuses to overwrite, and inspects a model."""

from __future__ import annotations

import json

import numpy as np

from motionclr_lens.cli import main
from motionclr_lens.export import read_bvh


def test_demo_writes_motion_report_and_record(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet", "--seconds", "3"]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {"00_report.html", "00_features.npy", "00_joints.npy", "00_keyframes.png", "00_motion.bvh"}
    assert expected | {"00_motion.gif", "record.json"} == names
    joints = np.load(out / "00_joints.npy")
    assert joints.shape == (60, 22, 3)
    # a BVH skeleton is rigid: generated joints, whose bones drift slightly, come back within that drift
    error = np.linalg.norm(read_bvh(out / "00_motion.bvh").joints() - joints, axis=-1)
    assert error.mean() < 0.01 and error[:, 0].max() < 1e-5
    record = json.loads((out / "record.json").read_text())
    assert record["lengths"] == [60] and record["model"] == "embedded" and record["seed"] == 0
    page = (out / "00_report.html").read_text()
    assert "a person jumps three times, then walks forward" in page and "Word grounding" in page
    assert "cdn.plot.ly" not in page and page.count("Plotly.newPlot") == 3  # plotly.js inline, three figures
    printed = capsys.readouterr().out
    assert "generated 1 motion(s)" in printed and "00_report.html" in printed


def test_demo_never_overwrites_without_force(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    try:
        main(["demo", "--out", str(out), "--quiet"])
    except SystemExit as error:
        assert "exists and is not empty; pass --force" in str(error)
    else:
        raise AssertionError("the demo wrote into a folder that was not empty")
    assert (out / "keep.txt").read_text() == "mine"


def test_inspect_lists_the_layers(capsys):
    assert main(["inspect"]) == 0
    text = capsys.readouterr().out
    assert "18 self- and cross-attention layers" in text and "layer 17" in text
