"""Multi-head self-attention block (Vaswani et al. 2017, post-norm) with key padding mask."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SelfAttentionBlock"]


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention sublayer with residual connection and post-LayerNorm.

    ``y = LayerNorm(x + Dropout(MHA(x, x, x)))``, where the projections and the scaled dot-product
    attention are :class:`torch.nn.MultiheadAttention`. With ``feed_forward=True`` a position-wise
    feed-forward sublayer follows, as in a full transformer encoder layer:
    ``z = LayerNorm(y + Dropout(W2 ReLU(W1 y)))``.

    ``feed_forward`` defaults to ``False``: the self-attention layers of Sun et al. (2020), as
    released with the paper (https://github.com/youcaiSUN/MuSe-Wild_2020, ``model.py``), have the
    attention sublayer only, without a feed-forward sublayer.

    Args:
        dim: model width (input and output features per frame).
        num_heads: attention heads; must divide ``dim``.
        dropout: dropout on the attention weights and on each sublayer output.
        feed_forward: add the position-wise feed-forward sublayer.
        ff_dim: hidden width of the feed-forward sublayer (default ``4 * dim``).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float = 0.0,
        feed_forward: bool = False,
        ff_dim: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("num_heads", num_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SelfAttentionBlock: {name} must be a positive int, got {value!r}")
        if dim % num_heads != 0:
            raise ValueError(f"SelfAttentionBlock: dim ({dim}) must be divisible by num_heads ({num_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SelfAttentionBlock: dropout must be in [0, 1), got {dropout!r}")
        self.dim = dim
        self.num_heads = num_heads
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.ff: nn.Sequential | None = None
        if feed_forward:
            hidden = ff_dim if ff_dim is not None else 4 * dim
            if hidden < 1:
                raise ValueError(f"SelfAttentionBlock: ff_dim must be positive, got {ff_dim!r}")
            self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
            self.ff_dropout = nn.Dropout(dropout)
            self.ff_norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """Attend over the frames of each sequence.

        Args:
            x: ``(B, T, dim)``.
            key_padding_mask: optional ``(B, T)`` bool tensor in PyTorch's convention, ``True`` =
                padded frame that no query may attend to (pass ``~mask`` for a valid-frame mask).

        Returns:
            ``(B, T, dim)``. Rows at padded query positions are computed too (from valid keys
            only); callers mask them out.
        """
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"SelfAttentionBlock expects input of shape (B, T, {self.dim}), got {tuple(x.shape)}")
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool:
                raise TypeError(f"key_padding_mask must be bool, got {key_padding_mask.dtype}")
            if tuple(key_padding_mask.shape) != tuple(x.shape[:2]):
                raise ValueError(
                    f"key_padding_mask shape {tuple(key_padding_mask.shape)} does not match "
                    f"input (B, T) = {tuple(x.shape[:2])}"
                )
            if bool(key_padding_mask.all(dim=1).any()):
                raise ValueError("key_padding_mask masks every frame of some sequence")
        attended, _ = self.attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)
        x = self.norm(x + self.dropout(attended))
        if self.ff is not None:
            x = self.ff_norm(x + self.ff_dropout(self.ff(x)))
        return x
