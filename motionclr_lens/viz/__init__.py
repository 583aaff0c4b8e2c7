"""Figures of motions and attention: matplotlib for papers (figures.py); more views come with the lens."""

from .figures import keyframe_strip

__all__ = ["keyframe_strip"]
