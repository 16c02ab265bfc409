"""Figures every run folder gets in ``plots/``: learning curves and gold standard vs prediction.

* ``learning_curves.png`` — from the run's ``logs/metrics.csv`` (Lightning's CSV log): the train
  and val losses per epoch, and each logged val metric per epoch (``val/ccc_arousal`` …).
* ``val_<recording>.png`` — for the first recordings of the validation partition, per target, the
  gold standard and the best checkpoint's prediction over time (frame-level corpora), or a
  scatter of prediction against gold over the partition's segments (segment-level corpora).

Both are drawn with Matplotlib's Agg canvas (no display), on rank 0 only.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["read_epoch_metrics", "plot_learning_curves", "plot_segment_scatter"]


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


def plot_learning_curves(metrics_csv: Path, out: Path) -> Path | None:
    """Losses (left) and val metrics (right) per epoch; ``None`` when the log has no epoch row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = read_epoch_metrics(metrics_csv)
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


def plot_segment_scatter(out: Path, preds: np.ndarray, golds: np.ndarray, target_names: Sequence[str],
                         title: str) -> Path:
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
