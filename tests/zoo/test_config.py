"""Recipe merging: defaults ← recipe ← overrides, struct mode errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zoo.config.recipe import ConfigError, load_recipe, parse_overrides


@pytest.fixture()
def recipe_dir(tmp_path: Path) -> Path:
    (tmp_path / "defaults.yaml").write_text(
        "seed: 0\ndata:\n  name: ???\n  args: {}\nmodel:\n  name: ???\n  args: {}\n"
        "optimizer:\n  name: adam\n  lr: 0.001\n  args: {}\ntrainer:\n  max_epochs: 10\n  devices: 1\n"
    )
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "r.yaml").write_text(
        "data:\n  name: muse_car\n  args:\n    features: [egemaps]\nmodel:\n  name: m\n  args:\n    hidden: 8\n"
    )
    return tmp_path


def test_merge_order_and_types(recipe_dir: Path):
    cfg = load_recipe(
        recipe_dir / "corpus" / "r.yaml",
        ["trainer.max_epochs=3", "--optimizer.lr=0.01", "model.args.heads=4", "--seed", "7"],
    )
    assert cfg["trainer"]["max_epochs"] == 3 and cfg["optimizer"]["lr"] == 0.01
    assert cfg["model"]["args"] == {"hidden": 8, "heads": 4}
    assert cfg["seed"] == 7 and cfg["data"]["args"]["features"] == ["egemaps"]
    assert cfg["recipe"].endswith("r.yaml")


def test_unknown_override_names_key_and_valid_keys(recipe_dir: Path):
    with pytest.raises(ConfigError) as err:
        load_recipe(recipe_dir / "corpus" / "r.yaml", ["trainer.max_epoch=3"])
    msg = str(err.value)
    assert "trainer.max_epoch" in msg and "Did you mean trainer.max_epochs" in msg
    valid = msg.split("Valid keys: ")[1].split(", ")  # trainer.*: the arguments of Lightning's Trainer
    assert {"devices", "max_epochs", "max_steps", "profiler"} <= set(valid) and "logger" not in valid


def test_trainer_block_takes_every_lightning_argument(recipe_dir: Path):
    """Keys that defaults.yaml does not list pass when Trainer takes them; known keys keep their type."""
    cfg = load_recipe(
        recipe_dir / "corpus" / "r.yaml",
        ["trainer.max_steps=3", "trainer.check_val_every_n_epoch=2", "trainer.profiler=simple"],
    )
    assert cfg["trainer"] == {
        "max_epochs": 10,
        "devices": 1,
        "max_steps": 3,
        "check_val_every_n_epoch": 2,
        "profiler": "simple",
    }
    recipe = recipe_dir / "corpus" / "t.yaml"
    recipe.write_text("data: {name: x}\nmodel: {name: m}\ntrainer: {detect_anomaly: true, max_step: 3}\n")
    with pytest.raises(ConfigError, match=r"t.yaml: unknown key 'trainer.max_step'\. Did you mean trainer.max_steps\?"):
        load_recipe(recipe)
    with pytest.raises(ConfigError, match=r"trainer.logger is set by zoo itself; use logger"):
        load_recipe(recipe_dir / "corpus" / "r.yaml", ["trainer.logger=false"])


def test_unknown_recipe_key_names_file(recipe_dir: Path):
    bad = recipe_dir / "corpus" / "bad.yaml"
    bad.write_text("data:\n  name: x\nmodel:\n  name: m\noptimiser:\n  lr: 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'optimiser'.*Did you mean optimizer"):
        load_recipe(bad)


def test_missing_mandatory_value(recipe_dir: Path):
    partial = recipe_dir / "corpus" / "partial.yaml"
    partial.write_text("data:\n  name: x\n")
    with pytest.raises(ConfigError, match="model.name"):
        load_recipe(partial)


def test_parse_overrides_forms():
    assert parse_overrides(["a=1", "--b=2", "--c", "3"]) == ["a=1", "b=2", "c=3"]
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])


def test_shipped_recipes_resolve():
    """Every corpus recipe resolves; one with mandatory ``???`` keys names exactly those keys and
    resolves once they are given. ``recipes/sweeps/`` holds W&B sweep files, not recipes."""
    root = Path(__file__).resolve().parents[2] / "recipes"
    recipes = [r for r in root.glob("*/*.yaml") if r.parent.name != "sweeps"]
    assert len(recipes) >= 5
    for recipe in recipes:
        raw = OmegaConf.load(recipe)
        mandatory = sorted(OmegaConf.missing_keys(raw))
        if mandatory:
            with pytest.raises(ConfigError, match="mandatory keys without a value") as err:
                load_recipe(recipe)
            for key in mandatory:
                assert key in str(err.value)
        cfg = load_recipe(recipe, [f"{key}=[a,b]" for key in mandatory])
        assert cfg["data"]["name"] and cfg["model"]["name"], recipe


def test_override_of_another_container_kind_is_a_config_error(recipe_dir: Path):
    recipe = recipe_dir / "corpus" / "listy.yaml"
    recipe.write_text("data:\n  name: x\n  args:\n    weights: [0.5, 0.5]\nmodel:\n  name: y\n")
    with pytest.raises(ConfigError, match="does not fit .*listy.yaml"):
        load_recipe(recipe, ["data.args.weights={a: 1.0}"])
    assert load_recipe(recipe, ["data.args.weights=[1.0,0.0]"])["data"]["args"]["weights"] == [1.0, 0.0]
