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
    assert out.features[0].shape == (80, 263) and out.joints[0].shape == (80, 22, 3)
    assert tuple(cache["cross", 17, 9].shape) == (2, 1, 80, 77)
    assert namespace["curves"].curves.shape[1] == 80
