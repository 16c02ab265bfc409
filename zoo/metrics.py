"""Per-target evaluation metrics chosen by name in a recipe (``metrics: [ccc, ...]``).

Each factory returns a torchmetrics ``Metric`` whose ``update(preds, target, mask)`` takes
``(B, T, K)`` predictions/targets and a ``(B, T)`` mask, and whose ``compute()`` gives one value
per target, merged exactly across processes.
"""

from __future__ import annotations

from typing import Callable

from torchmetrics import Metric

from zoo.ccc import ConcordanceCorrCoef
from zoo.metrics_segment import IntensityAccuracy, PresenceAccuracy, SegmentMAE, SegmentPearson

__all__ = ["METRICS", "build_metric"]

METRICS: dict[str, Callable[[int], Metric]] = {
    # pooled CCC over all frames of the partition, as AVEC/MuSe score
    "ccc": lambda num_targets: ConcordanceCorrCoef(num_outputs=num_targets, aggregation="pooled"),
    # emotion intensities (CMU-MOSEI, Williams et al. 2018); see zoo.metrics_segment
    "mae": lambda num_targets: SegmentMAE(num_outputs=num_targets),
    "acc2": lambda num_targets: PresenceAccuracy(num_outputs=num_targets),
    "acc4": lambda num_targets: IntensityAccuracy(num_outputs=num_targets),
    "pearson": lambda num_targets: SegmentPearson(num_outputs=num_targets),
}


def build_metric(name: str, num_targets: int) -> Metric:
    """The metric registered as ``name`` for ``num_targets`` outputs."""
    try:
        factory = METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(sorted(METRICS))}") from None
    return factory(num_targets)
