"""The import graph of ``zoo`` has no cycles and keeps its layering rules — models are leaves,
the data package never imports the model side, corpus knowledge stays in zoo/data
(``scripts/check_imports.py``) — and the checker itself finds what it should on a tiny package."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
check_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_imports)


def test_zoo_has_no_import_cycle_and_keeps_every_rule():
    graph = check_imports.import_graph(ROOT)
    assert "zoo.data.datamodule" in graph and "zoo.training.task" in graph
    assert check_imports.cycles(graph) == []
    assert check_imports.forbidden_imports(graph) == []
    assert check_imports.corpus_names_outside_data(ROOT) == []


def _reach(graph: dict[str, set[str]], module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_each_model_file_reaches_layers_ccc_svr_banks_and_the_registry_only():
    graph = check_imports.import_graph(ROOT)
    papers = [m for m in graph if m.startswith("zoo.models.") and m != "zoo.models.registry"]
    assert {"zoo.models.sun2020", "zoo.models.tzirakis2017", "zoo.models.chen2017", "zoo.models.ssl"} <= set(papers)
    for module in papers:
        outside = {
            m
            for m in _reach(graph, module)
            if not m.startswith(("zoo.layers", "zoo.ccc", "zoo.estimators.svr", "zoo.models.registry", "zoo.registry"))
        }
        assert outside == set(), module


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "zoo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


@pytest.fixture()
def fake(tmp_path: Path) -> Path:
    return _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from zoo.b import g  # lazy: still an edge\n",
            "b.py": "from . import a\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from zoo.d import X\n",
            "d.py": "import zoo.c\n",
            "data/__init__.py": "",
            "data/reader.py": "from ..training.task import T\nfrom .types import R\n",
            "data/registry.py": "CORPUS_MODULES = {'toy': 'zoo.data.corpora.toy.reader'}\nNAME = 'toy'\n",
            "data/corpora/__init__.py": "",
            "data/corpora/toy/__init__.py": "",
            "data/corpora/toy/reader.py": "",
            "models/__init__.py": "",
            "models/net.py": "from zoo.layers import L\nfrom zoo.hub.files import read\n",
            "layers/__init__.py": "L = 1\n",
            "hub/__init__.py": "",
            "hub/files.py": 'from zoo.data.corpora.toy.reader import X\n"""toy in a docstring is fine"""\nif x == "toy":\n    pass\n',
            "data/types.py": "",
            "training/__init__.py": "",
            "training/task.py": "",
        },
    )


def test_a_cycle_through_a_function_level_import_is_found(fake: Path):
    graph = check_imports.import_graph(fake)
    assert graph["zoo.a"] == {"zoo.b"} and graph["zoo.b"] == {"zoo.a"}
    assert check_imports.cycles(graph) == [["zoo.a", "zoo.b"]]


def test_type_checking_imports_are_not_edges(fake: Path):
    graph = check_imports.import_graph(fake)
    assert graph["zoo.c"] == set() and graph["zoo.d"] == {"zoo.c"}


def test_relative_imports_resolve_and_every_rule_fires(fake: Path, capsys):
    graph = check_imports.import_graph(fake)
    assert graph["zoo.data.reader"] == {"zoo.training.task", "zoo.data.types"}
    assert check_imports.forbidden_imports(graph) == [
        ("zoo.data.reader", "zoo.training.task", "data never imports the model side"),
        ("zoo.hub.files", "zoo.data.corpora.toy.reader", "corpus knowledge stays in zoo/data"),
        ("zoo.models.net", "zoo.hub.files", "models are leaves"),
    ]
    assert check_imports.corpus_names_outside_data(fake) == [("zoo.hub.files", 3, "toy")]  # not the docstring
    assert check_imports.main([str(fake)]) == 1
    out = capsys.readouterr().out
    assert "import cycle: zoo.a <-> zoo.b" in out and "zoo.data.reader imports zoo.training.task" in out
    assert "names the corpus 'toy' outside zoo/data" in out
