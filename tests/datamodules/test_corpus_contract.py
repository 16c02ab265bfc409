"""The contract every registered corpus reader keeps, checked on its synthetic corpus.

Parametrised over :func:`~zoo.data.registry.list_corpora`, so a new corpus is covered as soon as it
registers; the test suite's toy corpus (``tests/corpora/toy.py``) is loaded first and is one of
them. Per corpus: every partition reads with the declared level and stable feature dimensions;
the files a read notes key the corpus cache (a second read hits it, touching one noted file
rebuilds it) and include every file the read opened from Python; predictions round-trip;
``load_folder`` works or says it is not supported; the ``DataSpec`` survives a weights-only
checkpoint; a garbled file is a :class:`CorpusFormatError` naming it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from zoo.data import create_datamodule
from zoo.data.corpus import Corpus
from zoo.data.registry import corpus_class, list_corpora, register_corpus
from zoo.data.sources import recording_sources
from zoo.data.types import DataSpec, DataSpecError
from zoo.errors import CorpusFormatError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _toy_corpus import load_toy_corpus  # noqa: E402

load_toy_corpus()
CORPORA = list_corpora()

#: the quickest options of a corpus (anything not listed: its defaults)
FAST: dict[str, dict[str, Any]] = {"recola": {"mode": "features"}}
TEXT_SUFFIXES, BINARY_SUFFIXES = (".csv", ".arff"), (".csd", ".pkl", ".h5", ".hdf5")


def make(name: str, root: Path | None = None, **options: Any):
    """The datamodule of ``name`` with its quickest options; a copied root keeps its own folds."""
    extra = dict(FAST.get(name, {}))
    if root is not None and (root / "folds.json").is_file():  # CMU-MOSEI: the synthetic folds
        extra["folds"] = str(root / "folds.json")
    return create_datamodule(name, root=root, num_workers=0, **extra, **options)


@pytest.fixture(scope="module")
def synthetic_roots() -> dict[str, Path]:
    return {}


@pytest.fixture()
def synthetic_root(name: str, synthetic_roots: dict[str, Path]) -> Path:
    """The cached synthetic corpus of ``name`` (written once per session); never modified."""
    if name not in synthetic_roots:
        synthetic_roots[name] = make(name).corpus.resolve_root()
    return synthetic_roots[name]


def linked_copy(src: Path, dst: Path) -> Path:
    """A copy of a corpus made of hard links (fast); :func:`detach` a file before changing it."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)
    return dst


def detach(path: Path) -> Path:
    """Make ``path`` its own file (not a link shared with the cached corpus)."""
    data, st = path.read_bytes(), path.stat()
    path.unlink()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return path


def noted_files(dm, partition: str, root: Path) -> list[Path]:
    """Existing files under ``root`` that a plain read of ``partition`` notes."""
    with recording_sources() as log:
        dm.corpus.read(partition)
    return [Path(p) for p in log.paths if Path(p).is_file() and Path(p).is_relative_to(root)]


# ---------------------------------------------------------------------------- audit hook
_AUDIT: dict[str, Any] = {"installed": False, "root": None, "opened": set()}


def _audit(event: str, args: tuple) -> None:
    root = _AUDIT["root"]
    if root is None or event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if path.startswith(root + os.sep):
        _AUDIT["opened"].add(path)


def opened_under(root: Path):
    """Context collecting the files opened from Python under ``root`` (one audit hook a session)."""
    if not _AUDIT["installed"]:
        sys.addaudithook(_audit)
        _AUDIT["installed"] = True

    class Watch:
        def __enter__(self) -> set[str]:
            _AUDIT["opened"] = set()
            _AUDIT["root"] = os.path.abspath(root)
            return _AUDIT["opened"]

        def __exit__(self, *exc: Any) -> None:
            _AUDIT["root"] = None

    return Watch()


def entries(cache: Path, partition: str) -> dict[str, int]:
    """Corpus cache entries of ``partition`` → their manifest's modification time."""
    return {p.parent.name: p.stat().st_mtime_ns for p in cache.glob(f"*/*/{partition}-*/manifest.json")}


# ---------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", CORPORA)
def test_partitions_read_with_declared_level_and_dims(name: str, synthetic_root: Path) -> None:
    dm = make(name)
    cls = corpus_class(name)
    dims: dict[str, Any] = {}
    for stage in ("train", "val", "test"):
        recordings = dm.raw_recordings(stage)
        assert recordings, f"{name}/{stage}: no recordings"
        for rec in recordings:
            assert rec.level == cls.level == dm.level
            for feature in dm.feature_names:
                shape = rec.features[feature].shape[1:]
                dims.setdefault(feature, shape)
                assert shape == dims[feature], f"{name}/{stage}/{rec.id}: {feature} {shape} vs {dims[feature]}"
            k = len(dm.target_names)
            if cls.level == "frame":
                steps = np.diff(np.asarray(rec.timestamps, np.float64))
                np.testing.assert_allclose(steps, cls.label_step, atol=1e-6, err_msg=f"{name}/{rec.id}")
                assert rec.targets is None or rec.targets.shape == (rec.num_frames, k)
            else:
                assert rec.targets is not None and rec.targets.shape == (k,)
    spec_dims = dm.spec().feature_dims
    for feature, shape in dims.items():
        assert spec_dims[feature] == (int(shape[0]) if len(shape) == 1 else [int(d) for d in shape])


@pytest.mark.parametrize("name", CORPORA)
def test_noted_files_key_the_cache(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    root, cache = linked_copy(synthetic_root, tmp_path / "corpus"), tmp_path / "cache"
    partition = corpus_class(name).partitions["train"]
    plain = make(name, root=root, use_cache=False, cache_dir=cache)
    # completeness: every file opened from Python during a cold read is noted (C-level readers
    # such as h5py do not show here), and a warm read (the reader's own caches filled) notes
    # the same files as the cold one
    with recording_sources() as cold, opened_under(root) as opened:
        plain.corpus.read(partition)
    assert opened and opened <= set(cold.paths), f"opened but not noted: {sorted(opened - set(cold.paths))}"
    with recording_sources() as warm:
        plain.corpus.read(partition)
    assert warm.paths == cold.paths, (
        f"warm read notes other files: missing {sorted(set(cold.paths) - set(warm.paths))},"
        f" extra {sorted(set(warm.paths) - set(cold.paths))}"
    )
    if not {**corpus_class(name).datamodule_defaults, **FAST.get(name, {})}.get("use_cache", True):
        return  # this corpus keeps the corpus cache off by default (CMU-MOSEI)

    def counted(dm):
        calls = []
        read = dm.corpus.read
        dm.corpus.read = lambda p: calls.append(p) or read(p)
        return dm, calls

    first, calls = counted(make(name, root=root, cache_dir=cache))
    recordings = first.raw_recordings("train")
    built = entries(cache, partition)
    assert calls == [partition] and len(built) == 1
    second, calls = counted(make(name, root=root, cache_dir=cache))
    again = second.raw_recordings("train")
    assert calls == [] and entries(cache, partition) == built, "the second read did not hit the cache"
    assert all(isinstance(x, np.memmap) for r in again for x in r.features.values())
    assert [r.id for r in again] == [r.id for r in recordings]
    touched = detach(noted_files(plain, partition, root)[-1])
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third, calls = counted(make(name, root=root, cache_dir=cache))
    third.raw_recordings("train")
    rebuilt = entries(cache, partition)
    assert calls == [partition] and len(rebuilt) == 1 and rebuilt.keys() != built.keys(), (
        f"touching {touched} did not rebuild the cache entry"
    )


@pytest.mark.parametrize("name", CORPORA)
def test_predictions_round_trip(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    dm = make(name)
    partition = dm.partitions["test"]
    recordings = dm.raw_recordings("test")[:2]
    names = list(dm.target_names)
    rng = np.random.default_rng(0)
    written = []
    for rec in recordings:
        shape = (rec.num_frames, len(names)) if dm.level == "frame" else (len(names),)
        preds = rng.uniform(-1, 1, size=shape).astype(np.float32)
        dm.write_predictions(tmp_path, rec, preds, names, partition=partition)
        written.append(preds)
    for rec, preds in zip(recordings, written):
        back = dm.read_predictions(tmp_path, rec, names, partition=partition)
        np.testing.assert_allclose(back, preds, atol=1e-5, err_msg=f"{name}/{rec.id}")


@pytest.mark.parametrize("name", CORPORA)
def test_load_folder(name: str, synthetic_root: Path) -> None:
    dm = make(name, root=synthetic_root)
    if type(dm.corpus).read_folder is Corpus.read_folder:
        with pytest.raises(CorpusFormatError, match="not supported"):
            dm.load_folder()
        return
    recordings = dm.load_folder()
    assert recordings and all(r.level == dm.level for r in recordings)


@pytest.mark.parametrize("name", CORPORA)
def test_data_spec_survives_a_weights_only_checkpoint(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    spec = make(name).spec()
    path = tmp_path / "model.ckpt"
    torch.save({"data_spec": spec.to_dict()}, path)
    stored = torch.load(path, weights_only=True)["data_spec"]
    assert DataSpec.from_dict(stored, source=str(path)) == spec
    with pytest.raises(DataSpecError, match="bogus"):
        DataSpec.from_dict({**stored, "bogus": 1}, source=str(path))


@pytest.mark.parametrize("name", CORPORA)
def test_a_garbled_file_names_itself(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    root, cache = linked_copy(synthetic_root, tmp_path / "corpus"), tmp_path / "cache"
    dm = make(name, root=root, use_cache=False, cache_dir=cache)
    noted = noted_files(dm, dm.partitions["train"], root)
    text = [p for p in noted if p.suffix in TEXT_SUFFIXES]
    binary = [p for p in noted if p.suffix in BINARY_SUFFIXES]
    assert text or binary, f"{name}: no feature/label file among the noted {noted}"
    bad = detach(text[0] if text else binary[0])
    if text:
        bad.write_text("not,a\n1,x\n")
    else:
        bad.write_bytes(b"\x00garbage\xff" * 64)
    with pytest.raises(CorpusFormatError) as err:
        make(name, root=root, use_cache=False, cache_dir=cache).raw_recordings("train")
    assert bad.name in str(err.value)


def test_registry_is_strict() -> None:
    with pytest.raises(KeyError, match="muse_car"):
        corpus_class("muse_carr")

    class ToyCorpus(Corpus):  # another class under a taken name
        name = "toy"

    with pytest.raises(ValueError, match="already registered"):
        register_corpus(ToyCorpus)
    assert corpus_class("toy").__module__ == "tests.corpora.toy"
