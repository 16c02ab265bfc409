"""Raw media files for ``zoo predict BUNDLE MEDIA``: which files are media, their length, their audio.

* WAV/FLAC/OGG are read with ``soundfile``;
* MP4 (and the other video containers of :data:`zoo.features.visual.VIDEO_SUFFIXES`) with PyAV:
  the first audio stream is decoded to mono float32 at its own rate; the video stream is left to
  the visual extractor, which decodes it itself.

Every error is an :class:`~zoo.features.ExtractorError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import AUDIO_SUFFIXES, read_audio
from .audio import open_container as _open_container
from .base import ExtractorError
from .visual import VIDEO_SUFFIXES

__all__ = ["MEDIA_SUFFIXES", "find_media", "is_media", "media_audio", "media_duration", "write_audio_wav"]

MEDIA_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES


def is_media(path: Path) -> bool:
    """Whether ``path`` is a file with a media suffix."""
    return path.is_file() and path.suffix.lower() in MEDIA_SUFFIXES


def find_media(path: str | Path) -> list[tuple[str, Path]]:
    """The media files of ``path``: the file itself, or a folder's media files (not recursive).

    Returns:
        ``(recording id, path)`` pairs sorted by id; the id is the file stem.

    Raises:
        ExtractorError: no such path, a file that is not media, a folder without media, or two
            files with the same stem (``talk.wav`` and ``talk.mp4``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ExtractorError(f"{path}: input not found")
    if path.is_file():
        if not is_media(path):
            raise ExtractorError(f"{path}: not a media file (expected {', '.join(MEDIA_SUFFIXES)})")
        return [(path.stem, path)]
    found: dict[str, Path] = {}
    for item in sorted(p for p in path.iterdir() if is_media(p)):
        if item.stem in found:
            raise ExtractorError(f"{item}: recording id {item.stem!r} also given by {found[item.stem]}")
        found[item.stem] = item
    if not found:
        raise ExtractorError(f"{path}: no media files ({', '.join(MEDIA_SUFFIXES)})")
    return sorted(found.items())


def media_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 audio of a media file and its sample rate (:func:`zoo.features.audio.read_audio`).

    Raises:
        ExtractorError: unreadable file, no audio stream, or no samples (naming the file).
    """
    return read_audio(path)


def write_audio_wav(path: str | Path, folder: Path) -> Path:
    """``path`` itself for audio files, else its audio as ``<folder>/<stem>.wav`` (float32)."""
    import soundfile as sf

    path = Path(path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return path
    signal, rate = media_audio(path)
    target = folder / f"{path.stem}.wav"
    sf.write(str(target), signal, rate, subtype="FLOAT")
    return target


def media_duration(path: str | Path) -> float:
    """Length in seconds: of the audio track where there is one, else of the video stream.

    Raises:
        ExtractorError: unreadable file, or neither audio nor video (naming the file).
    """
    path = Path(path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except Exception as err:  # noqa: BLE001
            raise ExtractorError(f"{path}: cannot read audio header: {err}") from None
        return info.frames / info.samplerate
    with _open_container(path) as container:
        has_audio, has_video = bool(container.streams.audio), bool(container.streams.video)
    if has_audio:
        signal, rate = media_audio(path)
        return len(signal) / rate
    if not has_video:
        raise ExtractorError(f"{path}: has neither an audio nor a video stream")
    times = []
    with _open_container(path) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25.0)
        for i, frame in enumerate(container.decode(stream)):
            times.append(float(frame.time) if frame.time is not None else i / rate)
    if not times:
        raise ExtractorError(f"{path}: video stream has no frames")
    return times[-1] + 1.0 / rate
