"""Test-suite time, serial against ``pytest-xdist``, measured so that other load does not decide.

On a shared machine the wall time of a test run mostly measures the other jobs. What a run
needs on an idle machine is bounded below by its **critical CPU**: the CPU time of the thread
everything waits for — each pytest process's main thread (the intra-op helper threads of torch
run beside it) plus the processes it starts and waits for (``zoo`` subprocesses, DDP ranks). This
script measures it from the kernel's own accounting (``/proc/self/task/<tid>/schedstat``:
on-CPU and run-queue time of the main thread; ``getrusage(RUSAGE_CHILDREN)`` for the waited-for
children), next to wall time and total CPU time:

* serial — ``pytest ARGS``: critical CPU = main thread + children;
* ``-n 2 --dist loadgroup`` — two workers, one intra-op thread each (``tests/conftest.py``):
  critical CPU = the larger of the two workers' (main thread + children).

On an idle 2-core machine the serial run takes at least its critical CPU; the xdist run takes
about the larger worker's critical CPU when the two workers do not compete for a core, i.e. at
most two busy threads in all (true with one intra-op thread per worker). The ratio of the two is
the speed-up xdist can bring; the wall times show what happened on this machine.

As a pytest plugin (``-p suite_time`` with ``benchmarks/`` on ``sys.path``) it writes those
figures for each session — each xdist worker — to ``$SUITE_TIME_OUT/<worker>.json``.

Usage::

    python benchmarks/suite_time.py                              # -m "not slow", serial and -n 2
    python benchmarks/suite_time.py --pytest-args tests/ccc      # another selection
    python benchmarks/suite_time.py --tiny                       # tests/ccc/test_functional.py (the test)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_ENV = "SUITE_TIME_OUT"


# --------------------------------------------------------------------------- the plugin
def _schedstat(tid: int) -> tuple[float, float]:
    """(on-CPU seconds, run-queue seconds) of one thread of this process (Linux)."""
    fields = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write this process's figures (see the module docstring) when ``$SUITE_TIME_OUT`` is set."""
    folder = os.environ.get(OUT_ENV)
    if not folder:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        main_cpu, main_wait = _schedstat(threading.main_thread().native_id)
    except (OSError, IndexError, ValueError):
        main_cpu = main_wait = float("nan")
    figures = {
        "worker": worker,
        "cpu_s": own.ru_utime + own.ru_stime,
        "children_cpu_s": children.ru_utime + children.ru_stime,
        "main_thread_cpu_s": main_cpu,
        "main_thread_runqueue_s": main_wait,
        "tests": session.testscollected,
        "exitstatus": int(exitstatus),
    }
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{worker}.json").write_text(json.dumps(figures))


# --------------------------------------------------------------------------- the script
VARIANTS = {"serial": [], "xdist -n 2": ["-n", "2", "--dist", "loadgroup"]}


def run_variant(extra: list[str], pytest_args: list[str], work: Path) -> dict[str, Any]:
    """One pytest run; its wall time and the figures of each of its processes."""
    out = work / f"run-{time.monotonic_ns()}"
    env = {
        **os.environ,
        OUT_ENV: str(out),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "pytest", "-p", "suite_time", "-q", "-p", "no:cacheprovider", *extra, *pytest_args]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 5):  # 5: nothing collected
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    workers = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    parts = [w for w in workers if w["worker"] != "main"] or workers  # xdist: the controller only collects
    critical = max(w["main_thread_cpu_s"] + w["children_cpu_s"] for w in parts)
    # the xdist controller's children are its workers, counted once through their own figures
    controller = [w["cpu_s"] for w in workers if w["worker"] == "main" and len(workers) > 1]
    return {
        "wall_s": wall,
        "cpu_s": sum(w["cpu_s"] + w["children_cpu_s"] for w in parts) + sum(controller),
        "critical_cpu_s": critical,
        "processes": len(workers),
        "summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "",
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytest-args", default='-m "not slow"', help="the selection (default: -m 'not slow')")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternating")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--tiny", action="store_true", help="tests/ccc/test_functional.py, one round")
    args = parser.parse_args(argv)
    pytest_args = ["tests/ccc/test_functional.py"] if args.tiny else shlex.split(args.pytest_args)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _perf_common import header, table

    print(header("suite_time", list(argv if argv is not None else sys.argv[1:])))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(1 if args.tiny else args.rounds):
            for name in args.variants:
                rows.append({"variant": name, **run_variant(VARIANTS[name], pytest_args, Path(tmp))})
    serial = min((r["critical_cpu_s"] for r in rows if r["variant"] == "serial"), default=None)
    for row in rows:
        row["serial critical / this critical"] = serial / row["critical_cpu_s"] if serial else "-"
    print(table(rows, f"pytest {shlex.join(pytest_args)}"))
    return rows


if __name__ == "__main__":
    main()
