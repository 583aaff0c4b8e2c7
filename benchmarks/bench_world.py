"""Speed of the motion world: samples a second on 2 processes, and per sample on one.

python benchmarks/bench_world.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import time

from motionclr_lens.world import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    generate("val", 50, seed=0)  # warm caches and imports
    best2 = min(_timed(args.samples, 2) for _ in range(args.repeats))
    best1 = min(_timed(args.samples // 4, 1) for _ in range(args.repeats))
    print(f"2 processes: {args.samples / best2:.0f} samples/s ({args.samples} val samples in {best2:.2f} s)")
    print(f"1 process: {1000 * best1 / (args.samples // 4):.2f} ms a sample")


def _timed(samples: int, workers: int) -> float:
    start = time.perf_counter()
    generate("val", samples, seed=0, workers=workers)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
