"""``zoo predict MODEL INPUT [--output DIR] [--plot]``: run a bundle or checkpoint on a folder.

(``INPUT`` a WAV/MP4 file or a folder of media files: :mod:`zoo.hub.predict_media` extracts the
bundle's features first.)

``MODEL`` is a bundle folder (``zoo export``) or a ``.ckpt`` file of ``zoo fit``; ``INPUT`` is a
folder of feature files in the corpus's layout (for MuSe-CaR a corpus root holding
``c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv``, no ``metadata/partition.csv``
needed; for RECOLA and SEWA a folder in the AVEC layout, recordings of any name, read by the
datamodule's ``load_folder``). Every recording found is predicted and written in the corpus's prediction format into
``--output`` (MuSe-CaR: ``<output>/<target>/<id>.csv`` with ``timestamp,value,segment_id``),
never inside ``INPUT``. Where gold-standard label files are present (MuSe-CaR:
``c1_muse_wild/label_segments/<target>/<id>.csv``), the pooled CCC per target is printed and
saved to ``<output>/scores.json`` — per partition when the folder is a corpus (recordings named
``<partition>_...`` as in RECOLA and SEWA, or listed in MuSe-CaR's ``metadata/partition.csv``),
since pooling train, development and test recordings into one number would mean nothing.
``--plot`` draws one PNG per recording into ``<output>/plots/``: per target the prediction over
time, with the gold standard and the CCC where labels exist (as Fig. 3 of Tzirakis et al. 2017).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.hub.predict_output import plot_recording, prepare_output

__all__ = [
    "is_model_path",
    "is_model_reference",
    "add_model_arguments",
    "model_option_args",
    "predict_folder",
    "plot_recording",
    "prepare_output",
    "run_predict_cli",
]


def is_model_path(arg: str) -> bool:
    """Whether the first argument of ``zoo predict`` names a bundle folder or a checkpoint."""
    return Path(arg).expanduser().is_dir() or str(arg).endswith(".ckpt")


def is_model_reference(arg: str, rest: Sequence[str] = ()) -> bool:
    """Whether ``zoo predict ARG REST...`` means ``zoo predict MODEL INPUT``, not a recipe run.

    ``ARG`` is a model when it is a bundle folder or a ``.ckpt`` file, or a Hugging Face id
    ``org/name`` that is neither a local path nor a recipe (file or shipped ``<corpus>/<name>``)
    and is followed by an ``INPUT`` (or ``--allow-download``/``--help``); a recipe run is
    followed by ``key=value`` overrides only.
    """
    from zoo.config.recipe import RECIPES_DIR
    from zoo.hub.huggingface import is_repo_id

    if is_model_path(arg):
        return True
    if not is_repo_id(arg) or (RECIPES_DIR / f"{arg}.yaml").is_file() or (RECIPES_DIR / arg).is_file():
        return False
    positional = any(not r.startswith("-") and "=" not in r for r in rest)
    return positional or any(r in ("--allow-download", "--help", "-h") for r in rest)


def add_model_arguments(parser: argparse.ArgumentParser, with_input: bool = True) -> None:
    """The options of ``zoo predict MODEL INPUT`` (also shown by ``zoo predict --help``)."""
    if with_input:
        parser.add_argument(
            "input",
            help="folder of feature files in the corpus layout (e.g. a MuSe-CaR root), "
            "or a WAV/MP4 file or folder of them (bundles: their features are extracted)",
        )
    parser.add_argument("--output", default=None, help="MODEL INPUT: prediction folder (new or empty, outside INPUT)")
    parser.add_argument(
        "--plot",
        action="store_true",
        help="MODEL INPUT: a PNG per recording, the prediction over time (with the gold standard where labelled)",
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="SET=PATH",
        help="MODEL MEDIA: weights of the extractor of feature set SET (repeatable)",
    )
    parser.add_argument(
        "--transcripts",
        default=None,
        metavar="DIR",
        help="MODEL MEDIA: folder of <id>.csv transcripts (start,end,word) for text features",
    )
    parser.add_argument(
        "--allow-download",
        action="store_true",
        help="MODEL = org/name: download the bundle from the Hugging Face Hub if the local cache lacks it",
    )
    parser.add_argument(
        "--step",
        type=float,
        default=None,
        metavar="SECONDS",
        help="MODEL MEDIA, sliding-window bundles (zoo import): one prediction every SECONDS",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="MODEL MEDIA, sliding-window bundles (zoo import): SECONDS of media per prediction",
    )


def model_option_args(args: argparse.Namespace) -> list[str]:
    """The model options parsed by ``zoo predict``'s own parser, back as command-line words."""
    out: list[str] = []
    if getattr(args, "output", None):
        out += ["--output", args.output]
    if getattr(args, "plot", False):
        out.append("--plot")
    for item in getattr(args, "weights", None) or []:
        out += ["--weights", item]
    if getattr(args, "transcripts", None):
        out += ["--transcripts", args.transcripts]
    if getattr(args, "allow_download", False):
        out.append("--allow-download")
    for flag in ("step", "window"):
        if getattr(args, flag, None) is not None:
            out += [f"--{flag}", str(getattr(args, flag))]
    return out


def recording_partitions(datamodule_cls: Any, input_root: Path, ids: Sequence[str]) -> dict[str, str | None]:
    """The corpus partition of each recording id, or ``None`` where it has none (the corpus
    reader's :meth:`~zoo.data.corpus.Corpus.recording_partitions`)."""
    return datamodule_cls.recording_partitions(Path(input_root), list(ids))


# --------------------------------------------------------------------------- prediction
def predict_folder(
    model_path: str | Path,
    input_root: str | Path,
    output_dir: str | Path | None = None,
    plot: bool = False,
) -> dict[str, Any]:
    """Predict every recording of ``input_root`` with a bundle or checkpoint.

    Args:
        model_path: bundle folder or ``.ckpt`` file.
        input_root: folder of feature files in the model's corpus layout.
        output_dir: where predictions go (must not exist or be empty, and not lie inside
            ``input_root``); default ``./predictions/<model>-<date>-<time>``.
        plot: draw a PNG per recording (prediction, and gold standard where labelled).

    Returns:
        ``{"output": Path, "files": [...], "plots": [...], "scores": {partition: {target: CCC}}}``;
        the partition is ``"folder"`` for recordings that name none.

    Raises:
        ValueError: output inside the input or not empty, or a datamodule without ``load_folder``.
        FileNotFoundError: missing input folder.
        CorpusFormatError: problems in the input files.
    """
    import torch

    from zoo.ccc import concordance_cc
    from zoo.data import corpus_class, create_datamodule
    from zoo.hub.checkpoint_io import merge_reader_state
    from zoo.hub.pretrained import load_pretrained

    model_path, input_root = Path(model_path).expanduser(), Path(input_root).expanduser()
    if not input_root.is_dir():
        raise FileNotFoundError(f"input folder not found: {input_root}")
    output_dir = prepare_output(model_path, input_root, output_dir)

    model = load_pretrained(model_path)
    spec = model.spec
    data = (model.recipe or {}).get("data") or {}
    datamodule_name = data.get("name") or spec.get("corpus")
    data_args = dict(data.get("args") or {})
    try:
        dm_cls = corpus_class(datamodule_name)
    except KeyError as err:
        raise ValueError(f"the model's datamodule: {err.args[0]}") from None
    features, targets = list(spec["feature_names"]), list(spec["target_names"])
    # the datamodule as it was trained (release, mode, crop size, ...), reading INPUT instead
    reader_args = {k: v for k, v in data_args.items() if k not in ("root", "normalization_stats")}
    reader_args = merge_reader_state(
        {"root": input_root, **reader_args}, spec.get("reader_state"), str(model_path)
    )  # e.g. SEWA's training vocabulary
    reader_args.pop("modalities", None)  # the recipe's shorthand for feature sets: the model's own names stand
    reader_args.update(features=features, targets=targets)
    writer = create_datamodule(datamodule_name, **reader_args)
    recordings = writer.load_folder()  # a clear error for corpora that cannot read loose folders

    output_dir.mkdir(parents=True, exist_ok=True)
    files, plots = [], []
    partition_of = recording_partitions(dm_cls, input_root, [rec.id for rec in recordings])
    labelled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for rec in recordings:
        preds = model.predict(rec.features)
        before = set(output_dir.rglob("*"))
        writer.write_predictions(output_dir, rec, preds, targets)
        files += sorted(p for p in set(output_dir.rglob("*")) - before if p.is_file())
        golds = np.asarray(rec.targets) if rec.targets is not None else None
        if golds is not None:
            labelled.setdefault(partition_of[rec.id] or "folder", []).append((preds, golds))
        if plot:
            plots.append(
                plot_recording(
                    output_dir / "plots" / f"{rec.id}.png", rec.id, np.asarray(rec.timestamps), preds, golds, targets
                )
            )
    scores: dict[str, dict[str, float]] = {}
    for group, pairs in sorted(labelled.items()):
        p = torch.from_numpy(np.concatenate([x for x, _ in pairs]).astype(np.float64))
        g = torch.from_numpy(np.concatenate([y for _, y in pairs]).astype(np.float64))
        values = concordance_cc(p.unsqueeze(0), g.unsqueeze(0)).reshape(-1).tolist()  # (1, N, K)
        scores[group] = {t: float(v) for t, v in zip(targets, values)}
        scores[group]["mean"] = float(np.mean(values))
    if scores:
        report: dict[str, Any] = {
            "partitions": {g: {"ccc": scores[g], "recordings": len(labelled[g])} for g in scores},
            "recordings_with_labels": sum(len(v) for v in labelled.values()),
            "recordings": len(recordings),
        }
        if len(scores) == 1:  # one group: its score is the folder's score (never pooled across partitions)
            report["ccc"] = next(iter(scores.values()))
        (output_dir / "scores.json").write_text(json.dumps(report, indent=2))
    return {"output": output_dir, "files": files, "plots": plots, "scores": scores}


def _local_model(model: str, output: str | None, allow_download: bool) -> tuple[str, str | None]:
    """A Hugging Face id resolved to its bundle in the local cache (downloaded only when allowed),
    and the default output folder named after the repository rather than the cache's snapshot."""
    from datetime import datetime

    from zoo.hub.huggingface import is_repo_id, resolve_pretrained

    if not is_repo_id(model):
        return model, output
    local = resolve_pretrained(model, allow_download=allow_download)
    if output is None:
        output = str(Path("predictions") / f"{model.replace('/', '--')}-{datetime.now():%Y%m%d-%H%M%S}")
    return str(local), output


def run_predict_cli(model: str, argv: Sequence[str]) -> dict[str, Any]:
    """``zoo predict MODEL INPUT [--output DIR] [--plot] [--allow-download]``; returns
    ``{"exit_code", "run_dir", ...}``. ``MODEL``: a bundle folder, a ``.ckpt`` file, or a Hugging
    Face id ``org/name`` of a bundle, read from the local Hugging Face cache."""
    from zoo.features import ExtractorError
    from zoo.hub.predict_media import is_media_input, predict_media

    parser = argparse.ArgumentParser(
        prog=f"zoo predict {model}",
        description="predict a folder of feature files, or media files (with a bundle), with a bundle, a "
        "checkpoint or a Hugging Face id org/name of a bundle",
    )
    add_model_arguments(parser)
    args = parser.parse_args(list(argv))
    try:
        if (args.step is not None or args.window is not None) and not is_media_input(args.input):
            raise ValueError("--step/--window apply to media input (a WAV/MP4 file or a folder of them)")
        model, args.output = _local_model(model, args.output, args.allow_download)
        if is_media_input(args.input):
            weights = dict(item.split("=", 1) for item in args.weights if "=" in item)
            if len(weights) != len(args.weights):
                raise ValueError(f"--weights {args.weights}: expected SET=PATH")
            out = predict_media(
                model, args.input, args.output, args.plot, weights, args.transcripts, args.step, args.window
            )
        else:
            out = predict_folder(model, args.input, args.output, args.plot)
    except (ValueError, FileNotFoundError, ExtractorError) as err:  # CorpusFormatError/BundleError: ValueErrors
        print(f"zoo predict: {' '.join(str(err).split())}", file=sys.stderr)
        return {"exit_code": 2}
    unit = f" (timestamp in {out['unit']})" if "unit" in out else ""
    print(f"{len(out['files'])} prediction files written to {out['output']}{unit}")
    for group, values in out["scores"].items():
        where = "the recordings with labels" if group == "folder" else f"partition {group}"
        print(f"CCC on {where}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    if out["plots"]:
        print(f"{len(out['plots'])} plots in {out['output'] / 'plots'}")
    results = {f"{group}/ccc_{k}": v for group, values in out["scores"].items() for k, v in values.items()}
    return {"exit_code": 0, "run_dir": out["output"], **out, "results": results}
