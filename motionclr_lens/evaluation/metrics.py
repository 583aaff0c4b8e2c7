"""The text-to-motion metrics as the original evaluation computes them (Guo et al. 2022; MotionCLR's
`utils/metrics.py` and `eval/eval_t2m.py`), on numpy embeddings, with the original's arithmetic kept: float32
distances by the expanded formula (no clamp), R-precision within each batch of texts and motions, float64
covariances, the FID's fallback for a singular product, diversity and multimodality from independent index draws,
and the 95 % interval from the population standard deviation.

Random draws take a `numpy.random.Generator`-like `rng` whose `choice(n, k, replace=False)` picks the indices (the
original uses numpy's global state: pass `np.random` itself to draw from it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import linalg

__all__ = [
    "activation_statistics",
    "diversity",
    "euclidean_distance_matrix",
    "frechet_distance",
    "interval",
    "matching_and_r_precision",
    "multimodality",
    "top_k_hits",
]


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N1, D), (N2, D) -> (N1, N2) distances, as sqrt(|a|^2 + |b|^2 - 2 a.b) in the inputs' dtype: a pair whose
    expansion rounds below zero is NaN, as in the original."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings must be (N1, D) and (N2, D) with one D, got {a.shape} and {b.shape}")
    # the original's order of sums, so that float32 roundings agree
    squared = -2 * np.dot(a, b.T) + np.sum(np.square(a), axis=1, keepdims=True) + np.sum(np.square(b), axis=1)
    with np.errstate(invalid="ignore"):
        return np.sqrt(squared)


def top_k_hits(distances: np.ndarray, k: int = 3) -> np.ndarray:
    """(N, N) text-to-motion distances, matching pairs on the diagonal -> (N, k) booleans: whether text i's own
    motion is among its j + 1 nearest (ranks by numpy's default argsort, as the original)."""
    order = np.argsort(distances, axis=1)
    own = order[:, :k] == np.arange(distances.shape[0])[:, None]
    return np.logical_or.accumulate(own, axis=1)


def matching_and_r_precision(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], k: int = 3
) -> tuple[float, np.ndarray, np.ndarray]:
    """Over batches of (text embeddings, motion embeddings), row i of each a matching pair: the matching score
    (MM-Dist: the mean distance of matching pairs), R-precision top 1..k (each text against the motions of its own
    batch), and every motion embedding stacked in batch order (the activations FID and diversity read)."""
    total: Any = 0
    hits = np.zeros(k, dtype=np.int64)
    size = 0
    motions = []
    for text, motion in batches:
        d = euclidean_distance_matrix(text, motion)
        total += d.trace()
        hits += top_k_hits(d, k).sum(axis=0)
        size += text.shape[0]
        motions.append(motion)
    if size == 0:
        raise ValueError("no batches to score")
    return float(total / size), hits / size, np.concatenate(motions, axis=0)


def activation_statistics(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (in the activations' dtype) and covariance (float64, divisor N - 1) of (N, D) embeddings."""
    return np.mean(activations, axis=0), np.cov(activations, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """The Frechet distance of two Gaussians, |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)); where the
    product's square root is not finite, eps is added to both diagonals; an imaginary part above 1e-3 on the
    diagonal of the root is an error, a smaller one is dropped."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"the two Gaussians differ in size: means {mu1.shape}, {mu2.shape}; covariances "
                         f"{sigma1.shape}, {sigma2.shape}")  # fmt: skip
    diff = mu1 - mu2
    root = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(sigma1.shape[0]) * eps
        root = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            largest = np.abs(root.imag).max()
            raise ValueError(f"the covariances' product has a square root with imaginary part {largest}")
        root = root.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root))


def diversity(activations: np.ndarray, times: int = 300, rng: Any = None) -> float:
    """The mean distance between `times` pairs of embeddings, each side drawn without replacement, independently."""
    rng = np.random.default_rng() if rng is None else rng
    n = activations.shape[0]
    if activations.ndim != 2 or n <= times:
        raise ValueError(f"diversity needs (N, D) embeddings with N > times = {times}, got {activations.shape}")
    first = rng.choice(n, times, replace=False)
    second = rng.choice(n, times, replace=False)
    return float(linalg.norm(activations[first] - activations[second], axis=1).mean())


def multimodality(activations: np.ndarray, times: int = 10, rng: Any = None) -> float:
    """(texts, motions per text, D) -> the mean distance between `times` pairs of motions of one text, the same
    pairs of indices for every text."""
    rng = np.random.default_rng() if rng is None else rng
    if activations.ndim != 3 or activations.shape[1] <= times:
        raise ValueError(
            f"multimodality needs (texts, R, D) embeddings with R > times = {times}, got {activations.shape}"
        )
    r = activations.shape[1]
    first = rng.choice(r, times, replace=False)
    second = rng.choice(r, times, replace=False)
    return float(linalg.norm(activations[:, first] - activations[:, second], axis=2).mean())


def interval(values: Any, repeats: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95 % half-width over repeated evaluations (axis 0): 1.96 x the population standard deviation over
    sqrt(repeats), as the original reports its tables."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0] if repeats is None else repeats
    return np.mean(values, axis=0), 1.96 * np.std(values, axis=0) / np.sqrt(n)
