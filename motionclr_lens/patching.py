"""Activation patching: which attention layers, steps and heads cause what a motion does.

Attention maps are correlational. Patching tests causes: run a source and a target that differ in one thing (a
word swapped, "a person jumps" against "a person waves"; a count changed), with the same seed, so the same noise;
copy one component's activation from the source run into the target run; and measure how far the target's motion
moves toward the source's on a metric of the motion (the recogniser's probability of the source action, a
repetition count, a distance in joint space). The restored fraction is (patched - target) / (source - target): 0
leaves the target as it was, 1 makes it the source.

    source = record(pipe, "a person jumps", seconds=4, seed=0)          # every attention output of every step
    table = patching_sweep(pipe, source, "a person waves", metric=action_probability("jump"))
    table.rows()      # one row per component: kind, layer, steps, the metric, the restored fraction
    table.plot()      # layers x step windows, one heat map per attention kind

Attribution patching estimates the same sweep to first order from one run of the target with gradients: for each
component, (source activation - target activation) . d metric / d activation, summed over its steps. It needs a
metric of the sampled features that autograd can follow (`feature_restoration`: how far the motion moved from the
target's toward the source's, in the model's features); `rank_agreement` says how well it ranks the components
that exact patching ranks.

    estimate = attribution_sweep(pipe, source, "a person waves")   # one forward and backward pass
    exact = patching_sweep(pipe, source, "a person waves", metric=feature_restoration(pipe, source, "a person waves"))
    rank_agreement(exact, estimate)                                # Spearman's rho over the components

A component is a `Site`: an attention kind, a layer, a hook point (`out`, the attention's output before the
residual, by default; `q`, `k`, `v`, `scores` or `weights`), the steps it is patched at (None: every step) and,
optionally, heads. The text enters the model only through the cross-attention (its keys and values), so patching
every cross-attention output at every step makes the target the source exactly; a sanity test holds that.

Patches are hooks in scope for one run (`hooks.use_hooks`), marked `last`: they replace the value the model goes on
with, after any edit of that run. Every run of an experiment takes the attention's explicit path at every layer
(`hooks.explicit_attention`), so runs differ only by what is patched. Source and target must have the same
prompts count, lengths and settings: the tensors are swapped row for row. Runs in one process can round differently
in the last bits when other memory is in use (the recording's tensors are): compare the runs of an experiment
with each other (the target and the source run again by `patched_run` with no site), and with the recording
within float rounding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .hooks import KINDS, POINTS, Hook, HookContext, RunPlan, explicit_attention, use_hooks
from .settings import RunSettings

if TYPE_CHECKING:
    from .pipeline import Generation, MotionCLRPipeline

__all__ = [
    "FeatureRestoration",
    "PatchingTable",
    "Recording",
    "Site",
    "action_probability",
    "attribution_sweep",
    "feature_restoration",
    "joint_distance",
    "patched_run",
    "patching_sweep",
    "random_direction",
    "rank_agreement",
    "record",
    "repetition_count",
    "restored_fraction",
]

HEAD_POINTS = ("q", "k", "v", "scores", "weights")  # (B, H, ...): a head axis at 1; `out` is (B, T, H * d)


@dataclass(frozen=True)
class Site:
    """One patchable component: `kind` ("self" or "cross") attention at `layer` (0-17, call order; or a tuple of
    layers, patched together), hook point `point`, patched at `steps` (loop indices; None: every step) and `heads`
    (None: all)."""

    kind: str
    layer: int | tuple[int, ...]
    point: str = "out"
    steps: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown attention kind {self.kind!r}; valid: {list(KINDS)}")
        if self.point not in POINTS:
            raise ValueError(f"unknown hook point {self.point!r}; valid: {list(POINTS)}")
        layers = self.layer if isinstance(self.layer, tuple | list) else (self.layer,)
        if not layers or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in layers):
            raise ValueError(f"layer must be an int >= 0 or a non-empty tuple of them, got {self.layer!r}")
        if isinstance(self.layer, tuple | list):  # one form per group: sorted, each layer once; (3,) is 3
            group = tuple(sorted(set(self.layer)))
            object.__setattr__(self, "layer", group[0] if len(group) == 1 else group)
        for name in ("steps", "heads"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(value)
                if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
                    raise ValueError(f"{name} must be None or a non-empty list of ints >= 0, got {value!r}")
                object.__setattr__(self, name, value)

    @property
    def layers(self) -> tuple[int, ...]:
        return self.layer if isinstance(self.layer, tuple) else (self.layer,)

    def layer_label(self) -> str:
        return str(self.layer) if isinstance(self.layer, int) else _span(self.layer, "")

    def label(self) -> str:
        steps = "all steps" if self.steps is None else _span(self.steps)
        heads = "" if self.heads is None else f", heads {list(self.heads)}"
        return f"{self.kind} {self.layer_label()} {self.point}, {steps}{heads}"


def _span(steps: Sequence[int], word: str = "step") -> str:
    steps = sorted(steps)
    one, many = (f"{word} ", f"{word}s ") if word else ("", "")
    if steps == list(range(steps[0], steps[-1] + 1)):
        return f"{one}{steps[0]}" if len(steps) == 1 else f"{many}{steps[0]}-{steps[-1]}"
    return f"{many}{steps}"


@dataclass
class Recording:
    """A run's motion and the activations of its attention, by (kind, layer, point, step): every row of the
    batch (conditional, then unconditional), as the model went on with them."""

    generation: Generation
    prompts: list[str]
    lengths: list[int]
    settings: RunSettings
    seed: int
    points: tuple[str, ...]
    values: dict[tuple[str, int, str, int], Tensor] = field(default_factory=dict)
    plan: RunPlan | None = None

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.values.values())

    def layers(self, kind: str) -> list[int]:
        return sorted({layer for k, layer, _, _ in self.values if k == kind})

    def steps(self) -> list[int]:
        return sorted({step for *_, step in self.values})


def _run(
    pipe: MotionCLRPipeline,
    prompts: str | Sequence[str],
    settings: RunSettings,
    lengths: int | Sequence[int] | None,
    seconds: float | Sequence[float] | None,
    seed: int,
    hooks: Sequence[Hook],
) -> Generation:
    # Every run of an experiment (the recording, the target, each patch) takes the attention's explicit path at
    # every layer, hooked or not, so that runs differ only by what is patched (the fused kernel rounds otherwise).
    with explicit_attention(), use_hooks(*hooks):
        generator = torch.Generator().manual_seed(seed)
        return pipe.run(prompts, settings, lengths=lengths, seconds=seconds, generator=generator)


def record(
    pipe: MotionCLRPipeline,
    prompts: str | Sequence[str],
    lengths: int | Sequence[int] | None = None,
    seconds: float | Sequence[float] | None = None,
    seed: int = 0,
    settings: RunSettings | None = None,
    points: Sequence[str] = ("out",),
    kinds: Sequence[str] = KINDS,
    max_bytes: int = 1 << 30,
) -> Recording:
    """Run `prompts` once (noise from `seed`) and keep every attention activation at `points` of `kinds`, at every
    layer and step: the source of a patching experiment. Refuses before sampling when the recording would take more
    than `max_bytes` (its size is stated in the message)."""
    settings = settings or RunSettings()
    bad = [p for p in points if p not in POINTS]
    if bad:
        raise ValueError(f"unknown hook points {bad}; valid: {list(POINTS)}")
    values: dict[tuple[str, int, str, int], Tensor] = {}
    plans: list[RunPlan] = []

    def check(plan: RunPlan) -> None:
        plans.append(plan)
        estimate = recording_bytes(plan, attention_widths(pipe), points, kinds)
        if estimate > max_bytes:
            raise ValueError(
                f"recording {list(points)} of {list(kinds)} attention at every layer and step takes "
                f"{estimate / 2**20:.0f} MiB, over max_bytes={max_bytes / 2**20:.0f} MiB: record fewer points, "
                "fewer steps or shorter motions, or raise max_bytes"
            )

    def keep(tensor: Tensor, ctx: HookContext) -> None:
        values[(ctx.kind, ctx.layer, ctx.point, int(ctx.step if ctx.step is not None else -1))] = (
            tensor.detach().clone()
        )

    hook = Hook(keep, points=tuple(points), kinds=tuple(kinds), on_run=check, last=True)
    frames = pipe.lengths_in_frames(len(pipe.check_prompts(prompts)), lengths, seconds)
    generation = _run(pipe, prompts, settings, frames, None, seed, [hook])
    return Recording(
        generation, list(generation.prompts), frames, generation.settings, seed, tuple(points), values,
        plans[0] if plans else None,
    )  # fmt: skip


def recording_bytes(
    plan: RunPlan, widths: Sequence[tuple[int, int]], points: Sequence[str], kinds: Sequence[str] = KINDS
) -> int:
    """Bytes (float32) a recording of `points` of `kinds` at every layer and step of a run takes; `widths[layer]`
    is the (self, cross) attention's channels at each layer."""
    total = 0
    for layer, frames in enumerate(plan.resolutions):
        for kind in kinds:
            rows = plan.batch if kind == "cross" or not plan.guided else 2 * plan.batch
            keys = plan.text_tokens if kind == "cross" else frames
            channels = widths[layer][0 if kind == "self" else 1]
            size = {
                "q": frames * channels,
                "k": keys * channels,
                "v": keys * channels,
                "scores": plan.heads * frames * keys,
                "weights": plan.heads * frames * keys,
                "out": frames * channels,
            }
            total += sum(rows * size[p] for p in points) * 4
    return total * plan.steps


def attention_widths(pipe: MotionCLRPipeline) -> list[tuple[int, int]]:
    """The (self, cross) attention's channels at each layer, in call order."""
    return [(a.query.out_features, c.query.out_features) for a, c in pipe.model.attention_layers()]


def _patch_hook(recording: Recording, sites: Sequence[Site]) -> Hook:
    by_key: dict[tuple[str, int, str], list[Site]] = {}
    for site in sites:
        for layer in site.layers:
            by_key.setdefault((site.kind, layer, site.point), []).append(site)
    missing = sorted({k for k in by_key if not any(v[:3] == k for v in recording.values)})
    if missing:
        raise ValueError(
            f"the recording holds no {['.'.join(map(str, k)) for k in missing]}; it recorded points "
            f"{list(recording.points)} of layers {sorted({v[1] for v in recording.values})}"
        )

    def patch(tensor: Tensor, ctx: HookContext) -> Tensor | None:
        chosen = by_key.get((ctx.kind, ctx.layer, ctx.point))
        step = int(ctx.step if ctx.step is not None else -1)
        if not chosen:
            return None
        source = recording.values.get((ctx.kind, ctx.layer, ctx.point, step))
        active = [s for s in chosen if s.steps is None or step in s.steps]
        if source is None or not active:
            return None
        if source.shape != tensor.shape:
            raise ValueError(
                f"{ctx.hook_name} at step {step}: the source's {tuple(source.shape)} does not fit the target's "
                f"{tuple(tensor.shape)}; source and target need the same prompts count, lengths and settings"
            )
        if any(s.heads is None for s in active):
            return source.to(tensor.dtype)
        out = tensor.clone()
        for site in active:
            for h in site.heads or ():
                if ctx.point in HEAD_POINTS:
                    out[:, h] = source[:, h]
                else:  # out: heads side by side in the channels
                    width = tensor.shape[-1] // _heads_of(recording)
                    out[..., h * width : (h + 1) * width] = source[..., h * width : (h + 1) * width]
        return out

    kinds = tuple(sorted({s.kind for s in sites}))
    points = tuple(sorted({s.point for s in sites}))
    layers = tuple(sorted({layer for s in sites for layer in s.layers}))
    return Hook(patch, points=points, kinds=kinds, layers=layers, last=True)


def _heads_of(recording: Recording) -> int:
    if recording.plan is None:
        raise ValueError("patching heads of `out` needs the recording's run plan")
    return recording.plan.heads


def patched_run(
    pipe: MotionCLRPipeline,
    recording: Recording,
    target: str | Sequence[str],
    sites: Iterable[Site],
    seed: int | None = None,
) -> Generation:
    """The target prompts run with the recording's seed (or `seed`: a control, activations of another motion),
    settings and lengths, each site's activation replaced by the recording's (no site: the target as it is)."""
    count = len(pipe.check_prompts(target))
    if count != len(recording.prompts):
        raise ValueError(
            f"{count} target prompts for a recording of {len(recording.prompts)}: source and target run row for row "
            "(the same prompts count, lengths and settings)"
        )
    sites = list(sites)
    hooks = [_patch_hook(recording, sites)] if sites else []
    seed = recording.seed if seed is None else seed
    return _run(pipe, target, recording.settings, recording.lengths, None, seed, hooks)


def random_direction(source: Recording, target: Recording, seed: int = 0) -> Recording:
    """The trivial baseline of patching: a recording whose every activation is the target's moved as far as the
    source's is from it (the same norm, row by row: each guidance branch of each prompt), in a random direction.
    Patching a site from it (`patched_run(pipe, random_direction(source, target), target_prompts, sites)`) asks
    whether any change of that size restores as much as the source's words do. Source and target must be
    recordings of the same points, layers, steps and shapes (the same lengths, settings and seed)."""
    if source.values.keys() != target.values.keys():
        differing = sorted(source.values.keys() ^ target.values.keys())[:3]
        raise ValueError(f"source and target recordings hold different activations (e.g. {differing})")
    generator = torch.Generator().manual_seed(seed)
    values = {}
    for key, s in source.values.items():
        t = target.values[key]
        if s.shape != t.shape:
            raise ValueError(f"{key}: the source's {tuple(s.shape)} does not fit the target's {tuple(t.shape)}")
        t32 = t.float()
        size = (s.float() - t32).flatten(1).norm(dim=1)
        direction = torch.randn(t.shape, generator=generator).flatten(1)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        values[key] = (t32 + (direction * size[:, None]).view(t.shape)).to(t.dtype)
    return replace(target, values=values)


def restored_fraction(patched: float, target: float, source: float) -> float:
    """(patched - target) / (source - target): 0 leaves the target, 1 restores the source (NaN when the two runs
    score alike, where nothing can be restored)."""
    gap = source - target
    return float("nan") if abs(gap) < 1e-12 else (patched - target) / gap


# -- metrics of a motion ---------------------------------------------------------------------------------------


def action_probability(action: str, row: int = 0, recogniser: Any = None) -> Callable[[Generation], float]:
    """The action recogniser's mean probability of `action` over the motion of prompt `row`."""
    from .analysis import ActionRecogniser

    model = recogniser or ActionRecogniser.default()
    if action not in model.classes:
        raise ValueError(f"unknown action {action!r}; the recogniser knows {sorted(model.classes)}")

    def metric(generation: Generation) -> float:
        probabilities = model.frame_probabilities(generation.joints[row])
        return float(probabilities[:, list(model.classes).index(action)].mean())

    return metric


def joint_distance(reference: np.ndarray, row: int = 0) -> Callable[[Generation], float]:
    """The mean per-joint distance (metres) of prompt `row`'s motion to `reference` joints (T, 22, 3)."""
    reference = np.asarray(reference, dtype=np.float64)

    def metric(generation: Generation) -> float:
        joints = np.asarray(generation.joints[row], dtype=np.float64)
        if joints.shape != reference.shape:
            raise ValueError(f"joints {joints.shape} and the reference {reference.shape} differ in shape")
        return float(np.linalg.norm(joints - reference, axis=-1).mean())

    return metric


def repetition_count(action: str, row: int = 0) -> Callable[[Generation], float]:
    """The repetitions of `action` the per-action counter finds in the motion of prompt `row` (0 where it finds
    none): the metric of a pair that differs in the stated count ("jumps twice" against "jumps four times")."""
    from .analysis import COUNTABLE, count_repetitions

    if action not in COUNTABLE:
        raise ValueError(f"cannot count {action!r}; countable actions: {list(COUNTABLE)}")

    def metric(generation: Generation) -> float:
        return float(count_repetitions(generation.joints[row], action).count or 0)

    return metric


# -- sweeps ----------------------------------------------------------------------------------------------------


@dataclass
class PatchingTable:
    """One row per patched site: the site, the metric of the patched motion and the restored fraction; with the
    source's and the target's own metric."""

    source_metric: float
    target_metric: float
    sites: list[Site]
    metrics: list[float]
    method: str = "exact"  # or "attribution": the metrics are first-order estimates

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": s.kind,
                "layer": s.layer_label(),
                "point": s.point,
                "steps": "all" if s.steps is None else _span(s.steps).removeprefix("steps ").removeprefix("step "),
                "heads": "all" if s.heads is None else list(s.heads),
                "metric": m,
                "restored": restored_fraction(m, self.target_metric, self.source_metric),
            }
            for s, m in zip(self.sites, self.metrics, strict=True)
        ]

    def grid(self, kind: str) -> tuple[list[str], list[str], np.ndarray]:
        """(layers, step windows, restored fraction (layers, windows)) of one attention kind, NaN where not run;
        layers (or layer groups, "0-5") in the order of their first layer."""
        rows = [r for r in self.rows() if r["kind"] == kind]
        layers = sorted({r["layer"] for r in rows}, key=lambda label: [int(p) for p in re.findall(r"\d+", label)])
        windows = list(dict.fromkeys(r["steps"] for r in rows))
        out = np.full((len(layers), len(windows)), np.nan)
        for r in rows:
            out[layers.index(r["layer"]), windows.index(r["steps"])] = r["restored"]
        return layers, windows, out

    def plot(self, title: str | None = None) -> Any:
        from .viz.figures import patching_figure

        return patching_figure(self, title=title)


def step_windows(steps: int, size: int = 1) -> list[tuple[int, ...]]:
    """The loop indices 0..steps-1 in consecutive windows of `size` (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"window size must be >= 1, got {size}")
    return [tuple(range(s, min(s + size, steps))) for s in range(0, steps, size)]


def _sweep_sites(
    source: Recording,
    kinds: Sequence[str],
    layers: Sequence[int | tuple[int, ...]] | None,
    windows: Sequence[Sequence[int] | None] | None,
    point: str,
) -> list[Site]:
    """The sites of a sweep: each kind x layer (or group; default: every layer the recording holds) x step window
    (default: every single step; None in `windows`: every step)."""
    chosen = [tuple(w) if w is not None else None for w in (windows or step_windows(source.settings.steps))]
    return [
        Site(kind, layer, point, window)
        for kind in kinds
        for layer in (layers if layers is not None else source.layers(kind))
        for window in chosen
    ]


def patching_sweep(
    pipe: MotionCLRPipeline,
    source: Recording,
    target: str | Sequence[str],
    metric: Callable[[Generation], float],
    kinds: Sequence[str] = KINDS,
    layers: Sequence[int | tuple[int, ...]] | None = None,
    windows: Sequence[Sequence[int] | None] | None = None,
    point: str = "out",
    progress: Callable[[str], None] | None = None,
) -> PatchingTable:
    """Patch each (kind, layer, step window) of the source recording into the target alone and score the motion:
    every layer the recording holds (or `layers`: ints, or tuples of layers patched together) x every single step
    (or `windows`; None in it: every step)."""
    sites = _sweep_sites(source, kinds, layers, windows, point)
    source_metric = metric(source.generation)
    target_metric = metric(patched_run(pipe, source, target, []))
    results = []
    for i, site in enumerate(sites):
        if progress is not None:
            progress(f"{i + 1}/{len(sites)}: {site.label()}")
        results.append(metric(patched_run(pipe, source, target, [site])))
    if not all(math.isfinite(m) for m in results):
        raise FloatingPointError("the metric gave a non-finite value for some patched motion")
    return PatchingTable(source_metric, target_metric, sites, results)


# -- attribution patching ----------------------------------------------------------------------------------------


@dataclass
class FeatureRestoration:
    """How far prompt `row`'s motion moved from the target's toward the source's in the model's normalised features:
    the projection of (motion - target) on (source - target) over the row's frames, over |source - target|^2. 0 is
    the target, 1 the source; linear in the motion, so autograd follows it (`tensor`)."""

    source: Tensor  # (T, D) the source run's final sample of the row, normalised
    target: Tensor  # (T, D) the target run's
    row: int = 0

    def __post_init__(self) -> None:
        if self.source.shape != self.target.shape:
            raise ValueError(f"source {tuple(self.source.shape)} and target {tuple(self.target.shape)} differ")
        if float(((self.source - self.target) ** 2).sum()) == 0.0:
            raise ValueError("the source and the target motions are the same: there is nothing to restore")

    def tensor(self, sample: Tensor) -> Tensor:
        """The measure on a (B, T, D) sample, differentiable."""
        direction = self.source - self.target
        moved = sample[self.row, : len(self.source)] - self.target
        return (moved * direction).sum() / (direction * direction).sum()

    def __call__(self, generation: Generation) -> float:
        return float(self.tensor(generation.sample.detach().float()))


def feature_restoration(
    pipe: MotionCLRPipeline, source: Recording, target: str | Sequence[str], row: int = 0
) -> FeatureRestoration:
    """The feature-space restored fraction of prompt `row` between the recording and the target run as it is."""
    n = source.lengths[row]
    plain = patched_run(pipe, source, target, []).sample
    return FeatureRestoration(source.generation.sample[row, :n].float(), plain[row, :n].float(), row)


def _gradient_run(pipe: MotionCLRPipeline, recording: Recording, target: str | Sequence[str], hook: Hook) -> Tensor:
    """The target run of `patched_run` (no site) with autograd on through every step: its final sample (B, T, D)."""
    prompts = pipe.check_prompts(target)
    if len(prompts) != len(recording.prompts):
        raise ValueError(f"{len(prompts)} target prompts for a recording of {len(recording.prompts)}")
    with explicit_attention(), use_hooks(hook):
        return pipe.sample_run(
            prompts, recording.settings, lengths=recording.lengths,
            generator=torch.Generator().manual_seed(recording.seed), gradients=True,
        ).sample  # fmt: skip


def attribution_sweep(
    pipe: MotionCLRPipeline,
    source: Recording,
    target: str | Sequence[str],
    metric: FeatureRestoration | None = None,
    kinds: Sequence[str] = KINDS,
    layers: Sequence[int | tuple[int, ...]] | None = None,
    windows: Sequence[Sequence[int] | None] | None = None,
    point: str = "out",
) -> PatchingTable:
    """Attribution patching: `patching_sweep`'s table estimated to first order from one run of the target with
    gradients. Each component's estimate is the target's metric plus (source - target activation) . gradient,
    summed over the component's steps. `metric` must be differentiable (`FeatureRestoration`; default: the
    feature-space restoration of prompt 0). The recording must hold `point`."""
    if point not in source.points:
        raise ValueError(f"the recording holds points {list(source.points)}, not {point!r}: record it with points=")
    steps = source.settings.steps
    sites = _sweep_sites(source, kinds, layers, windows, point)
    kept: dict[tuple[str, int, str, int], Tensor] = {}

    missing = sorted(
        {(s.kind, layer) for s in sites for layer in s.layers} - {(k, layer) for k, layer, *_ in source.values}
    )
    if missing:
        raise ValueError(f"the recording holds no {point} of {[f'{k} {layer}' for k, layer in missing]}")

    def keep(tensor: Tensor, ctx: HookContext) -> Tensor | None:
        key = (ctx.kind, ctx.layer, ctx.point, int(ctx.step if ctx.step is not None else -1))
        if tensor.requires_grad:
            kept[key] = tensor
            return None
        # a value autograd does not follow (frozen weights, text-only keys): the model goes on with a copy it does
        kept[key] = tensor.detach().requires_grad_()
        return kept[key]

    hook = Hook(keep, points=(point,), kinds=tuple(kinds), last=True)
    sample = _gradient_run(pipe, source, target, hook)
    if metric is None:
        n = source.lengths[0]
        metric = FeatureRestoration(source.generation.sample[0, :n].float(), sample[0, :n].detach().float(), 0)
    value = metric.tensor(sample)
    keys = [k for k in kept if k in source.values]
    if not keys:
        raise ValueError(f"no {point} of {list(kinds)} attention was met in the target run")
    grads = torch.autograd.grad(value, [kept[k] for k in keys], allow_unused=True)
    effect = {
        k: 0.0 if g is None else float(((source.values[k] - kept[k].detach()) * g).sum())
        for k, g in zip(keys, grads, strict=True)
    }
    target_metric = float(value.detach())
    estimates = []
    for site in sites:
        window = site.steps if site.steps is not None else range(steps)
        estimates.append(
            target_metric + sum(effect.get((site.kind, layer, point, s), 0.0) for layer in site.layers for s in window)
        )
    return PatchingTable(metric(source.generation), target_metric, sites, estimates, method="attribution")


def rank_agreement(exact: PatchingTable, estimate: PatchingTable) -> float:
    """Spearman's rank correlation between two tables' restored fractions over the sites both hold (NaN where
    fewer than 3 are finite in both)."""
    from scipy.stats import spearmanr

    restored = {
        (s.kind, s.layer, s.point, s.steps, s.heads): r["restored"]
        for s, r in zip(estimate.sites, estimate.rows(), strict=True)
    }
    pairs = [
        (r["restored"], restored[key])
        for s, r in zip(exact.sites, exact.rows(), strict=True)
        if (key := (s.kind, s.layer, s.point, s.steps, s.heads)) in restored
        and math.isfinite(r["restored"])
        and math.isfinite(restored[key])
    ]
    if len(pairs) < 3:
        return float("nan")
    a, b = zip(*pairs, strict=True)
    return float(spearmanr(a, b).statistic)
