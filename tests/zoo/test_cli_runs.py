"""End-to-end runs of the ``zoo`` command: checkpoints, DDP, mixed precision, W&B, errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from zoo.cli import main
from zoo.data import create_datamodule
from zoo.data.corpora.muse_car.reader import MuSeCaRCorpus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _wandb_records import read_wandb_records as _read_wandb_records  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RECIPE = "muse_car/sun2020_lstm_selfattn"
SMALL = ["model.args.hidden_size=32", "trainer.enable_progress_bar=false"]


def _np_ccc(x: np.ndarray, y: np.ndarray) -> float:
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _zoo_subprocess(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AFFECT_ZOO_RUN_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def _run_dir(proc: subprocess.CompletedProcess) -> Path:
    line = [l for l in proc.stdout.splitlines() if l.startswith("run folder: ")][-1]
    return Path(line.removeprefix("run folder: "))


@pytest.mark.slow
def test_fit_writes_run_folder_and_muse_predictions_that_score_like_the_metric(trained_muse_run: Path):
    results = json.loads((trained_muse_run / "results.json").read_text())
    targets = list(OmegaConf.load(trained_muse_run / "config.yaml").data.args.targets)  # the recipe's
    assert {*(f"val/ccc_{t}" for t in targets), "val/ccc_mean", "test/ccc_mean"} <= set(results)
    metrics = pd.read_csv(trained_muse_run / "logs" / "metrics.csv")
    assert {"train/loss", "val/ccc_mean", "val/loss"} <= set(metrics.columns)
    # The exported predictions, scored independently with NumPy against the corpus's own label
    # files, reproduce the logged pooled test CCC.
    assert OmegaConf.load(trained_muse_run / "config.yaml").data.name == "muse_car"
    # every video of each partition, as the corpus's own partition file lists them (export_predictions)
    root = create_datamodule("muse_car").corpus.synthetic_root()
    with open(root / "metadata" / "partition.csv", newline="") as f:
        listed = {(row["Proposal"], row["Id"]) for row in csv.DictReader(f)}
    for partition in ("train", "devel", "test"):
        count = sum(1 for p, _ in listed if p == partition)
        assert count > 0
        assert len(list((trained_muse_run / "predictions" / partition / targets[-1]).glob("*.csv"))) == count
    pred_dir = trained_muse_run / "predictions" / "test"
    for target in targets:
        files = sorted((pred_dir / target).glob("*.csv"))
        assert files
        preds, golds = [], []
        # the synthetic corpus the run read (the session cache may also hold the variant with audio)
        corpus = MuSeCaRCorpus().resolve_root()
        assert corpus.is_relative_to(Path(os.environ["AFFECT_ZOO_CACHE"]))
        label_dirs = list(corpus.rglob(f"label_segments/{target}"))
        assert len(label_dirs) == 1
        for f in files:
            p = pd.read_csv(f)
            assert list(p.columns) == ["timestamp", "value", "segment_id"]
            g = pd.read_csv(label_dirs[0] / f.name)
            assert (p["timestamp"].to_numpy() == g["timestamp"].to_numpy()).all()
            assert (p["segment_id"].to_numpy() == g["segment_id"].to_numpy()).all()
            preds.append(p["value"].to_numpy())
            golds.append(g["value"].to_numpy())
        ccc = _np_ccc(np.concatenate(preds), np.concatenate(golds))
        assert ccc == pytest.approx(results[f"test/ccc_{target}"], abs=1e-4)


@pytest.mark.slow
def test_validate_test_predict_from_checkpoint(trained_muse_run: Path, tmp_path: Path, zoo_cli):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    fit_results = json.loads((trained_muse_run / "results.json").read_text())
    val_dir = zoo_cli("validate", RECIPE, f"ckpt={ckpt}", f"output_dir={tmp_path}", *SMALL)
    val = json.loads((val_dir / "results.json").read_text())
    assert val["val/ccc_mean"] == pytest.approx(fit_results["val/ccc_mean"], abs=1e-6)
    test_dir = zoo_cli("test", RECIPE, f"ckpt={ckpt}", f"output_dir={tmp_path}", *SMALL)
    assert json.loads((test_dir / "results.json").read_text())["test/ccc_mean"] == pytest.approx(
        fit_results["test/ccc_mean"], abs=1e-6
    )
    pred_dir = zoo_cli(
        "predict", RECIPE, f"ckpt={ckpt}", f"output_dir={tmp_path}", "data.args.predict_partition=val", *SMALL
    )
    assert len(list((pred_dir / "predictions" / "devel" / "arousal").glob("*.csv"))) > 0
    assert val_dir != test_dir != pred_dir  # every command gets its own folder


@pytest.mark.slow
def test_ddp_two_processes_evaluates_exactly_like_one(trained_muse_run: Path, tmp_path: Path):
    """DDP on CPU (gloo): training runs, and a 2-process validation of the same checkpoint gives
    the single-process pooled CCC (uneven shards, no duplicated recordings)."""
    proc = _zoo_subprocess(
        "fit",
        RECIPE,
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=1",
        f"output_dir={tmp_path}",
        *SMALL,
    )
    assert (json.loads((_run_dir(proc) / "results.json").read_text())["test/ccc_mean"]) > -1
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    proc = _zoo_subprocess(
        "validate",
        RECIPE,
        f"ckpt={ckpt}",
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.accelerator=cpu",
        f"output_dir={tmp_path}",
        *SMALL,
    )
    ddp = json.loads((_run_dir(proc) / "results.json").read_text())
    single = json.loads((trained_muse_run / "results.json").read_text())
    keys = [k for k in single if k.startswith("val/ccc_") and not k.endswith("_std")]
    assert "val/ccc_mean" in keys
    for key in keys:
        assert ddp[key] == pytest.approx(single[key], abs=1e-6)


@pytest.mark.slow
def test_bf16_mixed_precision_fit(tmp_path: Path, zoo_cli):
    run_dir = zoo_cli(
        "fit", RECIPE, "trainer.precision=bf16-mixed", "trainer.max_epochs=1", f"output_dir={tmp_path}", *SMALL
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert np.isfinite(results["test/ccc_mean"])


@pytest.mark.slow
def test_wandb_logger_offline_records_config_and_metrics(tmp_path: Path, zoo_cli):
    run_dir = zoo_cli(
        "fit",
        RECIPE,
        "logger=wandb",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        f"output_dir={tmp_path}",
        *SMALL,
    )
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    logs = list(offline[0].glob("*.wandb"))  # the run's log, uploaded later with `wandb sync`
    assert len(logs) == 1
    keys: dict[str, set[str]] = {"config": set(), "history": set(), "summary": set()}
    for record in _read_wandb_records(logs[0]):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            keys["config"] |= {u.key for u in record.config.update}
        elif kind == "history":
            keys["history"] |= {i.key or "/".join(i.nested_key) for i in record.history.item}
        elif kind == "summary":
            keys["summary"] |= {u.key or "/".join(u.nested_key) for u in record.summary.update}
    assert {"model", "data_spec", "recipe"} <= keys["config"]
    assert {"train/loss", "val/ccc_mean", "val/ccc_arousal"} <= keys["history"]
    assert "test/ccc_mean" in keys["summary"] | keys["history"]


def test_unknown_override_is_a_clear_error(capsys):
    assert main(["fit", RECIPE, "trainer.max_epoch=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'trainer.max_epoch'" in err and "max_epochs" in err


def test_unknown_model_argument_names_it(tmp_path: Path, capsys):
    assert main(["fit", RECIPE, "model.args.hiden_size=3", f"output_dir={tmp_path}", "trainer.max_epochs=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "model.args" in err[-1] and "hiden_size" in err[-1]
    assert list(tmp_path.iterdir()) == []  # no empty run folder left behind


@pytest.mark.parametrize(
    "override,words",
    [
        ("model.name=nope", ["model.name", "'nope'", "sun2020_lstm"]),
        ("optimizer.name=adamx", ["optimizer.name", "adamx", "adam"]),
        ("trainer.max_epochs=abc", ["trainer.max_epochs", "an integer", "'abc'"]),
        ("optimizer.lr=fast", ["optimizer.lr", "a number", "'fast'"]),
        ("seeds=abc", ["seeds", "'abc'"]),
        ("data.args.hop_len=300", ["data.args.hop_len", "300", "win_len"]),
        ("checkpoint.monitor=val/ccc_man", ["checkpoint.monitor", "val/ccc_man", "val/ccc_mean"]),
        ("metrics=[cc]", ["metrics", "'cc'", "ccc"]),
    ],
)
def test_config_errors_are_one_line_exit_2(tmp_path: Path, capsys, override, words):
    assert main(["fit", RECIPE, f"output_dir={tmp_path}", override]) == 2  # all found before training
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(w in err[-1] for w in words), err[-1:]
    assert "Traceback" not in "\n".join(err)


def test_traceback_flag_shows_the_stack(tmp_path: Path, capsys):
    assert main(["fit", RECIPE, "optimizer.lr=fast", "--traceback"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_test_command_needs_checkpoint(tmp_path: Path, capsys):
    assert main(["test", RECIPE, f"output_dir={tmp_path}"]) == 2
    assert "ckpt=PATH" in capsys.readouterr().err


def test_list_shows_models_and_corpora(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sun2020_lstm_selfattn" in out and "muse_car" in out


@pytest.mark.slow
def test_postprocessing_fitted_on_val_only_stored_and_applied(tmp_path: Path, zoo_cli, monkeypatch, capsys):
    import zoo.runner.run
    from zoo.data import create_datamodule
    from zoo.hub.checkpoint_io import read_checkpoint

    seen = {}
    real_fit = zoo.runner.run.fit_postprocessor

    def spy(preds, golds, *args, **kwargs):
        seen["golds"], seen["preds"] = np.concatenate(golds), np.concatenate(preds)
        return real_fit(preds, golds, *args, **kwargs)

    monkeypatch.setattr(zoo.runner.run, "fit_postprocessor", spy)
    run_dir = zoo_cli(
        "fit", RECIPE, "postprocess.enabled=true", "trainer.max_epochs=2", f"output_dir={tmp_path}", *SMALL
    )
    # the chain saw exactly the validation labels — never the test partition's
    data_args = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml").data.args)
    dm = create_datamodule("muse_car", **data_args)  # the run's own reading (segment_id input included)
    val = np.concatenate([r.targets for r in dm.raw_recordings("val")])
    np.testing.assert_array_equal(seen["golds"], val)
    results = json.loads((run_dir / "results.json").read_text())
    # the chain is fitted on the predictions the validation scored (features normalised as in the step)
    assert _np_ccc(seen["preds"][:, 0], seen["golds"][:, 0]) == pytest.approx(results["val/ccc_arousal"], abs=1e-5)
    assert results["val_postprocessed/ccc_mean"] >= results["val/ccc_mean"] - 1e-9
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    state = read_checkpoint(ckpt)
    assert "postprocess" in state["affect_zoo"]
    # each results table names the checkpoint and epoch it scored and whether post-processing was applied
    out = capsys.readouterr().out
    scored = f"(scored: {ckpt} (epoch {state['epoch']}, step {state['global_step']}); "
    val_table, post_table, test_table = (
        out.split("\nval ")[1],
        out.split("\nval_postprocessed ")[1],
        out.split("\ntest ")[1],
    )
    assert val_table.splitlines()[2] == scored + "no post-processing)"
    assert post_table.splitlines()[2].startswith(scored + "post-processing fitted on val applied: arousal: ")
    assert test_table.splitlines()[2].startswith(scored + "post-processing fitted on val applied: arousal: ")
    # load_pretrained applies the stored chain: its predictions equal the exported test files
    model = zoo.load_pretrained(ckpt)
    assert model.postprocessor is not None
    rec = dm.raw_recordings("test")[0]
    exported = pd.read_csv(run_dir / "predictions" / "test" / "arousal" / f"{rec.id}.csv")["value"].to_numpy()
    np.testing.assert_allclose(model.predict(rec.features)[:, 0], exported, atol=1e-5)
