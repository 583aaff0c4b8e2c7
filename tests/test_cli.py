"""The command line: the README's demo writes its outputs, refuses to overwrite, and inspects a model."""

from __future__ import annotations

import json

import numpy as np

from motionclr_lens.cli import main


def test_demo_writes_motion_figures_and_record(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet", "--seconds", "3"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"00_features.npy", "00_joints.npy", "00_keyframes.png", "00_words.png", "record.json"} <= names
    assert np.load(out / "00_joints.npy").shape == (60, 22, 3)
    record = json.loads((out / "record.json").read_text())
    assert record["lengths"] == [60] and record["model"] == "embedded" and record["seed"] == 0
    assert "wrote 1 motion(s)" in capsys.readouterr().out


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
