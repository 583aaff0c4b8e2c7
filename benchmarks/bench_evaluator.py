"""Scoring motions with the shipped world evaluator: 1,000 motions against their captions (R-precision, MM-Dist,
diversity) and FID against 1,000 others.

    python benchmarks/bench_evaluator.py [--count 1000] [--repeats 3]

The motions are the world's own test motions (drawn once, not timed); the time is `score_motions` alone: the
evaluator's text and motion embeddings in batches of 32, then the metrics. Printed beside the machine line.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_sampling import machine_line

from motionclr_lens.evaluation.protocol import score_motions
from motionclr_lens.evaluation.world import load_world_evaluator, world_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    evaluator = load_world_evaluator()
    loaded = time.perf_counter() - start
    test = world_items("test", args.count, world="base")
    reference = [item.features for item in world_items("train", args.count, world="base")]
    motions = [item.features for item in test]
    score_motions(test[:64], motions[:64], evaluator, reference[:64])  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = score_motions(test, motions, evaluator, reference)
        times.append(time.perf_counter() - start)
    print(machine_line())
    print(f"load the world evaluator: {loaded:.2f} s")
    print(
        f"score {args.count} motions (+ {args.count} for FID): median {statistics.median(times):.2f} s, "
        f"best {min(times):.2f} s over {args.repeats}; R-precision top 3 {scores['R-precision top 3']:.3f}"
    )


if __name__ == "__main__":
    main()
