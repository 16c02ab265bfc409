"""A synthetic voice whose prosody and timbre carry arousal and valence (raw audio of the synthetic
corpora that need one: SEWA, MuSe-CaR, CMU-MOSEI).

Voiced stretches are a harmonic tone with a syllable-rate (4 Hz) loudness envelope:

* **arousal** raises the pitch (``f0 = base · 2^(0.6·a)``, ±0.6 octave), the loudness
  (``×1.8^a``), the brightness (harmonic ``k`` falls as ``k^-(1.3 - 0.5·a)``: a flatter spectral
  slope when aroused) and the syllable rate (``4 · 2^(0.4·a)`` Hz);
* **valence** moves a formant: harmonics near ``F1 = 600 · 2^v`` Hz are amplified up to ten
  times (a brighter, more open vowel for positive valence);
* unvoiced stretches (nobody speaking) hold low background noise only.

Pitch, spectral balance and rhythm survive per-utterance and per-frame normalisation (they do not
depend on the overall level), so a self-supervised speech encoder trained from scratch can learn
them, and a constant predictor cannot. Written as 16 kHz mono 16-bit PCM WAV with :mod:`soundfile`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["SAMPLE_RATE", "synthetic_voice", "write_voice_wav"]

SAMPLE_RATE = 16000
_MAX_HARMONICS = 16


def synthetic_voice(
    drive: np.ndarray,
    voiced: np.ndarray,
    step: float,
    rng: np.random.Generator,
    base_pitch: float = 140.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """A waveform whose frame ``t`` (samples ``[t·step·sr, (t+1)·step·sr)``) expresses ``drive[t]``.

    Args:
        drive: ``(n, 2)`` arousal and valence per frame, in about ``[-1, 1]``.
        voiced: ``(n,)`` True where the voice speaks.
        step: seconds per frame.
        rng: random generator (phase and noise).
        base_pitch: f0 in Hz at arousal 0 (one speaker's voice).
        sample_rate: samples per second.

    Returns:
        float32 ``(round(n·step·sr),)`` samples in ``(-1, 1)``.
    """
    drive = np.asarray(drive, np.float64)
    n = len(drive)
    length = int(round(n * step * sample_rate))
    t = np.arange(length) / sample_rate
    centres = (np.arange(n) + 0.5) * step
    arousal = np.interp(t, centres, np.clip(drive[:, 0], -1.5, 1.5))
    valence = np.interp(t, centres, np.clip(drive[:, 1], -1.5, 1.5))
    gate = np.interp(t, centres, np.asarray(voiced, np.float64))
    f0 = base_pitch * 2.0 ** (0.6 * arousal)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate + rng.uniform(0, 2 * np.pi)
    formant = 600.0 * 2.0**valence
    # sin(k·phase) by the Chebyshev recurrence sin(kθ) = 2cos θ · sin((k-1)θ) - sin((k-2)θ), in
    # float32 (16 steps lose about 1e-5), with the distance of harmonic k to the formant updated
    # by one f0 per step
    twice_cos = (2.0 * np.cos(phase)).astype(np.float32)
    previous, current = np.zeros(length, np.float32), np.sin(phase).astype(np.float32)
    f0_32 = (f0 / 120.0).astype(np.float32)
    distance = f0_32 - (formant / 120.0).astype(np.float32)  # (k·f0 - F1) / 120 Hz
    slope = (1.3 - 0.5 * arousal).astype(np.float32)  # spectral slope: k^-slope
    tone = np.zeros(length, np.float32)
    for k in range(1, _MAX_HARMONICS + 1):
        gain = np.exp(np.square(distance) * np.float32(-0.5))
        gain = (gain * np.float32(3.0) + np.float32(0.3)) * current
        if k * float(f0.max()) >= 0.45 * sample_rate:  # harmonics above 0.45·rate are left out
            gain *= k * f0 < 0.45 * sample_rate
        tone += gain * np.exp(slope * np.float32(-np.log(k)))
        previous, current = current, twice_cos * current - previous
        distance += f0_32
    rhythm = 2 * np.pi * np.cumsum(4.0 * 2.0 ** (0.4 * arousal)) / sample_rate
    syllables = 0.65 + 0.35 * np.sin(rhythm + rng.uniform(0, 2 * np.pi))
    loudness = 0.12 * 1.8**arousal * syllables * gate
    signal = loudness * tone / 3.0 + 0.004 * rng.standard_normal(length)
    return np.clip(signal, -0.99, 0.99).astype(np.float32)


def write_voice_wav(path: Path, signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write ``signal`` as 16-bit PCM mono WAV (creating the parent folder)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, sample_rate, subtype="PCM_16")
