"""Sun et al. (2020) §4.4: late fusion of per-frame predictions with a second-level BiLSTM.

Paper:
    Licai Sun, Zheng Lian, Jianhua Tao, Bin Liu, Mingyue Niu. "Multi-modal Continuous Dimensional
    Emotion Recognition Using Recurrent Neural Network and Self-Attention Mechanism". In
    Proceedings of the 1st International on Multimodal Sentiment Analysis in Real-life Media
    Challenge and Workshop (MuSe '20, held with ACM Multimedia 2020), pp. 27-34.
    https://doi.org/10.1145/3423327.3423672

Code:
    https://github.com/youcaiSUN/MuSe-Wild_2020 (``main_fusion.py``; its README's example runs the
    fusion model with 32 hidden units, a bidirectional LSTM, batch 64, lr 0.001, at most 15–20
    epochs). This module is a re-implementation from that description, not a copy.

BibTeX: the paper's entry, ``sun2020multimodal``, is in :mod:`zoo.models.sun2020` (one copy).

Architecture (per frame)::

    concat(predictions of the S source runs, in feature_dims order)   (B, T, sum_s K_s)
      -> BiLSTM(32 per direction, 1 layer, packed by mask lengths)     (B, T, 64)
      -> [dropout] -> Linear(64 -> K)                                  (B, T, K)

The inputs are the *predictions* of unimodal or early-fusion runs (one feature set per source
run, one column per target it predicted), read by the ``prediction_fusion`` datamodule
(:mod:`zoo.data.corpora.prediction_fusion.reader`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from zoo.layers import MaskedBiLSTM, lengths_from_mask
from zoo.models.registry import register_model

__all__ = ["PAPER", "LateFusionBiLSTM", "sun2020_late_fusion"]

#: Reference used by model cards (``zoo export``).
PAPER = (
    "Sun, Lian, Tao, Liu, Niu (2020): Multi-modal Continuous Dimensional Emotion Recognition "
    "Using Recurrent Neural Network and Self-Attention Mechanism, MuSe '20 (ACM MM workshop), "
    "§4.4 late fusion. https://doi.org/10.1145/3423327.3423672"
)


class LateFusionBiLSTM(nn.Module):
    """Second-level BiLSTM over the concatenated per-frame predictions of several models.

    Args:
        feature_dims: source name -> number of predicted columns of that source; concatenated
            per frame in this mapping's order.
        num_targets: outputs per frame.
        hidden_size: LSTM cells per direction (32 in the paper).
        num_layers: stacked BiLSTM layers (1 in the paper).
        dropout: dropout between stacked LSTM layers.
        output_dropout: dropout before the output layer.

    Raises:
        ValueError: on an invalid argument, naming it.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_targets: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        output_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(feature_dims, Mapping) or not feature_dims:
            raise ValueError(f"{owner}: feature_dims must be a non-empty mapping, got {feature_dims!r}")
        for name, dim in feature_dims.items():
            if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
                raise ValueError(f"{owner}: feature_dims[{name!r}] must be a positive int, got {dim!r}")
        for name, value in (("num_targets", num_targets), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
        if not 0.0 <= output_dropout < 1.0:
            raise ValueError(f"{owner}: output_dropout must be in [0, 1), got {output_dropout!r}")
        self.feature_dims = dict(feature_dims)
        self.num_targets = num_targets
        self.rnn = MaskedBiLSTM(sum(self.feature_dims.values()), hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(output_dropout)
        self.out = nn.Linear(self.rnn.output_dim, num_targets)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Fuse the sources' predictions.

        Args:
            features: source name -> ``(B, T, K_source)`` predictions; names not in
                ``feature_dims`` are ignored.
            mask: ``(B, T)`` bool, ``True`` = valid frame, left-aligned.

        Returns:
            ``(B, T, num_targets)``, exactly zero at padded frames.
        """
        missing = [n for n in self.feature_dims if n not in features]
        if missing:
            raise ValueError(f"features lack sources {missing}; the model expects {list(self.feature_dims)}")
        parts = []
        for name, dim in self.feature_dims.items():
            x = features[name]
            if x.dim() != 3 or x.shape[-1] != dim:
                raise ValueError(f"source {name!r} must be a (B, T, {dim}) tensor, got {tuple(x.shape)}")
            parts.append(x.float())
        x = torch.cat(parts, dim=-1)
        lengths_from_mask(mask)
        valid = mask.unsqueeze(-1)
        x = x.masked_fill(~valid, 0.0)
        y = self.out(self.dropout(self.rnn(x, mask)))
        return y.masked_fill(~valid, 0.0)


@register_model
def sun2020_late_fusion(feature_dims: Mapping[str, int], num_targets: int, **kwargs: Any) -> LateFusionBiLSTM:
    """Sun et al. 2020 late fusion: BiLSTM with 32 cells per direction over source predictions.

    ``kwargs`` override any :class:`LateFusionBiLSTM` argument (``hidden_size``, ``num_layers``,
    ``dropout``, ``output_dropout``).
    """
    return LateFusionBiLSTM(feature_dims, num_targets, **kwargs)
