"""Counting repetitions from self-attention maps: the paper's Appendix G algorithm, and a period estimate.

A self-attention map of a repetitive motion is a grid of blocks: a frame attends to the frames at the same
phase of every other repetition. The paper counts peaks along each row; `count_by_period` instead reads
the period off the map's mean diagonal profile (how much frames `lag` apart attend to each other) and
divides the length of the action by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.signal import find_peaks

__all__ = ["PaperCount", "PeriodCount", "count_by_period", "count_paper", "diagonal_profile"]


def _square(attention: np.ndarray) -> np.ndarray:
    a = np.asarray(attention, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 2:
        raise ValueError(f"a self-attention map must be square (T, T) with T >= 2, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the attention map contains NaN or Inf")
    return a


@dataclass(frozen=True)
class PaperCount:
    count: float  # total peaks / rows with a peak (not rounded, as the paper states it)
    peaks_per_row: np.ndarray  # (rows,) peaks found in each row of the downsampled map
    processed: np.ndarray  # the smoothed, downsampled, min-max normalised map the peaks were found on

    @property
    def rounded(self) -> int:
        return int(round(self.count))


def count_paper(attention: np.ndarray, sigma: float = 0.8, factor: int = 4, mean_of: str = "row") -> PaperCount:
    """The paper's Appendix G: Gaussian filter (sigma 0.8), average-downsample by 4, min-max normalise to
    [0, 1], then per row `find_peaks(height=3 * mean, distance=1)`; count = total peaks / rows with a peak.

    The paper does not say whose mean sets the height: `mean_of="row"` (each row's own, the default) or
    `"map"` (the whole normalised map's).
    """
    if mean_of not in ("row", "map"):
        raise ValueError(f"mean_of must be 'row' or 'map', got {mean_of!r}")
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    a = gaussian_filter(_square(attention), sigma=sigma)
    n = (a.shape[0] // factor) * factor
    if n < factor:
        raise ValueError(f"a map of {a.shape[0]} frames is too short to downsample by {factor}")
    m = n // factor
    small = a[:n, :n].reshape(m, factor, m, factor).mean(axis=(1, 3))
    span = small.max() - small.min()
    small = (small - small.min()) / span if span > 0 else np.zeros_like(small)
    map_mean = small.mean()
    peaks = np.array(
        [
            len(find_peaks(row, height=3 * (row.mean() if mean_of == "row" else map_mean), distance=1)[0])
            for row in small
        ]
    )
    rows = int((peaks > 0).sum())
    return PaperCount(float(peaks.sum() / rows) if rows else 0.0, peaks, small)


def diagonal_profile(attention: np.ndarray, start: int = 0, end: int | None = None) -> np.ndarray:
    """(L,) mean attention between frames `lag` apart, lag = 0 .. L-1, within frames [start, end), each row
    first normalised to sum 1 over that window (both directions of the lag averaged)."""
    a = _square(attention)
    end = a.shape[0] if end is None else end
    if not 0 <= start < end <= a.shape[0]:
        raise ValueError(f"bad frame window [{start}, {end}) for a map of {a.shape[0]} frames")
    w = a[start:end, start:end]
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    L = len(w)
    return np.array([0.5 * (np.diagonal(w, lag).mean() + np.diagonal(w, -lag).mean()) for lag in range(L)])


@dataclass(frozen=True)
class PeriodCount:
    count: int
    period: float  # frames
    profile: np.ndarray  # the diagonal profile the period was read from
    window: tuple[int, int]

    def plot(self, truth: int | None = None, fps: float = 20.0, title: str | None = None):
        """The diagonal profile with the period and its multiples marked (matplotlib)."""
        from ..viz.figures import counting_figure

        period = self.period if self.period < len(self.profile) else None
        return counting_figure(self.profile, period, self.count, truth, fps=fps, title=title)


def count_by_period(
    attention: np.ndarray,
    start: int = 0,
    end: int | None = None,
    min_period: int = 4,
    smooth: float = 1.0,
) -> PeriodCount:
    """Repetitions in frames [start, end) of a self-attention map: the window's length over the period,
    the lag of the first clear peak of the diagonal profile (after removing its slow decay). No clear
    peak means one repetition."""
    a = _square(attention)
    end = a.shape[0] if end is None else end
    profile = diagonal_profile(a, start, end)
    L = len(profile)
    detrended = profile - gaussian_filter1d(profile, sigma=max(L / 6, 2.0), mode="nearest")
    detrended = gaussian_filter1d(detrended, smooth) if smooth else detrended
    search = detrended[: max(int(L / 1.3), min_period + 2)]
    peaks, props = find_peaks(search, prominence=0.0)
    # a period shows as attention rising again after it fell: the raw profile must climb out of a trough
    depth = max(profile[0] - profile.min(), 1e-12)
    peaks_ok = [
        (p, pr)
        for p, pr in zip(peaks, props["prominences"], strict=True)
        if p >= min_period and profile[p] - profile[min_period // 2 : p].min() > 0.05 * depth
    ]
    if not peaks_ok:
        return PeriodCount(1, float(L), profile, (start, end))
    best = max(pr for _, pr in peaks_ok)
    period = next(float(p) for p, pr in peaks_ok if pr >= 0.5 * best)
    return PeriodCount(max(1, int(round(L / period))), period, profile, (start, end))
