"""Self-supervised speech family: training speed and peak memory, frozen vs fine-tuned, 32 vs bf16-mixed.

The ``ssl_audio`` network (zoo/models/ssl.py) is trained through ``EmotionTask`` and a lean
``pl.Trainer`` on pre-made batches at a recipe's size (RECOLA: windows of 150 frames × 640
samples = 6 s of 16 kHz audio, batch 8), in four ways:

* ``fine-tune all`` — ``freeze=none``;
* ``fine-tune transformer`` — ``freeze=feature_encoder`` (the CNN front end frozen; the recipes' default);
* ``frozen`` — ``freeze=all``: the encoder runs forward in every step, only the layer weights
  and the head train;
* ``frozen, cached`` — ``freeze=all`` with the encoder's pooled hidden states read from the
  corpus cache (what ``zoo fit`` does for a frozen encoder): the steps see ``(B, T, L·H)``
  arrays and never run the encoder.

each under ``32`` and ``bf16-mixed``. Every configuration runs in its own subprocess, so the
peak resident memory (``ru_maxrss``) is that configuration's; the table gives it and its
increase over the process before the model was built. Windows per second = batch / median step
time after one warm-up step. ``--encoder base`` uses a WavLM-Base-shaped encoder (12 layers,
768 wide, 512-channel CNN; random weights: they do not change the speed), ``--encoder tiny``
the ``wavlm-tiny`` preset. The one-off cost of filling the cache (encoding every window once
without gradients) is reported per window, for the break-even against ``frozen``.

Usage::

    python benchmarks/ssl_encoder.py                   # WavLM-Base shape, recipe sizes (for a GPU)
    python benchmarks/ssl_encoder.py --batch 2 --steps 2   # WavLM-Base shape on a 2-core CPU (~15 min)
    python benchmarks/ssl_encoder.py --encoder tiny
    python benchmarks/ssl_encoder.py --batch 2 --steps 2 --modes "fine-tune transformer" frozen
    python benchmarks/ssl_encoder.py --tiny            # seconds (the test)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from _perf_common import ROOT, fit_step_seconds, header, median, quiet_lightning, table

MODES = {
    "fine-tune all": {"freeze": "none"},
    "fine-tune transformer": {"freeze": "feature_encoder"},
    "frozen": {"freeze": "all"},
    "frozen, cached": {"freeze": "all"},
}
PRECISIONS = ("32", "bf16-mixed")
BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "conv_dim": [512] * 7,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "feat_extract_norm": "group",
    "do_stable_layer_norm": False,
    "num_buckets": 320,
    "max_bucket_distance": 800,
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(config: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration (in this process) and measure it."""
    import torch

    quiet_lightning()
    warnings.filterwarnings("ignore")
    from zoo.training.task import EmotionTask

    torch.manual_seed(0)
    before = _rss_mib()
    frames, samples, batch = config["frames"], config["samples"], config["batch"]
    overrides = BASE if config["encoder"] == "base" else {}
    model_args = {
        "encoder": "wavlm-tiny",
        "encoder_overrides": overrides,
        "head": "bilstm",
        "max_chunk_seconds": 30.0,
        **MODES[config["mode"]],
    }
    spec = {
        "corpus": "recola",
        "level": "frame",
        "feature_dims": {"audio": samples},
        "target_names": ["arousal", "valence"],
    }
    task = EmotionTask("ssl_audio", spec, model_args=model_args, optimizer={"name": "adamw", "lr": 1e-4})
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(batch, frames, samples, generator=generator) * 0.1
    mask = torch.ones(batch, frames, dtype=torch.bool)
    encode_s = None
    if config["mode"] == "frozen, cached":
        if config.get("accelerator") == "gpu":
            task.net.audio.cuda()  # encode on the device (the trainer moves the rest)
        encoder = task.net.feature_encoders()["audio"]
        t0 = time.perf_counter()
        cached = [torch.from_numpy(encoder(audio[b].numpy())) for b in range(batch)]
        encode_s = (time.perf_counter() - t0) / batch
        audio = torch.stack(cached)
    batches = [
        {
            "features": {"audio": audio},
            "targets": torch.randn(batch, frames, 2, generator=generator),
            "mask": mask,
            "ids": [f"r{b}" for b in range(batch)],
        }
    ] * (config["warmup"] + config["steps"] + 1)
    from lightning_overhead import _identity
    from torch.utils.data import DataLoader

    loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
    trainer_kw = {"precision": config["precision"], "max_epochs": 1, "accelerator": config.get("accelerator", "cpu")}
    steps = fit_step_seconds(trainer_kw, task, loader, warmup=config["warmup"])
    step = median(steps)
    gpu = {"peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20} if config.get("accelerator") == "gpu" else {}
    return {
        "mode": config["mode"],
        "precision": config["precision"],
        "step_s": step,
        "windows_per_s": batch / step,
        "peak_rss_mib": _rss_mib(),
        "peak_increase_mib": _rss_mib() - before,
        "encode_s_per_window": encode_s,
        "trainable": sum(p.numel() for p in task.parameters() if p.requires_grad),
        **gpu,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=("base", "tiny"), default="base")
    parser.add_argument("--tiny", action="store_true", help="seconds: tiny encoder, 1 s windows, batch 2")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="windows per batch (the recipes: 8)")
    parser.add_argument("--accelerator", choices=("cpu", "gpu"), default="cpu", help="gpu adds 16-mixed")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="a subset of the modes")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(json.loads(args.child))))
        return []
    argv = list(argv if argv is not None else sys.argv[1:])
    print(header("ssl_encoder", argv))
    sizes = (
        {"frames": 25, "samples": 640, "batch": 2, "encoder": "tiny", "steps": 2, "warmup": 1}
        if args.tiny
        else {
            "frames": 150,
            "samples": 640,
            "batch": args.batch,
            "encoder": args.encoder,
            "steps": args.steps,
            "warmup": 1,
        }
    )
    rows = []
    precisions = PRECISIONS + (("16-mixed",) if args.accelerator == "gpu" else ())
    for mode in args.modes:
        for precision in precisions:
            config = {**sizes, "mode": mode, "precision": precision, "accelerator": args.accelerator}
            done = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(config)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )
            if done.returncode:
                raise RuntimeError(f"{mode}/{precision} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    reference = next((r for r in rows if r["mode"] == "fine-tune all" and r["precision"] == "32"), None)
    key = "speed_vs_finetune_all_32" if reference else "speed_vs_first_row"
    for row in rows:
        row[key] = row["windows_per_s"] / (reference or rows[0])["windows_per_s"]
    shown = [
        {k: v for k, v in row.items() if k != "encode_s_per_window" or v is not None}
        | {"encode_s_per_window": row["encode_s_per_window"] if row["encode_s_per_window"] is not None else "-"}
        for row in rows
    ]
    print(
        table(
            shown,
            f"{sizes['encoder']} encoder, windows of {sizes['frames']} × {sizes['samples']} samples, batch {sizes['batch']}",
        )
    )
    if args.out:
        args.out.write_text(json.dumps({"sizes": sizes, "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
