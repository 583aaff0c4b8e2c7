"""Figures of motions and attention: matplotlib for papers (figures.py), plotly for exploring
(interactive.py: imported on use, so the library loads without plotly's start-up cost).

`word_curves` is the deprecated name of `word_curves_figure` (it warns; removed in the next release)."""

from .figures import (
    PAPER_STYLE,
    attention_map,
    counting_figure,
    grounding_scores_figure,
    head_statistics_figure,
    head_taxonomy_figure,
    keyframe_strip,
    save_figure,
    styled,
    word_curves,
    word_curves_figure,
)

__all__ = [
    "PAPER_STYLE",
    "attention_map",
    "counting_figure",
    "grounding_scores_figure",
    "head_statistics_figure",
    "head_taxonomy_figure",
    "keyframe_strip",
    "save_figure",
    "styled",
    "word_curves",
    "word_curves_figure",
]
