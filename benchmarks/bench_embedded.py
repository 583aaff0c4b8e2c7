"""Load time and sampling speed of the embedded model.

    python benchmarks/bench_embedded.py [--repeats 5]

Prints the time to load the shipped model (cold, in a fresh process's first call) and to sample a 4 s
motion with 10 DPM-Solver++ steps and the model's guidance, batch 1, on the CPU, after the machine line
(CPU model, torch's cpu capability and version, threads).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    from motionclr_lens import load_embedded

    imported = time.perf_counter() - start
    start = time.perf_counter()
    pipe = load_embedded()
    loaded = time.perf_counter() - start
    pipe.generate("a person jumps three times", seconds=4.0)  # warm-up
    times = []
    for seed in range(args.repeats):
        start = time.perf_counter()
        pipe.generate("a person jumps three times", seconds=4.0, generator=torch.Generator().manual_seed(seed))
        times.append(time.perf_counter() - start)
    from motionclr_lens.kernels import machine_key

    print(f"machine: {machine_key()}, {torch.get_num_threads()} threads")
    print(f"import: {imported:.2f} s, load_embedded(): {loaded:.2f} s")
    print(f"4 s motion, 10 steps, guidance: best {min(times):.3f} s, median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
