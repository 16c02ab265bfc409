"""Estimator runs: SVR save/reload without pickle, multistage fusion per stage, no test-label use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from zoo.data import create_datamodule
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa
from zoo.estimators.run import load_estimator
from zoo.estimators.svr import SVRBank

TARGETS = ["arousal", "valence", "liking"]


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svr_bank_save_reload_identical(kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4)) * [1, 10, 0.1, 3] + 5
    y = np.stack([np.sin(x[:, 0]), x[:, 1] / 10], 1)
    bank = SVRBank(kernel=kernel, C=2.0, epsilon=0.05).fit(x, y)
    arrays, meta = bank.get_state()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    meta = json.loads(json.dumps(meta))  # survives JSON
    again = SVRBank.from_state(arrays, meta)
    x_new = rng.normal(size=(40, 4)) * 3
    np.testing.assert_array_equal(again.predict(x_new), bank.predict(x_new))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_synthetic_sewa(tmp_path_factory.mktemp("sewa19") / "c", seed=0, release="avec2019")


def _fake_source(run: Path, root: Path, noise: float, seed: int, targets=TARGETS) -> Path:
    """A run folder with config.yaml and noisy devel/test predictions, as a trained model exports."""
    dm = create_datamodule("sewa", root=root, release="avec2019", features=["visual_features_xbow"], targets=targets)
    rng = np.random.default_rng(seed)
    for stage in ("val", "test"):
        for rec in dm.raw_recordings(stage):
            pred = 0.7 * rec.targets + noise * rng.normal(size=rec.targets.shape)
            dm.write_predictions(run / "predictions" / dm.partitions[stage], rec, pred, targets)
    OmegaConf.save(
        OmegaConf.create({"data": {"name": "sewa", "args": {"targets": list(targets)}}}), run / "config.yaml"
    )
    return run


def _fuse(zoo_cli, tmp_path, root, sources, n_stages, run_name):
    return zoo_cli(
        "fit",
        "sewa/atmaja2020_multistage_svr",
        f"data.args.root={root}",
        f"output_dir={tmp_path}",
        f"run_name={run_name}",
        f"model.args.sources=[{','.join(map(str, sources))}]",
        f"model.args.n_stages={n_stages}",
        "model.args.frame_step=4",
        "model.args.n_folds=3",
    )  # cross-validated devel scores per stage (the recipe: in-sample, n_folds 0)


@pytest.mark.slow
@pytest.mark.parametrize("n_stages", [1, 2, 3, 4, 5])
def test_multistage_reports_ccc_per_stage(zoo_cli, tmp_path, corpus, n_stages):
    sources = [
        _fake_source(tmp_path / "a", corpus, 0.3, 1),
        _fake_source(tmp_path / "b", corpus, 0.5, 2),
        _fake_source(tmp_path / "c", corpus, 0.4, 3, targets=["valence"]),
    ]
    run = _fuse(zoo_cli, tmp_path, corpus, sources, n_stages, "fuse")
    results = json.loads((run / "results.json").read_text())
    for s in range(1, n_stages + 1):
        for t in TARGETS + ["mean"]:
            assert np.isfinite(results[f"val_stage{s}/ccc_{t}"])
    assert f"val_stage{n_stages + 1}/ccc_mean" not in results
    assert results["val/ccc_mean"] == pytest.approx(results[f"val_stage{n_stages}/ccc_mean"])
    assert results["test/ccc_mean"] > 0.5
    assert len(list((run / "predictions" / "Test").glob("*.csv"))) == 6  # Test_DE, Test_HU, Test_CN 2 each
    estimator, info = load_estimator(run / "checkpoints" / "estimator.json")
    assert len(estimator.stages) == n_stages and info["model"] == "atmaja2020_multistage_svr"


@pytest.mark.slow
def test_fitting_never_reads_test_labels(zoo_cli, tmp_path, corpus):
    corrupted = tmp_path / "corrupted"
    shutil.copytree(corpus, corrupted)
    rng = np.random.default_rng(0)
    for path in (corrupted / "labels").glob("Test_*.csv"):
        lines = path.read_text().splitlines()
        body = [";".join(l.split(";")[:2] + [f"{v:.6f}" for v in rng.uniform(-1, 1, size=3)]) for l in lines[1:]]
        path.write_text("\n".join(lines[:1] + body) + "\n")
    sources = [_fake_source(tmp_path / "a", corpus, 0.3, 1)]
    (tmp_path / "a2").mkdir()
    shutil.copytree(tmp_path / "a", tmp_path / "a2", dirs_exist_ok=True)
    clean = _fuse(zoo_cli, tmp_path, corpus, sources, 2, "clean")
    dirty = _fuse(zoo_cli, tmp_path, corrupted, [tmp_path / "a2"], 2, "dirty")
    with np.load(clean / "checkpoints" / "estimator.npz") as a, np.load(dirty / "checkpoints" / "estimator.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    rc, rd = (json.loads((r / "results.json").read_text()) for r in (clean, dirty))
    assert {k: v for k, v in rc.items() if not k.startswith("test")} == {
        k: v for k, v in rd.items() if not k.startswith("test")
    }
    assert rc["test/ccc_mean"] != rd["test/ccc_mean"]  # only scoring sees the (corrupted) test labels


@pytest.mark.slow
def test_chen_svr_run_saves_and_reloads_identically(zoo_cli, tmp_path):
    run = zoo_cli(
        "fit",
        "sewa/chen2017_svr",
        f"output_dir={tmp_path}",
        "data.args.features=[video_features_xbow_6s]",
        "export_predictions=[val,test]",
    )
    results = json.loads((run / "results.json").read_text())
    assert set(results) >= {f"{s}/ccc_{t}" for s in ("val", "test") for t in TARGETS + ["mean"]}
    assert results["val/ccc_valence"] > 0.2
    estimator, info = load_estimator(run / "checkpoints" / "estimator.json")
    dm = create_datamodule(
        "sewa", features=["video_features_xbow_6s"], normalization_stats=info["data_spec"]["normalization"]
    )
    recs = dm.recordings("val")
    x = [r.features["video_features_xbow_6s"] for r in recs]
    written = [dm.read_predictions(run / "predictions" / "Devel", r, TARGETS) for r in recs]
    for p, w in zip(estimator.predict(x), written):
        np.testing.assert_allclose(p, w, atol=1e-6)  # the reloaded model predicts what the run wrote
    turn = zoo_cli(
        "fit",
        "sewa/chen2017_svr",
        f"output_dir={tmp_path}",
        "data.args.features=[text_bow]",
        "data.args.interlocutor=purified",
        "model.args.level=turn",
        "model.args.C=0.1",
    )
    assert json.loads((turn / "results.json").read_text())["val/ccc_liking"] > 0.1


@pytest.mark.slow
def test_chen_svr_smoothing_fitted_on_val_applied_to_test_and_reloaded(zoo_cli, tmp_path):
    """§5.2 smoothing by averaging: a moving average fitted on devel, applied to test, saved."""
    run = zoo_cli(
        "fit",
        "sewa/chen2017_svr",
        f"output_dir={tmp_path}",
        "data.args.features=[video_features_xbow_6s]",
        "data.args.targets=[valence]",
        "run_name=smooth",
    )
    results = json.loads((run / "results.json").read_text())
    pp = json.loads((run / "checkpoints" / "postprocess.json").read_text())
    window = pp["targets"]["valence"]["mean"]
    assert window > 1 and results["val_postprocessed/ccc_valence"] > results["val/ccc_valence"]
    estimator, info = load_estimator(run / "checkpoints")
    dm = create_datamodule(
        "sewa",
        features=["video_features_xbow_6s"],
        targets=["valence"],
        normalization_stats=info["data_spec"]["normalization"],
    )
    recs = dm.recordings("test")
    raw = estimator.predict([r.features["video_features_xbow_6s"] for r in recs])
    for rec, p in zip(recs, raw):
        x = np.asarray(p, np.float64)[:, 0]
        half = window // 2
        padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
        expected = np.convolve(padded, np.ones(window) / window, mode="valid")  # centred moving average
        written = dm.read_predictions(run / "predictions" / "Test", rec, ["valence"])[:, 0]
        np.testing.assert_allclose(written, expected, atol=2e-5)
    again = zoo_cli(
        "test",
        "sewa/chen2017_svr",
        f"output_dir={tmp_path}",
        "data.args.features=[video_features_xbow_6s]",
        "data.args.targets=[valence]",
        f"ckpt={run / 'checkpoints' / 'estimator.json'}",
        "run_name=again",
    )
    assert json.loads((again / "results.json").read_text())["test/ccc_valence"] == pytest.approx(
        results["test/ccc_valence"], abs=1e-6
    )
