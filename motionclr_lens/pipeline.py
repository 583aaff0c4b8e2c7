"""A model with what it needs to make motions: tokenizer, feature statistics, and `generate`."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from . import defaults
from .edits import Edit, EditRun
from .hooks import DenoiseInfo, RunPlan, use_hooks
from .kernels import use_cpu_kernels
from .model import MotionCLR
from .motion import check_finite, features_to_joints
from .sampling import DEFAULT_GUIDANCE_SCALE, alphas_cumprod, guided_prediction, make_scheduler, sample_loop
from .settings import RunSettings, check_guidance_scale
from .text import ClipTokenizer, TokenizedPrompt, get_tokenizer

__all__ = [
    "DEFAULT_GUIDANCE_SCALE",
    "PROBE_TIMESTEP",
    "Generation",
    "MotionCLRPipeline",
    "RunSettings",
    "UnknownWordWarning",
    "model_hash",
]

# The noise level at which `probe` reads attention on a given motion, everywhere the library probes (the CLI,
# the report, the analyses): noisy enough that the model must use the prompt, clean enough to see the motion.
PROBE_TIMESTEP = defaults.PROBE_TIMESTEP

logger = logging.getLogger(__name__)

# Names that moved to another module: still reachable here for one release, with a warning naming the new place.
_MOVED = {"load_release": "motionclr_lens.loading", "load_model": "motionclr_lens.loading"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(
            f"motionclr_lens.pipeline.{name} moved to {_MOVED[name]}.{name} (also motionclr_lens.{name})",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


UnknownWordWarning = defaults.UnknownWordWarning


@dataclass
class Generation:
    """Motions made by `MotionCLRPipeline.generate`: features and joints per prompt, and the settings used
    (`RunSettings`, the guidance scale resolved).

    `sample` is the raw normalised model output (B, T_max, 263); `features[i]` (T_i, 263) is denormalised
    and cropped to prompt i's length; `joints[i]` (T_i, 22, 3) is on the floor and, by default, smoothed.
    """

    prompts: list[str]
    lengths: list[int]
    fps: float
    sample: Tensor
    features: list[np.ndarray]
    joints: list[np.ndarray]
    settings: RunSettings = field(default_factory=RunSettings)
    inversion: dict[str, Any] | None = None  # for a regenerated motion: the inverted prompt, the correction

    def __len__(self) -> int:
        return len(self.prompts)


class MotionCLRPipeline:
    """A MotionCLR, its tokenizer and its feature mean/std. Move it with `.to(device)`. The model's large
    products run through the library's CPU kernels (`kernels.use_cpu_kernels`, in place)."""

    def __init__(
        self,
        model: MotionCLR,
        mean: np.ndarray,
        std: np.ndarray,
        tokenizer: ClipTokenizer | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.model = use_cpu_kernels(model)
        self.tokenizer = tokenizer or get_tokenizer()
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.info = dict(info or {})

    @property
    def config(self):
        return self.model.config

    @property
    def guidance_scale(self) -> float:
        """The guidance scale `generate` and `probe` use when given none: the model's own (`info["guidance_scale"]`,
        chosen on validation data for the embedded model), else the original's 2.5."""
        return float(self.info.get("guidance_scale", DEFAULT_GUIDANCE_SCALE))

    def resolve_guidance(self, guidance_scale: float | None) -> float:
        """`guidance_scale`, or the model's own when None (`settings.check_guidance_scale` says what scales mean)."""
        return check_guidance_scale(self.guidance_scale if guidance_scale is None else guidance_scale)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> MotionCLRPipeline:
        self.model.to(device)
        return self

    def encode(self, prompts: Sequence[str] | Sequence[TokenizedPrompt]) -> Tensor:
        """(B, 77, text_latent_dim) text features of prompts (strings or tokenized), on the model's device."""
        tokenized = [p if isinstance(p, TokenizedPrompt) else self.tokenizer.tokenize_prompt(p) for p in prompts]
        ids = torch.zeros(len(tokenized), self.tokenizer.context_length, dtype=torch.long)
        for row, tp in enumerate(tokenized):
            ids[row, : len(tp.ids)] = torch.tensor(tp.ids, dtype=torch.long)
        with torch.no_grad():
            return self.model.encode_text(ids.to(self.device))

    def normalize(self, features: Tensor | np.ndarray) -> Tensor:
        f = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return (f - torch.from_numpy(self.mean)) / torch.from_numpy(self.std)

    def denormalize(self, sample: Tensor) -> np.ndarray:
        return sample.detach().float().cpu().numpy() * self.std + self.mean

    def lengths_in_frames(
        self, n: int, lengths: int | Sequence[int] | None, seconds: float | Sequence[float] | None
    ) -> list[int]:
        """Per-prompt lengths in frames from frames or seconds (default 4 s); each in [1, max_frames]."""
        fps, max_frames = self.config.fps, self.config.max_frames
        if lengths is not None and seconds is not None:
            raise ValueError("give lengths (frames) or seconds, not both")
        limits = f"[1, {max_frames}] frames (= {1 / fps:.2f} to {max_frames / fps:.2f} s at {fps:g} fps)"
        values: list[Any]
        if lengths is None:
            secs = 4.0 if seconds is None else seconds
            one = _is_number(secs) or isinstance(secs, str)
            values = [secs] * n if one else list(cast(Sequence[float], secs))
            for s in values:
                if not (_is_number(s) and math.isfinite(s)):
                    raise ValueError(f"seconds must be finite numbers, got {s!r}; each motion spans {limits}")
            frames = [round(float(s) * fps) for s in values]
        else:
            one = _is_number(lengths) or isinstance(lengths, str | bool)
            values = [lengths] * n if one else list(cast(Sequence[int], lengths))
            for v in values:
                whole = isinstance(v, int | np.integer) or (_is_number(v) and float(v).is_integer())
                if isinstance(v, bool) or not whole:
                    raise ValueError(f"lengths must be whole numbers of frames, got {v!r}; each motion spans {limits}")
            frames = [int(v) for v in values]
        if len(frames) != n:
            raise ValueError(f"{len(frames)} lengths for {n} prompts")
        for value in frames:
            if not 1 <= value <= max_frames:
                raise ValueError(f"length {value} frames is outside {limits}")
        return frames

    def unknown_words(self, prompt: str | TokenizedPrompt) -> list[str]:
        """Words of a prompt with a token the model never saw in training (when its vocabulary is known)."""
        vocabulary = self.info.get("vocabulary")
        if not vocabulary:
            return []
        tokenized = prompt if isinstance(prompt, TokenizedPrompt) else self.tokenizer.tokenize_prompt(prompt)
        return [w.text for w in tokenized.words if any(tokenized.ids[t] not in vocabulary for t in w.tokens)]

    def warn_unknown_words(self, tokenized: Sequence[TokenizedPrompt]) -> None:
        for tp in tokenized:
            unknown = self.unknown_words(tp)
            if unknown:
                warnings.warn(
                    f"the model never saw {unknown} in training (prompt {tp.prompt!r}); it will read them as noise",
                    UnknownWordWarning,
                    stacklevel=3,
                )

    # -- the run's stages ------------------------------------------------------------------------------
    # `generate`, `probe`, `inversion.invert` and `inversion.regenerate` are one run with different stages:
    # 1. check the inputs, 2. encode the prompts, 3. prepare the latents, 4. prepare the run (its plan, the
    # edits' hooks, the hooks in scope told the plan), 5. denoise (any start step, any scheduler), 6. decode.

    def check_prompts(self, prompts: str | Sequence[str]) -> list[str]:
        """Stage 1: the prompts as a list of non-empty strings."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts:
            raise ValueError("no prompts given")
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise ValueError(f"prompts must be non-empty strings, got {p!r}")
        return prompts

    def encode_prompts(self, prompts: Sequence[str]) -> tuple[list[TokenizedPrompt], Tensor]:
        """Stage 2: the tokenized prompts (warning of words the model never saw) and their text features."""
        tokenized = [self.tokenizer.tokenize_prompt(p) for p in prompts]
        self.warn_unknown_words(tokenized)
        return tokenized, self.encode(tokenized)

    def prepare_latents(
        self, shape: tuple[int, ...], generator: torch.Generator | None = None, noise: Tensor | None = None
    ) -> Tensor:
        """Stage 3: the starting state, `noise` as given or drawn from `generator`, float32 on the model's device."""
        if noise is None:
            noise = torch.randn(shape, generator=generator, device=generator.device if generator else self.device)
        elif tuple(noise.shape) != tuple(shape):
            raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {tuple(shape)}")
        return noise.to(self.device, torch.float32)

    def plan(self, batch: int, frames: int, steps: int, scheduler: str = "dpmsolver", guided: bool = True) -> RunPlan:
        """The shape of a sampling run: per-layer resolutions, and the scheduler's timesteps."""
        sched = make_scheduler(scheduler)
        sched.set_timesteps(steps)
        return self.model.run_plan(batch, frames, tuple(int(t) for t in sched.timesteps), guided)

    @contextlib.contextmanager
    def prepare_run(
        self,
        tokenized: Sequence[TokenizedPrompt],
        lengths: Sequence[int],
        timesteps: Sequence[int],
        guidance_scale: float,
        edits: Sequence[Edit] = (),
    ) -> Iterator[RunPlan]:
        """Stage 4: the run's plan (told to every hook in scope), the edits' hooks in scope, the model in eval
        mode without gradients; the model's mode is restored however the block ends."""
        for edit in edits:
            if not isinstance(edit, Edit):
                raise TypeError(
                    f"edits must be Edit values (Reweight, Erase, Replace, ...), got {type(edit).__name__}: {edit!r}"
                )
        plan = self.model.run_plan(
            len(tokenized), max(lengths), tuple(int(t) for t in timesteps), guidance_scale != 1.0
        )
        run = EditRun(tokenized, list(lengths), plan, self.config.fps)
        edit_hooks = [h for e in edits for h in e.hooks(run)]
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with use_hooks(*edit_hooks, plan=plan), torch.no_grad():
                yield plan
        finally:
            model.train(was_training)

    def denoiser(self, text: Tensor, guidance_scale: float) -> Callable[[Tensor, Tensor, int], Tensor]:
        """The guided x0 prediction `(x_t, timesteps (B,), step) -> x0` that stage 5 steps with; the text's keys
        and values in every cross-attention are computed at its first call and reused (one cache per denoiser)."""
        model = self.model
        text_kv: dict[int, Any] = {}
        return lambda x, t, step: guided_prediction(
            model, x, t, text, guidance_scale, DenoiseInfo(step, int(t[0])), text_kv
        )

    def decode(
        self,
        sample: Tensor,
        prompts: Sequence[str],
        lengths: Sequence[int],
        settings: RunSettings,
        inversion: dict[str, Any] | None = None,
    ) -> Generation:
        """Stage 6: each row cropped to its length, denormalised and turned into joints (smoothed and with the
        feet locked as `settings` say); refuses NaN or Inf."""
        bad = [i for i, n in enumerate(lengths) if not torch.isfinite(sample[i, :n]).all()]
        if bad:
            raise FloatingPointError(
                f"sampling gave NaN or Inf for prompts {bad} ({[prompts[i] for i in bad]}): check the edits' "
                f"strengths, the guidance scale ({settings.guidance_scale}) and, under autocast, the dtype"
            )
        features = [self.denormalize(sample[i, :n]) for i, n in enumerate(lengths)]
        joints = [features_to_joints(f, settings.smooth_sigma, settings.foot_lock) for f in features]
        return Generation(list(prompts), list(lengths), self.config.fps, sample, features, joints, settings, inversion)

    # -- runs --------------------------------------------------------------------------------------------

    def probe(
        self,
        features: np.ndarray | Tensor,
        prompt: str,
        timestep: int = PROBE_TIMESTEP,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        edits: Sequence[Edit] = (),
    ) -> np.ndarray:
        """One guided denoiser pass over a given motion noised to `timestep` (0-999), so that hooks in scope
        (a capture, say) see the attention the model pays to a motion it did not make, under `prompt`.

        `features` are (T, 263) in HumanML3D units (not normalised). Returns the model's (T, 263) estimate
        of the clean motion. The run has one step (step index 0) at `timestep`. `guidance_scale` defaults
        to the model's (`pipe.guidance_scale`).
        """
        guidance_scale = self.resolve_guidance(guidance_scale)
        f = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if f.dim() != 2 or f.shape[1] != self.config.input_dim:
            raise ValueError(f"features must have shape (T, {self.config.input_dim}), got {tuple(f.shape)}")
        check_finite(f, "features")
        frames = self.lengths_in_frames(1, len(f), None)[0]
        if not isinstance(timestep, int) or not 0 <= timestep < 1000:
            raise ValueError(f"timestep must be an int in [0, 999], got {timestep!r}")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        x0 = self.normalize(f)[None].to(self.device)
        alpha_bar = alphas_cumprod()[timestep].to(self.device)
        noise = self.prepare_latents(tuple(x0.shape), generator)
        xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
        tokenized, text = self.encode_prompts([prompt])
        with self.prepare_run(tokenized, [frames], [timestep], guidance_scale, edits):
            t = torch.full((1,), timestep, device=self.device, dtype=torch.long)
            estimate = self.denoiser(text, guidance_scale)(xt, t, 0)
        return self.denormalize(estimate[0])

    def generate(
        self,
        prompts: str | Sequence[str],
        lengths: int | Sequence[int] | None = None,
        seconds: float | Sequence[float] | None = None,
        scheduler: str = "dpmsolver",
        steps: int = 10,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        autocast_dtype: torch.dtype | None = None,
        smooth_sigma: float | None = 1.0,
        foot_lock: bool = True,
        progress: bool = False,
        edits: Sequence[Edit] = (),
    ) -> Generation:
        """Sample one motion per prompt.

        All rows are sampled at the longest length and each is cropped to its own, as the original does.
        `noise` (B, T_max, 263) replaces the draw from `generator`. `autocast_dtype` (torch.float16 or
        torch.bfloat16) runs the denoiser under autocast; the model's own weights are never cast.
        `edits` (see `motionclr_lens.edits`) apply to this run only; hooks in scope (capture) see it too.
        `foot_lock` holds the feet the model marks as planted in the joints (`motion.lock_feet`: the body's path,
        then each leg by inverse kinematics; after `smooth_sigma`'s smoothing); the features stay the model's.
        `guidance_scale` defaults to the model's (`pipe.guidance_scale`: 2.5 for the release).
        """
        settings = RunSettings(
            scheduler=scheduler,
            steps=steps,
            guidance_scale=guidance_scale,
            autocast_dtype=RunSettings.autocast_name(autocast_dtype),
            smooth_sigma=smooth_sigma,
            foot_lock=foot_lock,
            edits=tuple(edits),
        )
        return self.run(prompts, settings, lengths, seconds, generator=generator, noise=noise, progress=progress)

    def run(
        self,
        prompts: str | Sequence[str],
        settings: RunSettings,
        lengths: int | Sequence[int] | None = None,
        seconds: float | Sequence[float] | None = None,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        progress: bool = False,
    ) -> Generation:
        """`generate` with its settings as one value (what a record file replays): one motion per prompt. The
        noise comes from `noise`, else `generator`, else `settings.seed`."""
        sampled = self.sample_run(prompts, settings, lengths, seconds, generator, noise, progress)
        return self.decode(sampled.sample, sampled.prompts, sampled.frames, sampled.settings)

    def sample_run(
        self,
        prompts: str | Sequence[str],
        settings: RunSettings,
        lengths: int | Sequence[int] | None = None,
        seconds: float | Sequence[float] | None = None,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        progress: bool = False,
        gradients: bool = False,
    ) -> SampledRun:
        """`run`'s sampling, before decoding: the final normalised sample (B, T, D) with the prompts, frames and
        resolved settings it was made with. With `gradients`, autograd follows every step from the noise on
        (`sample_loop(gradients=True)`): what attribution patching differentiates."""
        if not isinstance(settings, RunSettings):
            raise TypeError(f"settings must be a RunSettings, got {type(settings).__name__}: {settings!r}")
        prompts = self.check_prompts(prompts)
        settings = replace(settings, guidance_scale=self.resolve_guidance(settings.guidance_scale))
        frames = self.lengths_in_frames(len(prompts), lengths, seconds)
        if generator is None and noise is None:
            generator = settings.generator()
        latents = self.prepare_latents((len(prompts), max(frames), self.config.input_dim), generator, noise)
        tokenized, text = self.encode_prompts(prompts)
        sampler = make_scheduler(settings.scheduler)
        sampler.set_timesteps(settings.steps)
        guidance_scale = float(cast(float, settings.guidance_scale))  # resolved above
        with self.prepare_run(tokenized, frames, sampler.timesteps.tolist(), guidance_scale, settings.edits):
            if gradients:
                latents.requires_grad_(True)  # differentiable from its start, whatever the weights say
            sample = sample_loop(
                self.denoiser(text, guidance_scale),
                latents,
                sampler,
                settings.steps,
                generator=generator,
                autocast_dtype=settings.torch_autocast_dtype,
                progress=progress,
                gradients=gradients,
            )
        return SampledRun(sample, prompts, frames, settings)


@dataclass(frozen=True)
class SampledRun:
    """A run's final sample before decoding (`MotionCLRPipeline.sample_run`)."""

    sample: Tensor  # (B, T, D), normalised features, padded to the longest length
    prompts: list[str]
    frames: list[int]
    settings: RunSettings  # guidance resolved


def model_hash(pipe: MotionCLRPipeline) -> str:
    """sha256 of the model's state dict (names, shapes, dtypes and bytes, in order) and its mean/std."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in pipe.model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest.update(np.ascontiguousarray(pipe.mean, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(pipe.std, dtype=np.float32).tobytes())
    return digest.hexdigest()
