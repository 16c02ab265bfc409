"""Chen et al. (2017): network shapes, single/multi-task variants, loss equivalence, SVR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo import create_model
from zoo.chen2017 import add_turn_context
from zoo.losses import build_loss
from zoo.postprocess import fit_postprocessor


def test_mtl_network_shapes_and_parameters():
    net = create_model("chen2017_lstm_mtl", feature_dims={"a": 6, "b": 4}, num_targets=2, hidden_size=5)
    x = {"a": torch.randn(3, 7, 6), "b": torch.randn(3, 7, 4)}
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 4:] = False
    net.eval()
    y = net(x, mask)
    assert y.shape == (3, 7, 2)
    # peephole LSTM (eq. 1): 4·H·(D + H + 1) + 2·H (forget and output peepholes); two heads H + 1 each
    expected = 4 * 5 * (10 + 5 + 1) + 2 * 5 + 2 * (5 + 1)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_single_task_variant_requires_one_target():
    assert create_model("chen2017_lstm", feature_dims={"a": 3}, num_targets=1, hidden_size=4)
    with pytest.raises(ValueError, match="single-task"):
        create_model("chen2017_lstm", feature_dims={"a": 3}, num_targets=2)
    with pytest.raises(ValueError, match="at least two"):
        create_model("chen2017_lstm_mtl", feature_dims={"a": 3}, num_targets=1)


def test_eq4_loss_is_half_of_weighted_mse():
    torch.manual_seed(0)
    pred, gold = torch.randn(1, 50, 2), torch.randn(1, 50, 2)
    alpha, beta = 0.7, 0.3
    T = 50
    paper = (alpha * (pred[..., 0] - gold[..., 0]) ** 2 + beta * (pred[..., 1] - gold[..., 1]) ** 2).sum() / (2 * T)
    ours = build_loss("mse", ["arousal", "valence"], [alpha, beta])(pred, gold, torch.ones(1, 50, dtype=torch.bool))
    torch.testing.assert_close(ours, 2 * paper)


def test_turn_context_is_total_turns_with_reference_in_centre():
    """§5.3: "the number of turns we concatenated together with the reference turn in the center"."""
    x = np.array([[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(add_turn_context(x, 1), x)
    np.testing.assert_array_equal(add_turn_context(x, 3), [[0, 1, 2], [1, 2, 3], [2, 3, 0]])
    five = add_turn_context(np.arange(1.0, 6.0)[:, None], 5)
    assert five.shape == (5, 5)
    np.testing.assert_array_equal(five[2], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(five[0], [0, 0, 1, 2, 3])
    for bad in (0, 2, 4, -1):
        with pytest.raises(ValueError, match="odd"):
            add_turn_context(x, bad)
    with pytest.raises(ValueError, match="odd"):
        create_model("chen2017_svr", feature_dims={"a": 1}, num_targets=1, level="turn", context=2)


def test_smoothing_by_averaging_matches_a_moving_average():
    """§5.2 "smoothed by simply averaging the predictions within a fixed window": the ``mean`` step."""
    rng = np.random.default_rng(1)
    t = np.arange(400) * 0.1
    gold = np.sin(t / 3)
    pred = gold + 0.5 * rng.normal(size=len(t))
    pp = fit_postprocessor([pred[:, None]], [gold[:, None]], ["arousal"], 0.1, steps=["mean"])
    w = pp.targets["arousal"].mean
    assert w > 1 and w % 2 == 1 and pp.targets["arousal"].median == 0
    padded = np.concatenate([np.full(w // 2, pred[0]), pred, np.full(w // 2, pred[-1])])
    expected = np.convolve(padded, np.ones(w) / w, mode="valid")
    np.testing.assert_allclose(pp.apply(pred[:, None], ["arousal"])[:, 0], expected, atol=1e-6)
    assert "moving average" in pp.describe()


def test_svr_fits_linear_signal():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(200, 3)) for _ in range(3)]
    ys = [np.stack([x[:, 0], -x[:, 1]], 1) for x in xs]
    est = create_model("chen2017_svr", feature_dims={"a": 3}, num_targets=2, frame_step=1, C=1.0)
    est.fit(xs, ys)
    pred = est.predict(xs[:1])[0]
    assert np.corrcoef(pred[:, 0], ys[0][:, 0])[0, 1] > 0.99
    assert np.corrcoef(pred[:, 1], ys[0][:, 1])[0, 1] > 0.99


def test_rmse_and_pcc_metrics_over_valid_frames_match_numpy():
    """§5.1: besides CCC the paper reports PCC and RMSE over the partition (Tables 7-9)."""
    from zoo.metrics import build_metric

    torch.manual_seed(2)
    pred, gold = torch.randn(3, 20, 2), torch.randn(3, 20, 2)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 12:] = False
    mask[2, 5:] = False
    p, g = pred[mask].numpy().astype(np.float64), gold[mask].numpy().astype(np.float64)
    rmse, pcc = build_metric("rmse", 2), build_metric("pearson", 2)
    for b in range(3):  # streamed one recording at a time
        rmse.update(pred[b : b + 1], gold[b : b + 1], mask[b : b + 1])
        pcc.update(pred[b : b + 1], gold[b : b + 1], mask[b : b + 1])
    np.testing.assert_allclose(rmse.compute().numpy(), np.sqrt(((p - g) ** 2).mean(0)), rtol=1e-5)
    expected = [np.corrcoef(p[:, k], g[:, k])[0, 1] for k in range(2)]
    np.testing.assert_allclose(pcc.compute().numpy(), expected, rtol=1e-4)
