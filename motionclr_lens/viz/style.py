"""The figure style shared by every matplotlib figure of the library (importing this loads no matplotlib)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["PAPER_STYLE", "styled"]

PAPER_STYLE: dict[Any, Any] = {  # Any keys: matplotlib types rcParams names as literals
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.6,
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # editable text in PDF and SVG
    "svg.fonttype": "none",
    "image.cmap": "magma",
}

F = TypeVar("F", bound=Callable[..., Any])


def styled(function: F) -> F:
    """Draw inside the library's figure style (`PAPER_STYLE`)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib.pyplot as plt

        with plt.rc_context(PAPER_STYLE):
            return function(*args, **kwargs)

    return cast(F, wrapper)
