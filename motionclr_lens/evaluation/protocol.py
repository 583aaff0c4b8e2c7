"""The evaluation protocol of text-to-motion papers, as MotionCLR's `eval/eval_t2m.py` runs it, over any pipeline
and any evaluator with the `Evaluator` interface.

Each repeat: the items are shuffled and read in batches of 32 (a short last batch dropped); each item gives one of
its captions (drawn) and a crop of its motion (a multiple of 4 frames; one time in three, 4 frames shorter); the
pipeline generates each caption at the crop's length (at least 40 frames, at most 196). Matching score (MM-Dist)
and R-precision come from each batch's text and motion embeddings, for the real crops and for the generated
motions; FID compares the generated motions with a second pass over the real ones (new shuffle, new crops);
diversity draws 300 pairs of each; multimodality generates `mm_repeats` motions for `mm_texts` captions.
The table gives each metric's mean over the repeats and its 95 % half-width (1.96 x population std / sqrt(n)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data import MotionText
from . import metrics

__all__ = ["METRICS", "EvaluationResult", "crop_motion", "evaluate", "score_motions", "score_sweep"]

METRICS = ("R-precision top 1", "R-precision top 2", "R-precision top 3", "FID", "MM-Dist", "Diversity",
           "MultiModality")  # fmt: skip
SOURCES = ("ground truth", "generated")


@dataclass
class EvaluationResult:
    """Per repeat, each metric's value for the real motions and the generated ones."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def add(self, metric: str, source: str, value: float) -> None:
        self.values.setdefault(metric, {}).setdefault(source, []).append(float(value))

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """metric -> source -> (mean, 95 % half-width) over the repeats."""
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for metric, by_source in self.values.items():
            for source, values in by_source.items():
                mean, half = metrics.interval(values)
                out.setdefault(metric, {})[source] = (float(mean), float(half))
        return out

    def to_markdown(self) -> str:
        summary = self.summary()
        rows = ["| source | " + " | ".join(m for m in METRICS if m in summary) + " |"]
        rows.append("|---" * (1 + sum(m in summary for m in METRICS)) + "|")
        for source in SOURCES:
            cells = [
                f"{summary[m][source][0]:.3f} ± {summary[m][source][1]:.3f}" if source in summary[m] else "-"
                for m in METRICS
                if m in summary
            ]
            rows.append(f"| {source} | " + " | ".join(cells) + " |")
        return "\n".join(rows)


def crop_motion(features: np.ndarray, rng: np.random.Generator, unit: int = 4) -> np.ndarray:
    """The original's crop: a multiple of `unit` frames (one time in three, one unit shorter) at a random start."""
    n = len(features)
    length = (n // unit - (1 if rng.integers(3) == 2 else 0)) * unit
    length = max(length, unit)
    start = int(rng.integers(0, n - length + 1))
    return features[start : start + length]


Draw = tuple[int, int, np.ndarray]  # item, caption index, crop


def _pairs(items: Sequence[MotionText], order: np.ndarray, rng: np.random.Generator) -> list[Draw]:
    """(item, caption index, crop) in `order`."""
    return [(int(i), int(rng.integers(len(items[i].captions))), crop_motion(items[i].features, rng)) for i in order]


def evaluate(
    pipe: Any,
    items: Sequence[MotionText],
    evaluator: Any,
    repeats: int = 3,
    edits: Sequence[Any] = (),
    steps: int | None = None,
    guidance_scale: float | None = None,
    batch_size: int = 32,
    diversity_times: int = 300,
    mm_texts: int = 100,
    mm_repeats: int = 30,
    mm_times: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Score `pipe`'s motions for `items`' captions against the items' own motions with `evaluator` (an
    `Evaluator`, or anything with its `pair_embeddings` and `motion_embeddings_of`). `edits` apply to every
    generation; `mm_texts=0` skips multimodality."""
    if repeats < 1 or batch_size < 2:
        raise ValueError(f"repeats must be >= 1 and batch_size >= 2, got {repeats} and {batch_size}")
    usable = len(items) // batch_size * batch_size
    if usable <= diversity_times:
        raise ValueError(
            f"{len(items)} items give {usable} motions in full batches of {batch_size}: diversity needs more than "
            f"{diversity_times} (lower diversity_times or give more items)"
        )
    options: dict[str, Any] = {"edits": list(edits)}
    if steps is not None:
        options["steps"] = steps
    if guidance_scale is not None:
        options["guidance_scale"] = guidance_scale
    settings = {"repeats": repeats, "batch_size": batch_size, "items": len(items), "seed": seed, **options}
    result = EvaluationResult(settings={**settings, "edits": [repr(e) for e in edits]})
    say = progress or (lambda message: None)

    def generated(texts: list[str], lengths: list[int], run_seed: int) -> list[np.ndarray]:
        lengths = [min(max(n // 4 * 4, 40), 196) for n in lengths]
        out = pipe.generate(texts, lengths=lengths, generator=torch.Generator().manual_seed(run_seed), **options)
        return [np.asarray(f) for f in out.features]

    def motion_embeddings(draws: list[Draw]) -> np.ndarray:
        crops = [m for _, _, m in draws]
        return np.concatenate(
            [evaluator.motion_embeddings_of(crops[b : b + batch_size]) for b in range(0, usable, batch_size)]
        )

    for r in range(repeats):
        rng = np.random.default_rng([seed, r])
        draws = _pairs(items, rng.permutation(len(items))[:usable], rng)
        batches: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {source: [] for source in SOURCES}
        for b in range(0, usable, batch_size):
            say(f"repeat {r + 1}/{repeats}: batch {b // batch_size + 1}/{usable // batch_size}")
            chunk = draws[b : b + batch_size]
            captions = [(items[i], c) for i, c, _ in chunk]
            real = [crop for _, _, crop in chunk]
            texts = [item.captions[c] for item, c in captions]
            fake = generated(texts, [len(m) for m in real], seed * 1_000_003 + r * 10_007 + b)
            batches["ground truth"].append(evaluator.pair_embeddings(captions, real))
            batches["generated"].append(evaluator.pair_embeddings(captions, fake))
        activations = {}
        for source in SOURCES:
            matching, r_precision, activations[source] = metrics.matching_and_r_precision(batches[source])
            result.add("MM-Dist", source, matching)
            for k in range(3):
                result.add(f"R-precision top {k + 1}", source, r_precision[k])
        # FID against a second pass over the real motions: a new shuffle, new captions and crops
        real_mu, real_cov = metrics.activation_statistics(
            motion_embeddings(_pairs(items, rng.permutation(len(items))[:usable], rng))
        )
        for source in SOURCES:
            mu, cov = metrics.activation_statistics(activations[source])
            result.add("FID", source, metrics.frechet_distance(real_mu, real_cov, mu, cov))
            result.add("Diversity", source, metrics.diversity(activations[source], diversity_times, rng))
        if mm_texts:
            chosen = rng.choice(usable, min(mm_texts, usable), replace=False)
            groups = []
            for k, index in enumerate(sorted(chosen.tolist())):
                i, c, crop = draws[index]
                say(f"repeat {r + 1}/{repeats}: multimodality {k + 1}/{len(chosen)}")
                run_seed = seed * 7_919 + r * 104_729 + k
                motions = generated([items[i].captions[c]] * mm_repeats, [len(crop)] * mm_repeats, run_seed)
                groups.append(evaluator.motion_embeddings_of(motions))
            result.add("MultiModality", "generated", metrics.multimodality(np.stack(groups), mm_times, rng))
    return result


def score_motions(
    items: Sequence[MotionText],
    motions: Sequence[np.ndarray],
    evaluator: Any,
    reference: Sequence[np.ndarray],
    batch_size: int = 32,
    diversity_times: int = 300,
    seed: int = 0,
) -> dict[str, float]:
    """Scores of motions made already (a sweep store's, say): `motions[i]` was made for `items[i]`'s first caption.
    R-precision and MM-Dist in batches of `batch_size` in the given order (a short last batch dropped), FID against
    the `reference` motions, diversity from `diversity_times` pairs (fewer when there are not enough motions)."""
    if len(items) != len(motions):
        raise ValueError(f"{len(items)} items for {len(motions)} motions: give one item per motion")
    usable = len(motions) // batch_size * batch_size
    if usable == 0 or len(reference) < 2:
        raise ValueError(
            f"scoring needs at least one full batch of {batch_size} motions (got {len(motions)}) and two reference "
            f"motions (got {len(reference)})"
        )
    rng = np.random.default_rng(seed)
    batches = [
        evaluator.pair_embeddings([(item, 0) for item in items[b : b + batch_size]], list(motions[b : b + batch_size]))
        for b in range(0, usable, batch_size)
    ]
    matching, r_precision, activations = metrics.matching_and_r_precision(batches)
    reference_embeddings = np.concatenate(
        [
            evaluator.motion_embeddings_of(list(reference[b : b + batch_size]))
            for b in range(0, len(reference), batch_size)
        ]
    )
    fid = metrics.frechet_distance(
        *metrics.activation_statistics(reference_embeddings), *metrics.activation_statistics(activations)
    )
    times = min(diversity_times, usable - 1)
    scores = {f"R-precision top {k + 1}": float(r_precision[k]) for k in range(3)}
    scores |= {"FID": fid, "MM-Dist": matching, "Diversity": metrics.diversity(activations, times, rng)}
    return scores


def score_sweep(
    path: str | Any, evaluator: Any, reference: Sequence[np.ndarray], tokens: Callable[[str], list[str]], **options: Any
) -> dict[int, dict[str, float]]:
    """Score a sweep store's motions after the fact, one table per edit list: each done job's motion against its
    prompt (`tokens` turns a prompt into `word/POS` tokens, e.g. `world.world_tokens` or `words.tag_caption`), in
    job order. Returns {edit list index: scores}. Groups of prompts (several rows per job) are scored row by row."""
    from ..sweep import open_sweep

    store = open_sweep(path)
    out = {}
    for edit in range(len(store.edits)):
        items, motions = [], []
        for job in store.done():
            if job.edit != edit:
                continue
            prompt = store.prompts[job.prompt]
            rows = [prompt] if isinstance(prompt, str) else list(prompt)
            stored = store.features(job)
            per_row = [stored] if isinstance(prompt, str) else list(stored)
            for row, (text, motion) in enumerate(zip(rows, per_row, strict=True)):
                items.append(MotionText(f"job{job.id}_row{row}", motion, [text], [tokens(text)]))
                motions.append(motion)
        out[edit] = score_motions(items, motions, evaluator, reference, **options)
    return out
