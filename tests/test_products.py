"""The model's own products (each CPU kernel, forced, and the one measured fastest) against torch's layers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from motionclr_lens import kernels
from motionclr_lens.kernels import (
    CONV_KERNELS,
    LINEAR_KERNELS,
    DenseLinear,
    TemporalConv1d,
    TransposedConv1d,
    describe_kernels,
    force_kernels,
    kernel_choices,
)


@pytest.fixture(autouse=True)
def fresh_choices():
    kernels.clear_kernel_choices()
    yield
    kernels.clear_kernel_choices()


@pytest.mark.parametrize("linear", LINEAR_KERNELS)
@pytest.mark.parametrize("conv", CONV_KERNELS)
@pytest.mark.parametrize("chunk_bytes", [TemporalConv1d.CHUNK_BYTES, 1])
@pytest.mark.parametrize("layout", ["channels", "frames"])
def test_every_convolution_kernel_equals_torchs(monkeypatch, linear, conv, chunk_bytes, layout):
    """2048 channels x 5 taps, the up path's shape: direct, or unfolded (whole, or one batch row at a time) and
    multiplied by each linear kernel; on a (B, C, T) input, or on (B, T, C) frames seen as one (the model's
    layout)."""
    torch.manual_seed(0)
    layer = TemporalConv1d(2048, 256, 5, padding=2)
    x = torch.randn(5, 2048, 24) if layout == "channels" else torch.randn(5, 24, 2048).transpose(1, 2)
    monkeypatch.setattr(TemporalConv1d, "CHUNK_BYTES", chunk_bytes)
    with torch.no_grad():
        theirs = F.conv1d(x, layer.weight, layer.bias, padding=2)
        with force_kernels(linear=linear, conv=conv):
            ours = layer(x)
            again = layer(x)  # with the transposed weight "blas_nn" keeps
    assert ours.shape == theirs.shape == (5, 256, 24)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(again, theirs, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(F.conv1d(x, layer.weight, layer.bias, padding=2), theirs)  # values unchanged
    assert kernel_choices() == []  # forced: nothing measured


@pytest.mark.parametrize("linear", LINEAR_KERNELS)
@pytest.mark.parametrize("conv", CONV_KERNELS)
@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "stride", "pad"), [(512, 256, 4, 2, 1), (64, 48, 5, 3, 2), (32, 16, 3, 1, 1)]
)
def test_every_transposed_convolution_kernel_equals_torchs(linear, conv, c_in, c_out, k, stride, pad):
    """The up path's transposed convolution (k 4, stride 2, padding 1) and others, as torch's own or as one product
    (by each linear kernel) whose taps are added in place, forward and gradients; no copy of the weight kept."""
    torch.manual_seed(0)
    layer = TransposedConv1d(c_in, c_out, k, stride, pad)
    reference = torch.nn.ConvTranspose1d(c_in, c_out, k, stride, pad)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(3, c_in, 11)
    with force_kernels(linear=linear, conv=conv):
        with torch.no_grad():
            torch.testing.assert_close(layer(x), reference(x), rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(layer(x), reference(x), rtol=1e-4, atol=1e-4)
        out = layer(x)
    assert not {"_kernel_transposed", "_kernel_packed"} & set(layer.__dict__)
    assert out.shape == reference(x).shape == (3, c_out, (11 - 1) * stride - 2 * pad + k)
    out.square().sum().backward()
    reference(x).square().sum().backward()
    for ours, theirs in [(layer.weight, reference.weight), (layer.bias, reference.bias)]:
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-3)
    assert kernel_choices() == []


def test_every_convolution_of_the_unet_runs_through_the_kernels():
    """The blocks', the residual 1 x 1, the down-sampling and the up-sampling convolutions all become the kernels'
    layers (measured, with a class each), and the U-Net computes what torch's layers compute."""
    from dataclasses import replace

    from conftest import TINY

    from motionclr_lens import MotionCLR

    torch.manual_seed(0)
    # 16 channels a group: with TINY's 2, a per-frame GroupNorm turns float rounding into visible differences.
    config = replace(TINY, channels=(64, 128), group_norm_groups=4)
    model = MotionCLR(config).eval()
    with torch.no_grad():  # the zero-initialised layers get weights too, so that every path counts
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    reference = MotionCLR(config).eval()
    reference.load_state_dict(model.state_dict())
    kernels.use_cpu_kernels(model)
    blocks = model.unet.clr_blocks()
    times = [*model.unet.time_mlp, *(m for b in blocks for m in b.conv1d.time_mlp)]
    assert sum(isinstance(m, DenseLinear) for m in times) == 2 + len(blocks)  # the timestep's products
    convs = [m for m in model.unet.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))]
    final = model.unet.final_conv
    assert all(isinstance(m, (TemporalConv1d, TransposedConv1d)) for m in convs if m is not final)
    assert any(isinstance(m, TransposedConv1d) for m in convs)
    assert any(isinstance(m, TemporalConv1d) and m.stride == (2,) for m in convs)
    x = torch.randn(2, 32, config.input_dim)
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long))
    with torch.no_grad():
        ours = model(x, torch.tensor([10, 10]), text.expand(2, -1, -1), 1)
        theirs = reference(x, torch.tensor([10, 10]), text.expand(2, -1, -1), 1)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert {c.kind for c in kernel_choices()} == {"linear", "conv", "tconv", "taps"}
    assert any(c.kind == "conv" and len(c.shape) == 4 for c in kernel_choices())  # the stride-2 class


@pytest.mark.parametrize("linear", LINEAR_KERNELS)
def test_every_linear_kernel_equals_torchs_with_and_without_gradients(linear):
    torch.manual_seed(0)
    layer = DenseLinear(1024, 512)
    reference = torch.nn.Linear(1024, 512)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(3, 40, 1024)
    with force_kernels(linear=linear):
        with torch.no_grad():
            torch.testing.assert_close(layer(x), reference(x), rtol=1e-4, atol=1e-4)
        out = layer(x)
    out.square().sum().backward()
    reference(x).square().sum().backward()
    for ours, theirs in [(layer.weight, reference.weight), (layer.bias, reference.bias)]:
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-3)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert layer.state_dict()["weight"].shape == (512, 1024)


def test_measured_choices_are_kept_per_class_and_listed(tmp_path, monkeypatch):
    """The first call of a class times every candidate; later calls of the class reuse the choice; another
    row count is another class; a model says which kernel each layer runs; a disk cache answers later."""
    monkeypatch.setenv(kernels.CACHE_ENV, str(tmp_path / "kernels.json"))
    torch.manual_seed(0)
    model = torch.nn.Sequential(DenseLinear(256, 512), DenseLinear(512, 256))
    reference = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.Linear(512, 256))
    reference.load_state_dict(model.state_dict())
    x = torch.randn(64, 256)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
        model(x)
        choices = kernel_choices()
        assert [(c.kind, c.shape, c.rows, c.how) for c in choices] == [
            ("linear", (256, 512), 64, "measured"),
            ("linear", (512, 256), 64, "measured"),
        ]
        measured = {n for n in LINEAR_KERNELS if kernels._available(n)}
        assert all(set(c.seconds) == measured and c.kernel in LINEAR_KERNELS for c in choices)
        model(torch.randn(100, 256))
        assert [c.rows for c in kernel_choices()] == [64, 64, 128, 128]
    table = describe_kernels(model)
    assert {row["layer"] for row in table} == {"0", "1"} and len(table) == 4
    stored = json.loads((tmp_path / "kernels.json").read_text())
    assert list(stored) == [kernels.machine_key()] and len(stored[kernels.machine_key()]) == 4
    kernels.clear_kernel_choices()
    with torch.no_grad():
        model(x)
    assert [c.how for c in kernel_choices()] == ["disk", "disk"]
    assert [c.kernel for c in kernel_choices()] == [c.kernel for c in choices]


def test_in_place_mish_is_as_close_to_mish_as_torchs():
    """`mish_` against float64 Mish over -100..100 (both tails, the clamp, zero): no NaN or Inf, and as close,
    relative to the value, as `F.mish` is; the input is the output."""
    x = torch.linspace(-100, 100, 2_000_001)
    exact = F.mish(x.double())
    torchs = (F.mish(x).double() - exact).abs() / exact.abs().clamp(min=1e-30)
    ours_tensor = kernels.mish_(x.clone())
    ours = (ours_tensor.double() - exact).abs() / exact.abs().clamp(min=1e-30)
    assert torch.isfinite(ours_tensor).all()
    assert ours.max() <= max(2 * torchs.max().item(), 5e-7)
    y = torch.randn(4, 8)
    assert kernels.mish_(y) is y


@pytest.mark.parametrize("block", ["plain", "modulated"])
def test_fused_convolution_blocks_equal_the_models(block):
    """The blocks with an in-place tail against the model's own: close without a gradient, identical where torch's
    own tail runs (with a gradient, the gradients too; with the convolution pinned to "direct")."""
    import copy

    from motionclr_lens.model import AdaGNConvBlock, ConvBlock

    torch.manual_seed(0)
    original = ConvBlock(64, 48, 5, 8) if block == "plain" else AdaGNConvBlock(64, 48, 5, 8)
    for p in original.parameters():
        torch.nn.init.normal_(p, 0.0, 0.3)
    fused = kernels.use_cpu_kernels(copy.deepcopy(original))
    assert type(fused).__name__ == ("FusedConvBlock" if block == "plain" else "FusedAdaGNConvBlock")
    x = torch.randn(3, 30, 64).transpose(1, 2)
    extra = () if block == "plain" else (torch.randn(3, 48, 1), torch.randn(3, 48, 1))
    with torch.no_grad():
        expected = original(x, *extra)
        torch.testing.assert_close(fused(x, *extra), expected, rtol=1e-5, atol=1e-5)
        kernels.pin_kernels(fused, conv="direct")
        assert torch.equal(fused(x, *extra), expected)
    kernels.pin_kernels(fused)
    with force_kernels(conv="unfold"):
        fused(x, *extra).square().sum().backward()
    original(x, *extra).square().sum().backward()
    for ours, theirs in zip(fused.parameters(), original.parameters(), strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-4)


def test_a_fused_block_whose_scale_alone_needs_a_gradient_runs_the_models_own():
    """A frozen block under a trained timestep embedding: only the scale needs a gradient, so the block runs as the
    model's (in place would break the backward), and the scale's gradient equals the model's."""
    import copy

    from motionclr_lens.model import AdaGNConvBlock

    torch.manual_seed(0)
    original = AdaGNConvBlock(16, 8, 5, 4).requires_grad_(False)
    fused = kernels.use_cpu_kernels(copy.deepcopy(original))
    x, shift = torch.randn(2, 16, 12), torch.randn(2, 8, 1)
    grads = []
    for block in (fused, original):
        scale = torch.linspace(-0.5, 0.5, 16).view(2, 8, 1).requires_grad_()
        out = block(x, scale, shift)
        out.square().sum().backward()
        grads.append((out.detach(), scale.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-5)  # the convolution's kernel may differ
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-4)


def test_forcing_names_the_valid_kernels():
    names = r"\('blas', 'blas_nn', 'onednn', 'mkl_packed', 'blas_t'\)"
    with pytest.raises(ValueError, match=rf"linear kernel must be one of {names}"):
        force_kernels(linear="mkl").__enter__()
    with pytest.raises(ValueError, match=r"conv kernel must be one of \('direct', 'unfold'\)"):
        force_kernels(conv="fft").__enter__()


@pytest.mark.parametrize(("k", "stride", "pad"), [(3, 2, 1), (4, 3, 0), (1, 1, 0), (1, 2, 0), (5, 1, 2), (2, 2, 3)])
@pytest.mark.parametrize("layout", ["channels", "frames"])
def test_unfolded_convolutions_of_any_stride_and_their_gradients_equal_torchs(k, stride, pad, layout):
    """The down path's strided convolution (k 3, stride 2) and others, unfolded, on (B, T, C) frames seen as
    channels (the model's layout) or on (B, C, T): forward, and gradients."""
    torch.manual_seed(0)
    layer = TemporalConv1d(48, 32, k, stride, pad)
    reference = torch.nn.Conv1d(48, 32, k, stride, pad)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(3, 25, 48).transpose(1, 2) if layout == "frames" else torch.randn(3, 48, 25)
    x.requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    with force_kernels(conv="unfold"):
        with torch.no_grad():
            torch.testing.assert_close(layer(x), reference(x), rtol=1e-5, atol=1e-5)
        out = layer(x)
    out.square().sum().backward()
    reference(x_ref).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(layer.bias.grad, reference.bias.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-4)


def test_an_unfolded_convolution_of_an_input_shorter_than_its_kernel_raises_torchs_error():
    layer = TemporalConv1d(8, 4, 5)
    with force_kernels(conv="unfold"), pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        layer(torch.randn(2, 8, 3))


def test_a_convolution_is_also_timed_from_a_heap_given_back_to_the_system(monkeypatch):
    """A convolution's candidates are timed as they come and from a heap whose free pages went back to the system
    (`malloc_trim` before each such run, where glibc has it); a linear class is timed as it comes only."""
    if kernels._release_free_memory() is None:
        pytest.skip("no malloc_trim here")
    monkeypatch.setenv(kernels.CACHE_ENV, "off")
    released = []
    monkeypatch.setattr(kernels, "_release_free_memory", lambda: lambda: released.append(1))
    with torch.no_grad():
        DenseLinear(64, 64)(torch.randn(8, 64))
        assert released == []
        TemporalConv1d(64, 64, 5, padding=2)(torch.randn(2, 64, 40))
    conv = [c for c in kernel_choices() if c.kind == "conv"]
    assert len(conv) == 1 and len(released) == kernels.COLD_REPEATS * len(CONV_KERNELS)


@pytest.mark.skipif(kernels._mkl_packed_ops() is None, reason="this torch build has no MKL packed sgemm")
def test_the_packed_weight_follows_the_weight_and_the_rows():
    """MKL's packed copy is made for one weight and one row count: an in-place change of the weight, or a call of
    other rows, gives torch's answer all the same (repacked, or unpacked)."""
    torch.manual_seed(0)
    layer = DenseLinear(256, 128)
    x = torch.randn(64, 256)
    with torch.no_grad(), force_kernels(linear="mkl_packed"):
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
        held = layer.__dict__["_kernel_packed"].value
        layer.weight.mul_(-2.0)
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
        assert layer.__dict__["_kernel_packed"].value is not held
        for rows in (1, 63, 200):
            y = torch.randn(rows, 256)
            torch.testing.assert_close(layer(y), F.linear(y, layer.weight, layer.bias))
        z = torch.randn(2, 256, 64).transpose(1, 2)  # not contiguous
        torch.testing.assert_close(layer(z), F.linear(z, layer.weight, layer.bias))


@pytest.mark.parametrize("linear", ["blas_nn", "mkl_packed"])
def test_a_layer_with_a_weight_copy_deep_copies_and_saves(linear, tmp_path):
    """The copies kernels keep are derived data: a deep copy or a saved layer leaves them out (MKL's packed copy
    cannot be copied at all), and the copy, or the layer loaded back, computes the same."""
    import copy

    if not kernels._available(linear):
        pytest.skip(f"{linear} is not available in this build")
    torch.manual_seed(0)
    model = torch.nn.Sequential(DenseLinear(256, 128))
    x = torch.randn(64, 256)
    with torch.no_grad(), force_kernels(linear=linear):
        expected = model(x)
        twin = copy.deepcopy(model)
        torch.save(model, tmp_path / "model.pt")
        loaded = torch.load(tmp_path / "model.pt", weights_only=False)
        for other in (twin, loaded):
            assert all(other[0].__dict__.get(k) is None for k in ("_kernel_transposed", "_kernel_packed"))
            torch.testing.assert_close(other(x), expected, rtol=0, atol=0)


def test_a_choice_stored_among_other_candidates_is_measured_again(tmp_path, monkeypatch):
    """A disk cache written before a kernel was added holds a choice among fewer candidates: the class is measured
    again, every candidate timed, and stored with the candidates it was chosen among."""
    path = tmp_path / "kernels.json"
    monkeypatch.setenv(kernels.CACHE_ENV, str(path))
    layer = DenseLinear(256, 128)
    key = kernels.KernelChoice("linear", (256, 128), 64, False, torch.get_num_threads(), "", {}, "").key
    path.write_text(json.dumps({kernels.machine_key(): {key: {"kernel": "blas", "seconds": {}}}}))
    with torch.no_grad():
        layer(torch.randn(64, 256))
    (choice,) = kernel_choices()
    available = [n for n in LINEAR_KERNELS if kernels._available(n)]
    assert choice.how == "measured" and list(choice.seconds) == available
    assert json.loads(path.read_text())[kernels.machine_key()][key]["among"] == available
    kernels.clear_kernel_choices()
    with torch.no_grad():
        layer(torch.randn(64, 256))
    assert [c.how for c in kernel_choices()] == ["disk"]


def test_weight_copies_can_be_turned_off(monkeypatch):
    """With copies off, the kernels that keep a copy of the weight are not candidates, and nothing is kept."""
    monkeypatch.setenv(kernels.CACHE_ENV, "off")
    monkeypatch.setenv(kernels.COPIES_ENV, "off")
    layer = DenseLinear(256, 128)
    with torch.no_grad():
        layer(torch.randn(64, 256))
    (choice,) = kernel_choices()
    assert set(choice.seconds) == {n for n in LINEAR_KERNELS if n not in kernels.COPYING_KERNELS}
    assert "_kernel_transposed" not in layer.__dict__ and "_kernel_packed" not in layer.__dict__
    assert all(row["copy_bytes"] == 0 for row in describe_kernels(layer))


def test_autocast_runs_torchs_own_kernels():
    layer = DenseLinear(256, 256)
    x = torch.randn(32, 256)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16 and kernel_choices() == []


def test_processes_on_one_machine_agree_on_their_kernels(tmp_path):
    """Two processes meeting the same classes at once: one measures, the other waits and reads its choice,
    and both compute the same numbers."""
    script = (
        "import torch\n"
        "from motionclr_lens import kernels\n"
        "from motionclr_lens.kernels import TemporalConv1d, kernel_choices\n"
        "kernels.BUSY_CORES = float('inf')  # the machine's load is another test's subject\n"
        "torch.manual_seed(0)\n"
        "conv = TemporalConv1d(512, 256, 5, padding=2)\n"
        "with torch.no_grad():\n"
        "    out = conv(torch.randn(2, 512, 40))\n"
        "print(sorted((c.kind, c.kernel, c.how) for c in kernel_choices()), out.double().sum().item())\n"
    )
    env = {**os.environ, kernels.CACHE_ENV: str(tmp_path / "kernels.json")}
    runs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [run.communicate(timeout=300)[0].strip() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    hows = sorted(" ".join(sorted(set(re.findall(r"'(measured|disk)'", out)))) for out in outputs)
    assert hows == ["disk", "measured"], outputs
    assert outputs[0].rsplit(" ", 1)[1] == outputs[1].rsplit(" ", 1)[1]  # the same numbers, bit for bit


def test_a_choice_timed_on_a_busy_machine_is_not_kept_for_later_processes(tmp_path, monkeypatch):
    """Times taken while other processes held the cores serve this process only: nothing is written to disk, and
    the class is measured again by the next process; timed on a quiet machine, the choice is written."""
    path = tmp_path / "kernels.json"
    monkeypatch.setenv(kernels.CACHE_ENV, str(path))
    layer = DenseLinear(64, 32)
    monkeypatch.setattr(kernels, "BUSY_CORES", 0.5)
    monkeypatch.setattr(kernels, "others_busy_window", lambda: lambda: 1.5)
    with torch.no_grad():
        layer(torch.randn(16, 64))
    assert [c.how for c in kernel_choices()] == ["measured while busy"]
    assert not path.exists() or not json.loads(path.read_text()).get(kernels.machine_key())
    kernels.clear_kernel_choices()
    monkeypatch.setattr(kernels, "others_busy_window", lambda: lambda: 0.1)
    with torch.no_grad():
        layer(torch.randn(16, 64))
    assert [c.how for c in kernel_choices()] == ["measured"]
    assert kernel_choices()[0].key in json.loads(path.read_text())[kernels.machine_key()]


def test_the_largest_cache_is_read_from_the_systems_description(tmp_path):
    """The largest of the first CPU's caches, in the units the system writes; a size it cannot read is passed
    over, and without any the fallback holds."""
    for index, size in [("index0", "48K"), ("index1", "n/a"), ("index2", "1024K"), ("index3", "32768K")]:
        (tmp_path / index).mkdir()
        (tmp_path / index / "size").write_text(size + "\n")
    assert kernels.last_level_cache_bytes(tmp_path) == 32 * 2**20
    assert kernels.last_level_cache_bytes(tmp_path / "none") == kernels.FALLBACK_CACHE_BYTES


@pytest.mark.parametrize("cache_bytes", [2**30, 2**16, 2**8])
def test_a_model_larger_than_the_cache_times_its_products_with_each_weight_from_memory(monkeypatch, cache_bytes):
    """Where the weights a step reads (the kernels' layers') exceed the largest cache, those layers are marked, and a
    marked product class is timed over copies of the weight spanning twice the cache, one copy a call, each copying
    kernel's copy made beforehand for each; the choice is its own class ("streamed"), the layer keeps no copy of a
    kernel it does not run, and its output is torch's. A model within the cache is timed as before."""
    from dataclasses import replace

    from conftest import TINY

    from motionclr_lens import MotionCLR
    from motionclr_lens.model import UNet1D

    monkeypatch.setenv(kernels.CACHE_ENV, "off")
    monkeypatch.setattr(kernels, "last_level_cache_bytes", lambda: cache_bytes)
    model = kernels.use_cpu_kernels(MotionCLR(replace(TINY, channels=(64, 128), group_norm_groups=4)).eval())
    size = kernels.kernel_weight_bytes(model)
    assert 0 < size < sum(p.numel() * p.element_size() for p in model.parameters())  # the text's towers not counted
    marked = [m for m in model.modules() if kernels.STREAMED_FLAG in m.__dict__]
    kinds = (DenseLinear, TemporalConv1d, TransposedConv1d, UNet1D)  # the U-Net chooses in the run where marked
    assert marked and all(isinstance(m, kinds) for m in marked)
    assert {m.__dict__[kernels.STREAMED_FLAG] for m in marked} == {size > cache_bytes}
    layer = next(m for m in marked if isinstance(m, DenseLinear) and m.in_features == 128)
    seen: dict[str, list[int]] = {}
    run = kernels._linear_kernel

    def spy(name, owner, x, weight, bias):
        seen.setdefault(name, []).append(weight.data_ptr())
        return run(name, owner, x, weight, bias)

    monkeypatch.setattr(kernels, "_linear_kernel", spy)
    x = torch.randn(40, 128)
    with torch.no_grad():
        out = layer(x)
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
    (choice,) = kernel_choices()
    streamed = size > cache_bytes
    assert choice.streamed is streamed and choice.key.endswith(":streamed") is streamed
    assert set(choice.seconds) == {n for n in LINEAR_KERNELS if kernels._available(n)}
    span = min(2 * cache_bytes, kernels.STREAM_SPAN_MAX)
    copies = -(-span // (layer.weight.numel() * 4)) if streamed else 1  # one where the weight alone spans it
    timed = {name: ptrs[:-1] if name == choice.kernel else ptrs for name, ptrs in seen.items()}  # then the layer's
    assert timed[choice.kernel] and all(len(set(ptrs)) == copies for ptrs in timed.values())
    for name in set(kernels.COPYING_KERNELS) & set(timed):
        assert len(timed[name]) >= kernels.REPEATS + 1 + (copies if streamed else 0)
    kept = {"blas_nn": "_kernel_transposed", "mkl_packed": "_kernel_packed"}
    assert all(slot not in layer.__dict__ for name, slot in kept.items() if name != choice.kernel)


def test_a_model_that_streams_its_weights_chooses_its_kernels_in_the_run(monkeypatch):
    """Where a model's kernel weights exceed the largest cache, its U-Net chooses the streamed classes before the
    first forward of each kind: one forward finds them, then rounds of forwards, each with every such linear class
    on one kernel that keeps no copy, time them, then rounds with every convolution direct or unfolded; no hook sees
    those forwards, the run's cache of the text's keys and values is filled by the real forward only, and the result
    is torch's. Forwards of a kind seen run at once; with gradients on, nothing is chosen so."""
    from dataclasses import replace

    from conftest import TINY

    from motionclr_lens import MotionCLR
    from motionclr_lens.hooks import Hook, use_hooks
    from motionclr_lens.sampling import guided_prediction

    monkeypatch.setenv(kernels.CACHE_ENV, "off")
    monkeypatch.setattr(kernels, "last_level_cache_bytes", lambda: 2**8)
    torch.manual_seed(0)
    model = kernels.use_cpu_kernels(MotionCLR(replace(TINY, channels=(64, 128), group_norm_groups=4)).eval())
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=0.05)
    kernels.use_cpu_kernels(model)  # a second call adds no second hook
    assert len(model.unet._forward_pre_hooks) == 1
    forwards = []
    unet_forward = model.unet.forward
    monkeypatch.setattr(model.unet, "forward", lambda *a: forwards.append(a[3].hooks) or unet_forward(*a))
    x, t = torch.randn(1, 24, TINY.input_dim), torch.tensor([500])
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long)).detach()
    seen: list[int] = []
    text_kv: dict[int, object] = {}
    names = [n for n in kernels.IN_RUN_KERNELS if kernels._available(n)]
    with torch.no_grad(), use_hooks(Hook(lambda w, ctx: seen.append(ctx.layer), kinds=("self",))):
        out = guided_prediction(model, x, t, text, 2.5, text_kv=text_kv)
    layers = len(model.attention_layers())
    assert len(forwards) == 2 + kernels.IN_RUN_ROUNDS * (len(names) + len(CONV_KERNELS))
    assert all(h == () for h in forwards[:-1]) and forwards[-1] != ()  # only the real forward has the hook
    assert sorted(seen) == list(range(layers)) and len(text_kv) == layers
    linear = [c for c in kernel_choices() if c.kind in ("linear", "taps")]
    assert {c.kind for c in linear} == {"linear", "taps"}
    assert all(c.streamed and c.how == "in the run" and list(c.seconds) == names for c in linear)
    assert all(c.kernel in names and all(t > 0 for t in c.seconds.values()) for c in linear)  # each met in the run
    convs = [c for c in kernel_choices() if c.kind in ("conv", "tconv")]
    assert {c.kind for c in convs} == {"conv", "tconv"}
    assert all(c.streamed and c.how == "in the run" and list(c.seconds) == list(CONV_KERNELS) for c in convs)
    with torch.no_grad(), force_kernels(linear="blas", conv="direct"):
        expected = guided_prediction(model, x, t, text, 2.5)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    count = len(forwards)
    with torch.no_grad(), use_hooks(Hook(lambda w, ctx: None, kinds=("self",))):
        again = guided_prediction(model, x, t, text, 2.5, text_kv={})
    assert len(forwards) == count + 1 and torch.equal(again, out)  # the first forward ran the kernels chosen
    guided_prediction(model, x, t, text, 2.5)  # gradients on: nothing chosen in the run
    assert len(forwards) == count + 2
    assert all(k not in layer.__dict__ for layer in model.modules() for k in ("_kernel_transposed", "_kernel_packed"))


def test_choices_in_the_run_read_from_disk_leave_unmet_products_unchosen(monkeypatch, tmp_path):
    """A second process reads the choices in the run from disk; where the convolutions kept there are direct, the
    products of their unfolded way are not met, and none of them gets a kernel from times it never had."""
    from dataclasses import replace

    from conftest import TINY

    from motionclr_lens import MotionCLR
    from motionclr_lens.sampling import guided_prediction

    cache = tmp_path / "kernels.json"
    monkeypatch.setenv(kernels.CACHE_ENV, str(cache))
    monkeypatch.setattr(kernels, "last_level_cache_bytes", lambda: 2**8)
    torch.manual_seed(0)
    model = kernels.use_cpu_kernels(MotionCLR(replace(TINY, channels=(64, 128), group_norm_groups=4)).eval())
    x, t = torch.randn(1, 24, TINY.input_dim), torch.tensor([500])
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long)).detach()
    with torch.no_grad():
        guided_prediction(model, x, t, text, 2.5)
    first = {c.key: c for c in kernel_choices()}
    stored = json.loads(cache.read_text())
    entries = stored[kernels.machine_key()]
    convs = [k for k in entries if k.startswith(("conv:", "tconv:"))]
    assert convs and all(entries[k]["kernel"] in CONV_KERNELS for k in convs)
    for k in convs:
        entries[k]["kernel"] = "direct"
    for k in [k for k in entries if k.startswith(("linear:", "taps:"))]:
        del entries[k]  # the products measured again in the second process
    cache.write_text(json.dumps(stored))
    kernels.clear_kernel_choices()
    with torch.no_grad():
        guided_prediction(model, x, t, text, 2.5)
    second = kernel_choices()
    assert all(c.how == "disk" and c.kernel == "direct" for c in second if c.kind in ("conv", "tconv"))
    products = [c for c in second if c.kind in ("linear", "taps")]
    assert products and all(c.how == "in the run" and min(c.seconds.values()) > 0 for c in products)
    unfolded = {c.key for c in first.values() if c.kind in ("linear", "taps")} - {c.key for c in products}
    assert any(k.startswith("taps:") for k in unfolded)  # met only inside the convolutions, now direct
