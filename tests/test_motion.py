"""Features -> joints against the official HumanML3D joints."""

from __future__ import annotations

import numpy as np
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
