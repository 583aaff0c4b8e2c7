"""The guided sampling loop over diffusers schedulers (x0 prediction, 1000 linear-beta training steps)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import warnings
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

from . import defaults
from .hooks import DenoiseInfo

# diffusers' schedulers hand torch tensors to NumPy (`np.array(tensor)`, `np.log(tensor)`), which NumPy 2 answers
# with deprecation warnings about torch's `__array__` and `__array_wrap__` on every run. They are diffusers' and
# torch's to settle, not a caller's: silenced for diffusers' scheduler modules only.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"diffusers\.schedulers\.")

__all__ = [
    "DEFAULT_GUIDANCE_SCALE",
    "SCHEDULERS",
    "alphas_cumprod",
    "check_schedule",
    "guided_prediction",
    "make_scheduler",
    "sample_loop",
]

# The classifier-free guidance scale of the original, for models that state none of their own.
DEFAULT_GUIDANCE_SCALE = defaults.DEFAULT_GUIDANCE_SCALE

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


def make_scheduler(name: str, num_train_timesteps: int = 1000, beta_schedule: str = "linear", **options: Any) -> Any:
    """A fresh diffusers scheduler by name: dpmsolver (sde-dpmsolver++, Karras sigmas), ddim, ddpm, pndm, deis;
    `options` go to its constructor over the library's settings (e.g. `timestep_spacing="trailing"`)."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; valid: {sorted(SCHEDULERS)}")
    cls, extra = SCHEDULERS[name]
    prediction_type = "epsilon" if name in _EPSILON_ONLY else "sample"
    return cls(
        num_train_timesteps=num_train_timesteps,
        beta_schedule=beta_schedule,
        prediction_type=prediction_type,
        **{**extra, **options},
    )


# Schedulers whose repeated timesteps do no harm: PNDM's warm-up (Runge-Kutta steps) revisits timesteps by design;
# DPM-Solver++ with Karras sigmas steps by its sigmas, which stay distinct, and only the timestep the model is told
# is rounded (from 79 steps on, two neighbours share one). PNDM needs 4 steps or more.
_REPEATS_ALLOWED = {"pndm", "dpmsolver"}
_FEWEST_STEPS = {"pndm": 4}


@functools.cache
def check_schedule(name: str, steps: int, num_train_timesteps: int = 1000) -> None:
    """Refuse a step count a scheduler cannot run: fewer than it needs, or so many that a scheduler stepping by
    timesteps meets the same one twice, a step of zero (DEIS at 1000 steps ends in NaN so), naming the scheduler,
    the count and what it takes."""
    fewest = _FEWEST_STEPS.get(name, 1)
    if steps < fewest:
        raise ValueError(f"the {name} scheduler needs {fewest} steps or more, got {steps}")
    if name in _REPEATS_ALLOWED:
        return
    scheduler = make_scheduler(name, num_train_timesteps)
    scheduler.set_timesteps(steps)
    timesteps = [int(t) for t in scheduler.timesteps]
    if len(set(timesteps)) != len(timesteps):
        low, high = 1, steps - 1  # the most steps without a repeat (repeats only grow with the count)
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if _distinct(name, middle, num_train_timesteps) else (low, middle - 1)
        most = low
        raise ValueError(
            f"the {name} scheduler repeats timesteps at {steps} steps (its schedule over {num_train_timesteps} "
            f"training steps rounds them together); it takes at most {most} steps here"
        )


@functools.cache
def _distinct(name: str, steps: int, num_train_timesteps: int) -> bool:
    scheduler = make_scheduler(name, num_train_timesteps)
    scheduler.set_timesteps(steps)
    timesteps = [int(t) for t in scheduler.timesteps]
    return len(set(timesteps)) == len(timesteps)


def alphas_cumprod(num_train_timesteps: int = 1000) -> Tensor:
    """The training schedule's cumulative alphas (float32, one per timestep): what every scheduler here uses,
    what training noises with, and what inversion and single-step denoising read."""
    return make_scheduler("ddpm", num_train_timesteps).alphas_cumprod.clone()


def guided_prediction(
    model: Callable[..., Tensor],
    x: Tensor,
    timesteps: Tensor,
    text: Tensor,
    guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
    info: DenoiseInfo | None = None,
    text_kv: dict[int, Any] | None = None,
) -> Tensor:
    """Classifier-free guidance over a denoiser's x0 prediction (`model`: a MotionCLR, or anything called as one,
    `model(x, timesteps, text, n_cond=, info=, row_prompts=)`): one pass over [x; x], conditional rows first,
    then uncond + scale * (cond - uncond). Scale 1 needs only the conditional rows, which is what it runs.
    `text_kv`: the run's cache of the text's keys and values (`MotionCLR.forward`), passed on when given."""
    B = x.shape[0]
    if timesteps.dim() == 0:
        timesteps = timesteps.expand(B)
    extra = {} if text_kv is None else {"text_kv": text_kv}
    if guidance_scale == 1.0:
        return model(x, timesteps, text, n_cond=B, info=info, **extra)
    out = model(
        torch.cat([x, x]),
        torch.cat([timesteps, timesteps]),
        text,
        n_cond=B,
        info=info,
        row_prompts=list(range(B)) * 2,
        **extra,
    )
    cond, uncond = out[:B], out[B:]
    return uncond + guidance_scale * (cond - uncond)


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
    start: int = 0,
    gradients: bool = False,
) -> Tensor:
    """Run a scheduler from `noise` (B, T, D) to x0.

    `denoise(x_t, timesteps (B,), step)` returns the x0 prediction (guidance included); it runs under
    autocast when `autocast_dtype` is given, while the scheduler's arithmetic stays in float32. `start`
    begins at that step of the `steps`-step schedule (`noise` is then the state at its timestep); the steps
    the denoiser is told count from 0 at `start`. With `gradients`, the denoiser runs with autograd on, so
    that the result can be differentiated with respect to what the hooks keep (attribution patching).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    device = noise.device
    scheduler.set_timesteps(steps, device=device)
    step_params = inspect.signature(scheduler.step).parameters
    step_kwargs: dict[str, Any] = {"generator": generator} if "generator" in step_params else {}
    epsilon_only = scheduler.config.prediction_type == "epsilon"
    sample = noise.float()  # init_noise_sigma is 1 for every scheduler here, and the original does not scale
    if not isinstance(start, int) or not 0 <= start < steps:
        raise ValueError(f"start must be an int in [0, {steps - 1}] for {steps} steps, got {start!r}")
    timesteps = scheduler.timesteps[start:]
    iterator = enumerate(timesteps)
    if progress:
        from tqdm.auto import tqdm

        iterator = enumerate(tqdm(timesteps, desc="sampling", unit="step"))  # left on screen when done
    autocast = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None and autocast_dtype != torch.float32
        else contextlib.nullcontext()
    )
    for step, t in iterator:
        t_batch = torch.full((sample.shape[0],), int(t), device=device, dtype=torch.long)
        with torch.enable_grad() if gradients else contextlib.nullcontext():  # the whole chain, scheduler included
            with contextlib.nullcontext() if gradients else torch.no_grad(), autocast:
                x0 = denoise(sample, t_batch, step)
            x0 = x0.float()
            output = x0_to_epsilon(scheduler, sample, x0, t) if epsilon_only else x0
            sample = scheduler.step(output, t, sample, **step_kwargs).prev_sample
    return sample
