"""Atmaja & Akagi (2020): 3-layer LSTM sizes and parameters, weighted CCC loss, fusion options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo import create_model
from zoo.losses import build_loss


def _lstm_params(d_in: int, h: int) -> int:
    # PyTorch LSTM: W_ih (4h × d), W_hh (4h × h), two biases (4h each)
    return 4 * h * d_in + 4 * h * h + 8 * h


def test_layer_sizes_dropout_and_parameter_count():
    net = create_model("atmaja2020_mtl_lstm", feature_dims={"audio": 30, "video": 10}, num_targets=3)
    assert [l.hidden_size for l in net.lstms] == [256, 128, 64]
    assert net.dropout.p == 0.4
    expected = _lstm_params(40, 256) + _lstm_params(256, 128) + _lstm_params(128, 64) + 3 * (64 + 1)
    assert sum(p.numel() for p in net.parameters()) == expected
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 5:] = False
    net.eval()
    y = net({"audio": torch.randn(2, 9, 30), "video": torch.randn(2, 9, 10)}, mask)
    assert y.shape == (2, 9, 3)
    assert torch.all(y[1, 5:] == 0)


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_mtl_weights_change_the_loss_as_computed_by_hand():
    rng = np.random.default_rng(1)
    gold = rng.normal(size=(1, 40, 3))
    pred = 0.6 * gold + rng.normal(size=(1, 40, 3)) * np.array([0.3, 0.8, 1.5])
    ccc = np.array([_ccc(pred[0, :, k], gold[0, :, k]) for k in range(3)])
    targets = ["arousal", "valence", "liking"]
    values = []
    for weights in ([1.0, 0.0, 0.0], [0.7, 0.2, 0.1], [0.7, 0.2, 1.0]):
        loss = build_loss("ccc", targets, weights)(torch.tensor(pred), torch.tensor(gold))
        expected = float(np.sum(np.array(weights) * (1 - ccc)))
        assert float(loss) == pytest.approx(expected, rel=1e-6)
        values.append(float(loss))
    assert len(set(np.round(values, 8))) == 3


def test_multistage_arguments_are_checked():
    with pytest.raises(ValueError, match="between 1 and 5"):
        create_model("atmaja2020_multistage_svr", feature_dims={}, num_targets=3, sources=["x"], n_stages=6)
    with pytest.raises(ValueError, match="sources"):
        create_model("atmaja2020_multistage_svr", feature_dims={}, num_targets=3)


def test_multistage_chain_improves_on_noisy_inputs():
    rng = np.random.default_rng(0)
    golds = [np.cumsum(rng.normal(size=(300, 2)), 0) / 10 for _ in range(4)]
    inputs = [np.concatenate([g + rng.normal(size=g.shape) * 0.5, g ** 2 + rng.normal(size=g.shape)], 1) for g in golds]
    est = create_model("atmaja2020_multistage_svr", feature_dims={}, num_targets=2, sources=["unused"],
                       n_stages=3, n_folds=4, frame_step=1)
    est.fit(inputs, golds)
    assert sorted(est.stage_scores_) == [1, 2, 3]
    assert all(np.all(np.isfinite(v)) for v in est.stage_scores_.values())
    assert est.stage_scores_[1].min() > 0.3
    assert len(est.cv_predictions_) == 4 and est.cv_predictions_[0].shape == (300, 2)
