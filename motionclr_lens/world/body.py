"""The world's body: a rig on HumanML3D's target skeleton, posed by a few intuitive parameters per frame.

The upper body is posed by rotations (spine, neck, shoulders, elbows) through forward kinematics; the
legs by where the ankles are (two-bone inverse kinematics, knees pointing forward), so a planted foot
stays exactly where it was put. Coordinates: y up, metres; yaw 0 faces +z, and the body's left is +x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion import NUM_JOINTS, TARGET_BONE_LENGTHS

__all__ = ["ANKLE_HEIGHT", "STAND_PELVIS_HEIGHT", "Pose", "neutral_pose", "render"]

LENGTH = np.concatenate([[0.0], TARGET_BONE_LENGTHS])  # LENGTH[j] = bone from PARENTS[j] to j


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


# Rest directions of the bones posed by rotation (a relaxed standing pose, arms hanging).
REST = {
    1: _unit([0.9, -0.42, 0.0]),  # l_hip from pelvis
    2: _unit([-0.9, -0.42, 0.0]),
    3: _unit([0.0, 1.0, -0.08]),  # spine1
    6: _unit([0.0, 1.0, 0.04]),  # spine2
    9: _unit([0.0, 1.0, 0.08]),  # spine3
    12: _unit([0.0, 1.0, 0.03]),  # neck
    15: _unit([0.0, 0.85, 0.5]),  # head
    13: _unit([0.55, 0.8, -0.12]),  # l_collar from spine3
    14: _unit([-0.55, 0.8, -0.12]),
    16: _unit([1.0, -0.18, -0.08]),  # l_shoulder from l_collar
    17: _unit([-1.0, -0.18, -0.08]),
    18: _unit([0.1, -1.0, 0.0]),  # l_elbow from l_shoulder: the upper arm
    19: _unit([-0.1, -1.0, 0.0]),
    20: _unit([0.0, -1.0, 0.08]),  # l_wrist from l_elbow: the forearm
    21: _unit([0.0, -1.0, 0.08]),
}
THIGH = (LENGTH[4], LENGTH[5])  # left, right
SHIN = (LENGTH[7], LENGTH[8])
FOOT = (LENGTH[10], LENGTH[11])
ANKLE_HEIGHT = 0.09
TOE_HEIGHT = 0.02
HIP_OFFSET = (REST[1] * LENGTH[1], REST[2] * LENGTH[2])
FOOT_LATERAL = 0.095  # neutral stance: ankles this far left/right of the pelvis
LEG_REACH = 0.993  # fraction of thigh + shin a standing leg spans (knees never lock)
STAND_PELVIS_HEIGHT = float(
    ANKLE_HEIGHT
    + np.sqrt(
        (LEG_REACH * min(t + s for t, s in zip(THIGH, SHIN, strict=True))) ** 2 - (FOOT_LATERAL - HIP_OFFSET[0][0]) ** 2
    )
    - HIP_OFFSET[0][1]
)


def _rotation(a: np.ndarray, i: int, j: int) -> np.ndarray:
    """(..., 3, 3) rotations by angles `a` in the plane of axes i -> j."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros((*a.shape, 3, 3))
    k = 3 - i - j
    R[..., k, k] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def rot_x(a: np.ndarray) -> np.ndarray:
    return _rotation(a, 1, 2)


def rot_y(a: np.ndarray) -> np.ndarray:
    return _rotation(a, 2, 0)


def rot_z(a: np.ndarray) -> np.ndarray:
    return _rotation(a, 0, 1)


@dataclass
class Pose:
    """Per-frame pose parameters of T frames (angles in radians).

    root: (T, 3) pelvis position; yaw: (T,) facing (+ turns left).
    spine: (T, 3) pitch (+ bends forward), roll (+ leans right), twist (+ turns left), spread over 3 joints.
    neck: (T,) pitch. arms: (T, 2, 4) per side (left, right): flexion (+ raises forward), abduction
    (+ raises sideways, away from the body), twist, elbow flexion. ankles: (T, 2, 3) world positions.
    foot_yaw: (T, 2) world yaw of each foot; foot_pitch: (T, 2) added to the flat-foot angle (+ toes up).
    """

    root: np.ndarray
    yaw: np.ndarray
    spine: np.ndarray
    neck: np.ndarray
    arms: np.ndarray
    ankles: np.ndarray
    foot_yaw: np.ndarray
    foot_pitch: np.ndarray

    def __len__(self) -> int:
        return len(self.yaw)

    def copy(self) -> Pose:
        return Pose(**{k: np.array(v, copy=True) for k, v in vars(self).items()})

    def concat(self, other: Pose) -> Pose:
        fields = ("root", "yaw", "spine", "neck", "arms", "ankles", "foot_yaw", "foot_pitch")
        return Pose(**{f: np.concatenate([getattr(self, f), getattr(other, f)]) for f in fields})

    def moved(self, offset_xz: np.ndarray, yaw: float) -> Pose:
        """This pose turned by `yaw` about the origin, then shifted by `offset_xz` on the floor."""
        out = self.copy()
        R = rot_y(np.array(yaw))
        shift = np.array([offset_xz[0], 0.0, offset_xz[1]])
        out.root = self.root @ R.T + shift
        out.ankles = self.ankles @ R.T + shift
        out.yaw = self.yaw + yaw
        out.foot_yaw = self.foot_yaw + yaw
        return out


def neutral_feet(
    root_xz: np.ndarray, yaw: np.ndarray, lateral: float = FOOT_LATERAL, forward: float = 0.0
) -> np.ndarray:
    """(T, 2, 3) ankle positions of a standing stance under a root path (T, 2) with facing yaw (T,)."""
    T = len(yaw)
    local = np.array([[lateral, ANKLE_HEIGHT, forward], [-lateral, ANKLE_HEIGHT, forward]])
    R = rot_y(yaw)  # (T, 3, 3)
    ankles = np.einsum("tij,kj->tki", R, local)
    ankles[..., 0] += root_xz[:, None, 0]
    ankles[..., 2] += root_xz[:, None, 1]
    return ankles.reshape(T, 2, 3)


def neutral_pose(frames: int) -> Pose:
    """Standing still at the origin, facing +z, for `frames` frames."""
    yaw = np.zeros(frames)
    root = np.zeros((frames, 3))
    root[:, 1] = STAND_PELVIS_HEIGHT
    return Pose(
        root=root,
        yaw=yaw,
        spine=np.zeros((frames, 3)),
        neck=np.zeros(frames),
        arms=np.zeros((frames, 2, 4)),
        ankles=neutral_feet(root[:, [0, 2]], yaw),
        foot_yaw=np.zeros((frames, 2)),
        foot_pitch=np.zeros((frames, 2)),
    )


def _leg_ik(hip: np.ndarray, ankle: np.ndarray, forward: np.ndarray, thigh: float, shin: float) -> tuple:
    """Knee and ankle of a two-bone leg reaching from `hip` toward `ankle`, the knee bending toward `forward`."""
    d_vec = ankle - hip
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    reach = (thigh + shin) * 0.9999
    d_clamped = np.clip(d, abs(thigh - shin) + 1e-6, reach)
    u = d_vec / np.maximum(d, 1e-9)
    w = forward - (forward * u).sum(-1, keepdims=True) * u
    w = w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-9)
    a = (thigh**2 - shin**2 + d_clamped**2) / (2 * d_clamped)
    h = np.sqrt(np.maximum(thigh**2 - a**2, 0.0))
    knee = hip + a * u + h * w
    reached = hip + d_clamped * u
    return knee, reached


def render(pose: Pose) -> np.ndarray:
    """(T, 22, 3) joint positions of a pose; bone lengths are the target skeleton's in every frame."""
    T = len(pose)
    J = np.zeros((T, NUM_JOINTS, 3))
    G0 = rot_y(pose.yaw)  # (T, 3, 3) root orientation
    J[:, 0] = pose.root

    def place(child: int, parent: int, G: np.ndarray) -> None:
        J[:, child] = J[:, parent] + np.einsum("tij,j->ti", G, REST[child] * LENGTH[child])

    # Spine: the bend is spread evenly over spine1..spine3.
    pitch, roll, twist = (pose.spine[:, i] / 3 for i in range(3))
    R_spine = rot_y(twist) @ rot_x(pitch) @ rot_z(roll)
    place(3, 0, G0)
    G3 = G0 @ R_spine
    place(6, 3, G3)
    G6 = G3 @ R_spine
    place(9, 6, G6)
    G9 = G6 @ R_spine
    place(12, 9, G9)
    G12 = G9 @ rot_x(pose.neck)
    place(15, 12, G12)

    # Arms: collar -> shoulder fixed to spine3; the shoulder joint rotates the upper arm, the elbow the forearm.
    for side, (collar, shoulder, elbow, wrist, sign) in enumerate(((13, 16, 18, 20, 1.0), (14, 17, 19, 21, -1.0))):
        flex, abduct, arm_twist, bend = (pose.arms[:, side, i] for i in range(4))
        place(collar, 9, G9)
        place(shoulder, collar, G9)
        G_sh = G9 @ rot_z(sign * abduct) @ rot_x(-flex) @ rot_y(sign * arm_twist)
        place(elbow, shoulder, G_sh)
        G_el = G_sh @ rot_x(-bend)
        place(wrist, elbow, G_el)

    # Legs: hips ride on the pelvis; knees and ankles by inverse kinematics; toes from the foot angles.
    forward = G0[:, :, 2]
    for side, (hip, knee, ankle, toe) in enumerate(((1, 4, 7, 10), (2, 5, 8, 11))):
        J[:, hip] = J[:, 0] + np.einsum("tij,j->ti", G0, HIP_OFFSET[side])
        foot_fwd = rot_y(pose.foot_yaw[:, side])[:, :, 2]
        knee_dir = forward + foot_fwd
        J[:, knee], J[:, ankle] = _leg_ik(J[:, hip], pose.ankles[:, side], knee_dir, THIGH[side], SHIN[side])
        flat = np.arcsin((ANKLE_HEIGHT - TOE_HEIGHT) / FOOT[side])
        angle = flat - pose.foot_pitch[:, side]  # angle of the foot below horizontal
        local = np.stack([np.zeros(T), -np.sin(angle), np.cos(angle)], -1)
        J[:, toe] = J[:, ankle] + FOOT[side] * np.einsum("tij,tj->ti", rot_y(pose.foot_yaw[:, side]), local)
    return J
