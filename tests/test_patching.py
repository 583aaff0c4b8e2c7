"""Activation patching on the embedded model: the sanity checks the method stands on, and a small sweep."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionclr_lens import load_embedded
from motionclr_lens.patching import (
    FeatureRestoration,
    Site,
    action_probability,
    attribution_sweep,
    feature_restoration,
    joint_distance,
    patched_run,
    patching_sweep,
    random_direction,
    rank_agreement,
    record,
    repetition_count,
    restored_fraction,
)
from motionclr_lens.settings import RunSettings

SETTINGS = RunSettings(steps=4)


@pytest.fixture(scope="module")
def pipe():
    return load_embedded()


@pytest.fixture(scope="module")
def source(pipe):
    return record(pipe, "a person jumps", seconds=2.0, seed=3, settings=SETTINGS)


def test_patching_every_cross_attention_output_makes_the_target_the_source(pipe, source):
    """The text reaches the model only through cross-attention: every layer's cross output at every step, copied
    from the source, leaves nothing of the target's prompt: the source's motion, bit for bit."""
    sites = [Site("cross", layer) for layer in source.layers("cross")]
    assert len(sites) == 18
    patched = patched_run(pipe, source, "a person waves", sites)
    target = patched_run(pipe, source, "a person waves", [])
    assert torch.equal(patched.sample, source.generation.sample)
    assert (target.sample - source.generation.sample).abs().max() > 0.05  # the swap changes the motion
    distance = joint_distance(source.generation.joints[0])
    assert distance(patched) == 0.0 and distance(target) > 0.01
    assert restored_fraction(distance(patched), distance(target), distance(source.generation)) == pytest.approx(
        1, abs=1e-3
    )


def test_patching_nothing_or_into_an_identical_run_changes_nothing(pipe, source):
    """No site: the target as it runs alone (bit for bit on the attention's explicit path, which every run of an
    experiment takes; within rounding of the fused one). Any site patched into a run of the source's own prompt:
    the source, bit for bit (the copied activations are the ones it computes)."""
    from motionclr_lens.hooks import explicit_attention

    nothing = patched_run(pipe, source, "a person waves", []).sample
    with explicit_attention():
        alone = pipe.run("a person waves", SETTINGS, seconds=2.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(nothing, alone.sample)
    fused = pipe.run("a person waves", SETTINGS, seconds=2.0, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(nothing, fused.sample, rtol=1e-4, atol=1e-4)
    sites = [Site("self", 0), Site("cross", 17, steps=(1, 2)), Site("self", 9, "out", heads=(0,))]
    assert torch.equal(patched_run(pipe, source, "a person jumps", sites).sample, source.generation.sample)


def test_patching_a_few_heads_of_a_layer_patches_those_heads_alone(pipe, source):
    """Heads of `out` are channel slices: patching every head is patching the whole output, and one head alone
    moves the motion less than all of them."""
    heads = tuple(range(source.plan.heads))
    whole = patched_run(pipe, source, "a person waves", [Site("cross", 17)])
    by_heads = patched_run(pipe, source, "a person waves", [Site("cross", 17, heads=heads)])
    assert torch.equal(whole.sample, by_heads.sample)
    one = patched_run(pipe, source, "a person waves", [Site("cross", 17, heads=(0,))])
    target = patched_run(pipe, source, "a person waves", [])
    gap = (whole.sample - target.sample).abs().mean()
    assert 0 < (one.sample - target.sample).abs().mean() < gap


def test_a_sweep_gives_a_table_and_a_heat_map(pipe, source):
    metric = action_probability("jump")
    table = patching_sweep(pipe, source, "a person waves", metric, kinds=("cross",), layers=[0, 17],
                           windows=[(0, 1), (2, 3), None])  # fmt: skip
    rows = table.rows()
    assert [(r["layer"], r["steps"]) for r in rows] == [("0", "0-1"), ("0", "2-3"), ("0", "all"), ("17", "0-1"),
                                                         ("17", "2-3"), ("17", "all")]  # fmt: skip
    assert table.source_metric > table.target_metric  # the recogniser sees the jump in the source alone
    assert all(np.isfinite(r["restored"]) for r in rows)
    layers, windows, grid = table.grid("cross")
    assert layers == ["0", "17"] and windows == ["0-1", "2-3", "all"] and grid.shape == (2, 3)
    fig = table.plot()
    assert len(fig.axes) == 2  # the heat map and its colour bar
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_bad_patching_input_is_named(pipe, source):
    with pytest.raises(ValueError, match=r"unknown attention kind 'both'; valid: \['self', 'cross'\]"):
        Site("both", 0)
    with pytest.raises(ValueError, match=r"unknown hook point 'output'"):
        Site("self", 0, "output")
    with pytest.raises(ValueError, match=r"steps must be None or a non-empty list of ints >= 0, got \(\)"):
        Site("self", 0, steps=())
    with pytest.raises(ValueError, match=r"the recording holds no \['self.0.weights'\]"):
        patched_run(pipe, record(pipe, "a person jumps", seconds=1.0, settings=SETTINGS, kinds=("cross",)),
                    "a person waves", [Site("self", 0, "weights")])  # fmt: skip
    with pytest.raises(ValueError, match=r"2 target prompts for a recording of 1: source and target run row for row"):
        patched_run(pipe, source, ["a person waves", "a person runs"], [Site("cross", 3)])
    with pytest.raises(ValueError, match=r"takes \d+ MiB, over max_bytes=0 MiB"):
        record(pipe, "a person jumps", seconds=2.0, settings=SETTINGS, points=("weights",), max_bytes=1)
    with pytest.raises(ValueError, match=r"unknown action 'fly'"):
        action_probability("fly")
    assert np.isnan(restored_fraction(0.3, 0.5, 0.5))


def test_a_group_of_layers_patches_as_its_layers_do(pipe, source):
    whole = Site("cross", tuple(source.layers("cross")))
    assert whole.label() == "cross 0-17 out, all steps" and whole.layers == tuple(range(18))
    assert Site("cross", (3,)).layer == 3 and Site("cross", [5, 0, 5]).layer == (0, 5)  # one form per group
    assert Site("cross", (0, 2, 4)).label() == "cross [0, 2, 4] out, all steps"
    one_by_one = [Site("cross", layer) for layer in source.layers("cross")]
    grouped = patched_run(pipe, source, "a person waves", [whole]).sample
    assert torch.equal(grouped, patched_run(pipe, source, "a person waves", one_by_one).sample)
    assert torch.equal(grouped, source.generation.sample)
    with pytest.raises(ValueError, match=r"layer must be an int >= 0 or a non-empty tuple of them, got \(\)"):
        Site("cross", ())


def test_attribution_patching_runs_the_target_and_ranks_as_exact_patching(pipe, source):
    """The gradient run is the target's own run; the estimate is first order, so it is checked against exact
    patching on the measure it differentiates: the feature-space restoration (0 target, 1 source)."""
    metric = feature_restoration(pipe, source, "a person waves")
    assert metric(source.generation) == pytest.approx(1.0)
    assert metric(patched_run(pipe, source, "a person waves", [])) == pytest.approx(0.0, abs=1e-6)
    layers = source.layers("cross")
    estimate = attribution_sweep(pipe, source, "a person waves", metric, kinds=("cross",), windows=[(3,)])
    assert estimate.method == "attribution" and len(estimate.sites) == len(layers)
    assert estimate.target_metric == pytest.approx(0.0, abs=1e-5) and estimate.source_metric == pytest.approx(1.0)
    exact = patching_sweep(pipe, source, "a person waves", metric, kinds=("cross",), windows=[(3,)])
    rho = rank_agreement(exact, estimate)
    assert rho > 0.8, rho  # at the last step the chain to the motion is short: first order ranks well
    same = attribution_sweep(
        pipe,
        source,
        "a person jumps",
        FeatureRestoration(source.generation.sample[0] + 1.0, source.generation.sample[0]),
        kinds=("cross",),
        windows=[None],
    )
    assert all(abs(m - same.target_metric) < 1e-6 for m in same.metrics)  # nothing differs: nothing to attribute
    with pytest.raises(ValueError, match="the same: there is nothing to restore"):
        FeatureRestoration(source.generation.sample[0], source.generation.sample[0])


def test_the_random_direction_baseline_moves_each_activation_as_far_as_the_source_does(pipe, source):
    """Every activation of the baseline is the target's plus a change of the source's size, row by row, in another
    direction (not toward the source); from two identical recordings it is the target itself; a recording of other
    activations is refused; and patching a site from it runs (a change of the same size, not the same change)."""
    target = record(pipe, "a person waves", seconds=2.0, seed=3, settings=SETTINGS)
    baseline = random_direction(source, target, seed=0)
    assert baseline.values.keys() == target.values.keys() and baseline.prompts == target.prompts
    for key in [("cross", 13, "out", 0), ("self", 16, "out", 3)]:
        s, t, b = source.values[key].float(), target.values[key].float(), baseline.values[key].float()
        torch.testing.assert_close((b - t).flatten(1).norm(dim=1), (s - t).flatten(1).norm(dim=1), rtol=1e-3, atol=1e-4)
        cosine = torch.nn.functional.cosine_similarity((b - t).flatten(1), (s - t).flatten(1), dim=1)
        assert cosine.abs().max() < 0.2, cosine
    again = random_direction(target, target, seed=0)
    assert all(torch.equal(again.values[k], target.values[k]) for k in target.values)
    assert torch.equal(random_direction(source, target, seed=0).values[key], baseline.values[key])
    partial = record(pipe, "a person waves", seconds=2.0, seed=3, settings=SETTINGS, kinds=("cross",))
    with pytest.raises(ValueError, match="different activations"):
        random_direction(source, partial)
    patched = patched_run(pipe, baseline, "a person waves", [Site("self", 16)])
    assert patched.sample.shape == source.generation.sample.shape and torch.isfinite(patched.sample).all()


def test_the_repetition_count_metric_counts_the_motion_and_names_bad_actions(pipe):
    """The count metric reads the per-action counter on the patched run's joints: the same number for the same
    motion, and an action the counter cannot count is refused with the countable ones named."""
    from motionclr_lens.analysis import count_repetitions

    run = record(pipe, "a person jumps three times", seconds=4.5, seed=0)
    metric = repetition_count("jump")
    assert metric(run.generation) == float(count_repetitions(run.generation.joints[0], "jump").count or 0)
    assert metric(run.generation) >= 2
    with pytest.raises(ValueError, match="cannot count 'sit_down'; countable actions"):
        repetition_count("sit_down")


def test_patching_runs_on_a_release_checkpoint_as_on_the_embedded_model(parity_pipeline):
    """The release layout (the parity checkpoint, the release's architecture at its own sizes): every cross-attention
    output patched from the source gives the source bit for bit, nothing patched gives the target, and attribution
    patching runs on it."""
    pipe = parity_pipeline
    settings = RunSettings(steps=3, scheduler="ddim")
    source = record(pipe, "a person jumps", lengths=32, seed=1, settings=settings)
    sites = [Site("cross", layer) for layer in source.layers("cross")]
    assert len(sites) == pipe.config.num_attention_layers
    patched = patched_run(pipe, source, "a person waves", sites)
    target = patched_run(pipe, source, "a person waves", [])
    assert torch.equal(patched.sample, source.generation.sample)
    assert not torch.equal(target.sample, source.generation.sample)
    metric = feature_restoration(pipe, source, "a person waves")
    estimate = attribution_sweep(pipe, source, "a person waves", metric, kinds=("cross",), windows=[None])
    assert len(estimate.rows()) == len(sites) and all(np.isfinite(r["restored"]) for r in estimate.rows())
