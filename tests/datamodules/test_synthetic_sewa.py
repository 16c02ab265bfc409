"""Synthetic SEWA: layout of both releases, determinism, and a learnable (but not trivial) signal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from datamodules.sewa import SewaDataModule
from datamodules.synthetic.sewa import FAU_NAMES, write_synthetic_sewa


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
        f"Train_0{i}" for i in range(1, 7)]
    for folder in ("audio_features_xbow_6s", "video_features_xbow_6s", "text_features_xbow_6s", "turns",
                   "transcriptions"):
        assert len(list((root / folder).glob("*.csv"))) == 12
    first = (root / "labels" / "Train_01.csv").read_text().splitlines()[0].split(";")
    assert first[0] == "'Train_01'" and float(first[1]) == 0.0 and len(first) == 5
    n = len((root / "labels" / "Train_01.csv").read_text().splitlines())
    assert 600 <= n <= 900


def test_avec2019_layout(corpora):
    root = corpora["avec2019"]
    names = sorted(p.stem for p in (root / "labels").glob("*.csv"))
    assert sum(n.startswith("Train_DE") for n in names) == 3 and sum(n.startswith("Devel_HU") for n in names) == 2
    assert (root / "labels" / "Devel_DE_01.csv").read_text().startswith("name;timestamp;arousal;valence;liking\n'Devel_DE_01';")
    fau = (root / "visual_features_fau" / "Train_DE_01.csv").read_text().splitlines()[0]
    assert fau == "name;frameTime;confidence;" + ";".join(FAU_NAMES)
    assert len(FAU_NAMES) == 17
    assert "," in (root / "visual_features_xbow" / "Train_DE_01.csv").read_text().splitlines()[0]


def test_deterministic_and_without_test_labels(tmp_path, corpora):
    again = write_synthetic_sewa(tmp_path / "again", seed=3, release="avec2017")
    assert _digest(again) == _digest(corpora["avec2017"])
    other = write_synthetic_sewa(tmp_path / "other", seed=4, release="avec2017")
    assert _digest(other) != _digest(corpora["avec2017"])
    bare = write_synthetic_sewa(tmp_path / "bare", seed=3, release="avec2019", with_test_labels=False)
    assert not list((bare / "labels").glob("Test_*"))
    dm = SewaDataModule(root=bare, release="avec2019", features=["visual_features_xbow"])
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
    video = SewaDataModule(root=root, features=["video_features_xbow_6s"])
    assert _ridge_ccc(video, 1) > 0.4  # valence from the face
    mixed = SewaDataModule(root=root, features=["audio_features_xbow_6s"])
    doubled = SewaDataModule(root=root, features=["audio_features_xbow_6s"], interlocutor="doubled")
    assert _ridge_ccc(doubled, 0) > _ridge_ccc(mixed, 0) + 0.05  # arousal: separating the speakers helps
    text = SewaDataModule(root=root, features=["text_bow"], interlocutor="purified")
    assert _ridge_ccc(text, 2) > 0.2  # liking from the subject's words
    # shuffled labels are not learnable
    rng = np.random.default_rng(0)
    for rec in video.recordings("train"):
        rec.targets = rec.targets[rng.permutation(len(rec.targets))]  # (cached arrays are read-only)
    assert abs(_ridge_ccc(video, 1)) < 0.4
