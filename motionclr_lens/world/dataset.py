"""Drawing many world samples (in parallel), and writing them as a HumanML3D-format folder."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..data import feature_statistics
from .compose import SPLITS, WORLDS, WorldSample, make_sample

__all__ = ["generate", "write_humanml3d"]


def _worker_start() -> None:
    import signal

    import torch

    torch.set_num_threads(1)  # many small tensor ops: threads only contend with the other workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (one message, not one per worker)


def _one(args: tuple[int, str, int, str]) -> WorldSample:
    seed, split, index, world = args
    return make_sample(seed, split, index, world=world)


def generate(
    split: str,
    count: int,
    seed: int = 0,
    start: int = 0,
    workers: int = 1,
    world: str = "base",
    progress: bool = False,
) -> list[WorldSample]:
    """Samples `start .. start + count - 1` of a split of a world ("base" or "extended"); the same
    (seed, split, index, world) always gives the same sample. `progress` shows a bar."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {list(SPLITS)}")
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; valid: {list(WORLDS)}")
    jobs = [(seed, split, i, world) for i in range(start, start + count)]

    def shown(samples: Iterable[WorldSample]) -> list[WorldSample]:
        if not progress:
            return list(samples)
        from tqdm.auto import tqdm

        return list(tqdm(samples, total=len(jobs), desc=f"drawing {world} world motions ({split})", unit="motion"))

    if workers <= 1:
        return shown(map(_one, jobs))
    with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start) as pool:
        return shown(pool.imap(_one, jobs, chunksize=32))


def write_humanml3d(folder: str | Path, samples: Iterable[WorldSample], stats_from: str = "train") -> Path:
    """Write samples as a HumanML3D-format folder (features, joints, texts, splits, Mean/Std, ground truth).

    Mean and Std are computed from the samples of split `stats_from`, as HumanML3D's from its training set.
    """
    folder = Path(folder)
    for sub in ("new_joint_vecs", "new_joints", "texts", "ground_truth"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    ids: dict[str, list[str]] = {s: [] for s in SPLITS}
    stats_features = []
    for sample in samples:
        motion_id = f"{sample.split}_{sample.index:06d}"
        np.save(folder / "new_joint_vecs" / f"{motion_id}.npy", sample.features)
        np.save(folder / "new_joints" / f"{motion_id}.npy", sample.joints)
        lines = [f"{c.text}#{' '.join(w + '/OTHER' for w in c.words)}#0.0#0.0" for c in sample.captions]
        (folder / "texts" / f"{motion_id}.txt").write_text("\n".join(lines) + "\n")
        (folder / "ground_truth" / f"{motion_id}.json").write_text(json.dumps(sample.to_dict()))
        ids[sample.split].append(motion_id)
        if sample.split == stats_from:
            stats_features.append(sample.features)
    for split, names in ids.items():
        (folder / f"{split}.txt").write_text("\n".join(names) + ("\n" if names else ""))
    if stats_features:
        mean, std = feature_statistics(stats_features)
        np.save(folder / "Mean.npy", mean)
        np.save(folder / "Std.npy", std)
    return folder
