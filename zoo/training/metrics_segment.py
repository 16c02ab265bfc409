"""Per-target metrics of emotion intensities (CMU-MOSEI style): MAE, 2- and 4-class accuracy, Pearson.

Every metric is a torchmetrics ``Metric`` with ``update(preds, target, mask=None)`` and a
per-target ``compute()`` of shape ``(K,)``. Inputs are segment-level ``(N, K)`` (``mask`` must be
``None``) or frame-level ``(B, T, K)`` with a ``(B, T)`` mask, whose valid frames are used. States
are sums/counts (or torchmetrics' own Pearson moments), merged exactly across DDP processes.

* ``mae`` — mean absolute error per target (torchmetrics ``MeanAbsoluteError(num_outputs=K)``).
* ``acc2`` — binary presence accuracy: a value is "present" when it rounds (half up) to a non-zero
  intensity, i.e. ≥ 0.5; the same rule is applied to predictions and labels. (The SDK's README
  calls a label present when it is > 0; MOSEI labels are averages in thirds, so 1/3 counts as
  absent here.)
* ``acc4`` — 4-class accuracy: predictions and labels rounded half up to {0, 1, 2, 3}.
* ``pearson`` — Pearson's r per target (torchmetrics ``PearsonCorrCoef(num_outputs=K)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import MeanAbsoluteError, Metric, PearsonCorrCoef

__all__ = ["SegmentMAE", "SegmentPearson", "PresenceAccuracy", "IntensityAccuracy", "round_intensity", "flatten_valid"]

MAX_CLASS = 3


def flatten_valid(preds: Tensor, target: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """``(N, K)`` rows to score: segment-level inputs as they are, frame-level ones at valid frames."""
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ")
    if preds.ndim == 1:
        preds, target = preds.unsqueeze(-1), target.unsqueeze(-1)
    if preds.ndim == 2:
        if mask is not None:
            raise ValueError("segment-level (N, K) inputs take no mask (the task passes mask=None for them)")
        return preds, target
    if preds.ndim == 3:
        if mask is None:
            return preds.reshape(-1, preds.shape[-1]), target.reshape(-1, target.shape[-1])
        if mask.shape != preds.shape[:2]:
            raise ValueError(f"mask {tuple(mask.shape)} does not match preds {tuple(preds.shape)}")
        return preds[mask.bool()], target[mask.bool()]
    raise ValueError(f"expected (N, K) or (B, T, K) inputs, got {tuple(preds.shape)}")


def round_intensity(x: Tensor) -> Tensor:
    """Round half up to the integer intensities {0, 1, 2, 3}."""
    return torch.floor(x + 0.5).clamp(0, MAX_CLASS)


class SegmentMAE(MeanAbsoluteError):
    """Per-target mean absolute error (torchmetrics' sums), with the masked ``update`` signature."""

    def __init__(self, num_outputs: int = 1, **kwargs: Any) -> None:
        super().__init__(num_outputs=num_outputs, **kwargs)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        p, t = flatten_valid(preds, target, mask)
        super().update(p.float(), t.float())

    def compute(self) -> Tensor:
        return super().compute().reshape(-1)


class SegmentPearson(PearsonCorrCoef):
    """Per-target Pearson's r (torchmetrics' streaming moments), with the masked ``update`` signature."""

    def __init__(self, num_outputs: int = 1, **kwargs: Any) -> None:
        super().__init__(num_outputs=num_outputs, **kwargs)
        self._k = num_outputs

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        p, t = flatten_valid(preds, target, mask)
        if self._k == 1:
            p, t = p.reshape(-1), t.reshape(-1)
        super().update(p.float(), t.float())

    def compute(self) -> Tensor:
        return super().compute().reshape(-1)


class _RoundedAccuracy(Metric):
    """Per-target accuracy of a discretisation applied to predictions and labels alike."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, num_outputs: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.add_state("correct", default=torch.zeros(num_outputs, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(num_outputs, dtype=torch.long), dist_reduce_fx="sum")

    def _classes(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        p, t = flatten_valid(preds, target, mask)
        if p.shape[-1] != self.num_outputs:
            raise ValueError(f"expected {self.num_outputs} targets, got {p.shape[-1]}")
        self.correct += (self._classes(p.float()) == self._classes(t.float())).sum(dim=0)
        self.total += p.shape[0]

    def compute(self) -> Tensor:
        total = self.total.to(torch.float64)
        return torch.where(total > 0, self.correct / total.clamp_min(1), torch.full_like(total, float("nan"))).float()


class PresenceAccuracy(_RoundedAccuracy):
    """``acc2``: binary accuracy of presence (rounded intensity ≠ 0)."""

    def _classes(self, x: Tensor) -> Tensor:
        return round_intensity(x) > 0


class IntensityAccuracy(_RoundedAccuracy):
    """``acc4``: accuracy of intensities rounded to {0, 1, 2, 3}."""

    def _classes(self, x: Tensor) -> Tensor:
        return round_intensity(x)
