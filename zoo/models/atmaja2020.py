"""Atmaja & Akagi (2020): multitask LSTM with weighted CCC loss and multistage SVR fusion.

Paper:
    Bagus Tris Atmaja, Masato Akagi. "Multitask Learning and Multistage Fusion for Dimensional
    Audiovisual Emotion Recognition". In Proceedings of the IEEE International Conference on
    Acoustics, Speech and Signal Processing (ICASSP 2020), pp. 4482-4486.
    https://doi.org/10.1109/ICASSP40776.2020.9052916 — preprint https://arxiv.org/abs/2002.11312

Code:
    The first author publishes code on GitHub (github.com/bagustris); we found no repository
    for this paper in our search index, so this is a re-implementation from the paper.

BibTeX::

    @inproceedings{atmaja2020multitask,
      title     = {Multitask Learning and Multistage Fusion for Dimensional Audiovisual Emotion
                   Recognition},
      author    = {Atmaja, Bagus Tris and Akagi, Masato},
      booktitle = {ICASSP 2020 - 2020 IEEE International Conference on Acoustics, Speech and
                   Signal Processing (ICASSP)},
      pages     = {4482--4486},
      year      = {2020},
      doi       = {10.1109/ICASSP40776.2020.9052916},
    }

Paper ↔ code (the full fidelity table, with tests and deviations: docs/models/atmaja2020.md):

* network (Sec. 4.1, Fig. 1) — three stacked unidirectional LSTM layers of 256, 128 and 64
  units, a dropout layer (0.4) after each, and three dense regression outputs (arousal,
  valence, liking) per frame: :class:`Atmaja2020Net`, registered as :func:`atmaja2020_mtl_lstm`.
* loss (Eqs. (2), (3)) — ``CCCL_tot = α(1 − CCC_a) + β(1 − CCC_v) + γ(1 − CCC_l)`` =
  :class:`zoo.ccc.CCCLoss` with ``weights=[α, β, γ]`` (the recipe's ``loss.weights``). STL1–3:
  weight 1 on one target, 0 on the others (Table 2 caption), the three outputs kept; MTL1 (the
  approach of [4], Sec. 2 and 4.1): ``γ = 1 − (α + β)`` with [4]'s best α = 0.7, β = 0.3, so
  ``[0.7, 0.3, 0.0]``; MTL2 (the paper's): free weights ``[0.7, 0.2, 1.0]`` (Sec. 5, 7).
* training (Sec. 4.1, Sec. 3) — RMSprop lr 5e-4 (Keras' ρ = 0.9, ε = 1e-7: the paper used Keras),
  batch 34, 50 epochs, labels shifted by 0.1 s (``label_shift: 0.1``; predictions stay on the
  label timeline), whole sequences padded (the paper pads to 1768 frames; we pad per batch and
  mask the padding out of loss and metrics).
* input (Table 1, Table 2) — the AVEC 2019 CES baseline feature sets, one folder each
  (``data.args.features``); Table 2's STL/MTL runs use the FAUs (``visual_features``); a
  bimodal run concatenates two sets per frame (Sec. 3).
* multistage fusion (Sec. 4.2, Fig. 2, Sec. 6) — :class:`Atmaja2020MultistageSVR`: stage 1
  fits an SVR per target on the devel predictions of several unimodal/bimodal runs (their
  exported prediction files; the paper fuses its 11 best); every further stage (up to 5) fits
  the same kind of SVR on the previous stage's output. SVR = scikit-learn ``SVR()`` defaults
  (the paper names scikit-learn and no parameter). Fitted on devel; the devel score is
  in-sample as in the paper (``n_folds=0``) or cross-validated over recordings (``n_folds≥2``);
  the chain fitted on all of devel is applied to test. Test labels are never used for fitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.estimators.svr import SVRBank, ccc_per_target
from zoo.layers import lengths_from_mask
from zoo.models.registry import register_model

__all__ = ["Atmaja2020Net", "Atmaja2020MultistageSVR", "atmaja2020_mtl_lstm", "atmaja2020_multistage_svr"]

LAYER_SIZES = (256, 128, 64)


class Atmaja2020Net(nn.Module):
    """Early fusion → LSTM(256) → Dropout → LSTM(128) → Dropout → LSTM(64) → Dropout → K heads.

    Args:
        feature_dims: feature set → width, concatenated per frame.
        num_targets: regression heads (3 in the paper).
        hidden_sizes: LSTM widths (paper: 256, 128, 64).
        dropout: after every LSTM layer (paper: 0.4).
    """

    def __init__(
        self,
        feature_dims: Mapping[str, int | Sequence[int]],
        num_targets: int,
        hidden_sizes: Sequence[int] = LAYER_SIZES,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        if not feature_dims or num_targets < 1 or not hidden_sizes or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"Atmaja2020Net: invalid feature_dims={dict(feature_dims)}, num_targets={num_targets}, "
                f"hidden_sizes={list(hidden_sizes)}, dropout={dropout}"
            )
        self.feature_names = list(feature_dims)
        size = sum(int(np.prod(d)) for d in feature_dims.values())
        self.lstms = nn.ModuleList()
        for hidden in hidden_sizes:
            self.lstms.append(nn.LSTM(size, int(hidden), batch_first=True))
            size = int(hidden)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(nn.Linear(size, 1) for _ in range(num_targets))

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``{name: (B, T, D)}``, ``(B, T)`` mask → ``(B, T, K)`` (zero at padded frames)."""
        x = torch.cat([features[n].flatten(2).float() for n in self.feature_names], dim=-1)
        lengths = lengths_from_mask(mask).cpu()
        for lstm in self.lstms:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = lstm(packed)
            x, _ = pad_packed_sequence(out, batch_first=True, total_length=mask.shape[1])
            x = self.dropout(x)
        return torch.cat([head(x) for head in self.heads], dim=-1) * mask.unsqueeze(-1)


@register_model
def atmaja2020_mtl_lstm(
    feature_dims: Mapping[str, Any], num_targets: int, hidden_sizes: Sequence[int] = LAYER_SIZES, dropout: float = 0.4
) -> Atmaja2020Net:
    """The paper's 3-layer LSTM (256/128/64, dropout 0.4) with one head per target."""
    return Atmaja2020Net(feature_dims, num_targets, tuple(hidden_sizes), dropout)


class Atmaja2020MultistageSVR:
    """Multistage SVR late fusion (estimator protocol of :mod:`zoo.estimators.run`).

    Args:
        sources: run folders whose exported devel/test predictions are the stage-1 inputs.
        n_stages: 1–5 (Sec. 6: "We limited this multistage multimodal fusion to 5 repetitions";
            Fig. 3 improves up to 5, so Table 3's multistage row is read as 5 stages).
        stage_input: ``"previous"`` (stage s sees stage s−1's K outputs, Fig. 2: result #3 →
            SVR → result #4) or ``"previous+inputs"`` (… and the stage-1 inputs).
        n_folds: ``0``/``1``: fit on all devel recordings and score devel in-sample, as the paper
            reports (Table 3 is a development-set score of a fusion fitted on devel);
            ``k ≥ 2``: an honest devel score by k-fold cross-validation over devel recordings.
        frame_step: fit on every ``frame_step``-th frame (1 = all, the paper; larger is faster).
        kernel, C, epsilon, gamma: the SVR of :class:`~zoo.estimators.svr.SVRBank`; defaults are
            scikit-learn's ``SVR()`` defaults (RBF, C=1, ε=0.1, gamma="scale"), since the paper
            names scikit-learn [21] and no parameter.
        standardize: z-score the SVR inputs first (the paper mentions no scaling: ``False``).
    """

    input_level = "sources"
    fit_stage = "val"

    def __init__(
        self,
        sources: Sequence[str] = (),
        n_stages: int = 5,
        stage_input: str = "previous",
        n_folds: int = 0,
        frame_step: int = 1,
        kernel: str = "rbf",
        C: float = 1.0,
        epsilon: float = 0.1,
        gamma: str | float = "scale",
        standardize: bool = False,
    ) -> None:
        if not 1 <= int(n_stages) <= 5:
            raise ValueError(f"n_stages must be between 1 and 5, got {n_stages}")
        if stage_input not in ("previous", "previous+inputs"):
            raise ValueError(f"stage_input must be 'previous' or 'previous+inputs', got {stage_input!r}")
        if not sources:
            raise ValueError("atmaja2020_multistage_svr needs model.args.sources=[run_dir, ...]")
        self.sources = [str(s) for s in sources]
        self.n_stages, self.stage_input = int(n_stages), stage_input
        self.n_folds, self.frame_step = int(n_folds), max(1, int(frame_step))
        self.svr_args = {"kernel": kernel, "C": C, "epsilon": epsilon, "gamma": gamma, "standardize": bool(standardize)}
        self.stages: list[SVRBank] = []
        self.cv_predictions_: list[np.ndarray] | None = None
        self.stage_scores_: dict[int, np.ndarray] = {}

    def _chain_fit(self, x: np.ndarray, y: np.ndarray) -> list[SVRBank]:
        stages, inp = [], x
        for _ in range(self.n_stages):
            bank = SVRBank(**self.svr_args).fit(inp[:: self.frame_step], y[:: self.frame_step])
            stages.append(bank)
            out = bank.predict(inp)
            inp = out if self.stage_input == "previous" else np.concatenate([out, x], 1)
        return stages

    def _chain_predict(self, stages: Sequence[SVRBank], x: np.ndarray) -> list[np.ndarray]:
        outs, inp = [], x
        for bank in stages:
            out = bank.predict(inp)
            outs.append(out)
            inp = out if self.stage_input == "previous" else np.concatenate([out, x], 1)
        return outs

    def fit(self, inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Atmaja2020MultistageSVR:
        """Cross-validated per-stage scores over recordings, then the final chain on all of them."""
        n_rec = len(inputs)
        folds = min(self.n_folds, n_rec)
        if folds >= 2:
            fold_of = np.arange(n_rec) % folds
            per_stage: list[list[np.ndarray | None]] = [[None] * n_rec for _ in range(self.n_stages)]
            for f in range(folds):
                train = [i for i in range(n_rec) if fold_of[i] != f]
                chain = self._chain_fit(
                    np.concatenate([inputs[i] for i in train]), np.concatenate([targets[i] for i in train])
                )
                for i in np.flatnonzero(fold_of == f):
                    for s, out in enumerate(self._chain_predict(chain, inputs[i])):
                        per_stage[s][i] = out
            self.stage_scores_ = {s + 1: ccc_per_target(per_stage[s], targets) for s in range(self.n_stages)}
            self.cv_predictions_ = per_stage[-1]
        self.stages = self._chain_fit(np.concatenate(inputs), np.concatenate(targets))
        return self

    def predict(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._chain_predict(self.stages, x)[-1] for x in inputs]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = {}, {"stages": []}
        for s, bank in enumerate(self.stages):
            a, m = bank.get_state(prefix=f"s{s}.")
            arrays.update(a)
            meta["stages"].append(m)
        return arrays, meta

    def set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self.stages = [SVRBank.from_state(arrays, m, prefix=f"s{s}.") for s, m in enumerate(meta["stages"])]
        self.cv_predictions_, self.stage_scores_ = None, {}


@register_model(estimator=True)
def atmaja2020_multistage_svr(
    feature_dims: Mapping[str, Any], num_targets: int, **kwargs: Any
) -> Atmaja2020MultistageSVR:
    """Multistage SVR fusion of earlier runs' predictions (``sources``), fitted on devel."""
    return Atmaja2020MultistageSVR(**kwargs)
