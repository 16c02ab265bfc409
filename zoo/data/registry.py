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

import difflib
import fnmatch
import importlib
from importlib.metadata import entry_points
from typing import TypeVar

from zoo.data.corpus import Corpus

__all__ = ["CORPUS_MODULES", "ENTRY_POINT_GROUP", "register_corpus", "corpus_class", "list_corpora"]

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

_C = TypeVar("_C", bound=type)
_CORPORA: dict[str, type[Corpus]] = {}
_loaded = False


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
    existing = _CORPORA.get(cls.name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"corpus name {cls.name!r} is already registered by {existing.__module__}.{existing.__qualname__}"
        )
    _CORPORA[cls.name] = cls
    return cls


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    for name, module in CORPUS_MODULES.items():
        importlib.import_module(module)  # a missing or broken module raises here
        if name not in _CORPORA:
            raise ImportError(f"{module} was imported but registered no corpus {name!r}")
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        # an installed package's corpus: ``[project.entry-points."affect_zoo.corpora"] name = "pkg.module"``
        before = set(_CORPORA)
        entry.load()
        if entry.name not in _CORPORA:
            added = sorted(set(_CORPORA) - before)
            raise ImportError(
                f"entry point {entry.name!r} ({entry.value}) of group {ENTRY_POINT_GROUP!r} registered "
                f"no corpus {entry.name!r} (it registered {added or 'nothing'})"
            )
    _loaded = True


def list_corpora(pattern: str = "*", include_derived: bool = False) -> list[str]:
    """Registered corpus names matching a shell-style ``pattern``, sorted.

    Args:
        pattern: e.g. ``"se*"``.
        include_derived: also list derived corpora (``prediction_fusion``), which read other
            runs' outputs and have no synthetic corpus of their own.
    """
    _load_builtin()
    return sorted(n for n, c in _CORPORA.items() if fnmatch.fnmatch(n, pattern) and (include_derived or not c.derived))


def corpus_class(name: str) -> type[Corpus]:
    """The reader registered under ``name``.

    Raises:
        KeyError: naming the closest registered names when ``name`` is unknown.
    """
    _load_builtin()
    try:
        return _CORPORA[name]
    except KeyError:
        close = difflib.get_close_matches(name, _CORPORA, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown corpus {name!r}.{hint} Registered: {', '.join(sorted(_CORPORA))}") from None
