"""A corpus defined outside zoo — the test suite's toy corpus — works with ``zoo extract --layout``
and ``zoo predict``'s partition lookup through its reader's hooks alone (docs/adding_a_corpus.md,
section 10): nothing in zoo names it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from zoo.cli import run
from zoo.data import create_datamodule

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _toy_corpus import load_toy_corpus  # noqa: E402

SAMPLE_RATE = 16000


def test_zoo_extract_writes_features_the_toy_reader_reads_on_its_label_frames(tmp_path: Path):
    toy = load_toy_corpus()
    corpus = toy.ToyCorpus.write_synthetic(tmp_path / "toy", seed=3, per_partition=1, frames=12)
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    names = [row[0] for row in toy.read_partitions(corpus)]
    for name in names:  # as long as the recording's labels (0.5 s frames)
        frames = len((corpus / "labels" / f"{name}.csv").read_text().splitlines()) - 1
        sf.write(audio / f"{name}.wav", rng.normal(scale=0.1, size=int(frames * 0.5 * SAMPLE_RATE)), SAMPLE_RATE)

    args = ["extract", "egemaps_lld", "--input", str(audio), "--output", str(corpus), "--layout", "toy"]
    result = run([*args, "--hop", "0.5", "--timeline", str(corpus / "labels"), "--no-progress"])
    assert result["exit_code"] == 0
    written = sorted((corpus / "features" / "egemaps_lld").glob("*.csv"))
    assert [p.stem for p in written] == sorted(names)

    dm = create_datamodule("toy", root=str(corpus), features=["lld", "egemaps_lld"], use_cache=False)
    for rec in dm.raw_recordings("train") + dm.raw_recordings("test"):
        assert rec.features["egemaps_lld"].shape == (len(rec.timestamps), 25)  # on the label frames
        assert np.isfinite(rec.features["egemaps_lld"]).all()

    # without --timeline the frames are 0, hop, 2·hop, ... up to the audio's end; a recording whose
    # labels end earlier is refused naming the --timeline to pass (the toy layout's label folder)
    long = audio / f"{names[0]}.wav"
    sf.write(long, rng.normal(scale=0.1, size=40 * SAMPLE_RATE), SAMPLE_RATE)
    again = run([*args, "--hop", "0.5", "--name", "other", "--no-progress"])
    assert again["exit_code"] == 2


def test_zoo_predict_takes_a_toy_folders_partitions_from_its_table(tmp_path: Path):
    from zoo.hub.predict_bundle import recording_partitions

    toy = load_toy_corpus()
    corpus = toy.ToyCorpus.write_synthetic(tmp_path / "toy", seed=1, per_partition=1, frames=10)
    found = recording_partitions(toy.ToyCorpus, corpus, ["train_00", "dev_00", "test_00", "mine"])
    assert found == {"train_00": "train", "dev_00": "dev", "test_00": "test", "mine": None}


def test_the_built_in_corpora_answer_the_hooks_as_their_layouts_say(tmp_path: Path):
    from zoo.data import corpus_class
    from zoo.features.writers import layouts

    assert {"muse_car", "recola", "sewa"} <= set(layouts()) and "cmu_mosei" not in layouts()
    assert corpus_class("muse_car").time_unit == ("ms", 1000.0)  # MuSe 2020 label files count ms
    assert corpus_class("sewa").time_unit == corpus_class("recola").time_unit == ("s", 1.0)
    recola = corpus_class("recola").extract_layout
    assert recola.folder_name(None, "egemaps", "audio") == "features_audio"
    paths = recola.feature_paths(tmp_path, "features_audio", "dev_1")
    assert paths == [tmp_path / "features_audio" / t / "dev_1.arff" for t in ("arousal", "valence")]
    sewa = corpus_class("sewa")
    assert "turns/<id>.csv" in sewa.media_feature_problem("audio", {"interlocutor": "subject"}, ["audio"])
    assert sewa.media_feature_problem("audio", {}, ["audio"]) is None
