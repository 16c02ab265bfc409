"""RECOLA bad input (issue 12): non-finite labels and samples, empty or truncated audio, label
files at another step than 40 ms, non-feature attributes of the AVEC feature ARFFs.

Every file is written by the test itself; each error must name the file, the recording and the
row (line, sample or attribute)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.recola.reader import (
    load_recola_recordings,
    read_audio_frames,
    read_feature_arff,
    read_gold_standard,
    read_individual_ratings,
)
from zoo.errors import CorpusDataWarning

TIMES = np.arange(10) * 0.04


def gold_text(name: str, values, times=TIMES) -> str:
    rows = "\n".join(f"{name},{t:.2f},{v}" for t, v in zip(times, values))
    return (
        "@relation GOLDSTANDARD\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        f"@attribute GoldStandard numeric\n@data\n{rows}\n"
    )


def ratings_text(values, times=TIMES) -> str:
    rows = "\n".join(f"{t:.2f};" + ";".join(str(v) for v in row) for t, row in zip(times, values))
    return "time;FM1 ;FM2;FM3 ;FF1;FF2 ;FF3\n" + rows + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- non-finite labels
@pytest.mark.parametrize(
    "cell,word", [("NaN", "missing"), ("nan", "missing"), ("inf", "infinite"), ("-Infinity", "infinite")]
)
def test_non_finite_gold_standard_names_file_recording_and_line(tmp_path, cell, word):
    values = [f"{v:.3f}" for v in np.linspace(-0.1, 0.1, 10)]
    values[6] = cell  # data row 7 = line 5 + 7 = 12
    path = write(tmp_path / "arousal" / "dev_3.arff", gold_text("dev_3", values))
    with pytest.raises(CorpusFormatError) as info:
        read_gold_standard(path)
    message = str(info.value)
    assert str(path) in message and "recording dev_3" in message
    assert "line 12" in message and "'GoldStandard'" in message and word in message


@pytest.mark.parametrize("cell,word", [("nan", "missing"), ("inf", "infinite")])
def test_non_finite_individual_rating_names_file_recording_line_and_rater(tmp_path, cell, word):
    values = np.full((10, 6), 0.1).astype(object)
    values[3, 4] = cell  # line 5 (header is line 1), rater FF2
    path = write(tmp_path / "valence" / "train_2.csv", ratings_text(values))
    with pytest.raises(CorpusFormatError) as info:
        read_individual_ratings(path)
    message = str(info.value)
    assert str(path) in message and "recording train_2" in message
    assert "line 5" in message and "'FF2'" in message and word in message


# --------------------------------------------------------------------------- audio
def test_nan_samples_in_wav_are_refused_naming_sample_and_time(tmp_path):
    signal = np.sin(np.arange(16000) / 10).astype(np.float32)
    signal[8000] = np.nan
    path = tmp_path / "recordings_audio" / "train_4.wav"
    path.parent.mkdir(parents=True)
    sf.write(path, signal, 16000, subtype="FLOAT")
    with pytest.raises(CorpusFormatError) as info:
        read_audio_frames(path, TIMES)
    message = str(info.value)
    assert str(path) in message and "recording train_4" in message
    assert "sample 8000" in message and "0.5000 s" in message and "missing" in message


def test_empty_wav_is_refused(tmp_path):
    path = tmp_path / "dev_2.wav"
    sf.write(path, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    with pytest.raises(CorpusFormatError, match=r"dev_2\.wav \(recording dev_2\): empty audio file"):
        read_audio_frames(path, TIMES)


def test_audio_shorter_than_the_labels_is_refused(tmp_path):
    path = tmp_path / "dev_1.wav"
    sf.write(path, np.ones(3200, np.float32) * 0.1, 16000, subtype="FLOAT")  # 0.2 s, labels to 0.36 s
    with pytest.raises(CorpusFormatError) as info:
        read_audio_frames(path, TIMES)
    message = str(info.value)
    assert "dev_1.wav (recording dev_1)" in message
    assert "0.200 s long" in message and "0.360 s" in message and "truncated" in message


def test_audio_up_to_one_frame_short_is_padded_with_a_warning(tmp_path, caplog):
    path = tmp_path / "dev_1.wav"
    ramp = (np.arange(5760 - 320) * 1e-5).astype(np.float32)  # ends 20 ms before the last label time
    sf.write(path, ramp, 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="zoo.data.corpora.recola.reader"):
        frames = read_audio_frames(path, TIMES)
    assert "dev_1.wav (recording dev_1): audio ends 0.020 s before the last label time" in caplog.text
    np.testing.assert_array_equal(frames[8, 320:], 0.0)
    np.testing.assert_array_equal(frames[9], 0.0)
    # audio ending exactly at the last label time (the release's layout) is silent
    caplog.clear()
    sf.write(path, np.ones(5760, np.float32) * 0.1, 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="zoo.data.corpora.recola.reader"):
        read_audio_frames(path, TIMES)
    assert caplog.text == ""


def test_recording_normalisation_uses_the_whole_waveform(tmp_path):
    rng = np.random.default_rng(1)
    signal = np.clip(rng.normal(size=6400) * 0.3 + 0.05, -1, 1).astype(np.float32)  # float audio lies in [-1, 1]
    path = tmp_path / "a.wav"
    sf.write(path, signal, 16000, subtype="FLOAT")
    frames = read_audio_frames(path, TIMES, normalize=True)
    reference = (signal.astype(np.float64) - signal.mean()) / signal.std()  # NumPy, population std
    np.testing.assert_allclose(frames.reshape(-1), reference, atol=1e-5)
    np.testing.assert_allclose(read_audio_frames(path, TIMES).reshape(-1), signal, atol=0)


def test_constant_audio_cannot_be_normalised(tmp_path):
    path = tmp_path / "train_1.wav"
    sf.write(path, np.zeros(6400, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(CorpusFormatError, match=r"train_1\.wav \(recording train_1\): constant audio"):
        read_audio_frames(path, TIMES, normalize=True)


# --------------------------------------------------------------------------- label step
def test_gold_standard_at_80_ms_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path / "arousal" / "dev_1.arff", gold_text("dev_1", np.zeros(10), np.arange(10) * 0.08))
    with pytest.raises(CorpusFormatError) as info:
        read_gold_standard(path)
    message = str(info.value)
    assert str(path) in message and "recording dev_1" in message
    assert "line 7" in message and "step 0.0800 s" in message and "expected 0.04 s" in message


def test_individual_ratings_at_80_ms_are_refused_naming_the_file(tmp_path):
    path = write(tmp_path / "r" / "dev_1.csv", ratings_text(np.zeros((10, 6)), np.arange(10) * 0.08))
    with pytest.raises(
        CorpusFormatError, match=r"dev_1\.csv \(recording dev_1\): line 3, field 'time': step 0\.0800 s"
    ):
        read_individual_ratings(path)


def test_corpus_with_80_ms_labels_is_refused(tmp_path):
    for target in ("arousal", "valence"):
        write(
            tmp_path / "ratings_gold_standard" / target / "train_1.arff",
            gold_text("train_1", np.zeros(5), np.arange(5) * 0.08),
        )
    (tmp_path / "recordings_audio").mkdir()
    sf.write(tmp_path / "recordings_audio" / "train_1.wav", np.ones(8000, np.float32) * 0.1, 16000, subtype="FLOAT")
    with pytest.raises(CorpusFormatError, match=r"arousal/train_1\.arff \(recording train_1\).*step 0\.0800 s"):
        load_recola_recordings(tmp_path, "train", ["audio"], mode="raw")


# --------------------------------------------------------------------------- feature ARFFs
def test_feature_arff_drops_the_attributes_the_avec_scripts_drop(tmp_path):
    # name (string), class (numeric, all '?'), frameTime, timeStamp (numeric), Instance_name
    text = (
        "@relation features\n"
        "@attribute name string\n@attribute frameTime numeric\n@attribute timeStamp numeric\n"
        "@attribute f1 numeric\n@attribute Instance_name string\n@attribute f2 numeric\n"
        "@attribute class numeric\n@data\n"
        "'dev_1',0.00,0.00,1,'dev_1',2,?\n'dev_1',0.04,0.04,3,'dev_1',4.5,?\n"
    )
    times, values = read_feature_arff(write(tmp_path / "dev_1.arff", text))
    np.testing.assert_allclose(times, [0.0, 0.04])
    np.testing.assert_array_equal(values, [[1, 2], [3, 4.5]])  # only f1 and f2


def test_feature_arff_with_nominal_class_of_question_marks(tmp_path):
    text = (
        "@relation features\n@attribute name string\n@attribute frameTime numeric\n"
        "@attribute f1 numeric\n@attribute class {0,1}\n@data\n"
        "'dev_1',0.00,1,?\n'dev_1',0.04,2,?\n"
    )
    _, values = read_feature_arff(write(tmp_path / "dev_1.arff", text))
    np.testing.assert_array_equal(values, [[1], [2]])


def test_feature_arff_missing_feature_value_still_refused(tmp_path):
    text = (
        "@relation features\n@attribute name string\n@attribute frameTime numeric\n"
        "@attribute f1 numeric\n@attribute class numeric\n@data\n"
        "'dev_1',0.00,1,?\n'dev_1',0.04,?,?\n"
    )
    path = write(tmp_path / "dev_1.arff", text)
    with pytest.raises(CorpusFormatError, match=r"dev_1\.arff \(recording dev_1\): line 8, attribute 'f1': missing"):
        read_feature_arff(path)


# --------------------------------------------------------------------------- issue 24: values, names, raters
def feature_text(name: str, values: np.ndarray, times=TIMES) -> str:
    head = "@relation f\n@attribute Instance_name string\n@attribute frameTime numeric\n"
    head += "".join(f"@attribute f{j} numeric\n" for j in range(values.shape[1])) + "@data\n"
    rows = "\n".join(f"{name},{t:.2f}," + ",".join(str(v) for v in row) for t, row in zip(times, values))
    return head + rows + "\n"


def small_corpus(root: Path, ratings=None) -> Path:
    """train_1: gold standards, individual ratings and audio features over TIMES."""
    rng = np.random.default_rng(3)
    for target in ("arousal", "valence"):
        write(
            root / "ratings_gold_standard" / target / "train_1.arff", gold_text("train_1", np.linspace(-0.5, 0.5, 10))
        )
        write(
            root / "ratings_individual" / target / "train_1.csv",
            ratings or ratings_text(rng.uniform(-0.9, 0.9, (10, 6)).round(3)),
        )
        write(root / "features_audio" / target / "train_1.arff", feature_text("train_1", rng.normal(size=(10, 3))))
    return root


@pytest.mark.parametrize("value", ["1.5", "-1e30"])
def test_a_gold_standard_outside_its_range_is_refused(tmp_path, value):
    values = [f"{v:.3f}" for v in np.linspace(-0.1, 0.1, 10)]
    values[2] = value
    path = write(tmp_path / "dev_3.arff", gold_text("dev_3", values))
    read_gold_standard(path)  # prediction files may lie outside the range
    with pytest.raises(CorpusFormatError) as info:
        read_gold_standard(path, label_range=(-1.0, 1.0))
    assert str(info.value) == (
        f"{path}: line 8, attribute 'GoldStandard': label {float(value):g} is outside the range [-1, 1] the corpus "
        "declares (1 such value(s) in the file)"
    )


def test_individual_ratings_outside_the_range_are_refused_naming_the_rater(tmp_path):
    path = write(
        tmp_path / "dev_1.csv", ratings_text(np.full((10, 6), 0.2).tolist()).replace("0.2;0.2\n0.08", "1.7;0.2\n0.08")
    )
    with pytest.raises(
        CorpusFormatError, match=rf"^{path}: line 3, field 'FF2': label 1.7 is outside the range \[-1, 1\]"
    ):
        read_individual_ratings(path, label_range=(-1.0, 1.0))


def test_another_recordings_file_is_refused_by_its_instance_name(tmp_path):
    root = small_corpus(tmp_path / "c")
    gold = root / "ratings_gold_standard" / "arousal" / "train_1.arff"
    gold.write_text(gold_text("dev_1", np.zeros(10)))  # dev_1's gold standard copied in as train_1
    with pytest.raises(CorpusFormatError) as info:
        load_recola_recordings(root, "train", ["audio"])
    assert str(info.value) == (
        f"{gold}: line 6, attribute 'Instance_name': 'dev_1' is not the file's recording 'train_1' (is this another "
        "recording's file?)"
    )


def test_the_mean_of_the_raters_needs_all_six(tmp_path):
    rows = "\n".join(f"{t:.2f};0.1;0.2;0.3;0.4;0.5" for t in TIMES)
    root = small_corpus(tmp_path / "c", ratings="time;FM1 ;FM3 ;FF1;FF2 ;FF3\n" + rows + "\n")
    assert load_recola_recordings(root, "train", ["audio"])[0].targets.shape == (10, 2)  # gold: no raters needed
    with pytest.raises(
        CorpusFormatError, match=r"ratings='mean' averages the six RECOLA raters .* missing column\(s\) \['FM2'\]"
    ):
        load_recola_recordings(root, "train", ["audio"], ratings="mean")


def test_an_absurd_feature_value_is_a_warning_naming_file_line_and_attribute(tmp_path):
    root = small_corpus(tmp_path / "c")
    path = root / "features_audio" / "arousal" / "train_1.arff"
    values = np.random.default_rng(0).normal(size=(10, 3))
    values[4, 1] = 1e30
    path.write_text(feature_text("train_1", values))
    with pytest.warns(
        CorpusDataWarning, match=rf"^{path}: line 12, attribute 'f1': feature value 1e\+30 is far outside"
    ):
        read_feature_arff(path)


def test_float_audio_beyond_one_is_clipped_with_a_warning_not_flattened(tmp_path):
    rng = np.random.default_rng(2)
    signal = np.clip(rng.normal(size=6400) * 0.2, -1, 1).astype(np.float32)
    loud = signal.copy()
    loud[1000] = 1e30
    path = tmp_path / "train_1.wav"
    sf.write(path, loud, 16000, subtype="FLOAT")
    with pytest.warns(
        CorpusDataWarning,
        match=r"train_1.wav \(recording train_1\): sample 1000 \(at 0.0625 s\), channel 0: 1e\+30 is outside",
    ):
        frames = read_audio_frames(path, TIMES, normalize=True).reshape(-1)
    clipped = signal.astype(np.float64)
    clipped[1000] = 1.0
    np.testing.assert_allclose(frames, (clipped - clipped.mean()) / clipped.std(), atol=1e-5)  # not ~0 everywhere
