"""Raw audio served by the SEWA, MuSe-CaR and CMU-MOSEI readers (the ``audio`` / ``waveform``
feature sets of the self-supervised speech family).

The reference is the WAV file read with soundfile and sliced by hand at the label times.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import soundfile as sf

from zoo.data.corpora.cmu_mosei.reader import CmuMoseiCorpus
from zoo.data.corpora.cmu_mosei.synthetic import write_synthetic_cmu_mosei
from zoo.data.corpora.muse_car.reader import MuSeCaRCorpus
from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car
from zoo.data.corpora.sewa.reader import SewaCorpus
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa
from zoo.errors import ConfigError, CorpusFormatError


def _wav(path):
    signal, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    return signal


@pytest.fixture(scope="module")
def sewa_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sewa") / "corpus"
    return write_synthetic_sewa(root, seed=1, counts={"Train": 1, "Devel": 1, "Test": 1}, with_audio=True)


def test_sewa_audio_frames_are_the_wav_samples(sewa_root):
    corpus = SewaCorpus(root=sewa_root, features=["audio", "audio_features_xbow_6s"])
    rec = corpus.read("Train")[0]
    signal = _wav(sewa_root / "audio" / "Train_01.wav")
    frames = rec.features["audio"]
    assert frames.shape == (len(rec.timestamps), 1600)
    for t in (0, 7, len(rec.timestamps) - 2):
        start = int(round(rec.timestamps[t] * 16000))
        np.testing.assert_array_equal(frames[t], signal[start : start + 1600])
    assert corpus.raw_feature_names == ("audio",)
    assert rec.features["audio_features_xbow_6s"].shape[0] == len(rec.timestamps)


def test_sewa_audio_errors_name_the_file(sewa_root, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(sewa_root, root)
    wav = root / "audio" / "Train_01.wav"
    sf.write(wav, _wav(wav)[:16000], 16000)  # 1 s of a 60 s recording
    with pytest.raises(CorpusFormatError, match=r"Train_01\.wav.*labels run to.*truncated file"):
        SewaCorpus(root=root, features=["audio"]).read("Train")
    wav.unlink()
    with pytest.raises(CorpusFormatError, match=r"Train_01\.wav: audio file not found"):
        SewaCorpus(root=root, features=["audio"]).read("Train")


def test_sewa_audio_at_another_rate_is_resampled(sewa_root, tmp_path):
    import shutil

    root = tmp_path / "copy8k"
    shutil.copytree(sewa_root, root)
    wav = root / "audio" / "Devel_01.wav"
    signal = _wav(wav)
    sf.write(wav, signal[::2], 8000)
    rec = SewaCorpus(root=root, features=["audio"]).read("Devel")[0]
    assert rec.features["audio"].shape == (len(rec.timestamps), 1600)  # still 16 kHz frames


def test_muse_car_audio_frames_and_pattern(tmp_path):
    root = write_synthetic_muse_car(
        tmp_path / "muse",
        seed=2,
        n_videos={"train": 2, "devel": 1, "test": 1},
        feature_sets=["egemaps"],
        segment_frames=(60, 120),
    )
    corpus = MuSeCaRCorpus(root=root, features=["audio", "egemaps"])
    recs = corpus.read("train")
    assert corpus.raw_feature_names == ("audio",)
    for rec in recs:
        signal = _wav(root / "audio" / f"{rec.id}.wav")
        assert rec.features["audio"].shape == (len(rec.timestamps), 4000)
        t = len(rec.timestamps) // 2
        start = int(round(rec.timestamps[t] * 16000))
        np.testing.assert_array_equal(rec.features["audio"][t], signal[start : start + 4000])
    # the user's own place for the audio: an absolute pattern
    moved = tmp_path / "elsewhere"
    (root / "audio").rename(moved)
    with pytest.raises(CorpusFormatError, match=r"audio/\d+\.wav: audio file not found"):
        MuSeCaRCorpus(root=root, features=["audio"]).read("train")
    again = MuSeCaRCorpus(root=root, features=["audio"], audio_pattern=str(moved / "{id}.wav")).read("train")
    np.testing.assert_array_equal(again[0].features["audio"], recs[0].features["audio"])
    with pytest.raises(ConfigError, match="audio_pattern must contain"):
        MuSeCaRCorpus(root=root, features=["audio"], audio_pattern="audio/x.wav")


@pytest.fixture(scope="module")
def mosei_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mosei") / "csd"
    return write_synthetic_cmu_mosei(root, seed=3, n_videos={"train": 2, "valid": 1, "test": 1}, with_audio=True)


def test_mosei_waveform_rows_follow_the_words(mosei_root):
    corpus = CmuMoseiCorpus(root=mosei_root, features=["waveform"], folds=mosei_root / "folds.json", maxlen=50)
    segments = corpus.read("train")
    assert corpus.feature_names == ["waveform", "waveform_word"]
    assert corpus.raw_feature_names == ("waveform", "waveform_word")
    with h5py.File(mosei_root / "CMU_MOSEI_TimestampedWordVectors.csd", "r") as f:
        words = {v: f["glove_vectors"]["data"][v]["intervals"][()] for v in f["glove_vectors"]["data"]}
    with h5py.File(mosei_root / "CMU_MOSEI_Labels.csd", "r") as f:
        labels = {v: f["All Labels"]["data"][v]["intervals"][()] for v in f["All Labels"]["data"]}
    checked = 0
    for seg in segments:
        video, row = seg.id[:-1].split("[")
        a, b = labels[video][int(row)]
        iv = words[video]
        mine = iv[(np.minimum(iv[:, 1], b) - np.maximum(iv[:, 0], a)) > 1e-6]  # overlapping the segment
        start = mine[:, 0].min()
        signal = _wav(mosei_root / "audio" / f"{video}.wav")
        rows, index = seg.features["waveform"], seg.features["waveform_word"][:, 0]
        assert rows.shape == (int(np.ceil((mine[:, 1].max() - start) / 0.02 - 1e-9)), 320)
        first = int(round(start * 16000))
        np.testing.assert_array_equal(rows[0], signal[first : first + 320])
        for r in range(0, len(rows), 7):
            centre = start + (r + 0.5) * 0.02
            holding = np.flatnonzero((mine[:, 0] <= centre) & (centre < mine[:, 1]))
            assert index[r] == (holding[0] if len(holding) else -1)
        checked += 1
    assert checked > 5


def test_mosei_waveform_is_alone_and_csd_only(mosei_root):
    with pytest.raises(ConfigError, match="waveform.*no other feature set"):
        CmuMoseiCorpus(root=mosei_root, features=["waveform", "text"])
    with pytest.raises(ConfigError, match=r"unknown modalities/feature sets \['waveform'\] for format='pkl'"):
        CmuMoseiCorpus(root=mosei_root, features=["waveform"], format="pkl")


def test_mosei_csd_files_do_not_change_with_audio(tmp_path):
    plain = write_synthetic_cmu_mosei(tmp_path / "a", seed=4, n_videos={"train": 2, "valid": 1, "test": 1})
    audio = write_synthetic_cmu_mosei(
        tmp_path / "b", seed=4, n_videos={"train": 2, "valid": 1, "test": 1}, with_audio=True
    )
    for path in plain.glob("*.csd"):
        assert path.read_bytes() == (audio / path.name).read_bytes(), path.name
    assert json.loads((plain / "folds.json").read_text()) == json.loads((audio / "folds.json").read_text())
    assert sorted(p.stem for p in (audio / "audio").glob("*.wav")) == sorted(
        v for fold in json.loads((audio / "folds.json").read_text()).values() for v in fold
    )


def test_sewa_transcript_bytes_follow_the_turns(sewa_root):
    from zoo.data.corpora.sewa.reader import SewaDataWarning

    corpus = SewaCorpus(root=sewa_root, features=["transcript"], text_max_bytes=64)
    rec = corpus.read("Train")[0]
    rows = [line.split(";", 2) for line in (sewa_root / "transcriptions" / "Train_01.csv").read_text().splitlines()]
    text = rec.features["transcript"]
    assert text.dtype == np.uint8 and text.shape == (len(rec.timestamps), 64)
    assert corpus.raw_feature_names == ("transcript",)
    for start, end, words in rows[:5]:
        inside = np.flatnonzero((rec.timestamps >= float(start) - 1e-3) & (rec.timestamps < float(end) - 1e-3))
        expected = words.encode("utf-8")[:64]
        for t in inside[[0, -1]]:
            assert bytes(text[t][text[t] != 0]) == expected.decode("utf-8", errors="ignore").encode("utf-8")
    with pytest.warns(SewaDataWarning, match=r"Train_01\.csv: row \d+ .* the first \d+ are kept"):
        SewaCorpus(root=sewa_root, features=["transcript"], text_max_bytes=16).read("Train")
    with pytest.raises(ConfigError, match="text_max_bytes must be at least 16"):
        SewaCorpus(root=sewa_root, features=["transcript"], text_max_bytes=4)
