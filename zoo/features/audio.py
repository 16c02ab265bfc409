"""Audio extractors: openSMILE sets (eGeMAPS, ComParE, IS13, IS10 LLDs), VGGish log-mel and embeddings.

Alignment conventions (see also ``docs/features.md``):

* **Functionals** (``egemaps``, ``compare``, ``is13``): for each label timestamp ``t`` openSMILE's
  functionals are computed on the window ``[t - win/2, t + win/2]`` clipped to the signal
  (centred windows; the first/last windows are shorter). MuSe 2020 used eGeMAPS over 5 s windows
  every 0.25 s (``--hop 0.25 --win 5``, the default); AVEC 2019 used 4 s every 0.1 s
  (``--hop 0.1 --win 4``). The whole recording goes through openSMILE once: its low-level
  descriptors are computed over the whole signal and the functionals over every window of the
  list (openSMILE's ``frameMode = list``, as ``SMILExtract`` runs sliding windows over a file),
  about ``win / hop`` times faster than one openSMILE run per window (20× at 5 s / 0.25 s).
  A window therefore sees its descriptors computed with the signal around it, as in a sliding
  run; cutting ``signal[a:b]`` out and processing it alone gives values within a few per cent
  (the edge frames of the cut differ), which the tests check. Windows past openSMILE's last
  descriptor frame (the end of the signal) are processed one by one on their cut signal.
* **Low-level descriptors** (``*_lld``) and **log-mel frames** (``logmel``): frame time = centre of
  the analysis frame; frames are averaged within each label interval ``[t - hop/2, t + hop/2)``
  (:mod:`zoo.features._align`).
* **VGGish**: one 128-d embedding per non-overlapping 0.96 s patch (time = patch centre), mapped
  to the label step by the same rule: mean of the patches whose centre falls in the label
  interval, otherwise the nearest patch (so at a 0.25 s step each label frame takes the nearest
  patch).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ._align import pool_to_labels
from .base import Extractor, ExtractorError, FeatureOutput, register_extractor
from .visual import VIDEO_SUFFIXES

__all__ = [
    "read_audio",
    "read_video_audio",
    "open_container",
    "OpenSmileFunctionals",
    "OpenSmileLLD",
    "IS10LLD",
    "LogMel",
    "VGGishExtractor",
    "Waveform",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: Shortest functionals window (openSMILE returns NaN below ~60 ms): a window holding less signal
#: (a label time at or past the end of the audio) is replaced by the signal's last 100 ms.
MIN_WINDOW_S = 0.1
#: openSMILE functionals over an explicit list of windows (``frameList``, e.g. ``0.5s-5.5s,...``);
#: the included shared config of openSMILE's functionals sets takes this file's place
#: openSMILE's descriptor frames of these sets: 10 ms apart, at most 60 ms long
_LLD_STEP_S, _LLD_FRAME_S = 0.01, 0.06
_FRAME_LIST_CONF = """frameMode = list
frameList = \\cm[frameList(F){0.0s-0.0s}:list of windows start-end, comma separated]
frameSize = 0
frameStep = 0
frameCenterSpecial = left
"""


def open_container(path: Path):
    """A PyAV container of a media file (an :class:`ExtractorError` naming it when it cannot be opened)."""
    import av

    try:
        return av.open(str(path))
    except Exception as err:  # noqa: BLE001 - PyAV raises several types
        raise ExtractorError(f"{path}: cannot open media: {err}") from None


def read_video_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """The first audio stream of a video file decoded with PyAV: mono float32 at its own rate.

    Raises:
        ExtractorError: unreadable file, no audio stream, or no samples (naming the file).
    """
    import av

    path = Path(path)
    with open_container(path) as container:
        if not container.streams.audio:
            raise ExtractorError(f"{path}: has no audio stream (the model needs audio features)")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except av.error.FFmpegError as err:
            raise ExtractorError(f"{path}: cannot decode audio: {err}") from None
    signal = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(signal) == 0:
        raise ExtractorError(f"{path}: audio stream has no samples")
    return signal, rate


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 signal (channels averaged) and its sample rate: read with soundfile, or for a
    video file (MP4, ...) its first audio stream (:func:`read_video_audio`)."""
    import soundfile as sf

    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        return read_video_audio(path)

    try:
        signal, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - soundfile raises several types
        raise ExtractorError(f"{path}: cannot read audio: {err}") from None
    if len(signal) == 0:
        raise ExtractorError(f"{path}: audio file has no samples")
    return signal.mean(axis=1), int(sr)


class _AudioExtractor(Extractor):
    """Audio files, and the audio track of video files (``zoo extract egemaps --input talk.mp4``)."""

    modality = "audio"
    input_suffixes = AUDIO_SUFFIXES + VIDEO_SUFFIXES

    def duration(self, path: Path) -> float:
        import soundfile as sf

        if path.suffix.lower() in VIDEO_SUFFIXES:
            signal, rate = read_video_audio(path)
            return len(signal) / rate

        try:
            info = sf.info(str(path))
        except Exception as err:  # noqa: BLE001
            raise ExtractorError(f"{path}: cannot read audio header: {err}") from None
        return info.frames / info.samplerate


class OpenSmileFunctionals(_AudioExtractor):
    """openSMILE functionals over sliding windows centred on the label timestamps (one pass)."""

    feature_set: str = "eGeMAPSv02"
    default_win = 5.0

    def __init__(self, hop=None, win=None, weights=None) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        import opensmile

        self.smile = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, self.feature_set),
            feature_level=opensmile.FeatureLevel.Functionals,
        )

    def windows(self, times: np.ndarray, num_samples: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """``(T, 2)`` sample bounds ``[a, b)`` of the centred window of each label time, and
        ``(T,)`` whether it is the last :data:`MIN_WINDOW_S` of the signal (a label time at or
        past the end, processed on its cut signal)."""
        duration = num_samples / sr
        min_len = min(num_samples, int(MIN_WINDOW_S * sr))
        bounds = np.zeros((len(times), 2), dtype=np.int64)
        cut = np.zeros(len(times), dtype=bool)
        for k, t in enumerate(np.asarray(times, dtype=np.float64)):
            a = int(round(min(max(t - self.win / 2.0, 0.0), duration) * sr))
            b = int(round(min(t + self.win / 2.0, duration) * sr))
            if b - a < min_len:  # label time at/past the end: the last MIN_WINDOW_S
                a = max(0, min(a, num_samples - min_len))
                b, cut[k] = a + min_len, True
            bounds[k] = a, b
        return bounds, cut

    def _cut(self, signal: np.ndarray, sr: int, a: int, b: int) -> np.ndarray:
        return self.smile.process_signal(signal[a:b], sr).to_numpy(dtype=np.float64)[0]

    def _sliding(self, signal: np.ndarray, sr: int, bounds: np.ndarray) -> np.ndarray:
        """Functionals of the sorted windows ``bounds`` in one openSMILE run over ``signal``.

        A window's end is clipped to the end of openSMILE's last descriptor frame (10 ms steps of
        frames up to 60 ms long: the frames a cut window ending at the same sample would hold);
        windows openSMILE still leaves out come last and are processed on their cut.
        """
        import opensmile

        last = (np.floor((len(signal) / sr - _LLD_FRAME_S) / _LLD_STEP_S + 1e-9) + 1) * _LLD_STEP_S
        ends = np.minimum(bounds[:, 1] / sr, last - 1e-6)
        listed = int(np.sum(ends > bounds[:, 0] / sr + _LLD_FRAME_S))  # a suffix: the ends increase
        rows = np.zeros((0, len(self.smile.feature_names)))
        if listed:
            frame_list = ",".join(f"{a / sr:.6f}s-{e:.6f}s" for (a, _), e in zip(bounds[:listed], ends[:listed]))
            with tempfile.TemporaryDirectory(prefix="zoo-smile-") as tmp:
                conf = Path(tmp) / "frame_list.conf.inc"
                conf.write_text(_FRAME_LIST_CONF)
                smile = opensmile.Smile(
                    feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                    feature_level=opensmile.FeatureLevel.Functionals,
                    options={"frameModeFunctionalsConf": str(conf), "frameList": frame_list},
                )
                rows = smile.process_signal(signal, sr).to_numpy(dtype=np.float64)[:listed]
        tail = [self._cut(signal, sr, a, b) for a, b in bounds[len(rows) :]]
        return np.concatenate([rows, np.asarray(tail).reshape(len(tail), rows.shape[1])]) if tail else rows

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        signal, sr = read_audio(path)
        times = np.asarray(times, dtype=np.float64)
        columns = list(self.smile.feature_names)
        values = np.zeros((len(times), len(columns)))
        bounds, cut = self.windows(times, len(signal), sr)
        order = np.flatnonzero(~cut)
        if len(order):
            unique, inverse = np.unique(bounds[order], axis=0, return_inverse=True)  # sorted by start, end
            values[order] = self._sliding(signal, sr, unique)[np.asarray(inverse).reshape(-1)]
        for k in np.flatnonzero(cut):
            values[k] = self._cut(signal, sr, *bounds[k])
        return FeatureOutput(np.nan_to_num(values.astype(np.float32)), times, columns)


class OpenSmileLLD(_AudioExtractor):
    """openSMILE low-level descriptors averaged within each label step."""

    feature_set: str = "eGeMAPSv02"

    def __init__(self, hop=None, win=None, weights=None) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        import opensmile

        self.smile = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, self.feature_set),
            feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
        )

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        signal, sr = read_audio(path)
        frame = self.smile.process_signal(signal, sr)
        starts = frame.index.get_level_values("start").total_seconds().to_numpy()
        ends = frame.index.get_level_values("end").total_seconds().to_numpy()
        values = np.nan_to_num(frame.to_numpy(dtype=np.float64))
        pooled = pool_to_labels((starts + ends) / 2.0, values, times, self.hop)
        return FeatureOutput(pooled, times, list(frame.columns))


@register_extractor("egemaps")
class EGeMAPS(OpenSmileFunctionals):
    """eGeMAPS v02 functionals (88-d) over centred sliding windows (MuSe 2020: 5 s / 0.25 s)."""

    dim = 88
    feature_set = "eGeMAPSv02"


@register_extractor("compare")
class ComParE(OpenSmileFunctionals):
    """ComParE 2016 functionals (6373-d) over centred sliding windows."""

    dim = 6373
    feature_set = "ComParE_2016"


@register_extractor("is13")
class IS13(OpenSmileFunctionals):
    """INTERSPEECH 2013 ComParE functionals (6373-d) over centred sliding windows."""

    dim = 6373
    feature_set = "IS13"


@register_extractor("egemaps_lld")
class EGeMAPSLLD(OpenSmileLLD):
    """eGeMAPS v02 low-level descriptors (25-d, 10 ms frames) averaged per label step."""

    dim = 25
    feature_set = "eGeMAPSv02"


@register_extractor("compare_lld")
class ComParELLD(OpenSmileLLD):
    """ComParE 2016 low-level descriptors (65-d, 10 ms frames) averaged per label step."""

    dim = 65
    feature_set = "ComParE_2016"


@register_extractor("is10_lld")
class IS10LLD(_AudioExtractor):
    """INTERSPEECH 2010 paralinguistic LLDs + deltas (76-d) averaged per label step (Chen et al. 2017).

    Chen et al. 2017 (§3.1) use openSMILE's IS10 configuration, "76 low-level descriptors" (its 38
    LLDs and their 38 deltas), with window and shift of 100 ms to match the SEWA labels. Here
    openSMILE's ``IS10`` set is run at its own frame rate (10 ms) at both feature levels, and the
    frames are averaged within each label interval ``[t - hop/2, t + hop/2)`` (default hop 0.1 s),
    which gives one 76-d row per 100 ms label. The paper's [-1, +1] scaling is left to the
    datamodule's normalisation (train statistics).
    """

    dim = 76
    default_hop = 0.1

    def __init__(self, hop=None, win=None, weights=None) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        import opensmile

        self.smiles = [
            opensmile.Smile(feature_set=opensmile.FeatureSet.IS10, feature_level=level)
            for level in (opensmile.FeatureLevel.LowLevelDescriptors, opensmile.FeatureLevel.LowLevelDescriptors_Deltas)
        ]

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        signal, sr = read_audio(path)
        parts, columns = [], []
        for smile in self.smiles:  # the two levels have different frame counts: pool each
            frame = smile.process_signal(signal, sr)
            starts = frame.index.get_level_values("start").total_seconds().to_numpy()
            ends = frame.index.get_level_values("end").total_seconds().to_numpy()
            values = np.nan_to_num(frame.to_numpy(dtype=np.float64))
            parts.append(pool_to_labels((starts + ends) / 2.0, values, times, self.hop))
            columns += list(frame.columns)
        return FeatureOutput(np.concatenate(parts, axis=1), times, columns)


@register_extractor("logmel")
class LogMel(_AudioExtractor):
    """VGGish log-mel frames (64-d, 25 ms window, 10 ms hop) averaged per label step."""

    dim = 64

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        from .vggish import FRAME_HOP_S, SAMPLE_RATE, WIN_SAMPLES, log_mel

        signal, sr = read_audio(path)
        frames = log_mel(signal, sr)
        centres = np.arange(len(frames)) * FRAME_HOP_S + WIN_SAMPLES / SAMPLE_RATE / 2.0
        pooled = pool_to_labels(centres, frames, times, self.hop)
        return FeatureOutput(pooled, times, [f"logmel_{j}" for j in range(frames.shape[1])])


@register_extractor("vggish")
class VGGishExtractor(_AudioExtractor):
    """VGGish 128-d embeddings per 0.96 s patch, mapped to the label step (weights required)."""

    dim = 128
    needs_weights = True
    batch_size = 64

    @classmethod
    def weights_help(cls) -> str:
        return "a VGGish state-dict file, e.g. torchvggish's converted vggish-10086976.pth"

    def __init__(self, hop=None, win=None, weights=None) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        from .vggish import load_vggish

        self.model = load_vggish(self.weights)

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        import torch

        from .vggish import log_mel_patches

        signal, sr = read_audio(path)
        patches, centres = log_mel_patches(signal, sr)
        outputs = []
        with torch.inference_mode():
            starts = range(0, len(patches), self.batch_size)
            for i in self.steps(starts, len(starts), f"batch of {self.batch_size} patches"):
                batch = torch.from_numpy(patches[i : i + self.batch_size]).unsqueeze(1)
                outputs.append(self.model(batch).numpy())
        embeddings = np.concatenate(outputs)
        pooled = pool_to_labels(centres, embeddings, times, self.hop)
        return FeatureOutput(pooled, times, [f"vggish_{j}" for j in range(embeddings.shape[1])])


@register_extractor("waveform")
class Waveform(_AudioExtractor):
    """The raw 16 kHz waveform cut into label frames: row ``t`` holds the ``hop · 16000`` samples
    from label time ``t`` on (640 at 40 ms, 1600 at 100 ms, 4000 at 250 ms).

    This is what the corpus readers serve as their raw ``audio`` feature set (the input of the
    self-supervised speech encoders and of Tzirakis et al. 2017's speech network): the file is
    averaged over channels, resampled to 16 kHz with torchaudio when its rate differs and, with
    the option ``normalize=true`` (RECOLA's ``audio_normalization=recording``), z-normalised as a
    whole before it is cut (:func:`zoo.data.raw_audio.read_audio_frames`).
    """

    dim = None
    dim_note = "hop × 16000 samples (0.25 s: 4000)"
    default_hop = 0.25

    def __init__(self, hop=None, win=None, weights=None, normalize: bool = False) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        if isinstance(normalize, str):
            normalize = {"true": True, "false": False}.get(normalize.strip().lower(), normalize)
        if not isinstance(normalize, bool):
            raise ExtractorError(f"waveform: option normalize must be true or false, got {normalize!r}")
        self.normalize = normalize

    def output_dim(self) -> int:
        from zoo.data.raw_audio import SAMPLE_RATE

        return int(round(self.hop * SAMPLE_RATE))

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        from zoo.data.raw_audio import SAMPLE_RATE, condition_waveform, cut_frames, read_audio_frames
        from zoo.errors import CorpusFormatError

        path, times = Path(path), np.asarray(times, np.float64)
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:  # the video's first audio stream, decoded by PyAV
                signal, rate = read_video_audio(path)
                signal = condition_waveform(path, signal[:, None], rate, SAMPLE_RATE, self.normalize)
                frames = cut_frames(signal, path, times, SAMPLE_RATE, self.hop)
            else:
                frames = read_audio_frames(path, times, SAMPLE_RATE, self.hop, self.normalize)
        except CorpusFormatError as err:
            raise ExtractorError(str(err)) from None
        return FeatureOutput(frames, times, [f"sample_{j}" for j in range(frames.shape[1])])
