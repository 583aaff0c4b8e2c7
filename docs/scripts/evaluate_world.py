"""The numbers of docs/evaluation.md on the embedded model: the world evaluator's ceiling and floor, the model's
metrics over repeats, and a reweighting curve.

    python docs/scripts/evaluate_world.py [--model embedded] [--world base] [--count 1024] [--repeats 3]
        [--mm-texts 20] [--curve-items 128] [--json results.json] [--figure docs/images/figures/edit_curve]

1. Ceiling and floor of the shipped world evaluator (no generation): the world's own test motions scored against
   their captions (R-precision, MM-Dist, diversity: what a perfect generator would get), FID of those test motions
   against as many other test motions (the floor: what two draws of one distribution leave between them) and
   against as many training motions (how far the splits' own distributions sit apart).
2. The model on the protocol (`evaluation.protocol.evaluate`) over `--count` test motions of `--world` (the world
   the model was trained on), `--repeats` repeats, multimodality over `--mm-texts` captions: mean and 95 %
   interval per metric, for the real crops and the generated motions.
3. `Reweight(alpha, word="jumps")` at alpha -0.5, -0.25, 0, 0.25, 0.5 on `--curve-items` test motions whose
   caption holds "jumps" (`--curve-repeats` repeats each, no multimodality, diversity over 100 pairs), with the
   attention the model put on "jumps" over 16 of those captions; the figure is `edit_curve_figure`.

Every table is printed as markdown with the machine line; `--json` keeps every value.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from motionclr_lens import Reweight
from motionclr_lens.data import MotionText
from motionclr_lens.evaluation.curves import edit_curve
from motionclr_lens.evaluation.protocol import evaluate, score_motions
from motionclr_lens.evaluation.world import load_world_evaluator, world_items
from motionclr_lens.loading import load_model
from motionclr_lens.viz import save_figure


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    capability = torch.backends.cpu.get_cpu_capability()
    return f"{cpu} | {capability} | torch {torch.__version__}, {torch.get_num_threads()} threads"


def ceiling_and_floor(evaluator, world: str, count: int) -> dict[str, float]:
    """The world's test motions against their captions, with FID against `count` other test motions (the floor:
    what sampling alone leaves between two draws of one distribution) and against `count` training motions."""
    test = world_items("test", count, world=world)
    other = [item.features for item in world_items("test", count, world=world, start=count)]
    train = [item.features for item in world_items("train", count, world=world)]
    start = time.perf_counter()
    scores = score_motions(test, [item.features for item in test], evaluator, other)
    scores["seconds"] = time.perf_counter() - start
    scores["FID vs training"] = score_motions(test, [item.features for item in test], evaluator, train)["FID"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--world", default="base", choices=["base", "extended"])
    parser.add_argument("--count", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mm-texts", type=int, default=20)
    parser.add_argument("--curve-items", type=int, default=128)
    parser.add_argument("--curve-repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["ceiling", "protocol", "curve"])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    evaluator = load_world_evaluator()
    results: dict = {"machine": machine(), "settings": vars(args) | {"json": None, "figure": None}}

    if "ceiling" not in args.skip:
        print(
            f"\n## Ceiling and floor ({args.count} {args.world}-world test motions; FID against {args.count} training)"
        )
        scores = ceiling_and_floor(evaluator, args.world, args.count)
        results["ceiling"] = scores
        print("| R-precision top 1 | top 2 | top 3 | MM-Dist | Diversity | FID, other test | FID, training | s |")
        print("|---|---|---|---|---|---|---|---|")
        print(
            f"| {scores['R-precision top 1']:.3f} | {scores['R-precision top 2']:.3f} | "
            f"{scores['R-precision top 3']:.3f} | {scores['MM-Dist']:.3f} | {scores['Diversity']:.3f} | "
            f"{scores['FID']:.3f} | {scores['FID vs training']:.3f} | {scores['seconds']:.1f} |"
        )

    pipe = load_model(args.model)
    if "protocol" not in args.skip:
        items = world_items("test", args.count, world=args.world)
        start = time.perf_counter()
        result = evaluate(pipe, items, evaluator, repeats=args.repeats, mm_texts=args.mm_texts)
        seconds = time.perf_counter() - start
        results["protocol"] = {"values": result.values, "settings": result.settings, "seconds": seconds}
        print(
            f"\n## The model ({args.model}) on the protocol: {args.count} {args.world}-world test motions, "
            f"{args.repeats} repeats, multimodality over {args.mm_texts} captions ({seconds / 60:.1f} min)"
        )
        print(result.to_markdown())

    if "curve" not in args.skip:
        pool = world_items("test", 4 * args.count, world=args.world)
        with_word = [
            MotionText(item.id, item.features, [c], [t] if t is not None else None)
            for item in pool
            for c, t in zip(item.captions, item.tokens or [None] * len(item.captions), strict=True)
            if "jumps" in c.split()
        ]
        chosen, seen = [], set()
        for item in with_word:  # one caption per motion
            if item.id not in seen:
                seen.add(item.id)
                chosen.append(item)
        chosen = chosen[: args.curve_items]
        if len(chosen) < args.curve_items:
            raise SystemExit(f"only {len(chosen)} test motions have a caption with 'jumps'; lower --curve-items")
        strengths = [-0.5, -0.25, 0.0, 0.25, 0.5]
        start = time.perf_counter()
        curve = edit_curve(
            pipe, chosen, evaluator,
            lambda a: None if a == 0 else Reweight(a, word="jumps"),
            strengths, word="jumps", label="alpha (Reweight, 'jumps')",
            repeats=args.curve_repeats, mm_texts=0, diversity_times=100,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        rows = curve.rows()
        results["curve"] = {"rows": rows, "attention": curve.attention, "seconds": seconds}
        print(
            f"\n## Reweight curve: {len(chosen)} {args.world}-world test motions captioned with 'jumps', "
            f"{args.curve_repeats} repeats per strength ({seconds / 60:.1f} min)"
        )
        print("| alpha | R-precision top 1 | top 3 | FID | MM-Dist | attention on 'jumps' |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            cells = [f"{row[m]:.3f} ± {row[m + ' ±']:.3f}" for m in ("R-precision top 1", "R-precision top 3", "FID")]
            cells += [f"{row['MM-Dist']:.3f} ± {row['MM-Dist ±']:.3f}"]
            cells += [f"{row['word attention']:.4f} ± {row['word attention ±']:.4f}"]
            print(f"| {row[curve.label]:+.2f} | " + " | ".join(cells) + " |")
        if args.figure:
            save_figure(curve.plot(title="Reweight 'jumps': the evaluator and the attention"), args.figure, ("png",))
            print(f"figure: {args.figure}")

    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=lambda v: np.asarray(v).tolist()))


if __name__ == "__main__":
    main()
