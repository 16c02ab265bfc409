"""Williams et al. 2018: input-level (early) fusion DNNs for CMU-MOSEI emotion intensities.

Paper: J. Williams, S. Kleinegesse, R. Comanescu, O. Radu, "Recognizing Emotions in Video Using
Multimodal DNN Feature Fusion", Proceedings of Grand Challenge and Workshop on Human Multimodal
Language (Challenge-HML), ACL 2018, Melbourne, pp. 11–19. https://aclanthology.org/W18-3302,
doi:10.18653/v1/W18-3302. Original code (Keras): https://github.com/rhoposit/MultimodalDNN
(``emotion_recognition.py`` for MOSEI emotions, ``MOSI_early_fusion_{lstm,blstm,cnn}.py``).

BibTeX::

    @inproceedings{williams-etal-2018-recognizing,
      title = "Recognizing Emotions in Video Using Multimodal {DNN} Feature Fusion",
      author = "Williams, Jennifer and Kleinegesse, Steven and Comanescu, Ramona and Radu, Oana",
      booktitle = "Proceedings of Grand Challenge and Workshop on Human Multimodal Language (Challenge-{HML})",
      year = "2018", address = "Melbourne, Australia", publisher = "Association for Computational Linguistics",
      pages = "11--19", doi = "10.18653/v1/W18-3302"}

What the networks are (from the released code):

* **input-level fusion** — the word-aligned feature sets are concatenated per word step
  (visual, audio, text in the original; here in the datamodule's order), then a batch
  normalisation over the feature axis (Keras ``BatchNormalization(input_shape=(max_len, D))``).
* **sequence model** — ``LSTM(64)`` / ``Bidirectional(LSTM(64))`` (1–3 layers, dropout between
  them) reading to the end of the segment, or a 1-D CNN of 1–3 blocks ``Conv1D(128, kernel 3,
  relu) → MaxPooling1D(2)``.
* **head** — ``Dropout → Dense(100, relu) → Dropout → Dense(6)`` (the CNN has no dropout after the
  100-unit layer), trained with the mean absolute error, Adam, batch 64, early stopping on the
  validation loss with patience 10; the paper sweeps ``max_len ∈ {15, 20, 25, 30}``, dropout
  ``∈ {0.1, 0.2}`` and 1–3 layers.

Deviations, all for padded, variable-length batches:

* the original pads every segment on the left with zeros to ``max_len`` and reads the last state;
  here sequences are right-padded with a mask: the RNNs run on packed sequences and use each
  segment's last valid state (both directions' final states for the BLSTM); the input batch norm
  uses only valid steps; the CNN zeroes padded steps before each convolution (``same`` padding,
  so 1–2-word segments still give an output), max-pools with the mask and ends with a **masked
  global max over time** instead of ``Flatten`` (which needs a fixed length);
* the output layer is linear in the code ("not scaled or bounded" predictions); here it is bounded
  to the label range by default: ``output="sigmoid"`` gives ``3·σ(z)`` ∈ [0, 3]; ``"clamp"`` is a
  linear output clamped to [0, 3]; ``"linear"`` is the original;
* PyTorch LSTMs carry two bias vectors (``b_ih``, ``b_hh``) where Keras has one: 4·H more
  parameters per direction and layer.

The random baseline of the paper's results (Section 5.1) is :func:`random_baseline`; the paper's
text was not available to check its exact definition, so it is implemented as described in our
design: each prediction drawn at random from the training distribution of that emotion.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from zoo._registry import register_model
from zoo.layers import lengths_from_mask

__all__ = [
    "EarlyFusionRNN",
    "EarlyFusionCNN",
    "MaskedBatchNorm",
    "random_baseline",
    "williams2018_lstm",
    "williams2018_blstm",
    "williams2018_cnn",
]

OUTPUTS = ("sigmoid", "clamp", "linear")
MAX_INTENSITY = 3.0


def _input_dim(feature_dims: Mapping[str, int | Sequence[int]]) -> int:
    total = 0
    for name, dim in feature_dims.items():
        if not isinstance(dim, int):
            raise ValueError(f"williams2018 models take (B, L, D) feature sets; {name!r} has dims {dim}")
        total += int(dim)
    if total == 0:
        raise ValueError("williams2018 models need at least one feature set")
    return total


def _fuse(features: Mapping[str, Tensor], names: Sequence[str]) -> Tensor:
    """Input-level fusion: concatenate the feature sets per step, in ``names`` order."""
    missing = [n for n in names if n not in features]
    if missing:
        raise KeyError(f"feature sets {missing} missing from the batch; got {sorted(features)}")
    return torch.cat([features[n].float() for n in names], dim=-1)


class MaskedBatchNorm(nn.Module):
    """``BatchNorm1d`` over the feature axis of ``(B, L, D)`` using valid steps only."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        out = torch.zeros_like(x)
        out[mask] = self.bn(x[mask])
        return out


class _Output(nn.Module):
    """Bounds the last layer's output to the intensity range [0, 3]."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {kind!r}")
        self.kind = kind

    def forward(self, z: Tensor) -> Tensor:
        if self.kind == "sigmoid":
            return MAX_INTENSITY * torch.sigmoid(z)
        if self.kind == "clamp":
            return z.clamp(0.0, MAX_INTENSITY)
        return z


def _head(in_dim: int, num_targets: int, hidden: int, dropout: float, dropout_after_hidden: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU()]
    if dropout_after_hidden:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, num_targets))
    return nn.Sequential(*layers)


class EarlyFusionRNN(nn.Module):
    """Input BN → (B)LSTM stack → last valid state → Dropout → FC(100, ReLU) → Dropout → K outputs.

    Args:
        feature_dims: feature set → dimension (fused in this order).
        num_targets: K (6 emotions).
        hidden_size: LSTM units per direction (paper: 64).
        num_layers: stacked LSTM layers (paper sweep: 1–3).
        bidirectional: BLSTM.
        fc_units: units of the fully connected layer (paper: 100).
        dropout: dropout between LSTM layers and in the head (paper: 0.1 or 0.2).
        output: ``sigmoid`` (3·σ), ``clamp`` or ``linear``.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_targets: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        fc_units: int = 100,
        dropout: float = 0.2,
        output: str = "sigmoid",
    ) -> None:
        super().__init__()
        if not 1 <= int(num_layers):
            raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
        self.feature_names = list(feature_dims)
        dim = _input_dim(feature_dims)
        self.input_norm = MaskedBatchNorm(dim)
        self.rnn = nn.LSTM(dim, hidden_size, num_layers=int(num_layers), batch_first=True,
                           bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.bidirectional = bidirectional
        out_dim = hidden_size * (2 if bidirectional else 1)
        self.head = _head(out_dim, num_targets, fc_units, dropout, dropout_after_hidden=True)
        self.output = _Output(output)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``(B, L, D_i)`` feature sets and a left-aligned ``(B, L)`` mask → ``(B, K)``."""
        x = self.input_norm(_fuse(features, self.feature_names), mask)
        lengths = lengths_from_mask(mask).clamp_min(1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)
        # h_n: (layers * directions, B, H); the last layer's final state(s) of each sequence
        last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if self.bidirectional else h_n[-1]
        return self.output(self.head(last))


class EarlyFusionCNN(nn.Module):
    """Input BN → [Conv1d(128, k=3, ReLU) → masked MaxPool(2)] × n → masked max over time → head.

    Args:
        feature_dims: feature set → dimension (fused in this order).
        num_targets: K.
        num_layers: convolution blocks (paper sweep: 1–3).
        filters: filters per convolution (original code: 128).
        kernel_size: convolution width (paper: 3).
        pool_size: max-pool width (paper: 2).
        fc_units: units of the fully connected layer (paper: 100).
        dropout: dropout before the fully connected layer.
        output: ``sigmoid`` (3·σ), ``clamp`` or ``linear``.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_targets: int,
        num_layers: int = 1,
        filters: int = 128,
        kernel_size: int = 3,
        pool_size: int = 2,
        fc_units: int = 100,
        dropout: float = 0.2,
        output: str = "sigmoid",
    ) -> None:
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
        self.feature_names = list(feature_dims)
        dim = _input_dim(feature_dims)
        self.input_norm = MaskedBatchNorm(dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(dim if i == 0 else filters, filters, kernel_size, padding=kernel_size // 2)
            for i in range(int(num_layers))
        )
        self.pool_size = int(pool_size)
        self.head = _head(filters, num_targets, fc_units, dropout, dropout_after_hidden=False)
        self.output = _Output(output)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``(B, L, D_i)`` feature sets and a ``(B, L)`` mask → ``(B, K)``."""
        x = self.input_norm(_fuse(features, self.feature_names), mask)  # padded steps are 0
        valid = mask
        for conv in self.convs:
            x = x * valid.unsqueeze(-1)
            x = torch.relu(conv(x.transpose(1, 2))).transpose(1, 2)
            if x.shape[1] < self.pool_size:  # too short to pool: keep as is
                continue
            x = x.masked_fill(~valid.unsqueeze(-1), float("-inf"))
            x = nn.functional.max_pool1d(x.transpose(1, 2), self.pool_size, ceil_mode=True).transpose(1, 2)
            valid = nn.functional.max_pool1d(valid.float().unsqueeze(1), self.pool_size, ceil_mode=True).squeeze(1) > 0
            x = torch.where(valid.unsqueeze(-1), x, torch.zeros_like(x))
        pooled = x.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(dim=1)
        pooled = torch.where(valid.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))
        return self.output(self.head(pooled))


# --------------------------------------------------------------------------- registered variants
@register_model
def williams2018_lstm(feature_dims: Mapping[str, int], num_targets: int, **hparams) -> EarlyFusionRNN:
    """Early-fusion LSTM(64) (Williams et al. 2018)."""
    return EarlyFusionRNN(feature_dims, num_targets, bidirectional=False, **hparams)


@register_model
def williams2018_blstm(feature_dims: Mapping[str, int], num_targets: int, **hparams) -> EarlyFusionRNN:
    """Early-fusion BLSTM(64) (Williams et al. 2018), the paper's main system."""
    return EarlyFusionRNN(feature_dims, num_targets, bidirectional=True, **hparams)


@register_model
def williams2018_cnn(feature_dims: Mapping[str, int], num_targets: int, **hparams) -> EarlyFusionCNN:
    """Early-fusion 1-D CNN (kernel 3, max-pool 2) (Williams et al. 2018)."""
    return EarlyFusionCNN(feature_dims, num_targets, **hparams)


# --------------------------------------------------------------------------- random baseline
def random_baseline(train_targets: np.ndarray, n: int, seed: int = 0, mode: str = "empirical") -> np.ndarray:
    """Random predictions for ``n`` segments.

    Args:
        train_targets: ``(N_train, K)`` training labels.
        n: number of predictions.
        seed: random seed.
        mode: ``"empirical"`` — each column drawn independently, with replacement, from that
            column's training values (the training distribution); ``"uniform"`` — uniform in the
            training range of each column.

    Returns:
        ``(n, K)`` float32 predictions.
    """
    train_targets = np.asarray(train_targets, dtype=np.float64)
    if train_targets.ndim != 2 or len(train_targets) == 0:
        raise ValueError(f"train_targets must be a non-empty (N, K) array, got shape {train_targets.shape}")
    rng = np.random.default_rng(seed)
    k = train_targets.shape[1]
    if mode == "empirical":
        rows = rng.integers(0, len(train_targets), size=(n, k))
        return train_targets[rows, np.arange(k)].astype(np.float32)
    if mode == "uniform":
        low, high = train_targets.min(axis=0), train_targets.max(axis=0)
        return rng.uniform(low, high, size=(n, k)).astype(np.float32)
    raise ValueError(f"mode must be 'empirical' or 'uniform', got {mode!r}")
