"""Analyses of captured attention: word-to-frame grounding (more in later modules)."""

from .grounding import WordCurves, word_curves

__all__ = ["WordCurves", "word_curves"]
