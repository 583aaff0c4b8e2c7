"""Interactive plotly figures: the skeleton player, the linked attention view, the capture explorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import joints_of, word_curves
from motionclr_lens.capture import capture
from motionclr_lens.viz.interactive import attention_explorer, capture_explorer, skeleton_player
from motionclr_lens.world import make_sample


@pytest.fixture(scope="module")
def run():
    pipe = load_embedded()
    prompt = "a person jumps and then walks forward"
    with capture(kinds=("self", "cross"), head_mean=True) as cache:
        out = pipe.generate(prompt, lengths=40, steps=3, generator=torch.Generator().manual_seed(0))
    return pipe, prompt, out, cache


def test_skeleton_player_frames_follow_the_motion():
    joints = joints_of(make_sample(0, "val", 5).features)
    fig = skeleton_player(joints, max_frames=None)
    assert len(fig.frames) == len(joints)
    f = 7
    chains = fig.frames[f].data  # right leg, left leg, spine, right arm, left arm
    np.testing.assert_allclose(chains[0].x, joints[f, [0, 2, 5, 8, 11], 0], atol=1e-4)
    np.testing.assert_allclose(chains[0].z, joints[f, [0, 2, 5, 8, 11], 1], atol=1e-4)  # plotly's z is up
    assert [s.label for s in fig.layout.sliders[0].steps][:3] == ["0", "1", "2"]
    short = skeleton_player(joints, max_frames=10)
    assert len(short.frames) == 10 and short.frames[-1].name == str(len(joints) - 1)
    with pytest.raises(ValueError, match=r"joints must have shape"):
        skeleton_player(joints[:, :21])


def test_attention_explorer_shares_one_cursor(run):
    pipe, prompt, out, cache = run
    joints = out.joints[0]
    T = len(joints)
    curves = word_curves(cache, pipe.tokenizer.tokenize_prompt(prompt), frames=T)
    self_map = np.eye(T) * 0.5 + 0.5 / T
    fig = attention_explorer(joints, curves, self_map, max_frames=None)
    assert len(fig.frames) == T
    f = 11
    frame = fig.frames[f]
    cursors = [fig.data[i] for i in frame.traces[5:]]
    assert len(cursors) == 4  # words, curves, and two on the self-attention map
    xs = [list(d.x) for d in frame.data[5:]]
    assert xs[0] == [f, f] and xs[1] == [f, f] and xs[2] == [f, f]
    assert list(frame.data[-1].y) == [f, f]  # the horizontal cursor on the self map
    assert all(c.type == "scatter" for c in cursors)
    with pytest.raises(ValueError, match=r"self_map must have shape"):
        attention_explorer(joints, curves, np.eye(T + 1))
    with pytest.raises(ValueError, match=r"curves cover"):
        attention_explorer(joints[:-1], curves)


def test_capture_explorer_switches_layers_and_steps(run):
    pipe, prompt, out, cache = run
    words = pipe.tokenizer.tokenize_prompt(prompt).words
    for kind in ("self", "cross"):
        kwargs = (
            {"words": [w.text for w in words], "token_columns": [w.tokens for w in words]} if kind == "cross" else {}
        )
        fig = capture_explorer(cache, kind, frames=out.lengths[0], **kwargs)
        layers = cache.layers(kind)
        assert len(fig.data) == sum(len(cache.steps(kind, layer)) for layer in layers)
        assert sum(bool(t.visible) for t in fig.data) == 1
        buttons = fig.layout.updatemenus[0].buttons
        assert len(buttons) == len(layers)
        for button in buttons:
            assert sum(button.args[0]["visible"]) == 1
        steps = fig.layout.sliders[0].steps
        assert len(steps) == len(cache.steps(kind, layers[0]))
        for k, step in enumerate(steps):
            visible, ids = step.args
            assert visible["visible"].index(True) == k and len(ids) == len(steps)
        span = (-0.5, out.lengths[0] - 0.5)  # the axes fit the motion's frames
        assert tuple(fig.layout.xaxis.range) == span
        if kind == "self":
            assert tuple(fig.layout.yaxis.range) == span[::-1] and fig.layout.xaxis.constrain == "domain"
        if kind == "cross":
            assert list(fig.data[0].y) == [w.text for w in words]
            np.testing.assert_allclose(np.asarray(fig.data[0].z).sum(0) <= 1.0 + 1e-5, True)
    with pytest.raises(ValueError, match=r"kind 'both'; valid: 'self', 'cross'"):
        capture_explorer(cache, "both")
