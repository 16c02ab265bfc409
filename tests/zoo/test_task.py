"""EmotionTask: losses, metrics, optimisers and schedulers from the recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.training.task import EmotionTask

SPEC = {
    "feature_names": ["a"],
    "feature_dims": {"a": 5},
    "target_names": ["arousal", "valence"],
    "label_step": 0.25,
    "normalization": None,
}


def _np_ccc(x, y):
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _batch(has_targets=True):
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(3, 12, dtype=torch.bool)
    mask[1, 8:] = False
    return {
        "features": {"a": torch.randn(3, 12, 5, generator=g)},
        "targets": torch.randn(3, 12, 2, generator=g),
        "mask": mask,
        "ids": ["x", "y", "z"],
        "has_targets": torch.tensor([has_targets] * 3),
    }


def _task(spec=SPEC, **kw):
    return EmotionTask("sun2020_lstm", spec, model_args={"hidden_size": 8}, **kw)


def test_ccc_loss_of_the_step_matches_numpy():
    task = _task(loss={"name": "ccc", "weights": [0.7, 0.2]})
    batch = _batch()
    preds, loss = task._shared_step(batch)
    m = batch["mask"].numpy()
    p, y = preds.detach().numpy()[m], batch["targets"].numpy()[m]
    expected = 0.7 * (1 - _np_ccc(p[:, 0], y[:, 0])) + 0.2 * (1 - _np_ccc(p[:, 1], y[:, 1]))
    assert loss.item() == pytest.approx(expected, abs=1e-4)


def test_eval_metrics_pool_over_batches():
    task = _task()
    batches = [_batch(), _batch()]
    batches[1]["targets"] = batches[1]["targets"] * 3 + 1
    logged = {}
    task.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    preds, golds = [], []
    for b in batches:
        out = task.validation_step(b, 0)
        m = b["mask"].numpy()
        preds.append(out["preds"].detach().numpy()[m])
        golds.append(b["targets"].numpy()[m])
    task.on_validation_epoch_end()
    p, y = np.concatenate(preds), np.concatenate(golds)
    for k, name in enumerate(["arousal", "valence"]):
        assert logged[f"val/ccc_{name}"] == pytest.approx(_np_ccc(p[:, k], y[:, k]), abs=1e-5)
    assert logged["val/ccc_mean"] == pytest.approx((logged["val/ccc_arousal"] + logged["val/ccc_valence"]) / 2)


def test_scoring_without_labels_is_refused():
    with pytest.raises(RuntimeError, match="no labels.*zoo predict"):
        _task().test_step(_batch(has_targets=False), 0)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
        ("sgd", torch.optim.SGD),
    ],
)
def test_optimizers(name, cls):
    opt = _task(optimizer={"name": name, "lr": 0.01, "weight_decay": 0.0}).configure_optimizers()
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.01


def test_schedulers():
    conf = _task(
        optimizer={"name": "adam", "lr": 0.01},
        scheduler={"name": "plateau", "monitor": "train/loss", "patience": 5, "factor": 0.5},
    ).configure_optimizers()
    assert isinstance(conf["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert conf["lr_scheduler"]["monitor"] == "train/loss"
    conf = _task(
        optimizer={"name": "adam", "lr": 0.01}, scheduler={"name": "step", "step_size": 50, "gamma": 0.5}
    ).configure_optimizers()
    assert conf["lr_scheduler"]["scheduler"].step_size == 50
    with pytest.raises(ValueError, match="unknown scheduler"):
        _task(optimizer={"lr": 0.1}, scheduler={"name": "cosine"}).configure_optimizers()
    with pytest.raises(ValueError, match="unknown optimizer"):
        _task(optimizer={"name": "lion", "lr": 0.1}).configure_optimizers()


def test_segment_level_outputs_use_no_frame_mask():
    """At the declared segment level, (B, K) outputs (one label per segment) are scored on every
    segment; the (B, L) input mask only marks padded input steps."""

    class _MeanNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(5, 2)

        def forward(self, features, mask):
            x = features["a"] * mask.unsqueeze(-1)
            return self.w(x.sum(1) / mask.sum(1, keepdim=True))

    task = _task({**SPEC, "level": "segment"}, loss={"name": "mae"})
    task.net = _MeanNet()
    batch = _batch()
    batch["targets"] = torch.rand(3, 2)
    preds, loss = task._shared_step(batch)
    assert preds.shape == (3, 2)
    expected = np.abs(preds.detach().numpy() - batch["targets"].numpy()).mean(0).sum()
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    frame_task = _task(loss={"name": "mae"})  # the same outputs on frame-level data: an error, not a guess
    frame_task.net = _MeanNet()
    with pytest.raises(ValueError, match="frame-level data needs outputs with 3 dimensions"):
        frame_task._shared_step(batch)


def test_lr_multipliers_give_a_submodule_its_own_learning_rate():
    task = _task(
        optimizer={
            "name": "adam",
            "lr": 0.01,
            "weight_decay": 0.0,
            "args": {},
            "lr_multipliers": {"net": {"head": 0.1}},
        }
    )  # nested = dotted prefix
    optimizer = task.configure_optimizers()
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert groups["base"]["lr"] == 0.01 and groups["net.head"]["lr"] == pytest.approx(0.001)
    head = {id(p) for p in task.net.head.parameters()}
    assert {id(p) for p in groups["net.head"]["params"]} == head
    others = [p for n, p in task.named_parameters() if not n.startswith("net.head.")]
    assert {id(p) for p in groups["base"]["params"]} == {id(p) for p in others}
    # one Adam step moves the head 10x less than it would at the base rate (first Adam step = lr·sign)
    before = task.net.head.weight.detach().clone()
    task.net.head.weight.grad = torch.ones_like(before)
    optimizer.step()
    assert torch.allclose(before - task.net.head.weight.detach(), torch.full_like(before, 0.001), atol=1e-7)


def test_lr_multiplier_prefix_must_match_a_module():
    task = _task(optimizer={"name": "adam", "lr": 0.01, "lr_multipliers": {"net.hea": 0.1}})
    with pytest.raises(ValueError, match=r"\['net.hea'\] match no trainable parameter.*net.head"):
        task.configure_optimizers()
    with pytest.raises(ValueError, match=">= 0"):
        _task(optimizer={"name": "adam", "lr": 0.01, "lr_multipliers": {"net.head": -1}}).configure_optimizers()
    with pytest.raises(ValueError, match="net.head:0.1: expected a number"):  # `{net.head:0.1}` without a space
        _task(optimizer={"name": "adam", "lr": 0.01, "lr_multipliers": {"net.head:0.1": None}}).configure_optimizers()


def test_non_finite_training_loss_stops_with_the_step_and_recordings():
    from zoo.errors import TrainingError

    task = _task()
    batch = _batch()
    batch["features"]["a"][1, 3, 2] = float("nan")
    with pytest.raises(
        TrainingError, match=r"loss is nan at epoch 0, step 0 \(batch 4, recordings \['x', 'y', 'z'\]\)"
    ):
        task.training_step(batch, 4)


def test_eval_loss_is_the_batch_size_weighted_mean_and_ignores_padding():
    """val/loss = Σ_b n_b·loss_b / Σ_b n_b over the epoch (not a mean of per-process means); a
    padding item (a DDP rank without recordings) counts nowhere."""
    task = _task(loss={"name": "mse"}).eval()
    logged = {}
    task.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    full, small = _batch(), _batch()
    small = {
        **small,
        "features": {"a": small["features"]["a"][:1] * 2},
        "targets": small["targets"][:1],
        "mask": small["mask"][:1],
        "ids": ["w"],
        "has_targets": small["has_targets"][:1],
    }
    padded = {
        **small,
        "features": {"a": torch.cat([small["features"]["a"], full["features"]["a"][:1]])},
        "targets": torch.cat([small["targets"], full["targets"][:1] + 100]),
        "mask": torch.cat([small["mask"], full["mask"][:1]]),
        "ids": ["w", "x"],
        "has_targets": torch.tensor([True, True]),
        "padding": torch.tensor([False, True]),
    }
    expected = []
    for b, n in ((full, 3), (small, 1)):
        with torch.no_grad():
            p = task(b["features"], b["mask"]).numpy()
        m = b["mask"].numpy()
        # the mse loss is Σ_k w_k · mean over valid frames of (p - y)², weights 1
        expected.append((np.mean((p[m] - b["targets"].numpy()[m]) ** 2, axis=0).sum(), n))
    task.validation_step(full, 0)
    task.validation_step(padded, 1)
    task.on_validation_epoch_end()
    want = sum(l * n for l, n in expected) / sum(n for _, n in expected)
    assert logged["val/loss"] == pytest.approx(want, rel=1e-5)
