"""Sun et al. 2020 late fusion model: layer sizes from the paper, masking, registry."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.models.late_fusion import LateFusionBiLSTM


def test_registered_and_paper_sizes():
    assert "sun2020_late_fusion" in zoo.list_models("sun2020*")
    net = zoo.create_model("sun2020_late_fusion", feature_dims={"egemaps_run": 2, "vggface_run": 1}, num_targets=2)
    assert isinstance(net, LateFusionBiLSTM)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    # BiLSTM with 32 cells per direction over D = 2 + 1 = 3 inputs: gates stacked 4 × 32 = 128.
    expected = {
        "rnn.lstm.weight_ih_l0": (128, 3),
        "rnn.lstm.weight_hh_l0": (128, 32),
        "rnn.lstm.bias_ih_l0": (128,),
        "rnn.lstm.bias_hh_l0": (128,),
        "rnn.lstm.weight_ih_l0_reverse": (128, 3),
        "rnn.lstm.weight_hh_l0_reverse": (128, 32),
        "rnn.lstm.bias_ih_l0_reverse": (128,),
        "rnn.lstm.bias_hh_l0_reverse": (128,),
        "out.weight": (2, 64),
        "out.bias": (2,),
    }
    assert shapes == expected
    # per direction 4·32·(3 + 32) + 2·4·32 = 4736; two directions 9472; head 64·2 + 2 = 130
    assert sum(p.numel() for p in net.parameters()) == 9602


def test_output_shape_masking_and_padding_independence():
    torch.manual_seed(0)
    net = zoo.create_model("sun2020_late_fusion", feature_dims={"a": 2, "b": 2}, num_targets=1).eval()
    a, b = torch.randn(2, 7, 2), torch.randn(2, 7, 2)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    with torch.no_grad():
        y = net({"a": a, "b": b, "ignored": torch.zeros(2, 7, 5)}, mask)
        alone = net({"a": a[1:, :4], "b": b[1:, :4]}, torch.ones(1, 4, dtype=torch.bool))
    assert y.shape == (2, 7, 1)
    assert torch.all(y[1, 4:] == 0)
    torch.testing.assert_close(y[1, :4], alone[0], rtol=1e-5, atol=1e-6)


def test_concatenation_order_follows_feature_dims():
    net = zoo.create_model("sun2020_late_fusion", feature_dims={"a": 1, "b": 1}, num_targets=1).eval()
    x = torch.randn(1, 5, 1)
    mask = torch.ones(1, 5, dtype=torch.bool)
    with torch.no_grad():
        net.rnn.lstm.weight_ih_l0[:, 1].zero_()  # forward direction ignores source b
        net.rnn.lstm.weight_ih_l0_reverse[:, 1].zero_()
        y1 = net({"a": x, "b": torch.randn(1, 5, 1)}, mask)
        y2 = net({"a": x, "b": torch.randn(1, 5, 1)}, mask)
    torch.testing.assert_close(y1, y2)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="feature_dims"):
        LateFusionBiLSTM({}, 2)
    with pytest.raises(ValueError, match="hidden_size"):
        LateFusionBiLSTM({"a": 2}, 2, hidden_size=0)
    net = LateFusionBiLSTM({"a": 2, "b": 1}, 2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"lack sources \['b'\]"):
        net({"a": torch.zeros(1, 3, 2)}, mask)
    with pytest.raises(ValueError, match=r"'b' must be a \(B, T, 1\)"):
        net({"a": torch.zeros(1, 3, 2), "b": torch.zeros(1, 3, 2)}, mask)
