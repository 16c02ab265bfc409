"""Tests of zoo.layers: SelfAttentionBlock, MaskedBiLSTM, lengths_from_mask."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zoo.layers import MaskedBiLSTM, SelfAttentionBlock, lengths_from_mask


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny models run fastest on one thread; avoids OpenMP contention on small CI machines."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- lengths_from_mask


def test_lengths_from_mask_counts_valid_frames() -> None:
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    assert lengths_from_mask(mask).tolist() == [3, 1]


def test_lengths_from_mask_rejects_gap_naming_row() -> None:
    mask = torch.tensor([[True, True, True], [True, False, True]])
    with pytest.raises(ValueError, match=r"left-aligned.*\[1\]"):
        lengths_from_mask(mask)


def test_lengths_from_mask_rejects_leading_padding() -> None:
    with pytest.raises(ValueError, match="left-aligned"):
        lengths_from_mask(torch.tensor([[False, True, True]]))


def test_lengths_from_mask_rejects_empty_row() -> None:
    with pytest.raises(ValueError, match="at least one valid frame"):
        lengths_from_mask(torch.tensor([[True, True], [False, False]]))


def test_lengths_from_mask_rejects_non_bool_and_bad_rank() -> None:
    with pytest.raises(TypeError, match="bool"):
        lengths_from_mask(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        lengths_from_mask(torch.ones(2, 3, 1, dtype=torch.bool))


# ---------------------------------------------------------------------------- SelfAttentionBlock


@pytest.mark.parametrize("feed_forward", [False, True])
def test_attention_param_count_by_hand(feed_forward: bool) -> None:
    d = 16
    block = SelfAttentionBlock(d, num_heads=4, dropout=0.1, feed_forward=feed_forward)
    expected = (4 * d * d + 4 * d) + 2 * d  # Q, K, V, out projections with biases; LayerNorm
    if feed_forward:
        ff = 4 * d
        expected += (d * ff + ff) + (ff * d + d) + 2 * d  # two linears and their LayerNorm
    assert n_params(block) == expected


def test_attention_matches_manual_scaled_dot_product() -> None:
    """Post-norm residual around softmax(QK^T / sqrt(d_head)) V, padded keys excluded."""
    torch.manual_seed(0)
    b, t, d, h = 2, 5, 8, 2
    block = SelfAttentionBlock(d, num_heads=h, dropout=0.0).eval()
    x = torch.randn(b, t, d)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    out = block(x, key_padding_mask=pad)

    w_q, w_k, w_v = block.attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = block.attn.in_proj_bias.chunk(3)
    dh = d // h

    def heads(z: torch.Tensor) -> torch.Tensor:
        return z.view(b, t, h, dh).transpose(1, 2)  # (B, h, T, dh)

    q, k, v = heads(x @ w_q.T + b_q), heads(x @ w_k.T + b_k), heads(x @ w_v.T + b_v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
    scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
    ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    attended = ctx @ block.attn.out_proj.weight.T + block.attn.out_proj.bias
    expected = nn.functional.layer_norm(x + attended, (d,), block.norm.weight, block.norm.bias, block.norm.eps)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_attention_ignores_padded_frames() -> None:
    torch.manual_seed(1)
    block = SelfAttentionBlock(8, num_heads=2, dropout=0.0).eval()
    x = torch.randn(2, 6, 8)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[0, 4:] = True
    with torch.no_grad():
        before = block(x, key_padding_mask=pad)
        x2 = x.clone()
        x2[0, 4:] = 100.0 * torch.randn(2, 8)
        after = block(x2, key_padding_mask=pad)
    torch.testing.assert_close(after[0, :4], before[0, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(after[1], before[1], atol=1e-6, rtol=0)
    # without the mask the padded frames would matter
    with torch.no_grad():
        unmasked = block(x2)
    assert not torch.allclose(unmasked[0, :4], before[0, :4], atol=1e-3)


def test_attention_validates_arguments() -> None:
    with pytest.raises(ValueError, match="divisible"):
        SelfAttentionBlock(10, num_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        SelfAttentionBlock(8, num_heads=2, dropout=1.5)
    block = SelfAttentionBlock(8, num_heads=2)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        block(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="every frame"):
        block(torch.randn(1, 3, 8), key_padding_mask=torch.ones(1, 3, dtype=torch.bool))


# ---------------------------------------------------------------------------- MaskedBiLSTM


def lstm_params_by_hand(inp: int, hidden: int, layers: int, directions: int = 2) -> int:
    total = 0
    for layer in range(layers):
        layer_in = inp if layer == 0 else hidden * directions
        # 4 gates: W_ih (4h x in), W_hh (4h x h), b_ih (4h), b_hh (4h), per direction
        total += directions * 4 * (layer_in * hidden + hidden * hidden + 2 * hidden)
    return total


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (2, False)])
def test_lstm_param_count_by_hand(layers: int, bidirectional: bool) -> None:
    lstm = MaskedBiLSTM(6, 5, num_layers=layers, dropout=0.1, bidirectional=bidirectional)
    assert n_params(lstm) == lstm_params_by_hand(6, 5, layers, 2 if bidirectional else 1)
    assert lstm.output_dim == 5 * (2 if bidirectional else 1)


def test_lstm_equals_unpadded_runs_and_zero_padding() -> None:
    torch.manual_seed(2)
    lstm = MaskedBiLSTM(4, 3, num_layers=2).eval()
    lengths = [7, 3, 5]
    x = torch.randn(3, 7, 4)
    mask = torch.arange(7)[None, :] < torch.tensor(lengths)[:, None]
    with torch.no_grad():
        out = lstm(x, mask)
        for i, n in enumerate(lengths):
            alone = lstm(x[i : i + 1, :n], torch.ones(1, n, dtype=torch.bool))
            torch.testing.assert_close(out[i, :n], alone[0], atol=1e-6, rtol=0)
            assert torch.all(out[i, n:] == 0)


def test_lstm_validates_inputs() -> None:
    lstm = MaskedBiLSTM(4, 3)
    with pytest.raises(ValueError, match=r"\(B, T, 4\)"):
        lstm(torch.randn(2, 5, 3), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not match"):
        lstm(torch.randn(2, 5, 4), torch.ones(2, 4, dtype=torch.bool))
    bad = torch.tensor([[True, False, True, True, True], [True] * 5])
    with pytest.raises(ValueError, match="left-aligned"):
        lstm(torch.randn(2, 5, 4), bad)
    with pytest.raises(ValueError, match="num_layers"):
        MaskedBiLSTM(4, 3, num_layers=0)


def test_lstm_mixed_full_and_short_rows_match_packed_reference_with_gradients() -> None:
    """Full-length rows skip packing; outputs and gradients equal a fully packed nn.LSTM run."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(3)
    lstm = MaskedBiLSTM(4, 3, num_layers=2)
    lengths = torch.tensor([6, 2, 6, 4, 6])
    x = torch.randn(5, 6, 4, requires_grad=True)
    mask = torch.arange(6)[None, :] < lengths[:, None]
    out = lstm(x, mask)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref, _ = pad_packed_sequence(lstm.lstm(packed)[0], batch_first=True, total_length=6)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    weights = torch.randn_like(ref)
    grads = torch.autograd.grad((out * weights).sum(), [x, lstm.lstm.weight_hh_l0_reverse])
    ref_grads = torch.autograd.grad((ref * weights).sum(), [x, lstm.lstm.weight_hh_l0_reverse])
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
