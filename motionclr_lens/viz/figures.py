"""Publication figures with matplotlib: every function returns a Figure (or draws on a given Axes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..motion import KINEMATIC_CHAINS

__all__ = ["keyframe_strip", "word_curves"]

# One colour per kinematic chain: right leg, left leg, spine, right arm, left arm.
CHAIN_COLORS = ("#d62728", "#1f77b4", "#2b2b2b", "#ff7f0e", "#2ca02c")


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


def word_curves(
    curves: np.ndarray,
    words: Sequence[str],
    fps: float = 20.0,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Per-word attention over time: curves (W, T), one line per word, frames on the x axis in seconds."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[0] != len(words):
        raise ValueError(f"curves must have shape (len(words)={len(words)}, T), got {curves.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 2.8))
    else:
        fig = cast(Figure, ax.figure)
    t = np.arange(curves.shape[1]) / fps
    colors = plt.get_cmap("tab10")
    for i, (word, curve) in enumerate(zip(words, curves, strict=True)):
        ax.plot(t, curve, lw=1.8, color=colors(i % 10), label=word)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("cross-attention")
    ax.set_xlim(0, t[-1] if len(t) > 1 else 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return fig
