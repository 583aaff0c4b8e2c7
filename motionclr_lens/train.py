"""Training a MotionCLR on motion-text data (the original recipe: x0 prediction, masked MSE, AdamW,
condition masking for guidance, EMA, gradient clipping), with checkpoints and resume."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import defaults
from .data import MotionText, weight_global_features
from .kernels import use_cpu_kernels
from .model import MotionCLR
from .sampling import alphas_cumprod
from .text import ClipTokenizer, get_tokenizer

__all__ = ["LOSS_MEANS", "TrainConfig", "Trainer", "TrainingInterrupted", "load_checkpoint"]

LOSS_MEANS = defaults.LOSS_MEANS

logger = logging.getLogger(__name__)


def load_checkpoint(path: str | Path) -> dict:
    """A training checkpoint, read without running any code it may carry (tensors, numbers, strings,
    lists and dicts only): a run folder may come from anyone."""
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} holds objects other than tensors, numbers, strings, lists and dicts, so it was not written "
            f"by this trainer; it is not loaded, since loading it could run code ({str(error).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"cannot read the training checkpoint {path}: {error}") from None
    needed = ("step", "model", "ema", "optimizer", "model_config", "train_config", "history", "mean", "std")
    missing = [k for k in needed if k not in state] if isinstance(state, dict) else list(needed)
    if missing:
        raise ValueError(f"{path} is not a training checkpoint: it lacks {missing}")
    return state


@dataclass
class TrainConfig:
    """Optimisation settings. `steps` counts optimizer steps; EMA is updated every step."""

    steps: int = 10000
    batch_size: int = 32
    # The cosine spans `cosine_steps` (None: `steps`); from step `anneal_from` (None: never) the rate falls
    # instead from its value there to the floor at `steps` by a half cosine: a long schedule cut short.
    cosine_steps: int | None = None
    anneal_from: int | None = None
    lr: float = 2e-4
    weight_decay: float = 1e-2
    warmup: int = 300
    min_lr_ratio: float = 0.1
    ema_decay: float = 0.999
    clip_grad_norm: float = 1.0
    cond_mask_prob: float = 0.1
    feat_bias: float = 5.0  # the root and foot-contact features weigh feat_bias**2 more in the loss (the original's)
    # "motion": the MSE over each motion's valid frames, then the mean over the batch (the original's);
    # "frames": one mean over every valid frame of the batch, so longer motions weigh more.
    loss_mean: str = "motion"
    diffusion_steps: int = 1000
    checkpoint_every: int = 500
    seed: int = 0
    threads: int | None = None
    freeze_clip: bool = False
    model: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cosine_steps is not None and self.cosine_steps < self.steps:
            raise ValueError(f"cosine_steps must be at least steps ({self.steps}) or None, got {self.cosine_steps}")
        if self.anneal_from is not None and not self.warmup <= self.anneal_from < self.steps:
            raise ValueError(
                f"anneal_from must be in [{self.warmup}, {self.steps - 1}] (after the warm-up, before the last step) "
                f"or None, got {self.anneal_from}"
            )


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the step it stopped after, saved in `checkpoint` (resume by running again)."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"stopped after step {step}; saved to {checkpoint} (run again to resume)")
        self.step, self.checkpoint = step, checkpoint


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """A first Ctrl-C (SIGINT) asks the training loop to stop after its current step, save and say where; a
    second one interrupts at once. Only the main thread can take signals: elsewhere Ctrl-C is left as it is."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    before = signal.getsignal(signal.SIGINT)

    def ask(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, before)  # a second Ctrl-C is the usual KeyboardInterrupt
        logger.warning("stopping after this step (Ctrl-C again to stop at once)")

    signal.signal(signal.SIGINT, ask)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, before)


class Trainer:
    """Trains a model on motions normalised by `mean` and `std` (the dataset's statistics, as in its
    `Mean.npy`/`Std.npy`) with the root and foot-contact stds divided by `config.feat_bias`, as the original
    does; `run()` resumes from `folder/checkpoint.pt` when it exists. The std saved with the weights is the
    divided one, the model's own."""

    def __init__(
        self,
        model: MotionCLR,
        train: Sequence[MotionText],
        mean: np.ndarray,
        std: np.ndarray,
        config: TrainConfig,
        folder: str | Path,
        tokenizer: ClipTokenizer | None = None,
    ) -> None:
        if not train:
            raise ValueError("no training motions")
        if config.loss_mean not in LOSS_MEANS:
            raise ValueError(f"loss_mean must be one of {list(LOSS_MEANS)}, got {config.loss_mean!r}")
        self.model = use_cpu_kernels(model)
        self.config = config
        self.folder = Path(folder)
        self.tokenizer = tokenizer or get_tokenizer()
        self.mean = np.asarray(mean, np.float32)
        self.std = weight_global_features(np.asarray(std, np.float32), config.feat_bias)
        self.motions = [torch.from_numpy((m.features - self.mean) / self.std) for m in train]
        self.captions = [m.captions for m in train]
        self.lengths = np.array([len(m) for m in self.motions])
        self.by_length = np.argsort(self.lengths, kind="stable")
        # Token ids of every caption, computed once.
        self.token_ids = [self.tokenizer(c) for c in self.captions]
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        if config.freeze_clip:
            for p in model.clip_model.parameters():
                p.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
            fused=True,
        )
        self.alphas_cumprod = alphas_cumprod(config.diffusion_steps)  # linear betas, as the release
        self.step = 0
        self.history: list[dict] = []
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)

    # -- batches ---------------------------------------------------------------------------------------
    def batch(self) -> tuple[Tensor, Tensor, Tensor, int]:
        """(x0 (B, T, D), lengths (B,), token ids (B, 77), n_cond): conditional rows first."""
        B = self.config.batch_size
        # Rows of similar length: a random window of the length-sorted motions, so little is padding.
        window = min(len(self.motions), 4 * B)
        start = int(self.rng.integers(0, len(self.motions) - window + 1))
        index = self.rng.choice(self.by_length[start : start + window], size=B, replace=window < B)
        lengths = self.lengths[index]
        T = int(math.ceil(lengths.max() / 16) * 16)
        x0 = torch.zeros(B, T, self.motions[0].shape[1])
        ids = torch.zeros(B, 77, dtype=torch.long)
        for row, i in enumerate(index):
            x0[row, : lengths[row]] = self.motions[i]
            caps = self.token_ids[i]
            ids[row] = caps[self.rng.integers(0, len(caps))]
        n_uncond = int(self.rng.binomial(B, self.config.cond_mask_prob))
        return x0, torch.from_numpy(lengths), ids, B - n_uncond

    def lr_at(self, step: int) -> float:
        c = self.config
        if step < c.warmup:
            return c.lr * (step + 1) / c.warmup
        floor = c.lr * c.min_lr_ratio
        if c.anneal_from is not None and step > c.anneal_from:
            start = self._cosine(c.anneal_from)
            progress = min(1.0, (step - c.anneal_from) / max(1, c.steps - c.anneal_from))
            return floor + (start - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return self._cosine(step)

    def _cosine(self, step: int) -> float:
        c = self.config
        span = c.steps if c.cosine_steps is None else c.cosine_steps
        progress = min(1.0, max(0, step - c.warmup) / max(1, span - c.warmup))
        return c.lr * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    def loss(self, x0: Tensor, lengths: Tensor, ids: Tensor, n_cond: int) -> Tensor:
        B, T, _ = x0.shape
        t = torch.randint(0, self.config.diffusion_steps, (B,), generator=self.generator)
        noise = torch.randn(x0.shape, generator=self.generator)
        ab = self.alphas_cumprod[t].view(B, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        text = (
            self.model.encode_text(ids[:n_cond]) if n_cond else x0.new_zeros(0, 77, self.model.config.text_latent_dim)
        )
        pred = self.model(xt, t, text, n_cond=n_cond)
        valid = (torch.arange(T)[None, :] < lengths[:, None]).float()  # (B, T)
        if self.config.loss_mean == "frames":
            return (F.mse_loss(pred, x0, reduction="none") * valid[..., None]).sum() / (valid.sum() * x0.shape[-1])
        per_frame = F.mse_loss(pred, x0, reduction="none").mean(-1) * valid
        return (per_frame.sum(-1) / valid.sum(-1)).mean()

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(list(self.ema.parameters()), [p.detach() for p in self.model.parameters()], 1 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            e.copy_(b)

    # -- checkpoints -----------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.folder / "checkpoint.pt"

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_config": self.model.config.to_dict(),
            "train_config": asdict(self.config),
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "history": self.history,
            # tensors, not numpy arrays: a checkpoint holds only what `load_checkpoint` reads without running code
            "mean": torch.from_numpy(self.mean),
            "std": torch.from_numpy(self.std),
        }
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint_path)  # never leave a half-written checkpoint

    def resume(self) -> bool:
        if not self.checkpoint_path.is_file():
            return False
        state = load_checkpoint(self.checkpoint_path)
        if state["model_config"] != self.model.config.to_dict():
            raise ValueError(f"{self.checkpoint_path} was trained with another model configuration")
        # Settings a resumed run must share; the defaults are those of checkpoints from before the field.
        for name, before, why in (
            ("feat_bias", 1.0, "its features are normalised otherwise"),
            ("loss_mean", "frames", "resumed, it would mix two losses"),
        ):
            trained, asked = state["train_config"].get(name, before), getattr(self.config, name)
            if trained != asked:
                raise ValueError(f"{self.checkpoint_path} was trained with {name} {trained!r}, not {asked!r}: {why}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.step = int(state["step"])
        self.history = list(state["history"])
        logger.info("resumed from %s at step %d", self.checkpoint_path, self.step)
        return True

    def train_step(self) -> float:
        """One optimizer step on a fresh batch at the schedule's learning rate, then the EMA; returns the loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        loss = self.loss(*self.batch())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        self.optimizer.step()
        self.step += 1
        self.update_ema()
        return float(loss.detach())

    def run(self, progress: bool = True, until: int | None = None) -> list[dict]:
        """Train to `config.steps` (or stop after step `until`: the learning-rate schedule still spans
        `config.steps`, and a later run resumes from there), resuming if a checkpoint exists; returns the
        loss history."""
        if until is not None and not 0 < until <= self.config.steps:
            raise ValueError(f"until must be in [1, {self.config.steps}] (the configured steps), got {until}")
        last = self.config.steps if until is None else until
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        self.resume()
        self.model.train()
        iterator = range(self.step, last)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            of = "" if last == self.config.steps else f" (to step {last} of the {self.config.steps}-step schedule)"
            bar = tqdm(iterator, initial=self.step, total=last, desc=f"training{of}")
            iterator = bar
        running, start = 0.0, time.perf_counter()
        with _stop_on_interrupt() as stop:
            for _ in iterator:
                if stop.is_set():
                    self.save()
                    (self.folder / "history.json").write_text(json.dumps(self.history))
                    if bar is not None:
                        bar.close()
                    raise TrainingInterrupted(self.step, self.checkpoint_path)
                running = self._one_step(running, bar, start, last)
        return self.history

    def _one_step(self, running: float, bar: Any, start: float, last: int) -> float:
        """One step, with the running loss, the bar, the history every 50 steps and the checkpoint."""
        value = self.train_step()
        running = 0.98 * running + 0.02 * value if self.step > 1 else value
        if bar is not None:
            bar.set_postfix(loss=f"{running:.4f}")
        if self.step % 50 == 0:
            self.history.append(
                {
                    "step": self.step,
                    "loss": running,
                    "seconds": time.perf_counter() - start,
                    "lr": self.lr_at(self.step),
                }
            )
        if self.step % self.config.checkpoint_every == 0 or self.step == last:
            self.save()
            (self.folder / "history.json").write_text(json.dumps(self.history))
        return running
