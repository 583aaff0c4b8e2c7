"""Sampling with and without attention capture, against a path that computes the way the original does.

For each model (the release architecture with random weights, and the embedded model) and batch size,
one 10-step DPM-Solver++ run with guidance 2.5 at T frames, float32 on the CPU, in four ways:

  (a) reference: computed the way the original code does: attention by einsum over (B, T, H, D) layouts
      with a softmax over dim 2, at every attention call the host copy of row 0's head-mean map as
      float64, kept for the run, and every convolution and linear layer through torch's own Conv1d and Linear;
  (b) the library with no capture (fused attention, wide convolutions as one matrix product);
  (c) capture of everything: all layers, steps, heads and both guidance branches;
  (d) capture of the head mean: all layers, steps and both branches.

Repeats are interleaved (a, b, c, d, a, b, ...) so that drift of the machine hits every way alike.
The floor is the run's FLOPs (counted by torch's FlopCounterMode over the whole run of (b)) over the best
float32 matmul rate (`a @ b`, 2048 x 2048) measured in the same process; "dense floor" uses instead the
best rate of the library's oneDNN product (`model.dense`) on the same matrices, which its large products
run on.
Peak memory is the process's resident set at its highest during a run (the kernel's high-water mark,
reset before the run) minus its size before the model was built; the allocator keeps freed pages, so in
a process that ran other ways before it is an upper bound: `--ways b --repeats 1` measures one way alone.

    python benchmarks/bench_capture.py [--models release embedded] [--batches 1 8] [--frames 160]
                                       [--steps 10] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from bench_sampling import (
    best_rate,
    kernel_summary,
    machine_line,
    matmul_rate,
    random_release_model,
    reference_attention,
    torch_products,
)

from motionclr_lens import MotionCLRPipeline, kernels, load_embedded
from motionclr_lens.capture import capture
from motionclr_lens.motion import FEATURE_DIM

PROMPT = "a person walks forward then jumps three times"
WAYS = ("a", "b", "c", "d")
WAY_NAMES = {
    "a": "reference (einsum, host copy per call)",
    "b": "library, no capture",
    "c": "capture everything",
    "d": "capture head mean",
}


def dense_rate(size: int = 2048, seconds: float = 3.0) -> float:
    """Best float32 GFLOP/s of a (size x size) @ (size x size) product through the library's `dense`
    (oneDNN), which its large products run on."""
    x, w = torch.randn(size, size), torch.randn(size, size)
    return best_rate(lambda: kernels.dense(x, w, None), 2 * size**3, seconds)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _high_water_mark() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """The peak resident set over the block; yields a list whose one item is the peak at exit.

    The kernel's own high-water mark, reset at entry (`/proc/self/clear_refs`), so nothing runs beside
    the timed work. Where it cannot be reset, a thread samples the resident set every 2 ms instead (it
    takes time from the work it measures).
    """
    peak = [rss_bytes()]
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _high_water_mark()
    except OSError:
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_bytes())
                time.sleep(0.002)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            done.set()
            thread.join()
            peak[0] = max(peak[0], rss_bytes())
        return
    try:
        yield peak
    finally:
        peak[0] = max(peak[0], _high_water_mark())


class Bench:
    def __init__(self, name: str, pipe: MotionCLRPipeline, batch: int, frames: int, steps: int) -> None:
        self.name, self.pipe, self.batch, self.frames, self.steps = name, pipe, batch, frames, steps
        self.noise = torch.randn(batch, frames, FEATURE_DIM, generator=torch.Generator().manual_seed(0))
        self.times: dict[str, list[float]] = {w: [] for w in WAYS}
        self.peaks: dict[str, int] = dict.fromkeys(WAYS, 0)
        self.capture_bytes: dict[str, tuple[int, int]] = {}
        self.outputs: dict[str, torch.Tensor] = {}

    def generate(self, steps: int | None = None) -> torch.Tensor:
        out = self.pipe.generate(
            [PROMPT] * self.batch,
            lengths=self.frames,
            steps=steps or self.steps,
            guidance_scale=2.5,
            noise=self.noise,
            generator=torch.Generator().manual_seed(0),
            smooth_sigma=None,
        )
        return out.sample

    def scope(self, way: str, host_maps: list[np.ndarray]) -> AbstractContextManager:
        if way == "a":
            return reference_attention(host_maps)
        if way == "c":
            return capture(branches=("cond", "uncond"))
        if way == "d":
            return capture(branches=("cond", "uncond"), head_mean=True)
        return nullcontext()

    def run(self, way: str, baseline: int) -> None:
        host_maps: list[np.ndarray] = []
        gc.collect()
        with peak_rss() as peak, self.scope(way, host_maps) as cache:
            start = time.perf_counter()
            self.outputs[way] = self.generate()
            self.times[way].append(time.perf_counter() - start)
        self.peaks[way] = max(self.peaks[way], peak[0] - baseline)
        if cache is not None:
            self.capture_bytes[way] = (cache.nbytes, cache.estimated_bytes)
        elif way == "a":
            self.capture_bytes[way] = (sum(m.nbytes for m in host_maps), 0)
        del cache, host_maps

    def flops(self) -> float:
        with torch_products(), FlopCounterMode(display=False) as counter:
            self.generate()
        return counter.get_total_flops()


def weights_bytes(pipe: MotionCLRPipeline) -> int:
    return sum(t.numel() * t.element_size() for t in list(pipe.model.parameters()) + list(pipe.model.buffers()))


def build(name: str) -> MotionCLRPipeline:
    if name == "embedded":
        return load_embedded()
    model = random_release_model()
    dim = model.config.input_dim
    return MotionCLRPipeline(model, np.zeros(dim, np.float32), np.ones(dim, np.float32), info={"name": "release"})


def measure(
    name: str,
    batches: list[int],
    frames: int,
    steps: int,
    repeats: int,
    rate: float,
    dense: float,
    ways: tuple[str, ...] = WAYS,
) -> list[dict]:
    gc.collect()
    baseline = rss_bytes()
    pipe = build(name)
    rows = []
    for batch in batches:
        bench = Bench(name, pipe, batch, frames, steps)
        for way in ways:  # warm-up: one step in each way builds every kernel for these shapes
            with bench.scope(way, []):
                bench.generate(steps=1)
        flops = bench.flops()
        for _ in range(repeats):
            for way in ways:
                bench.run(way, baseline)
        floor = flops / (rate * 1e9)
        weights = weights_bytes(pipe)
        best_b = min(bench.times["b"]) if "b" in ways else float("nan")
        for way in ways:
            best, median = min(bench.times[way]), statistics.median(bench.times[way])
            held, estimated = bench.capture_bytes.get(way, (0, 0))
            diff = (bench.outputs[way] - bench.outputs["b"]).abs().max().item() if "b" in ways else float("nan")
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "way": way,
                    "best_s": best,
                    "median_s": median,
                    "floor_s": floor,
                    "ratio_to_floor": best / floor,
                    "ratio_to_dense_floor": best / (flops / (dense * 1e9)),
                    "ratio_to_b": best / best_b,
                    "peak_bytes": bench.peaks[way],
                    "weights_bytes": weights,
                    "capture_bytes": held,
                    "estimated_bytes": estimated,
                    "max_abs_diff_to_b": diff,
                }
            )
            print(format_row(rows[-1]), flush=True)
        del bench
    print(f"| {name} kernels chosen: {kernel_summary()} |", flush=True)
    del pipe
    return rows


def format_row(r: dict) -> str:
    mib = 2**20
    estimate = f"{r['estimated_bytes'] / mib:.1f}" if r["estimated_bytes"] else "-"
    return (
        f"| {r['model']} | {r['batch']} | ({r['way']}) {WAY_NAMES[r['way']]} | {r['best_s']:.2f} | "
        f"{r['median_s']:.2f} | {r['ratio_to_floor']:.2f} | {r['ratio_to_dense_floor']:.2f} | {r['ratio_to_b']:.3f} | "
        f"{r['peak_bytes'] / mib:.0f} | {r['weights_bytes'] / mib:.0f} | {r['capture_bytes'] / mib:.1f} | "
        f"{estimate} | {r['max_abs_diff_to_b']:.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["release", "embedded"], choices=["release", "embedded"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS, help="a subset, e.g. one way alone")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = parser.parse_args()
    torch.manual_seed(0)
    rate, dense = matmul_rate(), dense_rate()
    print(
        f"{machine_line()}; float32 rates: matmul {rate:.1f} GFLOP/s, oneDNN product (model.dense) {dense:.1f} GFLOP/s"
    )
    print(f"T = {args.frames}, {args.steps} DPM-Solver++ steps, guidance 2.5, best and median of {args.repeats}\n")
    print(
        "| model | batch | way | best s | median s | / floor | / dense floor | / (b) | peak MiB | weights MiB | "
        "capture MiB | estimate MiB | max diff to (b) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows: list[dict] = []
    for name in args.models:
        rows += measure(name, args.batches, args.frames, args.steps, args.repeats, rate, dense, tuple(args.ways))
    if args.json:
        args.json.write_text(json.dumps({"matmul_gflops": rate, "dense_gflops": dense, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
