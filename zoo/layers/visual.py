"""A face-image feature extractor: a ``timm`` backbone on each frame, ImageNet normalisation, augmentation.

Tzirakis et al. 2017 (§III-D, §V) extract visual features with ResNet-50 on 96×96 face crops and
augment each training sequence (resize to 110×110, random 96×96 crop, random brightness and
saturation); the self-supervised family's audio-visual variant reuses the same extractor for its
face stream. Reads no file: initial weights are handed in as a state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "VisualNet"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VisualNet(nn.Module):
    """ResNet face-feature extractor with ImageNet normalisation and training augmentation.

    Args:
        backbone: timm model name (``resnet50`` in the paper; e.g. ``resnet18`` for tests).
        backbone_weights: initial weights of the backbone, e.g. ImageNet weights read by the runner
            from ``model.args.pretrained_path`` (classifier weights ``fc.*``/``head.*``/
            ``classifier.*`` are ignored; timm's and torchvision's ResNet-50 use the same names);
            ``None`` starts from random weights.
        feature_dim: features per frame. The paper's visual network gives 640 (§III-D: "the
            visual network 640 features", concatenated with the speech network's 1280 into
            1920) without saying how they are obtained from ResNet-50's 2048-d average-pooled
            output; here a linear layer ``2048 -> 640`` does it (``None``: the 2048-d pool
            output, as the authors' released code).
        augment: augment in ``train()`` mode (resize ×110/96, random crop back, brightness and
            saturation jitter).
        brightness: brightness jitter factor range ``[1-b, 1+b]``.
        saturation: saturation jitter factor range ``[1-s, 1+s]``.
        chunk_size: frames per backbone call (bounds memory on whole recordings).
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        backbone_weights: Mapping[str, Tensor] | None = None,
        augment: bool = True,
        brightness: float = 0.25,
        saturation: float = 0.25,
        chunk_size: int = 256,
        feature_dim: int | None = 640,
    ) -> None:
        super().__init__()
        import timm

        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0)
        if backbone_weights is not None:
            state = {k: v for k, v in backbone_weights.items() if not k.startswith(("fc.", "head.", "classifier."))}
            missing, unexpected = self.backbone.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ValueError(
                    f"backbone weights do not fit {backbone}: missing {missing[:5]}, unexpected {unexpected[:5]}"
                )
        self.proj = None if feature_dim is None else nn.Linear(self.backbone.num_features, int(feature_dim))
        self.augment = augment
        self.brightness, self.saturation = brightness, saturation
        self.chunk_size = int(chunk_size)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def output_dim(self) -> int:
        """Features per frame (640 as in the paper; 2048 for ResNet-50 without projection)."""
        return int(self.proj.out_features if self.proj is not None else self.backbone.num_features)

    def augmentation(self, height: int, width: int) -> Any:
        """The §V augmentation of ``height × width`` faces: resize by 110/96 (96 → 110), random
        crop back to the input size, random brightness and saturation (torchvision v2)."""
        from torchvision.transforms import v2

        big = (int(round(height * 110 / 96)), int(round(width * 110 / 96)))
        return v2.Compose(
            [
                v2.Resize(big, antialias=True),
                v2.RandomCrop((height, width)),
                v2.ColorJitter(brightness=self.brightness, saturation=self.saturation),
            ]
        )

    def _augment(self, images: Tensor) -> Tensor:
        """One random resize-crop and colour jitter for a sequence of ``(T, 3, H, W)`` images."""
        return self.augmentation(*images.shape[-2:])(images)

    def forward(self, video: Tensor, mask: Tensor) -> Tensor:
        """``(B, T, H, W, 3)`` uint8 frames → ``(B, T, output_dim)``; zero at padded frames."""
        if video.dim() != 5 or video.shape[-1] != 3:
            raise ValueError(f"VisualNet expects video of shape (B, T, H, W, 3), got {tuple(video.shape)}")
        b, t = video.shape[:2]
        images = video.permute(0, 1, 4, 2, 3)  # (B, T, 3, H, W)
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        else:
            images = images.float()
        if self.training and self.augment:
            images = torch.stack([self._augment(seq) for seq in images])
        flat = images[mask]  # valid frames only (N, 3, H, W)
        flat = (flat - self.mean) / self.std
        feats = [self.backbone(chunk) for chunk in torch.split(flat, self.chunk_size)]
        if self.proj is not None:
            feats = [self.proj(f) for f in feats]
        out = torch.cat(feats) if feats else flat.new_zeros(0, self.output_dim)
        result = out.new_zeros(b, t, out.shape[-1])
        result[mask] = out
        return result
