"""Shared fixtures: the parity data and HumanML3D oracles beside the project (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionclr_lens.config import ClipTextConfig, MotionCLRConfig

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARITY = SHARED / "parity"
HUMANML3D = SHARED / "data" / "humanml3d"
REFERENCE = SHARED / "reference"

# A MotionCLR small enough to build and train in a test.
TINY = MotionCLRConfig(
    channels=(16, 16, 32, 32),
    time_dim=16,
    text_latent_dim=16,
    text_layers=1,
    text_heads=2,
    text_ff_size=32,
    dropout=0.0,
    clip=ClipTextConfig(width=32, layers=1, heads=1, ffn_dim=64),
)


@pytest.fixture(autouse=True)
def kernel_choices_kept_under_load(monkeypatch):
    """Kernel choices are kept however busy the machine is while tests run (the machine's load is the subject of
    its own test, which sets the bound back)."""
    from motionclr_lens import kernels

    monkeypatch.setattr(kernels, "BUSY_CORES", float("inf"))


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} is not beside the project")
    return path


@pytest.fixture(scope="session")
def fixtures() -> dict:
    return torch.load(need(PARITY / "fixtures.pt"), weights_only=False)


@pytest.fixture(scope="session")
def parity_pipeline():
    """The parity checkpoint, computing with torch's own kernels as the original does, so that what the tests
    compare does not depend on which kernel a measurement favoured (test_model_parity runs every kernel)."""
    from motionclr_lens import load_release
    from motionclr_lens.kernels import pin_kernels

    pipe = load_release(need(PARITY / "checkpoint"))
    pin_kernels(pipe.model, linear="blas", conv="direct")
    return pipe
