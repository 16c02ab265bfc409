"""Z-normalisation with train-partition statistics: the one implementation of the arithmetic.

Two callers share :func:`zscore`:

* **the training/evaluation step** — the loaders yield raw (delayed, windowed, padded) float32
  features and :class:`FeatureNormalizer`, a buffer holder owned by
  :class:`~zoo.training.task.EmotionTask` and :class:`~zoo.hub.pretrained.PretrainedModel`, normalises the
  batch tensor on the model's device before the network sees it (in float32, outside autocast),
  then zeroes the padded frames again, so the network sees exactly the numbers the loaders
  produced when they normalised on the host: a padded frame is ``0`` in normalised space.
* **host paths** that need normalised NumPy arrays (estimators, turn-level features, whole
  prepared recordings): :meth:`zoo.data._sequence.FeatureStats.normalise` converts the array to a
  tensor without copying and calls :func:`zscore`.

**Zero padding in normalised space** (``data.args.zero_padding: normalised``; Chen et al. 2017 pad
the purified/doubled interlocutor frames, the frames outside text turns and the frames without a
face with zeros): a set whose statistics carry ``padding_blocks = k`` splits each frame's last
axis into ``k`` equal blocks (``k = 2`` for a *doubled* set: target half, interlocutor half), and
a block whose raw values are all exactly 0 is padding — left out of the statistics
(:func:`~zoo.data._sequence.compute_feature_stats`) and 0 after normalisation, instead of the
constant ``-mean / std`` that z-scoring would make of it. See :func:`padding_mask`.

Measured in ``benchmarks/data_wait.py``: normalising per window on the host made the data wait
grow with the feature width (29.7 % of a step at 4184-d); on the device it is a few percent.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

__all__ = ["zscore", "zscore_numpy", "padding_mask", "FeatureStats", "FeatureNormalizer"]


class _Stats(Protocol):
    """What :class:`FeatureNormalizer` reads of a :class:`~zoo.data._sequence.FeatureStats`."""

    mean: np.ndarray
    std: np.ndarray


def zscore(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """``(x - mean) / std`` per last-axis dimension, computed in float32.

    The statistics are applied in float32 (the features' own precision): ``x`` is cast to
    float32, ``mean`` subtracted and the result divided by ``std`` — one rounding per operation,
    the same numbers on the CPU and on a GPU, and the same as NumPy's float32 ``(x - m) / s``.

    Args:
        x: ``(..., D)`` features.
        mean: ``(D,)`` means (cast to float32 on ``x``'s device).
        std: ``(D,)`` standard deviations, all positive.
        inplace: overwrite ``x`` when it is already float32 (a batch the caller owns);
            otherwise a new tensor is returned and ``x`` is left as it was.

    Returns:
        The normalised float32 tensor (``x`` itself when normalised in place).
    """
    mean = mean.to(device=x.device, dtype=torch.float32)
    std = std.to(device=x.device, dtype=torch.float32)
    if inplace and x.dtype == torch.float32:
        out = x.sub_(mean)
    else:
        out = torch.sub(x.to(torch.float32), mean)
    return out.div_(std)


def padding_mask(x: torch.Tensor, blocks: int) -> torch.Tensor | None:
    """Where ``x`` holds zero padding: elements of a block whose raw values are all exactly 0.

    Args:
        x: ``(..., D)`` raw (not yet normalised) features.
        blocks: the number of equal blocks of the last axis that are padded independently
            (1: whole frames; 2: the two halves of a *doubled* set); 0: no padding rule.

    Returns:
        A bool tensor shaped like ``x`` (True = padding), or ``None`` when ``blocks`` is 0.

    Raises:
        ValueError: ``D`` is not a multiple of ``blocks``.
    """
    if not blocks:
        return None
    width = x.shape[-1]
    if width % blocks:
        raise ValueError(f"{width} feature dimensions cannot be split into {blocks} equal padding blocks")
    split = x.reshape(*x.shape[:-1], blocks, width // blocks)
    return (split == 0).all(dim=-1, keepdim=True).expand(split.shape).reshape(x.shape)


def _host_tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 tensor viewing ``x`` (copied only to convert the dtype); ``x`` is never written.

    A read-only array (a memory-mapped recording) is viewed as well: :func:`zscore` never writes
    to its input unless asked to, so PyTorch's warning about non-writable arrays does not apply.
    """
    array = np.asarray(x, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def zscore_numpy(x: np.ndarray, mean: np.ndarray, std: np.ndarray, padding_blocks: int = 0) -> np.ndarray:
    """:func:`zscore` of a NumPy array, as a new float32 array (``x`` is never modified).

    Args:
        x: ``(..., D)`` features, any real dtype (memory-mapped arrays are read in place).
        mean: ``(D,)`` means.
        std: ``(D,)`` standard deviations.
        padding_blocks: see :func:`padding_mask`; padded elements come out as 0.
    """
    tensor = _host_tensor(x)
    pad = padding_mask(tensor, padding_blocks)
    out = zscore(tensor, torch.from_numpy(np.asarray(mean, np.float32)), torch.from_numpy(np.asarray(std, np.float32)))
    if pad is not None:
        out.masked_fill_(pad, 0.0)
    return out.numpy()


@dataclass
class FeatureStats:
    """Mean and standard deviation per dimension of one feature set (train partition).

    ``padding_blocks`` (0: none) says how the set's zero padding is found (:func:`padding_mask`):
    such elements were left out of ``mean``/``std`` and are 0 after normalisation.
    """

    mean: np.ndarray
    std: np.ndarray
    padding_blocks: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, safe for ``torch.load(weights_only=True)`` checkpoints and JSON
        (``padding_blocks`` only when set, so statistics without padding keep their old form)."""
        out: dict[str, Any] = {"mean": self.mean.astype(float).tolist(), "std": self.std.astype(float).tolist()}
        if self.padding_blocks:
            out["padding_blocks"] = int(self.padding_blocks)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureStats:
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["mean"], np.float64),
            np.asarray(data["std"], np.float64),
            int(data.get("padding_blocks", 0) or 0),
        )

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` in float32, as a new array (``x`` is never modified).

        The statistics are kept in float64 (they are accumulated and stored that way) but applied
        in float32, the features' own precision, by :func:`~zoo.data._normalize.zscore` — the
        arithmetic the training step applies on the device, so host and device paths give the
        same numbers. Padded elements (``padding_blocks``) come out as 0.
        """
        return zscore_numpy(x, self.mean, self.std, self.padding_blocks)


class FeatureNormalizer(nn.Module):
    """Z-normalises the feature sets that have train statistics; every other set passes untouched.

    The statistics are non-persistent float32 buffers: they follow the module to its device but
    are not part of a ``state_dict`` — a checkpoint keeps them where it always did, in the
    ``data_spec`` hyper-parameter, and a reloaded model rebuilds this module from there, so it
    normalises with the very same numbers (and checkpoints written before this module existed
    load unchanged).

    Args:
        stats: feature set name → statistics with ``mean`` and ``std`` arrays of shape ``(D,)``;
            ``None`` or empty: nothing is normalised (``normalize=False``, raw inputs only).
    """

    def __init__(self, stats: Mapping[str, _Stats] | None = None) -> None:
        super().__init__()
        #: the normalised feature sets, in the order of their buffers ``mean_<i>``/``std_<i>``
        #: (set names may hold dots, which buffer names may not)
        self.names: list[str] = list(stats or {})
        #: set name → padding blocks (:func:`padding_mask`), for the sets padded in normalised space
        self.padding_blocks: dict[str, int] = {
            n: int(getattr(s, "padding_blocks", 0) or 0)
            for n, s in (stats or {}).items()
            if getattr(s, "padding_blocks", 0)
        }
        for i, name in enumerate(self.names):
            mean = np.asarray(stats[name].mean, np.float64).reshape(-1)
            std = np.asarray(stats[name].std, np.float64).reshape(-1)
            if mean.shape != std.shape:
                raise ValueError(
                    f"normalisation statistics of feature set {name!r}: {mean.size} means but "
                    f"{std.size} standard deviations"
                )
            self.register_buffer(f"mean_{i}", torch.from_numpy(mean.astype(np.float32)), persistent=False)
            self.register_buffer(f"std_{i}", torch.from_numpy(std.astype(np.float32)), persistent=False)

    @classmethod
    def from_spec(cls, normalization: Mapping[str, Mapping[str, Sequence[float]]] | None) -> FeatureNormalizer:
        """From the ``normalization`` entry of a data spec (``{name: {"mean": [...], "std": [...]}}``)."""
        return cls({n: FeatureStats.from_dict(s) for n, s in (normalization or {}).items()})

    def statistics(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(mean, std)`` buffers of a feature set, or ``None`` when it is not normalised."""
        if name not in self.names:
            return None
        i = self.names.index(name)
        return getattr(self, f"mean_{i}"), getattr(self, f"std_{i}")

    def forward(
        self, features: Mapping[str, torch.Tensor], mask: torch.Tensor | None = None, *, inplace: bool = False
    ) -> dict[str, torch.Tensor]:
        """Normalised copies (or, with ``inplace``, the same tensors) of a batch's feature sets.

        Args:
            features: feature set name → ``(B, T, D)`` (or ``(T, D)``) tensor of raw values.
            mask: ``(B, T)`` (or ``(T,)``) True on real frames; padded frames are set to 0 after
                normalisation, as the loaders' zero padding of normalised features gave. ``None``:
                every frame is real. (Zero padding *inside* a set's frames — ``padding_blocks`` —
                is set to 0 as well.)
            inplace: overwrite float32 feature tensors the caller owns instead of allocating.

        Returns:
            feature set name → tensor; sets without statistics are the input tensors themselves.

        Raises:
            ValueError: a normalised set whose last axis differs from its statistics' width, or a
                mask whose shape is not the features' frame axes.
        """
        out: dict[str, torch.Tensor] = {}
        for name, x in features.items():
            stats = self.statistics(name)
            if stats is None:
                out[name] = x
                continue
            mean, std = stats
            self._check_shapes(name, x, mean, mask)
            pad = padding_mask(x, self.padding_blocks.get(name, 0))  # before an in-place zscore
            y = zscore(x, mean, std, inplace=inplace)
            if pad is not None:
                y.masked_fill_(pad, 0.0)
            if mask is not None:
                y.masked_fill_(~mask.to(y.device).unsqueeze(-1), 0.0)
            out[name] = y
        return out

    @staticmethod
    def _check_shapes(name: str, x: torch.Tensor, mean: torch.Tensor, mask: torch.Tensor | None) -> None:
        if x.ndim < 1 or x.shape[-1] != mean.shape[0]:
            width = x.shape[-1] if x.ndim else "no"
            raise ValueError(
                f"feature set {name!r} has {width} dimensions per frame, but its normalisation "
                f"statistics (train partition) have {mean.shape[0]}"
            )
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:-1]):
            raise ValueError(
                f"feature set {name!r}: mask of shape {tuple(mask.shape)} does not match the "
                f"frames {tuple(x.shape[:-1])} of its features {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:  # noqa: D102
        return f"normalised={self.names}"
