"""One change to how the library runs against the way before it, in the release model's guided forward,
alternated forward by forward in one process.

The release configuration with random weights, T = 160 frames, batch 1 (two rows with guidance 2.5), float32, the
text's keys and values reused as a run does, the products on the kernels measured on this machine in both ways.
Each round runs one forward with the change and one without. Printed: the median ratio of the two over the rounds,
with its quartiles, and each way's median time. The changes:

  tail      the convolution blocks' in-place tail (GroupNorm's output, scale and shift, Mish with one exponential:
            `FusedConvBlock`, `FusedAdaGNConvBlock`) against the model's own blocks
  timestep  the timestep's two-row products through the measured kernels (`DenseLinear`) against torch's
            `nn.Linear`
  unfold    the convolutions' rows unfolded frame-major (`kernels._columns`: k copies, the channels innermost)
            against one gather of the padded (B, C, T) input in (channel, tap) order, the way before
  products  the linear products (each call of `kernels._linear_kernel`) against none, each replaced by a zero
            result of its shape: "without" is what the rest of a forward costs
  streamed  the linear products' kernels timed with each call's weight from memory (`_streamed_candidates`, as
            the release model's run reads them) against the kernels timed on one weight, warm, the way before:
            both sets of choices are classes of their own, measured in the warm-up rounds
  twins     the guided pair's halves computed once in the first block, up to its cross-attention
            (`MotionCLR.share_twin_halves`), against every row computed, the way before
  inrun     the streamed linear classes' kernels chosen in the run (`kernels.choose_in_the_run`: whole forwards,
            each with every class on one kernel) against each class timed apart from the run over copies of its
            weight (`_streamed_candidates`), the way before: both sets measured in the warm-up rounds, in this
            process only (nothing read from or written to the disk cache)
  taps      the transposed convolutions' products ("taps" classes) on the kernels measured for them against
            torch's matmul of the frames by the weight as stored, the way before
  convrun   the convolutions' kernels (direct or unfolded) chosen in the run, their products chosen first, against
            each class timed apart from the run (`_time_candidates`, from a warm and from a trimmed heap), the way
            before: both sets measured in the warm-up rounds, in this process only

    python benchmarks/bench_changes.py [--change tail] [--rounds 30] [--frames 160]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from bench_sampling import machine_line, release_inputs
from torch import Tensor, nn

from motionclr_lens import kernels
from motionclr_lens.kernels import DenseLinear, FusedAdaGNConvBlock, FusedConvBlock
from motionclr_lens.model import AdaGNConvBlock, ConvBlock, MotionCLR, ResidualTemporalBlock, UNet1D
from motionclr_lens.sampling import guided_prediction


def gathered_columns(x: Tensor, k: int, pad: int, stride: int, t_out: int) -> Tensor:
    """The unfolded rows as made before: the (B, C, T) input padded, then one gather in (channel, tap) order."""
    B, C, _ = x.shape
    windows = F.pad(x, (pad, pad)).unfold(2, k, stride)  # (B, C, t_out, k), a view
    return windows.permute(0, 2, 1, 3).reshape(B * t_out, C * k)


def switches(model: MotionCLR, change: str) -> Callable[[bool], None]:
    """A function that turns `change` on (True) or off (False) in `model`."""
    if change == "tail":
        blocks = [m for m in model.modules() if isinstance(m, (ConvBlock, AdaGNConvBlock))]
        assert all(isinstance(m, (FusedConvBlock, FusedAdaGNConvBlock)) for m in blocks)
        fused = [type(m) for m in blocks]
        plain = [ConvBlock if isinstance(m, FusedConvBlock) else AdaGNConvBlock for m in blocks]

        def tail(on: bool) -> None:
            for block, kind in zip(blocks, fused if on else plain, strict=True):
                block.__class__ = kind

        return tail
    if change == "timestep":
        owners = [m for m in model.modules() if isinstance(m, (ResidualTemporalBlock, UNet1D))]
        layers = [layer for m in owners for layer in m.time_mlp if isinstance(layer, nn.Linear)]
        assert layers and all(isinstance(layer, DenseLinear) for layer in layers)

        def timestep(on: bool) -> None:
            for layer in layers:
                layer.__class__ = DenseLinear if on else nn.Linear

        return timestep
    if change == "products":
        products = kernels._linear_kernel

        def zero(name: str, owner: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
            return x.new_zeros(x.shape[0], weight.shape[0])

        def linear_products(on: bool) -> None:
            kernels._linear_kernel = products if on else zero  # type: ignore[assignment]

        return linear_products
    if change == "streamed":
        marked = [m for m in model.modules() if kernels.STREAMED_FLAG in m.__dict__]
        assert marked and all(m.__dict__[kernels.STREAMED_FLAG] for m in marked)

        def streamed(on: bool) -> None:
            for layer in marked:
                layer.__dict__[kernels.STREAMED_FLAG] = on

        return streamed
    if change == "taps":
        chosen = {}

        def taps(on: bool) -> None:
            for key in [k for k in kernels._CHOSEN if k[0] == "taps"]:
                chosen.setdefault(key, kernels._CHOSEN[key])
                kernels._CHOSEN[key] = chosen[key] if on else "blas"

        return taps
    if change in ("inrun", "convrun"):
        kinds = ("linear", "taps") if change == "inrun" else ("conv", "tconv")
        kernels._disk_path = lambda: None  # type: ignore[assignment]  # both sets measured here
        unet = model.unet
        sets: dict[bool, dict] = {}
        last: list[bool] = []

        def inrun(on: bool | None) -> None:
            if on is None:  # after the rounds: the classes whose kernels differ between the two ways
                for key in sorted(k for k in sets.get(True, {}) if k[0] in kinds and k[5]):
                    if sets[True][key] != sets.get(False, {}).get(key):
                        print(f"  {kernels._probe(key).key}: {sets[False].get(key)} -> {sets[True][key]}")
                return
            if last and last[-1] not in sets:
                sets[last[-1]] = dict(kernels._CHOSEN)  # what the forward just run chose
            last.append(on)
            if on in sets:
                kernels._CHOSEN.clear()
                kernels._CHOSEN.update(sets[on])
                return
            for key in [k for k in kernels._CHOSEN if k[0] in kinds and k[5]]:  # streamed classes of those kinds
                del kernels._CHOSEN[key]
                kernels._CHOICES.pop(kernels._probe(key).key, None)
            unet.__dict__[kernels.STREAMED_FLAG] = on

        return inrun
    if change == "twins":

        def twins(on: bool) -> None:
            model.share_twin_halves = on

        return twins
    library_columns = kernels._columns

    def unfold(on: bool) -> None:
        kernels._columns = library_columns if on else gathered_columns  # type: ignore[assignment]

    return unfold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    changes = ("tail", "timestep", "unfold", "products", "streamed", "twins", "inrun", "taps", "convrun")
    parser.add_argument("--change", choices=changes, default="tail")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--frames", type=int, default=160)
    args = parser.parse_args()

    model, text, x, t = release_inputs(args.frames)
    text_kv: dict[int, object] = {}
    switch = switches(model, args.change)
    times: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    try:
        for round_ in range(args.rounds + 2):  # two warm-up rounds (the first measures the kernels)
            for on in (True, False):
                switch(on)
                with torch.no_grad():
                    start = time.perf_counter()
                    outputs[on] = guided_prediction(model, x, t, text, 2.5, text_kv=text_kv)
                    seconds = time.perf_counter() - start
                if round_ >= 2:
                    times[on].append(seconds)
    finally:
        switch(True)
    ratios = sorted(a / b for a, b in zip(times[True], times[False], strict=True))
    n = len(ratios)
    print(machine_line())
    print(
        f"{args.change}: with / without per guided forward at T={args.frames}: median {statistics.median(ratios):.3f} "
        f"[quartiles {ratios[n // 4]:.3f}, {ratios[(3 * n) // 4]:.3f}] over {n} rounds; median forward "
        f"{statistics.median(times[True]) * 1e3:.0f} ms with, {statistics.median(times[False]) * 1e3:.0f} ms "
        f"without; outputs differ by at most {(outputs[True] - outputs[False]).abs().max().item():.2e}"
    )
    if args.change in ("inrun", "convrun"):
        print("classes whose kernel differs (the way before -> chosen in the run):")
        switch(None)  # type: ignore[arg-type]
    if args.change == "streamed":
        for streamed in (True, False):
            counts = collections.Counter(
                c.kernel for c in kernels.kernel_choices() if c.kind == "linear" and c.streamed is streamed
            )
            way = "streamed" if streamed else "warm"
            print(f"linear classes timed {way}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
