"""Speed of activation and attribution patching on the embedded model (docs/lens.md).

    python benchmarks/bench_patching.py [--seconds 4] [--steps 10] [--kinds cross self] [--model FOLDER]

One word-swap pair ("a person jumps" into "a person waves", seed 0): the recording of every attention output,
then the exact sweep of every layer x every single step of `--kinds` (18 x 10 = 180 patched runs per kind),
scored by the recogniser's probability of a jump, then attribution patching of the same cells (one run of the
target with gradients). Beside them, the floor: the same number of plain runs of the target (`pipe.run` on the
attention's explicit path, which every run of an experiment takes), timed in the same process, so the sweep's
cost over sampling alone is the patching's own. The machine line (CPU, torch's cpu capability, threads) heads
the output.
"""

from __future__ import annotations

import argparse
import time

import torch

from motionclr_lens import load_embedded
from motionclr_lens.hooks import explicit_attention
from motionclr_lens.kernels import machine_key
from motionclr_lens.patching import action_probability, attribution_sweep, patching_sweep, record
from motionclr_lens.settings import RunSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--kinds", nargs="+", default=["cross", "self"], choices=["cross", "self"])
    parser.add_argument("--model", default=None, help="a folder of exported weights (default: the shipped model)")
    args = parser.parse_args()
    pipe = load_embedded(args.model)
    settings = RunSettings(steps=args.steps)
    print(f"machine: {machine_key()}, {torch.get_num_threads()} threads")
    metric = action_probability("jump")
    pipe.run("a person waves", settings, seconds=args.seconds)  # warm-up (kernel choices, allocator)

    start = time.perf_counter()
    source = record(pipe, "a person jumps", seconds=args.seconds, seed=0, settings=settings)
    recorded = time.perf_counter() - start
    runs = len(source.layers("cross")) * args.steps * len(args.kinds)

    start = time.perf_counter()
    table = patching_sweep(pipe, source, "a person waves", metric, kinds=args.kinds)
    sweep = time.perf_counter() - start
    assert len(table.sites) == runs

    start = time.perf_counter()
    with explicit_attention():
        for _ in range(runs):
            generation = pipe.run("a person waves", settings, seconds=args.seconds, generator=torch.Generator())
            metric(generation)
    floor = time.perf_counter() - start

    attribution_sweep(pipe, source, "a person waves", kinds=args.kinds)  # warm-up: kernels with gradients
    start = time.perf_counter()
    attribution_sweep(pipe, source, "a person waves", kinds=args.kinds)
    attribution = time.perf_counter() - start
    one = floor / runs
    print(f"pair 'a person jumps' -> 'a person waves', {args.seconds:g} s, {args.steps} steps, kinds {args.kinds}")
    print(f"recording: {recorded:.2f} s, {source.nbytes / 2**20:.1f} MiB")
    print(f"exact sweep: {runs} patched runs in {sweep:.1f} s ({sweep / runs:.3f} s per run)")
    print(f"floor: {runs} plain runs of the target, scored the same way, in {floor:.1f} s ({one:.3f} s per run); "
          f"the sweep takes {sweep / floor:.2f}x its floor")  # fmt: skip
    print(f"attribution sweep (the same cells): {attribution:.2f} s, {attribution / one:.1f} plain runs' time, "
          f"{sweep / attribution:.0f}x faster than the exact sweep")  # fmt: skip


if __name__ == "__main__":
    main()
