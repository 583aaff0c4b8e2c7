"""Figures of motions and attention: matplotlib for papers (figures.py), plotly for exploring
(interactive.py: its views, `attention_explorer`, `capture_explorer`, `skeleton_player` and `word_curves_explorer`,
are here too, imported on first use, so the library loads without plotly's start-up cost).

`word_curves` is the deprecated name of `word_curves_figure` (it warns; removed in the next release)."""

from typing import Any

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

# plotly views, from interactive.py on first use
_INTERACTIVE = ("attention_explorer", "capture_explorer", "skeleton_player", "word_curves_explorer")

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


def __getattr__(name: str) -> Any:
    if name in _INTERACTIVE:
        from . import interactive

        return getattr(interactive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, *_INTERACTIVE]
