"""The guided sampling loop over diffusers schedulers (x0 prediction, 1000 linear-beta training steps)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DEISMultistepScheduler,
    DPMSolverMultistepScheduler,
    PNDMScheduler,
)
from torch import Tensor

__all__ = ["SCHEDULERS", "alphas_cumprod", "make_scheduler", "sample_loop"]

# name -> (class, extra arguments); every one gets 1000 training steps, linear betas, x0 prediction.
SCHEDULERS: dict[str, tuple[type, dict[str, Any]]] = {
    "dpmsolver": (DPMSolverMultistepScheduler, {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}),
    "ddim": (DDIMScheduler, {"clip_sample": False}),
    "ddpm": (DDPMScheduler, {"variance_type": "fixed_small", "clip_sample": False}),
    "pndm": (PNDMScheduler, {}),
    "deis": (DEISMultistepScheduler, {}),
}
# Schedulers that cannot take an x0 prediction: the loop hands them the equivalent epsilon.
_EPSILON_ONLY = {"pndm"}


def make_scheduler(name: str, num_train_timesteps: int = 1000, beta_schedule: str = "linear") -> Any:
    """A fresh diffusers scheduler by name: dpmsolver (sde-dpmsolver++, Karras sigmas), ddim, ddpm, pndm, deis."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; valid: {sorted(SCHEDULERS)}")
    cls, extra = SCHEDULERS[name]
    prediction_type = "epsilon" if name in _EPSILON_ONLY else "sample"
    return cls(
        num_train_timesteps=num_train_timesteps,
        beta_schedule=beta_schedule,
        prediction_type=prediction_type,
        **extra,
    )


def alphas_cumprod(num_train_timesteps: int = 1000) -> Tensor:
    """The training schedule's cumulative alphas (float32, one per timestep): what every scheduler here uses,
    what training noises with, and what inversion and single-step denoising read."""
    return make_scheduler("ddpm", num_train_timesteps).alphas_cumprod.clone()


def x0_to_epsilon(scheduler: Any, sample: Tensor, x0: Tensor, timestep: Tensor) -> Tensor:
    """The noise implied by an x0 prediction at `timestep`: (x_t - sqrt(a_t) x0) / sqrt(1 - a_t)."""
    alpha_bar = scheduler.alphas_cumprod.to(sample.device, torch.float32)[int(timestep)]
    return (sample - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def sample_loop(
    denoise: Callable[[Tensor, Tensor, int], Tensor],
    noise: Tensor,
    scheduler: Any,
    steps: int,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> Tensor:
    """Run a scheduler from `noise` (B, T, D) to x0.

    `denoise(x_t, timesteps (B,), step)` returns the x0 prediction (guidance included); it runs under
    autocast when `autocast_dtype` is given, while the scheduler's arithmetic stays in float32.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    device = noise.device
    scheduler.set_timesteps(steps, device=device)
    step_params = inspect.signature(scheduler.step).parameters
    step_kwargs: dict[str, Any] = {"generator": generator} if "generator" in step_params else {}
    epsilon_only = scheduler.config.prediction_type == "epsilon"
    sample = noise.float()  # init_noise_sigma is 1 for every scheduler here, and the original does not scale
    timesteps = scheduler.timesteps
    iterator = enumerate(timesteps)
    if progress:
        from tqdm.auto import tqdm

        iterator = enumerate(tqdm(timesteps, desc="sampling", leave=False))
    autocast = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None and autocast_dtype != torch.float32
        else contextlib.nullcontext()
    )
    for step, t in iterator:
        t_batch = torch.full((sample.shape[0],), int(t), device=device, dtype=torch.long)
        with torch.no_grad(), autocast:
            x0 = denoise(sample, t_batch, step)
        x0 = x0.float()
        output = x0_to_epsilon(scheduler, sample, x0, t) if epsilon_only else x0
        sample = scheduler.step(output, t, sample, **step_kwargs).prev_sample
    return sample
