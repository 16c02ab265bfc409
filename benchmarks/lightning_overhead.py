"""Lightning overhead: ``EmotionTask`` + ``pl.Trainer`` vs a bare PyTorch loop, per training step.

Both sides train the Sun 2020 network (``sun2020_lstm_selfattn``, the recipe's sizes) from the
same initial weights (same seed), with the same Adam optimiser, on the same pre-collated batches
(served by the same ``DataLoader`` over an in-memory list, so data loading is excluded), and are
timed by wall-clock stamps after every step, skipping warm-up steps. Rounds alternate between the
two sides to spread machine noise; the median per-step time of each side is reported.

The Lightning trainer is made lean: no progress bar, no logger, no checkpointing, no model
summary, no validation. For reference the script also times a trainer with Lightning's defaults
(progress bar, CSV logger, checkpointing, model summary).

Usage::

    python benchmarks/lightning_overhead.py            # 60 steps × 3 rounds, recipe sizes
    python benchmarks/lightning_overhead.py --tiny     # a few seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _perf_common import SUN_FEATURES, fit_step_seconds, header, median, quiet_lightning, synthetic_corpus, table
from torch.utils.data import DataLoader

from zoo.data import create_datamodule
from zoo.training.task import EmotionTask, build_optimizer


def _identity(batch: Any) -> Any:
    return batch


def make_batches(root: Path, features: list[str], n: int, batch_size: int, win_len: int) -> tuple[list, dict]:
    """``n`` training batches (cycled) and the datamodule's data spec."""
    dm = create_datamodule(
        "muse_car",
        root=root,
        features=features,
        win_len=win_len,
        hop_len=win_len // 2,
        batch_size=batch_size,
        use_cache=False,
    )
    dm.setup("fit")
    batches: list = []
    while len(batches) < n:
        batches += list(dm.train_dataloader())
    return batches[:n], dm.data_spec()


def build_task(spec: dict, model_args: dict, seed: int) -> EmotionTask:
    torch.manual_seed(seed)
    return EmotionTask("sun2020_lstm_selfattn", spec, model_args=model_args, optimizer={"name": "adam", "lr": 0.003})


def bare_step_seconds(task: EmotionTask, loader: DataLoader, warmup: int) -> list[float]:
    """The plain PyTorch loop: forward, masked CCC loss, backward, Adam step."""
    optimizer = build_optimizer(task.parameters(), {"name": "adam", "lr": 0.003})
    task.train()
    stamps = []
    for batch in loader:
        batch = task.normalize_batch(batch)  # the first op of EmotionTask's steps
        preds = task(batch["features"], batch["mask"])
        loss = task.loss_fn(preds.float(), batch["targets"], batch["mask"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        stamps.append(time.perf_counter())
    return list(np.diff(stamps[warmup:]))


def default_step_seconds(task: EmotionTask, loader: DataLoader, warmup: int, steps: int) -> list[float]:
    """A trainer with Lightning's defaults (progress bar, CSV logger, checkpoints, summary)."""
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger

    stamps: list[float] = []

    class Stamp(pl.Callback):
        def on_train_batch_end(self, *args: Any) -> None:
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_steps=steps,
            max_epochs=1,
            default_root_dir=tmp,
            logger=CSVLogger(tmp),
            limit_val_batches=0,
            num_sanity_val_steps=0,
            callbacks=[Stamp()],
        )
        trainer.fit(task, train_dataloaders=loader)
    return list(np.diff(stamps[warmup:]))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_lightning()
    tiny = args.tiny
    steps = args.steps or (6 if tiny else 60)
    rounds = args.rounds or (1 if tiny else 3)
    warmup = 2 if tiny else 10
    features = ["egemaps"] if tiny else SUN_FEATURES
    model_args = (
        {"hidden_size": 16, "num_heads": 2, "head_hidden_size": 16}
        if tiny
        else {"hidden_size": 64, "num_heads": 4, "head_hidden_size": 64, "dropout": 0.1}
    )
    print(header("lightning_overhead", sys.argv[1:] if argv is None else argv))
    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic_corpus(Path(tmp) / "muse", 0.25 if tiny else 1.0, features)
        batches, spec = make_batches(root, features, steps, 8 if tiny else 32, 50 if tiny else 200)
        loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_identity)
        bare, lean = [], []
        weights_differ = 0.0
        for r in range(rounds):
            t_bare = build_task(spec, model_args, seed=r)
            bare += bare_step_seconds(t_bare, loader, warmup)
            t_lean = build_task(spec, model_args, seed=r)
            lean += fit_step_seconds({"max_steps": steps, "max_epochs": 1}, t_lean, loader, warmup)
            weights_differ = max(
                weights_differ,
                max(float((a - b).abs().max()) for a, b in zip(t_bare.parameters(), t_lean.parameters())),
            )
        default = default_step_seconds(build_task(spec, model_args, 0), loader, warmup, steps)
    b = median(bare)
    rows = [
        {
            "loop": name,
            "ms/step (median)": 1e3 * median(x),
            "ms/step (mean)": 1e3 * float(np.mean(x)),
            "timed steps": len(x),
            "overhead vs bare (median)": "—" if name == "bare PyTorch" else f"{100 * (median(x) / b - 1):+.1f}%",
        }
        for name, x in (("bare PyTorch", bare), ("Lightning lean", lean), ("Lightning defaults", default))
    ]
    print(
        table(
            rows,
            f"{steps} steps ({warmup} warm-up excluded), batch of {len(batches[0]['ids'])} "
            f"windows × {batches[0]['mask'].shape[1]} frames, features {features}",
        )
    )
    print(
        f"\nmax |weight difference| bare vs Lightning after training: {weights_differ:.2e} "
        "(same init, data and optimiser)"
    )
    return rows


if __name__ == "__main__":
    main()
