"""CMU-MOSEI ``.csd`` items dropped for bad labels or non-finite intervals: the warning (and the
``strict=True`` error) names the file each reason comes from, which ``scripts/probe_inputs.py``
found missing (issue 12: the message named the corpus folder only)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.data._sequence import CorpusFormatError
from zoo.data.corpora.cmu_mosei.reader import MoseiDataWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_mosei_hostile import _dm, write_corpus  # noqa: E402


def test_dropped_items_name_their_file(tmp_path: Path):
    root = tmp_path / "mosei"
    a_iv = np.stack([np.arange(8) * 0.5, np.arange(8) * 0.5 + 0.5], 1)
    a_iv[1] = [np.nan, 1.0]
    w_iv = np.array([[0, 1], [1, 2], [np.nan, np.nan], [3, 4]], float)
    labels = np.array([[1, np.nan, 0, 0, 0, 0, 0], [-1, 0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0]], float)
    seg = np.array([[0, 2], [np.nan, 4], [2, 4]], float)  # segment 0: NaN label, 1: NaN start, 2: kept
    write_corpus(root, labels={"a": (labels, seg)}, audio_iv={"a": a_iv}, words_iv={"a": w_iv})
    with pytest.warns(MoseiDataWarning) as record:
        _dm(root, tmp_path, targets=["sentiment", "happy"]).raw_recordings("train")
    message = str(record[0].message)
    assert "1 words with non-finite intervals in CMU_MOSEI_TimestampedWordVectors.csd" in message
    assert "1 COVAREP frames with non-finite intervals in CMU_MOSEI_COVAREP.csd" in message
    assert "1 segments with non-finite intervals in CMU_MOSEI_Labels.csd" in message
    assert "1 segment(s) with NaN/inf labels in CMU_MOSEI_Labels.csd" in message
    with pytest.raises(CorpusFormatError, match=r"NaN/inf labels in CMU_MOSEI_Labels.csd"):
        _dm(root, tmp_path, targets=["sentiment", "happy"], strict=True).raw_recordings("train")
