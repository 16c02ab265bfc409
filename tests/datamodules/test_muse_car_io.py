"""MuSe-CaR reader on small hand-written corpora in the challenge layout.

Every file here is typed by hand (not produced by the synthetic writer), so the reader is checked
against the documented format, not against our own generator.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.muse_car.reader import (
    MuSeCaRCorpus,
    load_muse_car_recordings,
    read_feature_file,
    read_label_file,
    read_partition_table,
)
from zoo.data.datamodule import CorpusDataModule
from zoo.errors import CorpusDataWarning

PARTITION = """\
Id,Proposal
12,train
5,train
12,train
30,devel
7,test
30,devel
"""

LABELS = {
    ("arousal", "12"): """\
        timestamp,value,segment_id
        0,0.10,1
        250,0.20,1
        500,-0.30,2
        750,0.40,2
        """,
    ("valence", "12"): """\
        timestamp,value,segment_id
        0,-0.5,1
        250,-0.25,1
        500,0.0,2
        750,0.75,2
        """,
    ("arousal", "5"): """\
        timestamp,value,segment_id
        1000,0.5,3
        1250,0.6,3
        1500,0.7,3
        """,
    ("valence", "5"): """\
        timestamp,value,segment_id
        1000,0.1,3
        1250,0.2,3
        1500,0.3,3
        """,
    ("arousal", "30"): """\
        timestamp,value,segment_id
        0,1.0,1
        250,0.5,1
        """,
    ("valence", "30"): """\
        timestamp,value,segment_id
        0,-1.0,1
        250,-0.5,1
        """,
}

FEATURES = {
    ("egemaps", "12"): """\
        timestamp,segment_id,F0semitoneFrom27.5Hz_sma3nz_amean,loudness_sma3_amean,jitterLocal
        0,1,30.5,0.25,0.01
        250,1,31.0,0.50,0.02
        500,2,29.5,0.75,0.03
        750,2,28.0,1.00,0.04
        """,
    ("egemaps", "5"): """\
        timestamp,segment_id,F0semitoneFrom27.5Hz_sma3nz_amean,loudness_sma3_amean,jitterLocal
        1000,3,1,2,3
        1250,3,4,5,6
        1500,3,7,8,9
        """,
    ("egemaps", "30"): """\
        timestamp,segment_id,F0semitoneFrom27.5Hz_sma3nz_amean,loudness_sma3_amean,jitterLocal
        0,1,1.5,2.5,3.5
        250,1,4.5,5.5,6.5
        """,
    ("egemaps", "7"): """\
        timestamp,segment_id,F0semitoneFrom27.5Hz_sma3nz_amean,loudness_sma3_amean,jitterLocal
        0,1,-1,-2,-3
        250,1,-4,-5,-6
        500,1,-7,-8,-9
        """,
    ("vggish", "12"): "timestamp,segment_id,0,1\n0,1,1,2\n250,1,3,4\n500,2,5,6\n750,2,7,8\n",
    ("vggish", "5"): "timestamp,segment_id,0,1\n1000,3,1,1\n1250,3,2,2\n1500,3,3,3\n",
    ("vggish", "30"): "timestamp,segment_id,0,1\n0,1,0,0\n250,1,1,1\n",
    ("vggish", "7"): "timestamp,segment_id,0,1\n0,1,9,9\n250,1,8,8\n500,1,7,7\n",
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _label(root: Path, target: str, vid: str) -> Path:
    return root / "c1_muse_wild" / "label_segments" / target / f"{vid}.csv"


def _feature(root: Path, name: str, vid: str) -> Path:
    return root / "c1_muse_wild" / "feature_segments" / "label_aligned" / name / f"{vid}.csv"


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Four videos: 5 and 12 train, 30 devel, 7 test without labels."""
    root = tmp_path / "muse"
    _write(root / "metadata" / "partition.csv", PARTITION)
    for (target, vid), text in LABELS.items():
        _write(_label(root, target, vid), text)
    for (name, vid), text in FEATURES.items():
        _write(_feature(root, name, vid), text)
    return root


# --------------------------------------------------------------------------- partition table
def test_partition_table_drops_identical_duplicates(tmp_path: Path):
    path = _write(tmp_path / "partition.csv", PARTITION)
    assert read_partition_table(path) == {"12": "train", "5": "train", "30": "devel", "7": "test"}


def test_partition_table_conflicting_duplicate_names_both_lines(tmp_path: Path):
    path = _write(tmp_path / "partition.csv", "Id,Proposal\n12,train\n5,devel\n12,devel\n")
    with pytest.raises(CorpusFormatError, match=r"partition\.csv: line 4, field 'Proposal'") as e:
        read_partition_table(path)
    assert "line 2" in str(e.value) and "video 12" in str(e.value)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("Id,Proposal\n12,train\nabc,devel\n", r"line 3, field 'Id'.*'abc'"),
        ("Id,Proposal\n12,train\n13,validation\n", r"line 3, field 'Proposal'.*'validation'"),
        ("Id,Partition\n12,train\n", r"missing header column.*'Proposal'"),
        ("", r"empty"),
    ],
)
def test_partition_table_bad_input(tmp_path: Path, text: str, pattern: str):
    path = _write(tmp_path / "partition.csv", text)
    with pytest.raises(CorpusFormatError, match=pattern) as e:
        read_partition_table(path)
    assert "partition.csv" in str(e.value)


# --------------------------------------------------------------------------- label files
def test_read_label_file(tmp_path: Path):
    path = _write(tmp_path / "12.csv", LABELS[("arousal", "12")])
    timestamps, values, segments = read_label_file(path)
    assert timestamps.dtype == np.int64 and timestamps.tolist() == [0, 250, 500, 750]
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, [0.1, 0.2, -0.3, 0.4], rtol=1e-6)
    assert segments.dtype == np.int64 and segments.tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("timestamp,val,segment_id\n0,0.1,1\n", r"missing header column.*'value'"),
        ("timestamp,value,segment_id\n0,0.1,1\n250,high,1\n", r"line 3, field 'value'.*'high'"),
        ("timestamp,value,segment_id\n0,0.1,1\n250,,1\n", r"line 3, field 'value'"),
        ("timestamp,value,segment_id\n0,0.1,1\n250.5,0.2,1\n", r"line 3, field 'timestamp'"),
        ("timestamp,value,segment_id\n0,0.1,1\n250,0.2,x\n", r"line 3, field 'segment_id'"),
        (
            "timestamp,value,segment_id\n0,0.1,1\n250,0.2,1\n250,0.3,1\n",
            r"line 4, field 'timestamp'.*does not increase",
        ),
        ("timestamp,value,segment_id\n", r"no data rows"),
    ],
)
def test_read_label_file_bad_input(tmp_path: Path, text: str, pattern: str):
    path = _write(tmp_path / "41.csv", text)
    with pytest.raises(CorpusFormatError, match=pattern) as e:
        read_label_file(path)
    assert "41.csv" in str(e.value)


# --------------------------------------------------------------------------- feature files
def test_read_feature_file_accepts_any_feature_column_names(tmp_path: Path):
    path = _write(tmp_path / "12.csv", FEATURES[("egemaps", "12")])
    timestamps, segments, x = read_feature_file(path)
    assert timestamps.tolist() == [0, 250, 500, 750] and segments.tolist() == [1, 1, 2, 2]
    assert x.dtype == np.float32 and x.shape == (4, 3)
    np.testing.assert_allclose(x[:, 1], [0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("timestamp,segment_id,f1,f2\n0,1,1,2\n250,1,3,oops\n", r"line 3, field 'f2'.*'oops'"),
        ("timestamp,f1,f2\n0,1,2\n", r"header \(line 1\) must start with 'timestamp,segment_id'"),
        ("0,1,1,2\n250,1,3,4\n", r"header \(line 1\) must start with 'timestamp,segment_id'"),
        ("timestamp,segment_id\n0,1\n", r"at least one feature column"),
        ("timestamp,segment_id,f1\n0,1,1\n,1,2\n", r"line 3, field 'timestamp'"),
        ("timestamp,segment_id,f1\n0,1,1\n250,1,inf\n", r"line 3, field 'f1'.*infinite"),
    ],
)
def test_read_feature_file_bad_input(tmp_path: Path, text: str, pattern: str):
    path = _write(tmp_path / "77.csv", text)
    with pytest.raises(CorpusFormatError, match=pattern) as e:
        read_feature_file(path)
    assert "77.csv" in str(e.value)


NAN_FEATURES = """\
    timestamp,segment_id,f1,f2
    0,1,,10
    250,1,2,nan
    500,1,3,NaN
    750,1,4,40
    1000,1,,50
    """


def test_nan_feature_cell_is_an_error_by_default(tmp_path: Path):
    path = _write(tmp_path / "88.csv", NAN_FEATURES)
    with pytest.raises(CorpusFormatError, match=r"88\.csv: line 2, field 'f1'.*NaN.*interpolate"):
        read_feature_file(path)


def test_nan_feature_cells_interpolated_and_logged(tmp_path: Path, caplog):
    path = _write(tmp_path / "88.csv", NAN_FEATURES)
    with caplog.at_level(logging.WARNING, logger="zoo.data.corpora.muse_car.reader"):
        _, _, x = read_feature_file(path, nan_policy="interpolate")
    np.testing.assert_allclose(x[:, 0], [2, 2, 3, 4, 4])  # edges repeat the nearest value
    np.testing.assert_allclose(x[:, 1], [10, 20, 30, 40, 50])  # linear along time
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1 and "88.csv" in messages[0] and "4 NaN" in messages[0]


def test_nan_interpolation_cannot_repair_an_empty_column(tmp_path: Path):
    path = _write(tmp_path / "89.csv", "timestamp,segment_id,f1,f2\n0,1,,1\n250,1,,2\n")
    with pytest.raises(CorpusFormatError, match=r"89\.csv: field 'f1'.*every line"):
        read_feature_file(path, nan_policy="interpolate")


def test_unknown_nan_policy(tmp_path: Path):
    path = _write(tmp_path / "1.csv", "timestamp,segment_id,f1\n0,1,1\n")
    with pytest.raises(ValueError, match="nan_policy"):
        read_feature_file(path, nan_policy="zero")


# --------------------------------------------------------------------------- recordings
def test_load_train_recordings(corpus: Path):
    recs = load_muse_car_recordings(corpus, "train", ["egemaps", "vggish"], ["valence", "arousal"])
    assert [r.id for r in recs] == ["5", "12"]  # numeric order, duplicates dropped
    rec = recs[1]
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.25, 0.5, 0.75])
    assert rec.timestamps.dtype == np.float64
    assert rec.targets.dtype == np.float32 and rec.targets.shape == (4, 2)
    np.testing.assert_allclose(rec.targets[:, 0], [-0.5, -0.25, 0.0, 0.75])  # valence first
    np.testing.assert_allclose(rec.targets[:, 1], [0.1, 0.2, -0.3, 0.4])
    assert rec.features["egemaps"].shape == (4, 3) and rec.features["vggish"].shape == (4, 2)
    assert rec.meta["segment_id"].tolist() == [1, 1, 2, 2]
    assert recs[0].timestamps.tolist() == [1.0, 1.25, 1.5]


def test_test_partition_without_labels_gives_targets_none(corpus: Path):
    (rec,) = load_muse_car_recordings(corpus, "test", ["egemaps"])
    assert rec.id == "7" and rec.targets is None
    assert rec.timestamps.tolist() == [0.0, 0.25, 0.5]  # timeline from the feature file
    assert rec.meta["segment_id"].tolist() == [1, 1, 1]


def test_missing_labels_outside_test_are_an_error(corpus: Path):
    _label(corpus, "arousal", "30").unlink()
    _label(corpus, "valence", "30").unlink()
    with pytest.raises(CorpusFormatError, match=r"arousal[/\\]30\.csv: label file not found"):
        load_muse_car_recordings(corpus, "devel", ["egemaps"])
    (rec,) = load_muse_car_recordings(corpus, "devel", ["egemaps"], allow_missing_labels=True)
    assert rec.targets is None


def test_only_one_of_two_label_files_is_an_error(corpus: Path):
    _label(corpus, "valence", "12").unlink()
    with pytest.raises(CorpusFormatError, match=r"valence[/\\]12\.csv: label file not found"):
        load_muse_car_recordings(corpus, "train", ["egemaps"])
    recs = load_muse_car_recordings(corpus, "train", ["egemaps"], targets=["arousal"])
    assert recs[1].targets.shape == (4, 1)


def test_segment_id_feature(corpus: Path):
    recs = load_muse_car_recordings(corpus, "train", ["egemaps"], use_segment_id=True)
    assert recs[1].features["segment_id"].tolist() == [[1.0], [1.0], [2.0], [2.0]]
    # the reserved name in `features` means the same and is not read from disk
    recs = load_muse_car_recordings(corpus, "train", ["egemaps", "segment_id"])
    assert recs[1].features["segment_id"].shape == (4, 1)


def test_feature_rows_fewer_than_label_rows(corpus: Path):
    short = "timestamp,segment_id,0,1\n0,1,1,2\n250,1,3,4\n500,2,5,6\n"
    _write(_feature(corpus, "vggish", "12"), short)
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(corpus, "train", ["egemaps", "vggish"])
    msg = str(e.value)
    assert "vggish" in msg and "12.csv" in msg and "'timestamp'" in msg
    assert "3 vs 4 rows" in msg and "first missing timestamp: 750 ms" in msg


def test_feature_timestamps_differ_from_labels(corpus: Path):
    # on the 250 ms grid (a gap, as after an excluded part of a video) but not the labels' frames
    _write(_feature(corpus, "egemaps", "12"), FEATURES[("egemaps", "12")].replace("750,2", "1000,2"))
    with pytest.raises(CorpusFormatError, match=r"line 5: 1000 ms here, 750 ms in 12\.csv") as e:
        load_muse_car_recordings(corpus, "train", ["egemaps"])
    assert "egemaps" in str(e.value)


def test_feature_segment_ids_differ_from_labels(corpus: Path):
    text = "timestamp,segment_id,0,1\n1000,3,1,1\n1250,4,2,2\n1500,3,3,3\n"
    _write(_feature(corpus, "vggish", "5"), text)
    with pytest.raises(CorpusFormatError, match=r"5\.csv: line 3, field 'segment_id'"):
        load_muse_car_recordings(corpus, "train", ["vggish"])


def test_arousal_and_valence_files_disagree(corpus: Path):
    text = "timestamp,value,segment_id\n1000,0.1,3\n1250,0.2,3\n1750,0.3,3\n"
    _write(_label(corpus, "valence", "5"), text)
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(corpus, "train", ["egemaps"])
    msg = str(e.value)
    assert "valence" in msg and "5.csv" in msg and "line 4" in msg and "1750 ms" in msg


def test_missing_feature_file_names_file_and_video(corpus: Path):
    _feature(corpus, "vggish", "30").unlink()
    pattern = r"vggish[/\\]30\.csv: feature file not found.*video 30"
    with pytest.raises(CorpusFormatError, match=pattern):
        load_muse_car_recordings(corpus, "devel", ["egemaps", "vggish"])


def test_inconsistent_feature_dimension_across_files(corpus: Path):
    _write(
        _feature(corpus, "vggish", "12"),
        "timestamp,segment_id,0,1,2\n0,1,1,2,0\n250,1,3,4,0\n500,2,5,6,0\n750,2,7,8,0\n",
    )
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(corpus, "train", ["vggish"])
    msg = str(e.value)
    assert "12.csv" in msg and "5.csv" in msg and "3 feature columns" in msg and "has 2" in msg


def test_unknown_partition(corpus: Path):
    with pytest.raises(ValueError, match="partition"):
        load_muse_car_recordings(corpus, "validation", ["egemaps"])


# --------------------------------------------------------------------------- datamodule
def test_datamodule_is_registered_and_loads(corpus: Path):
    dm = create_datamodule(
        "muse_car", root=corpus, features=["egemaps", "vggish"], win_len=2, hop_len=1, batch_size=2, label_shift=0.25
    )
    assert isinstance(dm.corpus, MuSeCaRCorpus) and dm.label_step == 0.25
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["egemaps"].shape[-1] == 3 and batch["targets"].shape[-1] == 2
    dm.setup("test")
    test_batch = next(iter(dm.test_dataloader()))
    assert test_batch["ids"] == ["7"] and not test_batch["has_targets"].any()


def test_datamodule_segment_id_feature_and_nan_policy(corpus: Path):
    dm = CorpusDataModule("muse_car", root=corpus, features=["egemaps"], use_segment_id=True, normalize=False)
    assert dm.feature_names == ["egemaps", "segment_id"]
    dm.setup("validate")
    assert dm.recordings("val")[0].features["segment_id"].shape == (2, 1)
    with pytest.raises(ValueError, match="nan_policy"):
        CorpusDataModule("muse_car", root=corpus, features=["egemaps"], nan_policy="drop")


def test_write_predictions_round_trip(corpus: Path, tmp_path: Path):
    dm = CorpusDataModule("muse_car", root=corpus, features=["egemaps"])
    rec = dm.raw_recordings("train")[1]
    preds = np.array([[0.5, -0.5], [0.25, -0.25], [0.0, 0.0], [1.0, -1.0]], np.float32)
    dm.write_predictions(tmp_path / "preds", rec, preds, ["arousal", "valence"])
    path = tmp_path / "preds" / "valence" / "12.csv"
    assert path.read_text().splitlines()[0] == "timestamp,value,segment_id"
    timestamps, values, segments = read_label_file(path)
    assert timestamps.tolist() == [0, 250, 500, 750] and segments.tolist() == [1, 1, 2, 2]
    np.testing.assert_allclose(values, preds[:, 1])
    with pytest.raises(ValueError, match="shape"):
        dm.write_predictions(tmp_path / "preds", rec, preds[:3], ["arousal", "valence"])


# --------------------------------------------------------------------------- issue 12: corrupted files
# A tiny corpus from the synthetic writer, then one file corrupted by hand per test.
@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    return write_synthetic_muse_car(
        tmp_path_factory.mktemp("tiny") / "muse",
        seed=3,
        n_videos={"train": 2, "devel": 1, "test": 1},
        feature_sets=["egemaps"],
        segment_frames=(60, 120),
    )


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _first_train_video(root: Path) -> str:
    return sorted(
        (i for i, p in read_partition_table(root / "metadata" / "partition.csv").items() if p == "train"), key=int
    )[0]


def _rewrite_rows(path: Path, edit) -> None:
    """Rewrite a CSV's data rows (list of lists of strings) with ``edit(rows) -> rows``."""
    lines = path.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    path.write_text("\n".join([lines[0]] + [",".join(r) for r in edit(rows)]) + "\n")


@pytest.mark.parametrize("kind", ["label", "feature"])
def test_file_sampled_every_500_ms_is_refused_naming_it(tiny_corpus: Path, tmp_path: Path, kind: str):
    root = _copy(tiny_corpus, tmp_path / "c")
    vid = _first_train_video(root)
    path = _label(root, "arousal", vid) if kind == "label" else _feature(root, "egemaps", vid)
    # every other row: a 500 ms step throughout
    _rewrite_rows(path, lambda rows: rows[::2])
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(root, "train", ["egemaps"])
    msg = str(e.value)
    assert str(path) in msg and "500 ms" in msg and "250 ms" in msg and f"video {vid}" in msg


def test_off_grid_step_is_refused_with_its_row(tiny_corpus: Path, tmp_path: Path):
    root = _copy(tiny_corpus, tmp_path / "c")
    vid = _first_train_video(root)
    path = _label(root, "valence", vid)

    def shift(rows):
        rows[5][0] = str(int(rows[5][0]) + 10)  # 1260 ms: 260 ms after the previous row
        return rows

    _rewrite_rows(path, shift)
    with pytest.raises(
        CorpusFormatError,
        match=rf"line 7, field 'timestamp' \(video {vid}, data row 6\).*"
        r"260 ms after the previous row",
    ) as e:
        read_label_file(path)
    assert str(path) in str(e.value)


def test_gap_on_the_grid_is_accepted(tiny_corpus: Path, tmp_path: Path):
    """The real files leave out excluded parts of a video (Sun et al. 2020 §6): a gap of whole
    250 ms steps in every file of a video is read, not refused."""
    root = _copy(tiny_corpus, tmp_path / "c")
    vid = _first_train_video(root)
    files = [_label(root, t, vid) for t in ("arousal", "valence")] + [_feature(root, "egemaps", vid)]
    for path in files:
        _rewrite_rows(path, lambda rows: rows[:10] + rows[30:])
    recs = {r.id: r for r in load_muse_car_recordings(root, "train", ["egemaps"])}
    stamps = np.rint(recs[vid].timestamps * 1000).astype(int)
    assert stamps[9] == 2250 and stamps[10] == 7500


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", ""])
def test_non_finite_label_names_file_video_and_row(tiny_corpus: Path, tmp_path: Path, bad: str):
    root = _copy(tiny_corpus, tmp_path / "c")
    vid = _first_train_video(root)
    path = _label(root, "arousal", vid)

    def corrupt(rows):
        rows[41][1] = bad
        return rows

    _rewrite_rows(path, corrupt)
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(root, "train", ["egemaps"])
    msg = str(e.value)
    assert str(path) in msg and f"video {vid}" in msg and "data row 42" in msg and "line 43" in msg
    assert "field 'value'" in msg and "non-finite" in msg


@pytest.mark.parametrize("bad, what", [("nan", "missing (NaN)"), ("inf", "infinite"), ("-inf", "infinite")])
def test_non_finite_feature_names_file_video_and_row(tiny_corpus: Path, tmp_path: Path, bad: str, what: str):
    root = _copy(tiny_corpus, tmp_path / "c")
    vid = _first_train_video(root)
    path = _feature(root, "egemaps", vid)

    def corrupt(rows):
        rows[7][4] = bad  # the third feature column
        return rows

    _rewrite_rows(path, corrupt)
    with pytest.raises(CorpusFormatError) as e:
        load_muse_car_recordings(root, "train", ["egemaps"])
    msg = str(e.value)
    assert str(path) in msg and f"video {vid}" in msg and "data row 8" in msg and "line 9" in msg
    column = path.read_text().splitlines()[0].split(",")[4]  # the third feature column's header name
    assert f"field {column!r}" in msg and what in msg


def test_normalize_features_standardises_only_the_listed_sets(tiny_corpus: Path):
    """Sun et al. 2020 §5.2 standardise the hand-crafted sets only: ``normalize_features``."""
    dm = CorpusDataModule(
        "muse_car", root=tiny_corpus, features=["egemaps"], use_segment_id=True, normalize_features=["egemaps"]
    )
    dm.setup("fit")
    assert set(dm.data_spec()["normalization"]) == {"egemaps"}
    train = dm.recordings("train")
    egemaps = np.concatenate([r.features["egemaps"] for r in train])
    np.testing.assert_allclose(egemaps.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(egemaps.std(0), 1, atol=1e-3)
    raw = dm.raw_recordings("train")
    for rec, prepared in zip(raw, train):  # segment ids enter as stored (1, 2, ...)
        np.testing.assert_array_equal(prepared.features["segment_id"][:, 0], rec.meta["segment_id"])
    # listed sets that are not used are ignored; none listed: nothing is standardised
    dm = CorpusDataModule("muse_car", root=tiny_corpus, features=["egemaps"], normalize_features=["openpose"])
    assert dm.data_spec()["normalization"] is None or dm.data_spec()["normalization"] == {}
    with pytest.raises(ValueError, match=r"data.args.normalize_features: expected null or a list of distinct"):
        CorpusDataModule("muse_car", root=tiny_corpus, features=["egemaps"], normalize_features="egemaps")


# --------------------------------------------------------------------------- issue 24: values, access
@pytest.mark.parametrize("value", ["1.25", "1e30"])
def test_a_label_outside_its_range_is_refused(corpus: Path, value: str):
    path = _label(corpus, "valence", "5")
    path.write_text(path.read_text().replace("1250,0.2,3", f"1250,{value},3"))
    assert read_label_file(path)[1][1] == float(value)  # prediction files may lie outside the range
    with pytest.raises(CorpusFormatError) as info:
        load_muse_car_recordings(corpus, "train", ["egemaps"])
    assert str(info.value) == (
        f"{path}: line 3, field 'value' (video 5, data row 2): label {float(value):g} is outside the range [-1, 1] "
        "the corpus declares (1 such value(s) in the file)"
    )


def test_an_absurd_feature_value_is_a_warning_naming_the_file(tmp_path: Path):
    values = np.column_stack([np.sin(np.arange(40.0)), np.cos(np.arange(40.0))])
    values[10, 0] = 1e30
    rows = "\n".join(f"{250 * i},1,{a:g},{b:g}" for i, (a, b) in enumerate(values))
    path = _write(tmp_path / "f.csv", "timestamp,segment_id,a,b\n" + rows + "\n")
    with pytest.warns(
        CorpusDataWarning, match=rf"^{path}: line 12, field 'a' \(video f, data row 11\): feature value 1e\+30"
    ):
        read_feature_file(path)


def test_a_file_that_cannot_be_read_is_one_error_naming_it(corpus: Path, monkeypatch):
    path = _label(corpus, "arousal", "5")
    path.unlink()
    path.symlink_to(path.name)  # a symbolic-link loop
    with pytest.raises(CorpusFormatError, match=rf"^{path}: label file not found"):
        load_muse_car_recordings(corpus, "train", ["egemaps"])
    import pandas as pd

    def denied(*args, **kwargs):  # what a file without read permission gives a user who is not root
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_csv", denied)
    with pytest.raises(CorpusFormatError, match=r"partition.csv: cannot read the partition file \(Permission denied\)"):
        load_muse_car_recordings(corpus, "train", ["egemaps"])
