"""Concordance correlation coefficient (CCC), functional form and shared moment code.

Lin's concordance correlation coefficient between predictions ``x`` and targets ``y`` is::

    CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)

It is 1 only for perfect agreement (``x == y``), 0 for no linear agreement and -1 for perfect
discordance; unlike Pearson's r it penalises shifts in location and scale.

Estimators
----------
``estimator="population"`` (default) uses 1/N moments for ``cov``, ``var(x)`` and ``var(y)``.
This is how the AVEC/MuSe challenges score continuous emotion and it makes ``CCC(x, x) == 1``
exactly. ``estimator="sample"`` uses 1/(N-1) for all three moments; the squared mean difference
is not a moment estimate and is the same in both. The two differ by O(1/N) and agree for long
sequences.

Numerics
--------
Everything is built on *centred co-moments* (:class:`CCCStats`): for each group of valid frames
the count ``n``, the means, ``M2x = Σ(x - mean_x)²``, ``M2y`` and ``Cxy = Σ(x - mean_x)(y -
mean_y)``. Each group is computed with a corrected two-pass algorithm (so the mean of a constant
sequence is exactly that constant and its ``M2`` exactly 0), and groups are combined with the
parallel update of Chan, Golub & LeVeque (:func:`merge_ccc_stats`), which is exact and does not
suffer the cancellation of raw sums ``Σx²`` when ``|mean| >> std``. The metric
(:mod:`zoo.ccc.metric`) and the loss (:mod:`zoo.ccc.loss`) reuse these functions.

The functional and the metric compute in float64 and return float64 for float64 input and
float32 for every other input dtype (float32, float16, bfloat16, integers). Undefined values
(fewer than two valid frames, or a zero denominator, i.e. both series constant and equal) are
returned as NaN together with a :class:`DegenerateCCCWarning`: a metric must not invent a value.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor

__all__ = [
    "AGGREGATIONS",
    "ESTIMATORS",
    "CCCInputs",
    "CCCStats",
    "DegenerateCCCWarning",
    "ccc_from_stats",
    "ccc_ratio",
    "ccc_sufficient_stats",
    "centred_moments",
    "check_choice",
    "concordance_cc",
    "mean_over_sequences",
    "merge_ccc_stats",
    "prepare_inputs",
    "result_dtype",
    "sequence_ccc_sum",
]

Aggregation = Literal["pooled", "per_sequence"]
Estimator = Literal["population", "sample"]
AGGREGATIONS: tuple[str, ...] = ("pooled", "per_sequence")
ESTIMATORS: tuple[str, ...] = ("population", "sample")
_DDOF = {"population": 0, "sample": 1}

# Dimensions of the canonical (B, T, K) layout reduced for each aggregation.
POOLED_DIMS: tuple[int, ...] = (0, 1)
SEQUENCE_DIMS: tuple[int, ...] = (1,)


class DegenerateCCCWarning(UserWarning):
    """A CCC is undefined (fewer than 2 valid frames or a zero denominator) and is NaN."""


class CCCStats(NamedTuple):
    """Centred sufficient statistics of one or more groups of paired frames.

    All fields are tensors of the same shape (one entry per group and output).

    Attributes:
        n: number of valid frames (as a floating tensor; exact up to 2**53).
        mean_x: mean of the predictions.
        mean_y: mean of the targets.
        m2_x: ``Σ (x - mean_x)²``.
        m2_y: ``Σ (y - mean_y)²``.
        c_xy: ``Σ (x - mean_x)(y - mean_y)``.
    """

    n: Tensor
    mean_x: Tensor
    mean_y: Tensor
    m2_x: Tensor
    m2_y: Tensor
    c_xy: Tensor

    # Raw power sums, derived on demand for interoperability. Do not accumulate these: they
    # cancel catastrophically when |mean| >> std, which is what the centred fields avoid.
    @property
    def sum_x(self) -> Tensor:
        """``Σ x`` over the valid frames."""
        return self.n * self.mean_x

    @property
    def sum_y(self) -> Tensor:
        """``Σ y`` over the valid frames."""
        return self.n * self.mean_y

    @property
    def sum_xx(self) -> Tensor:
        """``Σ x²`` over the valid frames."""
        return self.m2_x + self.n * self.mean_x**2

    @property
    def sum_yy(self) -> Tensor:
        """``Σ y²`` over the valid frames."""
        return self.m2_y + self.n * self.mean_y**2

    @property
    def sum_xy(self) -> Tensor:
        """``Σ xy`` over the valid frames."""
        return self.c_xy + self.n * self.mean_x * self.mean_y

    def stack(self, dim: int = 0) -> Tensor:
        """All six fields stacked into one tensor along ``dim`` (in field order)."""
        return torch.stack(tuple(self), dim=dim)

    @classmethod
    def unstack(cls, packed: Tensor, dim: int = 0) -> CCCStats:
        """Inverse of :meth:`stack`."""
        return cls(*packed.unbind(dim))


class CCCInputs(NamedTuple):
    """Validated inputs in the canonical layout.

    Attributes:
        x: predictions, ``(B, T, K)``, original dtype.
        y: targets, ``(B, T, K)``, original dtype.
        valid: ``(B, T, 1)`` bool, True for frames that count.
        squeeze: True when the caller's input had no target axis, so results drop ``K`` (= 1).
    """

    x: Tensor
    y: Tensor
    valid: Tensor
    squeeze: bool

    @property
    def num_outputs(self) -> int:
        """Number of targets ``K``."""
        return self.x.shape[-1]


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def result_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of a returned CCC: float64 stays float64, anything else becomes float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def prepare_inputs(preds: Tensor, target: Tensor, mask: Tensor | None = None) -> CCCInputs:
    """Validate ``preds``/``target``/``mask`` and bring them to the ``(B, T, K)`` layout.

    Accepted shapes: ``(N,)`` (one sequence, mask ``(N,)``), ``(B, T)`` and ``(B, T, K)`` (mask
    ``(B, T)``). The dtype is left unchanged.

    Args:
        preds: predictions.
        target: targets, same shape as ``preds``.
        mask: optional bool (or 0/1 integer) mask of valid frames, True = valid.

    Returns:
        The canonical :class:`CCCInputs`.

    Raises:
        TypeError: for non-tensor inputs or a floating-point mask.
        ValueError: for mismatched or unsupported shapes.
    """
    if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"preds and target must be torch.Tensor, got {type(preds).__name__} and {type(target).__name__}"
        )
    if preds.shape != target.shape:
        raise ValueError(
            f"preds and target must have the same shape, got preds {tuple(preds.shape)} "
            f"and target {tuple(target.shape)}"
        )
    if preds.ndim not in (1, 2, 3):
        raise ValueError(f"preds and target must have shape (N,), (B, T) or (B, T, K), got {tuple(preds.shape)}")
    if preds.is_complex() or target.is_complex():
        raise TypeError("complex inputs are not supported")
    frame_shape = preds.shape[: min(preds.ndim, 2)]
    valid = _prepare_mask(mask, frame_shape, preds)
    if preds.ndim == 1:
        x, y, valid = preds[None, :, None], target[None, :, None], valid[None]
    elif preds.ndim == 2:
        x, y = preds[..., None], target[..., None]
    else:
        x, y = preds, target
    return CCCInputs(x=x, y=y, valid=valid[..., None], squeeze=preds.ndim < 3)


def _prepare_mask(mask: Tensor | None, frame_shape: torch.Size, preds: Tensor) -> Tensor:
    """Bool mask of shape ``frame_shape`` on ``preds``' device (all True when ``mask`` is None)."""
    if mask is None:
        return torch.ones(frame_shape, dtype=torch.bool, device=preds.device)
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if mask.shape != frame_shape:
        raise ValueError(
            f"mask must have shape {tuple(frame_shape)} for preds of shape {tuple(preds.shape)}, "
            f"got mask {tuple(mask.shape)}"
        )
    if mask.is_floating_point() or mask.is_complex():
        raise TypeError(f"mask must be bool (True = valid frame), got {mask.dtype}")
    return mask.to(device=preds.device, dtype=torch.bool)


def _centre(values: Tensor, valid: Tensor, dims: tuple[int, ...], n_safe: Tensor) -> tuple[Tensor, Tensor]:
    """Masked mean over ``dims`` (kept) and the deviations, zero at invalid frames.

    Uses the corrected two-pass mean ``m + Σ(v - m)/n``: it removes the rounding error of the
    first pass, so the mean of a constant series is that constant exactly. Invalid frames go
    through ``torch.where`` (never multiplication), so NaN/inf there can't leak into values or
    gradients.
    """
    mean = torch.where(valid, values, 0).sum(dims, keepdim=True) / n_safe
    mean = mean + torch.where(valid, values - mean, 0).sum(dims, keepdim=True) / n_safe
    return torch.where(valid, values - mean, 0), mean


def centred_moments(x: Tensor, y: Tensor, valid: Tensor, dims: tuple[int, ...]) -> CCCStats:
    """Centred co-moments of ``x`` and ``y`` over the valid frames, reducing ``dims``.

    Differentiable; computes in the dtype of ``x``/``y``. Groups without valid frames get
    ``n = 0`` and all other fields 0 (the identity of :func:`merge_ccc_stats`).

    Args:
        x: predictions, ``(B, T, K)``.
        y: targets, ``(B, T, K)``, same dtype as ``x``.
        valid: ``(B, T, 1)`` bool.
        dims: dimensions to reduce, :data:`POOLED_DIMS` (→ ``(K,)``) or :data:`SEQUENCE_DIMS`
            (→ ``(B, K)``).

    Returns:
        :class:`CCCStats` with fields of the reduced shape.
    """
    n = valid.sum(dims, keepdim=True).to(x.dtype)
    n_safe = n.clamp(min=1)
    dx, mean_x = _centre(x, valid, dims, n_safe)
    dy, mean_y = _centre(y, valid, dims, n_safe)
    return CCCStats(
        n=n.expand_as(mean_x).squeeze(dims),
        mean_x=mean_x.squeeze(dims),
        mean_y=mean_y.squeeze(dims),
        m2_x=(dx * dx).sum(dims),
        m2_y=(dy * dy).sum(dims),
        c_xy=(dx * dy).sum(dims),
    )


def merge_ccc_stats(stats: CCCStats, dim: int = 0) -> CCCStats:
    """Merge groups of :class:`CCCStats` along ``dim`` (Chan et al. parallel update).

    For groups ``g`` with pooled count ``N`` and pooled mean ``m``::

        M2 = Σ_g M2_g + Σ_g n_g (m_g - m)²,   C = Σ_g C_g + Σ_g n_g (mx_g - mx)(my_g - my)

    which is exact. The pooled mean is taken relative to the mean of the largest group, so
    merging groups with identical means reproduces that mean bit for bit. Empty groups
    (``n = 0``) are neutral.

    Args:
        stats: statistics with a group axis ``dim``.
        dim: the axis to merge.

    Returns:
        Statistics with ``dim`` removed.
    """
    n = stats.n.sum(dim, keepdim=True)
    n_safe = n.clamp(min=1)
    ref = stats.n.argmax(dim, keepdim=True)

    def pooled_mean(means: Tensor) -> Tensor:
        anchor = means.gather(dim, ref)
        return anchor + (stats.n * (means - anchor)).sum(dim, keepdim=True) / n_safe

    mean_x, mean_y = pooled_mean(stats.mean_x), pooled_mean(stats.mean_y)
    dx, dy = stats.mean_x - mean_x, stats.mean_y - mean_y
    return CCCStats(
        n=n.squeeze(dim),
        mean_x=mean_x.squeeze(dim),
        mean_y=mean_y.squeeze(dim),
        m2_x=(stats.m2_x + stats.n * dx * dx).sum(dim),
        m2_y=(stats.m2_y + stats.n * dy * dy).sum(dim),
        c_xy=(stats.c_xy + stats.n * dx * dy).sum(dim),
    )


def ccc_ratio(stats: CCCStats, ddof: int = 0) -> tuple[Tensor, Tensor]:
    """Numerator ``2 cov`` and denominator ``var_x + var_y + (mean_x - mean_y)²`` of the CCC.

    Moments are divided by ``n - ddof`` (clamped to at least 1; callers must treat groups with
    ``n < 2`` themselves). Differentiable.
    """
    divisor = (stats.n - ddof).clamp(min=1)
    diff = stats.mean_x - stats.mean_y
    numerator = 2 * stats.c_xy / divisor
    denominator = stats.m2_x / divisor + stats.m2_y / divisor + diff * diff
    return numerator, denominator


def _ccc_or_nan(stats: CCCStats, estimator: str) -> tuple[Tensor, Tensor]:
    """CCC per entry of ``stats`` with NaN where undefined, and the mask of undefined entries."""
    check_choice("estimator", estimator, ESTIMATORS)
    numerator, denominator = ccc_ratio(stats, _DDOF[estimator])
    degenerate = (stats.n < 2) | (denominator == 0)
    safe = torch.where(degenerate, torch.ones_like(denominator), denominator)
    return torch.where(degenerate, torch.nan, numerator / safe), degenerate


def _warn_degenerate(message: str) -> None:
    warnings.warn(message, DegenerateCCCWarning, stacklevel=3)


def ccc_from_stats(stats: CCCStats, estimator: Estimator = "population") -> Tensor:
    """CCC from centred statistics, NaN (with a :class:`DegenerateCCCWarning`) where undefined.

    Args:
        stats: statistics from :func:`ccc_sufficient_stats` or :func:`merge_ccc_stats`.
        estimator: ``"population"`` (1/N moments) or ``"sample"`` (1/(N-1) moments).

    Returns:
        CCC with the shape of the fields of ``stats``, in their dtype.
    """
    ccc, degenerate = _ccc_or_nan(stats, estimator)
    if bool(degenerate.any()):
        _warn_degenerate(
            f"CCC undefined for {int(degenerate.sum())} of {degenerate.numel()} output(s) "
            "(fewer than 2 valid frames, or both series constant and equal); returning NaN"
        )
    return ccc


def ccc_sufficient_stats(
    preds: Tensor, target: Tensor, mask: Tensor | None = None, *, per_sequence: bool = False
) -> CCCStats:
    """Float64 centred sufficient statistics of the valid frames, one set per target.

    Args:
        preds: ``(N,)``, ``(B, T)`` or ``(B, T, K)`` predictions.
        target: targets of the same shape.
        mask: ``(N,)`` or ``(B, T)`` bool mask, True = valid frame.
        per_sequence: keep one set of statistics per sequence (row) instead of pooling.

    Returns:
        :class:`CCCStats` with fields of shape ``(K,)`` (pooled) or ``(B, K)`` (per sequence);
        ``K = 1`` for inputs without a target axis.
    """
    inputs = prepare_inputs(preds, target, mask)
    dims = SEQUENCE_DIMS if per_sequence else POOLED_DIMS
    return centred_moments(inputs.x.double(), inputs.y.double(), inputs.valid, dims)


def sequence_ccc_sum(inputs: CCCInputs, estimator: Estimator = "population") -> tuple[Tensor, Tensor]:
    """Sum of the defined per-sequence CCCs and the number of sequences that entered it.

    Sequences whose CCC is undefined are excluded, with a :class:`DegenerateCCCWarning`.

    Args:
        inputs: canonical inputs from :func:`prepare_inputs`.
        estimator: ``"population"`` or ``"sample"``.

    Returns:
        ``(total, count)``, both ``(K,)``: float64 sum and int64 count.
    """
    stats = centred_moments(inputs.x.double(), inputs.y.double(), inputs.valid, SEQUENCE_DIMS)
    ccc, degenerate = _ccc_or_nan(stats, estimator)
    if bool(degenerate.any()):
        _warn_degenerate(
            f"{int(degenerate.any(-1).sum())} of {degenerate.shape[0]} sequence(s) have an undefined CCC "
            "(fewer than 2 valid frames, or both series constant and equal) and are excluded from the mean"
        )
    total = torch.where(degenerate, 0, ccc).sum(0)
    return total, (~degenerate).sum(0)


def mean_over_sequences(total: Tensor, count: Tensor) -> Tensor:
    """``total / count``, NaN with a :class:`DegenerateCCCWarning` where ``count`` is 0."""
    empty = count == 0
    if bool(empty.any()):
        _warn_degenerate("no sequence has a defined CCC; returning NaN")
    return torch.where(empty, torch.nan, total / count.clamp(min=1))


def concordance_cc(
    preds: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    *,
    aggregation: Aggregation = "pooled",
    estimator: Estimator = "population",
) -> Tensor:
    """Concordance correlation coefficient of predictions and targets over valid frames.

    Args:
        preds: ``(N,)``, ``(B, T)`` or ``(B, T, K)`` predictions.
        target: targets of the same shape.
        mask: ``(N,)`` or ``(B, T)`` bool mask, True = valid frame; None = all valid.
        aggregation: ``"pooled"``: one CCC over all valid frames of all sequences (AVEC/MuSe
            style). ``"per_sequence"``: the CCC of each row ``b`` over its valid frames, then
            the mean over sequences; sequences with an undefined CCC are excluded (warning).
            A 1-D input is one sequence.
        estimator: ``"population"`` (1/N moments, default) or ``"sample"`` (1/(N-1)).

    Returns:
        A 0-dim tensor for ``(N,)``/``(B, T)`` input, ``(K,)`` for ``(B, T, K)``; float64 for
        float64 input, float32 otherwise. NaN (with :class:`DegenerateCCCWarning`) where the
        CCC is undefined.

    Raises:
        ValueError: for mismatched shapes or unknown options.
    """
    check_choice("aggregation", aggregation, AGGREGATIONS)
    check_choice("estimator", estimator, ESTIMATORS)
    inputs = prepare_inputs(preds, target, mask)
    if aggregation == "pooled":
        stats = centred_moments(inputs.x.double(), inputs.y.double(), inputs.valid, POOLED_DIMS)
        ccc = ccc_from_stats(stats, estimator)
    else:
        ccc = mean_over_sequences(*sequence_ccc_sum(inputs, estimator))
    if inputs.squeeze:
        ccc = ccc.squeeze(-1)
    return ccc.to(result_dtype(preds.dtype))
