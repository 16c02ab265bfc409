"""``zoo predict BUNDLE MEDIA``: a bundle records the extractor of each training feature set and
predicts raw WAV/MP4 files in one command; bundles whose features no extractor reproduces are
refused naming the set."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DEFAULTS = Path(__file__).resolve().parents[2] / "recipes" / "defaults.yaml"
SR = 16000


def _run(*args: str) -> dict:
    from zoo.cli import run

    return run([str(a) for a in args])


def _tone(seconds: float, seed: int = 0) -> np.ndarray:
    """A gliding sine with bursts of noise (deterministic), float32 in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    sine = np.sin(2 * np.pi * np.cumsum(180 + 60 * np.sin(2 * np.pi * 0.5 * t)) / SR)
    bursts = (np.sin(2 * np.pi * 1.3 * t) > 0.6) * rng.standard_normal(len(t))
    return (0.3 * sine + 0.1 * bursts).astype(np.float32)


def _reseal(folder: Path) -> None:
    """Rewrite manifest.json for the files now present (a consistent, re-hashed bundle)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.name != "manifest.json"
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_config(bundle: Path, tmp_path: Path, edit) -> Path:
    copy = Path(shutil.copytree(bundle, tmp_path / "edited"))
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    _reseal(copy)
    return copy


# --------------------------------------------------------------------------- provenance (fast)
def test_provenance_from_settings_corpus_mapping_and_unknown(tmp_path: Path, caplog):
    from zoo.features.provenance import feature_provenance

    extracted = tmp_path / "recola" / "features_audio"
    (extracted / "arousal").mkdir(parents=True)
    (extracted / "extract_settings.json").write_text(
        json.dumps(
            {
                "extractor": "logmel",
                "layout": "recola",
                "hop": 0.04,
                "win": None,
                "weights": None,
                "weights_sha256": None,
                "options": {},
                "timeline": None,
            }
        )
    )
    (tmp_path / "recola" / "features_video_geometric").mkdir()  # the organisers' features: no record
    got = feature_provenance("recola", tmp_path / "recola", ["audio", "video_geometric"], {"mode": "features"})
    assert got["audio"]["extractor"] == "logmel" and got["audio"]["hop"] == 0.04
    assert "timeline" not in got["audio"] and got["audio"]["source"].startswith("zoo extract")
    assert got["video_geometric"] is None
    muse = tmp_path / "muse" / "c1_muse_wild" / "feature_segments" / "label_aligned"
    for name in ("egemaps", "vggface"):
        (muse / name).mkdir(parents=True)
    got = feature_provenance("muse_car", tmp_path / "muse", ["egemaps", "vggface"])
    assert (got["egemaps"]["extractor"], got["egemaps"]["hop"], got["egemaps"]["win"]) == ("egemaps", 0.25, 5.0)
    assert got["vggface"] is None
    with caplog.at_level("WARNING"):  # a virtual set has no folder to look for: no warning
        assert feature_provenance("muse_car", tmp_path / "muse", ["segment_id"]) == {"segment_id": None}
    assert not caplog.records
    # a raw-mode RECOLA model: its audio is the 16 kHz waveform cut per label step (z-normalised
    # per recording by default), its video the face crops the reader cuts
    args = {"mode": "raw", "face_size": 48}
    got = feature_provenance("recola", tmp_path / "recola", ["audio", "video"], args, 0.04)
    assert got["audio"]["extractor"] == "waveform" and got["audio"]["hop"] == 0.04
    assert got["audio"]["options"] == {"normalize": True}
    assert got["video"]["extractor"] == "face_crops" and got["video"]["options"] == {
        "size": 48,
        "crop_box": "centre",
        "face_present": False,
    }
    got = feature_provenance("recola", None, ["audio"], {"mode": "raw", "audio_normalization": "none"}, 0.04)
    assert got["audio"]["options"] == {"normalize": False}


def test_provenance_of_the_synthetic_corpus_is_read_in_the_cache(tmp_path: Path, monkeypatch, caplog):
    """root=None: the synthetic corpus is looked up where the datamodule writes it; a weights path
    recorded relative to the corpus becomes absolute; a set it generates has no extractor."""
    from zoo.data import create_datamodule
    from zoo.features.provenance import feature_provenance

    monkeypatch.setenv("AFFECT_ZOO_CACHE", str(tmp_path / "cache"))
    with caplog.at_level("WARNING"):
        assert feature_provenance("muse_car", None, ["egemaps"]) == {"egemaps": None}  # not written yet
    assert "not in the cache" in caplog.text
    root = create_datamodule("muse_car", synthetic_seed=3).corpus.synthetic_root()
    assert root.parent == tmp_path / "cache" / "synthetic" and root.name.endswith("-seed3")
    folder = root / "c1_muse_wild" / "feature_segments" / "label_aligned"
    settings = {"extractor": "timm_face", "hop": 0.25, "win": None, "weights": "models/face.pth", "options": {}}
    (folder / "vggface").mkdir(parents=True)
    (folder / "vggface" / "extract_settings.json").write_text(json.dumps(settings))
    (folder / "vggish").mkdir()
    got = feature_provenance("muse_car", None, ["vggface", "vggish", "segment_id"], {"synthetic_seed": 3})
    assert got["vggface"]["extractor"] == "timm_face"
    assert got["vggface"]["weights"] == str((root / "models" / "face.pth").resolve())
    assert got["vggish"] is None and got["segment_id"] is None


def test_missing_reasons_name_the_set():
    from zoo.features.provenance import missing_reason

    config = {"datamodule": "muse_car", "corpus_root": "/data/muse"}
    assert missing_reason(config, "vggface") == (
        "feature set 'vggface' was distributed by the MuSe 2020 organisers; no extractor reproduces it"
    )
    assert "synthetic corpus" in missing_reason({"datamodule": "muse_car", "corpus_root": None}, "egemaps")
    assert "recordings_audio" in missing_reason({"datamodule": "recola"}, "audio", {"mode": "raw"})


def test_media_discovery_errors_name_the_file(tmp_path: Path):
    import soundfile as sf

    from zoo.features import ExtractorError
    from zoo.features.media import find_media

    sf.write(tmp_path / "b.wav", _tone(0.5), SR)
    (tmp_path / "notes.txt").write_text("x")
    assert [i for i, _ in find_media(tmp_path)] == ["b"]
    with pytest.raises(ExtractorError, match="notes.txt: not a media file"):
        find_media(tmp_path / "notes.txt")
    (tmp_path / "b.mp4").write_bytes(b"")
    with pytest.raises(ExtractorError, match="recording id 'b'"):
        find_media(tmp_path)


# --------------------------------------------------------------------------- end to end (slow)
@pytest.fixture(scope="module")
def media_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RECOLA model trained on log-mel features written by `zoo extract` itself, exported."""
    from zoo.data.corpora.recola.synthetic import write_synthetic_recola

    tmp = tmp_path_factory.mktemp("media-bundle")
    corpus = write_synthetic_recola(
        tmp / "corpus", seed=5, n_per_partition=2, duration_s=6.0, feature_sets=[], video_size=32
    )
    assert (
        _run(
            "extract",
            "logmel",
            "--input",
            corpus / "recordings_audio",
            "--output",
            corpus,
            "--layout",
            "recola",
            "--hop",
            "0.04",
            "--name",
            "audio",
            "--no-progress",
        )["exit_code"]
        == 0
    )
    (tmp / "recipes").mkdir()
    shutil.copy(DEFAULTS, tmp / "recipes" / "defaults.yaml")
    (tmp / "recipes" / "r.yaml").write_text(f"""
data:
  name: recola
  args: {{root: {corpus}, mode: features, features: [audio], win_len: 50, hop_len: 25, batch_size: 4}}
model:
  name: sun2020_lstm
  args: {{hidden_size: 8}}
""")
    out = _run(
        "fit",
        tmp / "recipes" / "r.yaml",
        f"output_dir={tmp / 'runs'}",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "logger=none",
    )
    assert out["exit_code"] == 0
    assert _run("export", Path(out["run_dir"]) / "checkpoints" / "best.ckpt", tmp / "bundle")["exit_code"] == 0
    return tmp / "bundle"


@pytest.mark.slow
def test_wav_prediction_equals_extractor_plus_numpy_normalisation(media_bundle: Path, tmp_path: Path):
    import soundfile as sf
    import torch
    from matplotlib.image import imread

    from zoo.features import create_extractor, label_times
    from zoo.hub.pretrained import load_pretrained

    config = json.loads((media_bundle / "config.json").read_text())
    entry = config["feature_extractors"]["audio"]
    assert (entry["extractor"], entry["hop"], entry["win"]) == ("logmel", 0.04, None)
    assert config["normalization"]["audio"] and config["postprocess"] is None
    assert config["label_shift"] == 0.0 and not config["feature_delay"]
    wav = tmp_path / "my talk.wav"
    sf.write(wav, _tone(2.3, seed=1), SR)
    out = _run("predict", media_bundle, wav, "--output", tmp_path / "preds", "--plot")
    assert out["exit_code"] == 0
    table = pd.read_csv(tmp_path / "preds" / "my talk.csv")
    assert list(table.columns) == ["timestamp", "arousal", "valence"]
    times = table["timestamp"].to_numpy()
    np.testing.assert_allclose(np.diff(times), 0.04, atol=1e-9)  # the label step, in seconds
    assert times[0] == 0.0 and 2.3 - 0.04 < times[-1] <= 2.3 + 1e-9
    # the same numbers from the extractor called directly, z-scored with NumPy, and the network
    feats = create_extractor("logmel", hop=0.04).extract(wav, label_times(2.3, 0.04)).values
    stats = config["normalization"]["audio"]
    x = (feats - np.asarray(stats["mean"], np.float32)) / np.asarray(stats["std"], np.float32)
    net = load_pretrained(media_bundle).net
    with torch.inference_mode():
        expected = net(
            {"audio": torch.from_numpy(x.astype(np.float32))[None]}, torch.ones(1, len(x), dtype=torch.bool)
        )[0].numpy()
    np.testing.assert_allclose(table[["arousal", "valence"]].to_numpy(), expected, atol=1e-5)
    png = imread(tmp_path / "preds" / "plots" / "my talk.png")
    assert png.ndim == 3 and png.shape[0] > 100


@pytest.mark.slow
def test_mp4_audio_is_decoded_and_video_only_is_refused(media_bundle: Path, tmp_path: Path):
    import av
    import soundfile as sf
    from PIL import Image, ImageDraw

    from zoo.features import create_extractor, label_times
    from zoo.features.media import media_audio
    from zoo.hub.pretrained import load_pretrained

    def encode(path: Path, with_audio: bool) -> None:
        with av.open(str(path), "w") as container:
            video = container.add_stream("mpeg4", rate=25)
            video.width = video.height = 64
            video.pix_fmt = "yuv420p"
            audio = container.add_stream("aac", rate=SR) if with_audio else None
            for i in range(50):  # 2 s of a moving disc
                image = Image.new("RGB", (64, 64), (20, 20, 20))
                ImageDraw.Draw(image).ellipse((i, 20, i + 14, 34), fill=(200, 120, 40))
                container.mux(video.encode(av.VideoFrame.from_image(image)))
            container.mux(video.encode(None))
            if audio is not None:
                signal = _tone(2.0, seed=2)
                for start in range(0, len(signal), 1024):
                    frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1024], format="fltp", layout="mono")
                    frame.sample_rate = SR
                    container.mux(audio.encode(frame))
                container.mux(audio.encode(None))

    folder = tmp_path / "clips"
    folder.mkdir()
    encode(folder / "clip.mp4", with_audio=True)
    out = _run("predict", media_bundle, folder, "--output", tmp_path / "preds")
    assert out["exit_code"] == 0
    table = pd.read_csv(tmp_path / "preds" / "clip.csv")
    signal, rate = media_audio(folder / "clip.mp4")
    duration = len(signal) / rate
    assert 2.0 <= duration < 2.2  # AAC adds encoder priming and pads the last frame
    np.testing.assert_allclose(table["timestamp"], label_times(duration, 0.04), atol=1e-9)
    sf.write(tmp_path / "decoded.wav", signal, rate, subtype="FLOAT")
    feats = create_extractor("logmel", hop=0.04).extract(tmp_path / "decoded.wav", label_times(duration, 0.04))
    expected = load_pretrained(media_bundle).predict({"audio": feats.values})
    np.testing.assert_allclose(table[["arousal", "valence"]].to_numpy(), expected, atol=1e-5)
    silent = tmp_path / "silent.mp4"
    encode(silent, with_audio=False)
    assert _run("predict", media_bundle, silent, "--output", tmp_path / "p2")["exit_code"] == 2


@pytest.mark.slow
def test_non_extractable_and_old_bundles_exit_2_naming_the_set(media_bundle: Path, tmp_path: Path, capsys):
    import soundfile as sf

    from zoo.hub.bundle import BundleError, load_bundle

    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(1.0), SR)
    organisers = _edit_config(media_bundle, tmp_path / "o", lambda c: c["feature_extractors"].update(audio=None))
    capsys.readouterr()
    assert _run("predict", organisers, wav, "--output", tmp_path / "p1")["exit_code"] == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        "feature set 'audio' was distributed by the AVEC 2016 organisers; no extractor reproduces it: "
        "extract it yourself into a corpus layout and run `zoo predict BUNDLE CORPUS_DIR`"
    ) in err
    assert not (tmp_path / "p1").exists()
    # a format-2 bundle exported before provenance was recorded: loads, says provenance is unknown
    old = _edit_config(media_bundle, tmp_path / "old", lambda c: c.pop("feature_extractors"))
    assert load_bundle(old).bundle_config.get("feature_extractors") is None
    assert _run("predict", old, wav, "--output", tmp_path / "p2")["exit_code"] == 2
    assert "records no feature extractors" in capsys.readouterr().err
    bad = _edit_config(media_bundle, tmp_path / "bad", lambda c: c["feature_extractors"]["audio"].update(hop=-1))
    with pytest.raises(BundleError, match=r"field 'feature_extractors.audio.hop'"):
        load_bundle(bad)
    wrong_set = _edit_config(media_bundle, tmp_path / "ws", lambda c: c.update(feature_extractors={"vggish": None}))
    with pytest.raises(BundleError, match=r"field 'feature_extractors'"):
        load_bundle(wrong_set)


def test_extractor_weights_come_from_the_record_or_weights_and_must_match_sha256(tmp_path: Path):
    from zoo.features.cli import _sha256_path
    from zoo.hub.predict_media import MediaPredictError, _weights

    good, other = tmp_path / "vggish.pth", tmp_path / "other.pth"
    good.write_bytes(b"weights")
    other.write_bytes(b"other weights")
    entry = {"extractor": "vggish", "weights": str(good), "weights_sha256": _sha256_path(good)}
    assert _weights("vggish", entry, {}) == good  # the recorded file, still there
    assert _weights("vggish", {"extractor": "logmel"}, {}) is None  # needs none
    with pytest.raises(MediaPredictError, match="other.pth: sha256 .* differs"):
        _weights("vggish", entry, {"vggish": other})
    gone = {**entry, "weights": str(tmp_path / "gone.pth")}
    with pytest.raises(MediaPredictError, match=r"not found here\); pass --weights vggish=PATH \(sha256"):
        _weights("vggish", gone, {})
    assert _weights("vggish", gone, {"vggish": good}) == good


@pytest.mark.slow
def test_recola_raw_bundle_predicts_an_mp4_from_its_waveform_and_face_crops(tmp_path: Path, capsys):
    """A raw-mode RECOLA model (Tzirakis et al. 2017's audio-visual network) records the waveform
    and face-crop extractors; on an MP4 its predictions equal the model applied to what the RECOLA
    reader itself cuts out of the same file (read_audio_frames, read_video_frames), and a WAV is
    refused: it has no faces to crop."""
    import av
    import soundfile as sf
    from PIL import Image, ImageDraw

    from zoo.data.corpora.recola.reader import read_video_frames
    from zoo.data.raw_audio import read_audio_frames
    from zoo.features import label_times
    from zoo.features.media import media_audio, media_duration
    from zoo.hub.pretrained import load_pretrained

    args = ["data.args.win_len=10", "data.args.hop_len=10", "data.args.face_size=24", "data.args.eval_batch_size=3"]
    args += ["model.args.from_scratch=true", "model.args.hidden_size=8", "model.args.backbone=resnet18"]
    out = _run(
        "fit",
        "recola/tzirakis2017_multimodal",
        f"output_dir={tmp_path / 'runs'}",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.enable_progress_bar=false",
        "logger=none",
        "export_bundle=true",
        *args,
    )
    assert out["exit_code"] == 0, out
    bundle = Path(out["run_dir"]) / "bundle"
    extractors = json.loads((bundle / "config.json").read_text())["feature_extractors"]
    assert extractors["audio"]["extractor"] == "waveform" and extractors["audio"]["options"] == {"normalize": True}
    assert extractors["video"]["extractor"] == "face_crops" and extractors["video"]["options"]["size"] == 24

    clip = tmp_path / "media" / "clip.mp4"
    clip.parent.mkdir()
    with av.open(str(clip), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height = 80, 64
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=SR)
        for i in range(75):  # 3 s of a face turning brighter
            image = Image.new("RGB", (80, 64), (30, 30, 30))
            ImageDraw.Draw(image).ellipse((24, 8, 56, 56), fill=(120 + i, 100 + i, 90 + i))
            container.mux(video.encode(av.VideoFrame.from_image(image)))
        container.mux(video.encode(None))
        signal = _tone(3.0, seed=4)
        for start in range(0, len(signal), 1024):
            frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate = SR
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    out = _run("predict", bundle, clip, "--output", tmp_path / "preds")
    assert out["exit_code"] == 0
    table = pd.read_csv(tmp_path / "preds" / "clip.csv")
    times = label_times(media_duration(clip), 0.04)
    signal, rate = media_audio(clip)
    sf.write(tmp_path / "decoded.wav", signal, rate, subtype="FLOAT")
    reference = {
        "audio": read_audio_frames(tmp_path / "decoded.wav", times, 16000, 0.04, normalize=True),
        # the centred square, 24 px; the AAC track outlasts the 75 frames: later labels take the last (2.96 s)
        "video": read_video_frames(clip, np.minimum(times, 74 / 25), 24),
    }
    expected = load_pretrained(bundle).predict(reference)
    np.testing.assert_allclose(table[["arousal", "valence"]].to_numpy(), expected, atol=1e-5)
    wav = tmp_path / "talk.wav"
    sf.write(wav, _tone(1.0), SR)
    capsys.readouterr()
    assert _run("predict", bundle, wav, "--output", tmp_path / "p2")["exit_code"] == 2
    assert "has no video, but feature set 'video' is computed from video" in capsys.readouterr().err
