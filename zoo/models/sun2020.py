"""Sun et al. (2020): BiLSTM and multi-head self-attention for continuous emotion recognition.

Paper:
    Licai Sun, Zheng Lian, Jianhua Tao, Bin Liu, Mingyue Niu. "Multi-modal Continuous Dimensional
    Emotion Recognition Using Recurrent Neural Network and Self-Attention Mechanism". In
    Proceedings of the 1st International on Multimodal Sentiment Analysis in Real-life Media
    Challenge and Workshop (MuSe '20, held with ACM Multimedia 2020), pp. 27-34.
    https://doi.org/10.1145/3423327.3423672

Code:
    The authors released their PyTorch code at https://github.com/youcaiSUN/MuSe-Wild_2020 (its
    README carries the paper's title and test results). This module is a re-implementation from
    the architecture described there, not a copy.

BibTeX::

    @inproceedings{sun2020multimodal,
      title     = {Multi-modal Continuous Dimensional Emotion Recognition Using Recurrent
                   Neural Network and Self-Attention Mechanism},
      author    = {Sun, Licai and Lian, Zheng and Tao, Jianhua and Liu, Bin and Niu, Mingyue},
      booktitle = {Proceedings of the 1st International on Multimodal Sentiment Analysis in
                   Real-life Media Challenge and Workshop},
      series    = {MuSe '20},
      pages     = {27--34},
      year      = {2020},
      publisher = {Association for Computing Machinery},
      address   = {New York, NY, USA},
      doi       = {10.1145/3423327.3423672},
    }

Architecture (per frame, early fusion)::

    concat(features in feature_dims order) -> [input dropout] -> Linear(D_in -> H, no bias)
      -> N x SelfAttentionBlock(H)        (MHA + residual + post-LayerNorm, key padding mask)
      -> BiLSTM(H per direction, M layers, packed by mask lengths)
      -> [dropout] -> Linear(2H -> K)     (Linear(H -> K) when M = 0)

As in the released code, the attention layers come *before* the LSTM (§4: "the input features
are first encoded by the self-attention mechanism. Then, LSTM transforms the encoded sequence"),
the input projection has no bias and is skipped when the concatenated width already equals
``hidden_size``, there is no positional encoding, padded frames are excluded from attention by a
key padding mask and from the LSTM by packing, and the attention layers have no feed-forward
sublayer (``feed_forward=False``; Eq. 6 ends the layer at ``LayerNorm(X + R)``). The released
code's output layer is a two-layer MLP (``d_out_fc=64`` hidden units, ReLU, dropout after the
ReLU only, output bias starting at 0); ``head_hidden_size=64`` gives exactly that MLP (the
recipes use it), otherwise the head is the single fully connected layer of §4.2 with dropout
before it. ``tests/zoo/test_sun2020_release_equivalence.py`` ports the weights of an independent
implementation of the released architecture into this module and compares the outputs.

The released code has three dropout rates (``--rnn_dr``, ``--attn_dr``, ``--out_dr``, all 0 by
default); here one ``dropout`` serves all three places.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from zoo.layers import MaskedBiLSTM, SelfAttentionBlock, lengths_from_mask
from zoo.models.registry import register_model

__all__ = ["Sun2020Net", "sun2020_lstm_selfattn", "sun2020_lstm", "sun2020_selfattn"]

_Fn = TypeVar("_Fn", bound=Callable[..., nn.Module])


def _check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{owner}: {name} must be {kind}, got {value!r}")


def _check_probability(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be a float in [0, 1), got {value!r}")


class Sun2020Net(nn.Module):
    """Early-fusion self-attention + BiLSTM regressor of Sun et al. (2020).

    Args:
        feature_dims: feature set name -> feature width; the sets are concatenated per frame in
            this mapping's order.
        num_targets: regression outputs per frame (e.g. 2 for arousal and valence).
        hidden_size: model width H: input projection and attention width, and LSTM hidden units
            per direction.
        num_heads: attention heads; must divide ``hidden_size``.
        num_attention_layers: self-attention blocks before the LSTM (0 disables attention).
        num_lstm_layers: stacked BiLSTM layers (0 disables the LSTM).
        dropout: dropout in the attention blocks, between LSTM layers and before the head.
        input_dropout: dropout on the concatenated input features.
        feed_forward: give each attention block a position-wise feed-forward sublayer (not in
            the paper's model).
        head_hidden_size: if set, the head is ``Linear -> ReLU -> Dropout -> Linear`` with this
            many hidden units (the released code uses 64); otherwise a single linear layer.

    Raises:
        ValueError: on an invalid argument, naming it.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_targets: int,
        hidden_size: int = 128,
        num_heads: int = 4,
        num_attention_layers: int = 1,
        num_lstm_layers: int = 1,
        dropout: float = 0.2,
        input_dropout: float = 0.0,
        feed_forward: bool = False,
        head_hidden_size: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(feature_dims, Mapping) or len(feature_dims) == 0:
            raise ValueError(
                f"{owner}: feature_dims must be a non-empty mapping of feature name -> width, got {feature_dims!r}"
            )
        for name, dim in feature_dims.items():
            if not isinstance(name, str):
                raise ValueError(f"{owner}: feature names must be str, got {name!r}")
            _check_positive_int(owner, f"feature_dims[{name!r}]", dim)
        _check_positive_int(owner, "num_targets", num_targets)
        _check_positive_int(owner, "hidden_size", hidden_size)
        _check_positive_int(owner, "num_heads", num_heads)
        _check_positive_int(owner, "num_attention_layers", num_attention_layers, minimum=0)
        _check_positive_int(owner, "num_lstm_layers", num_lstm_layers, minimum=0)
        _check_probability(owner, "dropout", dropout)
        _check_probability(owner, "input_dropout", input_dropout)
        if num_attention_layers == 0 and num_lstm_layers == 0:
            raise ValueError(
                f"{owner}: num_attention_layers and num_lstm_layers are both 0; "
                "the model needs at least one temporal layer"
            )
        if num_attention_layers > 0 and hidden_size % num_heads != 0:
            raise ValueError(f"{owner}: hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        if head_hidden_size is not None:
            _check_positive_int(owner, "head_hidden_size", head_hidden_size)

        self.feature_dims: dict[str, int] = dict(feature_dims)
        self.num_targets = num_targets
        self.hidden_size = hidden_size
        input_dim = sum(self.feature_dims.values())

        self.input_dropout = nn.Dropout(input_dropout)
        self.proj: nn.Module = nn.Identity()
        if input_dim != hidden_size:
            self.proj = nn.Linear(input_dim, hidden_size, bias=False)
        self.attention = nn.ModuleList(
            SelfAttentionBlock(hidden_size, num_heads, dropout, feed_forward=feed_forward)
            for _ in range(num_attention_layers)
        )
        self.lstm: MaskedBiLSTM | None = None
        out_dim = hidden_size
        if num_lstm_layers > 0:
            self.lstm = MaskedBiLSTM(hidden_size, hidden_size, num_lstm_layers, dropout)
            out_dim = self.lstm.output_dim
        if head_hidden_size is None:
            self.head_dropout: nn.Module = nn.Dropout(dropout)
            self.head: nn.Module = nn.Linear(out_dim, num_targets)
        else:
            # the released code's Regressor: no dropout before the first layer, dropout after ReLU
            self.head_dropout = nn.Identity()
            self.head = nn.Sequential(
                nn.Linear(out_dim, head_hidden_size),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(head_hidden_size, num_targets),
            )
        # the released code starts the output bias at 0 (its --out_biases default)
        last = self.head if isinstance(self.head, nn.Linear) else self.head[-1]
        nn.init.zeros_(last.bias)

    def _concat_features(self, features: Mapping[str, Tensor]) -> Tensor:
        """Check the feature dict against ``feature_dims`` and concatenate it per frame."""
        if not isinstance(features, Mapping):
            raise TypeError(f"features must be a dict of name -> (B, T, D) tensor, got {type(features).__name__}")
        missing = [name for name in self.feature_dims if name not in features]
        if missing:
            raise ValueError(
                f"features lack {missing}; the model expects {list(self.feature_dims)}, got {list(features)}"
            )
        parts = []
        batch_time: tuple[int, int] | None = None
        for name, expected in self.feature_dims.items():
            tensor = features[name]
            if not isinstance(tensor, Tensor) or tensor.dim() != 3:
                shape = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                raise ValueError(f"feature {name!r} must be a (B, T, {expected}) tensor, got {shape}")
            if tensor.shape[-1] != expected:
                raise ValueError(
                    f"feature {name!r} has dim {tensor.shape[-1]}, expected {expected} (shape {tuple(tensor.shape)})"
                )
            if batch_time is None:
                batch_time = (tensor.shape[0], tensor.shape[1])
            elif (tensor.shape[0], tensor.shape[1]) != batch_time:
                raise ValueError(
                    f"feature {name!r} has (B, T) = {tuple(tensor.shape[:2])}, but "
                    f"{next(iter(self.feature_dims))!r} has {batch_time}"
                )
            parts.append(tensor)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Predict every frame.

        Args:
            features: feature set name -> ``(B, T, D_name)`` float tensor; sets not named in
                ``feature_dims`` are ignored.
            mask: ``(B, T)`` bool tensor, ``True`` = valid frame; valid frames must come first in
                each row (left-aligned) and each row needs at least one.

        Returns:
            ``(B, T, num_targets)``; exactly zero at padded frames, and the values at valid frames
            do not depend on padded frames or on the other sequences of the batch.

        Raises:
            ValueError: a feature set is missing or has the wrong width, shapes disagree, or the
                mask is not left-aligned or has an empty row.
            TypeError: the mask is not bool.
        """
        x = self._concat_features(features)
        lengths_from_mask(mask)  # validates dtype, shape, left alignment, empty rows
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match features (B, T) = {tuple(x.shape[:2])}")
        valid = mask.unsqueeze(-1)
        # Zero the padding so that non-finite padding values cannot leak through 0-weight sums.
        x = x.masked_fill(~valid, 0.0)
        x = self.proj(self.input_dropout(x))
        padding = ~mask
        for block in self.attention:
            x = block(x, key_padding_mask=padding)
        if self.lstm is not None:
            x = self.lstm(x, mask)
        y = self.head(self.head_dropout(x))
        return y.masked_fill(~valid, 0.0)


def _build(
    defaults: Mapping[str, Any],
    feature_dims: Mapping[str, int],
    num_targets: int,
    overrides: dict[str, Any],
) -> Sun2020Net:
    return Sun2020Net(feature_dims, num_targets, **{**defaults, **overrides})


def _variant_signature(defaults: Mapping[str, Any]) -> Callable[[_Fn], _Fn]:
    """Give a variant function the signature of :class:`Sun2020Net` with its own defaults.

    ``inspect.signature(variant)`` then lists every accepted argument, so callers (e.g. recipe
    validation, ``help()``) can check keys without building the model.
    """

    def decorate(fn: _Fn) -> _Fn:
        base = inspect.signature(Sun2020Net)
        params = [p.replace(default=defaults[p.name]) if p.name in defaults else p for p in base.parameters.values()]
        fn.__signature__ = base.replace(parameters=params)  # type: ignore[attr-defined]
        return fn

    return decorate


_LSTM_SELFATTN = {"num_attention_layers": 1, "num_lstm_layers": 1}
_LSTM = {"num_attention_layers": 0, "num_lstm_layers": 2}
_SELFATTN = {"num_attention_layers": 2, "num_lstm_layers": 0}


@register_model
@_variant_signature(_LSTM_SELFATTN)
def sun2020_lstm_selfattn(feature_dims: Mapping[str, int], num_targets: int, **kwargs: Any) -> Sun2020Net:
    """Self-attention + BiLSTM, the paper's full model: 1 attention layer, then 1 BiLSTM layer.

    The layer counts follow the defaults and the example command of the authors' released code
    (``--attn --n_layers 1 --rnn_n_layers 1 --rnn_bi``). Any :class:`Sun2020Net` argument can be
    overridden through ``kwargs``.
    """
    return _build(_LSTM_SELFATTN, feature_dims, num_targets, kwargs)


@register_model
@_variant_signature(_LSTM)
def sun2020_lstm(feature_dims: Mapping[str, int], num_targets: int, **kwargs: Any) -> Sun2020Net:
    """Ablation "LSTM": 2 BiLSTM layers, no self-attention. ``kwargs`` override any argument."""
    return _build(_LSTM, feature_dims, num_targets, kwargs)


@register_model
@_variant_signature(_SELFATTN)
def sun2020_selfattn(feature_dims: Mapping[str, int], num_targets: int, **kwargs: Any) -> Sun2020Net:
    """Ablation "self-attention": 2 attention layers, no LSTM; the head reads width H.

    ``kwargs`` override any :class:`Sun2020Net` argument.
    """
    return _build(_SELFATTN, feature_dims, num_targets, kwargs)
