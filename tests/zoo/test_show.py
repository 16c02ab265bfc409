"""``zoo show`` / ``--print_config`` / ``zoo fit RECIPE --help``: values and where they come from."""

from __future__ import annotations

from pathlib import Path

import yaml

from zoo.config.show import recipe_keys_help, show_recipe, value_origins

DEFAULTS = """
seed: 0
data:
  name: ???
  args: {}
model:
  name: ???
  args: {}
trainer: {max_epochs: 100, precision: "32"}
metrics: [ccc]
"""
RECIPE = """
data: {name: muse_car, args: {features: [egemaps], win_len: 200}}
model: {name: sun2020_lstm, args: {hidden_size: 64}}
trainer: {max_epochs: 15}
"""


def _recipe(tmp_path: Path) -> Path:
    (tmp_path / "defaults.yaml").write_text(DEFAULTS)
    path = tmp_path / "corpus" / "paper_x.yaml"
    path.parent.mkdir()
    path.write_text(RECIPE)
    return path


def test_each_value_is_attributed_to_the_layer_that_set_it(tmp_path):
    path = _recipe(tmp_path)
    cfg, origins = value_origins(path, ["trainer.max_epochs=3", "model.args.hidden_size=32"])
    assert cfg["trainer"]["max_epochs"] == 3
    expected = {
        "seed": "defaults",
        "metrics": "defaults",
        "trainer.precision": "defaults",
        "trainer.max_epochs": "command line",
        "model.args.hidden_size": "command line",
        "model.name": "recipe",
        "data.args.features": "recipe",
        "data.args.win_len": "recipe",
        "data.name": "recipe",
    }
    assert {k: v for k, v in origins.items() if not k.startswith("__")} == expected


def test_shown_config_is_yaml_of_the_resolved_recipe(tmp_path):
    path = _recipe(tmp_path)
    text = show_recipe(path, ["data.args.features=[egemaps,vggish]"])
    loaded = yaml.safe_load(text)
    assert loaded == {
        "seed": 0,
        "data": {"name": "muse_car", "args": {"features": ["egemaps", "vggish"], "win_len": 200}},
        "model": {"name": "sun2020_lstm", "args": {"hidden_size": 64}},
        "trainer": {"max_epochs": 15, "precision": "32"},
        "metrics": ["ccc"],
    }
    assert "features: [egemaps, vggish]  # command line" in text
    assert "max_epochs: 15  # recipe" in text and "precision: '32'  # defaults" in text


def test_keys_help_lists_every_leaf_as_an_override(tmp_path):
    path = _recipe(tmp_path)
    lines = recipe_keys_help(path).splitlines()
    assert lines[0] == f"usage: zoo fit {path} [key=value ...] [--print_config] [--traceback]"
    rows = {line.split("=")[0].strip(): line for line in lines if line.startswith("  ")}
    assert set(rows) == {
        "seed",
        "data.name",
        "data.args.features",
        "data.args.win_len",
        "model.name",
        "model.args.hidden_size",
        "trainer.max_epochs",
        "trainer.precision",
        "metrics",
    }
    assert rows["trainer.max_epochs"].split("=", 1)[1].split() == ["15", "[recipe]"]
