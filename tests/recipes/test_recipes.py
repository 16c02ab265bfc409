"""Every shipped recipe trains end to end on its synthetic corpus (table in recipes.csv).

As in SpeechBrain's recipe tests, the table lists each recipe with the small overrides that make
it fast on CPU and the test CCC it must beat; a constant predictor scores 0.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
with open(Path(__file__).with_name("recipes.csv"), newline="") as f:
    ROWS = list(csv.DictReader(f))


def test_every_shipped_recipe_is_in_the_table():
    shipped = {str(p.relative_to(ROOT / "recipes").with_suffix("")) for p in (ROOT / "recipes").glob("*/*.yaml")
               if p.parent.name != "sweeps"}
    assert shipped <= {row["recipe"] for row in ROWS}


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[f"{r['recipe']}[{r['overrides']}]" for r in ROWS])
def test_recipe_trains_and_beats_constant_predictor(row, tmp_path, zoo_cli):
    run_dir = zoo_cli("fit", row["recipe"], *row["overrides"].split(), f"output_dir={tmp_path}",
                      "trainer.enable_progress_bar=false")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test/ccc_mean"] > float(row["min_test_ccc_mean"]), results
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "logs" / "metrics.csv").is_file()
    assert any((run_dir / "predictions").rglob("*.csv"))
