"""motionclr_lens: see, measure and edit MotionCLR text-to-motion diffusion through its attention.

    import motionclr_lens as ml

    pipe = ml.load_embedded()                      # or ml.load_release(folder)
    with ml.capture() as cache:                    # every attention map of the run
        out = pipe.generate("a person jumps three times", edits=[ml.Reweight(0.5, word="jumps")])
    ml.analysis.word_curves(cache, ...)            # analyses, figures and the world as subpackages

Public names are imported on first use, so `import motionclr_lens` stays quick.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    # models and loaders
    "load_embedded": "embedded",
    "load_release": "loading",
    "load_model": "loading",
    "MotionCLRPipeline": "pipeline",
    "Generation": "pipeline",
    "RunSettings": "settings",
    "MotionCLR": "model",
    "MotionCLRConfig": "config",
    "ClipTextConfig": "config",
    # the lens: capture and hooks
    "capture": "capture",
    "capture_keys": "capture",
    "AttentionCache": "capture",
    "Hook": "hooks",
    "use_hooks": "hooks",
    # the paper's edits
    "Reweight": "edits",
    "Erase": "edits",
    "Replace": "edits",
    "TimeShift": "edits",
    "ExampleBased": "edits",
    "StyleTransfer": "edits",
    "Ground": "edits",
    # editing a given motion
    "invert": "inversion",
    "regenerate": "inversion",
    # motions
    "features_to_joints": "motion",
    # live editing in a notebook
    "LiveEditor": "widgets",
}
_SUBPACKAGES = ("analysis", "viz", "world")

# Names the package exposed before that now stay in their modules: reachable for one release, with a warning.
_MOVED = {
    "get_tokenizer": "text",
    "ClipTokenizer": "text",
    "read_release": "checkpoint",
    "make_scheduler": "sampling",
    "SCHEDULERS": "sampling",
    "recover_from_ric": "motion",
}

__all__ = [
    "AttentionCache",
    "ClipTextConfig",
    "Erase",
    "ExampleBased",
    "Generation",
    "Ground",
    "Hook",
    "LiveEditor",
    "MotionCLR",
    "MotionCLRConfig",
    "MotionCLRPipeline",
    "Replace",
    "Reweight",
    "RunSettings",
    "StyleTransfer",
    "TimeShift",
    "__version__",
    "capture",
    "capture_keys",
    "features_to_joints",
    "invert",
    "load_embedded",
    "load_model",
    "load_release",
    "regenerate",
    "use_hooks",
]

if TYPE_CHECKING:
    from . import analysis as analysis
    from . import viz as viz
    from . import world as world
    from .capture import AttentionCache, capture, capture_keys
    from .config import ClipTextConfig, MotionCLRConfig
    from .edits import Erase, ExampleBased, Ground, Replace, Reweight, StyleTransfer, TimeShift
    from .embedded import load_embedded
    from .hooks import Hook, use_hooks
    from .inversion import invert, regenerate
    from .loading import load_model, load_release
    from .model import MotionCLR
    from .motion import features_to_joints
    from .pipeline import Generation, MotionCLRPipeline
    from .settings import RunSettings
    from .widgets import LiveEditor


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _MOVED:
        where = f"motionclr_lens.{_MOVED[name]}"
        warnings.warn(f"motionclr_lens.{name} is now only {where}.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(where), name)
    else:
        raise AttributeError(f"module 'motionclr_lens' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, *_SUBPACKAGES]


class _Package(types.ModuleType):
    """The package's module type. `ml.capture` is the capture function, while `motionclr_lens.capture` is also
    the module that defines it: importing a submodule sets it as an attribute of its package, which would
    replace the function by the module; here a public function keeps its name. Names from the module are
    imported from it as usual (`from motionclr_lens.capture import CaptureSpec`)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
