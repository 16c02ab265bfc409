"""DDP evaluation on CPU (2 processes, gloo) with uneven and short partitions (issue 12).

* ``val/loss`` is a recording-weighted sum and count summed across processes
  (:class:`zoo.training.task.WeightedMean`), so 3 validation videos on 2 processes give the one-process
  value, which in turn equals the loss recomputed with NumPy from the exported predictions.
* A partition with fewer videos than processes (1 devel, 1 test video on 2 processes) validates
  and tests: the process without a video evaluates a padding item that counts nowhere
  (:class:`zoo.data._sequence.EvalShardSampler`, :class:`~zoo.data._sequence.ShardPaddedDataset`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zoo.cli import run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import RECIPE, tiny_overrides, write_tiny_corpus, zoo_subprocess  # noqa: E402

DDP = ["trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu"]
SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=2"]
#: the eps CCCLoss adds to the CCC denominator
CCC_EPS = 1e-8


def _results(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "results.json").read_text())


def _run_dir(stdout: str) -> Path:
    line = [l for l in stdout.splitlines() if l.startswith("run folder: ")][-1]
    return Path(line.removeprefix("run folder: "))


def _zoo(*args: str) -> Path:
    """``zoo ARGS`` in this process; returns the run folder."""
    out = run(list(args))
    assert out["exit_code"] == 0
    return Path(out["run_dir"])


def _zoo_ddp(*args: str) -> Path:
    """``zoo ARGS`` on 2 CPU processes (a fresh interpreter, which DDP re-launches per rank)."""
    return _run_dir(zoo_subprocess(*args, *DDP).stdout)


def _per_sequence_ccc_loss(pred: np.ndarray, gold: np.ndarray) -> float:
    """``1 - CCC`` of one video (population moments, CCCLoss's eps in the denominator)."""
    cov = np.mean((pred - pred.mean()) * (gold - gold.mean()))
    return float(1 - 2 * cov / (pred.var() + gold.var() + (pred.mean() - gold.mean()) ** 2 + CCC_EPS))


def _numpy_val_loss(pred_dir: Path, corpus: Path, target: str) -> tuple[float, int]:
    """Mean per-video CCC loss of the exported predictions against the corpus's label files."""
    losses = []
    for path in sorted((pred_dir / target).glob("*.csv")):
        pred = pd.read_csv(path)
        gold = pd.read_csv(corpus / "c1_muse_wild" / "label_segments" / target / path.name)
        assert (pred["timestamp"].to_numpy() == gold["timestamp"].to_numpy()).all()
        losses.append(_per_sequence_ccc_loss(pred["value"].to_numpy(), gold["value"].to_numpy()))
    return float(np.mean(losses)), len(losses)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 train, 3 devel, 1 test video."""
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny") / "muse")


@pytest.fixture(scope="module")
def one_each(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 train, 1 devel, 1 test video: fewer evaluation videos than processes."""
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    root = tmp_path_factory.mktemp("one") / "muse"
    write_synthetic_muse_car(
        root, seed=0, n_videos={"train": 4, "devel": 1, "test": 1}, feature_sets=["egemaps"], segment_frames=(60, 120)
    )
    return root


@pytest.fixture(scope="module")
def single_fit(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-process run on ``tiny`` whose val predictions are exported."""
    out = tmp_path_factory.mktemp("runs")
    return _zoo("fit", RECIPE, *tiny_overrides(tiny, out), *SHORT, "export_predictions=[val]")


@pytest.mark.slow
def test_ddp_val_loss_with_uneven_shards_equals_one_process_and_numpy(single_fit: Path, tiny: Path, tmp_path: Path):
    """3 devel videos on 2 processes (shards of 2 and 1): the same ``val/loss`` as one process."""
    single = _results(single_fit)
    target = "arousal"  # the recipe's one target
    expected, videos = _numpy_val_loss(single_fit / "predictions" / "devel", tiny, target)
    assert videos == 3
    # predictions are written with 6 decimals: the NumPy loss is exact to about 1e-6
    assert single["val/loss"] == pytest.approx(expected, abs=2e-5)
    ckpt = single_fit / "checkpoints" / "best.ckpt"
    ddp = _results(_zoo_ddp("validate", RECIPE, f"ckpt={ckpt}", *tiny_overrides(tiny, tmp_path)))
    assert ddp["val/loss"] == pytest.approx(single["val/loss"], abs=1e-5)
    assert ddp[f"val/ccc_{target}"] == pytest.approx(single[f"val/ccc_{target}"], abs=1e-5)


@pytest.mark.slow
def test_ddp_partitions_with_fewer_videos_than_processes_give_the_one_process_result(one_each: Path, tmp_path: Path):
    """1 devel and 1 test video on 2 processes: fit (validating every epoch), the final
    validation and the test all run, and score like one process on the same checkpoint."""
    overrides = tiny_overrides(one_each, tmp_path)
    ddp_run = _zoo_ddp("fit", RECIPE, *overrides, *SHORT)
    ddp = _results(ddp_run)
    ckpt = ddp_run / "checkpoints" / "best.ckpt"
    single = {
        **_results(_zoo("validate", RECIPE, f"ckpt={ckpt}", *overrides)),
        **_results(_zoo("test", RECIPE, f"ckpt={ckpt}", *overrides)),
    }
    keys = [k for k in single if k.startswith(("val/", "test/")) and not k.endswith("_std")]
    assert {"val/loss", "test/loss", "val/ccc_arousal", "test/ccc_arousal"} <= set(keys)
    for key in keys:
        assert ddp[key] == pytest.approx(single[key], abs=1e-5), key
