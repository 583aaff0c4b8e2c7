"""Make tests/fixtures/evaluator_parity.pt: the text-to-motion evaluator's outputs computed by the original code on
random weights and small random data.

    python docs/scripts/make_evaluator_fixtures.py --original PATH_TO_MOTIONCLR_CHECKOUT

PATH is a checkout of MotionCLR's public repository (the commit is recorded in the fixtures and docs/evaluation.md).
The original's modules are imported from there (`eval/evaluator_modules.py`, `eval/evaluator_wrapper.py`,
`utils/metrics.py`, `utils/word_vectorizer.py`); nothing of it is copied here. The networks are built at small sizes
(their constructors take the sizes) so that the fixtures stay small; the arithmetic is the same at any size.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

SIZES = {
    "dim_pose": 24,
    "dim_word": 12,
    "dim_pos": 15,
    "text_hidden": 16,
    "motion_hidden": 24,
    "movement_hidden": 16,
    "movement_latent": 12,
    "embedding": 8,
}
WORDS = [
    "unk",
    "sos",
    "eos",
    "a",
    "person",
    "walk",
    "forward",
    "left",
    "hand",
    "jump",
    "slowly",
    "ball",
    "the",
    "turn",
    "wave",
    "his",
    "arm",
    "and",
    "then",
    "run",
]
TAGS = ["DET", "NOUN", "VERB", "ADV", "ADP", "PRON", "CCONJ", "NUM", "ADJ", "PROPN"]


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[2] / "tests/fixtures/evaluator_parity.pt")
    args = parser.parse_args()
    root = args.original
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    # the original's evaluator package imports its modules relatively: load them as one package
    package = types.ModuleType("orig_eval")
    package.__path__ = [str(root / "eval")]
    sys.modules["orig_eval"] = package
    modules = load(root / "eval/evaluator_modules.py", "orig_eval.evaluator_modules")
    wrapper = load(root / "eval/evaluator_wrapper.py", "orig_eval.evaluator_wrapper")
    metrics = load(root / "utils/metrics.py", "orig_metrics")
    vectorizer = load(root / "utils/word_vectorizer.py", "orig_word_vectorizer")

    torch.manual_seed(0)
    s = SIZES
    movement = modules.MovementConvEncoder(s["dim_pose"] - 4, s["movement_hidden"], s["movement_latent"])
    text = modules.TextEncoderBiGRUCo(s["dim_word"], s["dim_pos"], s["text_hidden"], s["embedding"], "cpu")
    motion = modules.MotionEncoderBiGRUCo(s["movement_latent"], s["motion_hidden"], s["embedding"], "cpu")
    for m in (movement, text, motion):
        m.eval()
    # the wrapper, without reading a file: its networks set directly
    evaluator = object.__new__(wrapper.EvaluatorModelWrapper)
    evaluator.text_encoder, evaluator.motion_encoder, evaluator.movement_encoder = text, motion, movement
    evaluator.opt = types.SimpleNamespace(unit_length=4)
    evaluator.device = "cpu"

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(WORDS), s["dim_word"])).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "our_vab_data.npy", vectors)
        (Path(folder) / "our_vab_words.pkl").write_bytes(pickle.dumps(WORDS))
        (Path(folder) / "our_vab_idx.pkl").write_bytes(pickle.dumps({w: i for i, w in enumerate(WORDS)}))
        words = vectorizer.WordVectorizer(folder, "our_vab")
    # 32 captions of 0..24 tokens (some unknown, capitalised or special words; exactly 20 and over 20 words)
    vocabulary = [*WORDS[3:], "Walk", "zebra", "cartwheel"]
    captions = []
    for i in range(32):
        n = [0, 1, 20, 21, 24][i] if i < 5 else int(rng.integers(2, 19))
        captions.append(
            [f"{vocabulary[rng.integers(len(vocabulary))]}/{TAGS[rng.integers(len(TAGS))]}" for _ in range(n)]
        )
    encoded = []
    for tokens in captions:  # the original's dataset: start, at most 20 words, end, 'unk' padding
        if len(tokens) < 20:
            padded, length = ["sos/OTHER", *tokens, "eos/OTHER"], len(tokens) + 2
            padded += ["unk/OTHER"] * (22 - length)
        else:
            padded, length = ["sos/OTHER", *tokens[:20], "eos/OTHER"], 22
        pairs = [words[t] for t in padded]
        encoded.append((np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), length))
    order = sorted(range(32), key=lambda i: -encoded[i][2])  # the original's batches: longest caption first
    word_embs = torch.from_numpy(np.stack([encoded[i][0] for i in order]))
    pos = torch.from_numpy(np.stack([encoded[i][1] for i in order]))
    caption_lengths = torch.tensor([encoded[i][2] for i in order])
    # 32 normalised motions of 4..196 frames (ties included), zero-padded to 196
    lengths = torch.tensor([196, 4, 5, 40, 40, 40, 100, 101, 103, *rng.integers(4, 197, size=23).tolist()])
    frames = torch.from_numpy(rng.normal(size=(int(lengths.sum()), s["dim_pose"])).astype(np.float32))
    motions = torch.zeros(32, 196, s["dim_pose"])
    for i, part in enumerate(frames.split(lengths.tolist())):
        motions[i, : len(part)] = part
    text_emb, motion_emb = evaluator.get_co_embeddings(word_embs, pos, caption_lengths, motions, lengths)
    motion_only = evaluator.get_motion_embeddings(motions, lengths)

    # metrics on fixed embeddings: two batches of 32 pairs, a second set for FID, mm groups
    a = rng.normal(size=(64, 8)).astype(np.float32)
    b = (a + 0.5 * rng.normal(size=(64, 8))).astype(np.float32)
    c = (rng.normal(size=(64, 8)) * 1.3 + 0.2).astype(np.float32)
    mm = rng.normal(size=(6, 30, 8)).astype(np.float32)
    total, hits = 0, 0
    for lo in (0, 32):
        d = metrics.euclidean_distance_matrix(a[lo : lo + 32], b[lo : lo + 32])
        total += d.trace()
        hits += metrics.calculate_top_k(np.argsort(d, axis=1), top_k=3).sum(axis=0)
    mu_b, cov_b = metrics.calculate_activation_statistics(b)
    mu_c, cov_c = metrics.calculate_activation_statistics(c)
    np.random.seed(3)
    div = metrics.calculate_diversity(c, 40)
    np.random.seed(4)
    multi = metrics.calculate_multimodality(mm, 10)
    values = rng.normal(size=(5, 3))
    eval_t2m = (root / "eval/eval_t2m.py").read_text()
    namespace: dict = {"np": np}
    start = eval_t2m.index("def get_metric_statistics")
    exec(eval_t2m[start : eval_t2m.index("\n\n", start)], namespace)  # the original's interval, run on its own
    mean, conf = namespace["get_metric_statistics"](values, 5)

    fixtures = {
        "commit": commit,
        "sizes": dict(s),
        "weights": {
            "movement_encoder": movement.state_dict(),
            "text_encoder": text.state_dict(),
            "motion_encoder": motion.state_dict(),
        },
        "vocabulary": {"vectors": torch.from_numpy(vectors), "words": WORDS},
        "captions": [captions[i] for i in order],
        "word_embs": word_embs,
        "pos": pos,
        "caption_lengths": caption_lengths,
        "frames": frames,  # the motions' valid frames, one after another
        "lengths": lengths,
        "text_emb": text_emb,
        "motion_emb": motion_emb,
        "motion_only": motion_only,
        "metrics": {
            "a": torch.from_numpy(a),
            "b": torch.from_numpy(b),
            "c": torch.from_numpy(c),
            "mm": torch.from_numpy(mm),
            "distances": torch.from_numpy(metrics.euclidean_distance_matrix(a[:32], b[:32])),
            "matching": float(total / 64),
            "r_precision": torch.from_numpy(hits / 64),
            "fid": float(metrics.calculate_frechet_distance(mu_b, cov_b, mu_c, cov_c)),
            "diversity": float(div),
            "diversity_seed": 3,
            "multimodality": float(multi),
            "multimodality_seed": 4,
            "values": torch.from_numpy(values),
            "mean": torch.from_numpy(mean),
            "conf": torch.from_numpy(conf),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fixtures, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) from commit {commit}")


if __name__ == "__main__":
    main()
