"""Shared fixtures for the CCC tests: an independent NumPy reference and padding helpers.

The reference works on lists of variable-length sequences holding only the valid frames, so it
shares no masking or moment code with :mod:`zoo.ccc`. ``pad`` turns such lists into the padded
``(B, T, K)`` tensors + ``(B, T)`` mask the code under test takes, filling padding with garbage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch


class NumpyCCC:
    """Textbook CCC in NumPy (float64), used as ground truth."""

    @staticmethod
    def ccc(x: np.ndarray, y: np.ndarray, ddof: int = 0) -> float:
        """CCC of two 1-D arrays; NaN for < 2 frames or a zero denominator."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.size < 2:
            return float("nan")
        cov = np.cov(x, y, ddof=ddof)[0, 1]
        denominator = np.var(x, ddof=ddof) + np.var(y, ddof=ddof) + (np.mean(x) - np.mean(y)) ** 2
        return float("nan") if denominator == 0 else float(2 * cov / denominator)

    @classmethod
    def pooled(cls, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], ddof: int = 0) -> np.ndarray:
        """Per-target CCC over all frames of all sequences; each sequence is ``(T_b, K)``."""
        x, y = np.concatenate(xs), np.concatenate(ys)
        return np.array([cls.ccc(x[:, k], y[:, k], ddof) for k in range(x.shape[1])])

    @classmethod
    def per_sequence(cls, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], ddof: int = 0) -> np.ndarray:
        """Per-target mean over sequences of the per-sequence CCC (NaN sequences skipped)."""
        table = np.array([cls.pooled([x], [y], ddof) for x, y in zip(xs, ys)])
        return np.array([np.nan if np.isnan(col).all() else np.nanmean(col) for col in table.T])

    @classmethod
    def loss(cls, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], weights: Sequence[float]) -> float:
        """Pooled ``Σ_k w_k (1 - CCC_k)``."""
        return float(np.sum(np.asarray(weights) * (1 - cls.pooled(xs, ys))))

    @staticmethod
    def random_sequences(
        rng: np.random.Generator,
        lengths: Sequence[int],
        num_outputs: int = 1,
        noise: float = 0.5,
        offset: float = 0.0,
        scale: float = 1.0,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Correlated ``(T_b, K)`` prediction/target sequences with the given lengths."""
        xs, ys = [], []
        for length in lengths:
            y = offset + scale * rng.standard_normal((length, num_outputs))
            xs.append(0.8 * y + 0.3 * scale + noise * scale * rng.standard_normal((length, num_outputs)))
            ys.append(y)
        return xs, ys

    @staticmethod
    def pad(
        seqs: Sequence[np.ndarray], garbage: float = float("nan"), dtype: torch.dtype = torch.float64
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad ``(T_b, K)`` sequences to ``(B, T_max, K)`` filled with ``garbage``; mask ``(B, T_max)``."""
        max_len = max(len(s) for s in seqs)
        num_outputs = seqs[0].shape[1]
        out = np.full((len(seqs), max_len, num_outputs), garbage, dtype=np.float64)
        mask = np.zeros((len(seqs), max_len), dtype=bool)
        for b, seq in enumerate(seqs):
            out[b, : len(seq)] = seq
            mask[b, : len(seq)] = True
        return torch.tensor(out, dtype=dtype), torch.from_numpy(mask)


@pytest.fixture
def ref() -> type[NumpyCCC]:
    """The NumPy reference implementation and data helpers."""
    return NumpyCCC


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator (fresh per test)."""
    return np.random.default_rng(20240607)
