"""Registries cannot silently miss a module: a missing or empty paper/corpus module is an error."""

from __future__ import annotations

import pytest

import zoo.data.registry as corpus_registry
import zoo.models.registry as model_registry


def test_every_listed_paper_module_registers_models():
    names = model_registry.list_models()
    for paper in ("sun2020", "tzirakis2017", "chen2017", "atmaja2020", "williams2018"):
        assert any(n.startswith(paper) for n in names), paper


@pytest.mark.parametrize(
    "extra,error,message",
    [
        ("zoo.models.sun2021", ModuleNotFoundError, "zoo.models.sun2021"),  # misspelt
        ("zoo.errors", ImportError, "zoo.errors was imported but registered no model"),  # registers nothing
    ],
)
def test_a_listed_paper_module_that_is_missing_or_empty_is_an_error(monkeypatch, extra, error, message):
    registry = model_registry.REGISTRY
    monkeypatch.setattr(registry, "builtin_modules", (*model_registry.PAPER_MODULES, extra))
    monkeypatch.setattr(registry, "_loaded", False)
    with pytest.raises(error, match=message):
        model_registry.list_models()


def test_a_misspelt_or_empty_corpus_module_is_an_error(monkeypatch):
    registry = corpus_registry.REGISTRY
    builtin = dict(corpus_registry.CORPUS_MODULES)
    monkeypatch.setattr(registry, "builtin_modules", {**builtin, "recola2": "zoo.data.corpora.recola2.reader"})
    monkeypatch.setattr(registry, "_loaded", False)
    with pytest.raises(ModuleNotFoundError, match="zoo.data.corpora.recola2"):
        corpus_registry.list_corpora()
    monkeypatch.setattr(registry, "builtin_modules", {**builtin, "nothing_here": "zoo.data.types"})
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
    import zoo.registry

    registry = corpus_registry.REGISTRY
    monkeypatch.setattr(
        zoo.registry, "entry_points", lambda group: [good] if group == corpus_registry.ENTRY_POINT_GROUP else []
    )
    monkeypatch.setattr(registry, "_loaded", False)
    assert "plugin_corpus" in corpus_registry.list_corpora()
    monkeypatch.setattr(zoo.registry, "entry_points", lambda group: [bad])
    monkeypatch.setattr(registry, "_loaded", False)
    with pytest.raises(ImportError, match="entry point 'ghost' .* registered no corpus 'ghost'"):
        corpus_registry.list_corpora()
    registry._entries.pop("plugin_corpus", None)


def test_both_registries_are_one_implementation():
    from zoo.registry import Registry

    assert isinstance(model_registry.REGISTRY, Registry) and isinstance(corpus_registry.REGISTRY, Registry)
    assert model_registry.REGISTRY.kind == "model" and corpus_registry.REGISTRY.kind == "corpus"


def test_a_model_that_names_a_file_is_handed_its_content_never_reads_it(tmp_path):
    """``files=`` declarations: the bare registry refuses a named file it was not handed;
    ``zoo.create_model`` reads it (here a state dict the test saved) and hands it over."""
    import timm
    import torch

    import zoo

    assert model_registry.model_files("tzirakis2017_visual") == {"pretrained_path": "weights"}
    assert model_registry.model_files("sun2020_lstm") == {}
    path = tmp_path / "r18.pth"
    source = timm.create_model("resnet18", num_classes=0)
    torch.save(source.state_dict(), path)
    args = {
        "feature_dims": {"video": [32, 32, 3]},
        "num_targets": 2,
        "backbone": "resnet18",
        "pretrained_path": str(path),
    }
    with pytest.raises(ValueError, match="models read no files"):
        model_registry.create_model("tzirakis2017_visual", **args)
    net = zoo.create_model("tzirakis2017_visual", **args)
    torch.testing.assert_close(net.visual.backbone.conv1.weight, source.conv1.weight)
    with pytest.raises(TypeError, match="declares no file arguments"):
        model_registry.create_model("sun2020_lstm", feature_dims={"a": 3}, num_targets=1, loaded={"x": 1})
    with pytest.raises(TypeError, match=r"model 'sun2020_lstm': .*unexpected keyword argument 'hiden_size'"):
        model_registry.create_model("sun2020_lstm", feature_dims={"a": 3}, num_targets=1, hiden_size=8)
    with pytest.raises(ValueError, match="expected one of"):
        model_registry.register_model(files={"path": "folder"})
