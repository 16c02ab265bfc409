"""``zoo list recipes`` and ``zoo --version``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import zoo
from zoo.catalog import list_recipes
from zoo.cli import run

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_every_shipped_recipe_is_listed_with_its_paper():
    shipped = sorted(f"{p.parent.name}/{p.stem}" for p in RECIPES.glob("*/*.yaml") if p.parent.name != "sweeps")
    entries = list_recipes()
    assert [e.name for e in entries] == shipped
    for entry in entries:
        recipe = yaml.safe_load((RECIPES / f"{entry.name}.yaml").read_text())
        assert entry.model == recipe["model"]["name"] and entry.corpus == entry.name.split("/")[0]
        if entry.model.startswith("ssl_"):  # the self-supervised family (zoo/ssl.py) is not one paper
            assert entry.paper.startswith("Self-supervised speech front ends"), entry
            continue
        author_year = re.match(r"([a-z]+)(\d{4})_", entry.model)  # paper models are named <author><year>_...
        assert author_year, entry
        assert author_year.group(1).capitalize() in entry.paper and author_year.group(2) in entry.paper, entry


def test_cli_list_recipes_pattern_and_version(capsys):
    assert run(["list", "recipes", "sewa/chen2017_*"])["exit_code"] == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "recipes:" and len(lines) == 1 + len(list((RECIPES / "sewa").glob("chen2017_*.yaml")))
    with pytest.raises(SystemExit) as exit_info:
        run(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"affect-zoo {zoo.__version__}"


def test_version_matches_the_distribution_metadata():
    from importlib.metadata import version

    assert version("affect-zoo") == zoo.__version__
