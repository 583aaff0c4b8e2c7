"""The HumanML3D motion representation: skeleton constants, quaternions, 263 features -> joints.

Features of a frame (20 fps, 22 joints, y up): [0] root angular velocity about y, [1:3] root linear
velocity in x, z (root frame), [3] root height, [4:67] 21 root-relative joint positions (ric),
[67:193] 21 joint rotations in 6D, [193:259] 22 joint velocities, [259:263] foot contacts.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torch import Tensor

__all__ = [
    "FEATURE_DIM",
    "FPS",
    "JOINT_NAMES",
    "KINEMATIC_CHAINS",
    "NUM_JOINTS",
    "features_to_joints",
    "put_on_floor",
    "qinv",
    "qrot",
    "recover_from_ric",
    "recover_root",
    "smooth_joints",
]

FPS = 20
NUM_JOINTS = 22
FEATURE_DIM = 263
JOINT_NAMES = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle", "spine3",
    "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist",
)  # fmt: skip
KINEMATIC_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))


def qinv(q: Tensor) -> Tensor:
    """Inverse of unit quaternions (w, x, y, z)."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def qrot(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4), broadcasting leading dimensions."""
    qvec = q[..., 1:]
    uv = torch.linalg.cross(qvec, v, dim=-1)
    uuv = torch.linalg.cross(qvec, uv, dim=-1)
    return v + 2 * (q[..., :1] * uv + uuv)


def recover_root(features: Tensor) -> tuple[Tensor, Tensor]:
    """Root rotation quaternions (..., T, 4) and root positions (..., T, 3) integrated from the velocities."""
    rot_vel = features[..., 0]
    angle = torch.zeros_like(rot_vel)
    angle[..., 1:] = rot_vel[..., :-1]
    angle = torch.cumsum(angle, dim=-1)
    quat = torch.zeros((*features.shape[:-1], 4), dtype=features.dtype, device=features.device)
    quat[..., 0] = torch.cos(angle)
    quat[..., 2] = torch.sin(angle)
    position = torch.zeros((*features.shape[:-1], 3), dtype=features.dtype, device=features.device)
    position[..., 1:, 0] = features[..., :-1, 1]
    position[..., 1:, 2] = features[..., :-1, 2]
    position = torch.cumsum(qrot(qinv(quat), position), dim=-2)  # velocities are in the root frame
    position[..., 1] = features[..., 3]
    return quat, position


def recover_from_ric(features: Tensor, joints_num: int = NUM_JOINTS) -> Tensor:
    """(..., T, 263) features -> (..., T, joints_num, 3) joint positions (HumanML3D's `recover_from_ric`)."""
    quat, root = recover_root(features)
    local = features[..., 4 : (joints_num - 1) * 3 + 4].reshape((*features.shape[:-1], joints_num - 1, 3))
    world = qrot(qinv(quat)[..., None, :].expand((*local.shape[:-1], 4)), local)
    world = world + torch.stack([root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]], dim=-1)[..., None, :]
    return torch.cat([root[..., None, :], world], dim=-2)


def put_on_floor(joints: Tensor) -> Tensor:
    """Shift (T, J, 3) joints so that the lowest point of the whole motion is at height 0."""
    floor = joints[..., 1].amin(dim=(-1, -2), keepdim=True)
    return torch.cat([joints[..., :1], joints[..., 1:2] - floor[..., None], joints[..., 2:]], dim=-1)


def smooth_joints(joints: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian filter over time of every coordinate (the original generate script's jitter removal)."""
    return gaussian_filter1d(np.asarray(joints, dtype=np.float32), sigma=sigma, axis=0, mode="nearest")


def features_to_joints(features: Tensor | np.ndarray, smooth_sigma: float | None = 1.0) -> np.ndarray:
    """Denormalised (T, 263) features -> (T, 22, 3) joints on the floor, optionally smoothed over time."""
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, Tensor) else features).float()
    if f.dim() != 2 or f.shape[-1] != FEATURE_DIM:
        raise ValueError(f"features must have shape (T, {FEATURE_DIM}), got {tuple(f.shape)}")
    joints = put_on_floor(recover_from_ric(f.cpu())).numpy()
    if smooth_sigma:
        joints = smooth_joints(joints, smooth_sigma)
    return joints
