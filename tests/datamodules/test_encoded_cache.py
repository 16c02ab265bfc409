"""Frozen feature encoders applied once per recording and cached with the corpus
(zoo/data/_encoded.py, CorpusDataModule.attach_feature_encoder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.corpus import Corpus
from zoo.data.datamodule import CorpusDataModule
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.errors import ConfigError

WEIGHTS = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)


class WaveCorpus(Corpus):
    """``<root>/<partition>/<name>.npy``: (T, 7) = 6 raw 'samples' per frame + the target."""

    name = "wavetest"
    level = "frame"
    label_step = 0.1
    partitions = {"train": "train", "val": "dev", "test": "test"}
    targets = ("arousal",)
    default_features = ("wave",)

    def __init__(self, root=None, features=None, targets=None, synthetic_seed=0) -> None:
        super().__init__(root, features, targets, synthetic_seed)
        self.raw_feature_names = ("wave",)

    def read(self, partition: str) -> list[Recording]:
        folder = note_source(self.resolve_root() / partition)
        out = []
        for path in sorted(folder.glob("*.npy")):
            data = np.load(note_source(path))
            times = np.arange(len(data)) * 0.1
            out.append(Recording(id=path.stem, features={"wave": data[:, :6]}, timestamps=times, targets=data[:, 6:]))
        return out

    def read_folder(self) -> list[Recording]:
        raise NotImplementedError

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options) -> Path:
        rng = np.random.default_rng(seed)
        for part, count in (("train", 3), ("dev", 2), ("test", 2)):
            (out_dir / part).mkdir(parents=True)
            for i in range(count):
                np.save(out_dir / part / f"{part}_{i}.npy", rng.normal(size=(30 + i, 7)).astype(np.float32))
        return out_dir


class CountingEncoder:
    """A frozen 'encoder': a fixed linear map, counting the recordings it encodes."""

    def __init__(self, key: str, scale: float = 1.0) -> None:
        self.key, self.sources, self.output_dim = key, [], 3
        self.scale, self.calls = scale, 0

    def __call__(self, array: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (np.asarray(array) @ WEIGHTS * self.scale).astype(np.float32)


@pytest.fixture
def corpus_root(tmp_path):
    return WaveCorpus.write_synthetic(tmp_path / "corpus")


def _dm(root, cache, **kw):
    return CorpusDataModule(WaveCorpus, root=root, cache_dir=cache, num_workers=0, win_len=10, hop_len=5, **kw)


def test_outputs_are_encoded_once_and_reused(corpus_root, tmp_path):
    cache = tmp_path / "cache"
    plain = WaveCorpus(root=corpus_root).read("train")
    dm = _dm(corpus_root, cache)
    enc = CountingEncoder("a")
    dm.attach_feature_encoder("wave", enc)
    got = dm.raw_recordings("train")
    assert enc.calls == 3
    for rec, raw in zip(got, plain):
        np.testing.assert_allclose(np.asarray(rec.features["wave"]), raw.features["wave"] @ WEIGHTS, rtol=1e-6)
        np.testing.assert_array_equal(rec.targets, raw.targets)
    assert dm.feature_dims["wave"] == 6  # the raw width: what the model reads without the cache
    assert (cache / "wavetest+encoded").is_dir()
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["wave"].shape[-1] == 3

    again = _dm(corpus_root, cache)
    enc2 = CountingEncoder("a")
    again.attach_feature_encoder("wave", enc2)
    again.raw_recordings("train")
    again.raw_recordings("val")
    assert enc2.calls == 2  # train from the cache; val encoded now

    other = _dm(corpus_root, cache)
    enc3 = CountingEncoder("b", scale=2.0)  # other weights: another entry
    other.attach_feature_encoder("wave", enc3)
    recs = other.raw_recordings("train")
    assert enc3.calls == 3
    np.testing.assert_allclose(np.asarray(recs[0].features["wave"]), plain[0].features["wave"] @ WEIGHTS * 2, rtol=1e-6)


def test_a_changed_corpus_file_rebuilds_the_encoded_entry(corpus_root, tmp_path):
    cache = tmp_path / "cache"
    dm = _dm(corpus_root, cache)
    dm.attach_feature_encoder("wave", CountingEncoder("a"))
    dm.raw_recordings("train")
    path = corpus_root / "train" / "train_0.npy"
    data = np.load(path)
    data[:, :6] += 1.0
    np.save(path, data)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    fresh = _dm(corpus_root, cache)
    enc = CountingEncoder("a")
    fresh.attach_feature_encoder("wave", enc)
    recs = fresh.raw_recordings("train")
    assert enc.calls == 3
    np.testing.assert_allclose(np.asarray(recs[0].features["wave"]), data[:, :6] @ WEIGHTS, rtol=1e-5)


def test_without_the_cache_outputs_are_computed_each_time(corpus_root, tmp_path):
    for _ in range(2):
        dm = _dm(corpus_root, tmp_path / "cache", use_cache=False)
        enc = CountingEncoder("a")
        dm.attach_feature_encoder("wave", enc)
        dm.raw_recordings("train")
        assert enc.calls == 3
    assert not (tmp_path / "cache" / "wavetest+encoded").exists()


def test_only_raw_feature_sets_can_be_encoded(corpus_root, tmp_path):
    dm = _dm(corpus_root, tmp_path / "cache")
    with pytest.raises(ConfigError, match="cannot encode feature set 'other'"):
        dm.attach_feature_encoder("other", CountingEncoder("a"))
    with pytest.raises(TypeError, match="must have key, sources, output_dim"):
        dm.attach_feature_encoder("wave", lambda x: x)


def test_an_encoder_of_the_wrong_width_is_an_error(corpus_root, tmp_path):
    dm = _dm(corpus_root, tmp_path / "cache")
    enc = CountingEncoder("a")
    enc.output_dim = 4
    dm.attach_feature_encoder("wave", enc)
    with pytest.raises(ValueError, match=r"encoder of 'wave' returned \(30, 3\), expected \(30, 4\)"):
        dm.raw_recordings("train")


# --------------------------------------------------------------------------- storage and pooling
def test_float16_storage_halves_the_entry_and_keeps_float32_on_overflow():
    from zoo.data._encoded import storage_array

    x = np.random.default_rng(1).normal(scale=30.0, size=(50, 8)).astype(np.float32)
    half = storage_array(x, "float16", "rec: wave")
    assert half.dtype == np.float16 and half.nbytes == x.nbytes // 2
    np.testing.assert_allclose(half.astype(np.float32), x, rtol=2.0**-11)  # float16: 11 significant bits
    x[3, 2] = 7.0e4  # beyond float16's 65504
    with pytest.warns(RuntimeWarning, match="rec: wave: encoder outputs exceed the float16 range"):
        kept = storage_array(x, "float16", "rec: wave")
    assert kept.dtype == np.float32 and kept[3, 2] == np.float32(7.0e4)
    assert storage_array(x, "float32", "rec: wave").dtype == np.float32
    with pytest.raises(ValueError, match="storage dtype must be one of"):
        storage_array(x, "bfloat16", "rec: wave")


def test_pool_rows_matches_a_loop():
    from zoo.data._encoded import pool_rows

    rng = np.random.default_rng(2)
    rows = rng.normal(size=(30, 4)).astype(np.float32)
    index = rng.integers(-1, 6, size=30).astype(np.float32)
    index[index == 2] = -1  # a group without rows is left out
    got = pool_rows(rows, index)
    expected = [rows[index == g].astype(np.float64).mean(0) for g in range(6) if (index == g).any()]
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-6)


def test_a_float16_encoder_entry_serves_float32_windows(corpus_root, tmp_path):
    dm = _dm(corpus_root, tmp_path / "cache")
    enc = CountingEncoder("a")
    enc.dtype = "float16"
    dm.attach_feature_encoder("wave", enc)
    recs = dm.raw_recordings("train")
    assert recs[0].features["wave"].dtype == np.float16
    plain = WaveCorpus(root=corpus_root).read("train")
    np.testing.assert_allclose(
        np.asarray(recs[0].features["wave"], np.float32), plain[0].features["wave"] @ WEIGHTS, rtol=2e-3, atol=2e-3
    )
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["wave"].dtype == torch.float32


def test_an_encoded_entry_is_opened_without_reading_the_raw_partition(corpus_root, tmp_path, monkeypatch):
    """``use_cache=False`` (raw never cached) with ``cache_encoded=True``: the encoded entry keys
    on the corpus files themselves; the raw reader runs only to build it."""
    reads = []
    original = WaveCorpus.read
    monkeypatch.setattr(WaveCorpus, "read", lambda self, p: reads.append(p) or original(self, p))
    cache = tmp_path / "cache"
    for expected_reads in (1, 0):
        dm = _dm(corpus_root, cache, use_cache=False, cache_encoded=True)
        dm.feature_dims = {"wave": 6}  # known: attaching reads nothing
        enc = CountingEncoder("a")
        dm.attach_feature_encoder("wave", enc)
        reads.clear()
        dm.raw_recordings("train")
        assert len(reads) == expected_reads and enc.calls == 3 * expected_reads
    assert not (cache / "wavetest").exists()  # the raw partition was not cached
    with pytest.raises(ConfigError, match="data.args.cache_encoded must be true, false or null, got 'yes'"):
        _dm(corpus_root, cache, cache_encoded="yes")
    path = corpus_root / "train" / "train_1.npy"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))  # a changed corpus file
    dm = _dm(corpus_root, cache, use_cache=False, cache_encoded=True)
    dm.feature_dims = {"wave": 6}
    enc = CountingEncoder("a")
    dm.attach_feature_encoder("wave", enc)
    dm.raw_recordings("train")
    assert enc.calls == 3


class SegmentCorpus(WaveCorpus):
    """Segment level: each ``.npy`` is one segment, its rows grouped into 'words' (column 7)."""

    name = "segtest"
    level = "segment"
    default_features = ("wave", "word")

    def __init__(self, root=None, features=None, targets=None, synthetic_seed=0) -> None:
        super().__init__(root, features, targets, synthetic_seed)
        self.raw_feature_names = ("wave", "word")

    def read(self, partition: str) -> list[Recording]:
        out = []
        for path in sorted(note_source(self.resolve_root() / partition).glob("*.npy")):
            data = np.load(note_source(path))
            word = (np.arange(len(data)) // 4).astype(np.float32)
            word[::5] = -1  # rows between words
            out.append(
                Recording(
                    id=path.stem,
                    features={"wave": data[:, :6], "word": word[:, None]},
                    timestamps=np.arange(len(data), dtype=np.float64),
                    targets=data[0, 6:],
                    level="segment",
                )
            )
        return out


def test_rows_are_cached_per_word_for_an_encoder_that_pools_them(corpus_root, tmp_path):
    from zoo.data._encoded import pool_rows

    dm = CorpusDataModule(SegmentCorpus, root=corpus_root, cache_dir=tmp_path / "cache", num_workers=0, win_len=None)
    enc = CountingEncoder("a")
    enc.pool_by = "word"
    dm.attach_feature_encoder("wave", enc)
    recs = dm.raw_recordings("train")
    for rec, raw in zip(recs, SegmentCorpus(root=corpus_root).read("train")):
        expected = pool_rows(raw.features["wave"] @ WEIGHTS, raw.features["word"][:, 0])
        np.testing.assert_allclose(np.asarray(rec.features["wave"]), expected, rtol=1e-5)
        assert np.asarray(rec.features["word"])[:, 0].tolist() == list(range(len(expected)))
        assert rec.num_frames == len(expected) < raw.num_frames
    frame_level = _dm(corpus_root, tmp_path / "cache2")
    enc = CountingEncoder("a")
    enc.pool_by = "wave"
    frame_level.attach_feature_encoder("wave", enc)
    with pytest.raises(ValueError, match="averages rows per 'wave', which needs segment-level recordings"):
        frame_level.raw_recordings("train")
