"""A tiny MuSe-CaR corpus (4 train, 3 devel, 1 test video; eGeMAPS only) and the overrides that
make a Sun et al. 2020 run on it take seconds — shared by the ``test_runs_*`` modules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECIPE = "muse_car/sun2020_lstm_selfattn"


def write_tiny_corpus(root: Path) -> Path:
    """Write (once) the tiny corpus in the real MuSe-CaR layout under ``root``."""
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    if not root.exists():
        write_synthetic_muse_car(
            root,
            seed=0,
            n_videos={"train": 4, "devel": 3, "test": 1},
            feature_sets=["egemaps"],
            segment_frames=(60, 120),  # 15-30 s topic segments: seconds of openSMILE
        )
    return root


def tiny_overrides(root: Path, out: Path) -> list[str]:
    """Small sizes, deterministic, no early stopping (runs last exactly max_epochs)."""
    return [
        f"data.args.root={root}",
        "data.args.features=[egemaps]",
        "data.args.batch_size=4",
        "model.args.hidden_size=8",
        "model.args.head_hidden_size=8",
        "trainer.deterministic=true",
        "trainer.enable_progress_bar=false",
        "early_stopping.enabled=false",
        f"output_dir={out}",
    ]


def zoo_subprocess(*args: str, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m zoo.cli ARGS`` in a fresh process (DDP re-launches it per rank)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AFFECT_ZOO_RUN_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc
