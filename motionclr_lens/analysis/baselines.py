"""The cheapest explanations a reading of attention must beat, and the intervals every comparison is stated with.

Grounding: `word_order_prior` knows nothing but the caption (the k-th of n action phrases covers the k-th n-th of
the clip, or each word sits at its place in the sentence); `root_speed_curve` and `random_curve` (in
`grounding`) know the motion or nothing. Counting: `count_from_features` (in `counting`) is the model-free
recurrence of the motion's own features; `pelvis_peaks` counts rises of the pelvis. `bootstrap_interval` and
`bootstrap_difference` give the 95 % intervals over motions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.signal import find_peaks

__all__ = [
    "PRIOR_KINDS",
    "bootstrap_difference",
    "bootstrap_interval",
    "pelvis_peaks",
    "phrase_order",
    "word_order_prior",
]

PRIOR_KINDS = ("phrase", "token")


def phrase_order(word_groups: Sequence[int | None]) -> list[int]:
    """The groups (action phrases) of a caption in the order the text names them: by each group's first word."""
    order: list[int] = []
    for g in word_groups:
        if g is not None and g not in order:
            order.append(g)
    return order


def word_order_prior(word_groups: Sequence[int | None], frames: int, by: str = "phrase") -> np.ndarray:
    """(words, frames) curves from word order alone, for the words of a caption.

    `word_groups[i]` names the action phrase word i belongs to (None for function words; any labels: only which
    words go together is read, never when they happen). `by="phrase"`: the k-th of n phrases in text order covers
    frames [k T / n, (k + 1) T / n), a box (above 90 % of its peak throughout) peaking at its middle.
    `by="token"`: each word covers the stretch of T / n frames centred at its relative place in the sentence.
    Function words get flat curves.
    """
    if by not in PRIOR_KINDS:
        raise ValueError(f"by must be one of {list(PRIOR_KINDS)}, got {by!r}")
    if not isinstance(frames, int | np.integer) or frames < 1:
        raise ValueError(f"frames must be a positive int, got {frames!r}")
    order = phrase_order(word_groups)
    n = max(len(order), 1)
    t = np.arange(frames) + 0.5
    curves = np.full((len(word_groups), frames), 1.0 / frames)
    for i, g in enumerate(word_groups):
        if g is None:
            continue
        if by == "phrase":
            k = order.index(g)
            centre, half = (k + 0.5) * frames / n, 0.5 * frames / n
        else:
            centre, half = (i + 0.5) / len(word_groups) * frames, 0.5 * frames / n
        inside = np.abs(t - centre) <= half
        if not inside.any():
            inside[int(np.clip(centre, 0, frames - 1))] = True
        # a box above 90 % of its maximum everywhere (any activation threshold up to 0.9 takes the whole stretch),
        # highest at its middle so that its peak (pointing) is the middle
        curves[i] = inside * (1.0 - 0.1 * np.abs(t - centre) / max(half, 1e-9))
    return curves


def pelvis_peaks(joints: np.ndarray, min_prominence: float = 0.03, relative: float = 0.3) -> int:
    """Rises of the pelvis above its surroundings: a count of repetitions that knows only the joints' height."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3 or len(joints) < 3:
        raise ValueError(f"joints must have shape (T >= 3, J, 3), got {joints.shape}")
    height = joints[:, 0, 1]
    return len(find_peaks(height, prominence=max(min_prominence, relative * float(height.max() - height.min())))[0])


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(statistic, low, high): the statistic of `values` and its percentile bootstrap interval at `level`."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {v.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(v[rng.integers(0, len(v), len(v))]) for _ in range(resamples)])
    tail = (1 - level) / 2
    return float(statistic(v)), float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def bootstrap_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean of a - b, low, high) for paired values (the same motions scored two ways), resampling the pairs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values must have one shape, got {a.shape} and {b.shape}")
    return bootstrap_interval(a - b, np.mean, resamples, level, seed)
