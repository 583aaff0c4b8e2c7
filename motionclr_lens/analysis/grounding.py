"""Word-to-frame grounding from cross-attention: per-word curves over the frames of a motion."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import torch

from ..capture import AttentionCache
from ..text import TokenizedPrompt

__all__ = ["WordCurves", "word_curves"]


@dataclass
class WordCurves:
    """curves[w, t]: attention of frame t to word w (summed over the word's tokens), averaged over the
    chosen layers, steps and heads; each layer's map is brought to full resolution by repetition."""

    words: list[str]
    curves: np.ndarray
    fps: float = 20.0

    def plot(self, title: str | None = None):
        from ..viz.figures import word_curves as plot_word_curves

        return plot_word_curves(self.curves, self.words, self.fps, title=title)


def word_curves(
    cache: AttentionCache,
    prompt: TokenizedPrompt,
    row: int = 0,
    frames: int | None = None,
    layers: Collection[int] | None = None,
    steps: Collection[int | None] | None = None,
    fps: float = 20.0,
) -> WordCurves:
    """Per-word cross-attention curves of prompt `row` from a capture (conditional branch)."""
    chosen = cache.layers("cross") if layers is None else [layer for layer in layers if layer in cache.layers("cross")]
    if not chosen:
        raise ValueError(f"the capture holds no cross-attention of layers {layers}; it has {cache.layers('cross')}")
    plan = cache.plan
    total = frames if frames is not None else (plan.frames if plan is not None else None)
    acc: torch.Tensor | None = None
    count = 0
    for layer in chosen:
        r = cache.row("cross", layer, row, "cond")
        for step in cache.steps("cross", layer):
            if steps is not None and step not in steps:
                continue
            maps = cache["cross", layer, step][r].float().mean(0)  # (T_layer, N)
            full = maps.repeat_interleave(_scale(cache, layer, maps.shape[0]), dim=0)
            acc = full if acc is None else acc[: full.shape[0]] + full[: acc.shape[0]]
            count += 1
    if acc is None:
        raise ValueError(f"no captured step among {steps}")
    acc = acc / count
    if total is not None:
        acc = acc[:total]
    curves = (
        np.stack([acc[:, list(w.tokens)].sum(1).numpy() for w in prompt.words])
        if prompt.words
        else np.zeros((0, len(acc)))
    )
    return WordCurves([w.text for w in prompt.words], curves, fps)


def _scale(cache: AttentionCache, layer: int, resolution: int) -> int:
    plan = cache.plan
    if plan is not None:
        return plan.resolutions[0] // plan.resolutions[layer]
    full = max(cache["cross", lay, cache.steps("cross", lay)[0]].shape[2] for lay in cache.layers("cross"))
    return full // resolution
