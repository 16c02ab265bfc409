"""Exact resume from ``last.ckpt``, SIGTERM, failed run folders, and seeds that do not change the
synthetic corpus (issues 12 and 17)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from zoo.cli import main, run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import RECIPE, REPO, tiny_overrides, write_tiny_corpus  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny") / "muse")


def _fit(*args: str) -> Path:
    out = run(["fit", RECIPE, *args])
    assert out["exit_code"] == 0
    return Path(out["run_dir"])


def _val_rows(run_dir: Path) -> pd.DataFrame:
    m = pd.read_csv(run_dir / "logs" / "metrics.csv")
    cols = [c for c in m.columns if c.startswith("val/")]
    return m.dropna(subset=["val/loss"])[["epoch", *cols]].reset_index(drop=True)


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _assert_same_run(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(_val_rows(a), _val_rows(b), check_exact=True)
    for name in ("last.ckpt", "best.ckpt"):
        wa, wb = _weights(a / "checkpoints" / name), _weights(b / "checkpoints" / name)
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), f"{name}: {key}"


@pytest.mark.slow
def test_resume_from_last_ckpt_reproduces_the_uninterrupted_run_bit_for_bit(tiny: Path, tmp_path: Path):
    common = tiny_overrides(tiny, tmp_path)
    straight = _fit(*common, "trainer.max_epochs=4", "run_name=straight")
    part = _fit(*common, "trainer.max_epochs=2", "run_name=part")
    resumed = _fit(*common, "trainer.max_epochs=4", f"ckpt={part / 'checkpoints' / 'last.ckpt'}")
    assert resumed == part  # resumed into the same run folder: best-model tracking carries on
    rows = _val_rows(resumed)
    assert rows["epoch"].tolist()[:4] == [0, 1, 2, 3]  # the epochs before the resume are kept
    _assert_same_run(straight, resumed)


@pytest.mark.slow
def test_sigterm_exits_143_marks_the_folder_and_resumes_exactly(tiny: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AFFECT_ZOO_RUN_DIR", None)
    common = tiny_overrides(tiny, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "fit", RECIPE, *common, "trainer.max_epochs=500", "run_name=killed"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    run_dir = tmp_path / "killed"
    assert (run_dir / "INTERRUPTED").is_file() and not (run_dir / "results.json").exists()
    assert f"resume with ckpt={last}" in err.strip().splitlines()[-1]
    epochs = int(torch.load(last, map_location="cpu", weights_only=True)["epoch"]) + 1  # completed
    resumed = _fit(*common, f"trainer.max_epochs={epochs + 2}", f"ckpt={last}")
    assert resumed == run_dir and not (run_dir / "INTERRUPTED").exists()
    straight = _fit(*common, f"trainer.max_epochs={epochs + 2}", "run_name=straight")
    _assert_same_run(straight, resumed)


def test_failed_command_leaves_no_empty_run_folder(tmp_path: Path, capsys):
    # a data error found after the folder was made: the folder (only config.yaml) is removed
    assert main(["fit", RECIPE, f"output_dir={tmp_path}", f"data.args.root={tmp_path / 'nowhere'}"]) == 2
    assert list(tmp_path.iterdir()) == []
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.slow
def test_failure_after_training_started_writes_FAILED(tiny: Path, tmp_path: Path, monkeypatch):
    import zoo.runner.run_io

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(zoo.runner.run, "_export_predictions", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["fit", RECIPE, *tiny_overrides(tiny, tmp_path), "trainer.max_epochs=1", "run_name=broken"])
    assert (tmp_path / "broken" / "FAILED").read_text() == "RuntimeError: disk full\n"


def _corpus_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_training_seed_does_not_change_the_synthetic_corpus(tmp_path: Path, monkeypatch):
    """seeds=[1,2,3] trains every seed on the same corpus; data.args.synthetic_seed picks another.

    The first part reads the run's shared synthetic MuSe-CaR (generated once per test run); the
    second writes two synthetic SEWA corpora into a private cache (a second MuSe-CaR, with its
    media and extracted features, would cost half a minute and prove the same)."""
    import zoo.runner.run_io
    from zoo.config.recipe import load_recipe

    roots = {}
    for seed in (1, 2, 3):
        dm = zoo.runner.run_io.build_datamodule(load_recipe(RECIPE, [f"seed={seed}", "data.args.features=[egemaps]"]))
        roots[seed] = dm.corpus.resolve_root()
        assert dm.seed == seed  # the training shuffle still follows the seed
    assert len({_corpus_digest(r) for r in roots.values()}) == 1

    monkeypatch.setenv("AFFECT_ZOO_CACHE", str(tmp_path / "cache"))
    sewa = {
        synthetic_seed: zoo.runner.run_io.build_datamodule(
            load_recipe("sewa/chen2017_audio", ["seed=7", f"data.args.synthetic_seed={synthetic_seed}"])
        ).corpus.resolve_root()
        for synthetic_seed in (0, 5)
    }
    assert sewa[0] != sewa[5] and _corpus_digest(sewa[0]) != _corpus_digest(sewa[5])


def test_run_folder_names_the_model_ablation_and_the_seed():
    from zoo.config.recipe import load_recipe
    from zoo.runner.run import run_stem

    assert run_stem(load_recipe(RECIPE), "fit").startswith("sun2020_lstm_selfattn-fit-")
    stem = run_stem(load_recipe(RECIPE, ["model.name=sun2020_lstm", "seed=3"]), "fit")
    assert stem.startswith("sun2020_lstm_selfattn-sun2020_lstm-seed3-fit-")
    assert run_stem(load_recipe(RECIPE, ["seeds=[1,2]"]), "fit").startswith("sun2020_lstm_selfattn-seeds1_2-fit-")
