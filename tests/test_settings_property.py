"""Any run settings either run to a finite motion or are refused before the first step (a property test)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motionclr_lens import Hook, MotionCLR, MotionCLRPipeline, use_hooks
from motionclr_lens.sampling import SCHEDULERS
from motionclr_lens.settings import RunSettings

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-5, 2000),
    st.sampled_from([True, None, "2", 0, 1, 1.5, 100, 100.5]),
)


def tiny_pipeline() -> MotionCLRPipeline:
    torch.manual_seed(0)
    model = MotionCLR(TINY)
    return MotionCLRPipeline(model, np.zeros(TINY.input_dim, np.float32), np.ones(TINY.input_dim, np.float32))


PIPE = tiny_pipeline()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheduler=st.one_of(st.sampled_from(sorted(SCHEDULERS)), st.text(max_size=6)),
    steps=st.one_of(st.integers(-3, 1001), st.sampled_from([2.0, True, "10"])),
    guidance=numbers,
    smooth=numbers,
    seed=st.one_of(st.integers(-2, 2**64 + 1), st.sampled_from([None, "0", 1.5])),
    frames=st.one_of(st.integers(-1, 200), st.sampled_from([8.0, 8.5, True, "8", math.inf])),
)
def test_settings_run_or_are_refused_before_the_first_step(scheduler, steps, guidance, smooth, seed, frames):
    started = []
    try:
        run = RunSettings(scheduler=scheduler, steps=steps, guidance_scale=guidance, smooth_sigma=smooth, seed=seed)
    except (ValueError, TypeError):
        return
    if run.steps > 60:  # long schedules are checked above; running them all would take minutes
        run = dataclasses.replace(run, steps=60)
    with use_hooks(Hook(lambda t, c: None, on_run=started.append)):
        try:
            out = PIPE.run("a person walks", run, lengths=frames)
        except (ValueError, TypeError):
            assert started == []  # refused before the run told its hooks anything
            return
    assert len(started) == 1 and all(np.isfinite(f).all() for f in out.features)
