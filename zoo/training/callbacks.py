"""Lightning callbacks of affect-zoo."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from zoo.data.datamodule import CorpusDataModule

__all__ = ["CorpusPredictionWriter", "RandomStateCheckpoint"]


class RandomStateCheckpoint(pl.Callback):
    """Saves the global random states in every checkpoint and restores them on resume.

    Lightning restores weights, optimiser, schedulers, loops and callbacks from ``last.ckpt``, but
    not the random number generators, so a resumed run draws different dropout masks than the
    uninterrupted one. This callback stores the torch (CPU and CUDA), NumPy and Python states
    when a checkpoint is written (at the end of an epoch, after validation) and puts them back
    at the start of the first resumed epoch — the point where the uninterrupted run continued
    from the same states. The states are plain tensors, lists and ints, so the checkpoint still
    loads with ``torch.load(weights_only=True)``. (The training shuffle needs nothing: its order
    is a function of the seed and the epoch, see ``CorpusDataModule._loader``.)
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:  # noqa: D102 - called when a checkpoint is written
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        python = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [kind, torch.from_numpy(np.asarray(keys, np.int64)), int(pos), int(has_gauss), float(cached)],
            "python": [python[0], list(python[1]), python[2]],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # noqa: D102
        self._pending = dict(state_dict)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:  # noqa: D102
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))


class CorpusPredictionWriter(pl.Callback):
    """Writes test/predict outputs per recording in the corpus's own prediction format.

    The :class:`~zoo.data.datamodule.CorpusDataModule`'s ``write_batch_predictions`` knows the format (e.g. MuSe's
    ``timestamp,value,segment_id`` per video and target); this callback hands it each batch of
    outputs. Under DDP every process writes the recordings it evaluated.

    Args:
        out_dir: folder receiving ``<partition>/...`` prediction files.
    """

    def __init__(self, out_dir: str | Path) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, partition: str) -> None:
        datamodule = trainer.datamodule
        if outputs is None or not isinstance(datamodule, CorpusDataModule):  # a foreign datamodule: no format
            return
        datamodule.write_batch_predictions(
            self.out_dir,
            partition,
            outputs["ids"],
            outputs["preds"].detach().cpu().numpy(),
            outputs["mask"].cpu().numpy(),
            pl_module.target_names,
        )

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:  # noqa: D102
        self._write(trainer, pl_module, outputs, "test")

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:  # noqa: D102
        self._write(trainer, pl_module, outputs, trainer.datamodule.predict_partition)
