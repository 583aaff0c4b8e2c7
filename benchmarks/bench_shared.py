"""Sampling on a machine that others are using: idle, beside a busy neighbour, with torch's default threads and
with the threads `motionclr_lens.threads.suggested_threads` picks (what the command line runs with).

    python benchmarks/bench_shared.py [--repeats 5]

Each case samples a 4 s motion with the embedded model (10 DPM-Solver++ steps, guided, batch 1) `repeats`
times after a warm-up and reports the median. Neighbours run as separate processes for the whole case: "torch"
is another torch program multiplying matrices on as many threads as there are cores, "spin" is one pure-Python
loop (one core busy). Run it on an otherwise idle machine; the machine line names the CPU and torch's capability.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
from bench_sampling import machine_line

from motionclr_lens import load_embedded
from motionclr_lens.threads import busy_cores, suggested_threads, using_threads

NEIGHBOURS = {
    "none": None,
    "spin": "while True: pass",
    "torch": ("import torch\na = torch.randn(512, 512)\nwhile True:\n    a = torch.tanh(a @ a)\n"),
}


def sample_seconds(pipe, repeats: int) -> float:
    pipe.generate("a person walks forward", seconds=4.0, generator=torch.Generator().manual_seed(0))  # warm-up
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        pipe.generate("a person walks forward", seconds=4.0, generator=torch.Generator().manual_seed(seed))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    default = torch.get_num_threads()
    pipe = load_embedded()
    print(machine_line())
    print(f"{'neighbour':<10} {'busy cores':>10} {'threads':>8} {'median s':>9} {'vs idle':>8}")
    idle = None
    for name, code in NEIGHBOURS.items():
        neighbour = None if code is None else subprocess.Popen([sys.executable, "-c", code])
        try:
            time.sleep(1.0 if neighbour else 0.0)  # the neighbour is up and busy
            busy = busy_cores(0.3) or 0.0
            auto = suggested_threads(most=default)
            for label, threads in (("default", default), ("auto", auto)):
                if name == "none" and label == "auto" and auto == default:
                    continue
                with using_threads(threads):
                    seconds = sample_seconds(pipe, args.repeats)
                idle = seconds if idle is None else idle
                print(f"{name:<10} {busy:>10.2f} {f'{threads} ({label})':>8} {seconds:>9.3f} {seconds / idle:>7.2f}x")
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()


if __name__ == "__main__":
    main()
