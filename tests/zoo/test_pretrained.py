"""Checkpoints: save → load → identical predictions; foreign, corrupt or malicious files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.data import create_datamodule
from zoo.data._normalize import FeatureNormalizer
from zoo.hub.checkpoint_io import CheckpointError, read_checkpoint


@pytest.mark.slow
def test_load_pretrained_predicts_like_the_trained_task(trained_muse_run: Path):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    model = zoo.load_pretrained(ckpt)
    assert not model.training and model.target_names == list(model.recipe["data"]["args"]["targets"])
    # Reference path: the datamodule prepares inputs (raw, delayed), the task's normalisation
    # (train statistics of the datamodule) and the network run on the padded batch;
    # load_pretrained must reproduce it from raw features.
    dm = create_datamodule("muse_car", **{**model.recipe["data"]["args"], "batch_size": 4})  # as trained
    dm.setup("validate")
    batch = next(iter(dm.val_dataloader()))
    normalizer = FeatureNormalizer.from_spec(dm.data_spec()["normalization"])
    with torch.no_grad():
        ref = model.net(normalizer(batch["features"], batch["mask"]), batch["mask"]).numpy()
    raw = {r.id: r for r in dm.raw_recordings("val")}
    for b, rec_id in enumerate(batch["ids"]):
        got = model.predict(raw[rec_id].features)
        n = int(batch["mask"][b].sum())
        assert got.shape == (n, len(model.target_names))
        np.testing.assert_allclose(got, ref[b, :n], atol=1e-5)


@pytest.mark.slow
def test_predict_rejects_wrong_inputs(trained_muse_run: Path):
    model = zoo.load_pretrained(trained_muse_run / "checkpoints" / "best.ckpt")
    dims = model.feature_dims
    good = {n: np.zeros((10, d), np.float32) for n, d in dims.items()}
    assert model.predict(good).shape == (10, len(model.target_names))
    name = next(iter(dims))
    with pytest.raises(KeyError, match=name):
        model.predict({n: x for n, x in good.items() if n != name})
    with pytest.raises(ValueError, match=f"{name}.*expected \\(T, {dims[name]}\\)"):
        model.predict({**good, name: np.zeros((10, dims[name] + 1))})


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(trained_muse_run: Path, tmp_path: Path):
    checkpoint = torch.load(trained_muse_run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["model"] = "sun2020_lstm"  # architecture differs from weights
    other = tmp_path / "other.ckpt"
    torch.save(checkpoint, other)
    with pytest.raises(CheckpointError, match="weights do not fit model 'sun2020_lstm'"):
        zoo.load_pretrained(other)


def test_missing_corrupt_and_foreign_files(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        read_checkpoint(tmp_path / "nowhere.ckpt")
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt.ckpt: not a readable"):
        read_checkpoint(corrupt)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {}}, foreign)
    with pytest.raises(CheckpointError, match="not one written by affect-zoo"):
        read_checkpoint(foreign)


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_payload_is_refused_without_running_code(tmp_path: Path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "affect_zoo": {}, "hyper_parameters": {"x": _Payload(marker)}}, evil)
    with pytest.raises(CheckpointError, match="refused to load"):
        read_checkpoint(evil)
    assert not marker.exists()
