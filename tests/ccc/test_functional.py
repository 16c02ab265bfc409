"""Tests for :func:`zoo.ccc.concordance_cc` and the shared statistics, against NumPy."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from zoo.ccc import (
    DegenerateCCCWarning,
    ccc_from_stats,
    ccc_sufficient_stats,
    concordance_cc,
    merge_ccc_stats,
)

ATOL = 1e-6
DDOF = {"population": 0, "sample": 1}


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Turn every warning into an error inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("estimator", ["population", "sample"])
def test_1d_matches_numpy(ref, rng, estimator):
    (x,), (y,) = ref.random_sequences(rng, [200])
    out = concordance_cc(torch.from_numpy(x[:, 0]), torch.from_numpy(y[:, 0]), estimator=estimator)
    assert out.shape == () and out.dtype == torch.float64
    np.testing.assert_allclose(out.item(), ref.ccc(x[:, 0], y[:, 0], DDOF[estimator]), atol=ATOL)


@pytest.mark.parametrize("estimator", ["population", "sample"])
@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_2d_masked_matches_numpy(ref, rng, estimator, aggregation):
    xs, ys = ref.random_sequences(rng, [37, 5, 80, 12])
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys)
    out = concordance_cc(preds[..., 0], target[..., 0], mask, aggregation=aggregation, estimator=estimator)
    expected = getattr(ref, aggregation)(xs, ys, DDOF[estimator])
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), expected[0], atol=ATOL)


@pytest.mark.parametrize("estimator", ["population", "sample"])
@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_3d_masked_matches_numpy(ref, rng, estimator, aggregation):
    xs, ys = ref.random_sequences(rng, [20, 64, 3, 41, 9], num_outputs=3)
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys, garbage=float("inf"))
    out = concordance_cc(preds, target, mask, aggregation=aggregation, estimator=estimator)
    assert out.shape == (3,) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), getattr(ref, aggregation)(xs, ys, DDOF[estimator]), atol=ATOL)


def test_no_mask_equals_all_true_mask(rng):
    preds, target = torch.from_numpy(rng.standard_normal((2, 3, 30, 2))).unbind(0)
    full = torch.ones(3, 30, dtype=torch.bool)
    for aggregation in ("pooled", "per_sequence"):
        torch.testing.assert_close(
            concordance_cc(preds, target, aggregation=aggregation),
            concordance_cc(preds, target, full, aggregation=aggregation),
        )


def test_1d_per_sequence_is_one_sequence(rng):
    x, y = torch.from_numpy(rng.standard_normal((2, 50))).unbind(0)
    mask = torch.from_numpy(rng.random(50) > 0.2)
    torch.testing.assert_close(
        concordance_cc(x, y, mask, aggregation="per_sequence"),
        concordance_cc(x, y, mask, aggregation="pooled"),
    )


@pytest.mark.parametrize("shape", [(100,), (4, 25), (4, 25, 3)])
@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_self_agreement_is_exactly_one(rng, shape, aggregation):
    x = torch.from_numpy(rng.standard_normal(shape) * 3 + 7)
    mask = torch.from_numpy(rng.random(shape[: min(len(shape), 2)]) > 0.3)
    with _no_warnings():
        out = concordance_cc(x, x.clone(), mask, aggregation=aggregation)
    assert torch.equal(out, torch.ones_like(out))


def test_negated_series_is_negative(ref, rng):
    x = rng.standard_normal(300)
    out = concordance_cc(torch.from_numpy(x), torch.from_numpy(-x))
    assert out.item() < 0
    np.testing.assert_allclose(out.item(), ref.ccc(x, -x), atol=ATOL)
    centred = x - x.mean()
    centred_out = concordance_cc(torch.from_numpy(centred), torch.from_numpy(-centred))
    np.testing.assert_allclose(centred_out.item(), -1, atol=ATOL)


@pytest.mark.parametrize("aggregation", ["pooled", "per_sequence"])
def test_large_offset_is_accurate(ref, rng, aggregation):
    xs, ys = ref.random_sequences(rng, [500, 300, 700], num_outputs=2, offset=1e4, scale=1.0)
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys)
    out = concordance_cc(preds, target, mask, aggregation=aggregation)
    np.testing.assert_allclose(out.numpy(), getattr(ref, aggregation)(xs, ys), atol=ATOL)


def test_large_offset_float32_input(ref, rng):
    xs, ys = ref.random_sequences(rng, [400, 250], offset=1e4, scale=1.0)
    preds, mask = ref.pad(xs, dtype=torch.float32)
    target, _ = ref.pad(ys, dtype=torch.float32)
    out = concordance_cc(preds, target, mask)
    assert out.dtype == torch.float32
    # the reference sees the same float32-rounded values
    xs32 = [s.astype(np.float32).astype(np.float64) for s in xs]
    ys32 = [s.astype(np.float32).astype(np.float64) for s in ys]
    np.testing.assert_allclose(out.numpy(), ref.pooled(xs32, ys32), atol=ATOL)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float64, torch.float64),
        (torch.float32, torch.float32),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float32),
    ],
)
def test_output_dtype(rng, dtype, expected):
    x, y = torch.from_numpy(rng.standard_normal((2, 3, 20))).to(dtype).unbind(0)
    assert concordance_cc(x, y).dtype == expected
    assert concordance_cc(x, y, aggregation="per_sequence").dtype == expected


@pytest.mark.parametrize("estimator", ["population", "sample"])
def test_fewer_than_two_frames_is_nan_with_warning(estimator):
    x, y = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.5, 2.0, 2.5]])
    for mask in (torch.tensor([[False, True, False]]), torch.zeros(1, 3, dtype=torch.bool)):
        with pytest.warns(DegenerateCCCWarning):
            out = concordance_cc(x, y, mask, estimator=estimator)
        assert torch.isnan(out)
    with pytest.warns(DegenerateCCCWarning):
        assert torch.isnan(concordance_cc(torch.tensor([1.0]), torch.tensor([2.0])))


@pytest.mark.parametrize("value", [0.1, 1e4 + 0.3, -2.7])
@pytest.mark.parametrize("estimator", ["population", "sample"])
def test_both_constant_and_equal_is_nan_with_warning(value, estimator):
    x = torch.full((3, 7), value, dtype=torch.float64)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    with pytest.warns(DegenerateCCCWarning):
        out = concordance_cc(x, x.clone(), mask, estimator=estimator)
    assert torch.isnan(out)


def test_constant_but_different_is_zero_without_warning():
    with _no_warnings():
        out = concordance_cc(torch.full((10,), 0.1), torch.full((10,), 0.3))
        varied = concordance_cc(torch.full((10,), 0.1), torch.linspace(0, 1, 10))
    assert out.item() == 0 and varied.item() == 0


def test_per_sequence_excludes_degenerate_sequences(ref, rng):
    xs, ys = ref.random_sequences(rng, [30, 1, 25, 2], num_outputs=2)
    xs[3][:] = ys[3][:] = 0.5  # constant and equal: undefined
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys)
    with pytest.warns(DegenerateCCCWarning, match="excluded"):
        out = concordance_cc(preds, target, mask, aggregation="per_sequence")
    expected = ref.per_sequence(xs[:1] + xs[2:3], ys[:1] + ys[2:3])
    np.testing.assert_allclose(out.numpy(), expected, atol=ATOL)


def test_per_sequence_all_degenerate_is_nan():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[True, False], [False, True]])
    with pytest.warns(DegenerateCCCWarning):
        out = concordance_cc(x, x + 1, mask, aggregation="per_sequence")
    assert torch.isnan(out)


@pytest.mark.parametrize(
    ("preds_shape", "target_shape"), [((4, 10), (4, 11)), ((10,), (10, 1)), ((2, 3, 4), (2, 3, 5))]
)
def test_shape_mismatch_names_both_shapes(preds_shape, target_shape):
    with pytest.raises(ValueError, match="same shape") as info:
        concordance_cc(torch.zeros(preds_shape), torch.zeros(target_shape))
    assert str(tuple(preds_shape)) in str(info.value) and str(tuple(target_shape)) in str(info.value)


@pytest.mark.parametrize(
    ("shape", "mask_shape"), [((4, 10), (4, 9)), ((4, 10, 2), (4, 10, 2)), ((10,), (1, 10)), ((4, 10), (10,))]
)
def test_mask_shape_mismatch(shape, mask_shape):
    with pytest.raises(ValueError, match="mask"):
        concordance_cc(torch.zeros(shape), torch.zeros(shape), torch.ones(mask_shape, dtype=torch.bool))


def test_bad_arguments():
    x = torch.randn(2, 3, 4, 5)
    with pytest.raises(ValueError, match="shape"):
        concordance_cc(x, x)
    with pytest.raises(ValueError, match="aggregation"):
        concordance_cc(x[0], x[0], aggregation="mean")
    with pytest.raises(ValueError, match="estimator"):
        concordance_cc(x[0], x[0], estimator="unbiased")
    with pytest.raises(TypeError, match="mask"):
        concordance_cc(x[0, 0], x[0, 0], torch.ones(4, 5))
    with pytest.raises(TypeError):
        concordance_cc(x[0, 0].numpy(), x[0, 0])


def test_sufficient_stats_and_merge(ref, rng):
    xs, ys = ref.random_sequences(rng, [40, 17, 60], num_outputs=2, offset=50.0)
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys)
    stats = ccc_sufficient_stats(preds, target, mask)
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    np.testing.assert_allclose(stats.n.numpy(), [len(x_all)] * 2)
    np.testing.assert_allclose(stats.sum_x.numpy(), x_all.sum(0), rtol=1e-12)
    np.testing.assert_allclose(stats.sum_yy.numpy(), (y_all**2).sum(0), rtol=1e-12)
    np.testing.assert_allclose(stats.sum_xy.numpy(), (x_all * y_all).sum(0), rtol=1e-12)
    np.testing.assert_allclose(stats.m2_x.numpy(), ((x_all - x_all.mean(0)) ** 2).sum(0), rtol=1e-10)

    per_seq = ccc_sufficient_stats(preds, target, mask, per_sequence=True)
    assert per_seq.n.shape == (3, 2)
    merged = merge_ccc_stats(per_seq, dim=0)
    for field in stats._fields:
        torch.testing.assert_close(getattr(merged, field), getattr(stats, field), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ccc_from_stats(merged).numpy(), ref.pooled(xs, ys), atol=ATOL)
    np.testing.assert_allclose(ccc_from_stats(merged, "sample").numpy(), ref.pooled(xs, ys, 1), atol=ATOL)
