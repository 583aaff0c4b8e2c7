"""The HumanML3D motion representation: skeleton constants, quaternions, kinematics, joints <-> 263 features.

Features of a frame (20 fps, 22 joints, y up): [0] root angular velocity about y, [1:3] root linear
velocity in x, z (root frame), [3] root height, [4:67] 21 root-relative joint positions (ric),
[67:193] 21 joint rotations in 6D, [193:259] 22 joint velocities, [259:263] foot contacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation
from torch import Tensor

from .checks import check_smooth_sigma

__all__ = [
    "CHILDREN",
    "FEATURE_DIM",
    "FPS",
    "JOINT_NAMES",
    "KINEMATIC_CHAINS",
    "NUM_JOINTS",
    "check_finite",
    "check_joints",
    "features_to_joints",
    "lock_feet",
    "minimal_rotation",
    "put_on_floor",
    "qinv",
    "qrot",
    "recover_from_ric",
    "recover_root",
    "rest_offsets",
    "smooth_joints",
    "solve_tree_rotations",
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
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
# Unit direction of each bone from its parent in the rest pose (y up, the character faces +z).
RAW_OFFSETS = np.array(
    [
        [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
        [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
        [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
    ],
    dtype=np.float32,
)  # fmt: skip
# Bone lengths (m) of HumanML3D's target skeleton (frame 0 of sample 000021), joints 1..21 from their parents.
TARGET_BONE_LENGTHS = np.array(
    [
        0.10307397, 0.10988337, 0.13156824, 0.3936232, 0.39018822, 0.14319022, 0.43243307, 0.42564335,
        0.057364736, 0.14338182, 0.14941907, 0.21936005, 0.13748677, 0.14338283, 0.10303922, 0.13161404,
        0.12298438, 0.25684, 0.26309174, 0.26601171, 0.2698764,
    ],
    dtype=np.float32,
)  # fmt: skip
FACE_JOINTS = (2, 1, 17, 16)  # r_hip, l_hip, r_shoulder, l_shoulder
LEFT_FOOT = (7, 10)
RIGHT_FOOT = (8, 11)
LOWER_LEGS = (5, 8)
FOOT_CONTACT_THRESHOLD = 0.002


Array = TypeVar("Array", Tensor, np.ndarray)


def _stack(parts: Sequence[Array], axis: int = -1) -> Array:
    return torch.stack(list(parts), dim=axis) if isinstance(parts[0], Tensor) else np.stack(parts, axis=axis)


def _cat(parts: Sequence[Array], axis: int = -1) -> Array:
    return torch.cat(list(parts), dim=axis) if isinstance(parts[0], Tensor) else np.concatenate(parts, axis=axis)


def _cross(a: Array, b: Array) -> Array:
    if isinstance(a, Tensor):
        return torch.linalg.cross(a, b, dim=-1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


# Hamilton product as one matrix product: (q outer r) flattened (..., 16) @ _QMUL (16, 4).
_QMUL_TABLE = np.zeros((4, 4, 4), dtype=np.float32)
for _i, _j, _k, _sign in (
    (0, 0, 0, 1), (1, 1, 0, -1), (2, 2, 0, -1), (3, 3, 0, -1),
    (1, 0, 1, 1), (0, 1, 1, 1), (3, 2, 1, -1), (2, 3, 1, 1),
    (2, 0, 2, 1), (3, 1, 2, 1), (0, 2, 2, 1), (1, 3, 2, -1),
    (3, 0, 3, 1), (2, 1, 3, -1), (1, 2, 3, 1), (0, 3, 3, 1),
):  # fmt: skip
    _QMUL_TABLE[_i, _j, _k] = _sign
_QMUL = _QMUL_TABLE.reshape(16, 4)


# Quaternion helpers take torch tensors (model outputs, batched, on any device) or numpy arrays (the
# joints -> features path, where numpy's lower per-call cost on small arrays matters) alike.


def qinv(q: Array) -> Array:
    """Inverse of unit quaternions (w, x, y, z)."""
    return _cat([q[..., :1], -q[..., 1:]])


def qrot(q: Array, v: Array) -> Array:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4), broadcasting leading dimensions."""
    qvec = q[..., 1:]
    uv = _cross(qvec, v)
    uuv = _cross(qvec, uv)
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
    """Gaussian filter over time of every coordinate (the original generate script's jitter removal); `sigma` in
    frames, at most `checks.MAX_SMOOTH_SIGMA`."""
    check_smooth_sigma(sigma)
    return gaussian_filter1d(np.asarray(joints, dtype=np.float32), sigma=sigma, axis=0, mode="nearest")


LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))  # hip, knee, ankle, toe of the left and the right leg


def lock_feet(
    joints: np.ndarray,
    contacts: np.ndarray,
    height: float = 0.05,
    threshold: float = 0.5,
    legs: bool = True,
    blend: int = 3,
) -> np.ndarray:
    """Hold planted toes where they are: the body's path first, then each leg.

    A toe is planted in a frame when the features mark it as in contact (`contacts` (T, 4): left ankle, left
    toe, right ankle, right toe, the features' last four channels, above `threshold`) and it is below
    `height` metres (joints on the floor, y up). HumanML3D's contact flag alone is loose (a foot moving up to
    0.9 m/s counts), the height makes it a toe on the floor.

    1. The path: between frames t and t + 1, the mean horizontal displacement of the toes planted at both
       frames is subtracted from every joint from t + 1 on, so the body moves over its planted feet.
    2. The legs (`legs=True`): when both feet are planted and slide apart, moving the body cannot hold both.
       Each run of planted frames of a foot is held at the toe's mean horizontal position over the run; the
       ankle and toe move with it, and the knee is placed by two-bone inverse kinematics (hip fixed, thigh and
       shin lengths of each frame kept, the knee bending the way it bent). The correction fades out over
       `blend` frames on either side of the run. Where the hip cannot reach, the foot goes as far toward the held
       position as the stretched leg allows, at its own height.

    Heights, the hips and everything above them are left as step 1 made them; bone lengths are kept.
    """
    joints = np.array(joints, dtype=np.float32, copy=True)
    contacts = np.asarray(contacts)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, {NUM_JOINTS}, 3), got {joints.shape}")
    if contacts.shape != (len(joints), 4):
        raise ValueError(f"contacts must have shape ({len(joints)}, 4), got {contacts.shape}")
    if blend < 0:
        raise ValueError(f"blend must be 0 or more frames, got {blend}")
    if len(joints) < 2:
        return joints
    toes = [LEFT_FOOT[1], RIGHT_FOOT[1]]
    planted = (contacts[:, [1, 3]] > threshold) & (joints[:, toes, 1] < height)  # (T, 2)
    held = planted[1:] & planted[:-1]  # (T-1, 2): planted at both ends of the step
    step = joints[1:, toes][..., [0, 2]] - joints[:-1, toes][..., [0, 2]]  # (T-1, 2, 2)
    count = held.sum(1, keepdims=True)
    slide = (step * held[..., None]).sum(1) / np.maximum(count, 1)  # (T-1, 2)
    path = -np.cumsum(slide, axis=0)
    joints[1:, :, 0] += path[:, None, 0]
    joints[1:, :, 2] += path[:, None, 1]
    if legs:
        for side, leg in enumerate(LEGS):
            _hold_foot(joints, leg, planted[:, side], blend)
    return joints


def _hold_foot(joints: np.ndarray, leg: tuple[int, int, int, int], planted: np.ndarray, blend: int) -> None:
    """Move one foot (in place) so that its toe keeps its mean horizontal position over each planted run."""
    _, knee, ankle, toe = leg
    T = len(joints)
    shift = np.zeros((T, 3), np.float32)  # horizontal correction of the foot per frame
    weight = np.zeros(T, np.float32)
    edges = np.flatnonzero(np.diff(np.r_[0, planted.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        target = joints[a:b, toe, :].mean(0)
        shift[a:b, 0] = target[0] - joints[a:b, toe, 0]
        shift[a:b, 2] = target[2] - joints[a:b, toe, 2]
        weight[a:b] = 1.0
        for k in range(1, blend + 1):
            w = 1.0 - k / (blend + 1)
            for t, source in ((a - k, a), (b - 1 + k, b - 1)):
                if 0 <= t < T and weight[t] < w:
                    shift[t], weight[t] = shift[source] * w, w
    moved = weight > 0
    if not moved.any():
        return
    H, K, A, F = (joints[moved, j].astype(np.float64) for j in leg)
    thigh = np.linalg.norm(K - H, axis=-1, keepdims=True)
    shin = np.linalg.norm(A - K, axis=-1, keepdims=True)
    # Where the hip cannot reach the held position, the foot goes as far toward it as the stretched leg
    # allows, at its own height: the largest fraction of the shift that keeps |ankle - hip| <= thigh + shin.
    move = shift[moved][:, [0, 2]].astype(np.float64)
    start = (A - H)[:, [0, 2]]
    room = (thigh[:, 0] + shin[:, 0] - 1e-6) ** 2 - (A - H)[:, 1] ** 2
    a2 = (move**2).sum(-1)
    b = (start * move).sum(-1)
    c = (start**2).sum(-1) - room
    root = np.sqrt(np.maximum(b**2 - a2 * c, 0.0))
    fraction = np.where(a2 > 0, np.clip((root - b) / np.maximum(a2, 1e-12), 0.0, 1.0), 0.0)
    fraction = np.where(c > 0, 0.0, fraction)  # the leg could not reach its own ankle: leave it
    reach = A - H
    reach[:, [0, 2]] += fraction[:, None] * move
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    along = reach / np.maximum(distance, 1e-9)
    distance = np.clip(distance, np.abs(thigh - shin) + 1e-6, thigh + shin - 1e-6)
    cos = np.clip((thigh**2 + distance**2 - shin**2) / (2 * thigh * distance), -1.0, 1.0)
    # The knee bends toward where it was: the original knee's direction off the hip-to-ankle line.
    bend = (K - H) - ((K - H) * along).sum(-1, keepdims=True) * along
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    forward = np.array([0.0, 0.0, 1.0]) - along[..., 2:3] * along  # a straight leg bends forward
    bend = np.where(norm > 1e-6, bend, forward)
    bend /= np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-9)
    new_ankle = H + along * distance
    joints[moved, knee] = H + thigh * (cos * along + np.sqrt(1 - cos**2) * bend)
    joints[moved, ankle] = new_ankle
    joints[moved, toe] = new_ankle + (F - A)


def check_finite(values: Tensor | np.ndarray, name: str) -> None:
    """Refuse NaN and infinities in a (T, ...) array, naming the first frames that hold them."""
    bad = ~torch.isfinite(torch.as_tensor(values)).reshape(len(values), -1).all(dim=1)
    if bad.any():
        frames = torch.nonzero(bad).flatten().tolist()
        shown = ", ".join(str(i) for i in frames[:10]) + (", ..." if len(frames) > 10 else "")
        raise ValueError(f"{name} hold NaN or Inf at {len(frames)} of {len(values)} frames: {shown}")


def features_to_joints(
    features: Tensor | np.ndarray, smooth_sigma: float | None = 1.0, foot_lock: bool = False
) -> np.ndarray:
    """Denormalised (T, 263) features -> (T, 22, 3) joints on the floor, optionally smoothed over time.

    `foot_lock` then holds the feet the features mark as planted (`lock_feet`: the body's path, then each
    leg)."""
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, Tensor) else features).float()
    if f.dim() != 2 or f.shape[-1] != FEATURE_DIM:
        raise ValueError(f"features must have shape (T, {FEATURE_DIM}), got {tuple(f.shape)}")
    check_finite(f, "features")
    check_smooth_sigma(smooth_sigma)
    joints = put_on_floor(recover_from_ric(f.cpu())).numpy()
    if smooth_sigma:
        joints = smooth_joints(joints, smooth_sigma)
    if foot_lock:  # after the smoothing, which would blur held feet into their neighbouring frames again
        joints = lock_feet(joints, f[:, -4:].cpu().numpy())
    return joints


# --- joints -> features: HumanML3D's `process_file`, step by step --------------------------------------
# Quaternion arithmetic runs in float32, as HumanML3D's numpy wrappers convert to float32 tensors;
# forward kinematics accumulates in float64, as its numpy implementation does. Matching both is what
# reproduces the official features to 1e-5.


def _f32(x: np.ndarray | Tensor) -> np.ndarray:
    return np.array(x, dtype=np.float32)


def qmul(q: Array, r: Array) -> Array:
    """Hamilton product q * r of (..., 4) quaternions (w, x, y, z)."""
    if not isinstance(q, Tensor):
        q, r = np.broadcast_arrays(q, r)
        return ((q[..., :, None] * r[..., None, :]).reshape(-1, 16) @ _QMUL).reshape(q.shape)
    q0, q1, q2, q3 = (q[..., i] for i in range(4))
    r0, r1, r2, r3 = (r[..., i] for i in range(4))
    return _stack(
        (
            r0 * q0 - r1 * q1 - r2 * q2 - r3 * q3,
            r0 * q1 + r1 * q0 - r2 * q3 + r3 * q2,
            r0 * q2 + r1 * q3 + r2 * q0 - r3 * q1,
            r0 * q3 - r1 * q2 + r2 * q1 + r3 * q0,
        )
    )


def qbetween(v0: Array, v1: Array) -> Array:
    """Unit quaternions rotating vectors v0 onto v1 (..., 3)."""
    v = _cross(v0, v1)
    w = ((v0**2).sum(-1) * (v1**2).sum(-1)) ** 0.5 + (v0 * v1).sum(-1)
    q = _cat([w[..., None], v])
    return q / ((q**2).sum(-1) ** 0.5)[..., None]


def quaternion_to_cont6d(q: Array) -> Array:
    """(..., 4) quaternions -> (..., 6) continuous 6D rotations: the first two columns of the matrix."""
    r, i, j, k = (q[..., n] for n in range(4))
    two_s = 2.0 / (q * q).sum(-1)
    col0 = _stack((1 - two_s * (j * j + k * k), two_s * (i * j + k * r), two_s * (i * k - j * r)))
    col1 = _stack((two_s * (i * j - k * r), 1 - two_s * (i * i + k * k), two_s * (j * k + i * r)))
    return _cat([col0, col1])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt((v**2).sum(axis=-1))[..., np.newaxis]


def check_joints(joints: np.ndarray, min_frames: int = 1) -> np.ndarray:
    """(T, 22, 3) joints as float64, or a ValueError naming the shape or the non-finite values."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or len(joints) < min_frames:
        raise ValueError(f"joints must have shape (T >= {min_frames}, {NUM_JOINTS}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints hold NaN or Inf values")
    return joints


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(21,) float32 lengths of the bones of one (22, 3) pose, joints 1..21 from their parents."""
    joints = np.asarray(joints)
    return np.array([np.linalg.norm(joints[i] - joints[PARENTS[i]]) for i in range(1, NUM_JOINTS)], np.float32)


def bone_offsets(lengths: np.ndarray = TARGET_BONE_LENGTHS) -> np.ndarray:
    """(22, 3) float32 rest-pose offsets of each joint from its parent."""
    return RAW_OFFSETS * np.concatenate([[0.0], np.asarray(lengths)]).astype(np.float32)[:, None]


def facing_quaternions(joints: np.ndarray, smooth_forward: bool = False) -> np.ndarray:
    """(T, 4) float32 rotations about y that turn each frame's facing direction to +z.

    HumanML3D's inverse kinematics reads FACE_JOINTS in the opposite hip order from `process_file`
    (left minus right hip, plus right minus left shoulder); the shoulders dominate, and matching the
    official data needs the same order. With `smooth_forward` the direction is Gaussian-filtered over
    time (sigma 20 frames) before the rotation is computed.
    """
    a, b, shoulder_r, shoulder_l = FACE_JOINTS
    across = (joints[:, b] - joints[:, a]) + (joints[:, shoulder_r] - joints[:, shoulder_l])
    forward = np.cross(np.array([[0, 1, 0]]), _unit(across), axis=-1)
    if smooth_forward:
        forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
    target = np.array([[0, 0, 1]]).repeat(len(forward), axis=0)
    return qbetween(_f32(_unit(forward)), _f32(target))


_CHAIN_DEPTH = max(len(c) for c in KINEMATIC_CHAINS)


def inverse_kinematics(joints: np.ndarray, smooth_forward: bool = False) -> np.ndarray:
    """(T, 22, 3) joints -> (T, 22, 4) float32 rotations: the root's facing, and each bone's rotation from
    its rest direction, relative to the root rotation accumulated along its kinematic chain.

    The five chains are walked together, one depth at a time (the same arithmetic as chain by chain).
    """
    root = facing_quaternions(joints, smooth_forward)
    # Quirk of the HumanML3D release: the first frame's root rotation is forced to identity. The official
    # features were computed so, and every bone hanging off the root or off spine3 carries it.
    root[0] = (1.0, 0.0, 0.0, 0.0)
    children = np.arange(1, NUM_JOINTS)
    parents = np.array([PARENTS[c] for c in children])
    u = _f32(np.broadcast_to(RAW_OFFSETS[children], (len(joints), len(children), 3)))
    v = _f32(_unit(joints[:, children] - joints[:, parents]))
    bone_rotation = qbetween(u, v)  # (T, 21, 4), bone c at index c - 1
    quats = np.zeros((*joints.shape[:-1], 4), dtype=np.float32)
    quats[:, 0] = root
    R = np.repeat(root[:, None], len(KINEMATIC_CHAINS), axis=1)  # one accumulated rotation per chain
    for depth in range(1, _CHAIN_DEPTH):
        active = [i for i, chain in enumerate(KINEMATIC_CHAINS) if len(chain) > depth]
        child = [KINEMATIC_CHAINS[i][depth] for i in active]
        local = qmul(qinv(R[:, active]), bone_rotation[:, [c - 1 for c in child]])
        quats[:, child] = local
        R[:, active] = qmul(R[:, active], local)
    return quats


def forward_kinematics(quats: np.ndarray, root_position: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(T, 22, 4) rotations, (T, 3) root positions, (22, 3) bone offsets -> (T, 22, 3) float64 joints.

    Each chain starts again from the root rotation, as the rotations were solved (inverse_kinematics).
    """
    T = len(quats)
    R = np.repeat(quats[:, 0:1], len(KINEMATIC_CHAINS), axis=1)
    global_rotation = np.zeros_like(quats)
    for depth in range(1, _CHAIN_DEPTH):
        active = [i for i, chain in enumerate(KINEMATIC_CHAINS) if len(chain) > depth]
        child = [KINEMATIC_CHAINS[i][depth] for i in active]
        R[:, active] = qmul(R[:, active], quats[:, child])
        global_rotation[:, child] = R[:, active]
    steps = qrot(global_rotation[:, 1:], np.broadcast_to(_f32(offsets)[1:], (T, NUM_JOINTS - 1, 3)))
    joints = np.zeros((T, NUM_JOINTS, 3))
    joints[:, 0] = root_position
    for c in range(1, NUM_JOINTS):  # parents come before children in HumanML3D's joint order
        joints[:, c] = steps[:, c - 1] + joints[:, PARENTS[c]]
    return joints


def retarget(joints: np.ndarray, target_lengths: np.ndarray = TARGET_BONE_LENGTHS) -> np.ndarray:
    """Put a motion on the target skeleton: same rotations, target bone lengths, root path scaled by the
    ratio of lower-leg lengths (HumanML3D's `uniform_skeleton`)."""
    source = bone_offsets(bone_lengths(joints[0]))
    target = bone_offsets(target_lengths)
    leg = lambda off: np.abs(off[LOWER_LEGS[0]]).max() + np.abs(off[LOWER_LEGS[1]]).max()  # noqa: E731
    scale = leg(target) / leg(source)
    quats = inverse_kinematics(joints)
    return forward_kinematics(quats, joints[:, 0] * scale, target)


def foot_contacts(joints: np.ndarray, threshold: float = FOOT_CONTACT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(T-1, 2) left and right contacts: the squared per-frame displacement of ankle and toe below threshold."""
    left = ((joints[1:, list(LEFT_FOOT)] - joints[:-1, list(LEFT_FOOT)]) ** 2).sum(-1) < threshold
    right = ((joints[1:, list(RIGHT_FOOT)] - joints[:-1, list(RIGHT_FOOT)]) ** 2).sum(-1) < threshold
    return left.astype(np.float64), right.astype(np.float64)


def canonicalize(
    joints: np.ndarray, target_lengths: np.ndarray = TARGET_BONE_LENGTHS, retarget_bones: bool = True
) -> np.ndarray:
    """Retarget, put on the floor, move the first root to the origin and turn it to face +z: (T, 22, 3) float32.

    `retarget_bones=False` skips retargeting, for joints already on the target skeleton.
    """
    positions = retarget(np.asarray(joints), target_lengths) if retarget_bones else np.array(joints, dtype=np.float64)
    positions[:, :, 1] -= positions.min(axis=0).min(axis=0)[1]
    first = positions[0]
    positions = positions - first[0] * np.array([1, 0, 1])
    r_hip, l_hip, shoulder_r, shoulder_l = FACE_JOINTS
    across = (first[r_hip] - first[l_hip]) + (first[shoulder_r] - first[shoulder_l])
    forward = _unit(np.cross(np.array([[0, 1, 0]]), _unit(across), axis=-1))
    turn = qbetween(_f32(forward), _f32(np.array([[0, 0, 1]])))
    return qrot(np.broadcast_to(turn, (*positions.shape[:-1], 4)), _f32(positions))


def canonical_joints_to_features(
    positions: np.ndarray, feet_threshold: float = FOOT_CONTACT_THRESHOLD, continuous_heading: bool = False
) -> np.ndarray:
    """(T, 22, 3) canonical joints (on the target skeleton, facing +z at the start) -> (T-1, 263) features.

    HumanML3D reads the root's angular velocity from the y part of the relative quaternion of successive
    headings, each solved on its own; where the heading passes through 180 degrees the two quaternions
    take opposite signs and that frame's velocity comes out with the wrong sign, so the decoded motion
    turns the wrong way from there on. `continuous_heading=True` keeps successive quaternions on the same
    side first (the procedural world does); the default reproduces HumanML3D, glitch included.
    """
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3) or len(positions) < 2:
        raise ValueError(f"joints must have shape (T >= 2, {NUM_JOINTS}, 3), got {positions.shape}")
    feet_l, feet_r = foot_contacts(positions, feet_threshold)
    quats = inverse_kinematics(positions, smooth_forward=True)
    cont6d = quaternion_to_cont6d(quats)
    r_rot = quats[:, 0]
    if continuous_heading:
        flips = np.cumsum((r_rot[1:] * r_rot[:-1]).sum(-1) < 0) % 2
        r_rot = np.concatenate([r_rot[:1], r_rot[1:] * (1 - 2 * flips[:, None]).astype(np.float32)])
    velocity = qrot(r_rot[1:], _f32(positions[1:, 0] - positions[:-1, 0]))
    r_velocity = qmul(r_rot[1:], qinv(r_rot[:-1]))
    local = positions.copy()
    local[..., 0] -= local[:, 0:1, 0]
    local[..., 2] -= local[:, 0:1, 2]
    local = qrot(np.broadcast_to(r_rot[:, None], (len(r_rot), NUM_JOINTS, 4)), _f32(local))
    root_data = np.concatenate([np.arcsin(r_velocity[:, 2:3]), velocity[:, [0, 2]], local[:-1, 0, 1:2]], axis=-1)
    ric = local[:-1, 1:].reshape(len(local) - 1, -1)
    rot = cont6d[:-1, 1:].reshape(len(cont6d) - 1, -1)
    joint_velocity = qrot(
        np.broadcast_to(r_rot[:-1, None], (len(r_rot) - 1, NUM_JOINTS, 4)), _f32(positions[1:] - positions[:-1])
    )
    features = np.concatenate(
        [root_data, ric, rot, joint_velocity.reshape(len(positions) - 1, -1), feet_l, feet_r], axis=-1
    )
    return features.astype(np.float32)


def joints_to_features(
    joints: np.ndarray,
    feet_threshold: float = FOOT_CONTACT_THRESHOLD,
    target_lengths: np.ndarray = TARGET_BONE_LENGTHS,
    continuous_heading: bool = False,
) -> np.ndarray:
    """(T, 22, 3) joints of any skeleton with HumanML3D's joint order -> (T-1, 263) features
    (HumanML3D's `process_file`: retarget, floor, origin, face +z, then the features).

    The raw joints are taken in float64, as HumanML3D's were; that is what matches its features to 1e-5.
    `continuous_heading` as in `canonical_joints_to_features`: the default reproduces HumanML3D, whose root
    angular velocity flips sign where the heading passes 180 degrees; True decodes such turns correctly.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or len(joints) < 2:
        raise ValueError(f"joints must have shape (T >= 2, {NUM_JOINTS}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or Inf")
    return canonical_joints_to_features(
        canonicalize(joints, target_lengths), feet_threshold, continuous_heading=continuous_heading
    )


# --- rotations that put a rest skeleton onto joint positions (BVH writing) ---------------------------------------

CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(c for c in range(NUM_JOINTS) if PARENTS[c] == j) for j in range(NUM_JOINTS)
)


def rest_offsets(joints: np.ndarray) -> np.ndarray:
    """(22, 3) bone offsets of the rest pose: HumanML3D's T-pose directions with the motion's mean bone
    lengths, except around the joints with several children (pelvis, upper spine), whose children keep the
    motion's own mean layout (hips below the pelvis, collars beside the neck), seen in the frame those
    children span (x from the right child to the left one, y up along the middle one)."""
    bones = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1).mean(0)  # (21,)
    offsets = bone_offsets(bones).astype(np.float64)
    for j, kids in enumerate(CHILDREN):
        if len(kids) < 3:
            continue
        left = next(k for k in kids if RAW_OFFSETS[k][0] > 0)
        right = next(k for k in kids if RAW_OFFSETS[k][0] < 0)
        middle = next(k for k in kids if k not in (left, right))
        x = joints[:, left] - joints[:, right]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = joints[:, middle] - joints[:, j]
        y -= np.einsum("ti,ti->t", y, x)[:, None] * x
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        frame = np.stack([x, y, np.cross(x, y)], axis=1)  # (T, 3, 3): rows are the frame's axes
        for k in kids:
            offsets[k] = np.einsum("tij,tj->ti", frame, joints[:, k] - joints[:, j]).mean(0)
    return offsets


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations taking unit vectors a[t] to b[t] by the shortest arc."""
    v = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    vx = np.zeros((len(a), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx[:, 1, 0], vx[:, 2, 0], vx[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    R = np.eye(3)[None] + vx + vx @ vx / (1 + np.clip(c, -1 + 1e-9, None))[:, None, None]
    # Opposite vectors: a half turn about any axis normal to a.
    flip = c < -1 + 1e-6
    if flip.any():
        axis = np.cross(a[flip], np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(axis, axis=1) < 1e-6
        axis[small] = np.cross(a[flip][small], np.array([0.0, 0.0, 1.0]))
        R[flip] = Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis, axis=1, keepdims=True)).as_matrix()
    return R


def solve_tree_rotations(positions: np.ndarray, parents: Sequence[int], offsets: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) global rotations of every joint of a tree (`parents[j]` < j, -1 for a root) that put the rest
    `offsets` (J, 3) onto the `positions` (T, J, 3).

    A joint with several children (pelvis, upper spine) gets the rotation that best fits all its bones (Kabsch);
    a joint with one child the shortest arc from its parent's frame, so bones do not twist; a leaf (head, hands,
    toes) keeps its parent's rotation. Exact where each joint's children keep their layout (rigid sibling bones).
    """
    T, J = positions.shape[:2]
    children = [[c for c in range(J) if parents[c] == j] for j in range(J)]
    R = np.zeros((T, J, 3, 3))
    for j in range(J):  # parents come before children
        parent = np.broadcast_to(np.eye(3), (T, 3, 3)) if parents[j] < 0 else R[:, parents[j]]
        kids = children[j]
        if not kids:
            R[:, j] = parent
        elif len(kids) == 1:
            k = kids[0]
            rest = np.einsum("tij,j->ti", parent, offsets[k])
            rest /= np.maximum(np.linalg.norm(rest, axis=1, keepdims=True), 1e-12)
            bone = positions[:, k] - positions[:, j]
            bone /= np.maximum(np.linalg.norm(bone, axis=1, keepdims=True), 1e-12)
            R[:, j] = minimal_rotation(rest, bone) @ parent
        else:
            A = offsets[kids]  # (K, 3) rest
            B = positions[:, kids] - positions[:, j : j + 1]  # (T, K, 3) posed
            H = np.einsum("ki,tkj->tij", A, B)
            U, _, Vt = np.linalg.svd(H)
            V, Ut = np.swapaxes(Vt, 1, 2), np.swapaxes(U, 1, 2)
            D = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
            D[:, 2, 2] = np.sign(np.linalg.det(V @ Ut))
            R[:, j] = V @ D @ Ut
    return R
