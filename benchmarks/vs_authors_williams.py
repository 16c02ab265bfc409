"""Williams et al. 2018 against the authors' own Keras code, on identical data.

The authors released their MOSEI emotion system (github.com/rhoposit/MultimodalDNN,
``emotion_recognition.py``: a Keras ``Sequential`` BLSTM on word-aligned GloVe + COVAREP + FACET,
trained with the MAE loss). This script takes a checkout of it, writes **one** synthetic
CMU-MOSEI (``.csd`` files, the layout ``zoo`` reads), hands the same segments to their program in
the layout it reads, and trains both, interleaved over several rounds:

* **theirs** — their ``emotion_recognition.py all`` in a fresh process of a separate virtual
  environment with Keras 3 on the PyTorch backend (``--keras-env``; made by this script with
  ``pip install "keras>=3,<4"`` when absent; torch, NumPy and scikit-learn are this
  environment's, seen through a ``.pth`` file). It runs from a temporary copy of their code,
  never from this repository. Their script reads the corpus through the CMU-MultimodalDataSDK
  of 2018 (``mmdata.MOSEI().embeddings()/.covarep()/.facet()/.emotions()/.train()/.valid()``,
  ``Dataset.merge``, ``Dataset.align('embeddings')``), which no longer exists; the copy gets a
  small ``mmdata`` package that serves the synthetic corpus in that SDK's layout
  (``{modality: {video: {segment: [(start, end, vector), ...]}}}``, emotions
  ``[anger, disgust, fear, happy, sad, surprise]``), already aligned to the words by
  :mod:`zoo.data.corpora.cmu_mosei.align` — the SDK's overlap-weighted average — so both sides train on the
  same numbers (non-finite COVAREP values set to 0, as the zoo reader does). Patches to the copy,
  each checked to apply exactly once (:data:`PATCHES`): the imports of modules that were never
  released (``utils.parser_utils``, ``utils.storage``) and the unused ``segeval`` are dropped;
  ``tf.set_random_seed`` (TensorFlow 1) becomes ``keras.utils.set_random_seed``; the standard
  folds replace ``custom_split`` (the paper's Table 5 system was trained on them, §5.5); one
  configuration — ``run_experiment(30, 0.2, 2)``, the call their script names — replaces the
  parallel sweep; ``epochs`` comes from ``--epochs``; a callback stamps each epoch; the test
  predictions are saved; the result file is opened as text (Python 3).
* **ours** — ``zoo fit recipes/cmu_mosei/williams2018_blstm.yaml`` with every setting that matters
  passed as an override, in a fresh process, with a callback stamping each epoch.

Same on both sides: the three modalities, 30 words kept from each segment's end, COVAREP and
FACET divided by the train partition's largest magnitude, batch normalisation on the input, two
BLSTM layers of 64 units per direction with dropout 0.2 after each, Dense(100, ReLU), dropout,
Dense(6); MAE loss; Adam (lr 1e-3); batch 64; early stopping on the validation loss with patience
10; the same number of epochs; the same seed per round. Where the two differ it is the recipe's
documented reading of the paper (docs/models/williams2018.md): our output is bounded to [0, 3] at
prediction time (the paper's "bounded between 0 and 3"; theirs is linear), our segments are padded
per batch and masked (theirs are left-padded with zeros to 30 words, which the batch
normalisation sees), GloVe is scaled too, and we score the checkpoint of the best validation loss
(theirs the last weights).

Reported per side (medians over rounds): epoch wall and CPU seconds (epochs 2..N), start-up,
peak RSS, and the test scores of the six emotions computed by one NumPy function from each side's
saved test predictions: MAE, Pearson r, binary and 4-class accuracy (values rounded to the
nearest integer, §5.5).

Usage::

    python benchmarks/vs_authors_williams.py /path/to/MultimodalDNN [--rounds 3] [--epochs 10] [--scale 4]
    python benchmarks/vs_authors_williams.py /path/to/MultimodalDNN --tiny   # a smoke test

Without the folder, or without a Keras 3 environment (and no way to make one), the script prints
why and exits with status 0 ("skipped").
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _perf_common import ROOT, header, median, table
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

RECIPE = ROOT / "recipes" / "cmu_mosei" / "williams2018_blstm.yaml"
SKIP_STATUS = "skipped"
#: their get_class_MAE order (the old SDK's emotion columns)
THEIR_EMOTIONS = ("anger", "disgust", "fear", "happy", "sad", "surprise")
#: column of each emotion in CMU_MOSEI_Labels.csd ([sentiment, happy, sad, anger, surprise, disgust, fear])
LABEL_COLUMN = {"happy": 1, "sad": 2, "anger": 3, "surprise": 4, "disgust": 5, "fear": 6}
#: the one configuration their script names: run_experiment(max_len=30, dropout_rate=0.2, n_layers=2)
MAXLEN, DROPOUT, LAYERS = 30, 0.2, 2
BENCH_LINE = re.compile(r"^BENCH (epoch_start|epoch_end|train_end) (\S+) (\S+)(?: (\S+))?$")

#: (what, pattern, replacement) applied to their copied emotion_recognition.py; each must match once
PATCHES: list[tuple[str, str, str]] = [
    ("unreleased import", r"^from utils\.parser_utils import KerasParserClass\n", ""),
    ("unreleased import", r"^from utils\.storage import build_experiment_folder, save_statistics\n", ""),
    ("unused import", r"^import segeval\n", ""),
    ("seed", r"^seed=1122017$", "import bench_hooks\nseed = bench_hooks.SEED"),
    (
        "TensorFlow 1 seeding",
        r"^import tensorflow as tf\ntf\.set_random_seed\(seed\)$",
        "import keras\nkeras.utils.set_random_seed(seed)",
    ),
    (
        "standard folds",
        r"^train_ids, valid_ids, test_ids = custom_split\(train_ids, valid_ids\)$",
        "test_ids = mosei.test()",
    ),
    ("epochs", r"^    epochs = 200$", "    epochs = bench_hooks.EPOCHS"),
    (
        "epoch stamps",
        r"^    callbacks_list = \[early_stopping\]$",
        "    callbacks_list = [early_stopping] + bench_hooks.callbacks()",
    ),
    ("Python 3 text file", r'^    out = open\(outfile, "wb"\)$', '    out = open(outfile, "w")'),
    (
        "saved test predictions",
        r"^    preds = model\.predict\(x_test\)$",
        "    preds = model.predict(x_test)\n    bench_hooks.save_predictions(y_test, preds)",
    ),
    (
        "one configuration",
        r"^Parallel\(n_jobs=num_cores\)\(delayed\(run_experiment\).*$",
        "run_experiment(bench_hooks.MAXLEN, bench_hooks.DROPOUT, bench_hooks.LAYERS)",
    ),
]

# The CMU-MultimodalDataSDK API of 2018 that their script imports, serving the benchmark's data.
MMDATA_INIT = '''\
"""The parts of the 2018 CMU-MultimodalDataSDK API that emotion_recognition.py calls (benchmark shim)."""
import os
import pickle

from mmdata.dataset import Dataset

with open(os.environ["BENCH_SDK_DATA"], "rb") as _f:
    _DATA = pickle.load(_f)


class MOSEI:
    def _modality(self, name):
        return Dataset({name: _DATA[name]})

    def embeddings(self):
        return self._modality("embeddings")

    def facet(self):
        return self._modality("facet")

    def covarep(self):
        return self._modality("covarep")

    def sentiments(self):
        return _DATA["sentiments"]

    def emotions(self):
        return _DATA["emotions"]

    def train(self):
        return list(_DATA["folds"]["train"])

    def valid(self):
        return list(_DATA["folds"]["valid"])

    def test(self):
        return list(_DATA["folds"]["test"])
'''
MMDATA_DATASET = '''\
"""SDK Dataset: a dict of modalities; the data is already aligned to the words (benchmark shim)."""


class Dataset:
    def __init__(self, feature_dict=None):
        self.feature_dict = dict(feature_dict or {})

    def __getitem__(self, key):
        return self.feature_dict[key]

    def keys(self):
        return self.feature_dict.keys()

    @staticmethod
    def merge(dataset1, dataset2):
        return Dataset({**dataset1.feature_dict, **dataset2.feature_dict})

    def align(self, modality):
        assert modality in self.feature_dict
        return dict(self.feature_dict)
'''
BENCH_HOOKS = '''\
"""Settings and epoch stamps for the benchmark run of emotion_recognition.py."""
import os
import resource
import time

import keras
import numpy as np

SEED = int(os.environ["BENCH_SEED"])
EPOCHS = int(os.environ["BENCH_EPOCHS"])
MAXLEN, DROPOUT, LAYERS = int(os.environ["BENCH_MAXLEN"]), float(os.environ["BENCH_DROPOUT"]), int(os.environ["BENCH_LAYERS"])


def _stamp(what, extra=""):
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(f"\\nBENCH {what} {time.time():.6f} {cpu:.6f}{extra}", flush=True)


class _Stamps(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        _stamp("epoch_start")

    def on_epoch_end(self, epoch, logs=None):
        _stamp("epoch_end", f" {float((logs or {}).get('val_loss', float('nan'))):.6f}")

    def on_train_end(self, logs=None):
        _stamp("train_end")


def callbacks():
    return [_Stamps()]


def save_predictions(truth, preds):
    np.savez(os.environ["BENCH_PREDICTIONS"], truth=np.asarray(truth), preds=np.asarray(preds))
'''


# --------------------------------------------------------------------------- their side
def authors_checkout(folder: str | Path | None) -> tuple[Path | None, str]:
    """``(path, "")`` for a usable checkout of their code, else ``(None, reason)``."""
    if not folder:
        return None, "no folder of the authors' code given"
    path = Path(folder).expanduser()
    script = path / "emotion_recognition.py"
    if not script.is_file() or "def run_experiment(" not in script.read_text(errors="replace"):
        return None, f"{path} is not a checkout of rhoposit/MultimodalDNN (no emotion_recognition.py)"
    return path, ""


def patch_source(text: str, source: str = "emotion_recognition.py") -> str:
    """Their script with :data:`PATCHES` applied.

    Raises:
        RuntimeError: a patch does not match exactly once (another version of their code).
    """
    for what, pattern, replacement in PATCHES:
        text, count = re.subn(pattern, lambda _m, r=replacement: r, text, flags=re.MULTILINE)
        if count != 1:
            raise RuntimeError(f"{source}: patch '{what}' ({pattern!r}) matched {count} times, expected 1")
    return text


def copy_authors_code(src: Path, dest: Path) -> Path:
    """Copy their script (patched), the SDK shim and the benchmark hooks to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    script = src / "emotion_recognition.py"
    (dest / "emotion_recognition.py").write_text(patch_source(script.read_text(), str(script)))
    (dest / "mmdata").mkdir(exist_ok=True)
    (dest / "mmdata" / "__init__.py").write_text(MMDATA_INIT)
    (dest / "mmdata" / "dataset.py").write_text(MMDATA_DATASET)
    (dest / "bench_hooks.py").write_text(BENCH_HOOKS)
    return dest


def keras_env(venv: Path, install: bool) -> tuple[str | None, str]:
    """The interpreter of a Keras 3 environment (PyTorch backend), made when absent and allowed.

    The environment sees this interpreter's packages (torch, NumPy, scikit-learn, joblib) through
    a ``.pth`` file and holds Keras and its own dependencies.
    """
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import keras, sys; sys.exit(0 if int(keras.__version__.split('.')[0]) >= 3 else 1)"]
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    if python.is_file() and subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return str(python), ""
    if not install:
        return None, f"no Keras 3 environment at {venv} (run without --no-install to make it)"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        (Path(site) / "affect_zoo_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "keras>=3,<4"], check=True, capture_output=True, text=True
        )
    except subprocess.CalledProcessError as err:
        return None, f"could not make the Keras environment at {venv}: {(err.stderr or '')[-500:]}"
    if subprocess.run(probe, env=env, capture_output=True).returncode != 0:
        return None, f"{venv}: Keras 3 does not import after installation"
    return str(python), ""


def write_sdk_data(corpus: Path, out: Path) -> dict[str, int]:
    """The corpus in the 2018 SDK's layout, aligned to the words (pickle read by the shim).

    Returns:
        segments per fold.
    """
    from zoo.data.corpora.cmu_mosei.align import iter_aligned_videos

    folds = json.loads((corpus / "folds.json").read_text())
    names = {"embeddings": "glove_vectors", "covarep": "COVAREP", "facet": "FACET 4.2"}
    data: dict[str, Any] = {k: {} for k in (*names, "emotions", "sentiments")}
    counts = {}
    for fold, ids in folds.items():
        counts[fold] = 0
        for video in iter_aligned_videos(corpus, ids, list(names.values()), use_cache=False):
            for key in (*names, "emotions", "sentiments"):
                data[key][video.video_id] = {}
            for s in range(video.num_segments):
                words = np.asarray(video.words_of(s))
                if len(words) == 0:
                    continue
                sid = str(s)
                for key, name in names.items():
                    values = np.nan_to_num(
                        video.features[name][words].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0
                    )
                    data[key][video.video_id][sid] = [(float(i), float(i + 1), v) for i, v in enumerate(values)]
                labels = video.segment_labels[s]
                data["emotions"][video.video_id][sid] = np.array([labels[LABEL_COLUMN[e]] for e in THEIR_EMOTIONS])
                data["sentiments"][video.video_id][sid] = float(labels[0])
                counts[fold] += 1
    data["folds"] = folds
    with open(out, "wb") as f:
        pickle.dump(data, f, protocol=4)
    return counts


def parse_authors_output(lines: list[tuple[float, str]]) -> dict[str, Any]:
    """Epoch stamps (time, CPU) and validation losses from the ``BENCH`` lines of their run."""
    stamps: dict[str, Any] = {"epoch_starts": [], "epoch_cpu": [], "val": [], "train_end": None}
    for _, line in lines:
        match = BENCH_LINE.match(line.strip())
        if not match:
            continue
        what, when, cpu, value = match.groups()
        if what == "epoch_start":
            stamps["epoch_starts"].append(float(when))
            stamps["epoch_cpu"].append(float(cpu))
        elif what == "epoch_end":
            stamps["val"].append(float(value))
        else:
            stamps["train_end"], stamps["train_end_cpu"] = float(when), float(cpu)
    if not stamps["epoch_starts"] or stamps["train_end"] is None:
        tail = "\n".join(line for _, line in lines[-30:])
        raise RuntimeError(f"could not read epochs from the authors' output; its end:\n{tail}")
    return stamps


def run_authors(code: Path, data: Path, python: str, work: Path, epochs: int, seed: int, rnd: int) -> dict[str, Any]:
    """One run of their script; timing, val losses and test scores."""
    predictions = work / f"authors-{rnd}.npz"
    env = {
        **os.environ,
        "KERAS_BACKEND": "torch",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": str(code),
        "BENCH_SDK_DATA": str(data),
        "BENCH_SEED": str(seed),
        "BENCH_EPOCHS": str(epochs),
        "BENCH_MAXLEN": str(MAXLEN),
        "BENCH_DROPOUT": str(DROPOUT),
        "BENCH_LAYERS": str(LAYERS),
        "BENCH_PREDICTIONS": str(predictions),
    }
    (work / "final_sweep").mkdir(exist_ok=True)  # their result file's folder
    run = run_child([python, "-u", str(code / "emotion_recognition.py"), "all"], work, env, work / f"authors-{rnd}.log")
    stamps = parse_authors_output(run["lines"])
    saved = np.load(predictions)
    row = epoch_summary("authors' emotion_recognition.py", rnd, run, stamps)
    row.update(val_loss=stamps["val"], **test_scores(saved["preds"], saved["truth"]))
    return row


# --------------------------------------------------------------------------- our side
def our_overrides(corpus: Path, cache: Path, out_dir: Path, epochs: int, seed: int) -> list[str]:
    """``zoo fit`` overrides giving the shared settings (independent of the recipe's values)."""
    return [
        f"data.args.root={corpus}",
        f"data.args.folds={corpus / 'folds.json'}",  # the corpus's own folds (not the SDK's standard ids)
        "data.args.format=csd",
        "data.args.modalities=[text,audio,video]",
        f"data.args.maxlen={MAXLEN}",
        "data.args.truncate=last",
        "data.args.batch_size=64",
        "data.args.normalize=maxabs",
        f"data.args.cache_dir={cache}",
        "model.name=williams2018_blstm",
        "model.args.hidden_size=64",
        f"model.args.num_layers={LAYERS}",
        "model.args.fc_units=100",
        "model.args.fc_layers=1",
        f"model.args.dropout={DROPOUT}",
        "loss.name=mae",
        "optimizer.name=adam",
        "optimizer.lr=0.001",
        f"trainer.max_epochs={epochs}",
        "trainer.accelerator=cpu",
        "trainer.precision=32",
        "trainer.enable_progress_bar=false",
        "early_stopping.enabled=true",
        "early_stopping.monitor=val/loss",
        "early_stopping.mode=min",
        "early_stopping.patience=10",
        "checkpoint.monitor=val/loss",
        "checkpoint.mode=min",
        f"seed={seed}",
        f"output_dir={out_dir}",
        "logger=csv",
    ]


def run_ours(corpus: Path, work: Path, epochs: int, seed: int, rnd: int) -> dict[str, Any]:
    """One ``zoo fit`` run; timing, val losses and test scores from its test predictions."""
    overrides = our_overrides(corpus, work / "cache", work / "runs", epochs, seed)
    run, stamps = run_ours_fit(Path(__file__), RECIPE, overrides, work / "runs", rnd, ROOT)
    preds, truth = our_test_predictions(corpus, work / "cache", work / "runs" / f"ours-{rnd}")
    row = epoch_summary("zoo fit", rnd, run, stamps)
    row.update(val_loss=stamps["val"], **test_scores(preds, truth))
    return row


def our_test_predictions(corpus: Path, cache: Path, run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Our written test predictions and the test labels, both ``(N, 6)`` in :data:`THEIR_EMOTIONS` order."""
    import pandas as pd

    from zoo.data import create_datamodule

    dm = create_datamodule(
        "cmu_mosei",
        root=corpus,
        folds=corpus / "folds.json",
        modalities=["text", "audio", "video"],
        maxlen=MAXLEN,
        cache_dir=cache,
    )
    gold = {rec.id: dict(zip(dm.target_names, rec.targets)) for rec in dm.raw_recordings("test")}
    table_ = pd.read_csv(run_dir / "predictions" / "test.csv", dtype={"segment_id": str})
    preds = table_[list(THEIR_EMOTIONS)].to_numpy(np.float64)
    truth = np.array([[gold[i][e] for e in THEIR_EMOTIONS] for i in table_["segment_id"]], np.float64)
    return preds, truth


# --------------------------------------------------------------------------- scores
def test_scores(preds: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE, Pearson r, binary and 4-class accuracy (§5.5), means over the six emotions."""
    preds, truth = np.asarray(preds, np.float64), np.asarray(truth, np.float64)

    def rounded(x: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(x + 0.5), 0, 3)

    r = [
        np.corrcoef(preds[:, k], truth[:, k])[0, 1] if preds[:, k].std() > 0 and truth[:, k].std() > 0 else np.nan
        for k in range(truth.shape[1])
    ]
    return {
        "test_segments": int(len(truth)),
        "test_mae": float(np.abs(preds - truth).mean()),
        "test_pearson": float(np.nanmean(r)),
        "test_acc2": float(((rounded(preds) > 0) == (rounded(truth) > 0)).mean()),
        "test_acc4": float((rounded(preds) == rounded(truth)).mean()),
    }


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> list[dict[str, Any]] | str:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_ours"]:  # the child process running `zoo fit`
        return str(ours_child(argv[1], argv[3:] if argv[2:3] == ["--"] else argv[2:], "val/loss"))
    parser = base_parser(__doc__.split("\n\n")[0], "rhoposit/MultimodalDNN", epochs=10, corpus_sizes="60/15/15")
    parser.add_argument(
        "--keras-env",
        default=None,
        help="virtual environment with Keras 3, made when absent (default: $AFFECT_ZOO_KERAS_ENV or "
        "<affect-zoo cache>/bench-envs/keras3-torch)",
    )
    parser.add_argument("--no-install", action="store_true", help="never make the Keras environment")
    args = parser.parse_args(argv)
    code_src, reason = authors_checkout(args.authors)
    if code_src is None:
        print(f"vs_authors_williams: skipped: {reason}. Fetch github.com/rhoposit/MultimodalDNN and pass its folder.")
        return SKIP_STATUS
    from zoo.data.synthetic import cache_dir

    venv = Path(args.keras_env or os.environ.get("AFFECT_ZOO_KERAS_ENV") or cache_dir() / "bench-envs" / "keras3-torch")
    python, reason = keras_env(venv, install=not args.no_install)
    if python is None:
        print(f"vs_authors_williams: skipped: {reason}")
        return SKIP_STATUS
    if args.tiny:
        args.rounds, args.epochs, args.scale = 1, 2, 0.5
    print(header("vs_authors_williams", argv))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vs_authors_williams-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from zoo.data.corpora.cmu_mosei.synthetic import DEFAULT_N_VIDEOS, write_synthetic_cmu_mosei

        corpus = work / "mosei"
        if not (corpus / "folds.json").is_file():
            n_videos = {k: max(1, int(round(v * args.scale))) for k, v in DEFAULT_N_VIDEOS.items()}
            write_synthetic_cmu_mosei(corpus, seed=0, n_videos=n_videos)
        data = work / "sdk_layout.pkl"
        counts = write_sdk_data(corpus, data)
        print(f"segments per fold: {counts}", file=sys.stderr)
        code = copy_authors_code(code_src, work / "authors_code")

        def run_side(side: str, rnd: int) -> dict[str, Any]:
            if side == "authors":
                return run_authors(code, data, python, work, args.epochs, rnd, rnd)
            return run_ours(corpus, work, args.epochs, rnd, rnd)

        rows = alternate_rounds(args.rounds, run_side)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(rows, args))
    return rows


_TEST_SCORES = (("MAE", "test_mae"), ("Pearson r", "test_pearson"), ("acc2", "test_acc2"), ("acc4", "test_acc4"))


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Per-round table and the side-by-side summary (medians over rounds)."""
    per_round = [
        {
            "side": r["side"],
            "round": r["round"],
            "epochs": r["epochs"],
            "start-up s": r["startup_s"],
            "epoch s (2..N, median)": median(r["epoch_s"][1:] or r["epoch_s"]),
            "epoch CPU s (2..N, median)": median(r["epoch_cpu_s"][1:] or r["epoch_cpu_s"]),
            "peak RSS MB": r["maxrss_mb"],
            "test segments": r["test_segments"],
            "test MAE": r["test_mae"],
            "test Pearson r": r["test_pearson"],
            "test acc2": r["test_acc2"],
            "test acc4": r["test_acc4"],
        }
        for r in rows
    ]
    summary = side_summary(
        rows,
        lambda mine: {
            "start-up s (median)": median([r["startup_s"] for r in mine]),
            **{f"test {name} (median)": median([r[key] for r in mine]) for name, key in _TEST_SCORES},
        },
    )
    ratio, theirs, ours = epoch_ratio_line(summary)
    return "\n".join(
        [
            table(
                per_round, f"per round (scale {args.scale:g}×, {args.epochs} epochs, maxlen 30, BLSTM 2×64, batch 64)"
            ),
            table(summary, "side by side (medians over rounds)"),
            f"{ratio}; test MAE ours − theirs: {ours['test MAE (median)'] - theirs['test MAE (median)']:+.4f} (lower is better); "
            f"test Pearson r ours − theirs: {ours['test Pearson r (median)'] - theirs['test Pearson r (median)']:+.4f}",
        ]
    )


if __name__ == "__main__":
    result = main()
    if isinstance(result, str) and result not in (SKIP_STATUS,):
        sys.exit(int(result))
