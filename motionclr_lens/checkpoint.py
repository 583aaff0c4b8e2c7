"""Checkpoints: the release folder layout, the openai-CLIP -> transformers conversion, and hub download.

A release folder holds `opt.txt`, `meta/mean.npy`, `meta/std.npy` and `model/latest.tar`
({"encoder", "model_ema", "opt_encoder", "total_it"}); `model_ema` is loaded unless raw weights are asked for.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .config import ClipTextConfig, MotionCLRConfig
from .model import MotionCLR

__all__ = [
    "RELEASE_HUB_ID",
    "ReleaseCheckpointError",
    "clip_from_openai",
    "clip_to_openai",
    "config_from_state_dict",
    "from_release_state_dict",
    "parse_opt",
    "read_release",
    "to_release_state_dict",
]

logger = logging.getLogger(__name__)

RELEASE_HUB_ID = "EvanTHU/MotionCLR"
RELEASE_FILES = ("opt.txt", "meta/mean.npy", "meta/std.npy", "model/latest.tar")
# Release keys with no counterpart in a text-only tower: the image tower and the joint-embedding head.
IGNORED_RELEASE_PREFIXES = ("clip_model.visual.",)
IGNORED_RELEASE_KEYS = ("clip_model.text_projection", "clip_model.logit_scale")


class ReleaseCheckpointError(ValueError):
    """A release folder or checkpoint that is missing, incomplete or does not fit the model."""


@dataclass
class ReleaseCheckpoint:
    """What a release folder holds, read and checked; `load_release` turns it into a pipeline."""

    folder: Path
    config: MotionCLRConfig
    state_dict: dict[str, Tensor]
    mean: np.ndarray
    std: np.ndarray
    options: dict[str, Any]
    total_iterations: int | None
    weights: str


def parse_opt(text: str) -> dict[str, Any]:
    """The "key: value" lines of a release opt.txt, values parsed as Python literals where they are."""
    options: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("---") or ":" not in line:
            continue
        key, _, raw = line.partition(":")
        raw = raw.strip()
        try:
            value: Any = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        options[key.strip()] = value
    return options


# openai CLIP text tower  <->  transformers CLIPTextModel (prefixes are relative to `clip_model.`)
_CLIP_RENAMES = (
    ("token_embedding.weight", "embeddings.token_embedding.weight"),
    ("positional_embedding", "embeddings.position_embedding.weight"),
    ("ln_final.", "final_layer_norm."),
)
_CLIP_BLOCK_RENAMES = (
    ("ln_1.", "layer_norm1."),
    ("ln_2.", "layer_norm2."),
    ("attn.out_proj.", "self_attn.out_proj."),
    ("mlp.c_fc.", "mlp.fc1."),
    ("mlp.c_proj.", "mlp.fc2."),
)
_OPENAI_BLOCK = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")
_HF_BLOCK = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")


def clip_from_openai(openai: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """openai CLIP text-tower tensors (keys without `clip_model.`) -> `CLIPTextModel` state dict.

    The fused `attn.in_proj_*` splits into q, k, v; the image tower, `text_projection` and
    `logit_scale` are not part of the text tower and are dropped.
    """
    out: dict[str, Tensor] = {}
    for key, value in openai.items():
        if key.startswith("visual.") or key in ("text_projection", "logit_scale"):
            continue
        for old, new in _CLIP_RENAMES:
            if key.startswith(old):
                out[new + key[len(old) :]] = value
                break
        else:
            match = _OPENAI_BLOCK.match(key)
            if match is None:
                raise ReleaseCheckpointError(f"unexpected CLIP key clip_model.{key}")
            layer, rest = match.groups()
            prefix = f"encoder.layers.{layer}."
            if rest.startswith("attn.in_proj_"):
                kind = rest.rsplit("_", 1)[1]  # weight | bias
                q, k, v = value.chunk(3, dim=0)
                for name, part in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                    out[f"{prefix}self_attn.{name}.{kind}"] = part
                continue
            for old, new in _CLIP_BLOCK_RENAMES:
                if rest.startswith(old):
                    out[prefix + new + rest[len(old) :]] = value
                    break
            else:
                raise ReleaseCheckpointError(f"unexpected CLIP key clip_model.{key}")
    return out


def clip_to_openai(hf: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of `clip_from_openai` (keys without `clip_model.`), for writing the release layout."""
    out: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, Tensor]] = {}
    for key, value in hf.items():
        if key == "embeddings.position_ids":
            continue
        for old, new in _CLIP_RENAMES:
            if key.startswith(new):
                out[old + key[len(new) :]] = value
                break
        else:
            match = _HF_BLOCK.match(key)
            if match is None:
                raise KeyError(f"unexpected CLIPTextModel key {key}")
            layer, rest = match.groups()
            prefix = f"transformer.resblocks.{layer}."
            m = re.match(r"^self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if m:
                qkv.setdefault((layer, m.group(2)), {})[m.group(1)] = value
                continue
            for old, new in _CLIP_BLOCK_RENAMES:
                if rest.startswith(new):
                    out[prefix + old + rest[len(new) :]] = value
                    break
            else:
                raise KeyError(f"unexpected CLIPTextModel key {key}")
    for (layer, kind), parts in qkv.items():
        out[f"transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def from_release_state_dict(release: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A release state dict (openai CLIP under `clip_model.`) -> this package's `MotionCLR` state dict."""
    release = _strip_wrappers(release)
    clip = {k[len("clip_model.") :]: v for k, v in release.items() if k.startswith("clip_model.")}
    out = {k: v for k, v in release.items() if not k.startswith("clip_model.")}
    out.update({f"clip_model.{k}": v for k, v in clip_from_openai(clip).items()})
    return out


def to_release_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """This package's `MotionCLR` state dict -> the release layout (text tower only: no `clip_model.visual.*`)."""
    clip = {k[len("clip_model.") :]: v for k, v in state_dict.items() if k.startswith("clip_model.")}
    out = {k: v for k, v in state_dict.items() if not k.startswith("clip_model.")}
    out.update({f"clip_model.{k}": v for k, v in clip_to_openai(clip).items()})
    return out


def _strip_wrappers(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """EMA checkpoints saved through `torch.optim.swa_utils.AveragedModel` carry `module.` and `n_averaged`."""
    out = {}
    for key, value in state_dict.items():
        if key == "n_averaged":
            continue
        out[key[len("module.") :] if key.startswith("module.") else key] = value
    return out


def _option(options: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """An opt.txt value as `kind` (int or float), or an error naming the option and its value."""
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
        what = "an int" if kind is int else "a number"
        raise ReleaseCheckpointError(f"opt.txt: {name} must be {what}, got {value!r}")
    return kind(value)


def _shape(state_dict: Mapping[str, Tensor], key: str) -> tuple[int, ...]:
    if key not in state_dict:
        raise ReleaseCheckpointError(f"checkpoint has no tensor {key!r}, needed to read the model's sizes")
    return tuple(state_dict[key].shape)


def config_from_state_dict(release: Mapping[str, Tensor], options: Mapping[str, Any] | None = None) -> MotionCLRConfig:
    """Sizes of a release-layout state dict, read from tensor shapes; opt.txt values where shapes are silent.

    Where opt.txt and the shapes both speak they must agree (base_dim x dim_mults = U-Net widths).
    """
    options = dict(options or {})
    release = _strip_wrappers(release)
    levels = 0
    while f"unet.downs.{levels}.0.conv1d.blocks.0.block.weight" in release:
        levels += 1
    if levels == 0:
        raise ReleaseCheckpointError("checkpoint has no `unet.downs.0.*` tensors: not a MotionCLR state dict")
    channels = tuple(_shape(release, f"unet.downs.{i}.0.conv1d.blocks.0.block.weight")[0] for i in range(levels))
    if "base_dim" in options and "dim_mults" in options:
        base, mults = options["base_dim"], options["dim_mults"]
        if not (isinstance(base, int | float) and isinstance(mults, list | tuple)) or not all(
            isinstance(m, int | float) for m in mults
        ):
            raise ReleaseCheckpointError(f"opt.txt: base_dim {base!r} and dim_mults {mults!r} must be numbers")
        expected = tuple(int(base * m) for m in mults)
        if expected != channels:
            raise ReleaseCheckpointError(
                f"opt.txt says base_dim {options['base_dim']} x dim_mults {options['dim_mults']} = {expected}, "
                f"but the checkpoint's U-Net widths are {channels}"
            )
    text_latent_dim, clip_width = _shape(release, "embed_text.weight")
    if "text_latent_dim" in options and options["text_latent_dim"] != text_latent_dim:
        raise ReleaseCheckpointError(
            f"opt.txt says text_latent_dim {options['text_latent_dim']}, the checkpoint has {text_latent_dim}"
        )
    text_layers = 0
    while f"textTransEncoder.layers.{text_layers}.linear1.weight" in release:
        text_layers += 1
    clip_layers = 0
    while f"clip_model.transformer.resblocks.{clip_layers}.ln_1.weight" in release:
        clip_layers += 1
    vocab, width = _shape(release, "clip_model.token_embedding.weight")
    if width != clip_width:
        raise ReleaseCheckpointError(f"CLIP width {width} does not match embed_text's input {clip_width}")
    clip = ClipTextConfig(
        vocab_size=vocab,
        width=width,
        layers=clip_layers,
        heads=max(1, width // 64),  # the openai rule
        context_length=_shape(release, "clip_model.positional_embedding")[0],
        ffn_dim=_shape(release, "clip_model.transformer.resblocks.0.mlp.c_fc.weight")[0],
    )
    return MotionCLRConfig(
        input_dim=_shape(release, "unet.final_conv.weight")[0],
        channels=channels,
        time_dim=_shape(release, "unet.time_mlp.0.pe")[1],
        text_latent_dim=text_latent_dim,
        text_layers=text_layers,
        text_heads=_option(options, "text_num_heads", int, 4),
        text_ff_size=_shape(release, "textTransEncoder.layers.0.linear1.weight")[0],
        dropout=_option(options, "dropout", float, 0.1),
        cond_mask_prob=_option(options, "cond_mask_prob", float, 0.1),
        clip=clip,
    )


def _read_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except (ValueError, OSError, EOFError, TypeError) as error:
        raise ReleaseCheckpointError(f"cannot read {path}: {error or 'an empty or truncated file'}") from None


def read_release(folder: str | Path, weights: str = "ema") -> ReleaseCheckpoint:
    """Read and check a release folder. `weights`: "ema" (the default, as the original) or "raw"."""
    if weights not in ("ema", "raw"):
        raise ValueError(f"weights={weights!r}; valid: 'ema', 'raw'")
    folder = Path(folder)
    if not folder.is_dir():
        raise ReleaseCheckpointError(f"release folder {str(folder)!r} does not exist")
    missing = [name for name in RELEASE_FILES if not (folder / name).is_file()]
    if missing:
        raise ReleaseCheckpointError(
            f"release folder {str(folder)!r} lacks {missing}; a release holds {list(RELEASE_FILES)}"
        )
    try:
        options = parse_opt((folder / "opt.txt").read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ReleaseCheckpointError(f"cannot read {folder / 'opt.txt'}: {error}") from None
    mean, std = (_read_array(folder / "meta" / f"{name}.npy") for name in ("mean", "std"))
    tar = folder / "model" / "latest.tar"
    if tar.stat().st_size == 0:
        raise ReleaseCheckpointError(f"cannot read {tar}: the file is empty")
    try:
        archive = torch.load(tar, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        what = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReleaseCheckpointError(f"cannot read {tar}: {what} (a truncated or foreign file?)") from None
    if not isinstance(archive, dict):
        raise ReleaseCheckpointError(f"{folder / 'model' / 'latest.tar'} holds a {type(archive).__name__}, not a dict")
    key = "model_ema" if weights == "ema" else "encoder"
    if key not in archive:
        if weights == "ema" and "encoder" in archive:
            logger.warning("%s has no EMA weights: loading the raw ones", folder / "model" / "latest.tar")
            key = "encoder"
        else:
            raise ReleaseCheckpointError(
                f"{folder / 'model' / 'latest.tar'} has no {key!r} entry; it has {sorted(archive)}"
            )
    entry = archive[key]
    if not isinstance(entry, Mapping) or not all(isinstance(v, Tensor) for v in entry.values()):
        raise ReleaseCheckpointError(f"{tar}: its {key!r} entry holds a {type(entry).__name__}, not a state dict")
    release = _strip_wrappers(entry)
    try:
        config = config_from_state_dict(release, options)
    except (TypeError, ValueError) as error:
        if isinstance(error, ReleaseCheckpointError):
            raise
        raise ReleaseCheckpointError(f"{folder / 'opt.txt'} and the checkpoint do not give a model: {error}") from None
    for name, stats in (("mean", mean), ("std", std)):
        if stats.shape != (config.input_dim,):
            raise ReleaseCheckpointError(
                f"meta/{name}.npy has shape {stats.shape}, expected ({config.input_dim},) for this model"
            )
    if (std <= 0).any() or not np.isfinite(std).all() or not np.isfinite(mean).all():
        raise ReleaseCheckpointError("meta/std.npy must be positive and finite, meta/mean.npy finite")
    return ReleaseCheckpoint(
        folder=folder,
        config=config,
        state_dict=from_release_state_dict(release),
        mean=mean,
        std=std,
        options=options,
        total_iterations=archive.get("total_it"),
        weights="ema" if key == "model_ema" else "raw",
    )


def build_release_model(checkpoint: ReleaseCheckpoint) -> MotionCLR:
    """The model of a read release, weights loaded with a strict key and shape check."""
    model = MotionCLR(checkpoint.config)
    load_strict(model, checkpoint.state_dict, source=str(checkpoint.folder))
    return model.eval()


def load_strict(model: MotionCLR, state_dict: Mapping[str, Tensor], source: str) -> None:
    """`load_state_dict(strict=True)` with an error that names the missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    ignored = {"clip_model.embeddings.position_ids"}
    missing = sorted(set(expected) - set(state_dict) - ignored)
    unexpected = sorted(set(state_dict) - set(expected))
    shapes = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(expected[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or shapes:

        def head(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" (and {len(items) - 8} more)" if len(items) > 8 else "")

        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys: {head(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {head(shapes)}")
        raise ReleaseCheckpointError(f"{source} does not fit the model: " + "; ".join(parts))
    model.load_state_dict(dict(state_dict), strict=False)


def download_release(repo_id: str = RELEASE_HUB_ID, cache_dir: str | Path | None = None) -> Path:
    """Download a release from the Hugging Face hub (needs network and `huggingface_hub`); returns the folder."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as error:  # pragma: no cover - huggingface_hub comes with transformers
        raise ImportError("downloading a release needs `pip install huggingface_hub`") from error
    path = None
    for name in RELEASE_FILES:
        path = Path(hf_hub_download(repo_id=repo_id, filename=name, cache_dir=cache_dir))
    assert path is not None
    return path.parent.parent
