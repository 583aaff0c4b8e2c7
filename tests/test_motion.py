"""Features -> joints against the official HumanML3D joints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import HUMANML3D, need

from motionclr_lens.motion import features_to_joints, recover_from_ric


def test_recover_from_ric_matches_official_joints():
    features = np.load(need(HUMANML3D / "012314_new_joint_vecs.npy"))
    joints = np.load(need(HUMANML3D / "012314_new_joints.npy"))
    recovered = recover_from_ric(torch.from_numpy(features)).numpy()
    assert recovered.shape == joints.shape == (170, 22, 3)
    np.testing.assert_allclose(recovered, joints, atol=1e-5, rtol=0)


def test_recover_from_ric_batches():
    features = torch.from_numpy(np.load(need(HUMANML3D / "012314_new_joint_vecs.npy")))
    batch = torch.stack([features[:100], features[50:150]])
    out = recover_from_ric(batch)
    torch.testing.assert_close(out[1], recover_from_ric(features[50:150]))


def test_features_to_joints_floor_and_smoothing():
    features = np.load(need(HUMANML3D / "012314_new_joint_vecs.npy"))
    raw = features_to_joints(features, smooth_sigma=None)
    assert abs(raw[..., 1].min()) < 1e-6  # on the floor
    smooth = features_to_joints(features, smooth_sigma=1.0)
    jerk = lambda j: np.abs(np.diff(j, n=3, axis=0)).mean()  # noqa: E731
    assert jerk(smooth) < jerk(raw)


def test_joints_to_features_matches_official_004822():
    from motionclr_lens.motion import joints_to_features

    data = np.load(need(HUMANML3D / "004822_protocol.npz"))
    features = joints_to_features(data["joints"])
    official = data["hml263"]
    assert features.shape == official.shape == (199, 263)
    np.testing.assert_allclose(features, official, atol=1e-5, rtol=0)
    assert np.array_equal(features[:, -4:], official[:, -4:])  # foot contacts exact


def test_joints_to_features_matches_official_012314():
    from motionclr_lens.motion import joints_to_features

    joints = np.load(need(HUMANML3D / "012314_new_joints.npy"))
    official = np.load(need(HUMANML3D / "012314_new_joint_vecs.npy"))
    features = joints_to_features(joints)
    n = len(official) - 60  # the official pipeline smooths the facing direction, so the last frames drift
    np.testing.assert_allclose(features[:n], official[:n], atol=1e-4, rtol=0)


def test_target_skeleton_bone_lengths():
    from motionclr_lens.motion import TARGET_BONE_LENGTHS, bone_lengths

    example = np.load(need(HUMANML3D / "skeleton_example_h3d.npy"))[:22]
    assert np.array_equal(bone_lengths(example), TARGET_BONE_LENGTHS)


def test_features_round_trip_to_canonical_joints():
    """joints -> features -> joints gives back the canonical joints (retargeted, floored, facing +z)."""
    from motionclr_lens.motion import canonicalize, joints_to_features

    joints = np.load(need(HUMANML3D / "012314_new_joints.npy"))
    features = joints_to_features(joints)
    recovered = recover_from_ric(torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(recovered, canonicalize(joints)[:-1], atol=2e-5, rtol=0)


def test_joints_to_features_rejects_bad_shapes():
    import pytest

    from motionclr_lens.motion import joints_to_features

    with pytest.raises(ValueError, match=r"\(T >= 2, 22, 3\), got \(5, 21, 3\)"):
        joints_to_features(np.zeros((5, 21, 3)))
    bad = np.zeros((5, 22, 3))
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        joints_to_features(bad)


def test_lock_feet_takes_sliding_off_the_path():
    """A world motion whose body slides while its feet are planted: locking the feet the features mark as
    planted removes the slide, leaves poses and heights alone, and leaves the clean motion nearly as it is."""
    from motionclr_lens.motion import lock_feet
    from motionclr_lens.physics import foot_skating
    from motionclr_lens.world import generate

    sample = next(s for s in generate("val", 12, seed=3) if s.segments[0].kind.startswith("walk"))
    joints = features_to_joints(sample.features, smooth_sigma=None)
    contacts = sample.features[:, -4:]
    clean = lock_feet(joints, contacts, legs=False)
    assert np.abs(clean - joints).max() < 0.10  # the world's feet barely slide already
    slid = joints.copy()
    drift = np.cumsum(np.full(len(joints), 0.02))  # 2 cm a frame along x: 0.4 m/s of skating
    slid[..., 0] += drift[:, None]
    assert foot_skating(slid)[0] > 0.3
    fixed = lock_feet(slid, contacts, legs=False)
    assert foot_skating(fixed)[0] < 2 * max(foot_skating(joints)[0], 0.01)
    relative = fixed - fixed[:, :1]
    np.testing.assert_allclose(relative, slid - slid[:, :1], atol=1e-5)  # poses untouched
    np.testing.assert_allclose(fixed[..., 1], slid[..., 1], atol=0)  # heights untouched
    with pytest.raises(ValueError, match=r"contacts must have shape \(\d+, 4\)"):
        lock_feet(joints, contacts[:, :2])
    with pytest.raises(ValueError, match="blend must be 0 or more frames, got -1"):
        lock_feet(joints, contacts, blend=-1)


def _bone(joints: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)


@pytest.mark.parametrize("spread", [0.01, 0.2])
def test_lock_feet_holds_feet_that_slide_apart(spread):
    """Feet planted together that slide apart (which moving the body cannot undo): each leg holds its toe
    still over every planted run, keeps its bone lengths and the feet's heights, and leaves the hips and
    everything above them where the path lock put them; a slide far too wide for the legs (4 m/s, the thighs
    stretched to metres) leaves them at full stretch with their bone lengths, not broken."""
    from motionclr_lens.motion import LEGS, lock_feet
    from motionclr_lens.world import generate

    sample = next(s for s in generate("val", 12, seed=3) if s.segments[0].kind.startswith("walk"))
    joints = features_to_joints(sample.features, smooth_sigma=None)
    contacts = sample.features[:, -4:]
    apart = joints.copy()
    drift = np.cumsum(np.full(len(joints), spread))  # per frame, each foot away from the other along x
    for sign, (_, knee, ankle, toe) in zip((1, -1), LEGS, strict=True):
        apart[:, [knee, ankle, toe], 0] += sign * drift[:, None]
    path = lock_feet(apart, contacts, legs=False)
    held = lock_feet(apart, contacts)
    assert np.isfinite(held).all()
    legs = [j for leg in LEGS for j in leg[1:]]
    others = [j for j in range(22) if j not in legs]
    np.testing.assert_array_equal(held[:, others], path[:, others])
    for hip, knee, ankle, toe in LEGS:
        for a, b in ((hip, knee), (knee, ankle), (ankle, toe)):
            np.testing.assert_allclose(_bone(held, a, b), _bone(apart, a, b), atol=1e-4)
    if spread > 0.05:  # 4 m/s apart: the legs cannot reach; they end stretched, the feet at their heights
        reach = _bone(held, 1, 4) + _bone(held, 4, 7)
        assert (_bone(held, 1, 7) > reach - 1e-4).any()
        return
    np.testing.assert_allclose(held[..., 1][:, [7, 8, 10, 11]], path[..., 1][:, [7, 8, 10, 11]], atol=1e-6)
    for side, (_, _, _, toe) in enumerate(LEGS):
        planted = (contacts[:, 1 + 2 * side] > 0.5) & (path[:, toe, 1] < 0.05)
        both = planted[1:] & planted[:-1]
        assert both.sum() > 10
        still = np.linalg.norm(np.diff(held[:, toe][:, [0, 2]], axis=0), axis=-1)[both]
        before = np.linalg.norm(np.diff(path[:, toe][:, [0, 2]], axis=0), axis=-1)[both]
        assert before.mean() > 0.005 and still.max() < 1e-4
