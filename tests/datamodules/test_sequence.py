"""Tests of the shared sequence machinery against hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.data._sequence import (
    CorpusFormatError,
    FeatureStats,
    Recording,
    SequenceDataset,
    collate_sequences,
    compute_feature_stats,
    prepare_features,
    shift_frames,
    window_starts,
)
from zoo.data.corpus import Corpus
from zoo.data.datamodule import CorpusDataModule
from zoo.errors import ConfigError


def test_window_starts_cover_every_frame_and_align_last_window_to_end():
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]  # 6+4=10 < 11 → extra window at 7
    assert window_starts(3, 4, 2) == [0]  # shorter than a window
    assert window_starts(4, 4, 2) == [0]
    with pytest.raises(ValueError, match="positive"):
        window_starts(10, 0, 1)


def test_window_starts_remainder_last_window_by_hand():
    # T=450, win 200, hop 100: regular windows [0,200) [100,300) [200,400); 400 < 450, so one
    # more window is needed for frames 400..449.
    # align_end: a full window [250,450). remainder: the next hop, [300,450), 150 frames.
    assert window_starts(450, 200, 100) == [0, 100, 200, 250]
    assert window_starts(450, 200, 100, "remainder") == [0, 100, 200, 300]
    # the recording ends exactly on a regular window: both policies agree
    assert window_starts(400, 200, 100, "remainder") == [0, 100, 200]
    assert window_starts(400, 200, 100, "align_end") == [0, 100, 200]
    # T=250: align_end [0,200) [50,250); remainder [0,200) [100,250)
    assert window_starts(250, 200, 100) == [0, 50]
    assert window_starts(250, 200, 100, "remainder") == [0, 100]
    # shorter than a window: one short window either way
    assert window_starts(150, 200, 100, "remainder") == [0]
    assert window_starts(200, 200, 100, "remainder") == [0]
    # hop == win: T=450, win 200 → [0,200) [200,400) then [400,450) (50 frames)
    assert window_starts(450, 200, 200, "remainder") == [0, 200, 400]
    assert window_starts(450, 200, 200) == [0, 200, 250]
    assert window_starts(11, 4, 3, "remainder") == [0, 3, 6, 9]  # last window [9,11)
    with pytest.raises(ValueError, match="last_window"):
        window_starts(450, 200, 100, "pad")


def _windows_until_end(num_frames: int, win_len: int, hop_len: int) -> list[tuple[int, int]]:
    """Reference: step by hop_len, cut each window at the end, stop once a window reaches it."""
    out, start = [], 0
    while True:
        end = min(start + win_len, num_frames)
        out.append((start, end))
        if end == num_frames:
            return out
        start += hop_len


@pytest.mark.parametrize("win_len,hop_len", [(200, 100), (200, 200), (200, 50), (4, 3), (5, 1)])
def test_window_starts_remainder_equals_step_until_end(win_len, hop_len):
    for num_frames in range(1, 3 * win_len + 7):
        starts = window_starts(num_frames, win_len, hop_len, "remainder")
        got = [(s, min(s + win_len, num_frames)) for s in starts]
        assert got == _windows_until_end(num_frames, win_len, hop_len), num_frames
        # same number of windows as align_end, and every frame covered
        assert len(starts) == len(window_starts(num_frames, win_len, hop_len, "align_end"))
        covered = np.zeros(num_frames, bool)
        for s, e in got:
            covered[s:e] = True
        assert covered.all()


def test_remainder_windows_are_padded_and_masked():
    n = 450
    x = np.arange(n, dtype=np.float32)[:, None]
    y = np.linspace(-1, 1, n, dtype=np.float32)[:, None]
    rec = Recording("r", {"a": x}, np.arange(n) * 0.25, y)
    ds = SequenceDataset([rec], 1, win_len=200, hop_len=100, last_window="remainder")
    assert [(s, e) for _, s, e in ds.index] == [(0, 200), (100, 300), (200, 400), (300, 450)]
    assert [len(ds[i]["timestamps"]) for i in range(len(ds))] == [200, 200, 200, 150]
    batch = collate_sequences([ds[i] for i in range(len(ds))])
    assert batch["mask"].sum(1).tolist() == [200, 200, 200, 150]
    assert not batch["mask"][3, 150:].any()
    assert batch["features"]["a"][3, :150, 0].tolist() == list(range(300, 450))
    assert batch["features"]["a"][3, 150:].abs().sum() == 0
    assert batch["targets"][3, 150:].abs().sum() == 0
    assert batch["starts"].tolist() == [0, 100, 200, 300]


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
    out = prepare_features({"a": x}, feature_names=["a"], label_step=0.5, label_shift=1.0, normalization=stats)["a"][
        :, 0
    ]
    # shift 1.0 s / 0.5 s = 2 frames: [0,0,0,1,2,3] then (x-1)/2
    np.testing.assert_allclose(out, [-0.5, -0.5, -0.5, 0.0, 0.5, 1.0])
    out = prepare_features({"a": x}, feature_names=["a"], label_step=0.5, label_shift=0.5, feature_delay={"a": -1.0})[
        "a"
    ][:, 0]
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


class _ToyCorpus(Corpus):
    """In-memory corpus: train has mean 10, devel mean −10 (stats must come from train)."""

    name = "toy_in_memory"
    label_step = 0.25
    targets = ("arousal", "valence")

    def read(self, partition: str) -> list[Recording]:
        rng = np.random.default_rng({"train": 0, "devel": 1, "test": 2}[partition])
        offset = {"train": 10.0, "devel": -10.0, "test": 0.0}[partition]
        recs = []
        for i, n in enumerate([23, 9, 40]):
            f = rng.normal(offset, 2.0, (n, 3)).astype(np.float32)
            y = rng.normal(0, 1, (n, 2)).astype(np.float32)
            recs.append(Recording(f"{partition}_{i}", {"a": f}, np.arange(n) * 0.25, y))
        return recs


def _ToyDataModule(**options) -> CorpusDataModule:
    return CorpusDataModule(_ToyCorpus, **{"use_cache": False, **options})


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


def test_datamodule_last_window_remainder():
    dm = _ToyDataModule(root=".", features=["a"], win_len=10, hop_len=5, batch_size=4, last_window="remainder")
    dm.setup("fit")
    ds = dm.train_dataloader().dataset
    # 23 → [0,10) [5,15) [10,20) [15,23); 9 → [0,9); 40 → [0,10) ... [30,40), 7 windows
    assert [(s, e) for r, s, e in ds.index if r == 0] == [(0, 10), (5, 15), (10, 20), (15, 23)]
    assert [(s, e) for r, s, e in ds.index if r == 1] == [(0, 9)]
    assert [s for r, s, e in ds.index if r == 2] == [0, 5, 10, 15, 20, 25, 30]
    assert _ToyDataModule(root=".", features=["a"], win_len=10, hop_len=5).last_window == "align_end"


def test_datamodule_argument_errors():
    with pytest.raises(ValueError, match="unknown targets"):
        _ToyDataModule(features=["a"], targets=["liking"])
    with pytest.raises(ValueError, match=r"data.args.features: expected null or a non-empty list"):
        _ToyDataModule(features=[])
    with pytest.raises(ConfigError, match="last_window"):
        _ToyDataModule(features=["a"], last_window="pad")


def test_collate_keeps_raw_shapes_and_dtypes():
    frames = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    rec = Recording("v", {"video": frames, "audio": np.ones((2, 640), np.float32)}, np.arange(2) * 0.04, None)
    longer = Recording(
        "w",
        {"video": np.zeros((3, 4, 4, 3), np.uint8), "audio": np.ones((3, 640), np.float32)},
        np.arange(3) * 0.04,
        None,
    )
    ds = SequenceDataset([rec, longer], 2)
    batch = collate_sequences([ds[0], ds[1]])
    assert batch["features"]["video"].shape == (2, 3, 4, 4, 3)
    assert batch["features"]["video"].dtype == torch.uint8
    assert torch.equal(batch["features"]["video"][0, :2], torch.from_numpy(frames))
    assert batch["features"]["audio"].shape == (2, 3, 640)


class _RawToyCorpus(_ToyCorpus):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.raw_feature_names = ("raw",)

    def read(self, partition):
        recs = super().read(partition)
        for r in recs:
            r.features["raw"] = np.full((r.num_frames, 2), 100.0, np.float32)
        return recs


def _RawToyDataModule(**options) -> CorpusDataModule:
    return CorpusDataModule(_RawToyCorpus, **{"use_cache": False, **options})


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
