"""``zoo report``: paper scores beside run results, from hand-made run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zoo.config.recipe import load_recipe
from zoo.reports.report import (
    PaperScore,
    build_details,
    build_report,
    find_runs,
    headline,
    load_paper_scores,
    write_report,
)

RECIPE = "muse_car/sun2020_lstm_selfattn"


def _run_folder(root: Path, name: str, overrides: list[str], results: dict[str, float]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    cfg = load_recipe(RECIPE, overrides + [f"output_dir={root}", "trainer.enable_progress_bar=false"])
    OmegaConf.save(OmegaConf.create(cfg), folder / "config.yaml")
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_runs_are_named_by_what_differs_from_the_recipe(tmp_path):
    _run_folder(tmp_path, "a", ["trainer.max_epochs=3", "data.args.features=[egemaps]"], {"val/ccc_mean": 0.5})
    _run_folder(tmp_path, "b", [], {"val/ccc_mean": 0.4})
    runs = find_runs([tmp_path])
    assert [r.recipe for r in runs] == [RECIPE, RECIPE]
    # bookkeeping (output_dir, progress bar) is not a difference; the two real overrides are
    assert sorted(r.differences for r in runs) == [(), ("data.args.features=[egemaps]", "trainer.max_epochs=3")]


def _rows(table: str) -> dict[str, list[str]]:
    """Table rows of a results page by their first cell (without backticks)."""
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            rows[cells[0].strip("`")] = cells
    return rows


def test_one_row_per_run_with_the_papers_headline_ours_and_chance(tmp_path):
    _run_folder(
        tmp_path, "egemaps", ["data.args.features=[egemaps]"], {"val/ccc_arousal": 0.61, "val/ccc_mean_std": 0.1}
    )
    _run_folder(tmp_path, "vggish", ["data.args.features=[vggish]"], {"val/ccc_arousal": 0.33, "val/ccc_mean": 0.33})
    score = PaperScore(
        "Sun et al. 2020", RECIPE, ("data.args.features=[egemaps]",), "val/ccc_arousal", 0.4499, "Table 9, row x"
    )
    missing = PaperScore("Sun et al. 2020", "muse_car/sun2020_late_fusion", (), "val/ccc_valence", 0.7, "Table 10")
    runs = find_runs([tmp_path])
    rows = _rows(build_report(runs, paper_scores=[score, missing]))
    egemaps = rows["sun2020_lstm_selfattn (data.args.features=[egemaps])"]
    assert egemaps[1:5] == ["dev CCC arousal (Table 9)", "0.450", "0.610", "0.000"]
    assert (
        egemaps[5].startswith("[muse_car #")
        and "results/muse_car.md#sun2020_lstm_selfattn-dataargsfeaturesegemaps" in egemaps[5]
    )
    vggish = rows["sun2020_lstm_selfattn (data.args.features=[vggish])"]
    assert vggish[1:5] == ["dev CCC mean", "–", "0.330", "0.000"]  # no paper figure: the run's own mean
    details = build_details(runs, paper_scores=[score, missing])["muse_car"]
    assert "## sun2020_lstm_selfattn (data.args.features=[egemaps])" in details
    assert "`val/ccc_arousal` 0.450 — Sun et al. 2020, Table 9, row x" in details
    assert "Paper figures without a run here" in details and "`val/ccc_valence` 0.700" in details
    assert "_std" not in details


def test_two_tables_with_one_metric_give_one_headline_figure_the_first_listed(tmp_path):
    """Williams et al. 2018 give the BLSTM's overall MAE in Table 5 (0.126) and Table 4 (0.132):
    the row shows one figure, the first listed, not the last one twice."""
    _run_folder(tmp_path, "r", [], {"test/mae_mean": 0.185})
    run = find_runs([tmp_path])[0]
    table5 = PaperScore("P", RECIPE, (), "test/mae_mean", 0.126, "Table 5, row Overall, MAE")
    table4 = PaperScore("P", RECIPE, (), "test/mae_mean", 0.132, "Table 4, row BLSTM A,V,T, Overall MAE")
    head = headline(run, [table5, table4])
    assert head.keys == ["test/mae_mean"]
    assert head.paper_values() == [0.126] and head.ours() == [0.185]
    assert head.metric == "test MAE mean (Table 5)"


def test_headline_prefers_ccc_then_the_post_processed_dev_score_then_the_papers_mean(tmp_path):
    _run_folder(tmp_path, "r", [], {})
    run = find_runs([tmp_path])[0]

    def score(metric, value=0.5):
        return PaperScore("P", RECIPE, (), metric, value, f"Table 1, {metric}")

    both = [score("test/ccc_arousal"), score("val_postprocessed/ccc_arousal"), score("val_postprocessed/ccc_valence")]
    assert headline(run, both + [score("val/mae_mean")]).keys == [
        "val_postprocessed/ccc_arousal",
        "val_postprocessed/ccc_valence",
    ]
    assert headline(run, both[1:] + [score("val_postprocessed/ccc_mean")]).keys == ["val_postprocessed/ccc_mean"]
    assert headline(run, [score("test/mae_happy"), score("test/mae_mean"), score("test/acc2_mean")]).keys == [
        "test/mae_mean"
    ]


def test_baseline_runs_fill_the_chance_column_and_no_machine_path_is_written(tmp_path):
    _run_folder(
        tmp_path / "runs",
        "r",
        [f"data.args.cache_dir={tmp_path / 'cache'}"],
        {"test/ccc_mean": 0.7, "val/ccc_mean": 0.5, "val/ccc_arousal": 0.5},
    )
    _run_folder(tmp_path / "base", "b", [], {"val/ccc_mean": -0.0123, "val/ccc_mean_std": 0.01})
    out = tmp_path / "docs" / "results.md"
    text = write_report([tmp_path / "runs"], out, [tmp_path / "base"])
    assert out.read_text() == text
    row = next(iter(_rows(text).values()))
    assert row[3:5] == ["0.500", "-0.012"]
    details = (tmp_path / "docs" / "results" / "muse_car.md").read_text()
    assert "data.args.cache_dir=<path>" in details and "0.500 (-0.012)" in details
    svg = (tmp_path / "docs" / "results" / "muse_car.svg").read_text()
    assert svg.startswith("<?xml") and "ours vs chance" in svg
    for page in (text, details, svg):
        assert str(tmp_path) not in page


def test_shipped_paper_score_files_are_valid_and_name_shipped_recipes():
    recipes = {f"{p.parent.name}/{p.stem}" for p in (Path(__file__).resolve().parents[2] / "recipes").glob("*/*.yaml")}
    configurations = set()
    for score in load_paper_scores():
        assert score.recipe in recipes, score
        # the paper's dev-set figures after its post-processing are compared with ours after ours
        assert score.metric.split("/")[0] in ("val", "val_postprocessed", "test"), score
        configurations.add((score.recipe, score.overrides))
    for recipe, overrides in sorted(configurations):
        load_recipe(recipe, list(overrides))  # the paper's configuration is a valid override set


def test_malformed_paper_score_file_names_file_and_entry(tmp_path):
    (tmp_path / "x.yaml").write_text(
        "paper: X\nscores:\n  - recipe: a/b\n    metric: val/ccc_mean\n    value: high\n    source: T1\n"
    )
    with pytest.raises(ValueError, match=r"x\.yaml: scores\[0\]\.value"):
        load_paper_scores(tmp_path)


def test_cli_report_prints_and_refuses_an_empty_folder(tmp_path, capsys):
    from zoo.cli import run

    _run_folder(tmp_path / "runs", "r", [], {"val/ccc_mean": 0.25})
    assert run(["report", str(tmp_path / "runs")])["exit_code"] == 0
    assert "| dev CCC mean | – | 0.250 | 0.000 |" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert run(["report", str(tmp_path / "empty")])["exit_code"] == 2
    assert "no run folder" in capsys.readouterr().err
