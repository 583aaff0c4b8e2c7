"""What each attention head does: entropy, locality, periodicity, word grounding; and a taxonomy of heads.

with capture(kinds=("self", "cross")) as cache:          # per head: no head_mean
    pipe.probe(sample.features, caption.text, timestep=300)
stats = head_statistics(cache, frames=sample.frames, prompt=tokenized, word_frames=caption.word_frames)
stats.to_frame(); taxonomy(stats).plot()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..capture import AttentionCache
from ..text import TokenizedPrompt
from .counting import diagonal_profile
from .grounding import activation_mask, frames_per_row, temporal_iou

__all__ = ["HeadStatistics", "HeadTaxonomy", "head_statistics", "taxonomy"]

MEASURES = ("entropy", "locality", "periodicity", "grounding")


def _entropy(maps: np.ndarray) -> float:
    """Mean over query rows of the entropy of the attention distribution, over log(keys): 0 sharp, 1 flat."""
    p = np.clip(maps, 1e-12, None)
    p = p / p.sum(-1, keepdims=True)
    return float((-(p * np.log(p)).sum(-1) / np.log(p.shape[-1])).mean())


def _locality(square: np.ndarray, radius: int = 1) -> float:
    """Share of each row's attention within `radius` frames of the diagonal."""
    T = len(square)
    idx = np.arange(T)
    near = np.abs(idx[:, None] - idx[None, :]) <= radius
    rows = square / np.maximum(square.sum(-1, keepdims=True), 1e-12)
    return float((rows * near).sum(-1).mean())


def _periodicity(square: np.ndarray) -> float:
    """How much attention comes back after it fell: the highest rise of the diagonal profile (attention by
    distance in frames) above its running minimum, relative to the profile's range. 0: never comes back."""
    profile = diagonal_profile(square)
    if len(profile) < 4:
        return 0.0
    running_min = np.minimum.accumulate(profile)
    return float((profile - running_min).max() / max(profile.max() - profile.min(), 1e-12))


@dataclass
class HeadStatistics:
    """One row per (kind, layer, head): entropy, locality and periodicity (self-attention), grounding
    (cross-attention: mean temporal IoU of each content word's curve with the word's true frames)."""

    rows: list[dict]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def matrix(self, kind: str, measure: str) -> np.ndarray:
        """(layers, heads) of one measure."""
        mine = [r for r in self.rows if r["kind"] == kind]
        layers = sorted({r["layer"] for r in mine})
        heads = sorted({r["head"] for r in mine})
        out = np.full((len(layers), len(heads)), np.nan)
        for r in mine:
            out[layers.index(r["layer"]), heads.index(r["head"])] = r[measure]
        return out

    def plot(self, kind: str = "self", measures: Sequence[str] | None = None):
        """Heatmaps, layer x head, of each measure of one kind of attention (matplotlib:
        `viz.figures.head_statistics_figure`)."""
        from ..viz.figures import head_statistics_figure

        return head_statistics_figure(self, kind, measures)


def head_statistics(
    cache: AttentionCache,
    frames: int | None = None,
    prompt: TokenizedPrompt | None = None,
    word_frames: Sequence[tuple[int, int] | None] | None = None,
    row: int = 0,
) -> HeadStatistics:
    """Per-head measures from a capture kept per head (not head-averaged), averaged over captured steps,
    for prompt `row` (conditional branch). Grounding needs `prompt` and each word's true frames."""
    if cache.spec.head_mean:
        raise ValueError("head statistics need per-head maps: capture without head_mean")
    plan = cache.plan
    total = frames if frames is not None else (plan.frames if plan is not None else None)
    rows: list[dict] = []
    for kind in ("self", "cross"):
        for layer in cache.layers(kind):
            r = cache.row(kind, layer, row, "cond")
            maps = np.mean([cache[kind, layer, s][r].float().numpy() for s in cache.steps(kind, layer)], axis=0)
            heads, Tq = maps.shape[0], maps.shape[1]
            scale = frames_per_row(cache, layer, Tq)
            valid = Tq if total is None else min(Tq, -(-total // scale))
            for h in range(heads):
                m = maps[h, :valid]
                entry: dict = {"kind": kind, "layer": layer, "head": h, "entropy": np.nan, "locality": np.nan}
                entry.update({"periodicity": np.nan, "grounding": np.nan})
                if kind == "self":
                    square = m[:, :valid]
                    entry["entropy"] = _entropy(square)
                    entry["locality"] = _locality(square)
                    entry["periodicity"] = _periodicity(square)
                else:
                    entry["entropy"] = _entropy(m[:, : plan.text_tokens if plan else m.shape[1]])
                    if prompt is not None and word_frames is not None and total is not None:
                        full = np.repeat(m, scale, axis=0)[:total]
                        ious = [
                            temporal_iou(activation_mask(full[:, list(w.tokens)].sum(1)), *wf)
                            for w, wf in zip(prompt.words, word_frames, strict=True)
                            if wf is not None
                        ]
                        entry["grounding"] = float(np.mean(ious)) if ious else np.nan
                rows.append(entry)
    return HeadStatistics(rows)


@dataclass
class HeadTaxonomy:
    """Heads placed by PCA of their standardised measures and grouped by k-means."""

    rows: list[dict]  # kind, layer, head, pc1, pc2, cluster
    components: np.ndarray  # (2, measures) PCA loadings
    measures: list[str]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def plot(self, title: str | None = None):
        """The heads on the first two principal components, coloured by cluster, with each measure's loading
        drawn as a line from the origin (matplotlib: `viz.figures.head_taxonomy_figure`)."""
        from ..viz.figures import head_taxonomy_figure

        return head_taxonomy_figure(self, title)


def taxonomy(stats: HeadStatistics, clusters: int = 4, kind: str = "self", seed: int = 0) -> HeadTaxonomy:
    """PCA (2 components) and k-means of one kind of head by its measures (NaN-free ones)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    mine = [r for r in stats.rows if r["kind"] == kind]
    measures = [m for m in MEASURES if mine and all(np.isfinite(r[m]) for r in mine)]
    if len(mine) < clusters or len(measures) < 2:
        raise ValueError(
            f"need at least {clusters} {kind}-attention heads with two finite measures; "
            f"have {len(mine)} heads and measures {measures}"
        )
    X = StandardScaler().fit_transform(np.array([[r[m] for m in measures] for r in mine]))
    pca = PCA(n_components=2, random_state=seed).fit(X)
    P = pca.transform(X)
    labels = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit_predict(X)
    rows = [
        {
            "kind": r["kind"],
            "layer": r["layer"],
            "head": r["head"],
            "pc1": float(p[0]),
            "pc2": float(p[1]),
            "cluster": int(c),
        }
        for r, p, c in zip(mine, P, labels, strict=True)
    ]
    return HeadTaxonomy(rows, pca.components_, measures)
