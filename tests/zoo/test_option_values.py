"""Option values are checked against their declared types and ranges before anything is built or
any run folder is made (issues 24 and 26): one line, exit 2, naming the key and what was expected;
run names stay inside ``output_dir``; command-line values are taken as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.cli import run
from zoo.config.option_rules import RECIPE_RULES, Rule, check_options, rule_problem
from zoo.data.datamodule import check_data_options
from zoo.errors import ConfigError

RECIPE = "muse_car/sun2020_lstm_selfattn"


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize(
    "rule, good, bad",
    [
        (Rule(int, low=1), [1, 7], [0, -3, 1.5, True, "2", None]),
        (Rule(float, low=0, low_open=True), [1e-9, 3, 2.5], [0, -1.0, float("nan"), float("inf"), False]),
        (Rule(float, low=0, high=1, low_open=True, high_open=True), [0.5], [0.0, 1.0, 1.5]),
        (Rule(str, low=1, nullable=True), [None, "x"], ["", 3]),
        (Rule(list, low=1, items=Rule(str, low=1), distinct=True), [["a", "b"]], [[], ["a", "a"], ["a", ""], "a"]),
        (Rule(choices=(True, False, "zscore")), [True, "zscore"], [1, "maxabs", None]),
    ],
)
def test_a_rule_accepts_its_values_and_nothing_else(rule, good, bad):
    assert [rule_problem(v, rule) for v in good] == [None] * len(good)
    assert all(rule_problem(v, rule) is not None for v in bad)


def test_messages_name_the_key_the_expectation_and_the_value():
    with pytest.raises(ConfigError) as err:
        check_options({"early_stopping": {"patience": -1}}, RECIPE_RULES)
    assert str(err.value) == "early_stopping.patience: expected an integer >= 0, found -1"
    with pytest.raises(ConfigError) as err:
        check_data_options("muse_car", {"eval_batch_size": 1.5})
    assert str(err.value) == "data.args.eval_batch_size: expected an integer >= 1, found 1.5"
    with pytest.raises(ConfigError) as err:
        check_data_options("muse_car", {"features": ["egemaps", "egemaps"]})
    assert str(err.value) == (
        "data.args.features: expected null or a non-empty list of distinct non-empty strings, found "
        "['egemaps', 'egemaps']; 'egemaps' is listed twice"
    )
    with pytest.raises(ConfigError, match=r"data.args.root: expected null or a non-empty path .* found ''"):
        check_data_options("muse_car", {"root": ""})


def test_reader_rules_extend_the_generic_ones():
    check_data_options("recola", {"crop_box": [0, 0, 10, 10], "mode": "raw"})
    with pytest.raises(ConfigError, match=r"data.args.crop_box: expected null or a list of 4 integers >= 0"):
        check_data_options("recola", {"crop_box": [0, 0, 10]})
    with pytest.raises(ConfigError, match=r"data.args.maxlen: expected an integer >= 1, found 0"):
        check_data_options("cmu_mosei", {"maxlen": 0})


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".", "a\\b", " padded"])
def test_a_run_name_is_one_plain_folder_name(name):
    with pytest.raises(ConfigError, match=r"^run_name: .* one folder name inside output_dir"):
        check_options({"run_name": name}, RECIPE_RULES)


# --------------------------------------------------------------------------- the command line
def _fit(tmp_path: Path, *overrides: str) -> int:
    out = run(["fit", RECIPE, f"output_dir={tmp_path / 'runs'}", "data.args.root=/nonexistent/corpus", *overrides])
    return out["exit_code"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.args.batch_size=0", "data.args.batch_size: expected an integer >= 1, found 0"),
        ("data.args.eval_batch_size=1.5", "data.args.eval_batch_size: expected an integer >= 1, found 1.5"),
        ("early_stopping.patience=-1", "early_stopping.patience: expected an integer >= 0, found -1"),
        ("data.args.features=[egemaps,egemaps]", "data.args.features: expected null or a non-empty list"),
        ("data.args.root=", "command-line override data.args.root= has an empty value"),
        ("run_name=../../escaped", "run_name: expected null or a non-empty string"),
        ("run_name=${oc.env:HOME}", "command-line override run_name=${oc.env:HOME}: interpolations"),
        ("optimizer.lr=0", "optimizer.lr: expected a number > 0, found 0"),
    ],
)
def test_a_bad_value_is_one_line_exit_2_and_no_run_folder(tmp_path: Path, capsys, override, message):
    assert _fit(tmp_path, override) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"zoo fit: error: {message}")
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "escaped").exists()


def test_an_escaped_interpolation_is_a_plain_value(tmp_path: Path):
    from zoo.config.recipe import load_recipe

    assert load_recipe(RECIPE, ["run_name=a\\${b}"])["run_name"] == "a${b}"
