"""Random helpers shared by the synthetic corpus writers (deterministic by seed)."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["component_rng", "smooth"]


def component_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent generator per (seed, component), so that one part of a corpus (a recording,
    a feature set) does not shift the random numbers of the others."""
    entropy = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(entropy)


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average along axis 0 (edge-padded), applied twice → triangular low-pass."""
    if width <= 1:
        return x
    for _ in range(2):
        pad_l, pad_r = width // 2, width - 1 - width // 2
        padded = np.concatenate([np.repeat(x[:1], pad_l, 0), x, np.repeat(x[-1:], pad_r, 0)])
        csum = np.cumsum(padded, axis=0, dtype=np.float64)
        csum = np.concatenate([np.zeros((1,) + x.shape[1:]), csum])
        x = (csum[width:] - csum[:-width]) / width
    return x
