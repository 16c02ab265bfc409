"""Pretrained bundles: export → load → identical predictions; tampered bundles refused without
running code; model card; ``zoo predict BUNDLE INPUT --plot``."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.image import imread
from safetensors.torch import load_file, save_file

import zoo
from zoo.data import create_datamodule
from zoo.hub.bundle import BundleError, backbone_provenance, export_bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(trained_muse_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "sun2020"
    return export_bundle(trained_muse_run / "checkpoints" / "best.ckpt", out)


@pytest.fixture(scope="module")
def val_recordings(trained_muse_run: Path):
    ckpt = zoo.load_pretrained(trained_muse_run / "checkpoints" / "best.ckpt")
    dm = create_datamodule("muse_car", features=list(ckpt.feature_dims))
    return dm, dm.raw_recordings("val")


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def _reseal(folder: Path) -> None:
    """Rewrite manifest.json for the files now present, as someone who tampered with a bundle
    and knows the format would: checks below the manifest must still hold."""
    files = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = files
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def test_bundle_files_and_identical_predictions(bundle: Path, trained_muse_run: Path, val_recordings):
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.md",
        "config.json",
        "manifest.json",
        "model.safetensors",
        "recipe.yaml",
    ]
    from_ckpt = zoo.load_pretrained(trained_muse_run / "checkpoints" / "best.ckpt")
    from_bundle = zoo.load_pretrained(bundle)
    assert not from_bundle.training
    assert from_bundle.feature_dims == from_ckpt.feature_dims
    assert from_bundle.target_names == from_ckpt.target_names == list(from_ckpt.recipe["data"]["args"]["targets"])
    for name, tensor in from_ckpt.net.state_dict().items():
        assert torch.equal(from_bundle.net.state_dict()[name], tensor), name
    _, recordings = val_recordings
    for rec in recordings[:3]:
        np.testing.assert_array_equal(from_bundle.predict(rec.features), from_ckpt.predict(rec.features))


def test_config_json_carries_what_inference_needs(bundle: Path, trained_muse_run: Path):
    config = json.loads((bundle / "config.json").read_text())
    hparams = torch.load(trained_muse_run / "checkpoints" / "best.ckpt", weights_only=True)["hyper_parameters"]
    spec = hparams["data_spec"]
    assert config["format_version"] == 2 and config["architecture"] == "sun2020_lstm_selfattn"
    assert config["model_args"]["hidden_size"] == 32
    for key in ("feature_names", "feature_dims", "target_names", "label_step", "label_shift", "normalization"):
        assert config[key] == spec[key], key
    assert "postprocess" in config and "backbone_weights" in config
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["files"] == {
        name: hashlib.sha256((bundle / name).read_bytes()).hexdigest()
        for name in ("README.md", "config.json", "model.safetensors", "recipe.yaml")
    }
    assert (
        zoo.load_pretrained(bundle).bundle_sha256 == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    )
    weights = load_file(bundle / "model.safetensors")
    state = torch.load(trained_muse_run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert set(weights) == {k[len("net.") :] for k in state if k.startswith("net.")}


def test_model_card_names_paper_corpus_and_figures(bundle: Path, trained_muse_run: Path):
    card = (bundle / "README.md").read_text()
    results = json.loads((trained_muse_run / "results.json").read_text())
    assert "Multi-modal Continuous Dimensional Emotion Recognition" in card or "Sun et al. (2020)" in card
    assert "muse_car" in card and "synthetic" in card
    assert f"{results['test/ccc_mean']:.4f}" in card and "test/ccc_mean" in card
    assert "licence of that corpus applies" in card
    for name in json.loads((bundle / "config.json").read_text())["feature_names"]:
        assert f"`{name}`" in card


def test_export_refuses_a_non_empty_folder(trained_muse_run: Path, tmp_path: Path, zoo_cli):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty.*--overwrite"):
        export_bundle(ckpt, tmp_path)
    from zoo.cli import run

    assert run(["export", str(ckpt), str(tmp_path)])["exit_code"] == 2
    # --overwrite replaces an earlier bundle only, never the user's other files
    assert run(["export", str(ckpt), str(tmp_path), "--overwrite"])["exit_code"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    bundle = tmp_path / "bundle"
    assert zoo_cli("export", str(ckpt), str(bundle)) == bundle
    first = (bundle / "manifest.json").read_text()
    (bundle / "README.md").write_text("stale")
    assert zoo_cli("export", str(ckpt), str(bundle), "--overwrite") == bundle
    assert (bundle / "README.md").read_text() != "stale" and (bundle / "manifest.json").read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "notes.txt"]  # no temporary folders left
    zoo.load_pretrained(bundle)


def test_wrong_tensor_shape_names_tensor_and_shapes(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    weights = load_file(copy / "model.safetensors")
    k = len(json.loads((copy / "config.json").read_text())["target_names"])
    weights["head.3.weight"] = torch.zeros(k + 1, 64)  # one output too many
    save_file(weights, copy / "model.safetensors")
    with pytest.raises(BundleError, match="model.safetensors: sha256 differs from the one in manifest.json"):
        zoo.load_pretrained(copy)
    _reseal(copy)
    with pytest.raises(BundleError, match=rf"tensor 'head.3.weight' has shape \({k + 1}, 64\).*expects \({k}, 64\)"):
        zoo.load_pretrained(copy)
    shutil.copy(bundle / "model.safetensors", copy / "model.safetensors")
    _edit_config(copy, lambda c: c["model_args"].update(hidden_size=16))
    with pytest.raises(BundleError, match="config.json: sha256 differs from the one in manifest.json"):
        zoo.load_pretrained(copy)
    _reseal(copy)
    with pytest.raises(BundleError, match=r"tensor '[^']+' has shape \(\d+.*\), but .* expects \(\d+"):
        zoo.load_pretrained(copy)


def test_missing_files_are_named(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    (copy / "model.safetensors").unlink()
    with pytest.raises(BundleError, match="missing file model.safetensors"):
        zoo.load_pretrained(copy)
    (copy / "config.json").unlink()
    with pytest.raises(BundleError, match="missing file config.json"):
        zoo.load_pretrained(copy)


def test_unknown_architecture_lists_registered_ones(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    _edit_config(copy, lambda c: c.update(architecture="nobody2099_net"))
    _reseal(copy)
    with pytest.raises(BundleError, match="unknown architecture 'nobody2099_net'; registered: .*sun2020_lstm_selfattn"):
        zoo.load_pretrained(copy)


def test_malformed_json(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    text = (copy / "config.json").read_text()
    (copy / "config.json").write_text(text[: len(text) // 2])
    _reseal(copy)
    with pytest.raises(BundleError, match=r"config.json: malformed JSON at line \d+, column \d+"):
        zoo.load_pretrained(copy)


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_payloads_are_refused_without_running_them(bundle: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    copy = _copy(bundle, tmp_path)
    (copy / "model.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(BundleError, match="model.safetensors: sha256 differs"):
        zoo.load_pretrained(copy)
    _reseal(copy)
    with pytest.raises(BundleError, match="model.safetensors: not a safetensors file.*pickle"):
        zoo.load_pretrained(copy)
    assert not marker.exists()
    torch.save({"weights": _Payload(marker)}, copy / "model.safetensors")
    _reseal(copy)
    with pytest.raises(BundleError, match="not a safetensors file.*zip"):
        zoo.load_pretrained(copy)
    shutil.copy(bundle / "model.safetensors", copy / "model.safetensors")
    torch.save({"weights": _Payload(marker)}, copy / "extra.pt")
    _reseal(copy)
    with pytest.raises(BundleError, match=r"holds extra.pt.*nothing was unpickled"):
        zoo.load_pretrained(copy)
    assert not marker.exists()


def test_backbone_weights_provenance(tmp_path: Path):
    weights = tmp_path / "resnet50.safetensors"
    weights.write_bytes(b"not really weights")
    found = backbone_provenance({"pretrained_path": str(weights), "hidden_size": 64, "rnn": "lstm"})
    assert found == [
        {
            "arg": "pretrained_path",
            "path": str(weights.resolve()),
            "kind": "file",
            "sha256": hashlib.sha256(b"not really weights").hexdigest(),
        }
    ]
    assert backbone_provenance({"pretrained_path": str(tmp_path / "missing.bin")}) == []


def _input_folder(dst: Path, videos: list[str], with_labels: bool) -> Path:
    """A corpus-layout folder with only feature files (and optionally labels), no partition.csv."""
    src = create_datamodule("muse_car", features=["egemaps"])._resolved_root()
    wild = src / "c1_muse_wild"
    for feature_dir in (wild / "feature_segments/label_aligned").iterdir():
        for vid in videos:
            target = dst / "c1_muse_wild/feature_segments/label_aligned" / feature_dir.name / f"{vid}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(feature_dir / f"{vid}.csv", target)
    if with_labels:
        for target_name in ("arousal", "valence"):
            for vid in videos:
                target = dst / "c1_muse_wild/label_segments" / target_name / f"{vid}.csv"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(wild / "label_segments" / target_name / f"{vid}.csv", target)
    return dst


def test_zoo_predict_bundle_writes_muse_files_and_plots(bundle: Path, tmp_path: Path, zoo_cli, val_recordings):
    _, recordings = val_recordings
    videos = [r.id for r in recordings[:2]]
    input_root = _input_folder(tmp_path / "input", videos, with_labels=True)
    out = zoo_cli("predict", str(bundle), str(input_root), "--output", str(tmp_path / "out"), "--plot")
    assert out == tmp_path / "out"
    model = zoo.load_pretrained(bundle)
    for rec in recordings[:2]:
        expected = model.predict(rec.features)
        for k, target in enumerate(model.target_names):
            frame = pd.read_csv(out / target / f"{rec.id}.csv")
            assert list(frame.columns) == ["timestamp", "value", "segment_id"]
            np.testing.assert_array_equal(frame["timestamp"], np.rint(rec.timestamps * 1000).astype(int))
            np.testing.assert_array_equal(frame["segment_id"], rec.meta["segment_id"])
            np.testing.assert_allclose(frame["value"], expected[:, k], atol=1e-6)
        image = imread(out / "plots" / f"{rec.id}.png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["ccc"]) == {*model.target_names, "mean"}
    assert not any((input_root / "c1_muse_wild").rglob("*.png"))


def test_zoo_predict_checkpoint_without_labels_and_output_checks(
    trained_muse_run: Path, tmp_path: Path, zoo_cli, val_recordings
):
    _, recordings = val_recordings
    input_root = _input_folder(tmp_path / "input", [recordings[0].id], with_labels=False)
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    out = zoo_cli("predict", str(ckpt), str(input_root), "--output", str(tmp_path / "out"), "--plot")
    targets = zoo.load_pretrained(ckpt).target_names
    # --plot without labels: the prediction alone is plotted
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        [f"{t}/{recordings[0].id}.csv" for t in targets] + [f"plots/{recordings[0].id}.png"]
    )
    from zoo.cli import run

    inside = run(["predict", str(ckpt), str(input_root), "--output", str(input_root / "preds")])
    assert inside["exit_code"] == 2 and not (input_root / "preds").exists()
    assert run(["predict", str(ckpt), str(input_root), "--output", str(out)])["exit_code"] == 2  # not empty
