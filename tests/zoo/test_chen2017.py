"""Chen et al. (2017): network shapes, single/multi-task variants, loss equivalence, SVR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo import create_model
from zoo.models.chen2017 import add_turn_context
from zoo.training.losses import build_loss
from zoo.training.postprocess import fit_postprocessor


def test_mtl_network_shapes_and_parameters():
    net = create_model("chen2017_lstm_mtl", feature_dims={"a": 6, "b": 4}, num_targets=2, hidden_size=5)
    x = {"a": torch.randn(3, 7, 6), "b": torch.randn(3, 7, 4)}
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 4:] = False
    net.eval()
    y = net(x, mask)
    assert y.shape == (3, 7, 2)
    # peephole LSTM (eq. 1): 4·H·(D + H + 1) + 2·H (forget and output peepholes); two heads H + 1 each
    expected = 4 * 5 * (10 + 5 + 1) + 2 * 5 + 2 * (5 + 1)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_single_task_variant_requires_one_target():
    assert create_model("chen2017_lstm", feature_dims={"a": 3}, num_targets=1, hidden_size=4)
    with pytest.raises(ValueError, match="single-task"):
        create_model("chen2017_lstm", feature_dims={"a": 3}, num_targets=2)
    with pytest.raises(ValueError, match="at least two"):
        create_model("chen2017_lstm_mtl", feature_dims={"a": 3}, num_targets=1)


def test_eq4_loss_is_half_of_weighted_mse():
    torch.manual_seed(0)
    pred, gold = torch.randn(1, 50, 2), torch.randn(1, 50, 2)
    alpha, beta = 0.7, 0.3
    T = 50
    paper = (alpha * (pred[..., 0] - gold[..., 0]) ** 2 + beta * (pred[..., 1] - gold[..., 1]) ** 2).sum() / (2 * T)
    ours = build_loss("mse", ["arousal", "valence"], [alpha, beta])(pred, gold, torch.ones(1, 50, dtype=torch.bool))
    torch.testing.assert_close(ours, 2 * paper)


def test_turn_context_is_total_turns_with_reference_in_centre():
    """§5.3: "the number of turns we concatenated together with the reference turn in the center"."""
    x = np.array([[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(add_turn_context(x, 1), x)
    np.testing.assert_array_equal(add_turn_context(x, 3), [[0, 1, 2], [1, 2, 3], [2, 3, 0]])
    five = add_turn_context(np.arange(1.0, 6.0)[:, None], 5)
    assert five.shape == (5, 5)
    np.testing.assert_array_equal(five[2], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(five[0], [0, 0, 1, 2, 3])
    for bad in (0, 2, 4, -1):
        with pytest.raises(ValueError, match="odd"):
            add_turn_context(x, bad)
    with pytest.raises(ValueError, match="odd"):
        create_model("chen2017_svr", feature_dims={"a": 1}, num_targets=1, level="turn", context=2)


def test_smoothing_by_averaging_matches_a_moving_average():
    """§5.2 "smoothed by simply averaging the predictions within a fixed window": the ``mean`` step."""
    rng = np.random.default_rng(1)
    t = np.arange(400) * 0.1
    gold = np.sin(t / 3)
    pred = gold + 0.5 * rng.normal(size=len(t))
    pp = fit_postprocessor([pred[:, None]], [gold[:, None]], ["arousal"], 0.1, steps=["mean"])
    w = pp.targets["arousal"].mean
    assert w > 1 and w % 2 == 1 and pp.targets["arousal"].median == 0
    padded = np.concatenate([np.full(w // 2, pred[0]), pred, np.full(w // 2, pred[-1])])
    expected = np.convolve(padded, np.ones(w) / w, mode="valid")
    np.testing.assert_allclose(pp.apply(pred[:, None], ["arousal"])[:, 0], expected, atol=1e-6)
    assert "moving average" in pp.describe()


def test_svr_fits_linear_signal():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(200, 3)) for _ in range(3)]
    ys = [np.stack([x[:, 0], -x[:, 1]], 1) for x in xs]
    est = create_model("chen2017_svr", feature_dims={"a": 3}, num_targets=2, frame_step=1, C=1.0)
    est.fit(xs, ys)
    pred = est.predict(xs[:1])[0]
    assert np.corrcoef(pred[:, 0], ys[0][:, 0])[0, 1] > 0.99
    assert np.corrcoef(pred[:, 1], ys[0][:, 1])[0, 1] > 0.99


def test_rmse_and_pcc_metrics_over_valid_frames_match_numpy():
    """§5.1: besides CCC the paper reports PCC and RMSE over the partition (Tables 7-9)."""
    from zoo.training.metrics import build_metric

    torch.manual_seed(2)
    pred, gold = torch.randn(3, 20, 2), torch.randn(3, 20, 2)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 12:] = False
    mask[2, 5:] = False
    p, g = pred[mask].numpy().astype(np.float64), gold[mask].numpy().astype(np.float64)
    rmse, pcc = build_metric("rmse", 2), build_metric("pearson", 2)
    for b in range(3):  # streamed one recording at a time
        rmse.update(pred[b : b + 1], gold[b : b + 1], mask[b : b + 1])
        pcc.update(pred[b : b + 1], gold[b : b + 1], mask[b : b + 1])
    np.testing.assert_allclose(rmse.compute().numpy(), np.sqrt(((p - g) ** 2).mean(0)), rtol=1e-5)
    expected = [np.corrcoef(p[:, k], g[:, k])[0, 1] for k in range(2)]
    np.testing.assert_allclose(pcc.compute().numpy(), expected, rtol=1e-4)


# ---------------------------------------------------------------- the paper's settings (§3-§5)
LSTM_RECIPES = {  # recipe → (model, targets, interlocutor strategy, hidden size)
    "chen2017_audio": ("chen2017_lstm", ["arousal"], None, 300),
    "chen2017_audio_purified": ("chen2017_lstm", ["arousal"], "purified", 300),
    "chen2017_audio_doubled": ("chen2017_lstm", ["arousal"], "doubled", 300),
    "chen2017_video": ("chen2017_lstm", ["valence"], None, 300),
    "chen2017_text": ("chen2017_lstm", ["liking"], None, 300),
    "chen2017_multimodal": ("chen2017_lstm_mtl", ["arousal", "valence"], "doubled", 400),  # Table 8 set1
}


@pytest.mark.parametrize("recipe", sorted(LSTM_RECIPES))
def test_recipes_carry_the_papers_settings(recipe):
    from zoo.config.recipe import load_recipe

    cfg = load_recipe(f"sewa/{recipe}")
    model, targets, strategy, hidden = LSTM_RECIPES[recipe]
    data = cfg["data"]["args"]
    assert cfg["model"]["name"] == model and data["targets"] == targets  # Tables 4-7 uni-task, 8 multi-task
    assert cfg["model"]["args"]["hidden_size"] == hidden
    assert cfg["model"]["args"]["dropout"] == 0.5  # §5.2
    assert data["win_len"] == 100 == data["hop_len"]  # truncated BPTT of 100 steps (§5.2)
    assert data.get("interlocutor", "mixed") == (strategy or "mixed")  # Table 4 / Fig. 2
    if strategy:
        assert all(n.startswith("audio_") for n in data["interlocutor_features"])  # acoustic sets only (§3.1)
    assert data["zero_padding"] == "normalised"  # zeros at the LSTM input (§3.1-3.3)
    text = [n for n in data["features"] if n.startswith("text_")]
    assert data.get("feature_delay") == ({n: 1.0 for n in text} or None)  # 1 s on text only (§5.4)
    assert not any("xbow" in n for n in data["features"])  # short-time features for the LSTM (§3)
    assert cfg["loss"]["name"] == "mse"  # eq. (2)
    if model == "chen2017_lstm_mtl":
        assert cfg["loss"]["weights"] == [1.0, 1.0]  # α = β = 1 (§4.2)
    assert cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["lr"] == 0.01  # §5.2
    assert (cfg["scheduler"]["name"], cfg["scheduler"]["step_size"], cfg["scheduler"]["gamma"]) == ("step", 50, 0.5)
    assert cfg["trainer"]["max_epochs"] == 200
    assert cfg["metrics"] == ["ccc", "pearson", "rmse"]  # eq. (7), Tables 7-9
    assert cfg["postprocess"]["enabled"] is True and cfg["postprocess"]["steps"] == ["mean"]  # §5.2


def test_svr_recipes_read_the_long_time_features_and_turn_level_text():
    from zoo.config.recipe import load_recipe

    frame, turn = load_recipe("sewa/chen2017_svr"), load_recipe("sewa/chen2017_svr_text")
    assert frame["data"]["args"]["features"] == ["audio_features_xbow_6s", "video_features_xbow_6s"]  # Table 2
    assert frame["model"]["args"]["level"] == "frame"
    assert turn["data"]["args"]["features"] == ["text_bow"] and turn["model"]["args"]["level"] == "turn"  # Table 3
    assert turn["model"]["args"]["context"] == 1  # Table 3's best GermanBoW context
    for cfg in (frame, turn):
        assert cfg["postprocess"]["enabled"] is True and cfg["postprocess"]["steps"] == ["mean"]  # §5.2


def test_paper_scores_are_compared_after_the_smoothing():
    """Tables 2-8 are scores of smoothed predictions (§5.2): each entry is keyed to our score
    after the same smoothing step, never to the one before it."""
    from zoo.reports.report import load_paper_scores

    scores = [s for s in load_paper_scores() if s.paper == "Chen et al. 2017"]
    assert len(scores) == 50
    assert all(s.metric.startswith("val_postprocessed/") for s in scores)
    table8 = {s.metric: s.value for s in scores if s.source.startswith("Table 8, set1, hidden 400")}
    assert table8 == {
        "val_postprocessed/ccc_arousal": 0.7534,
        "val_postprocessed/ccc_valence": 0.7806,
        "val_postprocessed/pearson_arousal": 0.7900,
        "val_postprocessed/rmse_arousal": 0.0901,
        "val_postprocessed/pearson_valence": 0.7925,
        "val_postprocessed/rmse_valence": 0.0884,
    }


def test_postprocessed_pcc_and_rmse_are_pooled_numpy_scores_of_the_smoothed_predictions():
    from zoo.runner.run import _postprocessed_metrics

    class Double:  # a post-processing chain that doubles the predictions
        def apply(self, pred, names):
            return 2 * pred

    rng = np.random.default_rng(4)
    preds = [rng.normal(size=(n, 2)) for n in (30, 17)]
    golds = [p + rng.normal(size=p.shape) for p in preds]
    cfg = {"metrics": ["ccc", "pearson", "rmse"]}
    out = _postprocessed_metrics(cfg, Double(), preds, golds, ["arousal", "valence"])
    p, g = 2 * np.concatenate(preds), np.concatenate(golds)
    for k, name in enumerate(["arousal", "valence"]):
        assert out[f"val_postprocessed/pearson_{name}"] == pytest.approx(np.corrcoef(p[:, k], g[:, k])[0, 1], rel=1e-5)
        assert out[f"val_postprocessed/rmse_{name}"] == pytest.approx(
            np.sqrt(np.mean((p[:, k] - g[:, k]) ** 2)), rel=1e-5
        )
    assert not any("ccc" in key for key in out)  # the chain's own CCCs are logged by the caller
    assert _postprocessed_metrics({"metrics": ["ccc"]}, Double(), preds, golds, ["arousal", "valence"]) == {}
