"""What the side-by-side benchmarks against authors' code share (``vs_authors.py`` for Sun et al.
2020, ``vs_authors_williams.py`` for Williams et al. 2018): running a child process with stamped
output lines, reading CPU time, stamping our own epochs inside ``zoo fit``, and the per-round
timing summary.

Per round and side the summary holds:

* ``epoch_s`` — wall time from the start of one epoch to the start of the next (training steps,
  validation, checkpointing, logging), the last epoch ending at the end of training;
* ``epoch_cpu_s`` — the CPU time (user + system, children included) the process spent in those
  epochs: on a machine shared with other work the steadier figure;
* ``startup_s`` — process start to the first epoch (imports, reading the corpus, the model);
* ``after_s`` — from the end of training to the exit of the process;
* ``maxrss_mb`` — the child's resident high-water mark (``ru_maxrss`` from ``wait4``);
* ``cpu_s`` — user + system CPU of the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median
from typing import Any

__all__ = [
    "alternate_rounds",
    "base_parser",
    "epoch_ratio_line",
    "epoch_summary",
    "side_summary",
    "ours_child",
    "process_cpu_seconds",
    "run_child",
    "self_cpu_seconds",
]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (``/proc/<pid>/stat``), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    # after the command name: state is field 3, utime/stime/cutime/cstime are fields 14-17
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_child(
    cmd: list[str], cwd: Path, env: dict[str, str], log: Path, cpu_marker: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """Run ``cmd``; return its stdout lines stamped with wall time, start/end time and ru_maxrss.

    At each line for which ``cpu_marker`` is true the child's CPU time so far is read too
    (``separator_cpu``).

    Raises:
        RuntimeError: the child exits with an error (the end of its output is in the message).
    """
    t_start = time.time()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[tuple[float, str]] = []
    cpu: list[float] = []
    with open(log, "w") as fh:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.time(), line.rstrip("\n")))
            if cpu_marker is not None and cpu_marker(line):
                cpu.append(process_cpu_seconds(proc.pid))
            fh.write(line)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    t_end = time.time()
    if proc.returncode != 0:
        tail = "\n".join(line for _, line in lines[-40:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited with {proc.returncode} (log {log}):\n{tail}")
    return {
        "lines": lines,
        "start": t_start,
        "end": t_end,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "separator_cpu": cpu,
    }


def epoch_summary(side: str, rnd: int, run: dict[str, Any], stamps: dict[str, Any]) -> dict[str, Any]:
    """Timing of one run from its epoch stamps (see the module docstring)."""
    starts = stamps["epoch_starts"]
    bounds = starts + [stamps["train_end"]]
    epochs = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    cpu_bounds = stamps.get("epoch_cpu", []) + [stamps.get("train_end_cpu", float("nan"))]
    epoch_cpu = (
        [b - a for a, b in zip(cpu_bounds[:-1], cpu_bounds[1:])]
        if len(cpu_bounds) == len(bounds)
        else [float("nan")] * len(epochs)
    )
    return {
        "side": side,
        "round": rnd,
        "epochs": len(epochs),
        "epoch_s": epochs,
        "epoch_cpu_s": epoch_cpu,
        "startup_s": starts[0] - run["start"],
        "after_s": run["end"] - stamps["train_end"],
        "maxrss_mb": run["maxrss_mb"],
        "cpu_s": run["cpu_s"],
    }


def ours_child(stamps_file: str, argv: list[str], monitor: str) -> int:
    """Run ``zoo fit`` in this process with an epoch-stamping callback; stamps go to a JSON file.

    Args:
        stamps_file: where the stamps are written (JSON): ``epoch_starts``, ``epoch_cpu``,
            ``val`` (the ``monitor`` value at each epoch's end), ``train_end``, ``train_end_cpu``.
        argv: the ``zoo`` command line (``fit RECIPE overrides...``).
        monitor: the logged metric stamped at the end of each epoch (e.g. ``val/ccc_mean``).
    """
    import pytorch_lightning as pl

    import zoo.runner.run
    from zoo.cli import main as zoo_main

    stamps: dict[str, Any] = {"epoch_starts": [], "epoch_cpu": [], "val": [], "train_end": None}

    class EpochStamps(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            stamps["epoch_starts"].append(time.time())
            stamps["epoch_cpu"].append(self_cpu_seconds())

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            value = trainer.callback_metrics.get(monitor)
            stamps["val"].append(float(value) if value is not None else float("nan"))

        def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            stamps["train_end"] = time.time()
            stamps["train_end_cpu"] = self_cpu_seconds()

    build_trainer = zoo.runner.run.build_trainer

    def stamped_build_trainer(cfg: Any, run_dir: Path, fitting: bool, extra_callbacks: Any = ()) -> pl.Trainer:
        stamping = [EpochStamps()] if fitting else []
        return build_trainer(cfg, run_dir, fitting, [*extra_callbacks, *stamping])

    zoo.runner.run.build_trainer = stamped_build_trainer
    code = zoo_main(argv)
    Path(stamps_file).write_text(json.dumps(stamps))
    return code


def run_ours_fit(
    script: Path, recipe: Path, overrides: list[str], runs: Path, rnd: int, root: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``zoo fit RECIPE OVERRIDES`` as run ``ours-<rnd>`` in a child of ``script`` (its ``--_ours``
    mode, :func:`ours_child`): the child's timing (:func:`run_child`) and its epoch stamps. The log
    and the stamps go to ``runs.parent``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "offline"}
    stamps_file = runs.parent / f"ours-{rnd}.json"
    cmd = [sys.executable, "-u", str(script), "--_ours", str(stamps_file), "--", "fit", str(recipe), *overrides]
    run = run_child([*cmd, f"run_name=ours-{rnd}"], root, env, runs.parent / f"ours-{rnd}.log")
    return run, json.loads(stamps_file.read_text())


# --------------------------------------------------------------------------- the side-by-side run
def base_parser(description: str, authors_repo: str, epochs: int, corpus_sizes: str) -> argparse.ArgumentParser:
    """The options both benchmarks take: the authors' folder, rounds, epochs, scale, --keep, --tiny."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("authors", nargs="?", help=f"folder of the authors' code ({authors_repo})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--scale", type=float, default=4.0, help=f"× the synthetic corpus's {corpus_sizes} videos")
    parser.add_argument("--keep", default=None, help="keep logs and runs in this folder")
    parser.add_argument("--tiny", action="store_true", help="1 round, 2 epochs, a small corpus")
    return parser


def alternate_rounds(rounds: int, run_side: Callable[[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``run_side(side, round)`` for both sides each round, the first side alternating (so that
    neither always runs on a warmer machine); each row is printed to stderr as it comes."""
    rows: list[dict[str, Any]] = []
    for rnd in range(1, rounds + 1):
        for side in ("authors", "ours") if rnd % 2 else ("ours", "authors"):
            rows.append(run_side(side, rnd))
            print(f"round {rnd} {rows[-1]['side']}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    return rows


def _later_epochs(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [e for r in rows for e in (r[key][1:] or r[key])]


def side_summary(
    rows: Sequence[dict[str, Any]], extra: Callable[[list[dict[str, Any]]], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per side: rounds, median epoch wall and CPU time (epochs 2..N), peak RSS, then ``extra(rows of the side)``."""
    summary = []
    for side in dict.fromkeys(r["side"] for r in rows):
        mine = [r for r in rows if r["side"] == side]
        summary.append(
            {
                "side": side,
                "rounds": len(mine),
                "epoch s (median)": median(_later_epochs(mine, "epoch_s")),
                "epoch CPU s (median)": median(_later_epochs(mine, "epoch_cpu_s")),
                **extra(mine),
                "peak RSS MB": max(r["maxrss_mb"] for r in mine),
            }
        )
    return summary


def epoch_ratio_line(summary: Sequence[dict[str, Any]]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``("our epoch time / theirs: …× wall, …× CPU (target ≤ 0.7)", theirs, ours)``."""
    theirs = next(s for s in summary if s["side"].startswith("authors"))
    ours = next(s for s in summary if s["side"] == "zoo fit")
    wall = ours["epoch s (median)"] / theirs["epoch s (median)"]
    cpu = ours["epoch CPU s (median)"] / theirs["epoch CPU s (median)"]
    return f"\nour epoch time / theirs: **{wall:.2f}×** wall, **{cpu:.2f}×** CPU (target ≤ 0.7)", theirs, ours
