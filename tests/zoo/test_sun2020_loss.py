"""``loss.aggregation``: the CCC loss of the Sun et al. (2020) recipe against NumPy references.

The released code (github.com/youcaiSUN/MuSe-Wild_2020, ``utils.CCCLoss``) computes, per target,
the CCC of every window of the batch over its valid (unpadded) frames with population (1/N)
moments, averages the CCCs over the windows, and trains on ``Σ_k w_k (1 − mean_b CCC_bk)``.
That is ``loss.aggregation=per_sequence``; ``pooled`` is one CCC over all valid frames.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.ccc import CCCLoss
from zoo.config.recipe import load_recipe
from zoo.training.losses import build_loss


def np_ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Population CCC (Lin 1989; Sun et al. 2020 Eq. 13)."""
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return 2 * cov / (x.var() + y.var() + (mx - my) ** 2)


def np_per_sequence_loss(p: np.ndarray, t: np.ndarray, lengths: list[int], w: list[float]) -> float:
    """Σ_k w_k (1 − mean over windows of the window's CCC over its first ``length`` frames)."""
    total = 0.0
    for k, wk in enumerate(w):
        cccs = [np_ccc(p[b, :n, k], t[b, :n, k]) for b, n in enumerate(lengths)]
        total += wk * (1.0 - float(np.mean(cccs)))
    return total


def np_pooled_loss(p: np.ndarray, t: np.ndarray, lengths: list[int], w: list[float]) -> float:
    total = 0.0
    for k, wk in enumerate(w):
        x = np.concatenate([p[b, :n, k] for b, n in enumerate(lengths)])
        y = np.concatenate([t[b, :n, k] for b, n in enumerate(lengths)])
        total += wk * (1.0 - np_ccc(x, y))
    return total


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = [200, 57, 123, 200]
    t = rng.normal(size=(4, 200, 2)) * [0.3, 0.5] + [0.1, -0.2]
    p = 0.6 * t + rng.normal(size=t.shape) * 0.4 + rng.normal(size=(4, 1, 2)) * 0.3
    mask = np.arange(200)[None, :] < np.array(lengths)[:, None]
    p[~mask] = 1e3  # padding must not matter
    return p, t, mask, lengths


@pytest.mark.parametrize("weights", [None, [0.5, 0.5], [1.0, 0.25]])
def test_per_sequence_matches_numpy_reference(weights):
    p, t, mask, lengths = batch()
    loss = build_loss("ccc", ["arousal", "valence"], weights, aggregation="per_sequence")
    got = loss(torch.tensor(p), torch.tensor(t), torch.tensor(mask)).item()
    want = np_per_sequence_loss(p, t, lengths, weights or [1.0, 1.0])
    assert got == pytest.approx(want, abs=1e-7)


def test_pooled_matches_numpy_reference_and_differs_from_per_sequence():
    p, t, mask, lengths = batch(1)
    args = (torch.tensor(p), torch.tensor(t), torch.tensor(mask))
    pooled = build_loss("ccc", ["arousal", "valence"], aggregation="pooled")(*args).item()
    per_seq = build_loss("ccc", ["arousal", "valence"], aggregation="per_sequence")(*args).item()
    assert pooled == pytest.approx(np_pooled_loss(p, t, lengths, [1, 1]), abs=1e-7)
    # the per-window offsets make the two aggregations genuinely different numbers
    assert abs(pooled - per_seq) > 1e-3


def test_default_is_pooled_and_bad_aggregation_is_named():
    loss = build_loss("ccc", ["arousal"])
    assert isinstance(loss, CCCLoss) and loss.aggregation == "pooled"
    with pytest.raises(ValueError, match="loss.aggregation.*pooled, per_sequence.*'window'"):
        build_loss("ccc", ["arousal"], aggregation="window")


def test_sun2020_recipe_trains_with_the_released_per_window_ccc():
    cfg = load_recipe("muse_car/sun2020_lstm_selfattn")
    assert cfg["loss"]["name"] == "ccc" and cfg["loss"]["aggregation"] == "per_sequence"
    # the released fusion code trains with the same loss
    fusion = load_recipe("muse_car/sun2020_late_fusion", ["data.args.sources=[a]"])
    assert fusion["loss"]["aggregation"] == "per_sequence"
    # the default stays pooled for every other recipe
    from pathlib import Path

    import yaml

    defaults = yaml.safe_load((Path(__file__).parents[2] / "recipes" / "defaults.yaml").read_text())
    assert defaults["loss"]["aggregation"] == "pooled"


def test_emotion_task_passes_aggregation_to_the_loss():
    from zoo.training.task import EmotionTask

    spec = {"target_names": ["arousal"], "feature_dims": {"egemaps": 4}}
    task = EmotionTask(
        "sun2020_lstm_selfattn",
        spec,
        {"hidden_size": 8, "num_heads": 2},
        loss={"name": "ccc", "aggregation": "per_sequence"},
    )
    assert task.loss_fn.aggregation == "per_sequence"
    assert (
        EmotionTask("sun2020_lstm_selfattn", spec, {"hidden_size": 8, "num_heads": 2}).loss_fn.aggregation == "pooled"
    )


def test_short_remainder_window_padded_in_a_batch_trains_as_if_alone():
    """The release's last window of a recording is shorter than 200 frames (``last_window:
    remainder``): padded into a batch, its padded frames must change neither the loss nor the
    gradients. Batch = the 4 windows of a 450-frame recording (200, 200, 200, 150 frames); the
    reference runs each window alone (no padding) and averages the per-window losses."""
    from zoo.data._sequence import Recording, SequenceDataset, collate_sequences
    from zoo.models.sun2020 import Sun2020Net

    rng = np.random.default_rng(3)
    n = 450
    rec = Recording(
        "v",
        {"a": rng.normal(size=(n, 5)).astype(np.float32)},
        np.arange(n) * 0.25,
        np.cumsum(rng.normal(size=(n, 1)), 0).astype(np.float32) * 0.05,
    )
    ds = SequenceDataset([rec], 1, win_len=200, hop_len=100, last_window="remainder")
    items = [ds[i] for i in range(len(ds))]
    assert [len(it["timestamps"]) for it in items] == [200, 200, 200, 150]
    torch.manual_seed(0)
    net = Sun2020Net({"a": 5}, 1, hidden_size=8, num_heads=2, dropout=0.0, head_hidden_size=4)
    loss_fn = build_loss("ccc", ["arousal"], aggregation="per_sequence")

    b = collate_sequences(items)
    b["features"]["a"][3, 150:] = 1e3  # whatever the padding holds
    b["targets"][3, 150:] = -1e3
    loss = loss_fn(net(b["features"], b["mask"]), b["targets"], b["mask"])
    grads = torch.autograd.grad(loss, list(net.parameters()))

    alone = []
    for it in items:
        one = collate_sequences([it])
        alone.append(loss_fn(net(one["features"], one["mask"]), one["targets"], one["mask"]))
    want = torch.stack(alone).mean()
    want_grads = torch.autograd.grad(want, list(net.parameters()))
    assert loss.item() == pytest.approx(want.item(), abs=1e-6)
    for g, w in zip(grads, want_grads):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
