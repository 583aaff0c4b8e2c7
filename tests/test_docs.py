"""The docs build: the API reference without warnings, and every link and image of docs/ and the README
resolves."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_api_docs", ROOT / "docs" / "scripts" / "build_api_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    builder = _load_builder()
    problems = builder.build(tmp_path)
    assert problems == []
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    for module in builder.public_modules():
        assert module.replace(".", "/") + ".html" in pages, module
    assert len(builder.public_modules()) > 30


def test_every_link_and_image_in_the_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_evaluation_makes_every_sample_at_its_own_length():
    """`generate` samples a batch at its longest length and crops the rest: the evaluation batches only
    samples of one length, so no motion loses its end to a longer neighbour."""
    batches = _load_script("evaluate_embedded").same_length_batches([60, 40, 60, 41, 60, 40, 60], 2)
    assert batches == [[1, 5], [3], [0, 2], [4, 6]]
    assert sorted(i for b in batches for i in b) == list(range(7))
