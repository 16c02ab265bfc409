"""Corpus cache: parse a partition's CSV/ARFF/HDF5 files once, then memory-map ``.npy`` arrays.

Parsing text corpora is slow (MuSe-CaR's DeepSpectrum set alone is ~500 k rows × 4096 columns of
CSV) and holding the parsed arrays in every process costs their full size in RAM. The first load
of a partition therefore calls the corpus reader (:meth:`~zoo.data.corpus.Corpus.read`) once and
writes every array of every recording to a cache folder as ``.npy``; later loads open those
files with ``np.load(mmap_mode="r")``, so a training run touches (and keeps resident) only the
pages of the windows it reads, and the operating system's page cache is shared by all DataLoader
workers and DDP processes on a machine.

Layout (outside the user's data folder, which is only ever read)::

    <cache_dir>/<corpus_name>/<options hash>/<partition>-<sources hash>/
        manifest.json        format version, options, source files, recordings and their arrays
        r<i>.f<j>.npy        feature set j of recording i (also .t timestamps, .y targets, .m<j> meta)

* **options hash** — the reader class, its reading options (every plain-typed public attribute
  of the reader not in :data:`POST_READ_ATTRIBUTES`: root, features, targets, ``nan_policy``,
  ...) and the cache format version. Two readers reading the same files differently never share
  an entry.
* **source files** — every file the reader opened or looked for while it parsed the partition,
  as logged through :func:`~zoo.data.sources.note_source` (there is no list of files to keep in
  step with the reader), with its size and modification time (ns). An entry is used only while
  all of them are unchanged: changing, touching, adding or removing one (a listed folder counts
  too) rebuilds the partition's entry, and superseded entries are deleted.
* **atomic, concurrent-safe writes** — an entry is written into a private temporary folder and
  renamed into place; when two processes (e.g. DDP ranks) build the same entry at once, the
  second rename fails, that process discards its copy and opens the winner's. Readers only ever
  see a complete entry or none.
* **corruption** — an entry whose manifest is not valid JSON, or whose arrays are missing,
  truncated or of the wrong shape/dtype, is removed and rebuilt with a warning.
* a read that noted no file, or during which a file changed, is used but not cached. A cache
  folder that cannot be written (read-only home, full disk) also falls back to the parsed
  arrays, with a warning.

Arrays opened from the cache are :class:`CachedArray` (an ``np.memmap``) that pickle as their
file path, so DataLoader workers started with *spawn*/*forkserver* reopen the file instead of
receiving a copy of the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.sources import recording_sources, sources_state
from zoo.data.synthetic import cache_dir
from zoo.data.types import Recording

if TYPE_CHECKING:  # pragma: no cover
    from zoo.data.corpus import Corpus

__all__ = [
    "CACHE_FORMAT",
    "POST_READ_ATTRIBUTES",
    "CachedArray",
    "CorpusCache",
    "default_cache_dir",
    "CorruptEntry",
    "read_partition_cached",
    "open_array",
    "reading_options",
]

logger = logging.getLogger(__name__)

#: Bump when the entry layout changes; part of the options hash, so old entries are ignored.
CACHE_FORMAT = 2  # 2: entries carry their source files (format 1 was keyed by a hash of them)
MANIFEST = "manifest.json"

#: Reader attributes that do not change the parsed arrays (the reader holds no loader settings);
#: they are left out of the options hash.
POST_READ_ATTRIBUTES = frozenset(
    {
        "raw_feature_names",  # which sets the datamodule normalises: acts after reading
        "cache_dir",  # where caches live (CMU-MOSEI's alignment cache), not what is read
    }
)


def default_cache_dir() -> Path:
    """``<affect-zoo cache>/corpus-cache`` (see :func:`zoo.data.synthetic.cache_dir`)."""
    return cache_dir() / "corpus-cache"


# --------------------------------------------------------------------------- mapped arrays
class CachedArray(np.memmap):
    """A read-only memory-mapped cache array that pickles as its file path.

    Only the array returned by :func:`open_array` carries the path; slices and other views pickle
    as ordinary (copied) arrays, as a plain ``np.memmap`` would.
    """

    def __reduce__(self) -> Any:
        source = self.__dict__.get("_cache_path")
        if source is not None:
            return (open_array, (source,))
        return np.array(self).__reduce__()


def open_array(path: str | os.PathLike) -> np.ndarray:
    """Memory-map one cached ``.npy`` file read-only (a :class:`CachedArray`)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if not isinstance(array, np.memmap):  # zero-size arrays cannot be mapped
        return array
    mapped = array.view(CachedArray)
    mapped._cache_path = os.fspath(path)
    return mapped


# --------------------------------------------------------------------------- keys
def _plain(value: Any) -> Any:
    """``value`` as JSON-able plain data, or a ``_NotPlain`` marker."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _NOT_PLAIN if any(i is _NOT_PLAIN for i in items) else items
    if isinstance(value, dict):
        items = {str(k): _plain(v) for k, v in value.items()}
        return _NOT_PLAIN if any(i is _NOT_PLAIN for i in items.values()) else dict(sorted(items.items()))
    return _NOT_PLAIN


_NOT_PLAIN = object()


def reading_options(reader: Any) -> dict[str, Any]:
    """What determines the parsed arrays besides the files: class and plain reading attributes.

    Every public, plain-typed (str/number/bool/None/path, and lists/dicts of those) instance
    attribute counts except :data:`POST_READ_ATTRIBUTES`, so a reader's options (``nan_policy``,
    ``use_segment_id``, ...) are included without declaring them.
    """
    options: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "class": f"{type(reader).__module__}.{type(reader).__qualname__}",
    }
    for name, value in sorted(vars(reader).items()):
        if name.startswith("_") or name in POST_READ_ATTRIBUTES:
            continue
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            options[name] = plain
    return options


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- the cache
class CorruptEntry(ValueError):
    """A cache entry that cannot be used (bad manifest, missing or short array)."""

    def __init__(self, entry: Path, message: str) -> None:
        super().__init__(message)
        self.entry = entry


class CorpusCache:
    """Entries of one reader configuration under ``<cache_dir>/<corpus>/<options hash>/``.

    Args:
        cache_dir: root of all corpus caches.
        corpus_name: corpus name (a readable first folder level).
        options: :func:`reading_options` of the reader.
    """

    def __init__(self, cache_dir: str | Path, corpus_name: str, options: dict[str, Any]) -> None:
        self.options = options
        self.folder = Path(cache_dir).expanduser() / corpus_name / _digest(options)[:20]

    def entry_path(self, partition: str, sources: list[list]) -> Path:
        """Folder of the entry of ``partition`` read from files in the state ``sources``."""
        return self.folder / f"{partition}-{_digest(sources)[:20]}"

    def _entries(self, partition: str) -> list[Path]:
        if not self.folder.is_dir():
            return []
        prefix = f"{partition}-"
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.name.startswith(prefix) and len(p.name) == len(prefix) + 20 and p.is_dir()
        )

    # ---------------------------------------------------------------- read
    def open(self, partition: str) -> list[Recording] | None:
        """The cached recordings of an entry whose source files are all unchanged, or ``None``.

        Raises:
            CorruptEntry: an entry exists but is corrupt (bad manifest, missing/short array).
        """
        for entry in self._entries(partition):
            manifest = self._manifest(entry)
            if manifest.get("partition") != partition:
                continue
            stored = manifest.get("sources")
            if not isinstance(stored, list) or not all(isinstance(s, list) and s for s in stored):
                raise CorruptEntry(entry, f"{entry / MANIFEST}: malformed source list")
            if sources_state([s[0] for s in stored]) == stored:
                return self.load(entry, manifest)
        return None

    def _manifest(self, entry: Path) -> dict[str, Any]:
        manifest_path = entry / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CorruptEntry(entry, f"{manifest_path}: unreadable manifest ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
            raise CorruptEntry(entry, f"{manifest_path}: not a format-{CACHE_FORMAT} cache manifest")
        return manifest

    def load(self, entry: Path, manifest: dict[str, Any] | None = None) -> list[Recording]:
        """The recordings of ``entry``, memory-mapped.

        Raises:
            CorruptEntry: a bad manifest or a missing, short or mistyped array.
        """
        manifest = self._manifest(entry) if manifest is None else manifest
        manifest_path = entry / MANIFEST

        def load_array(spec: dict[str, Any]) -> np.ndarray:
            path = entry / spec["file"]
            try:
                array = open_array(path)
            except (OSError, ValueError, EOFError) as err:
                raise CorruptEntry(entry, f"{path}: unreadable cache array ({err})") from None
            if list(array.shape) != list(spec["shape"]) or array.dtype.str != spec["dtype"]:
                raise CorruptEntry(
                    entry,
                    f"{path}: shape {array.shape} / dtype {array.dtype.str}, manifest says "
                    f"{tuple(spec['shape'])} / {spec['dtype']}",
                )
            return array

        try:
            return [
                Recording(
                    id=rec["id"],
                    features={n: load_array(s) for n, s in rec["features"].items()},
                    timestamps=load_array(rec["timestamps"]),
                    targets=None if rec["targets"] is None else load_array(rec["targets"]),
                    meta={n: load_array(s) for n, s in rec["meta"].items()},
                    level=rec.get("level", "frame"),
                )
                for rec in manifest["recordings"]
            ]
        except (KeyError, TypeError) as err:
            raise CorruptEntry(entry, f"{manifest_path}: malformed manifest ({err!r})") from None

    # ---------------------------------------------------------------- write
    def write(self, partition: str, sources: list[list], recordings: Sequence[Recording]) -> Path:
        """Write an entry atomically (temp folder + rename) and return its folder.

        ``sources`` (:func:`~zoo.data.sources.sources_state` of the files the read noted) is
        stored in the manifest. When another process finished the same entry first, its copy is
        kept and ours dropped. Other entries of ``partition`` are removed afterwards.
        """
        entry = self.entry_path(partition, sources)
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{entry.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            records = []
            for i, rec in enumerate(recordings):

                def save(array: np.ndarray, stem: str, rec: Recording = rec, i: int = i) -> dict[str, Any]:
                    array = np.ascontiguousarray(array)
                    if array.dtype.hasobject:
                        raise TypeError(f"recording {rec.id}: object arrays cannot be cached")
                    name = f"r{i}.{stem}.npy"
                    np.save(staging / name, array, allow_pickle=False)
                    return {"file": name, "shape": list(array.shape), "dtype": array.dtype.str}

                records.append(
                    {
                        "id": rec.id,
                        "level": rec.level,
                        "features": {n: save(x, f"f{j}") for j, (n, x) in enumerate(rec.features.items())},
                        "timestamps": save(np.asarray(rec.timestamps), "t"),
                        "targets": None if rec.targets is None else save(rec.targets, "y"),
                        "meta": {n: save(np.asarray(x), f"m{j}") for j, (n, x) in enumerate(rec.meta.items())},
                    }
                )
            manifest = {
                "format": CACHE_FORMAT,
                "partition": partition,
                "sources": sources,
                "options": self.options,
                "recordings": records,
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
            try:
                os.rename(staging, entry)
            except OSError:
                if not (entry / MANIFEST).is_file():
                    raise
                # another process (DDP rank) wrote the same entry first: use theirs
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        for other in self._entries(partition):
            if other != entry:
                self.discard(other)
        return entry

    def discard(self, entry: Path) -> None:
        """Remove an entry (e.g. a corrupt one): renamed aside first, so the removal is atomic."""
        trash = self.folder / f".{entry.name}.trash-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(entry, trash)
        except OSError:
            return  # already gone (another process discarded it)
        shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- entry point
def read_partition_cached(
    corpus: Corpus, partition: str, cache_dir: str | Path | None = None, use_cache: bool = True
) -> list[Recording]:
    """``corpus.read(partition)`` through the corpus cache.

    The first read logs every file the reader opens or looks for
    (:func:`~zoo.data.sources.note_source`) and stores that list, with each file's size and
    modification time, in the entry; a later read reuses the entry while all of them are
    unchanged. Falls back to the plain reader with ``use_cache=False``, when the reader noted no
    file (nothing to check the entry against), when a file changed during the read, or when the
    cache folder cannot be written.

    Args:
        corpus: the reader (its root is resolved here).
        partition: the corpus's own partition name.
        cache_dir: root of the corpus caches; ``None`` → :func:`default_cache_dir`.
        use_cache: ``False`` parses on every call.

    Returns:
        The partition's recordings, memory-mapped from the cache when it is used.
    """
    corpus.resolve_root()
    if not use_cache:
        return corpus.read(partition)
    cache = CorpusCache(cache_dir or default_cache_dir(), corpus.name, reading_options(corpus))
    try:
        cached = cache.open(partition)
    except CorruptEntry as err:
        warnings.warn(f"corrupt corpus cache entry, rebuilding it: {err}", RuntimeWarning, stacklevel=2)
        logger.warning("corrupt corpus cache entry, rebuilding it: %s", err)
        cache.discard(err.entry)
        cached = None
    if cached is not None:
        logger.debug("%s/%s: opened from cache %s", corpus.name, partition, cache.folder)
        return cached
    with recording_sources() as log:
        recordings = corpus.read(partition)
    if not recordings or not log.paths or not log.unchanged_since_read():
        # nothing read, nothing to validate an entry against, or a file changed while it was
        # parsed: use the data, do not cache it
        return recordings
    try:
        entry = cache.write(partition, log.state_when_read(), recordings)
        cached = cache.load(entry)
    except (OSError, TypeError, ValueError) as err:
        warnings.warn(
            f"{corpus.name}/{partition}: corpus cache not written under {cache.folder} "
            f"({err}); using the parsed arrays in memory",
            RuntimeWarning,
            stacklevel=2,
        )
        return recordings
    return cached
