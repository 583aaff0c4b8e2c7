"""A model with what it needs to make motions: tokenizer, feature statistics, and `generate`."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .checkpoint import build_release_model, download_release, read_release
from .edits import Edit, EditRun
from .hooks import DenoiseInfo, RunPlan, announce_run, use_hooks
from .model import MotionCLR
from .motion import FEATURE_DIM, features_to_joints
from .sampling import SCHEDULERS, alphas_cumprod, make_scheduler, sample_loop
from .text import ClipTokenizer, TokenizedPrompt, get_tokenizer

__all__ = [
    "DEFAULT_GUIDANCE_SCALE",
    "PROBE_TIMESTEP",
    "Generation",
    "MotionCLRPipeline",
    "UnknownWordWarning",
    "load_model",
    "load_release",
    "model_hash",
]

DEFAULT_GUIDANCE_SCALE = 2.5  # the original's, for models that state none
# The noise level at which `probe` reads attention on a given motion, everywhere the library probes (the CLI,
# the report, the analyses): noisy enough that the model must use the prompt, clean enough to see the motion.
PROBE_TIMESTEP = 300

logger = logging.getLogger(__name__)


class UnknownWordWarning(UserWarning):
    """A prompt has words the model was not trained on."""


@dataclass
class Generation:
    """Motions made by `MotionCLRPipeline.generate`: features and joints per prompt, and the settings used.

    `sample` is the raw normalised model output (B, T_max, 263); `features[i]` (T_i, 263) is denormalised
    and cropped to prompt i's length; `joints[i]` (T_i, 22, 3) is on the floor and, by default, smoothed.
    """

    prompts: list[str]
    lengths: list[int]
    fps: float
    sample: Tensor
    features: list[np.ndarray]
    joints: list[np.ndarray]
    settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)


class MotionCLRPipeline:
    """A MotionCLR, its tokenizer and its feature mean/std. Move it with `.to(device)`."""

    def __init__(
        self,
        model: MotionCLR,
        mean: np.ndarray,
        std: np.ndarray,
        tokenizer: ClipTokenizer | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
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
        """`guidance_scale`, or the model's own when None; refuses NaN and infinities."""
        scale = self.guidance_scale if guidance_scale is None else float(guidance_scale)
        if not math.isfinite(scale):
            raise ValueError(f"guidance_scale must be finite, got {guidance_scale}")
        return scale

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
        if lengths is None:
            secs = 4.0 if seconds is None else seconds
            secs_list = [secs] * n if isinstance(secs, int | float) else list(secs)
            frames = [round(float(s) * fps) for s in secs_list]
        else:
            frames = [lengths] * n if isinstance(lengths, int) else [int(v) for v in lengths]
        if len(frames) != n:
            raise ValueError(f"{len(frames)} lengths for {n} prompts")
        for value in frames:
            if not 1 <= value <= max_frames:
                raise ValueError(
                    f"length {value} frames is outside [1, {max_frames}] (= {max_frames / fps:.2f} s at {fps:g} fps)"
                )
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

    def plan(self, batch: int, frames: int, steps: int, scheduler: str = "dpmsolver", guided: bool = True) -> RunPlan:
        """The shape of a sampling run: per-layer resolutions, and the scheduler's timesteps."""
        sched = make_scheduler(scheduler)
        sched.set_timesteps(steps)
        return self._plan(batch, frames, tuple(int(t) for t in sched.timesteps), guided)

    def _plan(self, batch: int, frames: int, timesteps: tuple[int, ...], guided: bool) -> RunPlan:
        config = self.config
        padded = frames + (-frames) % config.downsampling
        levels = [b.clr_attn.self_attention.level for b in self.model.unet.clr_blocks()]
        return RunPlan(
            batch=batch,
            frames=frames,
            steps=len(timesteps),
            guided=guided,
            resolutions=tuple(padded // 2**lv for lv in levels),
            valid=tuple(-(-frames // 2**lv) for lv in levels),
            heads=config.attention_heads,
            text_tokens=config.clip.context_length,
            timesteps=timesteps,
        )

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
        frames = self.lengths_in_frames(1, len(f), None)[0]
        if not isinstance(timestep, int) or not 0 <= timestep < 1000:
            raise ValueError(f"timestep must be an int in [0, 999], got {timestep!r}")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        x0 = self.normalize(f)[None].to(self.device)
        alpha_bar = alphas_cumprod()[timestep].to(self.device)
        noise = torch.randn(x0.shape, generator=generator, device=generator.device if generator else self.device)
        xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise.to(self.device)
        tokenized = [self.tokenizer.tokenize_prompt(prompt)]
        self.warn_unknown_words(tokenized)
        text = self.encode(tokenized)
        plan = self._plan(1, frames, (timestep,), guidance_scale != 1.0)
        run = EditRun(tokenized, [frames], plan, self.config.fps)
        edit_hooks = [h for e in edits for h in _edit_hooks(e, run)]
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with use_hooks(*edit_hooks), torch.no_grad():
                announce_run(plan)
                t = torch.full((1,), timestep, device=self.device, dtype=torch.long)
                estimate = model.guided(xt, t, text, guidance_scale, info=DenoiseInfo(0, timestep))
        finally:
            model.train(was_training)
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
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts:
            raise ValueError("no prompts given")
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise ValueError(f"prompts must be non-empty strings, got {p!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; valid: {sorted(SCHEDULERS)}")
        guidance_scale = self.resolve_guidance(guidance_scale)
        frames = self.lengths_in_frames(len(prompts), lengths, seconds)
        device = self.device
        shape = (len(prompts), max(frames), self.config.input_dim)
        if noise is None:
            gen_device = generator.device if generator is not None else device
            noise = torch.randn(shape, generator=generator, device=gen_device)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {shape}")
        noise = noise.to(device, torch.float32)
        tokenized = [self.tokenizer.tokenize_prompt(p) for p in prompts]
        self.warn_unknown_words(tokenized)
        text = self.encode(tokenized)
        model = self.model
        sampler = make_scheduler(scheduler)
        sampler.set_timesteps(steps)
        plan = self._plan(len(prompts), max(frames), tuple(int(t) for t in sampler.timesteps), guidance_scale != 1.0)
        run = EditRun(tokenized, frames, plan, self.config.fps)
        edit_hooks = [h for e in edits for h in _edit_hooks(e, run)]
        was_training = model.training
        model.eval()
        try:
            with use_hooks(*edit_hooks):
                announce_run(plan)
                sample = sample_loop(
                    lambda x, t, step: model.guided(x, t, text, guidance_scale, info=DenoiseInfo(step, int(t[0]))),
                    noise,
                    sampler,
                    steps,
                    generator=generator,
                    autocast_dtype=autocast_dtype,
                    progress=progress,
                )
        finally:
            model.train(was_training)
        bad = [i for i, n in enumerate(frames) if not torch.isfinite(sample[i, :n]).all()]
        if bad:
            raise FloatingPointError(
                f"sampling gave NaN or Inf for prompts {bad} ({[prompts[i] for i in bad]}): check the edits' "
                f"strengths, the guidance scale ({guidance_scale}) and, under autocast, the dtype"
            )
        features = [self.denormalize(sample[i, :n]) for i, n in enumerate(frames)]
        joints = [features_to_joints(f, smooth_sigma, foot_lock) for f in features]
        settings = {
            "scheduler": scheduler,
            "steps": steps,
            "guidance_scale": guidance_scale,
            "autocast_dtype": str(autocast_dtype) if autocast_dtype else None,
            "smooth_sigma": smooth_sigma,
            "foot_lock": foot_lock,
            "edits": [repr(e) for e in edits],
        }
        return Generation(prompts, frames, self.config.fps, sample, features, joints, settings)


def _edit_hooks(edit: Edit, run: EditRun) -> list:
    if not isinstance(edit, Edit):
        raise TypeError(
            f"edits must be Edit values (Reweight, Erase, Replace, ...), got {type(edit).__name__}: {edit!r}"
        )
    return edit.hooks(run)


def load_release(
    folder: str | Path | None = None, weights: str = "ema", hub_id: str | None = None
) -> MotionCLRPipeline:
    """Load a released MotionCLR folder (opt.txt, meta/mean.npy, meta/std.npy, model/latest.tar).

    `weights`: "ema" (default) or "raw". Without a folder, `hub_id` (e.g. "EvanTHU/MotionCLR") downloads
    the release first, which needs network access.
    """
    if folder is None:
        if hub_id is None:
            raise ValueError("give a release folder, or a hub_id to download one")
        folder = download_release(hub_id)
    checkpoint = read_release(folder, weights=weights)
    model = build_release_model(checkpoint)
    info = {
        "source": str(checkpoint.folder),
        "weights": checkpoint.weights,
        "total_iterations": checkpoint.total_iterations,
        "options": checkpoint.options,
    }
    if checkpoint.mean.shape != (FEATURE_DIM,):
        logger.warning("feature statistics have shape %s, not (%d,)", checkpoint.mean.shape, FEATURE_DIM)
    return MotionCLRPipeline(model, checkpoint.mean, checkpoint.std, info=info)


def load_model(model: str = "embedded", weights: str = "ema") -> MotionCLRPipeline:
    """A pipeline from one name: "embedded" (the model in the package), a release folder, or a hub id
    (owner/name); `weights` ("ema" or "raw") for a release."""
    if model == "embedded":
        from .embedded import load_embedded

        return load_embedded()
    path = Path(model)
    if path.is_dir():
        return load_release(path, weights=weights)
    if "/" in model and not path.exists():
        return load_release(hub_id=model, weights=weights)
    raise ValueError(f"model {model!r} is not 'embedded', a release folder or a hub id (owner/name)")


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
