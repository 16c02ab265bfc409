"""Peephole LSTM (Chen et al. 2017, eq. 1) against a step computed by hand in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.layers.peephole_lstm import PeepholeLSTM

D, H = 2, 2
W_IH = np.array([[0.1, -0.2], [0.3, 0.4],    # i
                 [0.5, 0.1], [-0.3, 0.2],    # f
                 [0.2, 0.2], [-0.1, 0.6],    # c
                 [0.4, -0.5], [0.3, 0.1]])   # o
W_HH = np.array([[0.2, 0.1], [-0.1, 0.3], [0.05, 0.2], [0.1, -0.2],
                 [0.3, 0.0], [0.2, 0.1], [-0.2, 0.4], [0.1, 0.1]])
BIAS = np.array([0.01, -0.02, 0.5, 0.4, 0.0, 0.1, -0.1, 0.2])
PEEP = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.25]])  # p_i, p_f, p_o


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _hand_step(x, h, c, output_sees_current):
    a = W_IH @ x + W_HH @ h + BIAS
    i = _sigmoid(a[0:2] + PEEP[0] * c)
    f = _sigmoid(a[2:4] + PEEP[1] * c)
    c_new = f * c + i * np.tanh(a[4:6])
    o = _sigmoid(a[6:8] + PEEP[2] * (c_new if output_sees_current else c))
    return o * np.tanh(c_new), c_new


def _layer(output_peephole):
    layer = PeepholeLSTM(D, H, output_peephole).double()
    with torch.no_grad():
        layer.cell.weight_ih.copy_(torch.tensor(W_IH))
        layer.cell.weight_hh.copy_(torch.tensor(W_HH))
        layer.cell.bias.copy_(torch.tensor(BIAS))
        layer.cell.peephole.copy_(torch.tensor(PEEP))
    return layer


@pytest.mark.parametrize("variant", ["previous", "current"])
def test_two_steps_match_hand_computation(variant):
    x = np.array([[0.5, -1.0], [1.5, 0.25]])
    h0, c0 = np.array([0.1, -0.3]), np.array([0.7, -0.4])
    h1, c1 = _hand_step(x[0], h0, c0, variant == "current")
    h2, c2 = _hand_step(x[1], h1, c1, variant == "current")
    out, (h, c) = _layer(variant)(torch.tensor(x)[None], state=(torch.tensor(h0)[None], torch.tensor(c0)[None]))
    np.testing.assert_allclose(out[0].detach().numpy(), np.stack([h1, h2]), rtol=1e-12)
    np.testing.assert_allclose(c[0].detach().numpy(), c2, rtol=1e-12)


def test_output_peephole_variants_differ():
    x = torch.tensor([[[0.5, -1.0], [1.5, 0.25]]], dtype=torch.float64)
    a, _ = _layer("previous")(x)
    b, _ = _layer("current")(x)
    assert not torch.allclose(a, b)


def test_padding_does_not_change_valid_outputs():
    torch.manual_seed(0)
    layer = PeepholeLSTM(3, 4)
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    out, (h, _) = layer(x, mask)
    alone, (h_alone, _) = layer(x[1:, :3])
    torch.testing.assert_close(out[1, :3], alone[0])
    torch.testing.assert_close(h[1], h_alone[0])
    assert torch.all(out[1, 3:] == 0)


def test_parameter_count_and_shapes():
    layer = PeepholeLSTM(10, 7)
    # 4 gates × (input + recurrent weights + bias) + 3 diagonal peepholes
    assert sum(p.numel() for p in layer.parameters()) == 4 * 7 * (10 + 7 + 1) + 3 * 7
    with pytest.raises(ValueError, match="expects"):
        layer(torch.zeros(1, 3, 9))
