"""The package's structure, read from its imports: one direction, no cycle, no private names across modules.

Every import counts, at module level or inside a function, except those under `if TYPE_CHECKING:` (they never
run) and under `if __name__ == "__main__":` (a module run as a command is not imported by the library). The one
allowed way back up: an analysis result's `.plot()` may import the figure that draws it inside the call.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import motionclr_lens

PACKAGE = Path(motionclr_lens.__file__).parent
# The foundation: the model and what it stands on know nothing of what is built over them.
FOUNDATION = ("config", "model", "text", "motion", "hooks", "sampling")
ABOVE_FOUNDATION = ("capture", "edits", "analysis", "viz", "widgets", "report", "cli")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted within the package ("analysis.grounding")
    target: str  # the module imported from (a package's re-export resolved to the defining module)
    name: str | None  # the name taken (None for `import x`)
    lazy: bool  # inside a function
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split(".")) if name else PACKAGE
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _skipped(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` and `if __name__ == "__main__":`."""
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _raw_imports(path: Path) -> list[tuple[str, str | None, bool, int]]:
    """(absolute target within the package, name, lazy, line) of every import of the package in a file."""
    source = _module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found: list[tuple[str, str | None, bool, int]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _skipped(child.test):
                for other in child.orelse:
                    visit(other, lazy)
                continue
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (child.level - 1)] if child.level > 1 else base
                    target = ".".join([*base, *([child.module] if child.module else [])])
                elif child.module and child.module.split(".")[0] == "motionclr_lens":
                    target = child.module.partition(".")[2]
                else:
                    continue
                for alias in child.names:
                    found.append((target, alias.name, lazy, child.lineno))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "motionclr_lens":
                        found.append((alias.name.partition(".")[2], None, lazy, child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


def _reexports(package: str) -> dict[str, str]:
    """Names a package's __init__ takes from its own submodules at import time: name -> defining module."""
    init = PACKAGE.joinpath(*package.split("."), "__init__.py") if package else PACKAGE / "__init__.py"
    out = {}
    for target, name, lazy, _ in _raw_imports(init):
        if name and not lazy and target.startswith(f"{package}.") if package else False:
            out[name] = target
    return out


def package_imports() -> list[Import]:
    imports = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        for target, name, lazy, line in _raw_imports(path):
            if name and _is_module(f"{target}.{name}" if target else name):
                target = f"{target}.{name}" if target else name  # `from . import module`
            elif name and (PACKAGE.joinpath(*target.split("."), "__init__.py")).is_file() and target:
                target = _reexports(target).get(name, target)  # a package's re-export: where it is defined
            imports.append(Import(source, target, name, lazy, line))
    return imports


IMPORTS = package_imports()


def _layer(module: str) -> str:
    return module.split(".")[0]


def _allowed_way_back(i: Import) -> bool:
    return i.lazy and _layer(i.source) == "analysis" and _layer(i.target) == "viz"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_the_reader_sees_the_imports():
    """The rules below would pass on nothing: check the reader finds imports that are known to exist."""
    seen = {(i.source, i.target) for i in IMPORTS}
    assert ("model", "hooks") in seen and ("pipeline", "model") in seen
    assert ("analysis", "analysis.counting") in seen  # a package's own re-export
    assert any(i.source == "analysis.counting" and i.target.startswith("viz") and i.lazy for i in IMPORTS)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    edges: dict[str, set[str]] = {}
    for i in IMPORTS:
        if i.source != i.target and not _allowed_way_back(i) and i.source != "":
            edges.setdefault(i.source, set()).add(i.target)
    assert _cycles(edges) == []


@pytest.mark.parametrize("low", FOUNDATION)
def test_the_foundation_imports_nothing_built_on_it(low):
    wrong = [i for i in IMPORTS if _layer(i.source) == low and _layer(i.target) in ABOVE_FOUNDATION]
    assert wrong == [], [f"{i.source}:{i.line} imports {i.target}" for i in wrong]


def test_no_library_module_imports_the_command_line():
    """Only the command line itself (cli.py, and `__main__.py`, which is `python -m motionclr_lens`)."""
    wrong = [i for i in IMPORTS if i.target == "cli" and i.source not in ("cli", "__main__")]
    assert wrong == [], [f"{i.source}:{i.line}" for i in wrong]


def test_analysis_imports_viz_only_inside_a_plot_call():
    wrong = [i for i in IMPORTS if _layer(i.source) == "analysis" and _layer(i.target) == "viz" and not i.lazy]
    assert wrong == [], [f"{i.source}:{i.line} imports {i.target}.{i.name}" for i in wrong]


def test_no_module_imports_a_private_name_of_another():
    wrong = [
        i for i in IMPORTS if i.name and i.name.startswith("_") and not i.name.startswith("__") and i.target != i.source
    ]
    assert wrong == [], [f"{i.source}:{i.line} imports {i.target}.{i.name}" for i in wrong]
