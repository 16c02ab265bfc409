"""Several loggers at once (CSV, TensorBoard, W&B offline) and what a run gives W&B."""

from __future__ import annotations

import numpy as np
import pytest
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from zoo.errors import ConfigError
from zoo.training.loggers import build_loggers, log_run_outputs, logger_kinds

CFG = {"wandb": {"project": "affect-zoo-test", "entity": None, "mode": "offline", "tags": ["t"]}}


@pytest.mark.parametrize(
    "value,kinds",
    [("csv", ["csv"]), (None, []), ("none", []), (False, []), (["csv", "tensorboard"], ["csv", "tensorboard"])],
)
def test_logger_kinds(value, kinds):
    assert logger_kinds(value) == kinds


@pytest.mark.parametrize("value,message", [("mlflow", "unknown logger 'mlflow'"), (["csv", "csv"], "twice")])
def test_bad_logger_is_a_config_error(value, message):
    with pytest.raises(ConfigError, match=message):
        logger_kinds(value)


def test_csv_and_tensorboard_write_under_the_run_folder(tmp_path):
    loggers = build_loggers({**CFG, "logger": ["csv", "tensorboard"]}, tmp_path)
    assert [type(lg) for lg in loggers] == [CSVLogger, TensorBoardLogger]
    for lg in loggers:
        lg.log_metrics({"val/ccc_mean": 0.5}, step=1)
        lg.finalize("success")
    assert "val/ccc_mean" in (tmp_path / "logs" / "metrics.csv").read_text()
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_wandb_gets_tables_plots_and_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    import wandb
    from PIL import Image

    (logger,) = build_loggers({**CFG, "logger": "wandb", "seed": 0}, tmp_path)
    assert isinstance(logger, WandbLogger)
    plot = tmp_path / "plots" / "learning_curves.png"
    plot.parent.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plot)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text("{}")
    logged, artifacts = [], []
    run = logger.experiment
    monkeypatch.setattr(run, "log", lambda data, **kw: logged.append(data))
    monkeypatch.setattr(run, "log_artifact", lambda artifact, **kw: artifacts.append(artifact))
    log_run_outputs(
        [logger],
        {"val/ccc_arousal": 0.5, "val/ccc_mean": 0.5, "test/ccc_arousal": 0.4, "test/ccc_mean": 0.4},
        ["arousal"],
        plots=[plot],
        bundle=bundle,
    )
    tables = {k: v for d in logged for k, v in d.items() if isinstance(v, wandb.Table)}
    assert tables["val/results"].columns == ["metric", "arousal", "mean"]
    assert tables["val/results"].data == [["ccc", 0.5, 0.5]] and tables["test/results"].data == [["ccc", 0.4, 0.4]]
    assert any(isinstance(d.get("plots/learning_curves"), wandb.Image) for d in logged)
    (artifact,) = artifacts
    assert artifact.type == "model" and artifact.name == "bundle-bundle"
    wandb.finish()
