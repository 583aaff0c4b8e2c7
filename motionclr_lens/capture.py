"""Capturing attention maps during a run: what to keep, reductions as the run goes, a memory estimate and
budget checked before the first step, and the cache the maps land in.

    with capture(kinds=("cross",), head_mean=True) as cache:
        pipe.generate(["a person jumps three times"])
    cache["cross", 17, 9]   # (B, 1, T, 77): batch, heads, query frames, keys
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .hooks import BRANCHES, KINDS, Hook, HookContext, RunPlan, use_hooks

__all__ = ["AttentionCache", "CaptureBudgetError", "CaptureSpec", "KeyCache", "capture", "capture_keys"]


class CaptureBudgetError(MemoryError):
    """A capture would exceed its memory budget; raised before the run starts."""


@dataclass(frozen=True)
class CaptureSpec:
    """What to keep. None means all. `steps` are sampler loop indices; `heads` head indices.

    head_mean: keep the mean over (selected) heads, shape (B, 1, Tq, Tk).
    step_mean: keep the running mean over steps under the key step=None, instead of one map per step.
    after_edits: keep the maps the model used, after the run's edits (and any other hook at the weights) changed
    them (the default); False keeps the maps the model computed, before them.
    """

    kinds: Collection[str] = KINDS
    layers: Collection[int] | None = None
    steps: Collection[int] | None = None
    heads: Collection[int] | None = None
    branches: Collection[str] = ("cond",)
    head_mean: bool = False
    step_mean: bool = False
    device: str | torch.device = "cpu"
    dtype: torch.dtype = torch.float32
    budget_bytes: int | None = None
    after_edits: bool = True

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ValueError(f"unknown attention kinds {bad}; valid: {list(KINDS)}")
        bad = [b for b in self.branches if b not in BRANCHES]
        if bad:
            raise ValueError(f"unknown branches {bad}; valid: {list(BRANCHES)}")

    def check(self, plan: RunPlan) -> None:
        """Refuse, before the run, layers, steps or heads that the run of `plan` does not have."""
        n_layers = len(plan.resolutions)
        bad = sorted(x for x in self.layers or () if not 0 <= x < n_layers)
        if bad:
            raise ValueError(f"capture: layers {bad} do not exist (valid: 0..{n_layers - 1})")
        bad = sorted(s for s in self.steps or () if not 0 <= s < plan.steps)
        if bad:
            raise ValueError(
                f"capture: steps {bad} are past the schedule of {plan.steps} steps (valid: 0..{plan.steps - 1})"
            )
        bad = sorted(h for h in self.heads or () if not 0 <= h < plan.heads)
        if bad:
            raise ValueError(f"capture: heads {bad} do not exist (valid: 0..{plan.heads - 1})")

    def estimate_bytes(self, plan: RunPlan) -> int:
        """Bytes the cache will hold at the end of a run of this plan."""
        n_layers = len(plan.resolutions)
        layers = [i for i in range(n_layers) if self.layers is None or i in self.layers]
        steps = plan.steps if self.steps is None else len([s for s in self.steps if 0 <= s < plan.steps])
        if self.step_mean:
            steps = min(steps, 1)
        heads = 1 if self.head_mean else (plan.heads if self.heads is None else len(self.heads))
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        total = 0
        for kind in self.kinds:
            if kind == "cross":
                rows = plan.batch if "cond" in self.branches else 0  # cross-attention runs on conditional rows
            else:
                rows = plan.batch * sum(1 for b in self.branches if b == "cond" or plan.guided)
            for layer in layers:
                keys = plan.text_tokens if kind == "cross" else plan.resolutions[layer]
                total += rows * heads * plan.resolutions[layer] * keys * steps * itemsize
        return total


@dataclass
class AttentionCache:
    """Captured maps keyed by (kind, layer, step); each (rows, heads, query frames, keys).

    `rows[(kind, layer)]` names each stored row as (prompt, branch). With step_mean the step key is None.
    Every run in the block keeps its own maps: `cache.runs` lists one cache per run, in order, and the cache
    itself reads the latest run (its keys, rows and plan are that run's alone). With a `sink`, each map goes to
    `sink((kind, layer, step), maps)` once it is on the cache's device and is not kept (under step_mean, the
    running means go to the sink when the capture block ends, or at `finish()`).
    """

    spec: CaptureSpec
    sink: Callable[[tuple[str, int, int | None], Tensor], None] | None = None
    rows: dict[tuple[str, int], tuple[tuple[int, str], ...]] = field(default_factory=dict)
    plan: RunPlan | None = None
    estimated_bytes: int = 0
    _maps: dict[tuple[str, int, int | None], Tensor] = field(default_factory=dict)
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)
    _pending: list[tuple[tuple[str, int, int | None], Tensor]] = field(default_factory=list)
    _events: list[torch.cuda.Event] = field(default_factory=list)
    _step: object = None
    _earlier: list[AttentionCache] = field(default_factory=list)

    @property
    def runs(self) -> list[AttentionCache]:
        """One cache per run in the block, in order; the last is this cache (the latest run). Under a sink the
        earlier runs keep their plans and rows, not their maps."""
        return [*self._earlier, self] if self.plan is not None else list(self._earlier)

    @property
    def maps(self) -> dict[tuple[str, int, int | None], Tensor]:
        """The stored maps, every transfer finished."""
        self._flush()
        if self._events:
            for event in self._events:
                event.synchronize()
            self._events.clear()
        return self._maps

    def __getitem__(self, key: tuple[str, int, int | None]) -> Tensor:
        if key not in self.maps:
            kind, layer, step = key
            raise KeyError(
                f"no map for kind={kind!r}, layer={layer}, step={step}; captured layers "
                f"{self.layers(kind)} of that kind, steps {self.steps(kind, layer)} of that layer"
            )
        return self.maps[key]

    def __contains__(self, key: object) -> bool:
        return key in self.maps

    def __len__(self) -> int:
        return len(self.maps)

    def __iter__(self) -> Iterator[tuple[str, int, int | None]]:
        return iter(self.maps)

    def keys(self) -> list[tuple[str, int, int | None]]:
        return list(self.maps)

    def layers(self, kind: str) -> list[int]:
        return sorted({k[1] for k in self.maps if k[0] == kind})

    def steps(self, kind: str, layer: int) -> list[int | None]:
        return sorted({k[2] for k in self.maps if k[0] == kind and k[1] == layer}, key=lambda s: -1 if s is None else s)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.maps.values())

    def stack_steps(self, kind: str, layer: int) -> Tensor:
        """(steps, rows, heads, Tq, Tk) maps of one layer over the captured steps."""
        return torch.stack([self.maps[(kind, layer, s)] for s in self.steps(kind, layer)])

    def stack_layers(self, kind: str, step: int | None, layers: Collection[int] | None = None) -> list[Tensor]:
        """Maps of several layers at one step (a list: resolutions differ between levels)."""
        chosen = self.layers(kind) if layers is None else list(layers)
        return [self[(kind, layer, step)] for layer in chosen]

    def row(self, kind: str, layer: int, prompt: int, branch: str = "cond") -> int:
        """Index of a prompt's row in the stored maps of a layer."""
        names = self.rows.get((kind, layer), ())
        try:
            return names.index((prompt, branch))
        except ValueError:
            raise KeyError(
                f"prompt {prompt} ({branch}) was not captured at {kind} layer {layer}; rows: {names}"
            ) from None

    # -- the hook --------------------------------------------------------------------------------------------
    def _on_run(self, plan: RunPlan) -> None:
        self.spec.check(plan)
        estimate = self.spec.estimate_bytes(plan)
        kept = sum(run.nbytes for run in self.runs)
        budget = self.spec.budget_bytes
        if budget is not None and kept + estimate > budget:
            earlier = f" besides the {kept / 2**20:.1f} MiB earlier runs in this block keep" if kept else ""
            raise CaptureBudgetError(
                f"capturing would take {estimate / 2**20:.1f} MiB{earlier}, over the budget of "
                f"{budget / 2**20:.1f} MiB: capture fewer layers, steps or heads, or use head_mean / step_mean"
            )
        if self.plan is not None:  # the earlier run keeps what it stored, as a cache of its own
            self.finish()  # what it left for the sink
            done = AttentionCache(self.spec, None, self.rows, self.plan, self.estimated_bytes, self.maps)
            self._earlier.append(done)
            self._maps, self.rows = {}, {}
        self._counts.clear()
        self._step = None
        self.plan = plan
        self.estimated_bytes = estimate

    def _store(self, weights: Tensor, ctx: HookContext) -> None:
        """Select and reduce on the model's device; hand the result over to the cache's device once per step."""
        spec = self.spec
        keep = [i for i, b in enumerate(ctx.branches) if b in spec.branches]
        if not keep:
            return
        if ctx.step != self._step:
            self._flush()
            self._step = ctx.step
        maps = weights.detach()
        if len(keep) != maps.shape[0]:
            maps = maps[keep]
        if spec.heads is not None:
            maps = maps[:, list(spec.heads)]
        if spec.head_mean:
            maps = maps.mean(dim=1, keepdim=True)
        if maps.dtype != spec.dtype:
            maps = maps.to(spec.dtype)
        if maps.data_ptr() == weights.data_ptr():
            maps = maps.clone()  # never keep the model's own tensor: a later hook may change it in place
        self.rows[(ctx.kind, ctx.layer)] = tuple((ctx.prompts[i], ctx.branches[i]) for i in keep)
        if spec.step_mean:
            key = (ctx.kind, ctx.layer, None)
            n = self._counts.get((ctx.kind, ctx.layer), 0)
            if n == 0:
                self._maps[key] = maps.to(spec.device)
            else:
                self._maps[key].mul_(n / (n + 1)).add_(maps.to(spec.device), alpha=1 / (n + 1))
            self._counts[(ctx.kind, ctx.layer)] = n + 1
        elif maps.device == torch.device(spec.device):
            self._keep((ctx.kind, ctx.layer, ctx.step), maps)
        else:
            self._pending.append(((ctx.kind, ctx.layer, ctx.step), maps))

    def _flush(self) -> None:
        """Move the maps held on the model's device to the cache's device: one batch of copies per step,
        into pinned memory without blocking when they come from a GPU."""
        if not self._pending:
            return
        device = torch.device(self.spec.device)
        cuda_to_host = device.type == "cpu" and self._pending[0][1].is_cuda
        if cuda_to_host and self.sink is not None:
            torch.cuda.current_stream().synchronize()  # a sink reads the maps at once
        for key, maps in self._pending:
            if cuda_to_host and self.sink is None:
                host = torch.empty(maps.shape, dtype=maps.dtype, pin_memory=True)
                host.copy_(maps, non_blocking=True)
                self._maps[key] = host
            else:
                self._keep(key, maps.to(device))
        if cuda_to_host and self.sink is None:
            event = torch.cuda.Event()
            event.record()
            self._events.append(event)
        self._pending.clear()

    def _keep(self, key: tuple[str, int, int | None], maps: Tensor) -> None:
        if self.sink is None:
            self._maps[key] = maps
        else:
            self.sink(key, maps)

    def finish(self) -> None:
        """Hand every map still held to the sink (the step means, and what a GPU run left in flight); without a
        sink, finish the transfers. `capture` calls it when its block ends."""
        self._flush()
        if self.sink is not None and self.spec.step_mean:
            for key in sorted(self._maps, key=lambda k: (k[0], k[1])):
                self.sink(key, self._maps.pop(key))
            self._counts.clear()

    def hook(self) -> Hook:
        spec = self.spec

        def fn(weights: Tensor, ctx: HookContext) -> None:
            self._store(weights, ctx)

        return Hook(
            fn,
            points=("weights",),
            kinds=tuple(spec.kinds),
            layers=spec.layers,
            steps=spec.steps,
            on_run=self._on_run,
            last=spec.after_edits,
        )


@contextlib.contextmanager
def capture(
    spec: CaptureSpec | None = None,
    sink: Callable[[tuple[str, int, int | None], Tensor], None] | None = None,
    **options: object,
) -> Iterator[AttentionCache]:
    """Capture attention weights of every run inside the block: `capture(kinds=..., layers=..., ...)`
    takes CaptureSpec's fields. Each run in the block keeps its maps (`cache.runs`); the cache reads the latest. With a
    `sink`, each map goes to `sink((kind, layer, step), maps)` as it is made instead of staying in the cache
    (a sweep streams maps to disk this way)."""
    if spec is None:
        spec = CaptureSpec(**options)  # type: ignore[arg-type]
    elif options:
        raise TypeError("give a CaptureSpec or keyword options, not both")
    cache = AttentionCache(spec, sink)
    with use_hooks(cache.hook()):
        yield cache
    cache.finish()


@dataclass
class KeyCache:
    """Self-attention keys (or queries) of the conditional branch, keyed by (layer, step): each (prompts, T_layer,
    heads * head_dim), the heads side by side. A self-attention map compares a frame's query with every frame's
    key; frames whose keys are alike are frames the layer treats alike, which is what counting reads.

    Every run in the block keeps its own keys: `keys.runs` lists one cache per run, in order, and the cache itself
    reads the latest run.
    """

    point: str = "k"
    layers_wanted: Collection[int] | None = None
    last_step_only: bool = False
    plan: RunPlan | None = None
    _keys: dict[tuple[int, int | None], Tensor] = field(default_factory=dict)
    _earlier: list[KeyCache] = field(default_factory=list)

    @property
    def runs(self) -> list[KeyCache]:
        """One cache per run in the block, in order; the last is this cache (the latest run)."""
        return [*self._earlier, self] if self.plan is not None else list(self._earlier)

    def __getitem__(self, key: tuple[int, int | None]) -> Tensor:
        if key not in self._keys:
            layer, step = key
            raise KeyError(
                f"no {self.point} for layer={layer}, step={step}; captured layers {self.layers()}, "
                f"steps {self.steps(layer) if layer in self.layers() else []} of that layer"
            )
        return self._keys[key]

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def layers(self) -> list[int]:
        return sorted({layer for layer, _ in self._keys})

    def steps(self, layer: int) -> list[int | None]:
        return sorted((s for lay, s in self._keys if lay == layer), key=lambda s: -1 if s is None else s)

    def _on_run(self, plan: RunPlan) -> None:
        if self.plan is not None:  # the earlier run keeps its keys, as a cache of its own
            self._earlier.append(KeyCache(self.point, self.layers_wanted, self.last_step_only, self.plan, self._keys))
            self._keys = {}
        self.plan = plan

    def _store(self, tensor: Tensor, ctx: HookContext) -> None:
        rows = sorted((i for i, b in enumerate(ctx.branches) if b == "cond"), key=lambda i: ctx.prompts[i])
        if not rows:
            return
        x = tensor.detach()[rows]  # (prompts, heads, T, d)
        if self.last_step_only:
            for key in [k for k in self._keys if k[0] == ctx.layer]:
                del self._keys[key]
        self._keys[(ctx.layer, ctx.step)] = x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1).float().cpu()

    def hook(self) -> Hook:
        def fn(tensor: Tensor, ctx: HookContext) -> None:
            self._store(tensor, ctx)

        return Hook(fn, points=(self.point,), kinds=("self",), layers=self.layers_wanted, on_run=self._on_run)


@contextlib.contextmanager
def capture_keys(
    layers: Collection[int] | None = None, point: str = "k", last_step_only: bool = False
) -> Iterator[KeyCache]:
    """Capture the self-attention keys (`point="k"`) or queries (`"q"`) of the conditional branch at every step
    of the run inside the block (or, with `last_step_only`, only the last step, which is what counting reads),
    for `layers` (None: all). `count_from_attention` counts repetitions from them.

        with capture_keys() as keys:
            pipe.probe(features, "a person jumps three times", generator=torch.Generator().manual_seed(0))
        count_from_attention(keys).count
    """
    if point not in ("q", "k"):
        raise ValueError(f"point must be 'q' or 'k', got {point!r}")
    cache = KeyCache(point, None if layers is None else tuple(layers), last_step_only)
    with use_hooks(cache.hook()):
        yield cache
