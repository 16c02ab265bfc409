"""Registries cannot silently miss a module: a missing or empty paper/corpus module is an error."""

from __future__ import annotations

import pytest

import zoo.data.registry as corpus_registry
import zoo.models.registry as model_registry


def test_every_listed_paper_module_registers_models():
    names = model_registry.list_models()
    for paper in ("sun2020", "tzirakis2017", "chen2017", "atmaja2020", "williams2018"):
        assert any(n.startswith(paper) for n in names), paper


def test_a_misspelt_paper_module_is_an_error(monkeypatch):
    monkeypatch.setattr(model_registry, "_PAPER_MODULES", (*model_registry._PAPER_MODULES, "zoo.sun2021"))
    monkeypatch.setattr(model_registry, "_papers_loaded", False)
    with pytest.raises(ModuleNotFoundError, match="zoo.sun2021"):
        model_registry.list_models()


def test_a_paper_module_that_registers_nothing_is_an_error(monkeypatch):
    monkeypatch.setattr(model_registry, "_PAPER_MODULES", (*model_registry._PAPER_MODULES, "zoo.errors"))
    monkeypatch.setattr(model_registry, "_papers_loaded", False)
    with pytest.raises(ImportError, match="zoo.errors was imported but registered no model"):
        model_registry.list_models()


def test_a_misspelt_or_empty_corpus_module_is_an_error(monkeypatch):
    builtin = dict(corpus_registry.CORPUS_MODULES)
    monkeypatch.setattr(corpus_registry, "CORPUS_MODULES", {**builtin, "recola2": "zoo.data.recola2"})
    monkeypatch.setattr(corpus_registry, "_loaded", False)
    with pytest.raises(ModuleNotFoundError, match="zoo.data.recola2"):
        corpus_registry.list_corpora()
    monkeypatch.setattr(corpus_registry, "CORPUS_MODULES", {**builtin, "nothing_here": "zoo.data.types"})
    with pytest.raises(ImportError, match="registered no corpus 'nothing_here'"):
        corpus_registry.list_corpora()


def test_unknown_names_suggest_the_registered_ones():
    with pytest.raises(KeyError, match="Did you mean muse_car"):
        corpus_registry.corpus_class("muse_carr")
    with pytest.raises(KeyError, match="Did you mean sun2020_lstm"):
        model_registry.model_entrypoint("sun2020_lstmm")


def test_a_second_class_under_a_taken_corpus_name_is_refused():
    from zoo.data.corpus import Corpus

    class MuSeCaRCorpus(Corpus):  # same class name as the built-in reader, another module
        name = "muse_car"

    corpus_registry.list_corpora()
    with pytest.raises(ValueError, match="already registered by zoo.data.corpora.muse_car.reader.MuSeCaRCorpus"):
        corpus_registry.register_corpus(MuSeCaRCorpus)


def test_installed_packages_add_corpora_through_entry_points(monkeypatch, tmp_path):
    """A package's ``affect_zoo.corpora`` entry point is loaded with the built-ins; one that
    registers nothing is an error naming it."""
    from importlib.metadata import EntryPoint

    (tmp_path / "my_corpus_pkg.py").write_text(
        "from zoo.data import register_corpus\n"
        "from zoo.data.corpus import Corpus\n"
        "@register_corpus\n"
        "class PluginCorpus(Corpus):\n"
        "    name = 'plugin_corpus'\n"
    )
    (tmp_path / "empty_pkg.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = EntryPoint("plugin_corpus", "my_corpus_pkg", corpus_registry.ENTRY_POINT_GROUP)
    bad = EntryPoint("ghost", "empty_pkg", corpus_registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        corpus_registry, "entry_points", lambda group: [good] if group == corpus_registry.ENTRY_POINT_GROUP else []
    )
    monkeypatch.setattr(corpus_registry, "_loaded", False)
    assert "plugin_corpus" in corpus_registry.list_corpora()
    monkeypatch.setattr(corpus_registry, "entry_points", lambda group: [bad])
    monkeypatch.setattr(corpus_registry, "_loaded", False)
    with pytest.raises(ImportError, match="entry point 'ghost' .* registered no corpus 'ghost'"):
        corpus_registry.list_corpora()
    corpus_registry._CORPORA.pop("plugin_corpus", None)
