"""Video frames of a recording cut to face crops at the label times (RECOLA's raw ``video`` set,
and the ``face_crops`` extractor of ``zoo extract`` / ``zoo predict``, which must serve exactly the
same pixels): decoded with PyAV, the frame nearest each label time, cropped and resized.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.data.sources import note_source
from zoo.errors import CorpusFormatError

__all__ = ["read_video_frames"]


def _crop_resize(image: np.ndarray, crop_box: Sequence[int] | None, size: int) -> np.ndarray:
    from PIL import Image

    height, width = image.shape[:2]
    if crop_box is None:
        side = min(height, width)
        left, top = (width - side) // 2, (height - side) // 2
        box = (left, top, left + side, top + side)
    else:
        left, top, w, h = (int(v) for v in crop_box)
        box = (left, top, left + w, top + h)
    return np.asarray(Image.fromarray(image).crop(box).resize((size, size), Image.BILINEAR), np.uint8)


def read_video_frames(
    path: str | Path,
    timestamps: np.ndarray,
    face_size: int = 96,
    crop_box: Sequence[int] | None = None,
) -> np.ndarray:
    """Face crops of the video frames nearest to each label time.

    Frames are decoded with PyAV in one streaming pass; each frame's time comes from its
    presentation timestamp (falling back to ``index / fps`` with the stream's average rate).
    A label time gets the frame with the nearest time (the earlier one on a tie); times at most
    one frame (video frame or label step, the longer) after the last frame get the last frame (a
    video that ends earlier than that is refused, as audio shorter than its labels is). Only selected frames are cropped and kept.

    Args:
        path: the video file.
        timestamps: label frame times in seconds, increasing.
        face_size: output width and height in pixels.
        crop_box: ``(left, top, width, height)`` in source pixels; ``None`` = centred square.

    Returns:
        uint8 ``(T, face_size, face_size, 3)`` RGB.
    """
    import av

    path = note_source(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: video file not found")
    timestamps = np.asarray(timestamps, np.float64)
    out = np.zeros((len(timestamps), face_size, face_size, 3), np.uint8)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:  # type: ignore[attr-defined]
        raise CorpusFormatError(f"{path}: cannot open video ({err})") from None
    with container:
        if not container.streams.video:
            raise CorpusFormatError(f"{path}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        j, prev_time, prev_crop, prev_frame = 0, None, None, None
        for index, frame in enumerate(container.decode(stream)):
            time = frame.time
            if time is None:
                if fps is None:
                    raise CorpusFormatError(f"{path}: frames have no timestamps and the stream no frame rate")
                time = index / fps
            crop = None
            while j < len(timestamps) and timestamps[j] <= time:
                use_prev = prev_time is not None and timestamps[j] - prev_time <= time - timestamps[j]
                if use_prev:
                    if prev_crop is None:
                        prev_crop = _crop_resize(prev_frame.to_ndarray(format="rgb24"), crop_box, face_size)
                    out[j] = prev_crop
                else:
                    if crop is None:
                        crop = _crop_resize(frame.to_ndarray(format="rgb24"), crop_box, face_size)
                    out[j] = crop
                j += 1
            prev_time, prev_crop, prev_frame = time, crop, frame
        if prev_frame is None:
            raise CorpusFormatError(f"{path}: no decodable video frames")
        if j < len(timestamps):
            label_step = float(np.diff(timestamps).min()) if len(timestamps) > 1 else 0.0
            period = max(1.0 / fps if fps else 0.0, label_step)
            if timestamps[-1] - prev_time > period + 1e-6:
                raise CorpusFormatError(
                    f"{path} (recording {path.stem}): the video ends at {prev_time:.3f} s but the labels run to "
                    f"{timestamps[-1]:.3f} s (row {len(timestamps)}); truncated file? (at most one frame of "
                    "shortfall is filled with the last frame, as a short WAV is refused)"
                )
            last = (
                prev_crop
                if prev_crop is not None
                else _crop_resize(prev_frame.to_ndarray(format="rgb24"), crop_box, face_size)
            )
            out[j:] = last
    return out


# --------------------------------------------------------------------------- recordings
