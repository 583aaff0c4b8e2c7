"""A self-contained HTML report of one generated motion: the motion and its attention on one frame cursor,
the capture by layer and step, word grounding and a repetition estimate, static figures and the settings.
The page carries plotly.js inline, so it opens without network.

    with capture(head_mean=True) as cache:
        result = pipe.generate(prompt, seconds=4)
    write_report("report.html", pipe, result, cache)
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .analysis import full_resolution_self_map

if TYPE_CHECKING:
    from .capture import AttentionCache, KeyCache
    from .pipeline import Generation, MotionCLRPipeline

__all__ = ["REPORT_MAP_BYTES", "report_analyses", "report_steps", "write_report"]

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1320px;
       color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.prompt { font-size: 18px; color: #444; margin: 0 0 14px; }
table { border-collapse: collapse; font-size: 13px; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee;
       text-align: left; } th { color: #666; font-weight: 600; }
img { max-width: 100%; } .note { color: #666; font-size: 13px; }
"""


# The bytes of attention maps a report embeds at most (as float32 in base64): a report stays a few tens of MB.
REPORT_MAP_BYTES = 10 * 2**20


def report_steps(cache: AttentionCache, frames: int, words: int, max_bytes: int = REPORT_MAP_BYTES) -> list[int | None]:
    """The captured steps a report's explorers show: as many as fit in `max_bytes`, evenly spaced, with the last."""
    layers = {kind: cache.layers(kind) for kind in ("self", "cross")}
    steps = sorted({s for kind in layers for layer in layers[kind] for s in cache.steps(kind, layer)}, key=_step_key)
    per_step = 0
    for kind, chosen in layers.items():
        for layer in chosen:
            rows = cache[kind, layer, cache.steps(kind, layer)[-1]].shape[-2]
            scale = max(1, (cache.plan.resolutions[0] if cache.plan else rows) // rows)
            kept = min(rows, -(-frames // scale))
            per_step += kept * (kept if kind == "self" else words)
    fit = max(1, int(max_bytes // max(1, per_step * 4 * 4 // 3)))
    if fit >= len(steps):
        return steps
    picks = {round(i * (len(steps) - 1) / max(1, fit - 1)) for i in range(fit)} if fit > 1 else {len(steps) - 1}
    return [steps[i] for i in sorted(picks)]


def _step_key(step: int | None) -> int:
    return -1 if step is None else step


def report_analyses(
    pipe: MotionCLRPipeline, result: Generation, cache: AttentionCache, row: int = 0, keys: KeyCache | None = None
) -> dict:
    """What the report states about prompt `row`: each word's activation frames (the paper's 80% rule) and
    peak, and repetitions: the library's recipe on the self-attention keys (where `keys` were captured), the same
    recipe on the motion's features with no model, and the paper's Appendix G on the maps."""
    from .analysis import activation_mask, count_from_attention, count_from_features, count_paper, word_curves

    T = result.lengths[row]
    tokenized = pipe.tokenizer.tokenize_prompt(result.prompts[row])
    curves = word_curves(cache, tokenized, row=row, frames=T, fps=result.fps)
    words = []
    for word, curve in zip(curves.words, curves.curves, strict=True):
        mask = activation_mask(curve)
        on = np.flatnonzero(mask)
        words.append(
            {
                "word": word,
                "peak_frame": int(curve.argmax()),
                "active_frames": [int(on.min()), int(on.max()) + 1] if len(on) else None,
                "active_share": round(float(mask.mean()), 3),
            }
        )
    self_map = full_resolution_self_map(cache, row, T)
    counts: dict[str, Any] = {}
    if keys is not None and len(keys) and T >= 10:
        ours = count_from_attention(keys, row=row, frames=T)
        counts["repetitions"] = ours.count if ours.found else "none found"
        counts["period_frames"] = round(ours.period, 1) if ours.found else None
        counts["read_from"] = f"self-attention keys, layers {', '.join(map(str, ours.layers))}"
    else:
        counts["repetitions"] = "keys not captured" if T >= 10 else "too short to count"
    if T >= 10:
        model_free = count_from_features(result.features[row][:T], pipe.mean, pipe.std)
        counts["baseline_no_model"] = model_free.count if model_free.found else "none found"
    counts["paper_appendix_g"] = count_paper(self_map).rounded if T >= 8 else None
    return {"words": words, "repetitions": counts, "curves": curves, "self_map": self_map}


def _capture_summary(kept: Mapping[str, Any], steps: Any) -> str:
    """What the report's capture kept, in words: "head means of every step" or "head means of 95 of 100 steps"."""
    what = "head means" if kept.get("head_mean") else "every head"
    chosen = kept.get("steps", "all")
    if chosen == "all" or not isinstance(chosen, list):
        return f"{what} of every step"
    return f"{what} of {len(chosen)} of {steps} steps (evenly spaced, the last always)"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(
    path: str | Path,
    pipe: MotionCLRPipeline,
    result: Generation,
    cache: AttentionCache,
    row: int = 0,
    record: Mapping[str, Any] | None = None,
    keys: KeyCache | None = None,
    max_bytes: int = REPORT_MAP_BYTES,
) -> Path:
    """Write the report of prompt `row` of a generation whose attention `cache` captured (self and cross,
    any layers and steps; head means are enough). With the run's self-attention `keys` (`capture_keys`), the
    report counts repetitions by the library's recipe. The explorers show the captured steps whose maps fit in
    `max_bytes` (evenly spaced, the last always; every step when they fit); the analyses read every step."""
    from .viz import keyframe_strip
    from .viz.interactive import attention_explorer, capture_explorer

    if not 0 <= row < len(result):
        raise ValueError(f"row {row} is out of range for a generation of {len(result)} prompts")
    kinds = {k[0] for k in cache}
    missing = {"self", "cross"} - kinds
    if missing:
        raise ValueError(f"the report needs self- and cross-attention captured; the capture lacks {sorted(missing)}")
    prompt = result.prompts[row]
    joints = result.joints[row]
    analyses = report_analyses(pipe, result, cache, row, keys)
    tokenized = pipe.tokenizer.tokenize_prompt(prompt)
    explorer = attention_explorer(joints, analyses["curves"], analyses["self_map"], fps=result.fps, title=prompt)
    shown = report_steps(cache, result.lengths[row], len(tokenized.words), max_bytes)
    cross = capture_explorer(
        cache,
        "cross",
        prompt=row,
        words=[w.text for w in tokenized.words],
        token_columns=[w.tokens for w in tokenized.words],
        frames=result.lengths[row],
        title="cross-attention",
        steps=shown,
    )
    self_view = capture_explorer(
        cache, "self", prompt=row, frames=result.lengths[row], title="self-attention", steps=shown
    )
    parts = [
        explorer.to_html(full_html=False, include_plotlyjs=True, auto_play=False),
        cross.to_html(full_html=False, include_plotlyjs=False),
        self_view.to_html(full_html=False, include_plotlyjs=False),
    ]
    strip = _png(keyframe_strip(joints, n=8, title=prompt))
    curves_png = _png(analyses["curves"].plot(title="cross-attention per word"))
    settings = {"prompt": prompt, "frames": result.lengths[row], "fps": result.fps, **result.settings}
    if record:  # the run's other entries, once each (this prompt and its frames stand for prompts and lengths)
        for key, value in record.items():
            if key in settings or key in ("prompts", "lengths"):
                continue
            if key == "capture" and isinstance(value, Mapping):
                value = _capture_summary(value, result.settings.get("steps"))
            settings[key] = value
    reps = analyses["repetitions"]
    setting_rows = [{"setting": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in settings.items()]
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>motionclr_lens: {html.escape(prompt)}</title>
<style>{STYLE}</style></head><body>
<h1>motionclr_lens report</h1><p class="prompt">“{html.escape(prompt)}”</p>
<h2>Motion and attention</h2>
<p class="note">Play, pause or drag the slider: the skeleton, the word x frame map, the per-word curves and the
frame x frame map (mean of the full-resolution self-attention layers over steps and heads) share one cursor.</p>
{parts[0]}
<h2>Word grounding</h2>
<p class="note">Frames where each word's cross-attention exceeds 80% of its maximum (the paper's rule),
and its peak.</p>
{_table(analyses["words"], ["word", "peak_frame", "active_frames", "active_share"])}
<img src="{curves_png}" alt="per-word curves">
<h2>Repetitions read off self-attention</h2>
{_table([reps], list(reps))}
<p class="note">repetitions: the library's recipe (the period of the similarity of the self-attention keys, then
the peaks of each row a period apart; "none found" when nothing repeats); baseline_no_model: the same recipe on
the motion's own features, with no model (what attention must beat); paper_appendix_g: the paper's peak count
per row of the maps, rounded.</p>
<h2>Keyframes</h2><img src="{strip}" alt="keyframes">
<h2>Captured attention by layer and denoising step</h2>
{parts[1]}
{parts[2]}
<h2>Settings</h2>
{_table(setting_rows, ["setting", "value"])}
</body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
