"""The text-to-motion evaluator: its three networks, its own feature statistics and vocabulary, and the embeddings
every metric reads, computed as MotionCLR's evaluation wrapper computes them.

Quirks kept: motions are normalised with the evaluator's statistics, padded with zeros (the mean pose) to 196
frames, and lose their 4 foot-contact channels after normalising; the movement encoder sees the whole padded
motion (its last valid token reads padding); lengths become tokens by `length // 4`; a batch is re-sorted by motion
length, longest first (`argsort(...)[::-1]` on numpy's default sort), and both embeddings come back in that order,
not the input order; captions must arrive sorted by length, longest first, as the original's batches are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..motion import FEATURE_DIM
from .networks import MotionEncoder, MovementEncoder, TextEncoder
from .words import WordVectorizer

__all__ = ["EVALUATOR_FILES", "Evaluator", "EvaluatorConfig"]

EVALUATOR_FILES = {  # within MotionCLR's `./data` folder
    "checkpoint": "checkpoints/t2m/text_mot_match/model/finest.tar",
    "mean": "t2m_mean.npy",
    "std": "t2m_std.npy",
    "glove": "glove",
}


@dataclass(frozen=True)
class EvaluatorConfig:
    """The evaluator's sizes (the released one's by default) and its reading of motions and captions."""

    dim_pose: int = FEATURE_DIM
    dim_word: int = 300
    dim_pos: int = 15
    text_hidden: int = 512
    motion_hidden: int = 1024
    movement_hidden: int = 512
    movement_latent: int = 512
    embedding: int = 512
    unit_length: int = 4
    max_motion_length: int = 196

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EvaluatorConfig:
        """The sizes a checkpoint's weights have (the released evaluator's, or a smaller one's)."""
        try:
            movement, text, motion = state["movement_encoder"], state["text_encoder"], state["motion_encoder"]
            return cls(
                dim_pose=int(movement["main.0.weight"].shape[1]) + 4,
                dim_word=int(text["pos_emb.weight"].shape[0]),
                dim_pos=int(text["pos_emb.weight"].shape[1]),
                text_hidden=int(text["input_emb.weight"].shape[0]),
                motion_hidden=int(motion["input_emb.weight"].shape[0]),
                movement_hidden=int(movement["main.0.weight"].shape[0]),
                movement_latent=int(movement["out_net.weight"].shape[0]),
                embedding=int(text["output_net.3.weight"].shape[0]),
            )
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise ValueError(f"not the evaluator's weights: no {e}") from None


class Evaluator:
    """The evaluator's networks (in eval mode), its feature statistics and, where given, its vocabulary."""

    def __init__(
        self,
        config: EvaluatorConfig | None = None,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        words: WordVectorizer | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.config = c = config or EvaluatorConfig()
        self.movement = MovementEncoder(c.dim_pose - 4, c.movement_hidden, c.movement_latent)
        self.text = TextEncoder(c.dim_word, c.dim_pos, c.text_hidden, c.embedding)
        self.motion = MotionEncoder(c.movement_latent, c.motion_hidden, c.embedding)
        for module in self.modules():
            module.to(device).eval()
        self.device = torch.device(device)
        self.mean = np.zeros(c.dim_pose, np.float32) if mean is None else np.asarray(mean, np.float32)
        self.std = np.ones(c.dim_pose, np.float32) if std is None else np.asarray(std, np.float32)
        if self.mean.shape != (c.dim_pose,) or self.std.shape != (c.dim_pose,) or not (self.std > 0).all():
            raise ValueError(
                f"the evaluator's mean and std must be ({c.dim_pose},) with std > 0, got {self.mean.shape}, "
                f"{self.std.shape}"
            )
        self.words = words

    def modules(self) -> tuple[torch.nn.Module, ...]:
        return self.movement, self.text, self.motion

    def state_dict(self) -> dict[str, dict[str, Tensor]]:
        """The released file's layout: one state dict per network."""
        return {
            "movement_encoder": self.movement.state_dict(),
            "text_encoder": self.text.state_dict(),
            "motion_encoder": self.motion.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "the state") -> None:
        for key, module in zip(("movement_encoder", "text_encoder", "motion_encoder"), self.modules(), strict=True):
            if key not in state:
                raise ValueError(f"{source} has no {key!r} (it holds {sorted(state)})")
            try:
                module.load_state_dict(state[key])
            except RuntimeError as e:  # torch's first line names the module; the next ones the parameters
                lines = [line.strip() for line in str(e).splitlines() if line.strip()]
                detail = "; ".join(lines[1:4]) or lines[0]
                raise ValueError(f"{source}: {key} does not fit the evaluator: {detail}") from None

    # -- the inputs --------------------------------------------------------------------------------------------
    def prepare_motions(self, features: list[np.ndarray]) -> tuple[Tensor, Tensor]:
        """Motions in HumanML3D units (each (L, 263), 1 <= L <= 196) -> (B, 196, 263) normalised with the
        evaluator's statistics and zero-padded, and their lengths (int64, on the CPU)."""
        c = self.config
        out = np.zeros((len(features), c.max_motion_length, c.dim_pose), np.float32)
        lengths = []
        for i, f in enumerate(features):
            f = np.asarray(f, np.float32)
            if f.ndim != 2 or f.shape[1] != c.dim_pose or not 1 <= len(f) <= c.max_motion_length:
                raise ValueError(
                    f"motion {i} must be (L, {c.dim_pose}) with 1 <= L <= {c.max_motion_length}, got {f.shape}"
                )
            out[i, : len(f)] = (f - self.mean) / self.std
            lengths.append(len(f))
        return torch.from_numpy(out), torch.tensor(lengths, dtype=torch.long)

    def prepare_captions(self, tokens: list[list[str]]) -> tuple[Tensor, Tensor, Tensor]:
        """Captions as `word/POS` tokens -> (B, 22, 300) word vectors, (B, 22, 15) one-hots, lengths; in the given
        order (sort them by length, longest first, before `co_embeddings`)."""
        if self.words is None:
            raise ValueError("this evaluator has no vocabulary: load it with the GloVe folder to read captions")
        encoded = [self.words.encode(t) for t in tokens]
        return (
            torch.from_numpy(np.stack([e[0] for e in encoded]).astype(np.float32)),
            torch.from_numpy(np.stack([e[1] for e in encoded]).astype(np.float32)),
            torch.tensor([e[2] for e in encoded], dtype=torch.long),
        )

    # -- the embeddings ----------------------------------------------------------------------------------------
    @staticmethod
    def alignment(lengths: Tensor) -> np.ndarray:
        """The order the original returns a batch in: by motion length, longest first (numpy's default sort,
        reversed)."""
        return np.argsort(lengths.tolist())[::-1].copy()

    @torch.no_grad()
    def motion_embeddings(self, motions: Tensor, lengths: Tensor) -> Tensor:
        """(B, 196, 263) prepared motions -> (B, 512) embeddings, in `alignment(lengths)` order."""
        order = self.alignment(lengths)
        motions = motions.to(self.device).float()[order]
        movements = self.movement(motions[..., :-4])
        tokens = torch.div(lengths[order], self.config.unit_length, rounding_mode="trunc")
        if (tokens < 1).any():
            raise ValueError(f"motions shorter than {self.config.unit_length} frames have no movement token")
        return self.motion(movements, tokens)

    @torch.no_grad()
    def co_embeddings(
        self, words: Tensor, pos: Tensor, caption_lengths: Tensor, motions: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Text and motion embeddings of matching pairs, both in `alignment(lengths)` order (row i of each is one
        pair). Captions must be sorted by length, longest first."""
        if (caption_lengths[1:] > caption_lengths[:-1]).any():
            raise ValueError("captions must come sorted by length, longest first (as the original's batches)")
        order = self.alignment(lengths)
        motion = self.motion_embeddings(motions, lengths)
        text = self.text(words.to(self.device).float(), pos.to(self.device).float(), caption_lengths)
        return text[order], motion

    # -- for the protocol --------------------------------------------------------------------------------------
    def pair_embeddings(
        self, captions: list[tuple[Any, int]], motions: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Matching pairs (item with `captions` and `tokens`, caption index; motion in HumanML3D units) -> text and
        motion embeddings, row i of each one pair: the batch sorted by caption length as the original's batches
        are, then returned in the evaluator's order."""
        tokens = []
        for item, c in captions:
            if item.tokens is None or item.tokens[c] is None:
                raise ValueError(
                    f"{item.id}: its captions have no 'word/POS' tokens, which this evaluator reads (HumanML3D text "
                    "files carry them; `evaluation.tag_caption` makes them with spaCy)"
                )
            tokens.append(item.tokens[c])
        words, pos, lengths = self.prepare_captions(tokens)
        order = sorted(range(len(tokens)), key=lambda i: -int(lengths[i]))  # stable, longest caption first
        prepared, frames = self.prepare_motions([motions[i] for i in order])
        text, motion = self.co_embeddings(words[order], pos[order], lengths[order], prepared, frames)
        return text.cpu().numpy(), motion.cpu().numpy()

    def motion_embeddings_of(self, motions: list[np.ndarray]) -> np.ndarray:
        """Motions in HumanML3D units -> (B, 512) embeddings, in the evaluator's order."""
        return self.motion_embeddings(*self.prepare_motions(motions)).cpu().numpy()

    # -- loading -----------------------------------------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        checkpoint: str | Path,
        mean: str | Path,
        std: str | Path,
        glove: str | Path | None = None,
        device: str | torch.device = "cpu",
    ) -> Evaluator:
        """The released evaluator: `finest.tar` (read without running code), the evaluator's `t2m_mean.npy` and
        `t2m_std.npy`, and the GloVe folder (`our_vab_*`) where captions are to be read."""
        paths = {"checkpoint": Path(checkpoint), "mean": Path(mean), "std": Path(std)}
        if glove is not None:
            paths.update({f"word vectors {p.name}": p for p in WordVectorizer.files(glove)})
        missing = [f"{name} ({path})" for name, path in paths.items() if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"the evaluator is incomplete: missing {', '.join(missing)}")
        stats = []
        for name in ("mean", "std"):
            try:
                stats.append(np.load(paths[name], allow_pickle=False))
            except (ValueError, OSError, EOFError) as e:
                raise ValueError(f"{paths[name]}: not a readable .npy array ({e})") from None
        try:
            state = torch.load(paths["checkpoint"], map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several kinds for a damaged or unsafe file
            unsafe = "weights_only" in str(e) or "Unsupported global" in str(e)
            first = (str(e).splitlines() or [f"{type(e).__name__}: empty or cut short"])[0]
            reason = "it holds objects other than tensors and plain values" if unsafe else first
            raise ValueError(f"{paths['checkpoint']}: cannot be read as the evaluator ({reason})") from None
        if not isinstance(state, dict):
            raise ValueError(f"{paths['checkpoint']}: not an evaluator checkpoint (a {type(state).__name__})")
        words = None if glove is None else WordVectorizer.from_folder(glove)
        try:
            config = EvaluatorConfig.from_state(state)
        except ValueError as e:
            raise ValueError(f"{paths['checkpoint']}: {e}") from None
        evaluator = cls(config, stats[0], stats[1], words, device)
        evaluator.load_state_dict(state, str(paths["checkpoint"]))
        return evaluator

    @classmethod
    def from_data_folder(cls, data: str | Path, device: str | torch.device = "cpu") -> Evaluator:
        """MotionCLR's `./data` layout: `checkpoints/t2m/text_mot_match/model/finest.tar`, `t2m_mean.npy`,
        `t2m_std.npy`, `glove/our_vab_*`."""
        data = Path(data)
        if not data.is_dir():
            raise FileNotFoundError(f"no evaluator folder at {data}")
        files = {name: data / rel for name, rel in EVALUATOR_FILES.items()}
        return cls.from_files(files["checkpoint"], files["mean"], files["std"], files["glove"], device)
