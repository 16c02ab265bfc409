"""Masked MSE/MAE losses and weight resolution against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.training.losses import MaskedRegressionLoss, build_loss, resolve_weights


def _np_loss(p, y, m, w, kind):
    out = 0.0
    for k in range(p.shape[-1]):
        err = (p[..., k] - y[..., k])[m]
        out += w[k] * (np.mean(err**2) if kind == "mse" else np.mean(np.abs(err)))
    return out


@pytest.mark.parametrize("kind", ["mse", "mae"])
def test_masked_loss_matches_numpy(kind):
    rng = np.random.default_rng(1)
    p, y = rng.normal(size=(3, 7, 2)), rng.normal(size=(3, 7, 2))
    m = rng.random((3, 7)) > 0.3
    p_garbage = p.copy()
    p_garbage[~m] = np.nan  # masked frames must not matter
    w = [0.7, 0.2]
    got = MaskedRegressionLoss(kind, w)(torch.tensor(p_garbage), torch.tensor(y), torch.tensor(m))
    assert got.item() == pytest.approx(_np_loss(p, y, m, w, kind), rel=1e-6)


def test_weights_from_mapping_and_errors():
    assert resolve_weights({"valence": 2.0}, ["arousal", "valence"]) == [0.0, 2.0]
    assert resolve_weights(None, ["a"]) is None
    with pytest.raises(ValueError, match="names \\['liking'\\]"):
        resolve_weights({"liking": 1.0}, ["arousal"])
    with pytest.raises(ValueError, match="2 values for 3 targets"):
        resolve_weights([1, 2], ["a", "b", "c"])
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("huber", ["a"])


def test_segment_level_outputs_average_per_target():
    p = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 9.0]])
    y = torch.zeros(3, 2)
    # per target: MAE (0+2+4)/3 = 2 and (1+3+9)/3 = 13/3; weights 1 and 0.5
    assert MaskedRegressionLoss("mae", [1.0, 0.5])(p, y).item() == pytest.approx(2 + 13 / 6)
    assert MaskedRegressionLoss("mse")(torch.tensor([1.0, 3.0]), torch.zeros(2)).item() == pytest.approx(5.0)
