"""Run every measurement the docs state on the embedded model, one after another, with the arguments the docs
give, and keep each one's output and values.

    python docs/scripts/measure_all.py [--out measurements] [--world extended] [--only NAME ...] [--skip NAME ...]
                                       [--list]

Each measurement runs in its own process (`python SCRIPT ARGS`), one at a time so that none times another's
load; its printed tables go to `OUT/NAME.log` and, where the script keeps values, `OUT/NAME.json`. Figures
go where the docs read them (docs/images/...). A summary of what ran, how long each took and which failed is
printed at the end and written to `OUT/summary.json`; the exit status is 1 if any failed. The machine line
(CPU, torch's cpu capability, threads) heads every log that times anything.

After a new embedded model is shipped, this is the one command that re-measures the docs (about 80 minutes on
2 cores); the pages then quote `OUT/*.log`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name: (script, arguments, the page whose numbers it gives). {out} is the output folder.
# fmt: off
MEASUREMENTS: dict[str, tuple[str, list[str], str]] = {
    "embedded": (
        "docs/scripts/evaluate_embedded.py",
        [
            "--single", "400", "--multi", "400", "--world", "{world}", "--gallery", "docs/images/embedded",
            "--json", "{out}/embedded.json",
        ],
        "docs/embedded.md",
    ),
    "embedded_speed": ("benchmarks/bench_embedded.py", [], "docs/embedded.md, docs/performance.md"),
    "recogniser": (
        "docs/scripts/evaluate_recogniser.py",
        ["--split", "test", "--samples", "3000", "--json", "{out}/recogniser.json"],
        "docs/analysis.md",
    ),
    "counting_choice": (
        "docs/scripts/counting_choice.py",
        ["--world", "extended", "--motions", "200", "--json", "{out}/counting_choice.json"],
        "docs/analysis.md",
    ),
    "analysis": (
        "docs/scripts/analysis_results.py",
        [
            "--world", "extended", "--samples", "200", "--counted", "200", "--val", "60", "--heads", "24",
            "--json", "{out}/analysis.json", "--figures", "docs/images/analysis",
        ],
        "docs/analysis.md",
    ),
    "inversion": (
        "docs/scripts/inversion_results.py",
        ["--samples", "24", "--edits", "24", "--real", "--json", "{out}/inversion.json"],
        "docs/inversion.md",
    ),
    "evaluation": (
        "docs/scripts/evaluate_world.py",
        ["--world", "{world}", "--json", "{out}/evaluation.json", "--figure", "docs/images/figures/edit_curve"],
        "docs/evaluation.md, docs/figures.md",
    ),
    "figures": ("docs/scripts/figures_gallery.py", ["--screenshots"], "docs/figures.md"),
    "capture_cost": (
        "benchmarks/bench_capture.py",
        ["--models", "embedded", "--batches", "1", "--repeats", "10", "--json", "{out}/capture_cost.json"],
        "docs/performance.md",
    ),
    "shared_machine": ("benchmarks/bench_shared.py", [], "docs/performance.md"),
    "cli_speed": ("benchmarks/bench_cli.py", [], "docs/performance.md"),
    "patching": (
        "docs/scripts/patching_results.py",
        [
            "--pairs", "50", "--windows", "0-4,5-9,all", "--json", "{out}/patching.json",
            "--figures", "docs/images/patching",
        ],
        "docs/lens.md",
    ),
    "patching_random": (
        "docs/scripts/patching_results.py",
        ["--pairs", "20", "--windows", "all", "--random-control", "--json", "{out}/patching_random.json"],
        "docs/lens.md",
    ),
    "patching_speed": ("benchmarks/bench_patching.py", [], "docs/lens.md"),
    "prompts": ("docs/scripts/prompts_check.py", ["--json", "{out}/prompts.json"], "docs/embedded.md"),
    "grounded_generation": (
        "docs/scripts/grounded_generation.py", ["--json", "{out}/grounded_generation.json"], "docs/analysis.md",
    ),
}
# fmt: on


def command(name: str, out: Path, world: str) -> list[str]:
    script, arguments, _ = MEASUREMENTS[name]
    return [sys.executable, str(ROOT / script), *(a.format(out=out, world=world) for a in arguments)]


def run(name: str, out: Path, world: str) -> dict:
    """One measurement in its own process, its output kept in OUT/NAME.log; returns what ran and how it went."""
    cmd = command(name, out, world)
    start = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        log.write("$ " + " ".join(cmd[1:]) + "\n\n")
        log.flush()
        status = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - start
    print(f"{name:16s} {'ok' if status == 0 else f'FAILED ({status})':12s} {seconds / 60:6.1f} min  {out / name}.log")
    return {"name": name, "command": cmd[1:], "status": status, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="measurements", help="folder for the logs and values")
    parser.add_argument("--only", nargs="+", choices=list(MEASUREMENTS), help="these measurements alone")
    parser.add_argument("--skip", nargs="+", choices=list(MEASUREMENTS), default=[], help="all but these")
    parser.add_argument(
        "--world", default="extended", choices=["base", "extended"],
        help="the world the embedded model was trained on, whose test split scores it",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="print the measurements and their commands, run none")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    names = [n for n in (args.only or MEASUREMENTS) if n not in args.skip]
    if args.list:
        for name in names:
            line = " ".join(command(name, out, args.world)[1:]).replace(f"{ROOT}/", "")
            print(f"{name:16s} {MEASUREMENTS[name][2]:38s} python {line}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    results = [run(name, out, args.world) for name in names]
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    failed = [r["name"] for r in results if r["status"]]
    total = sum(r["seconds"] for r in results) / 60
    print(f"{len(results) - len(failed)} of {len(results)} measurements ran in {total:.1f} min" + (
        f"; failed: {', '.join(failed)}" if failed else ""
    ))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
