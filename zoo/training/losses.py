"""Masked, per-target-weighted training losses chosen by name in a recipe.

``ccc`` is :class:`zoo.ccc.CCCLoss` (``Σ_k w_k (1 − CCC_k)``); ``mse`` and ``mae`` average the
error over valid frames of each target, then take the same weighted sum over targets, so the
weights mean the same thing for every loss.

The recipe key ``loss.aggregation`` says how the CCC loss groups frames: ``pooled`` (one CCC over
all valid frames of the batch) or ``per_sequence`` (the CCC of each window, then the mean over the
windows of the batch, as the released code of Sun et al. 2020 trains, ``utils.CCCLoss``). The
frame-wise losses ``mse``/``mae`` average over valid frames either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from zoo.ccc import CCCLoss

__all__ = ["MaskedRegressionLoss", "resolve_weights", "build_loss", "LOSSES", "AGGREGATIONS"]


class MaskedRegressionLoss(nn.Module):
    """``Σ_k w_k · mean_{valid frames} err(ŷ_k, y_k)`` with ``err`` squared or absolute error.

    Shapes: ``(B, T, K)`` frames with a ``(B, T)`` mask, ``(N, K)`` segment-level outputs (no
    mask), or ``(N,)`` / ``(B, T)`` for a single target.

    Args:
        kind: ``"mse"`` or ``"mae"``.
        weights: per-target weights ``w_k`` (default all ones).
    """

    def __init__(self, kind: str, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if kind not in ("mse", "mae"):
            raise ValueError(f"kind must be 'mse' or 'mae', got {kind!r}")
        self.kind = kind
        self.weights = None if weights is None else [float(w) for w in weights]

    def forward(self, preds: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        preds, target = preds.float(), target.float()
        if preds.shape != target.shape:
            raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ")
        if preds.ndim == 1 or (mask is not None and mask.shape == preds.shape):
            # (N,) or (B, T) with a (B, T) mask: a single target
            preds, target = preds.unsqueeze(-1), target.unsqueeze(-1)
        # otherwise the last axis holds the K targets: (N, K) segment-level or (B, T, K) frames
        if mask is None:
            mask = torch.ones(preds.shape[:-1], dtype=torch.bool, device=preds.device)
        valid = mask.unsqueeze(-1).expand_as(preds)
        diff = torch.where(valid, preds - target, torch.zeros_like(preds))
        err = diff.abs() if self.kind == "mae" else diff**2
        dims = tuple(range(err.ndim - 1))
        count = valid.sum(dim=dims).clamp_min(1)
        per_target = err.sum(dim=dims) / count
        weights = torch.ones_like(per_target) if self.weights is None else self._weights(per_target)
        return (weights * per_target).sum()

    def _weights(self, per_target: torch.Tensor) -> torch.Tensor:
        if len(self.weights) != per_target.numel():
            raise ValueError(f"{len(self.weights)} loss weights for {per_target.numel()} targets")
        return per_target.new_tensor(self.weights)


def resolve_weights(
    weights: Sequence[float] | Mapping[str, float] | None, target_names: Sequence[str]
) -> list[float] | None:
    """Per-target weights in target order from a list or a ``{target: weight}`` mapping.

    Raises:
        ValueError: wrong length, or a mapping naming an unknown target.
    """
    if weights is None:
        return None
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(target_names)
        if unknown:
            raise ValueError(f"loss.weights names {sorted(unknown)}; targets are {list(target_names)}")
        return [float(weights.get(t, 0.0)) for t in target_names]
    weights = [float(w) for w in weights]
    if len(weights) != len(target_names):
        raise ValueError(f"loss.weights has {len(weights)} values for {len(target_names)} targets {list(target_names)}")
    return weights


LOSSES = ("ccc", "mse", "mae")
AGGREGATIONS = ("pooled", "per_sequence")


def build_loss(
    name: str,
    target_names: Sequence[str],
    weights: Sequence[float] | Mapping[str, float] | None = None,
    aggregation: str = "pooled",
) -> nn.Module:
    """The loss module named ``name`` (``ccc``, ``mse`` or ``mae``) with per-target weights.

    Args:
        name: ``ccc``, ``mse`` or ``mae``.
        target_names: the targets, in output order.
        weights: per-target weights (list in target order or ``{target: weight}``).
        aggregation: ``pooled`` or ``per_sequence`` CCC (see the module docstring); ``mse`` and
            ``mae`` accept either (a frame average does not depend on it).

    Raises:
        ValueError: unknown loss or aggregation, or weights that do not fit the targets.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"loss.aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
    resolved = resolve_weights(weights, target_names)
    if name == "ccc":
        return CCCLoss(weights=resolved, aggregation=aggregation)
    if name in ("mse", "mae"):
        return MaskedRegressionLoss(name, resolved)
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
