"""What the wheel declares: every package ``zoo`` imports, and nothing that drags NumPy below 2.

(The ``sweeps`` package W&B's controller uses pinned ``numpy<2``: installing it downgraded NumPy
and broke pandas and every ``zoo`` command; the local search now runs on Optuna.)
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"zoo"}


def test_every_imported_package_is_a_declared_dependency():
    declared = {_norm(Requirement(r).name) for r in PROJECT["dependencies"]}
    extras = {_norm(Requirement(r).name) for group in PROJECT["optional-dependencies"].values() for r in group}
    providers = metadata.packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level(ROOT / "zoo")):
        dists = {_norm(d) for d in providers.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported by zoo/ but not in [project] dependencies: {missing}"
    assert "sweeps" not in declared | extras


def _runtime_closure() -> dict[str, list[Requirement]]:
    """Every installed distribution the default install pulls in, with its requirements."""
    env = {**default_environment(), "extra": ""}
    todo = [Requirement(r) for r in PROJECT["dependencies"]]
    seen: dict[str, list[Requirement]] = {}
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        reqs = [Requirement(r) for r in requires]
        seen[name] = [r for r in reqs if r.marker is None or r.marker.evaluate(env)]
        todo += seen[name]
    return seen


def test_no_runtime_dependency_pins_numpy_below_2():
    closure = _runtime_closure()
    assert {"optuna", "torch", "pandas"} <= set(closure)
    pins = {
        dist: str(req)
        for dist, reqs in closure.items()
        for req in reqs
        if _norm(req.name) == "numpy" and req.specifier and not req.specifier.contains("2.2.0", prereleases=True)
    }
    assert not pins, f"these dependencies refuse NumPy 2: {pins}"
    assert int(metadata.version("numpy").split(".")[0]) >= 2
