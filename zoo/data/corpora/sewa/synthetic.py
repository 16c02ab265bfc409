"""Synthetic SEWA corpus in the layout of the AVEC 2017 or the AVEC 2019 (CES) release.

NOT real data: a small, deterministic corpus for testing code and recipes. It reproduces the
file layouts and quirks the reader must handle and carries a learnable signal:

* **dyadic conversations** — subject and interlocutor alternate turns of 2–6 s (with short
  pauses); ``turns/<name>.csv`` lists the subject's turns (AVEC 2017 layout only).
* **labels** — arousal, valence and liking of the subject: smooth random trajectories in
  about ``[-0.8, 0.8]`` every 100 ms; liking varies slowly. Labels lag the signal by
  :data:`DELAY_FRAMES` frames (annotation delay).
* **audio features** (``audio_features_xbow_6s`` / ``audio_features_egemaps*``) — during the
  subject's turns they carry the *subject's* arousal (and some valence) through a noisy,
  partly non-linear mapping; during the interlocutor's turns they carry the *interlocutor's*
  own, unrelated arousal/valence through the same mapping (so a model that cannot tell the
  speakers apart is misled: "purified"/"doubled" interlocutor handling helps); pauses are
  noise. Half of the dimensions are distractors.
* **video features** (``video_features_xbow_6s`` / ``visual_features*``) — the subject's face,
  all the time: valence (and some arousal). FAU files carry 17 action-unit intensities
  (AU12/AU06 up with valence, AU04 down, AU25/AU26 with arousal while speaking, AU06/AU14 with
  liking).
* **transcriptions** (AVEC 2017) — German words per turn; in the subject's turns positive
  words (``toll``, ``super``, ...) appear when liking is high and negative ones (``langweilig``,
  ``schlecht``, ...) when it is low; the interlocutor uses them at random. The text xbow
  features count recent positive/negative words of both speakers.
* xbow-like features are non-negative and smoothed over 2 s windows (the real ones over 6 s).
* **short-time features** (AVEC 2017 layout; Chen et al. 2017, §3): the frame-level features
  the LSTMs of that paper read, one row per 100 ms label frame, unsmoothed and real-valued,
  through the same delayed, noisy, partly non-linear mapping: ``audio_features_is10`` (76-d, the
  width of openSMILE's IS10 LLDs + deltas, what ``zoo extract is10_lld --hop 0.1`` writes) and
  ``audio_features_soundnet`` (whoever speaks, like the xbow audio, so interlocutor strategies
  matter), ``video_features_vggface_conv5`` and ``video_features_denseface`` (the subject's face;
  about 3 % of the frames are all-zero rows, "no face detected"), and
  ``text_features_wordvec_de`` (per turn the mean of the turn's word vectors from
  ``word_embeddings/wordvec_de.txt``, repeated over the turn's frames, zeros elsewhere — what
  ``zoo extract word_vectors --weights word_embeddings/wordvec_de.txt`` writes from
  ``transcriptions/``; positive and negative words lie on opposite sides of one direction).
  The pretrained-network widths are reduced to :data:`SHORT_TIME_DIMS` to keep the corpus small.

Media: with ``with_audio=True`` (the corpus variant the raw ``audio`` feature set reads) each
recording also gets ``audio/<name>.wav``, 16 kHz mono 16-bit PCM, as long as its labels: the
subject's and the interlocutor's voices in their own turns (:mod:`zoo.data.synthetic._voice`:
pitch and loudness follow arousal, timbre valence; each speaker has their own pitch), silence
in pauses, with the same annotation delay as the features. Video (``video/*.avi``) is never
written. The other files are byte-identical with and without audio.

AVEC 2019 (CES) layout: recordings ``<Part>_<DE|HU>_<NN>`` plus test-only Chinese recordings
``Test_CN_<NN>`` (the real test partition has Test_DE 16, Test_HU 18, Test_CN 70). Feature
folders (:data:`AVEC2019_FEATURES`) are the baseline feature sets of the AVEC 2019 CES package,
i.e. Atmaja & Akagi 2020's Table 1, under the folder names of the organisers' baseline scripts
(github.com/AudioVisualEmotionChallenge/AVEC2019: ``audio_features_egemaps_xbow``,
``visual_features_xbow``, ``audio_features_{egemaps,mfcc}[_functionals]``,
``visual_features[_functionals]``; ``audio_features_mfcc_xbow`` by analogy):

* ``audio_features_egemaps`` / ``audio_features_mfcc`` — 23 eGeMAPS / 39 MFCC (+Δ, ΔΔ)
  low-level descriptors every 10 ms (header, ``;``), aligned to the labels by nearest row;
* ``*_functionals`` — mean and standard deviation of those LLDs (FAUs: of confidence and the 17
  AUs) over 4 s windows every 100 ms, computed from the written LLDs as the organisers'
  ``generate_functionals.py`` does (no header, ``;``);
* ``*_xbow`` — bag-of-words histograms every 100 ms (48 / 32 bins here; 100 in the release);
* ``audio_features_deepspectrum``, ``visual_features_resnet``, ``visual_features_vgg`` — CNN
  embeddings every 100 ms, 32-d here (thousands in the release); these three folder names are
  our choice: we found no public file that names them for CES.

Quirks reproduced: label files with a header and quoted names, feature files with and without
header, with ``;`` and with ``,``, FAUs at 25 fps and LLDs at 10 ms (aligned to the 100 ms labels
by nearest timestamp).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.corpora.sewa.format import (
    audio_path,
    feature_path,
    format_table,
    label_path,
    transcription_path,
    turns_path,
)
from zoo.data.synthetic import staged_folder
from zoo.data.synthetic._voice import synthetic_voice, write_voice_wav

__all__ = [
    "SYNTHETIC_VERSION",
    "RELEASES",
    "DELAY_FRAMES",
    "FAU_NAMES",
    "POSITIVE_WORDS",
    "NEGATIVE_WORDS",
    "write_synthetic_sewa",
]

SYNTHETIC_VERSION = "5"  # 3: Chen 2017 short-time folders; 4: AVEC 2019 Table 1 folders, Test_CN; 5: float32 voices
RELEASES = ("avec2017", "avec2019")
LABEL_STEP = 0.1
DELAY_FRAMES = 2
FAU_NAMES = tuple(f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45))
POSITIVE_WORDS = ("toll", "super", "gut", "schön", "lustig", "gefällt", "klasse", "prima")
NEGATIVE_WORDS = ("schlecht", "langweilig", "blöd", "nervig", "schrecklich", "doof", "furchtbar")
NEUTRAL_WORDS = (
    "werbung",
    "auto",
    "video",
    "produkt",
    "mann",
    "frau",
    "musik",
    "ende",
    "anfang",
    "idee",
    "film",
    "farbe",
    "preis",
    "szene",
)
STOP_WORDS_USED = (
    "und",
    "die",
    "der",
    "das",
    "ich",
    "ist",
    "nicht",
    "es",
    "ja",
    "also",
    "war",
    "mit",
    "auch",
    "so",
    "aber",
)
DEFAULT_COUNTS = {
    "avec2017": {"Train": 6, "Devel": 3, "Test": 3},
    "avec2019": {"Train_DE": 3, "Train_HU": 3, "Devel_DE": 2, "Devel_HU": 2, "Test_DE": 2, "Test_HU": 2, "Test_CN": 2},
}
XBOW_DIMS = {"audio": 48, "video": 32, "text": 24}
EGEMAPS_DIM = 23
#: widths of the synthetic short-time features (real: IS10 76, soundnet conv5 256, DenseFace 342,
#: word vectors 300; VGGFace conv5 is not given in the paper's text)
SHORT_TIME_DIMS = {"is10": 76, "soundnet": 32, "vggface_conv5": 32, "denseface": 32, "wordvec_de": 32}
NO_FACE_RATE = 0.03
MFCC_DIM = 39
DEEP_DIM = 32
AUDIO_LLD_FPS = 100
FAU_FPS = 25
FUNCTIONAL_WINDOW = 4.0
#: eGeMAPS v01a low-level descriptors (openSMILE names)
EGEMAPS_LLD_NAMES = (
    "Loudness_sma3",
    "alphaRatio_sma3",
    "hammarbergIndex_sma3",
    "slope0-500_sma3",
    "slope500-1500_sma3",
    "spectralFlux_sma3",
    "mfcc1_sma3",
    "mfcc2_sma3",
    "mfcc3_sma3",
    "mfcc4_sma3",
    "F0semitoneFrom27.5Hz_sma3nz",
    "jitterLocal_sma3nz",
    "shimmerLocaldB_sma3nz",
    "HNRdBACF_sma3nz",
    "logRelF0-H1-H2_sma3nz",
    "logRelF0-H1-A3_sma3nz",
    "F1frequency_sma3nz",
    "F1bandwidth_sma3nz",
    "F1amplitudeLogRelF0_sma3nz",
    "F2frequency_sma3nz",
    "F2amplitudeLogRelF0_sma3nz",
    "F3frequency_sma3nz",
    "F3amplitudeLogRelF0_sma3nz",
)
#: 13 MFCCs (0-12) with deltas and accelerations
MFCC_LLD_NAMES = tuple(f"pcm_fftMag_mfcc{suffix}[{k}]" for suffix in ("", "_de", "_de_de") for k in range(13))
#: feature folders of the synthetic AVEC 2019 corpus → (modality, Atmaja & Akagi 2020 Table 1 name)
AVEC2019_FEATURES = {
    "audio_features_egemaps": ("audio", "eGeMAPS (LLDs, 10 ms)"),
    "audio_features_egemaps_xbow": ("audio", "BoAW-e"),
    "audio_features_egemaps_functionals": ("audio", "eGeMAPS functionals"),
    "audio_features_deepspectrum": ("audio", "DeepSpectrum (DS)"),
    "audio_features_mfcc": ("audio", "MFCCs (LLDs, 10 ms)"),
    "audio_features_mfcc_xbow": ("audio", "BoAW-M"),
    "audio_features_mfcc_functionals": ("audio", "MFCCs functionals"),
    "visual_features": ("visual", "FAUs (25 fps)"),
    "visual_features_functionals": ("visual", "FAUs functionals"),
    "visual_features_resnet": ("visual", "ResNet"),
    "visual_features_vgg": ("visual", "VGG"),
    "visual_features_xbow": ("visual", "BoVW (AVEC 2019 baseline; not in Table 1)"),
}


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    ints = [int(seed)] + [
        k if isinstance(k, int) else sum(ord(c) * 31**i for i, c in enumerate(k)) % 2**31 for k in keys
    ]
    return np.random.default_rng(ints)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average along axis 0 with edge padding (same length)."""
    if width <= 1:
        return x
    pad_l, pad_r = width // 2, width - 1 - width // 2
    padded = np.concatenate([np.repeat(x[:1], pad_l, 0), x, np.repeat(x[-1:], pad_r, 0)])
    csum = np.cumsum(padded, axis=0)
    csum = np.concatenate([np.zeros((1,) + x.shape[1:]), csum])
    return (csum[width:] - csum[:-width]) / width


def _trajectory(rng: np.random.Generator, n: int, slow: bool = False) -> np.ndarray:
    t = np.arange(n) * LABEL_STEP
    periods = rng.uniform(20, 80, 3) if slow else rng.uniform(6, 40, 3)
    s = sum(rng.uniform(0.4, 1.0) * np.sin(2 * np.pi * t / p + rng.uniform(0, 2 * np.pi)) for p in periods)
    s = s + 0.5 * _smooth(rng.normal(size=n), 30) * 3
    s = (s - s.mean()) / (s.std() + 1e-9)
    return 0.8 * np.tanh(0.8 * s + rng.uniform(-0.3, 0.3))


@dataclass
class _Session:
    name: str
    n: int
    subject: np.ndarray  # (n + DELAY, 3) arousal, valence, liking (signal time)
    interlocutor: np.ndarray  # (n + DELAY, 2)
    turns: list[tuple[float, float, str]]  # (start, end, "S"|"I")
    culture: str


def _session(seed: int, name: str, index: int, culture: str) -> _Session:
    rng = _rng(seed, "session", index)
    n = int(rng.integers(600, 901))
    m = n + DELAY_FRAMES
    subject = np.stack([_trajectory(rng, m), _trajectory(rng, m), _trajectory(rng, m, slow=True)], 1)
    interlocutor = np.stack([_trajectory(rng, m), _trajectory(rng, m)], 1)
    turns, t, speaker = [], float(rng.uniform(0.0, 1.0)), "S" if rng.random() < 0.5 else "I"
    duration = n * LABEL_STEP
    while t < duration - 1.0:
        end = min(t + float(rng.uniform(2.0, 6.0)), duration - 0.1)
        turns.append((round(t, 1), round(end, 1), speaker))
        t = end + float(rng.uniform(0.0, 0.6))
        speaker = "I" if speaker == "S" else "S"
    return _Session(name, n, subject, interlocutor, turns, culture)


def _speaker_masks(s: _Session) -> tuple[np.ndarray, np.ndarray]:
    """Per signal frame (n + DELAY): subject speaking, interlocutor speaking."""
    m = s.n + DELAY_FRAMES
    time = (np.arange(m) - DELAY_FRAMES) * LABEL_STEP  # signal frame k is label time k - DELAY
    subj, inter = np.zeros(m, bool), np.zeros(m, bool)
    for start, end, who in s.turns:
        inside = (time >= start) & (time < end)
        (subj if who == "S" else inter)[inside] = True
    return subj, inter


def _mapping(seed: int, name: str, dim: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed, "mapping", name)
    informative = np.sort(rng.permutation(dim)[: dim // 2])
    weights = rng.normal(size=(n_in, len(informative)))
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    return informative, weights


def _xbow(
    seed: int,
    s: _Session,
    index: int,
    name: str,
    dim: int,
    drive: np.ndarray,
    active: np.ndarray,
    width: int = 20,
    offset: float = 0.0,
    noise: float = 0.6,
) -> np.ndarray:
    """Non-negative, smoothed features: informative dims driven by ``drive`` where ``active``."""
    rng = _rng(seed, "features", name, index)
    informative, weights = _mapping(seed, name, dim, drive.shape[1])
    m = len(drive)
    x = noise * rng.normal(size=(m, dim)) + 0.3 * _smooth(rng.normal(size=(m, dim)), 200) * np.sqrt(200)
    sig = (drive @ weights) * active[:, None]
    x[:, informative] += 2.0 * sig
    x = np.log1p(np.exp(_smooth(x, width) * 1.5 + offset))  # softplus: non-negative "counts"
    return x[DELAY_FRAMES:]  # signal frame j is time (j - DELAY) * step


def _short_time(
    seed: int, index: int, name: str, dim: int, drive: np.ndarray, active: np.ndarray, noise: float = 1.0
) -> np.ndarray:
    """Real-valued frame-level features: informative dims driven by ``drive`` where ``active``."""
    rng = _rng(seed, "short", name, index)
    informative, weights = _mapping(seed, "short_" + name, dim, drive.shape[1])
    m = len(drive)
    x = noise * rng.normal(size=(m, dim)) + 0.3 * _smooth(rng.normal(size=(m, dim)), 200) * np.sqrt(200)
    sig = (drive @ weights) * active[:, None]
    x[:, informative] += 2.0 * np.tanh(1.5 * sig)
    return x[DELAY_FRAMES:]


def _word_table(seed: int, dim: int) -> dict[str, np.ndarray]:
    """Synthetic German word vectors: sentiment words on opposite sides of one direction."""
    rng = _rng(seed, "wordvec")
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    table = {}
    for pool, sign in ((POSITIVE_WORDS, 1.0), (NEGATIVE_WORDS, -1.0), (NEUTRAL_WORDS, 0.0), (STOP_WORDS_USED, 0.0)):
        for word in pool:
            table[word] = (0.4 * rng.normal(size=dim) + 1.5 * sign * direction).round(5)
    return table


def _turn_vectors(
    times: np.ndarray, transcript: list[tuple[float, float, str]], table: dict[str, np.ndarray]
) -> np.ndarray:
    """Mean word vector of each turn over the frames ``start <= t < end``, zeros elsewhere."""
    dim = len(next(iter(table.values())))
    out, count = np.zeros((len(times), dim)), np.zeros(len(times))
    for start, end, text in transcript:
        words = text.split()
        if not words:
            continue
        inside = (times >= start - 1e-9) & (times < end - 1e-9)
        out[inside] += np.mean([table[w] for w in words], 0)
        count[inside] += 1
    out[count > 0] /= count[count > 0, None]
    return out


def _basis(v: np.ndarray) -> np.ndarray:
    a, val = v[:, 0], v[:, 1]
    return np.stack([a, np.tanh(2 * a), a**2 - 0.2, 0.4 * val, a * val], 1)


def _words(rng: np.random.Generator, n_words: int, liking: float | None) -> list[str]:
    words = []
    for _ in range(n_words):
        r = rng.random()
        if r < 0.5:
            positive = rng.random() < (1 / (1 + np.exp(-10 * liking)) if liking is not None else 0.5)
            pool = POSITIVE_WORDS if positive else NEGATIVE_WORDS
        elif r < 0.75:
            pool = NEUTRAL_WORDS
        else:
            pool = STOP_WORDS_USED
        words.append(pool[int(rng.integers(len(pool)))])
    return words


def _transcript(seed: int, s: _Session, index: int) -> list[tuple[float, float, str]]:
    rng = _rng(seed, "words", index)
    rows = []
    for start, end, who in s.turns:
        lo, hi = int(start / LABEL_STEP) + DELAY_FRAMES, int(end / LABEL_STEP) + DELAY_FRAMES
        liking = float(s.subject[lo : max(hi, lo + 1), 2].mean()) if who == "S" else None
        n_words = max(1, int(rng.poisson(1.6 * (end - start))))
        rows.append((start, end, " ".join(_words(rng, n_words, liking))))
    return rows


def _word_rates(s: _Session, transcript: list[tuple[float, float, str]]) -> np.ndarray:
    """(n + DELAY, 2) positive/negative words per second of the ongoing turns."""
    m = s.n + DELAY_FRAMES
    time = (np.arange(m) - DELAY_FRAMES) * LABEL_STEP
    rates = np.zeros((m, 2))
    for start, end, text in transcript:
        words = text.split()
        inside = (time >= start) & (time < end)
        dur = max(end - start, 0.1)
        rates[inside, 0] += sum(w in POSITIVE_WORDS for w in words) / dur
        rates[inside, 1] += sum(w in NEGATIVE_WORDS for w in words) / dur
    return rates


# --------------------------------------------------------------------------- formatting
def _table(
    name: str, times: np.ndarray, values: np.ndarray, sep: str, header: Sequence[str] | None, decimals: int = 6
) -> str:
    """A SEWA table (:func:`zoo.data.corpora.sewa.format.format_table`), times and values with ``decimals``."""
    return format_table(name, times, values, sep=sep, header=header, value_format=f".{decimals}f")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _names(release: str, counts: dict[str, int]) -> list[tuple[str, str, str]]:
    """(recording name, partition, culture)."""
    out = []
    for part, count in counts.items():
        culture = part.split("_")[1] if "_" in part else "DE"
        for k in range(1, count + 1):
            out.append((f"{part}_{k:02d}", part.split("_")[0], culture))
    return out


def _write_audio(folder: Path, seed: int, s: _Session, index: int, subj: np.ndarray, inter: np.ndarray) -> None:
    """``audio/<name>.wav``: both voices, each in its own turns; label time ``t`` hears signal
    frame ``t + DELAY`` (so the labels lag the audio as they lag the features)."""
    rng = _rng(seed, "voice", index)
    pitches = rng.uniform(110.0, 230.0, 2)
    signal = slice(DELAY_FRAMES, DELAY_FRAMES + s.n)
    subject = synthetic_voice(s.subject[signal, :2], subj[signal], LABEL_STEP, rng, base_pitch=pitches[0])
    other = synthetic_voice(s.interlocutor[signal], inter[signal], LABEL_STEP, rng, base_pitch=pitches[1])
    write_voice_wav(audio_path(folder, s.name), subject + other)


def _write_corpus(
    folder: Path, seed: int, release: str, counts: dict[str, int], with_test_labels: bool, with_audio: bool = False
) -> None:
    for index, (name, part, culture) in enumerate(_names(release, counts)):
        s = _session(seed, name, index, culture)
        subj, inter = _speaker_masks(s)
        if with_audio:
            _write_audio(folder, seed, s, index, subj, inter)
        times = np.arange(s.n) * LABEL_STEP
        labels = s.subject[: s.n, :]  # label at t describes the signal at t - delay
        offset = {"HU": 0.3, "CN": -0.3}.get(culture, 0.0)  # a culture shift of the audio features
        # audio: whoever speaks drives the features through the same mapping
        drive = np.where(subj[:, None], _basis(s.subject[:, :2]), 0.0) + np.where(
            inter[:, None], _basis(s.interlocutor), 0.0
        )
        speaking = subj | inter
        face = np.column_stack(
            [s.subject[:, 1], np.tanh(2 * s.subject[:, 1]), 0.5 * s.subject[:, 0], s.subject[:, 1] * s.subject[:, 0]]
        )
        always = np.ones(len(face), bool)
        if part != "Test" or with_test_labels:
            if release == "avec2017":
                _write(label_path(folder, name), _table(name, times, labels, ";", None))
            else:
                _write(
                    label_path(folder, name),
                    _table(name, times, labels, ";", ["name", "timestamp", "arousal", "valence", "liking"]),
                )
        if release == "avec2017":
            audio = _xbow(seed, s, index, "audio", XBOW_DIMS["audio"], drive, speaking)
            video = _xbow(seed, s, index, "video", XBOW_DIMS["video"], face, always, noise=2.5)
            transcript = _transcript(seed, s, index)
            rates = _word_rates(s, transcript)
            text = _xbow(seed, s, index, "text", XBOW_DIMS["text"], rates - rates.mean(0), always, width=30)
            for folder_name, x in (
                ("audio_features_xbow_6s", audio),
                ("video_features_xbow_6s", video),
                ("text_features_xbow_6s", text),
            ):
                _write(feature_path(folder, folder_name, name), _table(name, times, x, ";", None))
            _write_short_time(folder, seed, index, name, times, drive, speaking, face, transcript)
            _write(turns_path(folder, name), "".join(f"{a:.1f};{b:.1f}\n" for a, b, who in s.turns if who == "S"))
            _write(transcription_path(folder, name), "".join(f"{a:.1f};{b:.1f};{t}\n" for a, b, t in transcript))
        else:
            _write_avec2019(folder, seed, s, index, name, times, drive, speaking, face, offset)


def _write_avec2019(
    folder: Path,
    seed: int,
    s: _Session,
    index: int,
    name: str,
    times: np.ndarray,
    drive: np.ndarray,
    speaking: np.ndarray,
    face: np.ndarray,
    offset: float,
) -> None:
    """The AVEC 2019 CES feature folders of one recording (see :data:`AVEC2019_FEATURES`)."""
    always = np.ones(len(face), bool)
    # audio: eGeMAPS and MFCC low-level descriptors at 10 ms, their 4 s functionals and BoAW at 100 ms
    for lld_name, dim, header in (("egemaps", EGEMAPS_DIM, EGEMAPS_LLD_NAMES), ("mfcc", MFCC_DIM, MFCC_LLD_NAMES)):
        fine_t, fine = _lld(seed, s, index, lld_name, dim, drive, speaking, offset)
        _write(
            feature_path(folder, f"audio_features_{lld_name}", name),
            _table(name, fine_t, fine, ";", ["name", "frameTime", *header], decimals=3),
        )
        _write(
            feature_path(folder, f"audio_features_{lld_name}_functionals", name),
            _table(name, times, _functionals(fine, AUDIO_LLD_FPS, len(times)), ";", None),
        )
        xbow = _xbow(
            seed,
            s,
            index,
            "audio19" if lld_name == "egemaps" else f"{lld_name}_xbow19",
            XBOW_DIMS["audio"],
            drive,
            speaking,
            offset=offset,
        )
        _write(feature_path(folder, f"audio_features_{lld_name}_xbow", name), _table(name, times, xbow, ";", None))
    deep = _xbow(seed, s, index, "deepspectrum19", DEEP_DIM, drive, speaking, width=10, offset=offset)
    _write(
        feature_path(folder, "audio_features_deepspectrum", name),
        _table(name, times, deep, ",", ["name", "timeStamp", *(f"neuron_{j}" for j in range(1, DEEP_DIM + 1))]),
    )
    # visual: FAU intensities at 25 fps, their 4 s functionals, BoVW and CNN face embeddings at 100 ms
    fau_t, fau = _fau(seed, s, index, face, speaking)
    _write(
        feature_path(folder, "visual_features", name),
        _table(name, fau_t, fau, ";", ["name", "frameTime", "confidence", *FAU_NAMES], decimals=4),
    )
    _write(
        feature_path(folder, "visual_features_functionals", name),
        _table(name, times, _functionals(fau, FAU_FPS, len(times)), ";", None),
    )
    vxbow = _xbow(seed, s, index, "video19", XBOW_DIMS["video"], face, always, noise=2.5)
    _write(feature_path(folder, "visual_features_xbow", name), _table(name, times, vxbow, ",", None))
    for cnn in ("resnet", "vgg"):
        emb = _xbow(seed, s, index, f"{cnn}19", DEEP_DIM, face, always, noise=2.0, width=5)
        _write(feature_path(folder, f"visual_features_{cnn}", name), _table(name, times, emb, ";", None))


def _lld(
    seed: int, s: _Session, index: int, name: str, dim: int, drive: np.ndarray, active: np.ndarray, offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """Low-level descriptors at :data:`AUDIO_LLD_FPS`: ``(times, (n × 10, dim))``, signed values."""
    rng = _rng(seed, "lld", name, index)
    informative, weights = _mapping(seed, f"lld-{name}", dim, drive.shape[1])
    m = len(drive)
    x = 0.5 * rng.normal(size=(m, dim)) + 0.3 * _smooth(rng.normal(size=(m, dim)), 200) * np.sqrt(200)
    x[:, informative] += 2.0 * (drive @ weights) * active[:, None]
    x = _smooth(x, 3)[DELAY_FRAMES:] + offset  # 100 ms frames on the label timeline
    per_label = int(round(AUDIO_LLD_FPS * LABEL_STEP))
    fine = np.repeat(x, per_label, axis=0) + 0.3 * rng.normal(size=(len(x) * per_label, dim))
    return np.arange(len(fine)) / AUDIO_LLD_FPS, fine


def _functionals(x: np.ndarray, fps: int, n: int) -> np.ndarray:
    """Mean and standard deviation of ``x`` (rows at ``fps``) over 4 s windows centred on each of
    the ``n`` label frames (100 ms hop), as the AVEC 2019 organisers' functionals: ``(n, 2D)``."""
    half = int(FUNCTIONAL_WINDOW * fps / 2)
    centre = np.floor(np.arange(n) * fps * LABEL_STEP + 1e-6).astype(int)
    lo, hi = np.maximum(centre - half, 0), np.minimum(centre + half + 1, len(x))
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, 0)])
    count = (hi - lo)[:, None]
    mean = (c1[hi] - c1[lo]) / count
    var = np.maximum((c2[hi] - c2[lo]) / count - mean**2, 0.0)
    return np.concatenate([mean, np.sqrt(var)], 1)


def _write_short_time(
    folder: Path,
    seed: int,
    index: int,
    name: str,
    times: np.ndarray,
    drive: np.ndarray,
    speaking: np.ndarray,
    face: np.ndarray,
    transcript: list[tuple[float, float, str]],
) -> None:
    """The short-time feature folders of Chen et al. 2017 (AVEC 2017 layout, see module docstring)."""
    dims = SHORT_TIME_DIMS
    always = np.ones(len(face), bool)
    sets = {
        "audio_features_is10": _short_time(seed, index, "is10", dims["is10"], drive, speaking),
        "audio_features_soundnet": _short_time(seed, index, "soundnet", dims["soundnet"], drive, speaking),
        "video_features_vggface_conv5": _short_time(
            seed, index, "vggface_conv5", dims["vggface_conv5"], face, always, 1.5
        ),
        "video_features_denseface": _short_time(seed, index, "denseface", dims["denseface"], face, always, 2.0),
    }
    no_face = _rng(seed, "no_face", index).random(len(times)) < NO_FACE_RATE
    for key in ("video_features_vggface_conv5", "video_features_denseface"):
        sets[key][no_face] = 0.0
    table = _word_table(seed, dims["wordvec_de"])
    sets["text_features_wordvec_de"] = _turn_vectors(times, transcript, table)
    for folder_name, x in sets.items():
        _write(feature_path(folder, folder_name, name), _table(name, times, x, ";", None, decimals=4))
    embeddings = folder / "word_embeddings" / "wordvec_de.txt"
    if not embeddings.exists():
        _write(
            embeddings,
            f"{len(table)} {dims['wordvec_de']}\n"
            + "".join(f"{w} {' '.join(f'{v:.5f}' for v in vec)}\n" for w, vec in table.items()),
        )


def _fau(seed: int, s: _Session, index: int, face: np.ndarray, speaking: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """25 fps action-unit intensities (0–5) after a confidence column: ``(times, (N, 18))``.

    AU12/AU06 rise with valence, AU04 falls; AU25/AU26 open with arousal while speaking; AU06 and
    AU14 also follow liking (the subject's slow appreciation of the advert).
    """
    rng = _rng(seed, "fau", index)
    fps = FAU_FPS
    n_video = int(s.n * LABEL_STEP * fps)
    t_video = np.arange(n_video) / fps
    frame = np.clip(np.rint(t_video / LABEL_STEP).astype(int) + DELAY_FRAMES, 0, len(face) - 1)
    val, aro = face[frame, 0], face[frame, 2] * 2
    talk = speaking[frame].astype(float)
    au = 1.0 + 0.4 * rng.normal(size=(n_video, len(FAU_NAMES)))
    idx = {a: i for i, a in enumerate(FAU_NAMES)}
    au[:, idx["AU12_r"]] += 2.0 * val
    au[:, idx["AU06_r"]] += 1.5 * np.tanh(2 * val)
    au[:, idx["AU04_r"]] -= 1.5 * val
    au[:, idx["AU25_r"]] += talk * (1.0 + aro)
    au[:, idx["AU26_r"]] += talk * (0.5 + aro)
    liking = s.subject[np.clip(np.rint(t_video / LABEL_STEP).astype(int) + DELAY_FRAMES, 0, len(s.subject) - 1), 2]
    au[:, idx["AU06_r"]] += 0.6 * liking
    au[:, idx["AU14_r"]] += 0.8 * liking
    au = np.clip(au, 0.0, 5.0)
    confidence = np.clip(0.95 + 0.03 * rng.normal(size=n_video), 0, 1)
    return t_video, np.column_stack([confidence, au])


def write_synthetic_sewa(
    out_dir: str | Path,
    seed: int = 0,
    release: str = "avec2017",
    counts: dict[str, int] | None = None,
    *,
    with_test_labels: bool = True,
    with_audio: bool = False,
) -> Path:
    """Write a synthetic SEWA corpus (see the module docstring).

    Args:
        out_dir: folder to create; must not exist or be empty. Written atomically (temporary
            sibling folder, then rename).
        seed: random seed; same arguments → identical bytes.
        release: ``"avec2017"`` or ``"avec2019"`` layout.
        counts: recordings per partition, default :data:`DEFAULT_COUNTS` of the release
            (AVEC 2017: ``{"Train": 6, "Devel": 3, "Test": 3}``; AVEC 2019: 3+3 train DE/HU,
            2+2 devel, 2+2+2 test DE/HU/CN).
        with_test_labels: write label files of the test recordings (the real releases do not).
        with_audio: also write ``audio/<name>.wav`` (16 kHz voices carrying the labels).

    Returns:
        ``out_dir``.
    """
    if release not in RELEASES:
        raise ValueError(f"release must be one of {RELEASES}, got {release!r}")
    out_dir = Path(out_dir)
    counts = dict(DEFAULT_COUNTS[release] if counts is None else counts)
    with staged_folder(out_dir) as tmp:
        _write_corpus(tmp, int(seed), release, counts, with_test_labels, with_audio)
        _write(
            tmp / "README.txt",
            f"SYNTHETIC SEWA corpus ({release} layout) -- NOT real data.\n"
            f"Written by affect-zoo zoo/data/corpora/sewa/synthetic.py version {SYNTHETIC_VERSION}, "
            f"seed {seed}; recordings {counts}; labels lag the features by "
            f"{DELAY_FRAMES * LABEL_STEP:g} s; test labels: {'yes' if with_test_labels else 'no'}"
            f"{'; audio: 16 kHz WAV' if with_audio else ''}.\n",
        )
    return out_dir
