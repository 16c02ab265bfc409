"""Time and peak memory of CMU-MOSEI word alignment vs the number of videos, against the SDK.

Aligns the same synthetic corpus (GloVe + COVAREP + FACET ``.csd`` files, written by
:mod:`zoo.data.corpora.cmu_mosei.synthetic` with N training videos) to its words in three ways:

* ``streaming`` — :func:`zoo.data.corpora.cmu_mosei.align.iter_aligned_videos` (what the datamodule uses):
  one video's arrays read from HDF5, aligned and released at a time;
* ``eager`` — every video's arrays read into memory first, then aligned with our
  :func:`~zoo.data.corpora.cmu_mosei.align.align_to_reference` (the naive approach);
* ``sdk`` — the CMU-MultimodalSDK itself: ``mmdataset({...}).align("glove_vectors",
  collapse_functions=[mean])``, the first step of the SDK's own ``process_mosei.py`` example
  with its ``myavg`` collapse function (a plain mean of the frames that overlap each word).

Ours runs with ``weighting="uniform"`` (the SDK's plain mean; the datamodule's default
``"overlap"`` costs the same), so the outputs must agree: before timing, each size is aligned
both ways in one process and compared word by word (``max |Δ|`` over every COVAREP and FACET value
of every word the SDK keeps; words whose frames hold ``-inf`` are counted apart, because the SDK
averages the ``-inf`` in while we exclude non-finite values by design).

The SDK is never part of this repository. Point the benchmark at a checkout (the folder that
holds the ``mmsdk`` package, e.g. ``git clone https://github.com/CMU-MultiComp-Lab/CMU-MultimodalSDK``)
with ``--sdk`` or ``$AFFECT_ZOO_MMSDK``, or install it; it needs ``h5py``, ``numpy``, ``tqdm``,
``validators``, ``colorama`` and ``requests``. Without it the ``sdk`` rows are skipped with the
reason printed.

Each timed measurement runs in a fresh subprocess (the modes take turns, ``--rounds`` times; the
table shows medians) and reports wall time, CPU time (what the process itself computed: the
steadier figure on a shared machine), the peak of
Python/NumPy allocations (``tracemalloc``) and the growth of the resident set during the
alignment (peak RSS after it minus the RSS before it; the peak is reset through
``/proc/self/clear_refs`` where Linux allows it, so that imports do not count). The cache is off,
so every run aligns. Usage::

    python benchmarks/mosei_alignment.py                        # N = 10, 40, 160, 3 rounds each
    python benchmarks/mosei_alignment.py --sdk /path/to/CMU-MultimodalSDK
    python benchmarks/mosei_alignment.py --sizes 10 40          # other sizes
    python benchmarks/mosei_alignment.py --tiny                 # N = 2, 4 in-process (the tests)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES = ["glove_vectors", "COVAREP", "FACET 4.2"]
MODES = ("streaming", "eager", "sdk")
SDK_ENV = "AFFECT_ZOO_MMSDK"


def write_corpus(folder: Path, n_videos: int) -> Path:
    """A synthetic corpus of ``n_videos`` training videos."""
    from zoo.data.corpora.cmu_mosei.synthetic import write_synthetic_cmu_mosei

    return write_synthetic_cmu_mosei(folder, seed=0, n_videos={"train": n_videos, "valid": 0, "test": 0})


# --------------------------------------------------------------------------- the SDK
def find_sdk(path: str | None) -> tuple[str | None, str]:
    """``(folder to put on sys.path or "" when installed, "")`` or ``(None, why not)``."""
    path = path or os.environ.get(SDK_ENV)
    if path:
        folder = Path(path).expanduser().resolve()
        if not (folder / "mmsdk" / "mmdatasdk" / "__init__.py").is_file():
            return None, f"{folder} holds no mmsdk/mmdatasdk package (give the SDK checkout's top folder)"
        return str(folder), ""
    if importlib.util.find_spec("mmsdk") is not None:
        return "", ""
    return None, f"CMU-MultimodalSDK not found (pass --sdk /path/to/CMU-MultimodalSDK or set ${SDK_ENV})"


def _import_sdk(folder: str) -> Any:
    if folder and folder not in sys.path:
        sys.path.insert(0, folder)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # its Python-2 era `is 2` comparisons
        from mmsdk import mmdatasdk
    return mmdatasdk


def _sdk_mean(intervals: Any, features: Any) -> Any:
    """The SDK example's collapse function ``myavg`` (``process_mosei.py``): a plain mean."""
    import numpy as np

    return np.average(features, axis=0)


@contextlib.contextmanager
def _muted() -> Any:
    """Silence the SDK's log and progress bars: they write to the ``sys.stdout`` object bound when
    the SDK was imported, so the file descriptors themselves are redirected."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def sdk_align(root: Path, folder: str) -> Any:
    """``mmdataset.align("glove_vectors")`` of the corpus's three files; the SDK's log muted."""
    from zoo.data.corpora.cmu_mosei.align import FEATURE_FILES, REFERENCE

    mmdatasdk = _import_sdk(folder)
    with _muted():
        dataset = mmdatasdk.mmdataset({name: str(root / FEATURE_FILES[name]) for name in FEATURES})
        dataset.align(REFERENCE, collapse_functions=[_sdk_mean])
    return dataset


# --------------------------------------------------------------------------- measurements
def _rss_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


def measure(root: Path, mode: str, sdk: str | None = None) -> dict:
    """Align every video of ``root`` once; seconds, tracemalloc peak (MB), RSS growth, words."""
    import numpy as np

    from zoo.data.corpora.cmu_mosei.align import (
        EPSILON,
        FEATURE_FILES,
        REFERENCE,
        align_to_reference,
        iter_aligned_videos,
    )
    from zoo.data.corpora.cmu_mosei.csd import ComputationalSequence

    ids = json.loads((root / "folds.json").read_text())["train"]
    if mode == "sdk":
        _import_sdk(sdk or "")  # imports are not part of the measurement
    rss_before = _rss_kb("VmRSS")
    peak_reset = _reset_peak_rss()
    tracemalloc.start()
    tracemalloc.reset_peak()
    cpu = time.process_time()
    start = time.perf_counter()
    words = 0
    if mode == "streaming":
        for video in iter_aligned_videos(root, ids, FEATURES, use_cache=False, weighting="uniform"):
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
            out = {
                n: align_to_reference(ref, loaded[n][v][1], loaded[n][v][0], "uniform")
                for n in FEATURES
                if n != REFERENCE
            }
            aligned.append(out)
            words += len(ref)
        del loaded, aligned
        np.zeros(1)
    elif mode == "sdk":
        dataset = sdk_align(root, sdk or "")
        words = len(dataset[REFERENCE].keys())
        del dataset
    else:
        raise ValueError(mode)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {"seconds": seconds, "cpu_seconds": cpu_seconds, "tracemalloc_mb": peak / 2**20, "words": words}
    peak_rss = _rss_kb("VmHWM") if peak_reset else None
    if rss_before is not None and peak_rss is not None:
        result["rss_growth_mb"] = max(peak_rss - rss_before, 0) / 1024
    return result


def float64_copy(root: Path, out: Path) -> Path:
    """The corpus's three feature files with float64 features (for the exact comparison)."""
    import h5py

    from zoo.data.corpora.cmu_mosei.align import FEATURE_FILES

    out.mkdir(parents=True, exist_ok=True)
    for name in FEATURES:
        with h5py.File(root / FEATURE_FILES[name], "r") as src, h5py.File(out / FEATURE_FILES[name], "w") as dst:
            for key in src:
                src.copy(src[key], dst, name=key)
            for group in dst[name]["data"].values():
                features = group["features"][()].astype("float64")
                del group["features"]
                group.create_dataset("features", data=features)
    (out / "folds.json").write_text((root / "folds.json").read_text())
    return out


def _word_rows(root: Path, ids: list[str]) -> dict[str, Any]:
    """Per video, the file row of each of our words (zero-length words dropped, sorted by start)."""
    import numpy as np

    from zoo.data.corpora.cmu_mosei.align import EPSILON, FEATURE_FILES, REFERENCE
    from zoo.data.corpora.cmu_mosei.csd import ComputationalSequence

    rows = {}
    with ComputationalSequence(root / FEATURE_FILES[REFERENCE]) as seq:
        for v in ids:
            ref = seq.read_intervals(v)
            keep = np.flatnonzero((ref[:, 1] - ref[:, 0]) > EPSILON)
            rows[v] = keep[np.argsort(ref[keep, 0], kind="stable")]
    return rows


def _diff(dataset: Any, video: str, rows: Any, name: str, ours: Any, present: Any, tally: dict) -> None:
    import numpy as np

    seq = dataset[name]
    for j, row in enumerate(rows):
        key = f"{video}[{row}]"
        held = key in seq.keys()
        if held != bool(present[j]):
            tally["presence_mismatches"] += 1
            continue
        if not held:
            continue
        theirs = np.asarray(seq[key]["features"]).reshape(-1)
        if not np.isfinite(theirs).all():
            tally["sdk_nonfinite_words"] += 1
            continue
        mine = np.asarray(ours[j])
        tally["max_abs_diff"] = max(tally["max_abs_diff"], float(np.abs(theirs.astype(np.float64) - mine).max()))
        tally["max_abs_value"] = max(tally["max_abs_value"], float(np.abs(theirs).max()))
        tally["words"] += 1


def compare_with_sdk(root: Path, sdk: str, work: Path) -> dict:
    """Align ``root`` with the SDK and with ours (uniform weights); compare word by word.

    Two comparisons:

    * ``float32`` — the files as written (float32 features): our streaming alignment (averages in
      float64, rounded once to float32) against the SDK's ``np.average`` of the float32 frames
      (accumulated in float32): equal up to float32 rounding (``max_abs_value`` gives the scale:
      float32 resolves 1e-6 only below 8);
    * ``float64`` — float64 copies of the files: our :func:`align_to_reference` with float64 output
      on the same words against the SDK, which then averages in float64: the arithmetic itself.

    Returns:
        per comparison: ``words`` compared, ``max_abs_diff`` over every COVAREP and FACET value of
        those words, ``max_abs_value`` (their largest magnitude), ``sdk_nonfinite_words`` (the SDK averaged a
        ``-inf`` frame in; ours excludes it by design: left out), ``presence_mismatches`` (a word
        one side keeps and the other drops).
    """
    import numpy as np

    from zoo.data.corpora.cmu_mosei.align import FEATURE_FILES, align_to_reference, iter_aligned_videos
    from zoo.data.corpora.cmu_mosei.csd import ComputationalSequence

    ids = json.loads((root / "folds.json").read_text())["train"]
    rows = _word_rows(root, ids)
    out = {}
    tally = {"words": 0, "max_abs_diff": 0.0, "max_abs_value": 0.0, "sdk_nonfinite_words": 0, "presence_mismatches": 0}
    dataset = sdk_align(root, sdk)
    words = {}
    for video in iter_aligned_videos(root, ids, FEATURES, use_cache=False, weighting="uniform"):
        words[video.video_id] = video.word_intervals
        for name in FEATURES[1:]:
            _diff(dataset, video.video_id, rows[video.video_id], name, video.features[name], video.present[name], tally)
    out["float32"] = tally
    del dataset
    exact = float64_copy(root, work)
    tally = {"words": 0, "max_abs_diff": 0.0, "max_abs_value": 0.0, "sdk_nonfinite_words": 0, "presence_mismatches": 0}
    dataset = sdk_align(exact, sdk)
    for name in FEATURES[1:]:
        with ComputationalSequence(exact / FEATURE_FILES[name]) as seq:
            for v in ids:
                x, intervals = seq.read(v, dtype=np.float64)
                aligned, present, _ = align_to_reference(words[v], intervals, x, "uniform", dtype=np.float64)
                _diff(dataset, v, rows[v], name, aligned, present, tally)
    out["float64"] = tally
    return out


def run_subprocess(root: Path, mode: str, sdk: str | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(root), mode]
    if sdk:
        cmd += ["--sdk", sdk]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(results: list[dict]) -> dict:
    """Per key, the median over rounds (the word count is the same in every round)."""
    import numpy as np

    return {k: float(np.median([r[k] for r in results])) if k != "words" else results[0][k] for k in results[0]}


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--sdk", help=f"folder holding the SDK's mmsdk package (default ${SDK_ENV}, or installed)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per size and mode, alternating (medians shown)")
    parser.add_argument("--tiny", action="store_true", help="N = 2, 4, in-process, one round: a smoke run")
    parser.add_argument("--worker", nargs=2, metavar=("ROOT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = measure(Path(args.worker[0]), args.worker[1], args.sdk)
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return [result]
    sdk, why_not = find_sdk(args.sdk)
    sizes = [2, 4] if args.tiny else args.sizes
    modes = [m for m in MODES if m != "sdk" or sdk is not None]
    rows, checks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = write_corpus(Path(tmp) / f"n{n}", n)
            size_mb = sum(p.stat().st_size for p in root.glob("*.csd")) / 2**20
            if sdk is not None:
                checks.append({"videos": n, **compare_with_sdk(root, sdk, Path(tmp) / f"n{n}-float64")})
            runs: dict[str, list[dict]] = {mode: [] for mode in modes}
            for _ in range(1 if args.tiny else args.rounds):  # modes take turns, so drifting load hits each alike
                for mode in modes:
                    runs[mode].append(measure(root, mode, sdk) if args.tiny else run_subprocess(root, mode, sdk))
            for mode in modes:
                rows.append({"videos": n, "csd_mb": size_mb, "mode": mode, **_median(runs[mode])})
    print(
        f"CMU-MOSEI alignment benchmark ({platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()})"
    )
    print()
    print(
        "| videos | .csd MB | mode | words | seconds | CPU seconds | tracemalloc peak MB | RSS growth MB "
        "| SDK time / ours (wall) | SDK time / ours (CPU) | ours / SDK peak memory |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        base = next((s for s in rows if s["videos"] == r["videos"] and s["mode"] == "sdk"), None)
        speed = base["seconds"] / r["seconds"] if base else None
        cpu_speed = base["cpu_seconds"] / r["cpu_seconds"] if base else None
        memory = r["tracemalloc_mb"] / base["tracemalloc_mb"] if base else None
        print(
            f"| {r['videos']} | {r['csd_mb']:.1f} | {r['mode']} | {r['words']} | {r['seconds']:.3f} | "
            f"{r['cpu_seconds']:.3f} | {r['tracemalloc_mb']:.1f} | {_fmt(r.get('rss_growth_mb'), '.1f')} | "
            f"{_fmt(speed, '.1f')} | {_fmt(cpu_speed, '.1f')} | {_fmt(memory, '.3f')} |"
        )
    print()
    if sdk is None:
        print(f"sdk: skipped — {why_not}")
    else:
        print(
            "| videos | features | words compared | max abs diff (ours − SDK) | largest abs value | "
            "SDK words with -inf averaged in | kept by one side only |"
        )
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for c in checks:
            for kind in ("float32", "float64"):
                t = c[kind]
                print(
                    f"| {c['videos']} | {kind} | {t['words']} | {t['max_abs_diff']:.2e} | {t['max_abs_value']:.3g} | "
                    f"{t['sdk_nonfinite_words']} | {t['presence_mismatches']} |"
                )
    for r in rows:
        r["sdk"] = why_not or "run"
        r["check"] = next((c for c in checks if c["videos"] == r["videos"]), None)
    return rows


if __name__ == "__main__":
    main()
