"""Precision and devices: step time of ``32`` vs mixed precision, and DDP throughput vs 1 process.

1. **Precision** — the Sun 2020 network (recipe sizes) trained through ``EmotionTask`` and a lean
   ``pl.Trainer`` on the same pre-collated batches, once per precision, rounds alternating:
   on CPU ``32`` vs ``bf16-mixed``; with ``--accelerator gpu`` (the same script, unchanged)
   ``32`` vs ``16-mixed`` vs ``bf16-mixed``. The median step time after warm-up is reported.
2. **Devices** — ``devices=2`` with ``strategy="ddp"`` (gloo on CPU, NCCL on GPU) vs one process,
   the DDP run in a subprocess (Lightning's DDP launcher re-executes that command per rank).
   Each rank trains on its own copy of the batches; throughput = ranks × batch / step time (in
   windows per second). On CPU, each of the ``N`` processes gets ``cores // N`` intra-op threads
   so the processes do not oversubscribe the cores; the single process keeps all of them.

Usage::

    python benchmarks/precision_devices.py                      # CPU
    python benchmarks/precision_devices.py --accelerator gpu    # on a GPU machine
    python benchmarks/precision_devices.py --tiny               # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _perf_common import (ROOT, SUN_FEATURES, fit_step_seconds, header, median, quiet_lightning,
                     synthetic_corpus, table)

import torch
from torch.utils.data import DataLoader

from lightning_overhead import _identity, build_task, make_batches


def settings(tiny: bool) -> dict:
    return {
        "features": ["egemaps"] if tiny else SUN_FEATURES,
        "model_args": ({"hidden_size": 16, "num_heads": 2, "head_hidden_size": 16} if tiny else
                       {"hidden_size": 64, "num_heads": 4, "head_hidden_size": 64, "dropout": 0.1}),
        "steps": 6 if tiny else 40, "warmup": 2 if tiny else 8,
        "batch": 8 if tiny else 32, "win": 50 if tiny else 200, "scale": 0.25 if tiny else 1.0,
    }


def ddp_worker(root: str, devices: int, accelerator: str, tiny: bool) -> dict:
    """One Lightning run with ``devices`` processes; rank 0 returns (and prints) its step time."""
    quiet_lightning()
    cfg = settings(tiny)
    threads = torch.get_num_threads()
    if accelerator == "cpu" and devices > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // devices))
    batches, spec = make_batches(Path(root), cfg["features"], cfg["steps"], cfg["batch"], cfg["win"])
    loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
    task = build_task(spec, cfg["model_args"], seed=0)
    kw = {"max_steps": cfg["steps"], "max_epochs": 1, "accelerator": accelerator, "devices": devices}
    if devices > 1:
        kw["strategy"] = "ddp"
    times = fit_step_seconds(kw, task, loader, cfg["warmup"])
    result = {"step_s": median(times), "threads": torch.get_num_threads()}
    torch.set_num_threads(threads)
    if devices > 1 and int(os.environ.get("LOCAL_RANK", "0")) == 0:
        print(json.dumps(result))
    return result


def run_ddp(root: Path, devices: int, accelerator: str, tiny: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--_ddp", str(root), str(devices), "--accelerator", accelerator]
    if tiny:
        cmd.append("--tiny")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"DDP subprocess failed:\n{out.stderr[-3000:]}")
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--devices", type=int, default=2, help="processes of the DDP run")
    parser.add_argument("--_ddp", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._ddp:
        ddp_worker(args._ddp[0], int(args._ddp[1]), args.accelerator, args.tiny)
        return []
    quiet_lightning()
    cfg = settings(args.tiny)
    rounds = args.rounds or (1 if args.tiny else 3)
    precisions = ["32", "bf16-mixed"] if args.accelerator == "cpu" else ["32", "16-mixed", "bf16-mixed"]
    print(header("precision_devices", sys.argv[1:] if argv is None else argv))
    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic_corpus(Path(tmp) / "muse", cfg["scale"], cfg["features"])
        batches, spec = make_batches(root, cfg["features"], cfg["steps"], cfg["batch"], cfg["win"])
        loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
        times: dict[str, list[float]] = {p: [] for p in precisions}
        for r in range(rounds):
            for precision in precisions:
                task = build_task(spec, cfg["model_args"], seed=r)
                kw = {"max_steps": cfg["steps"], "max_epochs": 1, "precision": precision,
                      "accelerator": args.accelerator}
                times[precision] += fit_step_seconds(kw, task, loader, cfg["warmup"])
        base = median(times["32"])
        rows = [{"precision": p, "accelerator": args.accelerator, "ms/step (median)": 1e3 * median(t),
                 "speed-up vs 32": base / median(t)} for p, t in times.items()]
        print(table(rows, f"precision ({cfg['steps']} steps × {rounds} rounds, batch {cfg['batch']} × "
                          f"{cfg['win']} frames, features {cfg['features']})"))
        drows = []
        for devices in (1, args.devices):
            res = (ddp_worker(str(root), 1, args.accelerator, args.tiny) if devices == 1
                   else run_ddp(root, devices, args.accelerator, args.tiny))
            drows.append({"processes": devices, "strategy": "ddp" if devices > 1 else "single",
                          "threads/process": res["threads"], "ms/step (median)": 1e3 * res["step_s"],
                          "windows/s": devices * cfg["batch"] / res["step_s"]})
        for r in drows:
            r["throughput vs 1 process"] = r["windows/s"] / drows[0]["windows/s"]
        print(table(drows, f"data-parallel throughput ({args.accelerator}, batch {cfg['batch']} per process)"))
    return rows + drows


if __name__ == "__main__":
    main()
