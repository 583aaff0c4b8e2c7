"""Hook points inside the model, the context a hook sees, and `use_hooks` scopes that add hooks to one block.

Each attention layer has named points: `q`, `k`, `v` (B, H, T, d) after the projections, `scores`
(B, H, Tq, Tk) before the softmax, `weights` (B, H, Tq, Tk) after it, and `out` (B, Tq, C). A hook is a
function `(tensor, HookContext) -> tensor or None` (None keeps the tensor) with a filter saying where it
applies. Hooks are held in a context variable, never on the modules: a `with use_hooks(...)` block sees
its hooks and nothing else does (not another thread, not code after the block, not after an exception),
and a model with no hook in scope runs its fused attention.

This module imports nothing of the package: the model places its hook points, and capture, patching and
edits are hooks.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace

from torch import Tensor

__all__ = [
    "KINDS",
    "POINTS",
    "DenoiseInfo",
    "Hook",
    "HookContext",
    "RunPlan",
    "active_hooks",
    "explicit_attention",
    "use_hooks",
]

KINDS = ("self", "cross")
POINTS = ("q", "k", "v", "scores", "weights", "out")
BRANCHES = ("cond", "uncond")


@dataclass(frozen=True)
class DenoiseInfo:
    """What the sampler knows about one denoiser call: its loop index and the scheduler's timestep."""

    step: int | None = None
    timestep: int | None = None


@dataclass(frozen=True)
class HookContext:
    """Where a hook is called: the layer (0..17 in call order), its human name, the kind of attention, the
    point, the frames at this layer (padded to the U-Net's multiple), the step and timestep, and for each
    row of the tensor, which prompt it belongs to and whether it is the conditional or unconditional branch."""

    layer: int
    name: str
    kind: str
    point: str
    resolution: int
    level: int
    step: int | None
    timestep: int | None
    prompts: tuple[int, ...]
    branches: tuple[str, ...]

    @property
    def hook_name(self) -> str:
        return f"{self.name}.{self.kind}.{self.point}"

    def rows(self, prompt: int, branch: str = "cond") -> list[int]:
        """Rows of this tensor that hold `prompt` in `branch`."""
        return [
            i for i, (p, b) in enumerate(zip(self.prompts, self.branches, strict=True)) if p == prompt and b == branch
        ]


HookFn = Callable[[Tensor, HookContext], Tensor | None]


@dataclass(frozen=True)
class RunPlan:
    """What a sampling run will do, told to hooks before it starts (for memory estimates and checks).

    resolutions[layer] is the padded frame count at each attention layer; valid[layer] the frames of the
    longest prompt at that layer.
    """

    batch: int
    frames: int
    steps: int
    guided: bool
    resolutions: tuple[int, ...]
    valid: tuple[int, ...]
    heads: int
    text_tokens: int
    timesteps: tuple[int, ...] = ()


@dataclass(frozen=True)
class Hook:
    """A hook function and where it applies: points, kinds, layers, steps (None = all), and hook point `names`.

    `names` selects by the names `model.hook_points()` lists (`"<block>.<self|cross>.<point>"`, e.g.
    `"up3.1.cross.weights"`), each exact or a shell pattern (`"up3.*.cross.*"`); with names and no `points`,
    every point a name matches. `points` defaults to `("weights",)` otherwise. `on_run` is called with the
    RunPlan before sampling starts (a capture checks its spec and memory budget there). A hook marked `last` runs
    after every hook not so marked at the same point, whichever block added it: it sees the value the model goes
    on with (a capture of what the model used, after the edits).
    """

    fn: HookFn
    points: Collection[str] | None = None
    kinds: Collection[str] = KINDS
    layers: Collection[int] | None = None
    steps: Collection[int] | None = None
    on_run: Callable[[RunPlan], None] | None = field(default=None, compare=False)
    names: Collection[str] | None = None
    last: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.names, str):
            object.__setattr__(self, "names", (self.names,))
        if self.points is None:
            object.__setattr__(self, "points", ("weights",) if self.names is None else POINTS)
        bad = [p for p in self.points or () if p not in POINTS]
        if bad:
            raise ValueError(f"unknown hook points {bad}; valid: {list(POINTS)}")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ValueError(f"unknown attention kinds {bad}; valid: {list(KINDS)}")
        for name in self.names or ():
            parts = str(name).split(".")
            if len(parts) < 2 or not _could_be(parts[-2], KINDS) or not _could_be(parts[-1], POINTS):
                raise ValueError(
                    f"hook point name {name!r} is not '<block>.<self|cross>.<point>' with a point of {list(POINTS)} "
                    "(shell patterns allowed; model.hook_points() lists every name)"
                )

    def applies(self, layer: int, kind: str, step: int | None, site: str | None = None) -> bool:
        """Whether the hook applies at a layer (its `site`, "<block>.<kind>", for `names`) at a step."""
        return (
            kind in self.kinds
            and (self.layers is None or layer in self.layers)
            and (self.steps is None or step is None or step in self.steps)
            and (self.names is None or site is None or any(self.matches(f"{site}.{p}") for p in self.points or ()))
        )

    def matches(self, hook_name: str) -> bool:
        """Whether a hook point's full name is one this hook's `names` select (always, without names)."""
        return self.names is None or any(fnmatch.fnmatchcase(hook_name, pattern) for pattern in self.names)


def _could_be(part: str, valid: Collection[str]) -> bool:
    return any(fnmatch.fnmatchcase(v, part) for v in valid)


_ACTIVE: contextvars.ContextVar[tuple[Hook, ...]] = contextvars.ContextVar("motionclr_lens_hooks", default=())


def active_hooks() -> tuple[Hook, ...]:
    """The hooks in scope here (empty outside every `use_hooks` block)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def use_hooks(*hooks: Hook, plan: RunPlan | None = None) -> Iterator[tuple[Hook, ...]]:
    """Add hooks for the duration of a `with` block; they are gone when it ends, however it ends. A run
    gives its `plan`: every hook in scope (these and those of enclosing blocks) is told it before the block."""
    for h in hooks:
        if not isinstance(h, Hook):
            raise TypeError(f"use_hooks takes Hook values, got {type(h).__name__}: {h!r}")
    # in the order they were added, except that the hooks marked `last` come after all the others
    token = _ACTIVE.set(tuple(sorted(_ACTIVE.get() + tuple(hooks), key=lambda h: h.last)))
    try:
        if plan is not None:
            announce_run(plan)
        yield _ACTIVE.get()
    finally:
        _ACTIVE.reset(token)


def announce_run(plan: RunPlan) -> None:
    """Tell every hook in scope what the run will be (`use_hooks(..., plan=)` does, before a run's first step)."""
    for h in _ACTIVE.get():
        if h.on_run is not None:
            h.on_run(plan)


_EXPLICIT: contextvars.ContextVar[bool] = contextvars.ContextVar("motionclr_lens_explicit", default=False)


@contextlib.contextmanager
def explicit_attention() -> Iterator[None]:
    """Run every attention layer on its explicit path (the one hooks see) inside the block, even where no hook
    applies: for checking that path against the fused kernel. Scoped like `use_hooks`."""
    token = _EXPLICIT.set(True)
    try:
        yield
    finally:
        _EXPLICIT.reset(token)


def explicit_attention_forced() -> bool:
    return _EXPLICIT.get()


def run_hooks(hooks: tuple[Hook, ...], tensor: Tensor, ctx: HookContext, point: str | None = None) -> Tensor:
    """Apply the hooks that apply at `point` (default `ctx.point`) in order; each sees the previous one's result.
    The context of another point than `ctx`'s is made only when a hook takes that point."""
    point = ctx.point if point is None else point
    here: HookContext | None = None
    for h in hooks:
        if point not in (h.points or ()):
            continue
        if here is None:
            here = ctx if point == ctx.point else replace(ctx, point=point)
        if not h.matches(here.hook_name):
            continue
        result = h.fn(tensor, here)
        if result is not None:
            if result.shape != tensor.shape:
                raise ValueError(
                    f"hook at {here.hook_name} returned shape {tuple(result.shape)}, expected {tuple(tensor.shape)}"
                )
            tensor = result
    return tensor
