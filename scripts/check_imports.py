"""Check the import graph of the ``zoo`` package: no cycles, and the layering rules hold.

Rules (:data:`RULES`; a rule names a part of the package and the only parts it may import, or
the parts it must not):

* **models are leaves** — ``zoo.models.*`` import only building blocks: ``zoo.layers``, ``zoo.ccc``,
  ``zoo.estimators.svr`` and the registries (``zoo.models.registry``, ``zoo.registry``): nothing
  that reads files, trains, or knows a corpus;
* **building blocks import nothing above them** — ``zoo.layers`` and ``zoo.ccc`` only themselves
  (and each other); ``zoo.estimators.svr`` only ``zoo.ccc``; ``zoo.registry`` nothing;
* **data never imports the model side** — ``zoo.data.*`` not ``zoo.models``, ``zoo.layers``,
  ``zoo.training``, ``zoo.estimators``, ``zoo.runner``, ``zoo.hub``, ``zoo.reports``,
  ``zoo.sweeps``, ``zoo.cli``;
* **corpus knowledge stays in zoo/data** — nothing outside ``zoo.data`` imports a corpus's room
  (``zoo.data.corpora.*``) or names a built-in corpus in a string (``== "muse_car"``, a table
  keyed by corpus names): every corpus fact a command needs is a hook of the corpus reader.

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

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "zoo"

#: (rule name, the modules it covers, "only" | "not", the module prefixes) — see the docstring
RULES: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    (
        "models are leaves",
        ("zoo.models",),
        "only",
        ("zoo.layers", "zoo.ccc", "zoo.estimators.svr", "zoo.models.registry", "zoo.registry"),
    ),
    ("layers are building blocks", ("zoo.layers",), "only", ("zoo.layers", "zoo.ccc")),
    ("ccc is a building block", ("zoo.ccc",), "only", ("zoo.ccc",)),
    ("SVR banks are building blocks", ("zoo.estimators.svr",), "only", ("zoo.ccc",)),
    ("the registry imports nothing", ("zoo.registry",), "only", ()),
    (
        "data never imports the model side",
        ("zoo.data",),
        "not",
        (
            "zoo.models",
            "zoo.layers",
            "zoo.training",
            "zoo.estimators",
            "zoo.runner",
            "zoo.hub",
            "zoo.reports",
            "zoo.sweeps",
            "zoo.cli",
        ),
    ),
)
#: the package whose modules alone may import a corpus's room or name a built-in corpus
CORPUS_PACKAGE = "zoo.data"
CORPUS_ROOMS = "zoo.data.corpora"


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


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


def forbidden_imports(graph: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """``(module, imported module, rule)`` for every import that breaks a rule of :data:`RULES`
    or imports a corpus's room from outside the data package."""
    found = []
    for module, targets in graph.items():
        for target in targets:
            for rule, covered, kind, prefixes in RULES:
                if not _under(module, covered):
                    continue
                allowed = _under(target, prefixes) if kind == "only" else not _under(target, prefixes)
                if not allowed:
                    found.append((module, target, rule))
            if _under(target, (CORPUS_ROOMS,)) and not _under(module, (CORPUS_PACKAGE,)):
                found.append((module, target, "corpus knowledge stays in zoo/data"))
    return sorted(found)


def builtin_corpora(root: Path, package: str = PACKAGE) -> set[str]:
    """The built-in corpus names: the keys of ``CORPUS_MODULES`` in ``zoo/data/registry.py``."""
    tree = ast.parse((root / package / "data" / "registry.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "CORPUS_MODULES" for t in targets) and isinstance(
            node.value, ast.Dict
        ):
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    raise ValueError("zoo/data/registry.py defines no CORPUS_MODULES dict")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def corpus_names_outside_data(root: Path, package: str = PACKAGE) -> list[tuple[str, int, str]]:
    """``(module, line, corpus)`` for each string constant outside the data package that is
    exactly a built-in corpus's name (docstrings aside)."""
    names = builtin_corpora(root, package)
    found = []
    for module, path in module_files(root, package).items():
        if _under(module, (CORPUS_PACKAGE,)):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docstrings = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                found.append((module, node.lineno, node.value))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    """Print the cycles and forbidden imports; 0 when there are none."""
    parser = argparse.ArgumentParser(description="Check the zoo package's import graph: no cycles, the layering rules.")
    parser.add_argument("root", nargs="?", type=Path, help="the repository (default: this script's parent)")
    root = parser.parse_args(argv).root or Path(__file__).resolve().parents[1]
    if not (root / PACKAGE).is_dir():
        parser.error(f"{root} has no {PACKAGE}/ package folder")
    graph = import_graph(root)
    problems = 0
    for component in cycles(graph):
        print("import cycle: " + " <-> ".join(component))
        problems += 1
    for module, target, rule in forbidden_imports(graph):
        print(f"{module} imports {target}: breaks the rule '{rule}'")
        problems += 1
    for module, line, corpus in corpus_names_outside_data(root):
        print(
            f"{module}, line {line}: names the corpus {corpus!r} outside zoo/data (make it a hook of the corpus reader)"
        )
        problems += 1
    if not problems:
        print(
            f"no import cycles among {len(graph)} modules; every rule holds: "
            + "; ".join(rule for rule, *_ in RULES)
            + "; corpus knowledge stays in zoo/data"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
