"""LSTM with peephole connections exactly as written in Chen et al. (2017), eq. (1).

For input ``x_t``, previous output ``h_{t-1}`` and previous cell ``c_{t-1}``::

    i_t = σ(W_ix x_t + W_ih h_{t-1}                 + b_i)     input gate: NO peephole
    f_t = σ(W_fx x_t + W_fh h_{t-1} + w_fc ⊙ c_{t-1} + b_f)     forget gate
    o_t = σ(W_ox x_t + W_oh h_{t-1} + w_oc ⊙ c_{t-1} + b_o)     output gate (output_peephole="previous")
    g_t = tanh(W_gx x_t + W_gh h_{t-1} + b_g)                    cell input
    c_t = i_t ⊙ g_t + f_t ⊙ c_{t-1}
    h_t = o_t ⊙ tanh(c_t)

Only the forget and the output gate look at the cell (eq. 1 has no ``W_ic`` term). The peephole
weights ``w_fc, w_oc`` are vectors (diagonal matrices: each gate unit sees only its own cell), as
in Sak et al. (2014), the paper's reference [30] for the peephole variant. Two differences from
[30] are deliberate, because eq. (1) is the specification: [30] also gives the input gate a
peephole, and its output gate looks at the freshly updated cell ``c_t``;
``output_peephole="current"`` selects that output-gate variant (as in Gers, Schraudolph &
Schmidhuber, JMLR 2002), while the input gate never has a peephole here.

The layer is a plain Python loop over time (the input projections of all steps are computed
in one matrix product first); padded steps (``mask`` False) leave the state unchanged and
output zeros, so left-aligned padded batches give the same result per sequence as unpadded
ones.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["GateValues", "PeepholeLSTMCell", "PeepholeLSTM"]


class GateValues(NamedTuple):
    """The quantities of eq. (1) at one step, each ``(B, H)``."""

    i: Tensor
    f: Tensor
    o: Tensor
    g: Tensor
    c: Tensor
    h: Tensor


class PeepholeLSTMCell(nn.Module):
    """One step of the peephole LSTM (see the module docstring).

    Args:
        input_size: width of ``x_t``.
        hidden_size: number of cells.
        output_peephole: ``"previous"`` (o_t sees c_{t-1}, Chen et al. 2017) or ``"current"``
            (o_t sees c_t, Gers et al. 2002).

    Parameters (gate order i, f, g, o along the first axis, like ``torch.nn.LSTM``):
        weight_ih ``(4H, D)`` = ``[W_ix; W_fx; W_gx; W_ox]``, weight_hh ``(4H, H)`` =
        ``[W_ih; W_fh; W_gh; W_oh]``, bias ``(4H,)`` = ``[b_i; b_f; b_g; b_o]``, peephole
        ``(2, H)`` rows ``w_fc, w_oc`` (the diagonals of eq. (1)'s ``W_fc`` and ``W_oc``).
    """

    def __init__(self, input_size: int, hidden_size: int, output_peephole: str = "previous") -> None:
        super().__init__()
        if output_peephole not in ("previous", "current"):
            raise ValueError(f"output_peephole must be 'previous' or 'current', got {output_peephole!r}")
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.output_peephole = output_peephole
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        self.peephole = nn.Parameter(torch.empty(2, hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform ``±1/√H`` like ``torch.nn.LSTM``; forget-gate bias 1."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias, self.peephole):
            nn.init.uniform_(p, -bound, bound)
        with torch.no_grad():
            self.bias[self.hidden_size : 2 * self.hidden_size].fill_(1.0)

    def gates(self, gates_x: Tensor, h: Tensor, c: Tensor) -> GateValues:
        """Every quantity of eq. (1) for one step, given ``W_*x x_t + b_*`` ``(B, 4H)`` and the state."""
        H = self.hidden_size
        a = gates_x + h @ self.weight_hh.t()
        w_fc, w_oc = self.peephole
        i = torch.sigmoid(a[:, :H])
        f = torch.sigmoid(a[:, H : 2 * H] + w_fc * c)
        g = torch.tanh(a[:, 2 * H : 3 * H])
        c_new = i * g + f * c
        o = torch.sigmoid(a[:, 3 * H :] + w_oc * (c if self.output_peephole == "previous" else c_new))
        return GateValues(i, f, o, g, c_new, o * torch.tanh(c_new))

    def step(self, gates_x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step given the input projection ``W x_t + b`` ``(B, 4H)`` and the state → ``(h_t, c_t)``."""
        values = self.gates(gates_x, h, c)
        return values.h, values.c

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """``(B, D)`` input and ``(h, c)`` → new ``(h, c)``."""
        return self.step(x @ self.weight_ih.t() + self.bias, *state)


class PeepholeLSTM(nn.Module):
    """Single-layer, unidirectional peephole LSTM over ``(B, T, D)`` with a ``(B, T)`` mask.

    Args:
        input_size: feature width D.
        hidden_size: cells H.
        output_peephole: see :class:`PeepholeLSTMCell`.
    """

    def __init__(self, input_size: int, hidden_size: int, output_peephole: str = "previous") -> None:
        super().__init__()
        self.cell = PeepholeLSTMCell(input_size, hidden_size, output_peephole)
        self.hidden_size = hidden_size

    def forward(
        self, x: Tensor, mask: Tensor | None = None, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run over a batch.

        Args:
            x: ``(B, T, D)``.
            mask: ``(B, T)`` bool, True = valid step; None = all valid.
            state: initial ``(h, c)``, each ``(B, H)``; default zeros.

        Returns:
            ``(outputs (B, T, H) zero at padded steps, (h_T, c_T) the state after each
            sequence's last valid step)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.cell.input_size:
            raise ValueError(f"PeepholeLSTM expects (B, T, {self.cell.input_size}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        if mask is not None and tuple(mask.shape) != (B, T):
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match (B, T) = {(B, T)}")
        if state is None:
            h = x.new_zeros(B, self.hidden_size)
            c = x.new_zeros(B, self.hidden_size)
        else:
            h, c = state
        gates_x = x @ self.cell.weight_ih.t() + self.cell.bias
        outputs = []
        for t in range(T):
            h_new, c_new = self.cell.step(gates_x[:, t], h, c)
            if mask is not None:
                m = mask[:, t, None]
                h = torch.where(m, h_new, h)
                c = torch.where(m, c_new, c)
                outputs.append(torch.where(m, h_new, torch.zeros_like(h_new)))
            else:
                h, c = h_new, c_new
                outputs.append(h_new)
        return torch.stack(outputs, dim=1), (h, c)
