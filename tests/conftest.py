"""Shared test settings: a private cache for synthetic corpora, W&B offline, a trained run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Synthetic corpora go to a per-session cache; W&B never reaches a server."""
    os.environ["AFFECT_ZOO_CACHE"] = str(tmp_path_factory.mktemp("zoo-cache"))
    os.environ["WANDB_MODE"] = "offline"
    os.environ.pop("AFFECT_ZOO_RUN_DIR", None)
    yield


QUICK = ["trainer.enable_progress_bar=false", "logger=csv"]


def run_cli(*args: str) -> Path:
    """Run ``zoo`` in-process and return its run folder."""
    from zoo.cli import run

    out = run(list(args))
    assert out["exit_code"] == 0
    return Path(out["run_dir"])


@pytest.fixture(scope="session")
def trained_muse_run(tmp_path_factory: pytest.TempPathFactory, _isolated_environment) -> Path:
    """One short Sun 2020 run on synthetic MuSe-CaR, shared by the tests that need a checkpoint."""
    out = tmp_path_factory.mktemp("runs")
    run_dir = run_cli(
        "fit",
        "muse_car/sun2020_lstm_selfattn",
        f"output_dir={out}",
        "trainer.max_epochs=3",
        "model.args.hidden_size=32",
        "export_predictions=[train,val,test]",
        *QUICK,
    )
    assert json.loads((run_dir / "results.json").read_text())
    return run_dir


@pytest.fixture()
def zoo_cli():
    """The in-process ``zoo`` runner (see :func:`run_cli`)."""
    return run_cli
