"""``zoo report``: paper scores beside run results, from hand-made run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zoo.config import load_recipe
from zoo.report import PaperScore, build_report, find_runs, load_paper_scores, write_report

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


def test_paper_score_matches_only_its_configuration(tmp_path):
    _run_folder(
        tmp_path, "egemaps", ["data.args.features=[egemaps]"], {"val/ccc_arousal": 0.61, "val/ccc_mean_std": 0.1}
    )
    _run_folder(tmp_path, "vggish", ["data.args.features=[vggish]"], {"val/ccc_arousal": 0.33})
    score = PaperScore(
        "Sun et al. 2020", RECIPE, ("data.args.features=[egemaps]",), "val/ccc_arousal", 0.4499, "Table 9"
    )
    missing = PaperScore("Sun et al. 2020", "muse_car/sun2020_late_fusion", (), "val/ccc_valence", 0.7, "Table 10")
    table = build_report(find_runs([tmp_path]), paper_scores=[score, missing]).splitlines()
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[1:-1]] for line in table[2:]}
    assert rows["`data.args.features=[egemaps]`"][3:6] == ["0.450", "Sun et al. 2020, Table 9", "0.610"]
    assert rows["`data.args.features=[vggish]`"][3] == "–"  # other configuration: no paper score
    assert rows["`data.args.features=[vggish]`"][6] == "0.000"  # constant predictor's CCC
    assert rows["nothing"][5] == "no run"  # an unmatched paper score stays visible
    assert not any("_std" in line for line in table)


def test_baseline_runs_fill_the_chance_column(tmp_path):
    _run_folder(tmp_path / "runs", "r", [], {"test/ccc_mean": 0.7})
    _run_folder(tmp_path / "base", "b", [], {"test/ccc_mean": -0.0123, "test/ccc_mean_std": 0.01})
    text = write_report([tmp_path / "runs"], tmp_path / "results.md", [tmp_path / "base"])
    assert (tmp_path / "results.md").read_text() == text
    row = next(line for line in text.splitlines() if "`test/ccc_mean`" in line)
    assert row.split("|")[6].strip() == "0.700" and row.split("|")[7].strip() == "-0.012"


def test_shipped_paper_score_files_are_valid_and_name_shipped_recipes():
    recipes = {f"{p.parent.name}/{p.stem}" for p in (Path(__file__).resolve().parents[2] / "recipes").glob("*/*.yaml")}
    for score in load_paper_scores():
        assert score.recipe in recipes, score
        # the paper's dev-set figures after its post-processing are compared with ours after ours
        assert score.metric.split("/")[0] in ("val", "val_postprocessed", "test"), score
        load_recipe(score.recipe, list(score.overrides))  # the paper's configuration is a valid override set


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
    assert "| `val/ccc_mean` | – |  | 0.250 | 0.000 |" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert run(["report", str(tmp_path / "empty")])["exit_code"] == 2
    assert "no run folder" in capsys.readouterr().err
