"""End to end: a frozen speech encoder read from a saved folder, its outputs cached with the corpus,
the run's checkpoint and bundle used after the folder is gone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import zoo
from zoo.layers.speech_encoder import save_tiny_encoder

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "muse_car+encoded").rglob("manifest.json"))


def test_frozen_encoder_cached_run_checkpoint_and_bundle_without_the_folder(tmp_path, zoo_cli):
    encoder = save_tiny_encoder(tmp_path / "wavlm", preset="wavlm-tiny", seed=1)
    cache = tmp_path / "corpus-cache"
    common = [
        f"model.args.encoder={encoder}",
        "model.args.freeze=all",
        "model.args.head=linear",
        f"data.args.cache_dir={cache}",
        "data.args.win_len=20",
        "data.args.hop_len=20",
        "trainer.enable_progress_bar=false",
        "logger=csv",
    ]
    run = zoo_cli(
        "fit",
        "muse_car/ssl_audio",
        f"output_dir={tmp_path / 'runs'}",
        "trainer.max_epochs=2",
        "export_bundle=true",
        *common,
    )
    results = json.loads((run / "results.json").read_text())
    entries = _entries(cache)
    assert len(entries) == 3  # train, devel, test encoded once each
    stamps = [os.stat(p).st_mtime_ns for p in entries]

    shutil.rmtree(encoder)  # the checkpoint and the bundle must not need it
    again = zoo_cli(
        "test",
        "muse_car/ssl_audio",
        f"ckpt={run / 'checkpoints' / 'best.ckpt'}",
        f"output_dir={tmp_path / 'runs'}",
        *common,
    )
    retested = json.loads((again / "results.json").read_text())
    assert retested["test/ccc_mean"] == pytest.approx(results["test/ccc_mean"], abs=1e-5)
    assert [os.stat(p).st_mtime_ns for p in _entries(cache)] == stamps  # read from the cache, not re-encoded

    # the bundle predicts from raw audio (no cache): the same test predictions as the run wrote
    model = zoo.load_pretrained(run / "bundle")
    written = sorted((run / "predictions" / "test" / "arousal").glob("*.csv"))
    assert written
    video = written[0].stem
    from zoo.data.corpora.muse_car.reader import MuSeCaRCorpus

    corpus = MuSeCaRCorpus(features=["audio"])
    (rec,) = [r for r in corpus.read("test") if r.id == video]
    preds = model.predict({"audio": np.asarray(rec.features["audio"])})
    expected = np.loadtxt(written[0], delimiter=",", skiprows=1)[:, 1]
    np.testing.assert_allclose(preds[:, 0], expected, atol=2e-4)
    assert sf.info(corpus.resolve_root() / "audio" / f"{video}.wav").samplerate == 16000
