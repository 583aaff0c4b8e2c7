"""Build the world's gallery and its physics yardstick for docs/world.md.

    python docs/scripts/world_gallery.py [--out docs/images/world] [--samples 500]

Writes one keyframe strip per action (PNG), a few composed samples with their captions, and prints the
world's own foot-skating, penetration and jerk figures (measured on joints decoded from its features).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from motionclr_lens.motion import recover_from_ric
from motionclr_lens.physics import plausibility
from motionclr_lens.viz import keyframe_strip
from motionclr_lens.world import ACTIONS, generate, make_sample
from motionclr_lens.world.body import render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/images/world")
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in sorted(ACTIONS.items()):
        clip = spec.make(np.random.default_rng(7), 196)
        assert clip is not None
        view = "front" if name in ("jumping_jacks", "wave", "clap", "arm_circles", "side_steps", "hop") else "side"
        fig = keyframe_strip(render(clip.pose), n=8, view=view, title=f"{name}  {clip.attrs.get('count', '')}")
        fig.savefig(out / f"{name}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)
    for i in range(3):
        sample = make_sample(0, "train", i)
        fig = keyframe_strip(sample.joints, n=10, title=sample.captions[0].text)
        fig.savefig(out / f"sample_{i}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)

    start = time.perf_counter()
    drawn = generate("val", args.samples, seed=0, workers=2)
    seconds = time.perf_counter() - start
    joints = [recover_from_ric(torch.from_numpy(s.features)).numpy() for s in drawn]
    report = plausibility(joints)
    print(f"{args.samples} samples in {seconds:.1f} s on 2 processes: {args.samples / seconds:.0f} samples/s")
    print(f"mean length {np.mean([s.frames for s in drawn]) / 20:.2f} s")
    for key, value in report.to_dict().items():
        print(f"{key}: {value:.6g}")


if __name__ == "__main__":
    main()
