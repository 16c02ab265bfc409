"""Sun et al. 2020 against the authors' own code, on identical data.

The authors released their training code (github.com/youcaiSUN/MuSe-Wild_2020). This script
takes a checkout of it (a folder holding their ``main.py``), writes **one** synthetic MuSe-CaR
corpus in the real MuSe 2020 layout, and trains the same network on it with both programs,
interleaved over several rounds:

* **theirs** — their ``main.py`` in a fresh process, run from a temporary copy of their code
  (never from this repository). The one patch applied to that copy: the ``verbose=`` argument of
  ``ReduceLROnPlateau``, which newer torch removed. Their ``config.py`` hard-codes the corpus
  path, so a small launcher sets its path constants before ``main.py`` runs (their own files
  stay as released).
* **ours** — ``zoo fit recipes/muse_car/sun2020_lstm_selfattn.yaml`` with every setting that
  matters passed as an override (so a change of the recipe does not change the comparison), in a
  fresh process, with one added callback that stamps the start of each epoch.

Same settings on both sides: features eGeMAPS + VGGFace (both z-normalised with train
statistics; no segment-id input), target arousal, train windows of 200 frames every 100 (the last
one of a recording the shorter rest, as their ``utils.segment_sample``: ``last_window=remainder``),
validation on whole devel recordings,
projection to 64, one self-attention layer of 4 heads, BiLSTM of 64 units per direction,
64-unit output MLP, CCC loss (per-window CCC averaged over the batch where our recipe has
``loss.aggregation``), Adam (lr 0.005), batch 256, no dropout, ReduceLROnPlateau (×0.5
after 5 epochs without a better val CCC), the same number of epochs, no early stopping, the same
seed per round. Both keep the best model on val CCC (they ``torch.save`` it, we checkpoint).

Reported per side (medians over rounds):

* **epoch s** — wall time from the start of one epoch to the start of the next (training steps,
  validation, checkpointing, logging), over epochs 2..N; epoch 1 separately (it warms up
  allocators, and for theirs starts DataLoader workers);
* **epoch CPU s** — the CPU time (user + system, loader workers included) the process spent in
  those epochs: on a machine shared with other work this is the steadier figure;
* **start-up s** — process start to the first epoch: imports, reading the corpus, building the
  model. Round 1 is cold (theirs: pandas parse + ``--cache`` pickle; ours: CSV parse + corpus
  cache); later rounds load their caches;
* **after training s** — from the end of the last epoch to process exit (theirs: nothing but
  deleting the model; ours: re-validating the best checkpoint, scoring test, writing predictions);
* **process CPU s** — user + system CPU time of the whole run (children included), a figure
  less sensitive than wall time to other load on the machine;
* **peak RSS MB** — the child's resident high-water mark from ``wait4`` (ru_maxrss; for theirs
  that is the largest single process, the main process or one of its 4 loader workers);
* **best val CCC** — the best epoch's arousal CCC on the devel partition (both compute it over
  all devel frames concatenated).

Usage::

    python benchmarks/vs_authors.py /path/to/MuSe-Wild_2020 [--rounds 3] [--epochs 8] [--scale 4]
    python benchmarks/vs_authors.py /path/to/MuSe-Wild_2020 --tiny     # seconds, a smoke test

Without the folder (or without its ``main.py``) the script prints why and exits with status 0
("skipped"), so it can sit in a test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _perf_common import ROOT, header, median, synthetic_corpus, table
from _vs_authors_common import (
    alternate_rounds,
    base_parser,
    epoch_ratio_line,
    epoch_summary,
    ours_child,
    run_child,
    run_ours_fit,
    side_summary,
)

RECIPE = ROOT / "recipes" / "muse_car" / "sun2020_lstm_selfattn.yaml"
FEATURES = ["egemaps", "vggface"]
TARGET = "arousal"
SKIP_STATUS = "skipped"
#: the one edit their code needs under current torch (ReduceLROnPlateau lost ``verbose``)
VERBOSE_ARG = re.compile(r",\s*verbose\s*=\s*True\s*\)")
#: their per-epoch separator (``print('=' * 50)``) and result lines
SEPARATOR = "=" * 50
VAL_LINE = re.compile(r"Epoch:\s*(\d+)\s*\|\s*\[Val\].*?\[CCC\]:\s*(-?[\d.]+|nan)")
BEST_LINE = re.compile(r"Best \[Val CCC\]:\s*(-?[\d.]+|nan)")

# Written next to their copied code: sets config.py's path constants (evaluated at import time
# from a hard-coded folder) and runs their main.py as ``__main__`` with the remaining arguments.
LAUNCHER = '''\
import os, runpy, sys
root = sys.argv.pop(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config
config.PATH_TO_MUSE_2020 = root
config.PATH_TO_ALIGNED_FEATURES = os.path.join(root, "c1_muse_wild/feature_segments/label_aligned")
config.PATH_TO_LABELS = os.path.join(root, "c1_muse_wild/label_segments")
config.PARTITION_FILE = os.path.join(root, "metadata/partition.csv")
sys.argv[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "main.py")
runpy.run_path(sys.argv[0], run_name="__main__")
'''


# --------------------------------------------------------------------------- their side
def authors_checkout(folder: str | Path | None) -> tuple[Path | None, str]:
    """``(path, "")`` for a usable checkout of their code, else ``(None, reason)``."""
    if not folder:
        return None, "no folder of the authors' code given"
    path = Path(folder).expanduser()
    missing = [
        n
        for n in ("main.py", "train.py", "utils.py", "config.py", "model.py", "dataset.py")
        if not (path / n).is_file()
    ]
    if missing:
        return None, f"{path} is not a checkout of youcaiSUN/MuSe-Wild_2020 (missing {', '.join(missing)})"
    return path, ""


def copy_authors_code(src: Path, dest: Path) -> Path:
    """Copy their ``*.py`` to ``dest``, drop ``verbose=True`` from ReduceLROnPlateau, add the launcher."""
    dest.mkdir(parents=True, exist_ok=True)
    for file in src.glob("*.py"):
        shutil.copy2(file, dest / file.name)
    train = dest / "train.py"
    text = train.read_text()
    patched, count = VERBOSE_ARG.subn(")", text)
    if count != 1:
        raise RuntimeError(
            f"{src / 'train.py'}: expected one `verbose=True)` argument of "
            f"ReduceLROnPlateau to drop, found {count}; is this the released code?"
        )
    train.write_text(patched)
    (dest / "run_with_root.py").write_text(LAUNCHER)
    return dest


def authors_command(code: Path, corpus: Path, epochs: int, seed: int, python: str) -> list[str]:
    """Their ``main.py`` with the shared settings (argument names from their ``parse_params``)."""
    return [
        python,
        "-u",
        str(code / "run_with_root.py"),
        str(corpus),
        "--feature_set",
        *FEATURES,
        "--emo_dim_set",
        TARGET,
        "--normalize",
        "--norm_opts",
        *(["y"] * len(FEATURES)),
        "--win_len",
        "200",
        "--hop_len",
        "100",
        "--d_rnn",
        "64",
        "--rnn_n_layers",
        "1",
        "--rnn_bi",
        "--rnn",
        "lstm",
        "--attn",
        "--n_layers",
        "1",
        "--n_heads",
        "4",
        "--d_out_fc",
        "64",
        "--rnn_dr",
        "0",
        "--attn_dr",
        "0",
        "--out_dr",
        "0",
        "--loss",
        "ccc",
        "--epochs",
        str(epochs),
        "--early_stop",
        str(epochs + 1),
        "--batch_size",
        "256",
        "--lr",
        "0.005",
        "--lr_scheduler",
        "plateau",
        "--lr_patience",
        "5",
        "--lr_factor",
        "0.5",
        "--seed",
        str(seed),
        "--n_seeds",
        "1",
        "--cache",
    ]


def parse_authors_output(lines: Sequence[tuple[float, str]]) -> dict[str, Any]:
    """Epoch boundaries and val CCCs from their stdout (``(seconds since start, line)`` pairs).

    Each epoch opens with a line of 50 ``=``; one more follows the last epoch.
    """
    marks = [t for t, line in lines if line.strip() == SEPARATOR]
    val = [float(m.group(2)) for _, line in lines if (m := VAL_LINE.search(line))]
    best = [float(m.group(1)) for _, line in lines if (m := BEST_LINE.search(line))]
    if not val or not best or len(marks) < len(val) + 1:
        tail = "\n".join(line for _, line in lines[-30:])
        raise RuntimeError(f"could not read epochs from the authors' output; its end:\n{tail}")
    epochs = len(val)
    return {"epoch_starts": marks[:epochs], "train_end": marks[epochs], "val_ccc": val, "best_val_ccc": best[0]}


# --------------------------------------------------------------------------- our side
def our_overrides(corpus: Path, cache: Path, out_dir: Path, epochs: int, seed: int, tiny: bool) -> list[str]:
    """``zoo fit`` overrides giving the authors' settings (independent of the recipe's values)."""
    out = [
        f"data.args.root={corpus}",
        f"data.args.features=[{','.join(FEATURES)}]",
        f"data.args.targets=[{TARGET}]",
        "data.args.win_len=200",
        "data.args.hop_len=100",
        "data.args.last_window=remainder",  # their segment_sample: the last window is the rest
        "data.args.batch_size=256",
        "data.args.normalize=true",
        "data.args.label_shift=0.0",
        f"data.args.cache_dir={cache}",
        "model.args.hidden_size=64",
        "model.args.num_heads=4",
        "model.args.num_attention_layers=1",
        "model.args.num_lstm_layers=1",
        "model.args.head_hidden_size=64",
        "model.args.dropout=0.0",
        "model.args.input_dropout=0.0",
        "model.args.feed_forward=false",
        "loss.name=ccc",
        "optimizer.name=adam",
        "optimizer.lr=0.005",
        "optimizer.weight_decay=0.0",
        "scheduler.name=plateau",
        "scheduler.monitor=val/ccc_mean",
        "scheduler.mode=max",
        "scheduler.factor=0.5",
        "scheduler.patience=5",
        f"trainer.max_epochs={epochs}",
        "trainer.accelerator=cpu",
        "trainer.precision=32",
        "trainer.enable_progress_bar=false",
        "early_stopping.enabled=false",
        "checkpoint.monitor=val/ccc_mean",
        "checkpoint.mode=max",
        f"seed={seed}",
        f"output_dir={out_dir}",
        "logger=csv",
    ]
    recipe_data = _recipe_keys("data", "args")
    # keys newer recipes carry: pin them to the shared settings (every set standardised, as
    # their --normalize --norm_opts y y; no segment-id input, as without their --add_seg_id)
    if "normalize_features" in recipe_data:
        out.append(f"data.args.normalize_features=[{','.join(FEATURES)}]")
    if "use_segment_id" in recipe_data:
        out.append("data.args.use_segment_id=false")
    if "aggregation" in _recipe_keys("loss") | _recipe_keys("loss", base=True):
        out.append("loss.aggregation=per_sequence")  # their CCC loss: per-window CCC, batch mean
    return out


def _recipe_keys(*path: str, base: bool = False) -> set[str]:
    """Keys under ``path`` in the Sun recipe (or in ``recipes/defaults.yaml`` with ``base``)."""
    from omegaconf import OmegaConf

    node: Any = OmegaConf.load(ROOT / "recipes" / "defaults.yaml" if base else RECIPE)
    for key in path:
        node = node.get(key) if node is not None else None
    return set(node.keys()) if node is not None else set()


def summarise(side: str, rnd: int, run: dict[str, Any], stamps: dict[str, Any]) -> dict[str, Any]:
    """Timing (:func:`epoch_summary`) plus the val CCC of each epoch and the best."""
    row = epoch_summary(side, rnd, run, stamps)
    row["val_ccc"] = stamps["val_ccc"]
    row["best_val_ccc"] = stamps.get("best_val_ccc", max(stamps["val_ccc"]))
    return row


def run_authors(code: Path, corpus: Path, work: Path, epochs: int, seed: int, rnd: int, python: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
    (work / "data").mkdir(exist_ok=True)  # their --cache pickles into ./data (config.DATA_FOLDER)
    run = run_child(
        authors_command(code, corpus, epochs, seed, python),
        work,
        env,
        work / f"authors-{rnd}.log",
        cpu_marker=lambda line: line.strip() == SEPARATOR,
    )
    stamps = parse_authors_output(run["lines"])
    n = len(stamps["epoch_starts"])
    if len(run["separator_cpu"]) >= n + 1:
        stamps["epoch_cpu"], stamps["train_end_cpu"] = run["separator_cpu"][:n], run["separator_cpu"][n]
    return summarise("authors' main.py", rnd, run, stamps)


def run_ours(corpus: Path, cache: Path, work: Path, epochs: int, seed: int, rnd: int, tiny: bool) -> dict[str, Any]:
    overrides = our_overrides(corpus, cache, work / "runs", epochs, seed, tiny)
    run, stamps = run_ours_fit(Path(__file__), RECIPE, overrides, work / "runs", rnd, ROOT)
    stamps["val_ccc"] = stamps.pop("val")
    results = json.loads((work / "runs" / f"ours-{rnd}" / "results.json").read_text())
    stamps["best_val_ccc"] = results["val/ccc_mean"]  # the best checkpoint, validated again
    return summarise("zoo fit", rnd, run, stamps)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> list[dict[str, Any]] | str:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_ours"]:  # the child process running `zoo fit`
        return str(ours_child(argv[1], argv[3:] if argv[2:3] == ["--"] else argv[2:], "val/ccc_mean"))
    parser = base_parser(__doc__.split("\n\n")[0], "youcaiSUN/MuSe-Wild_2020", epochs=8, corpus_sizes="24/8/8")
    parser.add_argument("--python", default=sys.executable, help="interpreter for their code")
    args = parser.parse_args(argv)
    code_src, reason = authors_checkout(args.authors)
    if code_src is None:
        print(f"vs_authors: skipped: {reason}. Fetch github.com/youcaiSUN/MuSe-Wild_2020 and pass its folder.")
        return SKIP_STATUS
    if args.tiny:
        args.rounds, args.epochs, args.scale = 1, 2, 0.25
    print(header("vs_authors", argv))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vs_authors-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = synthetic_corpus(
            work / "muse", args.scale, FEATURES, seed=0, base={"train": 24, "devel": 8, "test": 8}
        )
        code = copy_authors_code(code_src, work / "authors_code")

        def run_side(side: str, rnd: int) -> dict[str, Any]:
            if side == "authors":
                return run_authors(code, corpus, work, args.epochs, rnd, rnd, args.python)
            return run_ours(corpus, work / "cache", work, args.epochs, rnd, rnd, args.tiny)

        rows = alternate_rounds(args.rounds, run_side)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(rows, args))
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Per-round table and the side-by-side summary (medians over rounds)."""
    per_round = [
        {
            "side": r["side"],
            "round": r["round"],
            "start-up s": r["startup_s"],
            "epoch 1 s": r["epoch_s"][0],
            "epoch s (2..N, median)": median(r["epoch_s"][1:] or r["epoch_s"]),
            "epoch CPU s (2..N, median)": median(r["epoch_cpu_s"][1:] or r["epoch_cpu_s"]),
            "after training s": r["after_s"],
            "process CPU s": r["cpu_s"],
            "peak RSS MB": r["maxrss_mb"],
            "best val CCC": r["best_val_ccc"],
        }
        for r in rows
    ]
    summary = side_summary(
        rows,
        lambda mine: {
            "epoch 1 s": median([r["epoch_s"][0] for r in mine]),
            "start-up s (cold)": mine[0]["startup_s"],
            "start-up s (warm)": median([r["startup_s"] for r in mine[1:]]) if len(mine) > 1 else float("nan"),
            "after training s": median([r["after_s"] for r in mine]),
            "best val CCC (median)": median([r["best_val_ccc"] for r in mine]),
        },
    )
    ratio, theirs, ours = epoch_ratio_line(summary)
    lines = [
        table(
            per_round,
            f"per round (scale {args.scale:g}×, {args.epochs} epochs, batch 256, "
            f"features {' + '.join(FEATURES)}, target {TARGET})",
        ),
        table(summary, "side by side (medians over rounds)"),
        f"{ratio}; best val CCC ours − theirs: {ours['best val CCC (median)'] - theirs['best val CCC (median)']:+.4f}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    result = main()
    if isinstance(result, str) and result not in (SKIP_STATUS,):
        sys.exit(int(result))
