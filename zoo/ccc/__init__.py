"""Concordance correlation coefficient (CCC): functional, streaming metric and training loss.

``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))²)``, with population (1/N) moments
by default as in AVEC/MuSe scoring (``estimator="sample"`` for 1/(N-1)). See
:mod:`zoo.ccc.functional` for the definitions, numerics and dtype policy.

* :func:`concordance_cc`: one-shot CCC, pooled or per sequence, masked.
* :class:`ConcordanceCorrCoef`: ``torchmetrics.Metric``, exact across batches and DDP processes.
* :class:`CCCLoss`: differentiable ``Σ_k w_k (1 - CCC_k)`` that never yields NaN.
* :class:`DegenerateCCCWarning`: warned when a CCC is undefined and returned as NaN.

``ConcordanceCorrCoef`` is imported lazily (on first attribute access) so that ``import zoo.ccc``
does not pay for importing torchmetrics.
"""

from typing import TYPE_CHECKING, Any

from zoo.ccc.functional import (
    CCCStats,
    DegenerateCCCWarning,
    ccc_from_stats,
    ccc_sufficient_stats,
    concordance_cc,
    merge_ccc_stats,
)
from zoo.ccc.loss import CCCLoss

if TYPE_CHECKING:
    from zoo.ccc.metric import ConcordanceCorrCoef

__all__ = [
    "CCCLoss",
    "CCCStats",
    "ConcordanceCorrCoef",
    "DegenerateCCCWarning",
    "ccc_from_stats",
    "ccc_sufficient_stats",
    "concordance_cc",
    "merge_ccc_stats",
]


def __getattr__(name: str) -> Any:
    if name == "ConcordanceCorrCoef":
        from zoo.ccc.metric import ConcordanceCorrCoef

        return ConcordanceCorrCoef
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
