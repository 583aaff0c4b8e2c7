"""Choose the counting recipe's settings on the world's validation split (never the test split).

    python docs/scripts/counting_choice.py [--world extended] [--motions 200] [--json OUT.json]

Each single-action validation motion with a repetition count is probed under its caption at each timestep of
`--timesteps`, with the self-attention keys of every layer captured (`capture_keys`). The recipe
(`count_from_matrix`) is then scored on a grid, separately for the attention reading (`key_similarity` of a set
of layers, its sharpness, whole-frame or half-frame steps, the row-peak prominence, the timestep) and for the
model-free baseline (`feature_similarity`: sharpness, steps and prominence), so each is tuned as well as the
data allows. The rule, fixed before looking: the lowest mean absolute error on motions of two or more repetitions
("no repetition found" scored as 1), ties broken by the exact rate. It prints the grid's best rows and the
chosen settings, which are the defaults in `motionclr_lens/analysis/counting.py` (KEY_SHARPNESS, PROMINENCE,
COUNT_TIMESTEP and the layers for attention; FEATURE_SHARPNESS and FEATURE_PROMINENCE for the features).
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import COUNTABLE, count_from_matrix, feature_similarity, key_similarity
from motionclr_lens.capture import capture_keys
from motionclr_lens.pipeline import UnknownWordWarning
from motionclr_lens.world import generate

SHARPNESS = (0.05, 0.1, 0.2)
PROMINENCE = (0.3, 0.4, 0.5)
FACTORS = (1, 2)  # the similarity over whole frames, or interpolated to half-frame steps (the recipe's UPSAMPLE)


def counted_motions(split: str, n: int, world: str, seed: int = 0) -> list:
    """The first `n` single-action motions of a split whose action is countable."""
    kwargs = {"world": world} if "world" in inspect.signature(generate).parameters else {}
    if world != "base" and not kwargs:
        raise SystemExit(f"this version of the world has no variant {world!r}")
    chosen: list = []
    start = 0
    while len(chosen) < n:
        batch = generate(split, 256, seed=seed, start=start, workers=2, **kwargs)
        chosen += [s for s in batch if len(s.segments) == 1 and s.segments[0].kind in COUNTABLE and s.segments[0].count]
        start += 256
    return chosen[:n]


def score(truth: np.ndarray, counts: list[int | None]) -> dict[str, float]:
    c = np.array([1 if x is None else x for x in counts])
    none = np.array([x is None for x in counts])
    many = truth >= 2
    return {
        "exact": float(np.mean(c[many] == truth[many])),
        "obo": float(np.mean(np.abs(c[many] - truth[many]) <= 1)),
        "mae": float(np.mean(np.abs(c[many] - truth[many]))),
        "none_when_one": float(np.mean(none[~many])) if (~many).any() else float("nan"),
        "motions": int(many.sum()),
        "single": int((~many).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="base")
    parser.add_argument("--motions", type=int, default=200)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UnknownWordWarning)
    pipe = load_embedded()
    motions = counted_motions("val", args.motions, args.world)
    truth = np.array([s.segments[0].count for s in motions])
    print(f"{len(motions)} validation motions ({int((truth >= 2).sum())} of two or more repetitions)")

    keys_by_t: dict[int, list] = {}
    for t in args.timesteps:
        keys_by_t[t] = []
        for s in motions:
            with capture_keys() as keys:
                pipe.probe(s.features, s.captions[0].text, timestep=t, generator=torch.Generator().manual_seed(s.index))
            keys_by_t[t].append(keys)
    res = keys_by_t[args.timesteps[0]][0].plan.resolutions
    half = len(res) // 2
    finest = tuple(x for x in range(half, len(res)) if res[x] == max(res))
    next_level = tuple(x for x in range(half, len(res)) if res[x] == max(res) // 2)
    layer_sets = [finest, finest[-1:], finest + next_level, tuple(x for x in range(len(res)) if res[x] == max(res))]

    rows = []
    for t, layers, sharp, factor in itertools.product(args.timesteps, layer_sets, SHARPNESS, FACTORS):
        mats = [
            np.mean([key_similarity(k, x, frames=s.frames, sharpness=sharp, factor=factor)[0] for x in layers], 0)
            for k, s in zip(keys_by_t[t], motions, strict=True)
        ]
        for prom in PROMINENCE:
            counts = [count_from_matrix(m, prominence=prom, rows_per_frame=factor).count for m in mats]
            rows.append({"reading": "attention keys", "timestep": t, "layers": list(layers), "sharpness": sharp,
                         "factor": factor, "prominence": prom, **score(truth, counts)})  # fmt: skip
    for sharp, factor in itertools.product(SHARPNESS, FACTORS):
        mats = [feature_similarity(s.features, pipe.mean, pipe.std, sharp, factor) for s in motions]
        for prom in PROMINENCE:
            counts = [count_from_matrix(m, prominence=prom, rows_per_frame=factor).count for m in mats]
            rows.append({"reading": "features (no model)", "sharpness": sharp, "factor": factor, "prominence": prom,
                         **score(truth, counts)})  # fmt: skip

    chosen = {}
    for reading in ("attention keys", "features (no model)"):
        mine = sorted((r for r in rows if r["reading"] == reading), key=lambda r: (r["mae"], -r["exact"]))
        chosen[reading] = mine[0]
        print(f"\n{reading}: best settings by MAE on two or more repetitions")
        for r in mine[:6]:
            print({k: v for k, v in r.items() if k != "reading"})
    print("\nchosen:", json.dumps(chosen, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"world": args.world, "chosen": chosen, "grid": rows}, indent=1))


if __name__ == "__main__":
    main()
