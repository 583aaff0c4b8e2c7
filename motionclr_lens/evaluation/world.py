"""An evaluator of the motion world, so that the paper's metrics mean something offline for the embedded model.

The same three networks as the text-to-motion evaluator at smaller sizes (`WORLD_CONFIG`), reading world captions
as words (each `word/OTHER`; the five special word lists still apply), with word vectors learned instead of GloVe,
trained on the world's training motions to put a caption and its motion close in Euclidean distance: a contrastive
loss (InfoNCE over the batch, logits = -squared distance / temperature, both directions). Motions are read as the
protocol reads them (normalised with the world's feature statistics, zero-padded to 196 frames, crops of a
multiple of 4 frames). Shipped in `assets/world_evaluator` (float16).

    from motionclr_lens.evaluation.world import load_world_evaluator, world_items
    evaluator = load_world_evaluator()
    items = world_items("test", 1024)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data import MotionText
from .evaluator import Evaluator, EvaluatorConfig
from .protocol import crop_motion
from .words import WordVectorizer, caption_tokens

__all__ = [
    "WORLD_CONFIG",
    "WorldEvaluatorRecipe",
    "load_world_evaluator",
    "train_world_evaluator",
    "world_evaluator_folder",
    "world_items",
    "world_tokens",
]

logger = logging.getLogger(__name__)

WORLD_CONFIG = EvaluatorConfig(
    dim_word=64, text_hidden=128, motion_hidden=128, movement_hidden=128, movement_latent=128, embedding=128
)
SPECIAL = ("unk", "sos", "eos")


def world_evaluator_folder() -> Path:
    return Path(__file__).resolve().parents[1] / "assets" / "world_evaluator"


def world_tokens(text: str) -> list[str]:
    """A world caption as the evaluator reads it: its lower-case words, each tagged OTHER."""
    return [f"{word}/OTHER" for word in re.findall(r"[a-z]+", text.lower())]


def world_items(
    split: str, count: int, seed: int = 0, world: str = "extended", workers: int = 2, start: int = 0
) -> list[MotionText]:
    """`count` motions of a world split (from its `start`-th) with their captions and tokens (the protocol's
    items)."""
    from ..world.dataset import generate

    items = []
    for s in generate(split, count, seed=seed, start=start, workers=workers, world=world):
        texts = [c.text for c in s.captions]
        items.append(MotionText(f"{split}_{s.index:06d}", s.features, texts, [world_tokens(t) for t in texts]))
    return items


@dataclass(frozen=True)
class WorldEvaluatorRecipe:
    samples: int = 20000
    steps: int = 6000
    batch_size: int = 64
    lr: float = 1e-3
    temperature: float = 1.0
    world: str = "extended"
    seed: int = 0


def train_world_evaluator(
    out: str | Path | None = None, recipe: WorldEvaluatorRecipe | None = None, items: Sequence[MotionText] | None = None
) -> Evaluator:
    """Train the world evaluator on the world's training split (or `items`) and write it to `out` (default: the
    package's assets)."""
    from ..embedded import embedded_folder

    recipe = recipe or WorldEvaluatorRecipe()
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    if items is None:
        items = world_items("train", recipe.samples, seed=recipe.seed, world=recipe.world)
    words = sorted({t.split("/")[0] for item in items for tokens in item.tokens or [] for t in tokens} | set(SPECIAL))
    index = {w: i for i, w in enumerate(words)}
    mean = np.load(embedded_folder() / "mean.npy")
    std = np.load(embedded_folder() / "std.npy")
    table = torch.nn.Embedding(len(words), WORLD_CONFIG.dim_word)
    vectors = WordVectorizer(table.weight.detach().numpy(), words, index)
    evaluator = Evaluator(WORLD_CONFIG, mean, std, vectors)
    params = [p for m in evaluator.modules() for p in m.parameters()] + list(table.parameters())
    for m in evaluator.modules():
        m.train()
    optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, recipe.lr, total_steps=recipe.steps, pct_start=0.05)
    history = []
    for step in range(recipe.steps):
        batch = rng.choice(len(items), recipe.batch_size, replace=False)
        chosen = [(items[i], int(rng.integers(len(items[i].captions)))) for i in batch]
        motions, lengths = evaluator.prepare_motions([crop_motion(item.features, rng) for item, _ in chosen])
        padded = [caption_tokens(item.tokens[c])[0] for item, c in chosen]
        caption_lengths = torch.tensor([caption_tokens(item.tokens[c])[1] for item, c in chosen])
        ids = torch.tensor([[index.get(t.split("/")[0], index["unk"]) for t in p] for p in padded])
        special = torch.stack([torch.stack([_one_hot(t) for t in p]) for p in padded])
        by_caption = torch.argsort(caption_lengths, descending=True, stable=True)
        text = evaluator.text.summarise(
            evaluator.text.input_emb(table(ids[by_caption]) + evaluator.text.pos_emb(special[by_caption])),
            caption_lengths[by_caption],
        )
        text = text[torch.argsort(by_caption)]  # back to batch order
        by_motion = torch.argsort(lengths, descending=True, stable=True)
        motion = evaluator.motion(evaluator.movement(motions[by_motion][..., :-4]), lengths[by_motion] // 4)
        motion = motion[torch.argsort(by_motion)]
        logits = -torch.cdist(text, motion).square() / recipe.temperature
        target = torch.arange(len(batch))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == recipe.steps - 1:
            accuracy = (logits.argmax(1) == target).float().mean().item()
            history.append({"step": step, "loss": loss.item(), "batch_top1": accuracy})
            logger.info("step %d: loss %.4f, top-1 in the batch %.3f", step, history[-1]["loss"], accuracy)
    for m in evaluator.modules():
        m.eval()
    evaluator.words = WordVectorizer(table.weight.detach().numpy().copy(), words, index)
    save_world_evaluator(evaluator, out or world_evaluator_folder(), recipe, history)
    return evaluator


def _one_hot(token: str) -> torch.Tensor:
    """What `WordVectorizer` gives a world token (tagged OTHER): its special category, or OTHER."""
    return torch.from_numpy(WordVectorizer.one_hot(_special_category(token.split("/")[0]) or "OTHER")).float()


def _special_category(word: str) -> str | None:
    from .words import SPECIAL_WORDS

    return next((key for key, listed in SPECIAL_WORDS.items() if word in listed), None)


def save_world_evaluator(evaluator: Evaluator, folder: str | Path, recipe: WorldEvaluatorRecipe, history: list) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assert evaluator.words is not None
    words = list(evaluator.words.word2vec)
    tensors = {f"{name}.{k}": v.detach().to(torch.float16).contiguous()
               for name, state in evaluator.state_dict().items() for k, v in state.items()}  # fmt: skip
    tensors["words.vectors"] = torch.from_numpy(np.stack([evaluator.words.word2vec[w] for w in words])).half()
    tensors["mean"] = torch.from_numpy(evaluator.mean)
    tensors["std"] = torch.from_numpy(evaluator.std)
    save_file(tensors, str(folder / "world_evaluator.safetensors"))
    meta = {"words": words, "config": dataclasses.asdict(evaluator.config), "recipe": dataclasses.asdict(recipe),
            "history": history[-5:]}  # fmt: skip
    (folder / "world_evaluator.json").write_text(json.dumps(meta, indent=1))
    return folder


def load_world_evaluator(folder: str | Path | None = None, device: str | torch.device = "cpu") -> Evaluator:
    """The shipped world evaluator (or one written by `train_world_evaluator`)."""
    from safetensors.torch import load_file

    folder = Path(folder) if folder is not None else world_evaluator_folder()
    files = [folder / "world_evaluator.safetensors", folder / "world_evaluator.json"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"the world evaluator is incomplete: missing {', '.join(missing)}")
    meta = json.loads(files[1].read_text())
    tensors = {k: v.float() for k, v in load_file(str(files[0])).items()}
    words = list(meta["words"])
    vectors = WordVectorizer(tensors.pop("words.vectors").numpy(), words, {w: i for i, w in enumerate(words)})
    mean, std = tensors.pop("mean").numpy(), tensors.pop("std").numpy()
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        module, name = key.split(".", 1)
        state.setdefault(module, {})[name] = value
    evaluator = Evaluator(EvaluatorConfig(**meta["config"]), mean, std, vectors, device)
    evaluator.load_state_dict(state, str(files[0]))
    if not math.isfinite(float(evaluator.std.min())):
        raise ValueError(f"{files[0]}: its feature statistics are not finite")
    return evaluator
