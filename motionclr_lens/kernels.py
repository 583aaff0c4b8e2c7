"""CPU kernels for the model's large matrix products, applied to a model in place.

`use_cpu_kernels(model)` turns the products that dominate a MotionCLR's time (the attention projections, the
feed-forward layers and the temporal convolutions) into layers of the same parameters and state-dict keys whose
large products on the CPU run through oneDNN (`dense`); the architecture in `model.py` stays plain torch
layers. On a GPU, and for small products, torch's own kernels run.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .model import FFN, AdaGNConvBlock, ConvBlock, CrossAttention, SelfAttention

__all__ = ["DENSE_MIN_ROWS", "DENSE_MIN_WEIGHTS", "DenseLinear", "TemporalConv1d", "dense", "use_cpu_kernels"]

DENSE_MIN_WEIGHTS = 2**16  # products this large and larger go through `dense` on the CPU
DENSE_MIN_ROWS = 16


def dense(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """(M, K) @ (N, K)^T + bias by oneDNN on the CPU.

    On this kind of CPU oneDNN multiplies float32 matrices at 300-400 GFLOP/s where the BLAS behind
    `F.linear` reaches 140-190 (docs/performance.md); the sums are the same up to order. Where nothing needs
    a gradient, oneDNN's inner product runs (`mkldnn._linear_pointwise`, the kernel torch.compile uses on
    the CPU; its output is contiguous); otherwise oneDNN's 1 x 1 convolution, which has a backward.
    """
    if x.dtype == weight.dtype == torch.float32 and not _needs_grad(x, weight, bias):
        inner_product = _inner_product()
        if inner_product is not None:
            return inner_product(x, weight, bias, "none", [], "")
    return F.conv1d(x.t().unsqueeze(0), weight.unsqueeze(-1), bias)[0].t()


def _needs_grad(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


@functools.cache
def _inner_product() -> Any:
    """oneDNN's inner product where this build has it and it runs on this CPU (looked up once, on first use)."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        op(torch.ones(2, 2), torch.ones(2, 2), None, "none", [], "")
    except (RuntimeError, NotImplementedError):
        return None
    return op


def _use_dense(x: Tensor, weights: int, rows: int) -> bool:
    return x.device.type == "cpu" and weights >= DENSE_MIN_WEIGHTS and rows >= DENSE_MIN_ROWS


class DenseLinear(nn.Linear):
    """A `nn.Linear` (same parameters and state-dict keys) whose large products on the CPU run as `dense`."""

    def forward(self, x: Tensor) -> Tensor:
        rows = x.numel() // max(self.in_features, 1)
        if not _use_dense(x, self.in_features * self.out_features, rows):
            return super().forward(x)
        out = dense(x.reshape(rows, self.in_features), self.weight, self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


class TemporalConv1d(nn.Conv1d):
    """A `nn.Conv1d` (same parameters and state-dict keys) that runs wide kernels as one matrix product.

    oneDNN's direct convolution is slow for wide inputs over few frames (2048 x 5 taps at 20 frames, the
    U-Net's up path, runs at about 110 GFLOP/s on a 2-core CPU) and no faster than a matrix product
    elsewhere. Wherever `in_channels * kernel_size >= GEMM_MIN_WIDTH`, the frames are unfolded into
    (B * T, C_in * k) rows and multiplied by the (C_out, C_in * k) weight with `dense`: the same sum in
    another order, at the matrix-product rate (see docs/performance.md); the rows, k times the input's
    size, are made for a few batch rows at a time (`CHUNK_BYTES`). On a GPU, and for small products,
    torch's own convolution runs.
    """

    GEMM_MIN_WIDTH = 4096
    CHUNK_BYTES = 32 * 2**20  # the most unfolded columns held at once (whole batch rows; at least one)

    def forward(self, x: Tensor) -> Tensor:
        c_out, c_in, k = self.weight.shape
        if (
            c_in * k < self.GEMM_MIN_WIDTH
            or not _use_dense(x, self.weight.numel(), x.shape[0] * x.shape[-1])
            or self.groups != 1
            or self.dilation != (1,)
            or not isinstance(self.padding, tuple)
            or self.padding_mode != "zeros"
        ):
            return super().forward(x)
        B = x.shape[0]
        pad = self.padding[0]
        windows = F.pad(x, (pad, pad)).unfold(2, k, self.stride[0])  # (B, C_in, T_out, k), a view
        t_out = windows.shape[2]
        weight = self.weight.reshape(c_out, c_in * k)
        # The unfolded columns are k times the input: make them a few rows of the batch at a time.
        rows = max(1, self.CHUNK_BYTES // (t_out * c_in * k * x.element_size()))
        out = x.new_empty(B, t_out, c_out)
        for start in range(0, B, rows):
            part = windows[start : start + rows]
            cols = part.permute(0, 2, 1, 3).reshape(part.shape[0] * t_out, c_in * k)
            out[start : start + rows] = dense(cols, weight, self.bias).view(part.shape[0], t_out, c_out)
        return out.transpose(1, 2)


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def use_cpu_kernels(model: ModuleT) -> ModuleT:
    """Run `model`'s large products through the CPU kernels, in place: the attention projections and
    feed-forward layers become `DenseLinear`, the temporal convolutions `TemporalConv1d` (subclasses that add
    no parameter, so weights, state-dict keys and devices are untouched). Returns the model."""
    for module in model.modules():
        layers: list[nn.Module]
        if isinstance(module, (SelfAttention, CrossAttention)):
            layers = [module.query, module.key, module.value]
        elif isinstance(module, FFN):
            layers = [module.linear1, module.linear2]
        elif isinstance(module, (AdaGNConvBlock, ConvBlock)):
            layers = [module.block]
        else:
            continue
        for layer in layers:
            if type(layer) is nn.Linear:
                layer.__class__ = DenseLinear
            elif type(layer) is nn.Conv1d:
                layer.__class__ = TemporalConv1d
    return model
