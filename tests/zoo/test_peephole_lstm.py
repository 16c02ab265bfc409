"""Peephole LSTM (Chen et al. 2017, eq. 1) against each gate equation written out in NumPy.

The reference names the paper's matrices (W_ix, W_ih, ..., W_fc, W_oc) separately, so a wrong
slice, a missing peephole or an extra one (eq. 1 has none on the input gate) shows up per gate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.layers.peephole_lstm import PeepholeLSTM

D, H = 2, 2
# eq. (1) parameters, one matrix per term
W_IX, W_IH, B_I = np.array([[0.1, -0.2], [0.3, 0.4]]), np.array([[0.2, 0.1], [-0.1, 0.3]]), np.array([0.01, -0.02])
W_FX, W_FH, B_F = np.array([[0.5, 0.1], [-0.3, 0.2]]), np.array([[0.05, 0.2], [0.1, -0.2]]), np.array([0.5, 0.4])
W_GX, W_GH, B_G = np.array([[0.2, 0.2], [-0.1, 0.6]]), np.array([[0.3, 0.0], [0.2, 0.1]]), np.array([0.0, 0.1])
W_OX, W_OH, B_O = np.array([[0.4, -0.5], [0.3, 0.1]]), np.array([[-0.2, 0.4], [0.1, 0.1]]), np.array([-0.1, 0.2])
W_FC = np.diag([0.1, 0.4])  # peephole matrices are diagonal (each unit sees its own cell)
W_OC = np.diag([-0.5, 0.25])


def sigma(z):
    return 1 / (1 + np.exp(-z))


def eq1(x, h, c, output_sees_current=False):
    """Chen et al. 2017, eq. (1), term by term."""
    i = sigma(W_IX @ x + W_IH @ h + B_I)
    f = sigma(W_FX @ x + W_FH @ h + W_FC @ c + B_F)
    g = np.tanh(W_GX @ x + W_GH @ h + B_G)
    c_new = i * g + f * c
    o = sigma(W_OX @ x + W_OH @ h + W_OC @ (c_new if output_sees_current else c) + B_O)
    return {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": o * np.tanh(c_new)}


def _layer(output_peephole="previous"):
    layer = PeepholeLSTM(D, H, output_peephole).double()
    with torch.no_grad():
        layer.cell.weight_ih.copy_(torch.tensor(np.concatenate([W_IX, W_FX, W_GX, W_OX])))
        layer.cell.weight_hh.copy_(torch.tensor(np.concatenate([W_IH, W_FH, W_GH, W_OH])))
        layer.cell.bias.copy_(torch.tensor(np.concatenate([B_I, B_F, B_G, B_O])))
        layer.cell.peephole.copy_(torch.tensor(np.stack([np.diag(W_FC), np.diag(W_OC)])))
    return layer


X = np.array([0.5, -1.0])
H0, C0 = np.array([0.1, -0.3]), np.array([0.7, -0.4])


@pytest.mark.parametrize("gate", ["i", "f", "g", "o", "c", "h"])
def test_each_quantity_of_eq1(gate):
    cell = _layer().cell
    gx = torch.tensor(X)[None] @ cell.weight_ih.t() + cell.bias
    values = cell.gates(gx, torch.tensor(H0)[None], torch.tensor(C0)[None])
    np.testing.assert_allclose(getattr(values, gate)[0].detach().numpy(), eq1(X, H0, C0)[gate], rtol=1e-12)


def test_input_gate_has_no_peephole_forget_and_output_gates_do():
    cell = _layer().cell
    gx = torch.tensor(X)[None] @ cell.weight_ih.t() + cell.bias
    h = torch.tensor(H0)[None]
    a = cell.gates(gx, h, torch.tensor(C0)[None])
    b = cell.gates(gx, h, torch.tensor(C0 + 1.0)[None])  # only c_{t-1} changes
    torch.testing.assert_close(a.i, b.i, rtol=0, atol=0)
    torch.testing.assert_close(a.g, b.g, rtol=0, atol=0)
    assert not torch.allclose(a.f, b.f) and not torch.allclose(a.o, b.o)
    assert tuple(cell.peephole.shape) == (2, H)


@pytest.mark.parametrize("variant", ["previous", "current"])
def test_two_steps_match_eq1(variant):
    x = np.array([[0.5, -1.0], [1.5, 0.25]])
    s1 = eq1(x[0], H0, C0, variant == "current")
    s2 = eq1(x[1], s1["h"], s1["c"], variant == "current")
    out, (h, c) = _layer(variant)(torch.tensor(x)[None], state=(torch.tensor(H0)[None], torch.tensor(C0)[None]))
    np.testing.assert_allclose(out[0].detach().numpy(), np.stack([s1["h"], s2["h"]]), rtol=1e-12)
    np.testing.assert_allclose(h[0].detach().numpy(), s2["h"], rtol=1e-12)
    np.testing.assert_allclose(c[0].detach().numpy(), s2["c"], rtol=1e-12)


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
    # 4 gates × (input + recurrent weights + bias) + 2 diagonal peepholes (forget, output)
    assert sum(p.numel() for p in layer.parameters()) == 4 * 7 * (10 + 7 + 1) + 2 * 7
    with pytest.raises(ValueError, match="expects"):
        layer(torch.zeros(1, 3, 9))


def test_initialisation_forget_bias_one_everything_else_uniform():
    """Not in the paper (docs/models/chen2017.md, row 2b): the forget-gate bias starts at 1 (as
    TensorFlow's ``LSTMCell(forget_bias=1.0)``, the framework of §5.2), every other weight, bias
    and peephole uniform in ±1/√H (as ``torch.nn.LSTM``)."""
    torch.manual_seed(0)
    hidden = 16
    cell = PeepholeLSTM(5, hidden).cell
    bound = 1 / np.sqrt(hidden)
    bias = cell.bias.detach().numpy()
    np.testing.assert_array_equal(bias[hidden : 2 * hidden], 1.0)  # gate order i, f, g, o
    others = np.concatenate(
        [
            bias[:hidden],
            bias[2 * hidden :],
            cell.weight_ih.detach().numpy().ravel(),
            cell.weight_hh.detach().numpy().ravel(),
        ]
        + [cell.peephole.detach().numpy().ravel()]
    )
    assert np.all(np.abs(others) <= bound) and others.std() > bound / 3  # spread over the range, not zeros
