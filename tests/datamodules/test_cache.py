"""Corpus cache (zoo.data._cache) and the memory-mapped, per-window data path."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import stat
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo.data._sequence as sequence
from zoo.data._cache import CorpusCache, open_array, reading_options
from zoo.data._normalize import FeatureNormalizer
from zoo.data._sequence import (
    Recording,
    SequenceDataset,
    compute_feature_stats,
    default_num_workers,
)
from zoo.data.corpora.muse_car.reader import MuSeCaRCorpus, label_path
from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car
from zoo.data.corpus import Corpus
from zoo.data.datamodule import CorpusDataModule

CALLS: Counter = Counter()


class CountingMuSeCaR(MuSeCaRCorpus):
    """The MuSe-CaR reader, counting calls of its parser per partition."""

    def read(self, partition: str) -> list[Recording]:
        CALLS[partition] += 1
        return super().read(partition)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic MuSe-CaR (3/2/2 videos, eGeMAPS + VGGish) shared by the tests (read only)."""
    return write_synthetic_muse_car(
        tmp_path_factory.mktemp("cache-corpus") / "muse",
        seed=3,
        n_videos={"train": 3, "devel": 2, "test": 2},
        feature_sets=["egemaps", "vggish"],
        segment_frames=(60, 120),
    )


@pytest.fixture()
def own_corpus(corpus: Path, tmp_path: Path) -> Path:
    """A private copy the test may modify."""
    return Path(shutil.copytree(corpus, tmp_path / "corpus"))


def make(root: Path, cache: Path | None = None, **kw) -> CorpusDataModule:
    args = dict(features=["egemaps", "vggish"], win_len=20, hop_len=10, batch_size=4)
    args.update(kw)
    return CorpusDataModule(CountingMuSeCaR, root=root, cache_dir=cache, **args)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def entries(cache: Path, partition: str) -> list[Path]:
    return [p for p in cache.rglob(f"{partition}-*") if p.is_dir()]


def test_second_load_opens_the_cache_without_parsing(corpus: Path, tmp_path: Path):
    CALLS.clear()
    cache = tmp_path / "cache"
    first = make(corpus, cache).raw_recordings("train")
    assert CALLS["train"] == 1
    second = make(corpus, cache).raw_recordings("train")
    assert CALLS["train"] == 1  # opened from the cache, parser not called
    parsed = make(corpus, cache, use_cache=False).raw_recordings("train")
    assert CALLS["train"] == 2
    for _, b, p in zip(first, second, parsed):
        assert isinstance(b.features["egemaps"], np.memmap) and isinstance(b.targets, np.memmap)
        assert not isinstance(p.features["egemaps"], np.memmap)
        assert b.id == p.id and b.features["vggish"].dtype == np.float32
        np.testing.assert_array_equal(b.features["vggish"], p.features["vggish"])
        np.testing.assert_array_equal(b.targets, p.targets)
        np.testing.assert_array_equal(b.timestamps, p.timestamps)
        np.testing.assert_array_equal(b.meta["segment_id"], p.meta["segment_id"])
    # another reading option (a different feature list) is another entry
    make(corpus, cache, features=["egemaps"]).raw_recordings("train")
    assert CALLS["train"] == 3 and len(entries(cache, "train")) == 2


def test_changed_label_file_rebuilds_only_its_partition(own_corpus: Path, tmp_path: Path):
    CALLS.clear()
    cache = tmp_path / "cache"
    dm = make(own_corpus, cache)
    video = dm.raw_recordings("train")[1].id
    dm.raw_recordings("val")
    assert CALLS == Counter(train=1, devel=1)
    path = label_path(own_corpus, "valence", video)
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[1] = "0.98765"
    path.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    fresh = make(own_corpus, cache)
    rec = fresh.raw_recordings("train")[1]
    fresh.raw_recordings("val")
    assert CALLS == Counter(train=2, devel=1)  # train rebuilt, devel still cached
    assert rec.targets[0, 1] == np.float32(0.98765)
    assert len(entries(cache, "train")) == 1  # the stale entry is gone
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # touch
    make(own_corpus, cache).raw_recordings("train")
    assert CALLS["train"] == 3


@pytest.mark.parametrize("damage", ["truncate_array", "bad_manifest", "missing_array"])
def test_corrupt_entry_is_rebuilt_with_a_warning(corpus: Path, tmp_path: Path, damage: str):
    CALLS.clear()
    cache = tmp_path / "cache"
    expected = [r.features["vggish"].copy() for r in make(corpus, cache).raw_recordings("train")]
    (entry,) = entries(cache, "train")
    if damage == "truncate_array":
        target = entry / "r1.f1.npy"
        target.write_bytes(target.read_bytes()[:-100])
    elif damage == "bad_manifest":
        (entry / "manifest.json").write_text('{"format": 1, "recordings": [')
    else:
        (entry / "r0.t.npy").unlink()
    with pytest.warns(RuntimeWarning, match="corrupt corpus cache entry"):
        rebuilt = make(corpus, cache).raw_recordings("train")
    assert CALLS["train"] == 2
    for x, rec in zip(expected, rebuilt):
        np.testing.assert_array_equal(rec.features["vggish"], x)
    make(corpus, cache).raw_recordings("train")  # healthy again: no reparse
    assert CALLS["train"] == 2


def test_read_only_data_folder_is_never_written(own_corpus: Path, tmp_path: Path):
    before = listing(own_corpus)
    for p in [own_corpus, *own_corpus.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        dm = make(own_corpus, tmp_path / "cache")
        dm.setup("fit")
        next(iter(dm.train_dataloader()))
        make(own_corpus, tmp_path / "cache").raw_recordings("train")
        assert listing(own_corpus) == before  # tests run as root: check nothing was written
        assert entries(tmp_path / "cache", "train")
    finally:
        for p in [own_corpus, *own_corpus.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _batches(dm: CorpusDataModule, stage: str) -> list[dict]:
    dm.setup("fit")
    loader = dm.train_dataloader() if stage == "train" else dm.val_dataloader()
    return list(loader)


def test_batches_identical_with_and_without_cache_and_to_whole_recording_preparation(corpus: Path, tmp_path: Path):
    kw = dict(label_shift=1.0, feature_delay={"vggish": -0.5}, cache=tmp_path / "cache")
    make(corpus, **kw).raw_recordings("train")  # build the cache
    cached = make(corpus, **kw)
    plain = make(corpus, **{**kw, "use_cache": False})
    assert isinstance(cached.raw_recordings("train")[0].features["egemaps"], np.memmap)
    for stage in ("train", "val"):
        for a, b in zip(_batches(cached, stage), _batches(plain, stage), strict=True):
            for name in ("egemaps", "vggish"):
                assert a["features"][name].dtype == torch.float32
                assert torch.equal(a["features"][name], b["features"][name])
            assert torch.equal(a["targets"], b["targets"]) and torch.equal(a["mask"], b["mask"])
            assert a["ids"] == b["ids"] and torch.equal(a["starts"], b["starts"])
    # per-window delay + the step's normalisation == prepare_features on whole recordings, then
    # the window
    prepared = SequenceDataset(cached.recordings("train"), 2, win_len=20, hop_len=10)
    lazy = cached.train_dataloader().dataset
    normalizer = FeatureNormalizer.from_spec(cached.data_spec()["normalization"])
    assert len(prepared) == len(lazy)
    for i in range(len(lazy)):
        window = normalizer({n: torch.from_numpy(x) for n, x in lazy[i]["features"].items()})
        for name in ("egemaps", "vggish"):
            np.testing.assert_array_equal(window[name].numpy(), prepared[i]["features"][name])


def test_normalisation_stats_stream_over_memmaps_in_chunks(corpus: Path, tmp_path: Path, monkeypatch):
    recs = make(corpus, tmp_path / "cache").raw_recordings("train")
    monkeypatch.setattr(sequence, "_STATS_CHUNK_BYTES", 8 * 88 * 7)  # 7 frames per chunk
    stats = compute_feature_stats(recs, ["egemaps"])["egemaps"]
    allx = np.concatenate([np.asarray(r.features["egemaps"], np.float64) for r in recs])
    np.testing.assert_allclose(stats.mean, allx.sum(0) / len(allx), rtol=1e-10)
    np.testing.assert_allclose(stats.std, np.sqrt(((allx - allx.mean(0)) ** 2).mean(0)), rtol=1e-9)


def test_cached_arrays_pickle_as_their_path(corpus: Path, tmp_path: Path):
    rec = make(corpus, tmp_path / "cache").raw_recordings("train")[0]
    x = rec.features["vggish"]
    blob = pickle.dumps(x)
    assert len(blob) < 1000 < x.nbytes
    y = pickle.loads(blob)
    assert isinstance(y, np.memmap)
    np.testing.assert_array_equal(x, y)
    window = pickle.loads(pickle.dumps(x[3:5]))  # a view pickles its values
    np.testing.assert_array_equal(window, x[3:5])


class _NotesNothing(Corpus):
    """A reader that opens no file (nothing to check a cache entry against)."""

    name = "notes_nothing"
    label_step = 0.25
    targets = ("arousal", "valence")

    def read(self, partition: str) -> list[Recording]:
        CALLS[partition] += 1
        x = np.arange(24, dtype=np.float32).reshape(8, 3)
        return [Recording("a", {"a": x}, np.arange(8) * 0.25, np.zeros((8, 2), np.float32))]


def test_a_read_that_notes_no_file_is_not_cached(tmp_path: Path):
    CALLS.clear()
    for _ in range(2):
        CorpusDataModule(_NotesNothing, root=tmp_path, features=["a"], cache_dir=tmp_path / "cache").raw_recordings(
            "train"
        )
    assert CALLS["train"] == 2 and not (tmp_path / "cache").exists()


def test_loader_defaults_on_cpu_and_gpu(corpus: Path, tmp_path: Path, monkeypatch):
    assert default_num_workers(cuda=False) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_num_workers(cuda=True) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_num_workers(cuda=True) == 4
    dm = make(corpus, tmp_path / "cache")
    assert dm.num_workers == (4 if torch.cuda.is_available() else 0)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.num_workers == dm.num_workers and loader.persistent_workers == (dm.num_workers > 0)
    assert loader.pin_memory == torch.cuda.is_available()


def _build(root: str, cache: str, queue) -> None:
    recs = make(Path(root), Path(cache)).raw_recordings("train")
    queue.put([float(np.asarray(r.features["egemaps"]).sum()) for r in recs])


@pytest.mark.slow
def test_two_processes_building_at_once_share_one_entry(corpus: Path, tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build, args=(str(corpus), str(tmp_path / "c"), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == results[1]
    assert len(entries(tmp_path / "c", "train")) == 1
    assert not [p for p in (tmp_path / "c").rglob(".*tmp-*")]  # no staging left behind


def test_reading_options_ignore_loader_settings(corpus: Path, tmp_path: Path):
    a = reading_options(make(corpus, tmp_path, batch_size=4, win_len=20, seed=1).corpus)
    b = reading_options(
        make(corpus, tmp_path, batch_size=64, win_len=None, seed=2, num_workers=2, last_window="remainder").corpus
    )
    assert a == b
    c = reading_options(make(corpus, tmp_path, nan_policy="interpolate").corpus)
    assert c != a and c["nan_policy"] == "interpolate"
    assert CorpusCache(tmp_path, "muse_car", a).folder != CorpusCache(tmp_path, "muse_car", c).folder


def test_open_array_round_trip(tmp_path: Path):
    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.int16).reshape(3, 2))
    x = open_array(tmp_path / "x.npy")
    assert isinstance(x, np.memmap) and not x.flags.writeable and x.tolist() == [[0, 1], [2, 3], [4, 5]]
