"""SEWA reader on hostile input (issue 12): the AVEC 2019 CES Chinese test recordings, non-finite
cells, a step other than 100 ms, and feature rows that name another recording — hand-typed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.sewa.reader import read_feature_file, read_label_file
from zoo.data.datamodule import CorpusDataModule

HEADER19 = "name;timestamp;arousal;valence;liking\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _labels(name: str, n: int = 6, step: float = 0.1, header: bool = True) -> str:
    body = "".join(f"'{name}';{k * step:.6f};{k / 10:.2f};0.5;-0.5\n" for k in range(n))
    return (HEADER19 if header else "") + body


def _features(
    name: str, n: int = 6, step: float = 0.1, sep: str = ";", header: bool = False, row_name: str | None = None
) -> str:
    head = sep.join(["name", "frameTime", "f1", "f2"]) + "\n" if header else ""
    label = row_name if row_name is not None else f"'{name}'"
    return head + "".join(f"{label}{sep}{k * step:.6f}{sep}{k}{sep}{-k}\n" for k in range(n))


@pytest.fixture()
def ces(tmp_path: Path) -> Path:
    """An AVEC 2019 CES folder: DE/HU train and devel with labels, DE/HU/CN test without."""
    root = tmp_path / "ces"
    for name in ("Train_DE_01", "Train_HU_01", "Devel_DE_01", "Devel_HU_01"):
        _write(root / "labels" / f"{name}.csv", _labels(name))
    for name in (
        "Train_DE_01",
        "Train_HU_01",
        "Devel_DE_01",
        "Devel_HU_01",
        "Test_DE_01",
        "Test_HU_01",
        "Test_CN_01",
        "Test_CN_02",
    ):
        _write(root / "audio_features_egemaps_xbow" / f"{name}.csv", _features(name))
    return root


def _dm(root: Path, **kwargs) -> CorpusDataModule:
    kwargs.setdefault("features", ["audio_features_egemaps_xbow"])
    return CorpusDataModule("sewa", root=root, release="avec2019", normalize=False, win_len=None, **kwargs)


# ------------------------------------------------------------------ Chinese test recordings
def test_test_partition_includes_the_chinese_recordings(ces):
    dm = _dm(ces)
    assert [r.id for r in dm.raw_recordings("test")] == ["Test_CN_01", "Test_CN_02", "Test_DE_01", "Test_HU_01"]
    assert all(r.targets is None for r in dm.raw_recordings("test"))
    assert [r.id for r in dm.raw_recordings("train")] == ["Train_DE_01", "Train_HU_01"]
    assert [r.id for r in _dm(ces, cultures=["DE", "HU"]).raw_recordings("test")] == ["Test_DE_01", "Test_HU_01"]
    assert [r.id for r in _dm(ces, cultures=["HU", "CN"]).raw_recordings("test")] == [
        "Test_CN_01",
        "Test_CN_02",
        "Test_HU_01",
    ]


def test_chinese_is_a_test_only_culture(ces):
    # a stray Train_CN file is not training data: CN has no train or devel partition in AVEC 2019
    _write(ces / "audio_features_egemaps_xbow" / "Train_CN_01.csv", _features("Train_CN_01"))
    _write(ces / "labels" / "Train_CN_01.csv", _labels("Train_CN_01"))
    assert [r.id for r in _dm(ces).raw_recordings("train")] == ["Train_DE_01", "Train_HU_01"]
    with pytest.raises(CorpusFormatError, match=r"cultures=\['CN'\] has no Train recordings.*test-only"):
        _dm(ces, cultures=["CN"]).raw_recordings("train")
    assert [r.id for r in _dm(ces, cultures=["CN"]).raw_recordings("test")] == ["Test_CN_01", "Test_CN_02"]
    with pytest.raises(
        ValueError, match=r"data.args.cultures: expected a non-empty list of distinct values among DE, HU, CN"
    ):
        _dm(ces, cultures=["FR"])


# ------------------------------------------------------------------ NaN / inf
@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", ""])
def test_non_finite_label_cell_is_refused_naming_file_recording_and_line(tmp_path, cell):
    text = _labels("Train_DE_07").splitlines()
    fields = text[4].split(";")
    fields[3] = cell  # valence of the 4th data row (line 5)
    text[4] = ";".join(fields)
    path = _write(tmp_path / "labels" / "Train_DE_07.csv", "\n".join(text) + "\n")
    with pytest.raises(
        CorpusFormatError,
        match=r"Train_DE_07.csv: line 5, field 'valence': not a finite "
        r"number.*recording 'Train_DE_07'",
    ):
        read_label_file(path)


@pytest.mark.parametrize("cell", ["nan", "inf"])
def test_non_finite_feature_cell_is_refused_by_the_datamodule(ces, cell):
    path = ces / "audio_features_egemaps_xbow" / "Devel_HU_01.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(";", 1)[0] + f";{cell}"  # headerless: line 3, last column
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        CorpusFormatError,
        match=r"Devel_HU_01.csv: line 3, field 'column 4'.*"
        r"recording 'Devel_HU_01'",
    ):
        _dm(ces).raw_recordings("val")


# ------------------------------------------------------------------ step
def test_label_file_with_a_200_ms_step_is_refused(tmp_path):
    path = _write(tmp_path / "Train_DE_02.csv", _labels("Train_DE_02", step=0.2))
    with pytest.raises(CorpusFormatError, match=r"Train_DE_02.csv: line 3, field 'time'.*200 ms.*100 ms step"):
        read_label_file(path)
    headerless = _write(tmp_path / "Train_03.csv", _labels("Train_03", step=0.2, header=False))  # AVEC 2017
    with pytest.raises(CorpusFormatError, match=r"Train_03.csv: line 2, field 'time'.*100 ms step"):
        read_label_file(headerless)
    gap = _labels("Train_DE_04").splitlines()
    del gap[3]  # one missing label row: a 200 ms jump
    path = _write(tmp_path / "Train_DE_04.csv", "\n".join(gap) + "\n")
    with pytest.raises(CorpusFormatError, match=r"Train_DE_04.csv: line 4, field 'time'"):
        read_label_file(path)


def test_feature_file_coarser_than_the_labels_is_refused(ces):
    # 200 ms rows would pass nearest-row alignment (every label time is within 0.1 s of a row),
    # each row silently standing in for two label frames
    path = _write(ces / "audio_features_egemaps_xbow" / "Train_HU_01.csv", _features("Train_HU_01", n=4, step=0.2))
    with pytest.raises(CorpusFormatError, match=r"Train_HU_01.csv: rows are 200 ms apart"):
        _dm(ces).raw_recordings("train")
    with pytest.raises(CorpusFormatError, match=r"rows are 200 ms apart"):
        read_feature_file(path)


def test_finer_feature_steps_are_aligned(tmp_path):
    # 10 ms LLDs and 25 fps FAUs are finer than the labels: nearest-row alignment picks rows
    for step in (0.01, 0.04):
        path = _write(tmp_path / f"x{step}.csv", _features("x", n=int(round(0.6 / step)), step=step))
        times, _ = read_feature_file(path, recording="x")
        assert np.allclose(np.diff(times), step)


# ------------------------------------------------------------------ name column
@pytest.mark.parametrize(
    "release,sep,header", [("avec2017", ";", False), ("avec2019", ",", True), ("avec2019", ";", False)]
)
def test_feature_rows_naming_another_recording_are_refused(tmp_path, release, sep, header):
    root = tmp_path / release
    names = ("Train_01", "Devel_01") if release == "avec2017" else ("Train_DE_01", "Devel_DE_01")
    folder = "audio_features_xbow_6s" if release == "avec2017" else "audio_features_egemaps_xbow"
    for name in names:
        _write(root / "labels" / f"{name}.csv", _labels(name, header=release == "avec2019"))
        _write(root / folder / f"{name}.csv", _features(name, sep=sep, header=header))
    other = names[0]
    _write(root / folder / f"{names[1]}.csv", _features(names[1], sep=sep, header=header, row_name=f"'{other}'"))
    dm = CorpusDataModule("sewa", root=root, release=release, features=[folder], normalize=False, win_len=None)
    line = 2 if header else 1
    with pytest.raises(
        CorpusFormatError,
        match=rf"{names[1]}.csv: line {line}, field 'name': '{other}' is not "
        rf"the file's recording '{names[1]}'",
    ):
        dm.raw_recordings("val")


def test_feature_row_names_may_carry_the_media_extension(tmp_path):
    ok = _write(
        tmp_path / "Devel_DE_03.csv", _features("Devel_DE_03", sep=",", header=True, row_name="Devel_DE_03.wav")
    )
    assert read_feature_file(ok, recording="Devel_DE_03")[1].shape == (6, 2)
    bad = _write(tmp_path / "Devel_DE_04.csv", _features("Devel_DE_04", row_name="Devel_DE_05.wav"))
    with pytest.raises(CorpusFormatError, match=r"line 1, field 'name': 'Devel_DE_05.wav'"):
        read_feature_file(bad, recording="Devel_DE_04")


# ------------------------------------------------------------------ issue 24: values, headers, encodings
@pytest.mark.parametrize("value", ["1.5", "-1e30"])
def test_a_label_outside_its_range_is_refused(tmp_path, value):
    path = _write(tmp_path / "Train_DE_02.csv", _labels("Train_DE_02").replace(";0.20;0.5;", f";0.20;{value};"))
    with pytest.raises(CorpusFormatError) as info:
        read_label_file(path)
    assert str(info.value) == (
        f"{path}: line 4, field 'valence' (recording 'Train_DE_02'): label {float(value):g} is outside the range "
        "[-1, 1] the corpus declares (1 such value(s) in the file)"
    )


def _au_file(name: str, columns: list[str], values: np.ndarray) -> str:
    rows = "".join(f"'{name}';{k * 0.1:.6f};" + ";".join(f"{v:g}" for v in row) + "\n" for k, row in enumerate(values))
    return "name;frameTime;" + ";".join(columns) + "\n" + rows


def test_columns_are_read_by_their_header_names(ces):
    values = np.arange(18.0).reshape(6, 3)
    for name in ("Devel_DE_01", "Devel_HU_01", "Train_DE_01", "Train_HU_01"):
        _write(ces / "fau" / f"{name}.csv", _au_file(name, ["AU01_r", "AU02_r", "AU04_r"], values))
    # the same values, written with two columns in another order: read by name, they are the same
    _write(
        ces / "fau" / "Train_DE_01.csv", _au_file("Train_DE_01", ["AU02_r", "AU01_r", "AU04_r"], values[:, [1, 0, 2]])
    )
    train = _dm(ces, features=["fau"]).raw_recordings("train")
    np.testing.assert_array_equal(train[0].features["fau"], values)
    _write(
        ces / "fau" / "Train_HU_01.csv", _au_file("Train_HU_01", ["AU01_r", "AU02_r", "AU04_r", "x"], np.ones((6, 4)))
    )
    with pytest.raises(
        CorpusFormatError,
        match=r"Train_HU_01.csv: header \(line 1\) has the feature columns .*; extra column\(s\) \['x'\]",
    ):
        _dm(ces, features=["fau"]).raw_recordings("train")


def test_a_headerless_file_with_an_extra_column_is_refused_naming_it(ces):
    path = ces / "audio_features_egemaps_xbow" / "Train_HU_01.csv"
    path.write_text("".join(line + ";7\n" for line in path.read_text().splitlines()))
    with pytest.raises(
        CorpusFormatError,
        match=rf"^{path}: 3 feature columns, but .*Train_DE_01.csv of the same feature set 'audio_features_egemaps_xbow' has 2",
    ):
        _dm(ces).raw_recordings("train")


def test_a_non_utf8_byte_in_a_label_file_is_refused_naming_file_and_line(ces):
    path = ces / "labels" / "Train_DE_01.csv"
    path.write_bytes(path.read_bytes().replace(b"0.20;", b"0.2\xe9;"))
    with pytest.raises(CorpusFormatError, match=rf"^{path}: line 4: byte 0xe9 at offset \d+ is not UTF-8"):
        _dm(ces).raw_recordings("train")


def test_transcriptions_are_utf8_or_latin1_never_mixed(tmp_path):
    from zoo.data.corpora.sewa.reader import SewaDataWarning, read_transcription

    utf8 = _write(tmp_path / "a.csv", "0.4;2.9;schöne farbe\n3.5;7.4;blöd\n")
    assert read_transcription(utf8)[0][2] == "schöne farbe"
    latin1 = tmp_path / "b.csv"
    latin1.write_bytes("0.4;2.9;schöne farbe\n".encode("latin-1"))
    with pytest.warns(SewaDataWarning, match=r"b.csv: not UTF-8 \(and no UTF-8 character in it\); read as Latin-1"):
        assert read_transcription(latin1)[0][2] == "schöne farbe"
    mixed = tmp_path / "c.csv"
    mixed.write_bytes("0.4;2.9;schöne farbe\n3.5;7.4;bl".encode() + b"\xf6d\n")  # one Latin-1 byte among UTF-8
    with pytest.raises(CorpusFormatError, match=rf"^{mixed}: line 2: byte 0xf6 at offset \d+ is not UTF-8"):
        read_transcription(mixed)


def test_an_absurd_feature_value_is_a_warning_naming_the_file(tmp_path):
    from zoo.errors import CorpusDataWarning

    rows = [f"'Train_DE_01';{k * 0.1:.6f};{np.sin(k):.4f};{np.cos(k):.4f}" for k in range(30)]
    rows[7] = "'Train_DE_01';0.700000;1e30;0.5"
    path = _write(tmp_path / "Train_DE_01.csv", "\n".join(rows) + "\n")
    with pytest.warns(
        CorpusDataWarning, match=rf"^{path}: line 8, field 'column 3': feature value 1e\+30 is far outside"
    ):
        read_feature_file(path)
