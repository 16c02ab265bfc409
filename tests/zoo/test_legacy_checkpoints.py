"""Checkpoints written before the corpus-reader redesign still load and score the same.

``tests/fixtures/muse_car_sun2020_written_at_e0f7b79.ckpt`` is the ``best.ckpt`` of
``zoo fit muse_car/sun2020_lstm_selfattn model.args.hidden_size=8 trainer.max_epochs=1`` run with
the code of commit e0f7b79 (the last one with one DataModule class per corpus and an untyped
``data_spec`` without ``level``). The old code's own ``zoo test`` of it on today's synthetic
MuSe-CaR (version 4, seed 0; written in the release's layout, so the old reader reads it through
``data.args.root``) gives ``test/ccc_arousal`` 0.00661149388179183 (measured with a checkout of
e0f7b79: ``zoo test recipes/muse_car/sun2020_lstm_selfattn.yaml model.args.hidden_size=8 ckpt=<this
file> data.args.root=<the synthetic corpus>``). On version 2 of the corpus, the one it was trained
on, it gave 0.0015215268358588219 with the old code and with this one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import QUICK, run_cli
from zoo.data.types import DataSpec

FIXTURE = Path(__file__).parents[1] / "fixtures" / "muse_car_sun2020_written_at_e0f7b79.ckpt"
OLD_TEST_CCC = 0.00661149388179183  # the old code on synthetic MuSe-CaR v4 (see above)


def test_the_old_spec_has_no_level_and_upgrades_to_frame_level():
    stored = torch.load(FIXTURE, weights_only=True, map_location="cpu")["hyper_parameters"]["data_spec"]
    assert "level" not in stored
    assert DataSpec.from_dict(stored).level == "frame"


@pytest.mark.slow
def test_zoo_test_of_an_old_checkpoint_scores_what_the_old_code_scored(tmp_path: Path):
    run_dir = run_cli(
        "test",
        "muse_car/sun2020_lstm_selfattn",
        "model.args.hidden_size=8",
        f"ckpt={FIXTURE}",
        f"output_dir={tmp_path}",
        *QUICK,
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test/ccc_arousal"] == pytest.approx(OLD_TEST_CCC, abs=1e-6)
