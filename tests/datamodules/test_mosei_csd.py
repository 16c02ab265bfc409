"""CMU-MOSEI .csd reading without the SDK, on files written here with h5py in the SDK layout."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.cmu_mosei.csd import ComputationalSequence
from zoo.data.corpora.cmu_mosei.reader import STANDARD_FOLDS_PATH, load_folds

NEG_INF = -np.inf


def write_sdk_csd(path: Path, root: str, data: dict, metadata: dict, as_bytes: bool = False) -> Path:
    """The SDK's write_CSD layout: /<root>/data/<vid>/{features,intervals}, /<root>/metadata/<key> (1,) JSON."""
    with h5py.File(path, "w") as f:
        group = f.create_group(root)
        d = group.create_group("data")
        for vid, (features, intervals) in data.items():
            g = d.create_group(vid)
            g.create_dataset("features", data=features)
            g.create_dataset("intervals", data=intervals)
        m = group.create_group("metadata")
        for key, value in metadata.items():
            if as_bytes:
                m.create_dataset(key, data=np.array([json.dumps(value).encode()]))
            else:
                ds = m.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
                ds[0] = json.dumps(value)
    return path


META = {
    "root name": "COVAREP",
    "dimension names": ["f0", "vuv"],
    "alignment compatible": True,
    "dataset name": "CMU-MOSEI",
    "computational sequence version": "1.0",
}


def test_reader_root_metadata_and_arrays(tmp_path):
    feats = np.array([[1.0, 2.0], [NEG_INF, NEG_INF], [3.0, 4.0]])
    iv = np.array([[0.0, 0.01], [0.01, 0.02], [0.02, 0.03]])
    path = write_sdk_csd(tmp_path / "a.csd", "COVAREP", {"vid1": (feats, iv)}, META)
    with ComputationalSequence(path) as seq:
        assert seq.root_name == "COVAREP"
        assert seq.metadata == META
        assert seq.video_ids == ["vid1"] and "vid1" in seq and "x" not in seq
        x, intervals = seq.read("vid1")
        assert x.dtype == np.float32 and x.shape == (3, 2) and np.isneginf(x[1]).all()
        np.testing.assert_array_equal(intervals, iv)


def test_metadata_stored_as_bytes_and_non_json_text(tmp_path):
    path = write_sdk_csd(
        tmp_path / "b.csd",
        "whatever root",
        {"v": (np.zeros((1, 1)), np.zeros((1, 2)))},
        {"creator": "A. Zadeh"},
        as_bytes=True,
    )
    with h5py.File(path, "a") as f:
        ds = f["whatever root/metadata"].create_dataset("plain", (1,), dtype=h5py.special_dtype(vlen=str))
        ds[0] = "not json {"
    with ComputationalSequence(path) as seq:
        assert seq.root_name == "whatever root"
        assert seq.metadata == {"creator": "A. Zadeh", "plain": "not json {"}


def test_words_keep_byte_strings(tmp_path):
    words = np.array([[b"hello"], [b"sp"]])
    path = write_sdk_csd(tmp_path / "w.csd", "words", {"v": (words, np.array([[0, 0.3], [0.3, 0.5]]))}, {})
    with ComputationalSequence(path) as seq:
        x, _ = seq.read("v", dtype=None)
        assert x[:, 0].tolist() == [b"hello", b"sp"]
        with pytest.raises(CorpusFormatError, match="not numeric"):
            seq.read("v")


@pytest.mark.parametrize(
    "builder, message",
    [
        (lambda f: (f.create_group("a/data"), f.create_group("b/data")), "exactly one root group"),
        (lambda f: f.create_group("root/metadata"), "no 'data' group"),
    ],
)
def test_bad_root_layout(tmp_path, builder, message):
    path = tmp_path / "bad.csd"
    with h5py.File(path, "w") as f:
        builder(f)
    with pytest.raises(CorpusFormatError, match=message) as err:
        ComputationalSequence(path)
    assert str(path) in str(err.value)


def test_missing_field_and_shape_mismatch_name_file_video_field(tmp_path):
    path = tmp_path / "c.csd"
    with h5py.File(path, "w") as f:
        f.create_dataset("R/data/v1/features", data=np.zeros((3, 2)))
        f.create_dataset("R/data/v1/intervals", data=np.zeros((2, 2)))
        f.create_dataset("R/data/v2/features", data=np.zeros((2, 2)))
        f.create_dataset("R/data/v3/features", data=np.zeros((2, 2)))
        f.create_dataset("R/data/v3/intervals", data=np.zeros((2, 3)))
    with ComputationalSequence(path) as seq:
        with pytest.raises(CorpusFormatError, match=r"video 'v1'.*'features' has 3 rows.*'intervals' has 2"):
            seq.read("v1")
        with pytest.raises(CorpusFormatError, match=r"video 'v2': field 'intervals' missing"):
            seq.read("v2")
        with pytest.raises(CorpusFormatError, match=r"video 'v3': field 'intervals' has shape \(2, 3\)"):
            seq.read("v3")
        with pytest.raises(CorpusFormatError, match="video 'nope' not found"):
            seq.read("nope")
    with pytest.raises(CorpusFormatError, match="not found"):
        ComputationalSequence(tmp_path / "missing.csd")
    (tmp_path / "text.csd").write_text("hello")
    with pytest.raises(CorpusFormatError, match="not a readable HDF5"):
        ComputationalSequence(tmp_path / "text.csd")


# --------------------------------------------------------------------------- a whole tiny corpus
def write_tiny_corpus(root: Path) -> dict:
    """Three videos; labels unsorted with a negative start; -inf audio rows; hand-computable values.

    Words of every video: [0, 1), [1, 2), [2, 3), [3, 4). Audio frames of 0.5 s: value = frame index
    (2 dims: i and 10 i), frame 2 ([1, 1.5)) is -inf. Visual frames of 1 s: value 100 + i (1 dim).
    Glove vectors: word index w → [w, -w, 2w] (3 dims).
    """
    root.mkdir(parents=True, exist_ok=True)
    words_iv = np.array([[0, 1], [1, 2], [2, 3], [3, 4]], dtype=float)
    vids = ["trainvid", "validvid", "testvid"]
    glove = {v: (np.array([[w, -w, 2 * w] for w in range(4)], float), words_iv) for v in vids}
    audio_iv = np.stack([np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.5], 1)
    audio_x = np.stack([np.arange(8.0), 10 * np.arange(8.0)], 1)
    audio_x[2] = NEG_INF
    audio = {v: (audio_x, audio_iv) for v in vids}
    visual = {v: (100 + np.arange(4.0)[:, None], words_iv.copy()) for v in vids}
    # label rows: row 0 = second segment [2, 4); row 1 = first segment [-0.5, 2) (negative start)
    labels = {
        v: (np.array([[1, 0, 2, 0, 0, 0, 0], [-1, 3, 0, 1, 0, 0, 0]], float), np.array([[2.0, 4.0], [-0.5, 2.0]]))
        for v in vids
    }
    write_sdk_csd(root / "CMU_MOSEI_TimestampedWordVectors.csd", "glove_vectors", glove, {"root name": "glove_vectors"})
    write_sdk_csd(root / "CMU_MOSEI_COVAREP.csd", "COVAREP", audio, META)
    write_sdk_csd(root / "CMU_MOSEI_VisualFacet42.csd", "FACET 4.2", visual, {"root name": "FACET 4.2"})
    write_sdk_csd(root / "CMU_MOSEI_Labels.csd", "All Labels", labels, {"root name": "All Labels"})
    folds = {"train": ["trainvid"], "valid": ["validvid"], "test": ["testvid"]}
    (root / "split.json").write_text(json.dumps(folds))
    return folds


def test_datamodule_on_hand_written_csd_corpus(tmp_path):
    write_tiny_corpus(tmp_path / "mosei")
    dm = create_datamodule(
        "cmu_mosei",
        root=str(tmp_path / "mosei"),
        folds=str(tmp_path / "mosei" / "split.json"),
        modalities=["text", "audio", "video"],
        normalize=False,
        maxlen=10,
        cache_dir=str(tmp_path / "cache"),
        batch_size=4,
    )
    dm.setup("fit")
    segs = dm.raw_recordings("train")
    # sorted by (clipped) start: row 1 ([-0.5 → 0, 2)) first, then row 0 ([2, 4))
    assert [s.id for s in segs] == ["trainvid[1]", "trainvid[0]"]
    np.testing.assert_allclose(segs[0].targets, [3, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(segs[1].targets, [0, 2, 0, 0, 0, 0])
    first = segs[0]
    np.testing.assert_allclose(first.features["glove_vectors"], [[0, 0, 0], [1, -1, 2]])
    # word [0,1): audio frames 0 and 1 (equal overlap) → 0.5, 5; word [1,2): frame 2 is -inf, frame 3 → 3, 30
    np.testing.assert_allclose(first.features["COVAREP"], [[0.5, 5.0], [3.0, 30.0]])
    np.testing.assert_allclose(first.features["FACET 4.2"], [[100.0], [101.0]])
    assert dm.feature_dims == {"glove_vectors": 3, "COVAREP": 2, "FACET 4.2": 1}
    batch = next(iter(dm.val_dataloader()))
    assert batch["features"]["COVAREP"].shape == (2, 2, 2) and batch["targets"].shape == (2, 6)
    assert batch["mask"].all() and batch["ids"] == ["validvid[1]", "validvid[0]"]
    assert dm.data_spec()["label_step"] == 0.0


def test_truncation_keeps_last_words_by_default(tmp_path):
    write_tiny_corpus(tmp_path / "mosei")
    common = dict(
        root=str(tmp_path / "mosei"),
        folds=str(tmp_path / "mosei" / "split.json"),
        modalities=["text"],
        normalize=False,
        maxlen=1,
        cache_dir=str(tmp_path / "cache"),
    )
    last = create_datamodule("cmu_mosei", **common).raw_recordings("train")[0]
    first = create_datamodule("cmu_mosei", truncate="first", **common).raw_recordings("train")[0]
    np.testing.assert_allclose(last.features["glove_vectors"], [[1, -1, 2]])
    np.testing.assert_allclose(first.features["glove_vectors"], [[0, 0, 0]])


def test_missing_file_and_bad_folds_are_clear(tmp_path):
    folds = write_tiny_corpus(tmp_path / "mosei")
    (tmp_path / "mosei" / "CMU_MOSEI_COVAREP.csd").unlink()
    dm = create_datamodule(
        "cmu_mosei",
        root=str(tmp_path / "mosei"),
        folds=str(tmp_path / "mosei" / "split.json"),
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(CorpusFormatError, match="CMU_MOSEI_COVAREP.csd.*'COVAREP' not found"):
        dm.setup("fit")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": folds["train"], "test": []}))
    with pytest.raises(CorpusFormatError, match="no 'valid' list"):
        load_folds(bad)


def test_shipped_standard_folds():
    folds = load_folds(STANDARD_FOLDS_PATH)
    assert [len(folds[p]) for p in ("train", "valid", "test")] == [2249, 300, 678]
    assert sum(len(set(v)) for v in folds.values()) == len(set().union(*map(set, folds.values()))) == 3227
    # first and last ids of each list of the SDK's cmu_mosei_std_folds.py
    assert (folds["train"][0], folds["train"][-1]) == ("hh04W3xXa5s", "91276")
    assert (folds["valid"][0], folds["valid"][-1]) == ("188343", "Vuay0mVKkik")
    assert (folds["test"][0], folds["test"][-1]) == ("7l3BNtSE0xc", "vR90Pdx9wxs")
