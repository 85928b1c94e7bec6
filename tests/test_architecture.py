"""The layer rules of DESIGN.md, checked by reading every import of the package.

A breach (a lower floor importing a higher one, a third-party engine imported outside the one
package that owns it, or a ``_private`` name imported across packages) fails here with the
file, the line and the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geolearn"

#: Shared leaves every floor may use.
SHARED = {"errors", "atomic", "settings", "threads", "ledger"}

#: Who may import whom (besides SHARED and itself); each upper floor may use everything below it.
IMAGING = {"operators", "solvers", "wave", "io", "processing", "parallel", "viz"}
FWI = IMAGING | {"imaging"}
LEARNED_INVERSION = FWI | {"fwi", "learned"}
RUNS = LEARNED_INVERSION | {"learned_inversion"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "atomic": set(),
    "settings": set(),
    "threads": set(),
    "ledger": set(),
    "operators": set(),
    "solvers": {"operators"},
    "learned": {"operators", "solvers"},
    "wave": {"operators"},
    "io": set(),
    "processing": {"io"},
    "parallel": set(),
    "viz": set(),
    "imaging": IMAGING,
    "fwi": FWI,
    "learned_inversion": LEARNED_INVERSION,
    "runs": RUNS,
    "cli": RUNS | {"runs"},
}

#: Third-party engines and the only floors allowed to import them.
OWNERS = {"devito": {"wave"}, "segyio": {"io"}, "click": {"cli"}}


def floor_of(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root)
    return rel.parts[0].removesuffix(".py")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(("geolearn", *path.relative_to(root).with_suffix("").parts[:-1]))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            out.append((node.lineno, module, [a.name for a in node.names]))
    return out


def breaches(path: Path, root: Path = PACKAGE) -> list[str]:
    floor = floor_of(path, root)
    allowed = ALLOWED[floor] | SHARED | {floor}
    found = []
    for line, module, names in imports(path, root):
        where = f"{path.relative_to(root.parent)}:{line}"
        top = module.split(".")[0]
        if top in OWNERS and floor not in OWNERS[top]:
            found.append(f"{where}: imports {top}, which only {sorted(OWNERS[top])} may import")
        if top != "geolearn" or module == "geolearn":
            continue
        parts = module.split(".")
        target = parts[1]
        if target not in allowed:
            found.append(f"{where}: {floor} imports geolearn.{target} (allowed: {sorted(allowed)})")
        if target != floor:
            private = [p for p in parts[2:] if p.startswith("_")] + [n for n in names if n.startswith("_")]
            if private:
                found.append(f"{where}: imports private {private} from geolearn.{target}")
    return found


def test_every_floor_of_the_package_is_in_the_layer_table():
    floors = {floor_of(p) for p in modules()}
    assert floors <= set(ALLOWED), f"add {sorted(floors - set(ALLOWED))} to ALLOWED (and DESIGN.md)"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_the_layer_rules(path):
    assert breaches(path) == []


def test_the_checker_catches_a_breach_and_a_private_import(tmp_path):
    root = tmp_path / "geolearn"
    (root / "io").mkdir(parents=True)
    bad = root / "io" / "bad.py"
    bad.write_text(
        "from geolearn.viz import plot_model\nfrom geolearn.wave.solver import _helper\nimport devito\n"
        "from . import layout\n"
    )
    found = breaches(bad, root)
    assert len(found) == 4, found  # viz, wave, the private _helper, devito (the relative import is fine)
    assert any("imports devito" in f for f in found)
    assert any("private ['_helper']" in f for f in found)
