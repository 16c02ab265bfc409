"""Corpus cache: parse a partition's CSV/ARFF/HDF5 files once, then memory-map ``.npy`` arrays.

Parsing text corpora is slow (MuSe-CaR's DeepSpectrum set alone is ~500 k rows × 4096 columns of
CSV) and holding the parsed arrays in every process costs their full size in RAM. The first load
of a partition therefore calls the datamodule's own reader (``load_partition``) once and writes
every array of every recording to a cache folder as ``.npy``; later loads open those files with
``np.load(mmap_mode="r")``, so a training run touches (and keeps resident) only the pages of the
windows it reads, and the operating system's page cache is shared by all DataLoader workers and
DDP processes on a machine.

Layout (outside the user's data folder, which is only ever read)::

    <cache_dir>/<corpus_name>/<options hash>/<partition>-<sources hash>/
        manifest.json        format version, options, recordings and their arrays
        r<i>.f<j>.npy        feature set j of recording i (also .t timestamps, .y targets, .m<j> meta)

* **options hash** — the datamodule class, its reading options (every plain-typed attribute not
  in :data:`POST_READ_ATTRIBUTES`: root, features, targets, ``nan_policy``, ...) and the cache
  format version. Two datamodules reading the same files differently never share an entry.
* **sources hash** — path, size and modification time (ns) of every file the partition reads, as
  listed by the datamodule's optional hook ``source_files(partition) -> list[Path]``. Changing,
  touching, adding or removing one file changes the hash, so the partition's entry is rebuilt
  (invalidation is per partition: readers parse a whole partition at a time). Superseded
  entries of the same partition are deleted after the rebuild.
* **atomic, concurrent-safe writes** — an entry is written into a private temporary folder and
  renamed into place; when two processes (e.g. DDP ranks) build the same entry at once, the
  second rename fails, that process discards its copy and opens the winner's. Readers only ever
  see a complete entry or none.
* **corruption** — an entry whose manifest is not valid JSON, or whose arrays are missing,
  truncated or of the wrong shape/dtype, is removed and rebuilt with a warning.
* **datamodules without the hook** (returning ``None``) are not cached: their partitions are
  parsed on every load, as before. A cache folder that cannot be written (read-only home,
  full disk) also falls back to the parsed arrays, with a warning.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._sequence import Recording, SequenceDataModule

__all__ = [
    "CACHE_FORMAT",
    "POST_READ_ATTRIBUTES",
    "CachedArray",
    "CorpusCache",
    "default_cache_dir",
    "load_partition_cached",
    "open_array",
    "reading_options",
    "sources_digest",
]

logger = logging.getLogger(__name__)

#: Bump when the entry layout changes; part of the options hash, so old entries are ignored.
CACHE_FORMAT = 1
MANIFEST = "manifest.json"

#: Datamodule attributes that act after reading (windowing, normalisation, loaders, the cache
#: itself): they do not change the parsed arrays and are left out of the options hash.
POST_READ_ATTRIBUTES = frozenset(
    {
        "win_len",
        "hop_len",
        "last_window",
        "batch_size",
        "eval_batch_size",
        "num_workers",
        "normalize",
        "label_shift",
        "feature_delay",
        "normalization",
        "predict_partition",
        "seed",
        "trainer",
        "pin_memory",
        "persistent_workers",
        "cache_dir",
        "use_cache",
        "feature_dims",
        "prepare_data_per_node",
        "allow_zero_length_dataloader_with_multiple_devices",
    }
)


def default_cache_dir() -> Path:
    """``<affect-zoo cache>/corpus-cache`` (see :func:`zoo.data.synthetic.cache_dir`)."""
    from .synthetic import cache_dir

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


def reading_options(datamodule: Any) -> dict[str, Any]:
    """What determines the parsed arrays besides the files: class and plain reading attributes.

    Every public, plain-typed (str/number/bool/None/path, and lists/dicts of those) instance
    attribute counts except :data:`POST_READ_ATTRIBUTES`, so a subclass's reader options
    (``nan_policy``, ``use_segment_id``, ...) are included without declaring them.
    """
    options: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "class": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
    }
    for name, value in sorted(vars(datamodule).items()):
        if name.startswith("_") or name in POST_READ_ATTRIBUTES:
            continue
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            options[name] = plain
    return options


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def sources_digest(files: Iterable[str | os.PathLike]) -> str:
    """Hash of the paths, sizes and modification times (ns) of ``files`` (missing files count)."""
    entries = []
    for path in sorted({os.path.abspath(os.fspath(f)) for f in files}):
        try:
            st = os.stat(path)
            entries.append([path, st.st_size, st.st_mtime_ns])
        except FileNotFoundError:
            entries.append([path, None, None])
    return _digest(entries)


# --------------------------------------------------------------------------- the cache
class CorpusCache:
    """Entries of one datamodule configuration under ``<cache_dir>/<corpus>/<options hash>/``.

    Args:
        cache_dir: root of all corpus caches.
        corpus_name: corpus name (a readable first folder level).
        options: :func:`reading_options` of the datamodule.
    """

    def __init__(self, cache_dir: str | Path, corpus_name: str, options: dict[str, Any]) -> None:
        self.options = options
        self.folder = Path(cache_dir).expanduser() / corpus_name / _digest(options)[:20]

    def entry_path(self, partition: str, digest: str) -> Path:
        """Folder of the entry of ``partition`` for sources hashing to ``digest``."""
        return self.folder / f"{partition}-{digest[:20]}"

    # ---------------------------------------------------------------- read
    def open(self, partition: str, digest: str) -> list["Recording"] | None:
        """The cached recordings, or ``None`` when there is no entry.

        Raises:
            ValueError: the entry exists but is corrupt (bad manifest, missing/short array).
        """
        from ._sequence import Recording

        entry = self.entry_path(partition, digest)
        manifest_path = entry / MANIFEST
        if not entry.is_dir():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{manifest_path}: unreadable manifest ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
            raise ValueError(f"{manifest_path}: not a format-{CACHE_FORMAT} cache manifest")

        def load(spec: dict[str, Any]) -> np.ndarray:
            path = entry / spec["file"]
            try:
                array = open_array(path)
            except (OSError, ValueError, EOFError) as err:
                raise ValueError(f"{path}: unreadable cache array ({err})") from None
            if list(array.shape) != list(spec["shape"]) or array.dtype.str != spec["dtype"]:
                raise ValueError(
                    f"{path}: shape {array.shape} / dtype {array.dtype.str}, manifest says "
                    f"{tuple(spec['shape'])} / {spec['dtype']}"
                )
            return array

        try:
            recordings = []
            for rec in manifest["recordings"]:
                recordings.append(
                    Recording(
                        id=rec["id"],
                        features={n: load(s) for n, s in rec["features"].items()},
                        timestamps=load(rec["timestamps"]),
                        targets=None if rec["targets"] is None else load(rec["targets"]),
                        meta={n: load(s) for n, s in rec["meta"].items()},
                    )
                )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{manifest_path}: malformed manifest ({err!r})") from None
        return recordings

    # ---------------------------------------------------------------- write
    def write(self, partition: str, digest: str, recordings: Sequence["Recording"]) -> Path:
        """Write an entry atomically (temp folder + rename) and return its folder.

        When another process finished the same entry first, its copy is kept and ours dropped.
        Older entries of ``partition`` (other source hashes) are removed afterwards.
        """
        entry = self.entry_path(partition, digest)
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{entry.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            records = []
            for i, rec in enumerate(recordings):

                def save(array: np.ndarray, stem: str) -> dict[str, Any]:
                    array = np.ascontiguousarray(array)
                    if array.dtype.hasobject:
                        raise TypeError(f"recording {rec.id}: object arrays cannot be cached")
                    name = f"r{i}.{stem}.npy"
                    np.save(staging / name, array, allow_pickle=False)
                    return {"file": name, "shape": list(array.shape), "dtype": array.dtype.str}

                records.append(
                    {
                        "id": rec.id,
                        "features": {
                            n: save(x, f"f{j}") for j, (n, x) in enumerate(rec.features.items())
                        },
                        "timestamps": save(np.asarray(rec.timestamps), "t"),
                        "targets": None if rec.targets is None else save(rec.targets, "y"),
                        "meta": {n: save(np.asarray(x), f"m{j}") for j, (n, x) in enumerate(rec.meta.items())},
                    }
                )
            manifest = {"format": CACHE_FORMAT, "partition": partition, "sources": digest,
                        "options": self.options, "recordings": records}
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
        self._remove_stale(partition, keep=entry)
        return entry

    def discard(self, partition: str, digest: str) -> None:
        """Remove an entry (e.g. a corrupt one): renamed aside first, so the removal is atomic."""
        entry = self.entry_path(partition, digest)
        trash = self.folder / f".{entry.name}.trash-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(entry, trash)
        except OSError:
            return  # already gone (another process discarded it)
        shutil.rmtree(trash, ignore_errors=True)

    def _remove_stale(self, partition: str, keep: Path) -> None:
        prefix = f"{partition}-"
        for other in self.folder.iterdir():
            if other != keep and other.name.startswith(prefix) and len(other.name) == len(keep.name):
                shutil.rmtree(other, ignore_errors=True)


# --------------------------------------------------------------------------- entry point
def load_partition_cached(datamodule: "SequenceDataModule", partition: str) -> list["Recording"]:
    """``datamodule.load_partition(partition)`` through the corpus cache.

    Used by :meth:`SequenceDataModule.raw_recordings`. Falls back to the plain reader when the
    datamodule has caching off (``use_cache=False``), does not list its source files
    (``source_files`` returns ``None``), or the cache folder cannot be written.

    Args:
        datamodule: the datamodule (its root must already be resolved).
        partition: the corpus's own partition name.

    Returns:
        The partition's recordings, memory-mapped from the cache when it is used.
    """
    if not getattr(datamodule, "use_cache", False):
        return datamodule.load_partition(partition)
    files = datamodule.source_files(partition)
    if files is None:
        return datamodule.load_partition(partition)
    cache_dir = getattr(datamodule, "cache_dir", None) or default_cache_dir()
    cache = CorpusCache(cache_dir, datamodule.corpus_name, reading_options(datamodule))
    digest = sources_digest(files)
    try:
        cached = cache.open(partition, digest)
    except ValueError as err:
        warnings.warn(f"corrupt corpus cache entry, rebuilding it: {err}", RuntimeWarning, stacklevel=2)
        logger.warning("corrupt corpus cache entry, rebuilding it: %s", err)
        cache.discard(partition, digest)
        cached = None
    if cached is not None:
        logger.debug("%s/%s: opened from cache %s", datamodule.corpus_name, partition, cache.folder)
        return cached
    recordings = datamodule.load_partition(partition)
    if not recordings:
        return recordings
    if sources_digest(datamodule.source_files(partition) or []) != digest:
        # a file changed while it was being parsed: use the data, do not cache it
        return recordings
    try:
        cache.write(partition, digest, recordings)
        cached = cache.open(partition, digest)
    except (OSError, TypeError, ValueError) as err:
        warnings.warn(
            f"{datamodule.corpus_name}/{partition}: corpus cache not written under {cache.folder} "
            f"({err}); using the parsed arrays in memory",
            RuntimeWarning,
            stacklevel=2,
        )
        return recordings
    return cached if cached is not None else recordings
