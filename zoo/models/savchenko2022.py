"""HSEmotion's face valence/arousal model, imported from its ONNX release as a sliding-window network.

Savchenko, "Video-Based Frame-Level Facial Analysis of Affective Behavior on Mobile Devices Using
EfficientNets", CVPR Workshops (ABAW) 2022, pp. 2359-2366; Savchenko, Savchenko & Makarov,
"Classifying emotions and engagement in online learning based on a single facial expression
recognition neural network", IEEE Transactions on Affective Computing, 2022. Weights
``enet_b0_8_va_mtl.onnx`` of the HSEmotion repository (``models/affectnet_emotions/onnx/``;
code licence Apache-2.0): an EfficientNet-B0 pre-trained on VGGFace2, trained multi-task on
AffectNet — 8 expression logits followed by valence and arousal (the last two outputs).

What the HSEmotion code specifies (and this module reproduces): a face crop resized to 224 × 224
(260 for the B2 models), scaled to [0, 1], normalised with the ImageNet mean (0.485, 0.456, 0.406)
and standard deviation (0.229, 0.224, 0.225), channels first, through the network; valence and
arousal are its outputs 8 and 9 (``scores[-2:]``). The ONNX graph is run by
:class:`zoo.layers.onnx_graph.OnnxGraph` (the file's own operators, as ``torch`` functions).

The model scores one image; this zoo's choice for video: label frame ``k`` gets the face of the
video frame nearest to ``k · step`` (extractor ``face_crops``; crop boxes from ``<id>.boxes.csv``
next to the video, as every face model of the zoo: no face detector ships), and its prediction is
the mean of the per-frame predictions of the label frames within ``window / 2`` of it that have a
face; a label frame with none there takes the prediction of the nearest frame with a face.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from zoo.layers.onnx_graph import OnnxGraph
from zoo.models.registry import register_model

__all__ = ["PAPER", "FaceWindowVA", "window_mean", "savchenko2022_va"]

PAPER = (
    "Savchenko 2022, Video-Based Frame-Level Facial Analysis of Affective Behavior on Mobile Devices "
    "Using EfficientNets, CVPRW (arXiv:2203.13436); weights HSEmotion enet_b0_8_va_mtl.onnx"
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def window_mean(preds: Tensor, present: Tensor, half: int) -> Tensor:
    """Mean of ``preds`` ``(T, K)`` over the frames within ``half`` frames that have a face.

    Frames whose window holds no face take the value of the nearest frame with a face (the
    earlier one on a tie); with no face at all the result is zeros.
    """
    weights = present.to(preds.dtype)[:, None]
    sums = torch.cat([preds.new_zeros(1, preds.shape[1]), torch.cumsum(preds * weights, 0)])
    counts = torch.cat([preds.new_zeros(1, 1), torch.cumsum(weights, 0)])
    index = torch.arange(len(preds), device=preds.device)
    lo, hi = (index - half).clamp(min=0), (index + half).clamp(max=len(preds) - 1) + 1
    total, count = sums[hi] - sums[lo], counts[hi] - counts[lo]
    out = total / count.clamp(min=1.0)
    faces = torch.nonzero(present).flatten()
    empty = count[:, 0] == 0
    if empty.any() and len(faces):
        nearest = faces[(index[empty, None] - faces[None, :]).abs().argmin(1)]
        out[empty] = preds[nearest]
    return out


class FaceWindowVA(nn.Module):
    """An ONNX face network applied per label frame, averaged over a sliding window.

    Args:
        feature_dims: ``{face_feature: size · size · 3 + 1}`` (crop pixels and ``face_present``).
        num_targets: outputs kept (2: valence, arousal).
        graph: the ONNX graph record (:func:`zoo.layers.onnx_graph.graph_from_onnx`).
        output_index: the network outputs kept, in target order.
        image_size: the crop side the network takes.
        window: seconds over which per-frame predictions are averaged.
        step: seconds between label frames (set at prediction time with the step).
        face_feature: name of the crop feature set.
        crops_per_call: crops per network call.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, Any],
        num_targets: int,
        graph: Mapping[str, Any],
        output_index: Sequence[int],
        image_size: int = 224,
        window: float = 2.0,
        step: float = 0.25,
        face_feature: str = "face",
        crops_per_call: int = 32,
    ) -> None:
        super().__init__()
        expected = int(image_size) ** 2 * 3 + 1
        if feature_dims.get(face_feature) != expected:
            raise ValueError(
                f"feature set {face_feature!r} must hold {image_size}x{image_size}x3 crop pixels + face_present "
                f"({expected} values), got {feature_dims.get(face_feature)}"
            )
        if len(output_index) != num_targets:
            raise ValueError(
                f"output_index {list(output_index)} must name one network output per target ({num_targets})"
            )
        self.face_feature, self.image_size = face_feature, int(image_size)
        self.output_index = [int(i) for i in output_index]
        self.crops_per_call = max(1, int(crops_per_call))
        self.window, self.step = float(window), float(step)
        self.net = OnnxGraph(graph)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def score_crops(self, crops: Tensor) -> Tensor:
        """``(N, S, S, 3)`` RGB crops, 0-255 → ``(N, K)``: the HSEmotion preprocessing and network."""
        x = (crops.permute(0, 3, 1, 2) / 255.0 - self.mean) / self.std
        return self.net(x)[:, self.output_index]

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``{face: (B, T, S·S·3 + 1)}``, ``(B, T)`` → ``(B, T, K)`` (zeros at padded frames)."""
        x = features[self.face_feature].float()
        batch, length, _ = x.shape
        out = x.new_zeros(batch, length, len(self.output_index))
        half = int(math.floor(self.window / 2.0 / self.step + 1e-9))
        for b in range(batch):
            valid = int(mask[b].sum())
            present = x[b, :valid, -1] > 0.5
            crops = x[b, :valid, :-1].reshape(valid, self.image_size, self.image_size, 3)
            preds = x.new_zeros(valid, len(self.output_index))
            rows = torch.nonzero(present).flatten()
            for i in range(0, len(rows), self.crops_per_call):
                chunk = rows[i : i + self.crops_per_call]
                preds[chunk] = self.score_crops(crops[chunk])
            out[b, :valid] = window_mean(preds, present, half)
        return out * mask[..., None].to(out.dtype)


@register_model
def savchenko2022_va(feature_dims: Mapping[str, Any], num_targets: int, **kwargs: Any) -> FaceWindowVA:
    """HSEmotion's EfficientNet valence/arousal face model (ONNX) over sliding windows."""
    return FaceWindowVA(feature_dims, num_targets, **kwargs)
