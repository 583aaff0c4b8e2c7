"""Figures of motions and attention: matplotlib for papers (figures.py); more views come with the lens."""

from .figures import keyframe_strip, word_curves

__all__ = ["keyframe_strip", "word_curves"]
