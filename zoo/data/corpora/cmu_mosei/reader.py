"""CMU-MOSEI: segment-level emotion intensities from word-aligned text, audio and visual features.

CMU-MOSEI (Zadeh et al. 2018, "Multimodal Language Analysis in the Wild: CMU-MOSEI Dataset and
Interpretable Dynamic Fusion Graph", ACL) labels sentence segments of YouTube monologues with a
sentiment in [-3, 3] and six emotion intensities in [0, 3] (``All Labels`` columns
``[sentiment, happy, sad, anger, surprise, disgust, fear]``). Two distributed forms are read:

* ``format="csd"`` — the SDK's computational sequences (:mod:`zoo.data.corpora.cmu_mosei.csd`), aligned to the
  words and cut into labelled segments by :mod:`zoo.data.corpora.cmu_mosei.align` (cached on disk).
* ``format="pkl"`` — an aligned pickle ``{"train"|"valid"|"test": {"text", "audio", "vision",
  "id", "regression_labels" | "labels", ...}}`` with ``(N, L, D)`` arrays (e.g. MMSA's
  ``aligned_50.pkl``: audio ``(N, 50, 74)``, vision ``(N, 50, 35)``; MulT's
  ``mosei_senti_data.pkl``). It is read with a restricted :class:`pickle.Unpickler` (any pickle
  protocol, 2–5) that only reconstructs NumPy arrays/dtypes/scalars and plain containers; any
  other class in the file (a code payload) is refused. Padding: the steps marked valid by the
  layout's own mask when it carries one — MMSA's BERT mask ``text_bert[:, 1]``, else its
  ``audio_lengths``/``vision_lengths`` (the valid steps at the end the padding is not on) — and
  otherwise the steps where every array of the segment is exactly 0 are padding. Padding is
  removed and the remaining steps re-packed to the left. ``-inf``/NaN feature values are replaced
  by 0 (and counted in a log line). Label columns: 7 → the ``All Labels`` order, 6 → the six
  emotions in that order, 1 → sentiment (MMSA's ``regression_labels`` ``(N,)``, MulT's ``labels``
  ``(N, 1, 1)``: the shared layouts carry sentiment only).

Hostile data: a video id listed in two folds (in the folds file, or among the pickle's
partitions, also a segment id listed twice) is an error, and so is a label outside its range
(sentiment [-3, 3], emotions [0, 3]; the error names the file, the video or segment and the
column). Segments whose chosen labels are NaN/inf, ``.csd`` words/frames/segments with non-finite
intervals or ending before they start, and fold videos missing from a file (the partition would
shrink) are dropped with a :class:`MoseiDataWarning` saying how many, why and in which file; NaN/inf
word vectors (replaced by 0) are reported alike; ``strict=True`` makes each of them a
:class:`~zoo.data._sequence.CorpusFormatError` instead. A feature value far outside its column
gets a :class:`~zoo.errors.CorpusDataWarning` naming the file, and a feature set whose width
changes from one video to the next is refused, naming the file and both videos.

Items are segments: the word steps of the segment (at most ``maxlen``; a longer segment keeps its
**last** ``maxlen`` words, as Williams et al. 2018's ``pad`` does — ``truncate="first"`` keeps the
first ones), right-padded in the batch with a left-aligned ``mask``; targets are ``(B, K)``.
``label_step`` is ``0.0``: a segment has no fixed frame step (the steps are words).

Folds: ``folds=None`` uses the SDK's standard folds (``zoo/data/corpora/cmu_mosei/folds.json``:
2249 train / 300 valid / 678 test videos) for a real corpus, and the synthetic corpus's own
``folds.json`` for ``root=None``; a path gives any JSON ``{"train": [...], "valid": [...],
"test": [...]}`` of video ids (``val``/``dev`` are accepted for ``valid``).

Normalisation (``normalize``): ``True``/``"zscore"`` z-scores each feature set with train
statistics over valid word steps; ``"maxabs"`` divides by the train maximum absolute value per
dimension (what Williams et al. did for COVAREP and FACET); ``False`` leaves features as read.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.config.option_rules import Rule
from zoo.data._checks import WidthCheck, check_label_range, read_text, warn_outliers
from zoo.data.corpora.cmu_mosei.align import (
    EPSILON,
    FEATURE_FILES,
    LABEL_COLUMNS,
    LABELS_FILE,
    REFERENCE,
    WEIGHTINGS,
    iter_aligned_videos,
)
from zoo.data.corpora.cmu_mosei.synthetic import (
    PICKLE_VERSION,
    SYNTHETIC_VERSION,
    write_aligned_pickle,
    write_synthetic_cmu_mosei,
)
from zoo.data.corpus import Corpus
from zoo.data.raw_audio import SAMPLE_RATE, cut_frames, read_waveform
from zoo.data.registry import register_corpus
from zoo.data.sources import note_source
from zoo.data.synthetic import ensure_synthetic
from zoo.data.types import Recording
from zoo.errors import ConfigError, CorpusDataWarning, CorpusFormatError

__all__ = [
    "CmuMoseiCorpus",
    "MoseiDataWarning",
    "load_folds",
    "read_aligned_pickle",
    "STANDARD_FOLDS_PATH",
]

logger = logging.getLogger(__name__)

STANDARD_FOLDS_PATH = Path(__file__).parent / "folds.json"
EMOTIONS = LABEL_COLUMNS[1:]
FORMATS = ("csd", "pkl")
TRUNCATIONS = ("last", "first")
#: modality aliases → default feature set, per format
ALIASES = {
    "csd": {
        "text": "glove_vectors",
        "audio": "COVAREP",
        "video": "FACET 4.2",
        "vision": "FACET 4.2",
        "visual": "FACET 4.2",
    },
    "pkl": {"text": "text", "audio": "audio", "video": "vision", "vision": "vision", "visual": "vision"},
}
PKL_FEATURES = ("text", "audio", "vision")
#: the raw waveform feature set (``.csd`` format): each segment's audio, from its first word's
#: start to its last word's end, in 20 ms rows of 320 samples (16 kHz)
WAVEFORM = "waveform"
#: served with it: per 20 ms row, the index of the segment word whose interval holds the row's
#: centre, -1 between words (the model pools its encoder frames into these words)
WAVEFORM_WORD = "waveform_word"
WAVEFORM_STEP = 0.02
#: default place of the full-video WAV files, relative to the ``.csd`` folder (``{id}``: video id)
DEFAULT_AUDIO_PATTERN = "audio/{id}.wav"
PKL_LABEL_KEYS = ("regression_labels", "labels")
PARTITIONS = ("train", "valid", "test")
#: value range of each label column (Zadeh et al. 2018: sentiment [-3, 3], emotions [0, 3])
LABEL_RANGES = {"sentiment": (-3.0, 3.0), **{e: (0.0, 3.0) for e in EMOTIONS}}
#: what each shared pickle layout's labels hold, for the error when targets are missing
PKL_LAYOUTS = (
    "MMSA (regression_labels (N,): sentiment; also classification_labels, raw_text, text_bert, "
    "audio_lengths, vision_lengths) and MulT (labels (N, 1, 1): sentiment) carry sentiment only; "
    "a pickle with 7 label columns (All Labels order) or 6 (the emotions) carries the emotions"
)


class MoseiDataWarning(CorpusDataWarning):
    """Segments or videos of CMU-MOSEI were dropped (``strict=False``); the message says how many and why."""


def _report(
    where: str, reasons: Mapping[str, int], strict: bool, unit: str = "segment(s)", verb: str = "dropped"
) -> None:
    """Warn (or, with ``strict``, raise) about dropped items: ``reasons`` maps a reason → count."""
    reasons = {r: n for r, n in reasons.items() if n}
    if not reasons:
        return
    total = sum(reasons.values())
    text = f"{where}: {total} {unit} {verb}: " + "; ".join(f"{n} {r}" for r, n in reasons.items())
    if strict:
        raise CorpusFormatError(text + " (strict=True)")
    warnings.warn(text + " (strict=True makes this an error)", MoseiDataWarning, stacklevel=3)


def _label_locator(video: Any) -> Any:
    """``locate(segment, column)`` in the label file for an aligned video's segments."""
    return lambda s, name: f"video {video.video_id!r}, label row {int(video.segment_rows[s])}, column {name!r}"


def _step_locator(partition: str, key: str, ids: Sequence[str], steps: np.ndarray) -> Any:
    """``locate(row, column)`` for the valid ``steps`` (``(M, 2)`` segment, step) of a pickle key."""

    def locate(row: int, col: int) -> str:
        segment, step = (int(i) for i in steps[row])
        return f"partition {partition!r}, key {key!r}, segment {segment} ({ids[segment]}), step {step}, column {col}"

    return locate


def _finite_labels(path: Path | str, labels: np.ndarray, names: Sequence[str], locate) -> np.ndarray:
    """``(S,)`` bool: the segments whose labels (columns in ``names`` order) are all finite; the
    finite ones must lie in their range (:data:`LABEL_RANGES`).

    Raises:
        CorpusFormatError: a label outside its range, naming ``path`` and ``locate(segment, column)``.
    """
    finite = np.isfinite(labels).all(axis=1)
    rows = np.flatnonzero(finite)
    check_label_range(
        path,
        labels[rows],
        [LABEL_RANGES.get(n, (-np.inf, np.inf)) for n in names],
        lambda row, col: locate(int(rows[row]), names[col]),
    )
    return finite


# --------------------------------------------------------------------------- folds
def load_folds(path: str | Path) -> dict[str, list[str]]:
    """Read a split file ``{"train": [...], "valid": [...], "test": [...]}`` of video ids.

    Raises:
        CorpusFormatError: missing or unreadable file, not UTF-8 JSON, a missing partition, a
            non-string id, or a video in two folds.
    """
    path = Path(path)
    try:
        data = json.loads(read_text(path, "CMU-MOSEI folds"))
    except json.JSONDecodeError as err:
        raise CorpusFormatError(f"{path}: folds file is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CorpusFormatError(f"{path}: folds file must hold a JSON object with train/valid/test lists")
    folds = {}
    for part, names in (("train", ("train",)), ("valid", ("valid", "val", "dev")), ("test", ("test",))):
        key = next((n for n in names if n in data), None)
        if key is None:
            raise CorpusFormatError(f"{path}: folds file has no {part!r} list (keys: {sorted(data)})")
        ids = data[key]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise CorpusFormatError(f"{path}: field {key!r} must be a list of video id strings")
        folds[part] = ids
    seen: dict[str, str] = {}
    for part, ids in folds.items():
        for video in ids:
            if video in seen:
                where = f"twice in {part!r}" if seen[video] == part else f"in both {seen[video]!r} and {part!r}"
                raise CorpusFormatError(
                    f"{path}: video id {video!r} is listed {where}; a video must belong to "
                    "exactly one fold (its segments would leak between partitions)"
                )
            seen[video] = part
    return folds


# --------------------------------------------------------------------------- pickle
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that reconstructs NumPy arrays, dtypes and scalars and nothing else."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.numeric", "_frombuffer"),  # arrays in protocol-5 pickles (in-band buffers)
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core"):  # pickles written by NumPy 1.x
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused to load {module}.{name}: the aligned pickle may only hold NumPy arrays and plain containers"
        )


def _load_pickle(path: Path) -> Any:
    note_source(path)
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise CorpusFormatError(f"{path}: {err}") from None
    except (EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError) as err:
        raise CorpusFormatError(f"{path}: not a readable aligned pickle ({type(err).__name__}: {err})") from None


def _segment_id(raw: Any) -> str:
    if isinstance(raw, (bytes, np.bytes_)):
        return bytes(raw).decode("utf-8", errors="replace")
    if isinstance(raw, np.ndarray) and raw.ndim > 0:
        return "_".join(_segment_id(x) for x in raw.reshape(-1))
    return str(raw.item() if isinstance(raw, np.generic) else raw)


def _zero_padding(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N, L)`` True where every array of the segment is exactly 0 at that step."""
    first = next(iter(arrays.values()))
    padding = np.ones(first.shape[:2], dtype=bool)
    for x in arrays.values():
        padding &= np.all(x == 0, axis=2)
    return padding


def layout_valid_steps(
    path: Path, partition: str, part: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, str]:
    """``(N, L)`` valid (non-padding) steps of a pickle partition, and where they came from.

    In order: MMSA's BERT mask ``text_bert[:, 1]`` (``(N, 3, L)``: token ids, mask, segment ids);
    MMSA's ``audio_lengths`` / ``vision_lengths`` (``(N,)``; the valid steps sit at the end the
    zeros are not on, first steps when both ends are zero); else the steps that are not all-zero in
    every array. Lengths that do not fit the arrays (longer than L, or real values on both sides)
    are not used (logged).

    Raises:
        CorpusFormatError: a ``text_bert`` or ``*_lengths`` field of the wrong shape.
    """
    first = next(iter(arrays.values()))
    n, steps = first.shape[:2]
    zero = _zero_padding(arrays)
    if "text_bert" in part:
        bert = np.asarray(part["text_bert"])
        if bert.ndim != 3 or bert.shape[0] != n or bert.shape[1] != 3 or bert.shape[2] != steps:
            raise CorpusFormatError(
                f"{path}: partition {partition!r}, key 'text_bert': shape {bert.shape}, expected "
                f"({n}, 3, {steps}) (token ids, attention mask, segment ids)"
            )
        return bert[:, 1] > 0, "the text_bert attention mask"
    keys = [k for k in ("audio_lengths", "vision_lengths", "text_lengths") if k in part]
    if keys:
        lengths = []
        for key in keys:
            raw = np.asarray(part[key])
            if raw.shape != (n,) or not np.issubdtype(raw.dtype, np.number):
                raise CorpusFormatError(
                    f"{path}: partition {partition!r}, key {key!r}: shape {raw.shape} dtype "
                    f"{raw.dtype}, expected ({n},) integer lengths"
                )
            lengths.append(raw.astype(np.int64))
        length = np.max(lengths, axis=0)
        if (length >= 0).all() and (length <= steps).all():
            idx = np.arange(steps)[None, :]
            first_steps, last_steps = idx < length[:, None], idx >= (steps - length)[:, None]
            right_ok = (zero | first_steps).all(axis=1)  # everything after the length is zero
            left_ok = (zero | last_steps).all(axis=1)
            if (right_ok | left_ok).all():
                return np.where((right_ok | ~left_ok)[:, None], first_steps, last_steps), " / ".join(keys)
        logger.info(
            "CMU-MOSEI pickle %s [%s]: %s do not fit the arrays; padding = all-zero steps",
            path.name,
            partition,
            " / ".join(keys),
        )
    return ~zero, "all-zero steps"


def _video_of(segment_id: str) -> str:
    """The video of a segment id: ``<video>$_$<clip>`` (MMSA), ``<video>[<row>]`` (the SDK's
    segment names); any other id is its own video."""
    if "$_$" in segment_id:
        return segment_id.rsplit("$_$", 1)[0]
    if segment_id.endswith("]") and "[" in segment_id:
        return segment_id.rsplit("[", 1)[0]
    return segment_id


def _check_partition_overlap(path: Path, data: Mapping[str, Any]) -> None:
    """No segment id, and no video, in two partitions of an aligned pickle (as for the folds file).

    Raises:
        CorpusFormatError: naming the file, both partitions, the key and the id.
    """
    segments: dict[str, str] = {}
    videos: dict[str, str] = {}
    for partition in PARTITIONS:
        part = data.get(partition)
        if not isinstance(part, dict) or part.get("id") is None:
            continue
        for i, raw in enumerate(part["id"]):
            seg_id = _segment_id(raw)
            if seg_id in segments:
                where = (
                    f"twice in {partition!r}"
                    if segments[seg_id] == partition
                    else f"in {segments[seg_id]!r} and {partition!r}"
                )
                raise CorpusFormatError(
                    f"{path}: partition {partition!r}, key 'id', row {i}: segment {seg_id!r} is listed {where}; "
                    "a segment must belong to exactly one partition"
                )
            segments[seg_id] = partition
            video = _video_of(seg_id)
            if videos.setdefault(video, partition) != partition:
                raise CorpusFormatError(
                    f"{path}: partition {partition!r}, key 'id', row {i}: segment {seg_id!r} is of video "
                    f"{video!r}, which partition {videos[video]!r} holds too; a video must belong to exactly "
                    "one fold (its segments would leak between partitions)"
                )


def read_aligned_pickle(
    path: str | Path, partition: str, feature_names: Sequence[str], label_key: str | None = None
) -> tuple[list[str], dict[str, np.ndarray], np.ndarray, list[str], np.ndarray]:
    """Read one partition of an aligned pickle.

    Args:
        path: the pickle file.
        partition: ``train``, ``valid`` or ``test``.
        feature_names: keys of the feature arrays (``text``, ``audio``, ``vision``).
        label_key: key of the labels; default the first of ``regression_labels``, ``labels``.

    Returns:
        ``(ids, features {name: (N, L, D) as stored}, labels (N, C) float32, label_columns,
        valid (N, L) bool)`` — ``valid`` from :func:`layout_valid_steps`.

    Raises:
        CorpusFormatError: refused/unreadable pickle, missing partition or key, or shapes that do
            not fit (each error names the file, partition and key).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: aligned pickle not found")
    data = _load_pickle(path)
    if not isinstance(data, dict) or partition not in data:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CorpusFormatError(
            f"{path}: no partition {partition!r}; the pickle holds {found} (expected keys {list(PARTITIONS)})"
        )
    part = data[partition]
    if not isinstance(part, dict):
        raise CorpusFormatError(f"{path}: partition {partition!r} is a {type(part).__name__}, expected a dict")
    _check_partition_overlap(path, data)
    features: dict[str, np.ndarray] = {}
    n = None
    for name in feature_names:
        if name not in part:
            raise CorpusFormatError(f"{path}: partition {partition!r} has no key {name!r} (keys: {sorted(part)})")
        x = np.asarray(part[name])
        if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
            raise CorpusFormatError(
                f"{path}: partition {partition!r}, key {name!r}: shape {x.shape} dtype "
                f"{x.dtype}, expected a numeric (N, L, D) array"
            )
        if n is not None and len(x) != n:
            raise CorpusFormatError(
                f"{path}: partition {partition!r}, key {name!r}: {len(x)} segments, but {feature_names[0]!r} has {n}"
            )
        if n is not None and x.shape[1] != features[feature_names[0]].shape[1]:
            raise CorpusFormatError(
                f"{path}: partition {partition!r}, key {name!r}: {x.shape[1]} steps per "
                f"segment, but {feature_names[0]!r} has {features[feature_names[0]].shape[1]}"
            )
        n = len(x)
        features[name] = x
    key = label_key or next((k for k in PKL_LABEL_KEYS if k in part), None)
    if key is None or key not in part:
        raise CorpusFormatError(
            f"{path}: partition {partition!r} has no label key "
            f"{label_key or ' / '.join(PKL_LABEL_KEYS)!r} (keys: {sorted(part)})"
        )
    try:
        labels = np.asarray(part[key], dtype=np.float32)
    except (TypeError, ValueError):
        raise CorpusFormatError(f"{path}: partition {partition!r}, key {key!r} is not numeric") from None
    labels = labels.reshape(len(labels), -1) if labels.ndim != 1 else labels[:, None]
    if len(labels) != n:
        raise CorpusFormatError(f"{path}: partition {partition!r}, key {key!r}: {len(labels)} labels for {n} segments")
    columns = {7: list(LABEL_COLUMNS), 6: list(EMOTIONS), 1: ["sentiment"]}.get(labels.shape[1])
    if columns is None:
        raise CorpusFormatError(
            f"{path}: partition {partition!r}, key {key!r}: {labels.shape[1]} label columns; "
            "expected 7 (All Labels), 6 (emotions) or 1 (sentiment)"
        )
    raw_ids = part.get("id")
    if raw_ids is not None and len(raw_ids) != n:
        raise CorpusFormatError(f"{path}: partition {partition!r}, key 'id': {len(raw_ids)} ids for {n} segments")
    ids = [_segment_id(i) for i in raw_ids] if raw_ids is not None else [f"{partition}[{i}]" for i in range(n)]
    valid, _ = layout_valid_steps(path, partition, part, features)
    return ids, features, labels, columns, valid


# --------------------------------------------------------------------------- datamodule
@register_corpus
class CmuMoseiCorpus(Corpus):
    """CMU-MOSEI segments with word-level early-fusion inputs (see the module docstring).

    Args:
        root: corpus folder with the ``.csd`` files (``format="csd"``), or the aligned pickle /
            a folder holding one (``format="pkl"``); ``None`` → the synthetic corpus.
        features: modality aliases (``text``, ``audio``, ``video``) and/or feature set names
            (``glove_vectors``, ``COVAREP``, ``FACET 4.2``, ``OpenFace_2``; pickle keys ``text``,
            ``audio``, ``vision``), fused in this order; default text, audio, video. Or ``waveform``
            alone (``.csd`` format): each segment's raw audio (:data:`WAVEFORM`) with its row →
            word map (:data:`WAVEFORM_WORD`), for speech encoders that pool into the words.
        targets: target columns; default the six emotions; ``sentiment`` is also available.
        synthetic_seed: seed of the synthetic corpus.
        format: ``"csd"`` or ``"pkl"``.
        modalities: same as ``features`` (give one of the two).
        maxlen: most word steps per segment (Williams et al.: 15, 20, 25, 30).
        truncate: ``"last"`` (keep the last ``maxlen`` words, as the paper) or ``"first"``.
        folds: ``None`` (standard folds; the synthetic corpus's own for ``root=None``) or a JSON
            split file.
        weighting: word-alignment weighting (``overlap`` or ``uniform``), ``.csd`` only.
        csd_files: file names overriding the release's (feature set or ``labels`` → file name).
        cache_dir: alignment cache base folder (default: the affect-zoo cache); the datamodule's
            corpus cache uses the same option.
        label_key: label key of the pickle (default ``regression_labels`` then ``labels``).
        strict: make dropped segments/videos (bad labels, non-finite intervals, fold videos
            missing from a file) errors instead of :class:`MoseiDataWarning` warnings.
        audio_pattern: the full-video WAV of each video for the raw ``waveform`` feature set,
            ``{id}`` standing for the video id; relative to the ``.csd`` folder unless absolute
            (default ``audio/{id}.wav``). The ``.csd`` release has no audio; the raw CMU-MOSEI
            archive's WAV files are distributed separately.
    """

    name = "cmu_mosei"
    layout_markers = ("*.csd", "*.pkl")
    level = "segment"
    label_step = 0.0
    partitions = {"train": "train", "val": "valid", "test": "test"}
    targets = LABEL_COLUMNS
    label_range = LABEL_RANGES
    default_targets = EMOTIONS
    default_features = ("text", "audio", "video")
    raw_audio_args = {"format": "csd", "features": ["waveform"]}
    feature_distributor = "the CMU-MultimodalSDK"
    virtual_features = {
        "waveform": (
            "is the audio of each transcribed CMU-MOSEI segment, which a media file does not have "
            "(segment-level models take segments and their words)"
        ),
        "waveform_word": "is the word of each 20 ms audio row of a CMU-MOSEI segment",
    }
    prediction_format = "<out>/<partition>.csv with segment_id,<targets> (one row per segment)"
    synthetic_version = SYNTHETIC_VERSION
    #: Williams et al. 2018 train with batches of 64 segments; whole segments, no windows. The
    #: corpus cache stays off: segments would be tens of thousands of tiny memory-mapped files,
    #: and the ``.csd`` alignment already has its own cache (:mod:`zoo.data.corpora.cmu_mosei.align`).
    datamodule_defaults = {
        "batch_size": 64,
        "eval_batch_size": 256,
        "num_workers": 0,
        "win_len": None,
        "use_cache": False,
        # frozen encoder outputs are cached all the same: per word, they are what costs
        "cache_encoded": True,
    }
    option_rules = {
        "format": Rule(choices=FORMATS),
        "modalities": Rule(list, low=1, nullable=True, items=Rule(str, low=1), distinct=True),
        "maxlen": Rule(int, low=1),
        "truncate": Rule(choices=TRUNCATIONS),
        "folds": Rule(str, low=1, nullable=True, path=True, meaning="null: the standard folds"),
        "weighting": Rule(choices=WEIGHTINGS),
        "strict": Rule(bool),
        "audio_pattern": Rule(str, low=1),
    }

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int = 0,
        format: str = "csd",
        modalities: Sequence[str] | None = None,
        maxlen: int = 20,
        truncate: str = "last",
        folds: str | Path | None = None,
        weighting: str = "overlap",
        csd_files: Mapping[str, str] | None = None,
        cache_dir: str | Path | None = None,
        label_key: str | None = None,
        strict: bool = False,
        audio_pattern: str = DEFAULT_AUDIO_PATTERN,
    ) -> None:
        if format not in FORMATS:
            raise ConfigError(f"data.args.format must be one of {FORMATS}, got {format!r}")
        if truncate not in TRUNCATIONS:
            raise ConfigError(f"data.args.truncate must be one of {TRUNCATIONS}, got {truncate!r}")
        if weighting not in WEIGHTINGS:
            raise ConfigError(f"data.args.weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        if modalities is not None and features is not None and list(modalities) != list(features):
            raise ConfigError("give `modalities` or `features`, not both")
        chosen = list(
            modalities if modalities is not None else features if features is not None else self.default_features
        )
        if not chosen:
            raise ConfigError("cmu_mosei: give at least one modality / feature set")
        known = PKL_FEATURES if format == "pkl" else (*FEATURE_FILES, *(csd_files or {}), WAVEFORM)
        names = [ALIASES[format].get(m, m) for m in chosen]
        unknown = [m for m, n in zip(chosen, names) if n not in known]
        if unknown:
            raise ConfigError(
                f"unknown modalities/feature sets {unknown} for format={format!r}; use "
                f"{sorted(ALIASES[format])} or {sorted(set(known))}"
            )
        if int(maxlen) < 1:
            raise ConfigError(f"data.args.maxlen must be positive, got {maxlen}")
        if WAVEFORM in names:
            if format != "csd" or names != [WAVEFORM]:
                raise ConfigError(
                    f"cmu_mosei: the raw '{WAVEFORM}' feature set is served in 20 ms rows, not word steps: it "
                    f"needs format='csd' and no other feature set (got format={format!r}, features {chosen})"
                )
            if "{id}" not in str(audio_pattern):
                raise ConfigError(
                    f"data.args.audio_pattern must contain '{{id}}' (the video id), got {audio_pattern!r}"
                )
            names = [WAVEFORM, WAVEFORM_WORD]
        super().__init__(root, list(dict.fromkeys(names)), targets, synthetic_seed)
        self.audio_pattern = str(audio_pattern)
        if WAVEFORM in self.feature_names:
            self.raw_feature_names = (WAVEFORM, WAVEFORM_WORD)
        self._synthetic = root is None
        self.format = format
        self.maxlen = int(maxlen)
        self.truncate = truncate
        self.folds_path = Path(folds).expanduser() if folds is not None else None
        self.weighting = weighting
        self.csd_files = dict(csd_files or {})
        self.cache_dir = cache_dir
        self.label_key = label_key
        self.strict = bool(strict)
        self._written: set[Path] = set()
        self._widths = WidthCheck()  # every video of a .csd file has the same feature width
        self._read_back: dict[Path, tuple[int, int, dict[str, np.ndarray], list[str]]] = {}

    # ----------------------------------------------------------------- corpus location
    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options: Any) -> Path:
        """The synthetic CMU-MOSEI ``.csd`` folder (:mod:`zoo.data.corpora.cmu_mosei.synthetic`)."""
        return write_synthetic_cmu_mosei(out_dir, seed=seed, **options)

    def _synthetic_root(self) -> Path:
        if WAVEFORM in self.feature_names:  # the variant with audio/<video>.wav

            def with_audio(out_dir: Path, seed: int) -> Path:
                return type(self).write_synthetic(out_dir, seed=seed, with_audio=True)

            return ensure_synthetic("cmu_mosei-audio", with_audio, seed=self.synthetic_seed, version=SYNTHETIC_VERSION)
        csd_root = ensure_synthetic(
            "cmu_mosei", type(self).write_synthetic, seed=self.synthetic_seed, version=SYNTHETIC_VERSION
        )
        if self.format == "csd":
            return csd_root

        def writer(out_dir: Path, seed: int) -> Path:
            out_dir.mkdir(parents=True)
            write_aligned_pickle(csd_root, out_dir / "aligned_50.pkl", seed=seed)
            return out_dir

        return (
            ensure_synthetic(
                "cmu_mosei_pkl", writer, seed=self.synthetic_seed, version=f"{SYNTHETIC_VERSION}.{PICKLE_VERSION}"
            )
            / "aligned_50.pkl"
        )

    def resolve_root(self) -> Path:
        """The ``.csd`` folder or the pickle file (the synthetic one for ``root=None``)."""
        if self.root is None:
            self.root = self._synthetic_root()
        elif self.root.is_dir():
            self._check_layout(self.root)  # e.g. a MuSe-CaR folder: said so, not "file not found"
        if self.format == "pkl" and self.root.is_dir():
            found = sorted(self.root.glob("*.pkl"))
            if len(found) != 1:
                raise CorpusFormatError(
                    f"{self.root}: expected exactly one .pkl file for format='pkl', found "
                    f"{[p.name for p in found]}; pass the file as root"
                )
            self.root = found[0]
        if not self.root.exists():
            raise FileNotFoundError(
                f"CMU-MOSEI {'pickle' if self.format == 'pkl' else 'folder'} not found: {self.root}"
            )
        return self.root

    def _folds(self) -> dict[str, list[str]]:
        if self.folds_path is not None:
            return load_folds(self.folds_path)
        if self._synthetic:
            return load_folds(
                self.resolve_root().parent / "folds.json"
                if self.format == "pkl"
                else self.resolve_root() / "folds.json"
            )  # the synthetic corpus's own folds
        return load_folds(STANDARD_FOLDS_PATH)

    def describe(self) -> dict[str, Any]:
        """Word steps, truncation and format (kept in the checkpoint, restore nothing)."""
        return {"maxlen": self.maxlen, "truncate": self.truncate, "format": self.format}

    # ----------------------------------------------------------------- reading
    def read(self, partition: str) -> list[Recording]:
        """Segments of ``partition`` (``train``/``valid``/``test``), features as read."""
        self.resolve_root()
        return self._read_pkl(partition) if self.format == "pkl" else self._read_csd(partition)

    def _segment(self, seg_id: str, features: dict[str, np.ndarray], targets: np.ndarray) -> Recording:
        steps = len(next(iter(features.values())))
        return Recording(
            id=seg_id,
            features=features,
            timestamps=np.arange(steps, dtype=np.float64),
            targets=targets,
            level="segment",
        )

    def _truncate(self, idx: np.ndarray) -> np.ndarray:
        return idx[-self.maxlen :] if self.truncate == "last" else idx[: self.maxlen]

    def _read_csd(self, partition: str) -> list[Recording]:
        root = self.resolve_root()
        if self.format == "csd" and root.is_file():
            raise CorpusFormatError(f"{root}: format='csd' needs the folder of .csd files, got a file")
        columns = [LABEL_COLUMNS.index(t) for t in self.target_names]
        labels_file = self._csd_file("labels")
        segments, empty = [], 0
        missing: list[tuple[str, list[str]]] = []
        dropped: dict[str, int] = {}
        fold = self._folds()[partition]
        waveform = WAVEFORM in self.feature_names
        bad_vectors = 0
        for video in iter_aligned_videos(
            root,
            fold,
            [n for n in self.feature_names if n not in (WAVEFORM, WAVEFORM_WORD)],
            files=self.csd_files,
            weighting=self.weighting,
            eps=EPSILON,
            cache_dir=self.cache_dir,
            missing=missing,
        ):
            for what, count in video.dropped.items():
                reason = f"{what} in {self._dropped_file(what)}"
                dropped[reason] = dropped.get(reason, 0) + count
            for name, values in video.features.items():
                self._widths.check(name, f"{root / self._csd_file(name)}, video {video.video_id!r}", values.shape[1])
            bad_vectors += video.nonfinite.get(REFERENCE, 0)
            signal = self._video_audio(video.video_id) if waveform else None
            usable = _finite_labels(
                root / labels_file, video.segment_labels[:, columns], self.target_names, _label_locator(video)
            )
            if not usable.all():
                reason = f"segment(s) with NaN/inf labels in {labels_file}"
                dropped[reason] = dropped.get(reason, 0) + int((~usable).sum())
            for s in range(video.num_segments):
                if not usable[s]:
                    continue
                words = self._truncate(video.words_of(s))
                if len(words) == 0:
                    empty += 1
                    continue
                if signal is not None:
                    features = self._waveform_rows(video.video_id, signal, video.word_intervals[words])
                    if features is None:
                        empty += 1
                        continue
                else:
                    features = {n: np.ascontiguousarray(video.features[n][words]) for n in self.feature_names}
                segments.append(
                    self._segment(video.segment_id(s), features, video.segment_labels[s, columns].astype(np.float32))
                )
        if empty:
            logger.warning(
                "CMU-MOSEI %s [%s]: %d segment(s) of %s without any word of %s in their interval were skipped",
                root,
                partition,
                empty,
                labels_file,
                self._csd_file(REFERENCE),
            )
        if bad_vectors and REFERENCE in self.feature_names:
            _report(
                f"CMU-MOSEI {root} [{partition}]",
                {f"NaN/inf value(s) in the word vectors of {self._csd_file(REFERENCE)}, replaced by 0": bad_vectors},
                self.strict,
                unit="value(s)",
                verb="replaced",
            )
        if missing:
            by_file: dict[str, int] = {}
            for _, lacking in missing:
                for name in lacking:
                    by_file[name] = by_file.get(name, 0) + 1
            _report(
                f"CMU-MOSEI {root} [{partition}]",
                {
                    f"of {len(fold)} fold videos absent from the files (per file: "
                    f"{', '.join(f'{n} {c}' for n, c in by_file.items())}; e.g. "
                    f"{', '.join(v for v, _ in missing[:3])}), so the partition shrinks": len(missing)
                },
                self.strict,
                unit="video(s)",
            )
        _report(f"CMU-MOSEI {root} [{partition}]", dropped, self.strict, unit="item(s)")
        return segments

    def _audio_path(self, video_id: str) -> Path:
        path = Path(self.audio_pattern.replace("{id}", video_id)).expanduser()
        return path if path.is_absolute() else self.resolve_root() / path

    def _video_audio(self, video_id: str) -> np.ndarray:
        """The whole video's waveform at 16 kHz."""
        return read_waveform(self._audio_path(video_id), SAMPLE_RATE)

    def _waveform_rows(self, video_id: str, signal: np.ndarray, intervals: np.ndarray) -> dict[str, np.ndarray] | None:
        """A segment's audio in 20 ms rows and each row's word (``None``: no row centre falls in a word)."""
        start, end = float(intervals[:, 0].min()), float(intervals[:, 1].max())
        rows = int(np.ceil((end - start) / WAVEFORM_STEP - 1e-9))
        if rows < 1:
            return None
        times = start + np.arange(rows) * WAVEFORM_STEP
        audio = cut_frames(signal, self._audio_path(video_id), times, SAMPLE_RATE, WAVEFORM_STEP)
        centres = times + WAVEFORM_STEP / 2
        inside = (centres[:, None] >= intervals[None, :, 0]) & (centres[:, None] < intervals[None, :, 1])
        if not inside.any():
            return None
        word = np.where(inside.any(1), inside.argmax(1), -1).astype(np.float32)
        return {WAVEFORM: audio, WAVEFORM_WORD: word[:, None]}

    def _csd_file(self, name: str) -> str:
        """File name of a feature set (or ``"labels"``) in the ``.csd`` folder."""
        return {**FEATURE_FILES, "labels": LABELS_FILE, **self.csd_files}.get(name, name)

    def _dropped_file(self, what: str) -> str:
        """The file behind a :attr:`AlignedVideo.dropped` key (``words …``, ``<set> frames …``,
        ``segments …``: see :data:`~zoo.data.corpora.cmu_mosei.align.DROP_REASONS`)."""
        kind = what.split(" with ")[0].split(" ending ")[0]
        if kind == "words":
            return self._csd_file(REFERENCE)
        if kind == "segments":
            return self._csd_file("labels")
        return self._csd_file(kind.removesuffix(" frames"))

    def _read_pkl(self, partition: str) -> list[Recording]:
        path = self.resolve_root()
        ids, arrays, labels, columns, valid = read_aligned_pickle(path, partition, self.feature_names, self.label_key)
        missing = [t for t in self.target_names if t not in columns]
        if missing:
            raise CorpusFormatError(
                f"{path}: partition {partition!r}: the labels hold {columns}, not {missing}. {PKL_LAYOUTS}; "
                f"pick data.args.targets from {columns}, or use the .csd release (format=csd) for the emotions"
            )
        index = [columns.index(t) for t in self.target_names]
        nonfinite = {n: int((~np.isfinite(x)).sum()) for n, x in arrays.items()}
        steps = np.argwhere(valid)
        every = slice(None, None, max(1, -(-len(ids) // 400)))  # the bounds from at most ~400 segments
        for name, x in arrays.items():
            blocks = (np.asarray(x[i : i + 256])[valid[i : i + 256]] for i in range(0, len(ids), 256))
            sample = np.asarray(x[every])[valid[every]]
            warn_outliers(path, blocks, _step_locator(partition, name, ids, steps), sample=sample)
        usable = _finite_labels(
            path,
            labels[:, index],
            self.target_names,
            lambda i, name: f"partition {partition!r}, labels row {i} (segment {ids[i]}), column {name!r}",
        )
        segments, empty = [], 0
        dropped: dict[str, int] = {}
        if not usable.all():
            dropped["with NaN/inf labels"] = int((~usable).sum())
        for i, seg_id in enumerate(ids):
            if not usable[i]:
                continue
            steps = self._truncate(np.flatnonzero(valid[i]))
            if len(steps) == 0:
                empty += 1
                continue
            feats = {}
            for name, x in arrays.items():
                v = np.asarray(x[i, steps], dtype=np.float32)
                feats[name] = np.where(np.isfinite(v), v, 0.0).astype(np.float32)
            segments.append(self._segment(seg_id, feats, labels[i, index].astype(np.float32)))
        if any(nonfinite.values()):
            logger.info(
                "CMU-MOSEI pickle %s [%s]: non-finite values replaced by 0: %s",
                path.name,
                partition,
                ", ".join(f"{n}={c}" for n, c in nonfinite.items()),
            )
        if empty:
            logger.warning("CMU-MOSEI pickle %s [%s]: %d all-padding segment(s) skipped", path.name, partition, empty)
        _report(f"CMU-MOSEI pickle {path} [{partition}]", dropped, self.strict)
        return segments

    def feature_file(self, recording_id: str, feature_set: str) -> Path | None:
        """The ``.csd`` file of a feature set, or the aligned pickle (a segment's video's WAV for
        the raw waveform)."""
        if self.root is None:
            return None
        if self.format == "pkl":
            return self.root
        if feature_set in (WAVEFORM, WAVEFORM_WORD):
            return self._audio_path(_video_of(recording_id))
        return self.root / self._csd_file(feature_set)

    # ----------------------------------------------------------------- predictions
    def _prediction_file(self, out_dir: Path, partition: str | None) -> Path:
        name = partition or "predictions"
        if (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1
        ):
            return Path(out_dir) / f"{name}.rank{torch.distributed.get_rank()}.csv"  # one file per process
        return Path(out_dir) / f"{name}.csv"

    def write_predictions(
        self,
        out_dir: Path,
        partition: str | None,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Append one segment's ``(K,)`` predictions to ``<out_dir>/<partition>.csv``.

        Columns ``segment_id,<targets>``. Under DDP each process writes its own file
        ``<partition>.rank<r>.csv``. The first write of a run (re)creates the file.
        """
        preds = np.asarray(preds, dtype=np.float64)
        if preds.shape != (len(target_names),):
            raise ValueError(
                f"segment {recording.id}: predictions must be (K,) = ({len(target_names)},), got {preds.shape}"
            )
        path = self._prediction_file(out_dir, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        first = path not in self._written
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if first:
            writer.writerow(["segment_id", *target_names])
        writer.writerow([recording.id, *(f"{v:.6f}" for v in preds)])
        with open(path, "w" if first else "a", newline="") as f:
            f.write(buffer.getvalue())
        self._written.add(path)

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """One segment's ``(K,)`` predictions from ``<out_dir>/<partition>.csv``.

        Raises:
            CorpusFormatError: a missing file, a missing column or segment, a duplicated segment
                or a value that is not a number (naming the file, line and field).
        """
        path = note_source(Path(out_dir) / f"{partition or 'predictions'}.csv")
        if not path.is_file():
            raise CorpusFormatError(f"{path}: prediction file not found (segment {recording.id})")
        st = path.stat()
        cached = self._read_back.get(path)
        if cached is None or cached[:2] != (st.st_size, st.st_mtime_ns):
            cached = (st.st_size, st.st_mtime_ns, *_read_segment_predictions(path))
            self._read_back[path] = cached
        rows, header = cached[2], cached[3]
        missing = [t for t in target_names if t not in header]
        if missing:
            raise CorpusFormatError(f"{path}: line 1 has no column(s) {missing} (header {header})")
        if recording.id not in rows:
            raise CorpusFormatError(f"{path}: no row for segment {recording.id!r}")
        values = rows[recording.id]
        return np.asarray([values[header.index(t) - 1] for t in target_names], np.float32)


def _read_segment_predictions(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """``({segment id: values}, header)`` of a segment prediction CSV."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0] != "segment_id":
        raise CorpusFormatError(f"{path}: line 1 must be the header segment_id,<targets>")
    header = [c.strip() for c in rows[0]]
    out: dict[str, np.ndarray] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise CorpusFormatError(f"{path}: line {line} has {len(row)} fields, the header {len(header)}")
        if row[0] in out:
            raise CorpusFormatError(f"{path}: line {line}, field 'segment_id': segment {row[0]!r} appears twice")
        try:
            values = np.asarray([float(v) for v in row[1:]], np.float32)
        except ValueError:
            raise CorpusFormatError(f"{path}: line {line}: a prediction is not a number ({row[1:]})") from None
        if not np.all(np.isfinite(values)):
            raise CorpusFormatError(f"{path}: line {line}: non-finite prediction ({row[1:]})")
        out[row[0]] = values
    return out, header
