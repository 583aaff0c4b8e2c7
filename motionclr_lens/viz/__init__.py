"""Figures of motions and attention: matplotlib for papers (figures.py), plotly for exploring
(interactive.py: imported on use, so the library loads without plotly's start-up cost)."""

from .figures import PAPER_STYLE, attention_map, counting_figure, keyframe_strip, save_figure, styled, word_curves

__all__ = ["PAPER_STYLE", "attention_map", "counting_figure", "keyframe_strip", "save_figure", "styled", "word_curves"]
