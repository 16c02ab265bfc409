"""``zoo extract`` settings record, RECOLA folders the datamodule reads, the --timeline hint, and
progress within a recording (issues 12 and 17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import main


def _extract(*args: str) -> int:
    return main(["extract", *args, "--no-progress"])


def test_rerun_with_other_settings_is_refused_and_same_settings_resume(wav_dir, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--hop", "0.25") == 0
    folder = out / "c1_muse_wild" / "feature_segments" / "label_aligned" / "logmel"
    settings = json.loads((folder / "extract_settings.json").read_text())
    assert settings["extractor"] == "logmel" and settings["hop"] == 0.25 and settings["layout"] == "muse_car"
    before = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    capsys.readouterr()
    (folder / "rec_b.csv").unlink()
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--hop", "0.1") == 2
    err = capsys.readouterr().err
    assert "other settings (hop: 0.25 in the folder, 0.1 now)" in err and "--name" in err
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--hop", "0.1", "--overwrite") == 2
    assert sorted(p.name for p in folder.glob("*.csv")) == ["rec_a.csv"]  # nothing mixed in
    assert (folder / "rec_a.csv").read_bytes() == before["rec_a.csv"]
    # the same settings resume as before
    assert _extract("logmel", "--input", str(wav_dir), "--output", str(out), "--hop", "0.25") == 0
    assert "1 written, 1 skipped" in capsys.readouterr().out
    assert (folder / "rec_b.csv").read_bytes() == before["rec_b.csv"]


def test_folder_with_foreign_files_is_never_written(wav_dir, tmp_path, capsys):
    folder = tmp_path / "audio_features_logmel"
    folder.mkdir()
    (folder / "rec_a.csv").write_text("organiser's file")
    code = _extract(
        "logmel",
        "--input",
        str(wav_dir),
        "--output",
        str(tmp_path),
        "--layout",
        "sewa",
        "--name",
        "audio_features_logmel",
        "--overwrite",
    )
    assert code == 2 and "no extract_settings.json" in capsys.readouterr().err
    assert (folder / "rec_a.csv").read_text() == "organiser's file"
    assert sorted(p.name for p in folder.iterdir()) == ["rec_a.csv"]


@pytest.fixture()
def small_recola(tmp_path: Path) -> Path:
    """A synthetic RECOLA corpus of 4 s recordings without features_audio."""
    from zoo.data.corpora.recola.synthetic import write_synthetic_recola

    return write_synthetic_recola(
        tmp_path / "recola", n_per_partition=1, duration_s=4.0, feature_sets=("video_geometric",)
    )


def test_recola_layout_writes_a_folder_the_recola_reader_reads(small_recola: Path, capsys):
    from zoo.data.corpora.recola.reader import load_recola_recordings, read_gold_standard

    root = small_recola
    assert not (root / "features_audio").exists()
    code = _extract(
        "logmel",
        "--input",
        str(root / "recordings_audio"),
        "--output",
        str(root),
        "--layout",
        "recola",
        "--hop",
        "0.04",
        "--name",
        "features_video_resnet50",
    )
    assert code == 2
    assert "reads the feature sets ['audio', 'video_appearance', 'video_geometric']" in capsys.readouterr().err
    # a hop off the 40 ms label grid: the error says which --timeline to pass
    assert (
        _extract(
            "logmel",
            "--input",
            str(root / "recordings_audio"),
            "--output",
            str(root),
            "--layout",
            "recola",
            "--hop",
            "0.05",
            "--name",
            "audio",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"Pass --timeline {root / 'ratings_gold_standard' / 'arousal'}" in err and "without --timeline" in err
    assert (
        _extract(
            "logmel",
            "--input",
            str(root / "recordings_audio"),
            "--output",
            str(root),
            "--layout",
            "recola",
            "--hop",
            "0.04",
        )
        == 0
    )  # default: features_audio
    recordings = load_recola_recordings(root, "dev", ["audio"])
    gold_times, _ = read_gold_standard(root / "ratings_gold_standard" / "arousal" / "dev_1.arff")
    assert [r.id for r in recordings] == ["dev_1"]
    assert recordings[0].features["audio"].shape == (len(gold_times), 64)
    np.testing.assert_allclose(recordings[0].timestamps, gold_times)


def test_timeline_accepts_recola_gold_standard_arff(small_recola: Path):
    from zoo.data.corpora.recola.reader import load_recola_recordings, read_gold_standard

    root = small_recola
    timeline = root / "ratings_gold_standard" / "arousal"
    assert (
        _extract(
            "logmel",
            "--input",
            str(root / "recordings_audio" / "train_1.wav"),
            "--output",
            str(root),
            "--layout",
            "recola",
            "--hop",
            "0.04",
            "--timeline",
            str(timeline),
        )
        == 0
    )
    gold_times, _ = read_gold_standard(timeline / "train_1.arff")
    rec = load_recola_recordings(root, "train", ["audio"])[0]
    np.testing.assert_allclose(rec.timestamps, gold_times)


def test_progress_is_shown_per_inner_step(wav_dir, vggish_weights, tmp_path, capsys):
    args = ["extract", "vggish", "--input", str(wav_dir / "rec_a.wav"), "--output", str(tmp_path)]
    assert main([*args, "--weights", str(vggish_weights), "--hop", "0.25"]) == 0
    err = capsys.readouterr().err
    # a bar over the inner batches of the recording, not only over the one file (eGeMAPS and the
    # other openSMILE sets run once per recording, so they have no inner steps)
    assert "rec_a (1/1)" in err and "batch of 64 patches" in err
