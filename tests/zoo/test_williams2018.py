"""Williams et al. 2018 early-fusion networks: layer sizes by hand, output range, masks, baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoo import create_model
from zoo._registry import list_models
from zoo.williams2018 import random_baseline

DIMS = {"glove_vectors": 300, "COVAREP": 74, "FACET 4.2": 35}
D, H, K = 409, 64, 6


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def lstm_params(d_in: int, h: int) -> int:
    """One direction of a PyTorch LSTM layer: 4 gates × (W_ih, W_hh, b_ih, b_hh)."""
    return 4 * h * (d_in + h) + 2 * 4 * h


def head_params(d_in: int, k: int) -> int:
    return (d_in * 100 + 100) + (100 * k + k)


def test_registered():
    assert {"williams2018_lstm", "williams2018_blstm", "williams2018_cnn"} <= set(list_models("williams2018_*"))


def test_parameter_counts_by_hand():
    bn = 2 * D
    lstm = create_model("williams2018_lstm", feature_dims=DIMS, num_targets=K)
    assert n_params(lstm) == bn + lstm_params(D, H) + head_params(H, K)
    blstm = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K)
    assert n_params(blstm) == bn + 2 * lstm_params(D, H) + head_params(2 * H, K)
    blstm2 = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, num_layers=2)
    assert n_params(blstm2) == bn + 2 * lstm_params(D, H) + 2 * lstm_params(2 * H, H) + head_params(2 * H, K)
    cnn = create_model("williams2018_cnn", feature_dims=DIMS, num_targets=K)
    assert n_params(cnn) == bn + (128 * D * 3 + 128) + head_params(128, K)
    cnn3 = create_model("williams2018_cnn", feature_dims=DIMS, num_targets=K, num_layers=3)
    assert n_params(cnn3) == bn + (128 * D * 3 + 128) + 2 * (128 * 128 * 3 + 128) + head_params(128, K)


def _batch(lengths, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    length = max(lengths)
    feats = {n: scale * torch.randn(len(lengths), length, d, generator=g) for n, d in DIMS.items()}
    mask = torch.zeros(len(lengths), length, dtype=torch.bool)
    for b, n in enumerate(lengths):
        mask[b, :n] = True
    return feats, mask


@pytest.mark.parametrize("name", ["williams2018_lstm", "williams2018_blstm", "williams2018_cnn"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_outputs_bounded_and_masks_respected(name, num_layers):
    torch.manual_seed(0)
    model = create_model(name, feature_dims=DIMS, num_targets=K, num_layers=num_layers).eval()
    feats, mask = _batch([7, 1, 4], scale=50.0)
    out = model(feats, mask)
    assert out.shape == (3, K) and (out >= 0).all() and (out <= 3).all()
    # padded steps do not matter
    noisy = {n: torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 1e3)) for n, x in feats.items()}
    torch.testing.assert_close(model(noisy, mask), out)
    # a segment alone (no padding) gives the same output as inside the padded batch
    alone = model({n: x[2:3, :4] for n, x in feats.items()}, mask[2:3, :4])
    torch.testing.assert_close(alone, out[2:3], rtol=1e-5, atol=1e-5)


def test_output_kinds():
    feats, mask = _batch([3, 2], scale=100.0)
    linear = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, output="linear").eval()
    clamp = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, output="clamp").eval()
    clamp.load_state_dict(linear.state_dict())
    torch.testing.assert_close(clamp(feats, mask), linear(feats, mask).clamp(0, 3))
    with pytest.raises(ValueError, match="output must be one of"):
        create_model("williams2018_cnn", feature_dims=DIMS, num_targets=K, output="tanh")


def test_train_mode_input_batchnorm_ignores_padding():
    torch.manual_seed(0)
    model = create_model("williams2018_lstm", feature_dims=DIMS, num_targets=K)
    feats, mask = _batch([5, 2])
    model(feats, mask)
    valid = torch.cat([feats[n] for n in DIMS], -1)[mask]
    expected_mean = 0.1 * valid.mean(0)  # BatchNorm's running mean after one update (momentum 0.1)
    torch.testing.assert_close(model.input_norm.bn.running_mean, expected_mean)


def test_random_baseline_draws_from_the_training_distribution():
    train = np.array([[0.0, 3.0], [0.0, 3.0], [1.0, 3.0], [2.0, 3.0]])
    preds = random_baseline(train, 4000, seed=1)
    assert preds.shape == (4000, 2)
    values, counts = np.unique(preds[:, 0], return_counts=True)
    assert values.tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(counts / 4000, [0.5, 0.25, 0.25], atol=0.03)
    assert (preds[:, 1] == 3.0).all()
    np.testing.assert_array_equal(preds, random_baseline(train, 4000, seed=1))
    uniform = random_baseline(train, 1000, seed=0, mode="uniform")
    assert uniform[:, 0].min() >= 0 and uniform[:, 0].max() <= 2 and uniform[:, 0].std() > 0.4


# --------------------------------------------------------------------------- trained vs random
@pytest.mark.slow
@pytest.mark.parametrize("name", ["williams2018_lstm", "williams2018_blstm", "williams2018_cnn"])
def test_brief_training_beats_the_random_baseline(name, tmp_path, zoo_cli):
    from datamodules import create_datamodule

    run = zoo_cli("fit", f"cmu_mosei/{name}", "trainer.max_epochs=12", f"output_dir={tmp_path}",
                  "trainer.enable_progress_bar=false")
    results = json.loads((run / "results.json").read_text())
    dm = create_datamodule("cmu_mosei")
    train = np.stack([s.targets for s in dm.raw_recordings("train")])
    test = np.stack([s.targets for s in dm.raw_recordings("test")])
    random_mae = np.abs(random_baseline(train, len(test), seed=0) - test).mean()
    zero_mae = np.abs(test).mean()  # "no emotion" everywhere: a model that learns nothing gets about this
    assert results["test/mae_mean"] < min(0.8 * random_mae, 0.95 * zero_mae), (results, random_mae, zero_mae)
