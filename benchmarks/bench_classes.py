"""Each linear kernel's time on each product class in the release model's guided forward, in the run, against the
time it gets where the kernels are measured (on one weight, warm; and over copies of the weight, streamed).

The release configuration with random weights, T = 160 frames, batch 1 (two rows with guidance 2.5), float32, the
text's keys and values reused as a run does. Round by round, one forward with every linear product forced to each
kernel in turn; every call is timed by the wall clock and summed per class (the weight's shape and the rows rounded
up to a power of two). Printed per class: each kernel's median time a forward over the rounds, relative to the
fastest in the run; then, on the class's first input, each kernel's time as the measurement takes it warm (one
weight) and streamed (`kernels._streamed_candidates`), relative to the fastest of each, with the kernel each way
would choose.

    python benchmarks/bench_classes.py [--rounds 10] [--kernels onednn blas blas_t mkl_packed]
"""

from __future__ import annotations

import argparse
import collections
import functools
import statistics
import time

import torch
from bench_sampling import machine_line, release_inputs
from torch import Tensor, nn

from motionclr_lens import kernels
from motionclr_lens.sampling import guided_prediction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--frames", type=int, default=160)
    available = [n for n in kernels.LINEAR_KERNELS if kernels._available(n)]
    parser.add_argument("--kernels", nargs="+", choices=available, default=available)
    args = parser.parse_args()

    model, text, x, t = release_inputs(args.frames)
    text_kv: dict[int, object] = {}
    run = kernels._linear_kernel
    calls: dict[tuple[int, int, int], list[float]] = collections.defaultdict(list)
    first: dict[tuple[int, int, int], tuple[Tensor, Tensor, Tensor | None]] = {}

    def timed(name: str, owner: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        start = time.perf_counter()
        out = run(name, owner, x, weight, bias)
        seconds = time.perf_counter() - start
        key = (weight.shape[1], weight.shape[0], kernels._rows_class(x.shape[0]))
        calls[key].append(seconds)
        first.setdefault(key, (x, weight, bias))
        return out

    per_forward: dict[tuple[int, int, int], dict[str, list[float]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    kernels._linear_kernel = timed  # type: ignore[assignment]
    try:
        with torch.no_grad():
            for round_ in range(args.rounds + 1):  # one warm-up round
                for name in args.kernels:
                    calls.clear()
                    with kernels.force_kernels(linear=name):
                        guided_prediction(model, x, t, text, 2.5, text_kv=text_kv)
                    if round_:
                        for key, seconds in calls.items():
                            per_forward[key][name].append(sum(seconds))
    finally:
        kernels._linear_kernel = run  # type: ignore[assignment]

    def measured(key: tuple[int, int, int], streamed: bool) -> dict[str, float]:
        x, weight, bias = first[key]
        if streamed:
            candidates = kernels._streamed_candidates(tuple(args.kernels), x, weight, bias)
        else:
            candidates = {n: functools.partial(run, n, nn.Module(), x, weight, bias) for n in args.kernels}
        with torch.no_grad():
            return kernels._time_candidates(candidates)

    print(machine_line())
    print(
        f"linear products of a guided forward at T={args.frames}, {args.rounds} rounds; each kernel's time relative "
        "to the class's fastest: in the run (median a forward), measured warm, measured streamed"
    )
    print()
    names = " ".join(f"{n:>10s}" for n in args.kernels)
    print(f"{'class':26s} {'run ms':>7s} | in the run: {names} | warm: {names} | streamed: {names}")
    totals: dict[str, float] = collections.Counter()
    chosen: dict[str, float] = collections.Counter()
    for key in sorted(per_forward):
        in_run = {n: statistics.median(v) for n, v in per_forward[key].items()}
        warm, streamed = measured(key, False), measured(key, True)
        for n in args.kernels:
            totals[n] += in_run[n]
        chosen["warm"] += in_run[min(warm, key=warm.__getitem__)]
        chosen["streamed"] += in_run[min(streamed, key=streamed.__getitem__)]
        chosen["best in the run"] += min(in_run.values())
        cells = []
        for times in (in_run, warm, streamed):
            best = min(times.values())
            cells.append(" ".join(f"{times[n] / best:10.2f}" for n in args.kernels))
        label = f"{key[0]} -> {key[1]}, rows {key[2]}"
        print(
            f"{label:26s} {1e3 * min(in_run.values()):7.2f} | in the run: {cells[0]} | warm: {cells[1]} | "
            f"streamed: {cells[2]}"
        )
    print()
    print("a forward's linear products, ms: " + ", ".join(f"{n} {1e3 * v:.0f}" for n, v in totals.items()))
    print(
        "each class on the fastest kernel of each way, ms: "
        + ", ".join(f"{n} {1e3 * v:.0f}" for n, v in chosen.items())
    )


if __name__ == "__main__":
    main()
