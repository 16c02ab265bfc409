"""Reused batch buffers (issue 14): a buffer is written again only when nothing holds it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from zoo.data._buffers import BatchBufferPool
from zoo.data._sequence import SequenceCollator, collate_sequences


def _items(seed: int, lengths=(6, 6, 4), dim: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "features": {"x": rng.normal(size=(n, dim)).astype(np.float32)},
            "targets": rng.normal(size=(n, 2)).astype(np.float32),
            "timestamps": np.arange(n) * 0.1,
            "id": f"r{i}",
            "start": 0,
            "has_targets": True,
        }
        for i, n in enumerate(lengths)
    ]


def _expected(items: list[dict]) -> np.ndarray:
    """The padded feature batch, built with NumPy alone."""
    max_len = max(len(it["timestamps"]) for it in items)
    out = np.zeros((len(items), max_len, items[0]["features"]["x"].shape[1]), np.float32)
    for b, it in enumerate(items):
        out[b, : len(it["timestamps"])] = it["features"]["x"]
    return out


def test_pool_reuses_a_released_buffer_and_keeps_held_ones():
    pool = BatchBufferPool(max_buffers=3)
    a = pool.empty((2, 3), torch.float32)
    b = pool.empty((2, 3), torch.float32)
    assert a.data_ptr() != b.data_ptr()  # a is held: b is another buffer
    ptr = a.data_ptr()
    del a
    c = pool.empty((2, 3), torch.float32)
    assert c.data_ptr() == ptr  # a was released: its buffer comes back
    assert pool.empty((2, 4), torch.float32).shape == (2, 4)  # another shape: another buffer
    assert pool.empty((2, 3), torch.float64).dtype == torch.float64


@pytest.mark.parametrize("holder", ["view", "numpy", "tensor"])
def test_pool_never_hands_out_a_buffer_something_still_reads(holder):
    pool = BatchBufferPool()
    t = pool.empty((4, 3), torch.float32)
    ptr = t.data_ptr()
    kept = {"view": lambda: t[1:], "numpy": lambda: t.numpy(), "tensor": lambda: t}[holder]()  # noqa: F821 - called before `del t`
    del t
    assert pool.empty((4, 3), torch.float32).data_ptr() != ptr
    del kept
    assert pool.empty((4, 3), torch.float32).data_ptr() == ptr


def test_pool_keeps_at_most_max_buffers():
    pool = BatchBufferPool(max_buffers=2)
    held = [pool.empty((3,), torch.float32) for _ in range(5)]
    assert len(pool._buffers) == 2
    assert len({h.data_ptr() for h in held}) == 5
    with pytest.raises(ValueError, match="max_buffers"):
        BatchBufferPool(0)


def test_collator_batches_equal_numpy_while_earlier_batches_are_held():
    collate = SequenceCollator(max_buffers=2)
    batches, items = [], []
    for seed in range(5):  # more held batches than buffers: new allocations, none overwritten
        items.append(_items(seed))
        batches.append(collate(items[-1]))
    for held, its in zip(batches, items):
        np.testing.assert_array_equal(held["features"]["x"].numpy(), _expected(its))
    ptrs = {b["features"]["x"].data_ptr() for b in batches}
    assert len(ptrs) == 5
    # released batches: buffers come back, and the numbers are the new batch's (padding zeroed)
    pooled = {buffer.data_ptr() for buffer in collate.pool._buffers}
    del batches
    for seed in range(5, 8):
        its = _items(seed, lengths=(6, 2, 6))
        batch = collate(its)
        assert batch["features"]["x"].data_ptr() in pooled  # no new allocation
        np.testing.assert_array_equal(batch["features"]["x"].numpy(), _expected(its))
        plain = collate_sequences(its)
        for key in ("targets", "mask", "timestamps"):
            torch.testing.assert_close(batch[key], plain[key], rtol=0, atol=0)
        del batch


@pytest.mark.parametrize("workers", [0, 2])
def test_collator_in_a_dataloader_gives_every_batch_unchanged(workers):
    data = [_items(seed, lengths=(7,))[0] for seed in range(12)]
    loader = DataLoader(data, batch_size=3, collate_fn=SequenceCollator(), num_workers=workers)
    held = list(loader)  # every batch held at once: none may share a buffer
    for k, batch in enumerate(held):
        np.testing.assert_array_equal(batch["features"]["x"].numpy(), _expected(data[3 * k : 3 * k + 3]))
