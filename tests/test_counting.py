"""The one counting recipe, its model-free baseline, the key capture it reads, and the grounding baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import (
    align_phrases,
    count_from_attention,
    count_from_features,
    count_from_matrix,
    diagonal_profile,
    estimate_period,
    score_grounding,
    similarity_matrix,
)
from motionclr_lens.analysis.baselines import (
    bootstrap_difference,
    bootstrap_interval,
    pelvis_peaks,
    phrase_order,
    word_order_prior,
)
from motionclr_lens.analysis.counting import UPSAMPLE
from motionclr_lens.capture import capture_keys
from motionclr_lens.hooks import active_hooks
from motionclr_lens.world import make_sample


def cycles(n: int, period: float, lead: int, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """(T, 6) vectors of a body moving through `n` cycles of `period` frames, standing still before and after."""
    rng = np.random.default_rng(seed)
    T = int(2 * lead + round(n * period))
    t = np.arange(T)
    phase = np.clip((t - lead) / period, 0, n) * 2 * np.pi
    active = ((t >= lead) & (t < lead + n * period)).astype(float)
    x = np.stack([np.cos(phase) * active, np.sin(phase) * active, 0.5 * np.sin(2 * phase) * active, 1 - active], 1)
    x = np.concatenate([x, 0.02 * t[:, None] / T * np.ones((1, 2))], 1)
    return x + noise * rng.normal(size=x.shape)


@pytest.mark.parametrize(
    ("n", "period", "lead"), [(2, 30, 8), (3, 20, 6), (4, 16, 10), (5, 12, 4), (6, 8, 6), (8, 6, 5), (7, 7, 3)]
)
def test_recipe_counts_cycles_down_to_six_frames(n, period, lead):
    result = count_from_matrix(similarity_matrix(cycles(n, period, lead), 0.1))
    assert result.count == n, result.describe()
    assert abs(result.period - period) <= 0.15 * period
    assert result.found and f"{n} repetitions" in result.describe()


def test_recipe_says_no_repetition_instead_of_one():
    still = cycles(1, 40, 10)  # one cycle: nothing repeats
    result = count_from_matrix(similarity_matrix(still, 0.1))
    assert result.count is None and not result.found and result.describe() == "no repetition found"
    ramp = np.linspace(0, 1, 60)[:, None] * np.ones((1, 4))  # a motion that only drifts
    assert count_from_matrix(similarity_matrix(ramp, 0.1)).count is None


def test_recipe_window_and_bad_input():
    x = cycles(4, 15, 20)
    sim = similarity_matrix(x, 0.1)
    assert count_from_matrix(sim, 20, 80).count == 4
    assert count_from_matrix(sim, 20, 80).window == (20, 80)
    with pytest.raises(ValueError, match="must be square"):
        count_from_matrix(sim[:, :10])
    with pytest.raises(ValueError, match="bad frame window"):
        count_from_matrix(sim, 50, 40)
    with pytest.raises(ValueError, match="too short"):
        count_from_matrix(sim, 0, 8)
    with pytest.raises(ValueError, match="prominence must be in"):
        count_from_matrix(sim, prominence=1.5)
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf at frames \[7\]"):
        similarity_matrix(bad, 0.1)
    with pytest.raises(ValueError, match="sharpness must be a positive"):
        similarity_matrix(x, 0.0)


def test_estimate_period_prefers_the_period_to_its_multiples():
    sim = similarity_matrix(cycles(6, 10, 5), 0.1)
    period, strength = estimate_period(diagonal_profile(sim))
    assert abs(period - 10) <= 1 and strength > 0
    flat = np.ones(40)
    period, strength = estimate_period(flat)
    assert np.isnan(period) and strength == 0.0


@pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")
def test_capture_keys_per_run_and_hooks_gone():
    pipe = load_embedded()
    sample = make_sample(0, "val", 1)
    with capture_keys(layers=[16, 17]) as keys:
        pipe.probe(sample.features, sample.captions[0].text, generator=torch.Generator().manual_seed(0))
        first = keys[(17, 0)].clone()
        assert keys.layers() == [16, 17] and keys.steps(17) == [0]
        assert first.shape[:2] == (1, keys.plan.resolutions[17])
        pipe.generate("a person jumps", lengths=40, steps=3, generator=torch.Generator().manual_seed(0))
        assert keys.steps(17) == [0, 1, 2]  # the second run replaced the first
    with capture_keys(layers=[17], last_step_only=True) as last:
        pipe.generate("a person jumps", lengths=40, steps=3, generator=torch.Generator().manual_seed(0))
    assert last.steps(17) == [2] and torch.allclose(last[(17, 2)], keys[(17, 2)], atol=1e-4)
    assert active_hooks() == ()
    assert keys[(17, 2)].shape[1] == keys.plan.resolutions[17] != first.shape[1]
    with pytest.raises(KeyError, match="captured layers"):
        keys[(3, 0)]
    with pytest.raises(ValueError, match="point must be"), capture_keys(point="v"):
        pass


@pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")
def test_count_from_attention_on_the_embedded_model():
    """On world motions of two or more repetitions the recipe counts most right, and identical probes (same
    generator) give identical counts."""
    pipe = load_embedded()
    samples = []
    index = 0
    while len(samples) < 10:
        s = make_sample(0, "val", index)
        index += 1
        if len(s.segments) == 1 and (s.segments[0].count or 0) >= 2:
            samples.append(s)
    right = 0
    for s in samples:
        counts = []
        for _ in range(2):
            with capture_keys() as keys:
                pipe.probe(s.features, s.captions[0].text, generator=torch.Generator().manual_seed(s.index))
            counts.append(count_from_attention(keys, frames=s.frames).count)
        assert counts[0] == counts[1]
        right += counts[0] == s.segments[0].count
    assert right >= 7, f"{right} of 10 counted right"
    estimate = count_from_attention(keys, frames=samples[-1].frames)
    assert estimate.layers == (16, 17) and estimate.matrix.shape == (UPSAMPLE * samples[-1].frames,) * 2
    assert estimate.rows_per_frame == UPSAMPLE and estimate.window == (0, samples[-1].frames)
    with pytest.raises(ValueError, match="were not captured"):
        count_from_attention(keys, layers=[30])
    with pytest.raises(ValueError, match="frames must be an int"):
        count_from_attention(keys, frames=1000)
    model_free = count_from_features(samples[0].features, pipe.mean, pipe.std)
    assert model_free.source == "features (no model)" and model_free.layers == ()


def test_coarse_layers_join_only_where_they_resolve_the_period():
    """A coarser layer reads a period only where it spans enough of its frames."""
    from motionclr_lens.capture import KeyCache
    from motionclr_lens.hooks import RunPlan

    fast = cycles(8, 8, 4, noise=0.02)  # period 8 frames: 2 frames at a 4x coarser layer
    T = len(fast)
    full = torch.tensor(np.concatenate([fast, fast], 1), dtype=torch.float32)[None]
    coarse = full[:, ::4]
    keys = KeyCache()
    keys.plan = RunPlan(1, T, 1, False, (T // 4, T), (T // 4, T), 1, 77)
    keys._keys = {(0, 0): coarse, (1, 0): full}
    result = count_from_attention(keys, frames=T, layers=[0, 1])
    assert result.layers == (1,) and result.count == 8
    slow = cycles(3, 32, 4, noise=0.02)
    T = len(slow)
    full = torch.tensor(slow, dtype=torch.float32)[None]
    keys.plan = RunPlan(1, T, 1, False, (T // 4, T), (T // 4, T), 1, 77)
    keys._keys = {(0, 0): full[:, ::4], (1, 0): full}
    result = count_from_attention(keys, frames=T, layers=[0, 1])
    assert result.layers == (0, 1) and result.count == 3


def test_word_order_prior():
    groups = [None, None, 1, 1, None, 0, 0]  # "a man walks forward, but first jumps twice"
    assert phrase_order(groups) == [1, 0]
    prior = word_order_prior(groups, 100, "phrase")
    assert prior.shape == (7, 100)
    assert 0 <= prior[2].argmax() < 50 and 50 <= prior[5].argmax() < 100  # text order, whatever the time order
    in_order = [None, (0, 50), (0, 50), None, (50, 100), (50, 100), None]
    rows = score_grounding({"prior": word_order_prior([None, 0, 0, None, 1, 1, None], 100)}, ["w"] * 7, in_order,
                           [None, 0, 0, None, 1, 1, None])  # fmt: skip
    assert all(r["iou"] == 1.0 and r["hit"] for r in rows if r["kind"] == "word")  # the paper's 80 % rule takes it all
    token = word_order_prior(groups, 100, "token")
    assert token[2].argmax() < token[5].argmax()
    truth = [None, None, (60, 100), (60, 100), None, (0, 60), (0, 60)]
    rows = score_grounding({"prior": prior}, ["w"] * 7, truth, groups)
    assert all(r["iou"] < 0.5 for r in rows if r["kind"] == "word")
    assert [r["correct"] for r in rows if r["kind"] == "order"] == [False]  # segment 0 happens first
    with pytest.raises(ValueError, match="by must be one of"):
        word_order_prior(groups, 100, "position")


def test_align_phrases_follows_attention_not_word_order():
    T = 120
    groups = [None, 1, 1, None, 0]  # phrase 1 is named first, phrase 0 happens first (frames 0-45)
    curves = np.full((5, T), 0.05)
    curves[4, :45] += 1.0
    curves[1, 45:] += 0.6
    curves[2, 45:] += 0.5
    curves += 0.2 * np.random.default_rng(0).random(curves.shape)
    aligned = align_phrases(curves, groups)
    truth = [None, (45, T), (45, T), None, (0, 45)]
    rows = score_grounding({"aligned": aligned}, ["w"] * 5, truth, groups)
    assert min(r["iou"] for r in rows if r["kind"] == "word") > 0.9
    with pytest.raises(ValueError, match="curves must be"):
        align_phrases(curves[:3], groups)


def test_bootstrap_and_pelvis_baseline():
    rng = np.random.default_rng(1)
    v = rng.normal(0.5, 0.1, 400)
    m, lo, hi = bootstrap_interval(v)
    assert lo < m < hi and hi - lo < 0.03
    _, lo4, hi4 = bootstrap_interval(v[:25])
    assert hi4 - lo4 > hi - lo
    d, dlo, dhi = bootstrap_difference(v + 0.2, v)
    assert abs(d - 0.2) < 1e-9 and dlo <= d <= dhi
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="one shape"):
        bootstrap_difference(v, v[:3])
    sample = next(
        s
        for s in (make_sample(0, "val", i) for i in range(60))
        if s.segments[0].kind == "jump" and len(s.segments) == 1
    )
    assert pelvis_peaks(sample.joints) >= 1
