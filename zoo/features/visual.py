"""Visual extractor: per-frame face-crop embeddings from a timm backbone, pooled per label step.

Inputs (one recording each):

* a **folder of face crops** ``<recording>/<frame>.png|jpg`` — the file stem's last run of digits
  is the frame index (``000123.png``, ``frame_123.jpg``); frame ``i`` is at ``i / fps`` seconds
  (``--option fps=25``). Frame indices missing from the folder are frames without a face.
* a **video** ``<recording>.mp4|avi|mkv|mov|webm`` decoded with PyAV, plus its crop-box file
  ``<recording>.boxes.csv`` next to it (header ``frame,x,y,w,h``: 0-based decoded frame index and
  the pixel box). Frames missing from the box file have no face. Frame time = the frame's
  presentation time from the container.

Every crop is resized to ``image_size`` (default 224), ImageNet-normalised and embedded with
``timm.create_model(arch, num_classes=0)`` (global-average-pooled, e.g. 2048-d for resnet50),
weights from a local state-dict file (``--weights``; classifier tensors in the file are ignored).
Label frame ``t`` gets the mean embedding of the face frames in ``[t - hop/2, t + hop/2)``
(Chen et al. 2017 pool 5 frames: 25 fps at a 0.2 s step), zeros when there are none, and a last
column ``face_present`` = the fraction of the video frames in that interval that have a face.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._align import assign_frames
from .base import Extractor, ExtractorError, FeatureOutput, register_extractor

__all__ = ["TimmFaceExtractor", "prepare_crop", "read_boxes"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
BOX_SUFFIX = ".boxes.csv"
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_boxes(path: Path) -> dict[int, tuple[int, int, int, int]]:
    """Read a crop-box CSV ``frame,x,y,w,h`` → ``{frame: (x, y, w, h)}`` (errors name the line)."""
    import pandas as pd

    if not path.is_file():
        raise ExtractorError(f"{path}: crop-box file not found (expected next to the video, header frame,x,y,w,h)")
    frame = pd.read_csv(path, skipinitialspace=True)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("frame", "x", "y", "w", "h") if c not in frame.columns]
    if missing:
        raise ExtractorError(f"{path}: line 1: missing column(s) {missing}; found {list(frame.columns)}")
    boxes = {}
    for row, values in enumerate(frame[["frame", "x", "y", "w", "h"]].itertuples(index=False)):
        try:
            f, x, y, w, h = (int(round(float(v))) for v in values)
        except (TypeError, ValueError):
            raise ExtractorError(f"{path}: line {row + 2}: non-numeric box {tuple(values)}") from None
        if w <= 0 or h <= 0 or f < 0:
            raise ExtractorError(f"{path}: line {row + 2}: invalid box (frame={f}, w={w}, h={h})")
        boxes[f] = (x, y, w, h)
    return boxes


def prepare_crop(image: np.ndarray, image_size: int) -> np.ndarray:
    """A uint8 RGB crop as the network's input: resized to ``image_size``² (bilinear),
    ImageNet-normalised, ``(3, size, size)`` float32."""
    from PIL import Image

    resized = Image.fromarray(image).convert("RGB").resize((image_size,) * 2, Image.BILINEAR)
    x = (np.asarray(resized, dtype=np.float32) / 255.0 - _MEAN) / _STD
    return x.transpose(2, 0, 1)


def _frame_index(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise ExtractorError(f"{path}: face-crop file name carries no frame index (e.g. 000123.png)")
    return int(digits[-1])


@register_extractor("timm_face")
class TimmFaceExtractor(Extractor):
    """timm backbone embeddings of face crops + ``face_present``, mean-pooled per label step.

    Args:
        arch: timm architecture (default ``resnet50`` → 2048-d).
        fps: frame rate of image-folder inputs (video inputs use the container's timestamps).
        image_size: side of the square network input.
        batch_size: crops per forward pass.
    """

    modality = "visual"
    dim = None
    dim_note = "backbone width + 1 (resnet50: 2049)"
    default_hop = 0.25
    needs_weights = True
    input_suffixes = VIDEO_SUFFIXES

    @classmethod
    def weights_help(cls) -> str:
        return "a timm state-dict file for --option arch=... (default resnet50)"

    def __init__(
        self,
        hop=None,
        win=None,
        weights=None,
        arch: str = "resnet50",
        fps: float = 25.0,
        image_size: int = 224,
        batch_size: int = 32,
    ) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        self.arch, self.fps, self.image_size = arch, float(fps), int(image_size)
        self.batch_size = int(batch_size)
        self.model = self._load_model()
        self.width = int(self.model.num_features)

    def _load_model(self):
        import timm
        import torch

        try:
            model = timm.create_model(self.arch, pretrained=False, num_classes=0)
        except Exception as err:  # noqa: BLE001 - unknown architecture
            raise ExtractorError(f"unknown timm architecture {self.arch!r}: {err}") from None
        try:
            state = torch.load(self.weights, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001
            raise ExtractorError(f"{self.weights}: cannot read timm weights: {err}") from None
        for key in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        if not isinstance(state, dict):
            raise ExtractorError(f"{self.weights}: expected a state dict, got {type(state)}")
        expected = model.state_dict()
        classifier = str(model.pretrained_cfg.get("classifier", "fc"))
        state = {k: v for k, v in state.items() if not k.startswith(classifier + ".")}
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            raise ExtractorError(
                f"{self.weights}: does not match timm {self.arch!r}; missing tensors "
                f"{missing[:6]}, unexpected tensors {unexpected[:6]}"
            )
        for key, tensor in expected.items():
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise ExtractorError(
                    f"{self.weights}: tensor {key!r} has shape {tuple(state[key].shape)}, "
                    f"{self.arch} expects {tuple(tensor.shape)}"
                )
        model.load_state_dict(state)
        return model.eval()

    def output_dim(self) -> int:
        return self.width + 1

    def absent(self, times: np.ndarray) -> FeatureOutput:
        """The rows of a recording without video (a WAV): no face in any frame, all zeros
        (``face_present`` 0), as :meth:`extract` writes the frames where no face is seen."""
        columns = [f"{self.arch}_{j}" for j in range(self.width)] + ["face_present"]
        return FeatureOutput(np.zeros((len(times), self.width + 1), np.float32), times, columns)

    # ------------------------------------------------------------------ inputs
    def _accepts(self, path: Path) -> bool:
        if path.is_dir():
            return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
        return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES

    def find_inputs(self, paths):
        found: dict[str, Path] = {}
        for path in map(Path, paths):
            if not path.exists():
                raise ExtractorError(f"{path}: input not found")
            if self._accepts(path):  # a video file or one crop folder
                candidates = [path]
            elif path.is_dir():
                candidates = sorted(p for p in path.iterdir() if self._accepts(p))
            else:
                raise ExtractorError(f"{path}: not a video ({', '.join(VIDEO_SUFFIXES)}) or crop folder")
            for c in candidates:
                found.setdefault(c.name if c.is_dir() else c.stem, c)
        return sorted(found.items())

    # ------------------------------------------------------------------ frames
    def _folder_frames(self, folder: Path) -> tuple[dict[int, Path], int]:
        frames: dict[int, Path] = {}
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                index = _frame_index(p)
                if index in frames:
                    raise ExtractorError(f"{p}: frame index {index} also given by {frames[index]}")
                frames[index] = p
        if not frames:
            raise ExtractorError(f"{folder}: no face-crop images ({', '.join(IMAGE_SUFFIXES)})")
        return frames, max(frames) + 1

    def duration(self, path: Path) -> float:
        if path.is_dir():
            _, count = self._folder_frames(path)
            return (count - 1) / self.fps
        times = [t for t, _ in self._video_frames(path, decode=False)]
        return times[-1] if times else 0.0

    def _video_frames(self, path: Path, decode: bool = True) -> Iterator[tuple[float, object]]:
        import av

        try:
            container = av.open(str(path))
        except Exception as err:  # noqa: BLE001
            raise ExtractorError(f"{path}: cannot open video: {err}") from None
        with container:
            stream = container.streams.video[0]
            for i, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or self.fps)
                yield t, (frame.to_ndarray(format="rgb24") if decode else None)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        return prepare_crop(image, self.image_size)

    def _embed(self, crops: list[np.ndarray]) -> np.ndarray:
        import torch

        if not crops:
            return np.zeros((0, self.width), dtype=np.float32)
        out = []
        with torch.inference_mode():
            starts = range(0, len(crops), self.batch_size)
            for i in self.steps(starts, len(starts), f"batch of {self.batch_size} faces"):
                batch = torch.from_numpy(np.stack(crops[i : i + self.batch_size]))
                out.append(self.model(batch).numpy())
        return np.concatenate(out).astype(np.float32)

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        from PIL import Image

        frame_times: list[float] = []
        has_face: list[bool] = []
        crops: list[np.ndarray] = []
        if path.is_dir():
            frames, count = self._folder_frames(path)
            for index in self.steps(range(count), count, "frame"):
                frame_times.append(index / self.fps)
                has_face.append(index in frames)
                if index in frames:
                    with Image.open(frames[index]) as img:
                        crops.append(self._prepare(np.asarray(img.convert("RGB"))))
        else:
            boxes = read_boxes(path.with_name(path.stem + BOX_SUFFIX))
            for index, (t, image) in enumerate(self.steps(self._video_frames(path), None, "frame")):
                frame_times.append(t)
                box = boxes.get(index)
                crop = None
                if box is not None:
                    x, y, w, h = box
                    crop = image[max(y, 0) : y + h, max(x, 0) : x + w]
                    crop = crop if crop.size else None
                has_face.append(crop is not None)
                if crop is not None:
                    crops.append(self._prepare(crop))
        embeddings = np.zeros((len(frame_times), self.width), dtype=np.float32)
        face = np.asarray(has_face, dtype=bool)
        embeddings[face] = self._embed(crops)
        owner = assign_frames(np.asarray(frame_times), times, self.hop)
        values = np.zeros((len(times), self.width + 1), dtype=np.float64)
        valid = owner >= 0
        faces = valid & face
        frames_per_step = np.bincount(owner[valid], minlength=len(times))
        faces_per_step = np.bincount(owner[faces], minlength=len(times))
        np.add.at(values[:, :-1], owner[faces], embeddings[faces])
        seen = faces_per_step > 0
        values[seen, :-1] /= faces_per_step[seen, None]
        step_has_frames = frames_per_step > 0
        values[step_has_frames, -1] = faces_per_step[step_has_frames] / frames_per_step[step_has_frames]
        columns = [f"{self.arch}_{j}" for j in range(self.width)] + ["face_present"]
        return FeatureOutput(values, times, columns)
