"""The corpus cache on RECOLA (raw media and ARFF features) and SEWA (features, turns, text).

The cache machinery itself is tested on MuSe-CaR in ``test_cache.py``; here each reader's noting
of the files it reads is checked: a second load opens the cache without parsing and returns the
same arrays, and changing any one kind of source file (a WAV, an ARFF, a turn file, a train
transcription behind the bag-of-words vocabulary) rebuilds the entry.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import Recording
from zoo.data.corpora.recola.reader import RecolaCorpus
from zoo.data.corpora.recola.synthetic import write_synthetic_recola
from zoo.data.corpora.sewa.reader import SewaCorpus
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa
from zoo.data.datamodule import CorpusDataModule
from zoo.data.sources import recording_sources

CALLS: Counter = Counter()


class _CountingRecola(RecolaCorpus):
    def read(self, partition: str) -> list[Recording]:
        CALLS["recola", partition] += 1
        return super().read(partition)


class _CountingSewa(SewaCorpus):
    def read(self, partition: str) -> list[Recording]:
        CALLS["sewa", partition] += 1
        return super().read(partition)


def CountingRecola(**options) -> CorpusDataModule:
    return CorpusDataModule(_CountingRecola, **options)


def CountingSewa(**options) -> CorpusDataModule:
    return CorpusDataModule(_CountingSewa, **options)


@pytest.fixture(scope="module")
def recola(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_recola(
        tmp_path_factory.mktemp("recola") / "c",
        seed=2,
        n_per_partition=2,
        duration_s=3.0,
        video_size=32,
        feature_sets=["audio"],
    )


@pytest.fixture(scope="module")
def sewa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_sewa(
        tmp_path_factory.mktemp("sewa") / "c", seed=2, counts={"Train": 2, "Devel": 1, "Test": 1}
    )


def _touch(path: Path) -> None:
    """Change ``path``'s modification time (the content stays the same)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _same(a: list[Recording], b: list[Recording]) -> None:
    assert [r.id for r in a] == [r.id for r in b]
    for x, y in zip(a, b):
        assert sorted(x.features) == sorted(y.features)
        for name in x.features:
            assert x.features[name].dtype == y.features[name].dtype
            np.testing.assert_array_equal(x.features[name], y.features[name])
        np.testing.assert_array_equal(x.targets, y.targets)
        np.testing.assert_array_equal(x.timestamps, y.timestamps)


def _noted(dm: CorpusDataModule, partition: str, root: Path) -> set[str]:
    """The files (relative to ``root``) the reader notes while it reads ``partition``."""
    with recording_sources() as log:
        dm.corpus.read(partition)
    return {Path(p).relative_to(root.resolve()).as_posix() for p in log.paths}


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            dict(mode="raw", features=["audio", "video"], face_size=16),
            ["recordings_audio/dev_1.wav", "recordings_video/dev_2.mp4", "ratings_gold_standard/valence/dev_1.arff"],
        ),
        (
            dict(features=["audio"]),
            ["features_audio/arousal/dev_1.arff", "ratings_gold_standard/arousal/dev_2.arff"],
        ),
        (
            dict(features=["audio"], ratings="mean"),
            ["ratings_individual/arousal/dev_1.csv", "ratings_individual/valence/dev_2.csv"],
        ),
    ],
    ids=["raw", "features", "mean_ratings"],
)
def test_recola_notes_the_files_it_reads(recola: Path, options: dict, expected: list[str]):
    noted = _noted(CorpusDataModule("recola", root=recola, use_cache=False, **options), "dev", recola)
    assert set(expected) <= noted, sorted(noted)
    assert not any(n.startswith(("recordings_", "ratings_individual")) and "train_" in n for n in noted)


def test_sewa_notes_every_file_it_reads_and_the_train_transcriptions(sewa: Path):
    dm = CorpusDataModule(
        "sewa", root=sewa, features=["audio_features_xbow_6s", "text_bow"], interlocutor="doubled", use_cache=False
    )
    noted = _noted(dm, "Devel", sewa)
    expected = {
        "turns/Devel_01.csv",
        "audio_features_xbow_6s/Devel_01.csv",
        "labels/Devel_01.csv",
        "transcriptions/Devel_01.csv",
        "transcriptions/Train_01.csv",  # behind the bag-of-words vocabulary
        "transcriptions/Train_02.csv",
    }
    assert expected <= noted, sorted(noted)


def test_recola_raw_media_are_parsed_once_and_a_changed_wav_rebuilds(recola: Path, tmp_path: Path):
    CALLS.clear()
    root = Path(shutil.copytree(recola, tmp_path / "corpus"))
    cache = tmp_path / "cache"

    def make(**kw):
        return CountingRecola(root=root, mode="raw", features=["audio", "video"], face_size=16, cache_dir=cache, **kw)

    first = make().raw_recordings("train")
    second = make().raw_recordings("train")
    assert CALLS["recola", "train"] == 1
    assert isinstance(second[0].features["video"], np.memmap)
    assert second[0].features["video"].dtype == np.uint8 and second[0].features["audio"].shape[1] == 640
    _same(first, second)
    _same(second, make(use_cache=False).raw_recordings("train"))
    assert CALLS["recola", "train"] == 2
    # unlabelled test recordings (as in the real release) are cached too, with targets None
    for name in ("arousal", "valence"):
        (root / "ratings_gold_standard" / name / "test_1.arff").unlink()
    assert make().raw_recordings("test")[0].targets is None
    _touch(root / "recordings_audio" / "train_2.wav")
    make().raw_recordings("train")
    assert CALLS["recola", "train"] == 3


def test_recola_feature_mode_rebuilds_on_a_changed_arff(recola: Path, tmp_path: Path):
    CALLS.clear()
    root = Path(shutil.copytree(recola, tmp_path / "corpus"))
    cache = tmp_path / "cache"
    CountingRecola(root=root, features=["audio"], cache_dir=cache).raw_recordings("val")
    CountingRecola(root=root, features=["audio"], cache_dir=cache).raw_recordings("val")
    assert CALLS["recola", "dev"] == 1
    _touch(root / "features_audio" / "arousal" / "dev_1.arff")
    CountingRecola(root=root, features=["audio"], cache_dir=cache).raw_recordings("val")
    assert CALLS["recola", "dev"] == 2
    # training on the raters' mean reads other files: its own entry, rebuilt when a rating changes
    CountingRecola(root=root, features=["audio"], ratings="mean", cache_dir=cache).raw_recordings("val")
    _touch(root / "ratings_individual" / "valence" / "dev_2.csv")
    CountingRecola(root=root, features=["audio"], ratings="mean", cache_dir=cache).raw_recordings("val")
    assert CALLS["recola", "dev"] == 4


@pytest.mark.parametrize(
    "changed",
    ["turns/Devel_01.csv", "audio_features_xbow_6s/Devel_01.csv", "transcriptions/Train_02.csv", "labels/Devel_01.csv"],
)
def test_sewa_rebuilds_when_any_file_it_reads_changes(sewa: Path, tmp_path: Path, changed: str):
    CALLS.clear()
    root = Path(shutil.copytree(sewa, tmp_path / "corpus"))
    cache = tmp_path / "cache"

    def make(**kw):
        return CountingSewa(
            root=root, features=["audio_features_xbow_6s", "text_bow"], interlocutor="doubled", cache_dir=cache, **kw
        )

    first = make().raw_recordings("val")
    second = make().raw_recordings("val")
    assert CALLS["sewa", "Devel"] == 1
    _same(first, second)
    _touch(root / changed)  # Train_02's words are part of the vocabulary of every partition
    _same(second, make().raw_recordings("val"))
    assert CALLS["sewa", "Devel"] == 2


def test_sewa_devel_entry_follows_the_train_transcriptions_behind_its_vocabulary(sewa: Path, tmp_path: Path):
    """setup("fit") builds the vocabulary while reading Train; the Devel entry, read afterwards with
    that vocabulary, must still be rebuilt when a train transcription changes."""
    CALLS.clear()
    root = Path(shutil.copytree(sewa, tmp_path / "corpus"))
    cache = tmp_path / "cache"

    def make():
        return CountingSewa(root=root, features=["text_bow"], cache_dir=cache)

    dm = make()
    dm.raw_recordings("train")
    dm.raw_recordings("val")
    make().raw_recordings("val")
    assert CALLS["sewa", "Devel"] == 1
    path = root / "transcriptions" / "Train_02.csv"
    path.write_text(path.read_text().rstrip("\n") + " zebra\n")  # a new word: a new vocabulary
    fresh = make()
    fresh.raw_recordings("train")
    devel = fresh.raw_recordings("val")
    assert CALLS["sewa", "Devel"] == 2
    assert devel[0].features["text_bow"].shape[1] == len(fresh.corpus.vocabulary())
