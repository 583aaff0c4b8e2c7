"""Physical plausibility of joint motions: foot skating, floor penetration, jerk, bone-length drift.

Joints are (T, 22, 3) in metres, y up, the floor at y = 0 (as `recover_from_ric` gives them, before any
re-flooring), at `fps` frames per second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .motion import PARENTS

__all__ = ["PlausibilityReport", "bone_length_drift", "floor_penetration", "foot_skating", "jerk", "plausibility"]

TOES = (10, 11)
CONTACT_HEIGHT = 0.05  # a toe below 5 cm is taken to be on the floor
SKATE_SPEED = 0.05  # a foot on the floor moving faster than 5 cm/s skates


def foot_skating(joints: np.ndarray, fps: float = 20.0) -> tuple[float, float]:
    """(mean horizontal speed in m/s of toes on the floor, fraction of floor contacts that skate)."""
    toes = joints[:, list(TOES)]
    speed = np.linalg.norm(np.diff(toes[..., [0, 2]], axis=0), axis=-1) * fps  # (T-1, 2)
    contact = (toes[1:, :, 1] < CONTACT_HEIGHT) & (toes[:-1, :, 1] < CONTACT_HEIGHT)
    if not contact.any():
        return 0.0, 0.0
    return float(speed[contact].mean()), float((speed[contact] > SKATE_SPEED).mean())


def floor_penetration(joints: np.ndarray) -> tuple[float, float]:
    """(mean over frames, max) of how far the lowest joint is below the floor, in metres."""
    depth = np.maximum(-joints[..., 1].min(axis=1), 0.0)
    return float(depth.mean()), float(depth.max())


def jerk(joints: np.ndarray, fps: float = 20.0) -> float:
    """Mean magnitude of the third time derivative of joint positions, m/s^3."""
    if len(joints) < 4:
        return 0.0
    return float(np.linalg.norm(np.diff(joints, n=3, axis=0), axis=-1).mean() * fps**3)


def bone_length_drift(joints: np.ndarray) -> float:
    """Mean over bones of the std of the bone's length over time, relative to its mean length."""
    bones = np.stack([np.linalg.norm(joints[:, j] - joints[:, PARENTS[j]], axis=-1) for j in range(1, len(PARENTS))])
    return float((bones.std(axis=1) / np.maximum(bones.mean(axis=1), 1e-9)).mean())


@dataclass(frozen=True)
class PlausibilityReport:
    skating_speed: float
    skating_ratio: float
    penetration_mean: float
    penetration_max: float
    jerk: float
    bone_drift: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def plausibility(motions: list[np.ndarray], fps: float = 20.0) -> PlausibilityReport:
    """All measures, averaged over motions (the max penetration is the max over motions)."""
    if not motions:
        raise ValueError("no motions to measure")
    skate = np.array([foot_skating(m, fps) for m in motions])
    pen = np.array([floor_penetration(m) for m in motions])
    return PlausibilityReport(
        skating_speed=float(skate[:, 0].mean()),
        skating_ratio=float(skate[:, 1].mean()),
        penetration_mean=float(pen[:, 0].mean()),
        penetration_max=float(pen[:, 1].max()),
        jerk=float(np.mean([jerk(m, fps) for m in motions])),
        bone_drift=float(np.mean([bone_length_drift(m) for m in motions])),
    )
