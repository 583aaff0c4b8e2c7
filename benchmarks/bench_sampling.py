"""Time 10-step guided sampling of the release architecture against the machine's arithmetic floor and the
original's way of computing, side by side in one process.

The release configuration (random weights, 509 M parameters outside CLIP), T = 160 frames, batch 1,
float32 on the CPU, DPM-Solver++ (SDE, Karras sigmas) with guidance 2.5. Ways, alternated run by run:

  reference  the original's way: attention by einsum over (B, T, H, D) with a softmax over dim 2 and a host
             copy of row 0's head-mean map at every call, every convolution and linear layer torch's own
  torch      the library with torch's own kernels forced (`force_kernels(linear="blas", conv="direct")`)
  library    the library as it runs: each product class on the kernel measured fastest on this machine

The library's ways, like its pipeline, compute the text's keys and values in every cross-attention once per run
(the reference, at every step). The floor is the arithmetic the library's run does (counted by torch's
FlopCounterMode: the first guided forward in full, the other steps reusing the text's keys and values) over the
best float32 matmul rate measured in the same run (a 1 s reading just before each run, and one of 3 s at the end);
each run is also set against the floor of the reading just before it, the ratios' median and range printed, which
on a host whose speed moves compares like with like. The ratio to the reference is taken round by round (the ways
of a round run one after the other): its median and range. The machine line names the CPU model and torch's cpu
capability.

    python benchmarks/bench_sampling.py [--frames 160] [--steps 10] [--repeats 3] [--threads N]
                                        [--ways reference torch library]
"""

from __future__ import annotations

import argparse
import collections
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from motionclr_lens import MotionCLR, MotionCLRConfig, kernels
from motionclr_lens.model import _Attention
from motionclr_lens.sampling import guided_prediction, make_scheduler, sample_loop

WAYS = ("reference", "torch", "library")


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
    with kernels.force_kernels(linear="blas", conv="direct"):
        yield


@contextmanager
def reference_attention(host_maps: list[np.ndarray]) -> Iterator[None]:
    """Swap every attention layer's computation for the original's: einsum over (B, T, H, D), softmax over
    the keys at dim 2, and row 0's head mean copied to the host as float64 at every call; run every
    convolution and linear layer through torch's Conv1d and Linear; and compute both halves of a guided batch in
    full (`MotionCLR.share_twin_halves` off), as the original does."""
    library_attend, library_twins = _Attention.attend, MotionCLR._twins

    def attend(self: _Attention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, call: object, n_rows: int):
        B, T, C = q.shape
        S, H = k.shape[1], self.heads
        query, key, value = q.view(B, T, H, -1), k.view(B, S, H, -1), v.view(B, S, H, -1)
        attention = torch.einsum("bnhd,bmhd->bnmh", query, key) / math.sqrt(C // H)
        weight = F.softmax(attention, dim=2)
        host_maps.append(weight[0].mean(dim=-1).detach().cpu().numpy().astype(float))
        return torch.einsum("bnmh,bmhd->bnhd", weight, value).reshape(B, T, C)

    _Attention.attend = attend  # type: ignore[method-assign]
    MotionCLR._twins = lambda self, x, timesteps, n_cond: 0  # type: ignore[method-assign]
    try:
        with torch_products():
            yield
    finally:
        _Attention.attend = library_attend  # type: ignore[method-assign]
        MotionCLR._twins = library_twins  # type: ignore[method-assign]


def machine_line() -> str:
    """The CPU model, torch's cpu capability and version, and the threads: printed beside every figure."""
    return f"machine: {kernels.machine_key()}, {torch.get_num_threads()} threads"


def kernel_summary() -> str:
    """How many product classes run on each kernel (measured in this process)."""
    counts = collections.Counter(f"{c.kind} {c.kernel}" for c in kernels.kernel_choices())
    return ", ".join(f"{name}: {n}" for name, n in sorted(counts.items())) or "none measured"


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


def release_inputs(frames: int) -> tuple[MotionCLR, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The random release model, the empty prompt's text features, a noisy motion of `frames` frames and the
    timestep 500: one guided forward's inputs."""
    model = random_release_model()
    text = model.encode_text(torch.zeros(1, 77, dtype=torch.long)).detach()
    return model, text, torch.randn(1, frames, model.config.input_dim), torch.tensor([500])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model, text, x, t = release_inputs(args.frames)
    counted_kv: dict[int, object] = {}
    gflop = []
    for _ in range(2):  # the first forward fills the run's cache of the text's keys and values, the second reuses it
        with torch.no_grad(), torch_products(), FlopCounterMode(display=False) as counter:
            guided_prediction(model, x, t, text, text_kv=counted_kv)
        gflop.append(counter.get_total_flops() / 1e9)
    gflop_run = gflop[0] + (args.steps - 1) * gflop[1]

    def scope(way: str) -> AbstractContextManager:
        if way == "reference":
            return reference_attention([])
        return torch_products() if way == "torch" else nullcontext()

    def run(way: str) -> float:
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(1, args.frames, model.config.input_dim, generator=generator)
        text_kv: dict[int, object] | None = None if way == "reference" else {}  # the pipeline's cache, one per run
        with scope(way):
            start = time.perf_counter()
            sample_loop(
                lambda xt, tt, step: guided_prediction(model, xt, tt, text, 2.5, text_kv=text_kv),
                noise,
                make_scheduler("dpmsolver"),
                args.steps,
                generator=generator,
            )
            return time.perf_counter() - start

    first = {way: run(way) for way in args.ways}  # warm-up; the library's first run measures its kernels
    times: dict[str, list[float]] = {way: [] for way in args.ways}
    # The matmul rate, read for 1 s just before each run: a shared host's speed moves. The floor of the table takes
    # the best reading; each run is also set against the floor of the reading just before it.
    local: dict[str, list[float]] = {way: [] for way in args.ways}
    rates = []
    for _ in range(args.repeats):
        for way in args.ways:
            rates.append(matmul_rate(seconds=1.0))
            times[way].append(run(way))
            local[way].append(times[way][-1] / (gflop_run / rates[-1]))
    rates.append(matmul_rate())
    rate = max(rates)
    floor = gflop_run / rate
    print(machine_line())
    print(
        f"guided forward at T={args.frames}: {gflop[0]:.1f} GFLOP (counted), {gflop[1]:.1f} reusing the text's keys "
        f"and values; {args.steps} steps: {gflop_run:.1f} GFLOP"
    )
    print(
        f"float32 matmul rate: {rate:.1f} GFLOP/s, the best of {len(rates)} readings, one before each run "
        f"({min(rates):.1f}-{rate:.1f}); arithmetic floor for {args.steps} steps: {floor:.2f} s"
    )
    copies = {row["layer"]: row["copy_bytes"] for row in kernels.describe_kernels(model)}
    print(f"kernels chosen: {kernel_summary()}; weight copies kept: {sum(copies.values()) / 2**20:.0f} MiB")
    print()
    print(
        f"| way | first run s | best s | median s of {args.repeats} | median / floor | by runs, / the floor read "
        "before | reference / way, by rounds |"
    )
    print("|---|---|---|---|---|---|---|")
    for way in args.ways:
        median = statistics.median(times[way])
        ratio = "-"
        if "reference" in times:
            # Within each round the ways ran one after the other: the ratio of a round, then their median and range.
            rounds = sorted(r / w for r, w in zip(times["reference"], times[way], strict=True))
            ratio = f"{statistics.median(rounds):.2f} ({rounds[0]:.2f}-{rounds[-1]:.2f})"
        near = sorted(local[way])
        print(
            f"| {way} | {first[way]:.2f} | {min(times[way]):.2f} | {median:.2f} | {median / floor:.2f} | "
            f"{statistics.median(near):.2f} ({near[0]:.2f}-{near[-1]:.2f}) | {ratio} |"
        )


if __name__ == "__main__":
    main()
