"""Multi-seed reporting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zoo.training.seeds import format_seed_table, summarise_seeds


def test_summary_is_mean_and_sample_std():
    per_seed = [{"test/ccc_mean": 0.5, "val/ccc_mean": 0.1}, {"test/ccc_mean": 0.7}, {"test/ccc_mean": 0.9}]
    summary = summarise_seeds(per_seed)
    assert summary["test/ccc_mean"]["mean"] == pytest.approx(0.7)
    assert summary["test/ccc_mean"]["std"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    assert summary["val/ccc_mean"] == {"mean": 0.1, "std": 0.0, "n": 1}
    assert "0.7000 ± 0.2000" in format_seed_table(summary)


@pytest.mark.slow
def test_fit_with_three_seeds_writes_table(tmp_path: Path, zoo_cli):
    run_dir = zoo_cli(
        "fit",
        "muse_car/sun2020_lstm_selfattn",
        "seeds=[1,2,3]",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "model.args.hidden_size=16",
        "trainer.enable_progress_bar=false",
        f"output_dir={tmp_path}",
    )
    data = json.loads((run_dir / "seeds.json").read_text())
    assert sorted(data["seeds"]) == ["1", "2", "3"]
    values = [data["seeds"][s]["test/ccc_mean"] for s in ("1", "2", "3")]
    assert len(set(values)) == 3  # different seeds, different runs
    assert data["summary"]["test/ccc_mean"]["mean"] == pytest.approx(np.mean(values))
    assert data["summary"]["test/ccc_mean"]["std"] == pytest.approx(np.std(values, ddof=1))
    assert len((run_dir / "seeds.jsonl").read_text().splitlines()) == 3
    for seed in (1, 2, 3):
        assert (run_dir / f"seed{seed}" / "checkpoints" / "best.ckpt").is_file()
