"""benchmarks/vs_authors_williams.py: patching their copy, the SDK-layout data, scores, skipping.

The end-to-end comparison needs a checkout of github.com/rhoposit/MultimodalDNN, never part of
this repository: set ``AFFECT_ZOO_WILLIAMS2018_AUTHORS=/path/to/MultimodalDNN`` to run it
(``--tiny``; it makes a Keras 3 environment on first use); without it that test is skipped.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vs_authors_williams as bench  # noqa: E402
from _bench_scripts import authors_checkout, run_script  # noqa: E402

# the lines of their emotion_recognition.py that the benchmark patches (typed from the release)
THEIR_LINES = """\
from utils.parser_utils import KerasParserClass
from utils.storage import build_experiment_folder, save_statistics
import segeval
def run_experiment(max_len, dropout_rate, n_layers):
    epochs = 200
    callbacks_list = [early_stopping]
    out = open(outfile, "wb")
    preds = model.predict(x_test)
seed=1122017
import tensorflow as tf
tf.set_random_seed(seed)
train_ids, valid_ids, test_ids = custom_split(train_ids, valid_ids)
Parallel(n_jobs=num_cores)(delayed(run_experiment)(max_len=i, dropout_rate=j, n_layers=k) for i in LENS for j in DROP for k in LAYER)
"""


def test_patches_apply_once_each_and_name_a_missing_line() -> None:
    patched = bench.patch_source(THEIR_LINES)
    assert "parser_utils" not in patched and "utils.storage" not in patched
    assert "segeval" not in patched and "tensorflow" not in patched
    assert "keras.utils.set_random_seed(seed)" in patched and "seed = bench_hooks.SEED" in patched
    assert "test_ids = mosei.test()" in patched and "custom_split(" not in patched
    assert "run_experiment(bench_hooks.MAXLEN, bench_hooks.DROPOUT, bench_hooks.LAYERS)" in patched
    assert "bench_hooks.save_predictions(y_test, preds)" in patched and 'open(outfile, "w")' in patched
    assert "epochs = bench_hooks.EPOCHS" in patched and "+ bench_hooks.callbacks()" in patched
    with pytest.raises(RuntimeError, match="patch 'epochs'.*matched 0 times"):
        bench.patch_source(THEIR_LINES.replace("    epochs = 200\n", ""))


def test_parse_their_epoch_stamps() -> None:
    lines = [
        (0.0, "Epoch 1/2"),
        (1.0, "BENCH epoch_start 100.5 3.25"),
        (2.0, "5/5 ━━━━ 1s - loss: 0.31"),
        (3.0, "BENCH epoch_end 110.0 9.0 0.254"),
        (4.0, "BENCH epoch_start 110.1 9.1"),
        (5.0, "BENCH epoch_end 118.0 15.0 0.251"),
        (6.0, "BENCH train_end 118.2 15.2"),
    ]
    stamps = bench.parse_authors_output(lines)
    assert stamps["epoch_starts"] == [100.5, 110.1] and stamps["epoch_cpu"] == [3.25, 9.1]
    assert stamps["val"] == [0.254, 0.251] and (stamps["train_end"], stamps["train_end_cpu"]) == (118.2, 15.2)
    with pytest.raises(RuntimeError, match="(?s)could not read epochs.*Traceback"):
        bench.parse_authors_output([(0.0, "Traceback (most recent call last):")])


def test_scores_by_hand() -> None:
    truth = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, 0.33], [0.0, 1.0]])
    preds = np.array([[0.2, 1.2], [0.4, 0.1], [2.4, 0.6], [0.6, 0.9]])
    scores = bench.test_scores(preds, truth)
    assert scores["test_mae"] == pytest.approx(np.mean(np.abs(preds - truth)))
    r = [np.corrcoef(preds[:, k], truth[:, k])[0, 1] for k in range(2)]
    assert scores["test_pearson"] == pytest.approx(np.mean(r))
    # rounded half up: preds [[0, 1], [0, 0], [2, 1], [1, 1]], truth [[0, 2], [1, 0], [3, 0], [0, 1]]
    assert scores["test_acc2"] == pytest.approx(5 / 8)  # presence agrees in 5 of the 8 cells
    assert scores["test_acc4"] == pytest.approx(3 / 8)  # the class agrees in 3


@pytest.mark.slow
def test_their_layout_holds_the_numbers_our_reader_gives(tmp_path: Path) -> None:
    from zoo.data import create_datamodule
    from zoo.data.corpora.cmu_mosei.synthetic import write_synthetic_cmu_mosei

    corpus = write_synthetic_cmu_mosei(tmp_path / "mosei", seed=3, n_videos={"train": 2, "valid": 1, "test": 1})
    counts = bench.write_sdk_data(corpus, tmp_path / "sdk.pkl")
    data = pickle.loads((tmp_path / "sdk.pkl").read_bytes())
    assert set(data["folds"]) == {"train", "valid", "test"} and sum(counts.values()) > 0
    dm = create_datamodule(
        "cmu_mosei",
        root=corpus,
        folds=corpus / "folds.json",
        modalities=["text", "audio", "video"],
        maxlen=1000,
        normalize=False,
        cache_dir=tmp_path / "cache",
        num_workers=0,
    )
    ours = dm.raw_recordings("train")
    assert len(ours) == counts["train"]
    theirs = [
        (vid, sid) for vid in data["folds"]["train"] for sid in data["embeddings"].get(vid, {})
    ]  # every segment of their train videos
    assert len(theirs) == len(ours)
    names = {"embeddings": "glove_vectors", "covarep": "COVAREP", "facet": "FACET 4.2"}
    mine = {tuple(np.round(np.asarray(r.features["glove_vectors"][0], np.float64), 5)): r for r in ours}
    for vid, sid in theirs:
        first = np.array([v for _, _, v in data["embeddings"][vid][sid]])
        rec = mine[tuple(np.round(first[0], 5))]
        for key, name in names.items():
            vectors = np.array([v for _, _, v in data[key][vid][sid]])
            expected = np.nan_to_num(np.asarray(rec.features[name], np.float64), nan=0, posinf=0, neginf=0)
            np.testing.assert_allclose(vectors, expected, rtol=1e-6, atol=1e-6)
        emotions = dict(zip(dm.target_names, rec.targets))
        np.testing.assert_allclose(data["emotions"][vid][sid], [emotions[e] for e in bench.THEIR_EMOTIONS])


def test_script_skips_with_a_message_without_their_code(tmp_path: Path) -> None:
    out = run_script("vs_authors_williams", str(tmp_path / "absent"))
    assert "vs_authors_williams: skipped:" in out.stdout and "emotion_recognition.py" in out.stdout


@pytest.mark.slow
def test_vs_authors_williams_tiny_end_to_end(tmp_path: Path) -> None:
    folder = authors_checkout("AFFECT_ZOO_WILLIAMS2018_AUTHORS", "emotion_recognition.py", "rhoposit/MultimodalDNN")
    out = run_script(
        "vs_authors_williams", folder, "--tiny", env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=1800
    )
    if "skipped:" in out.stdout:
        pytest.skip(out.stdout.strip().splitlines()[-1])
    assert "| authors' emotion_recognition.py | 1 |" in out.stdout and "| zoo fit | 1 |" in out.stdout
    assert "our epoch time / theirs:" in out.stdout
