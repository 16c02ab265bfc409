"""Checkpoints are checked as bundles are (issue 24): finite weights and statistics, std > 0, a
finite label shift; a bundle with NaN weights is refused even with a rewritten manifest; NaN
predictions are never written; overrides a checkpoint would silently ignore are refused, and what
it fixes is recorded; a resumed run gets its own configuration back; unsafe pretrained weights
are refused without PyTorch's advice to load them unsafely."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

import zoo
from zoo.cli import run
from zoo.hub.bundle import BundleError, export_bundle
from zoo.hub.checkpoint_io import CheckpointError, read_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import tiny_overrides, write_tiny_corpus  # noqa: E402

RECIPE = "muse_car/sun2020_lstm_selfattn"


def _edited(src: Path, dest: Path, edit) -> Path:
    checkpoint = torch.load(src, map_location="cpu", weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, dest)
    return dest


def _stats(checkpoint: dict) -> dict:
    return checkpoint["hyper_parameters"]["data_spec"]["normalization"]["egemaps"]


def _nan_first_weight(checkpoint: dict) -> None:
    key = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][key].view(-1)[0] = float("nan")


@pytest.mark.parametrize(
    "edit, field",
    [
        (
            lambda c: _stats(c)["std"].__setitem__(3, 0.0),
            r"data_spec.normalization.egemaps.std\[3\]: expected finite numbers > 0, found 0.0",
        ),
        (
            lambda c: _stats(c)["mean"].__setitem__(0, float("nan")),
            r"data_spec.normalization.egemaps.mean\[0\]: expected finite numbers, found nan",
        ),
        (
            lambda c: c["hyper_parameters"]["data_spec"].__setitem__("label_shift", float("nan")),
            r"data_spec.label_shift: expected a finite number of seconds",
        ),
        (_nan_first_weight, r"state_dict\['.*'\]: expected finite weights, found 1 NaN/inf value\(s\)"),
    ],
    ids=["std_zero", "mean_nan", "label_shift_nan", "nan_weight"],
)
def test_a_checkpoint_with_unusable_values_is_refused(trained_muse_run: Path, tmp_path: Path, edit, field):
    path = _edited(trained_muse_run / "checkpoints" / "best.ckpt", tmp_path / "bad.ckpt", edit)
    with pytest.raises(CheckpointError, match=rf"^{tmp_path / 'bad.ckpt'}: (hyper_parameters\.)?{field}"):
        zoo.load_pretrained(path)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)


def test_zoo_test_refuses_a_checkpoint_with_std_zero(trained_muse_run: Path, tmp_path: Path, capsys):
    path = _edited(
        trained_muse_run / "checkpoints" / "best.ckpt",
        tmp_path / "bad.ckpt",
        lambda c: _stats(c)["std"].__setitem__(0, 0.0),
    )
    out = run(["test", RECIPE, f"ckpt={path}", f"output_dir={tmp_path / 'runs'}", "trainer.enable_progress_bar=false"])
    assert out["exit_code"] == 2 and "std[0]: expected finite numbers > 0" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_bundle_with_nan_weights_and_a_rewritten_manifest_is_refused(trained_muse_run: Path, tmp_path: Path):
    bundle = export_bundle(trained_muse_run / "checkpoints" / "best.ckpt", tmp_path / "bundle")
    weights = bundle / "model.safetensors"
    tensors = load_file(str(weights))
    key = next(iter(tensors))
    tensors[key].view(-1)[0] = float("nan")
    save_file(tensors, str(weights))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["model.safetensors"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=rf"model.safetensors: tensor '{key}': expected finite weights, found 1 NaN"):
        zoo.load_pretrained(bundle)


def test_nan_predictions_are_never_returned(trained_muse_run: Path):
    model = zoo.load_pretrained(trained_muse_run / "checkpoints" / "best.ckpt")
    with torch.no_grad():
        next(iter(model.net.parameters())).view(-1)[0] = float("nan")  # a model gone bad after loading
    features = {name: np.zeros((20, dim), np.float32) for name, dim in model.feature_dims.items()}
    with pytest.raises(ValueError, match=r"predict: the model gave \d+ NaN/inf value\(s\)"):
        model.predict(features)


def test_the_prediction_writer_refuses_nan_naming_the_recording_and_its_file():
    from zoo.data import create_datamodule

    dm = create_datamodule("muse_car", features=["egemaps"])
    rec = dm.raw_recordings("test")[0]
    preds = np.zeros((1, rec.num_frames, 2), np.float32)
    preds[0, 3, 1] = np.nan
    with pytest.raises(
        ValueError, match=rf"recording {rec.id}: the model predicted 1 NaN/inf value\(s\).*egemaps/{rec.id}.csv"
    ):
        dm.write_batch_predictions(
            Path("unused"), "test", [rec.id], preds, np.ones((1, rec.num_frames), bool), ["arousal", "valence"]
        )


# --------------------------------------------------------------------------- what a checkpoint fixes
def test_overrides_the_checkpoint_would_ignore_are_refused(trained_muse_run: Path, tmp_path: Path, capsys):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    out = run(
        ["validate", RECIPE, f"ckpt={ckpt}", "loss.name=mse", "model.args.hidden_size=64", f"output_dir={tmp_path}"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert out["exit_code"] == 2 and len(err) == 1
    assert "loss.name=mse (the checkpoint has loss.name='ccc')" in err[0]
    assert "model.args.hidden_size=64 (the checkpoint has model.args.hidden_size=32)" in err[0]
    assert not any(tmp_path.iterdir())


def test_validate_records_the_checkpoints_configuration(trained_muse_run: Path, tmp_path: Path):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    out = run(["validate", RECIPE, f"ckpt={ckpt}", f"output_dir={tmp_path}", "trainer.enable_progress_bar=false"])
    assert out["exit_code"] == 0
    recorded = yaml.safe_load((Path(out["run_dir"]) / "config.yaml").read_text())
    assert recorded["model"]["args"]["hidden_size"] == 32  # the recipe says 64; the checkpoint's model has 32


@pytest.mark.slow
def test_resume_without_the_runs_overrides_restores_them(tmp_path: Path):
    corpus = write_tiny_corpus(tmp_path / "muse")
    short = "trainer.limit_train_batches=2"
    common = [f"data.args.root={corpus}", "data.args.features=[egemaps]", "trainer.enable_progress_bar=false", short]
    out = run(["fit", RECIPE, *tiny_overrides(corpus, tmp_path / "runs"), "trainer.max_epochs=2", "run_name=r", short])
    assert out["exit_code"] == 0
    last = tmp_path / "runs" / "r" / "checkpoints" / "last.ckpt"
    # resumed with the corpus alone: hidden sizes 8, batch size 4, no early stopping come back
    out = run(["fit", RECIPE, *common, f"ckpt={last}", "trainer.max_epochs=3"])
    assert out["exit_code"] == 0 and Path(out["run_dir"]) == last.parent.parent
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 2 and state["hyper_parameters"]["model_args"]["hidden_size"] == 8
    assert state["hyper_parameters"]["recipe"]["data"]["args"]["batch_size"] == 4


def test_resume_refuses_an_override_that_changes_the_model(trained_muse_run: Path, tmp_path: Path, capsys):
    run_dir = shutil.copytree(trained_muse_run, tmp_path / "run")
    out = run(["fit", RECIPE, f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "model.args.hidden_size=8"])
    assert out["exit_code"] == 2
    assert "resumes the run of" in capsys.readouterr().err


# --------------------------------------------------------------------------- unsafe pretrained weights
class _Payload:
    def __reduce__(self):
        return (print, ("payload ran",))


def test_unsafe_pretrained_weights_are_refused_without_unsafe_advice(tmp_path: Path):
    from zoo.hub.checkpoint_io import read_weights_file

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"w": _Payload()}))
    with pytest.raises(ValueError) as err:
        read_weights_file(path)
    assert str(err.value).startswith(f"{path}: refused to load this weights file (model.args.pretrained_path)")
    assert "weights_only=False" not in str(err.value) and len(str(err.value).splitlines()) == 1
