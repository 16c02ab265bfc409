"""``zoo sweep FILE --local``: W&B's search run on this machine, ranked table and plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from zoo.cli import run as zoo_run
from zoo.sweep_local import run_local_sweep

REPO = Path(__file__).resolve().parents[2]
RECIPE = "recipes/muse_car/sun2020_lstm_selfattn.yaml"


def _write_sweep(folder: Path, method: str, parameters: dict, goal: str = "maximize") -> Path:
    path = folder / f"{method}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "method": method,
                "metric": {"name": "val/ccc_mean", "goal": goal},
                "parameters": parameters,
                "command": ["${env}", "zoo", "fit", RECIPE, "logger=wandb", "${args_no_hyphens}"],
            }
        )
    )
    return path


def _fake_fit(calls: list):
    """A stand-in for training: val/ccc_mean is a known function of the proposed lr (peak at 3e-3)."""

    def run_command(command, cfg):
        calls.append(cfg)
        lr = cfg["optimizer"]["lr"]
        run_dir = Path(cfg["output_dir"]) / cfg["run_name"]
        run_dir.mkdir(parents=True)
        return {"run_dir": run_dir, "results": {"val/ccc_mean": 1.0 - ((lr - 3e-3) / 1e-3) ** 2}}

    return run_command


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_search_feeds_results_back_and_ranks_trials(method, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    calls: list = []
    monkeypatch.setattr("zoo.run.run_command", _fake_fit(calls))
    sweep = _write_sweep(tmp_path, method, {"optimizer.lr": {"distribution": "uniform", "min": 1e-3, "max": 5e-3}})
    folder, trials = run_local_sweep(
        sweep, count=6, output_dir=tmp_path / "out", seed=3, overrides=["trainer.max_epochs=1"]
    )
    assert len(calls) == 6
    lrs = [c["optimizer"]["lr"] for c in calls]
    assert all(1e-3 <= lr <= 5e-3 for lr in lrs) and len(set(lrs)) == 6
    # every trial got the fixed override, CSV logging (not the command's logger=wandb) and its own folder
    assert {c["trainer"]["max_epochs"] for c in calls} == {1} and {c["logger"] for c in calls} == {"csv"}
    assert sorted(c["run_name"] for c in calls) == [f"trial{i:03d}" for i in range(1, 7)]
    expected = sorted((1.0 - ((lr - 3e-3) / 1e-3) ** 2 for lr in lrs), reverse=True)
    assert [t.metric for t in trials] == pytest.approx(expected)
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val/ccc_mean"]) for r in rows] == pytest.approx(expected, rel=1e-5)
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 7)]
    assert (folder / "parallel_coordinates.png").stat().st_size > 1000
    # the same seed proposes the same trials
    calls2: list = []
    monkeypatch.setattr("zoo.run.run_command", _fake_fit(calls2))
    run_local_sweep(sweep, count=6, output_dir=tmp_path / "again", seed=3, overrides=["trainer.max_epochs=1"])
    assert [c["optimizer"]["lr"] for c in calls2] == lrs


def test_failed_trial_is_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    calls: list = []
    fake = _fake_fit(calls)

    def flaky(command, cfg):
        if cfg["model"]["args"]["hidden_size"] == 8:
            raise RuntimeError("loss became NaN at step 3")
        return fake(command, cfg)

    monkeypatch.setattr("zoo.run.run_command", flaky)
    sweep = _write_sweep(tmp_path, "grid", {"model.args.hidden_size": {"values": [8, 16]}})
    folder, trials = run_local_sweep(sweep, count=5, output_dir=tmp_path, seed=0)
    assert [t.params["model.args.hidden_size"] for t in trials] == [16, 8]  # grid exhausted after 2
    assert trials[1].metric is None and "NaN" in trials[1].error
    assert "| - | trial001 |" in (folder / "trials.md").read_text()


@pytest.mark.slow
def test_cli_local_grid_trains_each_trial(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    sweep = _write_sweep(tmp_path, "grid", {"model.args.hidden_size": {"values": [8, 16]}})
    out = zoo_run(
        [
            "sweep",
            str(sweep),
            "--local",
            "--count",
            "3",
            "--output",
            str(tmp_path / "runs"),
            "trainer.max_epochs=1",
            "data.args.features=[egemaps]",
            "trainer.enable_progress_bar=false",
        ]
    )
    assert out["exit_code"] == 0
    folder = out["run_dir"]
    scores = {
        d.name: json.loads((d / "results.json").read_text())["val/ccc_mean"]
        for d in folder.glob("trial*")
        if d.is_dir()
    }
    assert len(scores) == 2
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == sorted(scores, key=scores.get, reverse=True)
    assert "sweep folder:" in capsys.readouterr().out


def test_cli_local_refuses_a_bad_count(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    sweep = _write_sweep(tmp_path, "grid", {"model.args.hidden_size": {"values": [8]}})
    assert zoo_run(["sweep", str(sweep), "--local", "--count", "0"])["exit_code"] == 2
    assert "--count must be >= 1" in capsys.readouterr().err
