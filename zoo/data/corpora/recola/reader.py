"""RECOLA (AVEC 2016 release): corpus reader and datamodule.

Continuous arousal and valence of 27 French-speaking participants in remote dyadic
collaboration, annotated every 40 ms by six raters (Ringeval et al. 2013, "Introducing the
RECOLA multimodal corpus of remote collaborative and affective interactions", IEEE FG
workshops), as distributed for AVEC 2016 (Valstar et al. 2016, ACM MM workshops). The reader
expects the layout of that release::

    <root>/recordings_audio/{train,dev,test}_{1..9}.wav
    <root>/recordings_video/{train,dev,test}_{1..9}.mp4
    <root>/ratings_gold_standard/{arousal,valence}/<name>.arff
        @relation GOLDSTANDARD; Instance_name string, frameTime numeric, GoldStandard numeric;
        rows "dev_1,0.04,-0.022925"; 7501 frames every 40 ms from 0 to 300 s. Not distributed
        for the test recordings.
    <root>/ratings_individual/{arousal,valence}/<name>.csv
        ';'-separated, header "time;FM1;FM2;FM3;FF1;FF2;FF3" (names may carry trailing spaces)
    <root>/features_audio/{arousal,valence}/<name>.arff              Instance_name, frameTime, 88
    <root>/features_video_appearance/{arousal,valence}/<name>.arff   … 168
    <root>/features_video_geometric/{arousal,valence}/<name>.arff    … 632

Two modes:

* ``mode="features"`` — the organisers' ARFF features, any of ``audio``, ``video_appearance``,
  ``video_geometric``, read from the ``feature_target`` sub-folder (default ``arousal``: the
  release gives one file per target; the same features then serve both targets), checked to
  have the gold standard's frame times.
* ``mode="raw"`` — ``audio``: per 40 ms label frame the 640 samples of 16 kHz mono audio
  starting at the frame's time (``[round(t·16000), +640)``); the WAV's own rate is read from the
  file, other rates are resampled with :func:`torchaudio.functional.resample`, channels are
  averaged and (``audio_normalization="recording"``, the datamodule's default) the whole
  recording is z-normalised before it is cut (Tzirakis et al. 2017 §III-B). Audio must reach the
  last label time (up to 40 ms short, zero-padded with a warning); NaN/inf samples, empty and
  truncated files are refused. ``video``: per label frame
  the decoded video frame nearest in time (frame times from the stream's timestamps, the frame
  rate from the stream), cropped to ``crop_box`` (default: the centred square — RECOLA videos
  are face-centred close-ups) and resized to ``face_size``² pixels, uint8 RGB. Both are raw
  inputs: never z-normalised with train-partition statistics (:attr:`raw_feature_names`). Decoded arrays go into the
  corpus cache like any other partition (memory-mapped afterwards; ``use_cache=False`` keeps them in memory only).

Targets come from the gold standard (``ratings="gold"``), the mean of the individual raters
(``"mean"``) or one rater (``"FM1"``, ...). The test partition has no labels in the real release:
its recordings get ``targets=None`` (predictions work, scoring is refused). Every problem in the
files raises :class:`CorpusFormatError` naming the file and, where it applies, line and field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.config.option_rules import Rule
from zoo.data._checks import check_label_range, read_text, warn_outliers
from zoo.data.arff import read_arff, write_arff
from zoo.data.corpora.recola import format as recola_format
from zoo.data.corpora.recola.format import (
    AUDIO_FOLDER,
    FEATURE_FOLDERS,
    GOLD_ATTRIBUTES,
    GOLD_FLOAT_FORMAT,
    GOLD_FOLDER,
    GOLD_RELATION,
    RATERS,
    VIDEO_FOLDER,
    feature_folder,
    feature_path,
)
from zoo.data.corpora.recola.format import audio_path as _audio_path
from zoo.data.corpora.recola.format import gold_path as _gold_path
from zoo.data.corpora.recola.format import ratings_path as _ratings_path
from zoo.data.corpora.recola.format import video_path as _video_path
from zoo.data.corpora.recola.synthetic import SYNTHETIC_VERSION
from zoo.data.corpus import Corpus, waveform_record
from zoo.data.extract_layout import NUMBER_FORMAT, ExtractLayout
from zoo.data.raw_audio import SAMPLE_RATE, describe_non_finite, read_audio_frames
from zoo.data.registry import register_corpus
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.data.video_frames import read_video_frames
from zoo.errors import ConfigError, CorpusFormatError

__all__ = [
    "RecolaCorpus",
    "FEATURE_FOLDERS",
    "RAW_FEATURES",
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "recording_names",
    "read_gold_standard",
    "read_individual_ratings",
    "read_feature_arff",
    "read_audio_frames",
    "read_video_frames",
    "load_recola_recordings",
    "write_recola_predictions",
]

LABEL_STEP = 0.04
TARGET_NAMES = ("arousal", "valence")
#: the range of the gold standard and of every rater's trace (the annotation tool's scale)
LABEL_RANGE = (-1.0, 1.0)
PARTITION_NAMES = ("train", "dev", "test")
RAW_FEATURES = ("audio", "video")
MODES = ("features", "raw")
FRAME_SAMPLES = int(round(SAMPLE_RATE * LABEL_STEP))  # 640
_TIME_TOLERANCE = 1e-4  # seconds
_log = logging.getLogger(__name__)
#: attributes of the AVEC feature ARFFs that are not features (lower case; the baseline scripts
#: drop them): instance name, class label, frame time / time stamp
NON_FEATURE_ATTRIBUTES = frozenset({"name", "instance_name", "class", "frametime", "timestamp"})
#: attributes naming the recording of each row (compared with the file name)
NAME_ATTRIBUTES = ("instance_name", "name")
#: media extensions an instance name may carry after the recording name
MEDIA_SUFFIXES = (".wav", ".mp4", ".avi", ".arff")
AUDIO_NORMALIZATIONS = ("recording", "none")


# --------------------------------------------------------------------------- paths
# the layout is stated once, in zoo.data.corpora.recola.format
def _feature_path(root: Path, feature: str, target: str, name: str) -> Path:
    """``<root>/<FEATURE_FOLDERS[feature]>/<target>/<name>.arff``."""
    return feature_path(root, FEATURE_FOLDERS[feature], target, name)


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def recording_names(root: str | Path, partition: str | None) -> list[str]:
    """Names ``<partition>_<n>`` found in any corpus folder, sorted by number.

    ``partition=None`` lists every recording of the folder whatever its name (a user's own
    recordings in the corpus layout, for ``zoo predict MODEL FOLDER``), in natural order.
    """
    root = Path(root)
    if partition is None:
        pattern = re.compile(r"^(.+)$")
    elif partition not in PARTITION_NAMES:
        raise ValueError(f"unknown RECOLA partition {partition!r}; expected {PARTITION_NAMES}")
    else:
        pattern = re.compile(rf"^{partition}_(\d+)$")
    folders = [root / AUDIO_FOLDER, root / VIDEO_FOLDER]
    folders += [root / GOLD_FOLDER / t for t in TARGET_NAMES]
    folders += [root / f / t for f in FEATURE_FOLDERS.values() for t in TARGET_NAMES]
    names = {
        p.stem
        for folder in folders
        if note_source(folder).is_dir()
        for p in folder.iterdir()
        if pattern.match(p.stem) and p.suffix in (".wav", ".mp4", ".arff")
    }
    return sorted(names, key=_natural_key)


# --------------------------------------------------------------------------- readers
def _frame_times(data, path: Path) -> np.ndarray:
    if "frameTime" not in data.columns or not data.attributes[data.names.index("frameTime")].is_numeric:
        raise CorpusFormatError(f"{path}: no numeric attribute 'frameTime'; attributes {data.names[:5]}")
    times = np.asarray(data.columns["frameTime"], np.float64)
    if data.num_rows == 0:
        raise CorpusFormatError(f"{path}: no data rows")
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        raise CorpusFormatError(f"{path}: line {data.line_of_row(bad[0])}, attribute 'frameTime': missing value")
    bad = np.flatnonzero(np.diff(times) <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise CorpusFormatError(
            f"{path}: line {data.line_of_row(row)}, attribute 'frameTime': {times[row]} s does not "
            f"increase (previous row has {times[row - 1]} s)"
        )
    row = _first_off_step(times)
    if row is not None:
        raise CorpusFormatError(
            f"{path} (recording {path.stem}): line {data.line_of_row(row)}, attribute 'frameTime': "
            f"step {times[row] - times[row - 1]:.4f} s from the previous row, expected "
            f"{LABEL_STEP} s (RECOLA is annotated every 40 ms)"
        )
    return times


def _first_off_step(times: np.ndarray) -> int | None:
    """Index of the first row whose distance to the previous one is not :data:`LABEL_STEP`."""
    bad = np.flatnonzero(np.abs(np.diff(times) - LABEL_STEP) > _TIME_TOLERANCE)
    return int(bad[0]) + 1 if len(bad) else None


def _check_finite(path: Path, data, values: np.ndarray, names: Sequence[str]) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise CorpusFormatError(
            f"{path} (recording {path.stem}): line {data.line_of_row(row)}, attribute "
            f"{names[col]!r}: {describe_non_finite(values[row, col])} value "
            f"({len(bad)} such cell(s) in the file)"
        )


def _check_instance_names(path: Path, data) -> None:
    """Every row's ``Instance_name`` (or ``name``) is the file's recording: a file of another
    recording copied in under this name would otherwise be read as this one (leaking, e.g., a
    dev recording into train)."""
    column = next((a.name for a in data.attributes if a.name.lower() in NAME_ATTRIBUTES and not a.is_numeric), None)
    if column is None:
        return
    expected = path.stem
    values = data.columns[column]
    for value in set(values):
        name = None if value is None else value.strip()
        if name is not None and (
            name == expected or (Path(name).stem == expected and Path(name).suffix in MEDIA_SUFFIXES)
        ):
            continue
        row = values.index(value)
        raise CorpusFormatError(
            f"{path}: line {data.line_of_row(row)}, attribute {column!r}: {value!r} is not the file's "
            f"recording {expected!r} (is this another recording's file?)"
        )


def read_gold_standard(
    path: str | Path, label_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a gold-standard ARFF file.

    Args:
        path: the ``.arff`` file.
        label_range: refuse values outside ``(low, high)`` (the corpus's labels; ``None`` for
            prediction files, which may lie outside).

    Returns:
        ``(frame times in seconds (T,), values float32 (T,))``.

    Raises:
        CorpusFormatError: missing file or attribute, bad or missing values, times that do not
            increase, an instance name that is not the file's recording, a value outside
            ``label_range``.
    """
    path = Path(path)
    data = read_arff(path)
    if "GoldStandard" not in data.columns:
        raise CorpusFormatError(f"{path}: no attribute 'GoldStandard'; attributes {data.names}")
    _check_instance_names(path, data)
    times = _frame_times(data, path)
    values = data.numeric_matrix(["GoldStandard"])
    _check_finite(path, data, values, ["GoldStandard"])
    if label_range is not None:
        check_label_range(
            path, values, [label_range], lambda row, _: f"line {data.line_of_row(row)}, attribute 'GoldStandard'"
        )
    return times, values[:, 0].astype(np.float32)


def read_feature_arff(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one feature ARFF file (``Instance_name``, ``frameTime``, then numeric features).

    The attributes that the AVEC baseline scripts drop before training — instance name, class
    label and time stamps (:data:`NON_FEATURE_ATTRIBUTES`, matched case-insensitively) — are
    never feature dimensions, whatever their type and even when all their values are ``?``.

    Rows whose ``Instance_name`` is not the file's recording are refused; a value far outside its
    column gets a :class:`~zoo.errors.CorpusDataWarning` (:func:`~zoo.data._checks.warn_outliers`).

    Returns:
        ``(frame times (T,), features float32 (T, D))``, D = the other numeric attributes.
    """
    path = Path(path)
    data = read_arff(path)
    _check_instance_names(path, data)
    times = _frame_times(data, path)
    names = [a.name for a in data.attributes if a.is_numeric and a.name.lower() not in NON_FEATURE_ATTRIBUTES]
    if not names:
        raise CorpusFormatError(f"{path}: no numeric feature attributes besides {sorted(NON_FEATURE_ATTRIBUTES)}")
    values = data.numeric_matrix(names)
    _check_finite(path, data, values, names)
    warn_outliers(path, values, lambda row, col: f"line {data.line_of_row(row)}, attribute {names[col]!r}")
    return times, values.astype(np.float32)


def read_individual_ratings(
    path: str | Path, label_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Read a ``;``-separated individual-ratings CSV (header ``time;FM1;…``).

    Header names are stripped of surrounding spaces (the release has ``"FM1 "``).

    Args:
        path: the ``.csv`` file.
        label_range: refuse ratings outside ``(low, high)``.

    Returns:
        ``(times (T,), rater names, ratings float32 (T, R))``.
    """
    path = Path(path)
    lines = read_text(path, "individual ratings").splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise CorpusFormatError(f"{path}: empty file (expected a header line)")
    header_line, header = numbered[0]
    columns = [c.strip() for c in header.split(";")]
    if columns[0].lower() != "time" or len(columns) < 2:
        raise CorpusFormatError(f"{path}: line {header_line}: header must be 'time;<rater>;...', got {header[:60]!r}")
    rows, lines_of_rows = [], []
    for line_no, line in numbered[1:]:
        cells = line.split(";")
        if len(cells) != len(columns):
            raise CorpusFormatError(f"{path}: line {line_no}: {len(cells)} fields, expected {len(columns)} ({columns})")
        row = []
        for name, cell in zip(columns, cells):
            try:
                row.append(float(cell))
            except ValueError:
                raise CorpusFormatError(
                    f"{path}: line {line_no}, field {name!r}: non-numeric value {cell.strip()!r}"
                ) from None
            if not np.isfinite(row[-1]):
                raise CorpusFormatError(
                    f"{path} (recording {path.stem}): line {line_no}, field {name!r}: "
                    f"{describe_non_finite(row[-1])} value {cell.strip()!r}; expected a finite rating"
                )
        rows.append(row)
        lines_of_rows.append(line_no)
    if not rows:
        raise CorpusFormatError(f"{path}: no data rows")
    table = np.asarray(rows, np.float64)
    off = _first_off_step(table[:, 0])
    if off is not None:
        raise CorpusFormatError(
            f"{path} (recording {path.stem}): line {lines_of_rows[off]}, field 'time': step "
            f"{table[off, 0] - table[off - 1, 0]:.4f} s from the previous row, expected {LABEL_STEP} s "
            "(RECOLA is annotated every 40 ms)"
        )
    if label_range is not None:
        check_label_range(
            path,
            table[:, 1:],
            [label_range] * (len(columns) - 1),
            lambda row, col: f"line {lines_of_rows[row]}, field {columns[col + 1]!r}",
        )
    return table[:, 0], columns[1:], table[:, 1:].astype(np.float32)


def _check_times(ref_path: Path | str, ref: np.ndarray, path: Path, times: np.ndarray) -> None:
    """Raise unless ``times`` equal ``ref`` (within 0.1 ms), naming the first mismatch."""
    n = min(len(ref), len(times))
    differ = np.flatnonzero(np.abs(ref[:n] - times[:n]) > _TIME_TOLERANCE)
    if len(differ):
        row = int(differ[0])
        raise CorpusFormatError(
            f"{path}: frame times do not match {ref_path}: first mismatching frameTime "
            f"{times[row]:.4f} s (row {row + 1}), {ref[row]:.4f} s there"
        )
    if len(ref) != len(times):
        where = (
            f"first extra frameTime {times[n]:.4f} s" if len(times) > n else f"first missing frameTime {ref[n]:.4f} s"
        )
        raise CorpusFormatError(f"{path}: {len(times)} frames but {ref_path} has {len(ref)}; {where}")


# --------------------------------------------------------------------------- raw media
def _targets(
    root: Path, name: str, targets: Sequence[str], ratings: str, allow_missing: bool
) -> tuple[Path, np.ndarray, np.ndarray] | None:
    """``(reference file, times, (T, K) targets)`` of one recording, or None if unlabelled."""
    gold_paths = [note_source(_gold_path(root, t, name)) for t in targets]
    present = [p.is_file() for p in gold_paths]
    if not any(present) and allow_missing:
        return None
    if not all(present):
        raise CorpusFormatError(f"{gold_paths[present.index(False)]}: gold standard file not found")
    ref_path, columns, ref_times = gold_paths[0], [], None
    for target, gold_path in zip(targets, gold_paths):
        times, gold = read_gold_standard(gold_path, LABEL_RANGE)
        if ref_times is None:
            ref_times = times
        else:
            _check_times(ref_path, ref_times, gold_path, times)
        if ratings == "gold":
            columns.append(gold)
            continue
        rating_path = _ratings_path(root, target, name)
        r_times, raters, values = read_individual_ratings(rating_path, LABEL_RANGE)
        _check_times(ref_path, ref_times, rating_path, r_times)
        if ratings == "mean":
            if sorted(raters) != sorted(RATERS):
                lacking, extra = [r for r in RATERS if r not in raters], [r for r in raters if r not in RATERS]
                raise CorpusFormatError(
                    f"{rating_path}: header (line 1) has the raters {raters}; ratings='mean' averages the "
                    f"six RECOLA raters {list(RATERS)}"
                    + (f" — missing column(s) {lacking}" if lacking else "")
                    + (f" — unknown column(s) {extra}" if extra else "")
                )
            columns.append(values.mean(axis=1))
        elif ratings in raters:
            columns.append(values[:, raters.index(ratings)])
        else:
            raise CorpusFormatError(f"{rating_path}: no rater {ratings!r} in the header; raters: {raters}")
    return ref_path, ref_times, np.stack(columns, axis=1).astype(np.float32)


def _audio_timeline(path: Path) -> np.ndarray:
    """Label frame times 0, 0.04, … covering an audio file (as the gold standard would)."""
    import soundfile as sf

    if not note_source(path).is_file():
        raise CorpusFormatError(f"{path}: audio file not found (needed for the frame times of an unlabelled recording)")
    info = sf.info(str(path))
    n = int(np.floor(info.frames / info.samplerate / LABEL_STEP + 1e-9)) + 1
    return np.arange(n) * LABEL_STEP


def load_recola_recordings(
    root: str | Path,
    partition: str | None,
    features: Sequence[str],
    targets: Sequence[str] = TARGET_NAMES,
    mode: str = "features",
    ratings: str = "gold",
    feature_target: str = "arousal",
    face_size: int = 96,
    crop_box: Sequence[int] | None = None,
    sample_rate: int = SAMPLE_RATE,
    allow_missing_labels: bool | None = None,
    audio_normalization: str = "none",
) -> list[Recording]:
    """Read all recordings of one partition.

    Args:
        root: corpus folder (layout in the module docstring).
        partition: ``"train"``, ``"dev"`` or ``"test"``; ``None`` = every recording of the folder
            (labels where present).
        features: feature sets: in ``features`` mode any of :data:`FEATURE_FOLDERS`, in ``raw``
            mode ``"audio"`` and/or ``"video"``.
        targets: ``"arousal"`` and/or ``"valence"``, the column order of the targets.
        mode: ``"features"`` or ``"raw"``.
        ratings: ``"gold"``, ``"mean"`` (mean of the individual raters) or a rater name.
        feature_target: sub-folder of the feature folders to read (``arousal`` or ``valence``).
        face_size: raw video crop size in pixels.
        crop_box: raw video crop ``(left, top, width, height)``; ``None`` = centred square.
        sample_rate: raw audio rate (640 samples per frame at 16 kHz).
        allow_missing_labels: give unlabelled recordings ``targets=None``; default only for
            ``test`` (its gold standard is not distributed).
        audio_normalization: raw audio: ``"recording"`` z-normalises each recording's whole
            waveform before it is cut into frames (Tzirakis et al. 2017 §III-B), ``"none"``
            keeps the samples as read.

    Returns:
        Recordings sorted by number, on the gold-standard timeline (times in seconds).
    """
    root = Path(root)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    valid = RAW_FEATURES if mode == "raw" else tuple(FEATURE_FOLDERS)
    unknown = [f for f in features if f not in valid]
    if unknown or not features:
        raise ValueError(
            f"features {unknown or list(features)} are not available in {mode!r} mode; choose from {list(valid)}"
        )
    if feature_target not in TARGET_NAMES:
        raise ValueError(f"feature_target must be one of {TARGET_NAMES}, got {feature_target!r}")
    if audio_normalization not in AUDIO_NORMALIZATIONS:
        raise ValueError(f"audio_normalization must be one of {AUDIO_NORMALIZATIONS}, got {audio_normalization!r}")
    if allow_missing_labels is None:
        allow_missing_labels = partition in ("test", None)
    recordings = []
    for name in recording_names(root, partition):
        labels = _targets(root, name, targets, ratings, allow_missing_labels)
        ref_path, times = (labels[0], labels[1]) if labels is not None else (None, None)
        arrays: dict[str, np.ndarray] = {}
        if mode == "features":
            for feature in features:
                path = note_source(_feature_path(root, feature, feature_target, name))
                if not path.is_file():
                    raise CorpusFormatError(
                        f"{path}: feature file not found (feature set {feature!r}, recording {name})"
                    )
                f_times, values = read_feature_arff(path)
                if times is None:
                    ref_path, times = path, f_times
                else:
                    _check_times(ref_path, times, path, f_times)
                arrays[feature] = values
        else:
            if times is None:
                times = _audio_timeline(_audio_path(root, name))
            if "audio" in features:
                arrays["audio"] = read_audio_frames(
                    _audio_path(root, name), times, sample_rate, normalize=audio_normalization == "recording"
                )
            if "video" in features:
                arrays["video"] = read_video_frames(_video_path(root, name), times, face_size, crop_box)
        recordings.append(
            Recording(
                id=name,
                features=arrays,
                timestamps=times,
                targets=labels[2] if labels is not None else None,
            )
        )
    return recordings


# --------------------------------------------------------------------------- reader
def _arff_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_.\-]+", name) else "'" + name.replace("'", "\\'") + "'"


class RecolaExtractLayout(ExtractLayout):
    """``zoo extract --layout recola``: ``<feature folder>/{arousal,valence}/<id>.arff``.

    The AVEC 2016 feature folders hold one copy per target because the baseline shifts features
    per target; extracted features are not shifted, so both copies are identical (shift with
    ``label_shift``/``feature_delay`` in the datamodule). A file is ``@relation <folder>``,
    attributes ``Instance_name string``, ``frameTime numeric`` and one ``numeric`` per column,
    then ``@data`` rows ``<id>,<time>,<values>`` like the release's. The folder is one the reader
    reads (:data:`FEATURE_FOLDERS`); label times come from a gold-standard ARFF.
    """

    def folder_name(self, name: str | None, feature: str, modality: str) -> str:
        if name is None:
            default = {"audio": "audio", "visual": "video_appearance"}.get(modality)
            if default is None:
                raise ValueError(
                    f"the RECOLA layout has no {modality} feature folder; "
                    f"choose one of {sorted(FEATURE_FOLDERS)} with --name"
                )
            name = default
        if name in FEATURE_FOLDERS:
            return FEATURE_FOLDERS[name]
        if name in FEATURE_FOLDERS.values():
            return name
        raise ValueError(
            f"--name {name!r}: the RECOLA datamodule reads the feature sets {sorted(FEATURE_FOLDERS)} from "
            f"the folders {sorted(FEATURE_FOLDERS.values())} only; pass one of them, e.g. --name "
            f"video_appearance for face features (then data.args.features=[video_appearance])"
        )

    def feature_paths(self, output: Path, folder: str, recording_id: str) -> list[Path]:
        return [feature_path(output, folder, target, recording_id) for target in TARGET_NAMES]

    def render(self, recording_id: str, out: Any, segment_ids: np.ndarray | None, folder: str) -> str:
        lines = [f"@relation {_arff_name(folder or 'features')}", "", "@attribute Instance_name string"]
        lines += [
            "@attribute frameTime numeric",
            *(f"@attribute {_arff_name(c)} numeric" for c in out.columns),
            "",
            "@data",
        ]
        name = _arff_name(recording_id)
        rows = np.asarray(out.values, dtype=np.float64)
        lines += [
            f"{name},{t:.6f}," + ",".join(f"{v:{NUMBER_FORMAT}}" for v in row) for t, row in zip(out.timestamps, rows)
        ]
        return "\n".join(lines) + "\n"

    def label_folder(self, output: Path) -> Path:
        return Path(output) / GOLD_FOLDER / TARGET_NAMES[0]

    def read_timeline(self, folder: Path, recording_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        arff = Path(folder) / f"{recording_id}.arff"
        if not arff.is_file() or (Path(folder) / f"{recording_id}.csv").is_file():
            return None
        return read_gold_standard(arff)[0], None


@register_corpus
class RecolaCorpus(Corpus):
    """RECOLA arousal/valence at 40 ms (AVEC 2016 release), organiser features or raw media.

    Stage partitions map to the corpus's ``train``/``dev``/``test``; the official score is the
    CCC over the dev recordings concatenated (``val/ccc_*``).

    Args:
        root: corpus folder in the AVEC 2016 layout, or ``None`` for the synthetic corpus.
        features: feature sets (default ``["audio"]``); see :func:`load_recola_recordings`.
        targets: ``"arousal"`` and/or ``"valence"``.
        synthetic_seed: seed of the synthetic corpus.
        mode: ``"features"`` (organiser ARFF features) or ``"raw"`` (waveform and face crops).
        ratings: ``"gold"``, ``"mean"`` or a rater name (``"FM1"``, ...).
        feature_target: feature sub-folder read in ``features`` mode (``"arousal"``).
        face_size: raw video crop size (96, as Tzirakis et al. 2017).
        crop_box: raw video crop ``(left, top, width, height)``; ``None`` = centred square.
        synthetic_test_labels: whether the synthetic corpus has test labels (``False``
            reproduces the real release).
        audio_normalization: raw mode: ``"recording"`` (default) z-normalises each recording's
            waveform as a whole before it is cut into frames and windows, so that training
            windows and whole evaluation recordings see the same samples (Tzirakis et al. 2017
            §III-B); ``"none"`` keeps the samples as read.
    """

    name = "recola"
    layout_markers = (
        "ratings_gold_standard",
        "recordings_audio",
        "recordings_video",
        "features_*",
        "ratings_individual",
    )
    level = "frame"
    label_step = LABEL_STEP
    partitions = {"train": "train", "val": "dev", "test": "test"}
    targets = TARGET_NAMES
    label_range = {t: LABEL_RANGE for t in TARGET_NAMES}
    default_features = ("audio",)
    #: the audio as recorded: a bundle's own extractor applies the normalisation it was trained with
    raw_audio_args = {"mode": "raw", "features": ["audio"], "audio_normalization": "none"}
    extract_layout = RecolaExtractLayout(recola_format)
    feature_distributor = "the AVEC 2016 organisers"
    prediction_format = (
        "<out>/<partition>/<target>/<name>.arff in the gold-standard ARFF format, and "
        "<out>/<partition>/<name>.csv with frameTime,<targets>"
    )
    #: 6 s training windows with 50 % overlap (Tzirakis et al. 2017 train on 6 s sequences)
    datamodule_defaults = {"win_len": 150, "hop_len": 75}
    #: the synthetic writer's version: a cached corpus of another version is not reused
    synthetic_version = SYNTHETIC_VERSION
    option_rules = {
        "mode": Rule(choices=MODES),
        "feature_target": Rule(choices=TARGET_NAMES),
        "face_size": Rule(int, low=1),
        "crop_box": Rule(
            list, low=4, high=4, nullable=True, items=Rule(int, low=0), meaning="left, top, width, height"
        ),
        "audio_normalization": Rule(choices=AUDIO_NORMALIZATIONS),
    }

    @classmethod
    def feature_source_folder(cls, root: Path, feature: str, data_args: Mapping[str, Any]) -> Path | None:
        """In feature mode, the organisers' folder of a feature set (:data:`FEATURE_FOLDERS`)."""
        if data_args.get("mode", "features") != "features" or feature not in FEATURE_FOLDERS:
            return None
        return feature_folder(Path(root), FEATURE_FOLDERS[feature])

    @classmethod
    def raw_feature_record(
        cls, feature: str, data_args: Mapping[str, Any], label_step: float | None
    ) -> dict[str, Any] | None:
        """In raw mode: ``audio`` as the waveform (z-normalised per recording when
        ``audio_normalization=recording``), ``video`` as the ``face_crops`` extractor serving
        images with the run's ``face_size`` and ``crop_box`` (``"centre"`` when none)."""
        if data_args.get("mode", "features") != "raw" or not label_step:
            return None
        if feature == "audio":
            normalize = data_args.get("audio_normalization", "recording") == "recording"
            return waveform_record(cls.name, feature, label_step, normalize=normalize)
        if feature != "video":
            return None
        crop_box = data_args.get("crop_box")
        return {
            "extractor": "face_crops",
            "hop": float(label_step),
            "win": None,
            "options": {
                "size": int(data_args.get("face_size", 96)),
                "crop_box": "centre" if crop_box is None else [int(v) for v in crop_box],
                "face_present": False,
            },
            "weights": None,
            "weights_sha256": None,
            "source": "the recola reader's raw face crops: the frame nearest each label time, cropped and resized",
        }

    @classmethod
    def media_missing_reason(cls, feature: str, data_args: Mapping[str, Any]) -> str | None:
        """In raw mode the files go into the release's recording folders."""
        if data_args.get("mode") != "raw":
            return super().media_missing_reason(feature, data_args)
        suffix = "wav" if feature == "audio" else "mp4"
        return (
            f"feature set {feature!r} is RECOLA's raw {feature}, read by the datamodule in raw mode: put the "
            f"file into FOLDER/recordings_{feature}/<name>.{suffix} and run `zoo predict BUNDLE FOLDER`"
        )

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int = 0,
        mode: str = "features",
        ratings: str = "gold",
        feature_target: str = "arousal",
        face_size: int = 96,
        crop_box: Sequence[int] | None = None,
        synthetic_test_labels: bool = True,
        audio_normalization: str = "recording",
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"data.args.mode must be one of {MODES}, got {mode!r}")
        super().__init__(root, features, targets, synthetic_seed)
        valid = RAW_FEATURES if mode == "raw" else tuple(FEATURE_FOLDERS)
        unknown = [f for f in self.feature_names if f not in valid]
        if unknown:
            raise ConfigError(f"features {unknown} are not available in {mode!r} mode; choose from {list(valid)}")
        if feature_target not in TARGET_NAMES:
            raise ConfigError(f"data.args.feature_target must be one of {TARGET_NAMES}, got {feature_target!r}")
        if audio_normalization not in AUDIO_NORMALIZATIONS:
            raise ConfigError(
                f"data.args.audio_normalization must be one of {AUDIO_NORMALIZATIONS}, got {audio_normalization!r}"
            )
        if crop_box is not None and len(crop_box) != 4:
            raise ConfigError(f"data.args.crop_box must be (left, top, width, height), got {crop_box!r}")
        self.mode = mode
        self.ratings = str(ratings)
        self.feature_target = feature_target
        self.face_size = int(face_size)
        self.crop_box = None if crop_box is None else [int(v) for v in crop_box]
        self.synthetic_test_labels = bool(synthetic_test_labels)
        #: part of the reading options (and so of the cache key)
        self.audio_normalization = audio_normalization if mode == "raw" else "none"
        #: raw waveforms and images are never z-normalised with train-partition statistics
        self.raw_feature_names = RAW_FEATURES if mode == "raw" else ()

    def synthetic_variant(self) -> tuple[str, dict]:
        """``recola`` (test labels written) or ``recola-nolabels`` (as the real release)."""
        name = "recola" if self.synthetic_test_labels else "recola-nolabels"
        return name, {"with_test_labels": self.synthetic_test_labels}

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options) -> Path:
        """The synthetic RECOLA corpus (:mod:`zoo.data.corpora.recola.synthetic`)."""
        from zoo.data.corpora.recola.synthetic import write_synthetic_recola

        return write_synthetic_recola(out_dir, seed=seed, **options)

    def _load(self, partition: str | None) -> list[Recording]:
        return load_recola_recordings(
            self.resolve_root(),
            partition,
            self.feature_names,
            self.target_names,
            mode=self.mode,
            ratings=self.ratings,
            feature_target=self.feature_target,
            face_size=self.face_size,
            crop_box=self.crop_box,
            audio_normalization=self.audio_normalization,
        )

    def read(self, partition: str) -> list[Recording]:
        """Read ``partition`` (``train``/``dev``/``test``)."""
        return self._load(partition)

    def read_folder(self) -> list[Recording]:
        """Every recording of :attr:`root` whatever its name, labelled where a gold standard is
        present: a user's own recordings in the AVEC 2016 layout, for ``zoo predict MODEL FOLDER``.

        Raises:
            CorpusFormatError: no recording found, or the errors of :func:`load_recola_recordings`.
        """
        recordings = self._load(None)
        if not recordings:
            raise CorpusFormatError(
                f"{self.root}: no recordings found (expected recordings_audio/<name>.wav, "
                f"ratings_gold_standard/<target>/<name>.arff or features_*/<target>/<name>.arff)"
            )
        return recordings

    def feature_file(self, recording_id: str, feature_set: str) -> Path | None:
        """The feature ARFF (``features`` mode) or the WAV/MP4 (``raw`` mode) of a recording."""
        if self.root is None:
            return None
        if self.mode == "raw":
            return (_audio_path if feature_set == "audio" else _video_path)(self.root, recording_id)
        return _feature_path(self.root, feature_set, self.feature_target, recording_id)

    def write_predictions(
        self,
        out_dir: Path,
        partition: str | None,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Write ``<out_dir>/<partition>/<target>/<name>.arff`` in the gold-standard format, and the
        same values as one CSV per recording, ``<out_dir>/<partition>/<name>.csv``
        (``frameTime,<target>,...``), for the tools that do not read ARFF."""
        write_recola_predictions(self.prediction_folder(out_dir, partition), recording, preds, target_names)

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """Read ``<out_dir>/<partition>/<target>/<name>.arff`` back → ``(T, K)`` float32.

        Raises:
            CorpusFormatError: a missing or malformed file, or frame times that are not the
                recording's label frames (naming the file and the first differing frame).
        """
        folder = self.prediction_folder(out_dir, partition)
        columns = []
        for target in target_names:
            path = Path(folder) / target / f"{recording.id}.arff"
            if not path.is_file():
                raise CorpusFormatError(
                    f"{path}: prediction file not found (target {target!r}, recording {recording.id})"
                )
            times, values = read_gold_standard(path)
            _check_times(
                f"the label frames of recording {recording.id}",
                np.asarray(recording.timestamps, np.float64),
                path,
                times,
            )
            columns.append(np.asarray(values, np.float32).reshape(-1))
        return np.stack(columns, axis=1)


def write_recola_predictions(
    out_dir: str | Path, recording: Recording, preds: np.ndarray, target_names: Sequence[str]
) -> list[Path]:
    """Write one recording's ``(T, K)`` predictions as gold-standard ARFF files.

    Each target gets ``<out_dir>/<target>/<name>.arff`` with ``@relation GOLDSTANDARD`` and the
    attributes ``Instance_name string``, ``frameTime numeric``, ``GoldStandard numeric``.

    Returns:
        The written files.
    """
    target_names = list(target_names)
    preds = np.asarray(preds, np.float64)
    if preds.ndim == 1:
        preds = preds[:, None]
    if preds.shape != (recording.num_frames, len(target_names)):
        raise ValueError(
            f"recording {recording.id}: predictions have shape {preds.shape}, expected "
            f"({recording.num_frames}, {len(target_names)}) for targets {target_names}"
        )
    written = []
    for k, target in enumerate(target_names):
        written.append(
            write_arff(
                Path(out_dir) / target / f"{recording.id}.arff",
                GOLD_RELATION,
                GOLD_ATTRIBUTES,
                [[recording.id] * recording.num_frames, np.asarray(recording.timestamps), preds[:, k]],
                float_format=GOLD_FLOAT_FORMAT,
            )
        )
    table = Path(out_dir) / f"{recording.id}.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    rows = np.column_stack([np.asarray(recording.timestamps, np.float64), preds])
    time_format, value_format = GOLD_FLOAT_FORMAT[1], GOLD_FLOAT_FORMAT[2]  # as in the ARFF files
    header = ",".join(["frameTime", *target_names])
    np.savetxt(
        table, rows, fmt=[time_format] + [value_format] * len(target_names), delimiter=",", header=header, comments=""
    )
    written.append(table)
    return written
