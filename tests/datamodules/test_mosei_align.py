"""Word-level alignment against hand-computed weighted averages; segments; the alignment cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from zoo.data.corpora.cmu_mosei import align as mosei_align
from zoo.data.corpora.cmu_mosei.align import (
    align_to_reference,
    clean_segments,
    iter_aligned_videos,
    segment_word_indices,
)

# words: [0, 1), [1, 2.5), [5, 6)  — the last one has no frame
WORDS = np.array([[0.0, 1.0], [1.0, 2.5], [5.0, 6.0]])
# frames given out of order: [0.5, 1.5) → (4, 40), [0, 0.5) → (2, 20), [1.5, 3) → (8, 80)
FRAMES = np.array([[0.5, 1.5], [0.0, 0.5], [1.5, 3.0]])
VALUES = np.array([[4.0, 40.0], [2.0, 20.0], [8.0, 80.0]])


def test_overlap_weighted_average_by_hand():
    out, present, nonfinite = align_to_reference(WORDS, FRAMES, VALUES)
    # word 0: frame [0,0.5) overlap 0.5 → 2; frame [0.5,1.5) overlap 0.5 → 4: (0.5*2 + 0.5*4) / 1 = 3
    # word 1: frame [0.5,1.5) overlap 0.5 → 4; frame [1.5,3) overlap 1.0 → 8: (0.5*4 + 1*8) / 1.5 = 6.666…
    np.testing.assert_allclose(out, [[3.0, 30.0], [10 / 1.5, 100 / 1.5], [0.0, 0.0]], rtol=1e-6)
    assert present.tolist() == [True, True, False]
    assert nonfinite == 0 and out.dtype == np.float32


def test_uniform_weighting_is_the_plain_mean():
    out, _, _ = align_to_reference(WORDS, FRAMES, VALUES, weighting="uniform")
    np.testing.assert_allclose(out[:2], [[3.0, 30.0], [6.0, 60.0]])


def test_touching_frames_do_not_overlap():
    out, present, _ = align_to_reference(np.array([[3.0, 4.0]]), FRAMES, VALUES)  # frame ends at 3.0
    assert not present[0] and (out == 0).all()


def test_nonfinite_values_are_excluded_elementwise():
    values = VALUES.copy()
    values[0, 0] = -np.inf  # frame [0.5, 1.5), dim 0
    values[2, 1] = np.nan  # frame [1.5, 3), dim 1
    out, present, nonfinite = align_to_reference(WORDS, FRAMES, values)
    assert nonfinite == 2
    # word 0 dim 0: only frame [0,0.5) is finite → 2; dim 1 unchanged → 30
    # word 1 dim 0: only frame [1.5,3) finite → 8; dim 1: only frame [0.5,1.5) finite → 40
    np.testing.assert_allclose(out[:2], [[2.0, 30.0], [8.0, 40.0]])
    assert np.isfinite(out).all() and present.tolist() == [True, True, False]
    all_bad = np.full_like(VALUES, -np.inf)
    out, present, _ = align_to_reference(WORDS, FRAMES, all_bad)
    assert (out == 0).all() and present.tolist() == [True, True, False]


def test_clean_segments_clips_sorts_and_drops_empty():
    intervals = np.array([[4.0, 6.0], [-0.3, 2.0], [2.0, 2.0], [2.0, 4.0]])
    rows, cleaned = clean_segments(intervals)
    assert rows.tolist() == [1, 3, 0]
    np.testing.assert_allclose(cleaned, [[0.0, 2.0], [2.0, 4.0], [4.0, 6.0]])
    words = np.array([[0.0, 1.0], [1.9, 2.2], [3.0, 3.5]])
    assert segment_word_indices(words, cleaned[0]).tolist() == [0, 1]  # word crossing 2.0 is in both
    assert segment_word_indices(words, cleaned[1]).tolist() == [1, 2]


# --------------------------------------------------------------------------- cache
def _tiny(root: Path) -> None:
    """The hand-written corpus of test_mosei_csd.py (loaded by path: tests are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mosei_csd_tests", Path(__file__).with_name("test_mosei_csd.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_tiny_corpus(root)


def _align(root: Path, cache: Path) -> list:
    return list(iter_aligned_videos(root, ["trainvid", "validvid"], ["glove_vectors", "COVAREP"], cache_dir=cache))


def test_cache_hit_invalidation_and_corrupt_entry(tmp_path, monkeypatch):
    root, cache = tmp_path / "mosei", tmp_path / "cache"
    _tiny(root)
    first = _align(root, cache)
    entries = sorted((cache / "mosei_aligned").rglob("*.npz"))
    assert [p.name for p in entries] == ["trainvid.npz", "validvid.npz"]

    calls = []
    original = mosei_align.align_video
    monkeypatch.setattr(mosei_align, "align_video", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    again = _align(root, cache)  # cache hit: nothing aligned
    assert calls == []
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.features["COVAREP"], b.features["COVAREP"])
        assert a.segment_rows.tolist() == b.segment_rows.tolist()

    # a corrupt entry is rebuilt with a warning
    entries[0].write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="corrupt alignment cache entry"):
        rebuilt = _align(root, cache)
    assert calls == ["trainvid"]
    np.testing.assert_array_equal(rebuilt[0].features["COVAREP"], first[0].features["COVAREP"])

    # a changed input file changes the key: everything is aligned again, into a new folder
    labels = root / "CMU_MOSEI_Labels.csd"
    stat = labels.stat()
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    calls.clear()
    _align(root, cache)
    assert calls == ["trainvid", "validvid"]
    assert len(list((cache / "mosei_aligned").iterdir())) == 2

    # different settings use another key too
    calls.clear()
    list(iter_aligned_videos(root, ["trainvid"], ["glove_vectors", "COVAREP"], cache_dir=cache, weighting="uniform"))
    assert calls == ["trainvid"]


def test_missing_video_is_skipped_with_a_warning(tmp_path, caplog):
    root = tmp_path / "mosei"
    _tiny(root)
    with caplog.at_level("WARNING"):
        out = list(iter_aligned_videos(root, ["trainvid", "ghost"], ["COVAREP"], use_cache=False))
    assert [v.video_id for v in out] == ["trainvid"]
    assert "1 video(s) missing" in caplog.text and "ghost" in caplog.text


def test_nonfinite_count_is_logged(tmp_path, caplog):
    root = tmp_path / "mosei"
    _tiny(root)
    with caplog.at_level("INFO", logger="zoo.data.corpora.cmu_mosei.align"):
        list(iter_aligned_videos(root, ["trainvid", "testvid"], ["COVAREP"], use_cache=False))
    # the tiny corpus has one all -inf audio row of 2 values per video
    assert "COVAREP=4" in caplog.text
