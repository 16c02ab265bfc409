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

``--model`` picks the network: ``sun2020`` (default; MuSe-CaR features, windows of 200) or
``tzirakis2017_visual`` (the Tzirakis et al. 2017 visual path: ResNet-50 on 96×96 face crops of
synthetic RECOLA video, windows of 150 frames, batch 2, randomly initialised — the weights do not
change the speed). ``--skip-ddp`` times precision only. ``benchmarks/gpu_check.sh`` runs both
models on a GPU machine within 10 minutes.

Usage::

    python benchmarks/precision_devices.py                      # CPU
    python benchmarks/precision_devices.py --accelerator gpu    # on a GPU machine
    python benchmarks/precision_devices.py --model tzirakis2017_visual --accelerator gpu
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

import torch
from _perf_common import ROOT, SUN_FEATURES, fit_step_seconds, header, median, quiet_lightning, synthetic_corpus, table
from lightning_overhead import _identity, build_task, make_batches
from torch.utils.data import DataLoader

MODELS = ("sun2020", "tzirakis2017_visual")


def settings(tiny: bool, model: str = "sun2020", steps: int | None = None) -> dict:
    if model == "tzirakis2017_visual":
        return {
            "model": model,
            "features": ["video"],
            "model_args": (
                {
                    "backbone": "resnet18",
                    "pretrained_path": None,
                    "hidden_size": 16,
                    "num_lstm_layers": 2,
                    "augment": True,
                }
                if tiny
                else {
                    "backbone": "resnet50",
                    "pretrained_path": None,
                    "feature_dim": 640,
                    "hidden_size": 256,
                    "num_lstm_layers": 2,
                    "augment": True,
                    "dropout": 0.5,
                }
            ),
            "steps": steps or (4 if tiny else 30),
            "warmup": 2 if tiny else 5,
            "batch": 2,
            "win": 8 if tiny else 150,
            "face": 32 if tiny else 96,
        }
    return {
        "model": "sun2020",
        "features": ["egemaps"] if tiny else SUN_FEATURES,
        "model_args": (
            {"hidden_size": 16, "num_heads": 2, "head_hidden_size": 16}
            if tiny
            else {"hidden_size": 64, "num_heads": 4, "head_hidden_size": 64, "dropout": 0.1}
        ),
        "steps": steps or (6 if tiny else 40),
        "warmup": 2 if tiny else 8,
        "batch": 8 if tiny else 32,
        "win": 50 if tiny else 200,
        "scale": 0.25 if tiny else 1.0,
    }


def write_corpus(folder: Path, cfg: dict) -> Path:
    """The synthetic corpus the model reads (MuSe-CaR features, or RECOLA with video)."""
    if cfg["model"] == "tzirakis2017_visual":
        from zoo.data.corpora.recola.synthetic import write_synthetic_recola

        return write_synthetic_recola(
            folder,
            n_per_partition=1,
            duration_s=20.0 if cfg["win"] < 50 else 40.0,
            video_size=2 * cfg["face"],
            feature_sets=(),
        )
    return synthetic_corpus(folder, cfg["scale"], cfg["features"])


def model_batches(root: Path, cfg: dict) -> tuple[list, dict]:
    """``cfg["steps"]`` pre-collated training batches and the data spec."""
    if cfg["model"] == "tzirakis2017_visual":
        from zoo.data import create_datamodule

        dm = create_datamodule(
            "recola",
            root=root,
            mode="raw",
            features=["video"],
            face_size=cfg["face"],
            win_len=cfg["win"],
            hop_len=cfg["win"] // 2,
            batch_size=cfg["batch"],
            use_cache=False,
            num_workers=0,
        )
        dm.setup("fit")
        batches: list = []
        while len(batches) < cfg["steps"]:
            batches += list(dm.train_dataloader())
        return batches[: cfg["steps"]], dm.data_spec()
    return make_batches(root, cfg["features"], cfg["steps"], cfg["batch"], cfg["win"])


def model_task(spec: dict, cfg: dict, seed: int):
    if cfg["model"] == "tzirakis2017_visual":
        from zoo.training.task import EmotionTask

        torch.manual_seed(seed)
        return EmotionTask(
            "tzirakis2017_visual", spec, model_args=cfg["model_args"], optimizer={"name": "adam", "lr": 1e-4}
        )
    return build_task(spec, cfg["model_args"], seed=seed)


def ddp_worker(
    root: str, devices: int, accelerator: str, tiny: bool, model: str = "sun2020", steps: int | None = None
) -> dict:
    """One Lightning run with ``devices`` processes; rank 0 returns (and prints) its step time."""
    quiet_lightning()
    cfg = settings(tiny, model, steps)
    threads = torch.get_num_threads()
    if accelerator == "cpu" and devices > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // devices))
    batches, spec = model_batches(Path(root), cfg)
    loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
    task = model_task(spec, cfg, seed=0)
    kw = {"max_steps": cfg["steps"], "max_epochs": 1, "accelerator": accelerator, "devices": devices}
    if devices > 1:
        kw["strategy"] = "ddp"
    times = fit_step_seconds(kw, task, loader, cfg["warmup"])
    result = {"step_s": median(times), "threads": torch.get_num_threads()}
    torch.set_num_threads(threads)
    if devices > 1 and int(os.environ.get("LOCAL_RANK", "0")) == 0:
        print(json.dumps(result))
    return result


def run_ddp(
    root: Path, devices: int, accelerator: str, tiny: bool, model: str = "sun2020", steps: int | None = None
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__)),
        "--_ddp",
        str(root),
        str(devices),
        "--accelerator",
        accelerator,
        "--model",
        model,
    ]
    if steps:
        cmd += ["--steps", str(steps)]
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
    parser.add_argument("--model", default="sun2020", choices=MODELS)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default 40 / 30)")
    parser.add_argument("--skip-ddp", action="store_true", help="time precision only")
    parser.add_argument("--_ddp", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._ddp:
        ddp_worker(args._ddp[0], int(args._ddp[1]), args.accelerator, args.tiny, args.model, args.steps)
        return []
    quiet_lightning()
    cfg = settings(args.tiny, args.model, args.steps)
    rounds = args.rounds or (1 if args.tiny else 3)
    precisions = ["32", "bf16-mixed"] if args.accelerator == "cpu" else ["32", "16-mixed", "bf16-mixed"]
    print(header("precision_devices", sys.argv[1:] if argv is None else argv))
    with tempfile.TemporaryDirectory() as tmp:
        root = write_corpus(Path(tmp) / "corpus", cfg)
        batches, spec = model_batches(root, cfg)
        loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
        times: dict[str, list[float]] = {p: [] for p in precisions}
        for r in range(rounds):
            for precision in precisions:
                task = model_task(spec, cfg, seed=r)
                kw = {
                    "max_steps": cfg["steps"],
                    "max_epochs": 1,
                    "precision": precision,
                    "accelerator": args.accelerator,
                }
                times[precision] += fit_step_seconds(kw, task, loader, cfg["warmup"])
        base = median(times["32"])
        rows = [
            {
                "model": cfg["model"],
                "precision": p,
                "accelerator": args.accelerator,
                "ms/step (median)": 1e3 * median(t),
                "speed-up vs 32": base / median(t),
            }
            for p, t in times.items()
        ]
        print(
            table(
                rows,
                f"precision ({cfg['steps']} steps × {rounds} rounds, batch {cfg['batch']} × "
                f"{cfg['win']} frames, features {cfg['features']})",
            )
        )
        if args.skip_ddp:
            return rows
        drows = []
        for devices in (1, args.devices):
            res = (
                ddp_worker(str(root), 1, args.accelerator, args.tiny, args.model, args.steps)
                if devices == 1
                else run_ddp(root, devices, args.accelerator, args.tiny, args.model, args.steps)
            )
            drows.append(
                {
                    "model": cfg["model"],
                    "processes": devices,
                    "strategy": "ddp" if devices > 1 else "single",
                    "threads/process": res["threads"],
                    "ms/step (median)": 1e3 * res["step_s"],
                    "windows/s": devices * cfg["batch"] / res["step_s"],
                }
            )
        for r in drows:
            r["throughput vs 1 process"] = r["windows/s"] / drows[0]["windows/s"]
        print(table(drows, f"data-parallel throughput ({args.accelerator}, batch {cfg['batch']} per process)"))
    return rows + drows


if __name__ == "__main__":
    main()
