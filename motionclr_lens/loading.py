"""Pipelines from where the weights are: the embedded model, a release folder, or a hub id."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .checkpoint import build_release_model, download_release, read_release
from .embedded import load_embedded
from .motion import FEATURE_DIM
from .pipeline import MotionCLRPipeline

__all__ = ["load_embedded", "load_model", "load_release"]

logger = logging.getLogger(__name__)


def load_release(
    folder: str | Path | None = None, weights: str = "ema", hub_id: str | None = None
) -> MotionCLRPipeline:
    """Load a released MotionCLR folder (opt.txt, meta/mean.npy, meta/std.npy, model/latest.tar).

    `weights`: "ema" (default) or "raw". Without a folder, `hub_id` (e.g. "EvanTHU/MotionCLR") downloads
    the release first, which needs network access.
    """
    if folder is None:
        if hub_id is None:
            raise ValueError("give a release folder, or a hub_id to download one")
        folder = download_release(hub_id)
    checkpoint = read_release(folder, weights=weights)
    model = build_release_model(checkpoint)
    info = {
        "source": str(checkpoint.folder),
        "weights": checkpoint.weights,
        "total_iterations": checkpoint.total_iterations,
        "options": checkpoint.options,
    }
    if checkpoint.mean.shape != (FEATURE_DIM,):
        logger.warning("feature statistics have shape %s, not (%d,)", checkpoint.mean.shape, FEATURE_DIM)
    return MotionCLRPipeline(model, checkpoint.mean, checkpoint.std, info=info)


def load_model(model: str = "embedded", weights: str = "ema") -> MotionCLRPipeline:
    """A pipeline from one name: "embedded" (the model in the package), a release folder, or a hub id
    (owner/name); `weights` ("ema" or "raw") for a release."""
    if model == "embedded":
        return load_embedded()
    path = Path(model)
    if path.is_dir():
        return load_release(path, weights=weights)
    hub_id = re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", model) and not model.startswith((".", "/", "~"))
    if hub_id and not path.exists():
        return load_release(hub_id=model, weights=weights)
    what = "is a file, not a release folder" if path.exists() else "is not a folder here"
    raise ValueError(
        f"model {model!r} {what}; give 'embedded', a release folder (opt.txt, meta/, model/latest.tar) or a hub id "
        "(owner/name)"
    )
