"""Per-target evaluation metrics chosen by name in a recipe (``metrics: [ccc, ...]``).

Each factory returns a torchmetrics ``Metric`` whose ``update(preds, target, mask)`` takes
``(B, T, K)`` predictions/targets and a ``(B, T)`` mask, and whose ``compute()`` gives one value
per target, merged exactly across processes.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor
from torchmetrics import MeanSquaredError, Metric

from zoo.ccc import ConcordanceCorrCoef
from zoo.training.metrics_segment import IntensityAccuracy, PresenceAccuracy, SegmentMAE, SegmentPearson, flatten_valid

__all__ = ["METRICS", "MaskedRMSE", "build_metric"]


class MaskedRMSE(MeanSquaredError):
    """Per-target root mean squared error over the valid frames (or segments) of a partition
    (torchmetrics' streaming sums; Chen et al. 2017 report it beside PCC and CCC, Tables 7-9)."""

    def __init__(self, num_outputs: int = 1, **kwargs) -> None:
        super().__init__(squared=False, num_outputs=num_outputs, **kwargs)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        p, t = flatten_valid(preds, target, mask)
        if self.num_outputs == 1:
            p, t = p.reshape(-1), t.reshape(-1)
        super().update(p.float(), t.float())

    def compute(self) -> Tensor:
        return super().compute().reshape(-1)


METRICS: dict[str, Callable[[int], Metric]] = {
    # pooled CCC over all frames of the partition, as AVEC/MuSe score
    "ccc": lambda num_targets: ConcordanceCorrCoef(num_outputs=num_targets, aggregation="pooled"),
    # emotion intensities (CMU-MOSEI, Williams et al. 2018); see zoo.training.metrics_segment
    "mae": lambda num_targets: SegmentMAE(num_outputs=num_targets),
    "acc2": lambda num_targets: PresenceAccuracy(num_outputs=num_targets),
    "acc4": lambda num_targets: IntensityAccuracy(num_outputs=num_targets),
    "pearson": lambda num_targets: SegmentPearson(num_outputs=num_targets),
    "rmse": lambda num_targets: MaskedRMSE(num_outputs=num_targets),
}


def build_metric(name: str, num_targets: int) -> Metric:
    """The metric registered as ``name`` for ``num_targets`` outputs."""
    try:
        factory = METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(sorted(METRICS))}") from None
    return factory(num_targets)
