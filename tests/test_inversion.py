"""Inversion of a given motion and regeneration from it, with and without edits."""

from __future__ import annotations

import numpy as np
import pytest

from motionclr_lens import load_embedded
from motionclr_lens.analysis import joints_of
from motionclr_lens.capture import capture
from motionclr_lens.edits import Replace, Reweight
from motionclr_lens.inversion import invert, regenerate, trailing_timesteps
from motionclr_lens.world import make_sample

pytestmark = pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")


@pytest.fixture(scope="module")
def pipe():
    return load_embedded()


@pytest.fixture(scope="module")
def sample():
    return make_sample(0, "test", 2)


def test_trailing_timesteps():
    assert trailing_timesteps(10) == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert trailing_timesteps(1) == [999]
    with pytest.raises(ValueError, match=r"steps must be an int in \[1, 1000\]"):
        trailing_timesteps(0)


def test_inversion_reconstructs_the_motion(pipe, sample):
    caption = sample.captions[0].text
    inv = invert(pipe, sample.features, caption, steps=5, refine=4)
    assert inv.timesteps == [199, 399, 599, 799, 999] and len(inv.trajectory) == 5
    # the fixed point holds above the lowest level: each state's DDIM step lands on the state below
    assert max(inv.residuals[1:]) < 0.02
    original = joints_of(sample.features)
    corrected = joints_of(regenerate(pipe, inv, smooth_sigma=None).features[0])
    pose = lambda j: j - j[:, :1]  # noqa: E731  (each frame relative to its pelvis)
    assert np.linalg.norm(pose(corrected) - pose(original), axis=-1).mean() < 0.005  # metres
    assert np.linalg.norm(corrected - original, axis=-1).mean() < 0.05  # the root integrates what is left
    plain = joints_of(regenerate(pipe, inv, smooth_sigma=None, correct=False).features[0])
    assert np.linalg.norm(pose(plain) - pose(original), axis=-1).mean() < 0.15
    # refinement is what makes the states consistent: plain DDIM inversion leaves larger residuals
    rough = invert(pipe, sample.features, caption, steps=5, refine=0)
    assert max(rough.residuals[1:]) > max(inv.residuals[1:])


def test_inversion_depth_and_capture(pipe, sample):
    with capture(kinds=("self",), head_mean=True) as cache:
        inv = invert(pipe, sample.features, sample.captions[0].text, steps=10, depth=0.3, refine=1)
    assert inv.timesteps == [99, 199, 299]
    assert cache.plan.timesteps == (299, 199, 99) and cache.steps("self", 0) == [0, 1, 2]
    out = regenerate(pipe, inv)
    assert out.features[0].shape == sample.features.shape


def test_regeneration_takes_edits(pipe, sample):
    caption = sample.captions[0]
    inv = invert(pipe, sample.features, caption.text, steps=5, refine=2)
    word = next(w for w, frames in zip(caption.words, caption.word_frames, strict=True) if frames)
    edited = regenerate(pipe, inv, edits=[Reweight(0.6, word=word)], smooth_sigma=None)
    same = regenerate(pipe, inv, smooth_sigma=None)
    assert not np.allclose(edited.features[0], same.features[0])
    target = caption.text.replace(word, "squats", 1)
    pair = regenerate(pipe, inv, prompts=[caption.text, target], edits=[Replace(source=0, target=1, word="squats")])
    assert len(pair) == 2
    np.testing.assert_allclose(pair.features[0], same.features[0], atol=1e-4)  # the source row is untouched


def test_inversion_rejects_bad_input(pipe, sample):
    text = sample.captions[0].text
    with pytest.raises(
        ValueError, match=r"scheduler 'dpmsolver' cannot be inverted deterministically; invertible: \['ddim'\]"
    ):
        invert(pipe, sample.features, text, scheduler="dpmsolver")
    with pytest.raises(ValueError, match=r"depth must be in \(0, 1\]"):
        invert(pipe, sample.features, text, depth=0.0)
    with pytest.raises(ValueError, match=r"features must have shape \(T, 263\)"):
        invert(pipe, sample.features[:, :100], text)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        invert(pipe, sample.features, " ")
