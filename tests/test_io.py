"""Motion capture files in: BVH of other skeletons and ASF/AMC, written here from the world's motions in other
joint names, channel orders, units, up axes and rates, read back onto HumanML3D's skeleton and compared with
the same motion put through the same canonicalisation."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation, Slerp

from motionclr_lens.export import BVH, read_bvh, save_bvh, to_bvh
from motionclr_lens.io import (
    PRESETS,
    UNITS,
    Capture,
    MotionFileError,
    detect_preset,
    detect_unit,
    detect_up,
    load_motion,
    map_joints,
    parse_amc,
    parse_asf,
    parse_bvh,
    read_capture,
    resample,
    resolve_mapping,
    save_bvh_as,
    up_rotation,
    write_bvh,
)
from motionclr_lens.motion import (
    JOINT_NAMES,
    PARENTS,
    canonical_joints_to_features,
    canonicalize,
    joints_to_features,
    minimal_rotation,
    recover_from_ric,
)
from motionclr_lens.world import make_sample

J = JOINT_NAMES.index


@pytest.fixture(scope="module")
def motions() -> dict[int, np.ndarray]:
    """World motions (T, 22, 3), metres, y up, 20 fps: 4 shuffles and turns, 8 walks around a circle."""
    return {i: make_sample(0, "train", i).joints.astype(np.float64) for i in (4, 8)}


def upsample(joints: np.ndarray, fps: float) -> np.ndarray:
    """20 fps joints -> `fps`, bones kept rigid: local rotations slerped, the root's path linear. Every 20 fps
    frame is reproduced where fps is a multiple of 20 (linear interpolation of positions would shorten bones)."""
    bvh = to_bvh(joints)
    T = len(joints)
    src = np.arange(T) / 20.0
    t = np.arange(int(np.floor((T - 1) * fps / 20 + 1e-9)) + 1) / fps
    local = np.stack([Slerp(src, Rotation.from_matrix(bvh.local[:, j]))(t).as_matrix() for j in range(22)], axis=1)
    root = np.stack([np.interp(t, src, bvh.positions[:, k]) for k in range(3)], axis=1)
    return BVH(bvh.offsets, root, local, fps).joints()


def errors(loaded, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint distances (T, 22) between the loaded joints and the truth's canonical joints, and the absolute
    feature differences without the foot contacts (binary: a threshold flips with sub-millimetre changes); both
    from the same canonicalisation."""
    reference = canonicalize(truth[: len(loaded.joints)])
    features = canonical_joints_to_features(reference, continuous_heading=True)
    distance = np.linalg.norm(loaded.joints - reference, axis=-1)
    return distance, np.abs(loaded.features - features)[:, :259]


def check_shapes(loaded, frames: int) -> None:
    assert loaded.joints.shape == (frames, 22, 3) and loaded.joints.dtype == np.float32
    assert loaded.features.shape == (frames - 1, 263) and loaded.features.dtype == np.float32
    assert np.isfinite(loaded.features).all()


# --- BVH of other skeletons ---------------------------------------------------------------------------------


def test_mixamo_names_z_up_centimetres_30_fps(tmp_path, motions):
    """Mixamo's names (prefixed), XYZ channels, centimetres, Z up, 30 fps. Every other 20 fps frame falls
    between two 30 fps frames, where linear resampling cuts the corner of the motion: measured 1.0 mm mean and
    1.2 cm at worst (0.8 to 5 mm mean, 1.1 to 2.4 cm at worst over five world motions)."""
    joints = motions[4]
    path = save_bvh_as(
        upsample(joints, 30), tmp_path / "mixamo.bvh", names="mixamo", fps=30, unit="cm", up="z", order="XYZ"
    )
    assert "ROOT mixamorig:Hips" in path.read_text() and "Xrotation Yrotation Zrotation" in path.read_text()
    loaded = load_motion(path)
    assert (loaded.preset, loaded.up_axis, loaded.unit_scale, loaded.source_fps) == ("mixamo", "z", 0.01, 30.0)
    assert loaded.mapping_used["l_wrist"] == "mixamorig:LeftHand" and loaded.interpolated == ()
    check_shapes(loaded, len(joints) - 1)  # 163 frames over 8.15 s at 30 fps end 1/60 s before the last 20 fps frame
    distance, features = errors(loaded, joints)
    assert distance.mean() < 0.003 and distance.max() < 0.03
    assert features.mean() < 0.002


def test_lafan1_names_six_channels_60_fps_is_exact(tmp_path, motions):
    """LAFAN1's names with position channels on every joint (as its files have), ZYX, centimetres, 60 fps: the
    positions come back exactly (to 1e-5 m: the file's 6 decimals)."""
    joints = motions[8]
    names = [PRESETS["lafan1"][n][0] for n in JOINT_NAMES]
    path = write_bvh(
        tmp_path / "lafan1.bvh", upsample(joints, 60) * 100, names, PARENTS, fps=60, order="ZYX", translations=True
    )
    text = path.read_text()
    assert text.count("CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation") == 22
    loaded = load_motion(path)
    assert (loaded.preset, loaded.up_axis, loaded.unit_scale, loaded.source_fps) == ("lafan1", "y", 0.01, 60.0)
    check_shapes(loaded, len(joints))
    distance, features = errors(loaded, joints)
    assert distance.max() < 2e-5 and features.max() < 5e-5


def test_own_bvh_reads_with_the_humanml3d_preset(tmp_path, motions):
    joints = motions[4]
    loaded = load_motion(save_bvh(joints, tmp_path / "own.bvh"))
    assert (loaded.preset, loaded.unit_scale, loaded.source_fps) == ("humanml3d", 1.0, 20.0)
    distance, features = errors(loaded, joints)
    assert distance.max() < 1e-5 and features.max() < 1e-4


def reduced(joints: np.ndarray, drop: tuple[str, ...]) -> tuple[np.ndarray, list[str], list[int]]:
    """The motion on a skeleton without the joints `drop` (each child hangs from the nearest kept ancestor)."""
    keep = [j for j, n in enumerate(JOINT_NAMES) if n not in drop]

    def kept_parent(j: int) -> int:
        p = PARENTS[j]
        while JOINT_NAMES[p] in drop:
            p = PARENTS[p]
        return keep.index(p)

    parents = [-1] + [kept_parent(j) for j in keep[1:]]
    return joints[:, keep], [JOINT_NAMES[j] for j in keep], parents


def test_a_skeleton_with_one_spine_joint_and_no_collars(tmp_path, motions):
    """Hips - Spine - Neck, the arms on the spine (no collars), inches, YXZ, 60 fps: spine2, spine3 and the
    collars are interpolated. Their error moves whatever hangs below them (the retargeting keeps bone
    directions): measured 3.6 mm mean over the 22 joints, 7 mm on the arms, 1.2 cm at worst; the legs move
    by 1.4 mm at most (the facing, read from the hips and the shoulders, turns the whole body a little)."""
    joints = motions[4]
    positions, ours, parents = reduced(upsample(joints, 60), ("spine2", "spine3", "l_collar", "r_collar"))
    names = {n: PRESETS["lafan1"][n][0] for n in JOINT_NAMES}
    path = write_bvh(
        tmp_path / "one_spine.bvh", positions / 0.0254, [names[n] for n in ours], parents, fps=60, order="YXZ",
        translations=True,
    )  # fmt: skip
    loaded = load_motion(path)
    assert loaded.unit_scale == pytest.approx(UNITS["inch"]) and loaded.source_fps == 60.0
    assert set(loaded.interpolated) == {"spine2", "spine3", "l_collar", "r_collar"}
    assert any("interpolated" in note for note in loaded.notes)
    check_shapes(loaded, len(joints))
    distance, _ = errors(loaded, joints)
    arms = [J(n) for n in ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist")]
    assert distance.mean() < 0.006 and distance[:, arms].mean() < 0.012 and distance.max() < 0.025
    legs = [J(n) for n in ("l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_foot", "r_foot")]
    assert distance[:, legs].max() < 0.005


def test_a_skeleton_without_collars_keeps_rigid_channels_exact_elsewhere(tmp_path, motions):
    """Three rotation channels per joint (the shoulders hang from spine3, a rigid layout in the world's
    motions): only the collars are interpolated; measured 2.6 mm mean, 4.9 mm on the arms, 1.0 cm at worst,
    1.2 mm at most elsewhere."""
    joints = motions[8]
    positions, ours, parents = reduced(joints, ("l_collar", "r_collar"))
    path = write_bvh(tmp_path / "no_collars.bvh", positions, ours, parents, fps=20, order="ZXY")
    loaded = load_motion(path)
    assert loaded.preset == "humanml3d" and loaded.interpolated == ("l_collar", "r_collar")
    distance, features = errors(loaded, joints)
    arms = [J(n) for n in ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist")]
    assert distance.mean() < 0.005 and distance[:, arms].mean() < 0.01 and distance.max() < 0.02
    body = [J(n) for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head", "l_knee", "r_foot")]
    assert distance[:, body].max() < 0.004 and features.mean() < 0.01


# --- ASF/AMC ------------------------------------------------------------------------------------------------

ACCLAIM_UNIT = 0.0254 / 0.45  # metres per unit of CMU's and HDM05's files

# CMU's bones: name, parent, end point (our joint, or a joint extended along its parent bone), T-pose direction,
# axis (degrees, XYZ), dof. A bone starts at its parent's end; the clavicles start at the thorax's end.
CMU_BONES: list[tuple[str, str, str | tuple[str, str, float], tuple[float, float, float], tuple[float, ...], str]] = [
    ("lhipjoint", "root", "l_hip", (0.63, -0.68, 0.36), (0, 0, 0), ""),
    ("lfemur", "lhipjoint", "l_knee", (0.34, -0.94, 0), (0, 0, 20), "rx ry rz"),
    ("ltibia", "lfemur", "l_ankle", (0.34, -0.94, 0), (0, 0, 20), "rx ry rz"),
    ("lfoot", "ltibia", "l_foot", (0.18, -0.48, 0.86), (-90, 0, 20), "rx ry rz"),
    ("ltoes", "lfoot", ("l_foot", "l_ankle", 0.3), (0, 0, 1), (-90, 0, 20), "rx ry rz"),
    ("rhipjoint", "root", "r_hip", (-0.63, -0.68, 0.36), (0, 0, 0), ""),
    ("rfemur", "rhipjoint", "r_knee", (-0.34, -0.94, 0), (0, 0, -20), "rx ry rz"),
    ("rtibia", "rfemur", "r_ankle", (-0.34, -0.94, 0), (0, 0, -20), "rx ry rz"),
    ("rfoot", "rtibia", "r_foot", (-0.18, -0.48, 0.86), (-90, 0, -20), "rx ry rz"),
    ("rtoes", "rfoot", ("r_foot", "r_ankle", 0.3), (0, 0, 1), (-90, 0, -20), "rx ry rz"),
    ("lowerback", "root", "spine1", (0, 1, -0.1), (0, 0, 0), "rx ry rz"),
    ("upperback", "lowerback", "spine2", (0, 1, 0), (0, 0, 0), "rx ry rz"),
    ("thorax", "upperback", "spine3", (0, 1, 0.05), (0, 0, 0), "rx ry rz"),
    ("lowerneck", "thorax", "neck", (0, 1, -0.06), (0, 0, 0), "rx ry rz"),
    ("upperneck", "lowerneck", "head", (0, 1, -0.1), (0, 0, 0), "rx ry rz"),
    ("head", "upperneck", ("head", "neck", 0.9), (0, 1, 0), (0, 0, 0), "rx ry rz"),
    ("lclavicle", "thorax", "l_shoulder", (1, 0.04, -0.07), (0, 0, 0), "ry rz rx"),
    ("lhumerus", "lclavicle", "l_elbow", (1, 0, 0), (180, -30, -90), "rx ry rz"),
    ("lradius", "lhumerus", "l_wrist", (1, 0, 0), (180, -30, -90), "rx ry rz"),
    ("lwrist", "lradius", ("l_wrist", "l_elbow", 0.3), (1, 0, 0), (0, 90, 90), "rx ry rz"),
    ("rclavicle", "thorax", "r_shoulder", (-1, 0.01, 0.07), (0, 0, 0), "ry rz rx"),
    ("rhumerus", "rclavicle", "r_elbow", (-1, 0, 0), (180, 30, 90), "rx ry rz"),
    ("rradius", "rhumerus", "r_wrist", (-1, 0, 0), (180, 30, 90), "rx ry rz"),
    ("rwrist", "rradius", ("r_wrist", "r_elbow", 0.3), (-1, 0, 0), (0, -90, -90), "rx ry rz"),
]


def write_asf_amc(folder: Path, joints: np.ndarray, name: str = "01") -> tuple[Path, Path]:
    """The motion (metres, y up) as CMU's ASF/AMC: Acclaim units (inches / 0.45), degrees; the root's rotation
    fits the hips and the lower back (Kabsch), every other bone turns by the shortest arc from its parent's
    frame, stored as AMC angles relative to its axis: M = C^-1 W_parent^-1 W C."""
    T = len(joints)
    points = {"root": joints[:, 0]}
    for bone, _, end, *_ in CMU_BONES:
        if isinstance(end, tuple):
            a, b, k = end
            points[bone] = joints[:, J(a)] + k * (joints[:, J(a)] - joints[:, J(b)])
        else:
            points[bone] = joints[:, J(end)]
    start = {bone: points[parent] for bone, parent, *_ in CMU_BONES}
    length = {bone: np.linalg.norm(points[bone][0] - start[bone][0]) for bone, *_ in CMU_BONES}
    rest = {bone: np.array(d) / np.linalg.norm(d) for bone, _, _, d, _, _ in CMU_BONES}
    root_kids = ["lhipjoint", "rhipjoint", "lowerback"]
    for bone in root_kids:  # the pelvis's own layout at rest, so that the hips (no dof) follow the root exactly
        rest[bone] = (points[bone][0] - start[bone][0]) / length[bone]
    A = np.stack([rest[b] * length[b] for b in root_kids])
    B = np.stack([points[b] - start[b] for b in root_kids], axis=1)
    U, _, Vt = np.linalg.svd(np.einsum("ki,tkj->tij", A, B))
    V, Ut = np.swapaxes(Vt, 1, 2), np.swapaxes(U, 1, 2)
    D = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
    D[:, 2, 2] = np.sign(np.linalg.det(V @ Ut))
    W = {"root": V @ D @ Ut}
    root_angles = Rotation.from_matrix(W["root"]).as_euler("xyz", degrees=True)
    amc = {"root": np.concatenate([joints[:, 0] / ACCLAIM_UNIT, root_angles], axis=1)}
    for bone, parent, _, _, axis, dof in CMU_BONES:
        if not dof:
            W[bone] = W[parent]
            continue
        now = points[bone] - start[bone]
        now /= np.linalg.norm(now, axis=1, keepdims=True)
        W[bone] = minimal_rotation(np.einsum("tij,j->ti", W[parent], rest[bone]), now) @ W[parent]
        C = Rotation.from_euler("xyz", axis, degrees=True).as_matrix()
        M = C.T @ np.swapaxes(W[parent], 1, 2) @ W[bone] @ C
        amc[bone] = Rotation.from_matrix(M).as_euler("".join(d[1] for d in dof.split()), degrees=True)
    lines = [
        "# ASF written from a world motion", ":version 1.10", ":name VICON", ":units", "  mass 1.0",
        "  length 0.45", "  angle deg", ":documentation", "   test skeleton", ":root", "   order TX TY TZ RX RY RZ",
        "   axis XYZ", "   position 0 0 0", "   orientation 0 0 0", ":bonedata",
    ]  # fmt: skip
    for k, (bone, _, _, _, axis, dof) in enumerate(CMU_BONES):
        d = rest[bone]
        lines += [
            "  begin",
            f"     id {k + 1}",
            f"     name {bone}",
            f"     direction {d[0]:.9f} {d[1]:.9f} {d[2]:.9f}",
        ]
        lines += [f"     length {length[bone] / ACCLAIM_UNIT:.9f}", f"     axis {axis[0]} {axis[1]} {axis[2]}  XYZ"]
        if dof:
            lines += [f"    dof {dof}", "    limits (-180.0 180.0)"] + ["           (-180.0 180.0)"] * 2
        lines.append("  end")
    lines += [":hierarchy", "  begin"]
    children: dict[str, list[str]] = {}
    for bone, parent, *_ in CMU_BONES:
        children.setdefault(parent, []).append(bone)
    lines += [f"    {parent} {' '.join(kids)}" for parent, kids in children.items()] + ["  end"]
    asf = folder / f"{name}.asf"
    asf.write_text("\n".join(lines) + "\n")
    rows = ["#!OML:ASF " + asf.name, ":FULLY-SPECIFIED", ":DEGREES"]
    for t in range(T):
        rows.append(str(t + 1))
        rows += [f"{bone} " + " ".join(f"{v:.6f}" for v in values[t]) for bone, values in amc.items()]
    amc_path = folder / f"{name}_01.amc"
    amc_path.write_text("\n".join(rows) + "\n")
    return asf, amc_path


def test_cmu_asf_amc_at_120_fps(tmp_path, motions):
    """CMU's bone names and units at 120 fps; the ASF is found beside the AMC (CMU's `01.asf` for
    `01_01.amc`). Only the collars are interpolated (CMU's clavicle runs from the thorax to the shoulder), as
    in the BVH without collars: measured 2.6 mm mean, 4.9 mm on the arms, 1.0 cm at worst."""
    joints = motions[8]
    asf, amc = write_asf_amc(tmp_path, upsample(joints, 120))
    loaded = load_motion(amc)
    assert loaded.preset == "cmu" and loaded.source_fps == 120.0 and loaded.up_axis == "y"
    assert loaded.unit_scale == pytest.approx(ACCLAIM_UNIT) and loaded.interpolated == ("l_collar", "r_collar")
    assert loaded.mapping_used["l_knee"] == "lfemur" and loaded.mapping_used["head"] == "upperneck"
    check_shapes(loaded, len(joints))
    distance, features = errors(loaded, joints)
    arms = [J(n) for n in ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist")]
    assert distance.mean() < 0.005 and distance[:, arms].mean() < 0.01 and distance.max() < 0.02
    body = [J(n) for n in ("pelvis", "l_hip", "r_knee", "l_ankle", "r_foot", "spine1", "spine3", "neck", "head")]
    assert distance[:, body].max() < 0.004 and features.mean() < 0.01
    # the bones' ends, before any mapping, are the points written
    capture = read_capture(amc, amc_skeleton=asf)
    ends = capture.positions[:, capture.names.index("lradius")] * ACCLAIM_UNIT
    np.testing.assert_allclose(ends, upsample(joints, 120)[:, J("l_wrist")], atol=1e-5)


def test_acclaim_conventions_on_a_hand_computed_pose(tmp_path):
    """A bone's world rotation is C M C^-1 (C from its axis, M from its dof in their order about fixed axes):
    axis 0 0 90 turns the bone's x axis onto the world's y, so `rx 90` turns the bone (1, 0, 0) * 2 about y, to
    (0, 0, -2). The root's RX/RY/RZ compose the same way: RX 90 then RZ 90 (Rz Rx) takes (0, 1, 0) to (0, 0, 1)."""
    asf = tmp_path / "two.asf"
    asf.write_text(
        ":units\n  length 1\n  angle deg\n:root\n  order TX TY TZ RX RY RZ\n  axis XYZ\n  position 0 0 0\n"
        "  orientation 0 0 0\n:bonedata\n  begin\n    id 1\n    name arm\n    direction 1 0 0\n    length 2\n"
        "    axis 0 0 90 XYZ\n    dof rx\n    limits (-180 180)\n  end\n  begin\n    id 2\n    name up\n"
        "    direction 0 1 0\n    length 1\n    axis 0 0 0 XYZ\n  end\n:hierarchy\n  begin\n    root arm up\n  end\n"
    )
    skeleton = parse_asf(asf)
    amc = tmp_path / "two.amc"
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 1 2 3 0 0 0\narm 90\n2\nroot 0 0 0 90 0 90\narm 0\n")
    positions = skeleton.positions(parse_amc(amc, skeleton))
    np.testing.assert_allclose(positions[0], [[1, 2, 3], [1, 2, 1], [1, 3, 3]], atol=1e-12)
    np.testing.assert_allclose(positions[1, 2], [0, 0, 1], atol=1e-12)  # Rz(90) Rx(90) (0, 1, 0)
    np.testing.assert_allclose(positions[1, 1], Rotation.from_euler("z", 90, degrees=True).apply([2, 0, 0]), atol=1e-12)


# --- BVH conventions ----------------------------------------------------------------------------------------


def rx(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


BY_AXIS = {"X": rx, "Y": ry, "Z": rz}


def tiny_bvh(order: str, root_angles: tuple[float, float, float], child_angles=(0.0, 0.0, 0.0)) -> str:
    channels = " ".join(f"{a}rotation" for a in order)
    return (
        "HIERARCHY\nROOT r\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition " + channels + "\n"
        "  JOINT c\n  {\n    OFFSET 1 0 0\n    CHANNELS 3 "
        + channels
        + "\n    End Site\n    {\n      OFFSET 0 2 0\n    }\n"
        "  }\n}\nMOTION\nFrames: 1\nFrame Time: 0.05\n"
        + " ".join(str(v) for v in (10, 20, 30, *root_angles, *child_angles))
        + "\n"
    )


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX", "YXZ"])
def test_bvh_channels_are_intrinsic_rotations_in_the_listed_order(tmp_path, order):
    """`CHANNELS ... Zrotation Xrotation Yrotation` with values a b c is R = Rz(a) Rx(b) Ry(c) (matrices built by
    hand here); the child's End Site turns with both rotations."""
    path = tmp_path / "tiny.bvh"
    root, child = (30.0, 60.0, -45.0), (20.0, -70.0, 15.0)
    path.write_text(tiny_bvh(order, root, child))
    R = BY_AXIS[order[0]](root[0]) @ BY_AXIS[order[1]](root[1]) @ BY_AXIS[order[2]](root[2])
    Rc = BY_AXIS[order[0]](child[0]) @ BY_AXIS[order[1]](child[1]) @ BY_AXIS[order[2]](child[2])
    p = parse_bvh(path).positions(end_sites=True)[0]
    base = np.array([10.0, 20.0, 30.0])
    np.testing.assert_allclose(p[0], base, atol=1e-12)
    np.testing.assert_allclose(p[1], base + R @ [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(p[2], base + R @ [1, 0, 0] + R @ Rc @ [0, 2, 0], atol=1e-12)
    # the extrinsic reading (the reversed product) would put the child elsewhere
    wrong = BY_AXIS[order[2]](root[2]) @ BY_AXIS[order[1]](root[1]) @ BY_AXIS[order[0]](root[0])
    assert np.abs(wrong - R).max() > 0.1


def test_position_channels_on_a_child_replace_its_offset(tmp_path):
    text = tiny_bvh("ZXY", (0, 0, 90)).replace(
        "OFFSET 1 0 0\n    CHANNELS 3", "OFFSET 1 0 0\n    CHANNELS 6 Xposition Yposition Zposition"
    )
    text = text.replace("10 20 30 0 0 90 0.0 0.0 0.0", "10 20 30 0 0 90 0 0 5 0 0 0")
    path = tmp_path / "pos.bvh"
    path.write_text(text)
    p = parse_bvh(path).positions()[0]
    np.testing.assert_allclose(p[1], [10 + 5, 20, 30], atol=1e-12)  # Ry(90) takes (0, 0, 5) to (5, 0, 0)


# --- presets, mapping, up, units, rate -----------------------------------------------------------------------


def test_presets_are_detected_from_the_names():
    mixamo = [PRESETS["mixamo"][n][0] for n in JOINT_NAMES]
    assert detect_preset(mixamo) == ("mixamo", 22)
    assert detect_preset([n.split(":")[1] for n in mixamo])[0] == "mixamo"  # without the namespace prefix
    lafan1 = [PRESETS["lafan1"][n][0] for n in JOINT_NAMES]
    assert detect_preset(lafan1) == ("lafan1", 22)  # LeftToe, not LeftToeBase
    assert detect_preset(list(JOINT_NAMES)) == ("humanml3d", 22)
    smpl = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
            "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
            "R_Elbow", "L_Wrist", "R_Wrist"]  # fmt: skip
    assert detect_preset(smpl) == ("humanml3d", 22)
    cmu = ["root", *(bone for bone, *_ in CMU_BONES), "lhand", "lfingers", "lthumb"]
    assert detect_preset(cmu) == ("cmu", 20)  # no collar bones: they are interpolated
    assert PRESETS["hdm05"] == PRESETS["cmu"]  # the same Vicon skeleton
    assert detect_preset(["a", "b", "c"])[1] == 0


def test_an_explicit_mapping_reads_an_unknown_skeleton(tmp_path, motions):
    joints = motions[4][:30]
    odd = [f"jnt_{k:02d}" for k in range(22)]
    path = write_bvh(tmp_path / "odd.bvh", joints, odd, PARENTS, fps=20)
    with pytest.raises(ValueError) as error:
        load_motion(path)
    message = str(error.value)
    assert str(path) in message and "'l_hip'" in message and "jnt_00" in message and "mapping=" in message
    mapping = dict(zip(JOINT_NAMES, odd, strict=True))
    loaded = load_motion(path, mapping=mapping)
    assert loaded.mapping_used == mapping and loaded.preset is None
    distance, _ = errors(loaded, joints)
    assert distance.max() < 1e-5
    # a preset with an override: the file's "Spine" named as spine1 stays, "neck" taken from elsewhere
    resolved, preset = resolve_mapping(["Hips", "Spine", "Neck", "Head"], preset="lafan1", mapping={"neck": "Head"})
    assert preset == "lafan1" and resolved == {"pelvis": "Hips", "spine1": "Spine", "neck": "Head", "head": "Head"}
    with pytest.raises(ValueError, match=r"mapping key 'wrist' is not one of our joints; valid: \['pelvis'"):
        load_motion(path, mapping={"wrist": "jnt_20"})
    with pytest.raises(ValueError, match=r"the file has no joint 'hand'; its joints: \['jnt_00'"):
        load_motion(path, mapping={"l_wrist": "hand"})
    with pytest.raises(ValueError, match=r"unknown preset 'vicon'; valid: \['humanml3d', 'cmu'"):
        load_motion(path, preset="vicon")


def test_a_z_up_file_is_turned_not_mirrored(tmp_path, motions):
    """Z up turns to y up by a rotation: the left wrist stays on the body's left, the left being found from
    the toes' direction and up (not from the joints' names). The same motion mirrored is noted, and its left
    wrist lands on the body's right."""
    joints = motions[4]

    def left_side(j: np.ndarray) -> np.ndarray:
        forward = (j[:, J("l_foot")] - j[:, J("l_ankle")]) + (j[:, J("r_foot")] - j[:, J("r_ankle")])
        left = np.cross([0.0, 1.0, 0.0], forward)
        return np.einsum("ti,ti->t", j[:, J("l_wrist")] - j[:, J("r_wrist")], left)

    assert (left_side(canonicalize(joints)) > 0).mean() > 0.95
    for up in ("z", "-z", "x", "-y"):
        assert np.linalg.det(up_rotation(up)) == pytest.approx(1.0)
        path = save_bvh_as(joints, tmp_path / f"up_{up}.bvh", names="lafan1", up=up, unit="cm")
        loaded = load_motion(path)
        assert loaded.up_axis == up.lstrip("+")
        assert (left_side(loaded.joints) > 0).mean() > 0.95
        assert not any("mirrored" in n for n in loaded.notes)
        assert errors(loaded, joints)[0].max() < 1e-4
    mirrored = save_bvh_as(joints * [-1, 1, 1], tmp_path / "mirrored.bvh", names="lafan1")
    loaded = load_motion(mirrored)
    assert (left_side(loaded.joints) < 0).mean() > 0.95
    assert any("mirrored" in n for n in loaded.notes)


def test_up_axis_and_unit_detection(motions):
    joints = motions[8]
    for up in ("y", "z", "-z", "x", "-x", "-y"):
        assert detect_up(joints @ up_rotation(up)) == up  # rows: R^T p, the y-up motion in the file's axes
    for name, scale in UNITS.items():
        if name == "ft":
            continue  # 4.8 ft bodies are too rare a unit to tell from metres at a child's size; given, it works
        assert detect_unit(joints / scale) == (name, scale)
    with pytest.raises(ValueError, match=r"unknown up axis 'w'; valid: \['y', '-y', 'z'"):
        up_rotation("w")


def test_unit_and_up_can_be_given(tmp_path, motions):
    joints = motions[4][:40]
    path = save_bvh_as(joints, tmp_path / "mm.bvh", names="mixamo", unit="mm", up="z")
    loaded = load_motion(path, unit=0.001, up="z")
    assert loaded.unit_scale == 0.001 and errors(loaded, joints)[0].max() < 1e-4
    assert load_motion(path, unit="mm").unit_scale == 0.001
    wrong = load_motion(path, unit="cm")  # ten times too big: the retargeting keeps the pose, not the path
    assert wrong.unit_scale == 0.01
    with pytest.raises(ValueError, match=r"unknown unit 'furlong'; valid: \['m', 'cm'"):
        load_motion(path, unit="furlong")


def test_resampling_keeps_time(motions):
    t = np.arange(121) / 120.0  # one second at 120 fps
    ramp = np.stack([t, t**2, np.sin(t)], axis=1)
    out = resample(ramp, 120, 20)
    assert out.shape == (21, 3)
    np.testing.assert_allclose(out, ramp[::6], atol=1e-12)
    for rate in (30, 60, 120, 24):
        up = resample(ramp[::6], 20, rate)
        assert len(up) == int(np.floor(20 * rate / 20 + 1e-9)) + 1
        np.testing.assert_allclose(up[:, 0], np.arange(len(up)) / rate, atol=1e-12)  # linear stays exact
    joints = motions[4]
    back = resample(resample(joints, 20, 60), 60, 20)
    np.testing.assert_allclose(back, joints, atol=1e-12)
    with pytest.raises(ValueError, match="source_fps must be a positive number"):
        resample(joints, 0, 20)


def test_a_turn_past_180_degrees_decodes_without_drift(tmp_path, motions):
    """A walk around a circle, turned a further full turn over the clip (720 degrees in all): with the default
    `continuous_heading=True` the features decode (`recover_from_ric`) to the loaded joints within 1e-4 m; with
    HumanML3D's own reading the root's angular velocity flips sign where the heading passes 180 degrees and the
    decoded body drifts by decimetres."""
    joints = motions[8]

    def heading(j: np.ndarray) -> np.ndarray:
        across = j[:, J("l_hip")] - j[:, J("r_hip")]
        return np.unwrap(np.arctan2(across[:, 2], across[:, 0]))

    sense = np.sign(heading(joints)[-1] - heading(joints)[0])  # the extra turn goes the same way round
    extra = Rotation.from_euler("y", -sense * np.linspace(0, 360, len(joints))[:, None], degrees=True).as_matrix()
    turned = np.einsum("tij,tkj->tki", extra, joints)
    assert np.degrees(np.ptp(heading(turned))) > 700
    path = save_bvh_as(turned, tmp_path / "spin.bvh", names="mixamo", unit="cm")
    loaded = load_motion(path)
    decoded = recover_from_ric(torch.from_numpy(loaded.features)).numpy()
    drift = np.linalg.norm(decoded - loaded.joints[:-1], axis=-1)
    assert drift.max() < 1e-4
    glitch = load_motion(path, continuous_heading=False)
    decoded = recover_from_ric(torch.from_numpy(glitch.features)).numpy()
    assert np.linalg.norm(decoded - glitch.joints[:-1], axis=-1).max() > 0.1
    # joints_to_features takes the same switch; its default stays HumanML3D's
    np.testing.assert_array_equal(joints_to_features(turned), canonical_joints_to_features(canonicalize(turned)))
    np.testing.assert_allclose(joints_to_features(turned, continuous_heading=True), loaded.features, atol=1e-4)


# --- files that cannot be read ------------------------------------------------------------------------------


@pytest.fixture
def good_bvh(tmp_path, motions) -> Path:
    return save_bvh_as(motions[4][:6], tmp_path / "good.bvh", names="mixamo", unit="cm")


def edit(path: Path, old: str, new: str, count: int = 1, name: str = "bad") -> Path:
    text = path.read_text()
    assert old in text
    bad = path.with_name(name + path.suffix)
    bad.write_text(text.replace(old, new, count))
    return bad


def motion_line(path: Path, frame: int) -> int:
    lines = path.read_text().splitlines()
    return lines.index("MOTION") + 3 + frame  # 1-based: MOTION, Frames, Frame Time, then the frames


def test_bad_bvh_files_name_the_file_and_what_is_wrong(tmp_path, good_bvh):
    empty = tmp_path / "empty.bvh"
    empty.write_text("  \n")
    for path, pattern in [(empty, r"the file is empty"), (tmp_path / "absent.bvh", r"cannot read the file")]:
        with pytest.raises(MotionFileError, match=pattern) as error:
            load_motion(path)
        assert str(path) in str(error.value)
    for k, (old, new, pattern) in enumerate(
        [
            ("Frame Time: 0.05000000", "Frame Time: 0", r"line \d+: Frame Time must be a positive number"),
            ("Frame Time: 0.05000000", "Frame Time: -0.05", r"Frame Time must be a positive number of seconds"),
            ("Frames: 6", "Frames: 9", r"MOTION section is truncated: 'Frames: 9' \(line \d+\) but 6 rows"),
            ("MOTION", "}\nMOTION", r"line \d+: '}' closes no open joint \(unbalanced braces\)"),
            ("\t}\n", "\n", r"still open, from 'mixamorig:Hips' \(unbalanced braces: a missing '}'\)"),
            ("Frames: 6", "Frames: six", r"line \d+: frame count 'six' is not an integer"),
            ("CHANNELS 3", "CHANNELS 3 Wrotation", r"line \d+: CHANNELS 3 lists 4 channels"),
            ("HIERARCHY", "HIERARCH", r"line 1: expected HIERARCHY, found 'HIERARCH': not a BVH file"),
            ("MOTION", "MOTIONS", r"unexpected 'MOTIONS' in the hierarchy"),
            ("Xrotation", "Wrotation", r"unknown channel 'Wrotation'; valid: Xposition"),
        ]
    ):
        path = edit(good_bvh, old, new, name=f"bad{k}")
        with pytest.raises(MotionFileError, match=pattern) as error:
            load_motion(path)
        assert str(path) in str(error.value), pattern
    rows = good_bvh.read_text().splitlines()
    third = motion_line(good_bvh, 3)
    for change, pattern in [
        (lambda r: r.replace(r.split()[5], "nan", 1), rf"line {third}: frame 3 holds NaN or Inf values"),
        (lambda r: r.replace(r.split()[5], "inf", 1), rf"line {third}: frame 3 holds NaN or Inf values"),
        (lambda r: r + " 1.0", rf"line {third}: frame 3 has 70 values; the hierarchy's channels need 69"),
        (lambda r: r.replace(r.split()[5], "12,5", 1), rf"line {third}: frame 3: '12,5' is not a number"),
    ]:
        bad = tmp_path / "bad_row.bvh"
        bad.write_text("\n".join([*rows[: third - 1], change(rows[third - 1]), *rows[third:]]) + "\n")
        with pytest.raises(MotionFileError, match=pattern) as error:
            parse_bvh(bad)
        assert str(bad) in str(error.value)


def test_bad_asf_amc_files_name_the_file_and_what_is_wrong(tmp_path, motions):
    asf, amc = write_asf_amc(tmp_path, motions[4][:8])
    lines = amc.read_text().splitlines()
    cases = [
        (lines[:-3], r"line \d+: frame 8 lacks \['rhumerus', 'rradius', 'rwrist'\]"),
        ([*lines[:5], "lelbow 1 2 3", *lines[5:]], r"line 6: bone 'lelbow' is not in the skeleton .*01.asf; its bones"),
        ([*lines[:5], "lfemur 1 2", *lines[6:]], r"line 6: bone 'lfemur' has 2 values; its dof in the skeleton need 3"),
        ([*lines[:5], "lfemur 1 x 2", *lines[6:]], r"line 6: bone 'lfemur': 'x' is not a number"),
        ([*lines[:5], "lfemur 1 nan 2", *lines[6:]], r"line 6: frame 1 holds NaN or Inf values"),
        ([lines[0], "lfemur 1 2 3", *lines[1:]], r"line 2: 'lfemur' before the first frame number"),
        ([ln if ln != "3" else "5" for ln in lines], r"frame number 5 follows frame 2"),
        (lines[:3], r"no frames"),
    ]
    for text, pattern in cases:
        bad = tmp_path / "bad_01.amc"
        bad.write_text("\n".join(text) + "\n")
        with pytest.raises(ValueError, match=pattern) as error:
            load_motion(bad, amc_skeleton=asf)
        assert str(bad) in str(error.value), pattern
    skeleton = asf.read_text()
    for old, new, pattern in [
        (
            "    root lhipjoint",
            "    root lhipjoint elbow",
            r"line \d+: hierarchy names 'elbow', not a bone of :bonedata",
        ),
        (":hierarchy", ":hierarchies", r"no :hierarchy section: not an ASF skeleton"),
        ("length 0.45", "length 0", r"line 6: units length must be positive, got 0"),
        (
            "name lfemur\n     direction 0.3",
            "name lfemur\n     direction x.3",
            r"line \d+: bone 'lfemur' direction: 'x.3\d*' is not a number",
        ),
        ("dof rx ry rz", "dof rx ry l", r"bone 'lfemur' dof 'l' is not supported"),
    ]:
        bad = tmp_path / "bad.asf"
        assert old in skeleton, old
        bad.write_text(skeleton.replace(old, new, 1))
        with pytest.raises(ValueError, match=pattern) as error:
            load_motion(amc, amc_skeleton=bad)
        assert str(bad) in str(error.value), pattern
    lonely = tmp_path / "alone" / "take.amc"
    lonely.parent.mkdir()
    lonely.write_text(amc.read_text())
    with pytest.raises(ValueError, match=r"take.amc: an AMC needs its ASF skeleton.*amc_skeleton="):
        load_motion(lonely)
    with pytest.raises(ValueError, match=r"an ASF holds the skeleton only"):
        load_motion(asf)
    with pytest.raises(ValueError, match=r"unknown motion format '.c3d'"):
        load_motion(tmp_path / "x.c3d")


def corruptions(text: str, rng: np.random.Generator, count: int) -> list[str]:
    """Files cut at every line, files missing one line, and files with one word swapped for a bad one."""
    lines = text.splitlines()
    out = ["\n".join(lines[:k]) for k in range(len(lines))]
    out += ["\n".join(lines[:k] + lines[k + 1 :]) for k in range(len(lines))]
    for _ in range(count):
        k = int(rng.integers(len(lines)))
        words = lines[k].split() or [""]
        w = int(rng.integers(len(words)))
        words[w] = str(rng.choice(["nan", "x", "", "{", "}", "-1", "0", "1e999", "End", "JOINT", "begin", "root"]))
        out.append("\n".join([*lines[:k], " ".join(words), *lines[k + 1 :]]))
    return out


def test_no_corruption_escapes_as_anything_but_a_value_error(tmp_path, motions):
    """Every cut, every missing line and a few hundred swapped words of a small BVH and ASF/AMC: each reads or
    fails with a ValueError, never an IndexError, KeyError or ZeroDivisionError."""
    rng = np.random.default_rng(0)
    joints = motions[4][:3]
    bvh_text = save_bvh_as(joints, tmp_path / "small.bvh", names="lafan1").read_text()
    asf, amc = write_asf_amc(tmp_path, joints)
    bad = tmp_path / "c.bvh"
    for text in corruptions(bvh_text, rng, 300):
        bad.write_text(text)
        with contextlib.suppress(ValueError):
            load_motion(bad)
    bad_asf, bad_amc = tmp_path / "c.asf", tmp_path / "c.amc"
    for text in corruptions(asf.read_text(), rng, 200):
        bad_asf.write_text(text)
        with contextlib.suppress(ValueError):
            load_motion(amc, amc_skeleton=bad_asf)
    for text in corruptions(amc.read_text(), rng, 200):
        bad_amc.write_text(text)
        with contextlib.suppress(ValueError):
            load_motion(bad_amc, amc_skeleton=asf)


# --- the library's own BVH reader ---------------------------------------------------------------------------


def test_read_bvh_refuses_what_it_cannot_read(tmp_path, motions):
    path = save_bvh(motions[4][:5], tmp_path / "own.bvh")
    np.testing.assert_allclose(read_bvh(path).joints(), motions[4][:5], atol=1e-5)
    for old, new, pattern in [
        ("Frame Time: 0.050000", "Frame Time: 0", r"Frame Time must be a positive number"),
        ("MOTION", "}\nMOTION", r"'}' closes no open joint"),
        ("JOINT l_knee", "JOINT elbow_2", r"not one of the 22 joints"),
    ]:
        with pytest.raises(ValueError, match=pattern) as error:
            read_bvh(edit(path, old, new))
        assert "bad.bvh" in str(error.value)
    rows = path.read_text().splitlines()
    rows[-2] = re.sub(r"^\S+", "nan", rows[-2])
    nan = tmp_path / "nan.bvh"
    nan.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"frame 4 holds NaN or Inf values"):
        read_bvh(nan)
    other = save_bvh_as(motions[4][:5], tmp_path / "mixamo.bvh", names="mixamo")
    with pytest.raises(ValueError, match=r"load_motion"):
        read_bvh(other)


def test_map_joints_interpolates_the_spine_at_humanml3d_proportions(motions):
    """With only the pelvis and the neck, the spine joints sit on the line between them at 0.23, 0.49, 0.59."""
    joints = motions[4][:5]
    keep = [n for n in JOINT_NAMES if n not in ("spine1", "spine2", "spine3")]
    capture = read_capture_like(joints[:, [J(n) for n in keep]], keep)
    out, interpolated, _ = map_joints(capture, {n: n for n in keep})
    assert interpolated == ("spine1", "spine2", "spine3")
    pelvis, neck = joints[:, J("pelvis")], joints[:, J("neck")]
    for name, w in (("spine1", 0.23), ("spine2", 0.49), ("spine3", 0.59)):
        np.testing.assert_allclose(out[:, J(name)], pelvis + w * (neck - pelvis), atol=1e-12)


def read_capture_like(positions: np.ndarray, names: list[str], parents: list[int] | None = None) -> Capture:
    parents = [-1] * len(names) if parents is None else parents
    return Capture(Path("made.bvh"), tuple(names), tuple(parents), positions, 20.0, None, "bvh")


def test_toes_come_from_the_ankles_child_or_are_placed_ahead_of_the_ankle(tmp_path, motions):
    """A file without toe joints: the ankle's only child (an End Site at the toe) stands in; where the ankle has
    none (or a zero-length End Site, as `write_bvh` writes), the toe goes ahead of and below the ankle: measured
    2.7 cm from the true toe on average, and the floor, set by the lowest toe, moves the rest by 7.7 mm."""
    joints = motions[4][:40]
    keep = [n for n in JOINT_NAMES if n not in ("l_foot", "r_foot")]
    with_tips = [*keep, "l_tip", "r_tip"]
    parents = [-1] * len(keep) + [keep.index("l_ankle"), keep.index("r_ankle")]
    positions = joints[:, [J(n) for n in keep] + [J("l_foot"), J("r_foot")]]
    out, interpolated, notes = map_joints(read_capture_like(positions, with_tips, parents), {n: n for n in keep})
    assert interpolated == () and "l_foot is the ankle's child 'l_tip'" in notes
    np.testing.assert_allclose(out, joints, atol=1e-12)
    positions, ours, parents = reduced(joints, ("l_foot", "r_foot"))
    loaded = load_motion(write_bvh(tmp_path / "no_toes.bvh", positions, ours, parents))
    assert loaded.interpolated == ("l_foot", "r_foot") and np.isfinite(loaded.features).all()
    toes = loaded.joints[:, [J("l_foot"), J("r_foot")]] - loaded.joints[:, [J("l_ankle"), J("r_ankle")]]
    assert (toes[..., 2] > 0).mean() > 0.9 and (toes[..., 1] < 0).all()  # ahead (+z) and below the ankles
    distance = errors(loaded, joints)[0]
    assert distance[:, [J("l_foot"), J("r_foot")]].mean() < 0.05 and distance[:, [J(n) for n in keep]].mean() < 0.01


def test_rows_beyond_the_announced_frames_are_noted(tmp_path, good_bvh):
    text = good_bvh.read_text()
    path = tmp_path / "long.bvh"
    path.write_text(text + text.splitlines()[-1] + "\n")
    loaded = load_motion(path)
    assert len(loaded.joints) == 6 and "1 row(s) after the 6 announced frames were ignored" in loaded.notes
