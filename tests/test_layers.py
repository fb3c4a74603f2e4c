"""The package's layering: no module imports a layer above its own, and modules stay small.

    errors, atomic, cache, progress, __init__   shared helpers (the bottom)
    data < features < models < evaluation < bundle < predict, evaluate < training < tuning
    < compare, report, serve < cli

Every import counts, at module level or inside a function; relative imports are resolved
against the importing module's package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "postergenre"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE
MAX_LINES = 300

LAYERS: list[set[str]] = [
    {"errors", "atomic", "cache", "progress", "__init__"},
    {"data"},
    {"features"},
    {"models"},
    {"evaluation"},
    {"bundle"},
    {"predict", "evaluate"},
    {"training"},
    {"tuning"},
    {"compare", "report", "serve"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def layer(module: str) -> int:
    """The rank of a ``postergenre...`` module; ``KeyError`` for one in no layer."""
    parts = module.split(".")
    return RANK["__init__" if len(parts) == 1 else parts[1]]


def _exists(module: str, root: Path) -> bool:
    rel = Path(*module.split(".")[1:]) if "." in module else Path()
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports_of(source: str, module: str, package: bool, root: Path = ROOT):
    """``(line, target module, text)`` for every import of a ``postergenre`` module."""
    tree = ast.parse(source)
    here = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                if not base or (node.level - 1) > len(here):
                    raise AssertionError(f"{module}:{node.lineno}: import above the package")
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            text = f"from {'.' * node.level}{node.module or ''} import " + ", ".join(
                a.name for a in node.names)
            for alias in node.names:  # ``from pkg import submodule`` imports that submodule
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if _exists(sub, root) else target, text


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        try:
            mine = layer(module)
        except KeyError:
            found.append(f"{path.relative_to(root)}: module {module} is in no layer")
            continue
        for line, target, text in imports_of(path.read_text(encoding="utf-8"), module,
                                             is_package(path), root):
            try:
                theirs = layer(target)
            except KeyError:
                found.append(f"{path.relative_to(root)}:{line}: `{text}` imports {target}, "
                             f"which is in no layer")
                continue
            if theirs > mine:
                found.append(f"{path.relative_to(root)}:{line}: `{text}` imports {target} "
                             f"(layer {theirs}) from layer {mine}")
    return found


def test_no_module_imports_a_higher_layer():
    found = violations()
    assert not found, "layering violations:\n  " + "\n  ".join(found)


def test_no_module_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in sorted(ROOT.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_package_is_found():
    """Guards the two tests above against passing on an empty tree."""
    modules = {module_name(p) for p in ROOT.rglob("*.py")}
    assert {"postergenre", "postergenre.bundle.io", "postergenre.predict",
            "postergenre.cli"} <= modules
    assert {layer(m) for m in modules} == set(range(len(LAYERS)))


# --- the checker itself ------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """A miniature package: data/rows.py, training/job.py, errors.py."""
    root = tmp_path / PACKAGE
    for rel in ("__init__.py", "errors.py", "data/__init__.py", "data/rows.py",
                "training/__init__.py", "training/job.py", "bundle/__init__.py",
                "bundle/io.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


@pytest.mark.parametrize("source, bad", [
    ("from ..training import job", True),
    ("from ..training.job import run", True),
    ("from .. import training", True),
    ("import postergenre.training.job", True),
    ("from postergenre.training import job", True),
    ("def f():\n    from ..bundle.io import load_bundle\n", True),
    ("class C:\n    def m(self):\n        import postergenre.bundle\n", True),
    ("from ..errors import UserError", False),
    ("from .. import errors, __version__", False),
    ("from . import rows", False),
    ("from .rows import x", False),
    ("import numpy\nfrom numpy import array", False),
])
def test_checker_finds_upward_imports(tree, source, bad):
    (tree / "data" / "rows.py").write_text(source)
    found = violations(tree)
    assert bool(found) == bad, found
    if bad:
        assert found[0].startswith("data/rows.py:") and "from layer 1" in found[0]


def test_checker_resolves_imports_in_a_package_init(tree):
    (tree / "data" / "__init__.py").write_text("from .rows import x\nfrom ..bundle import io\n")
    found = violations(tree)
    assert len(found) == 1 and "postergenre.bundle.io" in found[0], found


def test_checker_flags_a_helper_importing_upwards_and_an_unplaced_module(tree):
    (tree / "errors.py").write_text("from .data import rows\n")
    (tree / "newthing.py").write_text("")
    found = violations(tree)
    assert any(f.startswith("errors.py:1:") for f in found), found
    assert any("newthing" in f and "no layer" in f for f in found), found
