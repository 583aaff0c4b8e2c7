"""Score the embedded model on held-out world captions and combinations (docs/embedded.md).

    python docs/scripts/evaluate_embedded.py [--single 200] [--multi 200] [--model embedded|FOLDER]
                                             [--split test|val] [--world base|extended] [--guidance G]
                                             [--steps N] [--scheduler S]
                                             [--json OUT.json] [--gallery docs/images/embedded]

The first `--single` single-action and `--multi` 2- and 3-action samples of the motion world's test split
(whole action combinations and caption templates held out of training) are taken; for each, one of its
captions is generated at the sample's length (10 DPM-Solver++ steps, the model's guidance, seeded; a batch
holds only samples of one length, so none is cropped from a longer one). Then,
on the joints decoded from the generated features (no smoothing, no re-flooring, no foot lock):

- actions: the shipped recogniser (trained on world motions only) names the captioned action of
  single-action samples, and finds every action in order for 2- and 3-action samples;
- counts: where the caption states a count, the repetitions counted on the joints equal it, or are
  within 1;
- turning: in every segment of a turning action (circles, curves, spins, turning around), how far the
  heading turns over the segment's frames, as a share of how far the world's motion turns there (either
  way: most captions leave the direction open);
- physics: foot skating and floor penetration, next to the world's own motions of the same captions; also
  on the joints as `generate` delivers them (floored, feet held, smoothed) and without the foot lock.

Every measure is also taken on the world's own motions, the ceiling of what the recogniser and the
counter can confirm. `--json` also keeps, per sample, the caption, the actions asked and found, and the
count asked and counted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from motionclr_lens.analysis import COUNTABLE, ActionRecogniser, count_repetitions, joints_of
from motionclr_lens.analysis.descriptors import heading
from motionclr_lens.motion import features_to_joints
from motionclr_lens.physics import plausibility
from motionclr_lens.sampling import SCHEDULERS
from motionclr_lens.world import generate
from motionclr_lens.world.captions import HELD_OUT_TEMPLATE, PHRASES


def pick_caption(sample, prefer_reversed: bool = False) -> int:
    """A caption using a held-out template where the sample holds one out, else the first; with `prefer_reversed`,
    a caption whose word order is not the time order first, where the sample has one (the extended world)."""
    kinds = [s.kind for s in sample.segments]
    if prefer_reversed:
        reversed_ = [i for i, c in enumerate(sample.captions) if getattr(c, "order_reversed", False)]
        if reversed_:
            return reversed_[0]
    for i, c in enumerate(sample.captions):
        pairs = zip(c.templates, kinds, strict=True)
        if any(t == HELD_OUT_TEMPLATE and len(PHRASES[k]) > HELD_OUT_TEMPLATE for t, k in pairs):
            return i
    return 0


def in_order(found: list[str], wanted: list[str]) -> bool:
    """Whether `wanted` appears in `found` in order (other segments may come between)."""
    it = iter(found)
    return all(any(k == f for f in it) for k in wanted)


TURNING = ("_circle", "_turning", "spin", "turn_around")


def turned_shares(J: np.ndarray, sample, world_joints: np.ndarray) -> list[float]:
    """For each turning segment of a world sample, how far the heading of `J` turns over its frames (either
    way), as a share of how far the world's own motion (`world_joints`) turns there."""
    shares = []
    mine, world = heading(J), heading(world_joints)
    for seg in sample.segments:
        if seg.kind != "arm_circles" and any(seg.kind.endswith(k) for k in TURNING):
            a, b = seg.start, min(seg.end, len(J), len(world)) - 1
            if abs(world[b] - world[a]) < np.radians(10):  # too little turn to take a share of
                continue
            shares.append(float(abs(mine[b] - mine[a]) / abs(world[b] - world[a])))
    return shares


def score(
    joints: list[np.ndarray], samples: list, captions: list[int], recogniser: ActionRecogniser, world: list[np.ndarray]
) -> dict:
    single, multi, multi_loose, count_exact, count_near, reversed_order = [], [], [], [], [], []
    turned: list[float] = []
    confusions: dict[str, int] = {}
    records = []  # per sample: the caption, the actions asked and found, the count asked and counted
    for J, s, ci, W in zip(joints, samples, captions, world, strict=True):
        kinds = [seg.kind for seg in s.segments]
        turned += turned_shares(J, s, W)
        record: dict = {"caption": s.captions[ci].text, "asked": kinds}
        records.append(record)
        if len(kinds) == 1:
            found = recogniser.main_action(J)
            record["found"] = [found]
            single.append(found == kinds[0])
            if found != kinds[0]:
                key = f"{kinds[0]} -> {found}"
                confusions[key] = confusions.get(key, 0) + 1
            seg = s.segments[0]
            if seg.kind in COUNTABLE and seg.count and s.captions[ci].states_count[0] and 1 <= seg.count <= 5:
                n = count_repetitions(J, seg.kind).count
                record["count_asked"], record["count_found"] = seg.count, n
                count_exact.append(n == seg.count)
                count_near.append(abs(n - seg.count) <= 1)
        else:
            found_kinds = [seg.kind for seg in recogniser.segments(J)]
            record["found"] = found_kinds
            multi.append(found_kinds == kinds)
            multi_loose.append(in_order(found_kinds, kinds))
            if getattr(s.captions[ci], "order_reversed", False):  # said out of time order: done in time order?
                reversed_order.append(found_kinds == kinds)
    report = plausibility(joints).to_dict()
    return {
        "single_action_accuracy": float(np.mean(single)),
        "single_action_n": len(single),
        "multi_action_order_accuracy": float(np.mean(multi)),
        "multi_action_in_order_allowing_extra": float(np.mean(multi_loose)),
        "multi_action_n": len(multi),
        "reversed_caption_in_time_order": float(np.mean(reversed_order)) if reversed_order else float("nan"),
        "reversed_caption_n": len(reversed_order),
        "count_exact": float(np.mean(count_exact)) if count_exact else float("nan"),
        "count_within_1": float(np.mean(count_near)) if count_near else float("nan"),
        "count_n": len(count_exact),
        "turned_median": float(np.median(turned)) if turned else float("nan"),
        "turned_within_25": float(np.mean(np.abs(np.array(turned) - 1) <= 0.25)) if turned else float("nan"),
        "turned_n": len(turned),
        "physics": report,
        "confusions": dict(sorted(confusions.items(), key=lambda kv: -kv[1])[:12]),
        "per_sample": records,
    }


def first_of_each(samples: list, single: int, multi: int) -> list | None:
    """The first `single` one-action and `multi` several-action samples of `samples`, in their order; None if it
    holds fewer."""
    chosen, n_single, n_multi = [], 0, 0
    for s in samples:
        if len(s.segments) == 1 and n_single < single:
            chosen.append(s)
            n_single += 1
        elif len(s.segments) > 1 and n_multi < multi:
            chosen.append(s)
            n_multi += 1
    return chosen if (n_single, n_multi) == (single, multi) else None


def test_samples(single: int, multi: int, seed: int, split: str = "test", world: str = "base") -> list:
    """The first `single` one-action and `multi` several-action samples of a split (test by default) of a world."""
    drawn: list = []
    while (chosen := first_of_each(drawn, single, multi)) is None:
        drawn += generate(split, 512, seed=seed, start=len(drawn), workers=2, world=world)
    return chosen


def same_length_batches(lengths: list[int], size: int) -> list[list[int]]:
    """Indices in batches of at most `size` rows of one length each, shortest first. `generate` samples a batch
    at its longest length and crops the other rows (as the original does), which would cut the end off a
    shorter row's motion: every sample here is made at its own length, as if asked for alone."""
    batches: list[list[int]] = []
    for i in np.argsort(lengths, kind="stable"):
        if batches and len(batches[-1]) < size and lengths[batches[-1][0]] == lengths[i]:
            batches[-1].append(int(i))
        else:
            batches.append([int(i)])
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--multi", type=int, default=200)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="sampling steps (default: generate's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument("--scheduler", default="dpmsolver", choices=sorted(SCHEDULERS), help="(default: generate's)")
    parser.add_argument("--split", default="test", choices=["test", "val"], help="val: for choosing settings")
    parser.add_argument(
        "--world", default="base", choices=["base", "extended"],
        help="extended: every other multi-action motion captioned out of time order where it can be",
    )  # fmt: skip
    parser.add_argument("--json", default=None)
    parser.add_argument("--gallery", default=None, help="folder for keyframe strips of a few generated motions")
    args = parser.parse_args()

    from motionclr_lens import load_embedded
    from motionclr_lens.embedded import load_embedded as load_folder

    pipe = load_embedded() if args.model == "embedded" else load_folder(args.model)
    recogniser = ActionRecogniser.default()
    samples = test_samples(args.single, args.multi, args.seed, args.split, args.world)
    multi_index = {id(s): k for k, s in enumerate([s for s in samples if len(s.segments) > 1])}
    captions = [
        pick_caption(s, prefer_reversed=args.world == "extended" and multi_index.get(id(s), 1) % 2 == 0)
        for s in samples
    ]
    prompts = [s.captions[c].text for s, c in zip(samples, captions, strict=True)]
    generated: list[np.ndarray | None] = [None] * len(samples)
    delivered: list[np.ndarray | None] = [None] * len(samples)  # what generate() hands out: feet held, smoothed
    unlocked: list[np.ndarray | None] = [None] * len(samples)  # the same with foot_lock=False
    start = time.perf_counter()
    for b, idx in enumerate(same_length_batches([s.frames for s in samples], args.batch)):
        out = pipe.generate(
            [prompts[i] for i in idx],
            lengths=[samples[i].frames for i in idx],
            scheduler=args.scheduler,
            steps=args.steps,
            guidance_scale=args.guidance,
            generator=torch.Generator().manual_seed(args.seed * 100003 + b),
        )
        for i, f, j in zip(idx, out.features, out.joints, strict=True):
            generated[i] = joints_of(f)
            delivered[i] = j
            unlocked[i] = features_to_joints(f, foot_lock=False)
    seconds = time.perf_counter() - start
    gen_joints = [g for g in generated if g is not None]
    world_joints = [joints_of(s.features) for s in samples]
    result = {
        "samples": len(samples),
        "generation_seconds": seconds,
        "generated": score(gen_joints, samples, captions, recogniser, world_joints),
        "world": score(world_joints, samples, captions, recogniser, world_joints),
        "delivered_physics": plausibility([j for j in delivered if j is not None]).to_dict(),
        "unlocked_physics": plausibility([j for j in unlocked if j is not None]).to_dict(),
    }
    g, w = result["generated"], result["world"]
    rows = [
        ("single action named", "single_action_accuracy", "{:.1%}"),
        ("2-3 actions all in order", "multi_action_order_accuracy", "{:.1%}"),
        ("... allowing extra segments", "multi_action_in_order_allowing_extra", "{:.1%}"),
        ("captions out of time order, done in time order", "reversed_caption_in_time_order", "{:.1%}"),
        ("count exact", "count_exact", "{:.1%}"),
        ("count within 1", "count_within_1", "{:.1%}"),
        ("turning segments: median share of the world's turn", "turned_median", "{:.2f}"),
        ("turning segments turned within 25 % of the world's", "turned_within_25", "{:.1%}"),
    ]
    print(
        f"{len(samples)} {args.split} samples ({g['single_action_n']} single, {g['multi_action_n']} multi, "
        f"{g['count_n']} with counts, {g['turned_n']} turning segments), generated in {seconds:.0f} s\n"
    )
    print("| measure | generated | world |\n|---|---|---|")
    for name, key, fmt in rows:
        print(f"| {name} | {fmt.format(g[key])} | {fmt.format(w[key])} |")
    d, un = result["delivered_physics"], result["unlocked_physics"]
    print(
        "\n| physics | generated (raw) | delivered without the foot lock | as delivered | world |"
        "\n|---|---|---|---|---|"
    )
    for key, value in g["physics"].items():
        print(f"| {key} | {value:.4g} | {un[key]:.4g} | {d[key]:.4g} | {w['physics'][key]:.4g} |")
    print("\nconfusions (generated):", g["confusions"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.gallery:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from motionclr_lens.viz import keyframe_strip

        folder = Path(args.gallery)
        folder.mkdir(parents=True, exist_ok=True)
        for k, i in enumerate([i for i in range(len(samples)) if len(samples[i].segments) <= 2][:6]):
            out = pipe.generate(prompts[i], lengths=samples[i].frames, generator=torch.Generator().manual_seed(k))
            for tag, J in (("generated", out.joints[0]), ("world", features_to_joints(samples[i].features))):
                fig = keyframe_strip(J, n=10, title=f"{tag}: {prompts[i]}")
                fig.savefig(folder / f"{k}_{tag}.png", dpi=80, bbox_inches="tight")
                plt.close(fig)


if __name__ == "__main__":
    main()
