"""Where ``zoo predict`` writes and what it draws: shared by folder and media prediction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = ["plot_recording", "prepare_output"]


def plot_recording(
    path: Path,
    rec_id: str,
    timestamps: np.ndarray,
    preds: np.ndarray,
    golds: np.ndarray | None,
    target_names: Sequence[str],
) -> Path:
    """One PNG: per target, the prediction over time and, where ``golds`` is given, the gold
    standard with the CCC in the title (Agg backend)."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from zoo.ccc import concordance_cc

    fig = Figure(figsize=(10, 2.6 * len(target_names)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(target_names), 1, squeeze=False)[:, 0]
    for k, (ax, target) in enumerate(zip(axes, target_names)):
        if golds is not None:
            ccc = float(
                concordance_cc(
                    torch.from_numpy(np.asarray(preds[:, k], np.float64)),
                    torch.from_numpy(np.asarray(golds[:, k], np.float64)),
                )
            )
            ax.plot(timestamps, golds[:, k], color="black", linewidth=1.2, label="gold standard")
            ax.set_title(f"recording {rec_id} — {target}: CCC {ccc:.3f}", fontsize=10)
        else:
            ax.set_title(f"recording {rec_id} — {target} (no gold standard)", fontsize=10)
        ax.plot(timestamps, preds[:, k], color="tab:red", linewidth=1.0, label="prediction")
        ax.set_ylabel(target)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def prepare_output(model_path: Path, input_path: Path, output_dir: str | Path | None) -> Path:
    """The prediction folder: ``output_dir`` or ``./predictions/<model>-<date>-<time>``.

    Raises:
        ValueError: it lies inside the input folder, or exists and is not an empty folder.
    """
    if output_dir is None:
        output_dir = Path("predictions") / f"{model_path.resolve().stem}-{datetime.now():%Y%m%d-%H%M%S}"
    output_dir = Path(output_dir).expanduser()
    if input_path.is_dir() and _inside(output_dir, input_path):
        raise ValueError(f"--output {output_dir} lies inside the input folder {input_path}; choose a folder outside it")
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise ValueError(f"--output {output_dir} exists and is not an empty folder; nothing was overwritten")
    return output_dir
