"""Scaling: epoch time vs corpus size, and step time vs window length (self-attention's L² term).

1. **Corpus size** — one training epoch (lean Lightning trainer, Sun 2020 network, windows of
   200 frames every 100, batch 32, eGeMAPS + VGGish) on synthetic MuSe-CaR corpora of 0.5×–4×
   the default size. Epoch time should be linear in the number of frames: the table gives
   seconds per 1 000 frames and the deviation from a least-squares line through the origin's
   neighbourhood (``a + b·frames``).
2. **Window length** — one training step (forward, backward, Adam) on a batch of 8 windows of
   ``L`` frames, for the self-attention + BiLSTM network and the same network without its
   attention layer (``num_attention_layers=0``). Per window, the LSTM costs ∝ L and self-attention ∝ L², so at a fixed
   number of frames per epoch the attention model's cost per frame grows with L. The script fits
   ``t(L) = a + b·L + c·L²`` and reports the share of the quadratic term.

Usage::

    python benchmarks/scaling.py          # minutes
    python benchmarks/scaling.py --tiny   # seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from _perf_common import header, lean_trainer, median, quiet_lightning, synthetic_corpus, table

from zoo.ccc import CCCLoss
from zoo.data import create_datamodule
from zoo.models.registry import create_model
from zoo.training.task import EmotionTask

FEATURES = ["egemaps", "vggish"]


class EpochTimer(pl.Callback):
    """Wall time of the (single) training epoch."""

    seconds = 0.0

    def on_train_epoch_start(self, *args: Any) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, *args: Any) -> None:
        self.seconds = time.perf_counter() - self._t0


def epoch_seconds(root: Path, hidden: int) -> tuple[float, int, int]:
    """``(epoch seconds, train frames, windows)`` of one epoch on the corpus at ``root``."""
    dm = create_datamodule(
        "muse_car",
        root=root,
        features=FEATURES,
        win_len=200,
        hop_len=100,
        batch_size=32,
        cache_dir=root.parent / "cache",
    )
    dm.setup("fit")
    torch.manual_seed(0)
    task = EmotionTask(
        "sun2020_lstm_selfattn",
        dm.data_spec(),
        model_args={"hidden_size": hidden, "num_heads": 4, "head_hidden_size": hidden},
        optimizer={"name": "adam", "lr": 0.003},
    )
    timer = EpochTimer()
    lean_trainer(max_epochs=1, callbacks=[timer]).fit(task, datamodule=dm)
    return timer.seconds, dm.total_frames("train"), len(dm.train_dataloader().dataset)


def step_seconds(attention_layers: int, win_len: int, batch: int, hidden: int, repeats: int) -> float:
    """Median seconds of one training step on random ``(batch, win_len, 88)`` inputs."""
    torch.manual_seed(0)
    net = create_model(
        "sun2020_lstm_selfattn",
        feature_dims={"egemaps": 88},
        num_targets=2,
        hidden_size=hidden,
        num_heads=4,
        head_hidden_size=hidden,
        num_attention_layers=attention_layers,
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = CCCLoss()
    features = {"egemaps": torch.randn(batch, win_len, 88)}
    mask = torch.ones(batch, win_len, dtype=torch.bool)
    target = torch.randn(batch, win_len, 2)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        loss = loss_fn(net(features, mask), target, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i:  # the first step warms up
            times.append(time.perf_counter() - t0)
    return median(times)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    quiet_lightning()
    tiny = args.tiny
    print(header("scaling", sys.argv[1:] if argv is None else argv))
    scales = [0.125, 0.25] if tiny else [0.5, 1, 2, 4]
    hidden = 16 if tiny else 64
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        roots = [synthetic_corpus(Path(tmp) / f"x{s:g}" / "muse", s, FEATURES) for s in scales]
        epoch_seconds(roots[0], hidden)  # warm-up (first-call costs)
        for scale, root in zip(scales, roots):
            seconds, frames, windows = epoch_seconds(root, hidden)
            rows.append(
                {
                    "scale": f"{scale:g}×",
                    "train frames": frames,
                    "windows": windows,
                    "epoch s": seconds,
                    "s per 1k frames": 1e3 * seconds / frames,
                }
            )
    frames = np.array([r["train frames"] for r in rows], float)
    secs = np.array([r["epoch s"] for r in rows])
    slope, intercept = np.polyfit(frames, secs, 1)
    for r, f, s in zip(rows, frames, secs):
        r["linear fit s"] = intercept + slope * f
        r["deviation"] = f"{100 * (s / (intercept + slope * f) - 1):+.1f}%"
    print(table(rows, f"epoch time vs corpus size (Sun 2020, hidden {hidden}, features {FEATURES})"))
    print(f"\nlinear fit: epoch s = {intercept:.3g} + {1e3 * slope:.3g} × (frames / 1000)")

    lengths = [25, 50, 100] if tiny else [50, 100, 200, 400, 800, 1600]
    batch, repeats = (4, 2) if tiny else (8, 5)
    lrows = []
    for win in lengths:
        attn = step_seconds(1, win, batch, hidden, repeats)
        lstm = step_seconds(0, win, batch, hidden, repeats)
        lrows.append(
            {
                "L (frames)": win,
                "self-attn+BiLSTM ms/step": 1e3 * attn,
                "without attention ms/step": 1e3 * lstm,
                "self-attn+BiLSTM µs/frame": 1e6 * attn / (batch * win),
                "without attention µs/frame": 1e6 * lstm / (batch * win),
            }
        )
    L = np.array(lengths, float)
    t = np.array([r["self-attn+BiLSTM ms/step"] for r in lrows])
    c, b, a = np.polyfit(L, t, 2)
    for r, win in zip(lrows, L):
        fit = a + b * win + c * win**2
        r["quadratic share of fit"] = f"{100 * c * win**2 / fit:.0f}%"
    print(table(lrows, f"training step vs window length (batch {batch}, hidden {hidden}, eGeMAPS 88-d)"))
    print(f"\nfit (self-attn+BiLSTM): t(L) ms = {a:.3g} + {b:.3g}·L + {c:.3g}·L²")
    return rows + lrows


if __name__ == "__main__":
    main()
