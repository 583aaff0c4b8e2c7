"""Publication figures with matplotlib: every function returns a Figure (or draws on a given Axes), drawn
in one style (`PAPER_STYLE`); `save_figure` writes PDF, SVG and PNG at once.

    fig = attention_map(self_map, kind="self")
    save_figure(fig, "figures/self_map")        # self_map.pdf, self_map.svg, self_map.png
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..motion import KINEMATIC_CHAINS
from .style import PAPER_STYLE, styled

if TYPE_CHECKING:
    from ..analysis.grounding import GroundingScores
    from ..analysis.heads import HeadStatistics, HeadTaxonomy
    from ..evaluation.curves import EditCurve
    from ..patching import PatchingTable

__all__ = [
    "PAPER_STYLE",
    "attention_map",
    "counting_figure",
    "edit_curve_figure",
    "grounding_scores_figure",
    "head_statistics_figure",
    "head_taxonomy_figure",
    "keyframe_strip",
    "patching_figure",
    "repetition_figure",
    "save_figure",
    "styled",
    "word_curves",
    "word_curves_figure",
]

# One colour per kinematic chain: right leg, left leg, spine, right arm, left arm.
CHAIN_COLORS = ("#d62728", "#1f77b4", "#2b2b2b", "#ff7f0e", "#2ca02c")


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("pdf", "svg", "png")) -> list[Path]:
    """Write `fig` as `stem.pdf`, `stem.svg` and `stem.png` (or the formats given); returns the paths."""
    valid = ("pdf", "svg", "png", "eps", "jpg")
    bad = [f for f in formats if f not in valid]
    if bad:
        raise ValueError(f"unknown figure formats {bad}; valid: {list(valid)}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(PAPER_STYLE):
        for fmt in formats:
            path = stem.with_name(f"{stem.name}.{fmt}")
            fig.savefig(path, format=fmt)
            paths.append(path)
    return paths


@styled
def keyframe_strip(
    joints: np.ndarray,
    frames: Sequence[int] | None = None,
    n: int = 8,
    view: str = "side",
    spread: float = 0.9,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Skeletons of a (T, 22, 3) motion at keyframes in a row, fading from early to late.

    `view`: "side" (forward axis across, the body's own travel kept) or "front" (x across). Keyframe k is
    shifted by k * `spread` metres across so in-place actions do not overlap.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise ValueError(f"joints must have shape (T, 22, 3), got {joints.shape}")
    if view not in ("side", "front"):
        raise ValueError(f"view {view!r}; valid: 'side', 'front'")
    T = len(joints)
    frames = list(frames) if frames is not None else [int(round(f)) for f in np.linspace(0, T - 1, n)]
    bad = [f for f in frames if not 0 <= f < T]
    if bad:
        raise ValueError(f"frames {bad} are outside the motion's {T} frames")
    across = 2 if view == "side" else 0
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.95 * len(frames) + 0.8, 2.6))
    else:
        fig = cast(Figure, ax.figure)
    lefts, rights = [], []
    for k, f in enumerate(frames):
        h = joints[f, :, across] - joints[frames[0], 0, across] + spread * k
        v = joints[f, :, 1]
        alpha = 0.35 + 0.65 * (k + 1) / len(frames)
        for chain, color in zip(KINEMATIC_CHAINS, CHAIN_COLORS, strict=True):
            c = list(chain)
            ax.plot(h[c], v[c], color=color, lw=2.0, alpha=alpha, solid_capstyle="round")
        ax.text(h[15], v[15] + 0.12, str(f), fontsize=7, ha="center", color="#555555")
        lefts.append(h.min())
        rights.append(h.max())
    ax.axhline(0.0, color="#999999", lw=1.0)
    ax.set_xlim(min(lefts) - 0.3, max(rights) + 0.3)
    ax.set_ylim(-0.05, max(2.0, float(joints[frames, :, 1].max()) + 0.25))
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return fig


@styled
def word_curves_figure(
    curves: np.ndarray,
    words: Sequence[str],
    fps: float = 20.0,
    title: str | None = None,
    ax: plt.Axes | None = None,
    truth: Sequence[tuple[int, int] | None] | None = None,
    ylabel: str = "cross-attention",
) -> Figure:
    """Per-word attention over time: curves (W, T), one line per word, frames on the x axis in seconds.

    `truth[i]` (frames [start, end) or None) draws each word's true frames as a bar in its colour under the
    curves; words without frames (function words, the subject) are then drawn thin and grey."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[0] != len(words):
        raise ValueError(f"curves must have shape (len(words)={len(words)}, T), got {curves.shape}")
    if truth is not None and len(truth) != len(words):
        raise ValueError(f"truth must give one span (or None) per word: {len(truth)} for {len(words)} words")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 2.8 if truth is None else 3.3))
    else:
        fig = cast(Figure, ax.figure)
    t = np.arange(curves.shape[1]) / fps
    colors = [plt.get_cmap("tab20")(k % 20) for k in (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11)]
    content = [i for i in range(len(words)) if truth is None or truth[i] is not None]
    top = float(np.nanmax(curves)) if curves.size else 1.0
    for i, (word, curve) in enumerate(zip(words, curves, strict=True)):
        if i in content:
            color = colors[content.index(i) % len(colors)]
            ax.plot(t, curve, lw=1.8, color=color, label=word)
        else:
            ax.plot(t, curve, lw=0.8, color="#b0b0b0", label=f"{word} (no frames)")
    if truth is not None:
        step = 0.06 * top
        for k, i in enumerate(content):
            span = truth[i]
            assert span is not None
            y = -(k + 1) * step
            ax.plot([span[0] / fps, span[1] / fps], [y, y], lw=4, color=colors[k % len(colors)], solid_capstyle="butt")
        ax.text(0.0, -(len(content) + 1.5) * step, "true frames of each word", fontsize=7, color="#555", va="top")
        ax.set_ylim(-(len(content) + 2.6) * step, top * 1.08)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, t[-1] if len(t) > 1 else 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def word_curves(*args: Any, **kwargs: Any) -> Figure:
    """Deprecated: the figure is now `word_curves_figure` (same arguments); this name will be removed in the
    next release. `analysis.word_curves` is the computation of the curves and keeps its name."""
    warnings.warn(
        "motionclr_lens.viz.word_curves is deprecated and will be removed in the next release: "
        "use motionclr_lens.viz.word_curves_figure (same arguments)",
        DeprecationWarning,
        stacklevel=2,
    )
    return word_curves_figure(*args, **kwargs)


@styled
def attention_map(
    attention: np.ndarray,
    kind: str = "self",
    words: Sequence[str] | None = None,
    fps: float = 20.0,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """A self-attention map (T, T: query frames down, key frames across) or a word x frame map (W, T) of
    cross-attention (rows named by `words`), time in seconds."""
    a = np.asarray(attention, dtype=np.float64)
    if kind not in ("self", "cross"):
        raise ValueError(f"kind {kind!r}; valid: 'self', 'cross'")
    if a.ndim != 2 or not np.isfinite(a).all():
        raise ValueError(f"attention must be a finite 2-D map, got shape {a.shape}")
    if kind == "self" and a.shape[0] != a.shape[1]:
        raise ValueError(f"a self-attention map must be square (T, T), got {a.shape}")
    if kind == "cross" and words is not None and len(words) != a.shape[0]:
        raise ValueError(f"{len(words)} words for a map of {a.shape[0]} rows")
    if ax is None:
        size = (3.6, 3.3) if kind == "self" else (6.5, 0.3 * a.shape[0] + 1.1)
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = cast(Figure, ax.figure)
    seconds = a.shape[1] / fps
    if kind == "self":
        im = ax.imshow(a, cmap="magma", extent=(0, seconds, seconds, 0), interpolation="nearest")
        ax.set_xlabel("key (s)")
        ax.set_ylabel("query (s)")
    else:
        im = ax.imshow(
            a, cmap="viridis", aspect="auto", extent=(0, seconds, a.shape[0] - 0.5, -0.5), interpolation="nearest"
        )
        ax.set_yticks(range(a.shape[0]), list(words) if words is not None else [str(i) for i in range(a.shape[0])])
        ax.set_xlabel("time (s)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if title:
        ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


@styled
def counting_figure(profile: np.ndarray, period: float | None = None, count: int | None = None,
                    truth: int | None = None, fps: float = 20.0, title: str | None = None,
                    ax: plt.Axes | None = None) -> Figure:  # fmt: skip
    """The self-attention diagonal profile (mean attention at each lag, `analysis.diagonal_profile`) with
    the period read off it and its multiples marked, and the count it gives (and the true count)."""
    profile = np.asarray(profile, dtype=np.float64)
    if profile.ndim != 1 or len(profile) < 2:
        raise ValueError(f"profile must be 1-D with at least 2 lags, got shape {profile.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 2.6))
    else:
        fig = cast(Figure, ax.figure)
    lags = np.arange(len(profile)) / fps
    ax.plot(lags, profile, color="#2b2b2b")
    if period is not None and period < len(profile):
        for k in range(1, int(len(profile) // period) + 1):
            ax.axvline(k * period / fps, color="#e4007c", lw=1.0, ls="--" if k > 1 else "-")
    label = []
    if count is not None:
        label.append(f"counted {count}")
    if truth is not None:
        label.append(f"true {truth}")
    if label:
        ax.text(0.98, 0.92, ", ".join(label), transform=ax.transAxes, ha="right", va="top")
    ax.set_xlabel("lag (s)")
    ax.set_ylabel("mean attention")
    if title:
        ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


@styled
def repetition_figure(estimate: Any, truth: int | None = None, fps: float = 20.0,
                      title: str | None = None) -> Figure:  # fmt: skip
    """What a count was read from (`estimate`: an `analysis.RepetitionEstimate`): the frame-by-frame similarity
    (the counted window boxed) and its diagonal profile with the period and its multiples marked, the count (or
    "no repetition found") and the true count."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.4), gridspec_kw={"width_ratios": [1, 1.35]})
    rate = fps * estimate.rows_per_frame  # rows of the similarity per second
    T = len(estimate.matrix)
    extent = (0, T / rate, T / rate, 0)
    left.imshow(estimate.matrix, cmap="magma", extent=extent, interpolation="nearest")
    a, b = estimate.window
    left.add_patch(plt.Rectangle((a / fps, a / fps), (b - a) / fps, (b - a) / fps, fill=False, ec="#35c4ff", lw=1.2))
    left.set_xlabel("frame (s)")
    left.set_ylabel("frame (s)")
    plural = "s" if len(estimate.layers) > 1 else ""
    layers = f", layer{plural} {', '.join(map(str, estimate.layers))}" if estimate.layers else ""
    left.set_title(f"{estimate.source}{layers}", loc="left", fontsize=9)
    period = estimate.period * estimate.rows_per_frame if np.isfinite(estimate.period) else None
    count_text = "no repetition found" if estimate.count is None else f"counted {estimate.count}"
    counting_figure(estimate.profile, period, None, truth, fps=rate, ax=right)
    right.set_ylabel("mean similarity")
    right.text(0.98, 0.80, count_text, transform=right.transAxes, ha="right", va="top")
    if period is not None and estimate.count is not None:
        right.text(0.98, 0.68, f"period {period / rate:.2f} s", transform=right.transAxes, ha="right", va="top")
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return fig


@styled
def grounding_scores_figure(scores: GroundingScores, title: str | None = None) -> Figure:
    """Bar chart of mean IoU, pointing accuracy and order accuracy per method of an `analysis.GroundingScores`
    (its `summary()`), all on a 0-1 axis."""
    summary = scores.summary()
    methods = list(summary)
    measures = ["iou", "pointing", "order"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(methods), 3.0))
    width = 0.8 / len(measures)
    for k, m in enumerate(measures):
        ax.bar(np.arange(len(methods)) + (k - 1) * width, [summary[x][m] for x in methods], width, label=m)
    ax.set_xticks(np.arange(len(methods)), methods)
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    if title:
        ax.set_title(title, pad=24)
    fig.tight_layout()
    return fig


@styled
def head_statistics_figure(stats: HeadStatistics, kind: str = "self", measures: Sequence[str] | None = None) -> Figure:
    """Heatmaps, layer x head, of each measure of one kind of attention in an `analysis.HeadStatistics`, on a
    0-1 colour scale. `measures` defaults to entropy, locality and periodicity for "self" and to entropy and
    grounding for "cross"."""
    measures = list(
        measures or (("entropy", "locality", "periodicity") if kind == "self" else ("entropy", "grounding"))
    )
    fig, axes = plt.subplots(1, len(measures), figsize=(2.6 * len(measures), 4.2), squeeze=False)
    for ax, m in zip(axes[0], measures, strict=True):
        im = ax.imshow(stats.matrix(kind, m), aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{kind}: {m}", fontsize=9)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    return fig


@styled
def head_taxonomy_figure(taxonomy: HeadTaxonomy, title: str | None = None) -> Figure:
    """The heads of an `analysis.HeadTaxonomy` on its first two principal components, coloured by k-means
    cluster (circles: self-attention heads, triangles: cross-attention heads), with each measure's loading
    drawn as a line from the origin."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for kind, marker in (("self", "o"), ("cross", "^")):
        mine = [r for r in taxonomy.rows if r["kind"] == kind]
        if mine:
            ax.scatter(
                [r["pc1"] for r in mine],
                [r["pc2"] for r in mine],
                c=[r["cluster"] for r in mine],
                cmap="tab10",
                vmin=0,
                vmax=9,
                marker=marker,
                s=22,
                label=f"{kind}-attention heads",
                edgecolors="none",
            )
    for name, (x, y) in zip(taxonomy.measures, taxonomy.components.T, strict=True):
        ax.annotate(name, (2.2 * x, 2.2 * y), fontsize=8, color="0.3")
        ax.plot([0, 2 * x], [0, 2 * y], color="0.6", lw=0.8)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


@styled
def _has_source(curve: EditCurve, name: str, source: str) -> bool:
    return all(source in r.summary().get(name, {}) for r in curve.results)


def edit_curve_figure(
    curve: EditCurve, metrics: Sequence[str] = ("R-precision top 3", "FID"), title: str | None = None
) -> Figure:
    """An edit's strength against evaluator metrics (generated motions; mean and 95 % interval over the protocol's
    repeats; the real motions' value as a dashed line) and the attention on the edited word (over prompts), one
    panel each, with the unedited strength marked where the curve has it."""
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(2.6 * (len(metrics) + 1), 2.6), squeeze=False)
    x = np.asarray(curve.strengths, dtype=float)
    panels = [(name, *curve.metric(name)) for name in metrics] + [
        (f'attention on "{curve.word}"', *curve.word_attention())
    ]
    real = {name: curve.metric(name, "ground truth")[0] for name in metrics if _has_source(curve, name, "ground truth")}
    for ax, (name, mean, half) in zip(axes[0], panels, strict=True):
        ax.errorbar(x, mean, yerr=half, marker="o", ms=3.5, capsize=2.5, lw=1.2, color="#1f77b4", label="generated")
        if name in real:  # the real motions' value under the same protocol: the scale the changes sit on
            ax.axhline(float(np.mean(real[name])), color="0.45", lw=0.9, ls="--", label="real motions")
            ax.legend(frameon=False, fontsize=7)
        if 0.0 in curve.strengths:
            ax.axvline(0.0, color="0.6", lw=0.8, ls=":")
        ax.set_xlabel(curve.label)
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def patching_figure(table: PatchingTable, title: str | None = None) -> Figure:
    """The restored fraction of each patched (layer, step window), one heat map per attention kind: 0 (white)
    leaves the target's motion, 1 (dark red) makes it the source's; blue is a move away from the source."""
    from matplotlib.colors import TwoSlopeNorm

    kinds = [k for k in ("cross", "self") if any(s.kind == k for s in table.sites)]
    grids = [table.grid(kind) for kind in kinds]
    values = np.concatenate([g[2].ravel() for g in grids])
    finite = values[np.isfinite(values)]
    low = min(-0.1, float(finite.min()) if finite.size else 0.0)
    high = max(1.0, float(finite.max()) if finite.size else 1.0)
    widest = max(len(g[1]) for g in grids)
    fig, axes = plt.subplots(
        1, len(kinds), figsize=(1.2 + 0.32 * widest * len(kinds) + 1.0, 3.2), squeeze=False, constrained_layout=True
    )
    image = None
    for ax, kind, (layers, windows, grid) in zip(axes[0], kinds, grids, strict=True):
        image = ax.imshow(grid, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, low, high), aspect="auto", origin="lower")
        ax.set_yticks(range(len(layers)), [str(layer) for layer in layers], fontsize=6)
        ax.set_xticks(range(len(windows)), [str(w) for w in windows], fontsize=6)
        ax.set_xlabel("denoising steps patched")
        ax.set_ylabel("layer")
        ax.set_title(f"{kind}-attention output")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="restored fraction", shrink=0.9)
    fig.suptitle(title or f"patching: {table.source_metric:.3g} (source) vs {table.target_metric:.3g} (target)")
    return fig
