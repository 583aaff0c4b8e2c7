"""The cost of one training step of the embedded model against its arithmetic floor.

    python benchmarks/bench_train.py [--steps 40] [--batch-sizes 16 32 64] [--compile]

Draws world training motions, builds the embedded configuration and its Trainer as the recipe does (batches
of similar lengths, 10 % of rows unconditional), counts the FLOPs of a step's forward and backward with
torch's FlopCounterMode (mean over 20 batches), then times whole steps (loss, backward, clipping, AdamW,
EMA) after a warm-up, for each batch size. The floor is the counted FLOPs at the best float32 matrix rate
measured in the same process (2048 x 2048 `a @ b`).

`--compile` also times the U-Net's forward and backward at one fixed shape (the batch, 112 frames, a fixed
number of conditional rows) eager and under `torch.compile`, alternating, with the compile time: what
one compiled length bucket could save at best.

Every figure is printed beside the CPU model and torch's CPU capability.
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
from motionclr_lens.embedded import EXTENDED_RECIPE, world_training_set
from motionclr_lens.model import MotionCLR
from motionclr_lens.train import TrainConfig, Trainer


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def matmul_rate(size: int = 2048, seconds: float = 3.0) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def step_costs(args: argparse.Namespace, data, mean, std, rate: float) -> None:
    for batch_size in args.batch_sizes:
        torch.manual_seed(0)
        model = MotionCLR(MotionCLRConfig.embedded())
        config = TrainConfig(batch_size=batch_size, lr=EXTENDED_RECIPE.lr, feat_bias=EXTENDED_RECIPE.feat_bias)
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
        floor = gflop / rate
        median = statistics.median(times)
        print(
            f"batch {batch_size}: {gflop:.1f} GFLOP per step (forward + backward), floor {floor:.3f} s; "
            f"step median {median:.3f} s, mean {statistics.fmean(times):.3f} s ({median / floor:.1f}x the floor), "
            f"{batch_size / median:.1f} rows/s"
        )


def compiled_against_eager(args: argparse.Namespace) -> None:
    from motionclr_lens.model import AttentionCall

    batch, frames = args.batch_sizes[-1], 112
    n_cond = batch - round(0.1 * batch)
    torch.manual_seed(0)
    model = MotionCLR(MotionCLRConfig.embedded()).train()
    config = model.config
    x = torch.randn(batch, config.input_dim, frames)
    t = torch.randint(0, 1000, (batch,))
    text = torch.randn(n_cond, 77, config.text_latent_dim)
    call = AttentionCall(n_cond, None, None, (), (), ())
    unet = model.unet

    def step(forward) -> float:
        start = time.perf_counter()
        forward(x, t, text, call).square().mean().backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    compiled = torch.compile(unet.forward)
    start = time.perf_counter()
    step(compiled)
    print(f"compile (first forward and backward of one shape): {time.perf_counter() - start:.1f} s")
    for forward in (unet.forward, compiled):
        step(forward)  # warm
    eager, fast = [], []
    for _ in range(args.steps // 2):
        eager.append(step(unet.forward))
        fast.append(step(compiled))
    e, c = statistics.median(eager), statistics.median(fast)
    print(
        f"U-Net forward + backward, batch {batch} x {frames} frames: eager median {e:.3f} s, "
        f"compiled {c:.3f} s ({e / c:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per batch size")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--samples", type=int, default=2000, help="world motions to draw batches from")
    parser.add_argument("--compile", action="store_true", help="also time the U-Net compiled against eager")
    args = parser.parse_args()
    rate = matmul_rate()
    print(
        f"CPU: {cpu_model()}; torch {torch.__version__}, cpu capability "
        f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
        f"float32 matmul {rate:.0f} GFLOP/s (2048^2, best)"
    )
    data = world_training_set(args.samples, seed=0, world=EXTENDED_RECIPE.world)
    mean, std = feature_statistics([m.features for m in data])
    step_costs(args, data, mean, std, rate)
    if args.compile:
        compiled_against_eager(args)


if __name__ == "__main__":
    main()
