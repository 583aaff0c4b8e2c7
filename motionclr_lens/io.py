"""Motion capture files in: BVH of any skeleton and Acclaim ASF/AMC (the CMU and HDM05 databases), mapped onto
HumanML3D's 22 joints, put upright in metres at 20 fps and turned into the 263 features the model reads.

    motion = load_motion("walk.bvh")                     # Mixamo, LAFAN1, CMU/HDM05 or this library's names
    motion.features                                      # (T-1, 263), 20 fps
    motion = load_motion("01_01.amc", amc_skeleton="01.asf")
    load_motion("take.bvh", mapping={"l_wrist": "L_Hand_jnt", ...})   # a skeleton no preset knows

Each step is public and usable alone: `parse_bvh`, `parse_asf` / `parse_amc` (file joints' global positions),
`resolve_mapping` and `map_joints` (22 joints, the missing spine and collar joints interpolated), `detect_up`,
`detect_unit`, `resample`. `save_bvh_as` writes a motion with another skeleton's joint names (for Blender, or
for a retargeting tool that expects Mixamo's names).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .motion import (
    FPS,
    JOINT_NAMES,
    NUM_JOINTS,
    PARENTS,
    canonical_joints_to_features,
    canonicalize,
    check_joints,
    rest_offsets,
    solve_tree_rotations,
)

__all__ = [
    "PRESETS",
    "UNITS",
    "AMCMotion",
    "ASFBone",
    "ASFSkeleton",
    "BVHFile",
    "Capture",
    "MotionFile",
    "MotionFileError",
    "detect_preset",
    "detect_unit",
    "detect_up",
    "load_motion",
    "map_joints",
    "parse_amc",
    "parse_asf",
    "parse_bvh",
    "read_capture",
    "resample",
    "resolve_mapping",
    "save_bvh_as",
    "up_rotation",
    "write_bvh",
]

logger = logging.getLogger(__name__)


class MotionFileError(ValueError):
    """A motion file that cannot be read: the message names the file and, where it applies, the line."""


# --- reading text -------------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise MotionFileError(f"{path}: cannot read the file ({error.strerror or error})") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise MotionFileError(f"{path}: the file is empty")
    return text.splitlines()


def _numbers(tokens: Sequence[str], path: Path, line: int, what: str) -> np.ndarray:
    try:
        return np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise MotionFileError(f"{path}: line {line}: {what}: {bad!r} is not a number") from None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --- BVH ----------------------------------------------------------------------------------------------------

_ROTATION_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POSITION_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}


@dataclass(frozen=True)
class BVHFile:
    """A BVH file as written: the hierarchy (names, parents, offsets, channels per joint, End Sites) and the
    MOTION values, one row of every joint's channels per frame.

    Conventions (those of the format's common readers, Blender's among them): a joint's rotation channels,
    in the order listed, are intrinsic rotations (`CHANNELS 3 Zrotation Xrotation Yrotation` is
    R = Rz Rx Ry acting on column vectors), degrees; position channels, on the root or on any joint, give the
    joint's translation from its parent in the parent's frame and replace the OFFSET (an axis without a
    position channel keeps the OFFSET's value); the root's translation is in the file's world frame.
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for a root
    offsets: np.ndarray  # (J, 3)
    channels: tuple[tuple[str, ...], ...]  # per joint, as written (e.g. "Zrotation")
    end_sites: tuple[tuple[int, tuple[float, float, float]], ...]  # (joint, offset from it)
    frame_time: float
    values: np.ndarray  # (T, C) float64
    notes: tuple[str, ...] = ()

    @property
    def fps(self) -> float:
        """1 / Frame Time, rounded to the whole number within 0.01% (files write 1/30 s as 0.033333)."""
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) < 1e-4 * fps else fps

    def _columns(self) -> list[int]:
        starts, n = [], 0
        for ch in self.channels:
            starts.append(n)
            n += len(ch)
        return starts

    def local_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) each joint's rotation relative to its parent (the root's: in the world frame)."""
        T, J = len(self.values), len(self.names)
        out = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
        for j, (start, channels) in enumerate(zip(self._columns(), self.channels, strict=True)):
            cols = [start + k for k, c in enumerate(channels) if c.lower() in _ROTATION_CHANNELS]
            if cols:
                order = "".join(_ROTATION_CHANNELS[channels[c - start].lower()] for c in cols)
                out[:, j] = Rotation.from_euler(order, self.values[:, cols], degrees=True).as_matrix()
        return out

    def translations(self) -> np.ndarray:
        """(T, J, 3) each joint's translation from its parent: the OFFSET, or the position channels."""
        T = len(self.values)
        out = np.broadcast_to(self.offsets, (T, *self.offsets.shape)).copy()
        for j, (start, channels) in enumerate(zip(self._columns(), self.channels, strict=True)):
            for k, c in enumerate(channels):
                if c.lower() in _POSITION_CHANNELS:
                    out[:, j, _POSITION_CHANNELS[c.lower()]] = self.values[:, start + k]
        return out

    def positions(self, end_sites: bool = False) -> np.ndarray:
        """(T, J, 3) global joint positions by forward kinematics (then the End Sites', in file order, if
        `end_sites`), in the file's units and axes."""
        local, steps = self.local_rotations(), self.translations()
        T, J = steps.shape[:2]
        glob = np.zeros((T, J, 3, 3))
        out = np.zeros((T, J, 3))
        for j, p in enumerate(self.parents):  # parents come before their children in a BVH
            if p < 0:
                glob[:, j], out[:, j] = local[:, j], steps[:, j]
            else:
                glob[:, j] = glob[:, p] @ local[:, j]
                out[:, j] = out[:, p] + np.einsum("tij,tj->ti", glob[:, p], steps[:, j])
        if end_sites and self.end_sites:
            ends = [out[:, j] + glob[:, j] @ np.asarray(offset) for j, offset in self.end_sites]
            out = np.concatenate([out, np.stack(ends, axis=1)], axis=1)
        return out

    def capture(self) -> Capture:
        """The file joints' positions (End Sites included, named `<joint>/end`) as a `Capture`."""
        names = self.names + tuple(f"{self.names[j]}/end" for j, _ in self.end_sites)
        parents = self.parents + tuple(j for j, _ in self.end_sites)
        return Capture(self.path, names, parents, self.positions(end_sites=True), self.fps, None, "bvh", self.notes)


def parse_bvh(path: str | Path) -> BVHFile:
    """Read a BVH file of any hierarchy: any channel order per joint, 3 or 6 channels (positions on any
    joint), End Sites, several roots. Raises `MotionFileError` (a ValueError) naming the file and the line
    for what cannot be read: unbalanced braces, a truncated MOTION section, a non-positive frame time, NaN or
    Inf values, rows of the wrong length, words where numbers belong."""
    path = Path(path)
    lines = _read_lines(path)
    motion_at = next((i for i, line in enumerate(lines) if line.split()[:1] == ["MOTION"]), None)
    header = lines if motion_at is None else lines[:motion_at]
    tokens = [(tok, i + 1) for i, line in enumerate(header) for tok in line.split()]
    if not tokens or tokens[0][0].upper() != "HIERARCHY":
        first = tokens[0] if tokens else ("", 1)
        raise MotionFileError(f"{path}: line {first[1]}: expected HIERARCHY, found {first[0]!r}: not a BVH file")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_sites: list[tuple[int, tuple[float, float, float]]] = []
    stack: list[tuple[str, int]] = []  # open blocks: ("joint", index) or ("end", index in end_sites)
    pending: tuple[str, int] | None = None
    pending_line = 0
    k = 1
    while k < len(tokens):
        tok, line = tokens[k]
        word = tok.upper()
        if word in ("ROOT", "JOINT"):
            if pending is not None:
                raise MotionFileError(f"{path}: line {line}: {tok} before the '{{' of the block above")
            if word == "ROOT" and stack:
                raise MotionFileError(f"{path}: line {line}: ROOT inside another joint's block (missing '}}'?)")
            if word == "JOINT" and not stack:
                raise MotionFileError(f"{path}: line {line}: JOINT outside any joint (an extra '}}' above?)")
            if stack and stack[-1][0] == "end":
                raise MotionFileError(f"{path}: line {line}: JOINT inside an End Site")
            name_tokens = []
            while k + 1 < len(tokens) and tokens[k + 1][1] == line and tokens[k + 1][0] != "{":
                k += 1
                name_tokens.append(tokens[k][0])
            if not name_tokens:
                raise MotionFileError(f"{path}: line {line}: {tok} without a name")
            name = " ".join(name_tokens)
            if name in names:
                raise MotionFileError(f"{path}: line {line}: joint {name!r} defined twice")
            names.append(name)
            parents.append(stack[-1][1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending, pending_line = ("joint", len(names) - 1), line
        elif word == "END":
            if k + 1 >= len(tokens) or tokens[k + 1][0].upper() != "SITE":
                raise MotionFileError(f"{path}: line {line}: 'End' not followed by 'Site'")
            if not stack or stack[-1][0] != "joint" or pending is not None:
                raise MotionFileError(f"{path}: line {line}: End Site outside a joint's block")
            k += 1
            end_sites.append((stack[-1][1], (0.0, 0.0, 0.0)))
            pending, pending_line = ("end", len(end_sites) - 1), line
        elif tok == "{":
            if pending is None:
                raise MotionFileError(f"{path}: line {line}: '{{' opens no joint (unbalanced braces)")
            stack.append(pending)
            pending = None
        elif tok == "}":
            if not stack:
                raise MotionFileError(f"{path}: line {line}: '}}' closes no open joint (unbalanced braces)")
            stack.pop()
        elif word == "OFFSET":
            if not stack or pending is not None:
                raise MotionFileError(f"{path}: line {line}: OFFSET outside a joint's block")
            values = [t for t, ln in tokens[k + 1 : k + 4] if ln == line]
            if len(values) != 3:
                raise MotionFileError(f"{path}: line {line}: OFFSET needs 3 numbers, got {len(values)}")
            x, y, z = _numbers(values, path, line, "OFFSET")
            if not np.isfinite([x, y, z]).all():
                raise MotionFileError(f"{path}: line {line}: OFFSET holds NaN or Inf values")
            kind, index = stack[-1]
            if kind == "joint":
                offsets[index] = [x, y, z]
            else:
                end_sites[index] = (end_sites[index][0], (x, y, z))
            k += 3
        elif word == "CHANNELS":
            if not stack or stack[-1][0] != "joint" or pending is not None:
                raise MotionFileError(f"{path}: line {line}: CHANNELS outside a joint's block")
            if k + 1 >= len(tokens) or not tokens[k + 1][0].isdigit():
                raise MotionFileError(f"{path}: line {line}: CHANNELS needs a count")
            count = int(tokens[k + 1][0])
            listed = [t for t, ln in tokens[k + 2 :] if ln == line]
            if len(listed) != count:
                raise MotionFileError(f"{path}: line {line}: CHANNELS {count} lists {len(listed)} channels")
            unknown = [c for c in listed if c.lower() not in _ROTATION_CHANNELS and c.lower() not in _POSITION_CHANNELS]
            if unknown:
                raise MotionFileError(
                    f"{path}: line {line}: unknown channel {unknown[0]!r}; valid: Xposition, Yposition, Zposition, "
                    "Xrotation, Yrotation, Zrotation"
                )
            if len({c.lower() for c in listed}) != len(listed):
                raise MotionFileError(f"{path}: line {line}: a channel listed twice in {listed}")
            channels[stack[-1][1]] = tuple(listed)
            k += 1 + count
        else:
            raise MotionFileError(f"{path}: line {line}: unexpected {tok!r} in the hierarchy")
        k += 1
    end_line = len(header) + 1 if motion_at is not None else len(lines)
    if pending is not None:
        raise MotionFileError(f"{path}: line {pending_line}: the block has no '{{'")
    if stack:
        open_joint = names[stack[0][1]] if stack[0][0] == "joint" else "End Site"
        raise MotionFileError(
            f"{path}: line {end_line}: the hierarchy ends with {len(stack)} block(s) still open, from {open_joint!r} "
            "(unbalanced braces: a missing '}')"
        )
    if not names:
        raise MotionFileError(f"{path}: no ROOT joint in the hierarchy")
    if motion_at is None:
        raise MotionFileError(f"{path}: no MOTION section")
    frame_time, data, notes = _parse_bvh_motion(path, lines, motion_at, sum(len(c) for c in channels))
    return BVHFile(
        path,
        tuple(names),
        tuple(parents),
        np.array(offsets, dtype=np.float64).reshape(-1, 3),
        tuple(channels),
        tuple(end_sites),
        frame_time,
        data,
        notes,
    )


def _parse_bvh_motion(
    path: Path, lines: list[str], motion_at: int, width: int
) -> tuple[float, np.ndarray, tuple[str, ...]]:
    rest = [(i + 1, line.strip()) for i, line in enumerate(lines) if i > motion_at and line.strip()]
    if len(rest) < 2:
        raise MotionFileError(f"{path}: line {motion_at + 1}: MOTION lacks 'Frames:' and 'Frame Time:'")
    (frames_line, frames_text), (time_line, time_text) = rest[0], rest[1]
    match = re.fullmatch(r"Frames\s*:\s*(\S+)", frames_text, flags=re.IGNORECASE)
    if match is None:
        raise MotionFileError(f"{path}: line {frames_line}: expected 'Frames: <count>', found {frames_text!r}")
    try:
        frames = int(match.group(1))
    except ValueError:
        raise MotionFileError(f"{path}: line {frames_line}: frame count {match.group(1)!r} is not an integer") from None
    if frames < 1:
        raise MotionFileError(f"{path}: line {frames_line}: 'Frames: {frames}'; a motion needs 1 frame or more")
    match = re.fullmatch(r"Frame\s+Time\s*:\s*(\S+)", time_text, flags=re.IGNORECASE)
    if match is None:
        raise MotionFileError(f"{path}: line {time_line}: expected 'Frame Time: <seconds>', found {time_text!r}")
    (frame_time,) = _numbers([match.group(1)], path, time_line, "Frame Time")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise MotionFileError(
            f"{path}: line {time_line}: Frame Time must be a positive number of seconds, got {match.group(1)}"
        )
    rows = rest[2:]
    notes: tuple[str, ...] = ()
    if len(rows) < frames:
        raise MotionFileError(
            f"{path}: the MOTION section is truncated: 'Frames: {frames}' (line {frames_line}) but {len(rows)} rows"
        )
    if len(rows) > frames:
        notes = (f"{len(rows) - frames} row(s) after the {frames} announced frames were ignored",)
        rows = rows[:frames]
    split = [text.split() for _, text in rows]
    for t, ((line, _), values) in enumerate(zip(rows, split, strict=True)):
        if len(values) != width:
            raise MotionFileError(
                f"{path}: line {line}: frame {t + 1} has {len(values)} values; the hierarchy's channels need {width}"
            )
    try:
        data = np.array(split, dtype=np.float64).reshape(frames, width)
    except ValueError:
        for t, ((line, _), values) in enumerate(zip(rows, split, strict=True)):
            _numbers(values, path, line, f"frame {t + 1}")
        raise
    bad = ~np.isfinite(data).all(axis=1)
    if bad.any():
        t = int(np.argmax(bad))
        raise MotionFileError(f"{path}: line {rows[t][0]}: frame {t + 1} holds NaN or Inf values")
    return float(frame_time), data, notes


# --- ASF/AMC ------------------------------------------------------------------------------------------------

INCH = 0.0254  # metres


@dataclass(frozen=True)
class ASFBone:
    """One bone of an Acclaim skeleton. `direction` (unit, world frame at rest) times `length` goes from the
    bone's start (its parent's end) to its end; `axis` (radians) and `axis_order` give the bone's local frame
    C; `dof` lists the AMC values the bone takes, in their order (rx, ry, rz)."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]


@dataclass(frozen=True)
class ASFSkeleton:
    """An ASF file: units, root and bones (parents before children; `parents[i]` is -1 for a bone on the
    root, else the index of its parent bone)."""

    path: Path
    bones: tuple[ASFBone, ...]
    parents: tuple[int, ...]
    root_order: tuple[str, ...]  # e.g. ("TX", "TY", "TZ", "RX", "RY", "RZ")
    root_axis_order: str
    root_position: np.ndarray
    root_orientation: np.ndarray  # radians
    length_unit: float  # the `:units length` value
    angle_in_degrees: bool

    @property
    def names(self) -> tuple[str, ...]:
        return ("root", *(b.name for b in self.bones))

    @property
    def metres_per_unit(self) -> float:
        """Acclaim lengths are inches times the `:units length` factor (CMU's and HDM05's 0.45 makes a unit
        (1 / 0.45) * 2.54 cm = 5.6444 cm)."""
        return INCH / self.length_unit

    def positions(self, motion: AMCMotion) -> np.ndarray:
        """(T, 1 + bones, 3) global positions: the root's, then each bone's end, in ASF units.

        A bone's world rotation is W = W_parent C M C^-1, with C its axis rotation and M its AMC rotation;
        both compose their angles about fixed axes in the order written (`axis ... XYZ` and `dof rx ry rz` are
        Rz Ry Rx), as the CMU viewer does. The root's position is the AMC translation (the ASF `position`
        where the root has no translation channel)."""
        T = len(motion.frames)
        scale = np.pi / 180 if motion.degrees else 1.0
        root = motion.values.get("root", np.zeros((T, len(self.root_order))))
        position = np.broadcast_to(self.root_position, (T, 3)).copy()
        rot_cols = [k for k, c in enumerate(self.root_order) if c.startswith("R")]
        for k, c in enumerate(self.root_order):
            if c.startswith("T"):
                position[:, "XYZ".index(c[1])] = root[:, k]
        C = Rotation.from_euler(self.root_axis_order.lower(), self.root_orientation).as_matrix()
        W_root = np.broadcast_to(C, (T, 3, 3)).copy()
        if rot_cols:
            order = "".join(self.root_order[k][1].lower() for k in rot_cols)
            M = Rotation.from_euler(order, root[:, rot_cols] * scale).as_matrix()
            W_root = C @ M @ C.T
        W = np.zeros((T, len(self.bones), 3, 3))
        ends = np.zeros((T, len(self.bones), 3))
        for i, (bone, p) in enumerate(zip(self.bones, self.parents, strict=True)):
            parent_W, start = (W_root, position) if p < 0 else (W[:, p], ends[:, p])
            C = Rotation.from_euler(bone.axis_order.lower(), bone.axis).as_matrix()
            if bone.dof:
                values = motion.values.get(bone.name, np.zeros((T, len(bone.dof))))
                M = Rotation.from_euler("".join(d[1] for d in bone.dof), values * scale).as_matrix()
                W[:, i] = parent_W @ (C @ M @ C.T)
            else:
                W[:, i] = parent_W
            ends[:, i] = start + np.einsum("tij,j->ti", W[:, i], bone.direction * bone.length)
        return np.concatenate([position[:, None], ends], axis=1)


def parse_asf(path: str | Path) -> ASFSkeleton:
    """Read an Acclaim ASF skeleton: `:units` (length factor, angle deg/rad), `:root` (order, axis,
    position, orientation), `:bonedata` (name, direction, length, axis with its order, dof; limits are read
    past) and `:hierarchy`. Bone translation and length channels (tx, ty, tz, l) are not supported."""
    path = Path(path)
    lines = _read_lines(path)
    section = ""
    length_unit, degrees = 1.0, True
    root: dict[str, list[str]] = {}
    root_lines: dict[str, int] = {}
    bones: dict[str, ASFBone] = {}
    current: dict[str, tuple[list[str], int]] | None = None
    current_line = 0
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    seen_sections = set()

    def finish_bone(block: dict[str, tuple[list[str], int]], start: int) -> None:

        def field(key: str, count: int, what: str) -> tuple[list[str], int]:
            words, line = block.get(key, ([], start))
            if len(words) < count:
                raise MotionFileError(f"{path}: line {line}: bone {what}: '{key}' needs {count} value(s)")
            return words, line

        (name, *_), _ = field("name", 1, "block")
        words, line = field("direction", 3, repr(name))
        direction = _numbers(words[:3], path, line, f"bone {name!r} direction")
        norm = np.linalg.norm(direction)
        if not np.isfinite(norm) or norm == 0:
            raise MotionFileError(f"{path}: line {line}: bone {name!r} direction must be a finite non-zero vector")
        words, line = field("length", 1, repr(name))
        (length,) = _numbers(words[:1], path, line, f"bone {name!r} length")
        if not np.isfinite(length) or length < 0:
            raise MotionFileError(f"{path}: line {line}: bone {name!r} length must be 0 or more, got {words[0]}")
        words, line = block.get("axis", (["0", "0", "0", "XYZ"], start))
        order = words[3].upper() if len(words) > 3 else ""
        if len(words) < 4 or sorted(order) != ["X", "Y", "Z"]:
            raise MotionFileError(f"{path}: line {line}: bone {name!r} axis needs 3 angles and an order such as XYZ")
        axis = _numbers(words[:3], path, line, f"bone {name!r} axis")
        if not np.isfinite(axis).all():
            raise MotionFileError(f"{path}: line {line}: bone {name!r} axis holds NaN or Inf values")
        words, line = block.get("dof", ([], start))
        dof = tuple(d.lower() for d in words)
        unsupported = [d for d in dof if d not in ("rx", "ry", "rz")]
        if unsupported:
            raise MotionFileError(
                f"{path}: line {line}: bone {name!r} dof {unsupported[0]!r} is not supported (rx, ry, rz are)"
            )
        if len(set(dof)) != len(dof):
            raise MotionFileError(f"{path}: line {line}: bone {name!r} lists a dof twice: {list(dof)}")
        if name in bones or name == "root":
            raise MotionFileError(f"{path}: line {start}: bone {name!r} defined twice")
        angle = np.pi / 180 if degrees else 1.0
        bones[name] = ASFBone(name, direction / norm, float(length), axis * angle, order, dof)

    for i, raw in enumerate(lines):
        line_no = i + 1
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0].startswith(":"):
            section = words[0][1:].lower()
            seen_sections.add(section)
            if section == "bonedata" and current is not None:
                raise MotionFileError(f"{path}: line {line_no}: a bone block without 'end'")
            continue
        key = words[0].lower()
        if section == "units":
            if key == "length":
                values = _numbers(words[1:2], path, line_no, "units length")
                if len(values) != 1 or not np.isfinite(values[0]) or values[0] <= 0:
                    got = " ".join(words[1:]) or "nothing"
                    raise MotionFileError(f"{path}: line {line_no}: units length must be positive, got {got}")
                length_unit = float(values[0])
            elif key == "angle":
                if len(words) < 2 or words[1].lower() not in ("deg", "rad"):
                    raise MotionFileError(f"{path}: line {line_no}: units angle must be 'deg' or 'rad'")
                degrees = words[1].lower() == "deg"
        elif section == "root":
            root[key] = words[1:]
            root_lines[key] = line_no
        elif section == "bonedata":
            if key == "begin":
                if current is not None:
                    raise MotionFileError(f"{path}: line {line_no}: 'begin' inside a bone block (missing 'end')")
                current, current_line = {}, line_no
            elif key == "end":
                if current is None:
                    raise MotionFileError(f"{path}: line {line_no}: 'end' without 'begin'")
                finish_bone(current, current_line)
                current = None
            elif current is not None and not words[0].startswith("("):
                current[key] = (words[1:], line_no)
        elif section == "hierarchy":
            if key in ("begin", "end"):
                continue
            parent = words[0]
            if parent != "root" and parent not in bones:
                raise MotionFileError(f"{path}: line {line_no}: hierarchy names {parent!r}, not a bone of :bonedata")
            for child in words[1:]:
                if child not in bones:
                    raise MotionFileError(f"{path}: line {line_no}: hierarchy names {child!r}, not a bone of :bonedata")
                if child in parent_of:
                    raise MotionFileError(f"{path}: line {line_no}: bone {child!r} has two parents")
                parent_of[child] = parent
                children.setdefault(parent, []).append(child)
    if current is not None:
        raise MotionFileError(f"{path}: line {current_line}: the last bone block has no 'end' (truncated file?)")
    for needed in ("root", "bonedata", "hierarchy"):
        if needed not in seen_sections:
            raise MotionFileError(f"{path}: no :{needed} section: not an ASF skeleton")
    ordered: list[str] = []
    queue = list(children.get("root", []))
    while queue:
        name = queue.pop(0)
        ordered.append(name)
        queue.extend(children.get(name, []))
    unreached = [name for name in bones if name not in ordered]
    if unreached:
        raise MotionFileError(f"{path}: bones not connected to the root in :hierarchy: {unreached}")
    index = {name: k for k, name in enumerate(ordered)}
    order = tuple(w.upper() for w in root.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"]))
    if any(c not in ("TX", "TY", "TZ", "RX", "RY", "RZ") for c in order) or len(set(order)) != len(order):
        raise MotionFileError(
            f"{path}: line {root_lines.get('order', 0)}: root order {' '.join(order)} is not made of distinct "
            "TX TY TZ RX RY RZ"
        )
    axis_order = (root.get("axis") or ["XYZ"])[0].upper()
    if sorted(axis_order) != ["X", "Y", "Z"]:
        line = root_lines.get("axis", 0)
        raise MotionFileError(f"{path}: line {line}: root axis {axis_order!r} is not an order of X, Y, Z")
    position = _numbers(root.get("position", ["0", "0", "0"])[:3], path, root_lines.get("position", 0), "root position")
    orientation = _numbers(
        root.get("orientation", ["0", "0", "0"])[:3], path, root_lines.get("orientation", 0), "root orientation"
    )
    if position.shape != (3,) or orientation.shape != (3,) or not np.isfinite([position, orientation]).all():
        raise MotionFileError(f"{path}: root position and orientation need 3 finite numbers each")
    return ASFSkeleton(
        path,
        tuple(bones[name] for name in ordered),
        tuple(-1 if parent_of[name] == "root" else index[parent_of[name]] for name in ordered),
        order,
        axis_order,
        position,
        orientation * (np.pi / 180 if degrees else 1.0),
        float(length_unit),
        degrees,
    )


@dataclass(frozen=True)
class AMCMotion:
    """An AMC file's values: per bone (and "root"), (T, dof) in the file's angle unit (`degrees`)."""

    path: Path
    frames: np.ndarray  # (T,) the frame numbers
    values: dict[str, np.ndarray]
    degrees: bool
    notes: tuple[str, ...] = ()


def parse_amc(path: str | Path, skeleton: ASFSkeleton) -> AMCMotion:
    """Read an AMC motion of `skeleton`: a header (`:FULLY-SPECIFIED`, `:DEGREES` or `:RADIANS`; the ASF's
    angle unit otherwise), then per frame its number and one `bone values...` line per bone. Every frame must
    give the bones the first one gives; a bone absent from every frame stays at rest."""
    path = Path(path)
    lines = _read_lines(path)
    dofs = {"root": len(skeleton.root_order), **{b.name: len(b.dof) for b in skeleton.bones}}
    degrees = skeleton.angle_in_degrees
    frames: list[int] = []
    frame_lines: list[int] = []
    rows: list[dict[str, np.ndarray]] = []
    for i, raw in enumerate(lines):
        line_no = i + 1
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].startswith(":"):
            if words[0].upper() == ":DEGREES":
                degrees = True
            elif words[0].upper() == ":RADIANS":
                degrees = False
            continue
        if len(words) == 1 and words[0].lstrip("-").isdigit():
            number = int(words[0])
            if frames and number != frames[-1] + 1:
                raise MotionFileError(f"{path}: line {line_no}: frame number {number} follows frame {frames[-1]}")
            frames.append(number)
            frame_lines.append(line_no)
            rows.append({})
            continue
        if not rows:
            raise MotionFileError(f"{path}: line {line_no}: {words[0]!r} before the first frame number")
        name = words[0]
        if name not in dofs:
            raise MotionFileError(
                f"{path}: line {line_no}: bone {name!r} is not in the skeleton {skeleton.path}; its bones: "
                f"{list(skeleton.names)}"
            )
        if name in rows[-1]:
            raise MotionFileError(f"{path}: line {line_no}: bone {name!r} given twice in frame {frames[-1]}")
        values = _numbers(words[1:], path, line_no, f"bone {name!r}")
        if len(values) != dofs[name]:
            raise MotionFileError(
                f"{path}: line {line_no}: bone {name!r} has {len(values)} values; its dof in the skeleton need "
                f"{dofs[name]}"
            )
        if not np.isfinite(values).all():
            raise MotionFileError(f"{path}: line {line_no}: frame {frames[-1]} holds NaN or Inf values")
        rows[-1][name] = values
    if not rows:
        raise MotionFileError(f"{path}: no frames (an AMC frame is a frame number, then one line per bone)")
    given = set(rows[0])
    for number, line_no, row in zip(frames, frame_lines, rows, strict=True):
        if set(row) != given:
            missing = sorted(given - set(row))
            extra = sorted(set(row) - given)
            what = f"lacks {missing}" if missing else f"adds {extra}, absent from the first frame"
            raise MotionFileError(f"{path}: line {line_no}: frame {number} {what} (truncated or mixed file?)")
    table = {name: np.stack([row[name] for row in rows]) for name in given}
    resting = [name for name, n in dofs.items() if n and name not in given]
    notes = (f"bones absent from the AMC stay at rest: {resting}",) if resting else ()
    return AMCMotion(path, np.array(frames), table, degrees, notes)


# --- captures: any file's joints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """Global positions of every joint of a file, in its own units and axes, at its own rate.

    `unit_scale` is the file's declared metres per unit (ASF), None where the format does not say (BVH)."""

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions: np.ndarray  # (T, J, 3)
    fps: float
    unit_scale: float | None
    format: str
    notes: tuple[str, ...] = ()


def _find_asf(amc: Path) -> Path:
    """The ASF beside an AMC: the same stem, CMU's `<subject>.asf` for `<subject>_<take>.amc`, or the only one."""
    for stem in (amc.stem, amc.stem.split("_")[0]):
        candidate = amc.with_name(stem + ".asf")
        if candidate.exists():
            return candidate
    found = sorted(amc.parent.glob("*.asf")) + sorted(amc.parent.glob("*.ASF"))
    if len(found) == 1:
        return found[0]
    raise MotionFileError(
        f"{amc}: an AMC needs its ASF skeleton: none found beside it as {amc.stem}.asf or "
        f"{amc.stem.split('_')[0]}.asf; pass amc_skeleton='<file>.asf'"
    )


def read_capture(
    path: str | Path, *, amc_skeleton: str | Path | None = None, source_fps: float | None = None
) -> Capture:
    """Read a BVH or an AMC file (with its ASF: `amc_skeleton`, else found beside it) into a `Capture`.

    `source_fps` overrides the file's rate: BVH's Frame Time; an AMC states none and CMU and HDM05 capture
    at 120 fps, the default."""
    path = Path(path)
    if source_fps is not None and not (np.isfinite(source_fps) and source_fps > 0):
        raise ValueError(f"source_fps must be a positive number of frames per second, got {source_fps}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        capture = parse_bvh(path).capture()
    elif suffix == ".amc":
        asf_path = Path(amc_skeleton) if amc_skeleton is not None else _find_asf(path)
        skeleton = parse_asf(asf_path)
        motion = parse_amc(path, skeleton)
        parents = (-1, *(p + 1 if p >= 0 else 0 for p in skeleton.parents))
        capture = Capture(
            path, skeleton.names, parents, skeleton.positions(motion), 120.0, skeleton.metres_per_unit, "amc",
            motion.notes,
        )  # fmt: skip
    elif suffix == ".asf":
        raise MotionFileError(f"{path}: an ASF holds the skeleton only: load the .amc motion with amc_skeleton={path}")
    else:
        raise MotionFileError(f"{path}: unknown motion format {path.suffix!r}; valid: '.bvh', '.amc' (with its .asf)")
    bad = ~np.isfinite(capture.positions).all(axis=(1, 2))
    if bad.any():
        raise MotionFileError(f"{path}: frame {int(np.argmax(bad)) + 1} puts joints at NaN or Inf (values too large)")
    if source_fps is not None:
        capture = Capture(
            capture.path, capture.names, capture.parents, capture.positions, float(source_fps), capture.unit_scale,
            capture.format, capture.notes,
        )  # fmt: skip
    return capture


# --- joint mapping ------------------------------------------------------------------------------------------


def _preset(spec: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Expand `l_x: ("LeftArm", ...)` to the right side too (Left -> Right, l -> r at the name's start)."""
    out: dict[str, tuple[str, ...]] = {}
    for ours, names in spec.items():
        out[ours] = names
        if ours.startswith("l_"):
            out["r_" + ours[2:]] = tuple(
                n.replace("Left", "Right") if "Left" in n else "r" + n[1:] if n.startswith("l") else n for n in names
            )
    return {name: out[name] for name in JOINT_NAMES if name in out}


_CMU = _preset(
    {
        "pelvis": ("root",),
        "l_hip": ("lhipjoint",),
        "spine1": ("lowerback",),
        "l_knee": ("lfemur",),
        "spine2": ("upperback",),
        "l_ankle": ("ltibia",),
        "spine3": ("thorax",),
        "l_foot": ("lfoot",),
        "neck": ("lowerneck",),
        "head": ("upperneck",),
        "l_shoulder": ("lclavicle",),
        "l_elbow": ("lhumerus",),
        "l_wrist": ("lradius",),
    }
)
_MIXAMO_STYLE = {
    "pelvis": ("Hips",),
    "l_hip": ("LeftUpLeg",),
    "spine1": ("Spine",),
    "l_knee": ("LeftLeg",),
    "spine2": ("Spine1",),
    "l_ankle": ("LeftFoot",),
    "spine3": ("Spine2",),
    "neck": ("Neck",),
    "l_collar": ("LeftShoulder",),
    "head": ("Head",),
    "l_shoulder": ("LeftArm",),
    "l_elbow": ("LeftForeArm",),
    "l_wrist": ("LeftHand",),
}

PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "humanml3d": {
        name: (name, {"l_": "left_", "r_": "right_"}[name[:2]] + name[2:]) if name[:2] in ("l_", "r_") else (name,)
        for name in JOINT_NAMES
    },
    "cmu": _CMU,
    "mixamo": _preset(
        {
            k: tuple("mixamorig:" + n for n in v)
            for k, v in {**_MIXAMO_STYLE, "l_foot": ("LeftToeBase", "LeftToe")}.items()
        }
    ),
    "lafan1": _preset({**_MIXAMO_STYLE, "l_foot": ("LeftToe", "LeftToeBase")}),
    "hdm05": _CMU,
}
"""Joint names per skeleton: our joint -> the file's names it may have, the first the preset's own.

Names match without case and without a namespace prefix (`mixamorig:Hips` and `Hips` are one). In an ASF a
bone's position is its end, so CMU's knee is the end of `lfemur`, its head joint the end of `upperneck`. CMU
and HDM05 (the same Vicon skeleton, one preset under two names) have no collar joint: their clavicle runs from
the thorax to the shoulder, and the collars are interpolated (`map_joints`). Mixamo's and LAFAN1's
`LeftShoulder` is the collar, `LeftArm` the shoulder. The "humanml3d" preset takes this library's names and
SMPL's (`L_Hip`, `left_hip`)."""

REQUIRED = ("pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "neck", "head",
            "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist")  # fmt: skip
# Where the spine joints sit between the pelvis (0) and the neck (1), and the collars as spine3 plus fractions
# of spine3 -> neck and spine3 -> shoulder: least squares on HumanML3D's target skeleton (frame 0 of 000021).
SPINE_FRACTIONS = {"spine1": 0.23, "spine2": 0.49, "spine3": 0.59}
COLLAR_WEIGHTS = (0.35, 0.375)  # (neck, shoulder)
# The toe from the ankle when a file has no toe joint: forward and down, for a body of REFERENCE_HEIGHT.
TOE_FROM_ANKLE = (0.12, -0.055)
REFERENCE_HEIGHT = 1.46  # m: thigh + shin + pelvis-to-neck + neck-to-head of HumanML3D's target skeleton


def _key(name: str) -> str:
    return name.split(":")[-1].strip().lower()


def detect_preset(names: Sequence[str]) -> tuple[str | None, int]:
    """The preset whose names a file's joints match best, and how many of our 22 joints it finds (ties go
    to the preset whose own first names match more, then to the order of `PRESETS`)."""
    keys = {_key(n) for n in names}
    best: tuple[str | None, int, int] = (None, 0, 0)
    for preset, spec in PRESETS.items():
        found = sum(any(_key(c) in keys for c in cands) for cands in spec.values())
        primary = sum(_key(cands[0]) in keys for cands in spec.values())
        if (found, primary) > best[1:]:
            best = (preset, found, primary)
    return best[0], best[1]


def resolve_mapping(
    names: Sequence[str],
    *,
    mapping: Mapping[str, str] | None = None,
    preset: str | None = None,
    path: str | Path = "",
) -> tuple[dict[str, str], str | None]:
    """Our joint name -> the file's joint name, for the joints found, and the preset used.

    With neither `mapping` nor `preset`, the preset is detected from the names (`detect_preset`). A `preset`
    is applied first and `mapping` entries override it; `mapping` alone is used as given."""
    where = f"{path}: " if str(path) else ""
    by_key: dict[str, str] = {}
    for n in names:
        by_key.setdefault(_key(n), n)
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid: {list(PRESETS)}")
    if preset is None and mapping is None:
        preset, _ = detect_preset(names)
    resolved: dict[str, str] = {}
    if preset is not None:
        for ours, cands in PRESETS[preset].items():
            hit = next((by_key[_key(c)] for c in cands if _key(c) in by_key), None)
            if hit is not None:
                resolved[ours] = hit
    for ours, theirs in (mapping or {}).items():
        if ours not in JOINT_NAMES:
            raise ValueError(f"{where}mapping key {ours!r} is not one of our joints; valid: {list(JOINT_NAMES)}")
        if theirs in names:
            resolved[ours] = theirs
        elif _key(theirs) in by_key:
            resolved[ours] = by_key[_key(theirs)]
        else:
            raise ValueError(
                f"{where}mapping {ours!r} -> {theirs!r}: the file has no joint {theirs!r}; its joints: {list(names)}"
            )
    return resolved, preset


def map_joints(capture: Capture, mapping: Mapping[str, str]) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """(T, 22, 3) positions of our joints from a capture, the joints interpolated, and notes.

    Missing spine joints go on the line between their known neighbours of pelvis - spine1 - spine2 - spine3 -
    neck, at HumanML3D's proportions (`SPINE_FRACTIONS`); a missing collar at spine3 + 0.35 (neck - spine3) +
    0.375 (shoulder - spine3); a missing toe is the ankle's only child in the file where it has one, else it
    stays NaN here and `load_motion` puts it ahead of and below the ankle once it knows which way is up. A
    missing required joint (`REQUIRED`) is a ValueError naming the file, the joints and the file's joint names."""
    index = {n: i for i, n in enumerate(capture.names)}
    unknown = [k for k in mapping if k not in JOINT_NAMES]
    absent = [v for v in mapping.values() if v not in index]
    if unknown or absent:
        raise ValueError(
            f"{capture.path}: mapping names {unknown or absent}, not "
            + (f"our joints {list(JOINT_NAMES)}" if unknown else f"joints of the file {list(capture.names)}")
        )
    T = len(capture.positions)
    out = np.full((T, NUM_JOINTS, 3), np.nan)
    for ours, theirs in mapping.items():
        out[:, JOINT_NAMES.index(ours)] = capture.positions[:, index[theirs]]
    have = {n for n in JOINT_NAMES if n in mapping}
    missing = [n for n in REQUIRED if n not in have]
    if missing:
        mapped = ", ".join(f"{k}={v!r}" for k, v in mapping.items()) or "none"
        raise ValueError(
            f"{capture.path}: cannot find {missing} among the file's joints {list(capture.names)} (mapped: {mapped}); "
            "name them with mapping={'our joint': 'file joint', ...} (our joints: "
            f"{list(JOINT_NAMES)}) or choose a preset: {list(PRESETS)}"
        )
    interpolated: list[str] = []
    notes: list[str] = []
    J = JOINT_NAMES.index
    chain = ["pelvis", "spine1", "spine2", "spine3", "neck"]
    where = {"pelvis": 0.0, **SPINE_FRACTIONS, "neck": 1.0}
    for name in chain[1:-1]:
        if name in have:
            continue
        below = max((n for n in chain if n in have and where[n] < where[name]), key=lambda n: where[n])
        above = min((n for n in chain if n in have and where[n] > where[name]), key=lambda n: where[n])
        w = (where[name] - where[below]) / (where[above] - where[below])
        out[:, J(name)] = (1 - w) * out[:, J(below)] + w * out[:, J(above)]
        interpolated.append(name)
    for side in ("l", "r"):
        name = f"{side}_collar"
        if name in have:
            continue
        spine3, neck, shoulder = out[:, J("spine3")], out[:, J("neck")], out[:, J(f"{side}_shoulder")]
        a, b = COLLAR_WEIGHTS
        out[:, J(name)] = spine3 + a * (neck - spine3) + b * (shoulder - spine3)
        interpolated.append(name)
    for side in ("l", "r"):
        name = f"{side}_foot"
        if name in have:
            continue
        ankle = index[mapping[f"{side}_ankle"]]
        kids = [k for k, p in enumerate(capture.parents) if p == ankle]
        if len(kids) == 1:
            toe = capture.positions[:, kids[0]]
            if np.linalg.norm(toe - capture.positions[:, ankle], axis=-1).min() > 1e-6:
                out[:, J(name)] = toe
                notes.append(f"{name} is the ankle's child {capture.names[kids[0]]!r}")
                continue
        interpolated.append(name)  # placed once the up axis is known (`_place_toes`)
    if interpolated:
        notes.insert(0, f"interpolated: {interpolated}")
    return out, tuple(interpolated), tuple(notes)


def _place_toes(joints: np.ndarray, names: Sequence[str]) -> None:
    """Put the toes a file lacks (NaN rows) ahead of and below the ankles, in place (y up, metres)."""
    J = JOINT_NAMES.index
    scale = _height(joints) / REFERENCE_HEIGHT
    left = joints[:, J("l_hip")] - joints[:, J("r_hip")]
    forward = np.cross(left, np.array([0.0, 1.0, 0.0]))
    forward[:, 1] = 0.0
    forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
    ahead, down = TOE_FROM_ANKLE
    for side in ("l", "r"):
        if f"{side}_foot" in names:
            ankle = joints[:, J(f"{side}_ankle")]
            joints[:, J(f"{side}_foot")] = ankle + scale * (ahead * forward + np.array([0.0, down, 0.0]))


# --- units, up axis, rate -----------------------------------------------------------------------------------

UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": INCH, "ft": 0.3048, "acclaim": INCH / 0.45}
"""Metres per file unit. "acclaim" is CMU's and HDM05's ASF unit: inches / 0.45."""

_UP = {
    "y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),  # half a turn about x
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),  # (x, y, z) -> (x, z, -y)
    "-z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
    "x": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    "-x": np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
}


def up_rotation(up: str) -> np.ndarray:
    """(3, 3) the proper rotation (determinant +1: the body's left stays its left) taking a file whose up
    axis is `up` ("y", "z", "-y", "-z", "x", "-x") to y up: `p_y_up = R @ p_file`. Z up becomes y up by
    (x, y, z) -> (x, z, -y): a Z-up body facing -y (Blender's front view) faces +z, left on +x."""
    key = up.strip().lower().lstrip("+")
    if key not in _UP:
        raise ValueError(f"unknown up axis {up!r}; valid: {list(_UP)}")
    return _UP[key].copy()


def detect_up(joints: np.ndarray) -> str:
    """The up axis of (T, 22, 3) joints: the coordinate axis closest to the clip's mean head-minus-ankles
    direction (a motion lying down most of the clip needs `up=` given)."""
    J = JOINT_NAMES.index
    v = (joints[:, J("head")] - (joints[:, J("l_ankle")] + joints[:, J("r_ankle")]) / 2).mean(axis=0)
    axis = int(np.argmax(np.abs(v)))
    return ("" if v[axis] >= 0 else "-") + "xyz"[axis]


def _height(joints: np.ndarray) -> float:
    """Thigh + shin + pelvis-to-neck + neck-to-head (median over frames): a pose-free body size."""
    J = JOINT_NAMES.index

    def bone(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(joints[:, J(a)] - joints[:, J(b)], axis=-1)

    legs = bone("l_hip", "l_knee") + bone("l_knee", "l_ankle") + bone("r_hip", "r_knee") + bone("r_knee", "r_ankle")
    return float(np.median(legs / 2 + bone("pelvis", "neck") + bone("neck", "head")))


def detect_unit(joints: np.ndarray) -> tuple[str, float]:
    """The unit of (T, 22, 3) joints among `UNITS`: the one that makes the body (thigh + shin + pelvis-to-neck +
    neck-to-head, about 1.46 m for HumanML3D's skeleton, a person about 1.7 m tall) closest to that size."""
    height = _height(joints)
    if not np.isfinite(height) or height <= 0:
        raise ValueError("cannot size the body: its bones have no length")
    name = min(UNITS, key=lambda u: abs(np.log(height * UNITS[u] / REFERENCE_HEIGHT)))
    return name, UNITS[name]


def resample(positions: np.ndarray, source_fps: float, fps: float = FPS) -> np.ndarray:
    """(T, ...) samples at `source_fps` -> (T', ...) at `fps` over the same time span, each value interpolated
    linearly in time between the two nearest source frames (T' = floor((T - 1) * fps / source_fps) + 1)."""
    positions = np.asarray(positions, dtype=np.float64)
    for label, rate in (("source_fps", source_fps), ("fps", fps)):
        if not (np.isfinite(rate) and rate > 0):
            raise ValueError(f"{label} must be a positive number of frames per second, got {rate}")
    T = len(positions)
    if T == 0:
        raise ValueError("cannot resample an empty motion")
    if source_fps == fps:
        return positions.copy()
    count = int(np.floor((T - 1) * fps / source_fps + 1e-9)) + 1
    where = np.arange(count) * (source_fps / fps)  # in source frames
    lo = np.minimum(np.floor(where + 1e-9).astype(int), T - 1)
    hi = np.minimum(lo + 1, T - 1)
    w = np.clip(where - lo, 0.0, 1.0).reshape(-1, *([1] * (positions.ndim - 1)))
    return (1 - w) * positions[lo] + w * positions[hi]


# --- the whole path -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MotionFile:
    """A motion capture file brought onto HumanML3D's skeleton.

    `joints` (T, 22, 3) float32 are the motion retargeted to HumanML3D's target skeleton, on the floor, starting
    at the origin facing +z (what `features` encode: `recover_from_ric(features)` gives `joints[:-1]`);
    `features` (T-1, 263) float32, at `fps`. `mapping_used` is our joint name -> the file's, `up_axis` the
    file's up axis, `unit_scale` its metres per unit, `interpolated` our joints the file lacked."""

    joints: np.ndarray
    features: np.ndarray
    fps: float
    source_fps: float
    path: Path
    mapping_used: dict[str, str]
    up_axis: str
    unit_scale: float
    preset: str | None
    interpolated: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def load_motion(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    preset: str | None = None,
    up: str | None = None,
    unit: str | float | None = None,
    fps: float = FPS,
    source_fps: float | None = None,
    continuous_heading: bool = True,
    amc_skeleton: str | Path | None = None,
) -> MotionFile:
    """Read a BVH or ASF/AMC motion capture file into HumanML3D's 22 joints and 263 features.

    1. The file's joints' global positions (`read_capture`; `source_fps` overrides its rate, AMC's default is
       120 fps).
    2. Our 22 joints from the file's (`resolve_mapping`: `preset` of `PRESETS`, or detected from the names;
       `mapping` {our joint: file joint} overrides); missing spine, collar and toe joints are interpolated.
    3. Up axis (`up`, else `detect_up`) turned to y by a rotation, never a mirror; units (`unit`: a name of
       `UNITS` or metres per unit; else the ASF's declared unit, or `detect_unit` from the body's size).
    4. Resampled to `fps` (linear in time), retargeted to HumanML3D's skeleton, on the floor, facing +z
       (`motion.canonicalize`), and the features (`continuous_heading` keeps turns past 180 degrees from
       flipping the root's angular velocity; False reproduces HumanML3D's own glitch).
    """
    path = Path(path)
    capture = read_capture(path, amc_skeleton=amc_skeleton, source_fps=source_fps)
    resolved, used_preset = resolve_mapping(capture.names, mapping=mapping, preset=preset, path=path)
    joints, interpolated, notes_list = map_joints(capture, resolved)
    notes = [*capture.notes, *notes_list]
    if used_preset is not None and mapping is None:
        how = "given" if preset is not None else "detected from the names"
        notes.insert(0, f"preset {used_preset!r} ({how})")
    known = ~np.isnan(joints).any(axis=(0, 2))  # only toes can still be missing; placed once y is up
    up_axis = detect_up(joints) if up is None else up.strip().lower().lstrip("+")
    with np.errstate(invalid="ignore"):
        joints = joints @ up_rotation(up_axis).T
    height = _height(joints)
    if not (np.isfinite(height) and height > 0):
        raise ValueError(f"{path}: the body has no size (its legs, spine and neck have no length)")
    if unit is None:
        declared = capture.unit_scale
        if declared is not None and 0.7 < height * declared / REFERENCE_HEIGHT < 1.5:
            unit_scale = declared
        else:
            name, unit_scale = detect_unit(joints)
            notes.append(f"unit {name!r} from the body's size")
    elif isinstance(unit, str):
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; valid: {list(UNITS)} or metres per file unit as a number")
        unit_scale = UNITS[unit]
    else:
        unit_scale = float(unit)
        if not (np.isfinite(unit_scale) and unit_scale > 0):
            raise ValueError(f"unit must be positive metres per file unit, got {unit}")
    joints = joints * unit_scale
    notes.append(f"body size {height * unit_scale:.2f} m (thigh + shin + pelvis-to-neck + neck-to-head)")
    if not known.all():
        _place_toes(joints, [JOINT_NAMES[j] for j in np.flatnonzero(~known)])
    else:
        _check_facing(joints, notes)
    joints = resample(joints, capture.fps, fps)
    if len(joints) < 2:
        raise ValueError(
            f"{path}: {len(capture.positions)} frames at {capture.fps:g} fps make {len(joints)} frame at {fps:g} fps; "
            "the features need 2 or more"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        canonical = canonicalize(joints)
        features = canonical_joints_to_features(canonical, continuous_heading=continuous_heading)
    if not (np.isfinite(canonical).all() and np.isfinite(features).all()):
        raise ValueError(
            f"{path}: the motion has no facing direction in some frames (hips or shoulders on top of each other, "
            "or a body lying along the up axis): check the mapping and up="
        )
    for note in notes:
        logger.info("%s: %s", path, note)
    return MotionFile(
        canonical.astype(np.float32),
        features,
        float(fps),
        capture.fps,
        path,
        resolved,
        up_axis,
        unit_scale,
        used_preset,
        interpolated,
        tuple(notes),
    )


def _check_facing(joints: np.ndarray, notes: list[str]) -> None:
    """Note a body whose toes point backwards from its left and right (y up): mirrored axes or swapped sides."""
    J = JOINT_NAMES.index
    left = joints[:, J("l_hip")] - joints[:, J("r_hip")] + joints[:, J("l_shoulder")] - joints[:, J("r_shoulder")]
    forward = np.cross(left, np.array([0.0, 1.0, 0.0]))
    toes = sum(joints[:, J(f"{s}_foot")] - joints[:, J(f"{s}_ankle")] for s in ("l", "r"))
    if np.mean(np.einsum("ti,ti->t", forward, toes) < 0) > 0.5:
        notes.append(
            "the toes point backwards from the body's left and right: the file's axes may be mirrored or its "
            "left and right joints swapped"
        )


# --- writing BVH --------------------------------------------------------------------------------------------


def write_bvh(
    path: str | Path,
    positions: np.ndarray,
    names: Sequence[str],
    parents: Sequence[int],
    *,
    fps: float = FPS,
    order: str = "ZXY",
    offsets: np.ndarray | None = None,
    translations: bool = False,
) -> Path:
    """Write (T, J, 3) global joint positions of any tree (`parents[j] < j`, -1 for the root) as a BVH file,
    in the positions' own units and axes, rotations solved from the positions (`motion.solve_tree_rotations`).

    `offsets` (J, 3) is the rest pose (default: the first frame's bones); `order` the rotation channel order of
    every joint ("ZXY", "XYZ", ...); `translations=True` gives every joint position channels too (as LAFAN1's
    files have), which reproduce the positions exactly even where sibling bones move against each other."""
    path = Path(path)
    positions = np.asarray(positions, dtype=np.float64)
    J = len(names)
    if positions.ndim != 3 or positions.shape[1:] != (J, 3) or len(positions) < 1:
        raise ValueError(f"positions must have shape (T >= 1, {J}, 3) for {J} names, got {positions.shape}")
    if len(parents) != J or parents[0] != -1 or any(not (0 <= parents[j] < j) for j in range(1, J)):
        raise ValueError("parents must give -1 for the first joint and an earlier joint for every other one")
    if len(set(names)) != J or any(not n or any(c.isspace() for c in n) for n in names):
        raise ValueError("joint names must be distinct, non-empty and without spaces")
    if sorted(order.upper()) != ["X", "Y", "Z"]:
        raise ValueError(f"order must be an order of X, Y, Z such as 'ZXY', got {order!r}")
    if not np.isfinite(positions).all():
        raise ValueError("positions hold NaN or Inf values")
    order = order.upper()
    if offsets is None:
        offsets = np.zeros((J, 3))
        offsets[1:] = positions[0, 1:] - positions[0, list(parents[1:])]
    offsets = np.asarray(offsets, dtype=np.float64)
    R = solve_tree_rotations(positions, parents, offsets)
    local = R.copy()
    for j in range(1, J):
        local[:, j] = np.swapaxes(R[:, parents[j]], 1, 2) @ R[:, j]
    T = len(positions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gimbal lock: the angles still give the same matrix
        euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(order, degrees=True).reshape(T, J, 3)
    children = [[c for c in range(J) if parents[c] == j] for j in range(J)]
    rotation_channels = " ".join(f"{axis}rotation" for axis in order)
    lines = ["HIERARCHY"]
    columns: list[np.ndarray] = []

    def write(j: int, depth: int) -> None:
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {names[j]}")
        lines.append(pad + "{")
        o = offsets[j]
        lines.append(f"{pad}\tOFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}")
        if j == 0 or translations:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rotation_channels}")
            step = (
                positions[:, 0]
                if j == 0
                else np.einsum("tji,tj->ti", R[:, parents[j]], positions[:, j] - positions[:, parents[j]])
            )
            columns.append(step)
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rotation_channels}")
        columns.append(euler[:, j])
        for k in children[j]:
            write(k, depth + 1)
        if not children[j]:
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET 0.000000 0.000000 0.000000", pad + "\t}"])
        lines.append(pad + "}")

    write(0, 0)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.8f}"]
    data = np.concatenate(columns, axis=1)
    lines.extend(" ".join(f"{v:.6f}" for v in row) for row in data)
    path.write_text("\n".join(lines) + "\n")
    return path


def save_bvh_as(
    joints: np.ndarray,
    path: str | Path,
    *,
    names: str | Sequence[str] = "mixamo",
    fps: float = FPS,
    unit: str | float = "m",
    up: str = "y",
    order: str = "ZXY",
) -> Path:
    """Write (T, 22, 3) joints (metres, y up, at `fps`) as a BVH file of HumanML3D's skeleton under another
    skeleton's joint names: a preset of `PRESETS` with a name for each of the 22 joints ("mixamo", "lafan1",
    "humanml3d"), or 22 names in our joint order; in `unit` (a name of `UNITS` or metres per unit), with `up`
    the file's up axis and `order` its rotation channel order. The rest pose is a T-pose with the motion's
    mean bone lengths (as `export.save_bvh`); `load_motion` reads the file back."""
    joints = check_joints(joints)
    if isinstance(names, str):
        if names not in PRESETS or len(PRESETS[names]) != NUM_JOINTS:
            full = [p for p, spec in PRESETS.items() if len(spec) == NUM_JOINTS]
            raise ValueError(f"preset {names!r} does not name all 22 joints; valid: {full}, or 22 names")
        joint_names = [PRESETS[names][n][0] for n in JOINT_NAMES]
    else:
        joint_names = list(names)
        if len(joint_names) != NUM_JOINTS:
            raise ValueError(f"names must give 22 joint names in our joint order, got {len(joint_names)}")
    scale = UNITS[unit] if isinstance(unit, str) and unit in UNITS else unit
    if isinstance(scale, str) or not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"unknown unit {unit!r}; valid: {list(UNITS)} or metres per file unit as a number")
    back = up_rotation(up).T  # y up -> the file's axes
    positions = joints @ back.T / scale
    offsets = rest_offsets(joints) @ back.T / scale
    return write_bvh(path, positions, joint_names, PARENTS, fps=fps, order=order, offsets=offsets)
