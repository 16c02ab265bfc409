"""``zoo sweep FILE --local`` / ``--worker``: the sweep file searched with Optuna, on one study
shared by several processes, ranked table and plots from the database."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
import yaml
from pytorch_lightning.trainer.states import TrainerFn

from zoo.sweeps.local import run_local_sweep
from zoo.sweeps.sweep import SweepError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import RECIPE, REPO, tiny_overrides, write_tiny_corpus  # noqa: E402


def _write_sweep(folder: Path, method: str, parameters: dict, goal: str = "maximize", **extra) -> Path:
    path = folder / f"{method}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "method": method,
                "metric": {"name": "val/ccc_mean", "goal": goal},
                "parameters": parameters,
                "command": ["${env}", "zoo", "fit", RECIPE, "logger=wandb", "${args_no_hyphens}"],
                **extra,
            }
        )
    )
    return path


def _score(lr: float) -> float:
    """The stand-in training's val/ccc_mean: a known function of the proposed lr (peak at 3e-3)."""
    return 1.0 - ((lr - 3e-3) / 1e-3) ** 2


def _fake_fit(calls: list, epochs: int = 3):
    """A stand-in for ``run_command``: reports ``_score(lr)`` after each of ``epochs`` validation
    epochs to the callbacks it is given (as Lightning would), stopping when one asks to."""

    def run_command(command, cfg, callbacks=()):
        calls.append(cfg)
        score = _score(cfg["optimizer"]["lr"])
        run_dir = Path(cfg["output_dir"]) / cfg["run_name"]
        run_dir.mkdir(parents=True)
        trainer = SimpleNamespace(
            sanity_checking=False, state=SimpleNamespace(fn=TrainerFn.FITTING), should_stop=False, callback_metrics={}
        )
        for epoch in range(epochs):
            trainer.current_epoch = epoch
            trainer.callback_metrics = {"val/ccc_mean": torch.tensor(score)}
            for callback in callbacks:
                callback.on_validation_end(trainer, None)
            if trainer.should_stop:
                break
        return {"run_dir": run_dir, "results": {"val/ccc_mean": score, "val/ccc_arousal": score}}

    return run_command


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_search_feeds_results_back_and_ranks_trials(method, tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr("zoo.runner.run.run_command", _fake_fit(calls))
    sweep = _write_sweep(tmp_path, method, {"optimizer.lr": {"distribution": "uniform", "min": 1e-3, "max": 5e-3}})
    folder, trials = run_local_sweep(
        sweep, count=4, output_dir=tmp_path / "out", seed=3, overrides=["trainer.max_epochs=1"]
    )
    assert len(calls) == 4
    lrs = [c["optimizer"]["lr"] for c in calls]
    assert all(1e-3 <= lr <= 5e-3 for lr in lrs) and len(set(lrs)) == 4
    # every trial got the fixed override, CSV logging (not the command's logger=wandb) and its own folder
    assert {c["trainer"]["max_epochs"] for c in calls} == {1} and {c["logger"] for c in calls} == {"csv"}
    assert [c["run_name"] for c in calls] == [f"trial{i:03d}" for i in range(1, 5)]
    expected = sorted((_score(lr) for lr in lrs), reverse=True)
    assert [t.metric for t in trials] == pytest.approx(expected)
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val/ccc_mean"]) for r in rows] == pytest.approx(expected, rel=1e-5)
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 5)] and {r["state"] for r in rows} == {"complete"}
    assert (folder / "parallel_coordinates.png").stat().st_size > 1000 and (folder / "history.png").is_file()
    # the study is in the sweep folder's SQLite file, every trial with its value
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    assert sorted(t.value for t in study.trials) == pytest.approx(sorted(expected))
    # the same seed proposes the same trials
    calls2: list = []
    monkeypatch.setattr("zoo.runner.run.run_command", _fake_fit(calls2))
    run_local_sweep(sweep, count=4, output_dir=tmp_path / "again", seed=3, overrides=["trainer.max_epochs=1"])
    assert [c["optimizer"]["lr"] for c in calls2] == lrs


def test_hyperband_stops_trials_that_trail_the_best_so_far(tmp_path, monkeypatch):
    """eta 2, first bracket after epoch 1: a trial below the best of the trials before it is stopped
    there (Optuna's successive halving keeps the top 1/eta, at least the best one)."""
    calls: list = []
    monkeypatch.setattr("zoo.runner.run.run_command", _fake_fit(calls, epochs=3))
    lrs = [1e-3, 2e-3, 3e-3, 4e-3]
    sweep = _write_sweep(
        tmp_path,
        "grid",
        {"optimizer.lr": {"values": lrs}},
        early_terminate={"type": "hyperband", "min_iter": 1, "eta": 2},
    )
    _, trials = run_local_sweep(sweep, count=4, output_dir=tmp_path, seed=1)
    order = sorted(trials, key=lambda t: t.number)
    best = -math.inf
    for trial in order:
        score = _score(trial.params["optimizer.lr"])
        assert trial.state == ("pruned" if score < best else "complete"), (trial.name, score, best)
        best = max(best, score)
    assert any(t.state == "pruned" for t in trials)
    assert sorted(t.params["optimizer.lr"] for t in trials) == lrs  # the grid, each point once


def test_failed_trial_is_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    calls: list = []
    fake = _fake_fit(calls)

    def flaky(command, cfg, callbacks=()):
        if cfg["model"]["args"]["hidden_size"] == 8:
            raise RuntimeError("loss became NaN at step 3")
        return fake(command, cfg, callbacks)

    monkeypatch.setattr("zoo.runner.run.run_command", flaky)
    sweep = _write_sweep(tmp_path, "grid", {"model.args.hidden_size": {"values": [8, 16]}})
    folder, trials = run_local_sweep(sweep, count=5, output_dir=tmp_path, seed=0)
    assert [t.params["model.args.hidden_size"] for t in trials] == [16, 8]  # grid exhausted after 2
    assert trials[1].metric is None and trials[1].state == "fail" and "NaN" in trials[1].error
    assert f"| - | {trials[1].name} | fail |" in (folder / "trials.md").read_text()


def test_refused_count_study_and_multi_device_trials(tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.runner.run.run_command", _fake_fit([]))
    sweep = _write_sweep(tmp_path, "grid", {"model.args.hidden_size": {"values": [8]}})
    with pytest.raises(SweepError, match="--count must be >= 1"):
        run_local_sweep(sweep, count=0, output_dir=tmp_path)
    run_local_sweep(sweep, count=1, output_dir=tmp_path, study_name="s")
    with pytest.raises(SweepError, match="exists already.*--worker"):
        run_local_sweep(sweep, count=1, output_dir=tmp_path, study_name="s")
    other = _write_sweep(tmp_path, "random", {"model.args.hidden_size": {"values": [8, 16]}})
    with pytest.raises(SweepError, match="different sweep file"):
        run_local_sweep(other, count=1, output_dir=tmp_path, study_name="s", worker=True)
    with pytest.raises(SweepError, match="one worker per GPU"):
        run_local_sweep(other, count=1, output_dir=tmp_path / "d", overrides=["trainer.devices=2"])


@pytest.mark.slow
def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    """Two ``zoo sweep --worker`` processes on one SQLite study: the 4 grid points are trained once
    each, by one worker each, and the ranked table and plots cover all of them."""
    corpus = write_tiny_corpus(tmp_path / "muse")
    sweep = _write_sweep(
        tmp_path, "grid", {"model.args.hidden_size": {"values": [4, 8]}, "optimizer.lr": {"values": [0.001, 0.003]}}
    )
    out = tmp_path / "sweeps"
    overrides = [o for o in tiny_overrides(corpus, out) if not o.startswith("output_dir=")]
    args = ["sweep", str(sweep), "--worker", "--count", "4", "--output", str(out), *overrides]
    args += ["trainer.max_epochs=1", "trainer.limit_train_batches=2"]
    env = {k: v for k, v in os.environ.items() if k != "AFFECT_ZOO_RUN_DIR"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "zoo.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_stdout, stderr) in zip(workers, outputs):
        assert w.returncode == 0, stderr[-4000:]
    folder = out / "grid"
    study = optuna.load_study(study_name="grid", storage=f"sqlite:///{folder / 'study.db'}")
    ran = [t for t in study.trials if not t.user_attrs.get("surplus")]
    assert len(ran) == 4 and {t.state for t in ran} == {optuna.trial.TrialState.COMPLETE}
    points = {(t.params["model.args.hidden_size"], t.params["optimizer.lr"]) for t in ran}
    assert points == {(4, 0.001), (4, 0.003), (8, 0.001), (8, 0.003)}  # every point once, none twice
    pids = {str(w.pid) for w in workers}
    for t in ran:
        assert t.user_attrs["worker"].rsplit(":", 1)[1] in pids
        results = json.loads((Path(t.user_attrs["run_dir"]) / "results.json").read_text())
        assert results["val/ccc_mean"] == pytest.approx(t.value)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [f"trial{t.number + 1:03d}" for t in ran]
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == [f"trial{t.number + 1:03d}" for t in sorted(ran, key=lambda t: -t.value)]
    assert {r["state"] for r in rows} == {"complete"} and [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    for plot in ("parallel_coordinates.png", "history.png"):
        assert (folder / plot).stat().st_size > 1000


def _open_storage_after(url: str, barrier, results) -> None:
    from zoo.sweeps.local import _storage

    barrier.wait()
    try:
        _storage(url)
        results.put("opened")
    except Exception as err:  # noqa: BLE001 - the message is the assertion's
        results.put(str(err)[:300])


def test_workers_opening_a_new_sqlite_study_at_once_all_succeed(tmp_path):
    """Four processes creating the study tables in one new SQLite file at the same instant
    (what ``--worker`` processes started together do) all open it: none fails with "table
    studies already exists" (the old code lost that race in about 4 rounds of 10)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for round_ in range(8):
        url = f"sqlite:///{tmp_path / f'study{round_}.db'}"
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_storage_after, args=(url, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert outcomes == ["opened"] * 4, outcomes
        assert optuna.get_all_study_summaries(storage=url) == []
