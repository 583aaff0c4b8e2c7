"""Activation and attribution patching over many word-swap pairs on the embedded model (docs/lens.md, notebook 08).

    python docs/scripts/patching_results.py [--pairs 68] [--seconds 3] [--steps 10] [--shard I/N] [--json OUT.json]
                                            [--model FOLDER] [--random-control]
    python docs/scripts/patching_results.py --merge OUT_0.json OUT_1.json ... [--json ALL.json] [--figures DIR]

Pairs: prompts that differ in one word, "a person jumps" (source) against "a person waves" (target), every ordered
pair of 8 verbs without an object (jumps, squats, claps, bows, waves, kicks, punches, hops: 56 pairs) and of
walks / jogs / runs forward and backward (12), one seed per pair. For each pair:

- exact patching of each attention output (`out`), self and cross, at each of the 18 layers, over each step
  window of `--windows` (default: steps 0-1, 2-3, 4-5, 6-7, 8-9 and all ten), scored by the recogniser's mean
  probability of the source's action (restored fraction: 0 the target's, 1 the source's) and by the feature-space
  restoration (`feature_restoration`);
- attribution patching of the same cells (one run of the target with gradients) on the feature-space measure,
  and its rank agreement with exact patching (Spearman over the cells);
- a control: each layer's output at every step copied from the target's own prompt run on another seed (another
  motion of the same words), scored in units of the pair's gap (what patching any other motion's activations
  moves, with no word changed);
- with `--random-control`, the trivial baseline: each layer's output at every step moved from the target's by as
  much as the source's differs from it, in a random direction (`random_direction`): does any change of that size
  restore as much as the source's words?

Intervals: 95 % bootstrap over pairs. `--shard I/N` runs every N-th pair from the I-th, for several processes;
`--merge` pools the shards, prints the tables and draws the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import ActionRecogniser
from motionclr_lens.analysis.baselines import bootstrap_interval
from motionclr_lens.kernels import machine_key
from motionclr_lens.patching import (
    FeatureRestoration,
    PatchingTable,
    Site,
    action_probability,
    attribution_sweep,
    patched_run,
    random_direction,
    rank_agreement,
    record,
    restored_fraction,
)
from motionclr_lens.settings import RunSettings

VERBS = {
    "jumps": "jump", "squats": "squat", "claps": "clap", "bows": "bow", "waves": "wave", "kicks": "kick",
    "punches": "punch", "hops": "hop",
}  # fmt: skip
GAITS = {"walks": "walk", "jogs": "jog", "runs": "run"}
CONTROL_SEED = 10_000  # the control's other motion: the target prompt at pair seed + this


def pairs() -> list[dict]:
    out = []
    for a, action_a in VERBS.items():
        for b in VERBS:
            if a != b:
                out.append({"source": f"a person {a}", "target": f"a person {b}", "action": action_a})
    for direction in ("forward", "backward"):
        for a, gait_a in GAITS.items():
            for b in GAITS:
                if a != b:
                    out.append({
                        "source": f"a person {a} {direction}", "target": f"a person {b} {direction}",
                        "action": f"{gait_a}_{direction}",
                    })  # fmt: skip
    for seed, pair in enumerate(out):
        pair["seed"] = seed
    return out


def parse_windows(text: str, steps: int) -> list[tuple[int, ...] | None]:
    windows: list[tuple[int, ...] | None] = []
    for part in text.split(","):
        if part == "all":
            windows.append(None)
        else:
            a, _, b = part.partition("-")
            if int(b or a) < int(a):
                raise SystemExit(f"window {part!r} ends before it starts")
            windows.append(tuple(range(int(a), int(b or a) + 1)))
    bad = [w for w in windows if w is not None and max(w) >= steps]
    if bad:
        raise SystemExit(f"windows {bad} go past the {steps} steps")
    return windows


def run_pair(
    pipe, recogniser, pair: dict, settings: RunSettings, seconds: float, windows, random_control: bool = False
) -> dict:
    source = record(pipe, pair["source"], seconds=seconds, seed=pair["seed"], settings=settings)
    probability = action_probability(pair["action"], recogniser=recogniser)
    target_run = patched_run(pipe, source, pair["target"], [])
    n = source.lengths[0]
    features = FeatureRestoration(source.generation.sample[0, :n].float(), target_run.sample[0, :n].float())
    metrics = {"action": probability, "features": features}
    ends = {name: (m(source.generation), m(target_run)) for name, m in metrics.items()}
    sites = [
        Site(kind, layer, "out", w) for kind in ("cross", "self") for layer in source.layers(kind) for w in windows
    ]
    values: dict[str, list[float]] = {name: [] for name in metrics}
    start = time.perf_counter()
    for site in sites:
        generation = patched_run(pipe, source, pair["target"], [site])
        for name, m in metrics.items():
            values[name].append(m(generation))
    exact_seconds = time.perf_counter() - start
    start = time.perf_counter()
    estimate = attribution_sweep(pipe, source, pair["target"], features, kinds=("cross", "self"), windows=windows)
    attribution_seconds = time.perf_counter() - start
    exact_features = PatchingTable(*ends["features"], sites, values["features"])
    by_site = {(s.kind, s.layer, s.steps): r["restored"] for s, r in zip(estimate.sites, estimate.rows(), strict=True)}

    def every_layer(recording) -> list[dict]:
        """Each layer's output at every step patched from `recording` into the target run (the pair's seed)."""
        rows = []
        for kind in ("cross", "self"):
            for layer in source.layers(kind):
                generation = patched_run(pipe, recording, pair["target"], [Site(kind, layer)], seed=pair["seed"])
                rows.append({
                    "kind": kind, "layer": layer,
                    **{name: restored_fraction(m(generation), *ends[name][::-1]) for name, m in metrics.items()},
                })  # fmt: skip
        return rows

    control = every_layer(
        record(pipe, pair["target"], seconds=seconds, seed=pair["seed"] + CONTROL_SEED, settings=settings)
    )
    random = []
    if random_control:  # the trivial baseline: a change of the source's size in a random direction, every step
        target = record(pipe, pair["target"], seconds=seconds, seed=pair["seed"], settings=settings)
        random = every_layer(random_direction(source, target, seed=pair["seed"]))
    return {
        **pair,
        "ends": ends,
        "sites": [{"kind": s.kind, "layer": s.layer, "steps": s.steps} for s in sites],
        "exact": {name: [restored_fraction(v, *ends[name][::-1]) for v in vals] for name, vals in values.items()},
        "attribution": [by_site[(s.kind, s.layer, s.steps)] for s in sites],
        "rank_agreement": rank_agreement(exact_features, estimate),
        "control": control,
        "random": random,
        "seconds": {"exact": exact_seconds, "attribution": attribution_seconds, "runs": len(sites)},
        "recording_mib": source.nbytes / 2**20,
    }


def window_label(steps) -> str:
    if steps is None:
        return "all"
    return str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"


def bootstrap(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % percentile-bootstrap interval over the finite values (pairs); nan where there are none."""
    values = values[np.isfinite(values)]
    return bootstrap_interval(values) if len(values) else (float("nan"), float("nan"), float("nan"))


def summarise(results: list[dict], figures: str | None) -> dict:
    sites = results[0]["sites"]
    windows = list(dict.fromkeys(window_label(s["steps"]) for s in sites))
    summary: dict = {"pairs": len(results), "windows": windows}
    for measure in ("action", "features", "attribution"):
        values = np.array([r["exact"][measure] if measure != "attribution" else r["attribution"] for r in results])
        cells = [bootstrap(values[:, i]) for i in range(len(sites))]
        summary[measure] = [
            {**site, "mean": c[0], "low": c[1], "high": c[2]} for site, c in zip(sites, cells, strict=True)
        ]
    for name in ("control", "random"):
        if not all(r.get(name) for r in results):
            continue
        per_measure = {}
        for measure in ("action", "features"):
            values = np.array([[c[measure] for c in r[name]] for r in results])
            per_measure[measure] = [
                {
                    "kind": c["kind"],
                    "layer": c["layer"],
                    **dict(zip(("mean", "low", "high"), bootstrap(values[:, i]), strict=True)),
                }
                for i, c in enumerate(results[0][name])
            ]
        summary[name] = per_measure
    rho = np.array([r["rank_agreement"] for r in results])
    summary["rank_agreement"] = dict(zip(("mean", "low", "high"), bootstrap(rho), strict=True))
    summary["rank_agreement"]["median"] = float(np.nanmedian(rho))
    summary["seconds_per_pair"] = {
        k: float(np.median([r["seconds"][k] for r in results])) for k in ("exact", "attribution", "runs")
    }
    gaps = np.array([r["ends"]["action"][0] - r["ends"]["action"][1] for r in results])
    summary["action_gap"] = dict(zip(("mean", "low", "high"), bootstrap(gaps), strict=True))
    print_tables(summary)
    if figures:
        draw(summary, Path(figures))
    return summary


def print_tables(summary: dict) -> None:
    gap = summary["action_gap"]
    print(f"\n{summary['pairs']} pairs; the source action's probability, source minus target: "
          f"{gap['mean']:.3f} [{gap['low']:.3f}, {gap['high']:.3f}]")  # fmt: skip
    for measure in ("action", "features", "attribution"):
        print(f"\nrestored fraction ({measure}), mean over pairs [95 % interval]; rows: layers, columns: steps")
        for kind in ("cross", "self"):
            cells = [c for c in summary[measure] if c["kind"] == kind]
            print(f"\n| {kind} layer | " + " | ".join(summary["windows"]) + " |")
            print("|---" * (len(summary["windows"]) + 1) + "|")
            for layer in sorted({c["layer"] for c in cells}):
                row = [c for c in cells if c["layer"] == layer]
                print(
                    f"| {layer} | "
                    + " | ".join(f"{c['mean']:.2f} [{c['low']:.2f}, {c['high']:.2f}]" for c in row)
                    + " |"
                )
    print("\ncontrol (the target's words on another motion, every step), restored fraction of the pair's gap:")
    for measure in ("action", "features"):
        for kind in ("cross", "self"):
            cells = [c for c in summary["control"][measure] if c["kind"] == kind]
            top = max(cells, key=lambda c: abs(c["mean"]))
            print(f"  {measure}, {kind}: largest |mean| {top['mean']:.3f} [{top['low']:.3f}, {top['high']:.3f}] "
                  f"at layer {top['layer']}")  # fmt: skip
    if "random" in summary:
        print("\nthe source's words against a random change of the same size (every step), restored fraction:")
        for measure in ("action", "features"):
            print(f"\n| {measure}: layer | the source's words | random direction, same norm |\n|---|---|---|")
            for c in summary["random"][measure]:
                real = next(
                    (x for x in summary[measure] if x["kind"] == c["kind"] and x["layer"] == c["layer"]
                     and x["steps"] is None), None,
                )  # fmt: skip
                real_text = "-" if real is None else f"{real['mean']:.3f} [{real['low']:.3f}, {real['high']:.3f}]"
                print(f"| {c['kind']} {c['layer']} | {real_text} | {c['mean']:.3f} [{c['low']:.3f}, {c['high']:.3f}] |")
    ra = summary["rank_agreement"]
    print(f"\nattribution vs exact (features), Spearman over cells: mean {ra['mean']:.3f} [{ra['low']:.3f}, "
          f"{ra['high']:.3f}], median {ra['median']:.3f}")  # fmt: skip
    s = summary["seconds_per_pair"]
    print(f"per pair: {s['runs']:.0f} patched runs in {s['exact']:.1f} s; attribution {s['attribution']:.2f} s")


def draw(summary: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    folder.mkdir(parents=True, exist_ok=True)
    for measure in ("action", "features", "attribution"):
        fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), constrained_layout=True)
        for ax, kind in zip(axes, ("cross", "self"), strict=True):
            cells = [c for c in summary[measure] if c["kind"] == kind]
            layers = sorted({c["layer"] for c in cells})
            grid = np.array([[c["mean"] for c in cells if c["layer"] == layer] for layer in layers])
            norm = TwoSlopeNorm(0.0, min(-0.1, np.nanmin(grid)), max(1.0, np.nanmax(grid)))
            image = ax.imshow(grid, cmap="RdBu_r", norm=norm, aspect="auto", origin="lower")
            ax.set_yticks(range(len(layers)), [str(layer) for layer in layers], fontsize=6)
            ax.set_xticks(range(len(summary["windows"])), summary["windows"], fontsize=7)
            ax.set_xlabel("denoising steps patched")
            ax.set_ylabel("layer")
            ax.set_title(f"{kind}-attention output")
            fig.colorbar(image, ax=ax, shrink=0.85)
        label = {"action": "recogniser's probability of the source action", "features": "feature-space restoration",
                 "attribution": "attribution estimate (feature space)"}[measure]  # fmt: skip
        fig.suptitle(f"Restored fraction, mean over {summary['pairs']} word-swap pairs: {label}", fontsize=9)
        fig.savefig(folder / f"patching_{measure}.png", dpi=130)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=68)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--windows", default="0-1,2-3,4-5,6-7,8-9,all")
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--json", default=None)
    parser.add_argument("--figures", default=None)
    parser.add_argument("--merge", nargs="+", default=None, help="shards' --json files to pool")
    parser.add_argument("--model", default=None, help="a folder of exported weights (default: the shipped model)")
    parser.add_argument(
        "--random-control", action="store_true",
        help="also patch each layer (every step) with a change of the source's size in a random direction",
    )  # fmt: skip
    args = parser.parse_args()
    if args.merge:
        results = [r for f in args.merge for r in json.loads(Path(f).read_text())["results"]]
        summary = summarise(sorted(results, key=lambda r: r["seed"]), args.figures)
        if args.json:
            Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, indent=1))
        return
    index, _, count = args.shard.partition("/")
    chosen = pairs()[: args.pairs][int(index) :: int(count)]
    settings = RunSettings(steps=args.steps)
    windows = parse_windows(args.windows, args.steps)
    pipe = load_embedded(args.model)
    recogniser = ActionRecogniser.default()
    print(f"machine: {machine_key()}, {torch.get_num_threads()} threads")
    results = []
    for i, pair in enumerate(chosen):
        start = time.perf_counter()
        results.append(run_pair(pipe, recogniser, pair, settings, args.seconds, windows, args.random_control))
        print(f"{i + 1}/{len(chosen)} {pair['source']!r} -> {pair['target']!r}: {time.perf_counter() - start:.0f} s, "
              f"rank agreement {results[-1]['rank_agreement']:.2f}", flush=True)  # fmt: skip
        if args.json:
            Path(args.json).write_text(json.dumps({"results": results}, indent=1))
    summary = summarise(results, args.figures) if results else {}
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, indent=1))


if __name__ == "__main__":
    main()
