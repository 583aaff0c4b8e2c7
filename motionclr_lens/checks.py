"""Checks of the plain values a run is asked (steps, seconds, guidance, seeds, timesteps), importable without
torch: the command line refuses bad input with them before it imports the model's stack, with the same words
and bounds as the library's own checks (`settings.RunSettings`, `sampling.check_schedule`,
`pipeline.lengths_in_frames`), which stay the authority; a test keeps the two in agreement.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MAX_GUIDANCE_SCALE",
    "MAX_SEED",
    "MAX_SMOOTH_SIGMA",
    "MAX_STEPS",
    "SCHEDULER_STEPS",
    "check_guidance",
    "check_seconds",
    "check_seed",
    "check_smooth_sigma",
    "check_steps",
    "check_timestep",
]

MAX_GUIDANCE_SCALE = 100.0
MAX_STEPS = 1000  # the training schedule's timesteps: no scheduler can take more steps than there are
MAX_SEED = 2**64 - 1
# The widest joint smoothing: a Gaussian of this many frames already spans any motion (at most 196 frames), and its
# kernel (8 sigma wide) must stay small: sigma 1e9 would ask for gigabytes.
MAX_SMOOTH_SIGMA = 100.0
# The fewest and most steps each scheduler runs over a 1000-step training schedule (MotionCLR's): fewer than
# PNDM's warm-up, or so many that DEIS meets one timestep twice, is refused (`sampling.check_schedule`).
SCHEDULER_STEPS = {"ddim": (1, 1000), "ddpm": (1, 1000), "deis": (1, 999), "dpmsolver": (1, 1000), "pndm": (4, 1000)}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_steps(scheduler: str, steps: Any) -> None:
    """Steps a scheduler can run over the 1000-step training schedule."""
    if scheduler not in SCHEDULER_STEPS:
        raise ValueError(f"unknown scheduler {scheduler!r}; valid: {sorted(SCHEDULER_STEPS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(
            f"steps must be a positive int no larger than {MAX_STEPS} (the training schedule's timesteps), "
            f"got {steps!r}"
        )
    fewest, most = SCHEDULER_STEPS[scheduler]
    if steps < fewest:
        raise ValueError(f"the {scheduler} scheduler needs {fewest} steps or more, got {steps}")
    if steps > most:
        raise ValueError(
            f"the {scheduler} scheduler repeats timesteps at {steps} steps (its schedule over 1000 training steps "
            f"rounds them together); it takes at most {most} steps here"
        )


def check_seconds(seconds: Any, fps: float = 20.0, max_frames: int = 196) -> None:
    """A motion length in seconds: finite, and one frame to `max_frames` once rounded at `fps`."""
    limits = f"[1, {max_frames}] frames (= {1 / fps:.2f} to {max_frames / fps:.2f} s at {fps:g} fps)"
    if not (_number(seconds) and math.isfinite(seconds)):
        raise ValueError(f"seconds must be finite numbers, got {seconds!r}; each motion spans {limits}")
    frames = round(float(seconds) * fps)
    if not 1 <= frames <= max_frames:
        raise ValueError(f"length {frames} frames is outside {limits}")


def check_guidance(scale: Any) -> None:
    """A classifier-free guidance scale in [0, `MAX_GUIDANCE_SCALE`] (1: the conditional model alone)."""
    if not _number(scale):
        raise ValueError(f"guidance_scale must be a number, got {scale!r}")
    if not (math.isfinite(scale) and 0 <= scale <= MAX_GUIDANCE_SCALE):
        raise ValueError(
            f"guidance_scale must be finite and >= 0 (1: the conditional model alone; 0: the unconditional), "
            f"at most {MAX_GUIDANCE_SCALE:g}, got {scale}"
        )


def check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**64 - 1] or None, got {seed!r}")


def check_timestep(timestep: Any, num_train_timesteps: int = 1000) -> None:
    """A noise level a probe reads attention at: a training timestep."""
    if isinstance(timestep, bool) or not isinstance(timestep, int) or not 0 <= timestep < num_train_timesteps:
        raise ValueError(f"timestep must be an int in [0, {num_train_timesteps - 1}], got {timestep!r}")


def check_smooth_sigma(sigma: Any) -> None:
    """A joint smoothing width in frames: None (none), or a number in [0, `MAX_SMOOTH_SIGMA`]."""
    if sigma is not None and not (_number(sigma) and math.isfinite(sigma) and 0 <= sigma <= MAX_SMOOTH_SIGMA):
        raise ValueError(
            f"smooth_sigma must be a finite number >= 0 or None, at most {MAX_SMOOTH_SIGMA:g} frames, got {sigma!r}"
        )
