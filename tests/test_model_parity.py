"""The model against tensors computed by the original MotionCLR code (../shared/parity)."""

from __future__ import annotations

import copy

import pytest
import torch

from motionclr_lens.hooks import explicit_attention
from motionclr_lens.kernels import CONV_KERNELS, LINEAR_KERNELS, force_kernels, pin_kernels
from motionclr_lens.sampling import guided_prediction
from motionclr_lens.text import get_tokenizer


@pytest.fixture(scope="module")
def model(parity_pipeline):
    return parity_pipeline.model


def test_clip_token_features(model, fixtures):
    ids = get_tokenizer()(fixtures["tokens"]["prompts"][:4])
    with torch.no_grad():
        out = model.clip_model(input_ids=ids).last_hidden_state
    torch.testing.assert_close(out, fixtures["clip_token_features"], atol=1e-5, rtol=0)


def test_encode_text(model, fixtures):
    ids = get_tokenizer()(fixtures["tokens"]["prompts"][:4])
    with torch.no_grad():
        out = model.encode_text(ids)
    torch.testing.assert_close(out, fixtures["encode_text"], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def forward_inputs(model, fixtures):
    fw = fixtures["forward"]
    with torch.no_grad():
        text = model.encode_text(get_tokenizer()(fw["texts"]))
    return fw, text


def test_forward_conditional(model, forward_inputs):
    fw, text = forward_inputs
    with torch.no_grad():
        out = model(fw["x"], fw["timesteps"], text)
    torch.testing.assert_close(out, fw["cond"], atol=5e-5, rtol=0)


@pytest.mark.parametrize(
    ("linear", "conv"), [(None, None), *((lin, conv) for lin in LINEAR_KERNELS for conv in CONV_KERNELS)]
)
def test_every_kernel_keeps_the_forward_equal_to_the_original(model, forward_inputs, linear, conv):
    """The library's kernels (each forced, and as measured on this machine) on a copy of the model: the guided
    forward and the conditional one equal the original's to the same tolerance as torch's own."""
    fw, text = forward_inputs
    fresh = pin_kernels(copy.deepcopy(model), None, None)  # unpinned, and its copies of weights its own
    with torch.no_grad(), force_kernels(linear, conv):
        cond = fresh(fw["x"], fw["timesteps"], text)
        guided = guided_prediction(fresh, fw["x"], fw["timesteps"], text, guidance_scale=2.5)
    torch.testing.assert_close(cond, fw["cond"], atol=5e-5, rtol=0)
    torch.testing.assert_close(guided, fw["cfg_2.5"], atol=5e-5, rtol=0)


def test_forward_unconditional_skips_attention(model, forward_inputs):
    fw, text = forward_inputs
    with torch.no_grad():
        out = model(fw["x"], fw["timesteps"], text, n_cond=0)
        guided_uncond_half = model(torch.cat([fw["x"]] * 2), torch.cat([fw["timesteps"]] * 2), text, n_cond=2)[2:]
    torch.testing.assert_close(out, fw["uncond"], atol=5e-5, rtol=0)
    # The documented quirk: a fully masked batch is not the unconditional half of a guided forward.
    assert (out - guided_uncond_half).abs().max() > 1e-3


def test_forward_guided(model, forward_inputs):
    fw, text = forward_inputs
    with torch.no_grad():
        out = guided_prediction(model, fw["x"], fw["timesteps"], text, guidance_scale=2.5)
    torch.testing.assert_close(out, fw["cfg_2.5"], atol=5e-5, rtol=0)


def test_explicit_attention_path_matches_fused(model, forward_inputs):
    fw, text = forward_inputs
    with torch.no_grad():
        fused = guided_prediction(model, fw["x"], fw["timesteps"], text)
        with explicit_attention():
            explicit = guided_prediction(model, fw["x"], fw["timesteps"], text)
    torch.testing.assert_close(explicit, fused, atol=5e-5, rtol=0)


def test_rows_are_independent(model, forward_inputs):
    """Each batch row is computed alone: a row's output does not depend on its neighbours (up to float32
    summation order: matrix products over B * T rows block their sums differently for other B)."""
    fw, text = forward_inputs
    with torch.no_grad():
        both = guided_prediction(model, fw["x"], fw["timesteps"], text)
        first = guided_prediction(model, fw["x"][:1], fw["timesteps"][:1], text[:1])
    torch.testing.assert_close(first, both[:1], atol=5e-5, rtol=0)


def test_bad_n_cond(model, forward_inputs):
    fw, text = forward_inputs
    with pytest.raises(ValueError, match=r"n_cond=3 must be in \[0, 2\]"):
        model(fw["x"], fw["timesteps"], text, n_cond=3)


def test_compiled_fast_path_matches_and_steps_aside_for_hooks(model, forward_inputs):
    """The compiled U-Net (dynamo tracing with the eager backend here, to keep the test short) gives the
    eager result; a run with a hook in scope takes the eager path, so the hook sees every layer."""
    from motionclr_lens.hooks import Hook, use_hooks

    fw, text = forward_inputs
    with torch.no_grad():
        eager = guided_prediction(model, fw["x"], fw["timesteps"], text)
        try:
            model.compile_fast_path(backend="eager")
            compiled = guided_prediction(model, fw["x"], fw["timesteps"], text)
            seen: list[int] = []
            with use_hooks(Hook(lambda w, ctx: seen.append(ctx.layer), kinds=("self",))):
                hooked = guided_prediction(model, fw["x"], fw["timesteps"], text)
        finally:
            model.compile_fast_path(disable=True)
    torch.testing.assert_close(compiled, eager, atol=5e-5, rtol=0)
    torch.testing.assert_close(hooked, eager, atol=5e-5, rtol=0)
    assert sorted(set(seen)) == list(range(18))
    assert "_compiled_unet" not in model.__dict__
    assert not any("_compiled" in k for k in model.state_dict())


def _first_block_rows(model, run):
    """The rows the first CLR block's convolution saw in `run()`, and its result."""
    seen: list[int] = []
    first = model.unet.clr_blocks()[0].conv1d
    handle = first.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    try:
        out = run()
    finally:
        handle.remove()
    return seen, out


def test_the_guided_halves_run_once_until_the_first_cross_attention(model, forward_inputs):
    """A guided forward's two halves are the same motion at the same timestep until the first cross-attention
    adds the text to the conditional rows: the first block computes them once, with the result of computing both
    (and the original's); halves that differ, an input asking for its gradient, or the switch off, run every row."""
    fw, text = forward_inputs
    x, t = fw["x"], fw["timesteps"]
    B = x.shape[0]
    with torch.no_grad():
        rows, shared = _first_block_rows(model, lambda: guided_prediction(model, x, t, text, 2.5))
        model.share_twin_halves = False
        try:
            rows_off, every = _first_block_rows(model, lambda: guided_prediction(model, x, t, text, 2.5))
        finally:
            model.share_twin_halves = True
        other = x.clone()
        other[:, :, 0] += 1.0  # the unconditional half a different motion
        rows_differ, _ = _first_block_rows(model, lambda: model(torch.cat([x, other]), torch.cat([t, t]), text, B))
        rows_steps, _ = _first_block_rows(model, lambda: model(torch.cat([x, x]), torch.cat([t, t + 1]), text, B))
    assert (rows, rows_off, rows_differ, rows_steps) == ([B], [2 * B], [2 * B], [2 * B])
    torch.testing.assert_close(shared, every, atol=5e-5, rtol=0)
    torch.testing.assert_close(shared, fw["cfg_2.5"], atol=5e-5, rtol=0)
    del model.share_twin_halves  # a model pickled before the switch existed
    try:
        with torch.no_grad():
            rows_old, _ = _first_block_rows(model, lambda: guided_prediction(model, x, t, text, 2.5))
    finally:
        model.share_twin_halves = True
    assert rows_old == [B]
    xg = x.clone().requires_grad_(True)
    rows_grad, out = _first_block_rows(model, lambda: model(torch.cat([xg, xg]), torch.cat([t, t]), text, B))
    assert rows_grad == [2 * B]
    out.sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_a_hook_on_the_first_self_attention_sees_and_changes_each_half_of_twins(model, forward_inputs):
    """Where a hook applies to the first self-attention, it sees the rows of both halves and may change one: an
    edit of the conditional rows' weights alone gives what it gives with every row computed."""
    from motionclr_lens.hooks import Hook, use_hooks

    fw, text = forward_inputs
    seen: list[tuple[int, tuple[str, ...]]] = []

    def sharpen_cond(weights, ctx):
        seen.append((weights.shape[0], ctx.branches))
        cond = torch.tensor([b == "cond" for b in ctx.branches]).view(-1, 1, 1, 1)
        return torch.where(cond, torch.softmax(weights * 50.0, dim=-1), weights)

    hook = Hook(sharpen_cond, kinds=("self",), layers=(0,))
    outs = []
    with torch.no_grad():
        for share in (True, False):
            model.share_twin_halves = share
            try:
                with use_hooks(hook):
                    outs.append(guided_prediction(model, fw["x"], fw["timesteps"], text, 2.5))
            finally:
                model.share_twin_halves = True
        plain = guided_prediction(model, fw["x"], fw["timesteps"], text, 2.5)
    B = fw["x"].shape[0]
    assert seen == [(2 * B, ("cond",) * B + ("uncond",) * B)] * 2
    torch.testing.assert_close(outs[0], outs[1], atol=5e-5, rtol=0)
    assert (outs[0] - plain).abs().max() > 1e-3  # the edit changed the result
