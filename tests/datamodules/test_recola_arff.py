"""ARFF reader/writer and the RECOLA gold-standard / rating / feature readers on hand-typed files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.arff import format_arff, read_arff
from zoo.data.corpora.recola.reader import read_feature_arff, read_gold_standard, read_individual_ratings

QUIRKY = """% RECOLA-like file with every quirk the reader must handle
% another comment line

@RELATION GOLDSTANDARD
@attribute Instance_name string
@attribute 'frame time' NUMERIC   % quoted name, upper-case type, trailing comment
@attribute "Gold Standard" real
@attribute flag {yes,no}

@DATA
dev_1,0.00,-0.022925,yes
% a comment between rows
'dev, 1',0.04,?,'no'
"it's %",0.08,1.5e-3,?
'?',0.12,  2 ,no
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_quoted_values_missing_values_and_comments(tmp_path):
    data = read_arff(write(tmp_path, "q.arff", QUIRKY))
    assert data.relation == "GOLDSTANDARD"
    assert data.names == ["Instance_name", "frame time", "Gold Standard", "flag"]
    assert [a.type for a in data.attributes] == ["string", "numeric", "real", "nominal"]
    assert data.attributes[3].values == ("yes", "no")
    # a quoted '?' is the string "?", an unquoted ? is missing
    assert data.columns["Instance_name"] == ["dev_1", "dev, 1", "it's %", "?"]
    times = data.columns["frame time"]
    np.testing.assert_array_equal(times, [0.0, 0.04, 0.08, 0.12])
    gold = data.columns["Gold Standard"]
    assert gold[0] == -0.022925 and math.isnan(gold[1]) and gold[2] == 0.0015 and gold[3] == 2.0
    assert data.columns["flag"] == ["yes", "no", None, "no"]
    assert data.data_lines.tolist() == [11, 13, 14, 15]


@pytest.mark.parametrize(
    "row, expected",
    [
        ("dev_1,0.04", r"line 6: 2 values, expected 3"),
        ("dev_1,0.04,1,2", r"line 6: 4 values, expected 3"),
        ("dev_1,zero,1", r"line 6, attribute 'frameTime': non-numeric value 'zero'"),
        ("dev_1,0.04,1e", r"line 6, attribute 'GoldStandard': non-numeric value '1e'"),
        ("{0 dev_1, 1 0.04}", r"line 6: sparse ARFF rows are not supported"),
        ("'dev_1,0.04,1", r"line 6: unterminated ' quote"),
    ],
)
def test_bad_rows_name_file_line_and_attribute(tmp_path, row, expected):
    text = (
        "@relation GOLDSTANDARD\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        f"@attribute GoldStandard numeric\n@data\n{row}\n"
    )
    path = write(tmp_path, "bad.arff", text)
    with pytest.raises(CorpusFormatError, match=expected) as info:
        read_arff(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("@attribute a numeric\n@data\n1\n", "@attribute before @relation"),
        ("@relation r\n@attribute a date\n@data\n", "type 'date' is not supported"),
        ("@relation r\n@attribute a float\n@data\n", "unknown type 'float'"),
        ("@relation r\n@attribute a numeric\n@attribute a numeric\n@data\n", "declared twice"),
        ("@relation r\n@attribute a numeric\n", "no @data line"),
        ("@relation r\n@attribute c {x,y}\n@data\nz\n", r"line 4, attribute 'c': value 'z' is not one of"),
        ("", "no @relation line"),
    ],
)
def test_bad_headers(tmp_path, text, expected):
    with pytest.raises(CorpusFormatError, match=expected):
        read_arff(write(tmp_path, "h.arff", text))


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(CorpusFormatError, match="ARFF file not found"):
        read_arff(tmp_path / "nope.arff")


def test_writer_output_reads_back_with_quotes_and_missing(tmp_path):
    text = format_arff(
        "GOLDSTANDARD",
        [("Instance_name", "string"), ("frameTime", "numeric"), ("GoldStandard", "numeric")],
        [["dev_1", "a b", "it's"], [0.0, 0.04, 0.08], [0.5, float("nan"), -1.25]],
        float_format=["%.2f", "%.2f", "%.6f"],
    )
    assert "@relation GOLDSTANDARD" in text
    assert "\ndev_1,0.00,0.500000\n" in text
    assert "'a b',0.04,?" in text
    data = read_arff(write(tmp_path, "w.arff", text))
    assert data.columns["Instance_name"] == ["dev_1", "a b", "it's"]
    np.testing.assert_array_equal(data.columns["GoldStandard"][[0, 2]], [0.5, -1.25])
    assert math.isnan(data.columns["GoldStandard"][1])


GOLD = """@relation GOLDSTANDARD

@attribute Instance_name string
@attribute frameTime numeric
@attribute GoldStandard numeric

@data
dev_1,0.00,-0.010000
dev_1,0.04,-0.022925
dev_1,0.08,0.300000
"""


def test_gold_standard_reader(tmp_path):
    times, values = read_gold_standard(write(tmp_path, "dev_1.arff", GOLD))
    np.testing.assert_allclose(times, [0.0, 0.04, 0.08])
    np.testing.assert_allclose(values, [-0.01, -0.022925, 0.3], rtol=1e-6)
    assert values.dtype == np.float32


def test_gold_standard_missing_value_names_line(tmp_path):
    path = write(tmp_path, "dev_1.arff", GOLD.replace("0.300000", "?"))
    with pytest.raises(CorpusFormatError, match=r"line 10, attribute 'GoldStandard': missing"):
        read_gold_standard(path)


def test_gold_standard_times_must_increase(tmp_path):
    path = write(tmp_path, "dev_1.arff", GOLD.replace("dev_1,0.08", "dev_1,0.04"))
    with pytest.raises(CorpusFormatError, match=r"line 10, attribute 'frameTime'.*does not increase"):
        read_gold_standard(path)


def test_feature_reader_drops_name_and_time(tmp_path):
    text = (
        "@relation features\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        "@attribute f1 numeric\n@attribute f2 numeric\n@data\n"
        "'train_1',0.00,1,2\n'train_1',0.04,3,4.5\n"
    )
    times, values = read_feature_arff(write(tmp_path, "train_1.arff", text))
    np.testing.assert_allclose(times, [0.0, 0.04])
    np.testing.assert_array_equal(values, [[1, 2], [3, 4.5]])


RATINGS = "time;FM1 ;FM2;FM3 ;FF1;FF2 ;FF3\n0.00;0.1;0.2;0.3;0.4;0.5;0.6\n0.04;-0.1;-0.2;-0.3;-0.4;-0.5;-0.6\n"


def test_individual_ratings_with_trailing_space_headers(tmp_path):
    times, raters, values = read_individual_ratings(write(tmp_path, "r.csv", RATINGS))
    assert raters == ["FM1", "FM2", "FM3", "FF1", "FF2", "FF3"]
    np.testing.assert_allclose(times, [0.0, 0.04])
    np.testing.assert_allclose(values[1], [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6], rtol=1e-6)


def test_individual_ratings_bad_cell(tmp_path):
    path = write(tmp_path, "r.csv", RATINGS.replace("-0.4", "x"))
    with pytest.raises(CorpusFormatError, match=r"line 3, field 'FF1': non-numeric value 'x'"):
        read_individual_ratings(path)
    path = write(tmp_path, "r2.csv", RATINGS.replace(";0.6\n", "\n"))
    with pytest.raises(CorpusFormatError, match=r"line 2: 6 fields, expected 7"):
        read_individual_ratings(path)
