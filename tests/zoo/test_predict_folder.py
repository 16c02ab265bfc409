"""``zoo predict MODEL FOLDER`` on RECOLA and SEWA folders: a user's recordings (any names) in the
corpus layout are predicted and written in the corpus's own prediction format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.data.corpora.recola.reader import read_feature_arff, read_gold_standard
from zoo.data.corpora.recola.synthetic import write_synthetic_recola
from zoo.data.corpora.sewa.reader import read_feature_file, read_prediction_file
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa

pytestmark = pytest.mark.slow
DEFAULTS = Path(__file__).resolve().parents[2] / "recipes" / "defaults.yaml"


def _recipe(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(DEFAULTS, folder / "defaults.yaml")
    (folder / "r.yaml").write_text(text)
    return folder / "r.yaml"


def _fit(zoo_cli, recipe: Path, out: Path) -> Path:
    run_dir = zoo_cli(
        "fit",
        str(recipe),
        f"output_dir={out}",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "logger=none",
    )
    return run_dir / "checkpoints" / "best.ckpt"


def test_recola_folder_of_own_recordings(tmp_path: Path, zoo_cli):
    corpus = write_synthetic_recola(
        tmp_path / "corpus", seed=4, n_per_partition=2, duration_s=8.0, feature_sets=["audio"]
    )
    recipe = _recipe(
        tmp_path / "recipes" / "recola",
        f"""
data:
  name: recola
  args: {{root: {corpus}, mode: features, features: [audio], win_len: 50, hop_len: 25, batch_size: 4}}
model:
  name: sun2020_lstm
  args: {{hidden_size: 8}}
""",
    )
    ckpt = _fit(zoo_cli, recipe, tmp_path / "runs")
    # the user's folder: two recordings with their own names, one with a gold standard
    user = tmp_path / "mine"
    for src, name in (("dev_1", "session A"), ("dev_2", "session_b")):
        for target in ("arousal", "valence"):
            dest = user / "features_audio" / target / f"{name}.arff"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text((corpus / "features_audio" / target / f"{src}.arff").read_text().replace(src, name))
        if name == "session_b":
            for target in ("arousal", "valence"):
                dest = user / "ratings_gold_standard" / target / f"{name}.arff"
                dest.parent.mkdir(parents=True, exist_ok=True)
                # rows name their recording (Instance_name), as the features' do
                dest.write_text(
                    (corpus / "ratings_gold_standard" / target / f"{src}.arff").read_text().replace(src, name)
                )
    out = zoo_cli("predict", str(ckpt), str(user), "--output", str(tmp_path / "preds"), "--plot")
    model = zoo.load_pretrained(ckpt)
    for name in ("session A", "session_b"):
        times, feats = read_feature_arff(user / "features_audio" / "arousal" / f"{name}.arff")
        expected = model.predict({"audio": feats})
        for k, target in enumerate(("arousal", "valence")):
            p_times, values = read_gold_standard(out / target / f"{name}.arff")  # the gold-standard format
            np.testing.assert_allclose(p_times, times, atol=1e-9)
            np.testing.assert_allclose(values, expected[:, k], atol=1e-5)
    # every recording is plotted; the unlabelled one shows its prediction alone
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["session A.png", "session_b.png"]
    assert json.loads((out / "scores.json").read_text())["recordings_with_labels"] == 1
    # the whole corpus folder: one score per partition, never one number pooled across them
    whole = zoo_cli("predict", str(ckpt), str(corpus), "--output", str(tmp_path / "whole"))
    report = json.loads((whole / "scores.json").read_text())
    assert set(report["partitions"]) == {"train", "dev", "test"} and "ccc" not in report
    for part in ("train", "dev"):
        preds, golds = [], []
        for name in (f"{part}_1", f"{part}_2"):
            _, feats = read_feature_arff(corpus / "features_audio" / "arousal" / f"{name}.arff")
            preds.append(model.predict({"audio": feats}))
            golds.append(
                np.stack(
                    [
                        read_gold_standard(corpus / "ratings_gold_standard" / t / f"{name}.arff")[1]
                        for t in ("arousal", "valence")
                    ],
                    axis=1,
                )
            )
        p, g = np.concatenate(preds).astype(np.float64), np.concatenate(golds).astype(np.float64)
        for k, target in enumerate(("arousal", "valence")):
            x, y = p[:, k], g[:, k]  # CCC with population moments, written out
            ccc = 2 * np.mean((x - x.mean()) * (y - y.mean())) / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
            assert report["partitions"][part]["ccc"][target] == pytest.approx(ccc, abs=1e-5)
        assert report["partitions"][part]["recordings"] == 2


def test_sewa_avec2019_folder(tmp_path: Path, zoo_cli):
    corpus = write_synthetic_sewa(tmp_path / "corpus", seed=4, release="avec2019")
    feature = "audio_features_egemaps_xbow"
    recipe = _recipe(
        tmp_path / "recipes" / "sewa",
        f"""
data:
  name: sewa
  args: {{root: {corpus}, release: avec2019, features: [{feature}], targets: [arousal, valence], win_len: 50, hop_len: 50}}
model:
  name: chen2017_lstm_mtl
  args: {{hidden_size: 8}}
loss:
  name: mse
""",
    )
    ckpt = _fit(zoo_cli, recipe, tmp_path / "runs")
    user = tmp_path / "mine" / feature
    user.mkdir(parents=True)
    # a user's own recording: its rows name it (a row naming another recording is refused)
    (user / "interview_7.csv").write_text(
        (corpus / feature / "Devel_DE_01.csv").read_text().replace("'Devel_DE_01'", "'interview_7'")
    )
    out = zoo_cli("predict", str(ckpt), str(user.parent), "--output", str(tmp_path / "preds"))
    times, values = read_prediction_file(out / "interview_7.csv", ["arousal", "valence"])
    assert (out / "interview_7.csv").read_text().startswith("name;timestamp;arousal;valence\n")  # AVEC 2019
    f_times, feats = read_feature_file(user / "interview_7.csv")
    expected = zoo.load_pretrained(ckpt).predict({feature: feats})
    assert len(times) == len(expected) > 10
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert not (out / "scores.json").exists()  # no labels in the folder


def test_sewa_text_bow_model_reads_new_text_with_its_training_vocabulary(tmp_path: Path, zoo_cli):
    corpus = write_synthetic_sewa(
        tmp_path / "corpus", seed=4, release="avec2017", counts={"Train": 3, "Devel": 2, "Test": 1}
    )
    recipe = _recipe(
        tmp_path / "recipes" / "sewa",
        f"""
data:
  name: sewa
  args: {{root: {corpus}, features: [text_bow], targets: [liking], win_len: 50, hop_len: 50}}
model:
  name: chen2017_lstm
  args: {{hidden_size: 8}}
loss:
  name: mse
""",
    )
    ckpt = _fit(zoo_cli, recipe, tmp_path / "runs")
    model = zoo.load_pretrained(ckpt)
    vocabulary = model.spec["reader_state"]["vocabulary"]
    assert len(vocabulary) == model.feature_dims["text_bow"] > 5
    # a folder with one transcript and no train partition: encoded with the stored vocabulary
    user = tmp_path / "mine"
    (user / "transcriptions").mkdir(parents=True)
    shutil.copy(corpus / "transcriptions" / "Devel_01.csv", user / "transcriptions" / "call_1.csv")
    out = zoo_cli("predict", str(ckpt), str(user), "--output", str(tmp_path / "preds"))
    assert (out / "call_1.csv").is_file()
    from zoo.data import create_datamodule

    direct = create_datamodule("sewa", root=corpus, features=["text_bow"], targets=["liking"])
    devel = {r.id: r for r in direct.raw_recordings("val")}["Devel_01"]
    _, values = read_prediction_file(out / "call_1.csv", ["liking"])
    # without labels the timeline ends with the last turn: a prefix of Devel_01's label frames;
    # the peephole LSTM is causal, so the prefix's predictions are the same
    assert 10 < len(values) <= devel.num_frames
    np.testing.assert_allclose(values, model.predict(devel.features)[: len(values)], atol=1e-5)
