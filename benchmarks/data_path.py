"""Data path: parsing vs the corpus cache, resident memory of an epoch, time spent waiting for data.

For a synthetic MuSe-CaR scaled to 1×, 4× and 16× (train + devel; eGeMAPS 88-d plus a
DeepSpectrum-like 4096-d feature set, ≥ 100 k frames at 16×) the script measures, side by side:

* **first load** — ``raw_recordings("train")`` and ``("val")`` of a fresh datamodule: the CSV
  parse (time inside the reader's ``read``) plus writing the ``.npy`` cache;
* **cached load** — the same calls on a new datamodule: hashing the file stats and memory-mapping
  the cached arrays. Target: ≥ 20× faster than parsing;
* **one training epoch** of the Sun 2020 network in a fresh subprocess, once from the cache
  (memory-mapped, per-window preparation) and once parsed into memory (``use_cache=False``):
  peak RSS (``ru_maxrss``, which also counts the file pages of the memory-mapped cache the
  epoch touched — the kernel can drop those at any time), peak anonymous RSS (``RssAnon``
  sampled every step: the process's own memory), and the fraction of step time spent waiting
  for the next batch (target ≤ 5 %).

The DeepSpectrum stand-in is written by this script (the synthetic writer has no 4096-d set):
each row is drawn from a pool of pre-formatted random rows, so writing is I/O-bound while parsing
costs exactly what a real 4096-column CSV costs.

Usage::

    python benchmarks/data_path.py           # 1×, 4×, 16× (minutes; ~4 GB of CSV in a temp dir)
    python benchmarks/data_path.py --tiny    # seconds
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _perf_common import ROOT, header, quiet_lightning, synthetic_corpus, table

from zoo.data.corpora.muse_car.reader import MuSeCaRCorpus, feature_path, label_path
from zoo.data.datamodule import CorpusDataModule

DEEP = "deepspectrum"


class TimedMuSeCaRReader(MuSeCaRCorpus):
    """The MuSe-CaR reader, counting and timing its parser calls."""

    parse_seconds = 0.0
    parse_calls = 0

    def read(self, partition):
        t0 = time.perf_counter()
        out = super().read(partition)
        type(self).parse_seconds += time.perf_counter() - t0
        type(self).parse_calls += 1
        return out


def timed_muse_car(**options) -> CorpusDataModule:
    """The datamodule over :class:`TimedMuSeCaRReader` (whose class attributes count)."""
    return CorpusDataModule(TimedMuSeCaRReader, **options)


def add_deep_features(root: Path, dim: int, seed: int = 0) -> int:
    """Write ``<root>/.../label_aligned/deepspectrum/<id>.csv`` for every video; return frames."""
    rng = np.random.default_rng(seed)
    pool = [",".join(f"{v:.4g}" for v in row).encode() for row in rng.normal(0, 1, (64, dim))]
    frames = 0
    for labels in sorted((root / "c1_muse_wild" / "label_segments" / "arousal").glob("*.csv")):
        video = labels.stem
        table = np.loadtxt(labels, delimiter=",", skiprows=1, usecols=(0, 2), dtype=np.int64, ndmin=2)
        out = feature_path(root, DEEP, video)
        out.parent.mkdir(parents=True, exist_ok=True)
        head = ("timestamp,segment_id," + ",".join(f"d{j}" for j in range(dim)) + "\n").encode()
        picks = rng.integers(0, len(pool), len(table))
        with open(out, "wb") as fh:
            fh.write(head)
            fh.writelines(b"%d,%d,%s\n" % (ts, seg, pool[k]) for (ts, seg), k in zip(table, picks))
        frames += len(table)
    assert label_path(root, "arousal", video).is_file()
    return frames


def dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def rss_anon_kb() -> int:
    """Current anonymous resident memory (kB) of this process (Linux), else 0."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def epoch_child(root: str, cache: str, use_cache: bool, tiny: bool) -> dict:
    """One training epoch in this (fresh) process; returns memory and data-wait figures."""
    import torch

    from zoo.training.task import EmotionTask, build_optimizer

    quiet_lightning()
    baseline = rss_anon_kb()
    # the class the parent process built the cache with (the class is part of the cache key)
    dm = timed_muse_car(
        root=root,
        features=["egemaps", DEEP],
        win_len=200,
        hop_len=100,
        batch_size=32,
        cache_dir=cache,
        use_cache=use_cache,
    )
    t0 = time.perf_counter()
    dm.setup("fit")
    load_s = time.perf_counter() - t0
    torch.manual_seed(0)
    task = EmotionTask(
        "sun2020_lstm_selfattn",
        dm.data_spec(),
        model_args={"hidden_size": 16 if tiny else 32, "num_heads": 2, "head_hidden_size": 16},
        optimizer={"name": "adam", "lr": 0.003},
    )
    optimizer = build_optimizer(task.parameters(), {"name": "adam", "lr": 0.003})
    wait = compute = 0.0
    peak_anon = rss_anon_kb()
    loader = dm.train_dataloader()
    t_epoch = time.perf_counter()
    it = iter(loader)
    steps = 0
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        t1 = time.perf_counter()
        batch = task.normalize_batch(batch)  # the step's first op, as in Lightning's loop
        loss = task.loss_fn(task(batch["features"], batch["mask"]).float(), batch["targets"], batch["mask"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        wait, compute, steps = wait + t1 - t0, compute + t2 - t1, steps + 1
        peak_anon = max(peak_anon, rss_anon_kb())
    epoch_s = time.perf_counter() - t_epoch
    return {
        "setup_s": load_s,
        "epoch_s": epoch_s,
        "steps": steps,
        "wait_frac": wait / (wait + compute),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_anon_mb": peak_anon / 1024,
        "baseline_anon_mb": baseline / 1024,
        "workers": dm.num_workers,
    }


def run_child(root: Path, cache: Path, use_cache: bool, tiny: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--_epoch", str(root), str(cache), str(int(use_cache))]
    if tiny:
        cmd.append("--tiny")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"epoch subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--scales", type=float, nargs="*", default=None)
    parser.add_argument("--dim", type=int, default=None, help="dimension of the big feature set")
    parser.add_argument("--_epoch", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._epoch:
        root, cache, use_cache = args._epoch
        print(json.dumps(epoch_child(root, cache, bool(int(use_cache)), args.tiny)))
        return []
    quiet_lightning()
    scales = args.scales or ([1, 2] if args.tiny else [1, 4, 16])
    dim = args.dim or (128 if args.tiny else 4096)
    # 1× = 9 + 2 videos (≈ 6.7 k frames), so that 16× has more than 100 k frames
    base = {"train": 2, "devel": 1, "test": 0} if args.tiny else {"train": 9, "devel": 2, "test": 0}
    print(header("data_path", sys.argv[1:] if argv is None else argv))
    rows, epochs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            folder = Path(tmp) / f"x{scale:g}"
            root = synthetic_corpus(folder / "muse", scale, ["egemaps"], base=base)
            frames = add_deep_features(root, dim)
            cache = folder / "cache"
            TimedMuSeCaRReader.parse_seconds, TimedMuSeCaRReader.parse_calls = 0.0, 0
            kw = dict(root=root, features=["egemaps", DEEP], cache_dir=cache)
            t0 = time.perf_counter()
            first = timed_muse_car(**kw)
            first.raw_recordings("train"), first.raw_recordings("val")
            first_s = time.perf_counter() - t0
            parse_s, calls = TimedMuSeCaRReader.parse_seconds, TimedMuSeCaRReader.parse_calls
            t0 = time.perf_counter()
            again = timed_muse_car(**kw)
            recs = again.raw_recordings("train") + again.raw_recordings("val")
            cached_s = time.perf_counter() - t0
            assert TimedMuSeCaRReader.parse_calls == calls, "the cached load parsed again"
            assert isinstance(recs[0].features[DEEP], np.memmap)
            del first, again, recs
            rows.append(
                {
                    "scale": f"{scale:g}×",
                    "frames (train+devel)": frames,
                    "CSV MB": dir_bytes(root) / 2**20,
                    "cache MB": dir_bytes(cache) / 2**20,
                    "parse s": parse_s,
                    "first load s (parse + write)": first_s,
                    "cached load s": cached_s,
                    "parse / cached": parse_s / cached_s,
                }
            )
            if args.tiny and scale != scales[-1]:
                continue  # tiny: one epoch subprocess only (each costs a Python + torch start)
            for use_cache in (True,) if args.tiny else (True, False):
                r = run_child(root, cache, use_cache, args.tiny)
                epochs.append(
                    {
                        "scale": f"{scale:g}×",
                        "data": "cache (mmap)" if use_cache else "parsed in memory",
                        "setup s": r["setup_s"],
                        "epoch s": r["epoch_s"],
                        "steps": r["steps"],
                        "peak RSS MB (ru_maxrss)": r["maxrss_mb"],
                        "peak anon RSS MB": r["peak_anon_mb"],
                        "data wait % of step": 100 * r["wait_frac"],
                        "num_workers": r["workers"],
                    }
                )
            print(
                f"scale {scale:g}× done: {json.dumps(rows[-1])} {json.dumps(epochs[-2:])}", file=sys.stderr, flush=True
            )
    print(table(rows, f"first load vs cached load (egemaps 88-d + {DEEP} {dim}-d, train + devel)"))
    print(table(epochs, "one training epoch in a fresh process (Sun 2020 net, windows 200/100, batch 32)"))
    return rows


if __name__ == "__main__":
    main()
