"""``zoo list`` (recipes, models with paper and size, corpora, sweeps) and ``zoo --version``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import zoo
from zoo.cli import run
from zoo.cli.catalog import MODEL_CATALOG, count_parameters, list_model_entries, list_recipes, reference_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
STALE = "zoo/models/catalog.json is stale: run `python scripts/model_catalog.py`"


def test_every_shipped_recipe_is_listed_with_its_paper():
    shipped = sorted(f"{p.parent.name}/{p.stem}" for p in RECIPES.glob("*/*.yaml") if p.parent.name != "sweeps")
    entries = list_recipes()
    assert [e.name for e in entries] == shipped
    for entry in entries:
        recipe = yaml.safe_load((RECIPES / f"{entry.name}.yaml").read_text())
        assert entry.model == recipe["model"]["name"] and entry.corpus == entry.name.split("/")[0]
        if entry.model.startswith("ssl_"):  # the self-supervised family (zoo/models/ssl.py) is not one paper
            assert entry.paper.startswith("Self-supervised speech front ends"), entry
            continue
        author_year = re.match(r"([a-z]+)(\d{4})_", entry.model)  # paper models are named <author><year>_...
        assert author_year, entry
        assert author_year.group(1).capitalize() in entry.paper and author_year.group(2) in entry.paper, entry


def test_the_model_catalogue_matches_the_registry_papers_and_recipes():
    """Names, papers and corpora of ``model_catalog.json`` against the registry and the recipes."""
    import inspect

    from zoo.data import list_corpora
    from zoo.data.registry import corpus_class

    catalog = json.loads(MODEL_CATALOG.read_text())
    assert sorted(catalog["models"]) == zoo.list_models(), STALE
    # the package's own corpora: a test's reader registered in this process (the toy corpus) is not shipped
    shipped = [name for name in list_corpora(include_derived=True) if corpus_class(name).__module__.startswith("zoo.")]
    assert sorted(catalog["corpora"]) == shipped, STALE
    recipe_models: dict[str, set[str]] = {}
    for path in RECIPES.glob("*/*.yaml"):
        if path.parent.name != "sweeps":
            recipe_models.setdefault(yaml.safe_load(path.read_text())["model"]["name"], set()).add(path.parent.name)
    importers = (Path(zoo.__file__).parent / "hub" / "importers.py").read_text()
    imported = set(re.findall(r'"model": \{"name": "(\w+)"\}', importers))
    assert imported == {"wagner2023_msp_dim", "savchenko2022_va"}
    for entry in list_model_entries():
        first_line = inspect.getdoc(inspect.getmodule(zoo.model_entrypoint(entry.name))).splitlines()[0]
        assert first_line.startswith(entry.paper) and entry.description in first_line, (STALE, entry)
        assert set(entry.corpora) == recipe_models.get(entry.name, set(entry.corpora)), (STALE, entry)
        # a model of `zoo import` (a public network trained elsewhere) has no recipe and no corpus here
        assert entry.corpora or (entry.name in imported and entry.reference == "no shipped recipe"), entry


@pytest.mark.slow
def test_parameter_counts_are_those_of_the_models_built_with_their_recipes():
    """Every count rebuilt (the recipe's synthetic corpus gives the input sizes; the corpora are
    cached by the recipe tests that run before this one)."""
    by_model: dict[str, list[str]] = {}
    for path in sorted(RECIPES.glob("*/*.yaml")):
        if path.parent.name != "sweeps":
            name = f"{path.parent.name}/{path.stem}"
            by_model.setdefault(yaml.safe_load(path.read_text())["model"]["name"], []).append(name)
    counted = 0
    for entry in list_model_entries():
        if entry.parameters is None:
            continue
        recipe, *overrides = entry.reference.split()
        assert recipe == reference_recipe(entry.name, by_model)[0], (STALE, entry)
        assert count_parameters(recipe, overrides) == entry.parameters, (STALE, entry)
        counted += 1
    assert counted >= 14


def test_cli_list_has_headers_each_kind_and_a_pattern(capsys):
    assert run(["list", "recipes", "sewa/chen2017_*"])["exit_code"] == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RECIPE", "CORPUS", "MODEL", "PAPER"]
    assert len(lines) == 1 + len(list((RECIPES / "sewa").glob("chen2017_*.yaml")))
    assert run(["list", "models", "sun2020_*"])["exit_code"] == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("MODEL") and "PARAMETERS" in lines[0]
    row = next(line for line in lines if line.startswith("sun2020_lstm_selfattn "))
    size = json.loads(MODEL_CATALOG.read_text())["models"]["sun2020_lstm_selfattn"]["parameters"]
    assert "Sun et al. (2020)" in row and "muse_car" in row and f"{size:,}" in row
    assert run(["list"])["exit_code"] == 0
    out = capsys.readouterr().out
    for header in ("RECIPE ", "MODEL ", "CORPUS ", "SWEEP "):
        assert f"\n{header}" in "\n" + out
    assert re.search(r"^muse_car/sun2020 +muse_car/sun2020_lstm_selfattn +random ", out, re.M)


def test_zoo_list_imports_neither_torch_nor_a_model():
    """What keeps ``zoo list`` fast (timed side by side in benchmarks/cli_startup.py)."""
    code = "import sys; from zoo.cli import main; main(['list']); print(sorted(m for m in ('torch', 'zoo.models.sun2020', 'zoo.data') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_zoo_list_piped_into_a_reader_that_stops_early_ends_without_a_traceback():
    """``zoo list | head -1``: the reader has closed the pipe; zoo stops quietly with SIGPIPE's
    status instead of a BrokenPipeError traceback. (The read end is closed before zoo starts, so
    its first write fails every time.)"""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "zoo.cli", "list"], stdout=write_end, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr.decode() == ""


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"affect-zoo {zoo.__version__}"


def test_version_matches_the_distribution_metadata():
    from importlib.metadata import version

    assert version("affect-zoo") == zoo.__version__
