"""RECOLA datamodule on small corpora written by the tests (ARFF, WAV and MP4 files)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError
from zoo.data.arff import read_arff
from zoo.data.corpora.recola.reader import (
    RecolaCorpus,
    load_recola_recordings,
    read_audio_frames,
    read_video_frames,
)
from zoo.data.datamodule import CorpusDataModule

N = 10  # label frames per recording: 0.00 .. 0.36 s
TIMES = np.arange(N) * 0.04
RATERS = "time;FM1 ;FM2;FM3 ;FF1;FF2 ;FF3"


def gold_text(name: str, values: np.ndarray, times: np.ndarray = TIMES) -> str:
    rows = "\n".join(f"{name},{t:.2f},{v:.6f}" for t, v in zip(times, values))
    return (
        "@relation GOLDSTANDARD\n\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        f"@attribute GoldStandard numeric\n\n@data\n{rows}\n"
    )


def feature_text(name: str, values: np.ndarray, times: np.ndarray = TIMES) -> str:
    attrs = "".join(f"@attribute f{i} numeric\n" for i in range(values.shape[1]))
    rows = "\n".join(f"'{name}',{t:.2f}," + ",".join(f"{x:g}" for x in row) for t, row in zip(times, values))
    return f"@relation features\n@attribute Instance_name string\n@attribute frameTime numeric\n{attrs}@data\n{rows}\n"


def write_video(path: Path, levels: list[int], fps: int, size: tuple[int, int]) -> None:
    """Gray frames whose brightness is ``levels[i]``; ``size`` = (width, height)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps), options={"crf": "0", "preset": "ultrafast"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv444p"
        for level in levels:
            image = np.full((size[1], size[0], 3), level, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def ramp_audio(n_samples: int) -> np.ndarray:
    return (np.arange(n_samples) * 1e-5).astype(np.float32)  # sample value encodes its index


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """train_1, train_2, dev_1 labelled; test_1 without gold standard (as the real release)."""
    rng = np.random.default_rng(0)
    for name in ("train_1", "train_2", "dev_1", "test_1"):
        for target, offset in (("arousal", 0.0), ("valence", 0.5)):
            gold = np.linspace(-0.2, 0.2, N) + offset
            if not name.startswith("test"):
                p = tmp_path / "ratings_gold_standard" / target / f"{name}.arff"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(gold_text(name, gold))
                ratings = gold[:, None] + np.arange(6)[None, :] * 0.01
                p = tmp_path / "ratings_individual" / target / f"{name}.csv"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(
                    RATERS
                    + "\n"
                    + "\n".join(f"{t:.2f};" + ";".join(f"{r:.6f}" for r in row) for t, row in zip(TIMES, ratings))
                    + "\n"
                )
            for folder, dim in (("features_audio", 3), ("features_video_geometric", 2)):
                p = tmp_path / folder / target / f"{name}.arff"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(feature_text(name, rng.normal(size=(N, dim)) * 10 + 5))
        audio = tmp_path / "recordings_audio" / f"{name}.wav"
        audio.parent.mkdir(exist_ok=True)
        sf.write(audio, ramp_audio(N * 640 - 100), 16000, subtype="FLOAT")
        video = tmp_path / "recordings_video" / f"{name}.mp4"
        video.parent.mkdir(exist_ok=True)
        write_video(video, [20 + 20 * i for i in range(5)], fps=10, size=(64, 48))
    return tmp_path


# ------------------------------------------------------------------------------ raw media
def test_audio_frame_t_holds_samples_t640_to_t1_640(tmp_path):
    path = tmp_path / "a.wav"
    n = N * 640 - 100
    sf.write(path, ramp_audio(n), 16000, subtype="FLOAT")
    frames = read_audio_frames(path, TIMES)
    assert frames.shape == (N, 640) and frames.dtype == np.float32
    for t in range(N):
        expected = np.arange(t * 640, (t + 1) * 640) * 1e-5
        expected[np.arange(t * 640, (t + 1) * 640) >= n] = 0.0  # past the end: zeros
        np.testing.assert_allclose(frames[t], expected.astype(np.float32), rtol=0, atol=1e-9)


def test_audio_is_resampled_and_mixed_down(tmp_path):
    rate, seconds, freq = 44100, 0.5, 440.0
    t = np.arange(int(rate * seconds)) / rate
    stereo = np.stack([0.8 * np.sin(2 * np.pi * freq * t), np.zeros_like(t)], axis=1)
    path = tmp_path / "s.wav"
    sf.write(path, stereo.astype(np.float32), rate, subtype="FLOAT")
    times = np.arange(12) * 0.04
    frames = read_audio_frames(path, times)
    assert frames.shape == (12, 640)
    # mean of channels = 0.4 sin(2π·440·t), now at 16 kHz; compare away from the edges
    for k in range(2, 10):
        ts = (k * 640 + np.arange(640)) / 16000
        np.testing.assert_allclose(frames[k], 0.4 * np.sin(2 * np.pi * freq * ts), atol=0.01)


def test_video_frame_nearest_in_time_from_the_stream_rate(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, [20 + 20 * i for i in range(5)], fps=10, size=(64, 48))  # 0..0.4 s
    times = np.arange(13) * 0.04  # up to 0.48 s: within one frame (0.1 s) after the last → the last frame
    crops = read_video_frames(path, times, face_size=32)
    assert crops.shape == (13, 32, 32, 3) and crops.dtype == np.uint8
    nearest = np.minimum(np.floor(times * 10 + 0.5).astype(int), 4)
    np.testing.assert_allclose(crops.reshape(13, -1).mean(1), 20 + 20 * nearest, atol=3)
    with pytest.raises(
        CorpusFormatError,
        match=r"v\.mp4 \(recording v\): the video ends at 0\.400 s but the labels run to 0\.520 s \(row 14\)",
    ):
        read_video_frames(path, np.arange(14) * 0.04, face_size=32)  # 0.12 s past the last frame: refused


def test_video_crop_box(tmp_path):
    path = tmp_path / "half.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"crf": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, 32:] = 200  # right half bright
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    right = read_video_frames(path, np.zeros(1), face_size=16, crop_box=(40, 0, 24, 24))
    left = read_video_frames(path, np.zeros(1), face_size=16, crop_box=(0, 0, 24, 24))
    assert right.mean() > 190 and left.mean() < 10


# ------------------------------------------------------------------------------ recordings
def test_feature_mode_and_missing_test_labels(corpus):
    train = load_recola_recordings(corpus, "train", ["audio", "video_geometric"])
    assert [r.id for r in train] == ["train_1", "train_2"]
    assert train[0].features["audio"].shape == (N, 3)
    assert train[0].features["video_geometric"].shape == (N, 2)
    np.testing.assert_allclose(train[0].targets[:, 0], np.linspace(-0.2, 0.2, N), atol=1e-6)
    np.testing.assert_allclose(train[0].targets[:, 1], np.linspace(0.3, 0.7, N), atol=1e-6)
    test = load_recola_recordings(corpus, "test", ["audio"])
    assert test[0].targets is None and test[0].num_frames == N


def test_ratings_mean_and_single_rater(corpus):
    gold = np.linspace(-0.2, 0.2, N)
    mean = load_recola_recordings(corpus, "dev", ["audio"], ratings="mean")[0]
    np.testing.assert_allclose(mean.targets[:, 0], gold + 0.025, atol=1e-5)  # mean of 0..0.05
    ff1 = load_recola_recordings(corpus, "dev", ["audio"], targets=["valence"], ratings="FF1")[0]
    np.testing.assert_allclose(ff1.targets[:, 0], gold + 0.5 + 0.03, atol=1e-5)
    with pytest.raises(CorpusFormatError, match=r"no rater 'XX'.*FM1"):
        load_recola_recordings(corpus, "dev", ["audio"], ratings="XX")


def test_feature_times_must_match_gold_standard(corpus):
    path = corpus / "features_audio" / "arousal" / "dev_1.arff"
    shifted = TIMES + 0.02  # 40 ms steps, but 20 ms off the gold standard's timeline
    path.write_text(feature_text("dev_1", np.ones((N, 3)), shifted))
    with pytest.raises(
        CorpusFormatError, match=r"dev_1\.arff: frame times do not match .*first mismatching frameTime 0\.0200"
    ):
        load_recola_recordings(corpus, "dev", ["audio"])


def test_missing_dev_gold_standard_is_an_error(corpus):
    (corpus / "ratings_gold_standard" / "valence" / "dev_1.arff").unlink()
    with pytest.raises(CorpusFormatError, match=r"valence/dev_1\.arff: gold standard file not found"):
        load_recola_recordings(corpus, "dev", ["audio"])


def test_raw_mode_recordings(corpus):
    rec = load_recola_recordings(corpus, "test", ["audio", "video"], mode="raw", face_size=24)[0]
    assert rec.targets is None
    assert rec.num_frames == int(np.floor((N * 640 - 100) / 640)) + 1  # from the audio length
    assert rec.features["audio"].shape == (rec.num_frames, 640)
    assert rec.features["video"].shape == (rec.num_frames, 24, 24, 3)
    np.testing.assert_allclose(rec.features["audio"][3, :5], np.arange(1920, 1925) * 1e-5, atol=1e-9)


# ------------------------------------------------------------------------------ datamodule
def test_datamodule_raw_batches_are_not_normalised_with_corpus_statistics(corpus):
    dm = create_datamodule(
        "recola",
        root=corpus,
        mode="raw",
        features=["audio", "video"],
        face_size=16,
        win_len=4,
        hop_len=4,
        batch_size=2,
        label_shift=0.0,
    )
    assert isinstance(dm.corpus, RecolaCorpus)
    dm.setup("fit")
    assert dm.partitions["val"] == "dev"
    spec = dm.data_spec()
    assert spec["feature_dims"] == {"audio": 640, "video": [16, 16, 3]}
    assert spec["normalization"] is None  # raw inputs are never z-normalised
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["audio"].shape == (2, 4, 640)
    assert batch["features"]["video"].dtype.is_floating_point is False
    assert batch["targets"].shape == (2, 4, 2)
    start = int(batch["starts"][0])
    # Tzirakis et al. 2017 §III-B: the waveform is z-normalised per recording (one speaker) before
    # it is cut; reference: the whole written ramp, normalised with NumPy
    whole = ramp_audio(N * 640 - 100).astype(np.float64)
    whole = (whole - whole.mean()) / whole.std()
    expected = whole[start * 640 : start * 640 + 640]
    np.testing.assert_allclose(batch["features"]["audio"][0, 0].numpy(), expected, atol=1e-5)
    val = next(iter(dm.val_dataloader()))
    assert val["ids"] == ["dev_1"] and val["mask"].shape == (1, N)
    # evaluation sees the very same samples as training: frame t of the whole dev recording
    dev = ramp_audio(N * 640 - 100).astype(np.float64)
    dev = np.concatenate([(dev - dev.mean()) / dev.std(), np.zeros(N * 640 - len(dev))])
    np.testing.assert_allclose(val["features"]["audio"][0].numpy().reshape(-1), dev, atol=1e-5)


def test_datamodule_feature_mode_normalises_with_train_statistics(corpus):
    dm = CorpusDataModule("recola", root=corpus, mode="features", features=["audio"], win_len=5, hop_len=5)
    dm.setup("fit")
    train = np.concatenate([r.features["audio"] for r in dm.recordings("train")])
    np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1.0, atol=1e-4)
    dm.setup("test")
    assert dm.raw_recordings("test")[0].targets is None


def test_datamodule_rejects_unknown_features():
    with pytest.raises(ValueError, match=r"\['video'\] are not available in 'features' mode"):
        CorpusDataModule("recola", root=".", mode="features", features=["video"])
    with pytest.raises(ValueError, match=r"data.args.mode: expected one of features, raw, found 'pixels'"):
        CorpusDataModule("recola", root=".", mode="pixels")


def test_write_predictions_in_gold_standard_format(corpus, tmp_path):
    dm = CorpusDataModule("recola", root=corpus, features=["audio"])
    rec = dm.raw_recordings("val")[0]
    preds = np.stack([np.linspace(0, 1, N), np.linspace(1, 0, N)], axis=1)
    dm.write_predictions(tmp_path / "out", rec, preds, ["arousal", "valence"])
    data = read_arff(tmp_path / "out" / "valence" / "dev_1.arff")
    assert data.relation == "GOLDSTANDARD"
    assert data.names == ["Instance_name", "frameTime", "GoldStandard"]
    assert [a.type for a in data.attributes] == ["string", "numeric", "numeric"]
    assert data.columns["Instance_name"] == ["dev_1"] * N
    np.testing.assert_allclose(data.columns["frameTime"], TIMES)
    np.testing.assert_allclose(data.columns["GoldStandard"], np.linspace(1, 0, N), atol=1e-6)
    # the same predictions as one CSV per recording, for tools that do not read ARFF
    import pandas as pd

    table = pd.read_csv(tmp_path / "out" / "dev_1.csv")
    assert list(table.columns) == ["frameTime", "arousal", "valence"]
    np.testing.assert_allclose(table["frameTime"], TIMES)
    np.testing.assert_allclose(table[["arousal", "valence"]].to_numpy(), preds, atol=1e-6)
