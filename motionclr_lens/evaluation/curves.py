"""Edit curves for papers: an edit's strength against the evaluator's metrics and the edited word's attention.

    curve = edit_curve(pipe, items, evaluator, lambda a: Reweight(a, word="jumps"), [-0.5, -0.25, 0, 0.25, 0.5],
                       word="jumps")
    curve.plot()    # viz.figures.edit_curve_figure: R-precision, FID and the attention on the word, against strength

Each strength runs the evaluation protocol (`protocol.evaluate`) with the edit on every generation, and measures
the attention the model put on the word (after the edit: `capture`'s default) over the first `attention_prompts`
captions that hold the word: the weight on the word's tokens (summed over them; a reweighting moves it by alpha
per token), averaged over layers, steps, heads and the motion's frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data import MotionText
from . import metrics
from .protocol import EvaluationResult, evaluate

__all__ = ["EditCurve", "edit_curve", "word_attention"]


@dataclass
class EditCurve:
    """Per strength, the protocol's result and the attention on the edited word (one value per prompt)."""

    strengths: list[float]
    results: list[EvaluationResult]
    attention: list[list[float]]
    word: str
    label: str = "strength"
    settings: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str, source: str = "generated") -> tuple[np.ndarray, np.ndarray]:
        """Mean and 95 % half-width of a metric at each strength."""
        pairs = [r.summary()[name][source] for r in self.results]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def word_attention(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and 95 % half-width (over prompts) of the attention on the word at each strength."""
        pairs = [metrics.interval(s) for s in self.attention]
        return np.array([float(p[0]) for p in pairs]), np.array([float(p[1]) for p in pairs])

    def rows(self) -> list[dict[str, float]]:
        out = []
        for i, strength in enumerate(self.strengths):
            row = {self.label: strength}
            for name, by_source in self.results[i].summary().items():
                if "generated" in by_source:
                    row[name], row[f"{name} ±"] = by_source["generated"]
            row["word attention"], row["word attention ±"] = (float(v) for v in metrics.interval(self.attention[i]))
            out.append(row)
        return out

    def plot(self, metrics_shown: Sequence[str] = ("R-precision top 3", "FID"), title: str | None = None) -> Any:
        from ..viz.figures import edit_curve_figure

        return edit_curve_figure(self, metrics_shown, title=title)


def word_attention(
    pipe: Any, prompt: str, word: str, edits: Sequence[Any] = (), seed: int = 0, **options: Any
) -> float:
    """The attention the model put on `word` while generating `prompt` (with `edits`): the weight on its tokens
    (summed over them), averaged over layers, steps, heads and the motion's frames."""
    from ..capture import capture

    tokens = pipe.tokenizer.tokenize_prompt(prompt)
    columns = list(tokens.word(word).tokens)
    with capture(kinds=("cross",), head_mean=True, step_mean=True) as cache:
        pipe.generate([prompt], edits=list(edits), generator=torch.Generator().manual_seed(seed), **options)
    plan = cache.plan
    assert plan is not None
    per_layer = []
    for layer in cache.layers("cross"):
        maps = cache["cross", layer, None][cache.row("cross", layer, 0)][0]  # (padded frames at the layer, 77)
        rows = maps[: plan.valid[layer]]  # the motion's own frames, not the padding
        per_layer.append(float(rows[:, columns].sum(-1).mean()))
    return float(np.mean(per_layer))


def edit_curve(
    pipe: Any,
    items: Sequence[MotionText],
    evaluator: Any,
    make_edit: Callable[[float], Any],
    strengths: Sequence[float],
    word: str,
    attention_prompts: int = 16,
    label: str = "strength",
    **options: Any,
) -> EditCurve:
    """`make_edit(strength)` (an edit, or None for no edit) at each strength: the protocol's metrics over `items`
    (options go to `protocol.evaluate`) and the attention on the word over up to `attention_prompts` captions
    holding it."""
    with_word = [c for item in items for c in item.captions if word in c.split()][:attention_prompts]
    if not with_word:
        raise ValueError(f"no caption of the items holds the word {word!r}: the edit would change nothing")
    generate_options = {k: options[k] for k in ("steps", "guidance_scale") if options.get(k) is not None}
    results, attention = [], []
    for strength in strengths:
        edit = make_edit(strength)
        edits = [] if edit is None else [edit]
        results.append(evaluate(pipe, items, evaluator, edits=edits, **options))
        attention.append(
            [word_attention(pipe, text, word, edits, seed=i, **generate_options) for i, text in enumerate(with_word)]
        )
    return EditCurve(list(strengths), results, attention, word, label, {"attention_prompts": len(with_word), **options})
