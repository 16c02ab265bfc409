"""Differentiable CCC loss ``Σ_k w_k (1 - CCC_k)`` for training.

The loss uses the population CCC (1/N moments, see :mod:`zoo.ccc.functional`) computed from the
same centred moments as the metric, with two training-oriented differences:

* ``eps`` is added to the denominator ``var_x + var_y + (mean_x - mean_y)²`` (in variance
  units), so the value and the gradient stay finite for constant predictions.
* It never returns NaN and never warns. A group (the whole batch under ``"pooled"``, one
  sequence under ``"per_sequence"``) with fewer than 2 valid frames carries no information and
  contributes nothing; if no group is usable the loss is a zero that is still connected to
  ``preds`` in the autograd graph.

Masked frames are removed with ``torch.where``, so arbitrary values there (even NaN/inf) affect
neither the value nor the gradient. The loss is computed in float64 for float64 input and in
float32 for every other dtype (half/bfloat16 are upcast), and returned in that dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor, nn

from zoo.ccc.functional import (
    AGGREGATIONS,
    POOLED_DIMS,
    SEQUENCE_DIMS,
    Aggregation,
    ccc_ratio,
    centred_moments,
    check_choice,
    prepare_inputs,
    result_dtype,
)

__all__ = ["CCCLoss"]


class CCCLoss(nn.Module):
    """Weighted CCC loss ``Σ_k w_k (1 - CCC_k)``.

    Args:
        weights: one non-negative weight per target (``K`` floats); None = all ones. Checked
            against ``K`` at forward time (``K = 1`` for ``(N,)`` and ``(B, T)`` inputs).
        aggregation: ``"pooled"``: CCC over all valid frames of the batch. ``"per_sequence"``:
            CCC of each sequence, averaged over the sequences with at least 2 valid frames.
        eps: added to the CCC denominator; keep it > 0 for training. ``eps=0`` gives the exact
            CCC (e.g. for gradcheck); a zero denominator then yields CCC 0 instead of NaN.

    Example:
        >>> loss_fn = CCCLoss(weights=[1.0, 0.5])
        >>> loss = loss_fn(preds, target, mask)  # preds/target (B, T, 2), mask (B, T)
    """

    weights: Tensor | None

    def __init__(
        self,
        weights: Union[Sequence[float], Tensor] | None = None,
        aggregation: Aggregation = "pooled",
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        check_choice("aggregation", aggregation, AGGREGATIONS)
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.aggregation = aggregation
        self.eps = float(eps)
        # not persistent: the weights come from the config, not from checkpoints
        self.register_buffer("weights", _validate_weights(weights), persistent=False)

    def extra_repr(self) -> str:
        weights = None if self.weights is None else self.weights.tolist()
        return f"weights={weights}, aggregation={self.aggregation!r}, eps={self.eps}"

    def forward(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        """Compute the loss.

        Args:
            preds: ``(N,)``, ``(B, T)`` or ``(B, T, K)`` predictions.
            target: targets of the same shape.
            mask: ``(N,)`` or ``(B, T)`` bool mask, True = valid frame; None = all valid.

        Returns:
            A 0-dim tensor (float64 for float64 input, float32 otherwise).

        Raises:
            ValueError: for mismatched shapes or a number of weights different from ``K``.
        """
        inputs = prepare_inputs(preds, target, mask)
        dtype = result_dtype(preds.dtype)
        weights = self._weights_for(inputs.num_outputs, dtype, preds.device)
        dims = POOLED_DIMS if self.aggregation == "pooled" else SEQUENCE_DIMS
        stats = centred_moments(inputs.x.to(dtype), inputs.y.to(dtype), inputs.valid, dims)
        numerator, denominator = ccc_ratio(stats, ddof=0)
        denominator = denominator + self.eps
        ccc = numerator / torch.where(denominator > 0, denominator, torch.ones_like(denominator))
        usable = stats.n >= 2  # (K,) pooled or (B, K) per sequence; equal across K
        per_group = torch.where(usable, weights * (1 - ccc), 0).sum(-1)
        num_groups = usable[..., 0].sum().clamp(min=1)
        return per_group.sum() / num_groups

    def _weights_for(self, num_outputs: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        if self.weights is None:
            return torch.ones(num_outputs, dtype=dtype, device=device)
        if self.weights.numel() != num_outputs:
            raise ValueError(
                f"CCCLoss has {self.weights.numel()} weight(s) but the inputs have {num_outputs} target(s)"
            )
        return self.weights.to(dtype=dtype, device=device)


def _validate_weights(weights: Union[Sequence[float], Tensor] | None) -> Tensor | None:
    """Weights as a 1-D float64 tensor, or None."""
    if weights is None:
        return None
    tensor = torch.as_tensor(weights, dtype=torch.float64).detach().clone()
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ValueError(f"weights must be a non-empty sequence of floats, got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()) or bool((tensor < 0).any()):
        raise ValueError(f"weights must be finite and non-negative, got {tensor.tolist()}")
    return tensor
