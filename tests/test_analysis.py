"""Analyses: counting from self-attention, grounding scores, probing a given motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionclr_lens import load_embedded
from motionclr_lens.analysis import (
    GroundingScores,
    activation_mask,
    count_by_period,
    count_paper,
    diagonal_profile,
    score_grounding,
    temporal_iou,
    word_curves,
)
from motionclr_lens.capture import capture
from motionclr_lens.hooks import active_hooks
from motionclr_lens.world import make_sample


def periodic_map(n: int, period: int, lead: int, seed: int = 0) -> np.ndarray:
    """Softmax self-similarity of frames moving through `n` cycles, standing still before and after."""
    rng = np.random.default_rng(seed)
    T = 2 * lead + n * period
    t = np.arange(T)
    phase = np.clip((t - lead) / period, 0, n) * 2 * np.pi
    active = (t >= lead) & (t < lead + n * period)
    x = np.stack([np.cos(phase) * active, np.sin(phase) * active, ~active, 0.05 * t / T], 1)
    x = x + 0.05 * rng.normal(size=x.shape)
    s = x @ x.T / 0.1
    a = np.exp(s - s.max(1, keepdims=True))
    return a / a.sum(1, keepdims=True)


@pytest.mark.parametrize(("n", "period", "lead"), [(1, 40, 5), (2, 30, 8), (3, 20, 6), (4, 16, 10), (5, 14, 4)])
def test_count_by_period_on_cycles(n, period, lead):
    result = count_by_period(periodic_map(n, period, lead), lead, lead + n * period)
    assert result.count == (n if n > 1 else None)  # one movement: no repetition found, never a silent 1
    if n > 1:
        assert abs(result.period - period) <= 1


def test_count_paper_steps():
    a = periodic_map(3, 20, 6)
    result = count_paper(a)
    m = len(a) // 4
    assert result.processed.shape == (m, m)
    assert result.processed.min() == 0 and result.processed.max() == 1
    assert result.peaks_per_row.shape == (m,)
    assert result.count == result.peaks_per_row.sum() / (result.peaks_per_row > 0).sum()
    assert count_paper(a, mean_of="map").processed.shape == (m, m)
    with pytest.raises(ValueError, match="mean_of"):
        count_paper(a, mean_of="column")
    with pytest.raises(ValueError, match="square"):
        count_paper(a[:, :5])


def test_diagonal_profile_is_symmetric_mean():
    a = periodic_map(3, 20, 6)
    profile = diagonal_profile(a)
    w = a / a.sum(1, keepdims=True)
    assert profile[3] == pytest.approx(0.5 * (np.diagonal(w, 3).mean() + np.diagonal(w, -3).mean()))
    with pytest.raises(ValueError, match="bad frame window"):
        diagonal_profile(a, 10, 5)


def test_grounding_scores():
    assert temporal_iou(np.array([0, 1, 1, 1, 0], bool), 2, 5) == pytest.approx(2 / 4)
    assert activation_mask(np.array([0.0, 0.5, 0.9, 1.0])).tolist() == [False, False, True, True]
    words = ["a", "person", "jumps", "then", "walks"]
    frames = [None, None, (0, 10), None, (10, 30)]
    segments = [None, None, 0, None, 1]
    perfect = np.zeros((5, 30))
    perfect[2, :10] = 1
    perfect[4, 10:] = 1
    rows = score_grounding({"perfect": perfect, "reversed": perfect[:, ::-1]}, words, frames, segments)
    summary = GroundingScores(rows).summary()
    assert summary["perfect"] == {"iou": 1.0, "pointing": 1.0, "order": 1.0, "words": 2, "orders": 1}
    assert summary["reversed"]["order"] == 0.0
    assert GroundingScores(rows).to_frame().shape[0] == len(rows)
    with pytest.raises(ValueError, match="3 curves for 5 words"):
        score_grounding({"bad": perfect[:3]}, words, frames, segments)


@pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")
def test_probe_a_given_motion():
    """One guided pass over a world motion noised to a chosen timestep, its attention captured."""
    pipe = load_embedded()
    sample = make_sample(0, "test", 1)
    prompt = sample.captions[0].text
    with capture(kinds=("cross", "self"), head_mean=True) as cache:
        estimate = pipe.probe(sample.features, prompt, timestep=300)
    assert active_hooks() == ()
    assert estimate.shape == sample.features.shape and np.isfinite(estimate).all()
    assert cache.plan.timesteps == (300,) and cache.plan.steps == 1
    assert cache.steps("cross", 0) == [0]
    curves = word_curves(cache, pipe.tokenizer.tokenize_prompt(prompt), frames=sample.frames)
    assert curves.curves.shape == (len(curves.words), sample.frames)
    # the estimate is closer to the motion than the noised input's scale: the model denoises
    noised_error = np.sqrt(0.7) * pipe.std  # rough scale of what noise at t=300 adds, per feature
    assert np.mean(np.abs(estimate - sample.features)) < np.mean(noised_error)
    with pytest.raises(ValueError, match="timestep must be an int in"):
        pipe.probe(sample.features, prompt, timestep=1000)
    with pytest.raises(ValueError, match="features must have shape"):
        pipe.probe(sample.features[:, :10], prompt)


@pytest.mark.filterwarnings("ignore::motionclr_lens.pipeline.UnknownWordWarning")
def test_head_statistics_and_taxonomy():
    from motionclr_lens.analysis import head_statistics, taxonomy

    pipe = load_embedded()
    sample = make_sample(0, "test", 3)
    caption = sample.captions[0]
    tokenized = pipe.tokenizer.tokenize_prompt(caption.text)
    with capture(kinds=("self", "cross")) as cache:
        pipe.probe(sample.features, caption.text, timestep=300)
    stats = head_statistics(cache, frames=sample.frames, prompt=tokenized, word_frames=caption.word_frames)
    frame = stats.to_frame()
    heads = pipe.config.attention_heads
    assert len(frame) == 2 * 18 * heads
    self_rows, cross_rows = frame[frame.kind == "self"], frame[frame.kind == "cross"]
    for column in ("entropy", "locality", "periodicity"):
        assert self_rows[column].between(0, 1).all(), column
    assert cross_rows["grounding"].between(0, 1).all() and cross_rows["locality"].isna().all()
    assert stats.matrix("self", "entropy").shape == (18, heads)
    tax = taxonomy(stats, clusters=4)
    assert {r["cluster"] for r in tax.rows} == {0, 1, 2, 3} and tax.measures == ["entropy", "locality", "periodicity"]
    with capture(kinds=("self",), head_mean=True) as averaged:
        pipe.probe(sample.features, caption.text, timestep=300)
    with pytest.raises(ValueError, match="per-head maps"):
        head_statistics(averaged)


def test_probe_defaults_to_the_timestep_the_cli_uses():
    """One noise level for grounding probes (the API, the CLI, the README), and one for counting probes."""
    import inspect

    from motionclr_lens.analysis.counting import COUNT_TIMESTEP
    from motionclr_lens.cli import build_parser
    from motionclr_lens.pipeline import PROBE_TIMESTEP, MotionCLRPipeline

    assert inspect.signature(MotionCLRPipeline.probe).parameters["timestep"].default == PROBE_TIMESTEP
    parser = build_parser()
    assert parser.parse_args(["ground", "--prompt", "a person walks"]).timestep == PROBE_TIMESTEP
    assert parser.parse_args(["count", "--prompt", "a person jumps"]).timestep == COUNT_TIMESTEP
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "timestep=500" not in readme and "timestep=COUNT_TIMESTEP" in readme
