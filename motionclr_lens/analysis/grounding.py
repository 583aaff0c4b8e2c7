"""Word-to-frame grounding from cross-attention: per-word curves over the frames of a motion."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import torch

from ..capture import AttentionCache
from ..text import TokenizedPrompt

__all__ = [
    "GroundingScores",
    "WordCurves",
    "activation_mask",
    "align_phrases",
    "frames_per_row",
    "random_curve",
    "root_speed_curve",
    "score_grounding",
    "temporal_iou",
    "word_curves",
    "word_shares",
]


@dataclass
class WordCurves:
    """curves[w, t]: attention of frame t to word w (summed over the word's tokens), averaged over the
    chosen layers, steps and heads; each layer's map is brought to full resolution by repetition."""

    words: list[str]
    curves: np.ndarray
    fps: float = 20.0

    def plot(self, title: str | None = None, truth: list[tuple[int, int] | None] | None = None):
        """One line per word; `truth` (each word's true frames, or None) draws them as bars under the curves
        (matplotlib: `viz.figures.word_curves_figure`)."""
        from ..viz.figures import word_curves_figure

        return word_curves_figure(self.curves, self.words, self.fps, title=title, truth=truth)


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
            full = maps.repeat_interleave(frames_per_row(cache, layer, maps.shape[0]), dim=0)
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


def frames_per_row(cache: AttentionCache, layer: int, rows: int) -> int:
    """How many full-resolution frames each query row of `layer`'s captured map stands for: 1 at the
    full-resolution layers, more at the coarser ones. Repeating each row that often brings the map to full
    resolution (as `word_curves` and `head_statistics` do).

    Read off the capture's plan (the layers' resolutions) where it has one; otherwise `rows`, the number of query
    rows of the layer's map, divides the most query rows of any captured cross-attention layer."""
    plan = cache.plan
    if plan is not None:
        return plan.resolutions[0] // plan.resolutions[layer]
    full = max(cache["cross", lay, cache.steps("cross", lay)[0]].shape[2] for lay in cache.layers("cross"))
    return full // rows


def word_shares(curves: np.ndarray, word_groups: list[int | None] | None = None) -> np.ndarray:
    """Each frame's attention divided among the caption's words (or among the words of `word_groups` that are
    not None): (words, T) curves that sum to one per frame over the words counted."""
    curves = np.asarray(curves, dtype=np.float64)
    counted = np.ones(len(curves), bool) if word_groups is None else np.array([g is not None for g in word_groups])
    total = curves[counted].sum(0, keepdims=True) if counted.any() else curves.sum(0, keepdims=True)
    return curves / np.maximum(total, 1e-12)


def align_phrases(curves: np.ndarray, word_groups: list[int | None], min_frames: int = 8) -> np.ndarray:
    """Word-to-frame grounding as an alignment: the frames are cut into one contiguous span per action phrase
    (`word_groups[i]` names word i's phrase, None for function words), in whatever order and with whatever
    boundaries give each phrase the most of its words' attention share (dynamic programming over every order of
    the phrases; each span at least `min_frames` long). Attention alone decides order and boundaries; the
    caption's word order plays no part. Returns (words, T) curves: a box over its phrase's span for each word
    (above 90 % of its peak throughout, peaking at the span's middle), and flat curves for function words."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[0] != len(word_groups):
        raise ValueError(f"curves must be (words={len(word_groups)}, T), got {curves.shape}")
    T = curves.shape[1]
    groups = sorted({g for g in word_groups if g is not None})
    out = np.full(curves.shape, 1.0 / T)
    if not groups:
        return out
    n = len(groups)
    if n > 6:
        raise ValueError(f"align_phrases takes at most 6 phrases, got {n}")
    min_frames = max(1, min(min_frames, T // n))
    shares = word_shares(curves, word_groups)
    gain = np.stack([shares[[i for i, g in enumerate(word_groups) if g == grp]].sum(0) for grp in groups])
    gain = gain / np.maximum(gain.sum(0, keepdims=True), 1e-12)  # each frame's share among the phrases
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(gain, axis=1)], axis=1)
    best_total, best_spans = -np.inf, None
    for order in itertools.permutations(range(n)):
        # value[k][t]: the best total for the first k phrases of this order covering frames [0, t)
        value = np.full((n + 1, T + 1), -np.inf)
        back = np.zeros((n + 1, T + 1), dtype=int)
        value[0, 0] = 0.0
        for k in range(1, n + 1):
            g = order[k - 1]
            for t in range(k * min_frames, T - (n - k) * min_frames + 1):
                starts = np.arange((k - 1) * min_frames, t - min_frames + 1)
                totals = value[k - 1, starts] + cum[g, t] - cum[g, starts]
                j = int(np.argmax(totals))
                value[k, t], back[k, t] = totals[j], starts[j]
        if value[n, T] > best_total:
            spans, t = [], T
            for k in range(n, 0, -1):
                spans.append((order[k - 1], int(back[k, t]), t))
                t = int(back[k, t])
            best_total, best_spans = value[n, T], spans
    assert best_spans is not None
    frames = np.arange(T) + 0.5
    for g, a, b in best_spans:
        centre, half = (a + b) / 2, (b - a) / 2
        box = ((frames >= a) & (frames < b)) * (1.0 - 0.1 * np.abs(frames - centre) / max(half, 1e-9))
        for i, grp in enumerate(word_groups):
            if grp == groups[g]:
                out[i] = box
    return out


# --- scoring against ground truth ---------------------------------------------------------------------


def activation_mask(curve: np.ndarray, threshold: float = 0.8) -> np.ndarray:
    """Frames where a curve exceeds `threshold` times its maximum (the paper's rule at 0.8)."""
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"a curve must be 1-D and non-empty, got shape {curve.shape}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    top = curve.max()
    return curve >= threshold * top if top > 0 else np.zeros(len(curve), dtype=bool)


def temporal_iou(mask: np.ndarray, start: int, end: int) -> float:
    """Intersection over union of a frame mask and the frames [start, end)."""
    mask = np.asarray(mask, dtype=bool)
    truth = np.zeros(len(mask), dtype=bool)
    truth[max(start, 0) : min(end, len(mask))] = True
    union = (mask | truth).sum()
    return float((mask & truth).sum() / union) if union else 0.0


def root_speed_curve(joints: np.ndarray, fps: float = 20.0) -> np.ndarray:
    """(T,) horizontal speed of the pelvis, the paper's word-agnostic baseline for where action happens."""
    joints = np.asarray(joints, dtype=np.float64)
    speed = np.linalg.norm(np.diff(joints[:, 0, [0, 2]], axis=0), axis=-1) * fps
    return np.concatenate([speed[:1], speed])


def random_curve(frames: int, rng: np.random.Generator, smooth: float = 4.0) -> np.ndarray:
    """A smooth random positive curve: the chance baseline."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(rng.random(frames), smooth, mode="wrap") + 1e-6


@dataclass
class GroundingScores:
    """One row per (motion, word, method): temporal IoU of the activated frames with the word's frames,
    whether the curve's peak falls inside them, and for motions of several actions whether the action
    words' attention centroids come in the captioned order."""

    rows: list[dict]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean IoU, pointing accuracy and order accuracy per method."""
        out: dict[str, dict[str, float]] = {}
        for method in sorted({r["method"] for r in self.rows}):
            mine = [r for r in self.rows if r["method"] == method]
            words = [r for r in mine if r["kind"] == "word"]
            orders = [r for r in mine if r["kind"] == "order"]
            out[method] = {
                "iou": float(np.mean([r["iou"] for r in words])) if words else float("nan"),
                "pointing": float(np.mean([r["hit"] for r in words])) if words else float("nan"),
                "order": float(np.mean([r["correct"] for r in orders])) if orders else float("nan"),
                "words": len(words),
                "orders": len(orders),
            }
        return out

    def plot(self, title: str | None = None):
        """Bar chart of IoU, pointing and order accuracy per method (matplotlib:
        `viz.figures.grounding_scores_figure`)."""
        from ..viz.figures import grounding_scores_figure

        return grounding_scores_figure(self, title=title)


def score_grounding(
    curves_by_method: dict[str, np.ndarray],
    words: list[str],
    word_frames: list[tuple[int, int] | None],
    word_segments: list[int | None],
    threshold: float = 0.8,
    motion: int = 0,
) -> list[dict]:
    """Score per-word curves of one caption against its ground truth.

    `curves_by_method[name]` is (words, T) (a word-agnostic baseline may give (T,), used for every word);
    `word_frames[i]` the frames word i refers to (None for function words), `word_segments[i]` its action.
    """
    rows: list[dict] = []
    for method, curves in curves_by_method.items():
        curves = np.asarray(curves, dtype=np.float64)
        per_word = curves if curves.ndim == 2 else np.broadcast_to(curves, (len(words), len(curves)))
        if len(per_word) != len(words):
            raise ValueError(f"method {method!r} gives {len(per_word)} curves for {len(words)} words")
        for i, (word, frames) in enumerate(zip(words, word_frames, strict=True)):
            if frames is None:
                continue
            curve = per_word[i]
            start, end = frames
            rows.append(
                {
                    "motion": motion,
                    "method": method,
                    "kind": "word",
                    "word": word,
                    "iou": temporal_iou(activation_mask(curve, threshold), start, end),
                    "hit": bool(start <= int(np.argmax(curve)) < end),
                }
            )
        segments = sorted({s for s in word_segments if s is not None})
        if len(segments) >= 2 and curves.ndim == 2:
            t = np.arange(per_word.shape[1])
            centroids = []
            for seg in segments:
                c = per_word[[i for i, s in enumerate(word_segments) if s == seg]].sum(0)
                centroids.append(float((c * t).sum() / max(c.sum(), 1e-12)))
            rows.append(
                {"motion": motion, "method": method, "kind": "order", "correct": bool(np.all(np.diff(centroids) > 0))}
            )
    return rows
