"""Streaming CCC as a ``torchmetrics.Metric``, exact across batches and DDP processes.

``compute()`` equals :func:`zoo.ccc.concordance_cc` on the concatenation of everything passed to
``update()`` on all processes (up to float64 rounding), with the same definitions, estimators,
dtype policy and NaN/:class:`~zoo.ccc.functional.DegenerateCCCWarning` behaviour.

State design
------------
``aggregation="pooled"`` keeps one float64 tensor ``moments`` of shape ``(6, K)``: the centred
statistics ``(n, mean_x, mean_y, M2x, M2y, Cxy)`` of all data seen so far
(:class:`~zoo.ccc.functional.CCCStats`). Each ``update`` merges the batch into it with the
parallel update of Chan et al.; across processes the per-rank tensors are gathered and merged the
same way (a custom ``dist_reduce_fx``). This is exact, numerically stable when ``|mean| >> std``
(unlike raw ``Σx²`` sums), constant-size, and handles uneven shards and ranks without data
(``n = 0`` is the identity of the merge).

``aggregation="per_sequence"`` keeps the float64 sum of the defined per-sequence CCCs and the
int64 number of such sequences per output, both summed across processes; ``compute()`` is their
ratio. A "sequence" is one row ``b`` of a ``(B, T[, K])`` batch.

A third state, ``dtype_counts`` (summed across processes), counts updates with float64 and with
other predictions, so that every process returns the same dtype: float64 when all updates on
all processes were float64, float32 otherwise (as :func:`~zoo.ccc.concordance_cc` would on the
concatenated data).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from zoo.ccc.functional import (
    AGGREGATIONS,
    ESTIMATORS,
    POOLED_DIMS,
    Aggregation,
    CCCInputs,
    CCCStats,
    Estimator,
    ccc_from_stats,
    centred_moments,
    check_choice,
    mean_over_sequences,
    merge_ccc_stats,
    prepare_inputs,
    result_dtype,
    sequence_ccc_sum,
)

__all__ = ["ConcordanceCorrCoef"]

_NUM_FIELDS = len(CCCStats._fields)


def _merge_packed(packed: Tensor) -> Tensor:
    """Merge stacked ``(G, 6, K)`` packed statistics into one ``(6, K)`` (``dist_reduce_fx``)."""
    return merge_ccc_stats(CCCStats.unstack(packed, dim=1), dim=0).stack(dim=0)


class ConcordanceCorrCoef(Metric):
    """Concordance correlation coefficient accumulated over batches (and DDP processes).

    Args:
        num_outputs: number of targets ``K``. With 1, ``update`` accepts ``(N,)``, ``(B, T)``
            and ``(B, T, 1)``; with ``K > 1`` it accepts ``(B, T, K)`` (mask ``(B, T)``) and
            ``(N, K)`` (no mask; one sequence).
        aggregation: ``"pooled"`` (all valid frames together, AVEC/MuSe style) or
            ``"per_sequence"`` (mean of the per-sequence CCCs).
        estimator: ``"population"`` (1/N moments) or ``"sample"`` (1/(N-1) moments).
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    ``compute()`` returns a 0-dim tensor for ``num_outputs=1`` and ``(K,)`` otherwise; float64 if
    every ``update`` (on every process) got float64 predictions, float32 otherwise.
    """

    is_differentiable = True
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    moments: Tensor
    ccc_sum: Tensor
    num_sequences: Tensor
    dtype_counts: Tensor

    def __init__(
        self,
        num_outputs: int = 1,
        aggregation: Aggregation = "pooled",
        estimator: Estimator = "population",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
            raise ValueError(f"num_outputs must be a positive int, got {num_outputs!r}")
        check_choice("aggregation", aggregation, AGGREGATIONS)
        check_choice("estimator", estimator, ESTIMATORS)
        self.num_outputs = num_outputs
        self.aggregation = aggregation
        self.estimator = estimator
        if aggregation == "pooled":
            empty = torch.zeros(_NUM_FIELDS, num_outputs, dtype=torch.float64)
            self.add_state("moments", default=empty, dist_reduce_fx=_merge_packed)
        else:
            self.add_state("ccc_sum", torch.zeros(num_outputs, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("num_sequences", torch.zeros(num_outputs, dtype=torch.long), dist_reduce_fx="sum")
        # [updates with float64 preds, updates with other preds]
        self.add_state("dtype_counts", torch.zeros(2, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add a batch.

        Args:
            preds: predictions (see the class docstring for the accepted shapes).
            target: targets of the same shape.
            mask: ``(N,)``/``(B, T)`` bool mask, True = valid frame; None = all valid.

        Raises:
            ValueError: for shapes that don't match each other or ``num_outputs``.
        """
        inputs = self._prepare(preds, target, mask)
        if self.aggregation == "pooled":
            batch = centred_moments(inputs.x.double(), inputs.y.double(), inputs.valid, POOLED_DIMS)
            self.moments = _merge_packed(torch.stack([self.moments, batch.stack(dim=0)]))
        else:
            total, count = sequence_ccc_sum(inputs, self.estimator)
            self.ccc_sum = self.ccc_sum + total
            self.num_sequences = self.num_sequences + count
        self.dtype_counts[int(result_dtype(preds.dtype) != torch.float64)] += 1

    def compute(self) -> Tensor:
        """CCC of all data seen (on all processes); NaN with a warning where undefined."""
        if self.aggregation == "pooled":
            ccc = ccc_from_stats(CCCStats.unstack(self.moments, dim=0), self.estimator)
        else:
            ccc = mean_over_sequences(self.ccc_sum, self.num_sequences)
        if self.num_outputs == 1:
            ccc = ccc.squeeze(-1)
        all_float64 = bool(self.dtype_counts[0] > 0) and bool(self.dtype_counts[1] == 0)
        return ccc.to(torch.float64 if all_float64 else torch.float32)

    def _prepare(self, preds: Tensor, target: Tensor, mask: Tensor | None) -> CCCInputs:
        """Canonical inputs, checking the target axis against ``num_outputs``."""
        shape = tuple(preds.shape) if isinstance(preds, Tensor) else None
        is_n_by_k = (
            self.num_outputs > 1
            and isinstance(preds, Tensor)
            and isinstance(target, Tensor)
            and preds.ndim == 2
            and preds.shape == target.shape
        )
        if is_n_by_k:
            if mask is not None:
                raise ValueError(
                    f"(N, K) inputs take no mask; pass (B, T, {self.num_outputs}) inputs with a (B, T) mask"
                )
            preds, target = preds[None], target[None]
        inputs = prepare_inputs(preds, target, mask)
        if inputs.num_outputs != self.num_outputs:
            k = self.num_outputs
            expected = "(N,), (B, T) or (B, T, 1)" if k == 1 else f"(B, T, {k}) or (N, {k})"
            raise ValueError(
                f"ConcordanceCorrCoef(num_outputs={self.num_outputs}) expects {expected} inputs, "
                f"got preds of shape {shape}"
            )
        return inputs
