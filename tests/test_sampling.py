"""Sampling: parity with the original's DDIM loop, every scheduler, lengths, determinism, autocast."""

from __future__ import annotations

import pytest
import torch

from motionclr_lens.sampling import SCHEDULERS, alphas_cumprod, guided_prediction, make_scheduler


def test_ddim_matches_original(parity_pipeline, fixtures):
    case = fixtures["sampling"]["none"]
    result = parity_pipeline.generate(case["texts"], lengths=64, scheduler="ddim", steps=10, noise=case["x_T"])
    torch.testing.assert_close(result.sample, case["x_0"], atol=1e-3, rtol=0)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_every_scheduler_with_lengths(parity_pipeline, scheduler):
    result = parity_pipeline.generate(
        ["a man jumps.", "a person walks in a circle"],
        seconds=[1.0, 2.35],
        scheduler=scheduler,
        steps=7,
        generator=torch.Generator().manual_seed(1),
    )
    assert result.lengths == [20, 47]
    assert [f.shape for f in result.features] == [(20, 263), (47, 263)]
    assert [j.shape for j in result.joints] == [(20, 22, 3), (47, 22, 3)]
    assert torch.isfinite(result.sample).all()
    # Each row is cropped from the same T_max sample; features are denormalised.
    expected = parity_pipeline.denormalize(result.sample[0, :20])
    assert abs(result.features[0] - expected).max() == 0


def test_same_generator_same_motion(parity_pipeline):
    def run(seed: int):
        return parity_pipeline.generate("a man jumps.", lengths=30, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a.sample, b.sample)
    assert not torch.equal(a.sample, c.sample)


@pytest.mark.parametrize("steps", [1, 7, 25])
def test_any_number_of_steps(parity_pipeline, steps):
    result = parity_pipeline.generate(
        "a man jumps.", lengths=16, steps=steps, generator=torch.Generator().manual_seed(0)
    )
    assert torch.isfinite(result.sample).all()


def test_guidance_scale_one_is_conditional(parity_pipeline):
    """Scale 1 equals the conditional prediction of a guided pass, computed on the conditional rows alone."""
    model = parity_pipeline.model
    x = torch.randn(2, 20, 263, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([500, 500])
    text = parity_pipeline.encode(["a man jumps.", "a man waves."])
    with torch.no_grad():
        doubled = model(torch.cat([x, x]), torch.cat([t, t]), text, n_cond=2)[:2]
        one = guided_prediction(model, x, t, text, guidance_scale=1.0)
    torch.testing.assert_close(one, doubled, atol=1e-5, rtol=0)


def test_autocast_leaves_the_model_in_float32(parity_pipeline):
    result = parity_pipeline.generate(
        "a man jumps.", lengths=32, autocast_dtype=torch.bfloat16, generator=torch.Generator().manual_seed(0)
    )
    assert torch.isfinite(result.sample).all() and result.sample.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in parity_pipeline.model.parameters())
    # One guided call under bf16 autocast stays close to float32 (bf16 keeps about 3 significant digits).
    model = parity_pipeline.model
    x = torch.randn(1, 32, 263, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([500])
    text = parity_pipeline.encode(["a man jumps."])
    with torch.no_grad():
        full = guided_prediction(model, x, t, text)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = guided_prediction(model, x, t, text).float()
    assert (low - full).abs().mean() < 0.05 * full.abs().mean()


def test_model_mode_restored(parity_pipeline):
    parity_pipeline.model.train()
    try:
        parity_pipeline.generate("a man jumps.", lengths=16)
        assert parity_pipeline.model.training
    finally:
        parity_pipeline.model.eval()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lengths": 0}, r"length 0 frames is outside \[1, 196\]"),
        ({"lengths": 197}, r"length 197 frames is outside \[1, 196\]"),
        ({"seconds": 10.0}, r"length 200 frames is outside"),
        ({"lengths": [10, 20]}, "2 lengths for 1 prompts"),
        ({"lengths": 10, "seconds": 1.0}, "not both"),
        ({"scheduler": "euler"}, r"unknown scheduler 'euler'; valid: \['ddim', 'ddpm', 'deis', 'dpmsolver', 'pndm'\]"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"noise": torch.zeros(1, 5, 263), "lengths": 6}, r"noise has shape \(1, 5, 263\), expected \(1, 6, 263\)"),
    ],
)
def test_bad_arguments(parity_pipeline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        parity_pipeline.generate("a man jumps.", **kwargs)


def test_empty_prompt_rejected(parity_pipeline):
    with pytest.raises(ValueError, match="non-empty strings"):
        parity_pipeline.generate(["a man jumps.", "  "])


def test_unknown_scheduler_name():
    with pytest.raises(ValueError, match="valid:"):
        make_scheduler("dpm")


def test_one_schedule_everywhere():
    bar = alphas_cumprod()
    # linear betas from 1e-4 to 0.02 over 1000 steps, as the release trains
    exact = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    assert bar.shape == (1000,) and bar.dtype == torch.float32
    torch.testing.assert_close(bar.double(), exact, atol=1e-6, rtol=0)
    for name in SCHEDULERS:
        assert torch.equal(make_scheduler(name).alphas_cumprod, bar), name
    bar[0] = 0  # a copy: the caller cannot change the schedule
    assert alphas_cumprod()[0] > 0.999


def test_the_text_keys_and_values_are_computed_once_per_run(parity_pipeline):
    """A run computes each cross-attention's text keys and values at its first step only; the motion is the same
    bit for bit as computing them at every step, and hooks on `k` and `v` still see them at every step, their
    in-place changes reaching no later step."""
    from motionclr_lens.hooks import Hook, use_hooks
    from motionclr_lens.model import CrossAttention

    model = parity_pipeline.model
    crosses = [m for m in model.modules() if isinstance(m, CrossAttention)]
    calls = []
    handles = [m.key.register_forward_hook(lambda *_: calls.append(1)) for m in crosses]
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    try:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=4, generator=seed())
    finally:
        for handle in handles:
            handle.remove()
    assert len(calls) == len(crosses)  # once per layer, not once per step

    text = parity_pipeline.encode(["a man jumps."])
    every_step = []
    noise = torch.randn(1, 24, 263, generator=seed())

    def denoise(x, t, step):  # no cache: keys and values at every step
        return guided_prediction(model, x, t, text, parity_pipeline.guidance_scale)

    from motionclr_lens.sampling import sample_loop

    plain = sample_loop(denoise, noise, make_scheduler("dpmsolver"), 4, generator=seed())
    with_cache = parity_pipeline.generate("a man jumps.", lengths=24, steps=4, noise=noise, generator=seed())
    assert torch.equal(plain, with_cache.sample)

    def spoil(k, ctx):
        every_step.append((ctx.step, bool(k.abs().sum() > 0)))
        if ctx.step == 0:
            k.mul_(0)  # in place: must not reach the cache

    seen = []
    with use_hooks(
        Hook(spoil, points=("k",), kinds=("cross",), layers=[0]),
        Hook(lambda v, ctx: seen.append(ctx.step), points=("v",), kinds=("cross",), layers=[0]),
    ):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=4, generator=seed())
    assert every_step == [(0, True), (1, True), (2, True), (3, True)] and seen == [0, 1, 2, 3]


def test_sampling_with_every_scheduler_raises_no_warning():
    """A run shows the user no warning of the libraries under it (diffusers' schedulers hand torch tensors to
    NumPy 2, which warns about them): every scheduler samples with warnings turned into errors."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "from motionclr_lens import load_embedded\n"
        "pipe = load_embedded()\n"
        "for name in ('ddim', 'ddpm', 'deis', 'dpmsolver', 'pndm'):\n"
        "    pipe.generate('a person walks forward', seconds=1.0, steps=5, scheduler=name)\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
