"""Alignment of frame-level features to the label timeline.

Convention (used by every extractor): label frame ``t`` owns the interval
``[t - hop/2, t + hop/2)``. A feature frame with time ``s`` (the centre of its analysis window)
belongs to the label frame whose interval contains ``s``; the label frame's value is the mean of
its feature frames. A label frame without any feature frame (the feature rate is lower than the
label rate, e.g. VGGish patches every 0.96 s at a 0.25 s label step) takes the feature frame
whose time is nearest to ``t``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["assign_frames", "pool_to_labels"]


def assign_frames(frame_times: np.ndarray, label_times: np.ndarray, hop: float) -> np.ndarray:
    """Index of the label frame owning each feature frame, ``-1`` outside every interval."""
    frame_times = np.asarray(frame_times, dtype=np.float64)
    label_times = np.asarray(label_times, dtype=np.float64)
    idx = np.searchsorted(label_times - hop / 2.0, frame_times + 1e-9, side="right") - 1
    ok = (idx >= 0) & (idx < len(label_times))
    ok[ok] &= frame_times[ok] < label_times[idx[ok]] + hop / 2.0 - 1e-9
    return np.where(ok, idx, -1)


def pool_to_labels(
    frame_times: np.ndarray,
    values: np.ndarray,
    label_times: np.ndarray,
    hop: float,
    weights: np.ndarray | None = None,
    fill_nearest: bool = True,
) -> np.ndarray:
    """Mean of the feature frames in each label interval.

    Args:
        frame_times: ``(N,)`` feature frame times (seconds).
        values: ``(N, D)`` feature frames.
        label_times: ``(T,)`` label timestamps (seconds, increasing).
        hop: label step (seconds).
        weights: optional ``(N,)`` non-negative frame weights (0 = ignore the frame).
        fill_nearest: label frames without feature frames take the nearest frame (with a
            positive weight); otherwise they are zeros.

    Returns:
        ``(T, D)`` float32.
    """
    values = np.asarray(values, dtype=np.float64)
    label_times = np.asarray(label_times, dtype=np.float64)
    out = np.zeros((len(label_times), values.shape[1]), dtype=np.float64)
    if len(values) == 0:
        return out.astype(np.float32)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    owner = assign_frames(frame_times, label_times, hop)
    use = (owner >= 0) & (w > 0)
    total = np.zeros(len(label_times))
    np.add.at(out, owner[use], values[use] * w[use, None])
    np.add.at(total, owner[use], w[use])
    filled = total > 0
    out[filled] /= total[filled, None]
    if fill_nearest and not filled.all():
        valid = np.flatnonzero(w > 0)
        if len(valid):
            ft = np.asarray(frame_times, dtype=np.float64)[valid]
            order = np.argsort(ft)
            ft, valid = ft[order], valid[order]
            empty = np.flatnonzero(~filled)
            pos = np.clip(np.searchsorted(ft, label_times[empty]), 1, max(len(ft) - 1, 1))
            left = np.clip(pos - 1, 0, len(ft) - 1)
            right = np.clip(pos, 0, len(ft) - 1)
            pick = np.where(
                np.abs(ft[left] - label_times[empty]) <= np.abs(ft[right] - label_times[empty]),
                left,
                right,
            )
            out[empty] = values[valid[pick]]
    return out.astype(np.float32)
