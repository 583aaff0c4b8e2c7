"""Motions out of the library: BVH (rotations solved from joints), GIF, .npy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from motionclr_lens.analysis import joints_of
from motionclr_lens.export import read_bvh, save_animation, save_bvh, save_npy, solve_rotations, to_bvh
from motionclr_lens.motion import JOINT_NAMES
from motionclr_lens.world import make_sample


@pytest.fixture(scope="module")
def motions():
    return [joints_of(make_sample(i, "val", 2).features).astype(np.float64) for i in range(4)]


def test_bvh_round_trip_reproduces_the_joints(tmp_path, motions):
    """Rotations solved from the joints, written, read back and put through forward kinematics."""
    for k, joints in enumerate(motions):
        path = save_bvh(joints, tmp_path / f"m{k}.bvh", fps=20)
        bvh = read_bvh(path)
        assert bvh.fps == pytest.approx(20.0)
        assert bvh.local.shape == (len(joints), 22, 3, 3)
        np.testing.assert_allclose(bvh.joints(), joints, atol=1e-5)
    text = path.read_text()
    assert text.count("JOINT ") + text.count("ROOT ") == 22 and text.count("End Site") == 5
    assert all(name in text for name in JOINT_NAMES)


def test_bvh_rotations_are_proper_and_bones_do_not_twist(motions):
    R, _ = solve_rotations(motions[0])
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)
    # a motion moved and turned gives the same local rotations below the root
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # a quarter turn about y
    moved = motions[0] @ turn.T + np.array([2.0, 0.0, -1.0])
    a, b = to_bvh(motions[0]), to_bvh(moved)
    np.testing.assert_allclose(a.local[:, 1:], b.local[:, 1:], atol=1e-6)
    np.testing.assert_allclose(b.joints(), moved, atol=1e-5)


def test_bvh_rejects_bad_input(tmp_path, motions):
    with pytest.raises(ValueError, match=r"joints must have shape \(T >= 1, 22, 3\)"):
        save_bvh(motions[0][:, :10], tmp_path / "x.bvh")
    bad = motions[0].copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        save_bvh(bad, tmp_path / "x.bvh")
    collapsed = motions[0][:6].copy()
    collapsed[2, 1] = collapsed[2, 0]  # the left hip sits on the pelvis in one frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any division by a zero length
        with pytest.raises(ValueError, match=r"1 bone has no length \(pelvis-l_hip\)"):
            save_bvh(collapsed, tmp_path / "x.bvh")
        with pytest.raises(ValueError, match="21 bones have no length"):
            save_bvh(np.zeros((4, 22, 3)), tmp_path / "x.bvh")
    path = save_bvh(motions[0][:5], tmp_path / "ok.bvh")
    path.write_text(path.read_text().replace("JOINT l_knee", "JOINT elbow_2"))
    with pytest.raises(ValueError, match="not one of the 22 joints"):
        read_bvh(path)


def test_gif_and_npy(tmp_path, motions):
    joints = motions[1][:12]
    gif = save_animation(joints, tmp_path / "m.gif", title="a person walks")
    with Image.open(gif) as im:
        # Pillow merges identical frames into one of longer duration: the running time is what must hold
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            if k == 0:
                first = np.asarray(im.convert("RGB"))
        last = np.asarray(im.convert("RGB"))
    assert sum(durations) == pytest.approx(12 * 50, abs=12)
    assert (first != 255).any() and (first != last).any()  # something drawn, and it moves
    with pytest.raises(ValueError, match=r"unknown animation format '.avi'; valid: '.gif', '.mp4'"):
        save_animation(joints, tmp_path / "m.avi")
    files = save_npy(tmp_path / "out", joints, np.zeros((12, 263)), name="take")
    assert [f.name for f in files] == ["take_joints.npy", "take_features.npy"]
    np.testing.assert_allclose(np.load(files[0]), joints, atol=1e-6)


def test_mp4_where_ffmpeg_is_available(tmp_path, motions):
    import shutil
    import subprocess

    from motionclr_lens.export import _find_ffmpeg

    try:
        ffmpeg = _find_ffmpeg()
    except RuntimeError as error:
        assert "pip install imageio-ffmpeg" in str(error)
        pytest.skip("no ffmpeg here: MP4 cannot be written (the error says how to get it)")
    path = save_animation(motions[2][:20], tmp_path / "m.mp4")
    assert path.stat().st_size > 1000
    probe = subprocess.run([ffmpeg, "-i", str(path)], capture_output=True, text=True)
    assert "h264" in probe.stderr or "mpeg4" in probe.stderr or shutil.which("ffprobe") is None
