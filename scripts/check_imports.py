"""Check the import graph of the ``zoo`` package: no cycles, and data never imports models.

The graph is read from the source with :mod:`ast` (nothing is imported). Every ``import`` counts,
at module level and inside functions — a lazy import only hides a cycle — except those under
``if TYPE_CHECKING:``. ``from zoo.a import b`` is an edge to the module ``zoo.a.b`` when that is a
module, else to ``zoo.a``; a package's ``__init__`` is the module named after the package. (An
import of ``zoo.a.b`` also runs ``zoo/a/__init__.py``; that implicit step is not an edge, so a
package may import its own submodules lazily, e.g. a registry loading its entries.)

Usage: ``python scripts/check_imports.py [ROOT]`` (ROOT: the repository, default its parent);
exits 1 and lists the cycles and forbidden imports when there are any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "zoo"
#: modules the data package (``zoo.data.*``) must not import: the model side of the zoo
DATA_MAY_NOT_IMPORT = (
    "zoo.models.registry",
    "zoo.training.task",
    "zoo.layers",
    "zoo.models.sun2020",
    "zoo.models.chen2017",
    "zoo.models.atmaja2020",
    "zoo.models.tzirakis2017",
    "zoo.models.williams2018",
    "zoo.models.late_fusion",
    "zoo.runner.run",
    "zoo.cli",
    "zoo.hub.pretrained",
    "zoo.hub.bundle",
    "zoo.hub.inference",
    "zoo.hub.checkpoint_io",
)


def module_files(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imports_of(module: str, path: Path, modules: dict[str, Path], package: str = PACKAGE) -> set[str]:
    """The package modules that ``module`` imports anywhere in its file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = _type_checking_nodes(tree)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == package or a.name.startswith(package + "."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not (target == package or target.startswith(package + ".")):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(module)
    return {m for m in found if m in modules}


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = module_files(root, package)
    return {m: imports_of(m, p, modules, package) for m, p in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def forbidden_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """``(data module, model-side module)`` pairs that break the data → models rule."""
    return sorted(
        (m, t)
        for m, targets in graph.items()
        if m == "zoo.data" or m.startswith("zoo.data.")
        for t in targets
        if any(t == f or t.startswith(f + ".") for f in DATA_MAY_NOT_IMPORT)
    )


def main(argv: list[str] | None = None) -> int:
    """Print the cycles and forbidden imports; 0 when there are none."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parents[1]
    graph = import_graph(root)
    problems = 0
    for component in cycles(graph):
        print("import cycle: " + " <-> ".join(component))
        problems += 1
    for module, target in forbidden_imports(graph):
        print(f"{module} imports {target}: the data package must not import the model side")
        problems += 1
    if not problems:
        print(f"no import cycles among {len(graph)} modules; zoo.data imports nothing from the model side")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
