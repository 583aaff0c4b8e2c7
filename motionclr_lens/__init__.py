"""motionclr_lens: see, measure and edit MotionCLR text-to-motion diffusion through its attention.

Public names are imported on first use, so `import motionclr_lens` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ClipTextConfig": "config",
    "MotionCLRConfig": "config",
    "MotionCLR": "model",
    "ClipTokenizer": "text",
    "get_tokenizer": "text",
    "Generation": "pipeline",
    "MotionCLRPipeline": "pipeline",
    "load_release": "pipeline",
    "load_model": "pipeline",
    "load_embedded": "embedded",
    "read_release": "checkpoint",
    "make_scheduler": "sampling",
    "SCHEDULERS": "sampling",
    "features_to_joints": "motion",
    "recover_from_ric": "motion",
}

__all__ = [
    "SCHEDULERS",
    "ClipTextConfig",
    "ClipTokenizer",
    "Generation",
    "MotionCLR",
    "MotionCLRConfig",
    "MotionCLRPipeline",
    "__version__",
    "features_to_joints",
    "get_tokenizer",
    "load_embedded",
    "load_model",
    "load_release",
    "make_scheduler",
    "read_release",
    "recover_from_ric",
]

if TYPE_CHECKING:
    from .checkpoint import read_release
    from .config import ClipTextConfig, MotionCLRConfig
    from .embedded import load_embedded
    from .model import MotionCLR
    from .motion import features_to_joints, recover_from_ric
    from .pipeline import Generation, MotionCLRPipeline, load_model, load_release
    from .sampling import SCHEDULERS, make_scheduler
    from .text import ClipTokenizer, get_tokenizer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'motionclr_lens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
