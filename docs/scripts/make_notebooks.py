"""Write the numbered notebooks of notebooks/ from the cell lists below, outputs stripped.

    python docs/scripts/make_notebooks.py

The notebooks are the source users open; this script keeps them uniform. `tests/test_notebooks.py` runs
every one top to bottom on the embedded model.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart": [
        ("md", "# Quickstart\n\nGenerate a motion with the embedded MotionCLR, look at it, and save it."),
        (
            "code",
            "import torch\nfrom motionclr_lens import load_embedded\n\npipe = load_embedded()  # offline, about half a second",
        ),
        (
            "code",
            'result = pipe.generate("a person jumps three times, then walks forward", seconds=7,\n                       generator=torch.Generator().manual_seed(0))\njoints = result.joints[0]\njoints.shape  # (frames, 22 joints, xyz in metres, y up)',
        ),
        ("md", "The 3D player: play, pause, or drag the slider. The dotted line is the path of the pelvis."),
        (
            "code",
            "from motionclr_lens.viz.interactive import skeleton_player\n\nskeleton_player(joints, title=result.prompts[0])",
        ),
        ("md", "A keyframe strip, for papers:"),
        (
            "code",
            "from motionclr_lens.viz import keyframe_strip\n\nkeyframe_strip(joints, n=8, title=result.prompts[0]);",
        ),
        ("md", "Save the motion: `.npy` joints and features, a BVH for Blender, a GIF."),
        (
            "code",
            'import tempfile, pathlib\nfrom motionclr_lens.export import save_animation, save_bvh, save_npy\n\nout = pathlib.Path(tempfile.mkdtemp())\nsave_npy(out, joints, result.features[0])\nsave_bvh(joints, out / "motion.bvh")\nsave_animation(joints, out / "motion.gif")\nsorted(p.name for p in out.iterdir())',
        ),
    ],
    "02_attention_maps": [
        (
            "md",
            "# Attention maps\n\nCapture every self- and cross-attention map of a generation, by layer, denoising step and head.",
        ),
        (
            "code",
            'import torch\nfrom motionclr_lens import load_embedded\nfrom motionclr_lens.capture import capture\n\npipe = load_embedded()\nprompt = "a person jumps three times, then walks forward"\nwith capture(kinds=("self", "cross"), head_mean=True) as cache:\n    result = pipe.generate(prompt, seconds=7, generator=torch.Generator().manual_seed(0))\nprint(len(cache), "maps,", cache.nbytes / 2**20, "MiB; estimated", cache.estimated_bytes / 2**20, "MiB")',
        ),
        ("md", "Browse the capture: the menu picks a layer, the slider a denoising step."),
        (
            "code",
            'from motionclr_lens.viz.interactive import capture_explorer\n\ncapture_explorer(cache, "self", frames=result.lengths[0])',
        ),
        (
            "code",
            'tokenized = pipe.tokenizer.tokenize_prompt(prompt)\ncapture_explorer(cache, "cross", words=[w.text for w in tokenized.words],\n                 token_columns=[w.tokens for w in tokenized.words], frames=result.lengths[0])',
        ),
        ("md", "The motion and its maps on one frame cursor:"),
        (
            "code",
            "from motionclr_lens.analysis import full_resolution_self_map, word_curves\nfrom motionclr_lens.viz.interactive import attention_explorer\n\ncurves = word_curves(cache, tokenized, frames=result.lengths[0])\nself_map = full_resolution_self_map(cache, 0, result.lengths[0])\nattention_explorer(result.joints[0], curves, self_map, title=prompt)",
        ),
        ("md", "Static versions for a paper (`save_figure` writes PDF, SVG and PNG):"),
        (
            "code",
            'from motionclr_lens.viz import attention_map\n\nattention_map(self_map, "self", title="self-attention");\nattention_map(curves.curves, "cross", words=curves.words, title="word x frame");',
        ),
    ],
    "03_grounding": [
        (
            "md",
            '# Word-to-frame grounding\n\nWhat you will see: a motion of the extended world whose caption names its actions out of order ("..., but\nfirst ..."), the cross-attention each word of the caption receives over time, the frames each word really\ncovers, and how well four readings of attention recover them beside the cheapest explanation: the word-order\nprior, which knows only that the k-th of n action phrases usually covers the k-th n-th of the clip.\n\nThe world knows which frames each word of a caption covers, so every reading can be scored: temporal IoU (the\noverlap of the frames a reading activates with the true frames, over their union) and pointing (whether the\ncurve\'s peak falls inside the true frames).',
        ),
        (
            "code",
            'import numpy as np\nimport pandas as pd\nimport torch\n\nfrom motionclr_lens import load_embedded\nfrom motionclr_lens.analysis import activation_mask, align_phrases, temporal_iou, word_curves, word_shares\nfrom motionclr_lens.analysis.baselines import word_order_prior\nfrom motionclr_lens.capture import capture\nfrom motionclr_lens.world import make_sample\n\npipe = load_embedded()\ndrawn = (make_sample(0, "test", i, world="extended") for i in range(60))\nsample = next(s for s in drawn if len(s.segments) == 2 and s.captions[0].order_reversed)\ncaption = sample.captions[0]\nprint(caption.text)\npd.DataFrame([(g.kind, g.start, g.end) for g in sample.segments], columns=["action (time order)", "first frame", "end frame"])',
        ),
        (
            "md",
            "`probe` noises the world's own motion to timestep t = 300 (of 1000: noisy enough that the model must use the\ncaption, clean enough that the motion still shows) and runs the denoiser once, with classifier-free guidance\nat the model's own scale (the conditional and unconditional passes mixed); `capture` keeps the conditional\nbranch's cross-attention of every layer, averaged over heads. A word's curve is the attention every frame pays\nto the word's tokens, averaged over the layers. Words the model never saw in training give a\nwarning that names them; it reads them as noise.",
        ),
        (
            "code",
            'with capture(kinds=("cross",), head_mean=True) as cache:\n    pipe.probe(sample.features, caption.text, generator=torch.Generator().manual_seed(0))\ncurves = word_curves(cache, pipe.tokenizer.tokenize_prompt(caption.text), frames=sample.frames)\ncurves.plot(title=caption.text, truth=caption.word_frames);',
        ),
        (
            "md",
            "Four readings of the same curves, and the prior:\n\n- **attention**: a word's frames are those above 80 % of its curve's maximum (the paper's rule);\n- **word shares**: each frame's attention divided among the caption's action words first, then the same rule;\n- **alignment**: one contiguous span per action phrase, in whatever order and with whatever boundaries give\n  each phrase the most of its words' share (`align_phrases`; the caption's word order plays no part);\n- **word-order prior**: the k-th phrase in the text gets the k-th n-th of the clip (`word_order_prior`).",
        ),
        (
            "code",
            'groups = caption.word_segments  # which action phrase each word belongs to (None: no frames)\nreadings = {\n    "attention": curves.curves,\n    "word shares": word_shares(curves.curves, groups),\n    "alignment": align_phrases(curves.curves, groups),\n    "word-order prior": word_order_prior(groups, sample.frames),\n}\nrows = []\nfor i, (word, truth) in enumerate(zip(caption.words, caption.word_frames)):\n    if truth is None:\n        continue  # function words and the subject refer to no frames\n    row = {"word": word, "true frames": f"{truth[0]}-{truth[1]}"}\n    for name, c in readings.items():\n        row[f"IoU: {name}"] = round(temporal_iou(activation_mask(c[i], 0.8), *truth), 2)\n    rows.append(row)\ntable = pd.DataFrame(rows)\ntable',
        ),
        ("code", 'table.drop(columns=["word", "true frames"]).mean().round(3)'),
        (
            "md",
            "One motion proves little. Over 30 held-out motions of the extended world (a third of those with several\nactions named out of time order), the mean IoU of attention (above 60 % of each curve's maximum: the reading chosen on validation\nin docs/analysis.md) and of the word-order prior, with 95 % bootstrap intervals over motions:",
        ),
        (
            "code",
            'from motionclr_lens.analysis import score_grounding\nfrom motionclr_lens.analysis.baselines import bootstrap_interval\n\nscores = {"attention": [], "word-order prior": []}\nout_of_order = []\nfor i in range(30):\n    s = make_sample(0, "test", 1000 + i, world="extended")\n    c = s.captions[0]\n    if len(s.segments) < 2 or [w.text for w in pipe.tokenizer.tokenize_prompt(c.text).words] != c.words:\n        continue\n    with capture(kinds=("cross",), head_mean=True) as cache:\n        pipe.probe(s.features, c.text, generator=torch.Generator().manual_seed(i))\n    attention = word_curves(cache, pipe.tokenizer.tokenize_prompt(c.text), frames=s.frames).curves\n    readings_i = {"attention": (attention, 0.6), "word-order prior": (word_order_prior(c.word_segments, s.frames), 0.8)}\n    for name, (curves_i, threshold) in readings_i.items():\n        rows_i = score_grounding({name: curves_i}, c.words, c.word_frames, c.word_segments, threshold)\n        scores[name].append(np.mean([r["iou"] for r in rows_i if r["kind"] == "word"]))\n    out_of_order.append(c.order_reversed)\nout_of_order = np.array(out_of_order)\nsummary = []\nfor name, values in scores.items():\n    values = np.array(values)\n    for subset, keep in (("in time order", ~out_of_order), ("out of time order", out_of_order)):\n        mean, low, high = bootstrap_interval(values[keep])\n        summary.append({"reading": name, "captions": subset, "motions": int(keep.sum()), "IoU": round(mean, 3),\n                        "95 % interval": f"{low:.3f} - {high:.3f}"})\npd.DataFrame(summary)',
        ),
        (
            "md",
            "On a caption that names its actions in time order the prior is hard to beat; on one like this, which names\nthem out of order, it points at the wrong half of the clip. docs/analysis.md scores every reading on hundreds\nof held-out motions of both kinds, with 95 % intervals, beside a control: the same caption probed on another\nmotion (if the curves followed only the words, that would score as well).\n\nWhat to try next: a caption in time order (`not s.captions[0].order_reversed`); `word_curves(..., layers=[1, 3])`\nfor the early layers alone; the same probe at `timestep=100` or `600`; `curves.plot()` on a motion you\ngenerated yourself.",
        ),
    ],
    "04_counting": [
        (
            "md",
            "# Counting repetitions from self-attention\n\nWhat you will see: a world motion of a few jumps, whose true count is known, probed by the embedded model; the\nframe-by-frame similarity the count is read from; the count beside a baseline that uses no model at all.\n\nSelf-attention compares each frame's query with every frame's key, so frames whose keys are alike are frames the\nlayer treats alike. In a repetitive motion, every repetition looks like the others: the similarity of the keys\nis a grid of blocks, one per repetition. The library's one recipe (`count_from_attention`) reads the period off\nthat grid and counts the peaks along each row a period apart; where nothing repeats it says so (`count` is None)\ninstead of answering 1.",
        ),
        (
            "code",
            'import torch\n\nfrom motionclr_lens import load_embedded\nfrom motionclr_lens.analysis import count_from_attention, count_from_features\nfrom motionclr_lens.analysis.counting import COUNT_TIMESTEP\nfrom motionclr_lens.capture import capture_keys\nfrom motionclr_lens.world import make_sample\n\npipe = load_embedded()\ndrawn = (make_sample(0, "test", i) for i in range(400))\nsample = next(s for s in drawn if len(s.segments) == 1 and s.segments[0].kind == "jump" and s.segments[0].count > 1)\nseg = sample.segments[0]\nprint(f"caption: {sample.captions[0].text!r}; true count: {seg.count}; {sample.frames} frames")',
        ),
        (
            "md",
            "`probe` noises the motion to a timestep and runs the model once under the caption, so the hooks see the\nattention it pays to a motion it did not make. Counting reads the motion, so it probes at a low noise level\n(`COUNT_TIMESTEP`, chosen on the world's validation split: at t = 300 the keys see too little of the motion);\nthe generator seeds the noise, so the same call gives the same count.",
        ),
        (
            "code",
            'with capture_keys() as keys:\n    pipe.probe(sample.features, sample.captions[0].text, timestep=COUNT_TIMESTEP,\n               generator=torch.Generator().manual_seed(0))\nours = count_from_attention(keys, frames=sample.frames)\nbaseline = count_from_features(sample.features, pipe.mean, pipe.std)\nprint(f"true {seg.count} | attention: {ours.describe()} (layers {list(ours.layers)}) | no model: {baseline.describe()}")',
        ),
        (
            "md",
            "The map the count is read from (left: the similarity of the decoder's finest self-attention keys, the\ncounted window boxed) and its diagonal profile (right: how alike frames a given lag apart are; the lines mark\nthe period and its multiples).",
        ),
        ("code", "ours.plot(truth=seg.count, title=sample.captions[0].text);"),
        (
            "md",
            'Over 30 held-out single-action motions with a stated count of two or more (extended world), the recipe on\nattention beside the same recipe on the features with no model: exact rate, mean absolute error (MAE) and off\nby at most one (OBO), with 95 % bootstrap intervals over motions; "none found" counts as 1.',
        ),
        (
            "code",
            'import numpy as np\nimport pandas as pd\n\nfrom motionclr_lens.analysis import COUNTABLE\nfrom motionclr_lens.analysis.baselines import bootstrap_interval\n\ntruth, said = [], {"attention": [], "no model": []}\nindex = 2000\nwhile len(truth) < 30:\n    s = make_sample(0, "test", index, world="extended")\n    index += 1\n    g = s.segments[0]\n    if len(s.segments) != 1 or g.kind not in COUNTABLE or (g.count or 0) < 2:\n        continue\n    with capture_keys() as keys:\n        pipe.probe(s.features, s.captions[0].text, timestep=COUNT_TIMESTEP, generator=torch.Generator().manual_seed(index))\n    truth.append(g.count)\n    said["attention"].append(count_from_attention(keys, frames=s.frames).count or 1)\n    said["no model"].append(count_from_features(s.features, pipe.mean, pipe.std).count or 1)\ntruth = np.array(truth)\nrows = []\nfor name, counts in said.items():\n    error = np.abs(np.array(counts) - truth)\n    row = {"method": name}\n    for metric, values in (("exact", error == 0), ("MAE", error), ("OBO", error <= 1)):\n        mean, low, high = bootstrap_interval(values.astype(float))\n        row[metric] = f"{mean:.2f} [{low:.2f}, {high:.2f}]"\n    rows.append(row)\npd.DataFrame(rows)',
        ),
        (
            "md",
            "The model-free baseline runs the same recipe on the motion's own features. On 600 of the world's test motions\nattention counts a little better (0.934 against 0.916 exact; paired difference +0.018, 95 % interval 0 to\n+0.040; docs/analysis.md), and the features lead only on the fastest periods, under 10 frames. Thirty motions,\nas here, are too few to tell the two apart. The paper's Appendix G (peaks per row of the softmax maps) is kept for\ncomparison as `count_paper`; on this model it is near zero everywhere.\n\nFrom the joints, the repetition counter the embedded model is judged with:",
        ),
        (
            "code",
            "from motionclr_lens.analysis import count_repetitions, joints_of\n\ncount_repetitions(joints_of(sample.features), seg.kind, seg.start, seg.end).count",
        ),
        (
            "md",
            "What to try next: a motion of one action without a count (`count` should be None); the same probe at\n`timestep=300` (the grounding default) to see the count degrade; `count_from_attention(keys, layers=[14, 15, 16, 17])`\nto watch coarser layers join only where they can resolve the period.",
        ),
    ],
    "05_editing_gallery": [
        (
            "md",
            "# Every edit of the paper\n\nEdits are values passed to `generate(..., edits=[...])`; they compose in one run.",
        ),
        (
            "code",
            "import torch\nfrom motionclr_lens import load_embedded\nfrom motionclr_lens.edits import Erase, ExampleBased, Ground, Reweight, Replace, StyleTransfer, TimeShift\nfrom motionclr_lens.viz import keyframe_strip\n\npipe = load_embedded()\n\ndef show(prompts, edits=(), row=-1, title=None, seconds=4):\n    out = pipe.generate(prompts, seconds=seconds, edits=list(edits), generator=torch.Generator().manual_seed(1))\n    keyframe_strip(out.joints[row], n=8, title=title or out.prompts[row])\n    return out",
        ),
        ("md", "**(De-)emphasis**: add alpha to a word's cross-attention."),
        (
            "code",
            'p = "a person jumps and then walks forward"\nshow(p, title="plain")\nshow(p, [Reweight(0.5, word="jumps")], title="jumps emphasised")\nshow(p, [Reweight(-0.5, word="jumps")], title="jumps de-emphasised");',
        ),
        ("md", "**Erasing** a word inside a time window:"),
        (
            "code",
            'show(p, [Erase(word="jumps", factor=0.0, seconds=(0.0, 2.0))], title="jumps erased in the first 2 s");',
        ),
        ("md", "**In-place replacement**: row 1 keeps row 0's self-attention (its timing) with another verb."),
        (
            "code",
            'show(["a person jumps in place", "a person squats in place"], [Replace(source=0, target=1, word="squats")], row=1,\n     title="squats, in the timing of the jumps");',
        ),
        ("md", "**Sequence shifting**: row 1 is row 0's motion rolled in time."),
        (
            "code",
            'show(["a person waves the right hand, then walks forward"] * 2, [TimeShift(source=0, target=1, ratio=0.5)], row=1,\n     title="shifted by half its length");',
        ),
        ("md", "**Example-based generation**: diverse motions sharing the example's structure."),
        (
            "code",
            'out = show(["a person jumps three times"] * 3, [ExampleBased(source=0, chunk=8)], row=2, title="an example-based variant")',
        ),
        ("md", "**Style transfer**: the content row takes the style row's self-attention queries."),
        (
            "code",
            'show(["a person walks forward slowly", "a person runs forward"], [StyleTransfer(style=0, content=1)], row=1,\n     title="running, in the style of a slow walk");',
        ),
        ("md", "**Grounded generation**: a word emphasised inside a window, weakened outside."),
        (
            "code",
            'show("a person jumps", [Ground(word="jumps", seconds=(2.0, 4.0))], title="jumps grounded to 2-4 s");',
        ),
        (
            "md",
            '## How strong an edit is, measured\n\nAn edit curve runs the evaluation protocol (the text-to-motion metrics, read by the world evaluator\nshipped with the package) at each strength of an edit, and measures the attention the model put on the edited\nword. Here `Reweight` on "jumps" from -0.5 to +0.5, on 64 world test motions whose caption holds the word (one\nrepeat: a sketch; docs/evaluation.md gives the curve over 128 motions and 3 repeats, with intervals). The\ndashed line is the real motions\' value under the same protocol, the scale the changes sit on.',
        ),
        (
            "code",
            'from motionclr_lens.data import MotionText\nfrom motionclr_lens.evaluation.curves import edit_curve\nfrom motionclr_lens.evaluation.world import load_world_evaluator, world_items\n\nitems = [MotionText(m.id, m.features, [c], [t]) for m in world_items("test", 600, world="base")\n         for c, t in zip(m.captions, m.tokens) if "jumps" in c.split()]\nitems = list({m.id: m for m in items}.values())[:64]  # one caption per motion\ncurve = edit_curve(pipe, items, load_world_evaluator(), lambda a: Reweight(a, word="jumps") if a else None,\n                   [-0.5, -0.25, 0.0, 0.25, 0.5], word="jumps", attention_prompts=8,\n                   repeats=1, mm_texts=0, diversity_times=30)\ncurve.plot(title="Reweight \'jumps\'");',
        ),
        (
            "code",
            'import pandas as pd\n\npd.DataFrame(curve.rows()).round(3)[["strength", "R-precision top 3", "FID", "word attention"]]',
        ),
        (
            "md",
            'The attention on the word moves by the edit\'s alpha (the capture records the maps after the edit); what the\nevaluator reads moves much less on this model. What to try next: `Erase(word="jumps", factor=f)` for f from 1\nto 0; another word; `repeats=3` for intervals.',
        ),
    ],
    "06_live_editing": [
        (
            "md",
            "# Live editing\n\nMove the controls: the source motion is generated once, the edited one anew (under a second and a half\non a laptop CPU).",
        ),
        (
            "code",
            'from motionclr_lens import load_embedded\nfrom motionclr_lens.widgets import LiveEditor\n\neditor = LiveEditor(load_embedded(), "a person jumps three times, then walks forward", seconds=7)\neditor',
        ),
        ("code", 'editor.strength.value = -0.8  # the same as moving the slider\neditor.last["seconds"]'),
    ],
    "07_release_checkpoint": [
        (
            "md",
            "# The released checkpoint\n\n`load_release` reads the release layout (`EvanTHU/MotionCLR`: `opt.txt`, `meta/mean.npy`, `meta/std.npy`,\n`model/latest.tar`) from a folder, or from the hub where it is reachable. Set `MOTIONCLR_RELEASE` to the folder.",
        ),
        (
            "code",
            'import os, pathlib, torch\nfrom motionclr_lens import load_release\n\nfolder = pathlib.Path(os.environ.get("MOTIONCLR_RELEASE", "MotionCLR"))\nif not folder.is_dir():\n    raise SystemExit(f"set MOTIONCLR_RELEASE to a folder with the release (none at {folder})")\npipe = load_release(folder)\nconfig = pipe.config\nprint(config.channels, config.num_attention_layers, "attention layers")',
        ),
        (
            "code",
            'result = pipe.generate("a person walks forward", seconds=2, steps=5, generator=torch.Generator().manual_seed(0))\nresult.joints[0].shape',
        ),
        (
            "code",
            "from motionclr_lens.viz import keyframe_strip\n\nkeyframe_strip(result.joints[0], n=6, title=result.prompts[0]);",
        ),
    ],
    "08_causal_patching": [
        (
            "md",
            "# Causal patching\n\nAttention maps say where a word looks; patching says what a layer *causes*. Run a source"
            " and a target that differ in one word (same seed, so the same noise), copy one attention output from the"
            " source run into the target run, and measure how far the target's motion moves toward the source's: the"
            " restored fraction, 0 the target's motion, 1 the source's (docs/lens.md, \"Patching\").",
        ),
        (
            "code",
            "import torch\nfrom motionclr_lens import load_embedded\nfrom motionclr_lens.patching import Site, action_probability,"
            " patched_run, patching_sweep, record\nfrom motionclr_lens.settings import RunSettings\n\npipe = load_embedded()\n"
            'source = record(pipe, "a person jumps", seconds=3, seed=0, settings=RunSettings(steps=10))\n'
            'print(f"recorded {len(source.values)} attention outputs, {source.nbytes / 2**20:.1f} MiB")',
        ),
        (
            "md",
            "The text reaches the motion only through cross-attention, so patching every cross-attention output at every"
            " step must give the source's motion exactly, and patching nothing the target's: the sanity checks.",
        ),
        (
            "code",
            'jump = action_probability("jump")\ntarget = patched_run(pipe, source, "a person waves", [])\n'
            'everything = patched_run(pipe, source, "a person waves", [Site("cross", tuple(source.layers("cross")))])\n'
            'print("source", round(jump(source.generation), 3), "target", round(jump(target), 3),'
            ' "every cross output patched", round(jump(everything), 3))\n'
            "assert torch.equal(everything.sample, source.generation.sample)",
        ),
        (
            "md",
            "A sweep: each layer's output, self and cross, over windows of denoising steps, scored by the recogniser's"
            " probability of a jump.",
        ),
        (
            "code",
            "windows = [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9), None]  # early steps, late steps, all\n"
            'table = patching_sweep(pipe, source, "a person waves", jump, windows=windows)\n'
            "table.plot(title=\"'a person jumps' patched into 'a person waves': P(jump) restored\");",
        ),
        (
            "md",
            "Attribution patching estimates the same table to first order from one run with gradients. It needs a"
            " measure autograd can follow: the feature-space restoration. `rank_agreement` compares it with exact"
            " patching on the same measure.",
        ),
        (
            "code",
            "from motionclr_lens.patching import attribution_sweep, feature_restoration, rank_agreement\n\n"
            'features = feature_restoration(pipe, source, "a person waves")\n'
            'estimate = attribution_sweep(pipe, source, "a person waves", features, kinds=("cross",), windows=windows)\n'
            'exact = patching_sweep(pipe, source, "a person waves", features, kinds=("cross",), windows=windows)\n'
            'print(f"Spearman rank agreement over {len(exact.sites)} cells: {rank_agreement(exact, estimate):.2f}")\n'
            'estimate.plot(title="attribution estimate (feature space)");',
        ),
        (
            "md",
            "One pair is an anecdote. `python docs/scripts/patching_results.py` runs the sweep over 68 word-swap pairs"
            " with intervals and a control (the target's own words on another motion); docs/lens.md gives the result.",
        ),
    ],
}


def main() -> None:
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    folder.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            cells=[
                (new_markdown_cell if kind == "md" else new_code_cell)(src, id=f"cell-{i:02d}")
                for i, (kind, src) in enumerate(cells)
            ],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
        )
        nbformat.write(nb, folder / f"{name}.ipynb")
    print(f"wrote {len(NOTEBOOKS)} notebooks to {folder}")


if __name__ == "__main__":
    main()
