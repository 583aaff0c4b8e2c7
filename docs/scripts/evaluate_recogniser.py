"""Score the action recogniser on held-out motions of the base and extended worlds (docs/analysis.md).

    python docs/scripts/evaluate_recogniser.py [--split test|val] [--samples 3000] [--seed 0]
                                               [--weights FOLDER] [--embedded 400] [--json OUT.json]
                                               [--cache FOLDER]

Scores `ActionRecogniser.default()`, or the recogniser saved in `--weights` (`motionclr-lens
train-recogniser --out FOLDER`), on the first `--samples` motions of a split of each world
(joints decoded from their features, as the recogniser reads generated motion):

- frames: the share of frames whose smoothed label (`frame_labels`) is the ground truth's action;
- single actions: `main_action` names the action of a one-action motion;
- sequences: `segments` finds exactly the 2 or 3 actions of a motion, in order (and, allowing extra segments
  between them, every action in order);
- overlays (extended world): a motion with an arm action overlaid on walking or jogging is read as the runs of
  the world's `frame_labels()` (a walk with a wave in its middle: walk, wave, walk), and the share of overlaid
  frames labelled with the arm action;
- styles (extended world): segments of the wider styles (deep squats, fast hop series, travelling hops, small
  and large arm circles, kicks with a lean, drifting jumps, long or short forward jumps) whose frames are
  labelled with their action more than with any other.

`--embedded N` also scores the first N single-action and N multi-action motions of the base world, the motions
whose world column docs/embedded.md reports (`docs/scripts/evaluate_embedded.py --single N --multi N`, same
split and seed); they must be among the `--samples` drawn. `--json` also keeps the single actions named per
action, the confusions and the most frequent sequence errors. `--cache FOLDER` keeps the drawn motions there
(as pickles, read back on the next run with the same arguments: pass only a folder this script wrote).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from collections import Counter
from pathlib import Path

import numpy as np
from evaluate_embedded import first_of_each  # the motions docs/scripts/evaluate_embedded.py judges

from motionclr_lens.analysis import ActionRecogniser, decode_segments, joints_of
from motionclr_lens.analysis.recognition import smooth_labels
from motionclr_lens.world import generate

WORLDS = ("base", "extended")


def world_samples(world: str, split: str, n: int, seed: int, cache: str | None) -> list:
    """The first `n` motions of a split of a world; kept in (and read back from) `cache` if one is given."""
    if cache is None:
        return generate(split, n, seed=seed, workers=2, world=world)
    path = Path(cache) / f"{world}_{split}_{n}_{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    samples = generate(split, n, seed=seed, workers=2, world=world)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(samples))
    return samples


def in_order(found: list[str], wanted: list[str]) -> bool:
    """Whether `wanted` appears in `found` in order (other segments may come between)."""
    it = iter(found)
    return all(any(k == f for f in it) for k in wanted)


DEG = np.pi / 180


def style(segment) -> str | None:
    """The wider style a segment is drawn in (extended world), or None for the base world's styles."""
    a = segment.attrs
    if segment.during is not None:
        return "overlaid " + segment.kind
    if segment.kind == "hop" and "period" in a:
        return "hop fast series"
    if segment.kind == "hop" and a.get("travel", 0) > 0.1:
        return "hop travelling"
    if segment.kind == "squat" and a.get("depth", 0) > 0.42:
        return "squat deep"
    if segment.kind == "arm_circles" and "amplitude" in a and a["amplitude"] < 22 * DEG:
        return "arm_circles small"
    if segment.kind == "arm_circles" and "amplitude" in a and a["amplitude"] > 35 * DEG:
        return "arm_circles large"
    if segment.kind == "kick" and "lean" in a and abs(a["lean"]) > 16 * DEG:
        return "kick leaning"
    if segment.kind == "jump" and a.get("travel", 0) > 0.03:
        return "jump drifting"
    if segment.kind == "jump_forward" and "travel" in a and not 0.3 <= a["travel"] <= 0.7:
        return "jump_forward long/short"
    return None


def truth_labels(sample, classes: list[str]) -> np.ndarray:
    """(T,) class index of each frame's ground-truth action (the world's `frame_labels()`), -1 where none."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[sample.segments[i].kind] if i >= 0 else -1 for i in sample.frame_labels()])


def rate(hits: list[bool]) -> float:
    return float(np.mean(hits)) if hits else float("nan")


def score(recogniser: ActionRecogniser, samples: list) -> dict:
    classes = recogniser.classes
    frames_ok = frames_argmax_ok = frames_n = 0
    single: list[bool] = []
    sequences: list[bool] = []
    sequences_loose: list[bool] = []
    overlay_runs: list[bool] = []
    overlaid_ok = overlaid_n = 0
    per_kind: dict[str, list[bool]] = {}
    styles: dict[str, list[bool]] = {}
    confusions: Counter = Counter()
    sequence_errors: Counter = Counter()
    for s in samples:
        probabilities = recogniser.frame_probabilities(joints_of(s.features))
        labels = smooth_labels(probabilities, 16.0)  # as `frame_labels` and `segments`
        argmax = probabilities.argmax(1)  # as `main_action`
        truth = truth_labels(s, classes)
        known = truth >= 0
        frames_ok += int((labels[known] == truth[known]).sum())
        frames_argmax_ok += int((argmax[known] == truth[known]).sum())
        frames_n += int(known.sum())
        for seg in s.segments:
            name = style(seg)
            if name:
                votes = np.bincount(labels[seg.start : seg.end], minlength=len(classes))
                styles.setdefault(name, []).append(classes[int(votes.argmax())] == seg.kind)
        kinds = [seg.kind for seg in s.segments]
        if len(kinds) == 1:
            found = classes[int(np.bincount(argmax, minlength=len(classes)).argmax())]
            single.append(found == kinds[0])
            per_kind.setdefault(kinds[0], []).append(found == kinds[0])
            if found != kinds[0]:
                confusions[f"{kinds[0]} -> {found}"] += 1
            continue
        found_kinds = [seg.kind for seg in decode_segments(labels, classes, 10)]
        if any(seg.during is not None for seg in s.segments):
            wanted = [seg.kind for seg in decode_segments(truth[known], classes, 10)]
            overlay_runs.append(found_kinds == wanted)
            for seg in s.segments:
                if seg.during is not None:
                    overlaid_ok += int((labels[seg.start : seg.end] == classes.index(seg.kind)).sum())
                    overlaid_n += seg.end - seg.start
        else:
            wanted = kinds
            sequences.append(found_kinds == kinds)
            sequences_loose.append(in_order(found_kinds, kinds))
        if found_kinds != wanted:
            sequence_errors[f"{wanted} -> {found_kinds}"] += 1
    return {
        "samples": len(samples),
        "frames": frames_ok / frames_n,
        "frames_argmax": frames_argmax_ok / frames_n,
        "single": rate(single),
        "single_n": len(single),
        "sequences_in_order": rate(sequences),
        "sequences_in_order_allowing_extra": rate(sequences_loose),
        "sequences_n": len(sequences),
        "overlay_runs": rate(overlay_runs),
        "overlay_n": len(overlay_runs),
        "overlaid_frames": overlaid_ok / overlaid_n if overlaid_n else float("nan"),
        "styles": {k: [int(sum(v)), len(v)] for k, v in sorted(styles.items())},
        "single_per_action": {k: [int(sum(v)), len(v)] for k, v in sorted(per_kind.items())},
        "confusions": dict(confusions.most_common(15)),
        "sequence_errors": dict(sequence_errors.most_common(15)),
    }


def percent(value: float, n: int | None = None) -> str:
    if value != value:  # nan: nothing of the kind in this world
        return "-"
    return f"{value:.1%}" + (f" ({n})" if n is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "val", "train"])
    parser.add_argument("--samples", type=int, default=3000, help="motions of each world")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default=None, help="folder of a saved recogniser (default: the shipped one)")
    parser.add_argument("--embedded", type=int, default=400, help="N + N base motions of docs/embedded.md; 0: skip")
    parser.add_argument("--json", default=None)
    parser.add_argument("--cache", default=None, help="folder keeping the drawn motions (pickles) between runs")
    args = parser.parse_args()

    recogniser = ActionRecogniser.default() if args.weights is None else ActionRecogniser.load(args.weights)
    result: dict = {"split": args.split, "seed": args.seed, "weights": args.weights or "default"}
    drawn = {}
    for world in WORLDS:
        start = time.perf_counter()
        drawn[world] = world_samples(world, args.split, args.samples, args.seed, args.cache)
        result[world] = score(recogniser, drawn[world])
        print(f"{world}: {len(drawn[world])} {args.split} motions in {time.perf_counter() - start:.0f} s", flush=True)
    b, e = result["base"], result["extended"]
    rows = [
        ("frames labelled with their action", "frames", None),
        ("single action named", "single", "single_n"),
        ("2-3 actions all in order", "sequences_in_order", "sequences_n"),
        ("... allowing extra segments", "sequences_in_order_allowing_extra", None),
        ("overlay motions read as `frame_labels()` runs", "overlay_runs", "overlay_n"),
        ("overlaid frames given the arm action", "overlaid_frames", None),
    ]
    print(f"\n{args.split} split, seed {args.seed}, recogniser: {result['weights']}\n")
    print("| measure | base | extended |\n|---|---|---|")
    for name, key, n in rows:
        print(f"| {name} | {percent(b[key], b[n] if n else None)} | {percent(e[key], e[n] if n else None)} |")
    for name in sorted(set(b["styles"]) | set(e["styles"])):
        cells = [f"{r['styles'][name][0]} / {r['styles'][name][1]}" if name in r["styles"] else "-" for r in (b, e)]
        print(f"| {name}: segments named | {cells[0]} | {cells[1]} |")
    if args.embedded:
        chosen = first_of_each(drawn["base"], args.embedded, args.embedded)
        if chosen is None:
            print(f"\n{args.samples} base motions hold fewer than {args.embedded} + {args.embedded}: not scored")
        else:
            r = result["embedded"] = score(recogniser, chosen)
            print(
                f"\ndocs/embedded.md's {args.embedded} + {args.embedded} base motions: single action named "
                f"{percent(r['single'])}, all in order {percent(r['sequences_in_order'])}, allowing extra "
                f"{percent(r['sequences_in_order_allowing_extra'])}"
            )
    for world in WORLDS:
        if result[world]["confusions"]:
            print(f"\nsingle-action confusions ({world}):", result[world]["confusions"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
