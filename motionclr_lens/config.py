"""Frozen configuration values: the sizes of a MotionCLR and of its CLIP text tower."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClipTextConfig", "MotionCLRConfig"]


@dataclass(frozen=True)
class ClipTextConfig:
    """Sizes of the CLIP text transformer (openai layout: heads = width // 64, FFN = 4 x width)."""

    vocab_size: int = 49408
    width: int = 512
    layers: int = 12
    heads: int = 8
    context_length: int = 77
    ffn_dim: int = 2048

    def __post_init__(self) -> None:
        for name in ("vocab_size", "width", "layers", "heads", "context_length", "ffn_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"ClipTextConfig.{name} must be a positive int, got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"ClipTextConfig.width={self.width} is not divisible by heads={self.heads}")


@dataclass(frozen=True)
class MotionCLRConfig:
    """Every size of a MotionCLR denoiser.

    `channels` are the U-Net widths per level (the original's base_dim x dim_mults); the number of
    levels L gives 4L + 2 CLR blocks, hence as many self- and cross-attention layers.
    The defaults are the released HumanML3D model (arXiv 2410.18977, 4 levels of 1024 channels).
    """

    input_dim: int = 263
    channels: tuple[int, ...] = (1024, 1024, 1024, 1024)
    time_dim: int = 512
    text_latent_dim: int = 256
    text_layers: int = 4
    text_heads: int = 4
    text_ff_size: int = 2048
    attention_heads: int = 8
    group_norm_groups: int = 8
    kernel_size: int = 5
    dropout: float = 0.1
    cond_mask_prob: float = 0.1
    max_frames: int = 196
    fps: float = 20.0
    clip: ClipTextConfig = field(default_factory=ClipTextConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if isinstance(self.clip, dict):
            object.__setattr__(self, "clip", ClipTextConfig(**self.clip))
        if not self.channels:
            raise ValueError("MotionCLRConfig.channels must name at least one level")
        for name in (
            "input_dim", "time_dim", "text_latent_dim", "text_layers", "text_heads", "text_ff_size",
            "attention_heads", "group_norm_groups", "kernel_size", "max_frames",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MotionCLRConfig.{name} must be a positive int, got {value!r}")
        bad = [c for c in self.channels if c < 1]
        if bad:
            raise ValueError(f"MotionCLRConfig.channels must be positive, got {self.channels}")
        for c in self.channels:
            if c % self.attention_heads or c % self.group_norm_groups:
                raise ValueError(
                    f"MotionCLRConfig.channels={self.channels}: every width must be divisible by "
                    f"attention_heads={self.attention_heads} and group_norm_groups={self.group_norm_groups}"
                )
        if self.text_latent_dim % self.text_heads:
            raise ValueError(
                f"MotionCLRConfig.text_latent_dim={self.text_latent_dim} is not divisible by "
                f"text_heads={self.text_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MotionCLRConfig.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.cond_mask_prob < 1.0:
            raise ValueError(f"MotionCLRConfig.cond_mask_prob must be in [0, 1), got {self.cond_mask_prob}")

    @property
    def levels(self) -> int:
        return len(self.channels)

    @property
    def num_attention_layers(self) -> int:
        """Self-attention layers (as many cross-attention ones): 2 per level down and up, 2 in the middle."""
        return 4 * self.levels + 2

    @property
    def downsampling(self) -> int:
        """Frames are zero-padded to a multiple of this before the U-Net."""
        return 2**self.levels

    @classmethod
    def release(cls) -> MotionCLRConfig:
        """The configuration of the released checkpoint `EvanTHU/MotionCLR`."""
        return cls()

    @classmethod
    def embedded(cls) -> MotionCLRConfig:
        """The small model shipped in the package: the release's architecture (4 levels, 18 attention
        layers, 8 heads) at a width a laptop CPU trains and samples quickly, with a small CLIP text tower."""
        return cls(
            channels=(64, 64, 128, 128),
            time_dim=64,
            text_latent_dim=64,
            text_layers=2,
            text_heads=4,
            text_ff_size=256,
            dropout=0.0,
            clip=ClipTextConfig(width=128, layers=3, heads=2, ffn_dim=512),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotionCLRConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MotionCLRConfig fields {unknown}; valid: {sorted(known)}")
        data = dict(data)
        if "clip" in data and isinstance(data["clip"], dict):
            data["clip"] = ClipTextConfig(**data["clip"])
        return cls(**data)
