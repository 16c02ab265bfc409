"""Registry, label timeline, frame pooling and the three writers (read back independently)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo.features import Extractor, FeatureOutput, create_extractor, label_times, list_extractors, register_extractor
from zoo.features._align import pool_to_labels
from zoo.features.writers import output_path, output_paths, write_features


def test_registry_lists_every_extractor_with_modality_and_hop():
    names = list_extractors()
    for expected in (
        "egemaps",
        "compare",
        "is13",
        "egemaps_lld",
        "logmel",
        "vggish",
        "timm_face",
        "bert",
        "bert2",
        "bert4",
        "word_vectors",
    ):
        assert expected in names
    from zoo.features import extractor_class

    assert extractor_class("egemaps").dim == 88 and extractor_class("egemaps").default_win == 5.0
    assert extractor_class("vggish").dim == 128 and extractor_class("logmel").dim == 64
    assert {extractor_class(n).modality for n in names} == {"audio", "visual", "text"}
    with pytest.raises(KeyError, match="unknown extractor 'no_such_extractor'.*Registered: .*egemaps"):
        create_extractor("no_such_extractor")


def test_register_extractor_custom(monkeypatch):
    import zoo.features as features
    import zoo.features.base as base

    features.list_extractors()  # built-ins registered before the registry is copied
    monkeypatch.setattr(base.REGISTRY, "_entries", dict(base.REGISTRY._entries))

    @register_extractor("test_constant")
    class Constant(Extractor):
        """Constant test feature."""

        modality, dim = "audio", 2

    assert "test_constant" in list_extractors("test_*")
    assert create_extractor("test_constant", hop=0.1).hop == 0.1


def test_label_times_include_zero_and_end():
    np.testing.assert_allclose(label_times(1.0, 0.25), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(label_times(0.99, 0.25), [0, 0.25, 0.5, 0.75])
    assert len(label_times(300.0, 0.04)) == 7501  # RECOLA: 7501 frames of 40 ms


def test_pool_to_labels_mean_within_interval_and_nearest_fill():
    frame_times = np.array([0.00, 0.05, 0.12, 0.13, 0.30, 0.95])
    values = np.arange(12, dtype=float).reshape(6, 2)
    labels = np.array([0.0, 0.25, 0.5, 0.75])
    out = pool_to_labels(frame_times, values, labels, hop=0.25)
    # intervals [-.125,.125) [.125,.375) [.375,.625) [.625,.875)
    np.testing.assert_allclose(out[0], values[[0, 1, 2]].mean(0))
    np.testing.assert_allclose(out[1], values[[3, 4]].mean(0))
    np.testing.assert_allclose(out[2], values[4])  # nearest frame (0.30)
    np.testing.assert_allclose(out[3], values[5])  # nearest frame (0.95)
    none = pool_to_labels(frame_times, values, labels, 0.25, fill_nearest=False)
    np.testing.assert_allclose(none[2], 0.0)


def _output():
    return FeatureOutput(np.array([[1.5, -2.0], [0.125, 3.0], [7.0, 1e-3]]), np.array([0.0, 0.25, 0.5]), ["a", "b"])


def test_muse_car_writer_reads_back(tmp_path):
    from zoo.data.corpora.muse_car.reader import feature_path, read_feature_file

    path = output_path("muse_car", tmp_path, "myfeat", "17")
    assert path == feature_path(tmp_path, "myfeat", "17")
    write_features("muse_car", path, "17", _output(), segment_ids=np.array([1, 1, 2]))
    assert path.read_text().splitlines()[0] == "timestamp,segment_id,a,b"
    ts, seg, values = read_feature_file(path)
    np.testing.assert_array_equal(ts, [0, 250, 500])
    np.testing.assert_array_equal(seg, [1, 1, 2])
    np.testing.assert_allclose(values, _output().values)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_sewa_writer_format(tmp_path):
    path = output_path("sewa", tmp_path, "audio_features_egemaps", "Devel_01")
    write_features("sewa", path, "Devel_01", _output())
    lines = path.read_text().splitlines()
    assert lines[0] == "name;time;a;b"
    assert lines[1] == "'Devel_01';0.000000;1.5;-2"
    frame = pd.read_csv(path, sep=";")
    np.testing.assert_allclose(frame[["a", "b"]].to_numpy(), _output().values)
    np.testing.assert_allclose(frame["time"], [0, 0.25, 0.5])


def test_recola_writer_arff(tmp_path):
    paths = output_paths("recola", tmp_path, "features_audio", "dev_1")
    assert paths == [tmp_path / "features_audio" / t / "dev_1.arff" for t in ("arousal", "valence")]
    write_features("recola", paths, "dev_1", _output(), feature="egemaps")
    path = paths[0]
    assert paths[1].read_text() == path.read_text()
    lines = path.read_text().splitlines()
    assert lines[0] == "@relation egemaps"
    assert "@attribute Instance_name string" in lines and "@attribute frameTime numeric" in lines
    assert "@attribute a numeric" in lines and "@attribute b numeric" in lines
    data = lines[lines.index("@data") + 1 :]
    assert data[0] == "dev_1,0.000000,1.5,-2"
    parsed = np.array([[float(x) for x in row.split(",")[1:]] for row in data])
    np.testing.assert_allclose(parsed[:, 0], [0, 0.25, 0.5])
    np.testing.assert_allclose(parsed[:, 1:], _output().values)


def test_cli_list_prints_dimension_and_hop(capsys):
    from zoo.cli import main

    assert main(["extract", "--list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("egemaps "))
    assert "88" in row and "0.25" in row and "audio" in row
    assert any(line.startswith("vggish ") and "128" in line for line in out.splitlines())


def test_sewa_and_recola_readers_read_the_files_back(tmp_path):
    """The corpus readers of zoo.data.corpora.sewa.reader / zoo.data.corpora.recola.reader accept what the writers write."""
    from zoo.data.corpora.recola.reader import read_feature_arff
    from zoo.data.corpora.sewa.reader import read_feature_file as read_sewa

    path = output_path("sewa", tmp_path, "audio_features_x", "Train_01")
    sewa = FeatureOutput(_output().values, np.array([0.0, 0.1, 0.2]), ["a", "b"])  # SEWA's 100 ms step
    write_features("sewa", path, "Train_01", sewa)
    times, values = read_sewa(path)
    np.testing.assert_allclose(times, [0, 0.1, 0.2])
    np.testing.assert_allclose(values, sewa.values)
    paths = output_paths("recola", tmp_path, "features_audio", "train_1")
    recola = FeatureOutput(_output().values, np.array([0.0, 0.04, 0.08]), ["a", "b"])  # RECOLA's 40 ms step
    write_features("recola", paths, "train_1", recola, feature="egemaps")
    for p in paths:
        times, values = read_feature_arff(p)
        np.testing.assert_allclose(times, [0, 0.04, 0.08])
        np.testing.assert_allclose(values, recola.values)
