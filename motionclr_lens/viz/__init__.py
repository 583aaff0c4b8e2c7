"""Figures of motions and attention: matplotlib for papers (figures.py), plotly for exploring
(interactive.py: imported on use, so the library loads without plotly's start-up cost)."""

from .figures import keyframe_strip, word_curves

__all__ = ["keyframe_strip", "word_curves"]
