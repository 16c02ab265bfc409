"""Segment-level items and batches (CMU-MOSEI): one label vector per variable-length segment.

Segments are served whole (no windows, no delay); :func:`collate_segments` pads them to the
longest segment of the batch and yields ``{"features": {name: (B, L, D)}, "targets": (B, K),
"mask": (B, L), "ids", "has_targets": (B,), "padding": (B,)}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from zoo.data.types import Recording

__all__ = ["SegmentDataset", "collate_segments"]


class SegmentDataset(Dataset):
    """Whole segments as dataset items.

    Args:
        segments: segment-level recordings (targets ``(K,)`` or ``None``).
        num_targets: K, used for segments without labels.
    """

    def __init__(self, segments: Sequence[Recording], num_targets: int) -> None:
        self.segments = list(segments)
        self.num_targets = num_targets

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, i: int) -> dict[str, Any]:
        seg = self.segments[i]
        return {
            "features": {n: np.asarray(x) for n, x in seg.features.items()},
            "targets": None if seg.targets is None else np.asarray(seg.targets, np.float32),
            "id": seg.id,
            "has_targets": seg.targets is not None,
        }


def collate_segments(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad segments to the longest one (steps right-padded with zeros, ``mask`` True on the
    left-aligned real steps) and stack them into the batch dict of the module docstring."""
    lengths = [len(next(iter(item["features"].values()))) for item in items]
    batch, max_len = len(items), max(lengths)
    first = items[0]
    features = {n: torch.zeros(batch, max_len, x.shape[1]) for n, x in first["features"].items()}
    mask = torch.zeros(batch, max_len, dtype=torch.bool)
    k = next((len(i["targets"]) for i in items if i["targets"] is not None), 0)
    targets = torch.zeros(batch, k)
    for b, (item, length) in enumerate(zip(items, lengths)):
        for name, x in item["features"].items():
            features[name][b, :length] = torch.from_numpy(np.ascontiguousarray(x))
        mask[b, :length] = True
        if item["targets"] is not None:
            targets[b] = torch.from_numpy(item["targets"])
    return {
        "features": features,
        "targets": targets,
        "mask": mask,
        "ids": [item["id"] for item in items],
        "has_targets": torch.tensor([item["has_targets"] for item in items], dtype=torch.bool),
        "padding": torch.tensor([bool(item.get("padding", False)) for item in items], dtype=torch.bool),
    }
