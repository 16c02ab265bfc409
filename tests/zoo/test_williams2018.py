"""Williams et al. 2018 early-fusion networks: Keras equivalence by hand, output range, masks, §5.1 baseline."""

from __future__ import annotations

import json
import re
from itertools import combinations

import numpy as np
import pytest
import torch
from torch import nn

from zoo import create_model
from zoo.models.registry import list_models
from zoo.models.williams2018 import INTENSITY_GRID, random_baseline, williams2018_random_predictions

DIMS = {"glove_vectors": 300, "COVAREP": 74, "FACET 4.2": 35}
D, H, K = 409, 64, 6


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- Keras, by hand
# Layer sequences written down from the authors' release (github.com/rhoposit/MultimodalDNN):
# emotion_recognition.py (BLSTM, the MOSEI emotion system) and MOSI_early_fusion_{lstm,cnn}.py (the
# same early-fusion stacks; their output layer is replaced by the emotion script's Dense(6, linear)).
def keras_lstm(d_in: int, units: int) -> int:
    """Keras 2 LSTM: kernel (in, 4u), recurrent kernel (u, 4u), one bias (4u)."""
    return 4 * (units * (d_in + units) + units)


def keras_dense(d_in: int, units: int) -> int:
    return d_in * units + units


def keras_conv1d(d_in: int, filters: int, kernel: int) -> int:
    return kernel * d_in * filters + filters


def keras_rnn_stack(d: int, layers: int, bidirectional: bool, dropout: float) -> list[tuple]:
    """The release's stack: BN, [(Bi)LSTM(64) → Dropout] × layers, Dense(100, relu), Dropout, Dense(6, linear)."""
    dirs = 2 if bidirectional else 1
    seq: list[tuple] = [("BatchNormalization", 2 * d, 2 * d)]  # (trainable γ, β; non-trainable moving mean, var)
    d_in = d
    for _ in range(layers):
        seq += [("LSTM", dirs, dirs * keras_lstm(d_in, H)), ("Dropout", dropout)]
        d_in = dirs * H
    seq += [("Dense", "relu", keras_dense(d_in, 100)), ("Dropout", dropout), ("Dense", "linear", keras_dense(100, K))]
    return seq


def keras_cnn_stack(d: int, layers: int, dropout: float, maxlen: int) -> list[tuple]:
    """BN, [Conv1D(128, 3, relu) → MaxPooling1D(2)] × layers, Flatten, Dropout, Dense(100, relu), Dense(6)."""
    seq: list[tuple] = [("BatchNormalization", 2 * d, 2 * d)]
    d_in, length = d, maxlen
    for _ in range(layers):
        seq += [("Conv1D", "relu", keras_conv1d(d_in, 128, 3)), ("MaxPooling1D", 2)]
        d_in, length = 128, (length - 2) // 2  # 'valid' convolution, then pooling
    seq += [
        ("Flatten", 128 * length),
        ("Dropout", dropout),
        ("Dense", "relu", keras_dense(128 * length, 100)),
        ("Dense", "linear", keras_dense(100, K)),
    ]
    return seq


def our_stack(model: nn.Module) -> list[tuple]:
    """Our model's layers in forward order, in the same notation (PyTorch biases counted as they are)."""
    bn = model.input_norm.bn
    seq: list[tuple] = [
        ("BatchNormalization", bn.weight.numel() + bn.bias.numel(), bn.running_mean.numel() + bn.running_var.numel())
    ]
    if hasattr(model, "rnn"):
        rnn = model.rnn
        dirs = 2 if rnn.bidirectional else 1
        for layer in range(rnn.num_layers):
            count = sum(p.numel() for n, p in rnn.named_parameters() if re.search(rf"_l{layer}(_reverse)?$", n))
            seq.append(("LSTM", dirs, count))
            if layer < rnn.num_layers - 1:
                seq.append(("Dropout", rnn.dropout))
    else:
        for conv in model.convs:
            seq += [("Conv1D", "relu", sum(p.numel() for p in conv.parameters())), ("MaxPooling1D", model.pool_size)]
        seq.append(("GlobalMaxPooling1D", model.convs[-1].out_channels))
    modules = list(model.head)
    for i, m in enumerate(modules):
        if isinstance(m, nn.Dropout):
            seq.append(("Dropout", m.p))
        elif isinstance(m, nn.Linear):
            relu = i + 1 < len(modules) and isinstance(modules[i + 1], nn.ReLU)
            seq.append(("Dense", "relu" if relu else model.output.kind, m.weight.numel() + m.bias.numel()))
    return seq


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_stacks_match_the_release_layer_by_layer(layers, bidirectional):
    name = "williams2018_blstm" if bidirectional else "williams2018_lstm"
    model = create_model(name, feature_dims=DIMS, num_targets=K, num_layers=layers, dropout=0.1, output="linear")
    keras, ours = keras_rnn_stack(D, layers, bidirectional, 0.1), our_stack(model)
    assert [layer[:2] for layer in ours] == [layer[:2] for layer in keras]  # layer types and order
    dirs = 2 if bidirectional else 1
    for k_layer, o_layer in zip(keras, ours):
        if k_layer[0] == "LSTM":
            # PyTorch keeps two bias vectors (b_ih, b_hh) where Keras has one: 4·H more per direction
            assert o_layer[2] == k_layer[2] + dirs * 4 * H
        else:
            assert o_layer == k_layer
    assert n_params(model) == sum(x[2] for x in keras if x[0] in ("LSTM", "Dense")) + 2 * D + layers * dirs * 4 * H


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_cnn_stack_matches_the_release_up_to_the_flatten(layers):
    maxlen = 30
    model = create_model(
        "williams2018_cnn", feature_dims=DIMS, num_targets=K, num_layers=layers, dropout=0.2, output="linear"
    )
    keras, ours = keras_cnn_stack(D, layers, 0.2, maxlen), our_stack(model)
    n_conv = 1 + 2 * layers
    assert ours[:n_conv] == keras[:n_conv]  # BN, then Conv1D(128, 3, relu) → MaxPooling1D(2) blocks, same counts
    # Flatten (needs a fixed length) → a masked global max over time: 128 features instead of 128·L'
    assert keras[n_conv][0] == "Flatten" and ours[n_conv] == ("GlobalMaxPooling1D", 128)
    assert ours[n_conv + 1 :] == [
        ("Dropout", 0.2),
        ("Dense", "relu", keras_dense(128, 100)),
        ("Dense", "linear", keras_dense(100, K)),
    ]
    assert [x[:2] for x in keras[n_conv + 1 :]] == [x[:2] for x in ours[n_conv + 1 :]]


def test_fc_layers_of_section_4_4_add_dropout_separated_dense_layers():
    model = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, fc_layers=3, dropout=0.1)
    head = [x for x in our_stack(model) if x[0] in ("Dense", "Dropout")]
    assert head == [
        ("Dropout", 0.1),
        ("Dense", "relu", keras_dense(128, 100)),
        ("Dropout", 0.1),
        ("Dense", "relu", keras_dense(100, 100)),
        ("Dropout", 0.1),
        ("Dense", "relu", keras_dense(100, 100)),
        ("Dropout", 0.1),
        ("Dense", "bounded", keras_dense(100, K)),
    ]
    cnn = create_model("williams2018_cnn", feature_dims=DIMS, num_targets=K, fc_layers=2, dropout=0.2)
    assert [x[0] for x in our_stack(cnn)[-5:]] == ["Dropout", "Dense", "Dropout", "Dense", "Dense"]
    with pytest.raises(ValueError, match="fc_layers must be"):
        create_model("williams2018_lstm", feature_dims=DIMS, num_targets=K, fc_layers=0)


def test_keras_initialisation_and_batchnorm_settings():
    torch.manual_seed(0)
    model = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K)
    bn = model.input_norm.bn
    assert bn.eps == 1e-3 and bn.momentum == pytest.approx(0.01)  # Keras: epsilon 1e-3, momentum 0.99
    for name, p in model.rnn.named_parameters():
        if name.startswith("bias_ih"):  # unit_forget_bias: forget gate (i, f, g, o order) starts at 1
            torch.testing.assert_close(p[H : 2 * H], torch.ones(H))
            assert p[:H].abs().sum() == 0 and p[2 * H :].abs().sum() == 0
        elif name.startswith("bias_hh"):
            assert p.abs().sum() == 0
        elif name.startswith("weight_hh"):  # Keras: an orthogonal (H, 4H) recurrent kernel
            kernel = p.detach().T
            torch.testing.assert_close(kernel @ kernel.T, torch.eye(H), atol=1e-5, rtol=0)
        elif name.startswith("weight_ih"):  # Glorot uniform over (in, 4H)
            bound = (6.0 / (p.shape[1] + p.shape[0])) ** 0.5
            assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound
    for m in model.head:
        if isinstance(m, nn.Linear):
            assert m.bias.abs().sum() == 0
            assert m.weight.abs().max() <= (6.0 / (m.in_features + m.out_features)) ** 0.5


def test_registered():
    assert {"williams2018_lstm", "williams2018_blstm", "williams2018_cnn"} <= set(list_models("williams2018_*"))


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
    default = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K).eval()
    clamp = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, output="clamp").eval()
    sigmoid = create_model("williams2018_blstm", feature_dims=DIMS, num_targets=K, output="sigmoid").eval()
    assert default.output.kind == "bounded"  # §4.4: a linear activation bounded to [0, 3]
    for m in (default, clamp, sigmoid):
        m.load_state_dict(linear.state_dict())
    z = linear(feats, mask)
    assert (z < 0).any() or (z > 3).any()  # the bound is exercised
    torch.testing.assert_close(default(feats, mask), z.clamp(0, 3))  # predictions (eval mode) are bounded
    torch.testing.assert_close(clamp(feats, mask), z.clamp(0, 3))
    torch.testing.assert_close(sigmoid(feats, mask), 3 * torch.sigmoid(z))
    # in training the bounded output is the release's linear one (gradients also below 0), clamp's is clipped
    for m in (default, clamp, linear):
        m.train()
        for module in m.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        m.input_norm.eval()  # same normalisation for the three
    torch.testing.assert_close(default(feats, mask), linear(feats, mask))
    torch.testing.assert_close(clamp(feats, mask), linear(feats, mask).clamp(0, 3))
    with pytest.raises(ValueError, match="output must be one of"):
        create_model("williams2018_cnn", feature_dims=DIMS, num_targets=K, output="tanh")


def test_train_mode_input_batchnorm_ignores_padding():
    torch.manual_seed(0)
    model = create_model("williams2018_lstm", feature_dims=DIMS, num_targets=K)
    feats, mask = _batch([5, 2])
    model(feats, mask)
    valid = torch.cat([feats[n] for n in DIMS], -1)[mask]
    expected_mean = 0.01 * valid.mean(0)  # running mean after one update (Keras momentum 0.99)
    torch.testing.assert_close(model.input_norm.bn.running_mean, expected_mean)


# --------------------------------------------------------------------------- §5.1 random baseline
def _simulate_section_5_1(n: int, seed: int, grid: np.ndarray) -> np.ndarray:
    """The paper's words, one segment at a time, with NumPy's legacy generator."""
    rng = np.random.RandomState(seed)
    out = np.zeros((n, 6))
    for i in range(n):
        m = rng.randint(0, 7)  # n ∈ {0, 1, 2, 3, 4, 5, 6}
        for label in rng.choice(6, size=m, replace=False):  # choose n labels from the six
            out[i, label] = rng.choice(grid)  # a random intensity on the grid
    return out


def _summary(preds: np.ndarray, grid: np.ndarray) -> np.ndarray:
    nonzero = preds != 0
    counts = np.bincount(nonzero.sum(1), minlength=7) / len(preds)
    values = np.array([(np.isclose(preds, g)).mean() for g in grid])
    pairs = np.array([(nonzero[:, a] & nonzero[:, b]).mean() for a, b in combinations(range(6), 2)])
    return np.concatenate([counts, values, pairs])


@pytest.mark.parametrize("grid", [INTENSITY_GRID, INTENSITY_GRID[1:]], ids=["grid_with_0", "nonzero_grid"])
def test_section_5_1_baseline_matches_an_independent_simulation(grid):
    n = 40000
    ours = williams2018_random_predictions(n, seed=3, grid=grid)
    reference = _simulate_section_5_1(n, seed=4, grid=grid)
    assert ours.shape == (n, 6) and ours.dtype == np.float32
    np.testing.assert_allclose(_summary(ours, grid), _summary(reference, grid), atol=0.012)
    assert set(np.round(np.unique(ours) * 3).astype(int)) <= set(range(10))  # the grid of thirds in [0, 3]
    if len(grid) == 9:  # every chosen emotion is non-zero: the count of non-zeros is n, uniform on 0..6
        np.testing.assert_allclose(_summary(ours, grid)[:7], np.full(7, 1 / 7), atol=0.01)
    np.testing.assert_array_equal(ours, williams2018_random_predictions(n, seed=3, grid=grid))


def test_section_5_1_expected_mae_in_closed_form():
    # each emotion is chosen with probability E[n]/6 = 1/2; chosen → uniform on {0, 1/3, ..., 3}
    truth = np.array([0.0, 1 / 3, 1.0, 2.0, 3.0, 0.0])
    expected = 0.5 * np.abs(truth) + 0.5 * np.abs(INTENSITY_GRID[None, :] - truth[:, None]).mean(1)
    preds = williams2018_random_predictions(200000, seed=0)
    np.testing.assert_allclose(np.abs(preds - truth).mean(0), expected, atol=0.01)
    assert expected[0] == pytest.approx(0.75)  # an all-zero test set: MAE 0.75 (Table 1 reports 0.05-0.80)


def test_generic_baseline_draws_from_the_training_distribution():
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
    from zoo.data import create_datamodule

    run = zoo_cli(
        "fit",
        f"cmu_mosei/{name}",
        "trainer.max_epochs=12",
        f"output_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
    )
    results = json.loads((run / "results.json").read_text())
    dm = create_datamodule("cmu_mosei")
    train = np.stack([s.targets for s in dm.raw_recordings("train")])
    test = np.stack([s.targets for s in dm.raw_recordings("test")])
    random_mae = np.abs(random_baseline(train, len(test), seed=0) - test).mean()
    paper_mae = np.abs(williams2018_random_predictions(len(test), seed=0) - test).mean()
    zero_mae = np.abs(test).mean()  # "no emotion" everywhere: a model that learns nothing gets about this
    assert results["test/mae_mean"] < min(0.8 * random_mae, 0.5 * paper_mae, 0.95 * zero_mae), (
        results,
        random_mae,
        paper_mae,
        zero_mae,
    )


@pytest.mark.parametrize(
    "variant,layers", [("williams2018_lstm", 1), ("williams2018_blstm", 2), ("williams2018_blstm", 3)]
)
def test_unpacked_final_states_equal_packed_sequences(variant, layers):
    """The RNN runs without packing (far faster on a CPU); its final states and gradients must be
    those of PyTorch's packed sequences: each segment's last valid word, the backward direction
    starting there, padding never entering the recurrence."""
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    model = create_model(variant, feature_dims={"a": 5, "b": 3}, num_targets=6, hidden_size=4, num_layers=layers)
    model.eval()  # no dropout: the two paths see the same numbers
    lengths = torch.tensor([7, 3, 1, 7, 5])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    x = torch.randn(5, 7, 8) * mask[..., None]
    ours = model._final_states(x, lengths)
    _, (h_n, _) = model.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    reference = torch.cat([h_n[-2], h_n[-1]], dim=-1) if model.bidirectional else h_n[-1]
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    grads = torch.autograd.grad(ours.square().sum(), list(model.rnn.parameters()))
    expected = torch.autograd.grad(reference.square().sum(), list(model.rnn.parameters()))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("network", ["lstm", "blstm", "cnn"])
def test_recipes_carry_the_papers_settings(network):
    """§3.1-§4.4 and §5.5 as typed from the paper (the release's values where the paper gives a set)."""
    from zoo.config.recipe import load_recipe

    cfg = load_recipe(f"cmu_mosei/williams2018_{network}")
    data, model = cfg["data"]["args"], cfg["model"]["args"]
    assert cfg["model"]["name"] == f"williams2018_{network}"
    assert data["modalities"] == ["text", "audio", "video"]  # §3.1, early fusion §4.2
    assert sorted(data["targets"]) == sorted(["anger", "disgust", "fear", "happy", "sad", "surprise"])  # §3.2
    assert data["maxlen"] in (15, 20, 25, 30) and data["batch_size"] == 64  # §4.4
    assert model["fc_units"] == 100 and model["fc_layers"] in (1, 2, 3) and model["dropout"] in (0.1, 0.2)
    assert model["num_layers"] in (1, 2, 3) and model["output"] == "bounded"  # §4.4
    if network == "cnn":
        assert model["kernel_size"] == 3 and model["pool_size"] == 2  # §4.4
    else:
        assert model["hidden_size"] == 64  # §4.4
    assert cfg["loss"]["name"] == "mae"  # §4.4
    assert cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["lr"] == 1e-3  # TensorFlow's default lr
    assert not cfg["optimizer"].get("args")  # β 0.9/0.999, ε 1e-8: TensorFlow's (and PyTorch's) defaults
    stop = cfg["early_stopping"]
    assert (stop["monitor"], stop["mode"], stop["patience"], stop["min_delta"]) == ("val/loss", "min", 10, 0.0)
    assert (cfg["checkpoint"]["monitor"], cfg["checkpoint"]["mode"]) == ("val/loss", "min")
    assert cfg["metrics"] == ["mae", "acc2", "acc4", "pearson"]  # Table 5
    assert cfg["baseline"]["procedure"] == "williams2018"  # §5.1
