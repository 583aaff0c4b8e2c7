"""The convolution blocks' in-place tail (GroupNorm's output, scale and shift, Mish with one exponential) against
the model's own, in the release model's guided forward, alternated forward by forward in one process.

The release configuration with random weights, T = 160 frames, batch 1 (two rows with guidance 2.5), float32, the
text's keys and values reused as a run does. Each round runs one forward with every block fused
(`FusedConvBlock`, `FusedAdaGNConvBlock`) and one with every block the model's own (`ConvBlock`,
`AdaGNConvBlock`), the products on the kernels measured on this machine in both. Printed: the median ratio of
fused to plain over the rounds, with its quartiles, and each way's median time.

    python benchmarks/bench_tail.py [--rounds 30] [--frames 160]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_sampling import machine_line, random_release_model

from motionclr_lens.kernels import FusedAdaGNConvBlock, FusedConvBlock
from motionclr_lens.model import AdaGNConvBlock, ConvBlock
from motionclr_lens.sampling import guided_prediction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--frames", type=int, default=160)
    args = parser.parse_args()

    model = random_release_model()
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long)).detach()
    x = torch.randn(1, args.frames, model.config.input_dim)
    t = torch.tensor([500])
    text_kv: dict[int, object] = {}
    blocks = [m for m in model.modules() if isinstance(m, (ConvBlock, AdaGNConvBlock))]
    classes = {
        "fused": [type(m) for m in blocks],
        "plain": [ConvBlock if isinstance(m, FusedConvBlock) else AdaGNConvBlock for m in blocks],
    }
    assert all(c in (FusedConvBlock, FusedAdaGNConvBlock) for c in classes["fused"])
    times: dict[str, list[float]] = {way: [] for way in classes}
    for round_ in range(args.rounds + 2):  # two warm-up rounds (the first measures the kernels)
        for way, kinds in classes.items():
            for block, kind in zip(blocks, kinds, strict=True):
                block.__class__ = kind
            with torch.no_grad():
                start = time.perf_counter()
                guided_prediction(model, x, t, text, 2.5, text_kv=text_kv)
                seconds = time.perf_counter() - start
            if round_ >= 2:
                times[way].append(seconds)
    ratios = sorted(a / b for a, b in zip(times["fused"], times["plain"], strict=True))
    n = len(ratios)
    print(machine_line())
    print(
        f"fused / plain per guided forward at T={args.frames}: median {statistics.median(ratios):.3f} "
        f"[quartiles {ratios[n // 4]:.3f}, {ratios[(3 * n) // 4]:.3f}] over {n} rounds; median forward "
        f"{statistics.median(times['fused']) * 1e3:.0f} ms fused, "
        f"{statistics.median(times['plain']) * 1e3:.0f} ms plain"
    )


if __name__ == "__main__":
    main()
