"""A user's mistake is one line on stderr and exit status 2, saying what to do instead."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zoo.cli import run as zoo_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import RECIPE, write_tiny_corpus  # noqa: E402


def _error(capsys, *args: str) -> str:
    """The one stderr line of a refused ``zoo`` command (exit status 2)."""
    capsys.readouterr()
    assert zoo_run(list(args))["exit_code"] == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "text,where,problem",
    [
        ("model:\n  name: [sun2020\n", ":3:1:", "did not find expected ',' or ']'"),
        ("model:\n  name: a\n  name: b\n", ":3:3:", "found duplicate key name"),
        ("model:\n\tname: a\n", ":2:1:", "found character that cannot start any token"),
    ],
)
def test_invalid_yaml_names_file_line_and_column(tmp_path, capsys, text, where, problem):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(text)
    err = _error(capsys, "fit", str(recipe))
    assert f"{recipe}{where} invalid YAML: {problem}" in err


def test_a_recipe_anywhere_on_disk_resolves_against_the_shipped_defaults(tmp_path, capsys):
    recipe = tmp_path / "elsewhere" / "mine.yaml"
    recipe.parent.mkdir()
    recipe.write_text("data: {name: muse_car}\nmodel: {name: sun2020_lstm, args: {hidden_size: 8}}\n")
    assert zoo_run(["show", str(recipe)])["exit_code"] == 0
    out = capsys.readouterr().out
    assert f"# recipe:   {recipe}" in out and "defaults.yaml" in out and "hidden_size: 8  # recipe" in out


@pytest.mark.parametrize(
    "args,hint",
    [
        (["fit", "muse_car/sun2020_lstm_selfatn"], "Did you mean muse_car/sun2020_lstm_selfattn"),
        (["fit", "muse_car/sun2020"], "Did you mean muse_car/sun2020_late_fusion, muse_car/sun2020_lstm_selfattn"),
        (["fit", RECIPE, "model.name=sun2020_lstm_selfatn"], "Did you mean sun2020_lstm_selfattn?"),
        (["fit", RECIPE, "data.name=muse_cr"], "Did you mean muse_car?"),
        (["sweep", "muse_car/sun202", "--dry-run"], "Did you mean muse_car/sun2020"),
    ],
)
def test_misspelt_names_get_a_did_you_mean(tmp_path, capsys, args, hint):
    assert hint in _error(capsys, *args, *([f"output_dir={tmp_path}"] if args[0] == "fit" else []))
    assert not any(tmp_path.iterdir())  # refused before any run folder was made


def test_missing_feature_set_lists_the_sets_and_a_foreign_folder_is_named(tmp_path, capsys):
    corpus = write_tiny_corpus(tmp_path / "muse")
    err = _error(
        capsys, "fit", RECIPE, f"data.args.root={corpus}", "data.args.features=[mfcc]", f"output_dir={tmp_path}"
    )
    assert (
        "feature folder not found (feature set 'mfcc')" in err and f"{corpus} has the feature sets ['egemaps']" in err
    )
    # a CMU-MOSEI recipe (or checkpoint) pointed at a MuSe-CaR folder
    err = _error(capsys, "fit", "cmu_mosei/williams2018_blstm", f"data.args.root={corpus}", f"output_dir={tmp_path}")
    assert f"{corpus} is a muse_car folder (it has c1_muse_wild), but this cmu_mosei model or recipe" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["muse"]  # no run folder left behind
