"""The live editor: controls drive edits, the source run is reused, the figure follows the controls."""

from __future__ import annotations

import numpy as np
import pytest

from motionclr_lens import load_embedded
from motionclr_lens.edits import Erase, Ground, Reweight, TimeShift
from motionclr_lens.widgets import EDIT_KINDS, LiveEditor, build_edit


def test_build_edit_maps_controls_to_edits():
    edits, paired = build_edit("emphasis", "jumps", -0.4, (2, 5), (0, 39))
    assert edits == [Reweight(alpha=-0.4, word="jumps", steps=range(2, 6))] and not paired
    (erase,), _ = build_edit("erase", "jumps", 0.75, (0, 9), (10, 29), fps=20)
    assert isinstance(erase, Erase) and erase.factor == pytest.approx(0.25) and erase.seconds == (0.5, 1.5)
    (ground,), _ = build_edit("ground", "walks", 0.2, (0, 9), (20, 39))
    assert isinstance(ground, Ground) and ground.inside == 0.2 and ground.seconds == (1.0, 2.0)
    (shift,), paired = build_edit("time shift", None, 0.3, (0, 3), (0, 39))
    assert isinstance(shift, TimeShift) and paired and shift.ratio == 0.3
    assert build_edit("none", None, 0.0, (0, 9), (0, 39)) == ([], False)
    with pytest.raises(ValueError, match=r"unknown edit kind 'blur'; valid: \['emphasis'"):
        build_edit("blur", "jumps", 0.1, (0, 9), (0, 39))
    with pytest.raises(ValueError, match="needs a word"):
        build_edit("erase", None, 0.1, (0, 9), (0, 39))


@pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")
def test_live_editor_follows_its_controls():
    editor = LiveEditor(load_embedded(), "a person jumps and then walks forward", seconds=2.0, steps=5)
    assert editor.word.options == ("a", "person", "jumps", "and", "then", "walks", "forward")
    assert editor.word.value == "jumps" and editor.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    source = editor.last["source"]
    before = editor.image.value
    editor.strength.value = -1.0
    assert editor.last["source"] is source  # the source run is reused while only the edit changes
    assert editor.last["edits"] == [Reweight(alpha=-1.0, word="jumps", steps=range(0, 5))]
    assert editor.image.value != before
    edited = editor.last["edited"].generation.joints[0]
    assert not np.allclose(edited, source.generation.joints[0])  # the edit changed the motion
    editor.kind.value = "none"
    np.testing.assert_array_equal(editor.last["edited"].generation.joints[0], source.generation.joints[0])
    editor.prompt.value = "a person waves the left hand"
    assert "waves" in editor.word.options and editor.last["source"] is not source
    assert set(EDIT_KINDS) == set(editor.kind.options)
