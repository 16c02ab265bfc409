"""Tests for :class:`zoo.ccc.CCCLoss`, against NumPy and autograd."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from zoo.ccc import CCCLoss

ATOL = 1e-6
WEIGHTS = (0.7, 0.2, 1.0)


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Turn every warning into an error inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _padded(ref, xs, ys, garbage=float("nan"), dtype=torch.float64):
    preds, mask = ref.pad(xs, garbage=garbage, dtype=dtype)
    target, _ = ref.pad(ys, garbage=garbage, dtype=dtype)
    return preds.requires_grad_(), target, mask


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_pooled_value_matches_numpy(ref, rng, weights):
    xs, ys = ref.random_sequences(rng, [50, 13, 70], num_outputs=3)
    preds, target, mask = _padded(ref, xs, ys)
    loss = CCCLoss(weights=weights)(preds, target, mask)
    assert loss.shape == () and loss.dtype == torch.float64
    np.testing.assert_allclose(loss.item(), ref.loss(xs, ys, weights or (1, 1, 1)), atol=ATOL)


def test_per_sequence_value_matches_numpy(ref, rng):
    xs, ys = ref.random_sequences(rng, [50, 13, 70, 4], num_outputs=3)
    preds, target, mask = _padded(ref, xs, ys)
    loss = CCCLoss(weights=WEIGHTS, aggregation="per_sequence")(preds, target, mask)
    expected = np.sum(np.asarray(WEIGHTS) * (1 - ref.per_sequence(xs, ys)))
    np.testing.assert_allclose(loss.item(), expected, atol=ATOL)


def test_weights_combine_linearly(ref, rng):
    xs, ys = ref.random_sequences(rng, [40, 40], num_outputs=3)
    preds, target, mask = _padded(ref, xs, ys)
    per_target = [CCCLoss(weights=np.eye(3)[k])(preds, target, mask) for k in range(3)]
    weighted = CCCLoss(weights=WEIGHTS)(preds, target, mask)
    torch.testing.assert_close(weighted, sum(w * l for w, l in zip(WEIGHTS, per_target)))
    assert not torch.isclose(weighted, CCCLoss()(preds, target, mask))


@pytest.mark.parametrize("shape", [(64,), (3, 20)])
def test_single_target_inputs(ref, rng, shape):
    x = rng.standard_normal(shape)
    y = 0.5 * x + rng.standard_normal(shape)
    loss = CCCLoss(weights=[2.0])(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(loss.item(), 2 * (1 - ref.ccc(x.ravel(), y.ravel())), atol=ATOL)


def test_weight_validation():
    loss_fn = CCCLoss(weights=WEIGHTS)
    with pytest.raises(ValueError, match="3 weight"):
        loss_fn(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="weight"):
        loss_fn(torch.zeros(2, 5), torch.zeros(2, 5))
    for bad in ([], [[1.0, 2.0]], [1.0, float("nan")], [-1.0]):
        with pytest.raises(ValueError, match="weights"):
            CCCLoss(weights=bad)
    with pytest.raises(ValueError, match="aggregation"):
        CCCLoss(aggregation="mean")
    with pytest.raises(ValueError, match="same shape"):
        CCCLoss()(torch.zeros(2, 5), torch.zeros(2, 6))


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constant_predictions_are_finite(rng, aggregation, dtype):
    target = torch.from_numpy(rng.standard_normal((3, 20, 2))).to(dtype)
    for preds in (torch.zeros_like(target), target.new_full(target.shape, 0.3), torch.full_like(target, 0.5)):
        preds.requires_grad_()
        for tgt in (target, torch.full_like(target, 0.5)):  # also constant target equal to preds
            with _no_warnings():
                loss = CCCLoss(weights=[0.5, 1.5], aggregation=aggregation)(preds, tgt)
                loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(preds.grad).all()
            np.testing.assert_allclose(loss.item(), 2.0, atol=1e-5)  # CCC = 0 → Σ w
            preds.grad = None


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
@pytest.mark.parametrize("garbage", [float("nan"), float("inf"), 1e30])
def test_masked_garbage_and_empty_rows_are_ignored(ref, rng, aggregation, garbage):
    xs, ys = ref.random_sequences(rng, [30, 12, 45], num_outputs=3)
    clean_preds, clean_target, clean_mask = _padded(ref, xs, ys, garbage=0.0)
    loss_fn = CCCLoss(weights=WEIGHTS, aggregation=aggregation)
    clean = loss_fn(clean_preds, clean_target, clean_mask)

    # same data plus garbage padding and two fully masked rows full of garbage
    preds, target, mask = _padded(ref, xs, ys, garbage=garbage)
    filler = torch.full((2,) + preds.shape[1:], garbage, dtype=preds.dtype)
    preds = torch.cat([filler, preds.detach()]).requires_grad_()
    target = torch.cat([filler, target])
    mask = torch.cat([torch.zeros(2, mask.shape[1], dtype=torch.bool), mask])
    with _no_warnings():
        loss = loss_fn(preds, target, mask)
        loss.backward()
    torch.testing.assert_close(loss, clean)
    assert torch.isfinite(preds.grad).all()
    assert (preds.grad[~mask] == 0).all()


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
@pytest.mark.parametrize("one_valid_frame", [False, True])
def test_fully_masked_batch_is_zero_with_grad(aggregation, one_valid_frame):
    preds = torch.full((2, 6, 3), float("nan"))
    target = torch.full((2, 6, 3), float("inf"))
    mask = torch.zeros(2, 6, dtype=torch.bool)
    if one_valid_frame:  # a single valid frame carries no correlation either
        mask[1, 0] = True
        preds[1, 0], target[1, 0] = 0.3, -0.2
    preds.requires_grad_()
    with _no_warnings():
        loss = CCCLoss(aggregation=aggregation)(preds, target, mask)
        loss.backward()
    assert loss.item() == 0 and loss.grad_fn is not None
    assert torch.isfinite(preds.grad).all() and (preds.grad == 0).all()


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float64, torch.float64),
        (torch.float32, torch.float32),
        (torch.bfloat16, torch.float32),
        (torch.float16, torch.float32),
    ],
)
def test_dtype(rng, dtype, expected):
    x, y = torch.from_numpy(rng.standard_normal((2, 3, 20, 2))).to(dtype).unbind(0)
    x.requires_grad_()
    loss = CCCLoss()(x, y)
    loss.backward()
    assert loss.dtype == expected and x.grad.dtype == dtype and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_gradcheck(rng, aggregation):
    preds = torch.from_numpy(rng.standard_normal((3, 7, 2))).requires_grad_()
    target = torch.from_numpy(rng.standard_normal((3, 7, 2)) + 0.5 * preds.detach().numpy()).requires_grad_()
    mask = torch.from_numpy(rng.random((3, 7)) > 0.25)
    mask[:, :2] = True
    loss_fn = CCCLoss(weights=WEIGHTS[:2], aggregation=aggregation, eps=0.0)
    assert torch.autograd.gradcheck(lambda p, t: loss_fn(p, t, mask), (preds, target))
    # the default eps changes the gradient only negligibly
    assert torch.autograd.gradcheck(lambda p, t: CCCLoss(eps=1e-8)(p, t, mask), (preds, target))


def test_gradient_descent_increases_ccc(rng):
    target = torch.from_numpy(rng.standard_normal((4, 30))).float()
    preds = torch.zeros_like(target, requires_grad=True)
    optimiser = torch.optim.SGD([preds], lr=5.0)
    loss_fn = CCCLoss()
    losses = []
    for _ in range(20):
        optimiser.zero_grad()
        loss = loss_fn(preds, target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_weights_not_in_state_dict_and_follow_dtype():
    loss_fn = CCCLoss(weights=WEIGHTS)
    assert loss_fn.state_dict() == {}
    assert "weights=[0.7, 0.2, 1.0]" in repr(loss_fn)
    x = torch.randn(2, 10, 3)
    assert loss_fn.double()(x.double(), x.double() + 1).dtype == torch.float64
