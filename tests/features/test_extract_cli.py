"""``zoo extract`` end to end: resumability, source protection, errors, MuSe-CaR round trip + fit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from zoo.cli import main

SR = 16000


def _extract(*args: str) -> int:
    return main(["extract", *args, "--no-progress"])


def test_resume_skips_finished_files_and_overwrite_redoes(wav_dir, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--layout", "muse_car") == 0
    folder = out / "c1_muse_wild" / "feature_segments" / "label_aligned" / "logmel"
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["extract_settings.json", "rec_a.csv", "rec_b.csv"]
    assert "2 written, 0 skipped" in capsys.readouterr().out
    stamp = folder / "rec_a.csv"
    os.utime(stamp, (1, 1))
    (folder / "rec_b.csv").unlink()  # as if interrupted before rec_b
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out)) == 0
    assert "1 written, 1 skipped" in capsys.readouterr().out
    assert stamp.stat().st_mtime == 1  # finished file untouched
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--overwrite") == 0
    assert "2 written, 0 skipped" in capsys.readouterr().out
    assert stamp.stat().st_mtime > 1
    assert not list(folder.glob(".*tmp"))  # no temporary files left behind


def test_layouts_sewa_and_recola_paths(wav_dir, tmp_path):
    wav = wav_dir / "rec_b.wav"
    assert (
        _extract(
            "logmel",
            "--input",
            str(wav),
            "--output",
            str(tmp_path / "s"),
            "--layout",
            "sewa",
            "--hop",
            "0.1",
            "--name",
            "audio_features_logmel",
        )
        == 0
    )
    lines = (tmp_path / "s" / "audio_features_logmel" / "rec_b.csv").read_text().splitlines()
    assert lines[0].startswith("name;time;logmel_0;") and len(lines) == 1 + 21
    assert lines[2].startswith("'rec_b';0.100000;")
    assert (
        _extract("logmel", "--input", str(wav), "--output", str(tmp_path / "r"), "--layout", "recola", "--hop", "0.04")
        == 0
    )
    # the RECOLA layout writes a folder the RECOLA datamodule reads: audio -> features_audio
    text = (tmp_path / "r" / "features_audio" / "arousal" / "rec_b.arff").read_text()
    assert text == (tmp_path / "r" / "features_audio" / "valence" / "rec_b.arff").read_text()
    assert text.startswith("@relation features_audio") and text.count("\nrec_b,") == 51  # 0..2.0 s / 40 ms


def test_output_inside_input_and_source_files_are_refused(wav_dir, tmp_path, capsys):
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(wav_dir / "feats")) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert not (wav_dir / "feats").exists()
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.csv").write_text("start,end,word\n0,1,car\n")
    glove = tmp_path / "g.txt"
    glove.write_text("car 1 2\n")
    # sewa layout would write <output>/<name>/x.csv — make that the input file itself
    code = _extract(
        "word_vectors",
        "--input",
        str(src / "x.csv"),
        "--output",
        str(tmp_path),
        "--layout",
        "sewa",
        "--name",
        "src",
        "--weights",
        str(glove),
    )
    assert code == 2 and "is an input file" in capsys.readouterr().err
    assert (src / "x.csv").read_text() == "start,end,word\n0,1,car\n"


def test_missing_weights_via_cli(wav_dir, tmp_path, capsys):
    assert _extract("vggish", "--input", str(wav_dir), "--output", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "--weights" in err and "random" in err
    assert _extract("nope", "--input", str(wav_dir), "--output", str(tmp_path)) == 2
    assert "unknown extractor 'nope'. Registered: " in capsys.readouterr().err


def _raw_muse_corpus(root: Path, raw: Path, speech_like) -> None:
    """Six speech-like WAVs (ids 1..6) + MuSe-CaR partition and label files on a 250 ms grid."""
    raw.mkdir()
    parts = {1: "train", 2: "train", 3: "train", 4: "devel", 5: "devel", 6: "test"}
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "partition.csv").write_text("Id,Proposal\n" + "".join(f"{i},{p}\n" for i, p in parts.items()))
    for vid in parts:
        seconds = 6.0 + vid
        signal = speech_like(seconds, seed=vid)
        sf.write(raw / f"{vid}.wav", signal, SR)
        times = np.arange(int(seconds / 0.25) + 1) * 250
        rng = np.random.default_rng(vid)
        for target in ("arousal", "valence"):
            folder = root / "c1_muse_wild" / "label_segments" / target
            folder.mkdir(parents=True, exist_ok=True)
            value = np.tanh(np.cumsum(rng.normal(0, 0.1, len(times))))
            seg = np.where(times < 3000, 1, 2)
            rows = "".join(f"{t},{v:.5f},{s}\n" for t, v, s in zip(times, value, seg))
            (folder / f"{vid}.csv").write_text("timestamp,value,segment_id\n" + rows)


@pytest.mark.slow
def test_muse_car_round_trip_and_one_epoch_fit(tmp_path, zoo_cli, make_speech):
    from zoo.data.corpora.muse_car.reader import (
        feature_path,
        load_muse_car_recordings,
        read_feature_file,
        read_label_file,
    )

    root, raw = tmp_path / "corpus", tmp_path / "raw"
    _raw_muse_corpus(root, raw, make_speech)
    timeline = root / "c1_muse_wild" / "label_segments" / "arousal"
    assert (
        _extract(
            "logmel", "--input", str(raw), "--output", str(root), "--layout", "muse_car", "--timeline", str(timeline)
        )
        == 0
    )
    assert (
        _extract(
            "egemaps_lld",
            "--input",
            str(raw / "4.wav"),
            str(raw / "5.wav"),
            "--output",
            str(root),
            "--timeline",
            str(timeline),
        )
        == 0
    )
    assert _extract("logmel", "--input", str(raw / "4.wav"), "--output", str(tmp_path / "plain")) == 0
    plain_ts, plain_seg, _ = read_feature_file(feature_path(tmp_path / "plain", "logmel", "4"))
    label_ts, _, _ = read_label_file(timeline / "4.csv")
    np.testing.assert_array_equal(plain_ts, label_ts)  # default timeline = 0, 250, ... ms
    np.testing.assert_array_equal(plain_seg, 0)  # no timeline → segment id 0
    recs = load_muse_car_recordings(root, "devel", ["logmel", "egemaps_lld"])
    assert [r.id for r in recs] == ["4", "5"]
    assert recs[0].features["logmel"].shape == (41, 64) and recs[0].features["egemaps_lld"].shape == (41, 25)
    np.testing.assert_array_equal(recs[0].meta["segment_id"][[0, -1]], [1, 2])
    run_dir = zoo_cli(
        "fit",
        "muse_car/sun2020_lstm_selfattn",
        f"output_dir={tmp_path / 'runs'}",
        f"data.args.root={root}",
        "data.args.features=[logmel]",
        "data.args.win_len=20",
        "data.args.hop_len=10",
        "data.args.batch_size=4",
        "trainer.max_epochs=1",
        "model.args.hidden_size=16",
        "trainer.enable_progress_bar=false",
        "logger=csv",
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results


def test_the_audio_track_of_a_video_is_extracted_and_other_files_are_named(wav_dir, tmp_path, capsys):
    """A Matroska file with a lossless (float PCM) audio track beside a WAV and a note: the video's
    features equal those of the same samples read from a WAV, and the note is reported, not
    silently left out."""
    import av

    signal, rate = sf.read(wav_dir / "rec_b.wav", dtype="float32")  # 2.0 s at 16 kHz
    assert rate == SR
    folder = tmp_path / "clips"
    folder.mkdir()
    with av.open(str(folder / "talk.mkv"), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("pcm_f32le", rate=SR, layout="mono")
        for _ in range(15):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for start in range(0, len(signal), 1600):
            frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1600], format="flt", layout="mono")
            frame.sample_rate = SR
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    sf.write(tmp_path / "talk.wav", signal, SR, subtype="FLOAT")  # the same samples, read by soundfile
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "corpus"
    with pytest.warns(UserWarning, match=r"clips: 1 file\(s\) skipped, not inputs of extractor 'egemaps'.*notes.txt"):
        assert _extract("egemaps", "--input", str(folder), "--output", str(out), "--win", "1") == 0
    assert "1 written, 0 skipped" in capsys.readouterr().out
    assert (
        _extract("egemaps", "--input", str(tmp_path / "talk.wav"), "--output", str(tmp_path / "ref"), "--win", "1") == 0
    )
    rel = Path("c1_muse_wild/feature_segments/label_aligned/egemaps/talk.csv")
    from_video, from_wav = (
        np.loadtxt(out / rel, delimiter=",", skiprows=1),
        np.loadtxt(tmp_path / "ref" / rel, delimiter=",", skiprows=1),
    )
    assert from_video.shape == from_wav.shape == (9, 2 + 88)  # 0 .. 2.0 s every 0.25 s: timestamp, segment, 88
    np.testing.assert_allclose(from_video, from_wav, rtol=1e-5, atol=1e-5)
