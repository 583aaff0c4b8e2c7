"""The `motionclr-lens` command: generate motions and inspect a model from the shell, train and export the
embedded model, run sweeps, and train the action recogniser.

This is the package's one command-line module (`python -m motionclr_lens` runs it too); no library module
imports it. Bad input exits with status 2 and one line naming the value.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Only what the options need is imported here (plain values); torch, the model and the rest load when a command
# runs, so that `--help` and a refused input answer at once.
from .defaults import (
    COUNT_TIMESTEP,
    DEMO_SECONDS,
    EMBEDDED_GUIDANCE_SCALE,
    LOSS_MEANS,
    MOTION_PRESETS,
    PROBE_TIMESTEP,
    RECIPE_NAMES,
    SCHEDULER_NAMES,
    UnknownWordWarning,
)

if TYPE_CHECKING:
    import numpy as np

    from .capture import CaptureSpec
    from .embedded import WorldRecipe
    from .pipeline import MotionCLRPipeline
    from .settings import RunSettings

__all__ = ["add_recipe_arguments", "build_parser", "main", "recipe_from"]

logger = logging.getLogger("motionclr_lens")


# The files a run writes into its output folder: what `--force` replaces (any other file there is left alone).
OUTPUT_FILE = re.compile(
    r"^(\d{2}_(report\.html|features\.npy|joints\.npy|keyframes\.png|motion\.bvh|motion\.gif)"
    r"|record\.json|inverted_latent\.npy)$"
)


def _out_dir(path: str, force: bool) -> Path:
    """The output folder, checked before any work (it is made only when there is something to write)."""
    out = Path(path)
    if out.is_symlink() and not out.exists():
        raise ValueError(f"--out {str(out)!r} is a symbolic link to nothing; name a folder")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise ValueError(f"output folder {str(out)!r} exists and is not empty; pass --force to overwrite")
    return out


def _open_out_dir(out: Path) -> Path:
    """Make the output folder, and take away what an earlier run wrote there (only the files a run writes)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and OUTPUT_FILE.match(old.name):
            old.unlink()
    return out


def _report_capture(
    pipe: MotionCLRPipeline, settings: RunSettings, prompts: int, frames: int, budget_mib: float
) -> tuple[CaptureSpec, dict]:
    """What the report's capture keeps: the head mean (all the report reads) of self- and cross-attention at every
    layer, at every step that fits in the budget (evenly spaced, the last always); refuses a budget that holds not
    even one step. Returns the spec and what it keeps, for the record."""
    from dataclasses import replace

    from .capture import CaptureSpec

    if not (math.isfinite(budget_mib) and budget_mib > 0):
        raise ValueError(f"--capture-budget must be a positive number of MiB, got {budget_mib}")
    guided = pipe.resolve_guidance(settings.guidance_scale) != 1.0
    plan = pipe.plan(prompts, frames, settings.steps, settings.scheduler, guided)
    spec = CaptureSpec(kinds=("self", "cross"), head_mean=True)
    total, budget = spec.estimate_bytes(plan), int(budget_mib * 2**20)
    steps: list[int] | None = None
    if total > budget:
        per_step = total / plan.steps
        fit = int(budget // per_step)
        if fit < 1:
            raise ValueError(
                f"one step of the report's capture takes {per_step / 2**20:.1f} MiB, over --capture-budget "
                f"{budget_mib:g} MiB: raise it, or generate fewer or shorter motions"
            )
        steps = sorted(
            {round(i * (plan.steps - 1) / max(1, fit - 1)) for i in range(fit)} if fit > 1 else {plan.steps - 1}
        )
        spec = replace(spec, steps=tuple(steps))
        logger.warning(
            "the report captures %d of %d steps (%.0f MiB of %.0f for all; --capture-budget %g MiB)",
            len(steps), plan.steps, spec.estimate_bytes(plan) / 2**20, total / 2**20, budget_mib,
        )  # fmt: skip
    kept = {"head_mean": True, "steps": "all" if steps is None else steps, "bytes": spec.estimate_bytes(plan)}
    return spec, kept


def _precheck(args: argparse.Namespace) -> None:
    """Refuse bad plain values (steps, seconds, guidance, seeds, timesteps, ...) before the model's stack is
    imported, in the library's own words; the library's checks still run where the values are used."""
    from .checks import check_guidance, check_seconds, check_seed, check_steps, check_timestep

    def given(name: str) -> Any:
        value = getattr(args, name, None)
        return None if value is UNSET else value

    steps, scheduler = given("steps"), given("scheduler")
    if steps is not None and (hasattr(args, "scheduler") or args.func is _evaluate):  # train's are its schedule
        check_steps(scheduler if isinstance(scheduler, str) else "dpmsolver", steps)
    seconds = given("seconds")
    if seconds is not None:
        # the embedded model's (and the release's) lengths; another model's bound is checked once it is loaded
        check_seconds(seconds, max_frames=196 if getattr(args, "model", "embedded") == "embedded" else 2**62)
    if given("guidance") is not None:
        check_guidance(given("guidance"))
    if given("seed") is not None:
        check_seed(given("seed"))
    if given("timestep") is not None:
        check_timestep(given("timestep"))
    threshold = given("threshold")
    if threshold is not None and not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    depth = given("depth")
    if depth is not None and not (math.isfinite(depth) and 0 < depth <= 1):
        raise ValueError(f"depth must be in (0, 1], got {depth}")
    refine = given("refine")
    if refine is not None and refine < 0:
        raise ValueError(f"refine must be an int >= 0, got {refine!r}")
    # files read later: a missing one is named now (what is in a file is checked where it is read)
    # (--motion is checked at once by its reader, which names a wrong kind of file before a missing one)
    for name, what in (("edits", "the edits are"), ("spec", "the spec is"), ("from_record", None)):
        path = given(name)
        if isinstance(path, str) and not Path(path).is_file():
            flag = "--" + name.replace("_", "-") if name != "spec" else "spec"
            read = f" ({what} read from a JSON or YAML file)" if what else ""
            raise ValueError(f"{flag} {path}: no such file{read}")
    budget = given("capture_budget")
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"--capture-budget must be a positive number of MiB, got {budget}")


# The commands that run the model on this machine's cores with torch's intra-op threads (training and the
# recogniser's set their own; a sweep's ranks are placed by torchrun).
THREADED = {"demo", "generate", "edit", "invert", "count", "ground", "inspect", "evaluate", "benchmark"}


def _threads(args: argparse.Namespace) -> int | None:
    """The threads a model-running command uses: --threads, else $MOTIONCLR_LENS_THREADS, else the cores other
    processes leave free now (`threads.suggested_threads`); None for the commands that choose their own."""
    import os

    from .threads import THREADS_ENV, suggested_threads, thread_setting

    if getattr(args, "command", None) not in THREADED:
        return None
    given = args.threads if args.threads is not None else os.environ.get(THREADS_ENV)
    threads = thread_setting(given)
    if threads is None:
        import torch

        threads = suggested_threads(most=torch.get_num_threads())
        if threads < torch.get_num_threads():
            logger.info(
                "other processes keep this machine's cores busy: torch runs with %d of %d threads (--threads to "
                "choose)", threads, torch.get_num_threads(),
            )  # fmt: skip
    return threads


def _teller(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a long command says what it is doing (stderr, at once), unless --quiet."""

    def say(message: str) -> None:
        if not getattr(args, "quiet", False):
            print(message, file=sys.stderr, flush=True)

    return say


def _rank() -> int:
    """This process's rank under torchrun (0 alone)."""
    import os

    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("motionclr_lens", "torch", "numpy", "diffusers", "transformers"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def _edits(args: argparse.Namespace) -> list:
    from .edits import Erase, Reweight, read_edits

    edits = list(read_edits(args.edits)) if getattr(args, "edits", None) else []
    for word, alpha in getattr(args, "reweight", None) or []:
        try:
            strength = float(alpha)
        except ValueError:
            raise ValueError(f"--reweight {word} {alpha}: the strength must be a number") from None
        edits.append(Reweight(alpha=strength, word=word))
    for word in getattr(args, "erase", None) or []:
        edits.append(Erase(word=word))
    return edits


CAPTURE_BUDGET_MIB = 256  # the report's capture, by default: head means of every step that fits
UNSET = object()  # `generate`'s run options when not given, so that a replay can refuse them
REPLAYED = {"prompt": None, "seconds": 4.0, "scheduler": "dpmsolver", "steps": 10, "guidance": None, "seed": 0}
REPLAYED_FLAGS = {"prompt": "--prompt", "seconds": "--seconds", "scheduler": "--scheduler", "steps": "--steps"}
REPLAYED_FLAGS |= {"guidance": "--guidance", "seed": "--seed"}

# A record's entries besides the run's settings (RunSettings); its "edits" are the edits' reprs, for a reader, and
# "edit_values" the edits as data, which a replay reads.
RECORD_KEYS = (
    "prompts", "lengths", "model", "weights", "model_hash", "seconds_taken", "versions", "edit_values",
    "inverted_from", "depth", "refine", "inversion_residuals", "inversion", "capture",
)  # fmt: skip


def _from_record(args: argparse.Namespace) -> RunSettings:
    """The run's prompts and lengths (into `args`) and settings from a record.json written by an earlier run."""
    from .settings import RunSettings

    path = Path(args.from_record)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the record {str(path)!r}: {error}") from None
    if not isinstance(record, dict):
        raise ValueError(f"the record {str(path)!r} is not a JSON object")
    if "inverted_from" in record:
        raise ValueError(
            f"{str(path)!r} records an edit of a given motion ({record['inverted_from']}): run "
            "`motionclr-lens edit --motion` on that motion again instead"
        )
    needed = ("prompts", "lengths", "seed", "scheduler", "steps", "guidance_scale")
    missing = [k for k in needed if k not in record]
    if missing:
        raise ValueError(f"the record {str(path)!r} lacks {missing}")
    data = dict(record)
    if "edit_values" in data:  # the edits as data (a record's "edits" are their reprs)
        data["edits"] = data.pop("edit_values")
    if isinstance(data.get("autocast_dtype"), str):
        data["autocast_dtype"] = data["autocast_dtype"].removeprefix("torch.")
    data.setdefault("foot_lock", False)  # records from before the foot lock
    try:
        settings = RunSettings.from_dict(data, ignore=RECORD_KEYS)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the record {str(path)!r}: {error}") from None
    args.prompt, args.lengths = record["prompts"], record["lengths"]
    recorded_model = record.get("model")
    if args.model == "embedded" and recorded_model not in (None, "embedded"):
        raise ValueError(
            f"the record {str(path)!r} was made with the model {recorded_model!r}: name it with --model to replay "
            "(a record never chooses what is loaded)"
        )
    args.expected_hash = record.get("model_hash")
    return settings


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    from .capture import capture, capture_keys
    from .edits import edit_to_dict
    from .export import save_animation, save_bvh
    from .loading import load_model
    from .pipeline import model_hash
    from .report import write_report
    from .settings import RunSettings
    from .viz import keyframe_strip

    args.lengths, args.expected_hash = None, None
    given = [REPLAYED_FLAGS[k] for k in REPLAYED if getattr(args, k, UNSET) is not UNSET]
    for name, default in REPLAYED.items():
        if getattr(args, name, None) is UNSET:
            setattr(args, name, default)
    if getattr(args, "from_record", None):
        if given:
            raise ValueError(
                f"{', '.join(given)} given with --from-record: a replay takes every setting from its record; "
                "drop them, or generate anew without --from-record"
            )
        settings = _from_record(args)
    else:
        settings = RunSettings(
            scheduler=args.scheduler,
            steps=args.steps,
            guidance_scale=args.guidance,
            seed=args.seed,
            foot_lock=args.foot_lock,
            edits=tuple(_edits(args)),
        )
    edits = settings.edits
    if not args.prompt:
        raise ValueError("give at least one --prompt (or --from-record)")
    say = _teller(args)
    say(f"loading the model ({args.model}) ...")
    loading = time.perf_counter()
    pipe = load_model(args.model, args.weights)
    say(f"loaded in {time.perf_counter() - loading:.1f} s")
    digest = model_hash(pipe)
    if args.expected_hash and args.expected_hash != digest:
        if not getattr(args, "allow_other_model", False):
            raise ValueError(
                f"the model's hash {digest[:16]}... is not the record's {str(args.expected_hash)[:16]}...: it would "
                "make another motion; pass --allow-other-model to run the record with it anyway"
            )
        logger.warning("replaying with another model (hash %s, recorded %s)", digest, args.expected_hash)
    motion = getattr(args, "motion", None)
    features = _read_features(motion, pipe, args) if motion else None
    out = _out_dir(args.out, args.force)
    lengths = [len(features)] * len(args.prompt) if features is not None else args.lengths
    frames = pipe.lengths_in_frames(len(args.prompt), lengths, None if lengths else args.seconds)
    spec, captured = _report_capture(pipe, settings, len(args.prompt), max(frames), args.capture_budget)
    start = time.perf_counter()
    inversion_settings: dict = {}
    if features is not None:
        from .inversion import invert, regenerate

        say(f"inverting the motion ({len(features)} frames, {args.steps} steps) ...")
        inv = invert(pipe, features, args.prompt[0], steps=args.steps, depth=args.depth, refine=args.refine)
        with capture(spec) as cache, capture_keys(last_step_only=True) as keys:
            result = regenerate(
                pipe,
                inv,
                prompts=args.prompt,
                edits=edits,
                smooth_sigma=settings.smooth_sigma,
                foot_lock=settings.foot_lock,
            )
        np.save(_open_out_dir(out) / "inverted_latent.npy", inv.latent[0].cpu().numpy())
        inversion_settings = {
            "inverted_from": str(motion),
            "depth": args.depth,
            "refine": args.refine,
            "inversion_residuals": [round(r, 5) for r in inv.residuals],
        }
    else:
        # every map of the conditional branch, and the last step's keys for the report's count
        with capture(spec) as cache, capture_keys(last_step_only=True) as keys:
            result = pipe.run(
                args.prompt,
                settings,
                lengths=args.lengths,
                seconds=None if args.lengths else args.seconds,
                progress=not args.quiet,
            )
    elapsed = time.perf_counter() - start
    record = {
        "prompts": result.prompts,
        "lengths": result.lengths,
        "model": pipe.info.get("source"),
        "weights": pipe.info.get("weights"),
        "model_hash": digest,
        "seconds_taken": round(elapsed, 3),
        **result.settings.to_dict(),
        "seed": settings.seed,  # a regenerated motion's settings carry no seed: the run's is recorded
        # the edits as a reader sees them, and as data for a replay (the record's format)
        "edits": [repr(e) for e in edits],
        "edit_values": [edit_to_dict(e) for e in edits],
        **inversion_settings,
        "capture": captured,
        "versions": _versions(),
    }
    written = []
    if features is None:
        _open_out_dir(out)
    for i, (prompt, features, joints) in enumerate(zip(result.prompts, result.features, result.joints, strict=True)):
        stem = f"{i:02d}"
        say(f"writing {stem}: features, joints, keyframes, BVH{'' if args.no_gif else ', GIF'} and the report ...")
        np.save(out / f"{stem}_features.npy", features)
        np.save(out / f"{stem}_joints.npy", joints)
        fig = keyframe_strip(joints, n=8, title=prompt)
        fig.savefig(out / f"{stem}_keyframes.png", dpi=110, bbox_inches="tight")
        save_bvh(joints, out / f"{stem}_motion.bvh", fps=result.fps)
        if not args.no_gif:
            save_animation(joints, out / f"{stem}_motion.gif", fps=result.fps, title=prompt)
        write_report(out / f"{stem}_report.html", pipe, result, cache, row=i, record=record, keys=keys)
        written += [f"{stem}_{name}" for name in ("report.html", "features.npy", "joints.npy", "keyframes.png")]
        written += [f"{stem}_motion.bvh"] + ([] if args.no_gif else [f"{stem}_motion.gif"])
    (out / "record.json").write_text(json.dumps(record, indent=2))
    print(
        f"generated {len(result)} motion(s) in {elapsed:.2f} s; wrote to {out}: {', '.join([*written, 'record.json'])}"
    )
    print(f"open {(out / '00_report.html').resolve()} in a browser")
    return 0


MOTION_FILES = (".npy", ".bvh", ".amc")


def _read_features(path: str, pipe: MotionCLRPipeline, args: argparse.Namespace | None = None) -> np.ndarray:
    """(frames, 263) features of a given motion, with the error a user can act on: a features .npy, or motion
    capture (.bvh of any skeleton, .amc with its .asf) read by `motionclr_lens.io` and cut to the model's
    longest motion from --start seconds."""
    import numpy as np

    suffix = Path(path).suffix.lower()
    if suffix not in MOTION_FILES:
        raise ValueError(f"--motion {path}: unknown kind of file {suffix or '(none)'!r}; valid: {list(MOTION_FILES)}")
    if suffix == ".npy":
        try:
            features = np.load(path)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the motion {path!r}: {error}") from None
    else:
        from .io import load_motion

        if not Path(path).is_file():
            raise ValueError(f"--motion {path}: no such file")
        options = {} if args is None else {"preset": args.preset, "amc_skeleton": args.skeleton, "up": args.up}
        motion = load_motion(path, fps=pipe.config.fps, **options)
        for note in motion.notes:
            logger.info("%s: %s", path, note)
        features = motion.features
        start = 0 if args is None else round(args.start * pipe.config.fps)
        if not 0 <= start < len(features) - 1:
            raise ValueError(f"--start {args.start if args else 0} s is outside the motion's {len(features)} frames")
        longest = pipe.config.max_frames
        if len(features) - start > longest:
            logger.warning(
                "%s: %d frames from --start %g s; reading the first %d (the model's longest motion)",
                path, len(features) - start, args.start if args else 0, longest,
            )  # fmt: skip
        features = features[start : start + longest]
    if features.ndim != 2 or features.shape[1] != pipe.config.input_dim:
        raise ValueError(f"--motion {path}: expected (frames, {pipe.config.input_dim}) features, got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError(f"--motion {path}: the features hold NaN or Inf")
    return features.astype(np.float32)


def _motion_or_generated(args: argparse.Namespace, pipe: MotionCLRPipeline, kinds: tuple[str, ...], keys: bool):
    """Capture (maps of `kinds`, and with `keys` the self-attention keys) of a given motion probed at --timestep,
    or of a motion generated from the prompt; with the motion's features and frames."""
    import torch

    from .capture import KeyCache, capture, capture_keys

    generator = torch.Generator().manual_seed(args.seed)
    with (
        capture(kinds=kinds, head_mean=True) as cache,
        capture_keys(last_step_only=True) if keys else contextlib.nullcontext(KeyCache()) as key_cache,
    ):
        if args.motion:
            features = _read_features(args.motion, pipe, args)
            pipe.probe(features, args.prompt, timestep=args.timestep, generator=generator)
            frames = len(features)
        else:
            result = pipe.generate(args.prompt, seconds=args.seconds, generator=generator)
            frames = result.lengths[0]
            features = result.features[0]
    return cache, key_cache, features, frames


def _count(args: argparse.Namespace) -> int:
    from .analysis import count_from_attention, count_from_features, count_paper
    from .loading import load_model
    from .report import full_resolution_self_map

    pipe = load_model(args.model, args.weights)
    cache, keys, features, frames = _motion_or_generated(args, pipe, ("self",), keys=True)
    start, end = args.frames if args.frames else (0, frames)
    if not 0 <= start < end <= frames:
        raise ValueError(f"--frames {start} {end} is outside the motion's frames [0, {frames}]")
    ours = count_from_attention(keys, frames=frames, start=start, end=end)
    model_free = count_from_features(features, pipe.mean, pipe.std, start, end)
    self_map = full_resolution_self_map(cache, 0, frames)
    paper = count_paper(self_map[start:end, start:end]) if end - start >= 8 else None
    result = {
        "prompt": args.prompt,
        "frames": [start, end],
        "repetitions": ours.count if ours.found else "none found",
        "period_frames": round(ours.period, 2) if ours.found else None,
        "read_from": f"self-attention keys of layers {list(ours.layers)}",
        "baseline_no_model": model_free.count if model_free.found else "none found",
        "paper_appendix_g": None if paper is None else paper.rounded,
    }
    print(json.dumps(result, indent=2))
    return 0


def _ground(args: argparse.Namespace) -> int:
    import numpy as np

    from .analysis import activation_mask, word_curves
    from .loading import load_model

    pipe = load_model(args.model, args.weights)
    cache, _, _, frames = _motion_or_generated(args, pipe, ("cross",), keys=False)
    curves = word_curves(cache, pipe.tokenizer.tokenize_prompt(args.prompt), frames=frames)
    words = []
    for word, curve in zip(curves.words, curves.curves, strict=True):
        on = np.flatnonzero(activation_mask(curve, args.threshold))
        words.append(
            {
                "word": word,
                "peak_frame": int(curve.argmax()),
                "active_frames": [int(on.min()), int(on.max()) + 1] if len(on) else None,
            }
        )
    print(json.dumps({"prompt": args.prompt, "frames": frames, "threshold": args.threshold, "words": words}, indent=2))
    return 0


def _usage_error(args: argparse.Namespace, error: Exception) -> NoReturn:
    """Exit with status 2, the subcommand's usage and the message, as for any other bad option."""
    parser: argparse.ArgumentParser = args.subparser
    parser.error(str(error))


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The training command's options; unset options take the chosen recipe's values (`recipe_from`)."""
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--recipe", choices=list(RECIPE_NAMES), default="first",
        help="first: the first model's (base world, from scratch); extended: the shipped model's (from the first's "
        "weights, given by --warm-start)",
    )  # fmt: skip
    parser.add_argument(
        "--warm-start",
        metavar="FOLDER",
        help="start from this exported embedded model's weights (shipped: the package's)",
    )
    parser.add_argument("--steps", type=int, help="length of the first learning-rate schedule")
    parser.add_argument("--refine-steps", type=int, help="of the refinement (0: none)")
    parser.add_argument("--until", type=int, default=None, help="stop after this many steps in all (resumable later)")
    parser.add_argument("--samples", type=int, help="world motions of the first schedule")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--feat-bias", type=float, help="root, contacts weigh its square more (original: 5)")
    parser.add_argument(
        "--loss-mean", choices=LOSS_MEANS,
        help="motion: each motion's MSE first (original); frames: over every frame of the batch",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)


def recipe_from(args: argparse.Namespace) -> WorldRecipe:
    """The recipe chosen by --recipe with the options given on top of it; ValueError names a bad value (checked
    before the training stack is imported)."""
    import dataclasses

    given = {
        name: getattr(args, name)
        for name in ("steps", "refine_steps", "samples", "batch_size", "feat_bias", "loss_mean")
        if getattr(args, name, None) is not None
    }
    for name in ("steps", "samples", "batch_size"):
        if given.get(name, 1) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {given[name]}")
    if given.get("refine_steps", 0) < 0:
        raise ValueError(f"--refine-steps must be 0 or more, got {given['refine_steps']}")
    feat_bias = given.get("feat_bias", 1.0)
    if not (math.isfinite(feat_bias) and feat_bias > 0):
        raise ValueError(f"--feat-bias must be a finite number > 0, got {feat_bias}")
    from .embedded import RECIPES

    if "steps" in given:  # a schedule of the steps asked: one plain cosine, not the recipe's cut-short one
        given.update(cosine_steps=None, anneal_from=None)
    if getattr(args, "warm_start", None) is not None:
        given["warm_start"] = args.warm_start
    return dataclasses.replace(RECIPES[getattr(args, "recipe", "first")], **given)


def _train(args: argparse.Namespace) -> int:
    try:
        recipe = recipe_from(args)
    except ValueError as error:
        _usage_error(args, error)  # before anything is drawn or written
    from .embedded import train_on_world, warm_start_folder

    if recipe.warm_start is not None:
        try:
            warm_start_folder(recipe.warm_start)
        except (ValueError, FileNotFoundError) as error:
            _usage_error(args, error)

    trainer = train_on_world(args.out, recipe, seed=args.seed, until=args.until)
    print(f"trained to step {trainer.step}; checkpoint in {trainer.checkpoint_path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .embedded import embedded_folder, export

    try:
        folder = export(args.run, args.to or embedded_folder(), args.guidance)
    except ValueError as error:
        _usage_error(args, error)
    print(folder)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import sweep_from_spec

    done = sweep_from_spec(
        args.spec, args.out, model=args.model, weights=args.weights, device=args.device, fresh=args.fresh,
        progress=args.progress,
    )  # fmt: skip
    print(f"rank {done.rank} of {done.world_size}: computed {len(done.computed)} jobs, {len(done.skipped)} were done")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """The paper's protocol: R-precision, FID, MM-Dist, diversity and multimodality over repeats."""
    if args.repeats < 1 or args.count < 1:
        raise ValueError(f"--repeats and --count must be at least 1, got {args.repeats} and {args.count}")
    out = Path(args.json) if args.json else None
    if out is not None and out.exists() and not args.force:
        raise ValueError(f"--json {str(out)!r} exists; pass --force to overwrite")
    from .edits import read_edits
    from .evaluation import Evaluator
    from .evaluation.protocol import evaluate
    from .evaluation.world import load_world_evaluator, world_items
    from .loading import load_model

    edits = list(read_edits(args.edits)) if args.edits else []
    if args.evaluator == "world":
        evaluator = load_world_evaluator()
    elif (Path(args.evaluator) / "world_evaluator.json").is_file():
        evaluator = load_world_evaluator(args.evaluator)
    else:
        evaluator = Evaluator.from_data_folder(args.evaluator)
    if args.data == "world":
        items = world_items(args.split, args.count, seed=args.seed, world=args.world)
    else:
        from .data import load_humanml3d

        items = load_humanml3d(args.data, args.split, for_evaluation=True)[: args.count]
    pipe = load_model(args.model, args.weights)
    say = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    result = evaluate(
        pipe, items, evaluator, repeats=args.repeats, edits=edits, steps=args.steps, guidance_scale=args.guidance,
        mm_texts=args.mm_texts, diversity_times=args.diversity_times, seed=args.seed, progress=say,
    )  # fmt: skip
    print(result.to_markdown())
    if out is not None:
        out.write_text(json.dumps({"values": result.values, "summary": result.summary(), "settings": {
            **result.settings, "model": args.model, "evaluator": args.evaluator, "data": args.data, "split": args.split,
        }}, indent=1))  # fmt: skip
    return 0


def _train_recogniser(args: argparse.Namespace) -> int:
    import torch

    from .analysis.recognition import train_recogniser

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the recogniser is small: one thread trains it fastest
    try:
        folder = train_recogniser(
            args.out,
            world=args.world,
            samples=args.samples,
            epochs=args.epochs,
            perturb=args.perturb,
            seed=args.seed,
            progress=True,
        )
    finally:
        torch.set_num_threads(threads)
    print(f"saved to {folder}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .loading import load_model

    start = time.perf_counter()
    pipe = load_model(args.model, args.weights)
    load = time.perf_counter() - start
    times = []
    for r in range(args.repeats + 1):
        t = time.perf_counter()
        pipe.generate("a person walks forward", seconds=args.seconds, generator=torch.Generator().manual_seed(r))
        if r:  # the first run warms up
            times.append(time.perf_counter() - t)
    print(
        f"load {load:.2f} s; a {args.seconds:g} s motion, 10 steps with guidance: "
        f"{min(times):.2f} s best, {float(np.median(times)):.2f} s median of {args.repeats}"
    )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .loading import load_model

    pipe = load_model(args.model, args.weights)
    config = pipe.config
    params = sum(p.numel() for p in pipe.model.parameters())
    clip = sum(p.numel() for p in pipe.model.clip_model.parameters())
    print(f"model: {pipe.info.get('source')} ({pipe.info.get('weights')} weights)")
    print(f"U-Net widths {config.channels}, {config.num_attention_layers} self- and cross-attention layers")
    print(f"parameters: {params - clip:,} outside CLIP, {clip:,} in the CLIP text tower")
    for block in pipe.model.unet.clr_blocks():
        print(f"  layer {block.layer_index:2d}: {block.conv1d.out_channels} channels")
    if args.kernels:
        _inspect_kernels(pipe, args.seconds)
    return 0


def _inspect_kernels(pipe: MotionCLRPipeline, seconds: float) -> None:
    """Run one short guided sampling (which meets every product class of that length) and say which kernel each
    class runs on this machine and why."""
    import torch

    from . import kernels

    frames = pipe.lengths_in_frames(1, None, seconds)
    pipe.generate(["a person walks forward"], lengths=frames, steps=2, generator=torch.Generator().manual_seed(0))
    print(f"\nkernels on {kernels.machine_key()}, {torch.get_num_threads()} threads ({frames[0]} frames, guided):")
    weights, cache = kernels.kernel_weight_bytes(pipe.model), kernels.last_level_cache_bytes()
    print(
        f"  weights of these products {weights / 2**20:.0f} MiB, the largest cache {cache / 2**20:.0f} MiB: timed "
        + (
            "with each weight read from memory, as in a step (classes marked streamed; their linear kernels "
            "timed in whole forwards, 'in the run')"
            if kernels.streams_weights(pipe.model)
            else "warm"
        )
    )
    print("  class                                                  kernel     how        seconds of each candidate")
    for choice in kernels.kernel_choices():
        times = ", ".join(f"{name} {1e3 * t:.2f} ms" for name, t in choice.seconds.items()) or "-"
        print(f"  {choice.key:54s} {choice.kernel:10s} {choice.how:10s} {times}")
    layers = kernels.describe_kernels(pipe.model)
    copies = {row["layer"]: row["copy_bytes"] for row in layers}
    print(
        f"  {len({row['layer'] for row in layers})} layers run through these kernels; weight copies (transposed or "
        f"packed) kept beside them: {sum(copies.values()) / 2**20:.1f} MiB"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motionclr-lens", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument(
        "--threads",
        default=None,
        help="torch's threads for the model: a number, or 'auto' (default, or $MOTIONCLR_LENS_THREADS): the cores "
        "other processes leave free right now",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def motion_file_args(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("motion capture files (--motion FILE.bvh or FILE.amc)")
        g.add_argument("--preset", choices=MOTION_PRESETS, help="the file's joint names (default: found from them)")
        g.add_argument("--skeleton", help="the .asf of an .amc (default: the .asf beside it)")
        g.add_argument("--up", choices=["x", "y", "z", "-x", "-y", "-z"], help="the file's up axis (default: found)")
        g.add_argument("--start", type=float, default=0.0, help="seconds into the file to start reading")

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model",
            default="embedded",
            help="'embedded' (default), a release folder, or a hub id (EvanTHU/MotionCLR)",
        )
        p.add_argument("--weights", choices=["ema", "raw"], default="ema")
        p.add_argument(
            "--allow-unknown-words",
            action="store_true",
            help="run prompts with words the model never saw (otherwise an error that names them)",
        )

    runs = (
        ("demo", "generate the demo prompt with every attention map captured, and write its report"),
        ("generate", "generate motions from prompts (or replay a record.json)"),
        ("edit", "generate with edits, from an edit file (JSON or YAML) or flags; --motion edits a given motion"),
        ("invert", "invert a given motion (--motion FEATURES.npy) under its caption and regenerate it"),
    )
    for name, help_text in runs:
        p = sub.add_parser(name, help=help_text)
        model_args(p)
        default_prompt = ["a person jumps three times, then walks forward"] if name == "demo" else None
        p.add_argument("--prompt", nargs="+", default=default_prompt)
        p.add_argument("--seconds", type=float, default=DEMO_SECONDS if name == "demo" else 4.0)
        p.add_argument("--scheduler", choices=SCHEDULER_NAMES, default="dpmsolver")
        p.add_argument("--steps", type=int, default=10)
        p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
        p.add_argument("--seed", type=int, default=0)
        outs = {"demo": "motionclr_lens_out", "generate": "generated", "edit": "edited", "invert": "inverted"}
        p.add_argument("--out", default=outs[name])
        p.add_argument("--force", action="store_true", help="write into an output folder that is not empty")
        p.add_argument("--quiet", action="store_true")
        p.add_argument("--no-gif", action="store_true", help="skip the GIF (the slowest output)")
        p.add_argument(
            "--capture-budget",
            type=float,
            default=CAPTURE_BUDGET_MIB,
            metavar="MIB",
            help=f"memory for the report's attention maps (default {CAPTURE_BUDGET_MIB}); steps are left out to fit",
        )
        p.add_argument(
            "--no-foot-lock",
            dest="foot_lock",
            action="store_false",
            help="leave planted feet sliding in the joints as the model made them (held by default)",
        )
        if name == "generate":
            p.add_argument("--from-record", help="replay the run a record.json describes (same motion on CPU)")
            p.add_argument(
                "--allow-other-model",
                action="store_true",
                help="replay a record with a model whose hash differs from the record's (another motion)",
            )
            # a replay takes these from its record: unset, they are told apart from values given
            p.set_defaults(**dict.fromkeys(REPLAYED, UNSET))
        if name in ("edit", "invert"):
            p.add_argument(
                "--motion",
                required=name == "invert",
                help="a features .npy (frames, 263), or motion capture (.bvh, .amc): the first --prompt is its caption",
            )
            motion_file_args(p)
            p.add_argument("--depth", type=float, default=1.0, help="share of the DDIM schedule to invert through")
            p.add_argument("--refine", type=int, default=5, help="fixed-point iterations per inversion level")
        if name == "edit":
            p.add_argument("--edits", help="a JSON or YAML file: a list of {kind: Reweight, alpha: 0.5, word: jumps}")
            p.add_argument("--reweight", nargs=2, action="append", metavar=("WORD", "ALPHA"), help="(de-)emphasise")
            p.add_argument("--erase", action="append", metavar="WORD", help="erase a word everywhere")
        p.set_defaults(func=_generate)
    for name, help_text, func in (
        ("count", "count repetitions from self-attention (a generated motion, or --motion FEATURES.npy)", _count),
        ("ground", "each word's frames from cross-attention (a generated motion, or --motion)", _ground),
    ):
        p = sub.add_parser(name, help=help_text)
        model_args(p)
        p.add_argument("--prompt", required=True)
        p.add_argument(
            "--motion", help="a motion to probe instead of generating: features .npy (frames, 263), .bvh or .amc"
        )
        motion_file_args(p)
        timestep = COUNT_TIMESTEP if name == "count" else PROBE_TIMESTEP
        p.add_argument("--timestep", type=int, default=timestep, help=f"noise level of the probe (default {timestep})")
        p.add_argument("--seconds", type=float, default=4.0)
        p.add_argument("--seed", type=int, default=0)
        if name == "count":
            p.add_argument("--frames", type=int, nargs=2, metavar=("START", "END"), help="count in these frames")
        else:
            p.add_argument("--threshold", type=float, default=0.8, help="share of the maximum (the paper: 0.8)")
        p.set_defaults(func=func)
    p = sub.add_parser("inspect", help="print a model's sizes and attention layers (and the CPU kernels it runs)")
    model_args(p)
    p.add_argument("--kernels", action="store_true", help="also say which kernel each product class runs here, and why")
    p.add_argument("--seconds", type=float, default=4.0, help="the motion length the kernels are chosen for")
    p.set_defaults(func=_inspect)
    # the long runs (train, export, sweep, train-recogniser) log at INFO, each line with its time
    p = sub.add_parser("train", help="train the embedded configuration on the motion world (resumable)")
    add_recipe_arguments(p)
    p.set_defaults(func=_train, subparser=p, long_run=True, ignore_user_warnings=True)
    p = sub.add_parser("export", help="write a training run's EMA weights as an embedded model folder")
    p.add_argument("--run", required=True)
    p.add_argument("--to", default=None, help="the folder to write (default: the package's embedded model)")
    p.add_argument("--guidance", type=float, default=EMBEDDED_GUIDANCE_SCALE, help="the model's default guidance")
    p.set_defaults(func=_export, subparser=p, long_run=True, ignore_user_warnings=True)
    p = sub.add_parser(
        "sweep",
        help="run a sweep (prompts x edits x seeds to a zarr store) from a JSON or YAML spec file, alone or "
        "under torchrun",
    )
    p.add_argument("spec", help="JSON or YAML: prompts, edits, seeds, seconds or lengths, steps, capture, ...")
    p.add_argument("--out", required=True, help="the sweep store (a folder)")
    p.add_argument("--model", default="embedded", help="'embedded', a release folder or a hub id")
    p.add_argument("--weights", choices=["ema", "raw"], default="ema")
    p.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK when CUDA is there, else cpu")
    p.add_argument("--fresh", action="store_true", help="delete an existing sweep store at --out first")
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=_sweep, long_run=True)
    p = sub.add_parser(
        "evaluate", help="score a model as papers do: R-precision, FID, MM-Dist, diversity, multimodality over repeats"
    )
    model_args(p)
    p.add_argument("--evaluator", default="world", help="'world' (the shipped world evaluator), a world evaluator's "
                   "folder, or MotionCLR's ./data folder with the text-to-motion evaluator (checkpoints/t2m/..., "
                   "t2m_mean.npy, glove/)")  # fmt: skip
    p.add_argument("--data", default="world", help="'world' or a HumanML3D-format folder (texts with word/POS tokens)")
    p.add_argument("--world", choices=["base", "extended"], default="extended", help="which world --data world draws")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--count", type=int, default=1024, help="motions of the split (the protocol drops a last short batch)"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--edits", help="a JSON or YAML file of edits applied to every generation")
    p.add_argument("--mm-texts", type=int, default=100, help="captions for multimodality (0: skip it)")
    p.add_argument("--diversity-times", type=int, default=300, help="pairs diversity draws (the papers': 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write every repeat's values and the summary to this file")
    p.add_argument("--force", action="store_true", help="overwrite --json")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_evaluate, long_run=True)
    p = sub.add_parser(
        "train-recogniser",
        help="train the action recogniser on the training split of the motion world (base, extended or both)",
    )
    p.add_argument("--out", required=True, help="folder to write the recogniser to")
    p.add_argument("--world", default="mixed", choices=["base", "extended", "mixed"], help="mixed: half of each")
    p.add_argument("--samples", type=int, default=8000)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--perturb", type=float, default=0.75, help="share of motions perturbed in each epoch")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train_recogniser, long_run=True)
    p = sub.add_parser("benchmark", help="time loading and sampling")
    model_args(p)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=_benchmark)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    long_run = getattr(args, "long_run", False)
    logging.basicConfig(
        level=logging.INFO if args.verbose or long_run else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s" if long_run else "%(levelname)s %(message)s",
    )
    try:
        with warnings.catch_warnings():
            if getattr(args, "ignore_user_warnings", False):
                warnings.simplefilter("ignore", UserWarning)
            if not getattr(args, "allow_unknown_words", True):
                warnings.simplefilter("error", UnknownWordWarning)
            _precheck(args)
            threads = _threads(args)
            if threads is None:
                return int(args.func(args))
            from .threads import using_threads

            with using_threads(threads):
                return int(args.func(args))
    except KeyboardInterrupt as interrupt:  # Ctrl-C: one line saying what was kept (training saves its step)
        print(f"interrupted: {str(interrupt) or 'stopped before anything more was written'}", file=sys.stderr)
        return 130
    except UnknownWordWarning as warning:
        print(f"error: {warning}; pass --allow-unknown-words to run it anyway", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, OSError, FloatingPointError, IndexError) as error:
        # every error a user's input causes: one line naming it, status 2 (an OSError names its file); under
        # torchrun an error every rank met is said by rank 0 alone
        if not (getattr(error, "every_rank", False) and _rank() != 0):
            print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
