"""A synthetic face whose look carries valence and arousal (the video of the synthetic corpora),
the MP4 writer, and the face network whose embeddings stand in for a corpus's face features.

The face is an ellipse with two eyes and a mouth on a plain background, moving slowly:

* **valence** sets the skin brightness (``tone + 60·v``) and the mouth curvature (smile / frown);
* **arousal** sets the mouth opening and the size of the head movements;
* where the face is not visible (``visible`` False) the frame shows a scene without a face
  (a few drifting coloured blocks, e.g. the car a MuSe-CaR reviewer talks about) and no crop box
  is given for it, as a face detector would give none.

:func:`face_frames` yields each frame with the box of its face (``x, y, w, h``, or ``None``) — the
``<id>.boxes.csv`` that the ``timm_face`` extractor of ``zoo extract`` reads next to a video.

:func:`write_face_network` writes the weights of a randomly initialised ``timm`` network (drawn
from the corpus seed) scaled so that its global-average-pooled embeddings of face crops are
post-ReLU values of about 1 — the statistics of a real face-recognition embedding (bounded,
non-negative, similar scale across dimensions). The synthetic corpora compute their face feature
sets with it through that same extractor, so a model trained on them can be applied to any video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

from ._random import smooth

__all__ = ["BOX_HEADER", "face_frames", "one_torch_thread", "write_boxes", "write_face_network", "write_video"]

BOX_HEADER = "frame,x,y,w,h"
_BACKGROUND = np.array([40.0, 45.0, 55.0], np.float32)
_MOUTH = np.array([120.0, 20.0, 30.0], np.float32)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (restored after): the face network's small
    convolutions gain nothing from a second thread and, on a busy machine, lose several times
    their time to threads waiting for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def face_frames(
    drive: np.ndarray,
    visible: np.ndarray,
    step: float,
    fps: float,
    size: int,
    rng: np.random.Generator,
    tone: float = 150.0,
) -> Iterator[tuple[np.ndarray, tuple[int, int, int, int] | None]]:
    """Frames ``(size, size, 3)`` uint8 at ``fps`` showing ``drive`` (label frame ``t`` covers
    ``[t·step, (t+1)·step)``), each with its face box or ``None``.

    Args:
        drive: ``(n, 2)`` arousal and valence per label frame, in about ``[-1, 1]``.
        visible: ``(n,)`` whether the face is in the picture.
        step: seconds per label frame.
        fps: video frame rate.
        size: width and height in pixels.
        rng: random generator (movement, pixel noise, the scene without a face).
        tone: skin brightness at valence 0 (one person's face).
    """
    n = len(drive)
    count = int(np.floor(n * step * fps + 1e-9))
    times = np.arange(count) / fps
    label = np.minimum((times / step).astype(int), n - 1)
    a = np.clip(drive[label, 0], -1.5, 1.5)
    v = np.clip(drive[label, 1], -1.5, 1.5)
    shown = np.asarray(visible, bool)[label]
    s = size / 128.0
    motion = smooth(rng.standard_normal((count, 2)), max(1, int(fps * 2))) * 6.0 * s
    jitter = rng.standard_normal((count, 2)) * (0.8 + 0.8 * (a[:, None] + 1.0)) * s
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    noise = rng.normal(0, 4.0, size=(8, size, size, 1)).astype(np.float32)
    blocks = rng.uniform(0, size, size=(4, 2)), rng.uniform(40, 220, size=(4, 3))
    for i in range(count):
        image = np.empty((size, size, 3), np.float32)
        box = None
        if shown[i]:
            cx, cy = size / 2 + motion[i, 0] + jitter[i, 0], size / 2 + motion[i, 1] + jitter[i, 1]
            image[:] = _BACKGROUND
            face = ((xx - cx) / (40 * s)) ** 2 + ((yy - cy) / (50 * s)) ** 2 <= 1.0
            skin = tone + 60.0 * v[i]
            image[face] = np.array([skin, skin * 0.85, skin * 0.75], np.float32)
            for ex in (-16, 16):
                image[(xx - cx - ex * s) ** 2 + (yy - cy + 14 * s) ** 2 <= (5 * s) ** 2] = 20.0
            u = (xx - cx) / (18 * s)
            curve = cy + 24 * s - 10 * s * v[i] * (u**2 - 0.35)
            thickness = (1.5 + 2.5 * (a[i] + 1.0)) * s
            image[(np.abs(u) <= 1.0) & (np.abs(yy - curve) <= thickness)] = _MOUTH
            x0, y0 = int(np.floor(cx - 44 * s)), int(np.floor(cy - 54 * s))
            x1, y1 = int(np.ceil(cx + 44 * s)), int(np.ceil(cy + 54 * s))
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
            box = (x0, y0, x1 - x0, y1 - y0)
        else:  # a scene without a face: drifting blocks on a grey gradient
            image[:] = (90.0 + 60.0 * yy / size)[..., None]
            centres, colours = blocks
            for (bx, by), colour in zip(centres, colours):
                bx, by = (bx + 0.5 * i * s) % size, by
                image[(np.abs(xx - bx) < 14 * s) & (np.abs(yy - by) < 9 * s)] = colour
        image += noise[i % len(noise)]
        yield np.clip(image, 0, 255).astype(np.uint8), box


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, size: int) -> None:
    """Write RGB frames as an MPEG-4 Part 2 video (``.mp4``/``.avi``) with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1001))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 400_000
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_boxes(path: Path, boxes: Iterable[tuple[int, int, int, int] | None]) -> None:
    """``frame,x,y,w,h`` per frame that has a face (the ``timm_face`` extractor's box file)."""
    rows = [f"{i},{x},{y},{w},{h}\n" for i, box in enumerate(boxes) if box is not None for x, y, w, h in [box]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BOX_HEADER + "\n" + "".join(rows))


def write_face_network(path: Path, seed: int, arch: str, crops: list[np.ndarray], image_size: int) -> Path:
    """Write the state dict of a seeded random ``timm`` ``arch`` calibrated on face crops.

    The network is drawn at random (``zero_init_last=False``), then the normalisation layers of
    its last residual block are set per channel so that, over ``crops`` prepared as the
    ``timm_face`` extractor prepares them (resized to ``image_size``, ImageNet-normalised), the
    value entering the last ReLU has mean 0.5 and standard deviation 1 in every channel: every
    embedding dimension is then a post-ReLU value of similar scale (about 0.7 on average) that
    varies with the face, like those of a trained face network.

    Args:
        path: ``.pth`` file to write (``torch.save`` of a plain state dict of tensors).
        seed: weights seed (the corpus seed).
        arch: timm ResNet-like architecture whose last stage ends in a block with ``bn2``, a
            ``downsample`` (or none) and ``act2`` (e.g. ``resnet10t``).
        crops: uint8 RGB face crops of several faces.
        image_size: the extractor's ``image_size`` option.

    Returns:
        ``path``.
    """
    import timm
    import torch

    from zoo.features.visual import prepare_crop

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = timm.create_model(arch, pretrained=False, num_classes=0, zero_init_last=False).eval()
    batch = torch.from_numpy(np.stack([prepare_crop(c, image_size) for c in crops]))
    last = model.layer4[-1]
    captured: list = []
    hook = last.act2.register_forward_pre_hook(lambda _, args: captured.append(args[0].detach().clone()))
    with torch.inference_mode():
        model(batch)
    hook.remove()
    z = captured[0].transpose(0, 1).reshape(captured[0].shape[1], -1).double()  # (C, N·H·W)
    mean, std = z.mean(1), z.std(1)
    scale = torch.where(std > 1e-6, 1.0 / std.clamp_min(1e-6), torch.ones_like(std))
    shift = 0.5 - mean * scale  # α·z + β has mean 0.5 and standard deviation 1 (or is 0.5)
    norms = [last.bn2] + [m for m in (last.downsample or []) if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():  # z is the sum of the norms' outputs: scale both, shift one
        for k, norm in enumerate(norms):
            norm.weight.mul_(scale.float())
            norm.bias.mul_(scale.float())
            if k == 0:
                norm.bias.add_(shift.float())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path
