"""An action recogniser trained on the motion world's ground truth: per-frame labels and ordered segments.

It reads joints only (never text), so it can judge whether a generated motion does what its caption says.
It is trained on the world's own motions (joints decoded from their features by `joints_of`), never on
generated ones: the training splits of the base world and of the extended world (docs/world.md),
half of each. During training, most motions are perturbed the way a generator's output departs from clean
motion (`perturb_joints`: the heading wobbles about the pelvis, the body drifts over the floor, joints
jitter, the floor height is off), so that such flaws do not read as other actions.

Its domain is the world's motions and motions near them, of both worlds: the 34 actions in the styles the
two worlds draw (deep squats, fast series of one-foot hops, small and large arm circles, kicks with a lean,
travelling jumps and hops included). Where an arm action is overlaid on walking or jogging, it labels those
frames with the arm action, as the world's `WorldSample.frame_labels()` does. It is not a general action
classifier: a motion unlike any of the world's is still labelled with one of its 34 actions.

    recogniser = ActionRecogniser.fit(training_samples(8000, "mixed"))
    recogniser.segments(joints)   # [("jump", 0, 61), ("walk_forward", 61, 140)]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torch import Tensor, nn

from ..motion import recover_from_ric
from .descriptors import DESCRIPTOR_DIM, motion_descriptor

__all__ = [
    "ActionRecogniser",
    "RecognisedSegment",
    "decode_segments",
    "joints_of",
    "perturb_joints",
    "smooth_labels",
    "train_recogniser",
    "training_samples",
]


@dataclass(frozen=True)
class RecognisedSegment:
    kind: str
    start: int
    end: int


def joints_of(features: np.ndarray) -> np.ndarray:
    """(T, 22, 3) joints decoded from denormalised (T, 263) features by `motion.recover_from_ric` alone
    (HumanML3D's decoding): not put on the floor, not smoothed, feet not locked. The recogniser is trained on
    joints decoded this way.

    Generation decodes differently: `pipe.generate` returns joints from `motion.features_to_joints`, which also
    puts the motion on the floor, smooths it over time (`smooth_sigma`, 1 frame by default) and locks planted
    feet (`foot_lock`, on by default). To decode a generated motion the way the training motions were decoded,
    call this on its features (`joints_of(result.features[i])`)."""
    return recover_from_ric(torch.as_tensor(np.asarray(features, dtype=np.float32))).numpy()


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float, width: float) -> np.ndarray:
    """Gaussian noise along axis 0, smoothed over about `width` frames, with standard deviation `scale`."""
    noise = gaussian_filter1d(rng.standard_normal(shape), width, axis=0, mode="nearest")
    return noise * (scale / max(float(noise.std()), 1e-8))


def perturb_joints(
    joints: np.ndarray, rng: np.random.Generator, strength: float = 1.0, fps: float = 20.0
) -> np.ndarray:
    """A copy of a (T, 22, 3) motion with a generator's typical flaws, each of a random size up to
    `strength` times: the body turns back and forth about its pelvis (up to 0.3 rad), drifts over the
    floor (up to 0.25 m/s), its joints jitter (up to 2.5 cm), and it floats or sinks (up to 5 cm)."""
    joints = np.asarray(joints, dtype=np.float64)
    T = len(joints)
    out = joints.copy()
    yaw = _smooth_noise(rng, (T,), strength * rng.uniform(0.0, 0.3), rng.uniform(2.0, 12.0))
    pelvis = out[:, :1].copy()
    pelvis[..., 1] = 0.0
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, z = out[..., 0] - pelvis[..., 0], out[..., 2] - pelvis[..., 2]
    out[..., 0] = c * x + s * z + pelvis[..., 0]
    out[..., 2] = -s * x + c * z + pelvis[..., 2]
    velocity = _smooth_noise(rng, (T, 2), strength * rng.uniform(0.0, 0.25), rng.uniform(4.0, 20.0))
    out[..., [0, 2]] += (np.cumsum(velocity, axis=0) / fps)[:, None, :]
    out += _smooth_noise(rng, out.shape, strength * rng.uniform(0.0, 0.025), rng.uniform(0.5, 2.5))
    out[..., 1] += strength * rng.uniform(-0.05, 0.05)
    return out


class _Block(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.norm = nn.GroupNorm(8, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mix(torch.relu(self.norm(self.conv(x))))


class _Net(nn.Module):
    """Dilated temporal convolutions: a receptive field of about 3 s around each frame."""

    def __init__(self, classes: int, width: int = 128, dilations: Sequence[int] = (1, 2, 4, 8, 16, 1)) -> None:
        super().__init__()
        self.inp = nn.Conv1d(DESCRIPTOR_DIM, width, 5, padding=2)
        self.blocks = nn.Sequential(*[_Block(width, d) for d in dilations])
        self.out = nn.Conv1d(width, classes, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, D, T) -> (B, classes, T)
        return self.out(self.blocks(torch.relu(self.inp(x))))


def smooth_labels(probabilities: np.ndarray, switch_penalty: float = 16.0) -> np.ndarray:
    """(T,) labels maximising the summed log-probability of each frame's label minus `switch_penalty` for
    every change of label (Viterbi): a brief flicker costs more than it gains, a real change of action
    does not. 0 gives the per-frame argmax."""
    logp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    if logp.ndim != 2 or len(logp) == 0:
        raise ValueError(f"probabilities must have shape (T >= 1, classes), got {logp.shape}")
    if switch_penalty < 0:
        raise ValueError(f"switch_penalty must be >= 0, got {switch_penalty}")
    T, C = logp.shape
    score = logp[0].copy()
    back = np.zeros((T, C), dtype=np.int64)
    for t in range(1, T):
        best = int(score.argmax())
        switch = score[best] - switch_penalty
        stay = score >= switch
        back[t] = np.where(stay, np.arange(C), best)
        score = np.where(stay, score, switch) + logp[t]
    labels = np.zeros(T, dtype=np.int64)
    labels[-1] = int(score.argmax())
    for t in range(T - 1, 0, -1):
        labels[t - 1] = back[t, labels[t]]
    return labels


def decode_segments(labels: np.ndarray, classes: Sequence[str], min_frames: int = 10) -> list[RecognisedSegment]:
    """Runs of equal per-frame labels; runs shorter than `min_frames` are absorbed by their longer neighbour."""
    labels = np.asarray(labels)
    runs: list[list[int]] = []  # [label, start, end]
    for t, label in enumerate(labels.tolist()):
        if runs and runs[-1][0] == label:
            runs[-1][2] = t + 1
        else:
            runs.append([label, t, t + 1])
    while len(runs) > 1:
        lengths = [b - a for _, a, b in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_frames:
            break
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(runs) else -1
        j = i - 1 if left >= right else i + 1
        lo, hi = min(i, j), max(i, j)
        merged = [runs[j][0], runs[lo][1], runs[hi][2]]
        runs[lo : hi + 1] = [merged]
        # neighbours with the same label join
        k = lo
        if k > 0 and runs[k - 1][0] == runs[k][0]:
            runs[k - 1 : k + 1] = [[runs[k][0], runs[k - 1][1], runs[k][2]]]
            k -= 1
        if k + 1 < len(runs) and runs[k + 1][0] == runs[k][0]:
            runs[k : k + 2] = [[runs[k][0], runs[k][1], runs[k + 1][2]]]
    return [RecognisedSegment(classes[label], a, b) for label, a, b in runs]


class ActionRecogniser:
    """Per-frame action labels from joints, by a small temporal convolutional network. Its domain is the
    motion world's motions and near-world motions of the base and extended worlds (the module's docstring),
    not human motion at large."""

    def __init__(self, classes: Sequence[str], net: _Net, mean: np.ndarray, std: np.ndarray) -> None:
        self.classes = list(classes)
        self.net = net.eval()
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    # --- training ---------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        samples: Sequence,
        classes: Sequence[str] | None = None,
        epochs: int = 12,
        batch_size: int = 32,
        lr: float = 2e-3,
        seed: int = 0,
        progress: bool = False,
        perturb: float = 0.75,
    ) -> ActionRecogniser:
        """Train on world samples (their features and per-frame segments). Frames outside every segment
        are not scored. In each epoch a share `perturb` of the motions is seen through `perturb_joints`
        (0: clean motions only)."""
        if not 0.0 <= perturb <= 1.0:
            raise ValueError(f"perturb must be a share in [0, 1], got {perturb}")
        from ..world import ACTIONS

        classes = sorted(ACTIONS) if classes is None else list(classes)
        index = {c: i for i, c in enumerate(classes)}
        joints, xs, ys = [], [], []
        for s in samples:
            joints.append(joints_of(s.features))
            xs.append(motion_descriptor(joints[-1]))
            y = np.full(s.frames, -100, dtype=np.int64)
            for seg in s.segments:
                y[seg.start : seg.end] = index[seg.kind]
            ys.append(y)
        allx = np.concatenate(xs)
        mean, std = allx.mean(0), allx.std(0) + 1e-3
        torch.manual_seed(seed)
        net = _Net(len(classes))
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        rng = np.random.default_rng(seed)
        order = np.argsort([len(x) for x in xs])  # batches of similar lengths
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        total = epochs * len(batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
        net.train()
        step = 0
        for epoch in range(epochs):
            losses = []
            for b in rng.permutation(len(batches)):
                idx = batches[b]
                T = max(len(xs[i]) for i in idx)
                x = np.zeros((len(idx), T, DESCRIPTOR_DIM), np.float32)
                y = np.full((len(idx), T), -100, np.int64)
                for k, i in enumerate(idx):
                    n = len(xs[i])
                    seen = xs[i] if rng.random() >= perturb else motion_descriptor(perturb_joints(joints[i], rng))
                    x[k, :n] = (seen - mean) / std
                    y[k, :n] = ys[i]
                logits = net(torch.from_numpy(x).transpose(1, 2))
                loss = nn.functional.cross_entropy(logits, torch.from_numpy(y), ignore_index=-100)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                losses.append(loss.item())
            if progress:
                print(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f} ({step}/{total} steps)")
        return cls(classes, net, mean, std)

    # --- use ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def frame_probabilities(self, joints: np.ndarray) -> np.ndarray:
        """(T, classes) per-frame class probabilities of a (T, 22, 3) joint motion."""
        x = (motion_descriptor(joints) - self.mean) / self.std
        logits = self.net(torch.from_numpy(x.astype(np.float32)).T[None])[0].T
        return torch.softmax(logits, -1).numpy()

    def frame_labels(self, joints: np.ndarray, switch_penalty: float = 16.0) -> np.ndarray:
        """(T,) class index of each frame, smoothed over time (`smooth_labels`; 0: per-frame argmax)."""
        return smooth_labels(self.frame_probabilities(joints), switch_penalty)

    def segments(
        self, joints: np.ndarray, min_frames: int = 10, switch_penalty: float = 16.0
    ) -> list[RecognisedSegment]:
        """The actions of a motion in order, each as (kind, start, end)."""
        return decode_segments(self.frame_labels(joints, switch_penalty), self.classes, min_frames)

    def main_action(self, joints: np.ndarray) -> str:
        """The action the most frames are labelled with (per-frame, unsmoothed)."""
        labels = self.frame_labels(joints, switch_penalty=0.0)
        return self.classes[int(np.bincount(labels, minlength=len(self.classes)).argmax())]

    # --- persistence -------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write `recogniser.safetensors` (weights, feature mean and std) and `recogniser.json` (classes)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self.net.state_dict().items()}
        tensors["mean"] = torch.from_numpy(self.mean)
        tensors["std"] = torch.from_numpy(self.std)
        save_file(tensors, str(folder / "recogniser.safetensors"))
        (folder / "recogniser.json").write_text(json.dumps({"classes": self.classes}, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ActionRecogniser:
        from safetensors.torch import load_file

        folder = Path(folder)
        classes = json.loads((folder / "recogniser.json").read_text())["classes"]
        tensors = load_file(str(folder / "recogniser.safetensors"))
        net = _Net(len(classes))
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        return cls(classes, net, tensors["mean"].numpy(), tensors["std"].numpy())

    @classmethod
    def default(cls) -> ActionRecogniser:
        """The recogniser shipped with the package, trained on 4,000 training motions of the base world and
        4,000 of the extended world (`motionclr-lens train-recogniser --out FOLDER` retrains it)."""
        return cls.load(Path(str(resources.files("motionclr_lens.assets").joinpath("recogniser"))))


def training_samples(count: int, world: str = "mixed", seed: int = 0, workers: int = 2) -> list:
    """`count` motions of the training split of the base world, the extended world, or both ("mixed": half of
    each, the base world's first)."""
    from ..world import WORLDS, generate

    if world not in (*WORLDS, "mixed"):
        raise ValueError(f"unknown world {world!r}; valid: {[*WORLDS, 'mixed']}")
    if world != "mixed":
        return generate("train", count, seed=seed, workers=workers, world=world)
    half = count // 2
    return generate("train", count - half, seed=seed, workers=workers, world="base") + generate(
        "train", half, seed=seed, workers=workers, world="extended"
    )


def train_recogniser(
    out: str | Path,
    world: str = "mixed",
    samples: int = 8000,
    epochs: int = 16,
    perturb: float = 0.75,
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Train a recogniser on `samples` motions of the training split of `world` ("base", "extended", or
    "mixed": half of each) and save it in the folder `out` (`ActionRecogniser.save`); returns the folder.
    The shipped one was trained with the defaults (`motionclr-lens train-recogniser --out FOLDER`)."""
    if not 0.0 <= perturb <= 1.0:  # before the motions are drawn
        raise ValueError(f"perturb must be a share in [0, 1], got {perturb}")
    drawn = training_samples(samples, world, seed=seed)
    recogniser = ActionRecogniser.fit(drawn, epochs=epochs, seed=seed, progress=progress, perturb=perturb)
    return recogniser.save(out)


if __name__ == "__main__":  # the command moved to the one command line, which no library module imports
    moved = "python -m motionclr_lens.analysis.recognition is now `motionclr-lens train-recogniser`"
    print(f"error: {moved}", file=sys.stderr)
    raise SystemExit(2)
