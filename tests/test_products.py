"""The model's own products (oneDNN matrix products, unfolded wide convolutions) against torch's layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from motionclr_lens.kernels import DenseLinear, TemporalConv1d


@pytest.mark.parametrize("chunk_bytes", [TemporalConv1d.CHUNK_BYTES, 1, 3 * 2**20])
def test_wide_convolution_equals_torchs(monkeypatch, chunk_bytes):
    """2048 channels x 5 taps, the up path's shape: unfolded (whole, one batch row or a few at a time)."""
    torch.manual_seed(0)
    conv = TemporalConv1d(2048, 256, 5, padding=2)
    x = torch.randn(5, 2048, 24)
    monkeypatch.setattr(TemporalConv1d, "CHUNK_BYTES", chunk_bytes)
    with torch.no_grad():
        ours = conv(x)
        theirs = F.conv1d(x, conv.weight, conv.bias, padding=2)
    assert ours.shape == theirs.shape == (5, 256, 24)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_dense_linear_equals_torchs():
    torch.manual_seed(0)
    layer = DenseLinear(1024, 1024)
    x = torch.randn(3, 40, 1024)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=1e-4, atol=1e-4)
