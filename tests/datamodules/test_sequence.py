"""Tests of the shared sequence machinery against hand-computed expectations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data._sequence import (
    CorpusFormatError,
    FeatureStats,
    Recording,
    SequenceDataModule,
    SequenceDataset,
    collate_sequences,
    compute_feature_stats,
    prepare_features,
    shift_frames,
    window_starts,
)


def test_window_starts_cover_every_frame_and_align_last_window_to_end():
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]  # 6+4=10 < 11 → extra window at 7
    assert window_starts(3, 4, 2) == [0]  # shorter than a window
    assert window_starts(4, 4, 2) == [0]
    with pytest.raises(ValueError, match="positive"):
        window_starts(10, 0, 1)


def test_shift_frames_repeats_edges():
    x = np.arange(5, dtype=np.float32)[:, None]
    assert shift_frames(x, 2)[:, 0].tolist() == [0, 0, 0, 1, 2]
    assert shift_frames(x, -2)[:, 0].tolist() == [2, 3, 4, 4, 4]
    assert shift_frames(x, 0) is x


def test_feature_stats_equal_numpy_over_concatenation():
    rng = np.random.default_rng(0)
    recs = [
        Recording(str(i), {"a": rng.normal(5, 3, (n, 4)).astype(np.float32)}, np.arange(n) * 0.25, None)
        for i, n in enumerate([7, 1, 30, 12])
    ]
    stats = compute_feature_stats(recs, ["a"])["a"]
    allx = np.concatenate([r.features["a"] for r in recs]).astype(np.float64)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-10)
    np.testing.assert_allclose(stats.std, allx.std(0), rtol=1e-10)


def test_constant_dimension_gets_unit_std():
    rec = Recording("r", {"a": np.ones((5, 2), np.float32)}, np.arange(5.0), None)
    assert compute_feature_stats([rec], ["a"])["a"].std.tolist() == [1.0, 1.0]


def test_prepare_features_delays_then_normalises():
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    stats = {"a": FeatureStats(np.array([1.0]), np.array([2.0]))}
    out = prepare_features({"a": x}, feature_names=["a"], label_step=0.5, label_shift=1.0,
                           normalization=stats)["a"][:, 0]
    # shift 1.0 s / 0.5 s = 2 frames: [0,0,0,1,2,3] then (x-1)/2
    np.testing.assert_allclose(out, [-0.5, -0.5, -0.5, 0.0, 0.5, 1.0])
    out = prepare_features({"a": x}, feature_names=["a"], label_step=0.5, label_shift=0.5,
                           feature_delay={"a": -1.0})["a"][:, 0]
    np.testing.assert_allclose(out, [1, 2, 3, 4, 5, 5])  # net shift −1 frame
    with pytest.raises(ValueError, match="feature_delay names"):
        prepare_features({"a": x}, feature_names=["a"], label_step=0.5, feature_delay={"b": 1.0})


def test_recording_rejects_mismatched_lengths():
    with pytest.raises(CorpusFormatError, match="recording r: feature set 'a'"):
        Recording("r", {"a": np.zeros((4, 2))}, np.arange(5.0), None)


def test_collate_pads_and_masks():
    recs = [
        Recording("x", {"a": np.ones((3, 2), np.float32)}, np.arange(3) * 0.1, np.full((3, 1), 2.0, np.float32)),
        Recording("y", {"a": np.ones((5, 2), np.float32)}, np.arange(5) * 0.1, None),
    ]
    batch = collate_sequences([SequenceDataset(recs, 1)[i] for i in range(2)])
    assert batch["features"]["a"].shape == (2, 5, 2)
    assert batch["mask"].tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert batch["features"]["a"][0, 3:].abs().sum() == 0
    assert batch["targets"][0, :3, 0].tolist() == [2.0] * 3
    assert batch["has_targets"].tolist() == [True, False]
    assert batch["ids"] == ["x", "y"]
    assert torch.allclose(batch["timestamps"][1], torch.arange(5, dtype=torch.float64) * 0.1)


class _ToyDataModule(SequenceDataModule):
    """In-memory corpus: train has mean 10, devel mean −10 (stats must come from train)."""

    corpus_name = "toy"
    label_step = 0.25

    def default_root(self) -> Path:
        return Path(".")

    def load_partition(self, partition: str) -> list[Recording]:
        rng = np.random.default_rng({"train": 0, "devel": 1, "test": 2}[partition])
        offset = {"train": 10.0, "devel": -10.0, "test": 0.0}[partition]
        recs = []
        for i, n in enumerate([23, 9, 40]):
            f = rng.normal(offset, 2.0, (n, 3)).astype(np.float32)
            y = rng.normal(0, 1, (n, 2)).astype(np.float32)
            recs.append(Recording(f"{partition}_{i}", {"a": f}, np.arange(n) * 0.25, y))
        return recs

    def write_predictions(self, out_dir, recording, preds, target_names):
        raise AssertionError("not used")


def test_datamodule_uses_train_statistics_and_windows():
    dm = _ToyDataModule(root=".", features=["a"], win_len=10, hop_len=5, batch_size=4)
    dm.setup("fit")
    train_raw = np.concatenate([r.features["a"] for r in dm.raw_recordings("train")])
    np.testing.assert_allclose(dm.normalization["a"].mean, train_raw.mean(0), rtol=1e-6)
    val = np.concatenate([r.features["a"] for r in dm.recordings("val")])
    assert val.mean() < -5  # devel normalised with train stats, not its own
    # windows: 23 → [0,5,10,13]; 9 → [0]; 40 → [0,5,...,30] = 7
    assert len(dm.train_dataloader().dataset) == 4 + 1 + 7
    batch = next(iter(dm.val_dataloader()))
    assert batch["features"]["a"].shape[1] == 40  # whole recordings
    spec = dm.data_spec()
    assert spec["feature_dims"] == {"a": 3} and spec["label_step"] == 0.25
    assert len(spec["normalization"]["a"]["mean"]) == 3


def test_datamodule_argument_errors():
    with pytest.raises(ValueError, match="unknown targets"):
        _ToyDataModule(features=["a"], targets=["liking"])
    with pytest.raises(ValueError, match="at least one feature"):
        _ToyDataModule(features=[])


def test_collate_keeps_raw_shapes_and_dtypes():
    frames = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    rec = Recording("v", {"video": frames, "audio": np.ones((2, 640), np.float32)}, np.arange(2) * 0.04, None)
    longer = Recording("w", {"video": np.zeros((3, 4, 4, 3), np.uint8), "audio": np.ones((3, 640), np.float32)},
                       np.arange(3) * 0.04, None)
    ds = SequenceDataset([rec, longer], 2)
    batch = collate_sequences([ds[0], ds[1]])
    assert batch["features"]["video"].shape == (2, 3, 4, 4, 3)
    assert batch["features"]["video"].dtype == torch.uint8
    assert torch.equal(batch["features"]["video"][0, :2], torch.from_numpy(frames))
    assert batch["features"]["audio"].shape == (2, 3, 640)


class _RawToyDataModule(_ToyDataModule):
    raw_feature_names = ("raw",)

    def load_partition(self, partition):
        recs = super().load_partition(partition)
        for r in recs:
            r.features["raw"] = np.full((r.num_frames, 2), 100.0, np.float32)
        return recs


def test_raw_features_are_not_normalised_and_whole_recordings_train():
    dm = _RawToyDataModule(root=".", features=["a", "raw"], win_len=None, batch_size=8)
    dm.setup("fit")
    assert set(dm.normalization) == {"a"}
    train = dm.recordings("train")
    assert all((r.features["raw"] == 100.0).all() for r in train)
    assert abs(np.concatenate([r.features["a"] for r in train]).mean()) < 1e-5
    batch = next(iter(dm.train_dataloader()))
    assert len(dm.train_dataloader().dataset) == 3  # one item per recording
    assert batch["mask"].sum(1).tolist() != [] and batch["features"]["a"].shape[1] == 40
