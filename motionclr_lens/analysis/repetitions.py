"""Counting the repetitions of an action in a joint motion, from the joints alone.

Each countable action has a one-dimensional signal whose peaks are its repetitions (the pelvis rises at
every jump, the wrists meet at every clap, ...); a repetition is a peak that stands out of the signal by
a prominence fixed per action. The counts are checked against the motion world's ground truth
(`tests/test_recognition.py`), and serve as the joint-based measure of generated motion and the joint
baseline of attention-based counting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from ..motion import NUM_JOINTS
from .descriptors import heading, local_joints

__all__ = ["COUNTABLE", "RepetitionCount", "count_repetitions", "repetition_signal"]

PELVIS, L_ANKLE, R_ANKLE, HEAD, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 0, 7, 8, 15, 18, 19, 20, 21
L_SHOULDER, R_SHOULDER = 16, 17


def _flight(j: np.ndarray) -> np.ndarray:
    # the lower ankle: both feet leave the floor only in the air
    return np.minimum(j[:, L_ANKLE, 1], j[:, R_ANKLE, 1])


def _pelvis_depth(j: np.ndarray) -> np.ndarray:
    return -j[:, PELVIS, 1]


def _kick(j: np.ndarray) -> np.ndarray:
    return np.maximum(j[:, L_ANKLE, 1], j[:, R_ANKLE, 1])


def _clap(j: np.ndarray) -> np.ndarray:
    return -np.linalg.norm(j[:, L_WRIST] - j[:, R_WRIST], axis=-1)


def _punch(j: np.ndarray) -> np.ndarray:
    local = local_joints(j)
    return np.maximum(local[:, L_WRIST, 2] - local[:, L_SHOULDER, 2], local[:, R_WRIST, 2] - local[:, R_SHOULDER, 2])


def _raise_arms(j: np.ndarray) -> np.ndarray:
    return np.maximum(j[:, L_WRIST, 1], j[:, R_WRIST, 1]) - j[:, PELVIS, 1]


def _wave(j: np.ndarray) -> np.ndarray:
    # the raised upper arm rocks in the frontal plane: its angle from hanging straight down, in radians
    local = local_joints(j)
    side = int(np.argmax([local[:, L_WRIST, 1].mean(), local[:, R_WRIST, 1].mean()]))
    elbow, shoulder, outward = (L_ELBOW, L_SHOULDER, 1.0) if side == 0 else (R_ELBOW, R_SHOULDER, -1.0)
    upper = local[:, elbow] - local[:, shoulder]
    return np.arctan2(outward * upper[:, 0], -upper[:, 1])


def _arm_circles(j: np.ndarray) -> np.ndarray:
    local = local_joints(j)
    return 0.5 * (local[:, L_WRIST, 1] + local[:, R_WRIST, 1])


def _bow(j: np.ndarray) -> np.ndarray:
    local = local_joints(j)
    return local[:, HEAD, 2] - j[:, HEAD, 1]


def _side_steps(j: np.ndarray) -> np.ndarray:
    # the feet part at every step out and close at every step in
    return np.linalg.norm(j[:, L_ANKLE, [0, 2]] - j[:, R_ANKLE, [0, 2]], axis=-1)


@dataclass(frozen=True)
class _Counter:
    signal: Callable[[np.ndarray], np.ndarray]
    prominence: float  # absolute, in the signal's units
    relative: float  # and at least this fraction of the signal's range
    distance: int = 4  # frames between repetitions at least
    of_best: float = 0.0  # and at least this fraction of the most prominent peak's prominence
    window: int | None = None  # frames around a peak its prominence is measured in (None: the whole signal)


_COUNTERS: dict[str, _Counter] = {
    "jump": _Counter(_flight, 0.03, 0.3),
    "jump_forward": _Counter(_flight, 0.03, 0.3),
    "hop": _Counter(_flight, 0.03, 0.3),
    "jumping_jacks": _Counter(_raise_arms, 0.25, 0.4),
    "squat": _Counter(_pelvis_depth, 0.08, 0.4),
    "kick": _Counter(_kick, 0.12, 0.4),
    "clap": _Counter(_clap, 0.1, 0.4),
    "punch": _Counter(_punch, 0.12, 0.4),
    "raise_arms": _Counter(_raise_arms, 0.25, 0.4),
    "wave": _Counter(_wave, 0.1, 0.0, of_best=0.6, window=17),
    "arm_circles": _Counter(_arm_circles, 0.05, 0.35),
    "bow": _Counter(_bow, 0.1, 0.4),
    "side_steps": _Counter(_side_steps, 0.08, 0.35),
}
COUNTABLE = tuple(sorted([*_COUNTERS, "spin"]))


@dataclass(frozen=True)
class RepetitionCount:
    action: str
    count: int
    frames: list[int]  # the frame of each repetition (for spin: where each full turn completes)


def repetition_signal(joints: np.ndarray, action: str) -> np.ndarray:
    """(T,) the signal whose peaks are the repetitions of `action` (smoothed lightly)."""
    if action == "spin":
        return np.abs(heading(joints) - heading(joints)[0])
    if action not in _COUNTERS:
        raise ValueError(f"cannot count {action!r}; countable actions: {list(COUNTABLE)}")
    signal = _COUNTERS[action].signal(np.asarray(joints, dtype=np.float64))
    window = _longest_finite_run(signal)
    out = np.full(len(signal), np.nan)
    if window.stop - window.start >= 2:
        out[window] = gaussian_filter1d(signal[window], 1.0, mode="nearest")
    return out


def _longest_finite_run(signal: np.ndarray) -> slice:
    """The longest stretch of finite values (signals are undefined where their action cannot happen)."""
    finite = np.concatenate([[False], np.isfinite(signal), [False]])
    edges = np.flatnonzero(np.diff(finite.astype(np.int8)))
    if len(edges) == 0:
        return slice(0, 0)
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return slice(int(starts[k]), int(ends[k]))


def count_repetitions(joints: np.ndarray, action: str, start: int = 0, end: int | None = None) -> RepetitionCount:
    """How many times `action` repeats in frames [start, end) of a (T, 22, 3) joint motion."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, {NUM_JOINTS}, 3), got {joints.shape}")
    end = len(joints) if end is None else end
    if not 0 <= start < end <= len(joints) or end - start < 2:
        raise ValueError(f"bad frame range [{start}, {end}) for a motion of {len(joints)} frames")
    part = joints[start:end]
    signal = repetition_signal(part, action)
    if action == "spin":
        turns = int(np.floor(signal.max() / (2 * np.pi) + 0.25))
        frames = [start + int(np.argmax(signal >= 2 * np.pi * (k + 1) - 0.5)) for k in range(turns)]
        return RepetitionCount(action, turns, frames)
    counter = _COUNTERS[action]
    window = _longest_finite_run(signal)
    part_signal = signal[window]
    if len(part_signal) < 3:
        return RepetitionCount(action, 0, [])
    span = float(part_signal.max() - part_signal.min())
    prominence = max(counter.prominence, counter.relative * span)
    peaks, props = find_peaks(part_signal, prominence=prominence, distance=counter.distance, wlen=counter.window)
    if counter.of_best and len(peaks):
        peaks = peaks[props["prominences"] >= counter.of_best * props["prominences"].max()]
    frames = [start + window.start + int(p) for p in peaks]
    return RepetitionCount(action, len(frames), frames)
