"""The synthetic MuSe-CaR corpus: layout, media, features computed from the media by ``zoo extract``,
real feature statistics, determinism, atomic caching and a learnable signal."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import zoo.data.corpora.muse_car.reader as muse_car_module
import zoo.data.corpora.muse_car.synthetic as synth
from zoo.data.corpora.muse_car.reader import (
    load_muse_car_recordings,
    read_feature_file,
    read_label_file,
    read_partition_table,
)
from zoo.data.corpora.muse_car.synthetic import DELAY_FRAMES, FEATURE_DIMS, MEDIA_FEATURES, write_synthetic_muse_car
from zoo.data.datamodule import CorpusDataModule
from zoo.data.synthetic import default_synthetic_root, ensure_synthetic

SMALL = {"train": 6, "devel": 3, "test": 1}
SHORT = (60, 120)  # frames per topic segment of the small corpora (the default is 100-240)
TINY = {"train": 2, "devel": 1, "test": 1}
WILD = Path("c1_muse_wild")
LABELS = WILD / "label_segments"
FEATURES = WILD / "feature_segments" / "label_aligned"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_muse_car(tmp_path_factory.mktemp("synth") / "muse", 0, SMALL, segment_frames=SHORT)


def _all_bytes(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Concordance correlation coefficient (Lin 1989)."""
    mx, my = x.mean(), y.mean()
    cov = np.mean((x - mx) * (y - my))
    return float(2 * cov / (x.var() + y.var() + (mx - my) ** 2))


# --------------------------------------------------------------------------- layout
def test_layout_and_partitions(small_corpus: Path):
    assert "SYNTHETIC" in (small_corpus / "README.txt").read_text()
    partition_file = small_corpus / "metadata" / "partition.csv"
    table = read_partition_table(partition_file)
    counts = {p: sum(v == p for v in table.values()) for p in SMALL}
    assert counts == SMALL
    lines = partition_file.read_text().splitlines()
    assert lines[0] == "Id,Proposal" and len(lines) == 1 + sum(SMALL.values()) + 2  # 2 duplicates
    ids = sorted(int(i) for i in table)
    assert np.any(np.diff(ids) > 1)  # not contiguous
    for target in ("arousal", "valence"):
        files = {p.stem for p in (small_corpus / LABELS / target).glob("*.csv")}
        assert files == set(table)
    for name in FEATURE_DIMS:
        files = {p.stem for p in (small_corpus / FEATURES / name).glob("*.csv")}
        assert files == set(table)
    assert {p.stem for p in (small_corpus / "audio").glob("*.wav")} == set(table)
    assert {p.stem for p in (small_corpus / "video").glob("*.mp4")} == set(table)
    assert {p.name.split(".")[0] for p in (small_corpus / "video").glob("*.boxes.csv")} == set(table)
    assert sorted(p.name for p in (small_corpus / FEATURES).glob("*/extract_settings.json")) == [
        "extract_settings.json"
    ] * len(MEDIA_FEATURES)


def test_files_dims_timestamps_and_segments(small_corpus: Path):
    table = read_partition_table(small_corpus / "metadata" / "partition.csv")
    for vid in sorted(table, key=int)[:4]:
        timestamps, values, segments = read_label_file(small_corpus / LABELS / "arousal" / f"{vid}.csv")
        assert np.all(np.diff(timestamps) == 250) and timestamps[0] == 0
        assert np.all(np.abs(values) < 1) and values.std() > 0.05
        lengths = np.bincount(segments)[1:]
        assert segments[0] == 1 and np.all(np.diff(segments) >= 0) and 1 <= len(lengths) <= 3
        assert np.all((lengths >= SHORT[0]) & (lengths < SHORT[1]))
        for name, dim in FEATURE_DIMS.items():
            path = small_corpus / FEATURES / name / f"{vid}.csv"
            ts, seg, x = read_feature_file(path)
            assert x.shape == (len(timestamps), dim)
            assert np.array_equal(ts, timestamps) and np.array_equal(seg, segments)
    header = (small_corpus / LABELS / "valence" / f"{vid}.csv").read_text().splitlines()[0]
    assert header == "timestamp,value,segment_id"


def test_default_sizes_and_feature_dims():
    assert FEATURE_DIMS == {
        "egemaps": 88,  # openSMILE eGeMAPS v02 functionals
        "vggface": 512,  # a 512-d face embedding, as MuSe 2020's VGGFace files
        "vggish": 128,
        "fasttext": 300,
        "au": 35,
        "openpose": 54,  # MuSe 2020 dims (Sun et al. 2020, Table 3: FAUs 35, OpenPose 54)
    }
    videos = synth._plan_videos(0, synth.DEFAULT_N_VIDEOS, synth.SEGMENT_FRAMES)
    frames = sum(v.num_frames for v in videos)
    assert len(videos) == 20 and 3_000 <= frames <= 5_000  # 12.5-21 minutes of media


def test_media_features_are_what_zoo_extract_writes_from_the_media(small_corpus: Path, tmp_path: Path):
    """egemaps and vggface of a video, extracted again from its WAV / MP4 (+ boxes) by ``zoo
    extract`` with the settings the corpus recorded, are the same files byte for byte."""
    import json

    from zoo.cli import run

    vid = sorted((small_corpus / "audio").glob("*.wav"))[0].stem
    timeline = small_corpus / LABELS / "arousal"
    for name, source in (("egemaps", f"audio/{vid}.wav"), ("vggface", f"video/{vid}.mp4")):
        settings = json.loads((small_corpus / FEATURES / name / "extract_settings.json").read_text())
        assert settings["extractor"] == MEDIA_FEATURES[name][0] and settings["hop"] == 0.25
        args = ["extract", settings["extractor"], "--input", str(small_corpus / source), "--output", str(tmp_path)]
        args += ["--layout", "muse_car", "--name", name, "--timeline", str(timeline), "--hop", "0.25"]
        args += ["--win", str(settings["win"])] if settings["win"] else []
        if settings["weights"]:
            assert not Path(settings["weights"]).is_absolute()  # relative to the corpus: it can move
            args += ["--weights", str(small_corpus / settings["weights"])]
        for key, value in settings["options"].items():
            args += ["--option", f"{key}={value}"]
        assert run(args)["exit_code"] == 0
        again = tmp_path / FEATURES / name / f"{vid}.csv"
        written = small_corpus / FEATURES / name / f"{vid}.csv"
        assert again.read_text().splitlines()[0] == written.read_text().splitlines()[0]  # same columns
        # the same numbers (the face network's float32 sums may differ in the last digit between
        # one thread, used when the corpus is written, and several)
        np.testing.assert_allclose(read_feature_file(again)[2], read_feature_file(written)[2], rtol=1e-4, atol=1e-5)


def test_feature_statistics_are_those_of_real_sets(small_corpus: Path):
    """Deep embeddings bounded and post-activation with similar scales across dimensions, eGeMAPS
    with the spread of openSMILE's own functionals, AUs and keypoints in their real ranges; no set
    has an arbitrary per-column scale or offset."""
    recs = load_muse_car_recordings(small_corpus, "train", list(FEATURE_DIMS))
    x = {n: np.vstack([r.features[n] for r in recs]).astype(np.float64) for n in FEATURE_DIMS}
    face = x["vggface"]  # 512 embedding columns, as the release's files
    assert face.min() >= 0 and face.max() < 20 and 0.3 < face.mean() < 3  # post-ReLU, about 1
    assert np.all(face.std(0) > 0.1)  # every dimension varies (no dead unit)
    assert np.percentile(face.mean(0), 90) / np.percentile(face.mean(0), 10) < 2  # similar scales
    seen = np.any(face != 0, axis=1)  # a step without a face is all zeros
    assert 0.5 < seen.mean() < 0.95  # the face is seen most, not all of the time
    assert x["vggish"].min() >= 0 and x["vggish"].max() < 5
    assert np.abs(x["fasttext"]).max() < 1.5 and 0.03 < x["fasttext"][x["fasttext"] != 0].std() < 0.3
    assert x["au"][:, :17].min() >= 0 and x["au"][:, :17].max() <= 5
    assert set(np.unique(x["au"][:, 17:])) <= {0.0, 1.0}
    assert x["openpose"].min() >= 0 and x["openpose"].max() <= 1
    header = (small_corpus / FEATURES / "egemaps" / f"{recs[0].id}.csv").read_text().splitlines()[0].split(",")
    assert header[2] == "F0semitoneFrom27.5Hz_sma3nz_amean" and header[12] == "loudness_sma3_amean"
    loudness = x["egemaps"][:, 10]
    assert 0 < loudness.min() and loudness.max() < 5
    f0 = x["egemaps"][:, 0]  # F0semitoneFrom27.5Hz_sma3nz_amean: 100-400 Hz voices → 21-46 semitones
    assert 15 < np.median(f0) < 50


def test_vectorised_csv_formatting_matches_rounding():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 6)) * np.array([1e-3, 0.5, 1, 30, 1e4, 2e6])
    values[0] = [0.0, -0.0, -1e-9, 0.5, -0.5, 1.0]
    decimals = np.array([5, 3, 0, 2, 1, 0])
    text = synth._format_rows(values, decimals).decode()
    rows = [line.split(",") for line in text.splitlines()]
    assert len(rows) == 50 and all(len(r) == 6 for r in rows)
    assert rows[0] == ["0.00000", "0.000", "0", "0.50", "-0.5", "1"]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            expected = f"{values[r, c]:.{decimals[c]}f}"
            if float(expected) == 0:
                expected = expected.lstrip("-")  # no negative zero
            assert cell == expected, (r, c, values[r, c])


# --------------------------------------------------------------------------- determinism, atomicity
def test_same_seed_same_bytes_different_seed_different(tmp_path: Path):
    kwargs = dict(n_videos=TINY, feature_sets=["egemaps", "fasttext"], segment_frames=(20, 40))
    a = _all_bytes(write_synthetic_muse_car(tmp_path / "a", seed=3, **kwargs))
    b = _all_bytes(write_synthetic_muse_car(tmp_path / "b", seed=3, **kwargs))
    c = _all_bytes(write_synthetic_muse_car(tmp_path / "c", seed=4, **kwargs))
    assert a == b
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no temp folders left


def test_feature_set_bytes_do_not_depend_on_other_sets(tmp_path: Path, small_corpus: Path):
    only = write_synthetic_muse_car(tmp_path / "only", 0, SMALL, feature_sets=["vggish"], segment_frames=SHORT)
    folder = FEATURES / "vggish"
    assert _all_bytes(only / folder) == _all_bytes(small_corpus / folder)


def test_without_test_labels(tmp_path: Path):
    root = write_synthetic_muse_car(
        tmp_path / "nolab", 1, TINY, with_test_labels=False, feature_sets=["egemaps"], segment_frames=(20, 40)
    )
    (rec,) = load_muse_car_recordings(root, "test", ["egemaps"])
    assert rec.targets is None and rec.features["egemaps"].shape[1] == 88
    assert all(r.targets is not None for r in load_muse_car_recordings(root, "train", ["egemaps"]))


def test_existing_folder_is_not_overwritten_and_crash_leaves_nothing(tmp_path: Path, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(FileExistsError):
        write_synthetic_muse_car(tmp_path / "full", 0, TINY)

    def crash(folder: Path, *args, **kwargs):
        (folder / "metadata").mkdir(parents=True)
        (folder / "metadata" / "partition.csv").write_text("Id,Proposal\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(synth, "_write_corpus", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        write_synthetic_muse_car(tmp_path / "crashed", 0, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_ensure_synthetic_writes_once_into_the_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AFFECT_ZOO_CACHE", str(tmp_path / "cache"))
    root = default_synthetic_root("muse_car", "9", 2)
    assert root == tmp_path / "cache" / "synthetic" / "muse_car-9-seed2"
    calls = []

    def writer(out_dir: Path, seed: int) -> Path:
        calls.append(seed)
        return write_synthetic_muse_car(out_dir, seed, TINY, feature_sets=["au"], segment_frames=(20, 40))

    assert ensure_synthetic("muse_car", writer, seed=2, version="9") == root
    assert ensure_synthetic("muse_car", writer, seed=2, version="9") == root
    assert calls == [2] and (root / "README.txt").is_file()
    assert sorted(p.name for p in root.parent.iterdir()) == ["muse_car-9-seed2"]


def test_ensure_synthetic_keeps_the_copy_of_a_process_that_finished_first(tmp_path: Path):
    target = tmp_path / "corpus"

    def racing_writer(out_dir: Path, seed: int) -> Path:
        # another process renames its complete corpus into place while we are writing
        target.mkdir()
        (target / "README.txt").write_text("theirs")
        return write_synthetic_muse_car(out_dir, seed, TINY, feature_sets=["au"], segment_frames=(20, 40))

    assert ensure_synthetic("muse_car", racing_writer, seed=0, root=target) == target
    assert (target / "README.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_datamodule_without_root_uses_cached_synthetic_corpus(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AFFECT_ZOO_CACHE", str(tmp_path / "cache"))
    small_writer = functools.partial(
        write_synthetic_muse_car, n_videos=TINY, feature_sets=["egemaps"], segment_frames=(120, 160)
    )
    monkeypatch.setattr(muse_car_module, "write_synthetic_muse_car", small_writer)
    dm = CorpusDataModule("muse_car", features=["egemaps"], synthetic_seed=5, win_len=100, hop_len=50)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.root.parent == tmp_path / "cache" / "synthetic" and dm.root.name.endswith("-seed5")
    batch = next(iter(dm.train_dataloader()))
    assert batch["features"]["egemaps"].shape[1:] == (100, 88)


# --------------------------------------------------------------------------- learnability
def _design(recordings, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Features delayed by ``delay`` frames (edge repeated) next to the labels, all videos."""
    xs, ys = [], []
    for rec in recordings:
        x = np.hstack([rec.features[n] for n in sorted(rec.features)]).astype(np.float64)
        xs.append(x[np.clip(np.arange(len(x)) - delay, 0, len(x) - 1)])
        ys.append(rec.targets)
    return np.vstack(xs), np.vstack(ys).astype(np.float64)


def _ridge(x_train, y_train, x_test, lam: float = 1000.0) -> np.ndarray:
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    a = np.hstack([(x_train - mean) / std, np.ones((len(x_train), 1))])
    b = np.hstack([(x_test - mean) / std, np.ones((len(x_test), 1))])
    reg = np.sqrt(lam) * np.eye(a.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the bias
    w, *_ = np.linalg.lstsq(np.vstack([a, reg]), np.vstack([y_train, np.zeros((a.shape[1], 2))]), rcond=None)
    return b @ w


def test_signal_is_learnable_by_a_linear_model(small_corpus: Path):
    sets = list(FEATURE_DIMS)
    x_tr, y_tr = _design(load_muse_car_recordings(small_corpus, "train", sets), DELAY_FRAMES)
    x_dv, y_dv = _design(load_muse_car_recordings(small_corpus, "devel", sets), DELAY_FRAMES)
    pred = _ridge(x_tr, y_tr, x_dv)
    scores = [ccc(pred[:, k], y_dv[:, k]) for k in range(2)]
    assert min(scores) > 0.3, scores
    shuffled = y_tr[np.random.default_rng(0).permutation(len(y_tr))]
    pred = _ridge(x_tr, shuffled, x_dv)
    control = [ccc(pred[:, k], y_dv[:, k]) for k in range(2)]
    assert max(abs(c) for c in control) < 0.1, control
    assert ccc(np.zeros(len(y_dv)), y_dv[:, 0]) == pytest.approx(0.0)
