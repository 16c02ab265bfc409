"""Tests for :class:`zoo.ccc.ConcordanceCorrCoef` (single process), against NumPy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from zoo.ccc import ConcordanceCorrCoef, DegenerateCCCWarning, concordance_cc

ATOL = 1e-6
DDOF = {"population": 0, "sample": 1}


def _random_batches(ref, rng, num_batches, num_outputs, **kwargs):
    """Batches of random size: lists of (T_b, K) prediction and target sequences."""
    batches = []
    for _ in range(num_batches):
        lengths = rng.integers(1, 60, size=rng.integers(1, 6))
        batches.append(ref.random_sequences(rng, lengths, num_outputs=num_outputs, **kwargs))
    return batches


def _update(metric, ref, batches, squeeze=False, dtype=torch.float64):
    """Feed padded (NaN-garbage) batches to ``metric``; ``squeeze`` sends (B, T) instead of (B, T, 1)."""
    for xs, ys in batches:
        preds, mask = ref.pad(xs, dtype=dtype)
        target, _ = ref.pad(ys, garbage=-float("inf"), dtype=dtype)
        if squeeze:
            preds, target = preds[..., 0], target[..., 0]
        metric.update(preds, target, mask)


def _concat(batches):
    return [s for xs, _ in batches for s in xs], [s for _, ys in batches for s in ys]


@pytest.mark.parametrize("estimator", ["population", "sample"])
@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
@pytest.mark.parametrize("num_outputs", [1, 3])
def test_accumulation_equals_functional_on_concatenation(ref, rng, num_outputs, aggregation, estimator):
    batches = _random_batches(ref, rng, 25, num_outputs)
    # sequences of one frame have no per-sequence CCC; keep them out of this test
    batches = [([x for x in xs if len(x) > 1], [y for y in ys if len(y) > 1]) for xs, ys in batches]
    batches = [b for b in batches if b[0]]
    metric = ConcordanceCorrCoef(num_outputs=num_outputs, aggregation=aggregation, estimator=estimator)
    _update(metric, ref, batches, squeeze=num_outputs == 1)
    out = metric.compute()

    xs, ys = _concat(batches)
    expected = getattr(ref, aggregation)(xs, ys, DDOF[estimator])
    assert out.shape == (() if num_outputs == 1 else (num_outputs,))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(np.atleast_1d(out.numpy()), expected, atol=ATOL)

    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys)
    if num_outputs == 1:
        preds, target = preds[..., 0], target[..., 0]
    functional = concordance_cc(preds, target, mask, aggregation=aggregation, estimator=estimator)
    torch.testing.assert_close(out, functional, rtol=0, atol=1e-12)


def test_large_offset_streaming_is_stable(ref, rng):
    # raw power sums would lose all precision at this offset; the centred merge does not
    batches = _random_batches(ref, rng, 30, 2, offset=1e7, scale=1.0)
    metric = ConcordanceCorrCoef(num_outputs=2)
    _update(metric, ref, batches)
    np.testing.assert_allclose(metric.compute().numpy(), ref.pooled(*_concat(batches)), atol=ATOL)


def test_reset(ref, rng):
    metric = ConcordanceCorrCoef(num_outputs=2)
    first, second = _random_batches(ref, rng, 3, 2), _random_batches(ref, rng, 4, 2)
    _update(metric, ref, first)
    metric.reset()
    _update(metric, ref, second)
    np.testing.assert_allclose(metric.compute().numpy(), ref.pooled(*_concat(second)), atol=ATOL)


def test_reset_per_sequence(ref, rng):
    metric = ConcordanceCorrCoef(aggregation="per_sequence")
    first = [ref.random_sequences(rng, [10, 20])]
    second = [ref.random_sequences(rng, [30, 5, 8]), ref.random_sequences(rng, [12])]
    _update(metric, ref, first, squeeze=True)
    metric.reset()
    _update(metric, ref, second, squeeze=True)
    np.testing.assert_allclose(metric.compute().item(), ref.per_sequence(*_concat(second))[0], atol=ATOL)


def test_forward_returns_batch_value_and_accumulates(ref, rng):
    batches = _random_batches(ref, rng, 5, 3)
    metric = ConcordanceCorrCoef(num_outputs=3)
    for xs, ys in batches:
        preds, mask = ref.pad(xs)
        target, _ = ref.pad(ys)
        batch_value = metric(preds, target, mask)
        np.testing.assert_allclose(batch_value.numpy(), ref.pooled(xs, ys), atol=ATOL)
    np.testing.assert_allclose(metric.compute().numpy(), ref.pooled(*_concat(batches)), atol=ATOL)


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_merge_state(ref, rng, aggregation):
    batches = [ref.random_sequences(rng, [40, 25], num_outputs=2) for _ in range(4)]
    left = ConcordanceCorrCoef(num_outputs=2, aggregation=aggregation)
    right = ConcordanceCorrCoef(num_outputs=2, aggregation=aggregation)
    _update(left, ref, batches[:3])
    _update(right, ref, batches[3:])
    left.merge_state(right)
    expected = getattr(ref, aggregation)(*_concat(batches))
    np.testing.assert_allclose(left.compute().numpy(), expected, atol=ATOL)


def test_accepted_shapes(ref, rng):
    (x,), (y,) = ref.random_sequences(rng, [80], num_outputs=3)
    expected = ref.pooled([x], [y])
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    n_by_k = ConcordanceCorrCoef(num_outputs=3)
    n_by_k.update(x, y)
    np.testing.assert_allclose(n_by_k.compute().numpy(), expected, atol=ATOL)

    layouts = ((x[:, 0], y[:, 0]), (x[None, :, 0], y[None, :, 0]), (x[None, :, :1], y[None, :, :1]))
    for preds, target in layouts:
        single = ConcordanceCorrCoef()
        single.update(preds, target)
        out = single.compute()
        assert out.shape == ()
        np.testing.assert_allclose(out.item(), expected[0], atol=ATOL)


def test_shape_errors():
    metric = ConcordanceCorrCoef(num_outputs=3)
    with pytest.raises(ValueError, match="num_outputs=3"):
        metric.update(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="num_outputs=3"):
        metric.update(torch.zeros(10), torch.zeros(10))
    with pytest.raises(ValueError, match="no mask"):
        metric.update(torch.zeros(10, 3), torch.zeros(10, 3), torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        metric.update(torch.zeros(2, 5, 3), torch.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="num_outputs=1"):
        ConcordanceCorrCoef().update(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="mask"):
        ConcordanceCorrCoef().update(torch.zeros(2, 5), torch.zeros(2, 5), torch.ones(2, 4, dtype=torch.bool))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_outputs"):
            ConcordanceCorrCoef(num_outputs=bad)
    with pytest.raises(ValueError, match="aggregation"):
        ConcordanceCorrCoef(aggregation="macro")
    with pytest.raises(ValueError, match="estimator"):
        ConcordanceCorrCoef(estimator="biased")


def test_output_dtype_follows_input(rng):
    x, y = torch.from_numpy(rng.standard_normal((2, 4, 30, 2))).unbind(0)
    metric = ConcordanceCorrCoef(num_outputs=2)
    metric.update(x, y)
    assert metric.compute().dtype == torch.float64
    torch.testing.assert_close(metric.compute(), concordance_cc(x, y))
    metric.update(x.float(), y.float())  # mixed inputs: float32, as the functional on a float32 concatenation
    assert metric.compute().dtype == torch.float32
    metric.reset()
    metric.update(x.half(), y.half())
    assert metric.compute().dtype == torch.float32


def test_constant_equal_data_across_batches_is_nan():
    metric = ConcordanceCorrCoef()
    for length in (3, 7, 11):
        constant = torch.full((length,), 0.1, dtype=torch.float64)
        metric.update(constant, constant.clone())
    with pytest.warns(DegenerateCCCWarning):
        assert torch.isnan(metric.compute())


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_compute_without_data_is_nan(aggregation):
    metric = ConcordanceCorrCoef(num_outputs=2, aggregation=aggregation)
    with pytest.warns(UserWarning) as record:
        out = metric.compute()
    assert torch.isnan(out).all() and out.shape == (2,)
    assert any(issubclass(w.category, DegenerateCCCWarning) for w in record)


def test_per_sequence_skips_short_sequences(ref, rng):
    xs, ys = ref.random_sequences(rng, [30, 1, 20])
    metric = ConcordanceCorrCoef(aggregation="per_sequence")
    with pytest.warns(DegenerateCCCWarning):
        _update(metric, ref, [(xs, ys)], squeeze=True)
    np.testing.assert_allclose(metric.compute().item(), ref.per_sequence(xs, ys)[0], atol=ATOL)
    assert metric.num_sequences.item() == 2


def test_pickle_roundtrip(ref, rng):
    batches = _random_batches(ref, rng, 3, 2)
    metric = ConcordanceCorrCoef(num_outputs=2)
    _update(metric, ref, batches)
    clone = pickle.loads(pickle.dumps(metric))
    torch.testing.assert_close(clone.compute(), metric.compute())
