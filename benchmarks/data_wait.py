"""Data wait vs feature width: the loader's share of a training step, before and after moving the
z-normalisation from the loader to the step.

For feature widths 88 (eGeMAPS), 1028 (the Sun recipe's eGeMAPS + VGGish + VGGFace + FastText
width) and 4184 (eGeMAPS + 4096-d DeepSpectrum) the script writes memory-mapped float32
recordings (as the corpus cache does: one ``.npy`` per recording and set) and times, per batch of
32 windows × 200 frames, side by side in one process, the paths alternating batch by batch:

* **before** — the loader path up to issue 14: each window z-normalised on the host into a new
  float32 array when it is read (the old ``WindowPreparer`` arithmetic, kept here as
  :class:`HostNormalisingPreparer`), then ``collate_sequences``;
* **shipped** — the library path: ``SequenceDataset`` + ``WindowPreparer`` serve raw (delayed)
  windows, the training loaders' ``SequenceCollator`` pads them into reused buffers, and ``EmotionTask.normalize_batch`` normalises the
  batch as the first operation of the step (its cost counts in the step, not the wait);
* **shipped, 2 workers** — the same in a ``DataLoader`` with 2 worker processes (shared-memory
  batches); the wait is what the main process still blocks on (not with ``--tiny``).

The step is the Sun 2020 network at the recipe's sizes (hidden 64, 4 heads, 64-unit head) in an
``EmotionTask`` with Adam: forward + CCC loss + backward + update on the same batches. ``data
wait %`` is ``wait / (wait + step)``, with the row's own step and with the width's median step.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/data_wait.py   # widths 88, 1028, 4184 (a few minutes)
    python benchmarks/data_wait.py --tiny              # seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _perf_common import header, median, quiet_lightning, table
from torch.utils.data import DataLoader

from zoo.data._sequence import (
    FeatureStats,
    Recording,
    SequenceCollator,
    SequenceDataset,
    WindowPreparer,
    collate_sequences,
    compute_feature_stats,
)
from zoo.training.task import EmotionTask, build_optimizer

NAME = "x"  # one concatenated feature set per width (the model concatenates sets anyway)
BEFORE = "before: per-window host normalise + collate"
SHIPPED = "shipped: raw windows + collate into reused buffers, normalised in the step"
WORKERS = "shipped, 2 workers"


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
        recs.append(
            Recording(
                id=str(i),
                features={NAME: np.load(path, mmap_mode="r")},
                timestamps=np.arange(frames) * 0.25,
                targets=rng.uniform(-1, 1, (frames, 1)).astype(np.float32),
            )
        )
    return recs


class HostNormalisingPreparer(WindowPreparer):
    """The loader's per-window work before issue 14: delay, then z-normalise on the host.

    The NumPy arithmetic of the old ``FeatureStats.normalise`` (float32, one new array per
    window), kept only as this benchmark's baseline.
    """

    def __init__(self, stats: Mapping[str, FeatureStats]) -> None:
        super().__init__(list(stats), {})
        self.means = {n: s.mean.astype(np.float32) for n, s in stats.items()}
        self.stds = {n: s.std.astype(np.float32) for n, s in stats.items()}

    def __call__(self, features: Mapping[str, np.ndarray], start: int, end: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self.feature_names:
            window = np.subtract(features[name][start:end], self.means[name], dtype=np.float32)
            np.divide(window, self.stds[name], out=window)
            out[name] = window
        return out


def make_step(spec: dict[str, Any], hidden: int) -> Callable[[dict], float]:
    """One training step of the Sun network in an ``EmotionTask``; seconds, normalisation included."""
    torch.manual_seed(0)
    task = EmotionTask(
        "sun2020_lstm_selfattn",
        spec,
        loss={"name": "ccc"},
        model_args={"hidden_size": hidden, "num_heads": 4, "head_hidden_size": 64, "dropout": 0.0},
    )
    opt = build_optimizer(task.parameters(), {"name": "adam", "lr": 0.003})

    def step(batch: dict) -> float:
        t0 = time.perf_counter()
        batch = task.normalize_batch(batch)  # the first operation of EmotionTask's steps
        preds = task(batch["features"], batch["mask"])
        loss = task.loss_fn(preds.float(), batch["targets"], batch["mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def cycle(loader_factory: Callable[[], DataLoader]) -> Iterator[dict]:
    """Batches of fresh epochs of the loader, forever."""
    while True:
        yield from loader_factory()


def time_alternating(
    paths: Mapping[str, tuple[Iterator[dict], Callable[[dict], float]]], n: int
) -> dict[str, tuple[float, float]]:
    """Median (wait, step) seconds per path over ``n`` batches after one warm-up batch each.

    The paths take turns batch by batch, so a change in the machine's load hits all of them.
    """
    waits: dict[str, list[float]] = {name: [] for name in paths}
    steps: dict[str, list[float]] = {name: [] for name in paths}
    for k in range(n + 1):
        for name, (batches, step) in paths.items():
            t0 = time.perf_counter()
            batch = next(batches)
            wait = time.perf_counter() - t0
            seconds = step(batch)
            if k:
                waits[name].append(wait)
                steps[name].append(seconds)
    return {name: (median(waits[name]), median(steps[name])) for name in paths}


def measure(folder: Path, dim: int, tiny: bool) -> list[dict[str, Any]]:
    """The rows of one feature width."""
    win, hop, batch = (50, 25, 8) if tiny else (200, 100, 32)
    n_rec, frames = (3, 200) if tiny else (10, 1600)
    steps = 3 if tiny else 8
    hidden = 16 if tiny else 64
    recs = write_recordings(folder, dim, n_rec, frames)
    stats = compute_feature_stats(recs, [NAME])
    spec = {
        "feature_names": [NAME],
        "feature_dims": {NAME: dim},
        "target_names": ["arousal"],
        "label_step": 0.25,
        "normalization": {NAME: stats[NAME].to_dict()},
    }

    def loader(prepare: WindowPreparer, collate: Callable, workers: int = 0) -> Callable[[], DataLoader]:
        dataset = SequenceDataset(recs, 1, win, hop, prepare=prepare)
        return lambda: DataLoader(
            dataset,
            batch_size=batch,
            shuffle=True,
            collate_fn=collate,
            num_workers=workers,
            persistent_workers=workers > 0,
        )

    shipped = WindowPreparer.from_options(feature_names=[NAME], label_step=0.25)
    paths = {
        # before issue 14: host normalisation per window, a fresh batch allocation per batch
        BEFORE: (
            cycle(loader(HostNormalisingPreparer(stats), collate_sequences)),
            make_step({**spec, "normalization": None}, hidden),
        ),
        # the training loaders' collate_fn (reused buffers), normalisation in the step
        SHIPPED: (cycle(loader(shipped, SequenceCollator())), make_step(spec, hidden)),
    }
    if not tiny:
        paths[WORKERS] = (cycle(loader(shipped, SequenceCollator(), workers=2)), make_step(spec, hidden))
    rows = []
    for name, (wait, step_s) in time_alternating(paths, steps).items():
        rows.append(
            {
                "width": dim,
                "data path": name,
                "wait ms/batch": 1e3 * wait,
                "step ms": 1e3 * step_s,
                "data wait % of step": 100 * wait / (wait + step_s),
            }
        )
        print(f"{dim}-d {name}: {rows[-1]}", file=sys.stderr, flush=True)
    # The steps differ only by noise and by the shipped path's normalisation (a few ms): the share
    # against the width's median step is the steadier figure on a busy machine.
    ref = median([r["step ms"] for r in rows])
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
