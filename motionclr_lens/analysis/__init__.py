"""Analyses: word-to-frame grounding from captured attention; actions and repetitions read off joints."""

from .counting import PaperCount, PeriodCount, count_by_period, count_paper, diagonal_profile
from .descriptors import DESCRIPTOR_DIM, heading, motion_descriptor
from .grounding import (
    GroundingScores,
    WordCurves,
    activation_mask,
    random_curve,
    root_speed_curve,
    score_grounding,
    temporal_iou,
    word_curves,
)
from .heads import HeadStatistics, HeadTaxonomy, head_statistics, taxonomy
from .recognition import ActionRecogniser, RecognisedSegment, decode_segments, joints_of
from .repetitions import COUNTABLE, RepetitionCount, count_repetitions, repetition_signal

__all__ = [
    "COUNTABLE",
    "DESCRIPTOR_DIM",
    "ActionRecogniser",
    "GroundingScores",
    "HeadStatistics",
    "HeadTaxonomy",
    "PaperCount",
    "PeriodCount",
    "RecognisedSegment",
    "RepetitionCount",
    "WordCurves",
    "activation_mask",
    "count_by_period",
    "count_paper",
    "count_repetitions",
    "decode_segments",
    "diagonal_profile",
    "head_statistics",
    "heading",
    "joints_of",
    "motion_descriptor",
    "random_curve",
    "repetition_signal",
    "root_speed_curve",
    "score_grounding",
    "taxonomy",
    "temporal_iou",
    "word_curves",
]
