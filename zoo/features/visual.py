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

__all__ = ["FaceCrops", "TimmFaceExtractor", "prepare_crop", "read_boxes", "video_frames"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
BOX_SUFFIX = ".boxes.csv"
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_boxes(path: Path) -> dict[int, tuple[int, int, int, int]]:
    """Read a crop-box CSV ``frame,x,y,w,h`` → ``{frame: (x, y, w, h)}`` (errors name the line)."""
    import pandas as pd

    if not path.is_file():
        raise ExtractorError(
            f"{path}: crop-box file not found (expected next to the video, header frame,x,y,w,h, one row per "
            "frame from your face detector; none ships with the zoo). A file with the header alone counts every "
            "frame as no face seen, as a WAV does"
        )
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


def video_frames(path: Path, fps: float = 25.0, decode: bool = True) -> Iterator[tuple[float, np.ndarray | None]]:
    """``(time in seconds, RGB frame or None)`` of every frame of a video, decoded with PyAV (the
    container's presentation times; ``i / fps`` where a frame has none)."""
    import av

    try:
        container = av.open(str(path))
    except Exception as err:  # noqa: BLE001
        raise ExtractorError(f"{path}: cannot open video: {err}") from None
    with container:
        if not container.streams.video:
            raise ExtractorError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        for i, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or fps)
            yield t, (frame.to_ndarray(format="rgb24") if decode else None)


def _frame_index(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise ExtractorError(f"{path}: face-crop file name carries no frame index (e.g. 000123.png)")
    return int(digits[-1])


class _FaceSource(Extractor):
    """Inputs of the face extractors: a video + ``<id>.boxes.csv``, or a folder of face crops."""

    modality = "visual"
    input_suffixes = VIDEO_SUFFIXES
    fps: float = 25.0

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
        return video_frames(path, self.fps, decode)


def bool_option(extractor: str, name: str, value: bool | str) -> bool:
    """An extractor's boolean option, given as a bool or as ``true``/``false`` (``--option``)."""
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(value.strip().lower(), value)
    if not isinstance(value, bool):
        raise ExtractorError(f"{extractor}: option {name} must be true or false, got {value!r}")
    return value


@register_extractor("timm_face")
class TimmFaceExtractor(_FaceSource):
    """timm backbone embeddings of face crops + ``face_present``, mean-pooled per label step.

    Args:
        arch: timm architecture (default ``resnet50`` → 2048-d).
        fps: frame rate of image-folder inputs (video inputs use the container's timestamps).
        image_size: side of the square network input.
        batch_size: crops per forward pass.
        face_present: append the ``face_present`` column (default); ``false`` gives the embedding
            alone (zeros where no face is seen), the layout of the MuSe 2020 ``vggface`` files.
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
        face_present: bool | str = True,
    ) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        self.arch, self.fps, self.image_size = arch, float(fps), int(image_size)
        self.batch_size = int(batch_size)
        self.face_present = bool_option("timm_face", "face_present", face_present)
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
        return self.width + int(self.face_present)

    def _columns(self) -> list[str]:
        return [f"{self.arch}_{j}" for j in range(self.width)] + (["face_present"] if self.face_present else [])

    def absent(self, times: np.ndarray) -> FeatureOutput:
        """The rows of a recording without video (a WAV): no face in any frame, all zeros
        (``face_present`` 0), as :meth:`extract` writes the frames where no face is seen."""
        return FeatureOutput(np.zeros((len(times), self.output_dim()), np.float32), times, self._columns())

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
        return FeatureOutput(values if self.face_present else values[:, :-1], times, self._columns())


@register_extractor("face_crops")
class FaceCrops(_FaceSource):
    """The face crop at each label time, as pixels: for networks that take the face itself.

    Label time ``t`` takes the video frame whose time is nearest to ``t`` and cuts the face out
    of it, resized to ``size`` × ``size`` with PIL's bilinear filter. Where the face is:

    * ``crop_box=None`` (default): the frame's box in ``<id>.boxes.csv`` (as
      :class:`TimmFaceExtractor`; for a folder of crops, the crop of frame ``round(t · fps)``);
      a frame without a box has no face;
    * ``crop_box="centre"``: the centred square of every frame (face-centred close-ups such as
      RECOLA's), or ``crop_box=[left, top, width, height]``: that box of every frame — exactly
      the crops the RECOLA reader serves as its raw ``video`` set
      (:func:`zoo.data.video_frames.read_video_frames`; label times past the last frame take
      the last frame).

    With ``face_present=true`` (default) a row is the RGB values (0-255, row-major, channels last)
    followed by ``face_present`` (1, or 0 with zero pixels when that frame has no face): the input
    of the imported face models. With ``face_present=false`` the set is the images themselves,
    ``(size, size, 3)`` per label frame (:meth:`images`; RECOLA's raw ``video`` set, the input of
    Tzirakis et al. 2017's visual network).

    Args:
        size: side of the square crop (224 for EfficientNet-B0 face models, 96 for RECOLA raw).
        fps: frame rate of crop-folder inputs (videos use their own timestamps).
        crop_box: ``None``, ``"centre"`` or ``[left, top, width, height]`` (see above).
        face_present: append the ``face_present`` column (flat rows) or serve images.
    """

    dim = None
    dim_note = "size x size x 3 + 1 (224: 150529); face_present=false: (size, size, 3)"

    def __init__(
        self,
        hop=None,
        win=None,
        weights=None,
        size: int = 224,
        fps: float = 25.0,
        crop_box: str | list[int] | None = None,
        face_present: bool | str = True,
    ) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        self.size, self.fps = int(size), float(fps)
        if self.size < 1:
            raise ExtractorError(f"face_crops: size must be a positive number of pixels, got {size!r}")
        if isinstance(crop_box, str) and crop_box != "centre":
            raise ExtractorError(f"face_crops: crop_box must be null, 'centre' or 4 integers, got {crop_box!r}")
        if isinstance(crop_box, (list, tuple)):
            if len(crop_box) != 4:
                raise ExtractorError(f"face_crops: crop_box must be (left, top, width, height), got {crop_box!r}")
            crop_box = [int(v) for v in crop_box]
        self.crop_box = crop_box
        self.face_present = bool_option("face_crops", "face_present", face_present)

    def output_shape(self) -> list[int] | None:
        """``[size, size, 3]`` for image sets (``face_present=false``), else ``None`` (flat rows)."""
        return None if self.face_present else [self.size, self.size, 3]

    def output_dim(self) -> int:
        return self.size * self.size * 3 + int(self.face_present)

    def _resize(self, crop: np.ndarray) -> np.ndarray:
        from PIL import Image

        return np.asarray(Image.fromarray(crop).convert("RGB").resize((self.size,) * 2, Image.BILINEAR), np.uint8)

    def _boxed(self, path: Path, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops by ``<id>.boxes.csv`` (or of a crop folder): ``(images, has_face)``."""
        from PIL import Image

        images = np.zeros((len(times), self.size, self.size, 3), np.uint8)
        present = np.zeros(len(times), bool)
        if path.is_dir():
            frames, count = self._folder_frames(path)
            nearest = np.clip(np.rint(times * self.fps), 0, count - 1).astype(np.int64)
            crops = {}
            for index in sorted({int(i) for i in nearest if int(i) in frames}):
                with Image.open(frames[index]) as img:
                    crops[index] = self._resize(np.asarray(img.convert("RGB")))
        else:
            boxes = read_boxes(path.with_name(path.stem + BOX_SUFFIX))
            frame_times = np.asarray([t for t, _ in video_frames(path, self.fps, decode=False)], np.float64)
            if not len(frame_times):
                raise ExtractorError(f"{path}: video stream has no frames")
            nearest = np.abs(times[:, None] - frame_times[None, :]).argmin(1)
            wanted = {int(i) for i in nearest if int(i) in boxes}
            crops = {}
            for index, (_, image) in enumerate(video_frames(path, self.fps)):
                if index in wanted:
                    x, y, w, h = boxes[index]
                    crop = image[max(y, 0) : y + h, max(x, 0) : x + w]
                    if crop.size:
                        crops[index] = self._resize(crop)
        for row, index in enumerate(nearest):
            if int(index) in crops:
                images[row], present[row] = crops[int(index)], True
        return images, present

    def crops(self, path: Path, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 ``(T, size, size, 3)`` crops of the frames nearest to ``times`` (zeros where
        there is no face) and a bool ``(T,)`` saying which have a face."""
        path, times = Path(path), np.asarray(times, np.float64)
        if self.crop_box is None or path.is_dir():
            return self._boxed(path, times)
        from zoo.data.video_frames import read_video_frames
        from zoo.errors import CorpusFormatError

        box = None if self.crop_box == "centre" else self.crop_box
        # a label time past the last frame (audio a little longer than the video) takes the last frame
        times = np.minimum(times, self.duration(path))
        try:
            images = read_video_frames(path, times, self.size, box)
        except CorpusFormatError as err:
            raise ExtractorError(str(err)) from None
        return images, np.ones(len(times), bool)

    def images(self, path: Path, times: np.ndarray) -> np.ndarray:
        """The image set (``face_present=false``): uint8 ``(T, size, size, 3)``."""
        return self.crops(path, times)[0]

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        images, present = self.crops(path, times)
        if not present.any():
            raise ExtractorError(f"{path}: none of the frames at the label times has a face")
        values = images.reshape(len(images), -1).astype(np.float32)
        columns = [f"pixel_{j}" for j in range(values.shape[1])]
        if self.face_present:
            values = np.concatenate([values, present[:, None].astype(np.float32)], axis=1)
            columns.append("face_present")
        return FeatureOutput(values, times, columns)
