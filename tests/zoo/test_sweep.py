"""Sweep files: W&B's format checked, named like recipes, translated to Optuna, proposed offline."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from zoo.cli import run as zoo_run
from zoo.sweeps.space import parse_space
from zoo.sweeps.sweep import (
    SweepError,
    expand_command,
    load_sweep,
    propose_runs,
    proposed_overrides,
    resolve_sweep_path,
    shipped_sweeps,
    validate_sweep,
)

REPO = Path(__file__).resolve().parents[2]
SWEEPS = sorted((REPO / "recipes" / "sweeps").glob("*.yaml"))
RECIPE = "muse_car/sun2020_lstm_selfattn"


def test_shipped_sweeps_are_named_like_recipes_and_run_recipes_by_name():
    names = shipped_sweeps()
    assert set(names) == {
        "cmu_mosei/williams2018",
        "muse_car/ssl_audio",
        "muse_car/sun2020",
        "recola/tzirakis2017",
        "sewa/atmaja2020",
        "sewa/chen2017",
    }
    assert resolve_sweep_path("muse_car/sun2020") == (REPO / "recipes/sweeps/muse_car_sun2020.yaml").resolve()
    for path in names.values():  # no path of the checkout: they work wherever the package is installed
        command = load_sweep(path)["command"]
        assert not any(str(c).startswith("recipes/") or str(c).endswith(".yaml") for c in command), command
    with pytest.raises(SweepError, match="Did you mean muse_car/sun2020"):
        resolve_sweep_path("muse_car/sun202")


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_sweep_file_validates_and_proposes_runs(path: Path):
    config = load_sweep(path)
    recipe = validate_sweep(config, path)
    assert (REPO / "recipes" / f"{recipe}.yaml").is_file()
    assert config["metric"]["goal"] in ("maximize", "minimize")
    runs = propose_runs(config, 4, seed=1)
    assert len(runs) == 4 and runs == propose_runs(config, 4, seed=1)  # deterministic offline proposals
    for params in runs:
        assert set(params) == set(config["parameters"])
        for key, value in params.items():
            spec = config["parameters"][key]
            if "value" in spec:
                assert value == spec["value"]
            elif "values" in spec:
                assert value in spec["values"]
            else:
                assert spec["min"] <= value <= spec["max"]


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_first_proposed_run_is_accepted_by_the_cli(path: Path, tmp_path: Path):
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
        "command": ["${env}", "zoo", "fit", RECIPE, "${args_no_hyphens}"],
    }
    base.update(changes)
    return base


def test_grid_proposals_are_exhaustive_once_each_and_commands_expand_both_forms():
    config = _sweep(parameters={"model.args.hidden_size": {"values": [8, 16]}, "optimizer.lr": {"values": [0.1, 0.2]}})
    runs = propose_runs(config, 10)
    expected = [{"model.args.hidden_size": h, "optimizer.lr": lr} for h in (8, 16) for lr in (0.1, 0.2)]
    assert sorted(runs, key=str) == sorted(expected, key=str)  # all 4 points, none twice, then it stops
    assert expand_command(config, {"a.b": 1})[-1] == "a.b=1"
    hyphens = _sweep(command=["zoo", "fit", "r.yaml", "${args}"])
    assert expand_command(hyphens, {"a.b": [1, 2]}) == ["zoo", "fit", "r.yaml", "--a.b=[1,2]"]


def test_wandb_parameter_forms_become_these_optuna_distributions():
    space = parse_space(
        _sweep(
            method="random",
            parameters={
                "a": {"value": 3},
                "b": {"values": [[1, 2], [3]]},
                "c": {"min": 1, "max": 4},  # integer bounds: int_uniform, as W&B infers it
                "d": {"min": 0.5, "max": 1.5},  # uniform
                "e": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
                "f": {"distribution": "log_uniform", "min": -2.0, "max": 0.0},  # exponents
                "g": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},
            },
        ),
        "s.yaml",
    )
    d = {p.name: p for p in space.params}
    assert d["a"].kind == "constant" and d["a"].value == 3
    assert d["b"].distribution() == optuna.distributions.CategoricalDistribution(["[1,2]", "[3]"])
    assert d["c"].distribution() == optuna.distributions.IntDistribution(1, 4)
    assert d["d"].distribution() == optuna.distributions.FloatDistribution(0.5, 1.5)
    assert d["e"].distribution() == optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    assert d["f"].low == pytest.approx(math.exp(-2.0)) and d["f"].high == pytest.approx(1.0) and d["f"].log
    assert d["g"].grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    study = optuna.create_study(sampler=space.sampler(0))
    values = space.suggest(study.ask())
    assert values["a"] == 3 and values["b"] in ([1, 2], [3])  # list values come back as lists
    assert parse_space(_sweep(parameters={"x": {"values": [1, 2, 3]}, "y": {"min": 1, "max": 2}}), "s").grid_size() == 6


def test_hyperband_brackets_become_successive_halving_rungs():
    pruner = parse_space(_sweep(early_terminate={"type": "hyperband", "min_iter": 2, "eta": 3}), "s").pruner()
    assert isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert (pruner._min_resource, pruner._reduction_factor) == (2, 3)
    # W&B: max_iter 27, s 2, eta 3 -> first bracket at 27 / 3**2 = 3
    pruner = parse_space(_sweep(early_terminate={"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}), "s").pruner()
    assert pruner._min_resource == 3


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"method": "anneal"}, "method must be one of grid, random, bayes"),
        ({"metrc": {}}, "unknown key 'metrc'.*Did you mean metric"),
        ({"parameters": {"trainer.max_epoch": {"values": [1]}}}, "unknown key 'trainer.max_epoch'"),
        ({"command": ["zoo", "fit", RECIPE]}, "args_no_hyphens"),
        ({"command": ["python", "train.py", "${args}"]}, "zoo fit RECIPE"),
        (
            {"method": "random", "parameters": {"optimizer.lr": {"distribution": "normal", "mu": 0, "sigma": 1}}},
            "normal is not supported by the local",
        ),
        ({"parameters": {"optimizer.lr": {"min": 0.001, "max": 0.1}}}, "a grid needs discrete values"),
        ({"early_terminate": {"type": "hyperband", "eta": 3}}, "needs min_iter"),
        ({"parameters": {"optimizer.lr": {"values": [0.1], "probabilities": [1.0]}}}, "probabilities"),
    ],
)
def test_invalid_sweeps_are_clear_errors(changes, message):
    with pytest.raises(SweepError, match=message):
        validate_sweep(_sweep(**changes), "my_sweep.yaml")


def test_cli_dry_run_by_name_prints_commands_and_a_broken_file_is_one_line(tmp_path, capsys):
    out = zoo_run(["sweep", "sewa/chen2017", "--dry-run", "--count", "2"])
    assert out["exit_code"] == 0 and len(out["commands"]) == 2
    assert "run 2: /usr/bin/env zoo fit sewa/chen2017_multimodal" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("method: grid\nparameters: {a: [1\n")
    assert zoo_run(["sweep", str(broken), "--dry-run"])["exit_code"] == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{broken}:3:1: invalid YAML" in err
