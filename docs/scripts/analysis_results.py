"""Score the lens's analyses on the motion world's held-out test split, each beside the strongest trivial baseline
and a control, with bootstrap 95 % intervals over motions (docs/analysis.md).

    python docs/scripts/analysis_results.py [--world extended] [--samples 200] [--counted 200] [--val 60]
                                            [--timestep 300] [--json OUT.json] [--figures docs/images/analysis]

Every motion is the world's own, whose ground truth is known: it is noised to `--timestep` and denoised once under
its caption (`MotionCLRPipeline.probe`), with the attention maps and the self-attention keys captured.

- Grounding: per-word cross-attention curves against the frames each word refers to (temporal IoU of the frames
  a reading activates, pointing: the curve's peak inside the word's frames, and the order of the actions).
  Readings of attention: raw curves above 80 % of their maximum (the paper's rule), word shares, and an
  alignment (`align_phrases`: one contiguous span per phrase, order and boundaries from attention alone); the
  reading reported as "chosen" is picked on `--val` validation motions, never the test set. Baselines: the
  word-order prior (by phrase and by token position), root speed (the paper's), smooth random curves. Controls:
  the chosen reading of the same caption probed on a different motion of as many actions (scored against the
  caption's own motion, its frames scaled), and captions whose word order is not time order (the extended world).
- Counting, on single-action motions with a repetition count: the one recipe (`count_from_attention` on the
  self-attention keys), the same recipe on the motion's own features with no model (`count_from_features`),
  the paper's Appendix G and the diagonal-profile period of the maps themselves, pelvis-height peaks, and the
  per-action counter on the joints (which knows the action): exact, MAE, OBO (off by at most one) on motions of
  two or more repetitions, and how often "no repetition" is said of the motions of one.
(Grounded generation, the Ground edit on "a person jumps N times", is docs/scripts/grounded_generation.py's.)
- Heads: per-head statistics averaged over `--heads` motions.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import warnings
from pathlib import Path

import numpy as np
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import (
    COUNTABLE,
    GroundingScores,
    align_phrases,
    count_by_period,
    count_from_attention,
    count_from_features,
    count_paper,
    count_repetitions,
    full_resolution_self_map,
    head_statistics,
    joints_of,
    random_curve,
    root_speed_curve,
    score_grounding,
    taxonomy,
    word_curves,
    word_shares,
)
from motionclr_lens.analysis.baselines import (
    bootstrap_difference,
    bootstrap_interval,
    pelvis_peaks,
    phrase_order,
    word_order_prior,
)
from motionclr_lens.analysis.counting import COUNT_TIMESTEP
from motionclr_lens.analysis.heads import MEASURES, HeadStatistics
from motionclr_lens.capture import capture, capture_keys
from motionclr_lens.pipeline import PROBE_TIMESTEP, UnknownWordWarning
from motionclr_lens.world import generate

THRESHOLDS = (0.5, 0.6, 0.7, 0.8)  # activation thresholds (fractions of the curve's maximum) tried on validation


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def draw(split: str, n: int, world: str, seed: int, start: int = 0) -> list:
    kwargs = {"world": world} if "world" in inspect.signature(generate).parameters else {}
    if world != "base" and not kwargs:
        raise SystemExit(f"this version of the world has no variant {world!r}")
    return generate(split, n, seed=seed, start=start, workers=2, **kwargs)


def countable(s) -> bool:
    seg = s.segments[0]
    return len(s.segments) == 1 and seg.kind in COUNTABLE and bool(seg.count)


def counted_samples(n: int, world: str, seed: int, exclude: int) -> list:
    """The first `n` single-action test motions with a repetition count, after index `exclude`."""
    chosen: list = []
    start = exclude
    while len(chosen) < n:
        chosen += [s for s in draw("test", 512, world, seed, start) if countable(s)]
        start += 512
    return chosen[:n]


def usable(pipe, s) -> bool:
    """The tokenizer reads the caption into the same words as the world's ground truth."""
    return [w.text for w in pipe.tokenizer.tokenize_prompt(s.captions[0].text).words] == s.captions[0].words


def reversed_order(caption) -> bool:
    """Whether the caption names its actions in another order than they happen."""
    order = phrase_order(caption.word_segments)
    return order != sorted(order)


READINGS = ("raw", "share", "aligned")


def reading(name: str, curves: np.ndarray, groups: list) -> tuple[np.ndarray, float | None]:
    """One reading of a caption's cross-attention curves: (curves, its fixed activation threshold or None)."""
    if name == "share":
        return word_shares(curves, groups), None
    if name == "aligned":
        return align_phrases(curves, groups), 0.8
    return curves, None


def choose_grounding(pipe, n: int, world: str, timestep: int, seed: int) -> dict:
    """On validation motions: for each reading (raw curves, word shares, alignment) and layer set (all layers,
    or those whose curves ground best one by one), the IoU at each activation threshold; the best of all."""
    per_motion = []
    layer_rows: list[dict] = []
    for k, s in enumerate(draw("val", n, world, seed)):
        if not usable(pipe, s):
            continue
        caption = s.captions[0]
        tokenized = pipe.tokenizer.tokenize_prompt(caption.text)
        with capture(kinds=("cross",), head_mean=True) as cache:
            pipe.probe(s.features, caption.text, timestep=timestep, generator=torch.Generator().manual_seed(k))
        by_layer = {
            layer: word_curves(cache, tokenized, frames=s.frames, layers=[layer]).curves
            for layer in cache.layers("cross")
        }
        layer_rows += score_grounding(
            {str(layer): word_shares(c, caption.word_segments) for layer, c in by_layer.items()},
            caption.words,
            caption.word_frames,
            caption.word_segments,
            motion=k,
        )
        per_motion.append((k, caption, by_layer))
    per_layer = {int(m): v["iou"] for m, v in GroundingScores(layer_rows).summary().items()}
    best = max(per_layer.values())
    layer_sets = {
        "all layers": sorted(per_layer),
        "best layers": sorted(x for x, v in per_layer.items() if v >= best - 0.02),
    }
    candidates = []
    for set_name, layers in layer_sets.items():
        scored: dict[tuple[str, float], list[dict]] = {}
        for k, caption, by_layer in per_motion:
            curves = np.mean([by_layer[x] for x in layers], axis=0)
            for name in READINGS:
                c, fixed = reading(name, curves, caption.word_segments)
                for threshold in (fixed,) if fixed is not None else THRESHOLDS:
                    scored.setdefault((name, threshold), []).extend(
                        score_grounding(
                            {"x": c}, caption.words, caption.word_frames, caption.word_segments, threshold, motion=k
                        )
                    )
        for (name, threshold), rows in scored.items():
            iou = GroundingScores(rows).summary()["x"]["iou"]
            candidates.append(
                {"layers": set_name, "layer_list": layers, "reading": name, "threshold": threshold, "iou": iou}
            )
    chosen = max(candidates, key=lambda c: c["iou"])
    return {
        "chosen": chosen,
        "candidates": candidates,
        "iou_by_layer": per_layer,
        "validation_motions": len(per_motion),
    }


def interval_text(values, statistic=np.mean) -> str:
    m, lo, hi = bootstrap_interval(values, statistic)
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def per_motion_means(rows: list[dict], method: str, key: str, motions: list[int]) -> np.ndarray:
    by = {
        m: [r[key] for r in rows if r["method"] == method and r["motion"] == m and r["kind"] == "word"] for m in motions
    }
    return np.array([np.mean(by[m]) for m in motions if by[m]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="base", help="the world's variant (base or extended)")
    parser.add_argument("--samples", type=int, default=200, help="test motions for grounding")
    parser.add_argument("--counted", type=int, default=200, help="single-action test motions with a count")
    parser.add_argument("--heads", type=int, default=24, help="motions whose per-head statistics are averaged")
    parser.add_argument("--val", type=int, default=60, help="validation motions that choose the grounding reading")
    parser.add_argument("--timestep", type=int, default=PROBE_TIMESTEP, help="noise level of the grounding probes")
    parser.add_argument("--count-timestep", type=int, default=COUNT_TIMESTEP, help="noise level of the counting probes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--figures", default=None)
    parser.add_argument("--replot", default=None, help="redraw the figures from a --json of an earlier run")
    parser.add_argument("--counting-only", action="store_true", help="only the counting table (no figures)")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads(Path(args.replot).read_text())
        args.timestep = saved["timestep"]
        choice = saved["grounding_choice"]
        choice["iou_by_layer"] = {int(k): v for k, v in choice["iou_by_layer"].items()}
        figures(Path(args.figures or "."), saved, choice, saved["grounding"], saved["gain_over_word_order_prior"],
                None, [], args)  # fmt: skip
        return
    warnings.simplefilter("ignore", UnknownWordWarning)
    print(f"CPU {cpu_name()}, torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}")

    pipe = load_embedded()
    exclude = args.samples  # the counted motions come after the grounding ones, whatever is run
    if args.counting_only:
        args.samples, args.val, args.heads, args.figures = 0, 0, 0, None
    choice = choose_grounding(pipe, args.val, args.world, args.timestep, args.seed) if args.val else None
    if choice is None:
        choice = {
            "chosen": {"reading": "raw", "layers": "all layers", "layer_list": None, "threshold": 0.8, "iou": 0.0},
            "validation_motions": 0,
            "iou_by_layer": {},
            "candidates": [],
        }
    c = choice["chosen"]
    chosen_name = f"chosen: {c['reading']}, {c['layers']}" + (
        f", above {c['threshold']:g} max" if c["reading"] != "aligned" else ""
    )
    print(f"chosen on {choice['validation_motions']} validation motions: {chosen_name} (IoU {c['iou']:.3f})")

    samples = draw("test", args.samples, args.world, args.seed) if args.samples else []
    counted = counted_samples(args.counted, args.world, args.seed, exclude=exclude)
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []
    control_rows: list[dict] = []
    caption_kind: dict[int, str] = {}
    head_rows: list[list[dict]] = []
    for k, s in enumerate(samples):
        if not usable(pipe, s):
            continue
        caption = s.captions[0]
        tokenized = pipe.tokenizer.tokenize_prompt(caption.text)
        groups = caption.word_segments
        with capture(kinds=("cross", "self") if k < args.heads else ("cross",), head_mean=k >= args.heads) as cache:
            pipe.probe(s.features, caption.text, timestep=args.timestep, generator=torch.Generator().manual_seed(k))
        curves = word_curves(cache, tokenized, frames=s.frames).curves
        chosen_curves = word_curves(cache, tokenized, frames=s.frames, layers=c["layer_list"]).curves
        chosen_reading, fixed = reading(c["reading"], chosen_curves, groups)
        methods = {
            "cross-attention (80 % of max)": curves,
            "word shares (80 % of max)": word_shares(curves, groups),
            "alignment of word shares": align_phrases(curves, groups),
            "word-order prior (phrase)": word_order_prior(groups, s.frames, "phrase"),
            "word-order prior (token)": word_order_prior(groups, s.frames, "token"),
            "root speed": root_speed_curve(joints_of(s.features)),
            "random": np.stack([random_curve(s.frames, rng) for _ in caption.words]),
        }
        rows += score_grounding(methods, caption.words, caption.word_frames, groups, motion=k)
        rows += score_grounding(
            {chosen_name: chosen_reading}, caption.words, caption.word_frames, groups, fixed or c["threshold"], motion=k
        )
        caption_kind[k] = "single" if len(s.segments) == 1 else ("reversed" if reversed_order(caption) else "in order")
        if k < args.heads:
            head_rows.append(
                head_statistics(cache, frames=s.frames, prompt=tokenized, word_frames=caption.word_frames).rows
            )

        # Control: the same caption probed on another motion of as many actions; scored against its own frames.
        others = [o for o in samples if o.index != s.index and len(o.segments) == len(s.segments)]
        if others:
            other = others[int(rng.integers(len(others)))]
            with capture(kinds=("cross",), head_mean=True) as ocache:
                pipe.probe(
                    other.features, caption.text, timestep=args.timestep, generator=torch.Generator().manual_seed(k)
                )
            ocurves = word_curves(ocache, tokenized, frames=other.frames, layers=c["layer_list"]).curves
            oreading, _ = reading(c["reading"], ocurves, groups)
            scale = other.frames / s.frames
            scaled = [
                None if f is None else (int(round(f[0] * scale)), int(round(f[1] * scale))) for f in caption.word_frames
            ]
            control_rows += score_grounding(
                {"control: caption on another motion": oreading}, caption.words, scaled, groups,
                fixed or c["threshold"], motion=k,
            )  # fmt: skip

    all_rows = rows + control_rows
    methods = list(dict.fromkeys(r["method"] for r in all_rows))
    grounding: dict[str, dict] = {}
    print(
        f"\ngrounding on {len(caption_kind)} test motions at t={args.timestep} "
        "(IoU and pointing: mean [95 % interval] over motions)"
    )
    for subset in ("all", "single", "in order", "reversed"):
        motions = [m for m, kind in caption_kind.items() if subset == "all" or kind == subset]
        if not motions:
            continue
        grounding[subset] = {"motions": len(motions)}
        print(
            f"\n{subset} ({len(motions)} motions)\n\n| reading | IoU | pointing | order of actions |\n|---|---|---|---|"
        )
        for method in methods:
            iou = per_motion_means(all_rows, method, "iou", motions)
            hit = per_motion_means(all_rows, method, "hit", motions)
            order = [
                r["correct"]
                for r in all_rows
                if r["method"] == method and r["kind"] == "order" and r["motion"] in motions
            ]
            if not len(iou):
                continue
            grounding[subset][method] = {
                "iou": bootstrap_interval(iou),
                "pointing": bootstrap_interval(hit),
                "order": bootstrap_interval(np.array(order, float)) if order else None,
            }
            order_text = interval_text(np.array(order, float)) if order else "-"
            print(f"| {method} | {interval_text(iou)} | {interval_text(hit)} | {order_text} |")
    gains = {}
    for subset in ("all", "in order", "reversed"):
        motions = [m for m, kind in caption_kind.items() if subset == "all" or kind == subset]
        a = per_motion_means(rows, chosen_name, "iou", motions)
        b = per_motion_means(rows, "word-order prior (phrase)", "iou", motions)
        if len(a) and len(a) == len(b):
            gains[subset] = bootstrap_difference(a, b)
    print("\ngain of the chosen reading over the word-order prior (IoU, mean [95 % interval]):",
          {k: tuple(round(x, 3) for x in v) for k, v in gains.items()})  # fmt: skip

    # Counting
    counting: list[dict] = []
    for k, s in enumerate(counted):
        seg = s.segments[0]
        with capture(kinds=("self",), head_mean=True) as cache, capture_keys() as keys:
            pipe.probe(
                s.features, s.captions[0].text, timestep=args.count_timestep, generator=torch.Generator().manual_seed(k)
            )
        A = full_resolution_self_map(cache, 0, s.frames)
        joints = joints_of(s.features)
        periods = np.diff(seg.reps)
        counting.append(
            {
                "motion": s.index,
                "kind": seg.kind,
                "truth": seg.count,
                "period": float(np.median(periods)) if len(periods) else None,
                "attention: the recipe on self-attention keys": count_from_attention(keys, frames=s.frames).count,
                "no model: the recipe on the features": count_from_features(s.features, pipe.mean, pipe.std).count,
                "attention: the paper's Appendix G (maps)": count_paper(A).rounded,
                "attention: diagonal-profile period (maps)": count_by_period(A).count,
                "joints: pelvis-height peaks": pelvis_peaks(joints),
                "joints: the per-action counter (knows the action)": count_repetitions(joints, seg.kind).count,
            }
        )
    truth = np.array([r["truth"] for r in counting])
    count_methods = [m for m in counting[0] if m not in ("motion", "kind", "truth", "period")]
    many = truth >= 2
    result_counting = {}
    print(
        f"\ncounting at t={args.count_timestep}: {int(many.sum())} motions of 2 or more repetitions, "
        f"{int((~many).sum())} of one\n"
    )
    print("| method | exact | MAE | OBO | says 'none' when 1 |\n|---|---|---|---|---|")
    for m in count_methods:
        said = [r[m] for r in counting]
        c = np.array([1 if x is None else x for x in said])
        none_when_one = np.array([x is None for x, t in zip(said, truth, strict=True) if t == 1], float)
        entry = {
            "exact": bootstrap_interval((c[many] == truth[many]).astype(float)),
            "mae": bootstrap_interval(np.abs(c[many] - truth[many]).astype(float)),
            "obo": bootstrap_interval((np.abs(c[many] - truth[many]) <= 1).astype(float)),
            "none_when_one": float(none_when_one.mean()) if len(none_when_one) else None,
        }
        result_counting[m] = entry
        fmt = lambda v: f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"  # noqa: E731
        one = "-" if entry["none_when_one"] is None else f"{entry['none_when_one']:.2f}"
        print(f"| {m} | {fmt(entry['exact'])} | {fmt(entry['mae'])} | {fmt(entry['obo'])} | {one} |")
    # Attention against the features on the same motions: the paired difference of the exact rates, and where
    # each one alone is right (the motions both miss are the recipe's, not the signal's).
    attention, features = count_methods[0], count_methods[1]
    right = {
        m: np.array([(1 if r[m] is None else r[m]) == r["truth"] for r in counting])[many]
        for m in (attention, features)
    }
    paired = bootstrap_difference(right[attention].astype(float), right[features].astype(float))
    kinds = np.array([r["kind"] for r in counting])[many]
    missed = {
        "attention alone right": int((right[attention] & ~right[features]).sum()),
        "features alone right": int((~right[attention] & right[features]).sum()),
        "both wrong, by action": {
            str(k): int(n)
            for k, n in zip(*np.unique(kinds[~right[attention] & ~right[features]], return_counts=True), strict=True)
        },
    }
    print(
        f"\nexact rate, attention minus features (paired): {paired[0]:+.3f} [{paired[1]:+.3f}, {paired[2]:+.3f}]",
        missed,
    )
    by_period = {}
    bins = [(0, 10), (10, 20), (20, 1000)]
    for lo, hi in bins:
        mine = [r for r in counting if r["period"] is not None and lo <= r["period"] < hi and r["truth"] >= 2]
        if mine:
            by_period[f"{lo}-{hi}"] = {
                m: float(np.mean([(1 if r[m] is None else r[m]) == r["truth"] for r in mine]))
                for m in count_methods[:2]
            } | {"motions": len(mine)}
    print("\nexact rate by true period (frames):", by_period)

    # Heads
    mean_rows = []
    for i, first in enumerate(head_rows[0] if head_rows else []):
        row = dict(first)
        for m in MEASURES:
            values = [motion[i][m] for motion in head_rows if np.isfinite(motion[i][m])]
            row[m] = float(np.mean(values)) if values else float("nan")
        mean_rows.append(row)
    heads = HeadStatistics(mean_rows)
    cross = sorted((r for r in mean_rows if r["kind"] == "cross"), key=lambda r: -r["grounding"])
    heads_summary = {
        "best_grounding_heads": [(r["layer"], r["head"], round(r["grounding"], 3)) for r in cross[:5]],
        "mean_cross_grounding": float(np.nanmean([r["grounding"] for r in cross])) if cross else float("nan"),
    }
    print(f"\nheads over {len(head_rows)} motions:", heads_summary)

    result = {
        "world": args.world,
        "timestep": args.timestep,
        "count_timestep": args.count_timestep,
        "grounding_choice": {k: v for k, v in choice.items() if k != "candidates"}
        | {"candidates": choice["candidates"]},
        "grounding": grounding,
        "gain_over_word_order_prior": gains,
        "counting": result_counting,
        "counting_by_period": by_period,
        "counting_attention_minus_features": {"exact": paired, **missed},
        "counting_rows": counting,
        "heads": heads_summary,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float))
    if args.figures:
        figures(Path(args.figures), result, choice, grounding, gains, heads, mean_rows, args)


def figures(folder: Path, result: dict, choice: dict, grounding: dict, gains: dict, heads, mean_rows, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    # IoU of each layer's word shares on validation
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    layers = sorted(choice["iou_by_layer"])
    ax.plot(layers, [choice["iou_by_layer"][x] for x in layers], marker="o")
    ax.set_xticks(layers)
    ax.set_xlabel("cross-attention layer")
    ax.set_ylabel("IoU of word shares (validation)")
    fig.tight_layout()
    fig.savefig(folder / "grounding_by_layer.png", dpi=110)
    plt.close(fig)

    # Grounding: IoU with intervals per reading, per subset of captions
    subsets = [s for s in ("in order", "reversed", "single") if s in grounding]
    methods = [m for m in grounding["all"] if m != "motions"]
    fig, ax = plt.subplots(figsize=(8.6, 0.42 * len(methods) + 1.4))
    height = 0.8 / len(subsets)
    colors = {"in order": "#1f77b4", "reversed": "#e4007c", "single": "#8c8c8c"}
    for j, subset in enumerate(subsets):
        for i, m in enumerate(methods):
            if m not in grounding[subset]:
                continue
            v, lo, hi = grounding[subset][m]["iou"]
            y = i + (j - (len(subsets) - 1) / 2) * height
            ax.barh(y, v, height, color=colors[subset], label=subset if i == 0 else None)
            ax.errorbar(v, y, xerr=[[v - lo], [hi - v]], color="#222", lw=0.8, capsize=2)
    ax.set_yticks(range(len(methods)), methods)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("temporal IoU (mean over motions, 95 % interval)")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="captions")
    ax.set_title(f"Grounding on held-out world motions ({result['world']} world, t={args.timestep})", loc="left")
    fig.tight_layout()
    fig.savefig(folder / "grounding.png", dpi=110)
    plt.close(fig)

    # Gain over the word-order prior
    fig, ax = plt.subplots(figsize=(5.0, 2.6))
    names = list(gains)
    for i, name in enumerate(names):
        v, lo, hi = gains[name]
        ax.bar(i, v, color="#e4007c" if v < 0 else "#2ca02c")
        ax.errorbar(i, v, yerr=[[v - lo], [hi - v]], color="#222", capsize=3)
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xticks(range(len(names)), [f"{n} captions" for n in names])
    ax.set_ylabel("IoU gain over the prior")
    ax.set_title("Chosen attention reading minus the word-order prior", loc="left", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "gain_over_prior.png", dpi=110)
    plt.close(fig)

    # Counting: exact and OBO with intervals per method
    counting = result["counting"]
    methods = list(counting)
    fig, ax = plt.subplots(figsize=(8.6, 0.42 * len(methods) + 1.2))
    for j, (key, color) in enumerate((("exact", "#1f77b4"), ("obo", "#9ecae1"))):
        for i, m in enumerate(methods):
            v, lo, hi = counting[m][key]
            y = i + (j - 0.5) * 0.4
            ax.barh(
                y, v, 0.4, color=color, label=("exact" if key == "exact" else "off by at most one") if i == 0 else None
            )
            ax.errorbar(v, y, xerr=[[v - lo], [hi - v]], color="#222", lw=0.8, capsize=2)
    ax.set_yticks(range(len(methods)), methods)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("share of motions of 2 or more repetitions (95 % interval)")
    fig.tight_layout()
    fig.savefig(folder / "counting.png", dpi=110)
    plt.close(fig)

    if mean_rows and heads is not None:
        for kind in ("self", "cross"):
            fig = heads.plot(kind)
            fig.savefig(folder / f"heads_{kind}.png", dpi=110)
            plt.close(fig)
        fig = taxonomy(heads, clusters=4).plot(title="Self-attention heads of the embedded model")
        fig.savefig(folder / "head_taxonomy.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
