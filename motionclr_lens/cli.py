"""The `motionclr-lens` command: generate motions and inspect a model from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .pipeline import MotionCLRPipeline, load_release
from .sampling import SCHEDULERS

__all__ = ["main"]

logger = logging.getLogger("motionclr_lens")


def _load(model: str, weights: str) -> MotionCLRPipeline:
    if model == "embedded":
        from .embedded import load_embedded

        return load_embedded()
    path = Path(model)
    if path.is_dir():
        return load_release(path, weights=weights)
    if "/" in model and not path.exists():
        return load_release(hub_id=model, weights=weights)
    raise SystemExit(f"error: --model {model!r} is not 'embedded', a release folder or a hub id (owner/name)")


def _out_dir(path: str, force: bool) -> Path:
    out = Path(path)
    if out.exists() and any(out.iterdir()) and not force:
        raise SystemExit(f"error: output folder {str(out)!r} exists and is not empty; pass --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _generate(args: argparse.Namespace) -> int:
    from .capture import capture
    from .export import save_animation, save_bvh
    from .report import write_report
    from .viz import keyframe_strip

    pipe = _load(args.model, args.weights)
    out = _out_dir(args.out, args.force)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    with capture(kinds=("self", "cross")) as cache:  # every layer, step and head of the conditional branch
        result = pipe.generate(
            args.prompt,
            seconds=args.seconds,
            scheduler=args.scheduler,
            steps=args.steps,
            guidance_scale=args.guidance,
            generator=generator,
            progress=not args.quiet,
        )
    elapsed = time.perf_counter() - start
    record = {
        "prompts": result.prompts,
        "lengths": result.lengths,
        "seed": args.seed,
        "model": pipe.info.get("source"),
        "weights": pipe.info.get("weights"),
        "seconds_taken": round(elapsed, 3),
        **result.settings,
    }
    written = []
    for i, (prompt, features, joints) in enumerate(zip(result.prompts, result.features, result.joints, strict=True)):
        stem = f"{i:02d}"
        np.save(out / f"{stem}_features.npy", features)
        np.save(out / f"{stem}_joints.npy", joints)
        fig = keyframe_strip(joints, n=8, title=prompt)
        fig.savefig(out / f"{stem}_keyframes.png", dpi=110, bbox_inches="tight")
        save_bvh(joints, out / f"{stem}_motion.bvh", fps=result.fps)
        if not args.no_gif:
            save_animation(joints, out / f"{stem}_motion.gif", fps=result.fps, title=prompt)
        write_report(out / f"{stem}_report.html", pipe, result, cache, row=i, record=record)
        written += [f"{stem}_{name}" for name in ("report.html", "features.npy", "joints.npy", "keyframes.png")]
        written += [f"{stem}_motion.bvh"] + ([] if args.no_gif else [f"{stem}_motion.gif"])
    (out / "record.json").write_text(json.dumps(record, indent=2))
    print(
        f"generated {len(result)} motion(s) in {elapsed:.2f} s; wrote to {out}: {', '.join([*written, 'record.json'])}"
    )
    print(f"open {(out / '00_report.html').resolve()} in a browser")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    pipe = _load(args.model, args.weights)
    config = pipe.config
    params = sum(p.numel() for p in pipe.model.parameters())
    clip = sum(p.numel() for p in pipe.model.clip_model.parameters())
    print(f"model: {pipe.info.get('source')} ({pipe.info.get('weights')} weights)")
    print(f"U-Net widths {config.channels}, {config.num_attention_layers} self- and cross-attention layers")
    print(f"parameters: {params - clip:,} outside CLIP, {clip:,} in the CLIP text tower")
    for block in pipe.model.unet.clr_blocks():
        print(f"  layer {block.layer_index:2d}: {block.conv1d.out_channels} channels")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionclr-lens", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model",
            default="embedded",
            help="'embedded' (default), a release folder, or a hub id (EvanTHU/MotionCLR)",
        )
        p.add_argument("--weights", choices=["ema", "raw"], default="ema")

    for name, help_text in (("demo", "generate the demo prompt"), ("generate", "generate motions from prompts")):
        p = sub.add_parser(name, help=help_text)
        model_args(p)
        default_prompt = ["a person jumps three times, then walks forward"] if name == "demo" else None
        p.add_argument("--prompt", nargs="+", default=default_prompt, required=name == "generate")
        p.add_argument("--seconds", type=float, default=4.0)
        p.add_argument("--scheduler", choices=sorted(SCHEDULERS), default="dpmsolver")
        p.add_argument("--steps", type=int, default=10)
        p.add_argument("--guidance", type=float, default=2.5)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", default="motionclr_lens_out" if name == "demo" else "generated")
        p.add_argument("--force", action="store_true", help="write into an output folder that is not empty")
        p.add_argument("--quiet", action="store_true")
        p.add_argument("--no-gif", action="store_true", help="skip the GIF (the slowest output)")
        p.set_defaults(func=_generate)
    p = sub.add_parser("inspect", help="print a model's sizes and attention layers")
    model_args(p)
    p.set_defaults(func=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args))
    except (ValueError, KeyError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
