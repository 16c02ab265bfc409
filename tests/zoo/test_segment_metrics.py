"""Segment-level metrics (mae, acc2, acc4, pearson) against NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.training.metrics import METRICS, build_metric

RNG = np.random.default_rng(0)
N, K = 200, 6
TARGET = np.round(RNG.choice([0, 0, 0, 1, 2, 3], size=(N, K)) + RNG.uniform(-0.4, 0.4, (N, K)), 2).clip(0, 3)
PREDS = (TARGET + RNG.normal(0, 0.6, (N, K))).clip(0, 3)


def np_round(x):
    return np.clip(np.floor(x + 0.5), 0, 3)


def reference(name, p, t):
    if name == "mae":
        return np.abs(p - t).mean(0)
    if name == "acc2":
        return ((np_round(p) > 0) == (np_round(t) > 0)).mean(0)
    if name == "acc4":
        return (np_round(p) == np_round(t)).mean(0)
    if name == "pearson":
        pc, tc = p - p.mean(0), t - t.mean(0)
        return (pc * tc).sum(0) / np.sqrt((pc**2).sum(0) * (tc**2).sum(0))
    raise KeyError(name)


@pytest.mark.parametrize("name", ["mae", "acc2", "acc4", "pearson"])
def test_streamed_segment_metric_equals_numpy(name):
    metric = build_metric(name, K)
    for chunk in np.array_split(np.arange(N), 7):  # uneven batches
        metric.update(torch.tensor(PREDS[chunk], dtype=torch.float32), torch.tensor(TARGET[chunk], dtype=torch.float32))
    value = metric.compute()
    assert value.shape == (K,)
    np.testing.assert_allclose(value.double().numpy(), reference(name, PREDS, TARGET), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mae", "acc2", "acc4", "pearson"])
def test_frame_level_inputs_use_the_mask(name):
    preds, target = PREDS[:60].reshape(3, 20, K), TARGET[:60].reshape(3, 20, K)
    mask = np.zeros((3, 20), bool)
    mask[0, :20], mask[1, :5], mask[2, :11] = True, True, True
    metric = build_metric(name, K)
    metric.update(
        torch.tensor(preds, dtype=torch.float32), torch.tensor(target, dtype=torch.float32), torch.tensor(mask)
    )
    np.testing.assert_allclose(
        metric.compute().double().numpy(), reference(name, preds[mask], target[mask]), rtol=1e-4, atol=1e-5
    )


def test_single_target_and_rounding_edges():
    assert "ccc" in METRICS  # the existing entry stays
    acc4 = build_metric("acc4", 1)
    # 0.5 rounds up to 1, 1.49 to 1, 2.5 to 3, 3.7 clips to 3
    acc4.update(torch.tensor([[0.5], [1.49], [2.5], [3.7]]), torch.tensor([[1.0], [1.0], [3.0], [3.0]]))
    assert acc4.compute().reshape(-1).tolist() == [1.0]  # torchmetrics squeezes K=1
    acc2 = build_metric("acc2", 1)
    acc2.update(torch.tensor([[0.49], [0.5]]), torch.tensor([[0.0], [0.0]]))
    assert acc2.compute().reshape(-1).tolist() == [0.5]
    pearson = build_metric("pearson", 1)
    pearson.update(torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [4.0], [7.0]]))
    np.testing.assert_allclose(
        pearson.compute().reshape(-1).numpy(), [np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1]], rtol=1e-5
    )


def test_segment_inputs_take_no_mask():
    metric = build_metric("mae", K)
    with pytest.raises(ValueError, match="take no mask"):
        metric.update(torch.zeros(4, K), torch.zeros(4, K), torch.ones(4, 3, dtype=torch.bool))


def test_acc2_and_acc4_agree_exactly_when_no_present_label_is_misgraded():
    """acc4 ≤ acc2 always; they differ only on segments whose presence is right but whose rounded
    intensity is wrong (label 2, prediction 1). A model whose predictions of a rare emotion stay
    below 0.5 wherever the label is ≥ 1.5 gets acc2 == acc4 (as in Williams et al.'s Table 5 for
    five of six emotions): the equality comes from the predictions, not from the metric."""
    labels = torch.tensor([[0.0], [2.0], [1.0], [3.0]])
    misgraded = torch.tensor([[0.2], [1.2], [1.1], [2.9]])  # segment 2: present, but class 1 for 2
    acc2, acc4 = build_metric("acc2", 1), build_metric("acc4", 1)
    acc2.update(misgraded, labels)
    acc4.update(misgraded, labels)
    assert acc2.compute().item() == 1.0 and acc4.compute().item() == 0.75
    collapsed = torch.tensor([[0.1], [0.3], [0.9], [0.2]])  # rare emotion predicted near 0
    acc2, acc4 = build_metric("acc2", 1), build_metric("acc4", 1)
    acc2.update(collapsed, labels)
    acc4.update(collapsed, labels)
    assert acc2.compute().item() == acc4.compute().item() == 0.5
