"""Reusable building blocks shared by the paper modules of the zoo."""

from zoo.layers.attention import SelfAttentionBlock
from zoo.layers.recurrent import MaskedBiLSTM, lengths_from_mask

__all__ = ["SelfAttentionBlock", "MaskedBiLSTM", "lengths_from_mask"]
