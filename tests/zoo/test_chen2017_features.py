"""Chen et al. 2017 short-time features: the IS10 extractor and the synthetic AVEC 2017 folders.

References are independent of the code under test: openSMILE's own frames averaged by hand,
word vectors averaged by hand from the corpus's embedding file, least squares in NumPy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from zoo.data.corpora.sewa.reader import (
    SewaCorpus,
    apply_interlocutor,
    inside_turns,
    read_feature_file,
    read_label_file,
    read_transcription,
    read_turns,
)
from zoo.data.corpora.sewa.synthetic import SHORT_TIME_DIMS, write_synthetic_sewa
from zoo.features import create_extractor, label_times
from zoo.features.cli import extract

SHORT_TIME = {
    "audio_features_is10": SHORT_TIME_DIMS["is10"],
    "audio_features_soundnet": SHORT_TIME_DIMS["soundnet"],
    "video_features_vggface_conv5": SHORT_TIME_DIMS["vggface_conv5"],
    "video_features_denseface": SHORT_TIME_DIMS["denseface"],
    "text_features_wordvec_de": SHORT_TIME_DIMS["wordvec_de"],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_synthetic_sewa(
        tmp_path_factory.mktemp("chen") / "sewa", seed=5, counts={"Train": 4, "Devel": 2, "Test": 1}
    )


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    sr = 16000
    t = np.arange(int(2.05 * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * t) * t) * (1 + 0.5 * np.sin(2 * np.pi * 1.5 * t))
    path = tmp_path_factory.mktemp("audio") / "Train_01.wav"
    sf.write(path, (tone + 0.01 * rng.normal(size=len(t))).astype(np.float32), sr)
    return path


# --------------------------------------------------------------------------- IS10 extractor
def test_is10_lld_is_76_opensmile_descriptors_averaged_per_100ms(wav):
    import opensmile

    ex = create_extractor("is10_lld")
    assert ex.hop == 0.1 and ex.dim == 76
    times = label_times(ex.duration(wav), ex.hop)
    out = ex.extract(wav, times)
    assert out.values.shape == (len(times), 76) == (21, 76)
    signal, sr = sf.read(wav, dtype="float32")
    reference, names = [], []
    for level in (opensmile.FeatureLevel.LowLevelDescriptors, opensmile.FeatureLevel.LowLevelDescriptors_Deltas):
        frame = opensmile.Smile(feature_set=opensmile.FeatureSet.IS10, feature_level=level).process_signal(signal, sr)
        centre = (
            frame.index.get_level_values("start").total_seconds().to_numpy()
            + frame.index.get_level_values("end").total_seconds().to_numpy()
        ) / 2
        values = frame.to_numpy(np.float64)
        # label t owns the frames whose centre lies in [t - 50 ms, t + 50 ms)
        reference.append(np.stack([values[(centre >= t - 0.05) & (centre < t + 0.05)].mean(0) for t in times[1:-1]]))
        names += list(frame.columns)
    np.testing.assert_allclose(out.values[1:-1], np.concatenate(reference, 1), rtol=1e-5, atol=1e-5)
    assert out.columns == names and names[0] == "pcm_loudness_sma" and names[38] == "pcm_loudness_sma_de"


def test_zoo_extract_is10_writes_a_file_the_sewa_reader_reads(wav, tmp_path):
    summary = extract("is10_lld", [wav], tmp_path / "corpus", "sewa", name="audio_features_is10", progress=False)
    assert summary["written"] == 1
    times, values = read_feature_file(tmp_path / "corpus" / "audio_features_is10" / "Train_01.csv")
    assert values.shape == (21, 76)
    np.testing.assert_allclose(np.diff(times), 0.1, atol=1e-6)


# --------------------------------------------------------------------------- synthetic folders
def test_short_time_folders_are_on_the_label_timeline(corpus):
    for name in ("Train_01", "Devel_02", "Test_01"):
        label_t, _ = read_label_file(corpus / "labels" / f"{name}.csv")
        for folder, dim in SHORT_TIME.items():
            times, values = read_feature_file(corpus / folder / f"{name}.csv")
            assert values.shape == (len(label_t), dim), folder
            np.testing.assert_allclose(times, label_t, atol=1e-6)


def test_video_short_time_features_have_no_face_rows_of_zeros(corpus):
    _, x = read_feature_file(corpus / "video_features_vggface_conv5" / "Train_01.csv")
    zero = np.all(x == 0, axis=1)
    assert 0 < zero.mean() < 0.1


def test_word_vector_folder_is_the_turn_mean_of_the_embedding_file(corpus):
    table = {}
    for line in (corpus / "word_embeddings" / "wordvec_de.txt").read_text().splitlines()[1:]:
        word, *vals = line.split(" ")
        table[word] = np.array(vals, float)
    times, x = read_feature_file(corpus / "text_features_wordvec_de" / "Devel_01.csv")
    expected = np.zeros_like(x, dtype=float)
    for start, end, text in read_transcription(corpus / "transcriptions" / "Devel_01.csv"):
        rows = (times >= start - 1e-9) & (times < end - 1e-9)
        expected[rows] = np.mean([table[w] for w in text.split()], 0)
    np.testing.assert_allclose(x, expected, atol=1e-4)


def test_word_vector_folder_matches_zoo_extract_word_vectors(corpus, tmp_path):
    extract(
        "word_vectors",
        [corpus / "transcriptions" / "Train_02.csv"],
        tmp_path / "out",
        "sewa",
        hop=0.1,
        weights=str(corpus / "word_embeddings" / "wordvec_de.txt"),
        progress=False,
    )
    t_ex, x_ex = read_feature_file(tmp_path / "out" / "word_vectors" / "Train_02.csv")
    t_syn, x_syn = read_feature_file(corpus / "text_features_wordvec_de" / "Train_02.csv")
    n = len(t_ex)  # the extractor's timeline ends with the last turn
    np.testing.assert_allclose(t_ex, t_syn[:n], atol=1e-6)
    np.testing.assert_allclose(x_ex, x_syn[:n], atol=1e-3)


def _lstsq_ccc(corpus: Path, strategy: str) -> float:
    """Ridge-free least squares from 0.2 s-delayed IS10 features (+ strategy) to arousal, CCC on Devel."""

    def data(partition):
        xs, ys = [], []
        for path in sorted((corpus / "labels").glob(f"{partition}_*.csv")):
            times, y = read_label_file(path, ["arousal"])
            _, x = read_feature_file(corpus / "audio_features_is10" / path.name)
            x = apply_interlocutor(x, inside_turns(times, read_turns(corpus / "turns" / path.name)), strategy)
            xs.append(np.column_stack([x, np.ones(len(x))])[:-2]), ys.append(y[2:, 0])
        return np.concatenate(xs), np.concatenate(ys)

    x, y = data("Train")
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    xd, yd = data("Devel")
    p = xd @ w
    return 2 * np.cov(p, yd, bias=True)[0, 1] / (p.var() + yd.var() + (p.mean() - yd.mean()) ** 2)


def test_is10_signal_is_learnable_and_interlocutor_strategies_matter(corpus):
    mixed, purified, doubled = (_lstsq_ccc(corpus, s) for s in ("mixed", "purified", "doubled"))
    assert doubled > 0.2
    assert doubled > mixed + 0.05 and purified > mixed  # Table 4's ordering on the synthetic corpus


def test_datamodule_doubles_only_the_named_acoustic_sets(corpus):
    reader = SewaCorpus(
        root=corpus,
        release="avec2017",
        interlocutor="doubled",
        features=["audio_features_is10", "video_features_vggface_conv5", "text_features_wordvec_de"],
        interlocutor_features=["audio_features_is10"],
        targets=["arousal"],
    )
    rec = reader.read("Devel")[0]
    assert rec.features["audio_features_is10"].shape[1] == 2 * SHORT_TIME_DIMS["is10"]
    assert rec.features["video_features_vggface_conv5"].shape[1] == SHORT_TIME_DIMS["vggface_conv5"]
    assert rec.features["text_features_wordvec_de"].shape[1] == SHORT_TIME_DIMS["wordvec_de"]


def test_zoo_extract_word_vectors_on_the_sewa_label_timeline(corpus, tmp_path):
    """--timeline labels/: one row per label frame, so the folder aligns with the labels to the end."""
    extract(
        "word_vectors",
        [corpus / "transcriptions" / "Devel_02.csv"],
        tmp_path / "out",
        "sewa",
        hop=0.1,
        weights=str(corpus / "word_embeddings" / "wordvec_de.txt"),
        name="text_features_wordvec_de",
        timeline=corpus / "labels",
        progress=False,
    )
    t_ex, x_ex = read_feature_file(tmp_path / "out" / "text_features_wordvec_de" / "Devel_02.csv")
    t_syn, x_syn = read_feature_file(corpus / "text_features_wordvec_de" / "Devel_02.csv")
    np.testing.assert_allclose(t_ex, t_syn, atol=1e-6)
    np.testing.assert_allclose(x_ex, x_syn, atol=1e-3)
