"""Tests of the Sun et al. (2020) network and its registered variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.models.registry import create_model, list_models
from zoo.models.sun2020 import Sun2020Net

VARIANTS = ["sun2020_lstm_selfattn", "sun2020_lstm", "sun2020_selfattn"]
FEATURE_DIMS = {"egemaps": 5, "vggish": 7}  # concatenated width 12
H, HEADS, K = 8, 2, 2


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny models run fastest on one thread; avoids OpenMP contention on small CI machines."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_net(name: str, **kwargs) -> nn.Module:
    params = {"hidden_size": H, "num_heads": HEADS, "dropout": 0.0}
    params.update(kwargs)
    return create_model(name, feature_dims=FEATURE_DIMS, num_targets=K, **params)


def make_batch(lengths: list[int], seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    feats = {name: torch.randn(len(lengths), t, d, generator=g) for name, d in FEATURE_DIMS.items()}
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return feats, mask


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---- hand counts, from layer sizes only ------------------------------------------------------


def linear(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def attention_block(d: int) -> int:
    return (4 * d * d + 4 * d) + 2 * d  # Q/K/V/out projections + LayerNorm


def bilstm(i: int, h: int, layers: int) -> int:
    total = 0
    for layer in range(layers):
        layer_in = i if layer == 0 else 2 * h
        total += 2 * 4 * (layer_in * h + h * h + 2 * h)  # 2 directions x 4 gates
    return total


D_IN = sum(FEATURE_DIMS.values())
EXPECTED_PARAMS = {
    "sun2020_lstm_selfattn": linear(D_IN, H, bias=False) + attention_block(H) + bilstm(H, H, 1) + linear(2 * H, K),
    "sun2020_lstm": linear(D_IN, H, bias=False) + bilstm(H, H, 2) + linear(2 * H, K),
    "sun2020_selfattn": linear(D_IN, H, bias=False) + 2 * attention_block(H) + linear(H, K),
}


# ---- registry & shapes -------------------------------------------------------------------------


def test_variants_are_registered() -> None:
    assert set(VARIANTS) <= set(list_models("sun2020*"))


@pytest.mark.parametrize("name", VARIANTS)
def test_output_shape(name: str) -> None:
    net = make_net(name)
    feats, mask = make_batch([6, 4, 1])
    out = net(feats, mask)
    assert out.shape == (3, 6, K)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("name", VARIANTS)
def test_param_count_by_hand(name: str) -> None:
    assert n_params(make_net(name)) == EXPECTED_PARAMS[name]


def test_default_sizes_param_count_by_hand() -> None:
    """The paper-sized model: H=128, 4 heads, 1 attention + 1 BiLSTM layer, 88+128 inputs."""
    dims = {"egemaps": 88, "vggish": 128}
    net = create_model("sun2020_lstm_selfattn", feature_dims=dims, num_targets=2)
    h = 128
    expected = linear(216, h, bias=False) + attention_block(h) + bilstm(h, h, 1) + linear(2 * h, 2)
    assert n_params(net) == expected


def test_optional_parts_param_count_by_hand() -> None:
    net = make_net("sun2020_lstm_selfattn", feed_forward=True, head_hidden_size=4)
    ff = linear(H, 4 * H) + linear(4 * H, H) + 2 * H
    expected = linear(D_IN, H, bias=False) + attention_block(H) + ff + bilstm(H, H, 1) + linear(2 * H, 4) + linear(4, K)
    assert n_params(net) == expected


def test_projection_skipped_when_width_equals_hidden() -> None:
    net = Sun2020Net({"a": 8}, 1, hidden_size=8, num_heads=2)
    assert isinstance(net.proj, nn.Identity)
    assert n_params(net) == attention_block(8) + bilstm(8, 8, 1) + linear(16, 1)


def test_variant_overrides() -> None:
    net = make_net("sun2020_lstm", num_lstm_layers=3, hidden_size=4)
    assert net.lstm is not None and net.lstm.lstm.num_layers == 3
    assert len(net.attention) == 0 and net.hidden_size == 4


def test_variant_signatures_list_arguments_and_defaults() -> None:
    import inspect

    from zoo.models.registry import model_entrypoint

    expected = {
        "sun2020_lstm_selfattn": (1, 1),
        "sun2020_lstm": (0, 2),
        "sun2020_selfattn": (2, 0),
    }
    for name, (n_attn, n_lstm) in expected.items():
        params = inspect.signature(model_entrypoint(name)).parameters
        assert {"feature_dims", "num_targets", "hidden_size", "num_heads", "dropout"} <= set(params)
        assert params["num_attention_layers"].default == n_attn
        assert params["num_lstm_layers"].default == n_lstm
        net = make_net(name)
        assert len(net.attention) == n_attn
        assert (net.lstm.lstm.num_layers if net.lstm is not None else 0) == n_lstm


def test_unknown_argument_is_named() -> None:
    with pytest.raises(TypeError, match="hiden_size"):
        create_model("sun2020_lstm", feature_dims=FEATURE_DIMS, num_targets=K, hiden_size=4)


# ---- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_padding_invariance_and_zero_padding(name: str) -> None:
    torch.manual_seed(0)
    net = make_net(name, dropout=0.3).eval()
    feats, mask = make_batch([9, 4], seed=3)
    short = {k: v[1:2, :4] for k, v in feats.items()}
    with torch.no_grad():
        batched = net(feats, mask)
        alone = net(short, torch.ones(1, 4, dtype=torch.bool))
    torch.testing.assert_close(batched[1, :4], alone[0], atol=1e-6, rtol=0)
    assert torch.all(batched[1, 4:] == 0)


@pytest.mark.parametrize("name", VARIANTS)
def test_padded_inputs_do_not_matter(name: str) -> None:
    net = make_net(name).eval()
    feats, mask = make_batch([8, 5], seed=4)
    noisy = {k: v.clone() for k, v in feats.items()}
    noisy["egemaps"][1, 5:] = 1e3 * torch.randn(3, 5)
    noisy["vggish"][1, 5:] = float("nan")
    with torch.no_grad():
        clean, dirty = net(feats, mask), net(noisy, mask)
    assert torch.isfinite(dirty).all()
    torch.testing.assert_close(dirty, clean, atol=1e-6, rtol=0)


def test_feature_order_follows_feature_dims() -> None:
    """Swapping the dict order of the *input* changes nothing; the model's order is fixed."""
    net = make_net("sun2020_lstm_selfattn").eval()
    feats, mask = make_batch([5, 3])
    reordered = {
        "vggish": feats["vggish"],
        "egemaps": feats["egemaps"],
        "extra": torch.zeros(2, 5, 3),
    }
    with torch.no_grad():
        torch.testing.assert_close(net(reordered, mask), net(feats, mask))
    # the concatenation is egemaps then vggish: the first 5 projection columns see egemaps
    x = net._concat_features(feats)
    torch.testing.assert_close(x[..., :5], feats["egemaps"])


# ---- gradients & learning -----------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    net = make_net(name, dropout=0.1, feed_forward=True, head_hidden_size=4).train()
    feats, mask = make_batch([6, 3])
    out = net(feats, mask)
    (out[mask] ** 2).sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", VARIANTS)
def test_overfits_tiny_problem(name: str) -> None:
    torch.manual_seed(0)
    net = make_net(name, hidden_size=16, num_heads=4)
    feats, mask = make_batch([20, 20, 15, 10], seed=5)
    t = torch.linspace(0, 3.14, 20)
    target = torch.stack([torch.sin(t + i) for i in range(4)])[..., None].repeat(1, 1, K)
    target[..., 1] *= -0.5
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def mse() -> torch.Tensor:
        return ((net(feats, mask) - target)[mask] ** 2).mean()

    with torch.no_grad():
        start = mse().item()
    for _ in range(50):
        opt.zero_grad()
        loss = mse()
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = mse().item()
    assert end < start / 5, (start, end)


# ---- errors -------------------------------------------------------------------------------------


def test_missing_feature_is_named() -> None:
    net = make_net("sun2020_lstm_selfattn")
    feats, mask = make_batch([4])
    del feats["vggish"]
    with pytest.raises(ValueError, match="vggish"):
        net(feats, mask)


def test_wrong_dim_names_feature_and_dims() -> None:
    net = make_net("sun2020_lstm_selfattn")
    feats, mask = make_batch([4])
    feats["vggish"] = torch.randn(1, 4, 6)
    with pytest.raises(ValueError, match=r"'vggish'.*6.*expected 7"):
        net(feats, mask)


def test_mismatched_shapes_rejected() -> None:
    net = make_net("sun2020_lstm_selfattn")
    feats, mask = make_batch([4])
    feats["vggish"] = torch.randn(1, 5, 7)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        net(feats, mask)
    feats, _ = make_batch([4])
    with pytest.raises(ValueError, match="mask shape"):
        net(feats, torch.ones(1, 3, dtype=torch.bool))


@pytest.mark.parametrize("name", VARIANTS)
def test_non_left_aligned_mask_rejected(name: str) -> None:
    net = make_net(name)
    feats, _ = make_batch([4, 4])
    mask = torch.tensor([[True, True, True, True], [False, True, True, True]])
    with pytest.raises(ValueError, match="left-aligned"):
        net(feats, mask)


def test_non_bool_mask_rejected() -> None:
    net = make_net("sun2020_lstm")
    feats, mask = make_batch([4])
    with pytest.raises(TypeError, match="bool"):
        net(feats, mask.float())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"hidden_size": 10, "num_heads": 4}, "divisible"),
        ({"num_attention_layers": 0, "num_lstm_layers": 0}, "at least one"),
        ({"num_lstm_layers": -1}, "num_lstm_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_targets": 0}, "num_targets"),
        ({"feature_dims": {}}, "feature_dims"),
        ({"feature_dims": {"a": 0}}, r"feature_dims\['a'\]"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    params = {"feature_dims": FEATURE_DIMS, "num_targets": K, "hidden_size": H, "num_heads": HEADS}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Sun2020Net(**params)
