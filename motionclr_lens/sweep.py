"""Sweeps: every cell of prompts x edit lists x seeds generated on its own, its captured attention streamed
to a chunked zarr store as the run goes, resumable, and shared out over the processes of torch.distributed.

    from motionclr_lens.capture import CaptureSpec
    from motionclr_lens.edits import Reweight
    from motionclr_lens.sweep import open_sweep, run_sweep

    run_sweep(pipe, ["a man jumps.", "a man waves."], edits=[[], [Reweight(0.3, word="man")]], seeds=[0, 1],
              out="sweep.zarr", capture=CaptureSpec(kinds=("cross",), head_mean=True), seconds=4.0)
    sweep = open_sweep("sweep.zarr")
    job = sweep.job(prompt=1, edit=1, seed=0)
    sweep.maps(job, "cross", 17)          # zarr array (steps, rows, heads, Tq, Tk), read lazily
    sweep.features(job), sweep.joints(job)

A job is one cell (prompt index, edit-list index, seed); its id is its place in the grid, prompt-major:
`id = (prompt * len(edits) + edit) * len(seeds) + seed_index`, whatever the number of processes. Each job
samples one prompt (edits act on row 0) from `torch.Generator().manual_seed(seed)`, so a job's motion and
maps are those of `pipe.generate([prompt], generator=...)` under `capture(spec)`, alone or in a sweep.

A prompt may also be a group, a list of prompts sampled together as rows 0..n-1 of one run (one length
for all), for the edits that tie rows (Replace, TimeShift, StyleTransfer, ExampleBased):

    run_sweep(pipe, [["a man jumps.", "a man waves."]], edits=[[], [Replace(source=0, target=1, word="waves")]],
              seeds=[0, 1], out="replace.zarr")

Its job equals `pipe.generate(group, generator=...)`, and its features and joints hold a row per prompt.

The store (zarr format 3, a directory):

    <out>/                      root attributes: format, version, grid (prompts, edits as edit_to_dict,
                                seeds, frames per prompt) and settings (scheduler, steps, guidance,
                                capture spec, model hash and config)
    <out>/jobs/<id>/            attributes: prompt, edit, seed, text, frames, rank; done = true, written last
    <out>/jobs/<id>/<kind>/<layer>   (captured steps, rows, heads, Tq, Tk), one chunk per step; attributes:
                                steps (sampler indices, [null] under step_mean), timesteps, rows ([prompt, branch])
    <out>/jobs/<id>/features    (frames, 263) in HumanML3D units; (rows, frames, 263) for a group
    <out>/jobs/<id>/joints      (frames, 22, 3); (rows, frames, 22, 3) for a group

Maps are written step by step while the job samples, so memory holds one map at a time (all the layers'
running means under step_mean). A job without `done` was interrupted: running the sweep again skips the
done jobs and redoes the others from scratch.

Under torch.distributed (or with `rank` and `world_size`, or torchrun's RANK and WORLD_SIZE), job i runs
on rank i % world_size; each rank writes only its own jobs' groups; rank 0 writes the root before a
barrier, and the ranks meet at a barrier at the end. From the shell (`sweep_from_spec`):

    motionclr-lens sweep SPEC.json --out sweep.zarr                                 # in one process
    torchrun --nproc_per_node 2 --no-python motionclr-lens sweep SPEC.json --out sweep.zarr

where SPEC.json (or .yaml) holds {"prompts": [...] (strings, or lists of strings for groups),
"edits": [[...], ...], "seeds": [...], "seconds": 4, "steps": 10, "scheduler": "dpmsolver",
"guidance_scale": 1.5, "capture": {"kinds": ["cross"], ...}}. `python -m motionclr_lens.sweep SPEC.json ...`
(so `torchrun ... -m motionclr_lens.sweep ...`) is an alias of `motionclr-lens sweep`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zarr
from torch import Tensor

from .capture import AttentionCache, CaptureSpec, capture
from .edits import Edit, EditRun, edit_from_dict, edit_to_dict, read_structured
from .hooks import KINDS
from .loading import load_model
from .pipeline import MotionCLRPipeline, model_hash
from .settings import RunSettings

__all__ = [
    "FORMAT",
    "StoredSweep",
    "Sweep",
    "SweepJob",
    "SweepRun",
    "capture_spec_from_dict",
    "capture_spec_to_dict",
    "open_sweep",
    "run_sweep",
    "sweep_from_spec",
]

logger = logging.getLogger(__name__)

FORMAT = "motionclr_lens.sweep"
VERSION = 1
_DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


# --- the grid -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepJob:
    """One cell of a sweep: indices into the prompts and the edit lists, and the seed of its noise."""

    id: int
    prompt: int
    edit: int
    seed: int


def _as_prompt(prompt: Any) -> Any:
    """A group (list or tuple of prompts) as a tuple; anything else as it is, for `Sweep` to check."""
    return tuple(prompt) if isinstance(prompt, (list, tuple)) else prompt


@dataclass(frozen=True)
class Sweep:
    """The grid of a sweep: prompts (with their lengths in frames) x edit lists x seeds. A prompt is a string,
    or a tuple of strings (a group, sampled together as the rows of one run)."""

    prompts: tuple[str | tuple[str, ...], ...]
    edits: tuple[tuple[Edit, ...], ...]
    seeds: tuple[int, ...]
    frames: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError("a sweep needs at least one prompt")
        object.__setattr__(self, "prompts", tuple(_as_prompt(p) for p in self.prompts))  # groups as tuples
        for p in self.prompts:
            texts = (p,) if isinstance(p, str) else p
            if not isinstance(texts, tuple) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise ValueError(f"prompts must be non-empty strings or non-empty groups (lists) of them, got {p!r}")
        if not self.edits:
            raise ValueError("a sweep needs at least one edit list; [[]] is one run without edits")
        for e, edit_list in enumerate(self.edits):
            for edit in edit_list:
                if not isinstance(edit, Edit):
                    raise TypeError(
                        f"edits[{e}] holds {type(edit).__name__} {edit!r}; edits is a list of lists of Edit values "
                        "(Reweight, Erase, ...), the empty list meaning no edit"
                    )
        if not self.seeds:
            raise ValueError("a sweep needs at least one seed")
        bad = [s for s in self.seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
        if bad:
            raise ValueError(f"seeds must be non-negative ints, got {bad}")
        repeated = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
        if repeated:
            raise ValueError(f"seeds {repeated} are given more than once")
        if len(self.frames) != len(self.prompts):
            raise ValueError(f"{len(self.frames)} lengths for {len(self.prompts)} prompts")

    def __len__(self) -> int:
        return len(self.prompts) * len(self.edits) * len(self.seeds)

    @property
    def jobs(self) -> list[SweepJob]:
        """Every job, in id order (prompt-major, then edit list, then seed)."""
        return [
            SweepJob((p * len(self.edits) + e) * len(self.seeds) + s, p, e, seed)
            for p in range(len(self.prompts))
            for e in range(len(self.edits))
            for s, seed in enumerate(self.seeds)
        ]

    def job(self, prompt: int, edit: int, seed: int) -> SweepJob:
        """The job of prompt index `prompt`, edit-list index `edit` and seed value `seed`."""
        if not 0 <= prompt < len(self.prompts):
            raise KeyError(f"prompt index {prompt} is out of range (valid: 0..{len(self.prompts) - 1})")
        if not 0 <= edit < len(self.edits):
            raise KeyError(f"edit-list index {edit} is out of range (valid: 0..{len(self.edits) - 1})")
        if seed not in self.seeds:
            raise KeyError(f"seed {seed} is not in the sweep; its seeds are {list(self.seeds)}")
        s = self.seeds.index(seed)
        return SweepJob((prompt * len(self.edits) + edit) * len(self.seeds) + s, prompt, edit, seed)

    def assigned(self, rank: int, world_size: int) -> list[SweepJob]:
        """The jobs rank `rank` of `world_size` runs: those with id % world_size == rank."""
        return [j for j in self.jobs if j.id % world_size == rank]

    def grid_dict(self) -> dict[str, Any]:
        return {
            "prompts": list(self.prompts),
            "edits": [[edit_to_dict(e) for e in edit_list] for edit_list in self.edits],
            "seeds": list(self.seeds),
            "frames": list(self.frames),
        }

    @classmethod
    def from_grid_dict(cls, data: Mapping[str, Any]) -> Sweep:
        return cls(
            prompts=tuple(data["prompts"]),
            edits=tuple(tuple(edit_from_dict(e) for e in edit_list) for edit_list in data["edits"]),
            seeds=tuple(int(s) for s in data["seeds"]),
            frames=tuple(int(f) for f in data["frames"]),
        )


@dataclass(frozen=True)
class SweepRun:
    """What one process did in `run_sweep`: the job ids it computed and those it found done."""

    path: Path
    rank: int
    world_size: int
    computed: tuple[int, ...]
    skipped: tuple[int, ...]


# --- capture specs as data -----------------------------------------------------------------------------------


def capture_spec_to_dict(spec: CaptureSpec) -> dict[str, Any]:
    """A CaptureSpec as plain data (what it keeps; its device and memory budget are not part of it)."""
    dtype = str(spec.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise ValueError(f"a sweep stores maps as {sorted(_DTYPES)}, not {dtype}; set CaptureSpec.dtype")
    return {
        "kinds": list(spec.kinds),
        "layers": None if spec.layers is None else sorted(int(x) for x in spec.layers),
        "steps": None if spec.steps is None else sorted(int(s) for s in spec.steps),
        "heads": None if spec.heads is None else [int(h) for h in spec.heads],
        "branches": list(spec.branches),
        "head_mean": bool(spec.head_mean),
        "step_mean": bool(spec.step_mean),
        "dtype": dtype,
        "after_edits": bool(spec.after_edits),
    }


def capture_spec_from_dict(data: Mapping[str, Any]) -> CaptureSpec:
    """The CaptureSpec of `capture_spec_to_dict` (or of a mapping written by hand, dtype as "float16", ...)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a capture spec must be a mapping, got {type(data).__name__}: {data!r}")
    valid = ["kinds", "layers", "steps", "heads", "branches", "head_mean", "step_mean", "dtype", "budget_bytes",
             "after_edits"]  # fmt: skip
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ValueError(f"capture: unknown fields {unknown}; valid: {valid}")
    values = dict(data)
    for name in ("kinds", "branches"):
        if name in values:
            values[name] = tuple(values[name])
    for name in ("layers", "steps", "heads"):
        if values.get(name) is not None:
            values[name] = tuple(int(v) for v in values[name])
    if "dtype" in values:
        if values["dtype"] not in _DTYPES:
            raise ValueError(f"capture: dtype {values['dtype']!r} is not one of {sorted(_DTYPES)}")
        values["dtype"] = _DTYPES[values["dtype"]]
    return CaptureSpec(**values)


# --- streaming the maps of a run -----------------------------------------------------------------------------


class _MapWriter:
    """The sink of a job's capture: each map goes to its zarr array as soon as the capture makes it, so the
    cache holds none (under step_mean, the running means are written when the capture ends)."""

    def __init__(self, spec: CaptureSpec, group: Any) -> None:
        self.spec = spec
        self.group = group
        self.cache: AttentionCache | None = None
        self._arrays: dict[tuple[str, int], Any] = {}

    def __call__(self, key: tuple[str, int, int | None], maps: Tensor) -> None:
        kind, layer, step = key
        cache = self.cache
        assert cache is not None and cache.plan is not None  # set by `capture` and the run before any map
        plan = cache.plan
        steps: list[int | None] = (
            [None]
            if self.spec.step_mean
            else [s for s in range(plan.steps) if self.spec.steps is None or s in self.spec.steps]
        )
        array = self._arrays.get((kind, layer))
        shape = tuple(maps.shape)
        if array is None:
            timesteps = [None if s is None else int(plan.timesteps[s]) for s in steps]
            array = self.group.require_group(kind).create_array(
                str(layer),
                shape=(len(steps), *shape),
                chunks=(1, *shape),
                dtype=str(self.spec.dtype).removeprefix("torch."),
                attributes={
                    "steps": steps,
                    "timesteps": timesteps,
                    "rows": [list(r) for r in cache.rows[(kind, layer)]],
                },
            )
            self._arrays[(kind, layer)] = array
        array[steps.index(step)] = maps.cpu().numpy()


# --- running a sweep -----------------------------------------------------------------------------------------


def _world(rank: int | None, world_size: int | None) -> tuple[int, int, bool]:
    """(rank, world size, whether the ranks can synchronise through torch.distributed)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        r, w = dist.get_rank(), dist.get_world_size()
        if (rank is not None and rank != r) or (world_size is not None and world_size != w):
            raise ValueError(
                f"rank={rank}, world_size={world_size} disagree with torch.distributed's rank {r} of {w}; "
                "leave them out under torch.distributed"
            )
        return r, w, w > 1
    if rank is None and world_size is None:
        rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    elif rank is None or world_size is None:
        raise ValueError(f"give rank and world_size together, got rank={rank}, world_size={world_size}")
    if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank!r}, world_size={world_size!r}")
    return rank, world_size, False


def _agree(step: Callable[[], None], sync: bool, world_size: int) -> None:
    """Run `step` on this rank; if it fails on any rank, raise on every rank (so none waits forever)."""
    failure: Exception | None = None
    try:
        step()
    except Exception as exc:
        if not sync:
            raise
        failure = exc
    if not sync:
        return
    import torch.distributed as dist

    errors: list[str | None] = [None] * world_size
    dist.all_gather_object(errors, None if failure is None else str(failure))
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if failed:
        error = ValueError("; ".join(f"rank {r}: {e}" for r, e in failed))
        setattr(error, "every_rank", True)  # noqa: B010  # the same message on every rank: say it once
        raise error from failure


def _is_sweep_store(path: Path) -> bool:
    try:
        root = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, ValueError):
        return False
    return root.attrs.get("format") == FORMAT


def _normalised(data: Any) -> Any:
    return json.loads(json.dumps(data))


def _check_root(path: Path, meta: dict[str, Any]) -> None:
    root = zarr.open_group(str(path), mode="r")
    stored: dict[str, Any] = dict(root.attrs.asdict())
    if stored.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} exists and is not a sweep store; give another folder")
    if stored.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} is a sweep store of version {stored.get('version')}, not {VERSION}")
    differ = [
        f"{part}.{key}"
        for part in ("grid", "settings")
        for key in sorted(set(meta[part]) | set(stored.get(part, {})))
        if meta[part].get(key) != stored.get(part, {}).get(key)
    ]
    if differ:
        raise ValueError(
            f"{str(path)!r} holds a different sweep (it differs in {differ}): give another folder, or "
            "start it over (resume=False; --fresh from the command)"
        )


def _prepare_root(path: Path, meta: dict[str, Any], fresh: bool) -> None:
    """Create the store with its root metadata, or check that an existing one is this sweep."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} is a file, not a sweep store folder")
    if path.is_dir() and any(path.iterdir()):
        if not _is_sweep_store(path):
            raise ValueError(f"{str(path)!r} exists and is not a sweep store; give an empty or new folder")
        if fresh:
            for child in path.iterdir():  # the folder's contents: the folder may be a link the user made
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            _check_root(path, meta)
            zarr.open_group(str(path), mode="r+").require_group("jobs")  # a store stopped before its first job
            return
    try:
        root = zarr.create_group(str(path), attributes=meta)
    except zarr.errors.ContainsGroupError:  # another process made it first
        _check_root(path, meta)
        zarr.open_group(str(path), mode="r+").require_group("jobs")
        return
    root.require_group("jobs")


def _validate(
    pipe: MotionCLRPipeline, sweep: Sweep, spec: CaptureSpec | None, steps: int, scheduler: str, guided: bool
) -> None:
    """Check everything that can be checked before the first job: edits against each prompt, the capture."""
    if spec is not None:
        capture_spec_to_dict(spec)
        spec.check(pipe.plan(1, 1, steps, scheduler, guided))  # layers, steps and heads: the same for every job
    for p, (prompt, frames) in enumerate(zip(sweep.prompts, sweep.frames, strict=True)):
        rows = _rows(prompt)
        tokenized = [pipe.tokenizer.tokenize_prompt(text) for text in rows]
        plan = pipe.plan(len(rows), frames, steps, scheduler, guided)
        run = EditRun(tokenized, [frames] * len(rows), plan, pipe.config.fps)
        for e, edit_list in enumerate(sweep.edits):
            for edit in edit_list:
                try:
                    edit.hooks(run)
                except ValueError as error:
                    raise ValueError(
                        f"edits[{e}] {edit!r} does not apply to prompt {p} ({prompt!r}): {error} "
                        "(a job samples one prompt as row 0, or a group's prompts as rows 0..n-1)"
                    ) from None


def _rows(prompt: str | Sequence[str]) -> list[str]:
    """The prompts a job samples, one per row."""
    return [prompt] if isinstance(prompt, str) else list(prompt)


def _job_done(jobs: Any, job: SweepJob) -> bool:
    try:
        group = jobs[str(job.id)]
    except KeyError:
        return False
    return isinstance(group, zarr.Group) and group.attrs.get("done") is True


def run_sweep(
    pipe: MotionCLRPipeline,
    prompts: str | Sequence[str | Sequence[str]],
    edits: Sequence[Sequence[Edit]] = ((),),
    seeds: Sequence[int] = (0,),
    *,
    out: str | os.PathLike[str],
    capture: CaptureSpec | Mapping[str, Any] | None = None,
    lengths: int | Sequence[int] | None = None,
    seconds: float | Sequence[float] | None = None,
    scheduler: str = "dpmsolver",
    steps: int = 10,
    guidance_scale: float | None = None,
    smooth_sigma: float | None = 1.0,
    rank: int | None = None,
    world_size: int | None = None,
    resume: bool = True,
    progress: bool = False,
) -> SweepRun:
    """Generate every (prompt, edit list, seed) job of the grid and write it to the zarr store `out`.

    `prompts`: strings, each sampled alone, or groups (lists of strings) sampled together, one row each.
    `edits` is a list of edit lists ([[]] = no edit); each list applies to the rows of each prompt's run (row 0
    of a lone prompt; rows 0..n-1 of a group).
    `capture` (a CaptureSpec, or its fields as a mapping) says which maps to keep; None keeps the motions
    only. `lengths` / `seconds` are per prompt or one for all (default 4 s). This process runs its share
    of the jobs (see the module's doc); with `resume`, jobs already done in `out` are skipped, and
    `resume=False` deletes an existing sweep store at `out` first. The capture's `budget_bytes`, if set,
    bounds each job's capture before compression. `guidance_scale` defaults to the model's. Returns what
    this process did.
    """
    prompt_list: list[Any] = [prompts] if isinstance(prompts, str) else list(prompts)  # Sweep makes groups tuples
    if not prompt_list:
        raise ValueError("no prompts given")
    if isinstance(edits, Edit) or any(isinstance(e, Edit) for e in edits):
        raise TypeError("edits is a list of edit lists: [[]] for no edit, [[], [Reweight(...)]] for none and one")
    base = RunSettings(scheduler=scheduler, steps=steps, guidance_scale=guidance_scale, smooth_sigma=smooth_sigma)
    guidance_scale = pipe.resolve_guidance(guidance_scale)  # the model's own when None
    base = replace(base, guidance_scale=guidance_scale)
    spec = capture_spec_from_dict(capture) if isinstance(capture, Mapping) else capture
    if spec is not None and not isinstance(spec, CaptureSpec):
        raise TypeError(f"capture must be a CaptureSpec, a mapping of its fields or None, got {capture!r}")
    frames = pipe.lengths_in_frames(len(prompt_list), lengths, seconds)
    sweep = Sweep(tuple(prompt_list), tuple(tuple(e) for e in edits), tuple(seeds), tuple(frames))
    _validate(pipe, sweep, spec, steps, scheduler, guidance_scale != 1.0)
    meta = _normalised(
        {
            "format": FORMAT,
            "version": VERSION,
            "grid": sweep.grid_dict(),
            "settings": {
                "scheduler": scheduler,
                "steps": steps,
                "guidance_scale": float(guidance_scale),
                "smooth_sigma": smooth_sigma,
                "fps": pipe.config.fps,
                "capture": None if spec is None else capture_spec_to_dict(spec),
                "model": {"hash": model_hash(pipe), "config": pipe.config.to_dict()},
            },
        }
    )
    rank, world_size, sync = _world(rank, world_size)
    path = Path(out)
    if not resume and world_size > 1 and not sync:
        raise ValueError("resume=False with several processes needs torch.distributed, to start over once for all")
    _agree(lambda: _prepare_root(path, meta, not resume) if rank == 0 or not sync else None, sync, world_size)
    if sync:
        import torch.distributed as dist

        dist.barrier()
    _agree(lambda: _check_root(path, meta), sync, world_size)
    jobs = zarr.open_group(str(path), mode="r+")["jobs"]
    mine = sweep.assigned(rank, world_size)
    skipped = [j.id for j in mine if _job_done(jobs, j)]
    already = set(skipped)
    todo = [j for j in mine if j.id not in already]
    logger.info(
        "rank %d of %d: %d jobs, %d done before, %d to run", rank, world_size, len(mine), len(skipped), len(todo)
    )
    iterator: Iterator[SweepJob] = iter(todo)
    if progress:
        from tqdm.auto import tqdm

        iterator = iter(tqdm(todo, desc=f"sweep (rank {rank})" if world_size > 1 else "sweep", position=rank))
    computed = []
    for job in iterator:
        _run_job(pipe, sweep, job, jobs, spec, base, rank)
        computed.append(job.id)
    if sync:
        import torch.distributed as dist

        dist.barrier()
    return SweepRun(path, rank, world_size, tuple(computed), tuple(skipped))


def _run_job(
    pipe: MotionCLRPipeline,
    sweep: Sweep,
    job: SweepJob,
    jobs: Any,
    spec: CaptureSpec | None,
    base: RunSettings,
    rank: int,
) -> None:
    name = str(job.id)
    if name in jobs:
        del jobs[name]  # an interrupted job: start it over
    frames = sweep.frames[job.prompt]
    prompt = sweep.prompts[job.prompt]
    rows = _rows(prompt)
    group = jobs.create_group(
        name,
        attributes={
            "prompt": job.prompt,
            "edit": job.edit,
            "seed": job.seed,
            "text": prompt if isinstance(prompt, str) else rows,
            "frames": frames,
            "rank": rank,
        },
    )
    writer = None if spec is None else _MapWriter(spec, group)
    with capture(spec, sink=writer) if writer is not None else contextlib.nullcontext() as cache:
        if writer is not None:
            writer.cache = cache
        result = pipe.run(
            rows, replace(base, seed=job.seed, edits=tuple(sweep.edits[job.edit])), lengths=[frames] * len(rows)
        )
    lone = isinstance(prompt, str)
    features = result.features[0] if lone else np.stack(result.features)
    joints = result.joints[0] if lone else np.stack(result.joints)
    group.create_array("features", data=np.ascontiguousarray(features))
    group.create_array("joints", data=np.ascontiguousarray(joints))
    group.attrs["done"] = True


# --- reading a sweep -----------------------------------------------------------------------------------------


class StoredSweep:
    """A sweep store opened for reading: its grid, settings, which jobs are done, and their arrays (lazily)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._root: Any = zarr.open_group(str(self.path), mode="r")
        except (FileNotFoundError, ValueError):
            raise FileNotFoundError(f"no sweep store at {str(self.path)!r}") from None
        attrs: dict[str, Any] = dict(self._root.attrs.asdict())
        if attrs.get("format") != FORMAT:
            raise ValueError(f"{str(self.path)!r} is a zarr store but not a sweep store")
        self.sweep = Sweep.from_grid_dict(attrs["grid"])
        self.settings: dict[str, Any] = dict(attrs["settings"])

    def __repr__(self) -> str:
        return (
            f"StoredSweep({str(self.path)!r}: {len(self.sweep.prompts)} prompts x {len(self.sweep.edits)} edit lists "
            f"x {len(self.sweep.seeds)} seeds, {len(self.done())}/{len(self.sweep)} jobs done)"
        )

    @property
    def prompts(self) -> tuple[str | tuple[str, ...], ...]:
        return self.sweep.prompts

    @property
    def edits(self) -> tuple[tuple[Edit, ...], ...]:
        return self.sweep.edits

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.sweep.seeds

    @property
    def jobs(self) -> list[SweepJob]:
        return self.sweep.jobs

    @property
    def capture_spec(self) -> CaptureSpec | None:
        data = self.settings.get("capture")
        return None if data is None else capture_spec_from_dict(data)

    def job(self, prompt: int, edit: int, seed: int) -> SweepJob:
        return self.sweep.job(prompt, edit, seed)

    def _resolve(self, job: SweepJob | int) -> SweepJob:
        jobs = self.sweep.jobs
        index = job.id if isinstance(job, SweepJob) else job
        if not isinstance(index, int) or not 0 <= index < len(jobs):
            raise KeyError(f"job {job!r} is not in the sweep (ids 0..{len(jobs) - 1})")
        return jobs[index]

    def is_done(self, job: SweepJob | int) -> bool:
        return _job_done(self._root["jobs"], self._resolve(job))

    def done(self) -> list[SweepJob]:
        return [j for j in self.jobs if self.is_done(j)]

    def missing(self) -> list[SweepJob]:
        return [j for j in self.jobs if not self.is_done(j)]

    def _group(self, job: SweepJob | int) -> Any:
        resolved = self._resolve(job)
        if not self.is_done(resolved):
            raise KeyError(
                f"job {resolved.id} (prompt {resolved.prompt}, edit list {resolved.edit}, seed {resolved.seed}) "
                "is not done; run the sweep again to finish it"
            )
        return self._root["jobs"][str(resolved.id)]

    def kinds(self) -> list[str]:
        spec = self.settings.get("capture")
        return [] if spec is None else list(spec["kinds"])

    def layers(self, job: SweepJob | int, kind: str) -> list[int]:
        """Layers of `kind` captured for a job."""
        group = self._group(job)
        if kind not in self.kinds():
            raise ValueError(f"kind {kind!r} was not captured; captured kinds: {self.kinds()} (of {list(KINDS)})")
        if kind not in group:
            return []
        return sorted(int(name) for name in group[kind].array_keys())

    def maps(self, job: SweepJob | int, kind: str, layer: int) -> Any:
        """A job's maps at one layer: a zarr array (captured steps, rows, heads, Tq, Tk), read on indexing
        (`np.asarray(...)` reads it all). Its attributes name the steps, timesteps and rows."""
        layers = self.layers(job, kind)
        if layer not in layers:
            raise KeyError(f"layer {layer} of kind {kind!r} was not captured; captured layers: {layers}")
        return self._group(job)[kind][str(layer)]

    def features(self, job: SweepJob | int) -> np.ndarray:
        """(frames, 263) in HumanML3D units; (rows, frames, 263) for a group."""
        return np.asarray(self._group(job)["features"][...])

    def joints(self, job: SweepJob | int) -> np.ndarray:
        """(frames, 22, 3); (rows, frames, 22, 3) for a group."""
        return np.asarray(self._group(job)["joints"][...])

    def cache(self, job: SweepJob | int, kinds: Sequence[str] | None = None) -> AttentionCache:
        """A job's maps read into an AttentionCache keyed (kind, layer, step), as `capture` would have made."""
        spec = self.capture_spec
        if spec is None:
            raise ValueError(f"{str(self.path)!r} captured no maps (capture=None)")
        cache = AttentionCache(spec)
        for kind in self.kinds() if kinds is None else kinds:
            for layer in self.layers(job, kind):
                array = self.maps(job, kind, layer)
                data = torch.from_numpy(np.asarray(array[...]))
                for i, step in enumerate(array.attrs["steps"]):
                    cache.maps[(kind, layer, step)] = data[i]
                cache.rows[(kind, layer)] = tuple((int(p), str(b)) for p, b in array.attrs["rows"])
        return cache


def open_sweep(path: str | os.PathLike[str]) -> StoredSweep:
    """Open a sweep store written by `run_sweep` (or still being written) for reading."""
    return StoredSweep(path)


# --- from a spec file ----------------------------------------------------------------------------------------

_SPEC_KEYS = ("prompts", "edits", "seeds", "lengths", "seconds", "scheduler", "steps", "guidance_scale", "capture")


def _read_spec(path: Path) -> dict[str, Any]:
    data = read_structured(path, "the spec")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys among {list(_SPEC_KEYS)}")
    unknown = sorted(set(data) - set(_SPEC_KEYS) - {"smooth_sigma"})
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; valid: {[*_SPEC_KEYS, 'smooth_sigma']}")
    if "prompts" not in data:
        raise ValueError(f"{path}: needs 'prompts'")
    if "edits" in data:
        data["edits"] = [[edit_from_dict(e) for e in edit_list] for edit_list in data["edits"]]
    return data


def sweep_from_spec(
    spec: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str = "embedded",
    weights: str = "ema",
    device: str | None = None,
    fresh: bool = False,
    progress: bool = False,
) -> SweepRun:
    """Run the sweep a JSON or YAML spec file describes (keys: prompts, edits, seeds, seconds or lengths,
    scheduler, steps, guidance_scale, smooth_sigma, capture) with `load_model(model, weights)`, into the store
    `out` (`fresh`: delete an existing one first, else resume it). Under torchrun (WORLD_SIZE > 1) and outside
    a process group, it joins one (NCCL with CUDA, else gloo) for the sweep and leaves it at the end. `device`
    defaults to cuda:LOCAL_RANK when CUDA is there, else the model's."""
    import torch.distributed as dist

    started = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        started = True
    try:
        try:
            settings = _read_spec(Path(spec))
        except (ValueError, TypeError, KeyError, OSError) as error:
            setattr(error, "every_rank", True)  # noqa: B010  # every rank reads the same spec: say it once
            raise
        pipe = load_model(model, weights)
        if device is None and torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        if device is not None:
            if str(device).startswith("cuda"):
                torch.cuda.set_device(torch.device(device))
            pipe.to(device)
        return run_sweep(pipe, out=out, resume=not fresh, progress=progress, **settings)
    finally:
        if started:
            dist.destroy_process_group()


if __name__ == "__main__":  # the command moved to the one command line, which no library module imports
    print("error: python -m motionclr_lens.sweep is now `motionclr-lens sweep`", file=sys.stderr)
    raise SystemExit(2)
