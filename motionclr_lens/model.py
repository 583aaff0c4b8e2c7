"""The MotionCLR denoiser (arXiv 2410.18977, Sec. 3) in plain torch layers, read from the leaves up: self- and
cross-attention, the CLR block, the residual temporal block, the U-Net of CLR blocks, and at the end the model
itself (text encoder, time embedding, U-Net). Classifier-free guidance is in the sampling loop
(`sampling.guided_prediction`), the CPU kernels for the large products in `kernels.py`.

Module and parameter names follow the released checkpoint, so `state_dict()` keys outside the CLIP
tower are the release's (hence the camel-cased `textTransEncoder`); the CLIP tower is a transformers
`CLIPTextModel`, converted from the release's openai layout by `checkpoint.py`.
Shapes: B batch, T frames, C channels, H heads, N text tokens.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import MotionCLRConfig
from .hooks import DenoiseInfo, Hook, HookContext, RunPlan, active_hooks, explicit_attention_forced, run_hooks
from .text import build_clip_text_model

__all__ = ["CLRBlock", "CrossAttention", "MotionCLR", "SelfAttention", "UNet1D"]


def _zero(layer: nn.Conv1d | nn.Linear) -> None:
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def framewise_group_norm(x: Tensor, norm: nn.GroupNorm) -> Tensor:
    """GroupNorm over channel groups of each frame separately: (B, C, T) is normalised as (B*T, C)."""
    B, C, T = x.shape
    return norm(x.transpose(1, 2).reshape(B * T, C)).reshape(B, T, C).transpose(1, 2)


def _split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, T, C) -> (B, H, T, C / H): head h holds channels [h C/H, (h + 1) C/H)."""
    B, T, C = x.shape
    return x.view(B, T, heads, C // heads).transpose(1, 2)


@dataclass(frozen=True)
class AttentionCall:
    """Per-forward facts every attention layer needs: conditional rows, step, row layout, hooks in scope, and
    whether the explicit attention path is forced (`hooks.explicit_attention`), read once per forward.

    twins: where non-zero, rows [twins, 2 twins) of the batch are rows [0, twins) again (the guided pair's halves:
    the same motion at the same timestep), so that they stay equal up to the first cross-attention, which adds the
    text to the conditional rows only: the first CLR block computes its convolutions and self-attention's
    projections once for both (`CLRBlock.forward`)."""

    n_cond: int
    step: int | None
    timestep: int | None
    prompts: tuple[int, ...]
    branches: tuple[str, ...]
    hooks: tuple[Hook, ...]
    explicit: bool = False
    text_kv: dict[int, tuple[tuple[Any, ...], Tensor, Tensor]] | None = None  # see CrossAttention.text_keys_values
    twins: int = 0


class _Attention(nn.Module):
    """Multi-head attention without output projection; scores scaled by sqrt(C / heads).

    With no hook in scope for this layer, the fused kernel runs; otherwise the explicit path, which
    passes q, k, v, scores, weights and out through the hooks.
    """

    kind = ""

    def __init__(self, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.layer, self.name, self.level = -1, "", 0  # set by the U-Net

    def hooks_here(self, call: AttentionCall) -> tuple[Hook, ...]:
        """The hooks in scope that apply to this layer at this step."""
        if not call.hooks:
            return ()
        site = f"{self.name}.{self.kind}"  # what a hook's `names` select, with the point
        return tuple(h for h in call.hooks if h.applies(self.layer, self.kind, call.step, site))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, call: AttentionCall, n_rows: int) -> Tensor:
        """q: (B, T, C); k, v: (B, S, C) -> (B, T, C)."""
        B, T, C = q.shape
        p = self.dropout if self.training else 0.0
        hooks = self.hooks_here(call)
        qh, kh, vh = _split_heads(q, self.heads), _split_heads(k, self.heads), _split_heads(v, self.heads)
        if not hooks and not call.explicit:
            out = F.scaled_dot_product_attention(qh, kh, vh, dropout_p=p)
            return out.transpose(1, 2).reshape(B, T, C)
        # One context for this call; a point a hook takes sees it with its own name.
        ctx = HookContext(
            layer=self.layer,
            name=self.name,
            kind=self.kind,
            point="q",
            resolution=T,
            level=self.level,
            step=call.step,
            timestep=call.timestep,
            prompts=call.prompts[:n_rows],
            branches=call.branches[:n_rows],
        )
        if hooks:
            qh = run_hooks(hooks, qh, ctx)
            kh = run_hooks(hooks, kh, ctx, "k")
            vh = run_hooks(hooks, vh, ctx, "v")
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(C // self.heads)  # (B, H, T, S)
        if hooks:
            scores = run_hooks(hooks, scores, ctx, "scores")
        weights = F.dropout(torch.softmax(scores, dim=-1), p)
        if hooks:
            weights = run_hooks(hooks, weights, ctx, "weights")
        out = (weights @ vh).transpose(1, 2).reshape(B, T, C)
        if hooks:
            out = run_hooks(hooks, out, ctx, "out")
        return out


class SelfAttention(_Attention):
    """Frames attend to frames; one LayerNorm shared by q, k and v; no output projection."""

    kind = "self"

    def __init__(self, channels: int, heads: int, dropout: float) -> None:
        super().__init__(heads, dropout)
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)

    def forward(self, x: Tensor, call: AttentionCall, twins: int = 0) -> Tensor:
        """x: (B, T, C) -> (B, T, C); with `twins`, x holds only the first `twins` rows of a batch whose next
        `twins` rows are the same (`AttentionCall.twins`), and the result is the whole batch's, (2 twins, T, C)."""
        h = self.norm(x)
        q, k, v = self.query(h), self.key(h), self.value(h)
        if not twins:
            return self.attend(q, k, v, call, x.shape[0])
        if self.hooks_here(call):  # the hooks see every row, and may change one half and not the other
            q, k, v = torch.cat([q, q]), torch.cat([k, k]), torch.cat([v, v])
            return self.attend(q, k, v, call, 2 * twins)
        out = self.attend(q, k, v, call, twins)
        return torch.cat([out, out])


class CrossAttention(_Attention):
    """Frames of the conditional rows attend to the text's 77 token features; no output projection."""

    kind = "cross"

    def __init__(self, channels: int, text_dim: int, heads: int, dropout: float) -> None:
        super().__init__(heads, dropout)
        self.norm = nn.LayerNorm(channels)
        self.text_norm = nn.LayerNorm(text_dim)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(text_dim, channels)
        self.value = nn.Linear(text_dim, channels)

    def forward(self, x: Tensor, text: Tensor, call: AttentionCall) -> Tensor:
        k, v = self.text_keys_values(text, call)
        return self.attend(self.query(self.norm(x)), k, v, call, x.shape[0])

    def text_keys_values(self, text: Tensor, call: AttentionCall) -> tuple[Tensor, Tensor]:
        """(B, N, C) keys and values of the text. They do not change across a run's steps: with a run's cache
        (`call.text_kv`, one per run) and no gradient, they are computed at the first step and reused while the
        text is the same tensor, unchanged; hooks on `k` and `v` still see them at every step (as copies)."""
        cache = call.text_kv
        if cache is None or torch.is_grad_enabled():
            t = self.text_norm(text)
            return self.key(t), self.value(t)
        signature = (text.data_ptr(), text.shape, text.stride(), text._version, text.dtype, torch.is_autocast_enabled())
        held = cache.get(self.layer)
        if held is None or held[0] != signature:
            t = self.text_norm(text)
            held = (signature, self.key(t), self.value(t))
            cache[self.layer] = held
        k, v = held[1], held[2]
        return (k.clone(), v.clone()) if call.hooks else (k, v)


class FFN(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)
        _zero(self.linear2)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.linear2(self.dropout(F.gelu(self.linear1(x))))


class CLRAttention(nn.Module):
    """Self-attention on every row, then cross-attention on the conditional rows only (`ResidualCLRAttentionLayer`)."""

    def __init__(self, config: MotionCLRConfig, channels: int) -> None:
        super().__init__()
        self.self_attention = SelfAttention(channels, config.attention_heads, config.dropout)
        self.cross_attention = CrossAttention(channels, config.text_latent_dim, config.attention_heads, config.dropout)

    def forward(self, x: Tensor, text: Tensor, call: AttentionCall, twins: int = 0) -> Tensor:
        """x: (B, T, C); text: (>= n_cond, N, D). With `twins`, x holds the first `twins` rows of a batch of twice
        as many whose halves are the same (`AttentionCall.twins`); the result has all its rows."""
        n_cond = call.n_cond
        if n_cond == 0:
            return x  # the original returns early when no row is conditional, skipping self-attention too
        attended = self.self_attention(x, call, twins)
        x = (torch.cat([x, x]) if twins else x) + attended
        cross = self.cross_attention(x[:n_cond], text[:n_cond], call)
        if n_cond == x.shape[0]:
            return x + cross
        return torch.cat([x[:n_cond] + cross, x[n_cond:]])


class ConvBlock(nn.Module):
    """Conv1d -> per-frame GroupNorm -> Mish."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.block = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.norm = nn.GroupNorm(groups, c_out)

    def forward(self, x: Tensor) -> Tensor:
        return F.mish(framewise_group_norm(self.block(x), self.norm))


class AdaGNConvBlock(nn.Module):
    """Conv1d -> per-frame GroupNorm -> x * (1 + scale) + shift -> Mish."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.block = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.group_norm = nn.GroupNorm(groups, c_out)

    def forward(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        h = framewise_group_norm(self.block(x), self.group_norm)
        return F.mish(h * (1 + scale) + shift)


class ResidualTemporalBlock(nn.Module):
    """Two k-5 convolutions with per-frame GroupNorm and Mish; the first modulated by the timestep."""

    def __init__(self, config: MotionCLRConfig, c_in: int, c_out: int) -> None:
        super().__init__()
        k, groups = config.kernel_size, config.group_norm_groups
        first, second = AdaGNConvBlock(c_in, c_out, k, groups), ConvBlock(c_out, c_out, k, groups)
        time_linear = nn.Linear(config.time_dim, 2 * c_out)
        # Zero-initialised like the original, so a fresh block is the identity on its residual path.
        _zero(second.block)
        _zero(time_linear)
        self.blocks = nn.ModuleList([first, second])
        self.time_mlp = nn.Sequential(nn.Mish(), time_linear)
        self.dropout = nn.Dropout(config.dropout)
        self.residual_conv: nn.Module = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    @property
    def out_channels(self) -> int:
        return cast(AdaGNConvBlock, self.blocks[0]).block.out_channels

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        scale, shift = self.time_mlp(temb).unsqueeze(-1).chunk(2, dim=1)  # (B, C, 1) each
        h = self.blocks[0](x, scale, shift)
        h = self.dropout(self.blocks[1](h))
        return h + self.residual_conv(x)


class CLRBlock(nn.Module):
    """Convolution -> self-attention -> cross-attention -> FFN, each residual (the paper's Fig. 2)."""

    def __init__(self, config: MotionCLRConfig, c_in: int, c_out: int) -> None:
        super().__init__()
        self.layer_index = -1  # set by the U-Net: position in call order
        self.conv1d = ResidualTemporalBlock(config, c_in, c_out)
        self.clr_attn = CLRAttention(config, c_out)
        self.ffn = FFN(c_out, 4 * c_out, config.dropout)

    def forward(self, x: Tensor, temb: Tensor, text: Tensor, call: AttentionCall) -> Tensor:
        """x: (B, C_in, T) -> (B, C_out, T)."""
        # The first block of a batch of twin halves (`AttentionCall.twins`): its convolutions and self-attention's
        # projections see one half, whose rows are the other's until the cross-attention.
        twins = call.twins if self.layer_index == 0 and call.n_cond > 0 else 0
        if twins:
            x, temb = x[:twins], temb[:twins]
        h = self.conv1d(x, temb).transpose(1, 2)  # (B, T, C)
        h = self.clr_attn(h, text, call, twins)
        return self.ffn(h).transpose(1, 2)


class Downsample1d(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample1d(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(c_in, c_out, 4, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class SinusoidalTimestepTable(nn.Module):
    """Transformer sinusoids over 5000 positions, looked up by integer timestep (a saved buffer `pe`)."""

    pe: Tensor

    def __init__(self, dim: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, timesteps: Tensor) -> Tensor:
        return self.pe[timesteps.long()]


class UNet1D(nn.Module):
    """1D U-Net over time of CLR blocks (`CondUnet1D` in the original): L levels down, 2 middle blocks, L up."""

    def __init__(self, config: MotionCLRConfig) -> None:
        super().__init__()
        dims = [config.input_dim, *config.channels]
        self.time_mlp = nn.Sequential(
            SinusoidalTimestepTable(config.time_dim),
            nn.Linear(config.time_dim, 4 * config.time_dim),
            nn.Mish(),
            nn.Linear(4 * config.time_dim, config.time_dim),
        )
        self.downs = nn.ModuleList(
            nn.ModuleList([CLRBlock(config, c_in, c_out), CLRBlock(config, c_out, c_out), Downsample1d(c_out)])
            for c_in, c_out in itertools.pairwise(dims)
        )
        mid = dims[-1]
        self.mid_block1 = CLRBlock(config, mid, mid)
        self.mid_block2 = CLRBlock(config, mid, mid)
        ups = []
        c_prev = mid
        for c_out in reversed(dims[1:]):
            ups.append(
                nn.ModuleList(
                    [Upsample1d(c_prev, c_out), CLRBlock(config, 2 * c_out, c_out), CLRBlock(config, c_out, c_out)]
                )
            )
            c_prev = c_out
        self.ups = nn.ModuleList(ups)
        self.final_conv = nn.Conv1d(dims[1], config.input_dim, 1)
        _zero(self.final_conv)
        names = [f"down{i}.{j}" for i in range(len(self.downs)) for j in range(2)] + ["mid.0", "mid.1"]
        names += [f"up{i}.{j}" for i in range(len(self.ups)) for j in range(2)]
        levels = [i for i in range(len(self.downs)) for _ in range(2)] + [len(self.downs)] * 2
        levels += [len(self.ups) - 1 - i for i in range(len(self.ups)) for _ in range(2)]
        for index, block in enumerate(self.clr_blocks()):
            block.layer_index = index
            for module in (block.clr_attn.self_attention, block.clr_attn.cross_attention):
                module.layer, module.name, module.level = index, names[index], levels[index]

    def clr_blocks(self) -> list[CLRBlock]:
        """The CLR blocks in call order (down, middle, up): attention layer i is block i's."""
        blocks: list[CLRBlock] = []
        for block1, block2, _ in self._levels(self.downs):
            blocks += [cast(CLRBlock, block1), cast(CLRBlock, block2)]
        blocks += [self.mid_block1, self.mid_block2]
        for _, block1, block2 in self._levels(self.ups):
            blocks += [cast(CLRBlock, block1), cast(CLRBlock, block2)]
        return blocks

    @staticmethod
    def _levels(levels: nn.ModuleList) -> list[tuple[nn.Module, nn.Module, nn.Module]]:
        return [(level[0], level[1], level[2]) for level in cast(list[nn.ModuleList], levels)]

    def forward(self, x: Tensor, timesteps: Tensor, text: Tensor, call: AttentionCall) -> Tensor:
        """x: (B, C_in, T) with T a multiple of 2**levels -> (B, C_in, T)."""
        temb = self.time_mlp(timesteps)  # (B, time_dim)
        skips = []
        for block1, block2, downsample in self._levels(self.downs):
            x = block2(block1(x, temb, text, call), temb, text, call)
            skips.append(x)
            x = downsample(x)
        x = self.mid_block2(self.mid_block1(x, temb, text, call), temb, text, call)
        for upsample, block1, block2 in self._levels(self.ups):
            x = torch.cat([upsample(x), skips.pop()], dim=1)
            x = block2(block1(x, temb, text, call), temb, text, call)
        return self.final_conv(x)


class MotionCLR(nn.Module):
    """Text-conditioned x0-predicting motion denoiser.

    `forward(x, timesteps, text, n_cond)` is one denoiser call: rows `[0, n_cond)` of the batch are
    conditioned on `text` (their cross-attention residual is added), the others are not.
    Classifier-free guidance over it is `sampling.guided_prediction`, the call the sampler makes.
    """

    def __init__(self, config: MotionCLRConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MotionCLRConfig()
        self.clip_model = build_clip_text_model(config.clip)
        self.embed_text = nn.Linear(config.clip.width, config.text_latent_dim)
        layer = nn.TransformerEncoderLayer(
            d_model=config.text_latent_dim,
            nhead=config.text_heads,
            dim_feedforward=config.text_ff_size,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
        )
        self.textTransEncoder = nn.TransformerEncoder(layer, num_layers=config.text_layers, enable_nested_tensor=False)
        self.text_ln = nn.LayerNorm(config.text_latent_dim)
        self.unet = UNet1D(config)
        self.compiled_unet: Callable[..., Tensor] | None = None  # compile_fast_path's, for runs without hooks
        # Whether a batch whose two halves are the same motion at the same timestep (classifier-free guidance's
        # pair) runs the first block's convolutions and self-attention's projections once for both halves
        # (`AttentionCall.twins`); off, every row is computed, as the original does.
        self.share_twin_halves = True

    def encode_text(self, token_ids: Tensor) -> Tensor:
        """(B, 77) CLIP ids -> (B, 77, text_latent_dim) text features; every position is a key (no padding mask)."""
        clip_out = self.clip_model(input_ids=token_ids).last_hidden_state  # (B, N, width), after ln_final
        return self.text_ln(self.textTransEncoder(self.embed_text(clip_out)))

    def forward(
        self,
        x: Tensor,
        timesteps: Tensor,
        text: Tensor,
        n_cond: int | None = None,
        info: DenoiseInfo | None = None,
        row_prompts: Sequence[int] | None = None,
        text_kv: dict[int, Any] | None = None,
    ) -> Tensor:
        """(B, T, input_dim) noisy motion -> (B, T, input_dim) predicted clean motion.

        text: (>= n_cond, N, text_latent_dim) features of the conditional rows.
        n_cond: rows [0, n_cond) are conditional (default: all). With n_cond = 0 every CLR block skips its
        whole attention layer, self-attention included, as the original does for a fully masked batch.
        info, row_prompts: the step and timestep of this call and the prompt each row belongs to (default:
        row i is prompt i), passed to hooks in scope.
        text_kv: a run's cache of the text's keys and values (an empty dict at the run's start, the same dict at
        every step): computed once per run instead of at every step.
        """
        B, T, _ = x.shape
        n_cond = B if n_cond is None else n_cond
        if not 0 <= n_cond <= B:
            raise ValueError(f"n_cond={n_cond} must be in [0, {B}] for a batch of {B} rows")
        if n_cond > text.shape[0]:
            raise ValueError(f"n_cond={n_cond} conditional rows but text features for only {text.shape[0]}")
        if timesteps.dim() == 0:
            timesteps = timesteps.expand(B)
        prompts = tuple(range(B)) if row_prompts is None else tuple(int(p) for p in row_prompts)
        if len(prompts) != B:
            raise ValueError(f"row_prompts has {len(prompts)} entries for a batch of {B} rows")
        info = info or DenoiseInfo()
        twins = self._twins(x, timesteps, n_cond)
        call = AttentionCall(
            n_cond=n_cond,
            step=info.step,
            timestep=info.timestep if info.timestep is not None else int(timesteps[0]),
            prompts=prompts,
            branches=tuple("cond" if i < n_cond else "uncond" for i in range(B)),
            hooks=active_hooks(),
            explicit=explicit_attention_forced(),
            text_kv=text_kv,
            twins=twins,
        )
        pad = (-T) % self.config.downsampling
        h = F.pad(x.transpose(1, 2), (0, pad))  # (B, C, T_padded)
        if self.compiled_unet is not None and not call.hooks and not self.training and not call.explicit:
            # Nothing looks inside: the compiled U-Net, told only what changes its arithmetic.
            h = self.compiled_unet(h, timesteps, text, AttentionCall(n_cond, None, None, (), (), (), twins=twins))
        else:
            h = self.unet(h, timesteps, text, call)
        return h[:, :, :T].transpose(1, 2)

    def _twins(self, x: Tensor, timesteps: Tensor, n_cond: int) -> int:
        """`AttentionCall.twins` of a forward: n_cond where the batch is two halves of n_cond rows each, the same
        motion at the same timesteps (the guided pair), in eval mode and with no gradient asked of the input (whose
        second half would get none); else 0."""
        B = x.shape[0]
        # (a model pickled before the switch existed has it on)
        if not getattr(self, "share_twin_halves", True) or self.training or n_cond == 0 or 2 * n_cond != B:
            return 0
        if torch.is_grad_enabled() and x.requires_grad:
            return 0
        same = torch.equal(x[:n_cond], x[n_cond:]) and torch.equal(timesteps[:n_cond], timesteps[n_cond:])
        return n_cond if same else 0

    def compile_fast_path(self, **options: Any) -> MotionCLR:
        """Compile the U-Net with `torch.compile(**options)` for the runs where no hook is in scope (no
        capture, no edit) and the model is in eval mode; every other run, and training, stays eager. The
        first call of each new batch size or length compiles (minutes on a small CPU); `compile_fast_path(disable=True)`
        removes it."""
        # The compiled forward is a function, not a module: it adds nothing to the state dict.
        self.compiled_unet = None if options.pop("disable", False) else torch.compile(self.unet.forward, **options)
        return self

    def guided(
        self,
        x: Tensor,
        timesteps: Tensor,
        text: Tensor,
        guidance_scale: float | None = None,
        info: DenoiseInfo | None = None,
    ) -> Tensor:
        """Deprecated: classifier-free guidance is `sampling.guided_prediction(model, ...)`, in the sampling loop."""
        import warnings

        from .sampling import DEFAULT_GUIDANCE_SCALE, guided_prediction

        warnings.warn(
            "MotionCLR.guided is now motionclr_lens.sampling.guided_prediction(model, ...)", DeprecationWarning, 2
        )
        scale = DEFAULT_GUIDANCE_SCALE if guidance_scale is None else guidance_scale
        return guided_prediction(self, x, timesteps, text, scale, info)

    def run_plan(self, batch: int, frames: int, timesteps: tuple[int, ...], guided: bool) -> RunPlan:
        """What a sampling run of `batch` rows of `frames` frames over `timesteps` will look like inside the model:
        the frames at each attention layer (padded to the U-Net's multiple, and valid), the heads, the text tokens."""
        config = self.config
        padded = frames + (-frames) % config.downsampling
        levels = [b.clr_attn.self_attention.level for b in self.unet.clr_blocks()]
        return RunPlan(
            batch=batch,
            frames=frames,
            steps=len(timesteps),
            guided=guided,
            resolutions=tuple(padded // 2**lv for lv in levels),
            valid=tuple(-(-frames // 2**lv) for lv in levels),
            heads=config.attention_heads,
            text_tokens=config.clip.context_length,
            timesteps=tuple(timesteps),
        )

    def attention_layers(self) -> list[tuple[SelfAttention, CrossAttention]]:
        """(self, cross) attention modules of the 18 layers, in call order."""
        return [(b.clr_attn.self_attention, b.clr_attn.cross_attention) for b in self.unet.clr_blocks()]

    def hook_points(self) -> list[str]:
        """Every hook point's name: `<block>.<self|cross>.<q|k|v|scores|weights|out>`."""
        from .hooks import POINTS

        return [f"{m.name}.{m.kind}.{p}" for pair in self.attention_layers() for m in pair for p in POINTS]
