"""``zoo evaluate`` pieces: overrides per corpus, targets by name, predictions mapped onto the
corpus's label times, refusals (the end-to-end run is in ``test_import_audeering.py``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from zoo.data.types import Recording


def test_overrides_apply_to_every_corpus_or_to_the_named_one():
    from zoo.reports.evaluate import EvaluateError, parse_overrides

    out = parse_overrides(["data.args.release=avec2019", "recola.data.args.root=/d/recola"], ["recola", "sewa"])
    assert out == {"recola": {"release": "avec2019", "root": "/d/recola"}, "sewa": {"release": "avec2019"}}
    assert parse_overrides(["data.args.root=/d/x", "data.args.win_len=3"], ["sewa"]) == {
        "sewa": {"root": "/d/x", "win_len": 3}
    }
    with pytest.raises(EvaluateError, match="one root for several corpora"):
        parse_overrides(["data.args.root=/d"], ["recola", "sewa"])
    with pytest.raises(EvaluateError, match="not among the corpora"):
        parse_overrides(["muse_car.data.args.root=/d"], ["recola"])
    with pytest.raises(EvaluateError, match="data.args.KEY=VALUE"):
        parse_overrides(["trainer.max_epochs=3"], ["recola"])


class Clock:
    """A stand-in bundle whose prediction at each label frame is the frame's time in seconds."""

    def __init__(self, step: float, level: str = "frame") -> None:
        self.target_names = ["arousal"]
        self.spec = {"label_step": step, "level": level, "feature_names": ["audio"], "feature_dims": {"audio": 1}}
        self.recipe = {}

    def predict(self, features):
        (frames,) = features.values()
        return (np.arange(len(frames)) * self.spec["label_step"])[:, None]


def test_predictions_are_interpolated_at_frame_labels_and_averaged_over_segments(tmp_path):
    from zoo.features import create_extractor
    from zoo.hub.predict_media import PlannedFeature
    from zoo.reports.evaluate import _predict_from_audio

    model = Clock(step=0.25)
    planned = [PlannedFeature("audio", create_extractor("waveform", hop=0.25), 4000)]
    stamps = np.arange(50) * 0.04  # 2 s of RECOLA-like 40 ms labels
    rec = Recording("r", {"audio": np.ones((50, 640), np.float32)}, stamps, np.zeros((50, 1), np.float32))
    out = _predict_from_audio(model, planned, rec, tmp_path, 16000)
    np.testing.assert_allclose(out[:, 0], stamps, atol=1e-9)  # linear in time: interpolation is exact
    rows = np.ones((100, 320), np.float32)  # a 2 s segment in 20 ms rows
    seg = Recording("s", {"waveform": rows}, np.arange(100.0), np.zeros(1, np.float32), level="segment")
    out = _predict_from_audio(model, planned, seg, tmp_path, 16000)
    np.testing.assert_allclose(out, [np.mean(np.arange(9) * 0.25)])  # frames at 0, 0.25, ..., 2.0 s


def test_pairs_without_shared_target_or_of_another_level_are_reported_not_scored():
    from zoo.reports.evaluate import evaluate_pair

    happy = Clock(step=0.25)
    happy.target_names = ["happy"]
    score = evaluate_pair(happy, "b", "recola")
    assert score.ccc == {} and "no shared target" in score.reason and np.isnan(score.mean)
    segment = Clock(step=0.0, level="segment")
    score = evaluate_pair(segment, "b", "sewa")
    assert "segment-level corpora only" in score.reason


def test_sets_without_an_audio_extractor_make_the_pair_unreachable():
    from zoo.reports.evaluate import EvaluateError, audio_extractors

    model = SimpleNamespace(
        bundle_config={"feature_extractors": {"vggface": None}, "feature_names": ["vggface"]},
        spec={"feature_names": ["vggface"], "feature_dims": {"vggface": 512}, "label_step": 0.25},
        recipe={"data": {"name": "muse_car", "args": {}}},
    )
    with pytest.raises(EvaluateError, match="'vggface' has no recorded extractor.*only raw audio"):
        audio_extractors(model)
    with pytest.raises(EvaluateError, match="checkpoint records no feature extractors"):
        audio_extractors(SimpleNamespace(bundle_config=None, spec=model.spec, recipe={}))


@pytest.mark.slow
def test_a_bundle_on_its_own_corpus_scores_what_its_run_scored(trained_muse_run, tmp_path):
    """Native route: the corpus read as trained; the CCC equals the run's own test figure
    (computed by the training task's metric), and a corpus without shared inputs is reported."""
    import json

    from zoo.hub.bundle import export_bundle
    from zoo.reports.evaluate import evaluate_matrix

    bundle = export_bundle(trained_muse_run / "checkpoints" / "best.ckpt", tmp_path / "bundle")
    results = json.loads((trained_muse_run / "results.json").read_text())
    (score,) = evaluate_matrix([str(bundle)], ["muse_car"])
    targets = [key.removeprefix("test/ccc_") for key in results if key.startswith("test/ccc_") and "mean" not in key]
    assert score.route == "native" and score.targets == {t: t for t in targets}
    stage = "test" if score.partition == "test" else "val"
    assert sorted(score.ccc) == sorted(targets)
    for target, value in score.ccc.items():
        assert value == pytest.approx(results[f"{stage}/ccc_{target}"], abs=1e-4)


def test_segment_level_bundles_have_no_label_step_frame_level_ones_need_one():
    """A CMU-MOSEI bundle (one label per segment) records label_step 0; exporting one used to be
    refused ('label_step must be > 0')."""
    from pathlib import Path

    from zoo.hub.bundle import BUNDLE_FORMAT, BundleError, _validate_config

    config = {
        "format": BUNDLE_FORMAT,
        "format_version": 2,
        "architecture": "ssl_audio",
        "model_args": {},
        "feature_names": ["waveform"],
        "feature_dims": {"waveform": 320},
        "target_names": ["happy"],
        "label_step": 0.0,
        "level": "segment",
    }
    _validate_config(config, Path("config.json"))
    with pytest.raises(BundleError, match="label_step.*> 0"):
        _validate_config({**config, "level": "frame"}, Path("config.json"))
    with pytest.raises(BundleError, match="label_step.*0 for a segment-level bundle"):
        _validate_config({**config, "label_step": 0.25}, Path("config.json"))
