"""Evaluation in windows: run a sequence model over fixed-length windows of each recording and
average the overlapping predictions per frame.

A recurrent model trained on windows of ``win_len`` frames (each starting from a zero state) sees
a whole recording of thousands of frames at evaluation unless told otherwise. Tzirakis et al.
(2017) show that their scores depend on the sequence length (Table II), so their evaluation in
windows of the training length is an option of the model (``eval_win_len``, ``eval_hop_len``):
windows start every ``hop_len`` frames of each recording's valid frames, the last one aligned to
the recording's end (a recording of at most ``win_len`` frames is one shorter window); each frame's
prediction is the mean over the windows that cover it (one window when ``hop_len == win_len``,
except at the end-aligned last window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

__all__ = ["eval_window_spans", "windowed_forward"]


def eval_window_spans(length: int, win_len: int, hop_len: int) -> list[tuple[int, int]]:
    """``[start, end)`` of the windows covering ``length`` frames (see the module docstring).

    Raises:
        ValueError: ``win_len`` or ``hop_len`` is not positive, or ``hop_len > win_len`` (frames
            between windows would get no prediction).
    """
    if win_len <= 0 or hop_len <= 0 or hop_len > win_len:
        raise ValueError(f"evaluation windows need 0 < hop_len <= win_len, got win_len={win_len}, hop_len={hop_len}")
    if length <= win_len:
        return [(0, length)] if length > 0 else []
    starts = list(range(0, length - win_len + 1, hop_len))
    if starts[-1] + win_len < length:
        starts.append(length - win_len)
    return [(s, s + win_len) for s in starts]


def windowed_forward(
    forward: Callable[[Mapping[str, Tensor], Tensor], Tensor],
    features: Mapping[str, Tensor],
    mask: Tensor,
    win_len: int,
    hop_len: int,
    max_windows: int = 32,
) -> Tensor:
    """``forward`` applied to windows of every recording of a batch, overlaps averaged.

    Args:
        forward: the model on a batch: ``({name: (N, W, ...)}, (N, W) mask) → (N, W, K)``.
        features: ``{name: (B, T, ...)}``, valid frames first in each row (left-aligned padding).
        mask: ``(B, T)`` bool, True on valid frames.
        win_len: window length in frames.
        hop_len: frames between window starts.
        max_windows: windows per call of ``forward`` (bounds the memory of long recordings).

    Returns:
        ``(B, T, K)``: per frame the mean of the window predictions covering it; 0 at padded frames.
    """
    batch, frames = mask.shape
    lengths = mask.sum(dim=1).tolist()
    spans = [(b, s, e) for b in range(batch) for s, e in eval_window_spans(int(lengths[b]), win_len, hop_len)]
    out: Tensor | None = None
    count = mask.new_zeros(batch, frames, 1, dtype=torch.float32)
    for lo in range(0, len(spans), max_windows):
        chunk = spans[lo : lo + max_windows]
        width = max(e - s for _, s, e in chunk)
        offsets = torch.arange(width, device=mask.device)
        rows = torch.tensor([b for b, _, _ in chunk], device=mask.device)[:, None]
        starts = torch.tensor([s for _, s, _ in chunk], device=mask.device)[:, None]
        valid = offsets[None, :] < torch.tensor([e - s for _, s, e in chunk], device=mask.device)[:, None]
        index = (starts + offsets[None, :]).clamp(max=frames - 1)
        windows = {}
        for name, x in features.items():
            picked = x[rows, index]  # (N, W, ...)
            keep = valid.reshape(*valid.shape, *([1] * (picked.dim() - 2)))
            windows[name] = torch.where(keep, picked, torch.zeros((), dtype=picked.dtype, device=picked.device))
        preds = forward(windows, valid)
        if out is None:
            out = preds.new_zeros(batch, frames, preds.shape[-1])
        flat_rows, flat_frames = rows.expand_as(index)[valid], index[valid]
        out.index_put_((flat_rows, flat_frames), preds[valid], accumulate=True)
        count.index_put_((flat_rows, flat_frames), torch.ones_like(count[flat_rows, flat_frames]), accumulate=True)
    if out is None:  # no valid frame anywhere
        return forward(features, mask)
    return out / count.clamp_min(1.0).to(out.dtype)
