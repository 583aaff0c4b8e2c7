"""Score the lens's analyses on the motion world's held-out test set (docs/analysis.md).

    python docs/scripts/analysis_results.py [--samples 200] [--timestep 300] [--json OUT.json]
                                            [--figures docs/images/analysis]

Grounding and counting are read off the attention the embedded model pays to the world's own test motions,
whose ground truth is known: each motion is noised to `--timestep` and denoised once under its caption
(`MotionCLRPipeline.probe`), with every self- and cross-attention map captured (head mean).

- Grounding: per-word cross-attention curves (all layers) against the frames each word refers to:
  temporal IoU of the frames above 80% of the curve's maximum (the paper's rule), pointing (the peak frame
  inside the word's frames), and the order of the actions of 2- and 3-action captions; baselines: root
  speed (the paper's) and smooth random curves. A variant is chosen on the world's validation split
  (`--val` motions), never on the test set: the layers whose curves ground best, raw or as "word share"
  curves (each frame's attention divided among the caption's words, so a word's curve is its share of the
  frame), and the activation threshold (50-80% of the maximum).
- Counting, on single-action motions whose caption states a count: the paper's Appendix G on the
  full-resolution self-attention, our period estimate on the same maps (inside the frames the action
  word's cross-attention covers), and joint baselines (pelvis-height peaks; the per-action counter);
  sensitivity to layer, timestep and smoothing.
- Grounded generation: "a person jumps N times" in an 8 s clip, generated with and without the Ground
  edit (+0.15 to the word's cross-attention inside one window of N jumps, -0.1 outside), counted on the
  joints.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.signal import find_peaks

from motionclr_lens import load_embedded
from motionclr_lens.analysis import (
    COUNTABLE,
    GroundingScores,
    activation_mask,
    count_by_period,
    count_paper,
    count_repetitions,
    head_statistics,
    joints_of,
    random_curve,
    root_speed_curve,
    score_grounding,
    taxonomy,
    word_curves,
)
from motionclr_lens.analysis.heads import MEASURES, HeadStatistics
from motionclr_lens.capture import capture
from motionclr_lens.edits import Ground
from motionclr_lens.pipeline import UnknownWordWarning
from motionclr_lens.world import generate

COUNT_WORDS = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}
JUMP_SECONDS = 1.2  # a jump of the world at its middle tempo
GROUNDED_SECONDS = 8.0


def countable(s) -> bool:
    seg = s.segments[0]
    return len(s.segments) == 1 and seg.kind in COUNTABLE and bool(seg.count) and s.captions[0].states_count[0]


def counted_samples(n: int, seed: int, exclude: int) -> list:
    """The first `n` single-action test motions whose first caption states a count, after index `exclude`."""
    chosen: list = []
    start = exclude
    while len(chosen) < n:
        chosen += [s for s in generate("test", 1024, seed=seed, start=start, workers=2) if countable(s)]
        start += 1024
    return chosen[:n]


def full_resolution_layers(cache) -> list[int]:
    res = cache.plan.resolutions
    return [layer for layer in range(len(res)) if res[layer] == max(res)]


def self_map(cache, layers: list[int], frames: int, step: int = 0) -> np.ndarray:
    maps = [cache["self", layer, step][0].mean(0)[:frames, :frames].numpy() for layer in layers]
    return np.mean(maps, axis=0)


def pelvis_peaks(joints: np.ndarray) -> int:
    height = joints[:, 0, 1]
    return len(find_peaks(height, prominence=max(0.03, 0.3 * float(height.max() - height.min())))[0])


def action_window(curves, words: list[str], segment_words: list[int], frames: int) -> tuple[int, int]:
    """First to last frame where the action words' summed curve is above half its maximum."""
    if not segment_words:
        return 0, frames
    mask = activation_mask(curves.curves[segment_words].sum(0), 0.5)
    idx = np.flatnonzero(mask)
    return (int(idx[0]), int(idx[-1]) + 1) if len(idx) >= 2 else (0, frames)


def word_share(curves: np.ndarray) -> np.ndarray:
    """Each frame's attention divided among the caption's words: (words, T) curves that sum to one per frame."""
    return curves / np.maximum(curves.sum(0, keepdims=True), 1e-12)


def usable(pipe, s) -> bool:
    """The tokenizer reads the caption into the same words as the world's ground truth."""
    tokenized = pipe.tokenizer.tokenize_prompt(s.captions[0].text)
    return [w.text for w in tokenized.words] == s.captions[0].words


THRESHOLDS = (0.5, 0.6, 0.7, 0.8)  # activation thresholds (fractions of the curve's maximum) tried on validation


def choose_grounding(pipe, n: int, timestep: int, seed: int) -> dict:
    """On validation motions: the IoU of each cross-attention layer's curves, raw and as word shares; the
    chosen variant is the better of the two, over the layers whose IoU is within 0.02 of the best layer's,
    activated above the threshold (of `THRESHOLDS`) that grounds those layers' curves best."""
    rows: list[dict] = []
    per_motion: list[tuple] = []
    for k, s in enumerate(generate("val", n, seed=seed, workers=2)):
        if not usable(pipe, s):
            continue
        caption = s.captions[0]
        tokenized = pipe.tokenizer.tokenize_prompt(caption.text)
        with capture(kinds=("cross",), head_mean=True) as cache:
            pipe.probe(s.features, caption.text, timestep=timestep, generator=torch.Generator().manual_seed(k))
        layer_curves = {
            layer: word_curves(cache, tokenized, frames=s.frames, layers=[layer]).curves
            for layer in cache.layers("cross")
        }
        methods = {}
        for layer, curves in layer_curves.items():
            methods[f"{layer}"] = curves
            methods[f"{layer} share"] = word_share(curves)
        rows += score_grounding(methods, caption.words, caption.word_frames, caption.word_segments, motion=k)
        per_motion.append((k, caption, layer_curves))
    summary = GroundingScores(rows).summary()
    by_layer = {
        int(m.split()[0]): {"iou": summary[m]["iou"], "iou_share": summary[f"{m} share"]["iou"]}
        for m in summary
        if not m.endswith("share")
    }
    share = np.mean([v["iou_share"] for v in by_layer.values()]) > np.mean([v["iou"] for v in by_layer.values()])
    key = "iou_share" if share else "iou"
    best = max(v[key] for v in by_layer.values())
    layers = sorted(layer for layer, v in by_layer.items() if v[key] >= best - 0.02)
    by_threshold = {}
    for threshold in THRESHOLDS:
        scored: list[dict] = []
        for k, caption, layer_curves in per_motion:
            curves = np.mean([layer_curves[layer] for layer in layers], axis=0)
            curves = word_share(curves) if share else curves
            scored += score_grounding(
                {"chosen": curves}, caption.words, caption.word_frames, caption.word_segments, threshold, motion=k
            )
        by_threshold[threshold] = GroundingScores(scored).summary()["chosen"]["iou"]
    threshold = max(by_threshold, key=lambda t: by_threshold[t])
    return {
        "by_layer": by_layer,
        "share": bool(share),
        "layers": layers,
        "threshold": threshold,
        "iou_by_threshold": by_threshold,
        "validation_motions": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="motions for grounding")
    parser.add_argument("--counted", type=int, default=100, help="single-action motions with a stated count")
    parser.add_argument("--heads", type=int, default=40, help="motions whose per-head statistics are averaged")
    parser.add_argument("--val", type=int, default=60, help="validation motions that choose the grounding layers")
    parser.add_argument("--timestep", type=int, default=300)
    parser.add_argument("--grounded-seeds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--figures", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UnknownWordWarning)

    pipe = load_embedded()
    chosen = choose_grounding(pipe, args.val, args.timestep, args.seed)
    chosen_name = "chosen layers" + (" (share)" if chosen["share"] else "") + f", above {chosen['threshold']:g} max"
    print(
        f"chosen on {args.val} validation motions: layers {chosen['layers']}, word share {chosen['share']}, "
        f"threshold {chosen['threshold']:g}"
    )
    samples = generate("test", args.samples, seed=args.seed, workers=2)
    samples += counted_samples(args.counted, args.seed, exclude=len(samples))
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []
    counting: list[dict] = []
    head_rows: list[list[dict]] = []
    sensitivity: list[dict] = []
    for k, s in enumerate(samples):
        caption = s.captions[0]
        tokenized = pipe.tokenizer.tokenize_prompt(caption.text)
        if [w.text for w in tokenized.words] != caption.words:
            continue
        joints = joints_of(s.features)
        generator = torch.Generator().manual_seed(args.seed * 7919 + k)
        with capture(kinds=("cross", "self")) as cache:  # per head
            pipe.probe(s.features, caption.text, timestep=args.timestep, generator=generator)
        curves = word_curves(cache, tokenized, frames=s.frames)
        chosen_curves = word_curves(cache, tokenized, frames=s.frames, layers=chosen["layers"]).curves
        methods = {
            "cross-attention": curves.curves,
            "word share": word_share(curves.curves),
            "root speed": root_speed_curve(joints),
            "random": np.stack([random_curve(s.frames, rng) for _ in caption.words]),
        }
        if k < args.samples:
            rows += score_grounding(methods, caption.words, caption.word_frames, caption.word_segments, motion=k)
            rows += score_grounding(
                {chosen_name: word_share(chosen_curves) if chosen["share"] else chosen_curves},
                caption.words,
                caption.word_frames,
                caption.word_segments,
                chosen["threshold"],
                motion=k,
            )
        if k < args.heads:
            head_rows.append(
                head_statistics(cache, frames=s.frames, prompt=tokenized, word_frames=caption.word_frames).rows
            )

        seg = s.segments[0]
        if countable(s):
            full = full_resolution_layers(cache)
            A = self_map(cache, full, s.frames)
            content = [i for i, g in enumerate(caption.word_segments) if g == 0]
            window = action_window(curves, caption.words, content, s.frames)
            counting.append(
                {
                    "motion": k,
                    "kind": seg.kind,
                    "truth": seg.count,
                    "paper": count_paper(A).rounded,
                    "paper (map mean)": count_paper(A, mean_of="map").rounded,
                    "period": count_by_period(A, *window).count,
                    "period (whole motion)": count_by_period(A).count,
                    "joints: pelvis peaks": pelvis_peaks(joints),
                    "joints: per-action counter": count_repetitions(joints, seg.kind).count,
                }
            )
            for layer in full:
                A1 = self_map(cache, [layer], s.frames)
                sensitivity.append(
                    {
                        "motion": k,
                        "layer": layer,
                        "truth": seg.count,
                        "paper": count_paper(A1).rounded,
                        "paper sigma 0": count_paper(A1, sigma=0.0).rounded,
                        "paper sigma 2": count_paper(A1, sigma=2.0).rounded,
                        "period": count_by_period(A1, *window).count,
                    }
                )

    grounding = GroundingScores(rows)
    result: dict = {
        "timestep": args.timestep,
        "samples": args.samples,
        "grounding": grounding.summary(),
        "grounding_choice": chosen,
    }
    print(f"{args.samples} test motions probed at t={args.timestep}\n")
    print("| method | IoU | pointing | order |\n|---|---|---|---|")
    for method, v in result["grounding"].items():
        print(f"| {method} | {v['iou']:.3f} | {v['pointing']:.3f} | {v['order']:.3f} |")

    truth = np.array([c["truth"] for c in counting])
    methods = [m for m in (counting[0] if counting else {}) if m not in ("motion", "kind", "truth")]
    result["counting"] = {
        m: {
            "exact": float(np.mean(np.array([c[m] for c in counting]) == truth)),
            "within_1": float(np.mean(np.abs(np.array([c[m] for c in counting]) - truth) <= 1)),
        }
        for m in methods
    }
    result["counting_n"] = len(counting)
    print(f"\ncounting on {len(counting)} motions\n\n| method | exact | within 1 |\n|---|---|---|")
    for m, v in result["counting"].items():
        print(f"| {m} | {v['exact']:.3f} | {v['within_1']:.3f} |")

    by_layer: dict[int, dict[str, float]] = {}
    for layer in sorted({r["layer"] for r in sensitivity}):
        mine = [r for r in sensitivity if r["layer"] == layer]
        t = np.array([r["truth"] for r in mine])
        by_layer[layer] = {
            m: float(np.mean(np.array([r[m] for r in mine]) == t))
            for m in ("paper", "paper sigma 0", "paper sigma 2", "period")
        }
    result["counting_by_layer"] = by_layer
    print("\n| layer | paper | paper sigma 0 | paper sigma 2 | period |\n|---|---|---|---|---|")
    for layer, v in by_layer.items():
        print(f"| {layer} | " + " | ".join(f"{v[m]:.3f}" for m in v) + " |")

    # Grounded generation (the paper's setting): "a person jumps N times" in a clip long enough for more,
    # with and without the Ground edit masking one window of N world-tempo jumps (1.2 s each).
    fixed = []
    for n in (2, 3, 4, 5):
        window = (0.5, 0.5 + JUMP_SECONDS * n)
        prompt = f"a person jumps {COUNT_WORDS[n]}"
        for seed in range(args.grounded_seeds):
            counts = {}
            for label, edits in (("plain", ()), ("grounded", (Ground(word="jumps", seconds=window),))):
                generator = torch.Generator().manual_seed(seed)
                out = pipe.generate(prompt, seconds=GROUNDED_SECONDS, generator=generator, edits=edits)
                counts[label] = count_repetitions(joints_of(out.features[0]), "jump").count
            fixed.append({"n": n, "seed": seed, **counts})
    t = np.array([f["n"] for f in fixed])
    plain = np.array([f["plain"] for f in fixed])
    grounded = np.array([f["grounded"] for f in fixed])
    missed = plain != t
    result["grounded_generation"] = {
        "clip_seconds": GROUNDED_SECONDS,
        "runs": len(fixed),
        "plain_exact": float(np.mean(plain == t)),
        "grounded_exact": float(np.mean(grounded == t)),
        "plain_mean_abs_error": float(np.mean(np.abs(plain - t))),
        "grounded_mean_abs_error": float(np.mean(np.abs(grounded - t))),
        "fixed_of_miscounted": f"{int(np.sum(grounded[missed] == t[missed]))} of {int(missed.sum())}",
        "runs_detail": fixed,
    }
    print(f"\ngrounded generation, 'a person jumps N times' in {GROUNDED_SECONDS:g} s (N = 2..5):")
    print({k: v for k, v in result["grounded_generation"].items() if k != "runs_detail"})

    # Heads: each measure averaged over the probed motions, then the strongest grounding heads.
    mean_rows = []
    for i, first in enumerate(head_rows[0] if head_rows else []):
        row = dict(first)
        for m in MEASURES:
            values = [motion[i][m] for motion in head_rows if np.isfinite(motion[i][m])]
            row[m] = float(np.mean(values)) if values else float("nan")
        mean_rows.append(row)
    heads = HeadStatistics(mean_rows)
    cross = sorted((r for r in mean_rows if r["kind"] == "cross"), key=lambda r: -r["grounding"])
    result["heads"] = {
        "best_grounding_heads": [(r["layer"], r["head"], round(r["grounding"], 3)) for r in cross[:5]],
        "mean_cross_grounding": float(np.nanmean([r["grounding"] for r in cross])) if cross else float("nan"),
    }
    print(f"\nheads over {len(head_rows)} motions: best grounding (layer, head, IoU):", result["heads"])

    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(args.figures)
        folder.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5.5, 3.0))
        layers = sorted(chosen["by_layer"])
        for key, label in (("iou", "raw curves"), ("iou_share", "word share")):
            ax.plot(layers, [chosen["by_layer"][x][key] for x in layers], marker="o", label=label)
        ax.set_xticks(layers)
        ax.set_xlabel("cross-attention layer")
        ax.set_ylabel("grounding IoU (validation)")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "grounding_by_layer.png", dpi=110)
        plt.close(fig)
        fig = grounding.plot(title=f"Grounding on held-out world motions (t={args.timestep})")
        fig.savefig(folder / "grounding.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(5.5, 3.0))
        layers = list(by_layer)
        for m in ("paper", "paper sigma 0", "paper sigma 2", "period"):
            ax.plot(range(len(layers)), [by_layer[x][m] for x in layers], marker="o", label=m)
        ax.set_xticks(range(len(layers)), [str(x) for x in layers])
        ax.set_xlabel("full-resolution self-attention layer")
        ax.set_ylabel("exact count accuracy")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "counting_by_layer.png", dpi=110)
        plt.close(fig)
        if mean_rows:
            for kind in ("self", "cross"):
                fig = heads.plot(kind)
                fig.savefig(folder / f"heads_{kind}.png", dpi=110)
                plt.close(fig)
            fig = taxonomy(heads, clusters=4).plot(title="Self-attention heads of the embedded model")
            fig.savefig(folder / "head_taxonomy.png", dpi=110)
            plt.close(fig)


if __name__ == "__main__":
    main()
