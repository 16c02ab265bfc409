"""Corpora of affect-zoo: one plain reader per corpus, one datamodule for all of them.

* :mod:`zoo.data.corpus` — :class:`~zoo.data.corpus.Corpus`, the shape of a corpus reader;
* :mod:`zoo.data.registry` — corpus names (the recipes' ``data.name``) → readers;
* :mod:`zoo.data.datamodule` — :class:`~zoo.data.datamodule.CorpusDataModule`, which reads,
  caches, normalises, windows, batches and distributes any registered corpus;
* :mod:`zoo.data.types` — :class:`~zoo.data.types.Recording` and
  :class:`~zoo.data.types.DataSpec`, shared with the models and checkpoints.

::

    dm = create_datamodule("muse_car", root=None, features=["egemaps"])

``root=None`` selects the built-in synthetic corpus written in the real layout. This package
never imports the model side of affect-zoo.
"""

from __future__ import annotations

from typing import Any

from zoo.data.datamodule import CorpusDataModule
from zoo.data.registry import corpus_class, list_corpora, register_corpus

__all__ = [
    "CorpusDataModule",
    "create_datamodule",
    "list_corpora",
    "corpus_class",
    "register_corpus",
]


def create_datamodule(name: str, **kwargs: Any) -> CorpusDataModule:
    """The :class:`~zoo.data.datamodule.CorpusDataModule` of corpus ``name`` with ``kwargs``
    (``data.args``)."""
    return CorpusDataModule(name, **kwargs)
