"""How fast the command line answers: `--help`, and bad input refused before any model is loaded.

    python benchmarks/bench_cli.py [--repeats 5]

Each command runs in a fresh process (`python -m motionclr_lens ...`: the interpreter's start counts); the
median and the worst of `repeats` runs are printed with the exit status, beside the machine line.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench_sampling import machine_line

COMMANDS = [
    ["--help"],
    ["generate", "--seconds", "inf"],
    ["generate", "--scheduler", "deis", "--steps", "1000"],
    ["generate", "--guidance", "-1"],
    ["count", "--prompt", "a person jumps", "--timestep", "1000"],
    ["edit", "--prompt", "a person jumps", "--edits", "missing.yaml"],
    ["train", "--out", "run", "--steps", "0"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    print(f"{'command':<60} {'status':>6} {'median s':>9} {'worst s':>8}")
    for argv in COMMANDS:
        times, status = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "motionclr_lens", *argv], capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            status = run.returncode
        line = "motionclr-lens " + " ".join(argv)
        print(f"{line:<60} {status:>6} {statistics.median(times):>9.3f} {max(times):>8.3f}")


if __name__ == "__main__":
    main()
