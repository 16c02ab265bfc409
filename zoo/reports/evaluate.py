"""``zoo evaluate``: score any bundle on any corpus whose inputs it can compute (cross-corpus CCC).

::

    zoo evaluate BUNDLE --corpus recola [data.args.root=/data/RECOLA]
    zoo evaluate B1 B2 B3 B4 --corpora recola sewa muse_car cmu_mosei [recola.data.args.root=...]

Bundles are loaded with :func:`zoo.load_pretrained` (folders, checkpoints, Hub ids), as by
``zoo predict``. For each (bundle, corpus):

* **targets** are matched by name (``arousal`` with ``arousal``); ``--map PRED=GOLD`` adds pairs
  (``--map valence=sentiment``). A pair without a shared target is reported as such, not scored;
* **inputs** — on the bundle's own corpus (its recipe's ``data.name``), the corpus is read as the
  bundle was trained (its ``data.args``, your ``root``); on any other corpus the recordings' raw
  16 kHz audio is read (the reader's :attr:`~zoo.data.corpus.Corpus.raw_audio_args`) and the
  bundle's feature sets are computed from it with the extractors recorded in the bundle (raw
  waveform frames for waveform models, openSMILE sets, ...): raw audio reaches all four corpora.
  Sets no audio extractor computes (faces, text, the organisers' features) make the pair
  unreachable, with the reason;
* **predictions** come at the bundle's label step and are mapped onto the corpus's: linearly
  interpolated at the corpus's label times (frame level), averaged over each segment (CMU-MOSEI,
  segment level). A segment-level bundle is scored on segment-level corpora only;
* **score** — CCC (population moments) of the predictions against the gold standard pooled over
  the partition's recordings, as each corpus's official scoring pools them; the partition is the
  test partition where its labels are distributed, else the validation partition
  (``--partition`` chooses). On the synthetic corpora unless ``data.args.root`` is given.

Output (``--output``, default ``./evaluations/evaluate-<date>-<time>``): ``scores.json`` (every
pair: partition, recordings, route, per-target CCC, or why it was not scored), ``matrix.csv`` and
``matrix.md`` (mean CCC over the shared targets, bundles × corpora) and ``matrix.png`` (heatmap).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EvaluateError", "Score", "add_arguments", "evaluate_matrix", "evaluate_pair", "run_evaluate_cli"]

#: data.args of a bundle's recipe that say where its training data was, never reused elsewhere
_LOCATION_KEYS = ("root", "normalization_stats")


class EvaluateError(ValueError):
    """An evaluation that cannot run (one line, exit status 2)."""


@dataclass
class Score:
    """One (bundle, corpus) cell.

    Attributes:
        bundle: the bundle as given.
        corpus: the corpus name.
        partition: the corpus's own partition name that was scored (``None``: not scored).
        route: ``native`` (read as trained) or ``audio`` (features computed from the raw audio).
        targets: bundle target -> corpus target of each scored pair.
        ccc: corpus target -> CCC.
        recordings: recordings (segments) scored.
        reason: why the pair was not scored.
    """

    bundle: str
    corpus: str
    partition: str | None = None
    route: str | None = None
    targets: dict[str, str] = field(default_factory=dict)
    ccc: dict[str, float] = field(default_factory=dict)
    recordings: int = 0
    reason: str | None = None

    @property
    def mean(self) -> float:
        """Mean CCC over the scored targets (NaN when none was scored)."""
        values = [v for v in self.ccc.values() if math.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")


# --------------------------------------------------------------------------- inputs
def _bundle_datamodule(model: Any) -> str | None:
    data = (model.recipe or {}).get("data") or {}
    return data.get("name") or model.spec.get("corpus") or None


def _waveform_entry(model: Any, name: str) -> dict[str, Any] | None:
    """The implied ``waveform`` extractor of a feature set that is its corpus's raw audio at the
    bundle's label step (waveform models trained before raw audio had a recorded extractor)."""
    from zoo.data import corpus_class
    from zoo.data.raw_audio import SAMPLE_RATE

    datamodule = _bundle_datamodule(model)
    step = float(model.spec.get("label_step") or 0.0)
    if datamodule is None or step <= 0 or model.spec.get("level", "frame") != "frame":
        return None
    try:
        audio_args = corpus_class(datamodule).raw_audio_args
    except KeyError:
        return None
    width = model.spec["feature_dims"].get(name)
    if not audio_args or list(audio_args.get("features") or [])[:1] != [name] or width != round(step * SAMPLE_RATE):
        return None
    return {"extractor": "waveform", "hop": step, "win": None, "options": {}, "weights": None, "weights_sha256": None}


def audio_extractors(model: Any) -> list[Any]:
    """The bundle's feature sets as computed from a recording's audio (``PlannedFeature`` list).

    Raises:
        EvaluateError: a set without an audio extractor (named, with the reason).
    """
    from types import SimpleNamespace

    from zoo.features import extractor_class
    from zoo.hub.predict_media import MediaPredictError, media_extractors

    config = dict(getattr(model, "bundle_config", None) or {})
    if not config:
        raise EvaluateError(
            "a checkpoint records no feature extractors; export it as a bundle (`zoo export CKPT DIR`) "
            "to score it on other corpora"
        )
    recorded = dict(config.get("feature_extractors") or {})
    entries, problems = {}, []
    for name in model.spec["feature_names"]:
        entry = recorded.get(name) or _waveform_entry(model, name)
        if entry is None:
            problems.append(f"feature set {name!r} has no recorded extractor")
        elif extractor_class(entry["extractor"]).modality != "audio":
            problems.append(f"feature set {name!r} is computed from {extractor_class(entry['extractor']).modality}")
        entries[name] = entry
    if problems:
        raise EvaluateError("; ".join(problems) + ": only raw audio is read from other corpora")
    data = dict((model.recipe or {}).get("data") or {})
    args = {k: v for k, v in dict(data.get("args") or {}).items() if k != "mode"}  # raw mode: read here
    proxy = SimpleNamespace(
        bundle_config={**config, "feature_extractors": entries},
        recipe={**(model.recipe or {}), "data": {**data, "args": args}},
    )
    try:
        return media_extractors(proxy)
    except MediaPredictError as err:
        raise EvaluateError(str(err)) from None


def _waveform(rec: Any, frame_seconds: float, sample_rate: int) -> np.ndarray:
    """A recording's waveform from its raw-audio frames (placed at their label times) or rows."""
    frames = np.asarray(next(iter(rec.features.values())), np.float32)
    if rec.level == "segment":
        return frames.reshape(-1)
    width = frames.shape[1]
    starts = np.rint(np.asarray(rec.timestamps, np.float64) * sample_rate).astype(np.int64)
    wave = np.zeros(int(starts.max()) + width, np.float32)
    for start, row in zip(starts, frames):
        wave[start : start + width] = row
    return wave


# --------------------------------------------------------------------------- one pair
def _read_corpus(corpus: str, args: Mapping[str, Any], partition: str) -> tuple[str, list[Any], Any]:
    """``(partition name, labelled recordings, corpus class)`` (``auto``: test, else val)."""
    from zoo.data import create_datamodule

    dm = create_datamodule(corpus, **args)
    stages = ("test", "val") if partition == "auto" else (partition,)
    for stage in stages:
        recordings = [r for r in dm.raw_recordings(stage) if r.targets is not None]
        if recordings:
            return dm.partitions[stage], recordings, type(dm.corpus)
    raise EvaluateError(
        f"{corpus}: partition {dm.partitions[stages[-1]]!r} has no labels"
        + (" (neither has the test partition)" if partition == "auto" else "; try --partition val")
    )


def evaluate_pair(
    model: Any,
    bundle: str,
    corpus: str,
    overrides: Mapping[str, Any] | None = None,
    partition: str = "auto",
    mapping: Mapping[str, str] | None = None,
) -> Score:
    """Score one loaded bundle on one corpus (see the module docstring).

    Args:
        model: a :class:`~zoo.hub.inference.PretrainedModel` from :func:`zoo.load_pretrained`.
        bundle: its name in the report.
        corpus: a registered corpus name.
        overrides: ``data.args`` for the corpus reader (``root``, ``audio_pattern``, ...).
        partition: ``auto``, ``val`` or ``test``.
        mapping: extra bundle target -> corpus target pairs.

    Returns:
        The :class:`Score`; ``reason`` says why a pair without shared targets was not scored.

    Raises:
        EvaluateError, CorpusFormatError, ExtractorError: inputs that cannot be computed or read.
    """
    import torch

    from zoo.ccc import concordance_cc
    from zoo.data import corpus_class
    from zoo.data.raw_audio import SAMPLE_RATE
    from zoo.hub.checkpoint_io import merge_reader_state

    overrides = dict(overrides or {})
    corpus_cls = corpus_class(corpus)
    pairs = {t: t for t in model.target_names if t in corpus_cls.targets}
    for pred, gold in (mapping or {}).items():
        if pred in model.target_names and gold in corpus_cls.targets:
            pairs[pred] = gold
    score = Score(bundle, corpus, targets=pairs)
    if not pairs:
        score.reason = (
            f"no shared target (bundle: {', '.join(model.target_names)}; {corpus}: {', '.join(corpus_cls.targets)})"
        )
        return score
    gold_names = list(dict.fromkeys(pairs.values()))
    bundle_level = model.spec.get("level", "frame")
    native = _bundle_datamodule(model) == corpus
    if native:
        data_args = dict(((model.recipe or {}).get("data") or {}).get("args") or {})
        args = {k: v for k, v in data_args.items() if k not in _LOCATION_KEYS}
        args = merge_reader_state({**args, **overrides}, model.spec.get("reader_state"), bundle)
        # the feature sets as the recipe asked for them (a reader may add sets of its own, e.g.
        # CMU-MOSEI's waveform_word), else as the model takes them
        args.update(features=list(data_args.get("features") or model.spec["feature_names"]), targets=gold_names)
        score.route = "native"
    else:
        if bundle_level == "segment":
            score.reason = (
                f"a segment-level bundle is scored on segment-level corpora only ({corpus} is {corpus_cls.level}-level)"
            )
            return score
        if not corpus_cls.raw_audio_args:
            raise EvaluateError(
                f"{corpus}: the reader serves no raw audio, so only its own bundles can be scored on it"
            )
        planned = audio_extractors(model)
        args = {**dict(corpus_cls.raw_audio_args), **overrides, "targets": gold_names}
        score.route = "audio"
    score.partition, recordings, _ = _read_corpus(corpus, args, partition)
    index = [model.target_names.index(p) for p in pairs]
    gold_index = [gold_names.index(g) for g in pairs.values()]
    preds, golds = [], []
    with tempfile.TemporaryDirectory(prefix="zoo-evaluate-") as tmp:
        for rec in recordings:
            if native:
                out = np.asarray(model.predict(rec.features))
            else:
                out = _predict_from_audio(model, planned, rec, Path(tmp), SAMPLE_RATE)
            preds.append(np.atleast_2d(out[..., index]))
            golds.append(np.atleast_2d(np.asarray(rec.targets)[..., gold_index]))
    p = torch.from_numpy(np.concatenate(preds).astype(np.float64))
    g = torch.from_numpy(np.concatenate(golds).astype(np.float64))
    values = concordance_cc(p.unsqueeze(0), g.unsqueeze(0)).reshape(-1).tolist()
    score.ccc = {gold: float(v) for gold, v in zip(pairs.values(), values)}
    score.recordings = len(recordings)
    return score


def _predict_from_audio(model: Any, planned: list[Any], rec: Any, tmp: Path, sample_rate: int) -> np.ndarray:
    """The bundle's predictions for one recording of another corpus, on that corpus's labels."""
    import soundfile as sf

    from zoo.features import label_times
    from zoo.hub.predict_media import media_features

    step = float(model.spec["label_step"])
    wave = _waveform(rec, step, sample_rate)
    path = tmp / "recording.wav"
    sf.write(str(path), wave, sample_rate, subtype="FLOAT")
    times = label_times(len(wave) / sample_rate, step)
    preds = np.asarray(model.predict(media_features(planned, path, times, tmp)), np.float64)
    if rec.level == "segment":
        return preds.mean(0)
    stamps = np.asarray(rec.timestamps, np.float64)
    return np.stack([np.interp(stamps, times, preds[:, k]) for k in range(preds.shape[1])], axis=1)


# --------------------------------------------------------------------------- matrix
def evaluate_matrix(
    bundles: Sequence[str],
    corpora: Sequence[str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    partition: str = "auto",
    mapping: Mapping[str, str] | None = None,
    allow_download: bool = False,
) -> list[Score]:
    """Every bundle on every corpus; ``overrides[corpus]`` holds that corpus's ``data.args``.

    With one pair, its error is raised; in a larger matrix a pair that cannot be scored (inputs
    that cannot be computed, an unreadable corpus) keeps its reason and the others go on.
    """
    from zoo.features import ExtractorError
    from zoo.hub.pretrained import load_pretrained

    scores = []
    single = len(bundles) * len(corpora) == 1
    for bundle in bundles:
        model = load_pretrained(bundle, allow_download=allow_download)
        for corpus in corpora:
            try:
                scores.append(evaluate_pair(model, bundle, corpus, (overrides or {}).get(corpus), partition, mapping))
            except (ValueError, ExtractorError, FileNotFoundError) as err:  # EvaluateError, ConfigError, ...
                if single:
                    raise
                scores.append(Score(bundle, corpus, reason=" ".join(str(err).split())))
    return scores


def _label(bundle: str) -> str:
    return Path(bundle).name or bundle


def matrix_markdown(scores: Sequence[Score], bundles: Sequence[str], corpora: Sequence[str]) -> str:
    """Bundles × corpora: mean CCC over the shared targets, each target's CCC beside it."""
    cells = {(s.bundle, s.corpus): s for s in scores}
    lines = ["| bundle \\ corpus | " + " | ".join(corpora) + " |", "|---|" + "---|" * len(corpora)]
    for bundle in bundles:
        row = []
        for corpus in corpora:
            s = cells[bundle, corpus]
            if not s.ccc:
                row.append("—")
                continue
            detail = ", ".join(f"{t} {v:.3f}" for t, v in s.ccc.items())
            row.append(f"**{s.mean:.3f}** ({detail}; {s.partition})")
        lines.append(f"| `{_label(bundle)}` | " + " | ".join(row) + " |")
    notes = sorted({f"`{_label(s.bundle)}` on {s.corpus}: {s.reason}" for s in scores if s.reason})
    if notes:
        lines += ["", "Not scored (—):", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot_matrix(path: Path, scores: Sequence[Score], bundles: Sequence[str], corpora: Sequence[str]) -> Path:
    """Heatmap of the mean CCC (grey: not scored), values written in the cells (Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cells = {(s.bundle, s.corpus): s.mean for s in scores}
    values = np.array([[cells[b, c] for c in corpora] for b in bundles], dtype=np.float64)
    fig = Figure(figsize=(1.6 * len(corpora) + 3, 0.7 * len(bundles) + 1.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_facecolor("0.85")
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap="viridis", vmin=min(0.0, np.nanmin(values, initial=0.0)), vmax=1.0
    )
    ax.set_xticks(range(len(corpora)), labels=list(corpora))
    ax.set_yticks(range(len(bundles)), labels=[_label(b) for b in bundles])
    ax.set_xlabel("evaluated on")
    ax.set_ylabel("bundle")
    for i in range(len(bundles)):
        for j in range(len(corpora)):
            text = "—" if not math.isfinite(values[i, j]) else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if values[i, j] < 0.6 else "black")
    fig.colorbar(image, ax=ax, label="CCC (mean over shared targets)")
    ax.set_title("cross-corpus CCC")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def write_report(output: Path, scores: Sequence[Score], bundles: Sequence[str], corpora: Sequence[str]) -> None:
    """``scores.json``, ``matrix.csv``, ``matrix.md`` and ``matrix.png`` in ``output``."""
    import csv

    output.mkdir(parents=True, exist_ok=True)
    entries = [{**asdict(s), "mean": s.mean if s.ccc else None} for s in scores]
    (output / "scores.json").write_text(json.dumps(entries, indent=2, allow_nan=False, default=str))
    cells = {(s.bundle, s.corpus): s for s in scores}
    with open(output / "matrix.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["bundle", *corpora])
        for bundle in bundles:
            writer.writerow(
                [bundle, *(f"{cells[bundle, c].mean:.6f}" if cells[bundle, c].ccc else "" for c in corpora)]
            )
    (output / "matrix.md").write_text(matrix_markdown(scores, bundles, corpora))
    plot_matrix(output / "matrix.png", scores, bundles, corpora)


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``zoo evaluate``."""
    parser.description = (
        "score bundles on corpora (cross-corpus CCC; docs/cross_corpus.md). Corpus options follow as "
        "data.args.KEY=VALUE (every corpus) or CORPUS.data.args.KEY=VALUE (one), e.g. "
        "recola.data.args.root=/data/RECOLA; without a root, the built-in synthetic corpus"
    )
    parser.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle folders, checkpoints or Hub ids org/name")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--corpus", default=None, help="one corpus: recola, sewa, muse_car, cmu_mosei")
    where.add_argument("--corpora", nargs="+", default=None, metavar="NAME", help="several corpora (a matrix)")
    parser.add_argument(
        "--partition", choices=("auto", "val", "test"), default="auto", help="auto: test where labelled, else val"
    )
    parser.add_argument(
        "--map", action="append", default=[], metavar="PRED=GOLD", help="also score bundle target PRED against GOLD"
    )
    parser.add_argument("--output", default=None, help="report folder (new or empty)")
    parser.add_argument("--allow-download", action="store_true", help="fetch Hub bundles missing from the cache")
    parser.set_defaults(overrides=[])


def parse_overrides(items: Sequence[str], corpora: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``data.args.K=V`` (every corpus) and ``CORPUS.data.args.K=V`` (one) → ``{corpus: {K: V}}``.

    Raises:
        EvaluateError: another key, an unknown corpus prefix, or one ``root`` for several corpora.
    """
    import yaml

    out: dict[str, dict[str, Any]] = {c: {} for c in corpora}
    for item in items:
        key, _, text = item.lstrip("-").partition("=")
        corpus, _, rest = key.partition(".") if not key.startswith("data.") else ("", "", key)
        if not rest.startswith("data.args.") or len(rest) == len("data.args."):
            raise EvaluateError(f"{item}: expected data.args.KEY=VALUE or CORPUS.data.args.KEY=VALUE")
        if corpus and corpus not in out:
            raise EvaluateError(f"{item}: {corpus!r} is not among the corpora evaluated ({', '.join(corpora)})")
        name = rest[len("data.args.") :]
        if not corpus and name == "root" and len(corpora) > 1:
            raise EvaluateError(f"{item}: one root for several corpora; give CORPUS.data.args.root=PATH per corpus")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        for target in [corpus] if corpus else corpora:
            out[target][name] = value
    return out


def run_evaluate_cli(args: argparse.Namespace) -> dict[str, Any]:
    """``zoo evaluate``; prints the matrix; returns ``{"exit_code", "run_dir", "scores"}``."""
    from zoo.data import list_corpora
    from zoo.features import ExtractorError

    bundles = [b for b in args.bundles if "=" not in b or Path(b).exists()]
    items = [b for b in args.bundles if b not in bundles] + list(args.overrides)
    corpora = [args.corpus] if args.corpus else list(dict.fromkeys(args.corpora))
    try:
        unknown = [c for c in corpora if c not in list_corpora()]
        if unknown:
            raise EvaluateError(f"unknown corpora {unknown}; available: {', '.join(list_corpora())}")
        if not bundles:
            raise EvaluateError("give at least one bundle")
        mapping = dict(m.split("=", 1) for m in args.map if "=" in m)
        if len(mapping) != len(args.map):
            raise EvaluateError(f"--map {args.map}: expected PRED=GOLD")
        overrides = parse_overrides(items, corpora)
        default = Path("evaluations") / f"evaluate-{datetime.now():%Y%m%d-%H%M%S}"
        output = Path(args.output).expanduser() if args.output else default
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise EvaluateError(f"--output {output} exists and is not an empty folder; nothing was overwritten")
        scores = evaluate_matrix(bundles, corpora, overrides, args.partition, mapping, args.allow_download)
        write_report(output, scores, bundles, corpora)
    except (ValueError, FileNotFoundError, ExtractorError) as err:
        print(f"zoo evaluate: {' '.join(str(err).split())}", file=sys.stderr)
        return {"exit_code": 2}
    print(matrix_markdown(scores, bundles, corpora), end="")
    print(f"report written to {output} (scores.json, matrix.csv, matrix.md, matrix.png)")
    return {"exit_code": 0, "run_dir": output, "scores": scores}
