"""The cost of one training step of the embedded model against its arithmetic floor.

    python benchmarks/bench_train.py [--steps 40] [--batch-sizes 16 32] [--matmul-gflops 180]

Draws world training motions, builds the embedded configuration and its Trainer as the recipe does (batches
of similar lengths, 10 % of rows unconditional), counts the FLOPs of a step's forward and backward with
torch's FlopCounterMode (mean over 20 batches), then times whole steps (loss, backward, clipping, AdamW,
EMA) after a warm-up, for each batch size. The floor is the counted FLOPs at the machine's float32 matrix
peak (`--matmul-gflops`; about 180 GFLOP/s on the 2-core CPU of docs/performance.md).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from motionclr_lens.config import MotionCLRConfig
from motionclr_lens.data import feature_statistics
from motionclr_lens.embedded import RECIPE, world_training_set
from motionclr_lens.model import MotionCLR
from motionclr_lens.train import TrainConfig, Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per batch size")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[RECIPE.batch_size, 2 * RECIPE.batch_size])
    parser.add_argument("--samples", type=int, default=2000, help="world motions to draw batches from")
    parser.add_argument("--matmul-gflops", type=float, default=180.0)
    args = parser.parse_args()
    data = world_training_set(args.samples, seed=0)
    mean, std = feature_statistics([m.features for m in data])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for batch_size in args.batch_sizes:
        torch.manual_seed(0)
        model = MotionCLR(MotionCLRConfig.embedded())
        config = TrainConfig(batch_size=batch_size, lr=RECIPE.lr, feat_bias=RECIPE.feat_bias)
        with tempfile.TemporaryDirectory() as folder:
            trainer = Trainer(model, data, mean, std, config, folder)
            model.train()
            flops = []
            for _ in range(20):
                with FlopCounterMode(display=False) as counter:
                    trainer.loss(*trainer.batch()).backward()
                flops.append(counter.get_total_flops())
            trainer.optimizer.zero_grad(set_to_none=True)
            for _ in range(5):
                trainer.train_step()
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                trainer.train_step()
                times.append(time.perf_counter() - start)
        gflop = statistics.fmean(flops) / 1e9
        floor = gflop / args.matmul_gflops
        median = statistics.median(times)
        print(
            f"batch {batch_size}: {gflop:.1f} GFLOP per step (forward + backward), floor {floor:.3f} s; "
            f"step median {median:.3f} s, mean {statistics.fmean(times):.3f} s ({median / floor:.1f}x the floor), "
            f"{batch_size / median:.1f} rows/s"
        )


if __name__ == "__main__":
    main()
