"""SEWA (AVEC 2017 and AVEC 2019 CES releases): corpus reader and datamodule.

Continuous arousal, valence and liking of German (and, in 2019, Hungarian) subjects watching
adverts and discussing them with a partner over video chat, annotated every 100 ms
(Ringeval et al., "AVEC 2017: Real-life Depression, and Affect Recognition Workshop and
Challenge", ACM MM 2017; Ringeval et al., "AVEC 2019 Workshop and Challenge: State-of-Mind,
Detecting Depression with AI, and Cross-Cultural Affect Recognition", ACM MM 2019).

Layouts read (``release=``)::

    avec2017
      labels/{Train_01..34,Devel_01..14,Test_01..16}.csv
          no header, ';', rows  'Train_01';0.000000;arousal;valence;liking   (100 ms)
          (test labels are not distributed)
      turns/<name>.csv                 start;end  seconds of the subject's turns
      transcriptions/<name>.csv        start;end;text   German, one row per turn
      audio_features_xbow_6s/, video_features_xbow_6s/, text_features_xbow_6s/  (name;time;...)
    avec2019
      labels/<Part>_<DE|HU>_<NN>.csv   header name;timestamp;arousal;valence;liking,
                                        names quoted ('Devel_DE_01'), 100 ms (no test labels)
      Test_CN_<NN>                      Chinese recordings: test partition only
      feature folders, e.g. audio_features_egemaps_xbow/, visual_features_xbow/,
      audio_features_{egemaps,mfcc}/ (LLDs, 10 ms), *_functionals/,
      visual_features/ (FAUs: name;frameTime;confidence;AU01_r;...;AU45_r) ...

Feature files may or may not have a header and may use ``;`` or ``,``; the first two columns
are always the recording name and the time in seconds, the rest are features. Every feature
file is aligned to the label timestamps (``align="nearest"``: the closest feature row, which
must lie within ``align_tolerance`` seconds; ``"exact"``: every label time must appear).
Everything that does not fit raises :class:`CorpusFormatError` naming the file, the line and
the field: a NaN/inf/empty cell (also naming the recording), a label file whose step is not
100 ms, a feature file whose rows are further apart than 100 ms (finer ones are aligned by
nearest row), a row whose name column is another recording.

Interlocutor handling (Chen et al. 2017, Fig. 2) uses the subject's turns (``turns/``):
``"mixed"`` leaves features as they are; ``"purified"`` zeroes the frames outside the subject's
turns; ``"doubled"`` doubles the dimension: the first half keeps the frames inside the subject's
turns (zero elsewhere), the second half the frames outside (the interlocutor and pauses; zero
inside). The strategy applies to the sets in ``interlocutor_features`` (default: every set
whose name contains ``audio`` or ``text``, i.e. the speech-based sets; video shows the subject
all the time). It is applied to the raw features, before delay and z-normalisation; with
``data.args.zero_padding: normalised`` (the Chen et al. recipes) the zeroed frames (each half of a
doubled set on its own, :meth:`SewaCorpus.padding_blocks`) are left out of the train statistics
and stay 0 after normalisation, otherwise they become the constant ``-mean / std``.

Turn-level text features (virtual sets, computed from ``transcriptions/``):

* ``text_bow`` — bag of words per turn over the training vocabulary (lower-cased word
  tokens of the train partition's transcriptions, German stop words of
  :data:`GERMAN_STOP_WORDS` removed, words seen fewer than ``bow_min_count`` times dropped),
  term counts;
* ``text_emb`` — mean word embedding of the turn's known words, from ``embedding_file``
  (word2vec/GloVe text format: optional ``<count> <dim>`` header, then ``word v1 ... vD``).

Both are repeated over the frames of their turn and zero elsewhere. For non-temporal
(turn-level) models, :meth:`SewaCorpus.turn_data` gives one sample per subject turn whose
label is the Gaussian-weighted mean of the frame labels in the turn: weights
``exp(-(t - c)² / (2σ²))`` with ``c`` the turn centre and ``σ = turn_sigma × duration``
(default ``turn_sigma = 0.25``, so the turn spans ±2σ).

No stop-word list for German ships with the packages this project depends on (scikit-learn only
has English), so :data:`GERMAN_STOP_WORDS` is a short list of the most frequent German function
words written here.
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo.config.option_rules import Rule
from zoo.data._checks import WidthCheck, check_label_range, decode_text, read_bytes, warn_outliers
from zoo.data.corpora.sewa import format as sewa_format
from zoo.data.corpora.sewa.format import (
    AUDIO,
    LABELS,
    TRANSCRIPTIONS,
    TURNS,
    audio_path,
    feature_path,
    format_table,
    label_path,
    transcription_path,
    turns_path,
)
from zoo.data.corpora.sewa.synthetic import SYNTHETIC_VERSION, write_synthetic_sewa
from zoo.data.corpus import Corpus
from zoo.data.extract_layout import NUMBER_FORMAT, ExtractLayout
from zoo.data.raw_audio import SAMPLE_RATE, read_audio_frames
from zoo.data.registry import register_corpus
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.errors import ConfigError, CorpusDataWarning, CorpusFormatError

__all__ = [
    "CorpusFormatError",
    "GERMAN_STOP_WORDS",
    "INTERLOCUTOR_STRATEGIES",
    "RELEASES",
    "SewaCorpus",
    "SewaDataWarning",
    "align_to_labels",
    "apply_interlocutor",
    "bag_of_words",
    "build_vocabulary",
    "gaussian_turn_labels",
    "read_embeddings",
    "read_feature_file",
    "read_label_file",
    "read_prediction_file",
    "read_transcription",
    "read_turns",
    "tokenize",
]


def available_feature_sets(root: Path) -> list[str]:
    """The feature sets ``root`` holds: its feature folders (every folder but labels, turns,
    transcriptions, embeddings and media), ``audio`` when the WAV files are there and the text
    sets when the transcriptions are, sorted."""
    if not root.is_dir():
        return []
    others = {LABELS, TRANSCRIPTIONS, TURNS, AUDIO, "video", "word_embeddings"}
    sets = [p.name for p in root.iterdir() if p.is_dir() and p.name not in others and not p.name.startswith(".")]
    if (root / AUDIO).is_dir():
        sets.append(RAW_AUDIO)
    if (root / TRANSCRIPTIONS).is_dir():
        sets += TEXT_SETS
    return sorted(sets)


RELEASES = ("avec2017", "avec2019")
TARGET_NAMES = ("arousal", "valence", "liking")
INTERLOCUTOR_STRATEGIES = ("mixed", "purified", "doubled")
TEXT_SETS = ("text_bow", "text_emb", "transcript")
#: the raw text feature set: per frame the UTF-8 bytes of the transcription row (turn) it falls in
TRANSCRIPT = "transcript"
#: the raw waveform feature set: ``audio/<name>.wav`` at 16 kHz, 1600 samples per 100 ms frame
RAW_AUDIO = AUDIO
#: feature sets not read from ``<folder>/<name>.csv``
NON_TABLE_SETS = (*TEXT_SETS, RAW_AUDIO)
LABEL_STEP = 0.1
#: the range of the arousal, valence and liking labels (the annotation tool's scale)
LABEL_RANGE = (-1.0, 1.0)
#: AVEC 2019 CES cultures: German and Hungarian (train, devel, test), Chinese (test only)
CULTURES = ("DE", "HU", "CN")
TEST_ONLY_CULTURES = ("CN",)
#: tolerance (s) on the 100 ms step of label and feature files (timestamps are written rounded)
STEP_SLACK = 1e-3
#: feature rows running past the last label by more than this many seconds (or this share of the
#: labels' span, whichever is larger) get a :class:`SewaDataWarning`: the label file may be cut
#: short, or the feature times be in other units (real feature files end within a frame or two)
TAIL_WARN_S, TAIL_WARN_SHARE = 2.0, 0.05
#: media extensions a feature file's name column may carry after the recording name
MEDIA_SUFFIXES = (".wav", ".avi", ".mp4", ".webm")
#: Frequent German function words (articles, pronouns, auxiliaries, conjunctions, particles).
GERMAN_STOP_WORDS = frozenset(
    """
    aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes
    auch auf aus bei bin bis bist da damit dann das dass dein deine dem den denn der des dich die
    dir doch dort du durch ein eine einem einen einer eines er es etwas euch euer für hab habe
    haben hat hatte hier hin ich ihm ihn ihr ihre im in ist ja jetzt kann kein keine mal man mein
    meine mich mir mit muss nach nein nicht nichts noch nun nur ob oder ohne schon sehr sein seine
    sich sie sind so soll über um und uns unser von vor war waren was weil wenn wer wie wir wird
    wo zu zum zur äh ähm hm mhm okay ok
    """.split()
)
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


# --------------------------------------------------------------------------- low-level readers
class SewaDataWarning(CorpusDataWarning):
    """A SEWA file was read, but looks damaged (the message names the files and what is odd)."""


#: a multi-byte UTF-8 character (a file holding one is UTF-8 text, whatever else it holds)
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _read_text(path: Path, what: str, latin1: bool = False) -> str:
    """The text of a SEWA file, UTF-8.

    With ``latin1`` (the free-text files: transcriptions, word vectors) a file without any UTF-8
    character that is not UTF-8 either is read as Latin-1, with a :class:`SewaDataWarning`; a
    file that mixes UTF-8 characters with bytes that are not UTF-8 is damaged and refused (read
    as Latin-1, its UTF-8 characters would turn into mojibake).

    Raises:
        CorpusFormatError: missing or unreadable file, or bytes that are not UTF-8 (naming the
            line and the byte).
    """
    data = read_bytes(path, what)
    if not latin1 or _UTF8_MULTIBYTE.search(data) is None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if not latin1:
                decode_text(path, data, what)  # raises, naming the line and the byte
        warnings.warn(
            f"{path}: not UTF-8 (and no UTF-8 character in it); read as Latin-1",
            SewaDataWarning,
            stacklevel=3,
        )
        return data.decode("latin-1")
    return decode_text(path, data, what)


def _read_lines(path: Path, what: str, latin1: bool = False) -> list[str]:
    return _read_text(path, what, latin1).splitlines()


def _is_number(text: str) -> bool:
    try:
        float(text.strip().strip("'\""))
        return True
    except ValueError:
        return False


def _sniff(path: Path, first_line: str) -> tuple[str, bool]:
    """Separator (``;`` or ``,``) and whether the first line is a header."""
    sep = ";" if first_line.count(";") >= first_line.count(",") else ","
    fields = first_line.split(sep)
    if len(fields) < 3:
        raise CorpusFormatError(
            f"{path}: line 1 has {len(fields)} field(s); expected name, time and at least one "
            "value separated by ';' or ','"
        )
    return sep, not _is_number(fields[1])


def _numeric_table(path: Path, what: str) -> tuple[list[str], list[str], np.ndarray, int]:
    """Read a ``name;time;values...`` table → (header or [], names, float64 (N, C), first data line)."""
    text = _read_text(path, what)
    lines_nonblank = [ln for ln in text.splitlines() if ln.strip()]
    if not lines_nonblank:
        raise CorpusFormatError(f"{path}: {what} file is empty")
    sep, has_header = _sniff(path, lines_nonblank[0])
    kwargs = dict(
        sep=sep,
        header=0 if has_header else None,
        quotechar="'",
        skipinitialspace=True,
        skip_blank_lines=True,
        engine="c",
    )
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={0: str}, **kwargs)
        if not all(pd.api.types.is_numeric_dtype(d) for d in frame.dtypes.iloc[1:]):
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **kwargs)
    except pd.errors.ParserError as err:
        raise CorpusFormatError(f"{path}: cannot parse {what} file ({sep!r}-separated): {err}") from None
    header = [str(c).strip() for c in frame.columns] if has_header else []
    first = 2 if has_header else 1
    if frame.shape[1] < 3:
        raise CorpusFormatError(f"{path}: {frame.shape[1]} columns; expected name, time and values")
    if len(frame) == 0:
        raise CorpusFormatError(f"{path}: no data rows")
    names = [str(s).strip().strip("'\"") for s in frame.iloc[:, 0]]
    raw = frame.iloc[:, 1:]
    if all(pd.api.types.is_numeric_dtype(d) for d in raw.dtypes):
        values = raw.to_numpy(np.float64)
    else:
        values = raw.apply(lambda c: pd.to_numeric(c.str.strip().str.strip("'\""), errors="coerce")).to_numpy(
            np.float64
        )
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        field = header[col + 1] if header else f"column {col + 2}"
        raise CorpusFormatError(
            f"{path}: line {row + first}, field {field!r}: not a finite number: "
            f"{str(raw.iloc[row, col]).strip()!r} (recording {names[row]!r}; NaN, inf and empty "
            f"cells are refused)"
        )
    return header, names, values, first


def read_label_file(path: str | Path, targets: Sequence[str] = TARGET_NAMES) -> tuple[np.ndarray, np.ndarray]:
    """Read one SEWA label file (AVEC 2017 headerless or AVEC 2019 with header).

    Args:
        path: ``labels/<name>.csv``.
        targets: the target columns to return, in this order.

    Returns:
        ``(timestamps float64 (T,), values float32 (T, K))``.

    Raises:
        CorpusFormatError: wrong number of columns, a non-numeric cell, a name that is not the
            file's recording, a missing header column, timestamps that do not increase, or a
            label outside [-1, 1].
    """
    path = Path(path)
    header, names, values, first = _numeric_table(path, "label")
    if header:
        columns = _header_columns(path, header, targets)
    else:
        if values.shape[1] != 1 + len(TARGET_NAMES):
            raise CorpusFormatError(
                f"{path}: line 1 has {values.shape[1] + 1} fields; a headerless SEWA label file has "
                f"5: name;time;arousal;valence;liking"
            )
        columns = [1 + TARGET_NAMES.index(t) for t in targets]
    wrong = [i for i, n in enumerate(names) if n != path.stem]
    if wrong:
        raise CorpusFormatError(
            f"{path}: line {wrong[0] + first}, field 'name': {names[wrong[0]]!r} is not the file's "
            f"recording {path.stem!r}"
        )
    field_names = header[1:] if header else ["time", *TARGET_NAMES]
    check_label_range(
        path,
        values[:, columns],
        [LABEL_RANGE] * len(columns),
        lambda row, col: f"line {row + first}, field {field_names[columns[col]]!r} (recording {path.stem!r})",
    )
    times = values[:, 0]
    _check_increasing(path, times, first)
    steps = np.diff(times)
    off = np.flatnonzero(np.abs(steps - LABEL_STEP) > STEP_SLACK)
    if len(off):
        row = int(off[0]) + 1
        raise CorpusFormatError(
            f"{path}: line {row + first}, field 'time': {times[row]:g} s is {steps[row - 1] * 1000:.0f} ms "
            f"after the previous row; SEWA labels have a {LABEL_STEP * 1000:.0f} ms step "
            f"(recording {path.stem!r})"
        )
    return times, values[:, columns].astype(np.float32)


def _header_columns(path: Path, header: Sequence[str], targets: Sequence[str]) -> list[int]:
    """Value-column index (after the name column) of each target in a file's header."""
    lower = [h.lower() for h in header]
    missing = [t for t in targets if t not in lower]
    if missing:
        raise CorpusFormatError(f"{path}: header (line 1) lacks column(s) {missing}; found {list(header)}")
    return [lower.index(t) - 1 for t in targets]


def _check_increasing(path: Path, times: np.ndarray, first: int) -> None:
    bad = np.flatnonzero(np.diff(times) <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise CorpusFormatError(
            f"{path}: line {row + first}, field 'time': {times[row]:g} s does not increase "
            f"(previous row has {times[row - 1]:g} s)"
        )


def read_feature_file(
    path: str | Path, recording: str | None = None, columns: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one feature file: header or not, ``;`` or ``,``, name and time first.

    A value far outside the other values of its column gets a :class:`~zoo.errors.CorpusDataWarning`
    (:func:`~zoo.data._checks.warn_outliers`).

    Args:
        path: the feature file.
        recording: when given, every row's name column must be this recording (or this name
            plus a media extension such as ``.wav``, as tools that name rows after the media
            file write it).
        columns: the feature columns of the set, by header name (those of its other files); a
            file with a header is then read by name, in this order (columns in another order
            are put back in order; a missing or extra column is refused).

    Returns:
        ``(timestamps float64 (N,), features float32 (N, D))``.

    Raises:
        CorpusFormatError: naming the file and line: a non-numeric or non-finite cell, times that
            do not increase, a typical (median) step coarser than the 100 ms label step (such a
            file would be stretched silently by nearest-row alignment), a row naming another
            recording, or header columns that are not ``columns``.
    """
    path = Path(path)
    header, names, values, first = _numeric_table(path, "feature")
    order = _column_order(path, header, columns)
    if order is not None:
        values = values[:, [0, *order]]
        header = [header[0], header[1], *columns]
    warn_outliers(
        path,
        values[:, 1:],
        lambda row, col: f"line {row + first}, field {header[col + 2] if header else f'column {col + 3}'!r}",
    )
    times = values[:, 0]
    _check_increasing(path, times, first)
    if len(times) > 1:
        step = float(np.median(np.diff(times)))
        if step > LABEL_STEP + STEP_SLACK:
            raise CorpusFormatError(
                f"{path}: rows are {step * 1000:.0f} ms apart (median step of field 'time'); SEWA "
                f"features need a step of at most the {LABEL_STEP * 1000:.0f} ms label step"
            )
    if recording is not None:
        wrong = [
            i
            for i, n in enumerate(names)
            if n != recording and not (Path(n).stem == recording and Path(n).suffix.lower() in MEDIA_SUFFIXES)
        ]
        if wrong:
            raise CorpusFormatError(
                f"{path}: line {wrong[0] + first}, field 'name': {names[wrong[0]]!r} is not the "
                f"file's recording {recording!r}"
            )
    return times, values[:, 1:].astype(np.float32)


def _column_order(path: Path, header: Sequence[str], columns: Sequence[str] | None) -> list[int] | None:
    """Indices (in the value columns after the name) of ``columns`` in a file's ``header``;
    ``None`` when there is nothing to reorder (no header, no reference, or the same order).

    Raises:
        CorpusFormatError: the header lacks some of ``columns`` or has others.
    """
    if not header or columns is None:
        return None
    found = list(header[2:])
    if found == list(columns):
        return None
    missing = [c for c in columns if c not in found]
    extra = [c for c in found if c not in columns]
    if missing or extra or len(set(found)) != len(found):
        raise CorpusFormatError(
            f"{path}: header (line 1) has the feature columns {found[:6]}{' ...' if len(found) > 6 else ''} "
            f"({len(found)}); the set's other files have {len(columns)}"
            + (f"; missing column(s) {missing[:6]}" if missing else "")
            + (f"; extra column(s) {extra[:6]}" if extra else "")
            + ("; a column name appears twice" if len(set(found)) != len(found) else "")
        )
    return [found.index(c) + 1 for c in columns]


def align_to_labels(
    path: str | Path,
    feature_times: np.ndarray,
    features: np.ndarray,
    label_times: np.ndarray,
    mode: str = "nearest",
    tolerance: float = LABEL_STEP,
    *,
    label_path: str | Path | None = None,
) -> np.ndarray:
    """Rows of ``features`` at the label timestamps.

    Feature rows running far past the last label time (more than ``TAIL_WARN_S`` seconds and
    ``TAIL_WARN_SHARE`` of the labels' span) are aligned all the same, with a
    :class:`SewaDataWarning`: a label file cut short at a row boundary, or a feature time column
    in other units, would otherwise go unnoticed.

    Args:
        path: the feature file (for messages).
        feature_times: ``(N,)`` seconds, increasing.
        features: ``(N, D)``.
        label_times: ``(T,)`` seconds.
        mode: ``"nearest"`` (closest row within ``tolerance`` seconds) or ``"exact"`` (equal
            to 1 µs).
        tolerance: largest allowed distance in seconds for ``"nearest"``.
        label_path: the label file (for the warning).

    Raises:
        CorpusFormatError: naming the file and the first label time that cannot be aligned.
    """
    _warn_long_tail(path, feature_times, label_times, label_path)
    if mode not in ("nearest", "exact"):
        raise ValueError(f"align must be 'nearest' or 'exact', got {mode!r}")
    idx = (
        np.clip(np.searchsorted(feature_times, label_times), 1, len(feature_times) - 1)
        if len(feature_times) > 1
        else np.zeros(len(label_times), int)
    )
    if len(feature_times) > 1:
        left = idx - 1
        closer_left = np.abs(label_times - feature_times[left]) <= np.abs(feature_times[idx] - label_times)
        idx = np.where(closer_left, left, idx)
    dist = np.abs(feature_times[idx] - label_times)
    limit = 1e-6 if mode == "exact" else tolerance + 1e-6
    bad = np.flatnonzero(dist > limit)
    if len(bad):
        t = float(label_times[bad[0]])
        raise CorpusFormatError(
            f"{path}: cannot align to label time {t:.3f} s ({mode}): the nearest feature row is at "
            f"{float(feature_times[idx[bad[0]]]):.3f} s ({len(bad)} label frame(s) affected; feature "
            f"rows span {feature_times[0]:.3f}–{feature_times[-1]:.3f} s)"
        )
    return features[idx]


def _warn_long_tail(
    path: str | Path, feature_times: np.ndarray, label_times: np.ndarray, label_path: str | Path | None
) -> None:
    """Warn when feature rows run far past the last label time (see :func:`align_to_labels`)."""
    if not len(feature_times) or not len(label_times):
        return
    last, end = float(label_times[-1]), float(feature_times[-1])
    tail = end - last
    if tail > max(TAIL_WARN_S, TAIL_WARN_SHARE * (last - float(label_times[0]))):
        labels = f" of {label_path}" if label_path is not None else ""
        warnings.warn(
            f"{path}: feature rows run to {end:.3f} s, {tail:.3f} s past the last label time "
            f"{last:.3f} s{labels}; is the label file cut short, or the feature time column in other "
            "units? The features past the labels are not used",
            SewaDataWarning,
            stacklevel=3,
        )


def read_turns(path: str | Path) -> np.ndarray:
    """``turns/<name>.csv`` → ``(n, 2)`` float64 ``[start, end)`` seconds of the subject's turns."""
    path = Path(path)
    rows = []
    for i, line in enumerate(_read_lines(path, "turn"), start=1):
        if not line.strip():
            continue
        fields = re.split(r"[;,]", line.strip())
        if len(fields) < 2 or not (_is_number(fields[0]) and _is_number(fields[1])):
            if i == 1 and len(fields) >= 2:
                continue  # header
            raise CorpusFormatError(f"{path}: line {i}: expected 'start;end' in seconds, got {line!r}")
        for name, text in zip(("start", "end"), fields):
            if not np.isfinite(float(text)):
                raise CorpusFormatError(
                    f"{path}: line {i}, field {name!r}: {text.strip()} is not a finite time in seconds"
                )
        start, end = float(fields[0]), float(fields[1])
        if end < start:
            raise CorpusFormatError(f"{path}: line {i}, field 'end': {end:g} s is before start {start:g} s")
        rows.append((start, end))
    if not rows:
        raise CorpusFormatError(
            f"{path}: no turns (expected 'start;end' rows in seconds); an empty turn "
            "file would mark the subject as never speaking"
        )
    return np.asarray(rows, np.float64).reshape(-1, 2)


def read_transcription(path: str | Path) -> list[tuple[float, float, str]]:
    """``transcriptions/<name>.csv`` → ``[(start, end, text), ...]`` (text may contain ``;``)."""
    path = Path(path)
    rows = []
    for i, line in enumerate(_read_lines(path, "transcription", latin1=True), start=1):
        if not line.strip():
            continue
        sep = ";" if line.count(";") >= 2 or "," not in line else ","
        fields = line.split(sep, 2)
        if len(fields) < 2 or not (_is_number(fields[0]) and _is_number(fields[1])):
            if i == 1:
                continue  # header
            raise CorpusFormatError(f"{path}: line {i}: expected 'start;end;text', got {line!r}")
        text = fields[2].strip().strip('"') if len(fields) > 2 else ""
        rows.append((float(fields[0]), float(fields[1]), text))
    return rows


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters only, umlauts kept)."""
    return [t.lower() for t in _TOKEN.findall(text)]


def build_vocabulary(
    texts: Sequence[str], min_count: int = 1, stop_words: frozenset[str] = GERMAN_STOP_WORDS
) -> list[str]:
    """Sorted vocabulary of the words in ``texts`` seen at least ``min_count`` times, minus stop words."""
    counts = Counter(w for text in texts for w in tokenize(text) if w not in stop_words)
    return sorted(w for w, c in counts.items() if c >= min_count)


def bag_of_words(text: str, vocabulary: Sequence[str]) -> np.ndarray:
    """Term counts of ``text`` over ``vocabulary`` (unknown words and stop words are ignored)."""
    index = {w: i for i, w in enumerate(vocabulary)}
    out = np.zeros(len(vocabulary), np.float32)
    for w in tokenize(text):
        if w in index:
            out[index[w]] += 1
    return out


def read_embeddings(path: str | Path) -> dict[str, np.ndarray]:
    """Word vectors from a word2vec/GloVe text file (optional ``count dim`` header line)."""
    path = Path(path)
    vectors: dict[str, np.ndarray] = {}
    dim = None
    for i, line in enumerate(_read_lines(path, "embedding", latin1=True), start=1):
        parts = line.rstrip().split(" ")
        if i == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue
        if len(parts) < 2:
            continue
        try:
            vec = np.asarray([float(p) for p in parts[1:]], np.float32)
        except ValueError:
            raise CorpusFormatError(f"{path}: line {i}: non-numeric vector value for word {parts[0]!r}") from None
        if dim is None:
            dim = len(vec)
        elif len(vec) != dim:
            raise CorpusFormatError(f"{path}: line {i}: {len(vec)} values for {parts[0]!r}, earlier lines have {dim}")
        vectors[parts[0].lower()] = vec
    if not vectors:
        raise CorpusFormatError(f"{path}: no word vectors")
    return vectors


def turn_frames(times: np.ndarray, start: float, end: float) -> tuple[int, int]:
    """Label frames ``[lo, hi)`` whose time lies in ``[start, end)`` (1 ms slack)."""
    lo = int(np.searchsorted(times, start - 1e-3, side="left"))
    hi = int(np.searchsorted(times, end - 1e-3, side="left"))
    return lo, max(hi, lo)


def inside_turns(times: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: frame time inside one of the ``[start, end)`` turns."""
    inside = np.zeros(len(times), bool)
    for start, end in turns:
        lo, hi = turn_frames(times, start, end)
        inside[lo:hi] = True
    return inside


def apply_interlocutor(x: np.ndarray, inside: np.ndarray, strategy: str) -> np.ndarray:
    """Apply an interlocutor strategy (see module docstring) to ``(T, D)`` features."""
    if strategy == "mixed":
        return x
    keep = inside[:, None].astype(x.dtype)
    if strategy == "purified":
        return x * keep
    if strategy == "doubled":
        return np.concatenate([x * keep, x * (1 - keep)], axis=1)
    raise ValueError(f"interlocutor must be one of {INTERLOCUTOR_STRATEGIES}, got {strategy!r}")


def gaussian_turn_labels(
    times: np.ndarray, targets: np.ndarray, start: float, end: float, sigma: float = 0.25
) -> np.ndarray:
    """Gaussian-weighted mean of the frame labels in ``[start, end)``.

    Weights ``exp(-(t - c)² / (2 s²))``, ``c = (start + end) / 2``, ``s = sigma × (end - start)``.
    A turn without frames takes the nearest frame's label.
    """
    lo, hi = turn_frames(times, start, end)
    if hi <= lo:
        k = int(np.clip(np.searchsorted(times, (start + end) / 2), 0, len(times) - 1))
        return targets[k].astype(np.float64)
    t = times[lo:hi]
    s = max(sigma * (end - start), 1e-6)
    w = np.exp(-((t - (start + end) / 2) ** 2) / (2 * s**2))
    return (w[:, None] * targets[lo:hi]).sum(0) / w.sum()


def read_prediction_file(path: str | Path, target_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a prediction file written by :meth:`SewaCorpus.write_predictions`.

    Returns:
        ``(timestamps (T,), values float32 (T, K))`` with columns in ``target_names`` order.
    """
    path = Path(path)
    header, _, values, _ = _numeric_table(path, "prediction")
    if header:
        cols = _header_columns(path, header, target_names)
    else:
        if values.shape[1] - 1 != len(target_names):
            raise CorpusFormatError(
                f"{path}: {values.shape[1] - 1} value columns, expected {len(target_names)} ({list(target_names)})"
            )
        cols = list(range(1, 1 + len(target_names)))
    return values[:, 0], values[:, cols].astype(np.float32)


# --------------------------------------------------------------------------- datamodule
def _audio_timeline(path: Path) -> np.ndarray:
    """Label times (100 ms) of an unlabelled recording read only as raw audio: every whole frame
    of the file."""
    import soundfile as sf

    path = note_source(path)
    try:
        info = sf.info(path)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise CorpusFormatError(f"{path}: cannot read audio ({err})") from None
    frames = int(np.floor(info.frames / info.samplerate / LABEL_STEP + 1e-6))
    if frames < 1:
        raise CorpusFormatError(f"{path}: audio shorter than one {LABEL_STEP * 1000:g} ms frame")
    return np.round(np.arange(frames) * LABEL_STEP, 6)


@dataclass
class SewaState:
    """What a model trained on SEWA depends on besides its weights.

    Attributes:
        vocabulary: the ``text_bow`` vocabulary of the train transcriptions (``None`` without
            ``text_bow``), so that new data is encoded with the same columns.
    """

    vocabulary: list[str] | None = None


class SewaExtractLayout(ExtractLayout):
    """``zoo extract --layout sewa``: ``<feature>/<id>.csv``, ``;``-separated, header
    ``name;time;<columns>``, the name quoted as in the AVEC 2019 label files (``'Devel_DE_01'``),
    time in seconds; label times from ``labels/<id>.csv`` (AVEC 2017 and 2019, :func:`read_label_file`)."""

    def render(self, recording_id: str, out: Any, segment_ids: np.ndarray | None, folder: str) -> str:
        header = ["name", "time", *out.columns]
        return format_table(
            recording_id,
            out.timestamps,
            out.values,
            sep=";",
            header=header,
            value_format=NUMBER_FORMAT,
            time_format=".6f",
        )

    def label_folder(self, output: Path) -> Path:
        return label_path(output, "_").parent

    def read_timeline(self, folder: Path, recording_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        path = Path(folder) / f"{recording_id}.csv"
        if not path.is_file():
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            if handle.readline().count(";") < 2:
                return None
        times, _ = read_label_file(path, targets=())
        return times, None


@register_corpus
class SewaCorpus(Corpus):
    """SEWA arousal/valence/liking at 100 ms, AVEC 2017 or AVEC 2019 (CES) release.

    Stage partitions map to the corpus's ``Train``/``Devel``/``Test`` (AVEC 2019: the recordings
    of those partitions for the chosen ``cultures``). Without ``root`` the synthetic corpus of
    the chosen release is used (cached per release and seed).

    Args:
        root: corpus folder, or ``None`` for the synthetic corpus.
        features: feature folder names (e.g. ``audio_features_xbow_6s``), the turn-level text
            sets ``text_bow`` / ``text_emb``, ``transcript`` (raw turn text, see
            ``text_max_bytes``) and/or ``audio``: the raw waveform of
            ``audio/<name>.wav``, 1600 samples (16 kHz) per 100 ms label frame starting at the
            frame's time, never normalised with train statistics; concatenated per frame in
            this order.
        targets: any of ``arousal``, ``valence``, ``liking``.
        synthetic_seed: seed of the synthetic corpus.
        release: ``"avec2017"`` or ``"avec2019"``.
        cultures: AVEC 2019 only: any of ``DE``, ``HU`` and ``CN`` (default all three). ``CN``
            (Chinese) has test recordings only (``Test_CN_01..70``: no train or devel), so it
            only adds recordings to the ``Test`` partition; a CES submission covers
            Test_DE (16), Test_HU (18) and Test_CN (70).
        align: ``"nearest"`` or ``"exact"`` alignment of feature rows to label times.
        align_tolerance: largest distance (s) between a label time and its nearest feature row.
        interlocutor: ``"mixed"``, ``"purified"`` or ``"doubled"`` (needs ``turns/``).
        interlocutor_features: sets the strategy applies to; default: names containing
            ``audio`` or ``text``.
        bow_min_count: least count in the train transcriptions for a word to enter the
            ``text_bow`` vocabulary.
        embedding_file: word vectors for ``text_emb``.
        turn_sigma: σ of the Gaussian turn-label weights, as a fraction of the turn duration.
        with_test_labels: synthetic corpus only: write test labels (default true).
        text_max_bytes: width of the raw ``transcript`` feature set: per frame the UTF-8 bytes of
            the transcription row (turn) it falls in, zero-padded (a longer row is cut at a
            character boundary, with a :class:`SewaDataWarning` naming the file and row).
        vocabulary: a fixed ``text_bow`` vocabulary (a trained model's, restored from its
            checkpoint's ``reader_state``, see :class:`SewaState`) instead of the one built from
            the train transcriptions.
    """

    name = "sewa"
    layout_markers = (
        "labels",
        "turns",
        "transcriptions",
        "audio_features_*",
        "video_features_*",
        "visual_features*",
        "text_features_*",
    )
    level = "frame"
    label_step = LABEL_STEP
    partitions = {"train": "Train", "val": "Devel", "test": "Test"}
    targets = TARGET_NAMES
    label_range = {t: LABEL_RANGE for t in TARGET_NAMES}
    default_features = ("audio_features_xbow_6s",)
    raw_audio_args = {"features": ["audio"]}
    extract_layout = SewaExtractLayout(sewa_format)
    feature_distributor = "the AVEC 2017/2019 organisers"
    waveform_features = ("audio",)
    virtual_features = {
        "text_bow": "is computed by the SEWA datamodule from transcriptions/<id>.csv",
        "text_emb": "is computed by the SEWA datamodule from transcriptions/<id>.csv",
    }
    prediction_format = (
        "<out>/<partition>/<name>.csv: 'name';time;<targets>, ';'-separated (AVEC 2019 with a header line)"
    )
    State = SewaState
    synthetic_version = SYNTHETIC_VERSION
    option_rules = {
        "release": Rule(choices=RELEASES),
        "cultures": Rule(list, low=1, items=Rule(choices=CULTURES), distinct=True),
        "align": Rule(choices=("nearest", "exact")),
        "align_tolerance": Rule(float, low=0, low_open=True),
        "interlocutor": Rule(choices=INTERLOCUTOR_STRATEGIES),
        "interlocutor_features": Rule(list, nullable=True, items=Rule(str, low=1), distinct=True),
        "bow_min_count": Rule(int, low=1),
        "turn_sigma": Rule(float, low=0, low_open=True),
        "text_max_bytes": Rule(int, low=16),
    }

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int = 0,
        release: str = "avec2017",
        cultures: Sequence[str] = CULTURES,
        align: str = "nearest",
        align_tolerance: float = LABEL_STEP,
        interlocutor: str = "mixed",
        interlocutor_features: Sequence[str] | None = None,
        bow_min_count: int = 1,
        embedding_file: str | Path | None = None,
        turn_sigma: float = 0.25,
        with_test_labels: bool = True,
        vocabulary: Sequence[str] | None = None,
        text_max_bytes: int = 1024,
    ) -> None:
        if release not in RELEASES:
            raise ConfigError(f"data.args.release must be one of {RELEASES}, got {release!r}")
        if interlocutor not in INTERLOCUTOR_STRATEGIES:
            raise ConfigError(f"data.args.interlocutor must be one of {INTERLOCUTOR_STRATEGIES}, got {interlocutor!r}")
        if align not in ("nearest", "exact"):
            raise ConfigError(f"data.args.align must be 'nearest' or 'exact', got {align!r}")
        bad = [c for c in cultures if c not in CULTURES]
        if bad or not cultures:
            raise ConfigError(
                f"data.args.cultures must be a non-empty subset of {list(CULTURES)}, got {list(cultures)}"
            )
        super().__init__(root, features, targets, synthetic_seed)
        self.release = release
        self.cultures = list(cultures)
        self.align, self.align_tolerance = align, float(align_tolerance)
        self.interlocutor = interlocutor
        self.interlocutor_features = (
            [n for n in self.feature_names if "audio" in n or "text" in n]
            if interlocutor_features is None
            else list(interlocutor_features)
        )
        unknown = set(self.interlocutor_features) - set(self.feature_names)
        if unknown:
            raise ConfigError(f"interlocutor_features names {sorted(unknown)}, not among features {self.feature_names}")
        if "text_emb" in self.feature_names and embedding_file is None:
            raise ConfigError("feature 'text_emb' needs embedding_file=<word2vec/GloVe text file>")
        self.bow_min_count = int(bow_min_count)
        self.embedding_file = Path(embedding_file) if embedding_file is not None else None
        self.turn_sigma = float(turn_sigma)
        self.with_test_labels = bool(with_test_labels)
        #: the raw waveform is never z-normalised with train-partition statistics
        self.raw_feature_names = tuple(n for n in (RAW_AUDIO, TRANSCRIPT) if n in self.feature_names)
        if int(text_max_bytes) < 16:
            raise ConfigError(f"data.args.text_max_bytes must be at least 16, got {text_max_bytes}")
        self.text_max_bytes = int(text_max_bytes)
        #: the ``text_bow`` vocabulary of a trained model (from its checkpoint): used instead of
        #: the train transcriptions, so new data is encoded exactly as in training
        self.fixed_vocabulary = list(vocabulary) if vocabulary is not None else None
        self._vocabulary: list[str] | None = self.fixed_vocabulary
        self._vocabulary_sources: list[Path] = []  # files the vocabulary was built from
        self._embeddings: dict[str, np.ndarray] | None = None
        #: feature set → (its first file, that file's header's feature columns or None)
        self._columns: dict[str, tuple[Path | None, list[str] | None]] = {}
        self._widths = WidthCheck()

    # ------------------------------------------------------------------ synthetic corpus
    def synthetic_variant(self) -> tuple[str, dict[str, Any]]:
        """One synthetic corpus per release (and with/without test labels)."""
        labels = "" if self.with_test_labels else "-notestlabels"
        options: dict[str, Any] = {"release": self.release, "with_test_labels": self.with_test_labels}
        if RAW_AUDIO in self.feature_names:  # the audio is written only for the variant that reads it
            return f"sewa-{self.release}{labels}-audio", {**options, "with_audio": True}
        return f"sewa-{self.release}{labels}", options

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options: Any) -> Path:
        """The synthetic SEWA corpus of a release (:mod:`zoo.data.corpora.sewa.synthetic`)."""
        return write_synthetic_sewa(out_dir, seed=seed, **options)

    # ------------------------------------------------------------------ state
    def state(self) -> SewaState | None:
        """The ``text_bow`` vocabulary (``None`` without ``text_bow``)."""
        return SewaState(vocabulary=list(self.vocabulary())) if "text_bow" in self.feature_names else None

    def describe(self) -> dict[str, Any]:
        """Release and interlocutor strategy (kept in the checkpoint, restore nothing)."""
        return {
            "release": self.release,
            "interlocutor": self.interlocutor,
            "interlocutor_features": list(self.interlocutor_features),
        }

    def padding_blocks(self, feature: str) -> int:
        """2 for a *doubled* interlocutor set (target half and interlocutor half are zero-padded
        independently), else 1."""
        return 2 if self.interlocutor == "doubled" and feature in self.interlocutor_features else 1

    def _names(self, partition: str | None) -> list[str]:
        """Recording names of a partition; ``None`` = every recording whatever its name."""
        root = self.resolve_root()
        if partition is None:
            pattern = re.compile(r"^.+$")
        elif self.release == "avec2017":
            pattern = re.compile(rf"^{partition}_\d+$")
        else:
            cultures = (
                self.cultures if partition == "Test" else [c for c in self.cultures if c not in TEST_ONLY_CULTURES]
            )
            if not cultures:
                raise CorpusFormatError(
                    f"{root}: cultures={self.cultures} has no {partition} recordings: "
                    f"{'/'.join(TEST_ONLY_CULTURES)} is a test-only culture of AVEC 2019 CES; add DE or HU"
                )
            pattern = re.compile(rf"^{partition}_({'|'.join(cultures)})_\d+$")
        folders = [root / LABELS] + [root / f for f in self.feature_names if f not in NON_TABLE_SETS]
        if any(f in TEXT_SETS for f in self.feature_names):
            folders.append(root / TRANSCRIPTIONS)
        names: set[str] = set()
        for folder in folders:
            if note_source(folder).is_dir():
                names.update(p.stem for p in folder.glob("*.csv") if pattern.match(p.stem))
        for name in self.feature_names:
            if name not in TEXT_SETS and not note_source(root / name).is_dir():
                raise CorpusFormatError(
                    f"{root / name}: feature folder not found (feature set {name!r}); {root} has the feature "
                    f"sets {available_feature_sets(root)}"
                )
        return sorted(names)

    def read(self, partition: str) -> list[Recording]:
        """Read ``Train``/``Devel``/``Test`` recordings of :attr:`root`."""
        return self._load(self._names(partition), allow_missing=partition == "Test")

    def read_folder(self) -> list[Recording]:
        """Every recording of :attr:`root` whatever its name, labelled where a label file is
        present: a user's own recordings in the release's layout, for ``zoo predict MODEL FOLDER``.

        Raises:
            CorpusFormatError: no recording found, or a reading error naming the file.
        """
        names = self._names(None)
        if not names:
            raise CorpusFormatError(
                f"{self.resolve_root()}: no recordings found (expected <feature folder>/<name>.csv "
                f"for the feature sets {self.feature_names})"
            )
        return self._load(names, allow_missing=True)

    def _load(self, names: Sequence[str], allow_missing: bool) -> list[Recording]:
        root = self.resolve_root()
        recordings = []
        for name in names:
            label_file = note_source(label_path(root, name))
            if label_file.is_file():
                times, targets = read_label_file(label_file, self.target_names)
            elif allow_missing:
                times, targets = self._timeline_without_labels(name), None
            else:
                raise CorpusFormatError(f"{label_file}: label file not found (recording {name})")
            features = {n: self._read_set(name, n, times) for n in self.feature_names}
            if self.interlocutor != "mixed" and self.interlocutor_features:
                inside = inside_turns(times, self._subject_turns(name))
                for n in self.interlocutor_features:
                    features[n] = apply_interlocutor(features[n], inside, self.interlocutor)
            recordings.append(Recording(id=name, features=features, timestamps=times, targets=targets))
        return recordings

    def _timeline_without_labels(self, name: str) -> np.ndarray:
        root = self.resolve_root()
        for n in self.feature_names:
            if n == RAW_AUDIO:
                return _audio_timeline(audio_path(root, name))
            if n not in TEXT_SETS:
                times, _ = read_feature_file(feature_path(root, n, name), recording=name)
                return np.round(np.arange(0.0, times[-1] + 1e-9, LABEL_STEP), 6)
        end = max(e for _, e, _ in read_transcription(transcription_path(root, name)))
        return np.round(np.arange(0.0, end + 1e-9, LABEL_STEP), 6)

    def _subject_turns(self, name: str) -> np.ndarray:
        path = note_source(turns_path(self.resolve_root(), name))
        if not path.is_file():
            raise CorpusFormatError(
                f"{path}: turn file not found; interlocutor={self.interlocutor!r} and turn-level "
                f"data need the subject's turns (the AVEC 2017 layout has turns/)"
            )
        return read_turns(path)

    def _read_set(self, name: str, feature: str, times: np.ndarray) -> np.ndarray:
        root = self.resolve_root()
        if feature == TRANSCRIPT:
            return self._transcript_bytes(name, times)
        if feature in TEXT_SETS:
            return self._text_features(name, feature, times)
        if feature == RAW_AUDIO:
            return read_audio_frames(audio_path(root, name), times, SAMPLE_RATE, frame_seconds=LABEL_STEP)
        path = note_source(feature_path(root, feature, name))
        if not path.is_file():
            raise CorpusFormatError(f"{path}: feature file not found (feature set {feature!r}, recording {name})")
        ftimes, values = read_feature_file(path, recording=name, columns=self._set_columns(feature))
        self._widths.check(feature, path, values.shape[1])
        labels = note_source(label_path(root, name))
        return align_to_labels(
            path,
            ftimes,
            values,
            times,
            self.align,
            self.align_tolerance,
            label_path=labels if labels.is_file() else None,
        )

    def _set_columns(self, feature: str) -> list[str] | None:
        """The feature columns of a set's header, from its first file (by name): the other files
        are read by these names (``None``: the set's files have no header). That file is noted
        as a source of every read that uses it (the corpus cache depends on it)."""
        if feature not in self._columns:
            files = sorted((self.resolve_root() / feature).glob("*.csv"))
            first = next((f for f in files if f.is_file()), None)
            columns = None
            if first is not None:
                line = next((ln for ln in _read_lines(first, "feature") if ln.strip()), "")
                if line:
                    sep, has_header = _sniff(first, line)
                    if has_header:
                        columns = [c.strip().strip("'\"") for c in line.split(sep)][2:]
            self._columns[feature] = (first, columns)
        first, columns = self._columns[feature]
        if first is not None:
            note_source(first)
        return columns

    # ------------------------------------------------------------------ text
    def vocabulary(self) -> list[str]:
        """The ``text_bow`` vocabulary, from the train partition's transcriptions only.

        Built once; every later use notes the files it was built from again, so that the cache
        entry of any partition encoded with it depends on the train transcriptions (a changed
        train transcription rebuilds the devel and test entries too).
        """
        if self._vocabulary is None:
            root = self.resolve_root()
            paths = [transcription_path(root, name) for name in self._names("Train")]
            texts = [t for path in paths for _, _, t in read_transcription(path)]
            self._vocabulary = build_vocabulary(texts, self.bow_min_count)
            self._vocabulary_sources = [root / TRANSCRIPTIONS, *paths]
            if not self._vocabulary:
                raise CorpusFormatError(f"{root / 'transcriptions'}: no words in the train transcriptions")
        for path in self._vocabulary_sources:
            note_source(path)
        return self._vocabulary

    def _turn_vectors(self, name: str, feature: str) -> tuple[list[tuple[float, float, str]], np.ndarray]:
        rows = read_transcription(transcription_path(self.resolve_root(), name))
        if feature == "text_bow":
            vocab = self.vocabulary()
            vectors = [bag_of_words(t, vocab) for _, _, t in rows]
            dim = len(vocab)
        else:
            if self._embeddings is None:
                self._embeddings = read_embeddings(self.embedding_file)
            dim = len(next(iter(self._embeddings.values())))
            vectors = []
            for _, _, text in rows:
                known = [self._embeddings[w] for w in tokenize(text) if w in self._embeddings]
                vectors.append(np.mean(known, 0) if known else np.zeros(dim, np.float32))
        return rows, np.asarray(vectors, np.float32).reshape(len(rows), dim)

    def _transcript_bytes(self, name: str, times: np.ndarray) -> np.ndarray:
        """``(T, text_max_bytes)`` uint8: each frame's transcription row as UTF-8, zero-padded;
        zeros outside the rows. A longer row is cut at a character boundary with a warning."""
        path = transcription_path(self.resolve_root(), name)
        out = np.zeros((len(times), self.text_max_bytes), np.uint8)
        for line, (start, end, text) in enumerate(read_transcription(path), start=1):
            data = text.encode("utf-8")
            if len(data) > self.text_max_bytes:
                data = data[: self.text_max_bytes].decode("utf-8", errors="ignore").encode("utf-8")
                warnings.warn(
                    f"{path}: row {line} ({start:g}-{end:g} s) has {len(text.encode('utf-8'))} bytes of text; "
                    f"the first {len(data)} are kept (data.args.text_max_bytes={self.text_max_bytes})",
                    SewaDataWarning,
                    stacklevel=2,
                )
            lo, hi = turn_frames(times, start, end)
            out[lo:hi, : len(data)] = np.frombuffer(data, np.uint8)
        return out

    def _text_features(self, name: str, feature: str, times: np.ndarray) -> np.ndarray:
        rows, vectors = self._turn_vectors(name, feature)
        out = np.zeros((len(times), vectors.shape[1]), np.float32)
        for (start, end, _), v in zip(rows, vectors):
            lo, hi = turn_frames(times, start, end)
            out[lo:hi] = v
        return out

    # ------------------------------------------------------------------ turn level
    @classmethod
    def media_feature_problem(
        cls, feature: str, data_args: Mapping[str, Any], model_features: Sequence[str]
    ) -> str | None:
        """A feature set split by the subject's turns (``interlocutor`` other than ``mixed``)
        needs ``turns/<id>.csv``, which a raw media file does not come with."""
        interlocutor = data_args.get("interlocutor", "mixed")
        split = data_args.get("interlocutor_features") or [n for n in model_features if "audio" in n or "text" in n]
        if interlocutor != "mixed" and feature in split:
            return (
                f"feature set {feature!r} is split by the subject's turns (interlocutor: "
                f"{interlocutor}), which needs SEWA's turns/<id>.csv"
            )
        return None

    def turn_data(self, recordings: Sequence[Recording]) -> list[dict[str, Any]]:
        """One sample per subject turn, for non-temporal models (e.g. Chen et al.'s SVR).

        Turns are the transcription rows whose centre lies in one of the subject's turns (all
        transcription rows when there is no ``turns/`` folder; the ``turns/`` rows when there are
        no transcriptions). A turn's features are the mean of the prepared (delayed,
        normalised) frame features over its frames; its label is :func:`gaussian_turn_labels`.

        Returns:
            Per recording ``{"id", "spans": (n, 2) int frame [lo, hi), "features": (n, D),
            "targets": (n, K) or None, "num_frames"}``, turns in time order.
        """
        out = []
        root = self.resolve_root()
        for rec in recordings:
            trans_path = transcription_path(root, rec.id)
            turn_path = turns_path(root, rec.id)
            if trans_path.is_file():
                rows = [(s, e) for s, e, _ in read_transcription(trans_path)]
                if turn_path.is_file():
                    subject = read_turns(turn_path)
                    rows = [
                        (s, e)
                        for s, e in rows
                        if np.any((subject[:, 0] <= (s + e) / 2) & ((s + e) / 2 < subject[:, 1]))
                    ]
            elif turn_path.is_file():
                rows = [tuple(r) for r in read_turns(turn_path)]
            else:
                raise CorpusFormatError(f"{root}: recording {rec.id} has neither transcriptions/ nor turns/")
            x = np.concatenate([rec.features[n].reshape(rec.num_frames, -1) for n in self.feature_names], 1)
            spans, feats, labels = [], [], []
            for start, end in rows:
                lo, hi = turn_frames(rec.timestamps, start, end)
                if hi <= lo:
                    continue
                spans.append((lo, hi))
                feats.append(x[lo:hi].mean(0))
                if rec.targets is not None:
                    labels.append(gaussian_turn_labels(rec.timestamps, rec.targets, start, end, self.turn_sigma))
            out.append(
                {
                    "id": rec.id,
                    "spans": np.asarray(spans, np.int64).reshape(-1, 2),
                    "features": np.asarray(feats, np.float32).reshape(len(spans), x.shape[1]),
                    "targets": None if rec.targets is None else np.asarray(labels, np.float32).reshape(len(spans), -1),
                    "num_frames": rec.num_frames,
                }
            )
        return out

    def feature_file(self, recording_id: str, feature_set: str) -> Path | None:
        """``<set>/<name>.csv``, the WAV of the raw audio, or the transcription of a text set."""
        if self.root is None:
            return None
        if feature_set == RAW_AUDIO:
            return audio_path(self.root, recording_id)
        if feature_set in TEXT_SETS:
            return transcription_path(self.root, recording_id)
        return feature_path(self.root, feature_set, recording_id)

    # ------------------------------------------------------------------ predictions
    def write_predictions(
        self,
        out_dir: Path,
        partition: str | None,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Write ``<out_dir>/<partition>/<name>.csv``: ``'name';time;<one column per target>``,
        ``;``-separated. AVEC 2017: no header (as the label files); AVEC 2019: header
        ``name;timestamp;<targets>``."""
        folder = self.prediction_folder(out_dir, partition)
        folder.mkdir(parents=True, exist_ok=True)
        preds = np.asarray(preds, np.float64).reshape(recording.num_frames, -1)
        lines = [] if self.release == "avec2017" else [";".join(["name", "timestamp", *target_names])]
        for t, row in zip(recording.timestamps, preds):
            lines.append(";".join([f"'{recording.id}'", f"{t:.6f}", *(f"{v:.6f}" for v in row)]))
        (folder / f"{recording.id}.csv").write_text("\n".join(lines) + "\n")

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """Read back ``<out_dir>/<partition>/<name>.csv`` written by :meth:`write_predictions` →
        ``(T, K)``.

        Raises:
            CorpusFormatError: missing file, or rows that are not the recording's label frames.
        """
        folder = self.prediction_folder(out_dir, partition)
        path = note_source(Path(folder) / f"{recording.id}.csv")
        if not path.is_file():
            raise CorpusFormatError(f"{path}: prediction file not found (recording {recording.id})")
        times, values = read_prediction_file(path, target_names)
        if len(times) != recording.num_frames or np.max(np.abs(times - recording.timestamps)) > 1e-3:
            raise CorpusFormatError(
                f"{path}: {len(times)} rows do not match the {recording.num_frames} label frames of "
                f"recording {recording.id}"
            )
        return values
