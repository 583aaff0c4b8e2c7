"""The world's actions: each draws its own variation and returns a posed clip with its ground truth.

Every clip starts and ends standing still at the origin of its own frame (facing +z), or seated for the
sit/stand pair, so clips chain smoothly. Locomotion is planned footstep by footstep: a foot in stance
never moves, a swinging foot travels on an arc to its next footstep, and the pelvis is kept low enough
for every planted leg to reach its foot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.ndimage import gaussian_filter1d, minimum_filter1d

from .body import (
    ANKLE_HEIGHT,
    FOOT_LATERAL,
    HIP_OFFSET,
    LEG_REACH,
    SHIN,
    STAND_PELVIS_HEIGHT,
    THIGH,
    Pose,
    neutral_pose,
    render,
    rot_x,
    rot_y,
)

__all__ = ["ACTIONS", "ActionSpec", "Clip"]

FPS = 20
DEG = np.pi / 180


@dataclass
class Clip:
    """One action, posed in its own frame: `pose`, the frame of each repetition, and its attributes."""

    kind: str
    pose: Pose
    attrs: dict
    reps: list[int] = field(default_factory=list)
    start_state: str = "stand"
    end_state: str = "stand"

    @property
    def frames(self) -> int:
        return len(self.pose)


class Maker(Protocol):
    """Makes a clip of an action within `budget` frames, or None if it cannot fit.

    `target` asks for a clip of about that many frames (locomotion takes as many steps, a counted action as
    many repetitions, a hold lasts as long as fits it); `variety` draws the wider styles of the extended world
    (deep squats, travelling and fast hops, large and small arm circles, kicks with a lean). With neither,
    a maker draws exactly what the base world draws.
    """

    def __call__(
        self, rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
    ) -> Clip | None: ...


@dataclass(frozen=True)
class ActionSpec:
    """An action of the world: how to make a clip of it within a frame budget, and its start/end states."""

    name: str
    make: Maker
    countable: bool
    start_state: str = "stand"
    end_state: str = "stand"


# --- time helpers (times in frames) ----------------------------------------------------------------------


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, smooth in between."""
    return smoothstep((t - t0) / max(t1 - t0, 1e-6))


def bump(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 outside [t0, t1], a smooth hump (sin^2) of height 1 at the middle."""
    s = np.clip((t - t0) / max(t1 - t0, 1e-6), 0.0, 1.0)
    return np.sin(np.pi * s) ** 2


def plateau(t: np.ndarray, t0: float, t1: float, t2: float, t3: float) -> np.ndarray:
    """Rises over [t0, t1], holds 1, falls over [t2, t3]."""
    return ramp(t, t0, t1) * (1 - ramp(t, t2, t3))


def tempo(rng: np.random.Generator) -> float:
    """A speed factor: > 1 is faster. Extremes are named in captions ("slowly", "quickly")."""
    return float(np.exp(rng.normal(0.0, 0.22)))


def manner(speed: float) -> str | None:
    return "slowly" if speed < 0.8 else "quickly" if speed > 1.25 else None


def count_choice(rng: np.random.Generator, low: int = 1, high: int = 5) -> int:
    return int(rng.integers(low, high + 1))


def count_for(target: int | None, n: int, period: float, overhead: float, high: int = 6, low: int = 1) -> int:
    """The drawn count `n`, or, asked for `target` frames, the count whose clip of `overhead` frames plus
    `period` per repetition comes closest to it."""
    if target is None:
        return n
    return int(np.clip(round((target - overhead) / period), low, high))


def _standing(T: int) -> tuple[Pose, np.ndarray]:
    pose = neutral_pose(T)
    return pose, np.arange(T, dtype=np.float64)


def _limit_pelvis(pose: Pose, stance: np.ndarray, margin: float = 1.0) -> None:
    """Lower the pelvis where a planted leg could not reach its ankle; smooth so it never overshoots.

    stance: (T, 2) bool, the feet that must be reached exactly.
    """
    T = len(pose)
    allowed = np.full(T, np.inf)
    G = rot_y(pose.yaw)
    for side in range(2):
        hip_xyz = pose.root + np.einsum("tij,j->ti", G, HIP_OFFSET[side])
        d_xz = np.linalg.norm(hip_xyz[:, [0, 2]] - pose.ankles[:, side, [0, 2]], axis=-1)
        reach = LEG_REACH * margin * (THIGH[side] + SHIN[side])
        top = pose.ankles[:, side, 1] + np.sqrt(np.maximum(reach**2 - d_xz**2, 0.0)) - HIP_OFFSET[side][1]
        allowed = np.where(stance[:, side], np.minimum(allowed, top), allowed)
    target = np.minimum(pose.root[:, 1], allowed)
    if np.all(target >= pose.root[:, 1]):
        return
    sigma = 1.5
    smooth = gaussian_filter1d(minimum_filter1d(target, size=7, mode="nearest"), sigma, mode="nearest")
    pose.root[:, 1] = np.minimum(smooth, target)


# --- stepping: locomotion, side steps, turning in place ------------------------------------------------


@dataclass
class StepPlan:
    """Which foot steps when. `u` are path parameters of the footsteps, per foot, in order."""

    swing_start: list[float]
    swing_frames: float
    foot: list[int]
    targets: list[float]


def _path_fn(kind: str, sign: float, curvature: float) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Path parameter u -> (xz (N, 2), yaw (N,)) for each locomotion pattern."""

    def straight(direction: np.ndarray) -> Callable:
        return lambda u: (np.outer(u, direction), np.zeros_like(u))

    if kind == "forward":
        return straight(np.array([0.0, 1.0]))
    if kind == "backward":
        return straight(np.array([0.0, -1.0]))
    if kind == "sideways":
        return straight(np.array([sign, 0.0]))
    if kind == "turn_in_place":
        return lambda u: (np.zeros((len(u), 2)), sign * u)
    if kind == "arc":
        k = sign * curvature

        def arc(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            yaw = k * u
            # integral of (sin(yaw), cos(yaw)) du
            x = (1 - np.cos(yaw)) / k
            z = np.sin(yaw) / k
            return np.stack([x, z], -1), yaw

        return arc
    raise ValueError(kind)


def _stepping_pose(
    T: int,
    plan: StepPlan,
    path: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    lateral: float,
    lift: float,
    smooth_root: float,
) -> tuple[Pose, np.ndarray, np.ndarray]:
    """Pose the feet along a step plan; the root follows the mean of the feet. Returns pose, stance, u_feet."""
    t = np.arange(T, dtype=np.float64)
    u_feet = np.zeros((T, 2))
    lift_feet = np.zeros((T, 2))
    stance = np.ones((T, 2), dtype=bool)
    current = [0.0, 0.0]
    for start, foot, target in zip(plan.swing_start, plan.foot, plan.targets, strict=True):
        s = np.clip((t - start) / plan.swing_frames, 0.0, 1.0)
        moving = (t >= start) & (t <= start + plan.swing_frames)
        after = t > start + plan.swing_frames
        u_feet[:, foot] = np.where(moving, current[foot] + (target - current[foot]) * smoothstep(s), u_feet[:, foot])
        u_feet[:, foot] = np.where(after, target, u_feet[:, foot])
        inner = moving & (s > 0) & (s < 1)
        lift_feet[:, foot] = np.where(inner, lift * np.sin(np.pi * s), lift_feet[:, foot])
        stance[inner, foot] = False
        current[foot] = target
    xz_l, yaw_l = path(u_feet[:, 0])
    xz_r, yaw_r = path(u_feet[:, 1])
    u_root = gaussian_filter1d(u_feet.mean(1), smooth_root, mode="nearest") if smooth_root > 0 else u_feet.mean(1)
    root_xz, yaw = path(u_root)
    pose = neutral_pose(T)
    pose.root[:, 0], pose.root[:, 2] = root_xz[:, 0], root_xz[:, 1]
    pose.yaw = yaw
    for side, (xz, fyaw) in enumerate(((xz_l, yaw_l), (xz_r, yaw_r))):
        offset = np.array([lateral if side == 0 else -lateral, 0.0, 0.0])
        world = np.einsum("tij,j->ti", rot_y(fyaw), offset)
        pose.ankles[:, side, 0] = xz[:, 0] + world[:, 0]
        pose.ankles[:, side, 2] = xz[:, 1] + world[:, 2]
        pose.ankles[:, side, 1] = ANKLE_HEIGHT + lift_feet[:, side]
        pose.foot_yaw[:, side] = fyaw
        pose.foot_pitch[:, side] = 0.35 * lift_feet[:, side] / max(lift, 1e-6) * np.sign(lift)
    return pose, stance, u_feet


def _alternating_plan(n_steps: int, step_len: float, period: float, swing: float, lead: float, first: int) -> StepPlan:
    """Walking footsteps: the first step is one length ahead, each next one passes the other foot, the last
    brings the trailing foot alongside."""
    starts, feet, targets = [], [], []
    for k in range(n_steps):
        starts.append(lead + k * period)
        feet.append(first if k % 2 == 0 else 1 - first)
        targets.append(step_len * (k + 1) if k < n_steps - 1 else step_len * (n_steps - 1))
    return StepPlan(starts, swing, feet, targets)


def _together_plan(n_pairs: int, step_len: float, period: float, swing: float, lead: float, first: int) -> StepPlan:
    """Step-together: the leading foot steps out, the trailing foot closes up; `n_pairs` times."""
    starts, feet, targets = [], [], []
    for k in range(n_pairs):
        for j, foot in enumerate((first, 1 - first)):
            starts.append(lead + (2 * k + j) * period)
            feet.append(foot)
            targets.append(step_len * (k + 1))
    return StepPlan(starts, swing, feet, targets)


GAITS = {
    # frames per step, swing as a fraction of the step period, step length, foot lift, pelvis drop, lean,
    # arm swing, elbow bend
    "walk": dict(period=11.0, swing=0.85, step=0.34, lift=0.07, drop=0.02, lean=4 * DEG, arm=22 * DEG, elbow=15 * DEG),
    "jog": dict(period=7.5, swing=1.15, step=0.42, lift=0.11, drop=0.06, lean=9 * DEG, arm=32 * DEG, elbow=75 * DEG),
    "run": dict(period=6.0, swing=1.3, step=0.55, lift=0.16, drop=0.07, lean=14 * DEG, arm=45 * DEG, elbow=90 * DEG),
}


MIN_STEPS = {"forward": 3, "backward": 3, "sideways": 4, "turning": 4, "circle": 6}


def make_locomotion(gait: str, pattern: str) -> Maker:
    """walk / jog / run along a pattern: forward, backward, sideways, turning, circle."""

    def make(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
        g = GAITS[gait]
        speed = tempo(rng)
        period = g["period"] / speed
        swing = g["swing"] * period
        step = g["step"] * float(rng.uniform(0.8, 1.15)) * (0.85 + 0.15 * speed)
        lead, tail = float(rng.integers(4, 8)), float(rng.integers(4, 8))
        side = str(rng.choice(["left", "right"]))
        sign = 1.0 if side == "left" else -1.0
        attrs: dict = {"gait": gait, "pattern": pattern, "speed": speed, "manner": manner(speed)}
        curvature = 0.0
        if pattern in ("forward", "backward"):
            n_steps = int(rng.integers(4, 11))
        elif pattern == "sideways":
            n_steps = int(rng.integers(3, 7)) * 2
            step *= 0.6
            attrs["side"] = side
        elif pattern == "turning":
            n_steps = int(rng.integers(5, 11))
            curvature = float(rng.uniform(0.35, 0.8))
            attrs["side"] = side
        else:  # circle: a full turn over the whole walk
            n_steps = int(rng.integers(8, 15))
            attrs["side"] = side
            attrs["clockwise"] = sign < 0
        if pattern == "backward":
            step *= 0.7
        if target is not None:  # as many steps as fill the target
            n_steps = max(MIN_STEPS[pattern], int(round((target - lead - swing - tail) / period)) + 1)
            if pattern == "sideways":
                n_steps += n_steps % 2
        T = int(np.ceil(lead + (n_steps - 1) * period + swing + tail))
        while budget < T and n_steps > 3:
            n_steps -= 1
            T = int(np.ceil(lead + (n_steps - 1) * period + swing + tail))
        if budget < T:
            return None
        first = int(rng.integers(0, 2))
        if pattern == "sideways":
            first = 0 if sign > 0 else 1  # lead with the foot on the side of travel
            plan = _together_plan(n_steps // 2, step, period, swing, lead, first)
        else:
            plan = _alternating_plan(n_steps, step, period, swing, lead, first)
        if pattern == "circle":
            curvature = 2 * np.pi / max(plan.targets[-1], 1e-6)
        path = _path_fn({"turning": "arc", "circle": "arc"}.get(pattern, pattern), sign, curvature)
        pose, stance, u_feet = _stepping_pose(T, plan, path, FOOT_LATERAL, g["lift"], smooth_root=period * 0.45)
        t = np.arange(T, dtype=np.float64)
        moving = plateau(
            t, lead - 2, lead + period, lead + (n_steps - 1) * period, lead + (n_steps - 1) * period + swing + 2
        )
        # Pelvis bob: lowest at double support, highest mid-swing.
        pose.root[:, 1] = STAND_PELVIS_HEIGHT - moving * g["drop"]
        if pattern in ("forward", "turning", "circle", "backward"):
            diff = (u_feet[:, 1] - u_feet[:, 0]) / max(step, 1e-6)  # right foot ahead -> left arm forward
            sgn = -1.0 if pattern == "backward" else 1.0
            pose.arms[:, 0, 0] = sgn * g["arm"] * np.clip(diff, -1.5, 1.5) * moving
            pose.arms[:, 1, 0] = -sgn * g["arm"] * np.clip(diff, -1.5, 1.5) * moving
            pose.spine[:, 2] = -0.25 * sgn * g["arm"] * np.clip(diff, -1.5, 1.5) * moving
        pose.arms[:, :, 3] = (g["elbow"] * moving)[:, None] + 8 * DEG
        pose.arms[:, :, 1] = 6 * DEG
        lean = g["lean"] * (-0.5 if pattern == "backward" else 1.0)
        pose.spine[:, 0] = lean * moving
        _limit_pelvis(pose, stance)
        # A repetition of locomotion is a step: the frame each foot lands.
        reps = [int(round(s + swing)) for s in plan.swing_start]
        return Clip(f"{gait}_{pattern}", pose, attrs, reps)

    return make


def make_side_steps(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    n = count_choice(rng, 1, 5)
    speed = tempo(rng)
    period = 10.0 / speed
    swing = 0.8 * period
    lead, tail = 5.0, 5.0
    n = count_for(target, n, 2 * period, lead - period + swing + tail)
    while n > 0 and lead + (2 * n - 1) * period + swing + tail > budget:
        n -= 1
    if n == 0:
        return None
    side = str(rng.choice(["left", "right"]))
    sign = 1.0 if side == "left" else -1.0
    step = float(rng.uniform(0.2, 0.32))
    plan = _together_plan(n, step, period, swing, lead, 0 if sign > 0 else 1)
    T = int(np.ceil(lead + (2 * n - 1) * period + swing + tail))
    pose, stance, _ = _stepping_pose(T, plan, _path_fn("sideways", sign, 0.0), FOOT_LATERAL, 0.06, period * 0.4)
    pose.arms[:, :, 1] = 8 * DEG
    pose.arms[:, :, 3] = 15 * DEG
    _limit_pelvis(pose, stance)
    reps = [int(round(plan.swing_start[2 * k + 1] + swing)) for k in range(n)]
    return Clip("side_steps", pose, {"count": n, "side": side, "speed": speed, "manner": manner(speed)}, reps)


def make_turn(full_turns: bool) -> Maker:
    """turn around (half a turn) or spin (N full turns), stepping in place."""

    def make(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
        speed = tempo(rng)
        side = str(rng.choice(["left", "right"]))
        sign = 1.0 if side == "left" else -1.0
        n = count_choice(rng, 1, 3) if full_turns else 1
        angle_per_pair = (np.pi / 2) if not full_turns else (2 * np.pi / 3)
        lead, tail = 4.0, 5.0
        base_period = 6.0 if full_turns else 8.0
        if target is not None and full_turns:
            n = count_for(target, n, 6 * base_period / speed, lead + tail - 0.2 * base_period / speed, high=3)
        elif target is not None:  # half a turn takes as long as asked, within a plausible tempo
            speed = float(np.clip(3.8 * base_period / max(target - lead - tail, 1.0), 0.6, 1.6))
        total = (2 * np.pi * n) if full_turns else np.pi
        pairs = int(round(total / angle_per_pair))
        period = base_period / speed
        swing = 0.8 * period
        T = int(np.ceil(lead + (2 * pairs - 1) * period + swing + tail))
        while full_turns and budget < T and n > 1:
            n -= 1
            pairs = int(round(2 * np.pi * n / angle_per_pair))
            T = int(np.ceil(lead + (2 * pairs - 1) * period + swing + tail))
        if budget < T:
            return None
        first = 0 if sign > 0 else 1
        plan = _together_plan(pairs, angle_per_pair, period, swing, lead, first)
        pose, stance, _ = _stepping_pose(
            T, plan, _path_fn("turn_in_place", sign, 0.0), FOOT_LATERAL, 0.05, period * 0.5
        )
        pose.arms[:, :, 1] = (14 if full_turns else 6) * DEG
        pose.arms[:, :, 3] = 20 * DEG
        _limit_pelvis(pose, stance)
        yaw = np.abs(pose.yaw)
        reps = [int(np.argmax(yaw >= 2 * np.pi * (k + 1) - 0.1)) for k in range(n)] if full_turns else [T - int(tail)]
        attrs = {"side": side, "speed": speed, "manner": manner(speed)}
        if full_turns:
            attrs["count"] = n
        return Clip("spin" if full_turns else "turn_around", pose, attrs, reps)

    return make


# --- jumps and hops ----------------------------------------------------------------------------------------


def _jump_sequence(
    rng: np.random.Generator,
    n: int,
    speed: float,
    forward: float,
    height: float,
    widths: list[float] | None = None,
    lead: float = 5.0,
    tail: float = 6.0,
    timing: tuple[float, float, float, float] | None = None,
    dips: tuple[float, float] = (0.13, 0.11),
    travel: tuple[float, float] = (0.2, 0.8),
    toes_down: float = 0.25,
) -> tuple[Pose, list[int], np.ndarray, list[tuple[float, float]]]:
    """n jumps on both feet; `widths` gives each landing's stance half-width (jumping jacks).

    `timing` fixes the frames of (crouch, flight, landing, pause) of each jump (a fast series); `dips` the
    pelvis drop before takeoff and after landing; `travel` the part of the flight the feet move forward in,
    and `toes_down` how far the toes point down at the top. Returns the pose, apex frames, stance (T, 2) and
    the (takeoff, landing) frames of each flight.
    """
    if timing is None:
        prep, flight, absorb = 7.0 / speed, max(6.0, 9.0 * np.sqrt(height / 0.2)), 6.0 / speed
        gap = float(rng.uniform(0.0, 3.0)) / speed
    else:
        prep, flight, absorb, gap = timing
    per = prep + flight + absorb + gap
    T = int(np.ceil(lead + n * per + tail))
    pose, t = _standing(T)
    lateral = np.full(T, FOOT_LATERAL)
    root_z = np.zeros(T)
    feet_z = np.zeros(T)
    stance = np.ones((T, 2), dtype=bool)
    flight_lift = np.zeros(T)
    dip = np.zeros(T)
    apexes, flights = [], []
    width_now = FOOT_LATERAL
    for j in range(n):
        t0 = lead + j * per
        off, land = t0 + prep, t0 + prep + flight
        s = np.clip((t - off) / flight, 0, 1)
        in_air = (t > off) & (t < land)
        flight_lift += np.where(in_air, height * np.sin(np.pi * s), 0.0)
        stance[in_air] = False
        dip += dips[0] * bump(t, t0, off + 1) + dips[1] * bump(t, land - 1, land + absorb)
        root_z += forward * smoothstep(s) * (t > off)
        # feet travel only while well off the floor
        feet_z += forward * smoothstep((s - travel[0]) / (travel[1] - travel[0])) * (t > off)
        new_width = widths[j] if widths else FOOT_LATERAL
        lateral += (new_width - width_now) * smoothstep((s - 0.2) / 0.6) * (t > off)
        width_now = new_width
        apexes.append(int(round(off + flight / 2)))
        flights.append((off, land))
    pose.root[:, 1] = STAND_PELVIS_HEIGHT - dip + flight_lift
    pose.root[:, 2] = root_z
    pose.ankles[:, 0, 0], pose.ankles[:, 1, 0] = lateral, -lateral
    pose.ankles[:, :, 2] = feet_z[:, None]
    pose.ankles[:, :, 1] = ANKLE_HEIGHT + 0.9 * flight_lift[:, None]
    pose.foot_pitch[:, :] = (-toes_down * np.clip(flight_lift / max(height, 1e-6), 0, 1))[:, None]
    pose.spine[:, 0] = 18 * DEG * dip / 0.13
    return pose, apexes, stance, flights


def _jump_frames(speed: float, height: float) -> float:
    """The frames of one jump of `_jump_sequence` without a fixed timing, its pause taken at the mean."""
    return (7.0 + 6.0 + 1.5) / speed + max(6.0, 9.0 * np.sqrt(height / 0.2))


def make_jump(forward_jump: bool) -> Maker:
    def make(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
        n = count_choice(rng, 1, 5)
        speed = tempo(rng)
        height = float(rng.uniform(*((0.08, 0.38) if variety else (0.12, 0.3))))
        if forward_jump:
            forward = float(rng.uniform(*((0.2, 0.9) if variety else (0.3, 0.7))))
        else:  # a jump in place drifts a little in the extended world
            forward = float(rng.uniform(0.0, 0.06)) if variety else 0.0
        arms_swing = bool(rng.random() < 0.7)
        n = count_for(target, n, _jump_frames(speed, height), 11.0)
        while n > 0:
            pose, apexes, stance, flights = _jump_sequence(rng, n, speed, forward, height)
            if len(pose) <= budget:
                break
            n -= 1
        if n == 0:
            return None
        t = np.arange(len(pose), dtype=np.float64)
        if arms_swing:  # arms swing back in the crouch and forward-up in the flight
            swing = np.zeros(len(pose))
            for off, land in flights:
                swing += -0.6 * bump(t, off - 7, off) + 1.0 * bump(t, off - 1, land + 2)
            pose.arms[:, :, 0] = (50 * DEG * swing)[:, None]
        pose.arms[:, :, 3] = 20 * DEG
        pose.arms[:, :, 1] = 8 * DEG
        _limit_pelvis(pose, stance)
        kind = "jump_forward" if forward_jump else "jump"
        attrs = {"count": n, "speed": speed, "height": height, "manner": manner(speed)}
        if variety:
            attrs["travel"] = forward
        return Clip(kind, pose, attrs, apexes)

    return make


def make_jumping_jacks(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    n = count_choice(rng, 1, 5)
    speed = tempo(rng) * 1.2
    wide = float(rng.uniform(0.24, 0.32))
    n = count_for(target, n, 2 * _jump_frames(speed, 0.1), 9.0)
    while n > 0:
        widths = [wide, FOOT_LATERAL] * n
        pose, _apexes, stance, flights = _jump_sequence(rng, 2 * n, speed, 0.0, 0.1, widths, lead=4.0, tail=5.0)
        if len(pose) <= budget:
            break
        n -= 1
    if n == 0:
        return None
    t = np.arange(len(pose), dtype=np.float64)
    up = np.zeros(len(pose))
    for k in range(n):
        out_off = flights[2 * k][0]
        in_land = flights[2 * k + 1][1]
        up += plateau(t, out_off, flights[2 * k][1], flights[2 * k + 1][0], in_land)
    pose.arms[:, :, 1] = (8 * DEG + 150 * DEG * up)[:, None]
    pose.arms[:, :, 3] = (15 * DEG * up)[:, None]
    pose.spine[:, 0] *= 0.3
    _limit_pelvis(pose, stance)
    reps = [int(round((flights[2 * k][1] + flights[2 * k + 1][0]) / 2)) for k in range(n)]
    return Clip("jumping_jacks", pose, {"count": n, "speed": speed}, reps)


def make_hop(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    n = count_choice(rng, 1, 5)
    speed = tempo(rng) * 1.15
    side = str(rng.choice(["left", "right"]))
    support = 0 if side == "left" else 1
    free = 1 - support
    lead, tail = 9.0, 9.0
    forward, height, dips = 0.0, 0.09, (0.13, 0.11)
    timing: tuple[float, float, float, float] | None = None
    extra: dict = {}
    low_flight: dict = {}
    if variety:
        # a hop is low: the foot travels only around the top of the flight, level, so its toes clear the floor
        low_flight = {"travel": (0.3, 0.7), "toes_down": 0.0}
        forward = float(rng.uniform(0.0, 0.22))  # hops travel
        if rng.random() < 0.5:
            # A fast series at a real cadence: a hop every 8 to 10 frames (2 to 2.5 a second), 4 to 8 of
            # them, as high as a flight of that length goes.
            period = float(rng.uniform(8.0, 10.0))
            flight = 0.55 * period
            timing = (0.225 * period, flight, 0.225 * period, 0.0)
            height = 9.81 * (flight / FPS) ** 2 / 8
            dips = (0.04, 0.035)
            speed = 20.0 / period  # against a hop every 20 frames, about the base world's hop
            n = count_for(target, count_choice(rng, 4, 8), period, lead + tail, high=8, low=2)
            extra = {"period": period}
        else:
            n = count_for(target, n, _jump_frames(speed, height), lead + tail)
        extra["travel"] = forward
    while n > 0:
        pose, apexes, stance, _flights = _jump_sequence(
            rng, n, speed, forward, height, lead=lead, tail=tail, timing=timing, dips=dips, **low_flight
        )
        if len(pose) <= budget:
            break
        n -= 1
    if n == 0:
        return None
    T = len(pose)
    t = np.arange(T, dtype=np.float64)
    held = plateau(t, 1, lead - 1, T - tail + 1, T - 2)
    # The free foot is held up behind, the pelvis shifts over the supporting foot.
    sgn = 1.0 if support == 0 else -1.0
    pose.root[:, 0] += sgn * 0.06 * held
    pose.ankles[:, free, 1] += 0.28 * held
    pose.ankles[:, free, 2] -= 0.18 * held
    pose.foot_pitch[:, free] -= 0.6 * held
    pose.arms[:, :, 1] = (10 * DEG + 20 * DEG * held)[:, None]
    pose.arms[:, :, 3] = 25 * DEG
    stance[:, free] &= held < 1e-3
    _limit_pelvis(pose, stance)
    return Clip("hop", pose, {"count": n, "side": side, "speed": speed, **extra}, apexes)


# --- in-place actions -------------------------------------------------------------------------------------------


def _cycles(n: int, period: float, lead: float, tail: float) -> tuple[int, list[tuple[float, float]]]:
    T = int(np.ceil(lead + n * period + tail))
    return T, [(lead + k * period, lead + (k + 1) * period) for k in range(n)]


def _fit(n: int, period: float, lead: float, tail: float, budget: int) -> int:
    while n > 0 and lead + n * period + tail > budget:
        n -= 1
    return n


def make_squat(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    period = 36.0 / speed
    n = _fit(count_for(target, count_choice(rng), period, 10.0), period, 5, 5, budget)
    if n == 0:
        return None
    depth = float(rng.uniform(0.25, 0.55 if variety else 0.42))
    arms_forward = bool(rng.random() < 0.6)
    lean, back = 70 * DEG, 0.28
    if variety and depth > 0.42:  # a deep squat: the trunk leans well forward and the arms reach forward
        arms_forward, lean, back = True, float(rng.uniform(85, 110)) * DEG, 0.34
    T, cycles = _cycles(n, period, 5, 5)
    pose, t = _standing(T)
    down = np.sum([bump(t, a, b) for a, b in cycles], axis=0)
    pose.root[:, 1] -= depth * down
    pose.root[:, 2] -= back * depth * down
    pose.spine[:, 0] = lean * depth * down
    if arms_forward:
        pose.arms[:, :, 0] = 85 * DEG * down[:, None]
    pose.arms[:, :, 3] = 10 * DEG
    reps = [int(round((a + b) / 2)) for a, b in cycles]
    attrs = {"count": n, "speed": speed, "manner": manner(speed)}
    if variety:
        attrs["depth"] = depth
    return Clip("squat", pose, attrs, reps)


def make_crouch(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    down_f, hold = 14.0 / speed, float(rng.uniform(10, 30))
    if target is not None:
        hold = float(np.clip(target - 10 - 2 * down_f, 6, 80))
    T = int(np.ceil(5 + 2 * down_f + hold + 5))
    if budget < T:
        return None
    pose, t = _standing(T)
    depth = float(rng.uniform(0.4, 0.5))
    low = plateau(t, 5, 5 + down_f, 5 + down_f + hold, 5 + 2 * down_f + hold)
    pose.root[:, 1] -= depth * low
    pose.root[:, 2] -= 0.2 * depth * low
    pose.spine[:, 0] = 75 * DEG * depth * low
    pose.neck = -15 * DEG * low
    pose.arms[:, :, 0] = 45 * DEG * low[:, None]
    pose.arms[:, :, 3] = 30 * DEG * low[:, None]
    return Clip("crouch", pose, {"speed": speed}, [int(round(5 + down_f + hold / 2))])


SEAT_DROP = 0.42  # pelvis drop when seated


def _seated(low: np.ndarray, pose: Pose) -> None:
    pose.root[:, 1] -= SEAT_DROP * low
    pose.root[:, 2] -= 0.3 * low
    pose.spine[:, 0] = 30 * DEG * np.sin(np.pi * np.clip(low, 0, 1)) + 4 * DEG * low
    pose.arms[:, :, 0] = 30 * DEG * low[:, None]
    pose.arms[:, :, 3] = 50 * DEG * low[:, None]


def make_sit_down(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    speed = tempo(rng)
    move, hold = 22.0 / speed, float(rng.uniform(8, 20))
    if target is not None:
        hold = float(np.clip(target - 4 - move, 6, 60))
    T = int(np.ceil(4 + move + hold))
    if budget < T:
        return None
    pose, t = _standing(T)
    _seated(ramp(t, 4, 4 + move), pose)
    return Clip("sit_down", pose, {"speed": speed, "manner": manner(speed)}, [int(round(4 + move))], end_state="sit")


def make_stand_up(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    speed = tempo(rng)
    hold, move = float(rng.uniform(4, 12)), 22.0 / speed
    if target is not None:
        hold = float(np.clip(target - 5 - move, 4, 40))
    T = int(np.ceil(hold + move + 5))
    if budget < T:
        return None
    pose, t = _standing(T)
    _seated(1 - ramp(t, hold, hold + move), pose)
    return Clip(
        "stand_up", pose, {"speed": speed, "manner": manner(speed)}, [int(round(hold + move))], start_state="sit"
    )


def make_bow(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    period = 34.0 / speed
    n = _fit(count_for(target, count_choice(rng, 1, 3), period, 10.0, high=4), period, 5, 5, budget)
    if n == 0:
        return None
    T, cycles = _cycles(n, period, 5, 5)
    pose, t = _standing(T)
    depth = float(rng.uniform(45, 75)) * DEG
    down = np.sum([plateau(t, a, a + period * 0.35, b - period * 0.35, b) for a, b in cycles], axis=0)
    pose.spine[:, 0] = depth * down
    pose.neck = 10 * DEG * down
    pose.root[:, 2] -= 0.08 * down
    reps = [int(round((a + b) / 2)) for a, b in cycles]
    return Clip("bow", pose, {"count": n, "speed": speed, "manner": manner(speed)}, reps)


def make_stand_still(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    T = int(rng.integers(30, 70)) if target is None else target
    T = min(T, budget)
    if T < 20:
        return None
    pose, t = _standing(T)
    sway = float(rng.uniform(0.004, 0.012))
    pose.root[:, 0] += (
        sway * np.sin(2 * np.pi * t / float(rng.uniform(40, 80))) * ramp(t, 0, 10) * (1 - ramp(t, T - 10, T))
    )
    pose.arms[:, :, 3] = float(rng.uniform(5, 15)) * DEG
    return Clip("stand_still", pose, {}, [])


# --- arm actions --------------------------------------------------------------------------------------------------


def _raise(t: np.ndarray, lead: float, rise: float, T: int, tail: float) -> np.ndarray:
    return plateau(t, lead, lead + rise, T - tail - rise, T - tail)


def make_wave(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    period = 10.0 / speed
    rise, lead, tail = 9.0, 4.0, 4.0
    n = count_for(target, count_choice(rng, 1, 5), period, lead + tail + 2 * rise)
    n = _fit(n, period, lead + rise, tail + rise, budget)
    if n == 0:
        return None
    side = str(rng.choice(["left", "right"]))
    arm = 0 if side == "left" else 1
    T = int(np.ceil(lead + 2 * rise + n * period + tail))
    pose, t = _standing(T)
    up = _raise(t, lead, rise, T, tail)
    start = lead + rise
    phase = np.clip((t - start) / period, 0, n)
    osc = np.sin(2 * np.pi * phase) * ((t >= start) & (t <= start + n * period))
    # Upper arm out to the side, turned so that the bent elbow lifts the forearm upright; the hand sways
    # side to side as the shoulder rocks in the frontal plane.
    pose.arms[:, arm, 1] = (float(rng.uniform(85, 110)) * DEG + 14 * DEG * osc) * up
    pose.arms[:, arm, 0] = 10 * DEG * up
    pose.arms[:, arm, 2] = 90 * DEG * up
    pose.arms[:, arm, 3] = (float(rng.uniform(75, 100)) * DEG - 22 * DEG * osc) * up
    pose.arms[:, 1 - arm, 3] = 8 * DEG
    reps = [int(round(start + (k + 0.25) * period)) for k in range(n)]
    return Clip("wave", pose, {"count": n, "side": side, "speed": speed, "manner": manner(speed)}, reps)


CLAP_TWIST, CLAP_ABDUCTION = -75 * DEG, 15 * DEG


def _clap_bend(flex: float, gap: float = 0.035) -> float:
    """The elbow bend that brings both wrists to `gap` metres from the midline (palms meeting), with the upper
    arms raised forward by `flex` and turned in so that the forearms fold toward each other."""
    candidates = np.linspace(20, 110, 91) * DEG
    pose = neutral_pose(len(candidates))
    pose.arms[:, :, 0] = flex
    pose.arms[:, :, 1] = CLAP_ABDUCTION
    pose.arms[:, :, 2] = CLAP_TWIST
    pose.arms[:, :, 3] = candidates[:, None]
    wrist_x = render(pose)[:, 20, 0]  # left wrist; the body is symmetric
    order = np.argsort(wrist_x)
    return float(np.interp(gap, wrist_x[order], candidates[order]))


def make_clap(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    period = 10.0 / speed
    rise, lead, tail = 8.0, 4.0, 4.0
    n = _fit(
        count_for(target, count_choice(rng), period, lead + tail + 2 * rise), period, lead + rise, tail + rise, budget
    )
    if n == 0:
        return None
    T = int(np.ceil(lead + 2 * rise + n * period + tail))
    pose, t = _standing(T)
    up = _raise(t, lead, rise, T, tail)
    start = lead + rise
    phase = np.clip((t - start) / period, 0, n)
    apart = 0.5 + 0.5 * np.cos(2 * np.pi * phase)  # 1 apart, 0 together (mid-cycle)
    flex = float(rng.uniform(40, 60)) * DEG
    closed = _clap_bend(flex)
    pose.arms[:, :, 0] = (flex * up)[:, None]
    pose.arms[:, :, 1] = (CLAP_ABDUCTION * up)[:, None]
    pose.arms[:, :, 2] = (CLAP_TWIST * up)[:, None]
    pose.arms[:, :, 3] = ((closed - 40 * DEG * apart) * up)[:, None]
    reps = [int(round(start + (k + 0.5) * period)) for k in range(n)]
    return Clip("clap", pose, {"count": n, "speed": speed, "manner": manner(speed)}, reps)


def make_kick(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    """A front kick: the knee chambers, the leg extends nearly straight forward and up, then returns; in the
    extended world the trunk leans back or forward over it by a drawn angle."""
    speed = tempo(rng)
    period = 24.0 / speed
    n = _fit(count_for(target, count_choice(rng, 1, 4), period, 12.0, high=5), period, 6, 6, budget)
    if n == 0:
        return None
    side = str(rng.choice(["left", "right"]))
    leg = 0 if side == "left" else 1
    T, cycles = _cycles(n, period, 6, 6)
    pose, t = _standing(T)
    top = float(rng.uniform(60, 85)) * DEG  # how far the leg swings up from vertical
    shift = plateau(t, 1, 6, T - 6, T - 1)
    sgn = -1.0 if leg == 0 else 1.0  # shift toward the supporting foot
    pose.root[:, 0] += sgn * 0.05 * shift
    # Swing angle over each kick, and the chamber (knee bent, leg shortened) early in the swing.
    swing = np.sum([bump(t, a + 0.18 * period, b - 0.12 * period) for a, b in cycles], axis=0)
    chamber = np.sum(
        [
            bump(t, a + 0.08 * period, a + 0.52 * period) + bump(t, a + 0.56 * period, b - 0.04 * period)
            for a, b in cycles
        ],
        axis=0,
    )
    hip = pose.root + HIP_OFFSET[leg]
    rest = pose.ankles[:, leg] - hip
    d0 = np.linalg.norm(rest, axis=-1)
    reach = THIGH[leg] + SHIN[leg]
    d = d0 - (d0 - 0.62 * reach) * chamber
    direction = np.einsum("tij,tj->ti", rot_x(-top * swing), rest / d0[:, None])
    pose.ankles[:, leg] = hip + d[:, None] * direction
    pose.foot_pitch[:, leg] = 0.4 * swing
    lean = float(rng.uniform(-32, 12)) * DEG if variety else -14 * DEG  # - leans back
    pose.spine[:, 0] = lean * swing
    pose.arms[:, :, 1] = (12 * DEG + 18 * DEG * swing)[:, None]
    pose.arms[:, :, 3] = 30 * DEG
    stance = np.ones((T, 2), dtype=bool)
    stance[:, leg] = (swing < 1e-3) & (chamber < 1e-3)
    _limit_pelvis(pose, stance)
    reps = [int(round((a + b) / 2)) for a, b in cycles]
    attrs = {"count": n, "side": side, "speed": speed, "manner": manner(speed)}
    if variety:
        attrs["lean"] = lean
    return Clip("kick", pose, attrs, reps)


def make_punch(rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False) -> Clip | None:
    speed = tempo(rng)
    period = 14.0 / speed
    rise, lead, tail = 7.0, 4.0, 4.0
    n = _fit(
        count_for(target, count_choice(rng), period, lead + tail + 2 * rise), period, lead + rise, tail + rise, budget
    )
    if n == 0:
        return None
    side = str(rng.choice(["left", "right"]))
    arm = 0 if side == "left" else 1
    T = int(np.ceil(lead + 2 * rise + n * period + tail))
    pose, t = _standing(T)
    guard = _raise(t, lead, rise, T, tail)
    start = lead + rise
    out = np.sum([bump(t, start + k * period, start + k * period + 0.7 * period) for k in range(n)], axis=0)
    pose.arms[:, :, 0] = (45 * DEG * guard)[:, None]
    pose.arms[:, :, 1] = 12 * DEG
    pose.arms[:, :, 3] = (115 * DEG * guard)[:, None]
    pose.arms[:, arm, 0] += 45 * DEG * out
    pose.arms[:, arm, 3] -= 110 * DEG * out
    pose.spine[:, 2] = (-1 if arm == 0 else 1) * 15 * DEG * out
    reps = [int(round(start + (k + 0.35) * period)) for k in range(n)]
    return Clip("punch", pose, {"count": n, "side": side, "speed": speed, "manner": manner(speed)}, reps)


def make_raise_arms(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    speed = tempo(rng)
    period = 30.0 / speed
    n = _fit(count_for(target, count_choice(rng, 1, 3), period, 8.0, high=4), period, 4, 4, budget)
    if n == 0:
        return None
    which = str(rng.choice(["both", "both", "left", "right"]))
    sideways = bool(rng.random() < 0.35)
    T, cycles = _cycles(n, period, 4, 4)
    pose, t = _standing(T)
    up = np.sum([plateau(t, a, a + 0.4 * period, b - 0.4 * period, b) for a, b in cycles], axis=0)
    arms = [0, 1] if which == "both" else [0 if which == "left" else 1]
    for a in arms:
        if sideways:
            pose.arms[:, a, 1] = 165 * DEG * up
        else:
            pose.arms[:, a, 0] = 170 * DEG * up
            pose.arms[:, a, 1] = 8 * DEG * up
        pose.arms[:, a, 3] = 10 * DEG
    reps = [int(round((a + b) / 2)) for a, b in cycles]
    return Clip("raise_arms", pose, {"count": n, "side": which, "speed": speed, "manner": manner(speed)}, reps)


def make_arm_circles(
    rng: np.random.Generator, budget: int, target: int | None = None, variety: bool = False
) -> Clip | None:
    speed = tempo(rng)
    period = 14.0 / speed
    rise, lead, tail = 8.0, 4.0, 4.0
    n = count_for(target, count_choice(rng), period, lead + tail + 2 * rise)
    n = _fit(n, period, lead + rise, tail + rise, budget)
    if n == 0:
        return None
    backward = bool(rng.random() < 0.5)
    T = int(np.ceil(lead + 2 * rise + n * period + tail))
    pose, t = _standing(T)
    up = _raise(t, lead, rise, T, tail)
    start = lead + rise
    active = (t >= start) & (t <= start + n * period)
    phase = 2 * np.pi * np.clip((t - start) / period, 0, n) * (-1 if backward else 1)
    amp = float(rng.uniform(*((16, 44) if variety else (22, 35)))) * DEG
    # Small circles are round; large ones reach less far back than up and down (a shoulder's range).
    back = 0.6 if variety and amp > 35 * DEG else 1.0
    pose.arms[:, :, 1] = ((88 * DEG + amp * np.sin(phase) * active) * up)[:, None]
    pose.arms[:, :, 0] = ((back * amp * (np.cos(phase) - 1) * active) * up)[:, None]
    pose.arms[:, :, 3] = 5 * DEG
    reps = [int(round(start + (k + 0.25) * period)) for k in range(n)]
    attrs = {"count": n, "backward": backward, "speed": speed}
    if variety:
        attrs["amplitude"] = amp
    return Clip("arm_circles", pose, attrs, reps)


def _register() -> dict[str, ActionSpec]:
    specs = [
        ActionSpec("side_steps", make_side_steps, True),
        ActionSpec("jump", make_jump(False), True),
        ActionSpec("jump_forward", make_jump(True), True),
        ActionSpec("hop", make_hop, True),
        ActionSpec("squat", make_squat, True),
        ActionSpec("jumping_jacks", make_jumping_jacks, True),
        ActionSpec("wave", make_wave, True),
        ActionSpec("clap", make_clap, True),
        ActionSpec("kick", make_kick, True),
        ActionSpec("punch", make_punch, True),
        ActionSpec("raise_arms", make_raise_arms, True),
        ActionSpec("arm_circles", make_arm_circles, True),
        ActionSpec("bow", make_bow, True),
        ActionSpec("turn_around", make_turn(False), False),
        ActionSpec("spin", make_turn(True), True),
        ActionSpec("crouch", make_crouch, False),
        ActionSpec("sit_down", make_sit_down, False, end_state="sit"),
        ActionSpec("stand_up", make_stand_up, False, start_state="sit"),
        ActionSpec("stand_still", make_stand_still, False),
    ]
    for gait in GAITS:
        for pattern in ("forward", "backward", "sideways", "turning", "circle"):
            specs.append(ActionSpec(f"{gait}_{pattern}", make_locomotion(gait, pattern), False))
    return {s.name: s for s in specs}


ACTIONS: dict[str, ActionSpec] = _register()
