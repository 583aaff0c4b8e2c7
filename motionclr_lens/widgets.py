"""A live editor for notebooks (ipywidgets): pick an edit, a word of the prompt, a strength and windows in
steps and frames, and see the source and the edited motion side by side with their word x frame maps.

    from motionclr_lens.widgets import LiveEditor
    editor = LiveEditor(load_embedded(), "a person jumps three times, then walks forward")
    editor            # shows the controls and the figure; moving a control regenerates the edited motion

The source run (prompt, seed, length) is generated once and reused while only the edit changes. The figure
is a PNG drawn by matplotlib (shown by any notebook front end without extensions); `editor.update()`
redraws by hand and `editor.last` holds the newest source and edited results.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .capture import capture
from .edits import Edit, Erase, Ground, Reweight, TimeShift

if TYPE_CHECKING:
    from .pipeline import Generation, MotionCLRPipeline

__all__ = ["EDIT_KINDS", "LiveEditor", "build_edit"]

EDIT_KINDS = ("emphasis", "erase", "ground", "time shift", "none")


def build_edit(
    kind: str,
    word: str | None,
    strength: float,
    step_window: tuple[int, int],
    frame_window: tuple[int, int],
    fps: float = 20.0,
) -> tuple[list[Edit], bool]:
    """The edits a control setting stands for, and whether they need the source beside the target (rows
    0 and 1 of one run) rather than one edited row.

    emphasis: Reweight by `strength` (-1..1); erase: Erase with factor 1 - strength inside the frame window;
    ground: Ground with `inside` = strength inside the frame window; time shift: TimeShift by `strength`
    of the motion's length (the target is row 1 of a two-row run); none: no edit."""
    if kind not in EDIT_KINDS:
        raise ValueError(f"unknown edit kind {kind!r}; valid: {list(EDIT_KINDS)}")
    steps = range(int(step_window[0]), int(step_window[1]) + 1)
    seconds = (frame_window[0] / fps, (frame_window[1] + 1) / fps)
    if kind == "none":
        return [], False
    if kind == "time shift":
        return [TimeShift(source=0, target=1, ratio=float(np.clip(strength, 0.0, 1.0)), steps=steps)], True
    if word is None:
        raise ValueError(f"the {kind} edit needs a word of the prompt")
    if kind == "emphasis":
        return [Reweight(alpha=float(strength), word=word, steps=steps)], False
    if kind == "erase":
        return [Erase(word=word, factor=float(1.0 - np.clip(strength, 0.0, 1.0)), seconds=seconds, steps=steps)], False
    return [Ground(word=word, seconds=seconds, inside=float(strength), outside=-0.1, steps=steps)], False


@dataclass
class _Run:
    generation: Generation
    curves: np.ndarray  # (words, frames)
    words: list[str]
    row: int


class LiveEditor:
    """Controls (prompt, edit kind, word, strength, step window, frame window, seed) and a figure of the
    source and edited motions with their word x frame maps."""

    def __init__(
        self,
        pipe: MotionCLRPipeline,
        prompt: str = "a person jumps three times, then walks forward",
        seconds: float = 4.0,
        steps: int = 10,
        seed: int = 0,
        kind: str = "emphasis",
        strength: float = 0.5,
    ) -> None:
        import ipywidgets as w

        if kind not in EDIT_KINDS:
            raise ValueError(f"unknown edit kind {kind!r}; valid: {list(EDIT_KINDS)}")
        self.pipe = pipe
        self.seconds = float(seconds)
        self.steps = int(steps)
        frames = int(round(self.seconds * pipe.config.fps))
        self.prompt = w.Text(
            value=prompt, description="prompt", layout=w.Layout(width="520px"), continuous_update=False
        )
        self.kind = w.Dropdown(options=list(EDIT_KINDS), value=kind, description="edit")
        self.word = w.Dropdown(options=[], description="word")
        self.strength = w.FloatSlider(
            value=strength, min=-1.0, max=1.0, step=0.05, description="strength", continuous_update=False
        )
        self.step_window = w.IntRangeSlider(
            value=(0, self.steps - 1), min=0, max=self.steps - 1, description="steps", continuous_update=False
        )
        self.frame_window = w.IntRangeSlider(
            value=(0, frames - 1), min=0, max=frames - 1, description="frames", continuous_update=False
        )
        self.seed = w.IntText(value=seed, description="seed", layout=w.Layout(width="180px"))
        self.status = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(width="100%"))
        self.last: dict[str, Any] = {}
        self._source: tuple[tuple, _Run] | None = None
        self._refresh_words()
        for control in (self.kind, self.word, self.strength, self.step_window, self.frame_window, self.seed):
            control.observe(self._on_change, names="value")
        self.prompt.observe(self._on_prompt, names="value")
        controls = w.VBox(
            [
                self.prompt,
                w.HBox([self.kind, self.word, self.seed]),
                w.HBox([self.strength, self.step_window, self.frame_window]),
                self.status,
            ]
        )
        self.widget = w.VBox([controls, self.image])
        self.update()

    # -- notebook display ------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- events ----------------------------------------------------------------------------------------
    def _refresh_words(self) -> None:
        words = [w.text for w in self.pipe.tokenizer.tokenize_prompt(self.prompt.value).words]
        current = self.word.value
        self.word.options = words
        if words:
            self.word.value = current if current in words else words[min(2, len(words) - 1)]

    def _on_prompt(self, change: dict) -> None:
        self._source = None
        self._refresh_words()
        self.update()

    def _on_change(self, change: dict) -> None:
        self.update()

    # -- runs ----------------------------------------------------------------------------------------------
    def _run(self, prompts: list[str], edits: list[Edit], row: int) -> _Run:
        frames = int(round(self.seconds * self.pipe.config.fps))
        with capture(kinds=("cross",), head_mean=True, step_mean=True) as cache:
            generation = self.pipe.generate(
                prompts,
                lengths=frames,
                steps=self.steps,
                generator=torch.Generator().manual_seed(int(self.seed.value)),
                edits=edits,
            )
        from .analysis import word_curves

        tokenized = self.pipe.tokenizer.tokenize_prompt(prompts[row])
        curves = word_curves(cache, tokenized, row=row, frames=frames)
        return _Run(generation, curves.curves, curves.words, row)

    def source(self) -> _Run:
        """The unedited run of the current prompt and seed (generated once, then reused)."""
        key = (self.prompt.value, int(self.seed.value), self.seconds, self.steps)
        if self._source is None or self._source[0] != key:
            self._source = (key, self._run([self.prompt.value], [], 0))
        return self._source[1]

    def update(self) -> None:
        """Regenerate the edited motion for the current controls and redraw (the source is reused)."""
        start = time.perf_counter()
        try:
            edits, paired = build_edit(
                self.kind.value,
                self.word.value,
                self.strength.value,
                self.step_window.value,
                self.frame_window.value,
                self.pipe.config.fps,
            )
            source = self.source()
            if paired:
                edited = self._run([self.prompt.value, self.prompt.value], edits, 1)
            elif edits:
                edited = self._run([self.prompt.value], edits, 0)
            else:
                edited = source
        except (ValueError, KeyError) as error:
            self.status.value = f"<span style='color:#b00'>{error}</span>"
            return
        self.image.value = self._draw(source, edited)
        seconds = time.perf_counter() - start
        self.last = {"source": source, "edited": edited, "edits": edits, "seconds": seconds}
        described = ", ".join(repr(e) for e in edits) or "no edit"
        self.status.value = f"<span style='color:#555'>{described} &middot; {seconds:.2f} s</span>"

    def _draw(self, source: _Run, edited: _Run) -> bytes:
        import matplotlib.pyplot as plt

        from .viz.figures import attention_map, keyframe_strip
        from .viz.style import PAPER_STYLE

        with plt.rc_context(PAPER_STYLE):
            fig, axes = plt.subplots(2, 2, figsize=(11, 4.6), gridspec_kw={"height_ratios": [1.25, 1]})
            for col, (name, run) in enumerate((("source", source), ("edited", edited))):
                joints = run.generation.joints[run.row]
                keyframe_strip(joints, n=7, title=name, ax=axes[0, col])
                attention_map(run.curves, "cross", words=run.words, fps=self.pipe.config.fps, ax=axes[1, col])
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=80)
            plt.close(fig)
        return buffer.getvalue()
