"""``load_folder()``: every recording of a user's folder in a corpus layout, and its clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car
from zoo.data.datamodule import CorpusDataModule


@pytest.fixture(scope="module")
def muse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_muse_car(
        tmp_path_factory.mktemp("muse") / "c",
        seed=5,
        n_videos={"train": 2, "devel": 1, "test": 1},
        feature_sets=["egemaps"],
        segment_frames=(60, 120),
    )


def test_muse_folder_without_partition_table_reads_every_video(muse: Path, tmp_path: Path):
    user = Path(shutil.copytree(muse, tmp_path / "mine"))
    (user / "metadata" / "partition.csv").unlink()
    dm = CorpusDataModule("muse_car", root=user, features=["egemaps"])
    recordings = dm.load_folder()
    reference = {
        r.id: r
        for part in ("train", "val", "test")
        for r in CorpusDataModule("muse_car", root=muse, features=["egemaps"], use_cache=False).raw_recordings(part)
    }
    assert sorted(r.id for r in recordings) == sorted(reference)
    for rec in recordings:
        np.testing.assert_array_equal(rec.features["egemaps"], reference[rec.id].features["egemaps"])
    # labels only where both label files exist: remove one video's labels
    video = recordings[0].id
    for target in ("arousal", "valence"):
        (user / "c1_muse_wild" / "label_segments" / target / f"{video}.csv").unlink()
    assert {r.id: r.targets is None for r in dm.load_folder()}[video]


def test_folder_errors_name_the_folder(muse: Path, tmp_path: Path):
    with pytest.raises(CorpusFormatError, match=r"label_aligned/vggish: feature folder not found.*has \['egemaps'\]"):
        CorpusDataModule("muse_car", root=muse, features=["egemaps", "vggish"]).load_folder()
    empty = tmp_path / "empty"
    (empty / "c1_muse_wild" / "feature_segments" / "label_aligned" / "egemaps").mkdir(parents=True)
    with pytest.raises(CorpusFormatError, match="egemaps: no <id>.csv feature files"):
        CorpusDataModule("muse_car", root=empty, features=["egemaps"]).load_folder()
    with pytest.raises(CorpusFormatError, match="empty is a muse_car folder .* this recola model or recipe"):
        CorpusDataModule("recola", root=empty, features=["audio"]).load_folder()
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(CorpusFormatError, match="no recordings found"):
        CorpusDataModule("recola", root=bare, features=["audio"]).load_folder()
    (bare / "audio_features_xbow_6s").mkdir()
    with pytest.raises(CorpusFormatError, match="no recordings found"):
        CorpusDataModule("sewa", root=bare, features=["audio_features_xbow_6s"]).load_folder()
