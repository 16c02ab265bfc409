"""MuSe-CaR (MuSe 2020, MuSe-Wild sub-challenge): corpus reader and datamodule.

Continuous arousal and valence of car-review YouTube videos, annotated every 250 ms
(Stappen et al. 2020, "MuSe 2020 Challenge and Workshop: Multimodal Sentiment Analysis,
Emotion-target Engagement and Trustworthiness Detection in Real-life Media", ACM MM). The reader
expects the layout of the challenge package::

    <root>/metadata/partition.csv
        Id,Proposal                     video id (integer) → train / devel / test; the real file
                                        repeats some rows (identical duplicates are dropped,
                                        conflicting ones are an error)
    <root>/c1_muse_wild/label_segments/{arousal,valence}/<id>.csv
        timestamp,value,segment_id      timestamp in integer milliseconds, 250 ms step; absent
                                        for the test videos in the real challenge
    <root>/c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv
        timestamp,segment_id,<D cols>   one row per label frame; feature column names vary and
                                        are not used (e.g. egemaps 88-d, vggish 128-d, vggface
                                        512-d, au 35-d, openpose 54-d, fasttext 300-d,
                                        deepspectrum 4096-d)
    <root>/c1_muse_wild/transcription_segments/<id>/<id>_<seg>.csv     (not read)

The MuSe 2020 package distributes features, not media. The raw ``audio`` feature set reads WAV
files the user extracted from the videos (e.g. ``ffmpeg -i <id>.mp4 -ac 1 -ar 16000 <id>.wav``)
at the paths ``audio_pattern`` names (default ``<root>/audio/<id>.wav``; any rate, resampled to
16 kHz): per 250 ms label frame the 4000 samples from the frame's timestamp on.

Every problem with the files raises :class:`CorpusFormatError` naming the file and, where it
applies, the line (1 = header) and the field. With ``root=None`` the datamodule uses a synthetic
corpus in the same layout (:mod:`zoo.data.corpora.muse_car.synthetic`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from zoo.config.option_rules import Rule
from zoo.data._checks import check_label_range, warn_outliers
from zoo.data.corpora.muse_car import format as muse_format
from zoo.data.corpora.muse_car.format import (
    feature_path,
    feature_table,
    label_aligned_folder,
    label_path,
    partition_path,
)
from zoo.data.corpora.muse_car.synthetic import SYNTHETIC_VERSION, write_synthetic_muse_car
from zoo.data.corpus import Corpus
from zoo.data.extract_layout import NUMBER_FORMAT, ExtractLayout
from zoo.data.raw_audio import SAMPLE_RATE, read_audio_frames
from zoo.data.registry import register_corpus
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.errors import ConfigError, CorpusFormatError

__all__ = [
    "CorpusFormatError",
    "LABEL_STEP_MS",
    "PARTITION_NAMES",
    "SEGMENT_FEATURE",
    "MuSeCaRCorpus",
    "available_feature_sets",
    "feature_path",
    "label_path",
    "load_muse_car_recordings",
    "partition_path",
    "read_feature_file",
    "read_label_file",
    "read_partition_table",
    "write_muse_predictions",
]

logger = logging.getLogger(__name__)

LABEL_STEP_MS = 250
PARTITION_NAMES = ("train", "devel", "test")
TARGET_NAMES = ("arousal", "valence")
#: the range of the MuSe-Wild arousal and valence labels
LABEL_RANGE = (-1.0, 1.0)
#: Name of the optional 1-d feature holding the topic segment id (not a folder on disk).
SEGMENT_FEATURE = "segment_id"
NAN_POLICIES = ("error", "interpolate")


# --------------------------------------------------------------------------- paths
# the layout is stated once, in zoo.data.corpora.muse_car.format (partition_path, label_path, feature_path)


def available_feature_sets(root: Path) -> list[str]:
    """Names of the label-aligned feature sets present under ``root``, sorted."""
    folder = label_aligned_folder(root)
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


# --------------------------------------------------------------------------- CSV helpers
def _line(row: int) -> int:
    """File line of a 0-based data row (line 1 is the header; blank lines are not counted)."""
    return int(row) + 2


def _read_csv(path: Path, what: str, **kwargs) -> pd.DataFrame:
    """Read a CSV with a header; column names are stripped of surrounding spaces."""
    path = note_source(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: {what} file not found")
    try:
        frame = pd.read_csv(path, engine="c", skipinitialspace=True, low_memory=False, **kwargs)
    except pd.errors.EmptyDataError:
        raise CorpusFormatError(f"{path}: {what} file is empty (expected a header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CorpusFormatError(f"{path}: cannot parse {what} file as CSV: {err}") from None
    except OSError as err:  # no permission, a symbolic-link loop, ...
        raise CorpusFormatError(f"{path}: cannot read the {what} file ({err.strerror or err})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _require_columns(frame: pd.DataFrame, path: Path, required: Sequence[str]) -> None:
    """Rename header columns matching ``required`` case-insensitively; error if any is missing."""
    lower = {c.lower(): c for c in frame.columns}
    missing = [name for name in required if name.lower() not in lower]
    if missing:
        raise CorpusFormatError(f"{path}: missing header column(s) {missing} on line 1; found {list(frame.columns)}")
    canonical = {lower[n.lower()]: n for n in required}
    frame.columns = [canonical.get(c, c) for c in frame.columns]


def _numeric(frame: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    """Convert ``columns`` to numbers in place; a non-numeric cell names its line and field."""
    dtypes = frame.dtypes
    for column in columns:
        dtype = dtypes[column]
        if is_numeric_dtype(dtype) and not is_bool_dtype(dtype):
            continue
        series = frame[column]
        converted = pd.to_numeric(series, errors="coerce")
        bad = np.flatnonzero(converted.isna().to_numpy() & series.notna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise CorpusFormatError(
                f"{path}: line {_line(row)}, field {column!r}: non-numeric value "
                f"{series.iloc[row]!r}" + (f" ({len(bad)} such cells in this column)" if len(bad) > 1 else "")
            )
        frame[column] = converted


def _integer_column(frame: pd.DataFrame, path: Path, column: str, unit: str = "") -> np.ndarray:
    """A column of whole numbers as int64 (``12.0`` is accepted, ``12.5`` and blanks are not)."""
    values = frame[column].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if len(bad):
        row = int(bad[0])
        raise CorpusFormatError(
            f"{path}: line {_line(row)}, field {column!r}: expected an integer{unit}, got {frame[column].iloc[row]!r}"
        )
    return values.astype(np.int64)


def _where(path: Path, row: int, field: str) -> str:
    """``"line 5, field 'value' (video 17, data row 4)"`` for the 0-based data row ``row``."""
    return f"line {_line(row)}, field {field!r} (video {Path(path).stem}, data row {int(row) + 1})"


def _check_increasing(path: Path, timestamps: np.ndarray) -> None:
    if len(timestamps) == 0:
        raise CorpusFormatError(f"{path}: no data rows")
    bad = np.flatnonzero(np.diff(timestamps) <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise CorpusFormatError(
            f"{path}: line {_line(row)}, field 'timestamp': {timestamps[row]} ms does not "
            f"increase (previous row has {timestamps[row - 1]} ms)"
        )


def _check_step(path: Path, timestamps: np.ndarray, step_ms: int = LABEL_STEP_MS) -> None:
    """Refuse a file that is not on the ``step_ms`` grid of the MuSe-Wild labels.

    The labels are one row per 250 ms (Stappen et al. 2020; Sun et al. 2020 §5.1). Gaps of a
    whole number of steps are accepted, because the distributed files leave out the excluded parts
    of a video (Sun et al. 2020 §6: "the label timestamps are not evenly spaced"); but the most
    common step must be ``step_ms`` — a file sampled every 500 ms is refused — and every step
    must be a multiple of it.
    """
    steps = np.diff(timestamps)
    if len(steps) == 0:
        return
    values, counts = np.unique(steps, return_counts=True)
    usual = int(values[np.argmax(counts)])  # ties: the smallest step
    # a clear majority step is the file's sampling (a 500 ms file); without one, the row check
    # below names the first row off the grid
    if usual != step_ms and 2 * int(counts.max()) > len(steps):
        raise CorpusFormatError(
            f"{path}: field 'timestamp': rows are mostly {usual} ms apart ({int(counts.max())} of "
            f"{len(steps)} steps), expected the MuSe-CaR label step of {step_ms} ms (video "
            f"{Path(path).stem}, {len(timestamps)} rows)"
        )
    bad = np.flatnonzero(steps % step_ms != 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise CorpusFormatError(
            f"{path}: {_where(path, row, 'timestamp')}: {timestamps[row]} ms is "
            f"{steps[row - 1]} ms after the previous row, not a multiple of the {step_ms} ms label "
            f"step"
        )


# --------------------------------------------------------------------------- readers
def read_partition_table(path: str | Path) -> dict[str, str]:
    """Read ``metadata/partition.csv``.

    Args:
        path: the ``Id,Proposal`` CSV file.

    Returns:
        Video id (as a string without leading zeros, e.g. ``"17"``) → ``"train"``, ``"devel"`` or
        ``"test"``, in file order. Identical duplicate rows are dropped.

    Raises:
        CorpusFormatError: missing column, blank or non-integer id, unknown partition, or one id
            listed with two different partitions.
    """
    path = Path(path)
    frame = _read_csv(path, "partition", dtype=str, keep_default_na=False)
    _require_columns(frame, path, ("Id", "Proposal"))
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for row, (raw_id, raw_part) in enumerate(zip(frame["Id"], frame["Proposal"])):
        video_id = str(raw_id).strip()
        if not video_id.isdigit():
            raise CorpusFormatError(
                f"{path}: line {_line(row)}, field 'Id': expected an integer video id, got {raw_id!r}"
            )
        video_id = str(int(video_id))
        partition = str(raw_part).strip().lower()
        if partition not in PARTITION_NAMES:
            raise CorpusFormatError(
                f"{path}: line {_line(row)}, field 'Proposal': unknown partition {raw_part!r}; "
                f"expected one of {list(PARTITION_NAMES)}"
            )
        if video_id in table and table[video_id] != partition:
            raise CorpusFormatError(
                f"{path}: line {_line(row)}, field 'Proposal': video {video_id} is assigned to "
                f"{partition!r} but line {first_line[video_id]} assigns it to "
                f"{table[video_id]!r}"
            )
        table.setdefault(video_id, partition)
        first_line.setdefault(video_id, _line(row))
    return table


def read_label_file(
    path: str | Path, label_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one ``label_segments/<target>/<id>.csv`` file.

    Args:
        path: CSV with header ``timestamp,value,segment_id``.
        label_range: refuse values outside ``(low, high)`` (labels; ``None`` for prediction
            files, which may lie outside).

    Returns:
        ``(timestamps_ms int64 (T,), values float32 (T,), segment_ids int64 (T,))``.

    Raises:
        CorpusFormatError: missing column, non-numeric or missing cell, non-integer timestamp or
            segment id, timestamps that do not increase, or a value outside ``label_range``.
    """
    path = Path(path)
    frame = _read_csv(path, "label")
    _require_columns(frame, path, ("timestamp", "value", "segment_id"))
    _numeric(frame, path, ("timestamp", "value", "segment_id"))
    timestamps = _integer_column(frame, path, "timestamp", " (milliseconds)")
    segment_ids = _integer_column(frame, path, "segment_id")
    values = frame["value"].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = int(bad[0])
        raise CorpusFormatError(
            f"{path}: {_where(path, row, 'value')}: missing or non-finite label "
            f"({values[row]}; {len(bad)} such row(s) in the file)"
        )
    if label_range is not None:
        check_label_range(path, values, [label_range], lambda row, _: _where(path, row, "value"))
    _check_increasing(path, timestamps)
    _check_step(path, timestamps)
    return timestamps, values.astype(np.float32), segment_ids


def _interpolate_nans(values: np.ndarray, path: Path, names: Sequence[str]) -> np.ndarray:
    """Linear interpolation of NaNs along time per column, then nearest-value edge fill."""
    missing = np.isnan(values)
    count = int(missing.sum())
    rows = np.arange(len(values))
    for col in np.flatnonzero(missing.any(axis=0)):
        known = ~missing[:, col]
        if not known.any():
            raise CorpusFormatError(
                f"{path}: field {names[col]!r} is empty (NaN) on every line; nan_policy='interpolate' cannot repair it"
            )
        # np.interp holds the first/last known value beyond the ends (edge fill)
        values[~known, col] = np.interp(rows[~known], rows[known], values[known, col])
    logger.warning(
        "%s: repaired %d NaN feature cell(s) in %d column(s) by linear interpolation along time "
        "(nan_policy='interpolate')",
        path,
        count,
        int(missing.any(axis=0).sum()),
    )
    return values


def read_feature_file(path: str | Path, nan_policy: str = "error") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one label-aligned feature file.

    Args:
        path: CSV with a header; columns ``timestamp``, ``segment_id`` then D feature columns
            (any names).
        nan_policy: ``"error"`` (default) raises on an empty/NaN feature cell; ``"interpolate"``
            repairs NaN cells by linear interpolation along time per column (values beyond the
            first/last known frame repeat it) and logs a warning with the count and the file.

    Returns:
        ``(timestamps_ms int64 (T,), segment_ids int64 (T,), features float32 (T, D))``.

    Raises:
        CorpusFormatError: missing columns, no feature columns, non-numeric cell, NaN (with
            ``nan_policy="error"``), infinite value, non-integer timestamp/segment id, or
            timestamps that do not increase.
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    path = Path(path)
    frame = _read_csv(path, "feature")
    if len(frame.columns) < 3 or [c.lower() for c in frame.columns[:2]] != [
        "timestamp",
        "segment_id",
    ]:
        raise CorpusFormatError(
            f"{path}: header (line 1) must start with 'timestamp,segment_id' followed by at "
            f"least one feature column; found {list(frame.columns[:5])}" + (" ..." if len(frame.columns) > 5 else "")
        )
    frame.columns = ["timestamp", "segment_id", *frame.columns[2:]]
    feature_names = list(frame.columns[2:])
    _numeric(frame, path, frame.columns)
    timestamps = _integer_column(frame, path, "timestamp", " (milliseconds)")
    segment_ids = _integer_column(frame, path, "segment_id")
    values = frame.to_numpy(dtype=np.float64)[:, 2:]
    nan = np.isnan(values)
    if nan.any():
        if nan_policy == "error":
            row, col = (int(i[0]) for i in np.nonzero(nan))
            raise CorpusFormatError(
                f"{path}: {_where(path, row, feature_names[col])}: missing (NaN) "
                f"feature value ({int(nan.sum())} NaN cell(s) in the file); pass "
                f"nan_policy='interpolate' to repair them"
            )
        values = _interpolate_nans(values, path, feature_names)
    infinite = np.isinf(values)
    if infinite.any():
        row, col = (int(i[0]) for i in np.nonzero(infinite))
        raise CorpusFormatError(
            f"{path}: {_where(path, row, feature_names[col])}: infinite feature "
            f"value {values[row, col]} ({int(infinite.sum())} infinite cell(s) in the file)"
        )
    warn_outliers(path, values, lambda row, col: _where(path, row, feature_names[col]))
    _check_increasing(path, timestamps)
    _check_step(path, timestamps)
    return timestamps, segment_ids, values.astype(np.float32)


# --------------------------------------------------------------------------- alignment checks
def _check_same_frames(
    ref_path: Path,
    ref_timestamps: np.ndarray,
    ref_segments: np.ndarray,
    path: Path,
    timestamps: np.ndarray,
    segments: np.ndarray,
) -> None:
    """Raise unless two files have the same timestamps and segment ids row by row."""
    n = min(len(ref_timestamps), len(timestamps))
    differ = np.flatnonzero(ref_timestamps[:n] != timestamps[:n])
    if len(differ) or len(ref_timestamps) != len(timestamps):
        if len(differ):
            row = int(differ[0])
            where = (
                f"first mismatching timestamp on line {_line(row)}: {timestamps[row]} ms "
                f"here, {ref_timestamps[row]} ms in {ref_path.name}"
            )
        elif len(timestamps) > n:
            where = f"first extra timestamp on line {_line(n)}: {timestamps[n]} ms"
        else:
            where = f"first missing timestamp: {ref_timestamps[n]} ms (line {_line(n)} of {ref_path.name})"
        raise CorpusFormatError(
            f"{path}: field 'timestamp' does not match {ref_path} ({len(timestamps)} vs "
            f"{len(ref_timestamps)} rows); {where}"
        )
    differ = np.flatnonzero(ref_segments != segments)
    if len(differ):
        row = int(differ[0])
        raise CorpusFormatError(
            f"{path}: line {_line(row)}, field 'segment_id': {segments[row]} but "
            f"{ref_path} has {ref_segments[row]} at timestamp {timestamps[row]} ms"
        )


# --------------------------------------------------------------------------- recordings
def _read_targets(
    root: Path, video_id: str, targets: Sequence[str], allow_missing: bool
) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray] | None:
    """Label files of one video: ``(first path, timestamps, (T, K) values, segment ids)``.

    Returns ``None`` when no requested label file exists and ``allow_missing`` is true.
    """
    paths = [note_source(label_path(root, t, video_id)) for t in targets]
    present = [p.is_file() for p in paths]
    if not any(present) and allow_missing:
        return None
    if not all(present):
        missing = paths[present.index(False)]
        raise CorpusFormatError(f"{missing}: label file not found (video {video_id})")
    ref_path = paths[0]
    ref_ts, first, ref_seg = read_label_file(ref_path, LABEL_RANGE)
    columns = [first]
    for path in paths[1:]:
        ts, values, seg = read_label_file(path, LABEL_RANGE)
        _check_same_frames(ref_path, ref_ts, ref_seg, path, ts, seg)
        columns.append(values)
    return ref_path, ref_ts, np.stack(columns, axis=1), ref_seg


def _folder_ids(root: Path, file_features: Sequence[str]) -> list[str]:
    """Ids of the videos with a file in the first feature set's folder (every set must have them)."""
    if not file_features:
        raise CorpusFormatError(f"{root}: no feature files to read, so the videos cannot be found")
    for name in file_features:
        if not feature_path(root, name, "x").parent.is_dir():
            raise CorpusFormatError(
                f"{feature_path(root, name, 'x').parent}: feature folder not found (needed: "
                f"{list(file_features)}; {root} has {available_feature_sets(root)})"
            )
    return _csv_ids(feature_path(root, file_features[0], "x").parent, "feature files")


def _csv_ids(folder: Path, what: str) -> list[str]:
    """The ``<id>.csv`` stems of ``folder`` (noted as a source), numeric ids in numeric order.

    Raises:
        CorpusFormatError: the folder holds no ``.csv`` file (``what`` names what was looked for).
    """
    folder = note_source(folder)
    ids = sorted(
        (p.stem for p in folder.glob("*.csv")), key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)
    )
    if not ids:
        raise CorpusFormatError(f"{folder}: no <id>.csv {what}")
    return ids


def _label_folder_ids(root: Path, targets: Sequence[str]) -> list[str]:
    """Ids of the videos with a label file of the first target (a folder read only as audio)."""
    return _csv_ids(
        label_path(root, targets[0], "x").parent, "label files (needed to find the videos read as audio only)"
    )


def _partition_ids(root: Path, partition: str) -> list[str]:
    if partition not in PARTITION_NAMES:
        raise ValueError(f"unknown MuSe-CaR partition {partition!r}; expected {PARTITION_NAMES}")
    table = read_partition_table(partition_path(root))
    return sorted((i for i, p in table.items() if p == partition), key=int)


#: the raw waveform feature set (user-extracted WAVs, see the module docstring)
RAW_AUDIO = "audio"
#: default location of the raw audio, relative to the root (``{id}``: the video id)
DEFAULT_AUDIO_PATTERN = "audio/{id}.wav"


def audio_file(root: Path, pattern: str, video_id: str) -> Path:
    """The WAV of ``video_id``: ``pattern`` with ``{id}`` filled in, relative to ``root`` unless absolute."""
    if "{id}" not in pattern:
        raise ConfigError(f"data.args.audio_pattern must contain '{{id}}' (the video id), got {pattern!r}")
    path = Path(pattern.replace("{id}", str(video_id))).expanduser()
    return path if path.is_absolute() else Path(root) / path


def load_muse_car_recordings(
    root: str | Path,
    partition: str | None,
    features: Sequence[str],
    targets: Sequence[str] = TARGET_NAMES,
    use_segment_id: bool = False,
    nan_policy: str = "error",
    allow_missing_labels: bool | None = None,
    audio_pattern: str = DEFAULT_AUDIO_PATTERN,
) -> list[Recording]:
    """Read all videos of one partition.

    Args:
        root: corpus folder (see the module docstring for the layout).
        partition: ``"train"``, ``"devel"`` or ``"test"``; ``None`` = every video with feature
            files in the folder, no ``metadata/partition.csv`` needed (labels where present).
        features: label-aligned feature sets to read (folder names). The name ``"segment_id"``
            is reserved for the segment-id feature (see ``use_segment_id``) and not read from
            disk.
        targets: label dimensions, in the order of ``Recording.targets`` columns.
        use_segment_id: add the feature ``"segment_id"``: the topic segment id, ``(T, 1)``.
        nan_policy: how NaN feature cells are handled, see :func:`read_feature_file`.
        allow_missing_labels: return ``targets=None`` for videos without label files instead of
            raising; default: only for the test partition (its labels are not released).
        audio_pattern: where the raw ``audio`` feature set's WAV files are (see :func:`audio_file`).

    Returns:
        Recordings sorted by numeric id, on the label timeline (timestamps in seconds), with
        ``meta={"segment_id": (T,) int64}``.

    Raises:
        CorpusFormatError: any problem in the files (missing file, bad cell, feature rows not
            matching label rows, arousal and valence files disagreeing, feature sets with a
            different dimension in different files).
        ValueError: unknown partition or nan policy.
    """
    root = Path(root)
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if allow_missing_labels is None:
        allow_missing_labels = partition in ("test", None)
    file_features = [f for f in features if f not in (SEGMENT_FEATURE, RAW_AUDIO)]
    if partition is not None:
        video_ids = _partition_ids(root, partition)
    elif file_features:
        video_ids = _folder_ids(root, file_features)
    else:
        video_ids = _label_folder_ids(root, targets)
    use_segment_id = use_segment_id or SEGMENT_FEATURE in features
    dims: dict[str, tuple[int, Path]] = {}
    recordings = []
    for video_id in video_ids:
        labels = _read_targets(root, video_id, targets, allow_missing_labels)
        reference = (labels[0], labels[1], labels[3]) if labels is not None else None
        arrays: dict[str, np.ndarray] = {}
        for name in file_features:
            path = feature_path(root, name, video_id)
            if not path.is_file():
                if not path.parent.is_dir():
                    raise CorpusFormatError(
                        f"{path.parent}: feature folder not found (feature set {name!r}); {root} has the "
                        f"feature sets {available_feature_sets(root)}"
                    )
                raise CorpusFormatError(f"{path}: feature file not found (feature set {name!r}, video {video_id})")
            ts, seg, values = read_feature_file(path, nan_policy=nan_policy)
            if reference is None:
                reference = (path, ts, seg)
            else:
                _check_same_frames(reference[0], reference[1], reference[2], path, ts, seg)
            _check_dim(dims, name, path, values.shape[1])
            arrays[name] = values
        if reference is None:
            raise CorpusFormatError(
                f"{label_path(root, targets[0], video_id)}: video {video_id} has neither label "
                f"files nor feature sets to read, so its frames are unknown"
            )
        _, timestamps_ms, segment_ids = reference
        if RAW_AUDIO in features:
            arrays[RAW_AUDIO] = read_audio_frames(
                audio_file(root, audio_pattern, video_id),
                timestamps_ms.astype(np.float64) / 1000.0,
                SAMPLE_RATE,
                frame_seconds=LABEL_STEP_MS / 1000.0,
            )
        if use_segment_id:
            arrays[SEGMENT_FEATURE] = segment_ids.astype(np.float32)[:, None]
        recordings.append(
            Recording(
                id=video_id,
                features=arrays,
                timestamps=timestamps_ms.astype(np.float64) / 1000.0,
                targets=labels[2] if labels is not None else None,
                meta={"segment_id": segment_ids},
            )
        )
    return recordings


def _check_dim(dims: dict[str, tuple[int, Path]], name: str, path: Path, dim: int) -> None:
    """All files of one feature set must have the same number of feature columns."""
    expected, first = dims.setdefault(name, (dim, path))
    if dim != expected:
        raise CorpusFormatError(
            f"{path}: header (line 1) has {dim} feature columns but {first} of the same feature "
            f"set {name!r} has {expected}"
        )


# --------------------------------------------------------------------------- reader
class MuSeCaRExtractLayout(ExtractLayout):
    """``zoo extract --layout muse_car``: ``c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv``
    with header ``timestamp,segment_id,<columns>``, timestamps in integer ms (read back by
    :func:`read_feature_file`); label times from ``label_segments/<target>/<id>.csv``."""

    def render(self, recording_id: str, out: Any, segment_ids: np.ndarray | None, folder: str) -> str:
        ms = np.rint(np.asarray(out.timestamps) * 1000.0).astype(np.int64)
        seg = np.zeros(len(ms), dtype=np.int64) if segment_ids is None else np.asarray(segment_ids, np.int64)
        return feature_table(ms, seg, out.values, out.columns, number_format=NUMBER_FORMAT).decode("utf-8")

    def label_folder(self, output: Path) -> Path:
        return label_path(output, TARGET_NAMES[0], "_").parent

    def read_timeline(self, folder: Path, recording_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """A comma-separated header with ``timestamp`` in ms (and optionally ``segment_id``);
        other files are another layout's."""
        path = Path(folder) / f"{recording_id}.csv"
        if not path.is_file():
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = [c.strip().lower() for c in handle.readline().split(",")]
        if "timestamp" not in header:
            return None
        frame = pd.read_csv(path, skipinitialspace=True)
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        ms = pd.to_numeric(frame["timestamp"], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(ms))
        if len(bad):
            raise CorpusFormatError(f"{path}: line {bad[0] + 2}, field 'timestamp': not a number")
        seg = frame["segment_id"].to_numpy(dtype=np.int64) if "segment_id" in frame.columns else None
        return ms / 1000.0, seg


@register_corpus
class MuSeCaRCorpus(Corpus):
    """MuSe-CaR arousal/valence at 250 ms (MuSe 2020 MuSe-Wild), any label-aligned features.

    Stage partitions map to the corpus's ``train``/``devel``/``test``.

    Args:
        root: corpus folder in the challenge layout, or ``None`` for the synthetic corpus.
        features: feature set folder names, e.g. ``["egemaps", "vggish"]`` (early fusion).
        targets: ``"arousal"`` and/or ``"valence"``.
        synthetic_seed: seed of the synthetic corpus.
        use_segment_id: add the 1-d feature ``"segment_id"`` (topic segment id; Sun et al. 2020
            §5.2 add it to the input features).
        nan_policy: ``"error"`` or ``"interpolate"`` NaN feature cells (see
            :func:`read_feature_file`).
        normalize_features: the feature sets z-normalised with train statistics when the
            datamodule normalises; ``None`` (default) = all of them. Sun et al. 2020 (§5.2)
            standardise only the hand-crafted sets, e.g. ``["egemaps", "openpose"]``; the others
            (and ``segment_id`` unless listed) enter the model as stored. Listed sets that are not
            among ``features`` are ignored.
        audio_pattern: the raw ``audio`` feature set's WAV of each video, ``{id}`` standing for
            the video id; relative to ``root`` unless absolute (default ``audio/{id}.wav``).
    """

    name = "muse_car"
    layout_markers = ("c1_muse_wild", "metadata/partition.csv")
    level = "frame"
    label_step = LABEL_STEP_MS / 1000.0
    partitions = {"train": "train", "val": "devel", "test": "test"}
    targets = TARGET_NAMES
    label_range = {t: LABEL_RANGE for t in TARGET_NAMES}
    default_features = ("egemaps",)
    raw_audio_args = {"features": ["audio"]}
    prediction_format = "<out>/<partition>/<target>/<id>.csv with timestamp,value,segment_id (MuSe 2020)"
    time_unit = ("ms", 1000.0)  # the label files' timestamp column
    extract_layout = MuSeCaRExtractLayout(muse_format)
    feature_distributor = "the MuSe 2020 organisers"
    distributed_extractors = {
        "egemaps": {
            "extractor": "egemaps",
            "hop": 0.25,
            "win": 5.0,
            "options": {},
            "weights": None,
            "weights_sha256": None,
            "source": "MuSe 2020 organisers' eGeMAPS: openSMILE eGeMAPSv02 functionals, 5 s windows every 0.25 s",
        },
    }
    waveform_features = ("audio",)
    virtual_features = {
        "segment_id": (
            "is the topic segment id of the MuSe-CaR files, which raw media does not carry "
            "(a model trained with data.args.use_segment_id=false does without it)"
        ),
    }
    media_constants = {"segment_id": (1.0, "a media file is one topic segment: segment_id 1")}
    synthetic_version = SYNTHETIC_VERSION
    option_rules = {
        "use_segment_id": Rule(bool),
        "nan_policy": Rule(choices=NAN_POLICIES),
        "normalize_features": Rule(list, nullable=True, items=Rule(str, low=1), distinct=True),
        "audio_pattern": Rule(str, low=1),
    }

    @classmethod
    def recording_partitions(cls, root: Path, ids: Sequence[str]) -> dict[str, str | None]:
        """From ``metadata/partition.csv`` when the folder has one, else by id prefix."""
        table: dict[str, str] = {}
        if partition_path(root).is_file():
            table = {str(k): str(v) for k, v in read_partition_table(partition_path(root)).items()}
        by_prefix = super().recording_partitions(root, ids)
        return {str(i): table.get(str(i)) or by_prefix[str(i)] for i in ids}

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int = 0,
        use_segment_id: bool = False,
        nan_policy: str = "error",
        normalize_features: Sequence[str] | None = None,
        audio_pattern: str = DEFAULT_AUDIO_PATTERN,
    ) -> None:
        if nan_policy not in NAN_POLICIES:
            raise ConfigError(f"data.args.nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
        super().__init__(root, features, targets, synthetic_seed)
        self.use_segment_id = bool(use_segment_id) or SEGMENT_FEATURE in self.feature_names
        self.nan_policy = nan_policy
        if self.use_segment_id and SEGMENT_FEATURE not in self.feature_names:
            self.feature_names.append(SEGMENT_FEATURE)
        if isinstance(normalize_features, str):
            raise ConfigError(
                f"data.args.normalize_features must be a list of feature set names, got {normalize_features!r}"
            )
        self.normalize_features = None if normalize_features is None else list(normalize_features)
        if self.normalize_features is not None:
            # sets outside the list are passed through as stored; listed sets that are not used
            # are ignored, so a recipe can name every hand-crafted set
            self.raw_feature_names = tuple(n for n in self.feature_names if n not in self.normalize_features)
        if RAW_AUDIO in self.feature_names and RAW_AUDIO not in self.raw_feature_names:
            self.raw_feature_names = (*self.raw_feature_names, RAW_AUDIO)  # a waveform is never z-normalised
        audio_file(Path("."), audio_pattern, "0")  # checks the pattern
        self.audio_pattern = str(audio_pattern)

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options) -> Path:
        """The synthetic MuSe-CaR corpus (:mod:`zoo.data.corpora.muse_car.synthetic`)."""
        return write_synthetic_muse_car(out_dir, seed=seed, **options)

    def _load(self, partition: str | None) -> list[Recording]:
        return load_muse_car_recordings(
            self.resolve_root(),
            partition,
            self.feature_names,
            self.target_names,
            use_segment_id=self.use_segment_id,
            nan_policy=self.nan_policy,
            audio_pattern=self.audio_pattern,
        )

    def read(self, partition: str) -> list[Recording]:
        """Read ``partition`` (``train``/``devel``/``test``)."""
        return self._load(partition)

    def read_folder(self) -> list[Recording]:
        """Every video with feature files under :attr:`root` (no partition table needed),
        labelled where label files exist: a user's own videos in the MuSe layout."""
        return self._load(None)

    def feature_file(self, recording_id: str, feature_set: str) -> Path | None:
        """``label_aligned/<set>/<id>.csv`` (the raw audio: its WAV; ``segment_id``: none)."""
        if feature_set == SEGMENT_FEATURE or self.root is None:
            return None
        if feature_set == RAW_AUDIO:
            return audio_file(self.root, self.audio_pattern, recording_id)
        return feature_path(self.root, feature_set, recording_id)

    def write_predictions(
        self,
        out_dir: Path,
        partition: str | None,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Write MuSe prediction files ``<out_dir>/<partition>/<target>/<id>.csv``.

        Each file has the header ``timestamp,value,segment_id`` (timestamp in integer
        milliseconds, segment ids from ``recording.meta``), one row per label frame.
        """
        folder = self.prediction_folder(out_dir, partition)
        write_muse_predictions(folder, recording, preds, target_names)

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """Read one recording's MuSe prediction files ``<out_dir>/<partition>/<target>/<id>.csv``.

        Returns:
            ``(T, K)`` float32 predictions, column ``k`` for ``target_names[k]``.

        Raises:
            CorpusFormatError: a missing file, a malformed row, or timestamps that are not the
                recording's label frames (naming the file, line and first mismatching timestamp).
        """
        folder = self.prediction_folder(out_dir, partition)
        expected = np.rint(np.asarray(recording.timestamps) * 1000.0).astype(np.int64)
        columns = []
        for target in target_names:
            path = note_source(Path(folder) / target / f"{recording.id}.csv")
            if not path.is_file():
                raise CorpusFormatError(f"{path}: prediction file not found (target {target!r}, video {recording.id})")
            timestamps, values, _ = read_label_file(path)
            n = min(len(timestamps), len(expected))
            differ = np.flatnonzero(timestamps[:n] != expected[:n])
            if len(differ):
                row = int(differ[0])
                raise CorpusFormatError(
                    f"{path}: line {_line(row)}, field 'timestamp': {timestamps[row]} ms does not "
                    f"match the label frame {expected[row]} ms of video {recording.id}"
                )
            if len(timestamps) != len(expected):
                raise CorpusFormatError(
                    f"{path}: {len(timestamps)} prediction rows for the {len(expected)} label "
                    f"frames of video {recording.id} (first missing/extra timestamp: "
                    f"{(expected if len(expected) > n else timestamps)[n]} ms)"
                )
            columns.append(values)
        return np.stack(columns, axis=1).astype(np.float32)


def write_muse_predictions(
    out_dir: str | Path, recording: Recording, preds: np.ndarray, target_names: Iterable[str]
) -> list[Path]:
    """Write one recording's predictions in the MuSe 2020 format; return the written files."""
    target_names = list(target_names)
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim == 1:
        preds = preds[:, None]
    if preds.shape != (recording.num_frames, len(target_names)):
        raise ValueError(
            f"recording {recording.id}: predictions have shape {preds.shape}, expected "
            f"({recording.num_frames}, {len(target_names)}) for targets {target_names}"
        )
    if SEGMENT_FEATURE not in recording.meta:
        raise ValueError(f"recording {recording.id}: meta has no 'segment_id' to write")
    timestamps = np.rint(np.asarray(recording.timestamps) * 1000.0).astype(np.int64)
    segment_ids = np.asarray(recording.meta[SEGMENT_FEATURE]).astype(np.int64)
    written = []
    for k, target in enumerate(target_names):
        path = Path(out_dir) / target / f"{recording.id}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"timestamp": timestamps, "value": preds[:, k], "segment_id": segment_ids})
        frame.to_csv(path, index=False, float_format="%.6f")
        written.append(path)
    return written
