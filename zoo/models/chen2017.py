"""Chen et al. (2017): multimodal multi-task peephole LSTM and SVR baselines on SEWA (AVEC 2017).

Paper:
    Shizhe Chen, Qin Jin, Jinming Zhao, Shuai Wang. "Multimodal Multi-task Learning for
    Dimensional and Continuous Emotion Recognition". In Proceedings of the 7th Annual Workshop
    on Audio/Visual Emotion Challenge (AVEC '17, held with ACM Multimedia 2017), pp. 19-26.
    https://doi.org/10.1145/3133944.3133949

Code:
    No official code release is known to us; this is a re-implementation from the paper's
    description.

BibTeX::

    @inproceedings{chen2017multimodal,
      title     = {Multimodal Multi-task Learning for Dimensional and Continuous Emotion
                   Recognition},
      author    = {Chen, Shizhe and Jin, Qin and Zhao, Jinming and Wang, Shuai},
      booktitle = {Proceedings of the 7th Annual Workshop on Audio/Visual Emotion Challenge},
      series    = {AVEC '17},
      pages     = {19--26},
      year      = {2017},
      publisher = {Association for Computing Machinery},
      doi       = {10.1145/3133944.3133949},
    }

Paper ↔ code:

* temporal model — one peephole LSTM layer (eq. 1, :class:`zoo.layers.peephole_lstm.PeepholeLSTM`:
  forget and output gates peek at ``c_{t-1}``, the input gate does not), dropout 0.5, a linear regression head per target on the
  shared hidden state: :func:`chen2017_lstm` (one target) and :func:`chen2017_lstm_mtl`
  (arousal and valence heads on one LSTM).
* loss eq. (4) ``L = 1/(2T) Σ_t α(ŷ_a − y_a)² + β(ŷ_v − y_v)²`` is the recipe's
  ``loss: {name: mse, weights: [α, β]}``: :class:`zoo.training.losses.MaskedRegressionLoss` computes
  ``Σ_k w_k (1/T) Σ_t (ŷ_k − y_k)²`` = ``2 L``. The constant factor 2 only rescales the gradient,
  which Adam's update is invariant to (up to its ε).
* training — Adam, lr 0.01 halved every 50 epochs (``scheduler: step``), at most 200 epochs,
  truncated BPTT of 100 steps: here windows of 100 frames (``win_len=100, hop_len=100``).
  Lightning 2 has no truncated-BPTT hook, so the hidden state is *not* carried from one window
  to the next (each window starts from zeros); the gradient is truncated at 100 steps as in the
  paper. Validation/test run over whole recordings.
* inputs — the LSTMs read the short-time features of §3 (IS10 LLDs at 100 ms, soundnet conv5,
  VGGFace conv5 / DenseFace, German word vectors repeated over each turn), early-fused by
  concatenation; interlocutor strategies (Fig. 2) on the acoustic sets and the 1 s text delay are
  datamodule options (``interlocutor``, ``interlocutor_features``, ``feature_delay``), see
  :mod:`zoo.data.corpora.sewa.reader`.
* non-temporal baseline — SVR on the long-time (6 s) bag-of-words features per frame (Table 2),
  and on turn-level text features with ``context`` turns concatenated, the reference turn in the
  centre (Table 3): :func:`chen2017_svr` (an estimator run by :mod:`zoo.estimators.run`).
* smoothing by averaging (§5.2) is the ``mean`` step of the shared post-processing, fitted on devel
  (``postprocess`` block of a recipe, :mod:`zoo.training.postprocess`); scale/shift (§5.5) its
  ``centre``/``scale`` steps.
* the paper-to-code fidelity table is ``docs/models/chen2017.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from zoo.estimators.svr import SVRBank
from zoo.layers.peephole_lstm import PeepholeLSTM
from zoo.models.registry import register_model

__all__ = ["Chen2017Net", "Chen2017SVR", "add_turn_context", "chen2017_lstm", "chen2017_lstm_mtl", "chen2017_svr"]


def _width(dim: int | Sequence[int]) -> int:
    return int(np.prod(dim)) if not isinstance(dim, int) else int(dim)


class Chen2017Net(nn.Module):
    """Early fusion → peephole LSTM → dropout → one linear head per target, per frame.

    Args:
        feature_dims: feature set → width, concatenated per frame in this order.
        num_targets: number of heads K.
        hidden_size: LSTM cells (the paper explores 200–500).
        dropout: dropout on the LSTM output (0.5 in the paper).
        output_peephole: ``"previous"`` (paper eq. 1) or ``"current"`` (Gers et al.).
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int | Sequence[int]],
        num_targets: int,
        hidden_size: int = 300,
        dropout: float = 0.5,
        output_peephole: str = "previous",
    ) -> None:
        super().__init__()
        if not feature_dims:
            raise ValueError("Chen2017Net: feature_dims must name at least one feature set")
        if num_targets < 1 or hidden_size < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"Chen2017Net: invalid num_targets={num_targets}, hidden_size={hidden_size}, dropout={dropout}"
            )
        self.feature_names = list(feature_dims)
        input_size = sum(_width(d) for d in feature_dims.values())
        self.lstm = PeepholeLSTM(input_size, hidden_size, output_peephole)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, 1) for _ in range(num_targets))

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``{name: (B, T, D)}``, ``(B, T)`` mask → ``(B, T, K)``."""
        x = torch.cat([features[n].flatten(2).float() for n in self.feature_names], dim=-1)
        h, _ = self.lstm(x, mask)
        h = self.dropout(h)
        return torch.cat([head(h) for head in self.heads], dim=-1)


@register_model
def chen2017_lstm(
    feature_dims: Mapping[str, Any],
    num_targets: int,
    hidden_size: int = 300,
    dropout: float = 0.5,
    output_peephole: str = "previous",
) -> Chen2017Net:
    """Single-task peephole LSTM (one target)."""
    if num_targets != 1:
        raise ValueError(
            f"chen2017_lstm is single-task: give one target (got {num_targets}); use chen2017_lstm_mtl "
            "for several targets on a shared LSTM"
        )
    return Chen2017Net(feature_dims, num_targets, hidden_size, dropout, output_peephole)


@register_model
def chen2017_lstm_mtl(
    feature_dims: Mapping[str, Any],
    num_targets: int,
    hidden_size: int = 300,
    dropout: float = 0.5,
    output_peephole: str = "previous",
) -> Chen2017Net:
    """Multi-task peephole LSTM: one head per target (arousal and valence in the paper) on a shared state."""
    if num_targets < 2:
        raise ValueError(f"chen2017_lstm_mtl needs at least two targets, got {num_targets}")
    return Chen2017Net(feature_dims, num_targets, hidden_size, dropout, output_peephole)


def add_turn_context(turns: np.ndarray, context: int) -> np.ndarray:
    """Concatenate ``context`` turns with the reference turn in the centre (§5.3, Table 3).

    ``context`` is the paper's: the *total* number of concatenated turns (1, 3, 5, 7 in
    Table 3), so it must be odd; ``c = (context − 1) / 2`` turns are taken on each side.
    ``(n, D)`` → ``(n, context·D)`` in the order ``[x_{i-c}, …, x_i, …, x_{i+c}]``; turns beyond
    the recording's ends are zeros. ``context = 1`` returns the turns unchanged.

    Raises:
        ValueError: ``context`` is not a positive odd number.
    """
    if context < 1 or context % 2 == 0:
        raise ValueError(
            f"context is the total number of turns with the reference turn in the centre "
            f"(Chen et al. 2017, Table 3: 1, 3, 5, 7); it must be a positive odd number, got {context}"
        )
    half = (context - 1) // 2
    if half == 0:
        return turns
    n, d = turns.shape
    padded = np.concatenate([np.zeros((half, d), turns.dtype), turns, np.zeros((half, d), turns.dtype)])
    return np.concatenate([padded[j : j + n] for j in range(context)], axis=1)


class Chen2017SVR:
    """Non-temporal SVR baseline (estimator protocol of :mod:`zoo.estimators.run`).

    Args:
        level: ``"frame"`` (one sample per label frame of the long-time xbow features) or
            ``"turn"`` (one sample per subject turn, features averaged over the turn, Gaussian
            turn labels; predictions are spread back over the frames).
        context: turn level: total number of concatenated turns, reference turn in the centre
            (odd; Table 3 uses 1, 3, 5, 7).
        frame_step: frame level: use every ``frame_step``-th training frame (the 6 s xbow
            windows overlap heavily, so neighbouring frames are near duplicates).
        kernel, C, epsilon, gamma: of :class:`~zoo.estimators.svr.SVRBank`.
        seed: LinearSVR's random state.
    """

    fit_stage = "train"

    def __init__(
        self,
        level: str = "frame",
        context: int = 1,
        frame_step: int = 5,
        kernel: str = "linear",
        C: float = 0.01,
        epsilon: float = 0.0,
        gamma: str | float = "scale",
        seed: int = 0,
    ) -> None:
        if level not in ("frame", "turn"):
            raise ValueError(f"level must be 'frame' or 'turn', got {level!r}")
        self.input_level, self.context, self.frame_step = level, int(context), max(1, int(frame_step))
        add_turn_context(np.zeros((1, 1)), self.context)  # validates context now, not at fit time
        self.bank = SVRBank(kernel=kernel, C=C, epsilon=epsilon, gamma=gamma, seed=seed)

    def _transform(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.input_level == "turn":
            return [add_turn_context(np.asarray(x), self.context) for x in inputs]
        return [np.asarray(x) for x in inputs]

    def fit(self, inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Chen2017SVR:
        xs, step = self._transform(inputs), self.frame_step if self.input_level == "frame" else 1
        x = np.concatenate([v[::step] for v in xs])
        y = np.concatenate([np.asarray(t)[::step] for t in targets])
        self.bank.fit(x, y)
        return self

    def predict(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [
            self.bank.predict(x) if len(x) else np.zeros((0, len(self.bank.pipelines))) for x in self._transform(inputs)
        ]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return self.bank.get_state()

    def set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self.bank = SVRBank.from_state(arrays, meta)


@register_model(estimator=True)
def chen2017_svr(feature_dims: Mapping[str, Any], num_targets: int, **kwargs: Any) -> Chen2017SVR:
    """SVR baseline on long-time features (``level="frame"``) or turn-level text (``level="turn"``)."""
    return Chen2017SVR(**kwargs)
