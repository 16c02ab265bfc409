"""Helpers shared by the benchmark scripts: machine label, tables, corpora, timing.

Every benchmark is a script (``python benchmarks/<name>.py [--tiny]``) that measures its
alternatives side by side in one process run and prints a Markdown table; ratios are the
figures to compare across machines, absolute times are labelled with :func:`machine`.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from a checkout
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

#: the feature sets of the Sun 2020 MuSe-CaR recipe
SUN_FEATURES = ["egemaps", "vggish", "vggface", "fasttext"]


def machine() -> str:
    """One line naming the CPU/GPU, core count and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} intra-op threads; Python {platform.python_version()}"
    )


def table(rows: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """A Markdown table of ``rows`` (dicts with the same keys), floats with 4 significant digits."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    keys = list(rows[0])
    lines = [f"\n### {title}\n" if title else ""]
    lines.append("| " + " | ".join(keys) + " |")
    lines.append("|" + "|".join("---" for _ in keys) + "|")
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def header(name: str, argv: Sequence[str]) -> str:
    """First lines of a benchmark's output: command and machine."""
    return f"## {name}\n\ncommand: `python benchmarks/{name}.py {' '.join(argv)}`\n\nmachine: {machine()}\n"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def quiet_lightning() -> None:
    """Silence Lightning's info messages and the warnings benchmarks trigger on purpose."""
    import logging
    import warnings

    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*isinstance.*treespec.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*Total length of.*")


def synthetic_corpus(
    folder: Path, scale: float, feature_sets: Sequence[str], seed: int = 0, base: Mapping[str, int] | None = None
) -> Path:
    """A synthetic MuSe-CaR with ``scale`` × the videos of ``base`` per partition (written once)."""
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    base = dict(base or {"train": 24, "devel": 8, "test": 8})
    n_videos = {p: max(1 if n else 0, int(round(n * scale))) for p, n in base.items()}
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    return write_synthetic_muse_car(folder, seed=seed, n_videos=n_videos, feature_sets=list(feature_sets))


def lean_trainer(**kw: Any):
    """A ``pl.Trainer`` without progress bar, logger, checkpoints, model summary or validation."""
    import pytorch_lightning as pl

    args = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        use_distributed_sampler=False,
    )
    args.update(kw)
    return pl.Trainer(**args)


def fit_step_seconds(trainer_kw: Mapping[str, Any], task: Any, loader: Any, warmup: int) -> list[float]:
    """Wall seconds of each training step after ``warmup`` steps, under a lean Lightning trainer.

    A step's time runs from the end of the previous step to the end of this one, so it includes
    everything the loop does between steps (fetching the batch, hooks, logging). On a GPU the
    stamp waits for the step's kernels (``torch.cuda.synchronize``): CUDA calls return before the
    work is done, so an unsynchronised stamp would time the launches.
    """
    import pytorch_lightning as pl

    stamps: list[float] = []

    class Stamp(pl.Callback):
        def on_train_batch_end(self, *args: Any) -> None:
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    trainer = lean_trainer(callbacks=[Stamp()], **trainer_kw)
    trainer.fit(task, train_dataloaders=loader)
    return list(np.diff(stamps[warmup:]))


def median(values: Sequence[float]) -> float:
    """Median of ``values``."""
    return float(np.median(np.asarray(values, dtype=np.float64)))
