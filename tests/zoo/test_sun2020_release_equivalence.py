"""Our Sun et al. (2020) network computes what the authors' released architecture computes.

The reference below is an independent implementation written in this test from the description
of the released code (github.com/youcaiSUN/MuSe-Wild_2020, ``model.py``), not a copy of it:

* an input projection ``Linear(D_in -> d_rnn, no bias)``, present only when ``D_in != d_rnn``;
* ``n_layers`` self-attention layers, each ``LayerNorm(x + MHA(x, x, x))`` with a *sequence-first*
  ``nn.MultiheadAttention`` and a key padding mask built from the sequence lengths; no positional
  encoding and no feed-forward sublayer;
* an LSTM (``d_rnn`` units per direction, bidirectional) run on sequences sorted by length, packed
  with ``pack_padded_sequence``, padded back and unsorted;
* the ``Regressor``: ``Linear(2 d_rnn -> 64) -> ReLU -> Dropout -> Linear(64 -> K)``, output bias
  initialised to 0; when the LSTM is switched off it reads ``d_rnn`` features.

Its weights are copied one to one into the registered variants and the outputs are compared at
the valid frames of a batch of sequences of different lengths.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo import create_model

TOL = 1e-5


class _ReferenceAttentionLayer(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(d, heads)  # sequence-first, as the release
        self.ln = nn.LayerNorm(d)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:  # x: (T, B, d)
        return self.ln(x + self.mha(x, x, x, key_padding_mask=pad)[0])


class ReferenceReleaseNet(nn.Module):
    """The released model as described in the module docstring (batch-first in and out)."""

    def __init__(self, d_in: int, d_rnn: int, heads: int, attn_layers: int, rnn_layers: int, d_fc: int, k: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, d_rnn, bias=False) if d_in != d_rnn else None
        self.attn = nn.ModuleList(_ReferenceAttentionLayer(d_rnn, heads) for _ in range(attn_layers))
        self.rnn = nn.LSTM(d_rnn, d_rnn, num_layers=rnn_layers, bidirectional=True) if rnn_layers > 0 else None
        d_out = 2 * d_rnn if rnn_layers > 0 else d_rnn
        self.fc1, self.fc2 = nn.Linear(d_out, d_fc), nn.Linear(d_fc, k)
        nn.init.constant_(self.fc2.bias, 0.0)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.proj is not None:
            x = self.proj(x)
        if len(self.attn):
            pad = torch.arange(x.shape[1])[None, :] >= lengths[:, None]  # True = padded
            h = x.transpose(0, 1)
            for layer in self.attn:
                h = layer(h, pad)
            x = h.transpose(0, 1)
        if self.rnn is not None:
            sorted_len, order = torch.sort(lengths, descending=True)
            packed = pack_padded_sequence(x[order], sorted_len, batch_first=True)
            out = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
            x = out[torch.argsort(order)]
        return self.fc2(torch.relu(self.fc1(x)))


def port(ref: ReferenceReleaseNet, ours: nn.Module) -> None:
    """Copy every reference weight into our module under its own name (one to one)."""
    mapping: dict[str, Tensor] = {}
    if ref.proj is not None:
        mapping["proj.weight"] = ref.proj.weight
    for i, layer in enumerate(ref.attn):
        mapping[f"attention.{i}.attn.in_proj_weight"] = layer.mha.in_proj_weight
        mapping[f"attention.{i}.attn.in_proj_bias"] = layer.mha.in_proj_bias
        mapping[f"attention.{i}.attn.out_proj.weight"] = layer.mha.out_proj.weight
        mapping[f"attention.{i}.attn.out_proj.bias"] = layer.mha.out_proj.bias
        mapping[f"attention.{i}.norm.weight"] = layer.ln.weight
        mapping[f"attention.{i}.norm.bias"] = layer.ln.bias
    if ref.rnn is not None:
        for name, value in ref.rnn.named_parameters():
            mapping[f"lstm.lstm.{name}"] = value
    mapping.update(
        {
            "head.0.weight": ref.fc1.weight,
            "head.0.bias": ref.fc1.bias,
            "head.3.weight": ref.fc2.weight,
            "head.3.bias": ref.fc2.bias,
        }
    )
    state = ours.state_dict()
    assert set(state) == set(mapping), sorted(set(state) ^ set(mapping))
    for name, value in mapping.items():
        assert state[name].shape == value.shape, name
    ours.load_state_dict({k: v.detach().clone() for k, v in mapping.items()})


CASES = {
    # name: (our variant, release flags: attn layers, rnn layers)
    "lstm_selfattn": ("sun2020_lstm_selfattn", 1, 1),  # --attn --n_layers 1 --rnn_n_layers 1
    "lstm": ("sun2020_lstm", 0, 2),  # Table 1 "LSTM": two BiLSTM layers
    "selfattn": ("sun2020_selfattn", 2, 0),  # Table 1 "Self-Attn": two attention layers
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dims", [{"egemaps": 11, "vggface": 13}, {"egemaps": 16}], ids=["projected", "no_projection"])
def test_outputs_match_release_architecture(case: str, dims: dict[str, int]) -> None:
    variant, attn_layers, rnn_layers = CASES[case]
    torch.manual_seed(0)
    d_in, hidden, heads, k = sum(dims.values()), 16, 4, 2
    ref = ReferenceReleaseNet(d_in, hidden, heads, attn_layers, rnn_layers, 64, k).eval()
    # the release's fc2 bias starts at 0; give it a value so that the port is really checked
    with torch.no_grad():
        ref.fc2.bias.copy_(torch.tensor([0.3, -0.2]))
    ours = create_model(
        variant, feature_dims=dims, num_targets=k, hidden_size=hidden, num_heads=heads, head_hidden_size=64, dropout=0.0
    ).eval()
    port(ref, ours)

    lengths = torch.tensor([23, 9, 17, 1])
    x = torch.randn(len(lengths), int(lengths.max()), d_in)
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    features, start = {}, 0
    for name, d in dims.items():
        features[name] = x[..., start : start + d]
        start += d
    with torch.no_grad():
        expected = ref(x, lengths)
        got = ours(features, mask)
    assert got.shape == expected.shape
    assert torch.allclose(got[mask], expected[mask], atol=TOL, rtol=0), (got[mask] - expected[mask]).abs().max()


def test_output_bias_starts_at_zero_as_in_the_release() -> None:
    for head in (None, 64):
        net = create_model(
            "sun2020_lstm_selfattn",
            feature_dims={"a": 4},
            num_targets=2,
            hidden_size=8,
            num_heads=2,
            head_hidden_size=head,
        )
        last = net.head if head is None else net.head[-1]
        assert torch.equal(last.bias.detach(), torch.zeros(2))


def test_release_head_has_no_dropout_before_its_first_layer() -> None:
    """Released ``Regressor``: Linear -> ReLU -> Dropout -> Linear; nothing in front of it."""
    net = create_model(
        "sun2020_lstm_selfattn",
        feature_dims={"a": 4},
        num_targets=1,
        hidden_size=8,
        num_heads=2,
        head_hidden_size=64,
        dropout=0.5,
    )
    assert isinstance(net.head_dropout, nn.Identity)
    assert [type(m) for m in net.head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert net.head[2].p == 0.5


class ReferenceReleaseFusionNet(nn.Module):
    """The released late-fusion model (``FusionModel``, §4.4) as described: a bidirectional LSTM
    (``d_model`` units per direction) over the concatenated predictions, packed by length, then
    ``Linear(2 d_model -> K)``."""

    def __init__(self, d_in: int, d_model: int, k: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(d_in, d_model, bidirectional=True)
        self.out = nn.Linear(2 * d_model, k)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        sorted_len, order = torch.sort(lengths, descending=True)
        packed = pack_padded_sequence(x[order], sorted_len, batch_first=True)
        out = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return self.out(out[torch.argsort(order)])


def test_late_fusion_matches_release_fusion_model() -> None:
    torch.manual_seed(1)
    dims = {"egemaps_run": 1, "vggface_run": 1, "vggish_run": 1}
    ref = ReferenceReleaseFusionNet(3, 32, 1).eval()
    ours = create_model("sun2020_late_fusion", feature_dims=dims, num_targets=1).eval()
    mapping = {f"rnn.lstm.{n}": v for n, v in ref.rnn.named_parameters()}
    mapping.update({"out.weight": ref.out.weight, "out.bias": ref.out.bias})
    assert set(ours.state_dict()) == set(mapping)
    ours.load_state_dict({k: v.detach().clone() for k, v in mapping.items()})
    lengths = torch.tensor([5, 31, 18])
    x = torch.randn(3, 31, 3)
    mask = torch.arange(31)[None, :] < lengths[:, None]
    features = {name: x[..., i : i + 1] for i, name in enumerate(dims)}
    with torch.no_grad():
        expected, got = ref(x, lengths), ours(features, mask)
    assert torch.allclose(got[mask], expected[mask], atol=TOL, rtol=0)
