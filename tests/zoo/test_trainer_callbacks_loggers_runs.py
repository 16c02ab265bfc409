"""Real short fits (issue 16, items 4 and 5): Trainer arguments, callbacks, loggers and plots/.

Each fit is tiny (synthetic MuSe-CaR, hidden size 16, two training batches per epoch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image
from pytorch_lightning.callbacks import LearningRateMonitor, ModelSummary, StochasticWeightAveraging

import zoo.runner.run
from zoo.hub.checkpoint_io import read_checkpoint, task_from_checkpoint

RECIPE = "muse_car/sun2020_lstm_selfattn"
TINY = ["model.args.hidden_size=16", "trainer.enable_progress_bar=false", "trainer.limit_train_batches=2"]


class _Recorder(zoo.runner.run.pl.Callback):
    """The network's parameters at the start of every training epoch (where SWA averages them)."""

    def __init__(self) -> None:
        self.starts: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.starts[trainer.current_epoch] = {n: p.detach().clone() for n, p in pl_module.net.named_parameters()}


@pytest.fixture()
def captured(monkeypatch):
    """The Trainer of each command, with a :class:`_Recorder` added."""
    trainers = []
    original = zoo.runner.run.build_trainer

    def build(cfg, run_dir, fitting, extra_callbacks=()):
        trainer = original(cfg, run_dir, fitting, extra_callbacks)
        if fitting:
            trainer.callbacks.append(_Recorder())
        trainers.append(trainer)
        return trainer

    monkeypatch.setattr(zoo.runner.run, "build_trainer", build)
    return trainers


@pytest.mark.slow
def test_max_steps_stops_training_there(tmp_path, zoo_cli):
    run_dir = zoo_cli("fit", RECIPE, f"output_dir={tmp_path}", "trainer.max_epochs=5", "trainer.max_steps=3", *TINY)
    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 3


@pytest.mark.slow
def test_validation_interval_and_profiler_pass_through(tmp_path, zoo_cli):
    run_dir = zoo_cli(
        "fit",
        RECIPE,
        f"output_dir={tmp_path}",
        "trainer.max_epochs=4",
        "trainer.check_val_every_n_epoch=2",
        "trainer.profiler=simple",
        "early_stopping.enabled=false",
        "scheduler.monitor=train/loss",
        *TINY,
    )
    metrics = pd.read_csv(run_dir / "logs" / "metrics.csv")
    val_epochs = sorted(metrics.dropna(subset=["val/ccc_mean"])["epoch"].astype(int).unique())
    assert val_epochs[:2] == [1, 3]  # validated every second epoch (epoch 4: the final scoring)
    report = (run_dir / "fit-profile.txt").read_text()
    assert report.startswith("FIT Profiler Report") and "run_training_epoch" in report


def test_plateau_on_a_sparse_validation_is_refused_before_training(tmp_path, capsys):
    from zoo.cli import main

    assert main(["fit", RECIPE, f"output_dir={tmp_path}", "trainer.check_val_every_n_epoch=2"]) == 2
    assert "scheduler.monitor: 'val/ccc_mean' is logged every 2 epochs" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_swa_scores_the_average_of_the_epoch_weights(tmp_path, zoo_cli, captured):
    run_dir = zoo_cli(
        "fit",
        RECIPE,
        f"output_dir={tmp_path}",
        "trainer.max_epochs=3",
        "early_stopping.enabled=false",
        "callbacks.swa={swa_lrs: 0.001, swa_epoch_start: 2}",
        "callbacks.model_summary.max_depth=2",
        "callbacks.lr_monitor=null",
        *TINY,
    )
    trainer = captured[0]
    (swa,) = [c for c in trainer.callbacks if isinstance(c, StochasticWeightAveraging)]
    (summary,) = [c for c in trainer.callbacks if isinstance(c, ModelSummary)]
    assert summary._max_depth == 2 and not any(isinstance(c, LearningRateMonitor) for c in trainer.callbacks)
    # Lightning averages the weights at the start of epochs swa_start..swa_end (0-based; swa_epoch_start is
    # 1-based: the 2nd epoch), and puts the average into the model when training ends
    starts = next(c for c in trainer.callbacks if isinstance(c, _Recorder)).starts
    assert (swa.swa_start, swa.swa_end) == (1, 2)
    scored = task_from_checkpoint(run_dir / "checkpoints" / "swa.ckpt").net
    for name, param in scored.named_parameters():
        torch.testing.assert_close(param.detach(), (starts[1][name] + starts[2][name]) / 2)
    assert any(not torch.equal(starts[1][n], starts[2][n]) for n in starts[1])  # an average of distinct weights
    best = task_from_checkpoint(run_dir / "checkpoints" / "best.ckpt").net
    assert any(not torch.equal(a, b) for a, b in zip(best.parameters(), scored.parameters()))
    assert "lr-Adam" not in pd.read_csv(run_dir / "logs" / "metrics.csv").columns  # lr_monitor off


@pytest.mark.slow
def test_default_run_logs_the_learning_rate_and_draws_plots(trained_muse_run):
    assert any(c.startswith("lr-") for c in pd.read_csv(trained_muse_run / "logs" / "metrics.csv").columns)
    plots = trained_muse_run / "plots"
    with Image.open(plots / "learning_curves.png") as image:
        assert image.size == (1100, 400)
    recordings = sorted(p.name for p in plots.glob("test_*.png"))
    assert len(recordings) == zoo.runner.run.PLOT_RECORDINGS
    predicted = {p.stem for p in (trained_muse_run / "predictions" / "test" / "arousal").glob("*.csv")}
    assert {name.removeprefix("test_").removesuffix(".png") for name in recordings} <= predicted


@pytest.mark.slow
def test_csv_and_tensorboard_together_and_a_plot_failure_is_one_warning(tmp_path, zoo_cli, monkeypatch, capsys):
    import zoo.runner.plots

    def broken(*args, **kwargs):
        raise RuntimeError("no\nfonts")

    monkeypatch.setattr(zoo.runner.plots, "plot_recording_prediction", broken)
    run_dir = zoo_cli(
        "fit", RECIPE, f"output_dir={tmp_path}", "trainer.max_epochs=1", "logger=[csv,tensorboard]", *TINY
    )
    assert "val/ccc_mean" in pd.read_csv(run_dir / "logs" / "metrics.csv").columns
    assert [p.stat().st_size > 0 for p in (run_dir / "tensorboard").glob("events.out.tfevents.*")]
    assert json.loads((run_dir / "results.json").read_text())["test/ccc_mean"] is not None
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: plots/")]
    assert warnings == ["warning: plots/ incomplete, drawing failed: RuntimeError: no fonts"]
    assert [p.name for p in (run_dir / "plots").iterdir()] == ["learning_curves.png"]


@pytest.mark.slow
def test_wandb_run_gets_config_tables_figures_and_the_bundle(tmp_path, zoo_cli, monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _wandb_records import read_wandb_records

    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = zoo_cli(
        "fit",
        RECIPE,
        f"output_dir={tmp_path}",
        "trainer.max_epochs=1",
        "logger=[csv,wandb]",
        "export_bundle=true",
        *TINY,
    )
    assert (run_dir / "logs" / "metrics.csv").is_file() and (run_dir / "bundle" / "manifest.json").is_file()
    (log,) = list((run_dir / "wandb").glob("offline-run-*/*.wandb"))
    records = read_wandb_records(log)
    config = {
        u.key
        for r in records
        if r.WhichOneof("record_type") in ("config", "run")
        for u in (r.config if r.WhichOneof("record_type") == "config" else r.run.config).update
    }
    history = {
        i.key or "/".join(i.nested_key)
        for r in records
        if r.WhichOneof("record_type") == "history"
        for i in r.history.item
    }
    assert {"data", "model", "trainer", "callbacks", "logger"} <= config  # the resolved recipe
    # media are logged as nested keys: <key>/_type is table-file or image-file
    assert {"val/results/_type", "test/results/_type", "plots/learning_curves/_type"} <= history
    assert (
        len({key.split("/")[1] for key in history if key.startswith("plots/test_")}) == zoo.runner.run.PLOT_RECORDINGS
    )
    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert [a.name for a in artifacts if a.type == "model"] == ["bundle-bundle"]
    assert sys.modules["wandb"].run is None  # finished
