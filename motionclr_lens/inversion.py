"""Edit a given motion: deterministic DDIM inversion, then regeneration with any edit of the lens.

    inv = invert(pipe, features, "a person walks forward", steps=10)
    same = regenerate(pipe, inv)                                        # reconstructs the motion
    edited = regenerate(pipe, inv, edits=[Reweight(0.4, word="walks")])  # the motion, edited

How it works. MotionCLR predicts x0. Sampling runs DDIM (eta 0) over "trailing" timesteps (for 10 steps:
999, 899, ..., 99; the last step goes from t = 99 straight to the clean motion), each step turning the x0
prediction f(x_t, t) into the noise it implies, eps = (x_t - sqrt(a_t) f) / sqrt(1 - a_t), and moving to
x_prev = sqrt(a_prev) f + sqrt(1 - a_prev) eps. Inversion walks the same steps upwards from the motion:
for each timestep it finds the state x_t whose DDIM step lands exactly on the state below (on the motion
itself for the lowest), by fixed-point iteration on f (`refine` iterations; 0 is plain DDIM inversion,
which takes f at the state below). The trailing timesteps keep the lowest noise level at t = 99: a step
ending at t = 0 would divide the model's error by sqrt(1 - a_0) = 0.01.

Only DDIM is deterministic and invertible this way; other schedulers are refused. Guidance is used as
given (1.0: the conditional branch alone, the usual choice for inversion); regeneration must use the
guidance the inversion used for the reconstruction to be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from .edits import Edit, EditRun
from .hooks import DenoiseInfo, announce_run, use_hooks
from .motion import features_to_joints

if TYPE_CHECKING:
    from .pipeline import Generation, MotionCLRPipeline

__all__ = ["INVERTIBLE_SCHEDULERS", "Inversion", "invert", "regenerate", "trailing_timesteps"]

INVERTIBLE_SCHEDULERS = ("ddim",)


def trailing_timesteps(steps: int, train_steps: int = 1000) -> list[int]:
    """DDIM timesteps with "trailing" spacing, descending: 10 steps -> 999, 899, ..., 99."""
    if not isinstance(steps, int) or not 1 <= steps <= train_steps:
        raise ValueError(f"steps must be an int in [1, {train_steps}], got {steps!r}")
    ratio = train_steps / steps
    return [int(round(train_steps - k * ratio)) - 1 for k in range(steps)]


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
    tokenized = [pipe.tokenizer.tokenize_prompt(prompt)]
    pipe.warn_unknown_words(tokenized)
    text = pipe.encode(tokenized)
    model = pipe.model
    plan = pipe._plan(1, frames, tuple(reversed(used)), guidance_scale != 1.0)
    x0 = pipe.normalize(f)[None].to(pipe.device)
    calls = 0

    def predict(x: Tensor, t: int) -> Tensor:
        nonlocal calls
        step = len(used) - 1 - used.index(t)  # the sampling step this timestep is
        calls += 1
        tt = torch.full((1,), t, device=x.device, dtype=torch.long)
        return model.guided(x, tt, text, guidance_scale, info=DenoiseInfo(step, t)).float()

    was_training = model.training
    model.eval()
    trajectory: list[Tensor] = []
    residuals: list[float] = []
    try:
        with torch.no_grad():
            announce_run(plan)
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
                below, t_below, t = trajectory[-1], used[j - 1], used[j]
                a_lo, b_lo = _alpha(t_below)
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
    finally:
        model.train(was_training)
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
    from .pipeline import Generation, _edit_hooks

    prompts = [inversion.prompt] if prompts is None else ([prompts] if isinstance(prompts, str) else list(prompts))
    if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise ValueError(f"prompts must be non-empty strings, got {prompts!r}")
    scale = inversion.guidance_scale if guidance_scale is None else float(guidance_scale)
    tokenized = [pipe.tokenizer.tokenize_prompt(p) for p in prompts]
    pipe.warn_unknown_words(tokenized)
    text = pipe.encode(tokenized)
    B, frames = len(prompts), inversion.frames
    descending = list(reversed(inversion.timesteps))
    plan = pipe._plan(B, frames, tuple(descending), scale != 1.0)
    run = EditRun(tokenized, [frames] * B, plan, pipe.config.fps)
    hooks = [h for e in edits for h in _edit_hooks(e, run)]
    model = pipe.model
    x = inversion.latent.expand(B, -1, -1).clone()
    was_training = model.training
    model.eval()
    try:
        with use_hooks(*hooks), torch.no_grad():
            announce_run(plan)
            for step, t in enumerate(descending):
                tt = torch.full((B,), t, device=x.device, dtype=torch.long)
                g = model.guided(x, tt, text, scale, info=DenoiseInfo(step, t)).float()
                if step == len(descending) - 1:
                    x = g  # the last step lands on the clean motion
                    if correct and inversion.correction is not None:
                        x = x + inversion.correction
                else:
                    a, b = _alpha(t)
                    a_lo, b_lo = _alpha(descending[step + 1])
                    x = a_lo * g + b_lo * (x - a * g) / b
    finally:
        model.train(was_training)
    if not torch.isfinite(x).all():
        raise FloatingPointError("regeneration gave NaN or Inf: check the edits' strengths and the guidance scale")
    features = [pipe.denormalize(x[i, :frames]) for i in range(B)]
    joints = [features_to_joints(f, smooth_sigma, foot_lock) for f in features]
    settings = {
        "scheduler": "ddim (trailing)",
        "steps": len(descending),
        "guidance_scale": scale,
        "smooth_sigma": smooth_sigma,
        "foot_lock": foot_lock,
        "inverted_prompt": inversion.prompt,
        "corrected": bool(correct),
        "edits": [repr(e) for e in edits],
    }
    return Generation(prompts, [frames] * B, pipe.config.fps, x, features, joints, settings)
