"""Render one of each figure kind of the library to PNG, for docs/figures.md.

    python docs/scripts/figures_gallery.py [--out docs/images/figures] [--screenshots]

Static figures (matplotlib) are written directly; with --screenshots the interactive ones (plotly) are
written as HTML and photographed in headless Chromium through Playwright (`pip install playwright`, and
Debian's chromium at /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from motionclr_lens import load_embedded
from motionclr_lens.analysis import count_by_period, full_resolution_self_map, head_statistics, taxonomy, word_curves
from motionclr_lens.capture import capture
from motionclr_lens.export import save_animation
from motionclr_lens.report import write_report
from motionclr_lens.viz import attention_map, keyframe_strip, save_figure
from motionclr_lens.viz.interactive import attention_explorer, capture_explorer, skeleton_player
from motionclr_lens.world import make_sample

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(pages: dict[str, Path], out: Path, size: tuple[int, int] = (1300, 800)) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        for name, html in pages.items():
            page.goto(html.resolve().as_uri())
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / f"{name}.png"), full_page=name == "report")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/images/figures")
    parser.add_argument("--screenshots", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    pipe = load_embedded()
    prompt = "a person jumps three times, then walks forward"
    with capture(kinds=("self", "cross")) as cache:
        result = pipe.generate(prompt, seconds=6, generator=torch.Generator().manual_seed(0))
    joints, T = result.joints[0], result.lengths[0]
    tokenized = pipe.tokenizer.tokenize_prompt(prompt)
    curves = word_curves(cache, tokenized, frames=T)
    self_map = full_resolution_self_map(cache, 0, T)

    figures = {
        "keyframes": keyframe_strip(joints, n=8, title=prompt),
        "word_curves": curves.plot(title="cross-attention per word"),
        "cross_map": attention_map(curves.curves, "cross", words=curves.words, title="word x frame"),
        "self_map": attention_map(self_map, "self", title="self-attention, full-resolution layers"),
    }
    # counting peaks on a world motion whose count is known, probed at t = 300
    drawn = (make_sample(0, "test", i) for i in range(400))
    sample = next(s for s in drawn if len(s.segments) == 1 and s.segments[0].kind == "jump" and s.segments[0].count > 1)
    seg = sample.segments[0]
    caption = sample.captions[0]
    with capture(kinds=("self", "cross")) as probed:
        pipe.probe(sample.features, caption.text, timestep=300)
    probe_map = full_resolution_self_map(probed, 0, sample.frames)
    counted = count_by_period(probe_map, seg.start, seg.end)
    figures["counting"] = counted.plot(truth=seg.count, title=f"“{caption.text}”: repetitions from self-attention")
    stats = head_statistics(
        probed,
        frames=sample.frames,
        prompt=pipe.tokenizer.tokenize_prompt(caption.text),
        word_frames=caption.word_frames,
    )
    figures["head_statistics"] = stats.plot("self")
    figures["head_taxonomy"] = taxonomy(stats, clusters=4).plot(title="head taxonomy (PCA of head measures)")
    for name, fig in figures.items():
        save_figure(fig, out / name, formats=("png",))
    save_animation(joints, out / "motion.gif", title=prompt)
    print(f"static figures: {sorted(figures)} in {out}")

    if args.screenshots:
        import tempfile

        html = Path(tempfile.mkdtemp())  # the pages carry plotly.js (several MB): kept out of the docs
        pages = {
            "player": skeleton_player(joints, title=prompt),
            "explorer": attention_explorer(joints, curves, self_map, title=prompt),
            "capture_self": capture_explorer(cache, "self", frames=T),
            "capture_cross": capture_explorer(
                cache, "cross", words=curves.words, token_columns=[w.tokens for w in tokenized.words], frames=T
            ),
        }
        paths = {}
        for name, fig in pages.items():
            paths[name] = html / f"{name}.html"
            fig.write_html(paths[name], include_plotlyjs=True, auto_play=False)
        paths["report"] = write_report(html / "report.html", pipe, result, cache)
        screenshot(paths, out)
        print(f"screenshots: {sorted(paths)}")
    print("peak self-attention share of the diagonal:", float(np.trace(self_map) / self_map.sum()))


if __name__ == "__main__":
    main()
