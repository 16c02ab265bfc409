"""The raw face crops of RECOLA's raw mode as an extractor (the input of Tzirakis et al. 2017's
visual network and of the self-supervised audio-visual model).

For each label time the video frame nearest to it is cropped (the centred square, RECOLA's videos
being face-centred close-ups, or a given ``crop_box``) and resized to ``face_size``² pixels —
exactly what the RECOLA reader serves as its ``video`` feature set
(:func:`zoo.data.recola.read_video_frames`). :meth:`FaceCrops.crops` gives the uint8
``(T, size, size, 3)`` images a model takes (``zoo predict`` uses it); :meth:`FaceCrops.extract`
gives the same pixels flattened to ``(T, size·size·3)`` for the extractor contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import Extractor, ExtractorError, FeatureOutput, register_extractor
from .visual import VIDEO_SUFFIXES

__all__ = ["FaceCrops"]


@register_extractor("face_crops")
class FaceCrops(Extractor):
    """The frame nearest to each label time, cropped and resized (RECOLA's raw ``video`` set).

    Args:
        face_size: side of the square crops in pixels (Tzirakis et al. 2017: 96).
        crop_box: ``(left, top, width, height)`` in source pixels; ``None`` = the centred square.
    """

    modality = "visual"
    dim = None
    dim_note = "face_size × face_size × 3 pixels (96: 27648)"
    default_hop = 0.04
    input_suffixes = VIDEO_SUFFIXES

    def __init__(
        self, hop=None, win=None, weights=None, face_size: int = 96, crop_box: Sequence[int] | None = None
    ) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        if int(face_size) < 1:
            raise ExtractorError(f"face_crops: face_size must be a positive number of pixels, got {face_size!r}")
        if crop_box is not None and len(crop_box) != 4:
            raise ExtractorError(f"face_crops: crop_box must be (left, top, width, height), got {crop_box!r}")
        self.face_size = int(face_size)
        self.crop_box = None if crop_box is None else [int(v) for v in crop_box]

    def output_shape(self) -> list[int]:
        """Shape of one frame's crop: ``[face_size, face_size, 3]``."""
        return [self.face_size, self.face_size, 3]

    def output_dim(self) -> int:
        return self.face_size * self.face_size * 3

    def duration(self, path: Path) -> float:
        from .media import media_duration

        return media_duration(path)

    def crops(self, path: Path, times: np.ndarray) -> np.ndarray:
        """uint8 ``(T, face_size, face_size, 3)`` crops of the frames nearest to ``times``."""
        from zoo.data.recola import read_video_frames

        return read_video_frames(path, np.asarray(times, np.float64), self.face_size, self.crop_box)

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        crops = self.crops(path, times)
        return FeatureOutput(crops.reshape(len(crops), -1), times, [f"pixel_{j}" for j in range(self.output_dim())])
