"""SEWA reader and datamodule on hand-typed files (AVEC 2017 and AVEC 2019 layouts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.sewa.reader import (
    align_to_labels,
    apply_interlocutor,
    bag_of_words,
    build_vocabulary,
    gaussian_turn_labels,
    read_feature_file,
    read_label_file,
    read_prediction_file,
)
from zoo.data.corpus import Corpus
from zoo.data.datamodule import CorpusDataModule

# 6 label frames, 0.0 .. 0.5 s
LABELS_TRAIN = """'Train_01';0.000000;0.1;-0.1;0.5
'Train_01';0.100000;0.2;-0.2;0.5
'Train_01';0.200000;0.3;-0.3;0.4
'Train_01';0.300000;0.4;-0.4;0.4
'Train_01';0.400000;0.5;-0.5;0.3
'Train_01';0.500000;0.6;-0.6;0.3
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _rows(name: str, times, values, sep=";", header=None, quote=True) -> str:
    lines = [sep.join(header)] if header else []
    q = f"'{name}'" if quote else name
    for t, row in zip(times, values):
        lines.append(sep.join([q, f"{t:.2f}", *(f"{v:g}" for v in row)]))
    return "\n".join(lines) + "\n"


@pytest.fixture()
def avec2017(tmp_path: Path) -> Path:
    root = tmp_path / "sewa17"
    _write(root / "labels" / "Train_01.csv", LABELS_TRAIN)
    _write(root / "labels" / "Devel_01.csv", LABELS_TRAIN.replace("Train_01", "Devel_01"))
    times = np.arange(6) * 0.1
    audio = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]], float)
    for name in ("Train_01", "Devel_01", "Test_01"):
        # audio: headerless ';' ; video: header and ','
        _write(root / "audio_features_xbow_6s" / f"{name}.csv", _rows(name, times, audio))
        _write(
            root / "video_features_xbow_6s" / f"{name}.csv",
            _rows(name, times, audio[:, :1] * 10, sep=",", header=["name", "frameTime", "v0"]),
        )
        # subject speaks 0.1–0.3 s (frames 1, 2) and from 0.4 s (frames 4, 5)
        _write(root / "turns" / f"{name}.csv", "0.1;0.3\n0.4;0.6\n")
        _write(
            root / "transcriptions" / f"{name}.csv",
            "0.1;0.3;Das ist toll, toll!\n0.3;0.4;und schlecht\n0.4;0.6;Ich finde das Auto super\n",
        )
    return root


def _dm(root: Path, **kwargs) -> CorpusDataModule:
    kwargs.setdefault("features", ["audio_features_xbow_6s"])
    return CorpusDataModule("sewa", root=root, normalize=False, win_len=None, **kwargs)


def test_avec2017_labels_features_and_missing_test_labels(avec2017):
    dm = _dm(avec2017, features=["audio_features_xbow_6s", "video_features_xbow_6s"])
    train = dm.raw_recordings("train")
    assert [r.id for r in train] == ["Train_01"]
    np.testing.assert_allclose(train[0].timestamps, np.arange(6) * 0.1)
    np.testing.assert_allclose(train[0].targets[:, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], rtol=1e-6)
    np.testing.assert_allclose(train[0].targets[:, 2], [0.5, 0.5, 0.4, 0.4, 0.3, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(train[0].features["audio_features_xbow_6s"][:, 1], [2, 4, 6, 8, 10, 12])
    np.testing.assert_array_equal(train[0].features["video_features_xbow_6s"][:, 0], [10, 30, 50, 70, 90, 110])
    test = dm.raw_recordings("test")
    assert test[0].targets is None and test[0].num_frames == 6


def test_target_subset_order(avec2017):
    dm = _dm(avec2017, targets=["liking", "arousal"])
    np.testing.assert_allclose(dm.raw_recordings("train")[0].targets[0], [0.5, 0.1], rtol=1e-6)


def test_interlocutor_purified_and_doubled_by_hand(avec2017):
    inside = np.array([0, 1, 1, 0, 1, 1], bool)  # from turns 0.1–0.3 and 0.4–0.6
    audio = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]], float)
    purified = _dm(avec2017, interlocutor="purified").raw_recordings("train")[0].features["audio_features_xbow_6s"]
    np.testing.assert_array_equal(purified, [[0, 0], [3, 4], [5, 6], [0, 0], [9, 10], [11, 12]])
    dm = _dm(avec2017, features=["audio_features_xbow_6s", "video_features_xbow_6s"], interlocutor="doubled")
    rec = dm.raw_recordings("train")[0]
    expected = np.array([[0, 0, 1, 2], [3, 4, 0, 0], [5, 6, 0, 0], [0, 0, 7, 8], [9, 10, 0, 0], [11, 12, 0, 0]])
    np.testing.assert_array_equal(rec.features["audio_features_xbow_6s"], expected)
    # video is not a speech set: untouched by default
    np.testing.assert_array_equal(rec.features["video_features_xbow_6s"][:, 0], audio[:, 0] * 10)
    assert dm.feature_dims["audio_features_xbow_6s"] == 4
    np.testing.assert_array_equal(apply_interlocutor(audio, inside, "mixed"), audio)


def test_bag_of_words_on_hand_typed_transcriptions(avec2017):
    dm = _dm(avec2017, features=["text_bow"])
    # stop words das, ist, und, ich removed; lower-cased; sorted
    assert dm.corpus.vocabulary() == ["auto", "finde", "schlecht", "super", "toll"]
    x = dm.raw_recordings("train")[0].features["text_bow"]
    np.testing.assert_array_equal(
        x, [[0, 0, 0, 0, 0], [0, 0, 0, 0, 2], [0, 0, 0, 0, 2], [0, 0, 1, 0, 0], [1, 1, 0, 1, 0], [1, 1, 0, 1, 0]]
    )
    assert build_vocabulary(["toll toll gut"], min_count=2) == ["toll"]
    np.testing.assert_array_equal(bag_of_words("Gut, GUT und neu", ["gut", "neu"]), [2, 1])


def test_text_embeddings_mean_per_turn(avec2017, tmp_path):
    emb = tmp_path / "emb.txt"
    emb.write_text("3 2\ntoll 1 0\nauto 0 1\nsuper 0 3\n")
    dm = _dm(avec2017, features=["text_emb"], embedding_file=emb)
    x = dm.raw_recordings("train")[0].features["text_emb"]
    np.testing.assert_allclose(x[1], [1, 0])  # "toll toll" → mean of (1,0),(1,0)
    np.testing.assert_allclose(x[3], [0, 0])  # no known word
    np.testing.assert_allclose(x[4], [0, 2])  # auto (0,1), super (0,3)


def test_gaussian_turn_labels_match_numpy_formula():
    times = np.arange(20) * 0.1
    y = np.stack([np.sin(times), times**2], 1)
    start, end, sigma = 0.4, 1.2, 0.25
    frames = np.flatnonzero((times >= start - 1e-9) & (times < end - 1e-9))
    t = times[frames]
    w = np.exp(-((t - 0.8) ** 2) / (2 * (0.25 * 0.8) ** 2))
    expected = (w[:, None] * y[frames]).sum(0) / w.sum()
    np.testing.assert_allclose(gaussian_turn_labels(times, y, start, end, sigma), expected, rtol=1e-12)


def test_turn_data_subject_turns_only(avec2017):
    dm = _dm(avec2017, features=["text_bow"])
    turns = dm.corpus.turn_data(dm.recordings("train"))[0]
    np.testing.assert_array_equal(turns["spans"], [[1, 3], [4, 6]])  # the 0.3–0.4 turn is the interlocutor's
    assert turns["targets"].shape == (2, 3)
    frames = Corpus.turns_to_frames(turns["spans"], np.array([[1.0], [3.0]]), 6)
    np.testing.assert_allclose(frames[:, 0], [1, 1, 1, 2, 3, 3])


def test_avec2019_header_quoted_names_cultures_and_fau_alignment(tmp_path):
    root = tmp_path / "sewa19"
    header = "name;timestamp;arousal;valence;liking\n"
    for name in ("Train_DE_01", "Train_HU_01", "Devel_DE_01"):
        body = "".join(f"'{name}';{t / 10:.6f};{t / 10:.1f};0.5;-0.5\n" for t in range(5))
        _write(root / "labels" / f"{name}.csv", header + body)
        fau_t = 0.01 + np.arange(13) * 0.04  # 25 fps, 0.01 .. 0.49
        fau = np.column_stack([np.ones(13), fau_t * 100])
        _write(
            root / "visual_features_fau" / f"{name}.csv",
            _rows(name, fau_t, fau, header=["name", "frameTime", "confidence", "AU01_r"]),
        )
    dm = CorpusDataModule(
        "sewa", root=root, release="avec2019", cultures=["DE"], features=["visual_features_fau"], normalize=False
    )
    train = dm.raw_recordings("train")
    assert [r.id for r in train] == ["Train_DE_01"]
    np.testing.assert_allclose(train[0].targets[:, 0], [0, 0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    # nearest 25 fps frame to 0.0, 0.1, 0.2, 0.3, 0.4 s: 0.01, 0.09, 0.21, 0.29, 0.41
    np.testing.assert_allclose(train[0].features["visual_features_fau"][:, 1], [1, 9, 21, 29, 41], atol=1e-4)
    exact = CorpusDataModule("sewa", root=root, release="avec2019", features=["visual_features_fau"], align="exact")
    with pytest.raises(CorpusFormatError, match=r"Train_DE_01.csv: cannot align to label time 0.000"):
        exact.raw_recordings("train")


def test_feature_file_variants(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("'x';0.0;1;2\n'x';0.1;3;4\n")
    b = tmp_path / "b.csv"
    b.write_text("name,frameTime,f1,f2\nx,0.0,1,2\nx,0.1,3,4\n")
    for path in (a, b):
        t, x = read_feature_file(path)
        np.testing.assert_allclose(t, [0.0, 0.1])
        np.testing.assert_array_equal(x, [[1, 2], [3, 4]])


def test_errors_name_file_line_and_field(tmp_path, avec2017):
    bad = tmp_path / "bad.csv"
    bad.write_text("name;frameTime;f1\n'x';0.0;1\n'x';0.1;oops\n")
    with pytest.raises(CorpusFormatError, match=r"bad.csv: line 3, field 'f1'.*'oops'"):
        read_feature_file(bad)
    label = tmp_path / "Train_09.csv"
    label.write_text("'Train_08';0.0;1;2;3\n")
    with pytest.raises(CorpusFormatError, match=r"Train_09.csv: line 1, field 'name'"):
        read_label_file(label)
    short = tmp_path / "Train_07.csv"
    short.write_text("'Train_07';0.0;1;2\n")
    with pytest.raises(CorpusFormatError, match="5: name;time;arousal;valence;liking"):
        read_label_file(short)
    with pytest.raises(CorpusFormatError, match=r"x.csv: cannot align to label time 0.500"):
        align_to_labels("x.csv", np.array([0.0, 0.1]), np.zeros((2, 1)), np.array([0.0, 0.5]))
    (avec2017 / "audio_features_xbow_6s" / "Devel_01.csv").unlink()
    with pytest.raises(CorpusFormatError, match=r"Devel_01.csv: feature file not found"):
        _dm(avec2017).raw_recordings("val")
    with pytest.raises(CorpusFormatError, match="turn file not found"):
        (avec2017 / "turns" / "Train_01.csv").unlink()
        _dm(avec2017, interlocutor="purified").raw_recordings("train")
    with pytest.raises(ValueError, match=r"data.args.interlocutor: expected one of mixed, purified, doubled"):
        _dm(avec2017, interlocutor="other")


@pytest.mark.parametrize("release", ["avec2017", "avec2019"])
def test_write_predictions_format_and_read_back(tmp_path, avec2017, release):
    dm = _dm(avec2017)
    rec = dm.raw_recordings("train")[0]
    dm.corpus.release = release  # the output format follows the release
    preds = np.arange(12, dtype=float).reshape(6, 2) / 10
    dm.write_predictions(tmp_path / "out", rec, preds, ["arousal", "liking"])
    lines = (tmp_path / "out" / "Train_01.csv").read_text().splitlines()
    if release == "avec2017":
        assert lines[0] == "'Train_01';0.000000;0.000000;0.100000"
    else:
        assert lines[0] == "name;timestamp;arousal;liking"
        assert lines[1] == "'Train_01';0.000000;0.000000;0.100000"
    np.testing.assert_allclose(dm.read_predictions(tmp_path / "out", rec, ["arousal", "liking"]), preds, atol=1e-6)
    _, values = read_prediction_file(tmp_path / "out" / "Train_01.csv", ["arousal", "liking"])
    np.testing.assert_allclose(values, preds, atol=1e-6)


def test_zero_padding_in_normalised_space_by_hand(avec2017):
    """Chen et al. 2017 pad with zeros the model *input*: after train-statistics z-scoring the
    purified/doubled interlocutor frames and the frames outside text turns must still be 0, and the
    statistics are those of the real frames only (each half of a doubled set on its own)."""
    from zoo.data._normalize import FeatureNormalizer

    def batch_and_host(strategy: str, padding: str, features: list[str]):
        dm = CorpusDataModule(
            "sewa",
            root=avec2017,
            features=features,
            interlocutor=strategy,
            interlocutor_features=["audio_features_xbow_6s"],
            zero_padding=padding,
            win_len=None,
            num_workers=0,
        )
        dm.setup("fit")
        batch = next(iter(dm.val_dataloader()))  # Devel_01 holds the same numbers as Train_01
        normalizer = FeatureNormalizer.from_spec(dm.spec().normalization)
        device = normalizer(batch["features"], batch["mask"])
        host = dm.recordings("val")[0].features
        return {n: device[n][0].numpy() for n in features}, host

    # doubled: target half real at frames 1, 2, 4, 5 (3,5,9,11 | 4,6,10,12), interlocutor half at 0, 3
    s_t = np.sqrt(np.mean((np.array([3, 5, 9, 11]) - 7.0) ** 2))  # same spread in both columns
    expected = np.zeros((6, 4), np.float32)
    for t, row in {1: [3, 4], 2: [5, 6], 4: [9, 10], 5: [11, 12]}.items():
        expected[t, :2] = (np.array(row) - [7.0, 8.0]) / s_t
    for t, row in {0: [1, 2], 3: [7, 8]}.items():
        expected[t, 2:] = (np.array(row) - [4.0, 5.0]) / 3.0
    device, host = batch_and_host("doubled", "normalised", ["audio_features_xbow_6s"])
    np.testing.assert_allclose(device["audio_features_xbow_6s"], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(host["audio_features_xbow_6s"], expected, rtol=1e-6, atol=1e-6)

    # purified and the turn-level bag of words: frame 0 is padding in both; frame 3 only in audio
    device, host = batch_and_host("purified", "normalised", ["audio_features_xbow_6s", "text_bow"])
    audio = device["audio_features_xbow_6s"]
    np.testing.assert_array_equal(audio[[0, 3]], 0.0)
    np.testing.assert_allclose(audio[[1, 2, 4, 5]], expected[[1, 2, 4, 5], :2], rtol=1e-6, atol=1e-6)
    # frames 1-5 of the hand-typed transcriptions over the vocabulary auto, finde, schlecht, super, toll
    bow_rows = np.array([[0, 0, 0, 0, 2], [0, 0, 0, 0, 2], [0, 0, 1, 0, 0], [1, 1, 0, 1, 0], [1, 1, 0, 1, 0]], float)
    mean, std = bow_rows.mean(0), bow_rows.std(0)
    np.testing.assert_array_equal(device["text_bow"][0], 0.0)
    np.testing.assert_allclose(device["text_bow"][1:], (bow_rows - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(host["text_bow"], device["text_bow"], rtol=1e-6, atol=1e-6)

    # without the option the padding becomes the per-dimension constant -mean/std of all frames
    device, _ = batch_and_host("purified", "raw", ["audio_features_xbow_6s"])
    frames = np.array([[0, 0], [3, 4], [5, 6], [0, 0], [9, 10], [11, 12]], float)
    np.testing.assert_allclose(device["audio_features_xbow_6s"][0], -frames.mean(0) / frames.std(0), rtol=1e-6)


def test_zero_padding_option_is_checked(avec2017):
    with pytest.raises(Exception, match="zero_padding"):
        _dm(avec2017, zero_padding="zeros")
