"""The README's Python runs as written, and reads the package through few modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_imports_from_at_most_three_modules_of_the_package():
    modules = set()
    for block in python_blocks():
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    ours = sorted(m for m in modules if m.split(".")[0] == "motionclr_lens")
    assert "motionclr_lens" in ours and len(ours) <= 3, ours


@pytest.mark.filterwarnings("error::DeprecationWarning:motionclr_lens")
def test_the_readme_python_runs(tmp_path, monkeypatch):
    """Every Python block, in order, in one namespace (the release lines are comments; the rest runs offline)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    out, cache = namespace["out"], namespace["cache"]
    assert out.features[0].shape == (90, 263) and out.joints[0].shape == (90, 22, 3)
    assert tuple(cache["cross", 17, 9].shape) == (2, 1, 96, 77)  # 90 frames padded to a multiple of 2**4
    assert namespace["curves"].curves.shape[1] == 90
    # the README's count, run twice as written: the same answer (its probe is seeded)
    snippet = re.search(
        r"^with ml\.capture_keys\(\) as keys:.*?^count_from_attention\(keys\)\.count",
        "\n".join(python_blocks()),
        flags=re.S | re.M,
    )
    assert snippet is not None
    counts = []
    code = snippet.group(0).replace("count_from_attention(keys).count", "answer = count_from_attention(keys)")
    for _ in range(2):
        exec(compile(code, str(README), "exec"), namespace)
        counts.append((namespace["answer"].count, namespace["answer"].period))
    assert counts[0] == counts[1], counts


def test_the_readme_sweep_spec_runs(tmp_path, monkeypatch):
    """The README's sweep spec reads as a spec and runs (shortened to 2 steps of 1 s here) into a store whose
    jobs are its prompts x edit lists x seeds."""
    import yaml

    from motionclr_lens import load_embedded
    from motionclr_lens.sweep import open_sweep, sweep_from_spec

    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    spec = yaml.safe_load(blocks[0])
    jobs = len(spec["prompts"]) * len(spec["edits"]) * len(spec["seeds"])
    spec.update(steps=2, seconds=1)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    pipe = load_embedded()
    monkeypatch.setattr("motionclr_lens.sweep.load_model", lambda model, weights: pipe)
    done = sweep_from_spec(tmp_path / "spec.yaml", tmp_path / "sweep.zarr")
    assert len(done.computed) == jobs == 8
    sweep = open_sweep(tmp_path / "sweep.zarr")
    assert sweep.maps(1, "cross", 17).shape[-1] == 77
