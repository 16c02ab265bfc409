"""Frozen feature encoders applied to a partition once and cached with the corpus.

A frozen network in front of a model (e.g. a self-supervised speech encoder with
``freeze="all"``) computes the same outputs for a recording in every epoch and every run. The
datamodule can therefore apply it once per recording when a partition is loaded and keep the
result in the corpus cache (:mod:`zoo.data._cache`), like a parsed partition: the next epoch,
the next run and the DDP processes on the machine read the outputs instead of re-encoding.

The data package knows nothing about the encoder except this protocol (:class:`FeatureEncoder`):
a callable from one recording's ``(T, D)`` array to ``(T, D')``, a ``key`` that identifies its
outputs (a digest of its weights and settings) and the files it came from. The cache entry
depends on

* the base reader's options (:func:`~zoo.data._cache.reading_options`) and the encoders' keys
  (its options hash), and
* the cache files of the raw partition it was computed from, plus any files the encoder names
  as its sources (noted sources): a changed corpus file rebuilds the raw entry, whose new files
  rebuild this one. (The speech encoders of :mod:`zoo.ssl` name none: their key is a digest of
  the weights, which stays the same when a checkpoint rebuilds the encoder without its folder.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zoo.data._cache import read_partition_cached, reading_options
from zoo.data.sources import note_source
from zoo.data.types import Recording

__all__ = ["FeatureEncoder", "EncodedPartitionReader", "encode_partition"]


@runtime_checkable
class FeatureEncoder(Protocol):
    """A frozen transform of one feature set, recording by recording."""

    #: identifies the outputs (weights, config, chunking): part of the cache key
    key: str
    #: files the encoder was read from (noted as sources of the cache entry)
    sources: Sequence[Path]
    #: width of each output frame
    output_dim: int

    def __call__(self, array: np.ndarray) -> np.ndarray:
        """``(T, D)`` → ``(T, output_dim)`` float32."""


class EncodedPartitionReader:
    """A reader of the encoded partition for :func:`~zoo.data._cache.read_partition_cached`.

    Args:
        corpus: the base reader (its options go into the key).
        raw: the partition's raw recordings, as read (memory-mapped from the cache).
        encoders: ``{feature set: encoder}``.
    """

    def __init__(self, corpus: Any, raw: Sequence[Recording], encoders: Mapping[str, FeatureEncoder]) -> None:
        self.name = f"{corpus.name}+encoded"
        self.root = corpus.root
        self.base_options = reading_options(corpus)
        self.encoder_keys = {name: encoder.key for name, encoder in sorted(encoders.items())}
        self._corpus = corpus
        self._raw = list(raw)
        self._encoders = dict(encoders)

    def resolve_root(self) -> Path:
        """The base reader's root."""
        return self._corpus.resolve_root()

    def read(self, partition: str) -> list[Recording]:
        """Encode every recording of the partition (``partition`` names the cache entry)."""
        for encoder in self._encoders.values():
            for path in encoder.sources:
                note_source(path)
        out = []
        for rec in self._raw:
            features = dict(rec.features)
            for name, encoder in self._encoders.items():
                array = features[name]
                filename = getattr(array, "filename", None)  # a memory-mapped raw cache file
                if filename:
                    note_source(filename)
                encoded = np.ascontiguousarray(encoder(np.asarray(array)), np.float32)
                if encoded.shape != (len(array), encoder.output_dim):
                    raise ValueError(
                        f"{rec.id}: encoder of {name!r} returned {encoded.shape}, expected "
                        f"({len(array)}, {encoder.output_dim})"
                    )
                features[name] = encoded
            out.append(dataclasses.replace(rec, features=features))
        return out


def encode_partition(
    corpus: Any,
    partition: str,
    raw: Sequence[Recording],
    encoders: Mapping[str, FeatureEncoder],
    cache_dir: str | Path | None,
    use_cache: bool,
) -> list[Recording]:
    """The partition with ``encoders`` applied, through the corpus cache when it is used.

    Without a usable raw cache (``use_cache=False``, or raw arrays held in memory) the outputs
    are computed in memory: there would be nothing to tie a cache entry to.
    """
    reader = EncodedPartitionReader(corpus, raw, encoders)
    return read_partition_cached(reader, partition, cache_dir, use_cache)
