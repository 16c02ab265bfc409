"""Reused batch buffers: the loader's collation without a fresh allocation per batch.

A training batch of a wide feature set is large (32 windows × 200 frames × 4184 dims of float32
is 107 MB). A fresh ``torch.empty`` of that size is served by the C library straight from the
operating system and handed back when the batch is freed, so every batch first pays for
faulting its pages in: on this project's 2-core machines that was 60 of the 70 ms it took to
collate such a batch (``benchmarks/data_wait.py``). :class:`BatchBufferPool` keeps the last few
buffers and hands one out again only when nothing references it any more — neither the batch
dict that carried it, nor a view of it, nor a NumPy array over it — so a batch still held by
the caller (Lightning prefetches one batch ahead, a callback may keep one) is never overwritten.

The pool is for the process that trains: in a DataLoader worker a batch leaves through shared
memory and the worker cannot see when the main process is done with it, so workers allocate
afresh (:meth:`BatchBufferPool.empty` checks :func:`torch.utils.data.get_worker_info`).
"""

from __future__ import annotations

import sys

import torch
from torch.utils.data import get_worker_info

__all__ = ["BatchBufferPool"]


def _storage_users(tensor: torch.Tensor) -> int:
    """How many tensors (views included) share ``tensor``'s storage, ``tensor`` itself included."""
    storage = tensor.untyped_storage()  # this Python handle is one more user while it lives
    return int(torch._C._storage_Use_Count(storage._cdata)) - 1


class BatchBufferPool:
    """A few reusable CPU tensors, handed out again only when no one else holds them.

    Args:
        max_buffers: how many buffers are kept; when all are held, a new one replaces the oldest
            in the pool (the old one lives on for as long as its holder keeps it).
    """

    def __init__(self, max_buffers: int = 4) -> None:
        if max_buffers < 1:
            raise ValueError(f"BatchBufferPool: max_buffers must be at least 1, got {max_buffers}")
        self.max_buffers = max_buffers
        self._buffers: list[torch.Tensor] = []

    def __getstate__(self) -> dict:
        # a pickled pool (a DataLoader worker's copy of the collate function) starts empty
        return {"max_buffers": self.max_buffers, "_buffers": []}

    def _is_free(self, index: int) -> bool:
        # references to the tensor object: the pool's list and getrefcount's own argument
        return sys.getrefcount(self._buffers[index]) == 2 and _storage_users(self._buffers[index]) == 1

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised CPU tensor of ``shape`` and ``dtype`` that nobody else references.

        The caller must write every element it hands on (its content is a previous batch's).
        """
        shape = tuple(int(s) for s in shape)
        if get_worker_info() is not None:
            return torch.empty(shape, dtype=dtype)
        # indices, not a loop variable: a local reference would make every buffer look held
        for index in range(len(self._buffers)):
            if self._buffers[index].shape == shape and self._buffers[index].dtype == dtype and self._is_free(index):
                return self._buffers[index]
        tensor = torch.empty(shape, dtype=dtype)
        if len(self._buffers) >= self.max_buffers:
            self._buffers.pop(0)
        self._buffers.append(tensor)
        return tensor

    def clear(self) -> None:
        """Forget every buffer (they are freed once their holders let go of them)."""
        self._buffers.clear()
