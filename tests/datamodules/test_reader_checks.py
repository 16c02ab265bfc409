"""The checks every corpus reader shares (``zoo.data._checks``, issue 24): label ranges, absurd
feature values, unreadable files and bytes that are not UTF-8, feature sets whose width changes."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from zoo.data._checks import WidthCheck, check_label_range, outlier_cells, read_text, warn_outliers
from zoo.errors import CorpusDataWarning, CorpusFormatError


def _where(row: int, col: int) -> str:
    return f"line {row + 2}, field 'c{col}'"


def test_labels_outside_their_range_are_refused_naming_file_row_and_field():
    values = np.zeros((6, 2))
    values[4, 1], values[5, 0] = 1.5, -2.0
    with pytest.raises(CorpusFormatError) as err:
        check_label_range("l.csv", values, [(-1, 1), (0, 3)], _where)
    assert str(err.value) == (
        "l.csv: line 7, field 'c0': label -2 is outside the range [-1, 1] the corpus declares (1 such value(s) in the file)"
    )
    check_label_range("l.csv", np.array([-1.0, 1.0, 1.0 + 1e-7]), [(-1, 1)], _where)  # bounds and rounding pass


def test_only_absurd_values_are_outliers():
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [
            rng.normal(300, 50, 2000),  # a pitch-like feature
            rng.lognormal(0, 1.5, 2000),  # heavy tailed, all of it legitimate
            rng.poisson(0.3, 2000).astype(float),  # a sparse count, mostly 0
            rng.normal(0, 1e-3, 2000),  # a small-scale feature
        ]
    )
    assert not outlier_cells(x).any()
    x[17, 0], x[3, 3], x[9, 2] = 1e30, 100.0, -np.inf  # 100 is absurd next to 1e-3; -inf is not ours to judge
    assert sorted(map(tuple, np.argwhere(outlier_cells(x)))) == [(3, 3), (17, 0)]
    short = np.array([[0.1], [0.2], [0.15], [1e30], [0.12]])  # a 5-row file: the value cannot mask itself
    assert outlier_cells(short)[:, 0].tolist() == [False, False, False, True, False]


def test_an_outlier_is_a_warning_naming_the_file_and_the_cell():
    x = np.ones((50, 3)) + np.arange(50)[:, None] * 0.01
    x[20, 2] = 1e30
    with pytest.warns(CorpusDataWarning, match=r"^f.csv: line 22, field 'c2': feature value 1e\+30 is far outside"):
        assert warn_outliers("f.csv", x, _where) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_outliers("f.csv", x[:20], _where) == 0


def test_unreadable_and_undecodable_files_are_one_error_naming_the_file(tmp_path: Path, monkeypatch):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop.name)
    with pytest.raises(CorpusFormatError, match=rf"^{loop}: cannot read the label file \(.*(symbolic links|loop)"):
        read_text(loop, "label")
    with pytest.raises(CorpusFormatError, match=rf"^{tmp_path / 'missing.csv'}: label file not found"):
        read_text(tmp_path / "missing.csv", "label")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a;b\n1;2\n3;\xff\n")
    with pytest.raises(CorpusFormatError, match=rf"^{bad}: line 3: byte 0xff at offset 10 is not UTF-8"):
        read_text(bad, "label")
    locked = tmp_path / "locked.csv"
    locked.write_text("a\n")

    def denied(self):  # what a file without read permission gives a user who is not root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CorpusFormatError, match=rf"^{locked}: cannot read the label file \(Permission denied\)"):
        read_text(locked, "label")


def test_a_feature_set_keeps_the_width_of_its_first_file():
    widths = WidthCheck()
    widths.check("au", "a.csv", 17)
    widths.check("other", "b.csv", 3)
    with pytest.raises(
        CorpusFormatError, match=r"^c.csv: 18 feature columns, but a.csv of the same feature set 'au' has 17"
    ):
        widths.check("au", "c.csv", 18)
