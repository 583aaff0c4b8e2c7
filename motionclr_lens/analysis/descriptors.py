"""Per-frame descriptors of a joint motion that do not depend on where it happens or which way it faces."""

from __future__ import annotations

import numpy as np

from ..motion import FACE_JOINTS, NUM_JOINTS

__all__ = ["DESCRIPTOR_DIM", "heading", "local_joints", "motion_descriptor", "to_heading_frame"]

DESCRIPTOR_DIM = 2 * NUM_JOINTS * 3 + 1


def _check(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or len(joints) < 2:
        raise ValueError(f"joints must have shape (T >= 2, {NUM_JOINTS}, 3), got {joints.shape}")
    return joints


def heading(joints: np.ndarray) -> np.ndarray:
    """(T,) unwrapped facing angle in radians about +y (0 faces +z, + turns left), from hips and shoulders."""
    joints = _check(joints)
    r_hip, l_hip, r_shoulder, l_shoulder = FACE_JOINTS
    across = (joints[:, r_hip] - joints[:, l_hip]) + (joints[:, r_shoulder] - joints[:, l_shoulder])
    # forward = up x across, on the floor
    forward_x, forward_z = across[:, 2], -across[:, 0]
    return np.unwrap(np.arctan2(forward_x, forward_z))


def to_heading_frame(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate (T, ..., 3) vectors by -yaw about +y, so that the body faces +z in every frame."""
    c, s = np.cos(yaw), np.sin(yaw)
    shape = (len(yaw),) + (1,) * (vectors.ndim - 2)
    c, s = c.reshape(shape), s.reshape(shape)
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.stack([c * x - s * z, y, s * x + c * z], axis=-1)


def local_joints(joints: np.ndarray, yaw: np.ndarray | None = None) -> np.ndarray:
    """(T, 22, 3) joints relative to the pelvis on the floor, turned into the body's heading frame."""
    joints = _check(joints)
    yaw = heading(joints) if yaw is None else yaw
    centred = joints.copy()
    centred[..., [0, 2]] -= joints[:, :1, [0, 2]]
    return to_heading_frame(centred, yaw)


def motion_descriptor(joints: np.ndarray, fps: float = 20.0) -> np.ndarray:
    """(T, DESCRIPTOR_DIM) float32: joints relative to the pelvis on the floor, in the body's heading frame
    (66), joint velocities in that frame in m/s (66), and the turning rate in rad/s (1)."""
    joints = _check(joints)
    yaw = heading(joints)
    local = local_joints(joints, yaw)
    velocity = np.diff(joints, axis=0) * fps
    velocity = to_heading_frame(velocity, yaw[:-1])
    velocity = np.concatenate([velocity[:1], velocity])
    turn = np.gradient(yaw) * fps
    T = len(joints)
    return np.concatenate([local.reshape(T, -1), velocity.reshape(T, -1), turn[:, None]], axis=1).astype(np.float32)
