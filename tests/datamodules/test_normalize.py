"""Z-normalisation on the model's device: the same numbers as a NumPy z-score with train stats.

The loaders yield raw (delayed, windowed, zero-padded) features and :class:`EmotionTask`
normalises each batch as the first operation of its steps. These tests compare that path with an
independent NumPy z-score, including padded frames (0, as when the loaders normalised) and a
never-normalised (raw) feature set, and check the host paths that share the arithmetic.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data import create_datamodule
from zoo.data._normalize import FeatureNormalizer, zscore
from zoo.data._sequence import FeatureStats, Recording
from zoo.data.corpus import Corpus
from zoo.data.datamodule import CorpusDataModule
from zoo.training.task import EmotionTask

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class _ToyCorpus(Corpus):
    """Train mean 10, devel mean −10, recordings of different lengths, plus a raw set ``raw``."""

    name = "toy_normalize"
    label_step = 0.25
    targets = ("arousal", "valence")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.raw_feature_names = ("raw",)

    def read(self, partition: str) -> list[Recording]:
        rng = np.random.default_rng({"train": 0, "devel": 1, "test": 2}[partition])
        offset = {"train": 10.0, "devel": -10.0, "test": 0.0}[partition]
        recs = []
        for i, n in enumerate([23, 9, 40]):
            scale = np.array([2.0, 0.01, 300.0])  # very different spreads per dimension
            f = (offset + scale * rng.normal(0, 1, (n, 3))).astype(np.float32)
            raw = rng.normal(100, 5, (n, 2)).astype(np.float32)
            y = rng.normal(0, 1, (n, 2)).astype(np.float32)
            recs.append(Recording(f"{partition}_{i}", {"a": f, "raw": raw}, np.arange(n) * 0.25, y))
        return recs


def _toy(**kw) -> CorpusDataModule:
    args = dict(
        root=".",
        features=["a", "raw"],
        win_len=None,
        batch_size=3,
        eval_batch_size=3,
        label_shift=0.5,
        use_cache=False,
        num_workers=0,
    )
    dm = CorpusDataModule(_ToyCorpus, **{**args, **kw})
    dm.setup("fit")
    return dm


def _task(spec: dict) -> EmotionTask:
    return EmotionTask("sun2020_lstm", spec, model_args={"hidden_size": 8})


def _numpy_train_stats(dm: CorpusDataModule) -> tuple[np.ndarray, np.ndarray]:
    """Population mean/std of the raw train frames, computed here in float64."""
    x = np.concatenate([r.features["a"] for r in dm.raw_recordings("train")]).astype(np.float64)
    return x.mean(0), x.std(0)


def _expected(dm: CorpusDataModule, batch: dict, name: str, mean=None, std=None) -> np.ndarray:
    """The batch's ``name`` as the old loaders gave it: delayed, z-scored, padded frames 0."""
    by_id = {r.id: r for r in dm.raw_recordings("val")}
    shift = round(dm.label_shift / dm.label_step)
    out = np.zeros(tuple(batch["features"][name].shape), np.float64)
    for b, rec_id in enumerate(batch["ids"]):
        x = by_id[rec_id].features[name]
        x = x[np.clip(np.arange(len(x)) - shift, 0, len(x) - 1)].astype(np.float64)
        out[b, : len(x)] = x if mean is None else (x - mean) / std
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_step_normalises_like_numpy_with_padding_and_a_raw_set(device: str):
    dm = _toy()
    mean, std = _numpy_train_stats(dm)
    spec = dm.data_spec()
    assert set(spec["normalization"]) == {"a"}  # the raw set has no statistics
    np.testing.assert_allclose(spec["normalization"]["a"]["mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(spec["normalization"]["a"]["std"], std, rtol=1e-10)
    batch = next(iter(dm.val_dataloader()))
    assert not batch["mask"].all()  # recordings of 23, 9, 40 frames: padded rows exist
    raw_a = batch["features"]["a"].clone()
    np.testing.assert_array_equal(raw_a.numpy(), _expected(dm, batch, "a").astype(np.float32))  # raw, delayed

    task = _task(spec).to(device)
    moved = {
        **batch,
        "features": {n: x.to(device) for n, x in batch["features"].items()},
        "mask": batch["mask"].to(device),
    }
    out = task.normalize_batch(moved)
    got = out["features"]["a"]
    assert got.device.type == device and got.dtype == torch.float32
    np.testing.assert_allclose(got.cpu().numpy(), _expected(dm, batch, "a", mean, std), rtol=1e-5, atol=1e-5)
    assert (got.cpu()[~batch["mask"]] == 0).all()  # padded frames stay exactly 0
    # the raw set is untouched: same tensor, raw values on real frames, 0 on padding
    assert out["features"]["raw"] is moved["features"]["raw"]
    np.testing.assert_array_equal(out["features"]["raw"].cpu().numpy(), _expected(dm, batch, "raw"))
    assert torch.equal(moved["features"]["a"].cpu(), raw_a)  # the loader's batch is not modified


def test_step_gives_the_host_path_numbers_bit_for_bit():
    """Same float32 arithmetic as FeatureStats.normalise on whole prepared recordings."""
    dm = _toy()
    batch = next(iter(dm.val_dataloader()))
    got = _task(dm.data_spec()).normalize_batch(batch)["features"]["a"]
    by_id = {r.id: r for r in dm.recordings("val")}  # delayed + normalised on the host
    for b, rec_id in enumerate(batch["ids"]):
        host = by_id[rec_id].features["a"]
        assert torch.equal(got[b, : len(host)], torch.from_numpy(host))
    stats = dm.normalization["a"]
    x = dm.raw_recordings("val")[0].features["a"]
    plain = (x - stats.mean.astype(np.float32)) / stats.std.astype(np.float32)  # NumPy float32 z-score
    np.testing.assert_array_equal(stats.normalise(x), plain)


def test_every_step_normalises_first():
    dm = _toy()
    batch = next(iter(dm.val_dataloader()))
    task = _task(dm.data_spec()).eval()
    mean, std = _numpy_train_stats(dm)
    expected = torch.from_numpy(_expected(dm, batch, "a", mean, std).astype(np.float32))
    with torch.no_grad():
        reference = task({"a": expected, "raw": batch["features"]["raw"]}, batch["mask"])
        preds, _ = task._shared_step(batch)  # training/validation/test
        predicted = task.predict_step(batch, 0)["preds"]
    torch.testing.assert_close(preds, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(predicted, reference, rtol=1e-4, atol=1e-5)


def test_normalisation_stays_float32_under_bf16_autocast():
    dm = _toy()
    batch = next(iter(dm.val_dataloader()))
    task = _task(dm.data_spec())
    reference = task.normalize_batch(batch)["features"]["a"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = task.normalize_batch(batch)["features"]["a"]
    assert got.dtype == torch.float32 and torch.equal(got, reference)


def test_width_mismatch_names_the_set_and_both_widths():
    normalizer = FeatureNormalizer({"egemaps": FeatureStats(np.zeros(88), np.ones(88))})
    x = torch.zeros(2, 5, 89)
    with pytest.raises(ValueError, match=r"feature set 'egemaps' has 89 dimensions .* have 88"):
        normalizer({"egemaps": x}, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"'egemaps': mask of shape \(2, 4\)"):
        normalizer({"egemaps": torch.zeros(2, 5, 88)}, torch.ones(2, 4, dtype=torch.bool))


def test_checkpoint_reload_normalises_identically():
    dm = _toy()
    task = _task(dm.data_spec())
    state = task.state_dict()
    assert not any(k.startswith("normalizer.") for k in state)  # the statistics live in hparams
    reloaded = _task(dict(task.hparams["data_spec"]))
    reloaded.load_state_dict(state)  # strict: checkpoints without the buffers load as before
    batch = next(iter(dm.val_dataloader()))
    assert torch.equal(task.normalize_batch(batch)["features"]["a"], reloaded.normalize_batch(batch)["features"]["a"])


def test_no_statistics_no_normalisation():
    dm = _toy(normalize=False)
    spec = dm.data_spec()
    assert spec["normalization"] is None
    batch = next(iter(dm.val_dataloader()))
    out = _task(spec).normalize_batch(batch)
    assert all(out["features"][n] is batch["features"][n] for n in ("a", "raw"))


def test_host_normalise_reads_memory_mapped_and_float64_arrays(tmp_path: Path):
    stats = FeatureStats(np.array([1.0, -2.0]), np.array([0.5, 3.0]))
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.normalise(mapped)
    expected = (x - np.float32([1, -2])) / np.float32([0.5, 3])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(stats.normalise(x.astype(np.float64)), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), x)  # never written


def test_zscore_in_place_only_when_asked():
    x = torch.tensor([[1.0, 2.0]])
    mean, std = torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0])
    assert torch.equal(zscore(x, mean, std), torch.tensor([[0.0, 0.5]])) and x[0, 1] == 2.0
    assert zscore(x, mean, std, inplace=True) is x and x[0, 1] == 0.5


def test_segment_batches_are_normalised_by_the_task(tmp_path: Path):
    """CMU-MOSEI's segment loader serves raw steps; the task gives the old host-normalised batch."""
    from zoo.data._segments import SegmentDataset, collate_segments

    steps = 5
    data = {}
    for p, n, offset in (("train", 3, 0.0), ("valid", 2, 1000.0), ("test", 2, 0.0)):
        text = np.zeros((n, steps, 4), np.float32)
        for i in range(n):
            for j in range(i + 1):
                text[i, steps - (i + 1) + j] = offset + 10 * i + j + 1 + np.arange(4)
        labels = np.tile(np.array([[0.5, 1, 0, 2, 0, 0, 3]], np.float32), (n, 1))
        data[p] = {
            "text": text,
            "audio": text[..., :3].copy(),
            "vision": text[..., :2].copy(),
            "id": np.array([f"{p}{i}[0]" for i in range(n)]),  # each partition its own videos
            "regression_labels": labels,
        }
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    for mode in ("zscore", "maxabs"):
        dm = create_datamodule(
            "cmu_mosei", root=str(path), format="pkl", modalities=["text"], normalize=mode, eval_batch_size=2
        )
        dm.setup("fit")
        batch = next(iter(dm.val_dataloader()))
        assert not batch["mask"].all()  # segments of 1 and 2 steps: padded steps exist
        got = _task(dm.data_spec()).normalize_batch(batch)["features"]["text"]
        host = SegmentDataset(dm.recordings("val"), len(dm.target_names))  # host-normalised segments
        old = collate_segments([host[i] for i in range(len(host))])["features"]["text"]  # zero-padded
        assert torch.equal(got, old), mode


def test_statistics_leave_zero_padding_out_per_block():
    """``padding_blocks``: each all-zero block of a frame is padding — out of the statistics
    (merged over recordings, one of them all padding in a block) and 0 after normalisation."""
    from zoo.data._sequence import compute_feature_stats

    rng = np.random.default_rng(3)
    recs, real = [], []
    for i, n in enumerate([7, 5, 9]):
        x = rng.normal(3.0, 2.0, (n, 4)).astype(np.float32)
        pad_left = rng.random(n) < 0.4
        pad_right = np.ones(n, bool) if i == 1 else rng.random(n) < 0.3  # recording 1: right half all padding
        x[pad_left, :2] = 0.0
        x[pad_right, 2:] = 0.0
        recs.append(Recording(f"r{i}", {"a": x}, np.arange(n) * 0.1, np.zeros((n, 1), np.float32)))
        real.append(np.concatenate([np.repeat(~pad_left[:, None], 2, 1), np.repeat(~pad_right[:, None], 2, 1)], 1))
    stats = compute_feature_stats(recs, ["a"], padding_blocks={"a": 2})["a"]
    x_all = np.concatenate([r.features["a"] for r in recs]).astype(np.float64)
    keep = np.concatenate(real)
    mean = np.array([x_all[keep[:, d], d].mean() for d in range(4)])
    std = np.array([x_all[keep[:, d], d].std() for d in range(4)])
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(stats.std, std, rtol=1e-10)
    back = FeatureStats.from_dict(stats.to_dict())
    assert back.padding_blocks == 2
    out = back.normalise(recs[0].features["a"])
    expected = np.where(real[0], (recs[0].features["a"] - mean) / std, 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # statistics without padding keep their stored form (old checkpoints load unchanged)
    plain = compute_feature_stats(recs, ["a"])["a"]
    assert set(plain.to_dict()) == {"mean", "std"} and FeatureStats.from_dict(plain.to_dict()).padding_blocks == 0
