"""Registry of corpus readers: ``data.name`` → :class:`~zoo.data.corpus.Corpus` subclass.

The built-in readers live in the modules of :data:`CORPUS_MODULES`. They are imported on first
use of the registry, and each must register the name it is listed under: a missing module or
one that registers nothing is an error, never a silently absent corpus. An installed package
adds a corpus through the entry-point group :data:`ENTRY_POINT_GROUP` (so recipes can name it
with no import); it is loaded with the same strictness. Readers defined elsewhere (a script's,
the test suite's toy corpus) register by decorating their class with :func:`register_corpus`;
the contract test then covers them as well.
"""

from __future__ import annotations

from typing import TypeVar

from zoo.data.corpus import Corpus
from zoo.registry import Registry

__all__ = ["CORPUS_MODULES", "ENTRY_POINT_GROUP", "REGISTRY", "register_corpus", "corpus_class", "list_corpora"]

#: built-in corpus name → the module that defines and registers its reader
CORPUS_MODULES = {
    "muse_car": "zoo.data.corpora.muse_car.reader",
    "recola": "zoo.data.corpora.recola.reader",
    "sewa": "zoo.data.corpora.sewa.reader",
    "cmu_mosei": "zoo.data.corpora.cmu_mosei.reader",
    "prediction_fusion": "zoo.data.corpora.prediction_fusion.reader",
}

#: installed packages add corpora under this entry-point group (name → module that registers it)
ENTRY_POINT_GROUP = "affect_zoo.corpora"

#: the corpus readers (:class:`zoo.registry.Registry`)
REGISTRY: Registry[type[Corpus]] = Registry("corpus", CORPUS_MODULES, ENTRY_POINT_GROUP)

_C = TypeVar("_C", bound=type)


def register_corpus(cls: _C) -> _C:
    """Class decorator registering a :class:`~zoo.data.corpus.Corpus` under its ``name``.

    Raises:
        TypeError: not a Corpus subclass, or no ``name``.
        ValueError: the name is taken by another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Corpus)):
        raise TypeError(f"register_corpus expects a Corpus subclass, got {cls!r}")
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} has no `name`")
    REGISTRY.add(cls.name, cls)
    return cls


def list_corpora(pattern: str = "*", include_derived: bool = False) -> list[str]:
    """Registered corpus names matching a shell-style ``pattern``, sorted.

    Args:
        pattern: e.g. ``"se*"``.
        include_derived: also list derived corpora (``prediction_fusion``), which read other
            runs' outputs and have no synthetic corpus of their own.
    """
    return REGISTRY.names(pattern, where=lambda cls: include_derived or not cls.derived)


def corpus_class(name: str) -> type[Corpus]:
    """The reader registered under ``name``.

    Raises:
        KeyError: naming the closest registered names when ``name`` is unknown.
    """
    return REGISTRY.get(name)
