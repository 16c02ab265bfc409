"""Raw audio of a recording cut into label frames (RECOLA, SEWA, MuSe-CaR, CMU-MOSEI).

Every reader that serves a waveform as a feature set uses :func:`read_audio_frames`: one row of
``frame_seconds · sample_rate`` samples per label frame (640 at 40 ms, 1600 at 100 ms, 4000 at
250 ms, 16 kHz), read with :mod:`soundfile`, averaged over channels and resampled with
``torchaudio`` when the file has another rate. The file's own rate is always read from it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from zoo.data.sources import note_source
from zoo.errors import CorpusDataWarning, CorpusFormatError

__all__ = [
    "SAMPLE_RATE",
    "condition_waveform",
    "cut_frames",
    "describe_non_finite",
    "read_audio_frames",
    "read_waveform",
]

#: rate of every waveform served to a model (the self-supervised speech encoders and
#: Tzirakis et al.'s speech network all take 16 kHz)
SAMPLE_RATE = 16000
_log = logging.getLogger(__name__)


def describe_non_finite(value: float) -> str:
    """``"missing (NaN or '?')"`` or ``"infinite (inf)"``, for error messages."""
    return "missing (NaN or '?')" if np.isnan(value) else f"infinite ({value})"


def read_waveform(path: str | Path, sample_rate: int = SAMPLE_RATE, normalize: bool = False) -> np.ndarray:
    """A whole audio file as mono float32 at ``sample_rate`` (channels averaged, resampled with
    ``torchaudio`` when the file's own rate differs), optionally z-normalised.

    Samples of a float file beyond [-1, 1] (integer files cannot hold any) are clipped to it,
    with a :class:`~zoo.errors.CorpusDataWarning` naming the file and the first such sample: one
    sample of 1e30 would otherwise flatten the whole recording to ~0 under per-recording
    normalisation.

    Raises:
        CorpusFormatError: missing, unreadable or empty file, NaN/inf samples, or a constant
            recording with ``normalize``.
    """
    import soundfile as sf

    path = note_source(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: audio file not found")
    try:
        signal, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise CorpusFormatError(f"{path}: cannot read audio ({err})") from None
    if signal.shape[0] == 0:
        raise CorpusFormatError(f"{path} (recording {path.stem}): empty audio file (0 samples)")
    return condition_waveform(path, signal, file_rate, sample_rate, normalize)


def condition_waveform(
    path: Path, signal: np.ndarray, file_rate: float, sample_rate: int = SAMPLE_RATE, normalize: bool = False
) -> np.ndarray:
    """``(samples, channels)`` audio read from ``path`` at ``file_rate`` made what
    :func:`read_waveform` returns: checked finite, clipped, channel-averaged, resampled and
    optionally z-normalised (also for audio decoded from a video container by the caller).

    Raises:
        CorpusFormatError: NaN/inf samples, or a constant recording with ``normalize``.
    """
    bad = np.argwhere(~np.isfinite(signal))
    if len(bad):
        index, channel = (int(i) for i in bad[0])
        raise CorpusFormatError(
            f"{path} (recording {path.stem}): sample {index} (at {index / file_rate:.4f} s), "
            f"channel {channel}: {describe_non_finite(float(signal[index, channel]))} value "
            f"({len(bad)} such sample(s) in the file); expected finite audio samples"
        )
    signal = _clip_float_audio(path, signal, file_rate).mean(axis=1)
    if file_rate != sample_rate:
        import torch
        import torchaudio.functional as AF

        signal = AF.resample(torch.from_numpy(np.ascontiguousarray(signal)), int(file_rate), int(sample_rate)).numpy()
    if normalize:
        signal64 = signal.astype(np.float64)
        std = float(signal64.std())
        if not std > 0:
            raise CorpusFormatError(
                f"{path} (recording {path.stem}): constant audio (standard deviation 0) cannot be "
                "z-normalised (data.args.audio_normalization=recording)"
            )
        signal = ((signal64 - signal64.mean()) / std).astype(np.float32)
    return signal


def _clip_float_audio(path: Path, signal: np.ndarray, rate: float) -> np.ndarray:
    """``signal`` clipped to [-1, 1], warning when it was not within it (see :func:`read_waveform`)."""
    beyond = np.abs(signal) > 1.0
    if not beyond.any():
        return signal
    index, channel = (int(i) for i in np.argwhere(beyond)[0])
    warnings.warn(
        f"{path} (recording {path.stem}): sample {index} (at {index / rate:.4f} s), channel {channel}: "
        f"{float(signal[index, channel]):g} is outside the [-1, 1] range of audio samples "
        f"({int(beyond.sum())} such sample(s), largest magnitude {float(np.abs(signal).max()):g}); "
        "clipped to [-1, 1]",
        CorpusDataWarning,
        stacklevel=3,
    )
    return np.clip(signal, -1.0, 1.0)


def read_audio_frames(
    path: str | Path,
    timestamps: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    frame_seconds: float = 0.04,
    normalize: bool = False,
) -> np.ndarray:
    """Slices of mono audio at ``sample_rate``, one per label frame.

    Frame ``t`` holds samples ``[round(timestamps[t]·sr), +round(frame_seconds·sr))`` of the
    (resampled, channel-averaged, optionally z-normalised) signal.

    The audio must cover the labels: it may end at most one frame before the last label time —
    the tail past its end is then zero-filled and a warning is logged (RECOLA's real and
    synthetic releases end exactly at the last label time, whose frame is then all zero padding,
    without a warning). Audio that ends earlier is refused, as are empty files and non-finite
    samples.

    Args:
        path: WAV (or any format soundfile reads); its own rate is read from the file.
        timestamps: label frame times in seconds.
        sample_rate: rate of the returned samples (resampled with torchaudio when it differs).
        frame_seconds: seconds per frame (40 ms → 640 samples at 16 kHz).
        normalize: z-normalise the whole recording (zero mean, unit variance over all its
            samples) before cutting it into frames — Tzirakis et al. 2017 §III-B, "to account
            for variations in different levels of loudness between the speakers" (one speaker per
            RECOLA recording).

    Returns:
        float32 ``(T, frame_samples)``.

    Raises:
        CorpusFormatError: missing, unreadable or empty file, NaN/inf samples, audio shorter than
            the labels, or a constant recording with ``normalize``.
    """
    path = Path(path)
    signal = read_waveform(path, sample_rate, normalize)
    return cut_frames(signal, path, timestamps, sample_rate, frame_seconds)


def cut_frames(
    signal: np.ndarray, path: Path, timestamps: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_seconds: float = 0.04
) -> np.ndarray:
    """``(T, frame_samples)`` slices of ``signal`` (read from ``path``) starting at ``timestamps``;
    see :func:`read_audio_frames` for the shortfall rule."""
    frame_len = int(round(frame_seconds * sample_rate))
    starts = np.rint(np.asarray(timestamps, np.float64) * sample_rate).astype(np.int64)
    if len(starts) and starts.min() < 0:
        raise CorpusFormatError(f"{path}: negative frame time {timestamps.min()} s")
    if len(starts):
        shortfall = int(starts.max()) - len(signal)
        if shortfall > frame_len:
            raise CorpusFormatError(
                f"{path} (recording {path.stem}): audio is {len(signal) / sample_rate:.3f} s long but the "
                f"labels run to {starts.max() / sample_rate:.3f} s (row {int(np.argmax(starts)) + 1}); "
                f"truncated file? (at most one {frame_seconds * 1000:g} ms frame of shortfall is zero-padded)"
            )
        if shortfall > 0:
            _log.warning(
                "%s (recording %s): audio ends %.3f s before the last label time; zero-padding it",
                path,
                path.stem,
                shortfall / sample_rate,
            )
    needed = int(starts.max()) + frame_len if len(starts) else 0
    if needed > len(signal):
        signal = np.concatenate([signal, np.zeros(needed - len(signal), np.float32)])
    index = starts[:, None] + np.arange(frame_len)[None, :]
    return np.ascontiguousarray(signal[index], dtype=np.float32)
