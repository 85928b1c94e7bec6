"""What each subpackage exports at its top: a short list (a user's main objects and verbs), all documented.

Every other public name lives in its module, which is then its public home (each package
docstring lists them under "Also in submodules"). Every name in ``__all__`` imports and is
documented: classes, functions and modules by their docstring, values (rare at the top) by a
``#:`` comment where they are defined.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geolearn"

#: Most names a subpackage's ``__all__`` may hold (issue #11: "about 25 names at most").
MAX_EXPORTS = 25


def subpackages() -> list[str]:
    """Every package below ``geolearn`` (sub-subpackages included), by dotted name."""
    found = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="geolearn."):
        if info.ispkg:
            found.append(info.name)
    return sorted(found)


def exports(name: str) -> list[str]:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    return list(module.__all__)


def definition_documented(module_name: str, export: str) -> bool:
    """Whether ``export`` is documented where ``module_name`` defines it (a ``#:`` comment or docstring).

    For values (constants, command objects) that carry no ``__doc__`` of their own: a ``#:`` comment
    line right above the assignment, a string right below it, or the docstring of the decorated
    ``def`` that built it.
    """
    path = Path(importlib.import_module(module_name).__file__)
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == export:
            return bool(ast.get_docstring(node))
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == export for t in targets):
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            below = tree.body[i + 1] if i + 1 < len(tree.body) else None
            string_below = isinstance(below, ast.Expr) and isinstance(
                getattr(below, "value", None), ast.Constant
            )
            return above.startswith("#:") or (string_below and isinstance(below.value.value, str))
    return False


def source_module(package: str, export: str) -> str:
    """The module ``package/__init__.py`` imports ``export`` from (the package itself if none)."""
    init = Path(importlib.import_module(package).__file__)
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == export for a in node.names):
            return node.module
    return package


def undocumented(name: str) -> list[str]:
    """Names in ``name.__all__`` that cannot be imported or carry no documentation."""
    module = importlib.import_module(name)
    missing = []
    for export in module.__all__:
        if not hasattr(module, export):
            missing.append(f"{export} (not importable)")
            continue
        obj = getattr(module, export)
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            doc = obj.__doc__ or ""
            # A dataclass without a docstring gets its signature as __doc__: that is not documentation.
            documented = bool(doc.strip()) and not (
                inspect.isclass(obj) and doc.startswith(f"{obj.__name__}(")
            )
        else:
            documented = definition_documented(source_module(name, export), export)
        if not documented:
            missing.append(f"{export} (no docstring)")
    return missing


def test_the_package_has_the_subpackages_this_test_walks():
    names = subpackages()
    assert {
        "geolearn.io",
        "geolearn.wave",
        "geolearn.learned",
        "geolearn.learned_inversion.training_models",
    } <= set(names)


@pytest.mark.parametrize("name", subpackages())
def test_subpackage_exports_at_most_25_names(name):
    count = len(exports(name))
    assert count <= MAX_EXPORTS, (
        f"{name} exports {count} names (at most {MAX_EXPORTS}): keep the rest in their modules"
    )


@pytest.mark.parametrize("name", subpackages())
def test_every_export_is_importable_and_documented(name):
    assert undocumented(name) == []


def test_the_checks_catch_undocumented_exports(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        '"""A package."""\n\nfrom dataclasses import dataclass\n\nLIMITS = (1, 2)\n\n#: Documented.\nSTEPS = (1,)\n'
        "\n\ndef verb():\n    pass\n\n\n@dataclass\nclass Thing:\n    x: int\n\n\n"
        'def good():\n    """Documented."""\n\n\n'
        '__all__ = ["LIMITS", "STEPS", "Thing", "good", "missing", "verb"]\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert undocumented("fakepkg") == [
        "LIMITS (no docstring)",
        "Thing (no docstring)",
        "missing (not importable)",
        "verb (no docstring)",
    ]
