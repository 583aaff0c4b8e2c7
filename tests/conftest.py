"""Shared fixtures: the parity data and HumanML3D oracles beside the project (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARITY = SHARED / "parity"
HUMANML3D = SHARED / "data" / "humanml3d"
REFERENCE = SHARED / "reference"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} is not beside the project")
    return path


@pytest.fixture(scope="session")
def fixtures() -> dict:
    return torch.load(need(PARITY / "fixtures.pt"), weights_only=False)


@pytest.fixture(scope="session")
def parity_pipeline():
    from motionclr_lens import load_release

    return load_release(need(PARITY / "checkpoint"))
