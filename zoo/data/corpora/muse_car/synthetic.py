"""Synthetic MuSe-CaR corpus in the layout of the MuSe 2020 MuSe-Wild sub-challenge, with media.

The real corpus (Stappen et al. 2020, "MuSe 2020 Challenge and Workshop: Multimodal Sentiment
Analysis, Emotion-target Engagement and Trustworthiness Detection in Real-life Media", ACM MM)
is only available under licence; this module writes a small stand-in with exactly the same
layout, so that the reader, the datamodule and every recipe can run anywhere, plus the media the
features are computed from::

    <out_dir>/README.txt                                        says the corpus is synthetic
    <out_dir>/metadata/partition.csv                            Id,Proposal (with duplicate rows)
    <out_dir>/c1_muse_wild/label_segments/{arousal,valence}/<id>.csv
                                                                timestamp,value,segment_id
    <out_dir>/c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv
                                                                timestamp,segment_id,<D columns>
    <out_dir>/audio/<id>.wav                                    16 kHz mono: the reviewer's voice
    <out_dir>/video/<id>.mp4, <id>.boxes.csv                    4 fps, 64×64: face or car; face boxes
    <out_dir>/models/face_resnet10t.pth                         the face network of ``vggface``

How the data is made (all deterministic given ``seed``):

* **videos** — integer ids drawn at random (not contiguous), 1–3 topic segments of
  :data:`SEGMENT_FRAMES` frames each at 250 ms, timestamps in integer milliseconds from 0,
  ``segment_id`` counting from 1.
* **labels** — arousal and valence are smooth trajectories in (-1, 1) (slow sinusoids of 12–90 s
  periods plus low-pass noise and a small step per topic segment, squashed with ``tanh``), like
  the continuous ratings of the real corpus.
* **annotation delay** — the media show the emotion ``DELAY_FRAMES`` = 8 frames (2 s) *before*
  the label does: ``label[t] = latent[t]`` while the voice and the face at ``t`` express
  ``latent[t + 8]``, as raters react a few seconds late.
* **audio** (``audio/<id>.wav``) — one reviewer's voice (:mod:`._voice`: pitch and loudness follow
  arousal, the first formant valence) speaking in phrases of 2–8 s with short pauses.
* **video** (``video/<id>.mp4``) — the reviewer's face (:mod:`._face`: brightness and smile follow
  valence, mouth opening and head movement arousal) about three quarters of the time, else the
  car without a face; ``<id>.boxes.csv`` gives the face box of each frame that shows one.
* **features computed from the media by the extractors of ``zoo extract``** (each folder holds the
  ``extract_settings.json`` that ``zoo extract`` writes, so a bundle trained on them records its
  extractors and predicts raw media): ``egemaps`` — openSMILE eGeMAPS v02 functionals over 5 s
  windows every 250 ms, as the MuSe 2020 organisers computed theirs (88-d); ``vggface`` — the
  ``timm_face`` extractor over the face crops with the seeded random ``resnet10t`` of
  ``models/`` (:func:`._face.write_face_network`: post-ReLU embeddings of about 1, 512-d, zeros
  where no face is seen; option ``face_present=false``, so the files have the release's 512
  columns), standing in for the organisers' VGGFace embeddings, which need a licensed network.
* **features no extractor of the zoo reproduces** are generated from the same delayed emotion with
  the statistics of the real sets: ``vggish`` (128-d post-ReLU audio embeddings, lower in pauses),
  ``fasttext`` (300-d word vectors with components of about ±0.1, constant over each word,
  zero between words), ``au`` (OpenFace: 17 action-unit intensities in [0, 5] and 18 presences in
  {0, 1}, zero without a face) and ``openpose`` (18 body keypoints as x, y in [0, 1] and a
  confidence, gestures growing with arousal, zero without a person). None has an arbitrary
  per-column scale or offset.

On the default corpus the paper's recipe (``recipes/muse_car/sun2020_lstm_selfattn.yaml``:
eGeMAPS standardised, VGGFace as it is, batch 256, lr 0.005) learns arousal to a test CCC above
0.6, while a constant or a shuffled predictor scores about 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.corpora.muse_car.format import (
    PARTITION_HEADER,
    feature_folder,
    feature_path,
    feature_table,
    format_fixed,
    label_path,
    label_table,
    partition_path,
)
from zoo.data.synthetic import staged_folder
from zoo.data.synthetic._face import face_frames, one_torch_thread, write_boxes, write_face_network, write_video
from zoo.data.synthetic._random import component_rng, smooth
from zoo.data.synthetic._voice import synthetic_voice, write_voice_wav

__all__ = [
    "SYNTHETIC_VERSION",
    "DELAY_FRAMES",
    "FEATURE_DIMS",
    "MEDIA_FEATURES",
    "DEFAULT_N_VIDEOS",
    "SEGMENT_FRAMES",
    "write_synthetic_muse_car",
]

#: Bump whenever the generated bytes change, so that cached corpora are regenerated.
SYNTHETIC_VERSION = "4"  # 3: media; egemaps and vggface computed from them; real feature statistics; 4: vggface in the release's 512 columns
#: Frames by which the labels lag the media (8 × 250 ms = 2 s annotation delay).
DELAY_FRAMES = 8
LABEL_STEP_MS = 250
TARGETS = ("arousal", "valence")
DEFAULT_N_VIDEOS: dict[str, int] = {"train": 12, "devel": 4, "test": 4}
#: Range of the number of frames of one topic segment (default: 25–60 s).
SEGMENT_FRAMES = (100, 240)
_SEGMENT_COUNT_P = (0.7, 0.25, 0.05)
_SIGNIFICANT_DIGITS = 4
VIDEO_FPS = 4.0
VIDEO_SIZE = 64
FACE_ARCH = "resnet10t"
FACE_IMAGE_SIZE = 32
FACE_WEIGHTS = "models/face_resnet10t.pth"
#: feature sets computed from the media: set → (extractor, hop, window, options)
MEDIA_FEATURES: dict[str, tuple[str, float, float | None, dict]] = {
    "egemaps": ("egemaps", 0.25, 5.0, {}),
    # the embedding alone, 512-d as the MuSe 2020 vggface files (no face_present column)
    "vggface": ("timm_face", 0.25, None, {"arch": FACE_ARCH, "image_size": FACE_IMAGE_SIZE, "face_present": False}),
}
#: columns of every feature set (those of the MuSe 2020 release)
FEATURE_DIMS: dict[str, int] = {
    "egemaps": 88,
    "vggface": 512,
    "vggish": 128,
    "fasttext": 300,
    "au": 35,  # Sun et al. 2020, Table 3: FAUs 35, OpenPose 54
    "openpose": 54,
}
_AU_NAMES = ("01", "02", "04", "05", "06", "07", "09", "10", "12", "14", "15", "17", "20", "23", "25", "26", "45")


@dataclass(frozen=True)
class _Video:
    id: int
    partition: str
    index: int
    segment_lengths: tuple[int, ...]

    @property
    def num_frames(self) -> int:
        return int(sum(self.segment_lengths))


def _standardize(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / (x.std(0) + 1e-12)


# --------------------------------------------------------------------------- corpus structure
def _plan_videos(seed: int, n_videos: Mapping[str, int], segment_frames: tuple[int, int]) -> list[_Video]:
    """Random integer ids, partitions and segment lengths."""
    rng = component_rng(seed, "videos")
    total = sum(n_videos.values())
    ids = rng.choice(np.arange(1, 4 * total + 20), size=total, replace=False)
    videos, k = [], 0
    for partition, count in n_videos.items():
        for _ in range(count):
            n_seg = int(rng.choice(len(_SEGMENT_COUNT_P), p=_SEGMENT_COUNT_P)) + 1
            lo, hi = segment_frames
            lengths = lo + np.floor((hi - lo) * rng.random(n_seg)).astype(int)
            videos.append(_Video(int(ids[k]), partition, k, tuple(int(n) for n in lengths)))
            k += 1
    return videos


def _latent(seed: int, video: _Video) -> np.ndarray:
    """Arousal/valence trajectory of ``num_frames + DELAY_FRAMES`` frames, shape (N, 2)."""
    rng = component_rng(seed, "latent", video.index)
    n = video.num_frames + DELAY_FRAMES
    t = np.arange(n) * (LABEL_STEP_MS / 1000.0)
    seg = np.repeat(np.arange(len(video.segment_lengths)), video.segment_lengths)
    seg = np.concatenate([seg, np.full(DELAY_FRAMES, seg[-1])])
    dims = []
    for _ in TARGETS:
        freq = 10 ** rng.uniform(np.log10(1 / 90), np.log10(1 / 12), size=3)  # periods 12–90 s
        amp = rng.uniform(0.4, 1.0, size=3)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        waves = (amp * np.sin(2 * np.pi * freq * t[:, None] + phase)).sum(1)
        noise = smooth(rng.normal(size=n), 24)
        steps = rng.normal(0, 0.4, size=len(video.segment_lengths))[seg]
        s = _standardize(waves) + 0.4 * _standardize(noise) + smooth(steps, 16)
        s = _standardize(s) * rng.uniform(0.6, 1.0) + rng.uniform(-0.3, 0.3)
        dims.append(np.tanh(s))
    return np.stack(dims, axis=1)


def _spans(rng: np.random.Generator, n: int, on: tuple[float, float], off: tuple[float, float]) -> np.ndarray:
    """``(n,)`` bool: alternating on/off stretches of uniform lengths (frames), starting on."""
    out, t, state = np.zeros(n, bool), 0, True
    while t < n:
        lo, hi = on if state else off
        length = max(1, int(rng.uniform(lo, hi)))
        out[t : t + length] = state
        t, state = t + length, not state
    return out


# --------------------------------------------------------------------------- media
def _write_media(
    folder: Path, seed: int, video: _Video, drive: np.ndarray, visible: np.ndarray, voiced: np.ndarray
) -> list:
    """``audio/<id>.wav``, ``video/<id>.mp4`` and its boxes; returns 8 of its face crops."""
    rng = component_rng(seed, "voice", video.index)
    step = LABEL_STEP_MS / 1000.0
    voice = synthetic_voice(drive, voiced, step, rng, base_pitch=float(rng.uniform(100.0, 220.0)))
    write_voice_wav(folder / "audio" / f"{video.id}.wav", voice)
    face_rng = component_rng(seed, "face", video.index)
    frames, boxes, crops = [], [], []
    for image, box in face_frames(drive, visible, step, VIDEO_FPS, VIDEO_SIZE, face_rng, face_rng.uniform(120, 170)):
        frames.append(image)
        boxes.append(box)
        if box is not None:
            x, y, w, h = box
            crops.append(image[y : y + h, x : x + w])
    write_video(folder / "video" / f"{video.id}.mp4", frames, VIDEO_FPS, VIDEO_SIZE)
    write_boxes(folder / "video" / f"{video.id}.boxes.csv", boxes)
    return crops[:: max(1, len(crops) // 8)][:8]  # a few of this face for the network's calibration


def _media_extractors(folder: Path, seed: int, crops: list, sets: Sequence[str]) -> dict:
    """The ``zoo extract`` extractor of each media feature set, and its settings record."""
    # the extractor classes themselves: the zoo.features package would import every extractor,
    # and one of them reads RECOLA through zoo.data
    from zoo.features.audio import EGeMAPS
    from zoo.features.settings import extraction_settings
    from zoo.features.visual import TimmFaceExtractor

    classes = {"egemaps": EGeMAPS, "timm_face": TimmFaceExtractor}
    extractors = {}
    for name in sets:
        extractor_name, hop, win, options = MEDIA_FEATURES[name]
        weights = None
        if extractor_name == "timm_face":
            weights = write_face_network(folder / FACE_WEIGHTS, seed, FACE_ARCH, crops, FACE_IMAGE_SIZE)
        extractor = classes[extractor_name](hop=hop, win=win, weights=weights, **options)
        settings = extraction_settings(extractor, "muse_car", options, None, weights_relative_to=folder)
        extractors[name] = (extractor, settings)
    return extractors


# --------------------------------------------------------------------------- statistical sets
def _projection(seed: int, name: str, n_in: int, dim: int, informative: float) -> np.ndarray:
    """``(n_in, dim)`` weights, unit-norm columns on the informative share, zero elsewhere."""
    rng = component_rng(seed, "mapping", name)
    weights = rng.normal(size=(n_in, dim))
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    weights[:, rng.permutation(dim)[int(round(informative * dim)) :]] = 0.0
    return weights


def _terms(drive: np.ndarray) -> np.ndarray:
    a, v = drive[:, 0], drive[:, 1]
    return np.stack([a, v, np.tanh(2.0 * a), np.tanh(2.0 * v), a * v, a**2 - 0.3, v**2 - 0.3], axis=1)


def _vggish(seed: int, video: _Video, drive: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """128-d post-ReLU embeddings of 0.96 s patches (constant over 4 frames), lower in pauses."""
    rng = component_rng(seed, "features", "vggish", video.index)
    n = len(drive)
    patch = np.arange(n) // 4
    signal = _terms(drive) @ _projection(seed, "vggish", 7, 128, 0.6)
    x = 0.5 + 0.45 * signal + 0.35 * rng.standard_normal((patch[-1] + 1, 128))[patch]
    x *= np.where(voiced, 1.0, 0.4)[:, None]
    return np.maximum(x, 0.0)


def _fasttext(seed: int, video: _Video, drive: np.ndarray) -> np.ndarray:
    """300-d word vectors constant over each word, zero between words."""
    rng = component_rng(seed, "features", "fasttext", video.index)
    n = len(drive)
    lengths = rng.integers(1, 5, size=n)
    span = np.repeat(np.arange(n), lengths)[:n]
    spoken = rng.random(n) < 0.75
    first = np.searchsorted(span, np.arange(span[-1] + 1))
    words = 0.1 * rng.standard_normal((span[-1] + 1, 300))
    words += 0.08 * (_terms(drive[first]) @ _projection(seed, "fasttext", 7, 300, 0.3))
    x = words[span]
    x[~spoken[span]] = 0.0
    return x


def _au(seed: int, video: _Video, drive: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """OpenFace: 17 AU intensities in [0, 5] then 18 presences (the 17 and AU28) in {0, 1}."""
    rng = component_rng(seed, "features", "au", video.index)
    n = len(drive)
    a, v = drive[:, 0], drive[:, 1]
    index = {name: i for i, name in enumerate(_AU_NAMES)}
    intensity = 0.6 + 0.3 * smooth(rng.standard_normal((n, 17)), 4) * 2 + 0.25 * rng.standard_normal((n, 17))
    intensity[:, index["12"]] += 1.6 * v + 0.6
    intensity[:, index["06"]] += 1.2 * np.tanh(2 * v) + 0.4
    intensity[:, index["04"]] -= 1.0 * v
    intensity[:, index["25"]] += 1.0 * (a + 1.0)
    intensity[:, index["26"]] += 0.7 * (a + 1.0)
    intensity[:, index["05"]] += 0.6 * a
    intensity = np.clip(intensity, 0.0, 5.0)
    presence = (intensity > 1.0).astype(np.float64)
    presence = np.column_stack([presence, (rng.random(n) < 0.1).astype(np.float64)])  # AU28: presence only
    x = np.column_stack([intensity, presence])
    x[~visible] = 0.0
    return x


def _openpose(seed: int, video: _Video, drive: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """18 keypoints (x, y in [0, 1], confidence): gestures grow with arousal, lean with valence."""
    rng = component_rng(seed, "features", "openpose", video.index)
    n = len(drive)
    a, v = drive[:, 0], drive[:, 1]
    rest = rng.uniform(0.3, 0.7, size=(18, 2))
    t = np.arange(n) * LABEL_STEP_MS / 1000.0
    sway = smooth(rng.standard_normal((n, 2)), 8) * 0.02
    gesture = 0.06 * (a[:, None] + 1.0) * np.sin(2 * np.pi * rng.uniform(0.3, 0.8, 18) * t[:, None])
    xy = rest[None] + sway[:, None, :]
    xy[:, :, 0] += gesture
    xy[:, :, 1] -= 0.04 * v[:, None]  # upright when positive
    xy += 0.005 * rng.standard_normal(xy.shape)
    confidence = np.clip(0.8 + 0.1 * rng.standard_normal((n, 18)), 0.0, 1.0)
    x = np.concatenate([np.clip(xy, 0.0, 1.0), confidence[..., None]], axis=2).reshape(n, 54)
    x[~visible] = 0.0
    return x


def _statistical(
    name: str, seed: int, video: _Video, drive: np.ndarray, visible: np.ndarray, voiced: np.ndarray
) -> np.ndarray:
    """A feature set no extractor of the zoo reproduces, from the delayed emotion."""
    if name == "vggish":
        return _vggish(seed, video, drive, voiced)
    if name == "fasttext":
        return _fasttext(seed, video, drive)
    if name == "au":
        return _au(seed, video, drive, visible)
    return _openpose(seed, video, drive, visible)


# --------------------------------------------------------------------------- CSV formatting
def _column_decimals(values: np.ndarray, significant: int = _SIGNIFICANT_DIGITS) -> np.ndarray:
    """Decimals per column giving ``significant`` digits for the column's largest magnitude."""
    peak = np.abs(values).max(axis=0) if len(values) else np.zeros(values.shape[1])
    magnitude = np.floor(np.log10(np.maximum(peak, 1e-12)))
    return np.clip(significant - 1 - magnitude, 0, 8).astype(np.int64)


#: the vectorised fixed-point CSV writer (kept under its old name for the tests)
_format_rows = format_fixed


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --------------------------------------------------------------------------- writer
def _readme(
    seed: int,
    n_videos: Mapping[str, int],
    feature_sets: Sequence[str],
    with_test_labels: bool,
    n_frames: Mapping[str, int],
) -> str:
    sets = "\n".join(
        f"  {n}: {FEATURE_DIMS[n]} dimensions"
        + (f", computed from the media by zoo extract's {MEDIA_FEATURES[n][0]!r}" if n in MEDIA_FEATURES else "")
        for n in feature_sets
    )
    frames = ", ".join(f"{p}: {n} frames" for p, n in n_frames.items())
    return (
        "SYNTHETIC MuSe-CaR corpus -- NOT real data.\n\n"
        "Written by affect-zoo (zoo/data/corpora/muse_car/synthetic.py, generator version "
        f"{SYNTHETIC_VERSION}, seed {seed}) in the layout of the MuSe 2020 MuSe-Wild\n"
        "sub-challenge (Stappen et al. 2020, 'MuSe 2020 Challenge and Workshop', ACM\n"
        "Multimedia). Results on it say nothing about the real challenge; it exists to test\n"
        "code and recipes.\n\n"
        f"Videos: {dict(n_videos)} ({frames}); label step {LABEL_STEP_MS} ms.\n"
        f"Media: audio/<id>.wav (16 kHz voice), video/<id>.mp4 ({VIDEO_FPS:g} fps, face boxes in "
        f"<id>.boxes.csv).\n"
        f"Annotation delay: labels lag the media by {DELAY_FRAMES} frames "
        f"({DELAY_FRAMES * LABEL_STEP_MS / 1000:g} s).\n"
        f"Test labels written: {'yes' if with_test_labels else 'no'}.\n"
        f"Feature sets (c1_muse_wild/feature_segments/label_aligned):\n{sets}\n"
    )


def _write_corpus(
    folder: Path,
    seed: int,
    n_videos: Mapping[str, int],
    feature_sets: Sequence[str],
    with_test_labels: bool,
    segment_frames: tuple[int, int],
) -> None:
    from zoo.features.settings import SETTINGS_FILE
    from zoo.features.writers import write_features

    videos = _plan_videos(seed, n_videos, segment_frames)
    plans = []
    crops: list = []
    for video in videos:  # labels and media first: the face network is calibrated on the faces
        latent = _latent(seed, video)
        n = video.num_frames
        drive = latent[DELAY_FRAMES : DELAY_FRAMES + n]
        timestamps = np.arange(n, dtype=np.int64) * LABEL_STEP_MS
        segment_ids = np.repeat(np.arange(1, len(video.segment_lengths) + 1), video.segment_lengths)
        if video.partition != "test" or with_test_labels:
            for k, target in enumerate(TARGETS):
                data = label_table(timestamps, latent[:n, k], segment_ids, number_format=5)
                _write(label_path(folder, target, video.id), data)
        visible = _spans(component_rng(seed, "visible", video.index), n, (20, 120), (8, 40))
        voiced = _spans(component_rng(seed, "voiced", video.index), n, (8, 32), (1, 4))  # phrases, pauses
        crops += _write_media(folder, seed, video, drive, visible, voiced)
        plans.append((video, drive, visible, voiced, timestamps, segment_ids))
    media = _media_extractors(folder, seed, crops, [n for n in feature_sets if n in MEDIA_FEATURES])
    for name, (_, settings) in media.items():
        _write(feature_folder(folder, name) / SETTINGS_FILE, (json.dumps(settings, indent=2) + "\n").encode())
    for video, drive, visible, voiced, timestamps, segment_ids in plans:
        times = timestamps / 1000.0
        for name in feature_sets:
            if name in media:
                source = folder / ("audio" if name == "egemaps" else "video")
                source = source / f"{video.id}.{'wav' if name == 'egemaps' else 'mp4'}"
                out = media[name][0].extract(source, times)
                write_features("muse_car", feature_path(folder, name, video.id), str(video.id), out, segment_ids)
                continue
            x = _statistical(name, seed, video, drive, visible, voiced)
            columns = [f"{name}_{j}" for j in range(x.shape[1])]
            data = feature_table(timestamps, segment_ids, x, columns, number_format=_column_decimals(x))
            _write(feature_path(folder, name, video.id), data)
    _write(partition_path(folder), _partition_csv(seed, videos))
    n_frames = {p: sum(v.num_frames for v in videos if v.partition == p) for p in n_videos}
    _write(folder / "README.txt", _readme(seed, n_videos, feature_sets, with_test_labels, n_frames).encode())


def _partition_csv(seed: int, videos: Sequence[_Video]) -> bytes:
    """``Id,Proposal`` sorted by id, with two rows repeated like in the real file."""
    rows = sorted((v.id, v.partition) for v in videos)
    rng = component_rng(seed, "partition")
    for i in sorted(rng.choice(len(rows), size=min(2, len(rows)), replace=False), reverse=True):
        rows.insert(int(i) + 1, rows[int(i)])
    return (",".join(PARTITION_HEADER) + "\n" + "".join(f"{i},{p}\n" for i, p in rows)).encode()


def write_synthetic_muse_car(
    out_dir: str | Path,
    seed: int = 0,
    n_videos: Mapping[str, int] | None = None,
    *,
    with_test_labels: bool = True,
    feature_sets: Sequence[str] | None = None,
    segment_frames: tuple[int, int] = SEGMENT_FRAMES,
) -> Path:
    """Write a synthetic MuSe-CaR corpus (see the module docstring for the layout and content).

    The corpus is written into a temporary sibling folder and renamed into place, so an
    interrupted run never leaves a half corpus at ``out_dir``. The bytes depend only on the
    arguments (same seed → identical files). Media are always written; the time goes mostly into
    openSMILE (about 2–4 % of the audio's length on one core).

    Args:
        out_dir: folder to create; must not exist or be empty.
        seed: random seed.
        n_videos: number of videos per partition, default ``{"train": 12, "devel": 4, "test": 4}``.
        with_test_labels: write label files for the test videos (the real challenge does not).
        feature_sets: subset of :data:`FEATURE_DIMS` to write (default: all). The values of a
            feature set do not depend on which other sets are written.
        segment_frames: ``(low, high)`` frames of a topic segment (tests use shorter videos).

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` already holds files (also when another process wrote it
            while this one was generating).
        ValueError: unknown feature set or partition name, a negative video count, or segment
            lengths that are not ``1 <= low < high``.
    """
    out_dir = Path(out_dir)
    n_videos = dict(DEFAULT_N_VIDEOS if n_videos is None else n_videos)
    feature_sets = list(FEATURE_DIMS if feature_sets is None else feature_sets)
    unknown = [n for n in feature_sets if n not in FEATURE_DIMS]
    if unknown:
        raise ValueError(f"unknown synthetic feature sets {unknown}; known: {list(FEATURE_DIMS)}")
    bad = {p: c for p, c in n_videos.items() if p not in DEFAULT_N_VIDEOS or c < 0}
    if bad:
        raise ValueError(f"n_videos must map train/devel/test to counts >= 0, got {bad}")
    lo, hi = (int(v) for v in segment_frames)
    if not 1 <= lo < hi:
        raise ValueError(f"segment_frames must be (low, high) with 1 <= low < high, got {segment_frames}")
    with staged_folder(out_dir) as tmp, one_torch_thread():
        _write_corpus(tmp, int(seed), n_videos, feature_sets, with_test_labels, (lo, hi))
    return out_dir
