"""Time 10-step guided sampling of the release architecture against the machine's arithmetic floor.

The release configuration (random weights, 509 M parameters outside CLIP), T = 160 frames, batch 1,
float32 on the CPU, DPM-Solver++ (SDE, Karras sigmas) with guidance 2.5. The floor is the FLOPs of the
ten guided forwards (counted by torch's FlopCounterMode) over the measured float32 matmul rate.

    python benchmarks/bench_sampling.py [--frames 160] [--steps 10] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode

from motionclr_lens import MotionCLR, MotionCLRConfig, kernels
from motionclr_lens.sampling import guided_prediction, make_scheduler, sample_loop


def best_rate(product: Callable[[], object], flop: float, seconds: float = 3.0) -> float:
    """Best GFLOP/s of `product` (which does `flop` floating-point operations) over a few seconds."""
    with torch.no_grad():
        for _ in range(3):
            product()
        best = 0.0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            for _ in range(5):
                product()
            best = max(best, 5 * flop / (time.perf_counter() - start) / 1e9)
    return best


def matmul_rate(size: int = 2048, seconds: float = 3.0) -> float:
    """Best float32 GFLOP/s of square matmuls over a few seconds (the rate the floor is measured against)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return best_rate(lambda: a @ b, 2 * size**3, seconds)


@contextmanager
def torch_products() -> Iterator[None]:
    """Run every convolution and linear layer through torch's own Conv1d and Linear (none through the
    library's oneDNN products): the same arithmetic, in operations FlopCounterMode knows how to count."""
    conv = kernels.TemporalConv1d
    saved = conv.GEMM_MIN_WIDTH, kernels.DENSE_MIN_WEIGHTS
    conv.GEMM_MIN_WIDTH = kernels.DENSE_MIN_WEIGHTS = 2**62
    try:
        yield
    finally:
        conv.GEMM_MIN_WIDTH, kernels.DENSE_MIN_WEIGHTS = saved


def random_release_model() -> MotionCLR:
    torch.manual_seed(0)
    model = MotionCLR(MotionCLRConfig.release()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():  # the zero-initialised layers get weights too
            if p.dim() > 1:
                p.normal_(0, 0.02)
            elif "norm" not in name:
                p.zero_()
    return kernels.use_cpu_kernels(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = random_release_model()
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long)).detach()
    x = torch.randn(1, args.frames, model.config.input_dim)
    t = torch.tensor([500])
    with torch.no_grad(), torch_products(), FlopCounterMode(display=False) as counter:
        guided_prediction(model, x, t, text)
    gflop_per_forward = counter.get_total_flops() / 1e9

    def run() -> float:
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(1, args.frames, model.config.input_dim, generator=generator)
        start = time.perf_counter()
        sample_loop(
            lambda xt, tt, step: guided_prediction(model, xt, tt, text, 2.5),
            noise,
            make_scheduler("dpmsolver"),
            args.steps,
            generator=generator,
        )
        return time.perf_counter() - start

    run()  # warm-up
    times = [run() for _ in range(args.repeats)]
    rate = matmul_rate()
    floor = args.steps * gflop_per_forward / rate
    best, median = min(times), statistics.median(times)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"guided forward at T={args.frames}: {gflop_per_forward:.1f} GFLOP (counted)")
    print(f"float32 matmul rate: {rate:.1f} GFLOP/s")
    print(f"arithmetic floor for {args.steps} steps: {floor:.2f} s")
    print(f"sampling {args.steps} steps, batch 1: best {best:.2f} s, median {median:.2f} s over {args.repeats}")
    print(f"ratio to the floor: {best / floor:.2f} (best), {median / floor:.2f} (median)")


if __name__ == "__main__":
    main()
