"""Post-processing steps on constructed signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.training.postprocess import PostProcessor, TargetChain, fit_postprocessor, median_window_grid, shift_grid

STEP = 0.04


def _smooth(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) * STEP
    return sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / (i + 1) for i, f in enumerate([0.03, 0.07, 0.13]))


def _np_ccc(x, y):
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _recordings(make_pred, n_rec=3, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    golds = [_smooth(rng, n)[:, None] for _ in range(n_rec)]
    return [make_pred(g) for g in golds], golds


def test_prediction_two_seconds_early_is_shifted_back():
    k = int(2.0 / STEP)  # 50 frames

    def early(g):  # the model predicts the label 2 s before the raters report it
        return np.concatenate([g[k:], np.repeat(g[-1:], k, axis=0)])

    preds, golds = _recordings(early)
    pp = fit_postprocessor(preds, golds, ["arousal"], STEP, steps=["shift"])
    assert pp.targets["arousal"].shift == k


def test_biased_prediction_is_recentred():
    preds, golds = _recordings(lambda g: g + 0.5)
    chain = fit_postprocessor(preds, golds, ["valence"], STEP, steps=["centre"]).targets["valence"]
    assert chain.bias == pytest.approx(-0.5, abs=1e-9)
    out = chain.apply(preds[0][:, 0])
    np.testing.assert_allclose(out, golds[0][:, 0], atol=1e-9)


def test_shrunk_prediction_is_rescaled():
    def shrunk(g):
        return 0.5 * g

    preds, golds = _recordings(shrunk)
    chain = fit_postprocessor(preds, golds, ["a"], STEP, steps=["scale"]).targets["a"]
    assert chain.scale == pytest.approx(2.0, rel=1e-9)


def test_median_filter_removes_spikes_and_is_kept_only_if_it_helps():
    rng = np.random.default_rng(3)

    def spiky(g):
        p = g.copy()
        idx = rng.choice(len(g), 60, replace=False)
        p[idx] += rng.choice([-3.0, 3.0], (60, 1))
        return p

    preds, golds = _recordings(spiky)
    chain = fit_postprocessor(preds, golds, ["a"], STEP, steps=["median"]).targets["a"]
    assert chain.median > 1
    raw = _np_ccc(np.concatenate(preds)[:, 0], np.concatenate(golds)[:, 0])
    assert chain.val_ccc["median"] > raw + 0.1
    # a perfect prediction gains nothing: every step stays off
    chain = fit_postprocessor(golds, golds, ["a"], STEP).targets["a"]
    assert (chain.median, chain.bias, chain.scale, chain.shift) == (0, 0.0, 1.0, 0)


def test_grids_span_the_papers_ranges():
    windows = median_window_grid(STEP)
    assert windows[0] * STEP == pytest.approx(0.44, abs=0.05) and windows[-1] * STEP <= 20.04
    assert all(w % 2 == 1 for w in windows)
    shifts = shift_grid(STEP)
    assert shifts[0] == 1 and shifts[-1] == 250


def test_round_trip_and_batch_application_leaves_padding():
    chain = TargetChain(median=3, bias=0.1, scale=2.0, centre_of_scale=0.0, shift=1)
    pp = PostProcessor.from_dict(PostProcessor(STEP, {"a": chain}).to_dict())
    x = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    # median(3, nearest) → [0,0,1,1,1]; +0.1; ×2 around 0 → [.2,.2,2.2,2.2,2.2]; delay 1 → [.2,.2,.2,2.2,2.2]
    np.testing.assert_allclose(pp.targets["a"].apply(x), [0.2, 0.2, 0.2, 2.2, 2.2])
    preds = torch.zeros(2, 5, 1)
    preds[0, :, 0] = torch.tensor(x)
    preds[1, 3:] = 99.0  # padding
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    out = pp.apply_batch(preds, mask, ["a"])
    np.testing.assert_allclose(out[0, :, 0].numpy(), [0.2, 0.2, 0.2, 2.2, 2.2], atol=1e-6)
    assert (out[1, 3:] == 99.0).all()
    with pytest.raises(ValueError, match="malformed"):
        PostProcessor.from_dict({"label_step": 0.04})
