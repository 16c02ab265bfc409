"""Data wait vs feature width: where the batch time goes and what each remedy buys.

For feature widths 88 (eGeMAPS), 1028 (the Sun recipe's eGeMAPS + VGGish + VGGFace + FastText
width) and 4184 (eGeMAPS + 4096-d DeepSpectrum) the script writes memory-mapped float32
recordings (as the corpus cache does: one ``.npy`` per recording and set) and times, per batch of
32 windows × 200 frames, side by side in one process:

* **current** — ``SequenceDataset`` with ``WindowPreparer`` (per-window z-normalisation into a
  new float32 array) + ``collate_sequences`` (copy into a fresh batch tensor), the path every
  datamodule uses today;
* **normalised cache** — the recordings normalised once (float32, train statistics) into a second
  memory-mapped copy; items are plain slices, collation copies them into the batch;
* **fused into a reused buffer** — each window normalised straight into a batch buffer allocated
  once (``np.subtract``/``np.multiply`` with ``out=``): no per-window array, no page faults of a
  fresh 100 MB batch (pinned memory on a GPU machine);
* **on the device** — raw windows collated into the batch, z-normalisation done in place on the
  batch tensor as the first operation of the step (its cost is added to the step, not the wait);
* **2 workers** — the current path in a ``DataLoader`` with 2 worker processes (shared-memory
  batches); the wait is what the main process still blocks on.

The step is the Sun 2020 network at the recipe's sizes (hidden 64, 4 heads, 64-unit head) with
Adam, forward + CCC loss + backward + update on the same batches. ``data wait %`` is
``wait / (wait + step)``, with the row's own step and with the width's median step.

Usage::

    python benchmarks/data_wait.py            # widths 88, 1028, 4184 (a few minutes)
    python benchmarks/data_wait.py --tiny     # seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from _perf_common import header, median, quiet_lightning, table

import numpy as np
import torch
from torch.utils.data import DataLoader

from zoo.data._sequence import (FeatureStats, Recording, SequenceDataset, WindowPreparer,
                                   collate_sequences, compute_feature_stats)
from zoo.losses import build_loss
from zoo.task import build_optimizer

NAME = "x"  # one concatenated feature set per width (the model concatenates sets anyway)


def write_recordings(folder: Path, dim: int, n: int, frames: int, seed: int = 0) -> list[Recording]:
    """``n`` recordings of ``frames`` × ``dim`` float32, memory-mapped from ``.npy`` files."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    recs = []
    for i in range(n):
        path = folder / f"{dim}-{i}.npy"
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(frames, dim))
        for lo in range(0, frames, 256):
            hi = min(frames, lo + 256)
            arr[lo:hi] = rng.normal(3.0, 2.0, (hi - lo, dim)).astype(np.float32)
        arr.flush()
        del arr
        recs.append(Recording(id=str(i), features={NAME: np.load(path, mmap_mode="r")},
                              timestamps=np.arange(frames) * 0.25,
                              targets=rng.uniform(-1, 1, (frames, 1)).astype(np.float32)))
    return recs


def normalised_copy(folder: Path, recs: list[Recording], stats: FeatureStats) -> list[Recording]:
    """The recordings z-normalised once into new memory-mapped float32 files."""
    out = []
    for rec in recs:
        x = rec.features[NAME]
        path = folder / f"norm-{x.shape[1]}-{rec.id}.npy"
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=x.shape)
        for lo in range(0, len(x), 4096):
            arr[lo:lo + 4096] = stats.normalise(x[lo:lo + 4096])
        arr.flush()
        del arr
        out.append(Recording(id=rec.id, features={NAME: np.load(path, mmap_mode="r")},
                             timestamps=rec.timestamps, targets=rec.targets))
    return out


class FusedBatcher:
    """Collates windows of raw recordings, normalising each straight into a reused buffer."""

    def __init__(self, recs: list[Recording], stats: FeatureStats | None, batch: int, win: int, dim: int) -> None:
        self.recs = recs
        self.mean = stats.mean.astype(np.float32) if stats else None
        self.inv_std = (1.0 / stats.std).astype(np.float32) if stats else None
        pin = torch.cuda.is_available()
        self.buffer = torch.empty(batch, win, dim, pin_memory=pin)
        self.targets = torch.empty(batch, win, 1, pin_memory=pin)

    def __call__(self, items: list[tuple[int, int, int]]) -> dict[str, Any]:
        out = self.buffer.numpy()
        for b, (r, start, end) in enumerate(items):
            x = self.recs[r].features[NAME][start:end]
            if self.mean is None:
                out[b, : end - start] = x
            else:
                np.subtract(x, self.mean, out=out[b, : end - start])
                np.multiply(out[b, : end - start], self.inv_std, out=out[b, : end - start])
            self.targets.numpy()[b, : end - start] = self.recs[r].targets[start:end]
        mask = torch.ones(len(items), out.shape[1], dtype=torch.bool)
        return {"features": {NAME: self.buffer[: len(items)]}, "targets": self.targets[: len(items)], "mask": mask}


def full_windows(recs: list[Recording], win: int, hop: int) -> list[tuple[int, int, int]]:
    return [(r, s, s + win) for r, rec in enumerate(recs) for s in range(0, rec.num_frames - win + 1, hop)]


def time_path(batches: Callable[[], Any], step: Callable[[dict], float], n: int) -> tuple[float, float]:
    """Median (wait, step) seconds over ``n`` batches after one warm-up batch."""
    waits, steps = [], []
    it = iter(batches())
    for k in range(n + 1):
        t0 = time.perf_counter()
        batch = next(it)
        wait = time.perf_counter() - t0
        s = step(batch)
        if k:
            waits.append(wait)
            steps.append(s)
    return median(waits), median(steps)


def make_step(dim: int, hidden: int, stats: FeatureStats | None = None) -> Callable[[dict], float]:
    """One training step of the Sun network; with ``stats`` it normalises the batch in place first."""
    from zoo import create_model

    torch.manual_seed(0)
    net = create_model("sun2020_lstm_selfattn", feature_dims={NAME: dim}, num_targets=1, hidden_size=hidden,
                       num_heads=4, head_hidden_size=64, dropout=0.0)
    loss_fn = build_loss("ccc", ["arousal"], None)
    opt = build_optimizer(net.parameters(), {"name": "adam", "lr": 0.003})
    mean = torch.from_numpy(stats.mean.astype(np.float32)) if stats else None
    inv_std = torch.from_numpy((1.0 / stats.std).astype(np.float32)) if stats else None

    def step(batch: dict) -> float:
        t0 = time.perf_counter()
        x = batch["features"][NAME]
        if mean is not None:
            x.sub_(mean).mul_(inv_std)
        preds = net({NAME: x}, batch["mask"])
        loss = loss_fn(preds, batch["targets"], batch["mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def cycle(loader_factory: Callable[[], Any]):
    while True:
        yield from loader_factory()


def measure(folder: Path, dim: int, tiny: bool) -> list[dict[str, Any]]:
    win, hop, batch = (50, 25, 8) if tiny else (200, 100, 32)
    n_rec, frames = (3, 200) if tiny else (10, 1600)
    steps = 3 if tiny else 8
    recs = write_recordings(folder, dim, n_rec, frames)
    stats = compute_feature_stats(recs, [NAME])[NAME]
    prep = WindowPreparer([NAME], {}, {NAME: stats})
    windows = full_windows(recs, win, hop)

    def seq_loader(rs, prepare, workers=0):
        ds = SequenceDataset(rs, 1, win, hop, prepare=prepare)
        return lambda: DataLoader(ds, batch_size=batch, shuffle=True, collate_fn=collate_sequences,
                                  num_workers=workers, persistent_workers=workers > 0)

    norm = normalised_copy(folder, recs, stats)
    fused = FusedBatcher(recs, stats, batch, win, dim)
    raw = FusedBatcher(recs, None, batch, win, dim)
    rng = np.random.default_rng(0)

    def batched(batcher):
        def gen():
            while True:
                pick = rng.permutation(len(windows))[:batch]
                yield batcher([windows[i] for i in pick])
        return gen

    hidden = 16 if tiny else 64
    plain_step = make_step(dim, hidden)
    device_step = make_step(dim, hidden, stats)
    paths = {
        "current (per-window normalise + collate)": (lambda: cycle(seq_loader(recs, prep)), plain_step),
        "normalised cache (mmap)": (lambda: cycle(seq_loader(norm, None)), plain_step),
        "fused into a reused buffer": (batched(fused), plain_step),
        "on the device (in-place, in the step)": (batched(raw), device_step),
    }
    if not tiny:
        paths["2 workers (current path)"] = (lambda: cycle(seq_loader(recs, prep, workers=2)), plain_step)
    rows = []
    for name, (factory, step) in paths.items():
        wait, step_s = time_path(factory, step, steps)
        rows.append({"width": dim, "data path": name, "wait ms/batch": 1e3 * wait, "step ms": 1e3 * step_s,
                     "data wait % of step": 100 * wait / (wait + step_s)})
        print(f"{dim}-d {name}: {rows[-1]}", file=sys.stderr, flush=True)
    # Step times of different paths differ only by noise (same model, same sizes), except the
    # device path's in-place normalisation: the share against the width's median plain step is
    # the steadier figure on a busy machine.
    ref = median([r["step ms"] for r in rows if not r["data path"].startswith("on the device")])
    for r in rows:
        r["data wait % of median step"] = 100 * r["wait ms/batch"] / (r["wait ms/batch"] + ref)
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--widths", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    quiet_lightning()
    widths = args.widths or ([88, 300] if args.tiny else [88, 1028, 4184])
    print(header("data_wait", sys.argv[1:] if argv is None else argv))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dim in widths:
            rows += measure(Path(tmp) / str(dim), dim, args.tiny)
    print(table(rows, "data wait per batch (32 windows × 200 frames; Sun 2020 net, hidden 64)"))
    return rows


if __name__ == "__main__":
    main()
