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
* the cache files of the raw partition it was computed from and that raw entry's own source
  files (the corpus files), plus any files the encoder names as its sources (noted sources): a
  changed corpus file makes this entry stale even when it is opened without the raw one. When the raw partition is not cached (``use_cache=False``, CMU-MOSEI's
  default), it is read inside the encoded entry's read, so the corpus files themselves are its
  sources. (The speech encoders of :mod:`zoo.models.ssl` name none: their key is a digest of the
  weights, which stays the same when a checkpoint rebuilds the encoder without its folder.)

An encoded entry is opened without reading the raw partition at all: at real-corpus size the
raw waveforms are what a frozen encoder spares.

Two optional encoder attributes keep the outputs of a large encoder small on disk:

* ``dtype`` — the storage dtype: ``"float16"`` (half the bytes of float32; arrays are upcast
  to float32 window by window as every cached array is) or ``"float32"`` (the default when the
  attribute is absent). A recording whose outputs overflow float16 (``|x| > 65504``) is stored
  in float32, with a warning; NumPy has no bfloat16, and a memory-mapped array must be one.
* ``pool_by`` — the name of a feature set holding each row's group index (``-1``: no group),
  for segment-level data whose model averages rows into groups anyway (CMU-MOSEI's 20 ms audio
  rows into words): the encoded rows are averaged per group and the recording keeps one row per
  group in index order (groups without rows are left out); the index set becomes ``0..G-1``.
  Averaging commutes with the linear layer weighting that follows, so the model computes the
  same numbers, on ~20× fewer rows.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zoo.data._cache import MANIFEST, read_partition_cached, reading_options
from zoo.data.sources import note_source
from zoo.data.types import Recording

__all__ = [
    "STORAGE_DTYPES",
    "FeatureEncoder",
    "EncodedPartitionReader",
    "encode_partition",
    "pool_rows",
    "storage_array",
]

#: dtypes an encoder may ask its outputs to be stored in (attribute ``dtype``)
STORAGE_DTYPES = ("float16", "float32")
_FLOAT16_MAX = float(np.finfo(np.float16).max)


@runtime_checkable
class FeatureEncoder(Protocol):
    """A frozen transform of one feature set, recording by recording.

    Optional attributes (see the module docstring): ``dtype`` (storage dtype, default
    ``"float32"``) and ``pool_by`` (a feature set of group indices, default ``None``).
    """

    #: identifies the outputs (weights, config, chunking, storage): part of the cache key
    key: str
    #: files the encoder was read from (noted as sources of the cache entry)
    sources: Sequence[Path]
    #: width of each output frame
    output_dim: int

    def __call__(self, array: np.ndarray) -> np.ndarray:
        """``(T, D)`` → ``(T, output_dim)`` float32."""


def storage_array(encoded: np.ndarray, dtype: str, where: str) -> np.ndarray:
    """``encoded`` as a contiguous array of the storage ``dtype``.

    Float16 keeps float32 where a value would overflow it (with a warning naming ``where``).

    Raises:
        ValueError: ``dtype`` is not one of :data:`STORAGE_DTYPES`.
    """
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"{where}: storage dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
    encoded = np.ascontiguousarray(encoded, np.float32)
    if dtype == "float16":
        finite = np.isfinite(encoded)
        if encoded.size and np.abs(encoded[finite]).max(initial=0.0) > _FLOAT16_MAX:
            warnings.warn(
                f"{where}: encoder outputs exceed the float16 range (±{_FLOAT16_MAX:g}); stored as float32",
                RuntimeWarning,
                stacklevel=3,
            )
            return encoded
        return encoded.astype(np.float16)
    return encoded


def pool_rows(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Mean of the rows of each group, groups in increasing index order.

    Args:
        rows: ``(T, D)``.
        index: ``(T,)`` group index of each row (rounded to an int); negative: in no group.

    Returns:
        ``(G, D)`` float32, one row per index that holds at least one row.
    """
    index = np.rint(np.asarray(index, np.float64)).astype(np.int64)
    inside = index >= 0
    groups, inverse = np.unique(index[inside], return_inverse=True)
    sums = np.zeros((len(groups), rows.shape[1]), np.float64)
    np.add.at(sums, inverse, np.asarray(rows, np.float64)[inside])
    counts = np.bincount(inverse, minlength=len(groups))
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


class EncodedPartitionReader:
    """A reader of the encoded partition for :func:`~zoo.data._cache.read_partition_cached`.

    Args:
        corpus: the base reader (its options go into the key).
        read_raw: returns the partition's raw recordings (memory-mapped from the raw cache, or
            parsed); called only when the encoded entry has to be built.
        encoders: ``{feature set: encoder}``.
    """

    def __init__(
        self, corpus: Any, read_raw: Callable[[], Sequence[Recording]], encoders: Mapping[str, FeatureEncoder]
    ) -> None:
        self.name = f"{corpus.name}+encoded"
        self.root = corpus.root
        self.base_options = reading_options(corpus)
        self.encoder_keys = {name: encoder.key for name, encoder in sorted(encoders.items())}
        self._corpus = corpus
        self._read_raw = read_raw
        self._encoders = dict(encoders)

    def resolve_root(self) -> Path:
        """The base reader's root."""
        return self._corpus.resolve_root()

    def read(self, partition: str) -> list[Recording]:
        """Encode every recording of the partition (``partition`` names the cache entry)."""
        for encoder in self._encoders.values():
            for path in encoder.sources:
                note_source(path)
        self._raw_entries: set[Path] = set()
        return [self._encode(rec) for rec in self._read_raw()]

    def _note_raw_entry(self, filename: str) -> None:
        """Note a memory-mapped raw cache file and the corpus files its entry was built from."""
        note_source(filename)
        entry = Path(filename).parent
        if entry in self._raw_entries:
            return
        self._raw_entries.add(entry)
        try:
            sources = json.loads((entry / MANIFEST).read_text())["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            return  # the array's own file still ties the entry to the raw one
        for source in sources:
            note_source(source[0])

    def _encode(self, rec: Recording) -> Recording:
        features, timestamps = dict(rec.features), rec.timestamps
        for name, encoder in self._encoders.items():
            array = features[name]
            filename = getattr(array, "filename", None)  # a memory-mapped raw cache file
            if filename:
                self._note_raw_entry(filename)
            encoded = np.asarray(encoder(np.asarray(array)), np.float32)
            if encoded.shape != (len(array), encoder.output_dim):
                raise ValueError(
                    f"{rec.id}: encoder of {name!r} returned {encoded.shape}, expected "
                    f"({len(array)}, {encoder.output_dim})"
                )
            group = getattr(encoder, "pool_by", None)
            if group is not None:
                others = sorted(set(features) - {name, group})
                if rec.level != "segment" or group not in features or others:
                    raise ValueError(
                        f"{rec.id}: the encoder of {name!r} averages rows per {group!r}, which needs "
                        f"segment-level recordings holding only {name!r} and {group!r} (got level "
                        f"{rec.level!r}, feature sets {sorted(features)})"
                    )
                encoded = pool_rows(encoded, np.asarray(features[group])[:, 0])
                features[group] = np.arange(len(encoded), dtype=np.float32)[:, None]
                timestamps = np.arange(len(encoded), dtype=np.float64)
            features[name] = storage_array(encoded, getattr(encoder, "dtype", "float32"), f"{rec.id}: {name}")
        return dataclasses.replace(rec, features=features, timestamps=timestamps)


def encode_partition(
    corpus: Any,
    partition: str,
    read_raw: Callable[[], Sequence[Recording]],
    encoders: Mapping[str, FeatureEncoder],
    cache_dir: str | Path | None,
    use_cache: bool,
) -> list[Recording]:
    """The partition with ``encoders`` applied, through the corpus cache when it is used.

    ``read_raw`` is called only when the encoded entry is missing or stale. With
    ``use_cache=False`` the outputs are computed in memory.
    """
    reader = EncodedPartitionReader(corpus, read_raw, encoders)
    return read_partition_cached(reader, partition, cache_dir, use_cache)
