"""W&B sweep files: validation, offline proposals, and proposed runs accepted by the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.cli import run as zoo_run
from zoo.sweep import SweepError, expand_command, load_sweep, propose_runs, proposed_overrides, validate_sweep

REPO = Path(__file__).resolve().parents[2]
SWEEPS = sorted((REPO / "recipes" / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_sweep_file_validates_and_proposes_runs(path: Path):
    config = load_sweep(path)
    recipe = validate_sweep(config, str(path), repo_root=REPO)
    assert (REPO / recipe).is_file()
    assert config["metric"] == {"name": "val/ccc_mean", "goal": "maximize"} or config["metric"]["goal"] in (
        "maximize",
        "minimize",
    )
    runs = propose_runs(config, 4, seed=1)
    assert runs and runs == propose_runs(config, 4, seed=1)  # deterministic offline proposals
    for params in runs:
        for key, value in params.items():
            spec = config["parameters"][key]
            if "values" in spec:
                assert value in spec["values"]
            elif "min" in spec:
                assert spec["min"] <= value <= spec["max"]


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_first_proposed_run_is_accepted_by_the_cli(path: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(REPO)
    config = load_sweep(path)
    command = expand_command(config, propose_runs(config, 1)[0])
    fit = command.index("fit")
    out = zoo_run(
        [
            "fit",
            command[fit + 1],
            *proposed_overrides(command[fit + 2 :]),
            "trainer.fast_dev_run=true",
            "trainer.enable_progress_bar=false",
            f"output_dir={tmp_path}",
        ]
    )
    assert out["exit_code"] == 0


def _sweep(**changes):
    base = {
        "method": "grid",
        "metric": {"name": "val/ccc_mean", "goal": "maximize"},
        "parameters": {"model.args.hidden_size": {"values": [8, 16]}},
        "command": ["${env}", "zoo", "fit", "recipes/muse_car/sun2020_lstm_selfattn.yaml", "${args_no_hyphens}"],
    }
    base.update(changes)
    return base


def test_grid_proposals_are_exhaustive_and_commands_expand_both_forms():
    config = _sweep()
    assert propose_runs(config, 10) == [{"model.args.hidden_size": 8}, {"model.args.hidden_size": 16}]
    assert expand_command(config, {"a.b": 1})[-1] == "a.b=1"
    hyphens = _sweep(command=["zoo", "fit", "r.yaml", "${args}"])
    assert expand_command(hyphens, {"a.b": [1, 2]}) == ["zoo", "fit", "r.yaml", "--a.b=[1,2]"]


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"method": "anneal"}, "not a valid W&B sweep"),
        ({"parameters": {"trainer.max_epoch": {"values": [1]}}}, "unknown key 'trainer.max_epoch'"),
        ({"command": ["zoo", "fit", "recipes/muse_car/sun2020_lstm_selfattn.yaml"]}, "args_no_hyphens"),
        ({"command": ["python", "train.py", "${args}"]}, "zoo fit RECIPE"),
    ],
)
def test_invalid_sweeps_are_clear_errors(changes, message):
    with pytest.raises(SweepError, match=message):
        validate_sweep(_sweep(**changes), "my_sweep.yaml", repo_root=REPO)


def test_cli_dry_run_prints_commands(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = zoo_run(["sweep", str(SWEEPS[0]), "--dry-run", "--count", "2"])
    assert out["exit_code"] == 0 and len(out["commands"]) == 2
    assert "run 2: /usr/bin/env zoo fit" in capsys.readouterr().out
