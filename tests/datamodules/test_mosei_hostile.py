"""Hostile CMU-MOSEI inputs: leaking folds, shrinking partitions, bad labels, non-finite intervals,
pickles as people share them (MMSA, MulT), pickle protocol 5. Every file is written here by hand."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.cmu_mosei.reader import MoseiDataWarning, load_folds


# --------------------------------------------------------------------------- hand-written .csd corpus
def _csd(path: Path, root: str, data: dict) -> None:
    with h5py.File(path, "w") as f:
        group = f.create_group(root).create_group("data")
        for vid, (features, intervals) in data.items():
            g = group.create_group(vid)
            g.create_dataset("features", data=np.asarray(features, float))
            g.create_dataset("intervals", data=np.asarray(intervals, float))


def write_corpus(
    root: Path,
    labels: dict | None = None,
    audio_iv: dict | None = None,
    words_iv: dict | None = None,
    audio_videos: tuple = ("a", "b", "c"),
) -> dict:
    """Videos a (train), b (valid), c (test): words [0,1),[1,2),[2,3),[3,4); audio frames of 0.5 s with
    value = frame index; two segments [0, 2) and [2, 4) labelled [sentiment, 6 emotions]."""
    root.mkdir(parents=True, exist_ok=True)
    vids = ("a", "b", "c")
    w_iv = np.array([[0, 1], [1, 2], [2, 3], [3, 4]], float)
    a_iv = np.stack([np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.5], 1)
    default_labels = np.array([[1, 2, 0, 0, 0, 0, 0], [-1, 0, 1, 0, 0, 0, 0]], float)
    seg_iv = np.array([[0, 2], [2, 4]], float)
    labels = labels or {}
    _csd(
        root / "CMU_MOSEI_TimestampedWordVectors.csd",
        "glove_vectors",
        {v: (np.arange(4.0)[:, None] + 1, (words_iv or {}).get(v, w_iv)) for v in vids},
    )
    _csd(
        root / "CMU_MOSEI_COVAREP.csd",
        "COVAREP",
        {v: (np.arange(8.0)[:, None], (audio_iv or {}).get(v, a_iv)) for v in audio_videos},
    )
    _csd(root / "CMU_MOSEI_Labels.csd", "All Labels", {v: labels.get(v, (default_labels, seg_iv)) for v in vids})
    folds = {"train": ["a"], "valid": ["b"], "test": ["c"]}
    (root / "split.json").write_text(json.dumps(folds))
    return folds


def _dm(root: Path, tmp_path: Path, **kw):
    return create_datamodule(
        "cmu_mosei",
        root=str(root),
        folds=str(root / "split.json"),
        modalities=["text", "audio"],
        normalize=False,
        cache_dir=str(tmp_path / "cache"),
        **kw,
    )


def test_a_video_in_two_folds_is_an_error(tmp_path):
    path = tmp_path / "folds.json"
    path.write_text(json.dumps({"train": ["a", "b"], "valid": ["c"], "test": ["b"]}))
    with pytest.raises(CorpusFormatError, match=r"folds.json: video id 'b' is listed in both 'train' and 'test'"):
        load_folds(path)
    path.write_text(json.dumps({"train": ["a", "a"], "valid": ["c"], "test": ["b"]}))
    with pytest.raises(CorpusFormatError, match=r"'a' is listed twice in 'train'"):
        load_folds(path)


def test_fold_videos_missing_from_a_file_shrink_the_partition_loudly(tmp_path):
    root = tmp_path / "mosei"
    write_corpus(root, audio_videos=("b", "c"))  # the train video has no COVAREP
    dm = _dm(root, tmp_path)
    with pytest.warns(
        MoseiDataWarning,
        match=r"\[train\]: 1 video\(s\) dropped: 1 of 1 fold videos absent from "
        r"the files \(per file: COVAREP 1; e.g. a\)",
    ):
        with pytest.raises(CorpusFormatError, match="partition 'train' .* holds no segments"):
            dm.raw_recordings("train")
    with pytest.raises(CorpusFormatError, match=r"1 video\(s\) dropped.*strict=True"):
        _dm(root, tmp_path, strict=True).raw_recordings("train")
    assert len(_dm(root, tmp_path, strict=True).raw_recordings("val")) == 2  # complete partitions are fine


@pytest.mark.parametrize("row", [[0, np.nan, 0, 0, 0, 0, 0], [np.inf, 0, 0, 0, 0, 0, 0]])
def test_csd_labels_not_finite_are_dropped_or_refused(tmp_path, row):
    root = tmp_path / "mosei"
    write_corpus(root, labels={"a": (np.array([row, [0, 1, 1, 0, 0, 0, 0]], float), np.array([[0, 2], [2, 4]], float))})
    targets = ["sentiment", "happy"]
    with pytest.warns(
        MoseiDataWarning,
        match=r"\[train\]: 1 item\(s\) dropped: 1 segment\(s\) with NaN/inf labels in CMU_MOSEI_Labels.csd",
    ):
        segments = _dm(root, tmp_path, targets=targets).raw_recordings("train")
    assert [s.id for s in segments] == ["a[1]"]
    with pytest.raises(CorpusFormatError, match="NaN/inf labels"):
        _dm(root, tmp_path, targets=targets, strict=True).raw_recordings("train")


@pytest.mark.parametrize(
    "row, column, value, bounds",
    [
        ([1, 3.5, 0, 0, 0, 0, 0], "happy", "3.5", "[0, 3]"),
        ([1, -0.5, 0, 0, 0, 0, 0], "happy", "-0.5", "[0, 3]"),
        ([-4, 0, 0, 0, 0, 0, 0], "sentiment", "-4", "[-3, 3]"),
        ([1e30, 0, 0, 0, 0, 0, 0], "sentiment", "1e+30", "[-3, 3]"),
    ],
)
def test_csd_labels_out_of_range_are_refused_naming_file_video_row_and_column(tmp_path, row, column, value, bounds):
    root = tmp_path / "mosei"
    write_corpus(root, labels={"a": (np.array([[0, 1, 1, 0, 0, 0, 0], row], float), np.array([[0, 2], [2, 4]], float))})
    with pytest.raises(CorpusFormatError) as err:
        _dm(root, tmp_path, targets=["sentiment", "happy"]).raw_recordings("train")
    assert str(err.value) == (
        f"{root / 'CMU_MOSEI_Labels.csd'}: video 'a', label row 1, column '{column}': label {value} is outside the "
        f"range {bounds} the corpus declares (1 such value(s) in the file)"
    )


def test_unused_label_columns_are_not_checked(tmp_path):
    root = tmp_path / "mosei"
    write_corpus(
        root,
        labels={
            "a": (np.array([[9, 1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0]], float), np.array([[0, 2], [2, 4]], float))
        },
    )
    assert len(_dm(root, tmp_path, targets=["happy"], strict=True).raw_recordings("train")) == 2


def test_nonfinite_intervals_are_dropped_counted_and_the_rest_aligned(tmp_path):
    root = tmp_path / "mosei"
    a_iv = np.stack([np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.5], 1)
    a_iv[1] = [np.nan, 1.0]  # frame 1 ([0.5, 1)) cannot be placed
    a_iv[6, 1] = np.inf  # frame 6 neither
    w_iv = np.array([[0, 1], [1, 2], [np.nan, np.nan], [3, 4]], float)
    seg = np.array([[0, 2], [np.nan, 4]], float)
    labels = np.array([[1, 2, 0, 0, 0, 0, 0], [-1, 0, 1, 0, 0, 0, 0]], float)
    write_corpus(root, labels={"a": (labels, seg)}, audio_iv={"a": a_iv}, words_iv={"a": w_iv})
    with pytest.warns(MoseiDataWarning) as record:
        segments = _dm(root, tmp_path).raw_recordings("train")
    message = str(record[0].message)
    assert "1 words with non-finite intervals" in message and "2 COVAREP frames with non-finite intervals" in message
    assert "1 segments with non-finite intervals" in message and "4 item(s) dropped" in message
    assert [s.id for s in segments] == ["a[0]"]
    # word [0, 1): frames 0 (only; frame 1 dropped) → 0; word [1, 2): frames 2, 3 → 2.5
    np.testing.assert_allclose(segments[0].features["COVAREP"][:, 0], [0.0, 2.5])
    np.testing.assert_allclose(segments[0].features["glove_vectors"][:, 0], [1.0, 2.0])
    with pytest.raises(CorpusFormatError, match="non-finite intervals"):
        _dm(root, tmp_path, strict=True).raw_recordings("train")


# --------------------------------------------------------------------------- pickles as shared
#: the video id prefix of each partition's segments (a video belongs to one partition)
VIDEOS = {"train": "vid", "valid": "val", "test": "tst"}


def mmsa_partition(n: int, steps: int = 6, left: bool = False, with_bert: bool = True, video: str = "vid") -> dict:
    """MMSA's aligned layout: sentiment-only regression_labels (N,), lengths, BERT ids/mask/segments.
    Segment ids are ``<video><i>$_$<i>``.

    Segment i has i + 2 real steps; its first real step is all zeros in every array (a real step
    that looks like padding), the others hold 10 i + j.
    """
    text, audio, vision = (np.zeros((n, steps, d), np.float32) for d in (4, 3, 2))
    bert = np.zeros((n, 3, steps), np.int64)
    lengths = np.arange(n) + 2
    for i, length in enumerate(lengths):
        pos = np.arange(steps - length, steps) if left else np.arange(length)
        for j, t in enumerate(pos):
            if j > 0:
                text[i, t], audio[i, t], vision[i, t] = 10 * i + j, -(10 * i + j), 0.5
            bert[i, 0, t], bert[i, 1, t] = 101 + j, 1
    part = {
        "raw_text": np.array([f"segment {i}" for i in range(n)], dtype=object),
        "text": text,
        "audio": audio,
        "vision": vision,
        "id": np.array([f"{video}{i}$_${i}" for i in range(n)], dtype=object),
        "regression_labels": np.linspace(-3, 3, n).astype(np.float32),
        "classification_labels": np.zeros(n, np.float32),
        "audio_lengths": lengths,
        "vision_lengths": lengths,
    }
    if with_bert:
        part["text_bert"] = bert
    return part


def _pkl(path: Path, data: dict, protocol: int = 4) -> str:
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)
    return str(path)


@pytest.mark.parametrize(
    "left, with_bert",
    [(False, True), (False, False), (True, False)],
    ids=["bert_mask", "lengths_right_padded", "lengths_left_padded"],
)
def test_mmsa_layout_uses_its_mask_or_lengths_for_padding(tmp_path, left, with_bert):
    data = {p: mmsa_partition(3, left=left, with_bert=with_bert, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    data["train"]["audio"][2, 5 if left else 1, 0] = -np.inf  # -inf in audio still becomes 0
    path = _pkl(tmp_path / "aligned_50.pkl", data)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"], normalize=False)
    segments = dm.raw_recordings("train")
    # the all-zero first real step is kept (zero-detection alone would drop it)
    assert [s.num_frames for s in segments] == [2, 3, 4]
    np.testing.assert_allclose(segments[1].features["text"][:, 0], [0, 11, 12])
    assert np.isfinite(segments[2].features["audio"]).all()
    assert [s.id for s in segments] == ["vid0$_$0", "vid1$_$1", "vid2$_$2"]
    np.testing.assert_allclose([s.targets[0] for s in segments], [-3, 0, 3])


def test_mmsa_layout_with_emotion_targets_says_which_targets_the_layout_has(tmp_path):
    path = _pkl(
        tmp_path / "aligned_50.pkl", {p: mmsa_partition(2, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    )
    dm = create_datamodule("cmu_mosei", root=path, format="pkl")  # default: the six emotions
    with pytest.raises(CorpusFormatError, match=r"labels hold \['sentiment'\].*MMSA .* carry sentiment only"):
        dm.raw_recordings("train")


def test_lengths_that_do_not_fit_fall_back_to_zero_steps(tmp_path):
    data = {p: mmsa_partition(2, with_bert=False, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    data["train"]["audio_lengths"] = np.array([500, 375])  # lengths of unaligned features: not these arrays
    data["train"]["vision_lengths"] = np.array([500, 375])
    dm = create_datamodule(
        "cmu_mosei", root=_pkl(tmp_path / "a.pkl", data), format="pkl", targets=["sentiment"], normalize=False
    )
    assert [s.num_frames for s in dm.raw_recordings("train")] == [1, 2]  # the all-zero real step is lost here
    data["train"]["text_bert"] = np.zeros((2, 2, 6))
    dm = create_datamodule("cmu_mosei", root=_pkl(tmp_path / "b.pkl", data), format="pkl", targets=["sentiment"])
    with pytest.raises(CorpusFormatError, match=r"b.pkl: partition 'train', key 'text_bert': shape \(2, 2, 6\)"):
        dm.raw_recordings("train")


def test_mult_layout_and_pickle_protocol_5(tmp_path):
    def part(n, video="v"):
        p = mmsa_partition(n, with_bert=False)
        return {
            "text": p["text"],
            "audio": p["audio"],
            "vision": p["vision"],
            "labels": p["regression_labels"].reshape(n, 1, 1),
            "id": np.array([[f"{video}{i}", str(i)] for i in range(n)]),
        }

    data = {"train": part(3), "valid": part(2, "w"), "test": part(2, "x")}
    path = _pkl(tmp_path / "mosei_senti_data.pkl", data, protocol=5)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"], normalize=False)
    segments = dm.raw_recordings("train")
    assert [s.id for s in segments] == ["v0_0", "v1_1", "v2_2"]
    np.testing.assert_allclose([s.targets[0] for s in segments], [-3, 0, 3])
    assert [s.num_frames for s in segments] == [1, 2, 3]  # no mask in MulT's layout: all-zero steps are padding


def test_pickle_labels_not_finite_are_dropped_or_refused(tmp_path):
    data = {p: mmsa_partition(3, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    data["train"]["regression_labels"][1] = np.nan
    path = _pkl(tmp_path / "a.pkl", data)
    with pytest.warns(MoseiDataWarning, match=r"\[train\]: 1 segment\(s\) dropped: 1 with NaN/inf labels"):
        segments = create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"]).raw_recordings(
            "train"
        )
    assert len(segments) == 2
    with pytest.raises(CorpusFormatError, match="NaN/inf labels"):
        create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"], strict=True).raw_recordings(
            "train"
        )


@pytest.mark.parametrize("value", [3.5, -1e30])
def test_pickle_labels_out_of_range_are_refused_naming_the_segment(tmp_path, value):
    data = {p: mmsa_partition(3, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    data["train"]["regression_labels"][1] = value
    path = _pkl(tmp_path / "a.pkl", data)
    segment = data["train"]["id"][1]
    with pytest.raises(CorpusFormatError) as err:
        create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"]).raw_recordings("train")
    assert str(err.value) == (
        f"{path}: partition 'train', labels row 1 (segment {segment}), column 'sentiment': label {value:g} is "
        "outside the range [-3, 3] the corpus declares (1 such value(s) in the file)"
    )


def test_synthetic_pickle_follows_the_mmsa_layout():
    dm = create_datamodule("cmu_mosei", format="pkl", targets=["sentiment"])
    path = dm.corpus.resolve_root()
    with open(path, "rb") as f:
        data = pickle.load(f)
    assert sorted(data) == ["test", "train", "valid"]
    part = data["train"]
    assert {
        "raw_text",
        "text",
        "audio",
        "vision",
        "id",
        "regression_labels",
        "classification_labels",
        "annotations",
        "audio_lengths",
        "vision_lengths",
        "text_bert",
    } == set(part)
    n = len(part["id"])
    assert part["regression_labels"].shape == (n,) and part["text_bert"].shape == (n, 3, 50)
    assert part["audio"].shape == (n, 50, 74) and part["vision"].shape == (n, 50, 35)
    assert np.isneginf(part["audio"]).any()
    np.testing.assert_array_equal(part["text_bert"][:, 1].sum(1), part["audio_lengths"])
    assert all("$_$" in i for i in part["id"])
    segments = dm.raw_recordings("train")
    assert len(segments) == n and [s.num_frames for s in segments] == [min(20, int(x)) for x in part["audio_lengths"]]


# --------------------------------------------------------------------------- issue 24
def test_words_ending_before_they_start_are_dropped_naming_file_and_reason(tmp_path):
    root = tmp_path / "mosei"
    w_iv = np.array([[0, 1], [2, 1], [2, 3], [3, 4]], float)  # word 1 ends before it starts
    write_corpus(root, words_iv={"a": w_iv})
    with pytest.warns(MoseiDataWarning) as record:
        segments = _dm(root, tmp_path).raw_recordings("train")
    assert "1 words ending before they start in CMU_MOSEI_TimestampedWordVectors.csd" in str(record[0].message)
    assert [s.num_frames for s in segments] == [1, 2]  # segment [0, 2) keeps word [0, 1)
    with pytest.raises(CorpusFormatError, match="words ending before they start"):
        _dm(root, tmp_path, strict=True).raw_recordings("train")


def test_non_finite_word_vectors_are_reported_naming_the_file(tmp_path):
    root = tmp_path / "mosei"
    write_corpus(root)
    with h5py.File(root / "CMU_MOSEI_TimestampedWordVectors.csd", "r+") as f:
        values = f["glove_vectors"]["data"]["a"]["features"][()]
        values[1, 0] = np.nan
        f["glove_vectors"]["data"]["a"]["features"][...] = values
    with pytest.warns(
        MoseiDataWarning,
        match=r"\[train\]: 1 value\(s\) replaced: 1 NaN/inf value\(s\) in the word vectors of CMU_MOSEI_TimestampedWordVectors.csd, replaced by 0",
    ):
        segments = _dm(root, tmp_path).raw_recordings("train")
    assert segments[0].features["glove_vectors"][1, 0] == 0.0
    with pytest.raises(CorpusFormatError, match="replaced by 0 \\(strict=True\\)"):
        _dm(root, tmp_path, strict=True).raw_recordings("train")


def test_a_feature_width_that_changes_between_videos_names_the_file(tmp_path):
    root = tmp_path / "mosei"
    write_corpus(root)
    a_iv = np.stack([np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.5], 1)
    _csd(
        root / "CMU_MOSEI_COVAREP.csd",
        "COVAREP",
        {"a": (np.ones((8, 1)), a_iv), "b": (np.ones((8, 2)), a_iv), "c": (np.ones((8, 1)), a_iv)},
    )
    dm = _dm(root, tmp_path)
    dm.raw_recordings("train")
    with pytest.raises(CorpusFormatError) as err:
        dm.raw_recordings("val")
    assert str(err.value) == (
        f"{root / 'CMU_MOSEI_COVAREP.csd'}, video 'b': 2 feature columns, but {root / 'CMU_MOSEI_COVAREP.csd'}, "
        "video 'a' of the same feature set 'COVAREP' has 1"
    )


def test_a_folds_file_that_is_not_utf8_is_refused_naming_it(tmp_path):
    path = tmp_path / "folds.json"
    path.write_bytes(b'{"train": ["\xff"], "valid": [], "test": []}')
    with pytest.raises(CorpusFormatError, match=rf"^{path}: line 1: byte 0xff at offset 12 is not UTF-8"):
        load_folds(path)


@pytest.mark.parametrize("clash", ["segment", "video"])
def test_a_pickle_segment_or_video_in_two_partitions_is_refused(tmp_path, clash):
    data = {p: mmsa_partition(3, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    # the train segment itself, or another clip of the train video, listed in valid
    data["valid"]["id"][2] = "vid1$_$1" if clash == "segment" else "vid1$_$7"
    path = _pkl(tmp_path / "a.pkl", data)
    expected = (
        r"segment 'vid1\$_\$1' is listed in 'train' and 'valid'"
        if clash == "segment"
        else r"segment 'vid1\$_\$7' is of video 'vid1', which partition 'train' holds too"
    )
    with pytest.raises(CorpusFormatError, match=rf"^{path}: partition 'valid', key 'id', row 2: {expected}"):
        create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"]).raw_recordings("train")


def test_an_absurd_pickle_feature_value_is_a_warning_naming_the_step(tmp_path):
    from zoo.errors import CorpusDataWarning

    data = {p: mmsa_partition(12, steps=14, video=VIDEOS[p]) for p in ("train", "valid", "test")}
    data["train"]["audio"][5, 3, 2] = 1e30
    path = _pkl(tmp_path / "a.pkl", data)
    with pytest.warns(
        CorpusDataWarning,
        match=r"partition 'train', key 'audio', segment 5 \(vid5\$_\$5\), step 3, column 2: feature value 1e\+30",
    ):
        create_datamodule("cmu_mosei", root=path, format="pkl", targets=["sentiment"]).raw_recordings("train")
