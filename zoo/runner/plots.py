"""Figures every ``zoo fit`` run folder gets in ``plots/``: learning curves and gold vs prediction.

* ``learning_curves.png`` — from the run's ``logs/metrics.csv`` (Lightning's CSV log): the train
  and val losses per epoch, and each logged val metric per epoch (``val/ccc_arousal`` …).
* ``<partition>_<recording>.png`` — for the first recordings of the test partition (val when the
  corpus does not distribute test labels), per target, the gold standard and the evaluated
  checkpoint's raw prediction over time (frame-level corpora: RECOLA, SEWA, MuSe-CaR);
  :func:`plot_segment_scatter` draws prediction against gold for segment-level data.

All are drawn with Matplotlib's Agg canvas (no display), on rank 0 only; ``zoo fit`` turns a
plotting error into one warning line (a figure never fails a finished run). With
``logger=wandb`` the figures are logged to the W&B run as well (:mod:`zoo.training.loggers`).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["read_epoch_metrics", "plot_learning_curves", "plot_recording_prediction", "plot_segment_scatter"]


def read_epoch_metrics(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(epoch, value), ...]}`` of every epoch-level value in a Lightning CSV log.

    Step-level rows (a value without an epoch) are skipped; a key logged several times in an
    epoch (e.g. ``train/loss`` per step) is averaged within the epoch.
    """
    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            for key, text in row.items():
                if key in ("epoch", "step") or not text or key.startswith("lr-"):
                    continue
                value = float(text)
                if math.isfinite(value):
                    sums[key][epoch].append(value)
    return {key: sorted((e, float(np.mean(v))) for e, v in per_epoch.items()) for key, per_epoch in sums.items()}


def plot_learning_curves(metrics_csv: Path, out: Path, last_epoch: int | None = None) -> Path | None:
    """Losses (left) and val metrics (right) per epoch; ``None`` when the log has no epoch row.

    Args:
        metrics_csv: Lightning's CSV log.
        out: the PNG to write.
        last_epoch: the last training epoch; later rows (``zoo fit``'s final validate and test
            of the evaluated checkpoint, logged one epoch on) are left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = read_epoch_metrics(metrics_csv)
    if last_epoch is not None:
        series = {k: kept for k, v in series.items() if (kept := [(e, x) for e, x in v if e <= last_epoch])}
    losses = {k: v for k, v in series.items() if k.endswith("/loss")}
    metrics = {k: v for k, v in series.items() if k.startswith("val/") and not k.endswith("/loss")}
    if not losses and not metrics:
        return None
    fig = Figure(figsize=(11, 4), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    for ax, group, title in ((left, losses, "loss"), (right, metrics, "validation metrics")):
        for key, points in sorted(group.items()):
            epochs, values = zip(*points)
            ax.plot(epochs, values, marker="o", markersize=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if group:
            ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def plot_recording_prediction(
    out: Path, timestamps: np.ndarray, preds: np.ndarray, golds: np.ndarray, target_names: Sequence[str], title: str
) -> Path:
    """One recording: per target, the gold standard and the prediction over time (seconds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.4 * len(target_names)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(target_names), 1, squeeze=False)[:, 0]
    for k, (ax, target) in enumerate(zip(axes, target_names)):
        ax.plot(timestamps, golds[:, k], color="black", linewidth=1.2, label="gold standard")
        ax.plot(timestamps, preds[:, k], color="tab:red", linewidth=1.0, label="prediction")
        ax.set_ylabel(target)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def plot_segment_scatter(
    out: Path, preds: np.ndarray, golds: np.ndarray, target_names: Sequence[str], title: str
) -> Path:
    """Per target, prediction against gold over a partition's segments, with the identity line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(target_names)
    cols = min(k, 4)
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(3.2 * cols, 3.2 * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for i, target in enumerate(target_names):
        ax = axes[i]
        ax.scatter(golds[:, i], preds[:, i], s=6, alpha=0.6)
        lo = float(min(golds[:, i].min(), preds[:, i].min()))
        hi = float(max(golds[:, i].max(), preds[:, i].max()))
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
        ax.set_title(target, fontsize=9)
        ax.set_xlabel("gold")
        ax.set_ylabel("prediction")
    for ax in axes[k:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
