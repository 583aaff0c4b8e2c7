"""Analyses: word-to-frame grounding from captured attention; actions and repetitions read off joints."""

from .descriptors import DESCRIPTOR_DIM, heading, motion_descriptor
from .grounding import WordCurves, word_curves
from .recognition import ActionRecogniser, RecognisedSegment, decode_segments, joints_of
from .repetitions import COUNTABLE, RepetitionCount, count_repetitions, repetition_signal

__all__ = [
    "COUNTABLE",
    "DESCRIPTOR_DIM",
    "ActionRecogniser",
    "RecognisedSegment",
    "RepetitionCount",
    "WordCurves",
    "count_repetitions",
    "decode_segments",
    "heading",
    "joints_of",
    "motion_descriptor",
    "repetition_signal",
    "word_curves",
]
