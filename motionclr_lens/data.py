"""Motion-text data in the HumanML3D folder format, and its feature statistics.

A folder holds `new_joint_vecs/<id>.npy` (T, 263), `texts/<id>.txt` with "caption#tokens#start#end"
lines (start/end in seconds, 0 for the whole motion), split files `train.txt`, `val.txt`, `test.txt`
listing ids, and `Mean.npy`/`Std.npy`. The procedural world writes the same format
(`motionclr_lens.world.write_humanml3d`) plus a `ground_truth/<id>.json` per motion.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .motion import FEATURE_DIM, NUM_JOINTS

__all__ = ["MotionText", "feature_statistics", "load_humanml3d", "weight_global_features"]

logger = logging.getLogger(__name__)

MIN_FRAMES, MAX_FRAMES = 40, 196


@dataclass
class MotionText:
    """One motion (T, 263) denormalised features, and its captions (with their `word/POS` tokens where the
    text files give them, as the text-to-motion evaluator reads captions)."""

    id: str
    features: np.ndarray
    captions: list[str]
    tokens: list[list[str]] | None = None


def _group_bounds(joints_num: int) -> list[int]:
    """Where the feature groups start and end: root rotation velocity, root linear velocity, root height,
    positions, rotations, velocities, foot contacts."""
    j = joints_num
    return [0, 1, 3, 4, 4 + (j - 1) * 3, 4 + (j - 1) * 9, 4 + (j - 1) * 9 + j * 3, 4 + (j - 1) * 9 + j * 3 + 4]


def feature_statistics(features: list[np.ndarray], joints_num: int = NUM_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of features as HumanML3D computes them: the std is averaged within each feature group
    (root rotation velocity, root linear velocity, root height, positions, rotations, velocities, contacts)."""
    data = np.concatenate(features, axis=0)
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    for a, b in itertools.pairwise(_group_bounds(joints_num)):
        std[a:b] = std[a:b].mean()
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


def weight_global_features(std: np.ndarray, feat_bias: float, joints_num: int = NUM_JOINTS) -> np.ndarray:
    """The std a model trains against, as the original's training computes it from the dataset's `Std.npy`:
    the root's rotation velocity, linear velocity and height and the four foot contacts divided by
    `feat_bias` (5 in the original), so their normalised values are `feat_bias` times larger and weigh
    `feat_bias`**2 times more in the MSE than the pose features. The result is the model's `meta/std.npy`."""
    if not feat_bias > 0:
        raise ValueError(f"feat_bias must be positive, got {feat_bias}")
    std = np.array(std, dtype=np.float32, copy=True)
    bounds = _group_bounds(joints_num)
    if std.shape != (bounds[-1],):
        raise ValueError(f"std must have shape ({bounds[-1]},) for {joints_num} joints, got {std.shape}")
    std[: bounds[3]] /= feat_bias  # the root's three groups
    std[bounds[-2] :] /= feat_bias  # the foot contacts
    return std


def _parse_text_line(line: str) -> tuple[str, float, float, list[str]] | None:
    parts = line.strip().split("#")
    if not parts or not parts[0]:
        return None
    caption = parts[0].strip()
    tokens = parts[1].split(" ") if len(parts) > 1 and parts[1].strip() else []
    start = float(parts[2]) if len(parts) > 2 and parts[2] not in ("", "nan") else 0.0
    end = float(parts[3]) if len(parts) > 3 and parts[3] not in ("", "nan") else 0.0
    return caption, start, end, tokens


def load_humanml3d(folder: str | Path, split: str, fps: float = 20.0, for_evaluation: bool = False) -> list[MotionText]:
    """Motions of a split of a HumanML3D-format folder, each with its captions and their tokens.

    Captions that cover only part of a motion (start/end in seconds) become motions of their own, as in
    HumanML3D's loader; motions shorter than 40 frames are skipped, longer ones cut to 196. `for_evaluation`:
    as the text-to-motion evaluator's loader, motions (and parts) of 200 frames or more are skipped, not cut.
    """
    folder = Path(folder)
    split_file = folder / f"{split}.txt"
    if not split_file.is_file():
        available = sorted(p.stem for p in folder.glob("*.txt"))
        raise FileNotFoundError(f"no split file {split_file}; the folder has {available}")
    items: list[MotionText] = []
    skipped = 0
    for motion_id in split_file.read_text().split():
        path = folder / "new_joint_vecs" / f"{motion_id}.npy"
        text_path = folder / "texts" / f"{motion_id}.txt"
        if not path.is_file() or not text_path.is_file():
            skipped += 1
            continue
        features = np.load(path).astype(np.float32)
        if features.ndim != 2 or features.shape[1] != FEATURE_DIM:
            raise ValueError(f"{path} has shape {features.shape}, expected (T, {FEATURE_DIM})")
        whole: list[str] = []
        whole_tokens: list[list[str]] = []

        def kept(n: int) -> bool:
            return n >= MIN_FRAMES and (n < 200 or not for_evaluation)

        for line in text_path.read_text().splitlines():
            parsed = _parse_text_line(line)
            if parsed is None:
                continue
            caption, start, end, tokens = parsed
            if start == 0.0 and end == 0.0:
                whole.append(caption)
                whole_tokens.append(tokens)
                continue
            part = features[int(start * fps) : int(end * fps)]
            if kept(len(part)):
                name = f"{motion_id}#{start:g}-{end:g}"
                items.append(MotionText(name, part[:MAX_FRAMES], [caption], [tokens]))
        if whole and kept(len(features)):
            items.append(MotionText(motion_id, features[:MAX_FRAMES], whole, whole_tokens))
        elif whole:
            skipped += 1
    if skipped:
        logger.info("skipped %d motions of %s (missing files or shorter than %d frames)", skipped, split, MIN_FRAMES)
    return items
