"""Reading actions and repetitions off joints: descriptors, the repetition counter, the action recogniser."""

from __future__ import annotations

import numpy as np
import pytest

from motionclr_lens.analysis import (
    COUNTABLE,
    ActionRecogniser,
    count_repetitions,
    decode_segments,
    joints_of,
    motion_descriptor,
)
from motionclr_lens.world import ACTIONS, generate
from motionclr_lens.world.body import rot_y


@pytest.fixture(scope="module")
def val_samples():
    return generate("val", 240, seed=3, workers=1)


@pytest.fixture(scope="module")
def test_samples():
    return generate("test", 160, seed=3, workers=1)


def test_descriptor_ignores_where_and_which_way(val_samples):
    joints = joints_of(val_samples[0].features).astype(np.float64)
    moved = joints @ rot_y(np.array(1.1)).T + np.array([3.0, 0.0, -2.0])
    np.testing.assert_allclose(motion_descriptor(moved), motion_descriptor(joints), atol=2e-5)


def test_counts_match_the_world(val_samples):
    """Every countable action of the world, counted on joints decoded from its features."""
    pairs = [
        (seg.count, count_repetitions(joints_of(s.features), seg.kind, seg.start, seg.end).count)
        for s in val_samples
        for seg in s.segments
        if seg.kind in COUNTABLE and seg.count
    ]
    truth, counted = np.array(pairs).T
    assert len(pairs) > 100
    assert (truth == counted).mean() >= 0.97, [p for p in pairs if p[0] != p[1]]
    assert (abs(truth - counted) <= 1).all()
    assert set(COUNTABLE) == {k for k, spec in ACTIONS.items() if spec.countable}


def test_count_repetitions_rejects_bad_input(val_samples):
    joints = joints_of(val_samples[0].features)
    with pytest.raises(ValueError, match=r"walk_forward.*countable actions"):
        count_repetitions(joints, "walk_forward")
    with pytest.raises(ValueError, match="bad frame range"):
        count_repetitions(joints, "jump", 10, 5)
    with pytest.raises(ValueError, match="joints must have shape"):
        count_repetitions(joints[:, :5], "jump")


def test_decode_segments_absorbs_short_runs():
    labels = np.array([0] * 20 + [1] * 3 + [0] * 15 + [2] * 30 + [1] * 4)
    segments = decode_segments(labels, ["a", "b", "c"], min_frames=10)
    assert [(s.kind, s.start, s.end) for s in segments] == [("a", 0, 38), ("c", 38, 72)]
    one = decode_segments(np.array([1] * 5), ["a", "b"], min_frames=10)
    assert [(s.kind, s.start, s.end) for s in one] == [("b", 0, 5)]


def test_default_recogniser_reads_the_world(test_samples):
    """The shipped recogniser, on held-out world motions: the action of single-action samples, and every
    segment in order for 2- and 3-action ones."""
    recogniser = ActionRecogniser.default()
    single, multi = [], []
    for s in test_samples:
        joints = joints_of(s.features)
        kinds = [seg.kind for seg in s.segments]
        if len(kinds) == 1:
            single.append(recogniser.main_action(joints) == kinds[0])
        else:
            multi.append([seg.kind for seg in recogniser.segments(joints)] == kinds)
    assert len(single) >= 20 and len(multi) >= 60
    assert np.mean(single) >= 0.9
    assert np.mean(multi) >= 0.8


@pytest.fixture(scope="module")
def extended_test_samples():
    return generate("test", 400, seed=3, workers=1, world="extended")


def test_default_recogniser_reads_the_extended_world(extended_test_samples):
    """The shipped recogniser, on held-out motions of the extended world: the action of single-action samples;
    every fast series of one-foot hops and every deep squat, cut out at its own frames (styles the base world
    does not draw); and an arm action overlaid on walking or jogging, which labels its frames as
    `frame_labels()` of the world does."""
    recogniser = ActionRecogniser.default()
    single, fast_hops, deep_squats, overlaid = [], [], [], []
    for s in extended_test_samples:
        joints = joints_of(s.features)
        labels = recogniser.frame_labels(joints)
        if len(s.segments) == 1:
            single.append(recogniser.main_action(joints) == s.segments[0].kind)
        for seg in s.segments:
            if seg.during is not None:
                overlaid.append(np.mean(labels[seg.start : seg.end] == recogniser.classes.index(seg.kind)))
            elif seg.kind == "hop" and "period" in seg.attrs:
                fast_hops.append(recogniser.main_action(joints[seg.start : seg.end]) == "hop")
            elif seg.kind == "squat" and seg.attrs.get("depth", 0.0) > 0.42:
                deep_squats.append(recogniser.main_action(joints[seg.start : seg.end]) == "squat")
    assert len(single) >= 30 and len(fast_hops) >= 10 and len(deep_squats) >= 10 and len(overlaid) >= 50
    assert np.mean(single) >= 0.95
    assert np.mean(fast_hops) >= 0.9
    assert np.mean(deep_squats) >= 0.9
    assert np.mean(overlaid) >= 0.97
