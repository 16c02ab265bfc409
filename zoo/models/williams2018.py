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

What the networks are (paper §4.1–§4.4; layer order from the authors' Keras code):

* **input-level fusion** (§4.2) — the word-aligned feature sets are concatenated per word step
  (visual, audio, text in the release; here in the datamodule's order), then a batch
  normalisation over the feature axis (release: ``BatchNormalization(input_shape=(max_len, D))``,
  Keras defaults ε = 1e-3, momentum 0.99 → PyTorch ``momentum=0.01``).
* **sequence model** — ``LSTM(64)`` / ``Bidirectional(LSTM(64))`` (§4.4: 64 units; 1–3 layers in
  the release's sweep, dropout after each) reading to the end of the segment, or a 1-D CNN of 1–3
  blocks ``Conv1D(128, kernel 3, relu) → MaxPooling1D(2)`` (§4.4: kernel 3, pool 2, 1–3 layers;
  128 filters from the release).
* **head** — ``Dropout → [Dense(100, relu) → Dropout] × fc_layers → Dense(6)`` (§4.4: "1, 2 and 3"
  fully connected layers of 100 units, dropout ∈ {0.1, 0.2} between them; the release uses one);
  the CNN has no dropout after its last 100-unit layer (release). Output (§4.4): "6 neurons,
  followed by a linear activation function that bounded values between 0 and 3" → a linear
  output whose predictions are clipped to [0, 3] (``output="bounded"``, default: linear while
  training, clipped in eval mode; ``"clamp"`` clips in training too). The release's Dense(6) is
  plain linear (its log says "not scaled or bounded"): ``output="linear"``. ``output="sigmoid"``
  (3·σ) is in neither the paper nor the release.
* training (§4.4): mean absolute error, Adam (TensorFlow defaults), batch 64, early stopping on the
  validation loss with patience 10; release: at most 200 epochs.
* initialisation follows Keras 2 (the release's library): Glorot-uniform kernels, orthogonal
  recurrent kernels, zero biases, LSTM forget-gate bias 1 (``unit_forget_bias``).

Deviations (see docs/models/williams2018.md for the whole fidelity table):

* the release pads every segment on the left with zeros to ``max_len`` and reads the last state;
  here sequences are right-padded with a mask and each segment's last valid state is used (both
  directions' final states for the BLSTM: the backward direction starts at the segment's last
  word), as packed sequences would give — computed without packing, see
  :meth:`EarlyFusionRNN._final_states`; the input batch norm
  uses only valid steps (the release normalises the padding zeros too); the CNN zeroes padded
  steps before each convolution (``same`` padding, so 1–2-word segments still give an output),
  max-pools with the mask and ends with a **masked global max over time** instead of ``Flatten``
  (which needs a fixed length; so the first Dense layer has 128·100 weights instead of
  128·⌊(max_len−2)/2⌋·100 for one block);
* Keras 2 LSTMs use ``hard_sigmoid`` gates; PyTorch's use the logistic sigmoid;
* PyTorch LSTMs carry two bias vectors (``b_ih``, ``b_hh``) where Keras has one: 4·H more
  parameters per direction and layer (``b_hh`` is initialised to 0, so the sum starts as Keras's).

The paper's random baseline (§5.1) is :func:`williams2018_random_predictions`; the generic
chance level of any recipe (draws from the training labels) is :func:`random_baseline`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from zoo.layers import lengths_from_mask
from zoo.models.registry import register_model

__all__ = [
    "EarlyFusionRNN",
    "EarlyFusionCNN",
    "MaskedBatchNorm",
    "INTENSITY_GRID",
    "random_baseline",
    "williams2018_random_predictions",
    "williams2018_lstm",
    "williams2018_blstm",
    "williams2018_cnn",
]

OUTPUTS = ("bounded", "clamp", "linear", "sigmoid")
MAX_INTENSITY = 3.0
#: §3.1: intensities "in the range of [0, 3] in 9 steps, making step sizes of approximately 0.33"
INTENSITY_GRID = np.arange(10) / 3.0
#: Keras ``BatchNormalization`` defaults (ε, and momentum 0.99 as PyTorch's 1 − 0.99)
KERAS_BN_EPS, KERAS_BN_MOMENTUM = 1e-3, 0.01


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
    """``BatchNorm1d`` over the feature axis of ``(B, L, D)`` using valid steps only (Keras ε, momentum)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        out = torch.zeros_like(x)
        out[mask] = self.bn(x[mask])
        return out


class _Output(nn.Module):
    """The output activation (§4.4: "a linear activation function that bounded values between 0 and 3").

    * ``bounded`` (default) — linear while training (the release's ``Dense(6, activation="linear")``
      and its MAE), predictions clipped to [0, 3] in eval mode (validation, test, predict). A clip
      inside training would stop the gradient of every output below 0: an emotion whose output
      drifts below 0 for all segments (the MAE pulls absent emotions to 0) never recovers.
    * ``clamp`` — linear clipped to [0, 3] in training too.
    * ``linear`` — the release's unbounded output.
    * ``sigmoid`` — 3·σ(z) (neither paper nor release).
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {kind!r}")
        self.kind = kind

    def forward(self, z: Tensor) -> Tensor:
        if self.kind == "clamp" or (self.kind == "bounded" and not self.training):
            return z.clamp(0.0, MAX_INTENSITY)
        if self.kind == "sigmoid":
            return MAX_INTENSITY * torch.sigmoid(z)
        return z

    def extra_repr(self) -> str:
        return self.kind


def _head(
    in_dim: int, num_targets: int, hidden: int, layers: int, dropout: float, dropout_after_last: bool
) -> nn.Sequential:
    """``Dropout → [Dense(hidden, ReLU) → Dropout] × layers → Dense(K)`` (last Dropout optional)."""
    if int(layers) < 1:
        raise ValueError(f"fc_layers must be ≥ 1, got {layers}")
    modules: list[nn.Module] = [nn.Dropout(dropout)]
    for i in range(int(layers)):
        modules += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.ReLU()]
        if i < int(layers) - 1 or dropout_after_last:
            modules.append(nn.Dropout(dropout))
    modules.append(nn.Linear(hidden, num_targets))
    return nn.Sequential(*modules)


def _keras_init(module: nn.Module) -> None:
    """Keras 2 default initialisation (the release's library), in place.

    Dense/Conv1D kernels: Glorot uniform, biases 0. LSTM: kernel Glorot uniform over the whole
    ``(input, 4·units)`` matrix, recurrent kernel orthogonal over ``(units, 4·units)``, bias 0 with
    the forget gate's 1 (``unit_forget_bias=True``); PyTorch's second bias ``b_hh`` stays 0.
    BatchNorm: γ = 1, β = 0 (as PyTorch).
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            if isinstance(m, nn.Conv1d):  # Keras fans: kernel (k, in, out) → fan_in k·in, fan_out k·out
                k = m.kernel_size[0]
                fan_in, fan_out = k * m.in_channels, k * m.out_channels
            else:
                fan_in, fan_out = m.in_features, m.out_features
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LSTM):
            h = m.hidden_size
            for name, param in m.named_parameters():
                if name.startswith("weight_ih"):
                    fan_in, fan_out = param.shape[1], param.shape[0]  # (4H, in): Keras (in, 4H)
                    bound = (6.0 / (fan_in + fan_out)) ** 0.5
                    nn.init.uniform_(param, -bound, bound)
                elif name.startswith("weight_hh"):
                    with torch.no_grad():  # Keras: orthogonal (H, 4H) matrix; PyTorch stores its transpose
                        param.copy_(nn.init.orthogonal_(torch.empty(h, 4 * h)).T)
                elif name.startswith("bias_ih"):
                    with torch.no_grad():
                        param.zero_()
                        param[h : 2 * h] = 1.0  # gate order i, f, g, o in both libraries
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(param)


class EarlyFusionRNN(nn.Module):
    """Input BN → (B)LSTM stack → last valid state → Dropout → [FC(100, ReLU) → Dropout] × n → K outputs.

    Args:
        feature_dims: feature set → dimension (fused in this order).
        num_targets: K (6 emotions).
        hidden_size: LSTM units per direction (§4.4: 64).
        num_layers: stacked LSTM layers (release sweep: 1–3).
        bidirectional: BLSTM.
        fc_units: units of the fully connected layers (§4.4: 100).
        fc_layers: fully connected layers before the output (§4.4: 1, 2 or 3; release: 1).
        dropout: dropout between LSTM layers and around the FC layers (§4.4: 0.1 or 0.2).
        output: ``bounded`` (linear, predictions bounded to [0, 3], §4.4), ``clamp``, ``linear``
            (release) or ``sigmoid`` (see :class:`_Output`).
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_targets: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        fc_units: int = 100,
        fc_layers: int = 1,
        dropout: float = 0.2,
        output: str = "bounded",
    ) -> None:
        super().__init__()
        if not 1 <= int(num_layers):
            raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
        self.feature_names = list(feature_dims)
        dim = _input_dim(feature_dims)
        self.input_norm = MaskedBatchNorm(dim)
        self.rnn = nn.LSTM(
            dim,
            hidden_size,
            num_layers=int(num_layers),
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.bidirectional = bidirectional
        out_dim = hidden_size * (2 if bidirectional else 1)
        # weightless shapes of one direction of layer 0 and of the layers above, run with
        # self.rnn's weights (a plain list: not submodules, no parameters of their own in the model)
        self._cells = [
            nn.LSTM(dim, hidden_size, batch_first=True),
            nn.LSTM(out_dim, hidden_size, batch_first=True),
        ]
        self.head = _head(out_dim, num_targets, fc_units, fc_layers, dropout, dropout_after_last=True)
        self.output = _Output(output)
        _keras_init(self)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``(B, L, D_i)`` feature sets and a left-aligned ``(B, L)`` mask → ``(B, K)``."""
        x = self.input_norm(_fuse(features, self.feature_names), mask)
        return self.output(self.head(self._final_states(x, lengths_from_mask(mask))))

    def _final_states(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The last layer's state after each sequence's last valid step (both directions' for
        the BLSTM) — what ``self.rnn`` gives on the packed sequences, computed without packing.

        Right padding comes after a sequence's valid steps, so it cannot change them in the
        forward direction; the backward direction runs the reverse weights forward over each
        sequence reversed within its own length (padding stays at the end). Each layer and
        direction is one call of the fused LSTM kernel on the padded batch, with ``self.rnn``'s
        weights (:func:`torch.func.functional_call`): on a CPU far faster than packed sequences,
        whose backward pass works step by step (``benchmarks/vs_authors_williams.py``).
        """
        batch, steps = x.shape[:2]
        positions = torch.arange(steps, device=x.device)
        reverse = lengths[:, None] - 1 - positions[None, :]
        reverse = torch.where(reverse >= 0, reverse, positions[None, :].expand(batch, steps))

        def flip(z: Tensor) -> Tensor:  # reverse each sequence within its length (an involution)
            return z.gather(1, reverse[..., None].expand(-1, -1, z.shape[-1]))

        rows, last = torch.arange(batch, device=x.device), lengths - 1
        for layer in range(self.rnn.num_layers):
            out = self._direction(layer, "", x)
            finals = [out[rows, last]]
            if self.bidirectional:
                backward = self._direction(layer, "_reverse", flip(x))
                finals.append(backward[rows, last])
                out = torch.cat([out, flip(backward)], dim=-1)
            if layer < self.rnn.num_layers - 1:
                x = nn.functional.dropout(out, self.rnn.dropout, self.training)
        return torch.cat(finals, dim=-1)

    def _direction(self, layer: int, suffix: str, x: Tensor) -> Tensor:
        """One direction of one layer of ``self.rnn`` over ``(B, L, D)`` (fused kernel, no packing)."""
        cell = self._cells[min(layer, 1)]
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = {f"{n}_l0": getattr(self.rnn, f"{n}_l{layer}{suffix}") for n in names}
        with warnings.catch_warnings():  # cuDNN notes that borrowed weights are not one flat block
            warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
            return functional_call(cell, weights, (x,))[0]


class EarlyFusionCNN(nn.Module):
    """Input BN → [Conv1d(128, k=3, ReLU) → masked MaxPool(2)] × n → masked max over time → head.

    Args:
        feature_dims: feature set → dimension (fused in this order).
        num_targets: K.
        num_layers: convolution blocks (§4.4: 1, 2 or 3).
        filters: filters per convolution (release: 128).
        kernel_size: convolution width (§4.4: 3).
        pool_size: max-pool width (§4.4: 2).
        fc_units: units of the fully connected layers (§4.4: 100).
        fc_layers: fully connected layers before the output (§4.4: 1, 2 or 3; release: 1).
        dropout: dropout before (and between) the fully connected layers.
        output: ``bounded`` (linear, predictions bounded to [0, 3], §4.4), ``clamp``, ``linear``
            (release) or ``sigmoid`` (see :class:`_Output`).
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
        fc_layers: int = 1,
        dropout: float = 0.2,
        output: str = "bounded",
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
        self.head = _head(filters, num_targets, fc_units, fc_layers, dropout, dropout_after_last=False)
        self.output = _Output(output)
        _keras_init(self)

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


# --------------------------------------------------------------------------- random baselines
def williams2018_random_predictions(
    n: int, num_targets: int = 6, seed: int | np.random.Generator = 0, grid: np.ndarray = INTENSITY_GRID
) -> np.ndarray:
    """The fully-randomised baseline of Williams et al. 2018, §5.1, for ``n`` segments.

    Per segment: a number of labels ``m`` drawn uniformly from {0, 1, …, 6} ("so that none or all
    emotion labels could potentially be predicted"); ``m`` of the six emotions chosen at random
    (without replacement); an intensity for each chosen emotion drawn uniformly from "the 9-step
    regression values in the range of [0, 3], with step size 0.33" — read as §3.1 defines them,
    the grid {0, 1/3, …, 3} (9 steps of 1/3); the emotions not chosen are 0. No label of any
    partition is read.

    Args:
        n: number of segments.
        num_targets: emotions per segment (6 in the paper; ``m`` then ranges over 0..num_targets).
        seed: seed or generator.
        grid: intensity values a chosen emotion may get (default :data:`INTENSITY_GRID`; pass
            ``INTENSITY_GRID[1:]`` for the reading "a chosen emotion is non-zero").

    Returns:
        ``(n, num_targets)`` float32 predictions.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    grid = np.asarray(grid, dtype=np.float64)
    counts = rng.integers(0, num_targets + 1, size=n)
    # m chosen emotions per row: the m smallest of i.i.d. uniform keys is a uniform m-subset
    ranks = np.argsort(np.argsort(rng.random((n, num_targets)), axis=1), axis=1)
    chosen = ranks < counts[:, None]
    values = grid[rng.integers(0, len(grid), size=(n, num_targets))]
    return np.where(chosen, values, 0.0).astype(np.float32)


def random_baseline(train_targets: np.ndarray, n: int, seed: int = 0, mode: str = "empirical") -> np.ndarray:
    """Generic chance level: random predictions from the training labels, for ``n`` rows.

    Not the paper's §5.1 procedure (that is :func:`williams2018_random_predictions`); this is the
    chance level ``zoo baseline`` gives recipes of other papers.

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
