"""The procedural motion world: determinism, physics, ground truth, splits, captions, the folder format; the
base world's pinned draws and the extended world's out-of-order captions, unequal lengths and overlaid actions."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
import torch

from motionclr_lens.analysis import COUNTABLE, count_repetitions, joints_of
from motionclr_lens.data import load_humanml3d
from motionclr_lens.motion import TARGET_BONE_LENGTHS, bone_lengths, recover_from_ric
from motionclr_lens.physics import floor_penetration, foot_skating
from motionclr_lens.text import get_tokenizer
from motionclr_lens.world import ACTIONS, WORLDS, combo_held_out, generate, make_sample, write_humanml3d
from motionclr_lens.world.actions import Clip
from motionclr_lens.world.body import render
from motionclr_lens.world.captions import FUNCTION_WORDS, HELD_OUT_TEMPLATE, NUMBER_WORDS, PHRASES, gerund
from motionclr_lens.world.compose import OVERLAID, OVERLAY_ON

NUMBERS = {"once": 1, "twice": 2, **{word: n for n, word in NUMBER_WORDS.items()}}


@pytest.fixture(scope="module")
def samples():
    return generate("train", 40, seed=3)


@pytest.fixture(scope="module")
def extended():
    return generate("val", 200, seed=5, world="extended")


# The base world as it was drawn when the shipped model was trained on it, before the extended world existed:
# a digest of features, joints, captions and ground truth of six samples of each split (seed 0). Any change to
# what the base world draws fails here. The digest is of float bytes, so it pins the numpy of one platform.
BASE_WORLD_DIGESTS = {
    "train": {0: "360c680aaed357ba", 1: "afc89a4d71f32596", 2: "f3a9a7483ff0009f", 3: "afcf9fce46dc4d64",
              5: "267c3f4499e9bc85", 8: "8e547641a2f59dc6"},
    "val": {0: "35c69b602a5c69fa", 1: "a062905346fa50d1", 2: "afbd287fafd5e51f", 3: "14e01520762be4af",
            5: "a6959829c68819a2", 8: "5d49677d2b7f6f5d"},
    "test": {0: "3fce39dc3e6a0ffc", 1: "f8be71b3548e3d8f", 2: "965a34f170b3732f", 3: "f738cab305c517e6",
             5: "07fea8a960b59323", 8: "166862ce57251d97"},
}  # fmt: skip
BASE_WORLD_FIRST_CAPTIONS = {
    ("train", 5): "a person does four squats quickly. after that, claps hands 3 times slowly, and runs in a curve to "
    "the left.",
    ("val", 2): "someone punches forward with their left hand, after that kicks forward with the right foot once, and "
    "then slowly walks backwards.",
    ("test", 8): "someone punches with the right hand four times. after that, bows. after that, quickly runs forward",
}


def _digest(sample) -> str:
    h = hashlib.sha256()
    h.update(sample.features.tobytes())
    h.update(sample.joints.tobytes())
    fields = [[c.text, c.words, c.word_frames, c.word_segments, c.templates, c.states_count] for c in sample.captions]
    h.update(json.dumps(fields).encode())
    segments = [
        [g.kind, g.start, g.end, sorted((k, str(v)) for k, v in g.attrs.items()), g.reps] for g in sample.segments
    ]
    h.update(json.dumps(segments).encode())
    h.update(json.dumps(sample.held_out).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_base_world_draws_as_it_always_did(split):
    for index, digest in BASE_WORLD_DIGESTS[split].items():
        sample = make_sample(0, split, index)
        assert _digest(sample) == digest, (split, index, sample.captions[0].text)
        assert make_sample(0, split, index, world="base").captions[0].text == sample.captions[0].text
        if (split, index) in BASE_WORLD_FIRST_CAPTIONS:
            assert sample.captions[0].text == BASE_WORLD_FIRST_CAPTIONS[split, index]
        assert sample.world == "base" and all(g.during is None for g in sample.segments)
        for c in sample.captions:
            assert c.phrase_order == list(range(len(sample.segments))) and not c.order_reversed


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
    """Each action alone: nothing under the floor, planted toes do not slide, repetitions inside the clip; in the
    base world's draw and in the extended world's, asked for short and long clips."""
    clips: list[Clip | None] = [ACTIONS[kind].make(np.random.default_rng(11), 196)]
    clips += [
        ACTIONS[kind].make(np.random.default_rng(s), 196, target=t, variety=True) for s in (11, 12) for t in (40, 150)
    ]
    for clip in clips:
        assert clip is not None
        joints = render(clip.pose)
        assert floor_penetration(joints)[1] < 1e-6
        speed, ratio = foot_skating(joints)
        assert speed < 0.05 and ratio < 0.2, (speed, ratio, clip.attrs)
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


@pytest.mark.parametrize("world", WORLDS)
def test_splits_hold_out_combinations_and_templates(world):
    train = generate("train", 60, seed=4, world=world)
    test = generate("test", 20, seed=4, world=world)
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


# --- the extended world ----------------------------------------------------------------------------------------


def test_bad_world():
    with pytest.raises(ValueError, match=r"unknown world 'real'; valid: \['base', 'extended'\]"):
        make_sample(0, "train", 0, world="real")
    with pytest.raises(ValueError, match=r"unknown world 'real'; valid: \['base', 'extended'\]"):
        generate("train", 2, world="real")
    assert WORLDS == ("base", "extended")


def test_extended_is_deterministic_and_its_own(extended):
    again = make_sample(5, "val", 7, world="extended")
    assert np.array_equal(again.features, extended[7].features) and again.world == "extended"
    assert [c.text for c in again.captions] == [c.text for c in extended[7].captions]
    base = make_sample(5, "val", 7)
    assert base.features.shape != again.features.shape or not np.array_equal(base.features, again.features)


def test_extended_samples_render(extended):
    for s in extended[:60]:
        assert 40 <= s.frames <= 196 and np.isfinite(s.features).all()
        assert s.features.shape == (s.frames, 263) and s.joints.shape == (s.frames, 22, 3)
        decoded = recover_from_ric(torch.from_numpy(s.features)).numpy()
        np.testing.assert_allclose(decoded, s.joints, atol=1e-4, rtol=0)
    assert all(np.isfinite(s.features).all() for s in extended)
    assert floor_penetration(np.concatenate([s.joints for s in extended]))[1] < 1e-4


def _action_words(kind: str) -> set[str]:
    """Every word a phrase of `kind` can say, in either verb form, with its counts, sides and manner."""
    words = {"once", "twice", "time", "times", "left", "right", "both", "arm", "his", "her", "their", "slowly",
             "quickly", "clockwise", "counterclockwise", *NUMBER_WORDS.values(), *map(str, NUMBER_WORDS)}  # fmt: skip
    for template in PHRASES[kind]:
        for form in (template, gerund(template)):
            text = re.sub(r"\{nn:([^}]*)\}", lambda m: f"{m.group(1)} {m.group(1)}s {m.group(1)}es", form)
            words |= set(re.sub(r"\{[a-z]+\}", " ", text).split())
    return words


def test_extended_words_know_their_frames_whatever_the_order(extended):
    """Every word of an action phrase refers to its own action's frames, whether the caption says the actions
    in the order they happen or not; connectives, the subject and its pronoun refer to none."""
    tokenizer = get_tokenizer()
    reversed_checked = 0
    for s in extended:
        main = [i for i, g in enumerate(s.segments) if g.during is None]
        for c in s.captions:
            assert [w.text for w in tokenizer.tokenize_prompt(c.text).words] == c.words
            assert sorted(c.phrase_order) == list(range(len(s.segments)))
            in_time = sorted(c.phrase_order, key=lambda i: (s.segments[i].start, i))
            assert c.order_reversed == (c.phrase_order != in_time)
            said = [
                g for k, g in enumerate(c.word_segments) if g is not None and (k == 0 or c.word_segments[k - 1] != g)
            ]
            runs = [g for k, g in enumerate(said) if k == 0 or said[k - 1] != g]
            assert runs == c.phrase_order, (c.text, runs)  # each phrase is one stretch of words
            for word, frames, seg in zip(c.words, c.word_frames, c.word_segments, strict=True):
                if word in FUNCTION_WORDS or word in ("person", "someone", "human", "man", "woman"):
                    assert seg is None and frames is None, (word, c.text)
                if seg is not None:
                    g = s.segments[seg]
                    assert frames == (g.start, g.end)
                    assert word in _action_words(g.kind), (word, g.kind, c.text)
            if c.order_reversed and ", but first " in c.text:
                # "X, but first Y": Y's words are those of the first action in time (or of one laid over it)
                after = next(k for k in range(len(c.words) - 1) if c.words[k : k + 2] == ["but", "first"])
                first_said = next(g for g in c.word_segments[after:] if g is not None)
                assert first_said == main[0] or s.segments[first_said].during == main[0], c.text
                reversed_checked += 1
    assert reversed_checked > 10


def test_extended_captions_say_actions_out_of_order(extended):
    """About 40 to 50 % of the captions of sequences of actions say them in another order than they happen,
    with "after" and "before" in both kinds of caption, so neither word nor position tells the order."""
    multi = [c for s in extended for c in s.captions if len(s.segments) >= 2]
    share = np.mean([c.order_reversed for c in multi])
    assert 0.4 <= share <= 0.55, share
    for word in ("after", "before"):
        said = [c.order_reversed for c in multi if word in c.words]
        assert 0.2 < np.mean(said) < 0.9, (word, np.mean(said))
    assert {len(s.segments) for s in extended} >= {1, 2, 3, 4}


def test_extended_lengths_are_unequal(extended):
    """In a sequence of two actions the first takes anywhere from about 15 to 85 % of the motion."""
    shares = []
    for s in extended:
        main = [g for g in s.segments if g.during is None]
        if len(main) == 2:
            shares.append((main[0].end - main[0].start) / (main[1].end - main[0].start))
    low, high = np.percentile(shares, [10, 90])
    assert len(shares) > 50
    assert low < 0.3 and high > 0.7 and np.std(shares) > 0.15, (low, high, np.std(shares))


def test_extended_overlaid_actions(extended):
    """An arm action overlaid on walking or jogging lies within its frames, and the caption says the two at once."""
    overlaid = [(s, g) for s in extended for g in s.segments if g.during is not None]
    assert len(overlaid) > 15
    for s, g in overlaid:
        under = s.segments[g.during]
        assert under.kind in OVERLAY_ON and g.kind in OVERLAID
        assert under.start <= g.start < g.end <= under.end
        assert (s.frame_labels()[g.start : g.end] == s.segments.index(g)).all()
        for c in s.captions:
            a, b = c.phrase_order.index(g.during), c.phrase_order.index(s.segments.index(g))
            assert abs(a - b) == 1 and "while" in c.words


def test_extended_counts_are_exact(extended):
    """Repetitions: as many as the count, inside their segment, said right in captions (up to "eight"), and the
    joint-based counter finds them on the decoded motion."""
    pairs = []
    for s in extended:
        joints = joints_of(s.features)
        for i, g in enumerate(s.segments):
            if not ACTIONS[g.kind].countable:
                continue
            assert len(g.reps) == g.count and all(g.start <= r < g.end for r in g.reps)
            pairs.append((g.count, count_repetitions(joints, g.kind, g.start, g.end).count))
            for c in s.captions:
                if c.states_count[i]:
                    words = [w for w, k in zip(c.words, c.word_segments, strict=True) if k == i]
                    said = [NUMBERS.get(w, int(w) if w.isdigit() else None) for w in words]
                    # "a jumping jack": the article, a function word, says one
                    assert g.count in said or (g.count == 1 and not any(said)), (c.text, g.count)
    assert all(kind in COUNTABLE for kind in ACTIONS if ACTIONS[kind].countable)
    truth, counted = np.array(pairs).T
    assert len(pairs) > 150
    assert (truth == counted).mean() >= 0.97, [p for p in pairs if p[0] != p[1]]


def test_extended_fast_hops_are_counted():
    """A series of one-foot hops at a real cadence (a hop every 8 to 10 frames, 4 to 8 of them), travelling."""
    fast = []
    for seed in range(40):
        clip = ACTIONS["hop"].make(np.random.default_rng(seed), 196, variety=True)
        if clip is not None and "period" in clip.attrs:
            fast.append(clip)
    assert len(fast) > 10
    for clip in fast:
        assert 8 <= clip.attrs["period"] <= 10 and 4 <= clip.attrs["count"] <= 8
        assert np.diff(clip.reps).max() <= 10
        joints = render(clip.pose)
        assert count_repetitions(joints, "hop").count == clip.attrs["count"]
    assert max(c.pose.root[-1, 2] - c.pose.root[0, 2] for c in fast) > 0.5  # they travel


def test_extended_variety():
    """Deep squats lean forward with the arms forward; arm circles are small and large; kicks lean both ways."""
    rng = np.random.default_rng(0)
    squats = [ACTIONS["squat"].make(rng, 196, variety=True) for _ in range(40)]
    deep = [c for c in squats if c is not None and c.attrs["depth"] > 0.5]
    assert deep and all(c.pose.spine[:, 0].max() > 0.7 and c.pose.arms[:, :, 0].max() > 1.4 for c in deep)
    circles = [ACTIONS["arm_circles"].make(rng, 196, variety=True) for _ in range(40)]
    amplitudes = [c.attrs["amplitude"] for c in circles if c is not None]
    assert min(amplitudes) < 0.35 and max(amplitudes) > 0.65
    kicks = [ACTIONS["kick"].make(rng, 196, variety=True) for _ in range(40)]
    leans = [c.attrs["lean"] for c in kicks if c is not None]
    assert min(leans) < -0.35 and max(leans) > 0.1


def test_extended_folder_round_trip(tmp_path, extended):
    folder = write_humanml3d(tmp_path / "extended", extended[:5], stats_from="val")
    assert load_humanml3d(folder, "val")[2].captions == [c.text for c in extended[2].captions]
    truth = json.loads((folder / "ground_truth" / "val_000002.json").read_text())
    assert truth["world"] == "extended"
    assert [c["phrase_order"] for c in truth["captions"]] == [c.phrase_order for c in extended[2].captions]
