"""Two-process (gloo, CPU) test: ``ConcordanceCorrCoef`` synced over uneven shards is exact."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # spawned children inherit sys.path and import the worker by name
    sys.path.insert(0, str(HERE))

import _ccc_ddp_worker  # noqa: E402

ATOL = 1e-6
WORLD_SIZE = 2
TIMEOUT_S = 120

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs gloo"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(cases, out_dir: Path) -> None:
    """Run the worker on ``WORLD_SIZE`` processes; fail (instead of hanging) after ``TIMEOUT_S``."""
    context = mp.spawn(
        _ccc_ddp_worker.run,
        args=(WORLD_SIZE, _free_port(), cases, str(out_dir)),
        nprocs=WORLD_SIZE,
        join=False,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
            pytest.fail(f"DDP workers did not finish within {TIMEOUT_S} s")


def _batch(ref, rng, lengths, num_outputs):
    xs, ys = ref.random_sequences(rng, lengths, num_outputs=num_outputs, offset=3.0)
    preds, mask = ref.pad(xs)
    target, _ = ref.pad(ys, garbage=float("inf"))
    if num_outputs == 1:  # exercise the (B, T) layout
        preds, target = preds[..., 0], target[..., 0]
    return (preds, target, mask), (xs, ys)


def _shards(ref, rng, num_outputs, lengths_per_rank):
    """Per-rank padded batches, and all sequences in order for the single-process reference."""
    shards, xs, ys = [], [], []
    for rank_lengths in lengths_per_rank:
        batches = []
        for lengths in rank_lengths:
            batch, (bx, by) = _batch(ref, rng, lengths, num_outputs)
            batches.append(batch)
            xs += bx
            ys += by
        shards.append(batches)
    return shards, xs, ys


def test_ddp_uneven_shards_match_single_process_reference(ref, rng, tmp_path):
    # rank 0: three batches, rank 1: one batch, all of different sizes (and padded lengths)
    uneven = [[[12, 40, 7], [33], [5, 18, 26, 9]], [[50, 21]]]
    empty_rank = [[[15, 30], [8, 44, 2]], []]  # rank 1 never calls update()
    cases, expected = [], {}
    for num_outputs in (1, 3):
        for layout, lengths in (("uneven", uneven), ("empty", empty_rank)):
            shards, xs, ys = _shards(ref, rng, num_outputs, lengths)
            for aggregation in ("pooled", "per_sequence"):
                for estimator, ddof in (("population", 0), ("sample", 1)):
                    name = f"{layout}-K{num_outputs}-{aggregation}-{estimator}"
                    kwargs = dict(num_outputs=num_outputs, aggregation=aggregation, estimator=estimator)
                    cases.append((name, kwargs, shards))
                    expected[name] = getattr(ref, aggregation)(xs, ys, ddof)

    _spawn(cases, tmp_path)

    for rank in range(WORLD_SIZE):
        results = torch.load(tmp_path / f"rank{rank}.pt")
        assert set(results) == set(expected)
        for name, value in results.items():
            assert value.dtype == torch.float64, name
            assert value.shape == (() if "-K1-" in name else (3,)), name
            np.testing.assert_allclose(
                np.atleast_1d(value.numpy()), expected[name], atol=ATOL, err_msg=f"rank {rank}: {name}"
            )
