"""Lightning callbacks of affect-zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl

__all__ = ["CorpusPredictionWriter"]


class CorpusPredictionWriter(pl.Callback):
    """Writes test/predict outputs per recording in the corpus's own prediction format.

    The datamodule's ``write_batch_predictions`` knows the format (e.g. MuSe's
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
        if datamodule is None or outputs is None or not hasattr(datamodule, "write_batch_predictions"):
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
