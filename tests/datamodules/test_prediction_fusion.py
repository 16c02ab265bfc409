"""``prediction_fusion``: hand-written prediction files of two runs + a tiny MuSe-CaR layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError, Recording
from zoo.data.datamodule import CorpusDataModule

# video → (partition, timestamps ms, arousal labels, valence labels)
VIDEOS = {
    "1": ("train", [0, 250, 500], [0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]),
    "2": ("train", [0, 250, 500, 750], [0.5, 0.4, 0.3, 0.2], [0.0, 0.1, 0.0, 0.1]),
    "3": ("devel", [0, 250, 500], [0.9, 0.8, 0.7], [0.6, 0.5, 0.4]),
    "4": ("test", [0, 250], [0.0, -0.5], [0.25, 0.75]),
}
# run A predicted arousal and valence, run B arousal only: value = label + offset (hand-typed)
PRED_A = {"arousal": 0.01, "valence": -0.02}
PRED_B = {"arousal": 0.05}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _rows(timestamps, values) -> str:
    return "timestamp,value,segment_id\n" + "".join(f"{t},{v:.6f},1\n" for t, v in zip(timestamps, values))


def _corpus(root: Path) -> Path:
    _write(root / "metadata/partition.csv", "Id,Proposal\n" + "".join(f"{i},{p[0]}\n" for i, p in VIDEOS.items()))
    for vid, (_, ts, aro, val) in VIDEOS.items():
        _write(root / f"c1_muse_wild/label_segments/arousal/{vid}.csv", _rows(ts, aro))
        _write(root / f"c1_muse_wild/label_segments/valence/{vid}.csv", _rows(ts, val))
        _write(
            root / f"c1_muse_wild/feature_segments/label_aligned/f/{vid}.csv",
            "timestamp,segment_id,f0\n" + "".join(f"{t},1,{k}.0\n" for k, t in enumerate(ts)),
        )
    return root


def _run(folder: Path, root: Path, offsets: dict[str, float]) -> Path:
    targets = ", ".join(offsets)
    _write(
        folder / "config.yaml",
        f"seed: 0\ndata:\n  name: muse_car\n  args:\n    root: {root}\n    features: [f]\n    targets: [{targets}]\n",
    )
    labels = {"arousal": 2, "valence": 3}
    for vid, spec in VIDEOS.items():
        part = spec[0]
        for target, offset in offsets.items():
            values = [v + offset for v in spec[labels[target]]]
            _write(folder / f"predictions/{part}/{target}/{vid}.csv", _rows(spec[1], values))
    return folder


@pytest.fixture()
def layout(tmp_path: Path):
    root = _corpus(tmp_path / "corpus")
    run_a = _run(tmp_path / "runs/run_a", root, PRED_A)
    run_b = _run(tmp_path / "runs/run_b", root, PRED_B)
    return root, run_a, run_b


def _dm(*sources, **kwargs):
    return create_datamodule("prediction_fusion", sources=[str(s) for s in sources], use_cache=False, **kwargs)


def test_features_are_the_sources_predictions_and_labels_come_from_the_corpus(layout):
    root, run_a, run_b = layout
    dm = _dm(run_a, run_b, normalize=False, win_len=None, batch_size=2)
    train = dm.raw_recordings("train")
    assert [r.id for r in train] == ["1", "2"]
    rec = train[1]
    np.testing.assert_allclose(
        rec.features["run_a"], [[0.51, -0.02], [0.41, 0.08], [0.31, -0.02], [0.21, 0.08]], atol=1e-6
    )
    np.testing.assert_allclose(rec.features["run_b"], [[0.55], [0.45], [0.35], [0.25]], atol=1e-6)
    np.testing.assert_allclose(rec.targets, [[0.5, 0.0], [0.4, 0.1], [0.3, 0.0], [0.2, 0.1]], atol=1e-6)
    np.testing.assert_allclose(rec.timestamps, [0.0, 0.25, 0.5, 0.75])
    spec = dm.data_spec()
    assert spec["corpus"] == "muse_car" and spec["label_step"] == 0.25
    assert spec["feature_names"] == ["run_a", "run_b"]
    assert spec["feature_dims"] == {"run_a": 2, "run_b": 1}
    assert [r.id for r in dm.raw_recordings("val")] == ["3"]
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["run_a"].shape[-1] == 2 and batch["targets"].shape[-1] == 2


def test_fusion_targets_and_prediction_writing(layout, tmp_path):
    root, run_a, run_b = layout
    dm = _dm(run_a, run_b, targets=["valence"], normalize=False)
    rec = dm.raw_recordings("test")[0]
    np.testing.assert_allclose(rec.targets, [[0.25], [0.75]], atol=1e-6)
    dm.write_predictions(tmp_path / "out", rec, np.array([[0.5], [-0.25]]), ["valence"])
    assert (tmp_path / "out/valence/4.csv").read_text() == "timestamp,value,segment_id\n0,0.500000,1\n250,-0.250000,1\n"


def test_source_without_a_partition_names_the_run_and_the_fix(layout):
    root, run_a, run_b = layout
    shutil.rmtree(run_b / "predictions/train")
    dm = _dm(run_a, run_b)
    with pytest.raises(CorpusFormatError, match=r"run_b.*'train'.*export_predictions=\[train,val,test\]"):
        dm.raw_recordings("train")
    (run_a / "predictions/devel/valence/3.csv").unlink()
    with pytest.raises(CorpusFormatError, match=r"run_a.*valence/3.csv.*not found.*export_predictions"):
        _dm(run_a).raw_recordings("val")


def test_timestamp_mismatch_names_file_and_timestamp(layout):
    root, run_a, run_b = layout
    path = run_b / "predictions/train/arousal/2.csv"
    path.write_text(_rows([0, 250, 600, 750], [0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(CorpusFormatError, match=r"2\.csv: line 4, field 'timestamp'.*: 600 ms .* 250 ms label"):
        _dm(run_a, run_b).raw_recordings("train")
    path.write_text(_rows([0, 250, 500], [0.1, 0.2, 0.3]))
    with pytest.raises(CorpusFormatError, match=r"2\.csv: 3 prediction rows for the 4 label frames"):
        _dm(run_a, run_b).raw_recordings("train")


def test_sources_from_different_corpora_or_a_wrong_corpus_are_refused(layout, tmp_path):
    root, run_a, run_b = layout
    other_root = _corpus(tmp_path / "other_corpus")
    run_c = _run(tmp_path / "runs/run_c", other_root, PRED_B)
    with pytest.raises(ValueError, match="different corpora.*run_a.*run_c"):
        _dm(run_a, run_c)
    with pytest.raises(ValueError, match="corpus='sewa'.*'muse_car'"):
        _dm(run_a, corpus="sewa")
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        _dm(run_a, tmp_path)
    with pytest.raises(ValueError, match="non-empty list"):
        create_datamodule("prediction_fusion", sources=[])
    with pytest.raises(ValueError, match="features"):
        _dm(run_a, features=["x"])


def test_duplicate_folder_names_become_source_i(layout, tmp_path):
    root, run_a, _ = layout
    twin = _run(tmp_path / "elsewhere/run_a", root, PRED_B)
    assert _dm(run_a, twin).feature_names == ["source_0", "source_1"]


def test_muse_read_predictions_inverts_write_predictions(tmp_path):
    dm = CorpusDataModule("muse_car", root=tmp_path, features=["f"])
    rec = Recording(
        id="7",
        features={"f": np.zeros((3, 1), np.float32)},
        timestamps=np.array([0.0, 0.25, 0.5]),
        targets=None,
        meta={"segment_id": np.array([1, 1, 2])},
    )
    preds = np.array([[0.125, -1.0], [0.5, 0.25], [-0.75, 0.0]])
    dm.write_predictions(tmp_path / "p", rec, preds, ["arousal", "valence"])
    np.testing.assert_array_equal(dm.read_predictions(tmp_path / "p", rec), preds.astype(np.float32))
    np.testing.assert_array_equal(
        dm.read_predictions(tmp_path / "p", rec, ["valence"]), preds[:, 1:].astype(np.float32)
    )
