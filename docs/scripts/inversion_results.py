"""Inversion of given motions on the embedded model: reconstruction error, and in-place replacement of one
word on an inverted motion (what it keeps and what it changes). Numbers for docs/inversion.md.

    python docs/scripts/inversion_results.py [--samples 40] [--edits 40] [--real]

Reconstruction: held-out world motions (test split) inverted under their caption with 10 DDIM steps
(also 5 and 20), regenerated without edits; mean per-joint position error of the joints decoded from the
features, globally and relative to the root, for plain DDIM inversion (fixed-point refinement only) and
with the lowest level's correction. Replacement: 2-action world motions whose first verb has a
replacement in REPLACE; the target prompt swaps that verb; `Replace(source=0, target=1, word=new)` on the
inverted state; error outside the replaced word's frames, and the recogniser's action inside them.
`--real` adds the HumanML3D samples beside the project (../shared/data/humanml3d), reconstruction only.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from motionclr_lens import load_embedded
from motionclr_lens.analysis import ActionRecogniser, joints_of
from motionclr_lens.edits import Replace
from motionclr_lens.inversion import invert, regenerate
from motionclr_lens.world import generate

# verb of the world's captions -> (replacement verb, the action it names)
REPLACE = {
    "jumps": ("squats", "squat"),
    "squats": ("jumps", "jump"),
    "walks": ("jogs", None),
    "jogs": ("walks", None),
    "runs": ("walks", None),
    "waves": ("punches", "punch"),
    "punches": ("waves", "wave"),
    "claps": ("bows", "bow"),
    "bows": ("claps", "clap"),
    "kicks": ("punches", "punch"),
    "hops": ("jumps", "jump"),
}


def mpjpe(a: np.ndarray, b: np.ndarray, root_relative: bool = False) -> float:
    """Mean per-joint position error in mm; root-relative: each frame's joints relative to its pelvis."""
    if root_relative:
        a, b = a - a[:, :1], b - b[:, :1]
    return float(np.linalg.norm(a - b, axis=-1).mean() * 1000)


def reconstruction(pipe, samples, steps: int, refine: int) -> dict:
    rows = []
    for s, caption in samples:
        inv = invert(pipe, s, caption, steps=steps, refine=refine)
        original = joints_of(s)
        for correct in (False, True):
            out = regenerate(pipe, inv, smooth_sigma=None, correct=correct)
            J = joints_of(out.features[0])
            rows.append((correct, mpjpe(original, J), mpjpe(original, J, True)))
    result = {}
    for correct in (False, True):
        mine = [r for r in rows if r[0] == correct]
        key = "corrected" if correct else "plain"
        result[key] = {
            "mpjpe_mm": float(np.mean([r[1] for r in mine])),
            "mpjpe_median_mm": float(np.median([r[1] for r in mine])),
            "root_relative_mm": float(np.mean([r[2] for r in mine])),
        }
    return result


def replacement(pipe, samples, recogniser, n: int, correct: bool) -> dict:
    outside, outside_pose, changed, became, used = [], [], [], [], []
    for s in samples:
        if len(used) >= n:
            break
        caption = s.captions[0]
        hits = [
            (i, w)
            for i, w in enumerate(caption.words)
            if w in REPLACE and caption.word_frames[i] is not None and caption.word_segments[i] == 0
        ]
        if len(s.segments) < 2 or not hits:
            continue
        i, word = hits[0]
        new, new_kind = REPLACE[word]
        target = caption.text.replace(word, new, 1)
        start, end = caption.word_frames[i]
        inv = invert(pipe, s.features, caption.text, steps=10, refine=5)
        out = regenerate(
            pipe, inv, prompts=[caption.text, target], edits=[Replace(source=0, target=1, word=new)], correct=correct
        )
        original, edited = joints_of(s.features), joints_of(out.features[1])
        keep = np.ones(len(original), dtype=bool)
        keep[start:end] = False
        outside.append(mpjpe(original[keep], edited[keep]))
        outside_pose.append(mpjpe(original[keep], edited[keep], root_relative=True))
        inside = recogniser.main_action(edited[start:end]) if end - start >= 10 else None
        changed.append(inside is not None and inside != s.segments[0].kind)
        if new_kind is not None:
            became.append(inside == new_kind)
        used.append({"caption": caption.text, "target": target, "span": [start, end], "recognised": inside})
    return {
        "n": len(used),
        "outside_mpjpe_mm": float(np.mean(outside)) if outside else float("nan"),
        "outside_mpjpe_median_mm": float(np.median(outside)) if outside else float("nan"),
        "outside_root_relative_mm": float(np.mean(outside_pose)) if outside else float("nan"),
        "span_action_changed": float(np.mean(changed)) if changed else float("nan"),
        "span_became_the_new_action": float(np.mean(became)) if became else float("nan"),
        "examples": used[:5],
    }


def real_samples() -> list[tuple[np.ndarray, str]]:
    """The real HumanML3D samples beside the project, with a caption each (004822's own; 012314, a tennis
    serve, described in the world's words)."""
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "humanml3d"
    if not root.exists():
        return []
    walk = np.load(root / "004822_protocol.npz")["hml263"].astype(np.float32)
    serve = np.load(root / "012314_new_joint_vecs.npy").astype(np.float32)
    return [
        (walk[:196], "a person walks forward"),
        (serve[:196], "a person raises the right arm and swings it forward"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    pipe = load_embedded()
    recogniser = ActionRecogniser.default()
    test = generate("test", 4 * max(args.samples, args.edits), seed=0, workers=2)
    world = [(s.features, s.captions[0].text) for s in test[: args.samples]]
    start = time.perf_counter()
    result: dict = {"reconstruction": {}}
    for steps in (5, 10, 20):
        result["reconstruction"][f"{steps} steps"] = reconstruction(pipe, world, steps, refine=5)
        print(steps, "steps:", json.dumps(result["reconstruction"][f"{steps} steps"]), flush=True)
    if args.real:
        real = real_samples()
        result["reconstruction_real"] = {"n": len(real), **reconstruction(pipe, real, 10, refine=5)}
        print("real:", json.dumps(result["reconstruction_real"]), flush=True)
    for correct in (True, False):
        key = "replacement_corrected" if correct else "replacement_plain"
        result[key] = replacement(pipe, test, recogniser, args.edits, correct)
        print(key, json.dumps({k: v for k, v in result[key].items() if k != "examples"}), flush=True)
    result["seconds"] = time.perf_counter() - start
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
