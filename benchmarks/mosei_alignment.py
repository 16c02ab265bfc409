"""Time and peak memory of CMU-MOSEI word alignment vs the number of videos.

Compares two ways of aligning the same synthetic corpus (GloVe + COVAREP + FACET, written by
:mod:`zoo.data.synthetic.cmu_mosei` with N training videos):

* ``streaming`` — :func:`zoo.data.mosei_align.iter_aligned_videos` (what the datamodule uses):
  one video's arrays read from HDF5, aligned and released at a time;
* ``eager`` — every video's arrays read into memory first, then aligned (the naive approach, and
  what the SDK's ``mmdataset.align`` does with its in-memory dictionaries).

Each measurement runs in a fresh subprocess and reports wall time, the peak of Python/NumPy
allocations (``tracemalloc``) and the process's peak resident set (``ru_maxrss``, which includes
the interpreter, torch and h5py, so only its growth with N matters). The cache is off, so every
run aligns. Usage::

    python benchmarks/mosei_alignment.py                 # N = 10, 40, 160
    python benchmarks/mosei_alignment.py --sizes 10 40   # other sizes
    python benchmarks/mosei_alignment.py --tiny          # N = 2, 4 in-process (used by the tests)
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES = ["glove_vectors", "COVAREP", "FACET 4.2"]
MODES = ("streaming", "eager")


def write_corpus(folder: Path, n_videos: int) -> Path:
    """A synthetic corpus of ``n_videos`` training videos."""
    from zoo.data.synthetic.cmu_mosei import write_synthetic_cmu_mosei

    return write_synthetic_cmu_mosei(folder, seed=0, n_videos={"train": n_videos, "valid": 0, "test": 0})


def measure(root: Path, mode: str) -> dict:
    """Align every video of ``root`` once; return seconds, tracemalloc peak (MB), word steps."""
    import numpy as np

    from zoo.data.csd import ComputationalSequence
    from zoo.data.mosei_align import EPSILON, FEATURE_FILES, REFERENCE, align_to_reference, iter_aligned_videos

    ids = json.loads((root / "folds.json").read_text())["train"]
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    words = 0
    if mode == "streaming":
        for video in iter_aligned_videos(root, ids, FEATURES, use_cache=False):
            words += len(video.word_intervals)
    elif mode == "eager":
        loaded = {}
        for name in FEATURES:
            with ComputationalSequence(root / FEATURE_FILES[name]) as seq:
                loaded[name] = {v: seq.read(v) for v in ids}
        aligned = []
        for v in ids:
            ref = loaded[REFERENCE][v][1]
            ref = ref[(ref[:, 1] - ref[:, 0]) > EPSILON]  # zero-length words are dropped, as when streaming
            out = {n: align_to_reference(ref, loaded[n][v][1], loaded[n][v][0]) for n in FEATURES if n != REFERENCE}
            aligned.append(out)
            words += len(ref)
        del loaded, aligned
        np.zeros(1)
    else:
        raise ValueError(mode)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "tracemalloc_mb": peak / 2**20, "words": words}


def run_subprocess(root: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(root), mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--tiny", action="store_true", help="N = 2, 4, in-process (no maxrss): a smoke run")
    parser.add_argument("--worker", nargs=2, metavar=("ROOT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = measure(Path(args.worker[0]), args.worker[1])
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return [result]
    sizes = [2, 4] if args.tiny else args.sizes
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = write_corpus(Path(tmp) / f"n{n}", n)
            size_mb = sum(p.stat().st_size for p in root.glob("*.csd")) / 2**20
            for mode in MODES:
                result = measure(root, mode) if args.tiny else run_subprocess(root, mode)
                rows.append({"videos": n, "csd_mb": size_mb, "mode": mode, **result})
    print(
        f"CMU-MOSEI alignment benchmark ({platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()})"
    )
    print(
        f"{'videos':>6} {'.csd MB':>8} {'mode':>10} {'words':>7} {'seconds':>8} {'tracemalloc MB':>15} {'maxrss MB':>10}"
    )
    for r in rows:
        rss = f"{r['maxrss_mb']:10.0f}" if "maxrss_mb" in r else f"{'-':>10}"
        print(
            f"{r['videos']:>6} {r['csd_mb']:8.1f} {r['mode']:>10} {r['words']:>7} {r['seconds']:8.2f} "
            f"{r['tracemalloc_mb']:15.1f} {rss}"
        )
    return rows


if __name__ == "__main__":
    main()
