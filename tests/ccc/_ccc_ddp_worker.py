"""Worker for ``test_ddp.py``: runs ``ConcordanceCorrCoef`` on one rank of a gloo process group.

Kept in its own module (not the test module) so that ``torch.multiprocessing.spawn`` children can
import it by name whatever pytest import mode is in use; ``test_ddp.py`` puts this directory on
``sys.path`` before spawning.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

# (name, metric kwargs, per-rank list of (preds, target, mask) batches)
Case = tuple[str, dict[str, Any], Sequence[Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]]


def run(rank: int, world_size: int, port: int, cases: Sequence[Case], out_dir: str) -> None:
    """Update one metric per case with this rank's shard, ``compute()`` (synced) and save."""
    from zoo.ccc import ConcordanceCorrCoef

    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        results = {}
        for name, kwargs, shards in cases:
            metric = ConcordanceCorrCoef(**kwargs)
            for preds, target, mask in shards[rank]:
                metric.update(preds, target, mask)
            results[name] = metric.compute()
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
