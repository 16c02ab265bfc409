"""Finding your way (issue 16, item 6): zoo show, --print_config, RECIPE --help, examples in --help."""

from __future__ import annotations

import pytest
import yaml

from zoo.cli import EXAMPLES, main
from zoo.cli import run as zoo_run
from zoo.config.recipe import load_recipe

RECIPE = "muse_car/sun2020_lstm_selfattn"


def test_show_prints_the_resolved_recipe_with_origins(capsys):
    assert main(["show", RECIPE, "trainer.max_epochs=5", "logger=[csv,tensorboard]"]) == 0
    out = capsys.readouterr().out
    expected = load_recipe(RECIPE, ["trainer.max_epochs=5", "logger=[csv,tensorboard]"])
    expected.pop("recipe")
    assert yaml.safe_load(out) == expected
    assert "max_epochs: 5  # command line" in out and "name: muse_car  # recipe" in out
    assert "lr_monitor:" in out and "swa: null  # defaults" in out  # the inherited callbacks block


@pytest.mark.parametrize("command", ["fit", "validate", "test", "predict"])
def test_print_config_prints_and_exits_without_a_run(tmp_path, capsys, command):
    out = zoo_run([command, RECIPE, f"output_dir={tmp_path}", "--print_config", "trainer.max_steps=3"])
    assert out["exit_code"] == 0 and "run_dir" not in out
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["trainer"]["max_steps"] == 3 and shown["output_dir"] == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing trained, no folder


def test_print_config_still_checks_the_recipe(capsys):
    assert main(["fit", RECIPE, "--print_config", "trainer.max_epoch=3"]) == 2
    assert "Did you mean trainer.max_epochs?" in capsys.readouterr().err


def test_recipe_help_lists_every_key_with_value_and_origin(capsys):
    assert main(["fit", RECIPE, "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"usage: zoo fit {RECIPE} [key=value ...]")
    rows = {line.split("=")[0].strip(): line for line in lines if line.startswith("  ")}
    assert rows["model.args.hidden_size"].split("=", 1)[1].split() == ["64", "[recipe]"]
    assert rows["callbacks.lr_monitor.logging_interval"].split("=", 1)[1].split() == ["epoch", "[defaults]"]
    assert "trainer.max_epochs" in rows and "logger" in rows


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_every_sub_command_help_ends_with_an_example(capsys, command):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(EXAMPLES[command].splitlines()[-1].strip())
    assert "example:\n  zoo " + command in out


def test_baseline_takes_draws_after_the_recipe(tmp_path, capsys):
    out = zoo_run(["baseline", RECIPE, "--draws", "2", f"output_dir={tmp_path}", "trainer.enable_progress_bar=false"])
    assert out["exit_code"] == 0 and "random baseline (2 draws" in capsys.readouterr().out
    assert main(["baseline", RECIPE, "--draws=x", f"output_dir={tmp_path}"]) == 2
