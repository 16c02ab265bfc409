"""Frozen feature encoders applied once per recording and cached with the corpus
(zoo/data/_encoded.py, CorpusDataModule.attach_feature_encoder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

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
