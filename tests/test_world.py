"""The procedural motion world: determinism, physics, ground truth, splits, captions, the folder format."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from motionclr_lens.data import load_humanml3d
from motionclr_lens.motion import TARGET_BONE_LENGTHS, bone_lengths, recover_from_ric
from motionclr_lens.physics import floor_penetration, foot_skating
from motionclr_lens.text import get_tokenizer
from motionclr_lens.world import ACTIONS, combo_held_out, generate, make_sample, write_humanml3d
from motionclr_lens.world.actions import Clip
from motionclr_lens.world.body import render
from motionclr_lens.world.captions import FUNCTION_WORDS, HELD_OUT_TEMPLATE, PHRASES


@pytest.fixture(scope="module")
def samples():
    return generate("train", 40, seed=3)


def test_deterministic_by_seed():
    a, b, c = make_sample(1, "train", 7), make_sample(1, "train", 7), make_sample(1, "train", 8)
    assert np.array_equal(a.features, b.features) and [x.text for x in a.captions] == [x.text for x in b.captions]
    assert a.features.shape != c.features.shape or not np.array_equal(a.features, c.features)


def test_lengths_and_shapes(samples):
    for s in samples:
        assert 40 <= s.frames <= 196
        assert s.features.shape == (s.frames, 263) and s.joints.shape == (s.frames, 22, 3)
        assert np.isfinite(s.features).all()


def test_features_decode_to_the_joints(samples):
    for s in samples:
        decoded = recover_from_ric(torch.from_numpy(s.features)).numpy()
        np.testing.assert_allclose(decoded, s.joints, atol=1e-4, rtol=0)


def test_bones_keep_the_target_lengths(samples):
    for s in samples:
        for frame in (0, s.frames // 2, s.frames - 1):
            np.testing.assert_allclose(bone_lengths(s.joints[frame]), TARGET_BONE_LENGTHS, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_every_action_is_physical(kind):
    """Each action alone: nothing under the floor, planted toes do not slide, repetitions inside the clip."""
    clip: Clip | None = ACTIONS[kind].make(np.random.default_rng(11), 196)
    assert clip is not None
    joints = render(clip.pose)
    assert floor_penetration(joints)[1] < 1e-6
    speed, ratio = foot_skating(joints)
    assert speed < 0.05 and ratio < 0.2, (speed, ratio)
    assert all(0 <= r < clip.frames for r in clip.reps)
    if ACTIONS[kind].countable:
        assert len(clip.reps) == clip.attrs["count"]


def test_ground_truth_is_consistent(samples):
    tokenizer = get_tokenizer()
    for s in samples:
        labels = s.frame_labels()
        for i, seg in enumerate(s.segments):
            assert 0 <= seg.start < seg.end <= s.frames
            assert (labels[seg.start : seg.end] == i).all()
            assert all(seg.start <= r < seg.end for r in seg.reps)
        for c in s.captions:
            words = tokenizer.tokenize_prompt(c.text).words
            assert [w.text for w in words] == c.words  # the tokenizer's words, one ground truth each
            for word, frames, seg in zip(c.words, c.word_frames, c.word_segments, strict=True):
                if word in FUNCTION_WORDS:
                    assert frames is None
                if seg is not None:
                    assert frames == (s.segments[seg].start, s.segments[seg].end)
            assert any(f is not None for f in c.word_frames)


def test_counts_in_captions_match(samples):
    numbers = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    checked = 0
    for s in samples:
        for c in s.captions:
            for seg_index, stated in enumerate(c.states_count):
                seg = s.segments[seg_index]
                if not stated:
                    continue
                words = [w for w, g in zip(c.words, c.word_segments, strict=True) if g == seg_index]
                said = [numbers.get(w, int(w) if w.isdigit() else None) for w in words]
                said = [n for n in said if n is not None]
                assert seg.count in said, (c.text, seg.count)
                checked += 1
    assert checked > 10


def test_splits_hold_out_combinations_and_templates():
    train = generate("train", 60, seed=4)
    test = generate("test", 20, seed=4)
    for s in train:
        kinds = tuple(g.kind for g in s.segments)
        assert not combo_held_out(kinds)
        for c in s.captions:
            for kind, template in zip(kinds, c.templates, strict=True):
                assert not (template == HELD_OUT_TEMPLATE and len(PHRASES[kind]) > HELD_OUT_TEMPLATE)
    for s in test:
        assert s.held_out
        if s.index % 2 == 0:
            assert combo_held_out(tuple(g.kind for g in s.segments))


def test_held_out_templates_use_only_words_of_training_templates():
    """The compositional test recombines known words: a text encoder trained from scratch cannot know a
    word that only held-out templates use."""

    def words(template: str) -> set[str]:
        return set(re.sub(r"\{nn:([^}]*)\}", r"\1", re.sub(r"\{[a-z]+\}", " ", template)).split())

    seen = {
        w for phrases in PHRASES.values() for i, t in enumerate(phrases) if i != HELD_OUT_TEMPLATE for w in words(t)
    }
    held = [t for phrases in PHRASES.values() if len(phrases) > HELD_OUT_TEMPLATE for t in [phrases[HELD_OUT_TEMPLATE]]]
    unseen = {t: sorted(words(t) - seen) for t in held if words(t) - seen}
    assert len(held) > 25
    assert not unseen, unseen


def _verbs(template: str) -> list[str]:
    """The verbs of a template: its first word and each word after "and"; for "does" and "performs", the last
    word of what is done ("does {nn:forward jump}" -> "jump")."""
    words = re.sub(r"\{nn:([^}]*)\}", r"\1", re.sub(r"\{[a-z]+\}", " ", template)).split()
    verbs = []
    for i, word in enumerate(words):
        if i == 0 or words[i - 1] == "and":
            if word in ("does", "performs"):
                counted = re.search(r"\{nn:([^}]*)\}", template)
                word = counted.group(1).split()[-1] if counted else words[-1]
            verbs.append(word)
    return verbs


def test_held_out_templates_say_their_own_action():
    """A held-out template's verb is one its own family's training templates use ("walk" for walk_circle, "jump"
    for jump_forward); where another family's training templates use it too, the template also holds a word of
    its own family that none of those templates has ("steps sideways": "steps" is also side_steps' verb, but
    side steps never go "sideways"). Otherwise the words training teaches name another action: "runs slowly
    forward" for a jog reads as a slow run, which the world makes too, and "circles around" for a walk in a
    circle has arm circles' verb and no gait."""

    def family(kind: str) -> str:
        return kind.split("_")[0]

    def content(template: str) -> set[str]:
        text = re.sub(r"\{nn:([^}]*)\}", r"\1", re.sub(r"\{[a-z]+\}", " ", template))
        return {w for w in text.split() if w not in FUNCTION_WORDS}

    training = [(k, t) for k, ts in PHRASES.items() for i, t in enumerate(ts) if i != HELD_OUT_TEMPLATE]
    assert _verbs("does {nn:forward jump}") == ["jump"] and _verbs("bends down and squats {n}") == ["bends", "squats"]
    problems = {}
    for kind, templates in PHRASES.items():
        if len(templates) <= HELD_OUT_TEMPLATE:
            continue
        held, own = templates[HELD_OUT_TEMPLATE], family(kind)
        own_templates = [t for k, t in training if family(k) == own]
        own_words = {w for t in own_templates for w in content(t)}
        if not set(_verbs(held)) & {v for t in own_templates for v in _verbs(t)}:
            problems[kind] = f"{held!r}: no verb of the {own} family's training templates"
        for verb in _verbs(held):
            others = [t for k, t in training if family(k) != own and verb in _verbs(t)]
            other_words = {w for t in others for w in content(t)}
            if others and not (content(held) - other_words) & own_words:
                problems[kind] = f"{held!r}: {verb!r} is the verb of {others} and nothing else tells them apart"
    assert not problems, problems


def test_bad_split():
    with pytest.raises(ValueError, match=r"unknown split 'dev'; valid: \['train', 'val', 'test'\]"):
        make_sample(0, "dev", 0)


def test_humanml3d_folder_round_trip(tmp_path, samples):
    extra = generate("test", 4, seed=3)
    folder = write_humanml3d(tmp_path / "world", list(samples[:10]) + extra)
    train = load_humanml3d(folder, "train")
    assert len(train) == 10
    assert np.array_equal(train[0].features, samples[0].features)
    assert train[0].captions == [c.text for c in samples[0].captions]
    assert len(load_humanml3d(folder, "test")) == 4
    mean, std = np.load(folder / "Mean.npy"), np.load(folder / "Std.npy")
    assert mean.shape == std.shape == (263,) and (std > 0).all()
    with pytest.raises(FileNotFoundError, match="no split file"):
        load_humanml3d(folder, "holdout")
