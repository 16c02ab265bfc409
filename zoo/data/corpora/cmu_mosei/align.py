"""Word-level alignment of CMU-MOSEI computational sequences, and labelled segments, with a disk cache.

What it does, per video (never all videos at once):

1. **reference** — the word intervals of the word-vector file (``glove_vectors``, as the SDK's
   ``mmdataset.align("glove_vectors")``). Words whose interval is shorter than ``eps`` are dropped,
   as the SDK drops them.
2. **alignment** — for each word and each other feature set, the frames whose interval overlaps the
   word's by more than ``eps`` (the SDK's ``__intersect_and_copy``: intervals clipped to the word,
   zero-length intersections dropped) are averaged with weights proportional to the overlap length
   (``weighting="overlap"``, our design). The SDK's example collapse function ``myavg`` is a plain
   mean of those frames; ``weighting="uniform"`` reproduces it. Frames are sorted by start time
   first (the SDK sorts them too). A word with no overlapping frame gets a zero vector and
   ``present=False`` (the SDK drops it and later imputes zeros with ``impute``).
3. **non-finite intervals** (NaN/inf in a start or end) cannot be placed in time, and intervals
   **ending before they start** are damaged: such words, frames and label segments are dropped,
   counted per video and reason (:attr:`AlignedVideo.dropped`, :data:`DROP_REASONS`) and reported
   by the datamodule, naming the file (a warning, or an error with ``strict=True``). A frame value
   far outside its column gets a :class:`~zoo.errors.CorpusDataWarning` naming the file and the video
   (when the video is aligned, i.e. not from the cache).
4. **non-finite values** (COVAREP holds ``-inf`` rows; NaN is treated alike) are **excluded from the
   average** element-wise: each dimension is averaged over the overlapping frames where it is
   finite, with their overlap weights renormalised; a dimension with no finite value in the word
   is 0. The number of non-finite values met is counted per feature set and reported in one log
   line (``INFO``) per alignment run.
5. **segments** — the label file's intervals cut the video into labelled segments (the SDK aligns
   the word-level sequences to ``All Labels``). Label intervals are unsorted and some start before
   0: starts are clipped to 0, rows are sorted by (clipped) start, segments shorter than ``eps``
   are dropped, and each segment keeps the word steps that overlap it by more than ``eps`` (as the
   SDK's second alignment: a word crossing a boundary belongs to both segments). A segment's id is
   ``"<video>[<row>]"`` with ``row`` its row in the label file (the SDK's naming).

Results are cached on disk, one ``.npz`` per video (uncompressed, no pickled objects) under
``<cache>/mosei_aligned/<key>/``, where ``key`` hashes the input files' resolved paths, sizes and
modification times and the settings (feature sets, weighting, eps, format version). The next run
reuses them; a changed input file changes the key; an unreadable or inconsistent entry is rebuilt
with a warning. Entries are written to a temporary file and renamed into place, so concurrent
processes (DDP ranks) never see half-written files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.data._checks import warn_outliers
from zoo.data.corpora.cmu_mosei.csd import ComputationalSequence
from zoo.data.sources import note_source
from zoo.errors import CorpusFormatError

__all__ = [
    "ALIGN_VERSION",
    "EPSILON",
    "FEATURE_FILES",
    "LABELS_FILE",
    "LABEL_COLUMNS",
    "REFERENCE",
    "WEIGHTINGS",
    "AlignedVideo",
    "AlignmentCache",
    "align_to_reference",
    "align_video",
    "clean_segments",
    "iter_aligned_videos",
    "segment_word_indices",
]

logger = logging.getLogger(__name__)

#: Bump when the cached arrays change meaning, so that old cache entries are not reused.
ALIGN_VERSION = "3"
#: Interval tolerance of the SDK (``epsilon=10e-6`` in ``mmsdk/mmdatasdk/dataset/dataset.py``).
EPSILON = 1e-5
#: Feature set name → file name of the CMU-MOSEI release (names as in the SDK's ``cmu_mosei.py``).
FEATURE_FILES: dict[str, str] = {
    "glove_vectors": "CMU_MOSEI_TimestampedWordVectors.csd",
    "COVAREP": "CMU_MOSEI_COVAREP.csd",
    "FACET 4.2": "CMU_MOSEI_VisualFacet42.csd",
    "OpenFace_2": "CMU_MOSEI_VisualOpenFace2.csd",
}
LABELS_FILE = "CMU_MOSEI_Labels.csd"
#: The word-vector sequence whose intervals define the word steps.
REFERENCE = "glove_vectors"
#: Columns of ``All Labels`` (SDK README of CMU-MOSEI).
LABEL_COLUMNS = ("sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear")
WEIGHTINGS = ("overlap", "uniform")
#: why intervals are dropped (the suffixes of the :attr:`AlignedVideo.dropped` keys)
DROP_REASONS = ("with non-finite intervals", "ending before they start")


# --------------------------------------------------------------------------- numerics
def align_to_reference(
    reference: np.ndarray,
    intervals: np.ndarray,
    features: np.ndarray,
    weighting: str = "overlap",
    eps: float = EPSILON,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Average the frames overlapping each reference interval.

    Args:
        reference: ``(N, 2)`` word intervals (seconds).
        intervals: ``(T, 2)`` frame intervals, any order.
        features: ``(T, D)`` frame features; non-finite values are excluded element-wise.
        weighting: ``"overlap"`` (weights ∝ overlap length) or ``"uniform"`` (plain mean).
        eps: an overlap must be longer than this.
        dtype: of the aligned output (the averages are computed in float64).

    Returns:
        ``(aligned (N, D) dtype, present (N,) bool, nonfinite)``: zeros and ``False`` for words
        without an overlapping frame; ``nonfinite`` counts the non-finite values of ``features``.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    reference = np.asarray(reference, dtype=np.float64)
    features = np.asarray(features)
    n, d = len(reference), features.shape[1]
    out = np.zeros((n, d), dtype=dtype)
    present = np.zeros(n, dtype=bool)
    finite_all = np.isfinite(features)
    nonfinite = int(features.size - finite_all.sum())
    if len(intervals) == 0 or n == 0:
        return out, present, nonfinite
    order = np.argsort(intervals[:, 0], kind="stable")
    starts, ends = intervals[order, 0], intervals[order, 1]
    # running maximum of the ends: the first frame that can reach a word's start
    reach = np.maximum.accumulate(ends)
    lo = np.searchsorted(reach, reference[:, 0] - eps, side="right")
    hi = np.searchsorted(starts, reference[:, 1] + eps, side="left")
    # every (word, candidate frame) pair at once, grouped by word: word i's candidates are the
    # sorted frames lo[i] .. hi[i] - 1
    counts = np.maximum(hi - lo, 0)
    word = np.repeat(np.arange(n), counts)
    first = np.cumsum(counts) - counts
    pos = np.arange(int(counts.sum())) - np.repeat(first - lo, counts)
    overlap = np.minimum(ends[pos], reference[word, 1]) - np.maximum(starts[pos], reference[word, 0])
    keep = overlap > eps
    if not keep.any():
        return out, present, nonfinite
    word, idx, overlap = word[keep], order[pos[keep]], overlap[keep]
    w = overlap if weighting == "overlap" else np.ones(len(idx))
    x = features[idx].astype(np.float64)
    finite = finite_all[idx]
    x[~finite] = 0.0
    words, group_start = np.unique(word, return_index=True)  # ``word`` is sorted: groups are contiguous
    num = np.add.reduceat(w[:, None] * x, group_start, axis=0)
    den = np.add.reduceat(w[:, None] * finite, group_start, axis=0)
    out[words] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    present[words] = True
    return out, present, nonfinite


def clean_segments(intervals: np.ndarray, eps: float = EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """Label intervals cleaned as documented: starts clipped to 0, sorted, short ones dropped.

    Returns:
        ``(rows, cleaned)``: original row indices (sorted by clipped start, ties by row) and the
        ``(S, 2)`` cleaned intervals.
    """
    intervals = np.asarray(intervals, dtype=np.float64).copy()
    intervals[:, 0] = np.maximum(intervals[:, 0], 0.0)
    rows = np.lexsort((np.arange(len(intervals)), intervals[:, 0]))
    rows = rows[(intervals[rows, 1] - intervals[rows, 0]) > eps]
    return rows, intervals[rows]


def segment_word_indices(words: np.ndarray, segment: np.ndarray, eps: float = EPSILON) -> np.ndarray:
    """Indices of the word intervals overlapping ``segment`` (start, end) by more than ``eps``."""
    overlap = np.minimum(words[:, 1], segment[1]) - np.maximum(words[:, 0], segment[0])
    return np.flatnonzero(overlap > eps)


# --------------------------------------------------------------------------- per video
@dataclass
class AlignedVideo:
    """One video aligned to its words and cut into labelled segments.

    Attributes:
        video_id: the video.
        word_intervals: ``(N, 2)`` seconds.
        features: feature set → ``(N, D)`` float32 word-level features.
        present: feature set → ``(N,)`` bool, False where no frame overlapped the word.
        segment_rows: ``(S,)`` row of each segment in the label file (segment id ``video[row]``).
        segment_intervals: ``(S, 2)`` cleaned segment intervals.
        segment_labels: ``(S, 7)`` float32 labels in :data:`LABEL_COLUMNS` order.
        segment_offsets: ``(S + 1,)`` offsets into :attr:`segment_words`.
        segment_words: word indices of all segments, concatenated.
        nonfinite: feature set → number of non-finite values met in the video's frames.
        dropped: what was dropped for non-finite intervals → count (``"words"``, ``"<set> frames"``,
            ``"segments"``).
    """

    video_id: str
    word_intervals: np.ndarray
    features: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    segment_rows: np.ndarray
    segment_intervals: np.ndarray
    segment_labels: np.ndarray
    segment_offsets: np.ndarray
    segment_words: np.ndarray
    nonfinite: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def num_segments(self) -> int:
        """Number of labelled segments."""
        return len(self.segment_rows)

    def segment_id(self, s: int) -> str:
        """SDK-style id ``"<video>[<row>]"`` of segment ``s``."""
        return f"{self.video_id}[{int(self.segment_rows[s])}]"

    def words_of(self, s: int) -> np.ndarray:
        """Word indices of segment ``s`` (in time order)."""
        return self.segment_words[self.segment_offsets[s] : self.segment_offsets[s + 1]]

    def to_arrays(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (no pickled objects)."""
        arrays = {
            "names": np.array(json.dumps(list(names))),
            "word_intervals": self.word_intervals,
            "segment_rows": self.segment_rows,
            "segment_intervals": self.segment_intervals,
            "segment_labels": self.segment_labels,
            "segment_offsets": self.segment_offsets,
            "segment_words": self.segment_words,
            "nonfinite": np.array([self.nonfinite.get(n, 0) for n in names], dtype=np.int64),
            "dropped": np.array(json.dumps(self.dropped, sort_keys=True)),
        }
        for j, name in enumerate(names):
            arrays[f"f{j}"] = self.features[name]
            arrays[f"p{j}"] = self.present[name]
        return arrays

    @classmethod
    def from_arrays(cls, video_id: str, arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> AlignedVideo:
        """Inverse of :meth:`to_arrays`; raises ``ValueError`` when the arrays are inconsistent."""
        stored = json.loads(str(arrays["names"]))
        if stored != list(names):
            raise ValueError(f"feature sets {stored} differ from {list(names)}")
        words = np.asarray(arrays["word_intervals"])
        n = len(words)
        features = {name: np.asarray(arrays[f"f{j}"]) for j, name in enumerate(names)}
        present = {name: np.asarray(arrays[f"p{j}"]) for j, name in enumerate(names)}
        offsets = np.asarray(arrays["segment_offsets"])
        rows = np.asarray(arrays["segment_rows"])
        seg_words = np.asarray(arrays["segment_words"])
        labels = np.asarray(arrays["segment_labels"])
        if any(f.ndim != 2 or len(f) != n for f in features.values()) or any(len(p) != n for p in present.values()):
            raise ValueError("feature arrays do not match the number of words")
        if (
            len(offsets) != len(rows) + 1
            or labels.shape != (len(rows), len(LABEL_COLUMNS))
            or offsets[-1] != len(seg_words)
        ):
            raise ValueError("segment arrays are inconsistent")
        if len(seg_words) and (seg_words.min() < 0 or seg_words.max() >= n):
            raise ValueError("segment word indices out of range")
        nonfinite = dict(zip(names, (int(v) for v in np.asarray(arrays["nonfinite"]))))
        dropped = {str(k): int(v) for k, v in json.loads(str(arrays["dropped"])).items()}
        return cls(
            video_id,
            words,
            features,
            present,
            rows,
            np.asarray(arrays["segment_intervals"]),
            labels,
            offsets,
            seg_words,
            nonfinite,
            dropped,
        )


def _usable_intervals(intervals: np.ndarray, what: str, dropped: dict[str, int]) -> np.ndarray:
    """``(T,)`` bool: intervals that are finite and do not end before they start; the others are
    counted into ``dropped`` under ``"<what> <reason>"``."""
    finite = np.isfinite(intervals).all(axis=1)
    with np.errstate(invalid="ignore"):
        inverted = finite & (intervals[:, 1] < intervals[:, 0])
    for bad, reason in ((~finite, DROP_REASONS[0]), (inverted, DROP_REASONS[1])):
        if bad.any():
            dropped[f"{what} {reason}"] = int(bad.sum())
    return finite & ~inverted


def _warn_outliers(seq: ComputationalSequence, video_id: str, values: np.ndarray) -> None:
    warn_outliers(seq.path, values, lambda row, col: f"video {video_id!r}, frame {row}, column {col}")


def align_video(
    video_id: str,
    sequences: Mapping[str, ComputationalSequence],
    labels: ComputationalSequence,
    weighting: str = "overlap",
    eps: float = EPSILON,
) -> AlignedVideo:
    """Align one video's feature sets to its words and cut it into labelled segments.

    Args:
        video_id: the video (present in every sequence and in ``labels``).
        sequences: feature set name → open sequence; must contain :data:`REFERENCE`.
        labels: the ``All Labels`` sequence.
        weighting: see :func:`align_to_reference`.
        eps: interval tolerance.

    Raises:
        CorpusFormatError: bad arrays (naming file, video and field), or labels without 7 columns.
    """
    if REFERENCE not in sequences:
        raise ValueError(f"sequences must include the reference {REFERENCE!r}")
    ref_features, ref_intervals = sequences[REFERENCE].read(video_id)
    _warn_outliers(sequences[REFERENCE], video_id, ref_features)
    dropped: dict[str, int] = {}
    usable_words = _usable_intervals(ref_intervals, "words", dropped)
    with np.errstate(invalid="ignore"):
        keep = usable_words & ((ref_intervals[:, 1] - ref_intervals[:, 0]) > eps)
    words = ref_intervals[keep]
    order = np.argsort(words[:, 0], kind="stable")
    words = words[order]
    features: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    nonfinite: dict[str, int] = {}
    for name, seq in sequences.items():
        if name == REFERENCE:
            x = ref_features[keep][order]
            finite = np.isfinite(x)
            nonfinite[name] = int(x.size - finite.sum())
            features[name] = np.where(finite, x, 0.0).astype(np.float32)
            present[name] = np.ones(len(words), dtype=bool)
            continue
        x, intervals = seq.read(video_id)
        _warn_outliers(seq, video_id, x)
        usable_frames = _usable_intervals(intervals, f"{name} frames", dropped)
        if not usable_frames.all():
            x, intervals = x[usable_frames], intervals[usable_frames]
        features[name], present[name], nonfinite[name] = align_to_reference(words, intervals, x, weighting, eps)
    label_values, label_intervals = labels.read(video_id)
    if label_values.shape[1] != len(LABEL_COLUMNS):
        raise CorpusFormatError(
            f"{labels.path}: video {video_id!r}: field 'features' has {label_values.shape[1]} columns, "
            f"expected {len(LABEL_COLUMNS)} {list(LABEL_COLUMNS)}"
        )
    usable_segments = _usable_intervals(label_intervals, "segments", dropped)
    rows, segments = clean_segments(np.where(usable_segments[:, None], label_intervals, 0.0), eps)
    rows, segments = rows[usable_segments[rows]], segments[usable_segments[rows]]
    parts = [segment_word_indices(words, seg, eps) for seg in segments]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    return AlignedVideo(
        video_id=video_id,
        word_intervals=words,
        features=features,
        present=present,
        segment_rows=rows.astype(np.int64),
        segment_intervals=segments,
        segment_labels=label_values[rows].astype(np.float32),
        segment_offsets=offsets,
        segment_words=np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64),
        nonfinite=nonfinite,
        dropped=dropped,
    )


# --------------------------------------------------------------------------- cache
_SAFE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


class AlignmentCache:
    """Per-video ``.npz`` cache of :class:`AlignedVideo` keyed by inputs and settings.

    Args:
        files: feature set name (and ``"labels"``) → input file.
        settings: everything else the result depends on (plain JSON types).
        cache_dir: base folder; default :func:`zoo.data.synthetic.cache_dir`.
    """

    def __init__(
        self, files: Mapping[str, Path], settings: Mapping[str, object], cache_dir: str | Path | None = None
    ) -> None:
        if cache_dir is None:
            from zoo.data.synthetic import cache_dir as default_cache_dir

            cache_dir = default_cache_dir()
        stamp = []
        for name, path in sorted(files.items()):
            path = Path(path).resolve()
            stat = path.stat()
            stamp.append([name, str(path), stat.st_size, stat.st_mtime_ns])
        payload = json.dumps({"files": stamp, "settings": dict(settings), "version": ALIGN_VERSION}, sort_keys=True)
        self.key = hashlib.sha256(payload.encode()).hexdigest()[:16]
        self.folder = Path(cache_dir).expanduser() / "mosei_aligned" / self.key
        self.writable = True

    def path(self, video_id: str) -> Path:
        """Cache file of a video (ids that are not plain file names are hashed)."""
        stem = video_id if _SAFE.match(video_id) else "h" + hashlib.sha1(video_id.encode()).hexdigest()
        return self.folder / f"{stem}.npz"

    def load(self, video_id: str, names: Sequence[str]) -> AlignedVideo | None:
        """The cached video, ``None`` when absent; a corrupt entry is deleted with a warning."""
        path = self.path(video_id)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return AlignedVideo.from_arrays(video_id, {k: arrays[k] for k in arrays.files}, names)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
            warnings.warn(
                f"{path}: corrupt alignment cache entry for video {video_id!r} ({err}); rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def save(self, video: AlignedVideo, names: Sequence[str]) -> None:
        """Write a video atomically; a cache that cannot be written is skipped with a warning."""
        if not self.writable:
            return
        path = self.path(video.video_id)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npz")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, **video.to_arrays(names))
            os.replace(tmp, path)
        except OSError as err:
            self.writable = False
            warnings.warn(
                f"{self.folder}: cannot write the alignment cache ({err}); continuing without it",
                RuntimeWarning,
                stacklevel=2,
            )
            tmp.unlink(missing_ok=True)


def iter_aligned_videos(
    root: str | Path,
    video_ids: Iterable[str],
    feature_names: Sequence[str],
    *,
    files: Mapping[str, str] | None = None,
    weighting: str = "overlap",
    eps: float = EPSILON,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    missing: list[tuple[str, list[str]]] | None = None,
) -> Iterator[AlignedVideo]:
    """Aligned videos of ``video_ids`` in order, one at a time (bounded memory), through the cache.

    Videos missing from the label file, the reference or any requested feature file are skipped
    (the SDK's ``unify`` removes them too); their number is logged as a warning.

    Args:
        root: folder with the ``.csd`` files.
        video_ids: videos to yield.
        feature_names: feature sets to align (the reference is always read for its intervals).
        files: overrides of :data:`FEATURE_FILES` (name → file name), plus ``"labels"``.
        weighting, eps: see :func:`align_to_reference`.
        cache_dir: cache base folder (default: the affect-zoo cache).
        use_cache: read/write the cache.
        missing: when given, ``(video id, [files' feature sets lacking it])`` is appended for every
            skipped video, for the caller to report.

    Raises:
        CorpusFormatError: a missing file or bad arrays.
    """
    root = Path(root)
    mapping = {**FEATURE_FILES, "labels": LABELS_FILE, **dict(files or {})}
    unknown = [n for n in feature_names if n not in mapping]
    if unknown:
        raise ValueError(f"unknown CMU-MOSEI feature sets {unknown}; known: {sorted(set(mapping) - {'labels'})}")
    names = list(dict.fromkeys([REFERENCE, *feature_names]))
    paths = {n: root / mapping[n] for n in [*names, "labels"]}
    for name, path in paths.items():
        # noted here, not only when opened: an alignment cache hit opens none of them, and the
        # corpus cache must still be keyed by them
        if not note_source(path).is_file():
            raise CorpusFormatError(f"{path}: CMU-MOSEI file of {name!r} not found")
    cache = (
        AlignmentCache(paths, {"names": names, "weighting": weighting, "eps": eps}, cache_dir) if use_cache else None
    )
    opened: dict[str, ComputationalSequence] = {}

    def sequence(name: str) -> ComputationalSequence:
        if name not in opened:
            opened[name] = ComputationalSequence(paths[name])
        return opened[name]

    skipped: list[str] = []
    built = hits = 0
    nonfinite = dict.fromkeys(names, 0)
    try:
        for video_id in video_ids:
            video = cache.load(video_id, names) if cache is not None else None
            if video is None:
                lacking = [n for n in [*names, "labels"] if video_id not in sequence(n)]
                if lacking:
                    skipped.append(video_id)
                    if missing is not None:
                        missing.append((video_id, lacking))
                    continue
                video = align_video(video_id, {n: sequence(n) for n in names}, sequence("labels"), weighting, eps)
                built += 1
                if cache is not None:
                    cache.save(video, names)
            else:
                hits += 1
            for name, count in video.nonfinite.items():
                nonfinite[name] = nonfinite.get(name, 0) + count
            yield video
    finally:
        for seq in opened.values():
            seq.close()
    if skipped:
        logger.warning(
            "CMU-MOSEI %s: %d video(s) missing from the label file or a feature file were skipped (e.g. %s)",
            root,
            len(skipped),
            ", ".join(skipped[:5]),
        )
    logger.info(
        "CMU-MOSEI alignment (%s): %d video(s) aligned, %d from the cache%s; non-finite values "
        "excluded from word averages: %s",
        weighting,
        built,
        hits,
        f" ({cache.folder})" if cache is not None else "",
        ", ".join(f"{n}={c}" for n, c in nonfinite.items()),
    )
