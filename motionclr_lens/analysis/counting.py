"""Counting repetitions from self-attention: the library's one recipe, its model-free baseline, and the paper's
Appendix G algorithm.

A repetitive motion makes a grid of blocks in any frame-by-frame similarity: a frame resembles the frames at the
same phase of every other repetition. The recipe (`count_from_matrix`) reads the period off the similarity's
mean diagonal profile with a comb (the lag whose multiples stand highest above their midpoints), then counts
the peaks along each row that are at least 0.6 periods apart and takes the median over the rows whose peaks come
a period apart (the rows of the repeating part, not of a pose held before or after it). Fewer than half the rows
periodic, a count below two, or no period, is "no repetition found" (`count` None), never a silent 1.

`count_from_attention` applies it to the similarity of the self-attention keys (frames whose keys are alike are
frames the layer attends to alike) of the layers that can resolve the period; `count_from_features` applies the
same recipe to the motion's own features, with no model: the baseline attention must beat. `count_paper` is the
paper's Appendix G as stated, kept for comparison; `count_by_period` reads the softmax maps themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.signal import find_peaks

from .. import defaults

if TYPE_CHECKING:
    from ..capture import AttentionCache, KeyCache

__all__ = [
    "COUNT_TIMESTEP",
    "PaperCount",
    "PeriodCount",
    "RepetitionEstimate",
    "count_by_period",
    "count_from_attention",
    "count_from_features",
    "count_from_matrix",
    "count_paper",
    "diagonal_profile",
    "estimate_period",
    "feature_similarity",
    "full_resolution_self_map",
    "key_similarity",
    "similarity_matrix",
    "upsample",
]

# The recipe's settings, chosen on 200 validation motions of the extended world for the attention keys and,
# separately, for the features (docs/scripts/counting_choice.py; docs/analysis.md): how sharp a similarity is (its
# bandwidth as a fraction of the median squared distance between frames), how far a row's peak must stand out (a
# fraction of the row's range away from the frame itself), the shortest period looked for (frames).
# (For the embedded model trained on the extended world the keys chose the features' settings; the first model's
# keys chose 0.1 and 0.5.)
KEY_SHARPNESS = 0.05
FEATURE_SHARPNESS = 0.05
PROMINENCE = 0.4
FEATURE_PROMINENCE = 0.4
MIN_PERIOD = 5
MIN_CELLS = 4  # a layer reads a period only where it spans at least this many of the layer's frames
# A repetition shows at every phase of it: at least this share of the window's rows must have peaks a period
# apart, else nothing repeats (a pose held before and after one movement makes only its own rows periodic).
MIN_PERIODIC_SHARE = 0.5
# Keys and features are interpolated to half-frame steps before their similarity is taken: at 20 fps a repeat every
# 8.5 frames falls between frames, and only on the finer grid does it line up with a row (on 200 validation motions
# of the extended world: exact 0.85 -> 0.89, OBO 0.93 -> 0.95).
UPSAMPLE = 2
# The noise level to probe a given motion at for counting: counting reads the motion, so it wants less noise than
# grounding (`pipeline.PROBE_TIMESTEP`), which reads the text; chosen on validation with the settings above.
COUNT_TIMESTEP = defaults.COUNT_TIMESTEP


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
    count: int | None  # None: no clear period (no repetition found)
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
    peak: `count` None (no repetition found). The library's recipe is `count_from_attention`; this reads the
    softmax maps themselves and is kept for comparison."""
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
        return PeriodCount(None, float(L), profile, (start, end))
    best = max(pr for _, pr in peaks_ok)
    period = next(float(p) for p, pr in peaks_ok if pr >= 0.5 * best)
    count = int(round(L / period))
    return PeriodCount(count if count >= 2 else None, period, profile, (start, end))


# --- the recipe ------------------------------------------------------------------------------------------------


def similarity_matrix(vectors: np.ndarray, sharpness: float) -> np.ndarray:
    """(T, T) similarity of T vectors (T, D): exp(-d^2 / (sharpness * median d^2)), d^2 the mean squared
    difference over the D dimensions. Small `sharpness` keeps only near-identical frames alike."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or len(v) < 2:
        raise ValueError(f"vectors must have shape (T >= 2, D), got {v.shape}")
    if not np.isfinite(v).all():
        bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
        raise ValueError(f"vectors hold NaN or Inf at frames {bad[:10].tolist()}")
    if not (np.isfinite(sharpness) and sharpness > 0):
        raise ValueError(f"sharpness must be a positive number, got {sharpness!r}")
    v = v - v.mean(axis=0)
    sq = (v * v).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (v @ v.T), 0.0) / v.shape[1]
    scale = float(np.median(d2)) * sharpness
    return np.exp(-d2 / scale) if scale > 0 else np.ones_like(d2)


def estimate_period(profile: np.ndarray, min_period: float = MIN_PERIOD, reach: float = 0.85) -> tuple[float, float]:
    """(period, strength) of a diagonal profile by a comb: for each candidate period P (quarter-frame steps,
    from `min_period` to 3/4 of the profile), how far the detrended profile at P, 2P, ... (up to `reach` of
    its length) stands above it at the midpoints P/2, 3P/2, ...; the best P, or the shortest P / d that explains
    at least 60 % as much (a comb also fits every multiple of the period). Strength is that contrast over
    the profile's fall from lag 0; (nan, 0) when no period fits."""
    profile = np.asarray(profile, dtype=np.float64)
    L = len(profile)
    detrended = profile - gaussian_filter1d(profile, sigma=max(L / 6, 2.0), mode="nearest")
    lags = np.arange(L)
    candidates = np.arange(float(min_period), 0.75 * L + 1e-9, 0.25)
    scores = []
    for P in candidates:
        k = np.arange(1, int(reach * L // P) + 1)
        scores.append(np.interp(k * P, lags, detrended).mean() - np.interp((k - 0.5) * P, lags, detrended).mean())
    if not scores:
        return float("nan"), 0.0
    score = np.array(scores)
    i = int(np.argmax(score))
    period, best = float(candidates[i]), float(score[i])
    # A comb also fits every multiple of the period, while a fraction of the period scores near zero (half its
    # teeth fall in troughs): the shortest fraction P / d that still fits well is the period.
    for divisor in range(int(period // min_period), 1, -1):
        j = int(np.argmin(np.abs(candidates - period / divisor)))
        if abs(candidates[j] - period / divisor) < 0.5 and score[j] >= 0.6 * best:
            period, best = float(candidates[j]), float(score[j])
            break
    if best <= 0:
        return float("nan"), 0.0
    return period, best / max(float(profile[0] - profile.min()), 1e-12)


def _row_peaks(similarity: np.ndarray, period: float, prominence: float) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of each row of a symmetrised similarity, at least 0.6 periods apart and standing `prominence` of the
    row's range away from the frame itself (lags of half a period or more: a frame is always most like itself)
    above their surroundings (the row's ends count as low, so a peak at an end is seen); and whether the row's
    peaks come a period apart (0.7-1.4 periods: a row of the repeating part, not of a pose held before or after)."""
    S = 0.5 * (similarity + similarity.T)
    T = len(S)
    far = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :]) >= period / 2
    counts, periodic = [], []
    for row, away in zip(S, far, strict=True):
        span = float(row[away].max() - row.min()) if away.any() else 0.0
        padded = np.concatenate([[row.min()], row, [row.min()]])
        peaks = (
            find_peaks(padded, distance=max(1, int(0.6 * period)), prominence=prominence * span)[0] if span > 0 else []
        )
        counts.append(len(peaks))
        gaps = np.diff(peaks)
        periodic.append(len(gaps) > 0 and 0.7 * period <= float(np.median(gaps)) <= 1.4 * period)
    return np.array(counts), np.array(periodic, dtype=bool)


@dataclass(frozen=True)
class RepetitionEstimate:
    """Repetitions read off a frame-by-frame similarity: `count` None means no repetition was found.

    `period` is in frames (nan if none fits), `strength` the comb's contrast (0: none), `window` the frames
    counted in, `row_counts` the peaks of each row of the window (the count is their median over the rows whose
    peaks come a period apart), `matrix` the
    similarity of the whole motion (`rows_per_frame` rows a frame), `profile` its diagonal profile over the window
    (a lag a row), `source` what the
    similarity was made of, `layers` the attention layers read (empty for a model-free similarity)."""

    count: int | None
    period: float
    strength: float
    window: tuple[int, int]
    row_counts: np.ndarray
    matrix: np.ndarray
    profile: np.ndarray
    source: str
    layers: tuple[int, ...] = ()
    rows_per_frame: int = 1

    @property
    def found(self) -> bool:
        return self.count is not None

    def describe(self) -> str:
        if self.count is None:
            return "no repetition found"
        return f"{self.count} repetitions (period {self.period:.1f} frames)"

    def plot(self, truth: int | None = None, fps: float = 20.0, title: str | None = None):
        """The similarity the count was read from, beside its diagonal profile with the period marked (matplotlib)."""
        from ..viz.figures import repetition_figure

        return repetition_figure(self, truth=truth, fps=fps, title=title)


def count_from_matrix(
    similarity: np.ndarray,
    start: int = 0,
    end: int | None = None,
    min_period: float = MIN_PERIOD,
    prominence: float = PROMINENCE,
    source: str = "similarity",
    layers: tuple[int, ...] = (),
    rows_per_frame: int = 1,
) -> RepetitionEstimate:
    """The counting recipe on any frame-by-frame similarity, within frames [start, end). A similarity of vectors
    interpolated to finer steps (`upsample`) has `rows_per_frame` rows a frame; frames, periods and the window
    are given and returned in frames all the same."""
    if not isinstance(rows_per_frame, int) or rows_per_frame < 1:
        raise ValueError(f"rows_per_frame must be a positive int, got {rows_per_frame!r}")
    a = _square(similarity)
    frames = a.shape[0] // rows_per_frame
    end = frames if end is None else end
    if not isinstance(start, int | np.integer) or not isinstance(end, int | np.integer) or not 0 <= start < end:
        raise ValueError(f"bad frame window [{start}, {end}) for a similarity of {frames} frames")
    if end > frames:
        raise ValueError(f"bad frame window [{start}, {end}) for a similarity of {frames} frames")
    if end - start < 2 * min_period:
        raise ValueError(
            f"a window of {end - start} frames is too short to count periods of {min_period} frames or more "
            f"(at least {2 * min_period} frames)"
        )
    if not (np.isfinite(prominence) and 0 < prominence < 1):
        raise ValueError(f"prominence must be in (0, 1), got {prominence!r}")
    r = rows_per_frame
    profile = diagonal_profile(a, start * r, end * r)
    period, strength = estimate_period(profile, min_period * r)
    window = (int(start), int(end))

    def estimate(count: int | None, row_counts: np.ndarray) -> RepetitionEstimate:
        return RepetitionEstimate(count, period / r, strength, window, row_counts, a, profile, source, layers, r)

    if not np.isfinite(period):
        return estimate(None, np.zeros(0, int))
    row_counts, periodic = _row_peaks(a[start * r : end * r, start * r : end * r], period, prominence)
    if periodic.mean() < MIN_PERIODIC_SHARE:
        return estimate(None, row_counts)
    count = int(np.median(row_counts[periodic]))
    return estimate(count if count >= 2 else None, row_counts)


def upsample(vectors: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """(T * factor, D) vectors linearly interpolated at steps of 1 / factor frame (the last frame held)."""
    v = np.asarray(vectors, dtype=np.float64)
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    if factor == 1:
        return v
    t = np.arange(len(v))
    fine = np.minimum(np.arange(len(v) * factor) / factor, len(v) - 1)
    return np.stack([np.interp(fine, t, v[:, d]) for d in range(v.shape[1])], axis=1)


def count_from_features(
    features: np.ndarray,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
    start: int = 0,
    end: int | None = None,
    sharpness: float = FEATURE_SHARPNESS,
    prominence: float = FEATURE_PROMINENCE,
    min_period: float = MIN_PERIOD,
) -> RepetitionEstimate:
    """The model-free baseline: the same recipe on the similarity of the motion's own (T, 263) features, each
    dimension standardised by `mean` and `std` (a model's, e.g. `pipe.mean`, `pipe.std`; else the motion's own)."""
    similarity = feature_similarity(features, mean, std, sharpness)
    return count_from_matrix(
        similarity, start, end, min_period, prominence, source="features (no model)", rows_per_frame=UPSAMPLE
    )


def feature_similarity(
    features: np.ndarray,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
    sharpness: float = FEATURE_SHARPNESS,
    factor: int = UPSAMPLE,
) -> np.ndarray:
    """(T * factor, T * factor) similarity of a motion's (T, D) features, each dimension standardised by
    `mean` and `std` (else the motion's own), interpolated to steps of 1 / factor frame."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must have shape (T >= 2, D), got {f.shape}")
    mean = f.mean(axis=0) if mean is None else np.asarray(mean, dtype=np.float64)
    std = f.std(axis=0) if std is None else np.asarray(std, dtype=np.float64)
    z = (f - mean) / np.where(std > 1e-8, std, 1.0)
    return similarity_matrix(upsample(z, factor), sharpness)


def key_similarity(
    keys: KeyCache,
    layer: int,
    row: int = 0,
    frames: int | None = None,
    step: int | None = None,
    sharpness: float = KEY_SHARPNESS,
    factor: int = UPSAMPLE,
) -> tuple[np.ndarray, int]:
    """The similarity of one layer's self-attention keys for prompt `row` at `step` (default: the last captured),
    over the motion's `frames` (default: the run's), the layer brought to full resolution and interpolated to
    steps of 1 / factor frame: ((frames * factor, frames * factor), the layer's frames per key)."""
    if layer not in keys.layers():
        raise ValueError(f"layers {[layer]} were not captured; captured: {keys.layers()}")
    full = max(keys[(x, keys.steps(x)[-1])].shape[1] for x in keys.layers())
    plan = keys.plan
    T = frames if frames is not None else (plan.valid[0] if plan is not None else full)
    if not isinstance(T, int | np.integer) or not 2 <= T <= full:
        raise ValueError(f"frames must be an int in [2, {full}], got {frames!r}")
    steps = keys.steps(layer)
    s = steps[-1] if step is None else step
    if s not in steps:
        raise ValueError(f"step {step} was not captured at layer {layer}; captured: {steps}")
    k = keys[(layer, s)]
    if not 0 <= row < k.shape[0]:
        raise ValueError(f"row {row} is out of range: the capture holds {k.shape[0]} prompts")
    scale = max(1, full // k.shape[1])
    valid = -(-T // scale)  # the layer's frames that cover the motion
    vectors = np.repeat(k[row, :valid].numpy(), scale, axis=0)[:T]  # the layer at full resolution
    return similarity_matrix(upsample(vectors, factor), sharpness), scale


def finest_layers(keys: KeyCache) -> list[int]:
    """The captured layers of the decoder's half at the finest resolution (the last up-sampled level)."""
    layers = keys.layers()
    if not layers:
        raise ValueError("the key capture is empty: run the model inside `capture_keys()`")
    plan = keys.plan
    if plan is not None:
        res = plan.resolutions
        half = len(res) // 2
        finest = [layer for layer in layers if layer >= half and res[layer] == max(res)]
        if finest:
            return finest
        return [layer for layer in layers if res[layer] == max(res[x] for x in layers)]
    sizes = {layer: keys[(layer, keys.steps(layer)[-1])].shape[1] for layer in layers}
    return [layer for layer in layers if sizes[layer] == max(sizes.values())]


def count_from_attention(
    keys: KeyCache,
    row: int = 0,
    frames: int | None = None,
    start: int = 0,
    end: int | None = None,
    layers: Collection[int] | None = None,
    step: int | None = None,
    sharpness: float = KEY_SHARPNESS,
    prominence: float = PROMINENCE,
    min_period: float = MIN_PERIOD,
    min_cells: int = MIN_CELLS,
) -> RepetitionEstimate:
    """Repetitions of prompt `row` from its self-attention keys (`capture_keys`): the recipe on the mean
    similarity of the keys of `layers` at `step` (default: the last captured, the least noisy), each brought to
    full resolution. `layers` default to the decoder's layers at the finest resolution (16 and 17 of MotionCLR's
    18; chosen on validation over the last of them alone, all four full-resolution layers and the next coarser
    ones). A coarser layer joins only where the period found at the finest of the layers given spans at least
    `min_cells` of its frames."""
    finest = finest_layers(keys)
    chosen = list(finest) if layers is None else sorted(set(layers))
    mats = {layer: key_similarity(keys, layer, row, frames, step, sharpness) for layer in chosen}
    fine = [layer for layer in chosen if layer in finest] or [chosen[0]]
    source = "self-attention keys"
    first = count_from_matrix(
        np.mean([mats[x][0] for x in fine], 0), start, end, min_period, prominence, source, rows_per_frame=UPSAMPLE
    )
    usable = [x for x in chosen if x in fine or (np.isfinite(first.period) and first.period >= min_cells * mats[x][1])]
    if usable == fine:
        return replace(first, layers=tuple(fine))
    result = count_from_matrix(
        np.mean([mats[x][0] for x in usable], 0), start, end, min_period, prominence, source, rows_per_frame=UPSAMPLE
    )
    return replace(result, layers=tuple(usable))


def full_resolution_self_map(cache: AttentionCache, row: int = 0, frames: int | None = None) -> np.ndarray:
    """(T, T) mean self-attention of prompt `row` (conditional branch) over the captured layers at the full
    frame resolution, their steps and heads."""
    plan = cache.plan
    layers = cache.layers("self")
    if not layers:
        raise ValueError("the capture holds no self-attention")
    full = max(cache["self", layer, cache.steps("self", layer)[0]].shape[-1] for layer in layers)
    acc, n = None, 0
    for layer in layers:
        for step in cache.steps("self", layer):
            m = cache["self", layer, step][cache.row("self", layer, row, "cond")].float().mean(0)
            if m.shape[-1] != full:
                continue
            acc = m if acc is None else acc + m
            n += 1
    assert acc is not None
    out = (acc / n).numpy()
    T = frames if frames is not None else (plan.frames if plan is not None else out.shape[0])
    return out[:T, :T]
