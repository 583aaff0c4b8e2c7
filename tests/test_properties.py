"""Property tests (hypothesis): the tokenizer's word spans, and the motion representation's invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motionclr_lens.motion import canonical_joints_to_features, canonicalize, joints_to_features, recover_from_ric
from motionclr_lens.text import get_tokenizer
from motionclr_lens.world import make_sample
from motionclr_lens.world.body import rot_y

TOKENIZER = get_tokenizer()
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
SEPARATORS = st.sampled_from([" ", "  ", ", ", ". ", " - ", "! ", "; "])


@st.composite
def prompts(draw) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=30))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


@settings(max_examples=150, deadline=None)
@given(prompts())
def test_word_spans_cover_the_words_and_own_their_tokens(prompt):
    t = TOKENIZER.tokenize_prompt(prompt)
    assert t.ids[0] == TOKENIZER.start_id and t.ids[-1] == TOKENIZER.end_id and len(t.ids) <= 77
    seen: list[int] = []
    for k, word in enumerate(t.words):
        a, b = word.chars
        assert word.index == k and t.cleaned[a:b] == word.text
        assert word.tokens and all(1 <= p <= len(t.ids) - 2 for p in word.tokens)
        assert list(word.tokens) == list(range(word.tokens[0], word.tokens[-1] + 1))  # contiguous
        assert not set(word.tokens) & set(seen)  # no token belongs to two words
        seen.extend(word.tokens)
        if not t.truncated:
            assert TOKENIZER.decode([t.ids[p] for p in word.tokens]) == word.text
    assert seen == sorted(seen)  # words in order
    if not t.truncated:
        words = [w for w in t.cleaned.replace(",", " ").replace(".", " ").replace("!", " ").replace(";", " ").split()]
        assert [w.text for w in t.words] == [w for w in words if w != "-"]


@pytest.fixture(scope="module")
def world_joints():
    sample = make_sample(0, "val", 11)
    return recover_from_ric(torch.as_tensor(sample.features)).numpy().astype(np.float64)


HALF_TURN = 0.01  # radians


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    yaw=st.floats(-np.pi, np.pi),
    shift=st.tuples(st.floats(-5, 5), st.floats(0, 0.5), st.floats(-5, 5)),
)
def test_features_do_not_depend_on_where_or_which_way(world_joints, yaw, shift):
    """HumanML3D features put the motion on the floor at the origin facing +z: moving and turning the
    joints first changes nothing (the first frame's root rotation is the reference).

    Up to float32, in which the rotations are computed, as HumanML3D computes them: within HALF_TURN of a half
    turn the rotation between the facing and +z is one between nearly opposite vectors, ill-conditioned, and the
    joints' 6D rotations move by up to 4e-3 (at 3.1413 rad; 2e-5 at 0.5 rad, 4e-5 at 3.13 rad)."""
    moved = world_joints @ rot_y(np.array(yaw)).T + np.array(shift)
    a = joints_to_features(world_joints)
    b = joints_to_features(moved)
    near_half_turn = np.pi - abs(yaw) < HALF_TURN
    rotations = np.s_[67:193]  # the 21 joints' 6D rotations
    np.testing.assert_allclose(b[:, rotations], a[:, rotations], atol=1e-2 if near_half_turn else 2e-4)
    rest = np.r_[0:67, 193:263]
    np.testing.assert_allclose(b[:, rest], a[:, rest], atol=5e-4 if near_half_turn else 2e-4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 100), length=st.integers(2, 56))
def test_features_decode_to_the_canonical_joints(world_joints, start, length):
    """Any clip of a motion, put on the floor at the origin facing +z, encodes to features that decode to
    those canonical joints (with successive headings kept continuous, as the world does)."""
    clip = world_joints[start : start + length + 1]
    canonical = np.asarray(canonicalize(clip, retarget_bones=False))
    features = canonical_joints_to_features(canonical, continuous_heading=True)
    assert features.shape == (len(clip) - 1, 263)
    decoded = recover_from_ric(torch.as_tensor(features)).numpy()
    np.testing.assert_allclose(decoded, canonical[:-1], atol=1e-5)
