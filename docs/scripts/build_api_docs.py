"""Build the API reference (HTML, pdoc) of every public module of the package.

    python docs/scripts/build_api_docs.py [--out docs/api]

Warnings (a docstring pdoc cannot read, a broken cross-reference) fail the build: `tests/test_docs.py`
runs it.
"""

from __future__ import annotations

import argparse
import pkgutil
import warnings
from pathlib import Path

import motionclr_lens


def public_modules() -> list[str]:
    names = ["motionclr_lens"]
    for info in pkgutil.walk_packages(motionclr_lens.__path__, "motionclr_lens."):
        if not any(part.startswith("_") for part in info.name.split(".")) and ".assets" not in info.name:
            names.append(info.name)
    return sorted(names)


def build(out: Path) -> list[str]:
    """Write the reference into `out`; returns the warnings raised while building."""
    import pdoc
    import pdoc.extract

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # pdoc documents a package's submodules named in its __all__ with the package (motionclr_lens.capture,
        # whose function of the same name the package exports): each module is given once
        with_package = set(pdoc.extract.walk_specs(["motionclr_lens"])) - {"motionclr_lens"}
        pdoc.pdoc(*[m for m in public_modules() if m not in with_package], output_directory=out)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/api")
    args = parser.parse_args()
    problems = build(Path(args.out))
    for p in problems:
        print(p)
    print(f"API reference of {len(public_modules())} modules in {args.out}; {len(problems)} warnings")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
