"""Evaluating generated motion the way text-to-motion papers do: the HumanML3D evaluator of Guo et al. 2022 (its
networks, vocabulary and metrics, with parity to the original's code), for R-precision, FID, MM-Dist, diversity
and multimodality.

    from motionclr_lens.evaluation import Evaluator, metrics
    evaluator = Evaluator.from_data_folder("data")          # MotionCLR's ./data layout, where you have it
"""

from __future__ import annotations

from . import metrics as metrics  # a module of its own page
from .evaluator import EVALUATOR_FILES, Evaluator, EvaluatorConfig
from .networks import MotionEncoder, MovementEncoder, TextEncoder
from .words import WordVectorizer, caption_tokens, read_safe_pickle, tag_caption

__all__ = [
    "EVALUATOR_FILES",
    "Evaluator",
    "EvaluatorConfig",
    "MotionEncoder",
    "MovementEncoder",
    "TextEncoder",
    "WordVectorizer",
    "caption_tokens",
    "read_safe_pickle",
    "tag_caption",
]
