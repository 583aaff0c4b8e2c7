"""The paper's edits (arXiv 2410.18977, Sec. 4) as frozen values that become hooks for one sampling run.

Rows are prompt indices of the batch; `steps` are sampler loop indices (0 = the first denoiser call);
`layers` are attention layers 0..17 in call order (None = all). Words are found in the prompt through the
tokenizer's word spans (a word of several tokens edits all of them); `tokens` gives context positions
directly. Frame windows are in seconds of the motion; `fraction` windows reproduce the original code,
which cuts each layer's padded length.

    pipe.generate(["a man jumps.", "a man waves."], edits=[Replace(source=0, target=1, word="waves")])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .hooks import Hook, HookContext, RunPlan
from .text import TokenizedPrompt

__all__ = [
    "EDIT_TYPES",
    "Edit",
    "EditRun",
    "Erase",
    "ExampleBased",
    "Ground",
    "Replace",
    "Reweight",
    "StyleTransfer",
    "TimeShift",
    "edit_from_dict",
    "edit_to_dict",
    "read_edits",
    "read_structured",
]


@dataclass(frozen=True)
class EditRun:
    """What edits are resolved against: the tokenized prompts, their lengths in frames, the run's plan."""

    prompts: Sequence[TokenizedPrompt]
    lengths: Sequence[int]
    plan: RunPlan
    fps: float = 20.0

    def check_row(self, row: int, role: str = "row") -> int:
        if not isinstance(row, int) or not 0 <= row < len(self.prompts):
            raise ValueError(
                f"{role} {row!r} is out of range for {len(self.prompts)} prompts (valid: 0..{len(self.prompts) - 1})"
            )
        return row

    def check_steps(self, steps: Collection[int] | None, edit: str) -> frozenset[int] | None:
        if steps is None:
            return None
        steps = frozenset(int(s) for s in steps)
        bad = sorted(s for s in steps if not 0 <= s < self.plan.steps)
        if bad:
            raise ValueError(
                f"{edit}: steps {bad} are past the schedule of {self.plan.steps} steps "
                f"(valid: 0..{self.plan.steps - 1})"
            )
        return steps

    def check_layers(self, layers: Collection[int] | None, edit: str) -> frozenset[int] | None:
        if layers is None:
            return None
        n = len(self.plan.resolutions)
        layers = frozenset(int(x) for x in layers)
        bad = sorted(x for x in layers if not 0 <= x < n)
        if bad:
            raise ValueError(f"{edit}: layers {bad} do not exist (valid: 0..{n - 1})")
        return layers

    def token_positions(self, row: int, word: str | int | None, tokens: Sequence[int] | None, edit: str) -> list[int]:
        """Context positions of a word of a row's prompt (or the given positions, checked)."""
        prompt = self.prompts[row]
        if (word is None) == (tokens is None):
            raise ValueError(f"{edit}: give a word or tokens, not both and not neither")
        if tokens is not None:
            bad = [t for t in tokens if not 0 <= t < self.plan.text_tokens]
            if bad:
                raise ValueError(f"{edit}: token positions {bad} are outside the {self.plan.text_tokens}-token context")
            return list(tokens)
        assert word is not None
        return list(prompt.word(word).tokens)

    def frame_window(self, row: int, seconds: tuple[float, float], edit: str) -> tuple[int, int]:
        """Frames [start, end) of a window in seconds, checked against the row's motion."""
        start, end = seconds
        duration = self.lengths[row] / self.fps
        if not (0 <= start < end <= duration + 1e-9):
            raise ValueError(
                f"{edit}: window {seconds} s is outside prompt {row}'s motion of {duration:.2f} s "
                f"(need 0 <= start < end <= {duration:.2f})"
            )
        return int(round(start * self.fps)), int(round(end * self.fps))


def layer_window(frames: tuple[int, int], level: int, resolution: int) -> slice:
    """A window of full-resolution frames at a layer `level` times downsampled."""
    scale = 2**level
    return slice(min(frames[0] // scale, resolution), min(math.ceil(frames[1] / scale), resolution))


def fraction_window(fraction: tuple[float, float], resolution: int) -> slice:
    """The original's window: int(T_i * a) .. int(T_i * b) of the layer's padded length."""
    return slice(int(resolution * fraction[0]), int(resolution * fraction[1]))


class Edit:
    """An edit of attention; `hooks(run)` turns it into hooks for one run. Its fields are checked when it is
    made (what a run decides, a word's presence, a window inside a motion, is checked by `hooks`)."""

    def hooks(self, run: EditRun) -> list[Hook]:
        raise NotImplementedError

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            checked = _check_field(type(self).__name__, f.name, value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)


_NUMBERS = ("alpha", "factor", "ratio", "inside", "outside")  # finite numbers
_INTS = ("source", "target", "style", "content", "chunk", "step", "seed", "seed_step")  # whole numbers
_INDEX_LISTS = ("rows", "tokens", "steps", "cross_steps", "layers")  # collections of whole numbers (or None)
_WINDOWS = ("seconds", "fraction")  # (start, end) pairs of numbers (or None); Ground's seconds may be a list


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_field(edit: str, name: str, value: Any) -> Any:
    """A field's value, checked by what its name means (lists made tuples); an error names the edit, the field and
    the value."""
    if name == "word":
        if value is None or isinstance(value, str) or _is_int(value):
            return value
        raise ValueError(f"{edit}: word must be a word of the prompt (a string) or its index, got {value!r}")
    if name in _NUMBERS:
        if _is_number(value):
            return value
        raise ValueError(f"{edit}: {name} must be a finite number, got {value!r}")
    if name in _INTS:
        if _is_int(value):
            return value
        raise ValueError(f"{edit}: {name} must be a whole number, got {value!r}")
    if name in _INDEX_LISTS:
        if value is None and name != "rows":
            return value
        if isinstance(value, range):
            return value
        if isinstance(value, list | tuple) and all(_is_int(v) for v in value):
            return tuple(value)
        what = "a list of whole numbers" + ("" if name == "rows" else " or null")
        raise ValueError(f"{edit}: {name} must be {what}, got {value!r}")
    if name in _WINDOWS:
        if value is None and not (edit == "Ground" and name == "seconds"):
            return value
        if _is_window(value):
            return (float(value[0]), float(value[1]))
        several = edit == "Ground" and name == "seconds" and isinstance(value, list | tuple) and bool(value)
        if several and all(_is_window(w) for w in value):
            return tuple((float(w[0]), float(w[1])) for w in value)
        more = " or a non-empty list of them" if edit == "Ground" and name == "seconds" else " or null"
        raise ValueError(f"{edit}: {name} must be a window [start, end] of two numbers{more}, got {value!r}")
    return value


def _is_window(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(v) for v in value)


@dataclass(frozen=True)
class Reweight(Edit):
    """(De-)emphasis: add `alpha` to a word's cross-attention weights (post-softmax, not renormalised).
    alpha > 0 emphasises the word's action, alpha < 0 weakens it."""

    alpha: float
    word: str | int | None = None
    tokens: tuple[int, ...] | None = None
    rows: tuple[int, ...] = (0,)
    steps: Collection[int] | None = None
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        targets = {run.check_row(r): run.token_positions(r, self.word, self.tokens, name) for r in self.rows}
        layers, steps = run.check_layers(self.layers, name), run.check_steps(self.steps, name)
        alpha = float(self.alpha)
        if alpha == 0.0:
            return []  # nothing to do: the run keeps its fused attention

        def fn(weights: Tensor, ctx: HookContext) -> Tensor | None:
            out = weights.clone()
            for prompt, cols in targets.items():
                for r in ctx.rows(prompt, "cond"):
                    out[r, :, :, cols] += alpha
            return out

        return [Hook(fn, ("weights",), ("cross",), layers, steps)]


@dataclass(frozen=True)
class Erase(Edit):
    """Erasing (strong de-emphasis): multiply a word's cross-attention weights by `factor` inside a frame
    window (`seconds`, or the original's `fraction` of each layer's padded length; default: everywhere)."""

    word: str | int | None = None
    tokens: tuple[int, ...] | None = None
    rows: tuple[int, ...] = (0,)
    factor: float = 0.1
    seconds: tuple[float, float] | None = None
    fraction: tuple[float, float] | None = None
    steps: Collection[int] | None = None
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        if self.seconds is not None and self.fraction is not None:
            raise ValueError(f"{name}: give seconds or fraction, not both")
        if self.fraction is not None and not 0 <= self.fraction[0] < self.fraction[1] <= 1:
            raise ValueError(f"{name}: fraction {self.fraction} must satisfy 0 <= a < b <= 1")
        targets = {run.check_row(r): run.token_positions(r, self.word, self.tokens, name) for r in self.rows}
        windows = {r: run.frame_window(r, self.seconds, name) if self.seconds else None for r in targets}
        layers, steps = run.check_layers(self.layers, name), run.check_steps(self.steps, name)
        factor = float(self.factor)
        if factor == 1.0:
            return []

        def fn(weights: Tensor, ctx: HookContext) -> Tensor | None:
            out = weights.clone()
            for prompt, cols in targets.items():
                window = windows[prompt]
                if self.fraction is not None:
                    frames = fraction_window(self.fraction, ctx.resolution)
                elif window is not None:
                    frames = layer_window(window, ctx.level, ctx.resolution)
                else:
                    frames = slice(None)
                for r in ctx.rows(prompt, "cond"):
                    out[r, :, frames, cols] *= factor
            return out

        return [Hook(fn, ("weights",), ("cross",), layers, steps)]


@dataclass(frozen=True)
class Replace(Edit):
    """In-place replacement: the target row takes the source row's self-attention map and its
    cross-attention for every token but the replaced word's (in the target prompt), for the first steps."""

    source: int = 0
    target: int = 1
    word: str | int | None = None
    tokens: tuple[int, ...] | None = None
    steps: Collection[int] | None = range(0, 3)
    cross_steps: Collection[int] | None = None  # default: the same as steps
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        source, target = run.check_row(self.source, "source"), run.check_row(self.target, "target")
        keep = set(run.token_positions(target, self.word, self.tokens, name))
        copy_cols = [c for c in range(run.plan.text_tokens) if c not in keep]
        layers = run.check_layers(self.layers, name)

        def copy(weights: Tensor, ctx: HookContext, cols: list[int] | None) -> Tensor | None:
            src, dst = ctx.rows(source, "cond"), ctx.rows(target, "cond")
            if not src or not dst:
                return None
            out = weights.clone()
            if cols is None:
                out[dst[0]] = weights[src[0]]
            else:
                out[dst[0], :, :, cols] = weights[src[0], :, :, cols]
            return out

        return [
            Hook(lambda w, c: copy(w, c, None), ("weights",), ("self",), layers, run.check_steps(self.steps, name)),
            Hook(
                lambda w, c: copy(w, c, copy_cols),
                ("weights",),
                ("cross",),
                layers,
                run.check_steps(self.steps if self.cross_steps is None else self.cross_steps, name),
            ),
        ]


@dataclass(frozen=True)
class TimeShift(Edit):
    """Sequence shifting: the target row's self-attention q, k and v become the source row's rolled in
    time, so the part after `ratio` of the motion comes first."""

    source: int = 0
    target: int = 1
    ratio: float = 0.5
    steps: Collection[int] | None = range(0, 4)
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        if not 0 < self.ratio < 1:
            raise ValueError(f"{name}: ratio {self.ratio} must be in (0, 1)")
        source, target = run.check_row(self.source, "source"), run.check_row(self.target, "target")
        ratio = float(self.ratio)

        def fn(x: Tensor, ctx: HookContext) -> Tensor | None:
            src, dst = ctx.rows(source, "cond"), ctx.rows(target, "cond")
            if not src or not dst:
                return None
            T = x.shape[2]
            front = int(T * ratio // 1)  # the original's split, over the layer's padded length
            out = x.clone()
            out[dst[0]] = torch.roll(x[src[0]], shifts=T - front, dims=1)
            return out

        return [
            Hook(fn, ("q", "k", "v"), ("self",), run.check_layers(self.layers, name), run.check_steps(self.steps, name))
        ]


@dataclass(frozen=True)
class ExampleBased(Edit):
    """Example-based generation: at one step, every other row's self-attention queries become the source
    row's, cut into chunks of `chunk` frames (of each layer) and shuffled; row k (in batch order, the
    unconditional rows included) uses seed `seed + seed_step * k`, as the original."""

    source: int = 0
    chunk: int = 20
    step: int = 5
    seed: int = 200
    seed_step: int = 15
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        source = run.check_row(self.source, "source")
        if self.chunk < 1:
            raise ValueError(f"{name}: chunk {self.chunk} must be at least 1 frame")
        steps = run.check_steps([self.step], name)

        def fn(q: Tensor, ctx: HookContext) -> Tensor | None:
            src = ctx.rows(source, "cond")
            if not src:
                return None
            base = q[src[0]]  # (H, T, d)
            chunks = torch.split(base, self.chunk, dim=1)
            out = q.clone()
            others = [r for r in range(q.shape[0]) if r != src[0]]
            for k, r in enumerate(others):
                g = torch.Generator().manual_seed(self.seed + self.seed_step * k)
                order = torch.randperm(len(chunks), generator=g)
                out[r] = torch.cat([chunks[i] for i in order.tolist()], dim=1)
            return out

        return [Hook(fn, ("q",), ("self",), run.check_layers(self.layers, name), steps)]


@dataclass(frozen=True)
class StyleTransfer(Edit):
    """Style transfer: the content row takes the style row's self-attention queries for the first steps."""

    style: int = 0
    content: int = 1
    steps: Collection[int] | None = range(0, 5)
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        style, content = run.check_row(self.style, "style"), run.check_row(self.content, "content")

        def fn(q: Tensor, ctx: HookContext) -> Tensor | None:
            src, dst = ctx.rows(style, "cond"), ctx.rows(content, "cond")
            if not src or not dst:
                return None
            out = q.clone()
            out[dst[0]] = q[src[0]]
            return out

        return [Hook(fn, ("q",), ("self",), run.check_layers(self.layers, name), run.check_steps(self.steps, name))]


@dataclass(frozen=True)
class Ground(Edit):
    """Grounded generation: per-frame emphasis of an action word from a time mask, `inside` added to its
    cross-attention weights where the mask holds and `outside` (negative) elsewhere (the paper: +0.15, -0.1).

    The mask is a window in seconds, or a list of windows."""

    word: str | int | None = None
    seconds: tuple[float, float] | Sequence[tuple[float, float]] = (0.0, 1.0)
    tokens: tuple[int, ...] | None = None
    rows: tuple[int, ...] = (0,)
    inside: float = 0.15
    outside: float = -0.1
    steps: Collection[int] | None = None
    layers: Collection[int] | None = None

    def hooks(self, run: EditRun) -> list[Hook]:
        name = type(self).__name__
        windows = [self.seconds] if isinstance(self.seconds[0], int | float) else list(self.seconds)
        targets = {}
        for r in self.rows:
            run.check_row(r)
            cols = run.token_positions(r, self.word, self.tokens, name)
            mask = torch.zeros(run.plan.frames, dtype=torch.bool)
            for w in windows:
                a, b = run.frame_window(r, (float(w[0]), float(w[1])), name)  # type: ignore[index]
                mask[a:b] = True
            targets[r] = (cols, mask)
        layers, steps = run.check_layers(self.layers, name), run.check_steps(self.steps, name)
        if self.inside == 0.0 and self.outside == 0.0:
            return []

        def fn(weights: Tensor, ctx: HookContext) -> Tensor:
            out = weights.clone()
            scale = 2**ctx.level
            for prompt, (cols, mask) in targets.items():
                padded = torch.zeros(ctx.resolution * scale, dtype=torch.float32)
                padded[: len(mask)] = mask.float()
                inside = padded.view(ctx.resolution, scale).mean(1) >= 0.5  # (T_layer,)
                add = torch.where(inside, self.inside, self.outside).to(out.dtype)[:, None]  # (T_layer, 1)
                for r in ctx.rows(prompt, "cond"):
                    out[r, :, :, cols] += add
            return out

        return [Hook(fn, ("weights",), ("cross",), layers, steps)]


# --- edits as data (records, edit files) ------------------------------------------------------------------

EDIT_TYPES: dict[str, type[Edit]] = {
    cls.__name__: cls for cls in (Reweight, Erase, Replace, TimeShift, ExampleBased, StyleTransfer, Ground)
}


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    """An edit as plain data: {"kind": "Reweight", "alpha": 0.5, "word": "jumps", ...} (JSON-ready)."""
    if type(edit).__name__ not in EDIT_TYPES:
        raise TypeError(f"not an edit of the lens: {edit!r}")
    data: dict[str, Any] = {"kind": type(edit).__name__}
    for f in fields(edit):  # type: ignore[arg-type]
        value = getattr(edit, f.name)
        if isinstance(value, range | list | tuple | set | frozenset):
            value = [list(v) if isinstance(v, tuple | list) else v for v in value]
        data[f.name] = value
    return data


def edit_from_dict(data: Mapping[str, Any]) -> Edit:
    """The edit `edit_to_dict` wrote (or one written by hand): unknown kinds and fields are errors that
    name the valid ones."""
    if not isinstance(data, Mapping) or "kind" not in data:
        raise ValueError(f"an edit must be a mapping with a 'kind' (one of {sorted(EDIT_TYPES)}), got {data!r}")
    kind = data["kind"]
    if kind not in EDIT_TYPES:
        raise ValueError(f"unknown edit kind {kind!r}; valid: {sorted(EDIT_TYPES)}")
    cls = EDIT_TYPES[kind]
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - {"kind", *names})
    if unknown:
        raise ValueError(f"{kind}: unknown fields {unknown}; valid: {names}")
    values = {name: value for name, value in data.items() if name != "kind"}  # the edit checks its fields
    try:
        return cls(**values)
    except TypeError as error:
        raise ValueError(f"{kind}: {error}") from None


def read_structured(path: str | Path, what: str = "the data") -> Any:
    """The content of a JSON file, or of a YAML file (`.yaml`, `.yml`; needs PyYAML), with errors naming the file."""
    import json

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file ({what} are read from a JSON or YAML file)")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read {what} ({error})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ValueError(f"{path}: reading YAML needs `pip install pyyaml` (or write {what} as JSON)") from error
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def read_edits(path: str | Path) -> list[Edit]:
    """Edits from a JSON file (a list of edit mappings, or {"edits": [...]}) or a YAML file (needs PyYAML)."""
    data = read_structured(path, "the edits")
    if isinstance(data, Mapping) and "edits" in data:
        data = data["edits"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of edits, got {type(data).__name__}")
    return [edit_from_dict(d) for d in data]
