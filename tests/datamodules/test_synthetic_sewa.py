"""Synthetic SEWA: layout of both releases, determinism, and a learnable (but not trivial) signal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from zoo.data.corpora.sewa.reader import read_feature_file
from zoo.data.corpora.sewa.synthetic import FAU_NAMES, write_synthetic_sewa
from zoo.data.datamodule import CorpusDataModule


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    base = tmp_path_factory.mktemp("sewa-synth")
    return {r: write_synthetic_sewa(base / r, seed=3, release=r) for r in ("avec2017", "avec2019")}


def test_avec2017_layout(corpora):
    root = corpora["avec2017"]
    names = sorted(p.stem for p in (root / "labels").glob("*.csv"))
    assert names == [f"Devel_0{i}" for i in (1, 2, 3)] + [f"Test_0{i}" for i in (1, 2, 3)] + [
        f"Train_0{i}" for i in range(1, 7)
    ]
    for folder in (
        "audio_features_xbow_6s",
        "video_features_xbow_6s",
        "text_features_xbow_6s",
        "turns",
        "transcriptions",
    ):
        assert len(list((root / folder).glob("*.csv"))) == 12
    first = (root / "labels" / "Train_01.csv").read_text().splitlines()[0].split(";")
    assert first[0] == "'Train_01'" and float(first[1]) == 0.0 and len(first) == 5
    n = len((root / "labels" / "Train_01.csv").read_text().splitlines())
    assert 600 <= n <= 900


def test_avec2019_layout(corpora):
    root = corpora["avec2019"]
    names = sorted(p.stem for p in (root / "labels").glob("*.csv"))
    assert sum(n.startswith("Train_DE") for n in names) == 3 and sum(n.startswith("Devel_HU") for n in names) == 2
    assert (
        (root / "labels" / "Devel_DE_01.csv")
        .read_text()
        .startswith("name;timestamp;arousal;valence;liking\n'Devel_DE_01';")
    )
    fau = (root / "visual_features" / "Train_DE_01.csv").read_text().splitlines()[0]
    assert fau == "name;frameTime;confidence;" + ";".join(FAU_NAMES)
    assert len(FAU_NAMES) == 17
    assert "," in (root / "visual_features_xbow" / "Train_DE_01.csv").read_text().splitlines()[0]
    # test partition: German, Hungarian and (test-only) Chinese recordings, in every feature folder
    assert sorted(n for n in names if n.startswith("Test_")) == [
        "Test_CN_01",
        "Test_CN_02",
        "Test_DE_01",
        "Test_DE_02",
        "Test_HU_01",
        "Test_HU_02",
    ]
    assert not [n for n in names if "_CN_" in n and not n.startswith("Test_")]
    # Atmaja & Akagi 2020 Table 1: the AVEC 2019 baseline feature sets, under the release's folder names
    table1 = (
        "audio_features_egemaps",
        "audio_features_egemaps_xbow",
        "audio_features_egemaps_functionals",
        "audio_features_deepspectrum",
        "audio_features_mfcc",
        "audio_features_mfcc_xbow",
        "audio_features_mfcc_functionals",
        "visual_features",
        "visual_features_functionals",
        "visual_features_resnet",
        "visual_features_vgg",
    )
    for folder in table1 + ("visual_features_xbow",):
        assert sorted(p.stem for p in (root / folder).glob("*.csv")) == names, folder


def test_avec2019_lld_step_and_functionals_by_numpy(corpora):
    root = corpora["avec2019"]
    lld_t, lld = read_feature_file(root / "audio_features_mfcc" / "Devel_HU_01.csv", recording="Devel_HU_01")
    assert np.allclose(np.diff(lld_t), 0.01) and lld.shape[1] == 39  # 10 ms, 13 MFCC + deltas + accelerations
    assert (root / "audio_features_egemaps" / "Devel_HU_01.csv").read_text().startswith("name;frameTime;Loudness_sma3;")
    f_t, func = read_feature_file(root / "audio_features_mfcc_functionals" / "Devel_HU_01.csv")
    assert np.allclose(np.diff(f_t), 0.1) and func.shape[1] == 78
    for k in (0, 7, len(f_t) // 2, len(f_t) - 1):  # mean and std over a 4 s window centred on the frame
        window = lld[max(0, 10 * k - 200) : 10 * k + 201]
        np.testing.assert_allclose(func[k], np.concatenate([window.mean(0), window.std(0)]), atol=2e-3)
    fau_t, fau = read_feature_file(root / "visual_features" / "Devel_HU_01.csv")
    _, fau_func = read_feature_file(root / "visual_features_functionals" / "Devel_HU_01.csv")
    assert np.allclose(np.diff(fau_t), 0.04) and fau_func.shape[1] == 2 * 18  # confidence + 17 AUs
    window = fau[75 - 50 : 75 + 51]  # label frame 30 = 3.0 s = video frame 75 at 25 fps; ±2 s
    np.testing.assert_allclose(fau_func[30], np.concatenate([window.mean(0), window.std(0)]), atol=2e-3)


def test_deterministic_and_without_test_labels(tmp_path, corpora):
    again = write_synthetic_sewa(tmp_path / "again", seed=3, release="avec2017")
    assert _digest(again) == _digest(corpora["avec2017"])
    other = write_synthetic_sewa(tmp_path / "other", seed=4, release="avec2017")
    assert _digest(other) != _digest(corpora["avec2017"])
    bare = write_synthetic_sewa(
        tmp_path / "bare",
        seed=3,
        release="avec2019",
        with_test_labels=False,
        counts={"Train_DE": 1, "Devel_HU": 1, "Test_CN": 1},
    )
    assert not list((bare / "labels").glob("Test_*"))
    dm = CorpusDataModule("sewa", root=bare, release="avec2019", features=["visual_features_xbow"])
    assert all(r.targets is None for r in dm.raw_recordings("test"))


def _ccc(x, y):
    return 2 * np.mean((x - x.mean()) * (y - y.mean())) / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _ridge_ccc(dm, k):
    tr, va = dm.recordings("train"), dm.recordings("val")
    x = lambda rs: np.concatenate([np.concatenate([r.features[n] for n in dm.feature_names], 1) for r in rs])
    y = lambda rs: np.concatenate([r.targets[:, k] for r in rs])
    model = Ridge(alpha=10.0).fit(x(tr), y(tr))
    return _ccc(model.predict(x(va)), y(va))


def test_learnable_signal_and_interlocutor_matters(corpora):
    root = corpora["avec2017"]
    video = CorpusDataModule("sewa", root=root, features=["video_features_xbow_6s"])
    assert _ridge_ccc(video, 1) > 0.4  # valence from the face
    mixed = CorpusDataModule("sewa", root=root, features=["audio_features_xbow_6s"])
    doubled = CorpusDataModule("sewa", root=root, features=["audio_features_xbow_6s"], interlocutor="doubled")
    assert _ridge_ccc(doubled, 0) > _ridge_ccc(mixed, 0) + 0.05  # arousal: separating the speakers helps
    text = CorpusDataModule("sewa", root=root, features=["text_bow"], interlocutor="purified")
    assert _ridge_ccc(text, 2) > 0.2  # liking from the subject's words
    # shuffled labels are not learnable
    rng = np.random.default_rng(0)
    for rec in video.recordings("train"):
        rec.targets = rec.targets[rng.permutation(len(rec.targets))]  # (cached arrays are read-only)
    assert abs(_ridge_ccc(video, 1)) < 0.4
