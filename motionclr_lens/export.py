"""Motions out of the library: BVH for Blender (rotations solved from the joints), GIF and MP4 of the
skeleton, and .npy joints and features.

    save_bvh(joints, "motion.bvh")      # import in Blender with File > Import > Motion Capture (.bvh)
    save_animation(joints, "motion.gif")
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .motion import (
    CHILDREN,
    FPS,
    JOINT_NAMES,
    NUM_JOINTS,
    PARENTS,
    check_joints,
    rest_offsets,
    solve_tree_rotations,
)

__all__ = ["BVH", "read_bvh", "save_animation", "save_bvh", "save_npy", "solve_rotations", "solve_tree_rotations"]


def solve_rotations(joints: np.ndarray, offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations of every joint, (T, 22, 3, 3), that put the rest skeleton (`offsets`, default the
    motion's own bone lengths) onto the joints, and those offsets (`solve_tree_rotations` on HumanML3D's tree)."""
    joints = check_joints(joints)
    if offsets is None:  # bones that keep no length in some frame leave the rest pose undefined
        lengths = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1).min(0)  # (21,)
        collapsed = [j for j in range(1, NUM_JOINTS) if lengths[j - 1] < 1e-9]
        if not collapsed:
            offsets = rest_offsets(joints)
    else:
        offsets = np.asarray(offsets, dtype=np.float64)
        collapsed = [j for j in range(1, NUM_JOINTS) if np.linalg.norm(offsets[j]) < 1e-9]
    if collapsed:
        names = [f"{JOINT_NAMES[PARENTS[j]]}-{JOINT_NAMES[j]}" for j in collapsed[:3]]
        more = ", ..." if len(collapsed) > 3 else ""
        bones = "1 bone has" if len(collapsed) == 1 else f"{len(collapsed)} bones have"
        raise ValueError(
            f"joints: {bones} no length ({', '.join(names)}{more}): the skeleton is collapsed and no rotation "
            "can be solved"
        )
    assert offsets is not None
    return solve_tree_rotations(joints.astype(np.float64), PARENTS, offsets), offsets


@dataclass
class BVH:
    """A BVH motion on the 22-joint skeleton: offsets (22, 3) in metres, root positions (T, 3), local
    rotations (T, 22, 3, 3) (each joint's rotation relative to its parent's), frames per second."""

    offsets: np.ndarray
    positions: np.ndarray
    local: np.ndarray
    fps: float = FPS

    def joints(self) -> np.ndarray:
        """(T, 22, 3) joint positions by forward kinematics."""
        T = len(self.positions)
        glob = np.zeros((T, NUM_JOINTS, 3, 3))
        out = np.zeros((T, NUM_JOINTS, 3))
        for j in range(NUM_JOINTS):
            p = PARENTS[j]
            if p < 0:
                glob[:, j] = self.local[:, j]
                out[:, j] = self.positions
            else:
                glob[:, j] = glob[:, p] @ self.local[:, j]
                out[:, j] = out[:, p] + np.einsum("tij,j->ti", glob[:, p], self.offsets[j])
        return out


ORDER = "ZXY"  # channel order of every joint: Zrotation Xrotation Yrotation, intrinsic, as most BVH files


def to_bvh(joints: np.ndarray, fps: float = FPS) -> BVH:
    """Solve a BVH (offsets and local rotations) from (T, 22, 3) joints."""
    joints = check_joints(joints)
    R, offsets = solve_rotations(joints)
    local = R.copy()
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(R[:, PARENTS[j]], 1, 2) @ R[:, j]
    return BVH(offsets, joints[:, 0].copy(), local, fps)


def save_bvh(joints: np.ndarray, path: str | Path, fps: float = FPS) -> Path:
    """Write (T, 22, 3) joints (metres, y up) as a BVH file with HumanML3D's joint names; Blender imports
    it as an armature whose bones follow the joints (metres, y up).

    A BVH skeleton is rigid: its bones take the motion's mean lengths. Motions with constant bones (the
    world's, HumanML3D's) come back exactly (`read_bvh(path).joints()`); a generated motion, whose bone
    lengths drift by a few percent, comes back within that drift."""
    bvh = to_bvh(joints, fps)
    path = Path(path)
    lines = ["HIERARCHY"]

    def write(j: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if PARENTS[j] < 0 else "JOINT"
        lines.append(f"{pad}{head} {JOINT_NAMES[j]}")
        lines.append(pad + "{")
        o = bvh.offsets[j]
        lines.append(f"{pad}  OFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}")
        channels = "Xposition Yposition Zposition " if PARENTS[j] < 0 else ""
        count = 6 if PARENTS[j] < 0 else 3
        lines.append(f"{pad}  CHANNELS {count} {channels}Zrotation Xrotation Yrotation")
        if CHILDREN[j]:
            for k in CHILDREN[j]:
                write(k, depth + 1)
        else:
            lines.append(f"{pad}  End Site")
            lines.append(pad + "  {")
            lines.append(f"{pad}    OFFSET 0.000000 0.000000 0.000000")
            lines.append(pad + "  }")
        lines.append(pad + "}")

    write(0, 0)
    T = len(bvh.positions)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.6f}"]
    euler = Rotation.from_matrix(bvh.local.reshape(-1, 3, 3)).as_euler(ORDER, degrees=True).reshape(T, NUM_JOINTS, 3)
    order = _depth_first()
    for t in range(T):
        values = list(bvh.positions[t]) + [a for j in order for a in euler[t, j]]
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def _depth_first() -> list[int]:
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for k in CHILDREN[j]:
            visit(k)

    visit(0)
    return order


def read_bvh(path: str | Path) -> BVH:
    """Read a BVH file of the 22-joint skeleton with HumanML3D's joint names (as `save_bvh` writes, any
    rotation channel order). Files of other skeletons: `motionclr_lens.io.load_motion`. A file that cannot be
    read (unbalanced braces, a truncated MOTION section, a zero Frame Time, NaN values) is a ValueError naming
    the file and the line."""
    from .io import parse_bvh

    bvh = parse_bvh(path)
    names = {name: i for i, name in enumerate(JOINT_NAMES)}
    unknown = [n for n in bvh.names if n not in names]
    if unknown:
        raise ValueError(
            f"{path}: joint {unknown[0]!r} not one of the 22 joints {list(JOINT_NAMES)}; "
            "motionclr_lens.io.load_motion reads other skeletons"
        )
    order = [names[n] for n in bvh.names]
    parents = [-1 if p < 0 else order[p] for p in bvh.parents]
    if len(order) != NUM_JOINTS or any(parents[k] != PARENTS[j] for k, j in enumerate(order)):
        raise ValueError(
            f"{path}: not HumanML3D's hierarchy of 22 joints; motionclr_lens.io.load_motion reads other skeletons"
        )
    if any(c.lower().endswith("position") for ch in bvh.channels[1:] for c in ch):
        raise ValueError(f"{path}: position channels below the root; motionclr_lens.io.load_motion reads them")
    T = len(bvh.values)
    offsets = np.zeros((NUM_JOINTS, 3))
    offsets[order] = bvh.offsets
    local = np.zeros((T, NUM_JOINTS, 3, 3))
    local[:, order] = bvh.local_rotations()
    root = bvh.translations()[:, bvh.parents.index(-1)]
    return BVH(offsets, root, local, 1.0 / bvh.frame_time)


def save_npy(
    folder: str | Path, joints: np.ndarray, features: np.ndarray | None = None, name: str = "motion"
) -> list[Path]:
    """Write `{name}_joints.npy` (T, 22, 3) and, if given, `{name}_features.npy` (T, 263) into a folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{name}_joints.npy"]
    np.save(written[0], check_joints(joints).astype(np.float32))
    if features is not None:
        written.append(folder / f"{name}_features.npy")
        np.save(written[1], np.asarray(features, dtype=np.float32))
    return written


def _find_ffmpeg() -> str:
    """ffmpeg on PATH, else the binary of the imageio-ffmpeg package; set for matplotlib's writer."""
    import matplotlib

    path = shutil.which("ffmpeg")
    if path is None:
        try:
            import imageio_ffmpeg

            path = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            raise RuntimeError(
                "writing MP4 needs ffmpeg: on PATH (`apt install ffmpeg`) or `pip install imageio-ffmpeg`; "
                "GIF needs nothing"
            ) from None
    matplotlib.rcParams["animation.ffmpeg_path"] = path
    return path


def save_animation(
    joints: np.ndarray,
    path: str | Path,
    fps: float = FPS,
    title: str | None = None,
    size: tuple[float, float] = (4.0, 4.0),
    dpi: int = 80,
) -> Path:
    """A GIF (Pillow) or MP4 (ffmpeg, which must be on PATH) of the skeleton seen from the side, with the
    floor and the root's path; the format follows the file's suffix."""
    import matplotlib.pyplot as plt
    from matplotlib import animation

    from .motion import KINEMATIC_CHAINS
    from .viz.figures import CHAIN_COLORS

    joints = check_joints(joints)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"unknown animation format {path.suffix!r}; valid: '.gif', '.mp4'")
    if suffix == ".mp4":
        _find_ffmpeg()
    fig = plt.figure(figsize=size, dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    lo, hi = joints.min((0, 1)), joints.max((0, 1))
    centre, half = (lo + hi) / 2, max(float((hi - lo)[[0, 2]].max()) / 2 + 0.3, 0.9)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[2] - half, centre[2] + half)
    ax.set_zlim(0, max(2.0, float(hi[1]) + 0.1))
    ax.set_box_aspect((1, 1, max(2.0, float(hi[1]) + 0.1) / (2 * half)), zoom=1.25)
    ax.set_position((0.0, 0.0, 1.0, 0.9 if title else 1.0))
    ax.view_init(elev=15, azim=-60)
    ax.set_axis_off()
    ax.computed_zorder = False  # the floor stays behind the skeleton
    xx, zz = np.meshgrid([centre[0] - half, centre[0] + half], [centre[2] - half, centre[2] + half])
    ax.plot_surface(xx, zz, np.zeros_like(xx), color="#d9d4c7", alpha=0.5, shade=False, zorder=0)
    ax.plot(joints[:, 0, 0], joints[:, 0, 2], np.zeros(len(joints)), color="#777777", lw=1, ls=":", zorder=1)
    lines = [ax.plot([], [], [], color=c, lw=2.5, solid_capstyle="round", zorder=3)[0] for c in CHAIN_COLORS]
    if title:
        import textwrap

        fig.suptitle("\n".join(textwrap.wrap(title, 48)), fontsize=8)

    def draw(f: int) -> list:
        for line, chain in zip(lines, KINEMATIC_CHAINS, strict=True):
            p = joints[f, list(chain)]
            line.set_data_3d(p[:, 0], p[:, 2], p[:, 1])
        return lines

    anim = animation.FuncAnimation(fig, draw, frames=len(joints), interval=1000 / fps, blit=False)
    writer = animation.PillowWriter(fps=round(fps)) if suffix == ".gif" else animation.FFMpegWriter(fps=round(fps))
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(str(path), writer=writer)
    plt.close(fig)
    return path
