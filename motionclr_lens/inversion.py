"""Edit a given motion: deterministic DDIM inversion, then regeneration with any edit of the lens.

    inv = invert(pipe, features, "a person walks forward", steps=10)
    same = regenerate(pipe, inv)                                        # reconstructs the motion
    edited = regenerate(pipe, inv, edits=[Reweight(0.4, word="walks")])  # the motion, edited

How it works. MotionCLR predicts x0. Regeneration samples with diffusers' DDIM (eta 0) over "trailing" timesteps
(`trailing_ddim()`; for 10 steps:
999, 899, ..., 99; the last step goes from t = 99 straight to the clean motion), each step turning the x0
prediction f(x_t, t) into the noise it implies, eps = (x_t - sqrt(a_t) f) / sqrt(1 - a_t), and moving to
x_prev = sqrt(a_prev) f + sqrt(1 - a_prev) eps. Inversion walks the same steps upwards from the motion:
for each timestep it finds the state x_t whose DDIM step lands exactly on the state below (on the motion
itself for the lowest), by fixed-point iteration on f (`refine` iterations; 0 is plain DDIM inversion,
which takes f at the state below). The trailing timesteps keep the lowest noise level at t = 99: a step
ending at t = 0 would divide the model's error by sqrt(1 - a_0) = 0.01. DDIM steps from t to
t - 1000 // steps, which is the next timestep of the schedule when `steps` divides 1000 (5, 10, 25, ...) and
one or two timesteps above it otherwise; inversion lands where DDIM lands, so either way it is exact.

Only DDIM is deterministic and invertible this way; other schedulers are refused. Guidance is used as
given (1.0: the conditional branch alone, the usual choice for inversion); regeneration must use the
guidance the inversion used for the reconstruction to be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .edits import Edit
from .sampling import make_scheduler, sample_loop
from .settings import RunSettings, check_guidance_scale

if TYPE_CHECKING:
    from .pipeline import Generation, MotionCLRPipeline

__all__ = ["INVERTIBLE_SCHEDULERS", "Inversion", "invert", "regenerate", "trailing_ddim", "trailing_timesteps"]

INVERTIBLE_SCHEDULERS = ("ddim",)


def trailing_ddim(train_steps: int = 1000) -> Any:
    """The scheduler inversion walks and regeneration samples with: diffusers' DDIM (eta 0) with "trailing"
    timestep spacing, whose last step lands on the clean motion."""
    return make_scheduler("ddim", train_steps, timestep_spacing="trailing")


def trailing_timesteps(steps: int, train_steps: int = 1000) -> list[int]:
    """DDIM timesteps with "trailing" spacing, descending: 10 steps -> 999, 899, ..., 99."""
    if not isinstance(steps, int) or not 1 <= steps <= train_steps:
        raise ValueError(f"steps must be an int in [1, {train_steps}], got {steps!r}")
    scheduler = trailing_ddim(train_steps)
    scheduler.set_timesteps(steps)
    return [int(t) for t in scheduler.timesteps]


@dataclass
class Inversion:
    """A motion inverted under a prompt: `trajectory[j]` (1, T, 263) normalised is the state at
    `timesteps[j]` (ascending); `trajectory[-1]` is where regeneration starts. `residuals[j]` is the
    fixed-point mismatch of level j (mean absolute, normalised units)."""

    prompt: str
    frames: int
    features: np.ndarray
    timesteps: list[int]
    trajectory: list[Tensor]
    guidance_scale: float
    steps: int
    residuals: list[float] = field(default_factory=list)
    correction: Tensor | None = None  # the motion minus the model's x0 prediction at the lowest level

    @property
    def latent(self) -> Tensor:
        return self.trajectory[-1]


def _alpha(t: int) -> tuple[Tensor, Tensor]:
    from .sampling import alphas_cumprod

    bar = alphas_cumprod()[t]
    return bar.sqrt(), (1 - bar).sqrt()


def invert(
    pipe: MotionCLRPipeline,
    features: np.ndarray | Tensor,
    prompt: str,
    steps: int = 10,
    depth: float = 1.0,
    guidance_scale: float = 1.0,
    refine: int = 10,
    scheduler: str = "ddim",
) -> Inversion:
    """Invert (T, 263) features (HumanML3D units) under `prompt` through the last `depth` of a `steps`-step
    DDIM schedule (depth 1: to pure noise at t = 999; 0.5: halfway). Hooks in scope (a capture) see every
    denoiser call of the inversion."""
    if scheduler not in INVERTIBLE_SCHEDULERS:
        raise ValueError(
            f"scheduler {scheduler!r} cannot be inverted deterministically; invertible: {list(INVERTIBLE_SCHEDULERS)}"
        )
    if not 0.0 < depth <= 1.0:
        raise ValueError(f"depth must be in (0, 1], got {depth}")
    guidance_scale = check_guidance_scale(guidance_scale)
    if not isinstance(refine, int) or refine < 0:
        raise ValueError(f"refine must be an int >= 0, got {refine!r}")
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2 or f.shape[1] != pipe.config.input_dim:
        raise ValueError(f"features must have shape (T, {pipe.config.input_dim}), got {f.shape}")
    frames = pipe.lengths_in_frames(1, len(f), None)[0]
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    schedule = trailing_timesteps(steps)
    used = sorted(schedule[len(schedule) - max(1, round(depth * steps)) :])  # ascending
    tokenized, text = pipe.encode_prompts([prompt])
    x0 = pipe.normalize(f)[None].to(pipe.device)
    trajectory: list[Tensor] = []
    residuals: list[float] = []
    with pipe.prepare_run(tokenized, [frames], list(reversed(used)), guidance_scale):
        denoise = pipe.denoiser(text, guidance_scale)

        def predict(x: Tensor, t: int) -> Tensor:
            step = len(used) - 1 - used.index(t)  # the sampling step this timestep is
            return denoise(x, torch.full((1,), t, device=x.device, dtype=torch.long), step).float()

        # The lowest level: a state whose x0 prediction is the motion itself.
        a, b = _alpha(used[0])
        eps = (x0 - a * predict(x0, used[0])) / b  # the noise the model reads in the clean motion
        x = a * x0 + b * eps
        for _ in range(refine):
            x = x + 0.5 * a * (x0 - predict(x, used[0]))
        correction = x0 - predict(x, used[0])
        residuals.append(float(correction.abs().mean()))
        trajectory.append(x)
        # Each level above: the state whose DDIM step lands on the level below.
        for j in range(1, len(used)):
            below, t = trajectory[-1], used[j]
            # where diffusers' DDIM step from t lands: t - 1000 // steps (the level below when steps divide 1000)
            a_lo, b_lo = _alpha(t - 1000 // steps)
            a_hi, b_hi = _alpha(t)
            g = predict(below, t)
            x = a_hi * g + b_hi * (below - a_lo * g) / b_lo
            for _ in range(refine):
                g = predict(x, t)
                x = 0.5 * x + 0.5 * (a_hi * g + b_hi * (below - a_lo * g) / b_lo)
            g = predict(x, t)
            landed = a_lo * g + b_lo * (x - a_hi * g) / b_hi
            residuals.append(float((landed - below).abs().mean()))
            trajectory.append(x)
    return Inversion(prompt, frames, f, used, trajectory, float(guidance_scale), steps, residuals, correction)


def regenerate(
    pipe: MotionCLRPipeline,
    inversion: Inversion,
    prompts: str | Sequence[str] | None = None,
    edits: Sequence[Edit] = (),
    guidance_scale: float | None = None,
    smooth_sigma: float | None = 1.0,
    foot_lock: bool = True,
    correct: bool = True,
) -> Generation:
    """DDIM from the inverted state down to a motion, with edits (any of the lens's) applying to this run.

    `prompts` default to the inverted prompt; several prompts all start from the inverted state (row 0 is
    usually the inverted prompt, so edits such as `Replace(source=0, target=1, ...)` can take its
    attention). Without edits, the same prompt and the inversion's guidance, row 0 reconstructs the motion.

    `correct` adds the inversion's `correction` (what the model cannot reproduce of the motion at the lowest
    noise level: fine detail, and the root's drift) to every row's result, as edit-friendly inversions keep
    the noise maps that make reconstruction exact; `correct=False` gives plain DDIM inversion's result.
    """
    prompts = pipe.check_prompts(inversion.prompt if prompts is None else prompts)
    scale = check_guidance_scale(inversion.guidance_scale if guidance_scale is None else guidance_scale)
    tokenized, text = pipe.encode_prompts(prompts)
    B, frames = len(prompts), inversion.frames
    sampler = trailing_ddim()
    sampler.set_timesteps(inversion.steps)
    start = inversion.steps - len(inversion.timesteps)  # a partial inversion starts part-way down the schedule
    latents = inversion.latent.expand(B, -1, -1).clone()
    with pipe.prepare_run(tokenized, [frames] * B, sampler.timesteps[start:].tolist(), scale, edits):
        x = sample_loop(pipe.denoiser(text, scale), latents, sampler, inversion.steps, start=start)
    if correct and inversion.correction is not None:
        x = x + inversion.correction  # the last step lands on the clean motion: correct it there
    if not torch.isfinite(x).all():
        raise FloatingPointError("regeneration gave NaN or Inf: check the edits' strengths and the guidance scale")
    settings = RunSettings(
        scheduler="ddim",
        steps=len(inversion.timesteps),
        guidance_scale=scale,
        smooth_sigma=smooth_sigma,
        foot_lock=foot_lock,
        edits=tuple(edits),
    )
    about = {"timestep_spacing": "trailing", "inverted_prompt": inversion.prompt, "corrected": bool(correct)}
    return pipe.decode(x, prompts, [frames] * B, settings, inversion=about)
