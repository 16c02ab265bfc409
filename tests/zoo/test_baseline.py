"""``zoo baseline``: random draws of the training labels, scored with the recipe's metrics."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from zoo.cli import run as zoo_run
from zoo.config.recipe import load_recipe
from zoo.runner.run_io import build_datamodule


def _labels(loader) -> np.ndarray:
    return np.concatenate([b["targets"].numpy().reshape(-1, b["targets"].shape[-1]) for b in loader])


def test_mosei_baseline_matches_the_expected_chance_level(tmp_path):
    out = zoo_run(
        [
            "baseline",
            "--draws",
            "30",
            "cmu_mosei/williams2018_blstm",
            f"output_dir={tmp_path}",
            "baseline.procedure=training_labels",
        ]
    )
    assert out["exit_code"] == 0
    results = json.loads((out["run_dir"] / "results.json").read_text())
    assert results == out["results"]
    dm = build_datamodule(load_recipe("cmu_mosei/williams2018_blstm"))
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    train, test = _labels(dm.train_dataloader()), _labels(dm.test_dataloader())
    # expected MAE of a prediction drawn uniformly from the training values: mean_j |x_j - y|
    expected_mae = np.abs(train[None, :, :] - test[:, None, :]).mean(axis=(0, 1))
    for k, name in enumerate(dm.target_names):
        assert results[f"test/mae_{name}"] == pytest.approx(expected_mae[k], abs=0.03), name
        # expected binary accuracy: P(round(x) > 0) agreement with round(y) > 0
        p_present = np.mean(np.rint(train[:, k]) > 0)
        y_present = np.rint(test[:, k]) > 0
        expected_acc2 = np.mean(np.where(y_present, p_present, 1 - p_present))
        assert results[f"test/acc2_{name}"] == pytest.approx(expected_acc2, abs=0.03), name
        assert abs(results[f"test/pearson_{name}"]) < 0.15  # no correlation by chance
    assert results["test/mae_mean_std"] > 0  # independent draws differ
    assert "AFFECT_ZOO_RUN_DIR" not in os.environ  # the next run gets a folder of its own
    again = zoo_run(
        [
            "baseline",
            "--draws",
            "1",
            "cmu_mosei/williams2018_blstm",
            f"output_dir={tmp_path}",
            "baseline.procedure=training_labels",
        ]
    )
    assert again["run_dir"] != out["run_dir"]


def test_williams_recipes_use_the_section_5_1_procedure_beside_table_1(tmp_path, capsys):
    """§5.1: n ∈ {0..6} labels, n emotions chosen, intensities on the grid of thirds; no label read."""
    out = zoo_run(["baseline", "--draws", "100", "cmu_mosei/williams2018_blstm", f"output_dir={tmp_path}"])
    assert out["exit_code"] == 0
    printed = capsys.readouterr().out
    assert "Williams et al. 2018, §5.1" in printed and "Table 1" in printed
    assert "test/mae_surprise" in printed and "0.05" in printed  # the paper's figure, beside ours
    dm = build_datamodule(load_recipe("cmu_mosei/williams2018_blstm"))
    dm.prepare_data()
    dm.setup("test")
    test = _labels(dm.test_dataloader())
    # closed form: each emotion chosen with probability E[n]/6 = 1/2, then uniform on {0, 1/3, ..., 3}
    grid = np.arange(10) / 3
    expected = 0.5 * np.abs(test) + 0.5 * np.abs(grid[None, None, :] - test[:, :, None]).mean(-1)
    for k, name in enumerate(dm.target_names):
        assert out["results"][f"test/mae_{name}"] == pytest.approx(expected[:, k].mean(), abs=0.045), name  # ~4 SE
    assert out["results"]["test/mae_mean"] == pytest.approx(expected.mean(), abs=0.02)
    # the training-label procedure gives other figures on the same recipe
    other = zoo_run(
        [
            "baseline",
            "--draws",
            "3",
            "cmu_mosei/williams2018_blstm",
            f"output_dir={tmp_path}",
            "baseline.procedure=training_labels",
        ]
    )
    assert abs(other["results"]["test/mae_mean"] - out["results"]["test/mae_mean"]) > 0.2


def test_section_5_1_procedure_refuses_sentiment_and_unknown_procedures(tmp_path, capsys):
    out = zoo_run(
        [
            "baseline",
            "--draws",
            "1",
            "cmu_mosei/williams2018_blstm",
            f"output_dir={tmp_path}",
            "data.args.targets=[sentiment,happy]",
        ]
    )
    assert out["exit_code"] == 2 and "emotion intensities" in capsys.readouterr().err
    out = zoo_run(
        [
            "baseline",
            "--draws",
            "1",
            "cmu_mosei/williams2018_blstm",
            f"output_dir={tmp_path}",
            "baseline.procedure=coin",
        ]
    )
    assert out["exit_code"] == 2 and "baseline.procedure must be one of" in capsys.readouterr().err


def test_sequence_corpus_baseline_has_zero_ccc(tmp_path):
    out = zoo_run(
        [
            "baseline",
            "--draws",
            "3",
            "muse_car/sun2020_lstm_selfattn",
            f"output_dir={tmp_path}",
            "data.args.features=[egemaps]",
        ]
    )
    assert out["exit_code"] == 0
    for stage in ("val", "test"):
        assert abs(out["results"][f"{stage}/ccc_mean"]) < 0.05


def test_draws_must_be_positive(tmp_path, capsys):
    out = zoo_run(["baseline", "--draws", "0", "cmu_mosei/williams2018_blstm", f"output_dir={tmp_path}"])
    assert out["exit_code"] == 2 and "draws must be >= 1" in capsys.readouterr().err
