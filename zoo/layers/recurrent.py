"""Recurrent layers that respect a frame mask.

Padded frames are removed with :func:`torch.nn.utils.rnn.pack_padded_sequence` before the LSTM
runs (sequences without padding skip the packing), so they never enter the recurrence of either direction: the backward direction of a short
sequence starts at its own last valid frame, not at the end of the padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["lengths_from_mask", "MaskedBiLSTM"]


def lengths_from_mask(mask: Tensor) -> Tensor:
    """Sequence lengths of a left-aligned frame mask, after checking the mask.

    Args:
        mask: ``(B, T)`` bool tensor, ``True`` for a valid frame. Each row must be left-aligned:
            its valid frames first, then only padding.

    Returns:
        ``(B,)`` int64 tensor of valid-frame counts, on the mask's device.

    Raises:
        TypeError: the mask is not a bool tensor.
        ValueError: the mask is not 2-D, a row is not left-aligned, or a row has no valid frame.
    """
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a torch.bool tensor (True = valid frame), got {got}")
    if mask.dim() != 2:
        raise ValueError(f"mask must have shape (B, T), got {tuple(mask.shape)}")
    # A valid frame right after a padded one breaks left alignment.
    gaps = mask[:, 1:] & ~mask[:, :-1]
    if bool(gaps.any()):
        rows = torch.nonzero(gaps.any(dim=1)).flatten().tolist()
        raise ValueError(
            "mask must be left-aligned (valid frames first, then padding); "
            f"rows {rows[:10]} have a valid frame after a padded one"
        )
    lengths = mask.sum(dim=1)
    if bool((lengths == 0).any()):
        rows = torch.nonzero(lengths == 0).flatten().tolist()
        raise ValueError(f"every sequence needs at least one valid frame; rows {rows[:10]} have none")
    return lengths


class MaskedBiLSTM(nn.Module):
    """A (bi)directional LSTM over padded, batch-first sequences, packed by mask lengths.

    Outputs at padded frames are exactly zero.

    Args:
        input_dim: features per input frame.
        hidden: hidden units per direction.
        num_layers: stacked LSTM layers (>= 1).
        dropout: dropout between stacked layers (ignored, as in ``nn.LSTM``, with one layer).
        bidirectional: run a backward direction too; the output width doubles.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        sizes = (("input_dim", input_dim), ("hidden", hidden), ("num_layers", num_layers))
        for name, value in sizes:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MaskedBiLSTM: {name} must be a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MaskedBiLSTM: dropout must be in [0, 1), got {dropout!r}")
        self.input_dim = input_dim
        self.hidden = hidden
        self.num_directions = 2 if bidirectional else 1
        self.lstm = nn.LSTM(
            input_size=input_dim,
            hidden_size=hidden,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
        )

    @property
    def output_dim(self) -> int:
        """Width of each output frame: ``hidden * num_directions``."""
        return self.hidden * self.num_directions

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Run the LSTM on the valid frames of each sequence.

        Args:
            x: ``(B, T, input_dim)`` float tensor.
            mask: ``(B, T)`` bool tensor, ``True`` = valid frame, left-aligned.

        Returns:
            ``(B, T, output_dim)``; zero at padded frames.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"MaskedBiLSTM expects input of shape (B, T, {self.input_dim}), got {tuple(x.shape)}")
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match input (B, T) = {tuple(x.shape[:2])}")
        lengths = lengths_from_mask(mask)
        # Sequences without padding need no packing: they go through the LSTM's fused kernel in
        # one call, and only the shorter ones are packed. Same outputs; on CPU the backward pass
        # of a packed batch is far slower (per-step slices of the packed data), and most training
        # windows are full length (benchmarks/vs_authors.py, docs/performance.md).
        full = lengths == x.shape[1]
        if bool(full.all()):
            return self.lstm(x)[0]
        if not bool(full.any()):
            return self._packed(x, lengths)
        order = torch.cat([torch.nonzero(full).flatten(), torch.nonzero(~full).flatten()])
        short = order[int(full.sum()) :]
        out = torch.cat([self.lstm(x[order[: int(full.sum())]])[0], self._packed(x[short], lengths[short])])
        return out[torch.argsort(order)]

    def _packed(self, x: Tensor, lengths: Tensor) -> Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out
