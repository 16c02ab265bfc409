"""SEWA inputs that ``scripts/probe_inputs.py`` found accepted silently (issue 12): a turn file with
NaN/inf times or no turns at all, and feature files that run far past the last label (a label file
cut short at a row boundary, or a feature time column in other units)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.sewa.reader import SewaDataWarning, align_to_labels, read_turns
from zoo.data.datamodule import CorpusDataModule


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf"])
def test_non_finite_turn_time_is_refused_naming_file_line_and_field(tmp_path: Path, cell: str):
    path = _write(tmp_path / "turns" / "Train_01.csv", f"0.5;1.5\n2.0;{cell}\n")
    with pytest.raises(CorpusFormatError, match=rf"Train_01.csv: line 2, field 'end': {cell} is not a finite"):
        read_turns(path)
    path.write_text(f"{cell};1.5\n")
    with pytest.raises(CorpusFormatError, match=r"Train_01.csv: line 1, field 'start'"):
        read_turns(path)


@pytest.mark.parametrize("text", ["", "\n\n", "start;end\n"])
def test_turn_file_without_turns_is_refused(tmp_path: Path, text: str):
    path = _write(tmp_path / "turns" / "Train_01.csv", text)
    with pytest.raises(CorpusFormatError, match=r"Train_01.csv: no turns"):
        read_turns(path)


def test_feature_rows_far_past_the_last_label_warn_naming_both_files(tmp_path: Path):
    labels = np.round(np.arange(0, 30.05, 0.1), 6)  # 30 s of labels
    features = np.round(np.arange(0, 60.05, 0.1), 6)  # 60 s of feature rows
    values = np.arange(len(features), dtype=np.float64)[:, None]
    with pytest.warns(
        SewaDataWarning,
        match=r"feat.csv: feature rows run to 60.000 s, 30.000 s past the last "
        r"label time 30.000 s of .*lab.csv",
    ):
        out = align_to_labels(tmp_path / "feat.csv", features, values, labels, label_path=tmp_path / "lab.csv")
    assert out.shape == (len(labels), 1)


def test_feature_rows_a_little_past_the_labels_are_aligned_quietly(tmp_path: Path, recwarn):
    labels = np.round(np.arange(0, 60.75, 0.1), 6)
    lld = np.round(np.arange(0, 60.8, 0.01), 6)  # 10 ms LLDs running 0.09 s past the labels
    align_to_labels(tmp_path / "feat.csv", lld, np.zeros((len(lld), 1)), labels)
    assert not [w for w in recwarn if issubclass(w.category, SewaDataWarning)]


def test_truncated_label_file_warns_through_the_datamodule(tmp_path: Path):
    root = tmp_path / "sewa"
    rows = lambda n: "".join(f"'Train_01';{k / 10:.6f};0.1;0.2;0.3\n" for k in range(n))  # noqa: E731
    _write(root / "labels" / "Train_01.csv", rows(100))  # cut at row 100 of 600
    _write(root / "audio_features_xbow_6s" / "Train_01.csv", rows(600))
    dm = CorpusDataModule(
        "sewa", root=root, features=["audio_features_xbow_6s"], normalize=False, win_len=None, use_cache=False
    )
    with pytest.warns(SewaDataWarning, match=r"Train_01.csv: feature rows run to 59.900 s.*labels/Train_01.csv"):
        assert dm.raw_recordings("train")[0].num_frames == 100
