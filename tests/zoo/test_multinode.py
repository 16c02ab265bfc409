"""``zoo fit ... trainer.num_nodes=2`` under ``torchrun``, as a cluster launches it.

Two torchrun agents (``--nnodes=2 --nproc_per_node=1``, node ranks 0 and 1) on localhost, gloo on
CPU: the two processes write one run folder (rank 0 makes it and publishes its path in torchrun's
store), both build the corpus cache at once, and the two-process validation and test of the best
checkpoint equal a one-process ``zoo validate``/``zoo test`` of the same checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_runs import RECIPE, REPO, tiny_overrides, write_tiny_corpus  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_under_torchrun_write_one_run_and_score_like_one_process(tmp_path: Path):
    corpus = write_tiny_corpus(tmp_path / "muse")
    out = tmp_path / "runs"
    overrides = [*tiny_overrides(corpus, out), "trainer.max_epochs=1", "trainer.limit_train_batches=2"]
    fit = ["fit", RECIPE, *overrides, "trainer.num_nodes=2", "trainer.strategy=ddp", "trainer.accelerator=cpu"]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "AFFECT_ZOO_RUN_DIR"}
    env["AFFECT_ZOO_CACHE"] = str(tmp_path / "cache")  # empty: both nodes build the corpus cache at once
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1"]
            + [f"--node_rank={rank}", "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "zoo.cli", *fit],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    logs = [node.communicate(timeout=600) for node in nodes]
    for node, (stdout, stderr) in zip(nodes, logs):
        assert node.returncode == 0, stdout[-2000:] + stderr[-4000:]
    assert "Starting with 2 processes" in logs[0][1] + logs[0][0]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]  # one folder for both processes
    assert logs[0][0].count("run folder:") == 1 and "run folder:" not in logs[1][0]  # printed once, by rank 0
    two = json.loads((run_dir / "results.json").read_text())
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    one = {}
    for command in ("validate", "test"):
        result = run([command, RECIPE, f"ckpt={ckpt}", *overrides])
        assert result["exit_code"] == 0
        one.update(result["results"])
    assert {"val/ccc_arousal", "val/loss", "test/ccc_arousal", "test/loss"} <= set(one)
    for key, value in one.items():
        assert two[key] == pytest.approx(value, abs=1e-5), key


def test_slurm_tasks_agree_on_a_run_folder_named_after_the_job(tmp_path: Path, monkeypatch):
    """Under ``srun`` every task computes the folder from the job; task 0 makes it, a rerun of
    the same job step is refused rather than mixed into it."""
    from zoo.config.recipe import load_recipe
    from zoo.errors import ConfigError
    from zoo.runner.run import RUN_DIR_ENV, make_run_dir

    for name in ("RANK", "LOCAL_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", RUN_DIR_ENV):
        monkeypatch.delenv(name, raising=False)
    slurm = {"SLURM_NTASKS": "2", "SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_JOB_NAME": "train"}
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    cfg = load_recipe(RECIPE, [f"output_dir={tmp_path}"])
    folders = []
    for rank in ("0", "1"):
        monkeypatch.setenv("SLURM_PROCID", rank)
        monkeypatch.delenv(RUN_DIR_ENV, raising=False)
        folders.append(make_run_dir(cfg, "fit"))
    assert folders[0] == folders[1] == tmp_path / "sun2020_lstm_selfattn-fit-slurm4242.0"
    assert [p.name for p in tmp_path.iterdir()] == [folders[0].name]
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    with pytest.raises(ConfigError, match="exists already: give run_name"):
        make_run_dir(cfg, "fit")


def test_a_fresh_run_folder_never_reuses_one_another_process_made(tmp_path: Path, monkeypatch):
    """Outside a cluster the folder is claimed by ``mkdir`` itself: a name another process made
    (two runs started in the same second into one ``output_dir``) is skipped, never shared."""
    from zoo.config.recipe import load_recipe
    from zoo.runner.launch import cluster_launcher
    from zoo.runner.run import RUN_DIR_ENV, make_run_dir

    for name in ("RANK", "LOCAL_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "SLURM_NTASKS", "SLURM_JOB_ID", RUN_DIR_ENV):
        monkeypatch.delenv(name, raising=False)
    assert cluster_launcher() is None
    cfg = load_recipe(RECIPE, [f"output_dir={tmp_path}", "run_name=mine"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine-1").mkdir()
    (tmp_path / "mine-1" / "notes.txt").write_text("kept")
    made = make_run_dir(cfg, "fit")
    assert made == tmp_path / "mine-2" and made.is_dir()
    assert (tmp_path / "mine-1" / "notes.txt").read_text() == "kept"
