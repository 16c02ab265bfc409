"""Late fusion input: the exported predictions of several trained runs, with the corpus's labels.

Sun et al. (2020, §4.4) fuse unimodal and early-fusion models with a second-level BiLSTM that
reads their per-frame predictions. This datamodule serves those predictions as feature sets::

    dm = create_datamodule("prediction_fusion", sources=["runs/egemaps", "runs/vggface"])

* **sources** — run folders of ``zoo fit`` (``config.yaml`` + ``predictions/<partition>/...``).
  Runs made with ``export_predictions=[train,val,test]`` hold predictions of all three
  partitions; the fusion model is fitted on the sources' own train predictions and selected on
  their val predictions, and test labels are only used to score the test partition.
* **feature sets** — one per source, named after its run folder (``source_<i>`` when two folders
  share a name), with one column per target that source predicted.
* **labels, timestamps, partitions** — from the corpus datamodule built from the first source's
  ``config.yaml`` data arguments (``root: null`` → the same synthetic corpus). Prediction files
  are read by that corpus reader's ``read_predictions``, so the
  corpus's own prediction format applies (MuSe-CaR: ``<partition>/<target>/<id>.csv`` with
  ``timestamp,value,segment_id``), and predictions are written back in the same format.

Errors name the run folder and file: a source without a partition's predictions (re-run it with
``export_predictions=[train,val,test]``), timestamps that are not the corpus's label frames, or
sources trained on different corpora.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from zoo.data.corpus import Corpus
from zoo.data.registry import corpus_class, register_corpus
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.errors import CorpusFormatError

__all__ = ["PredictionFusionCorpus", "SourceRun", "read_source_run"]

_EXPORT_HINT = "re-run it with export_predictions=[train,val,test]"


class SourceRun:
    """One source run folder and what its ``config.yaml`` says about its data.

    Attributes:
        path: the run folder.
        config: its resolved recipe (plain containers).
        corpus: the datamodule registry name it was trained on.
        data_args: its datamodule arguments (as in its ``config.yaml``).
        targets: the targets it predicted, in its output order.
    """

    def __init__(self, path: Path, config: Mapping[str, Any]) -> None:
        self.path = path
        self.config = dict(config)
        data = self.config.get("data") or {}
        if not isinstance(data, Mapping) or not data.get("name"):
            raise ValueError(f"{path / 'config.yaml'}: no data.name; not a run folder of `zoo fit`")
        self.corpus = str(data["name"])
        self.data_args = dict(data.get("args") or {})
        targets = self.data_args.get("targets")
        if targets is None:  # the datamodule's own default
            corpus = corpus_class(self.corpus)
            targets = corpus.default_targets or corpus.targets
        self.targets = [str(t) for t in targets]

    def corpus_identity(self) -> tuple[str, str, Any]:
        """(datamodule, root, seed of the synthetic corpus): equal for runs on the same data."""
        root = self.data_args.get("root")
        if root is None:
            return self.corpus, "synthetic", self.data_args.get("synthetic_seed", 0)
        return self.corpus, str(Path(root).expanduser().resolve()), None

    def describe_corpus(self) -> str:
        """Human-readable corpus of this run, for error messages."""
        corpus, root, seed = self.corpus_identity()
        where = f"the synthetic corpus (seed {seed})" if root == "synthetic" else root
        return f"{corpus} at {where}"


def read_source_run(path: str | Path) -> SourceRun:
    """Read a run folder's ``config.yaml``.

    Raises:
        FileNotFoundError: the folder or its ``config.yaml`` does not exist.
        ValueError: the config is not a mapping with ``data.name``.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"fusion source {path}: run folder not found")
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"fusion source {path}: no config.yaml; expected a run folder written by `zoo fit`")
    try:
        config = OmegaConf.to_container(OmegaConf.load(config_path), resolve=True)
    except Exception as err:  # omegaconf/yaml raise several error types
        raise ValueError(f"{config_path}: cannot read the run's recipe: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: a run config must be a mapping")
    return SourceRun(path, config)


def _source_names(runs: Sequence[SourceRun]) -> list[str]:
    names = [run.path.resolve().name for run in runs]
    if len(set(names)) != len(names) or any(not n for n in names):
        return [f"source_{i}" for i in range(len(runs))]
    return names


@register_corpus
class PredictionFusionCorpus(Corpus):
    """Per-frame predictions of several runs as feature sets, labels from their corpus.

    A derived corpus: its files are other runs' prediction files plus the labels of the corpus
    those runs were trained on, read by that corpus's own reader (whose name, level, label step,
    partitions and prediction format it takes over).

    Args:
        sources: run folders of ``zoo fit`` whose predictions are fused (at least one).
        corpus: the underlying corpus name; default (and it must equal) the one in the sources'
            ``config.yaml``.
        root: corpus folder for the labels; default the first source's ``data.args.root``
            (``None`` there → the same synthetic corpus). Give it when the corpus has moved.
        targets: targets of the fusion model; default the first source's targets.
        synthetic_seed: seed of the synthetic corpus; default the first source's.

    Raises:
        FileNotFoundError: a source folder or its ``config.yaml`` is missing.
        ValueError: no sources, sources trained on different corpora, or a ``corpus`` that is
            not theirs.
    """

    name = "prediction_fusion"
    derived = True

    def __init__(
        self,
        sources: Sequence[str | Path] = (),
        corpus: str | None = None,
        root: str | Path | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int | None = None,
    ) -> None:
        if isinstance(sources, (str, Path)) or not sources:
            raise ValueError(
                "prediction_fusion: `sources` must be a non-empty list of run folders, e.g. "
                "data.args.sources=[runs/a,runs/b]"
            )
        self.sources = [read_source_run(s) for s in sources]
        first = self.sources[0]
        for run in self.sources[1:]:
            if run.corpus_identity() != first.corpus_identity():
                raise ValueError(
                    "prediction_fusion: the sources were trained on different corpora: "
                    f"{first.path} on {first.describe_corpus()}, {run.path} on "
                    f"{run.describe_corpus()}"
                )
        if corpus is not None and corpus != first.corpus:
            raise ValueError(
                f"prediction_fusion: corpus={corpus!r}, but the sources were trained on "
                f"{first.corpus!r} ({first.path / 'config.yaml'})"
            )
        base_cls = corpus_class(first.corpus)
        if base_cls.derived:
            raise ValueError(f"prediction_fusion: the sources were trained on the derived corpus {first.corpus!r}")
        accepted = inspect.signature(base_cls.__init__).parameters
        label_args = {k: v for k, v in first.data_args.items() if k in accepted}
        if root is not None:
            label_args["root"] = root
        #: the reader of the corpus giving labels, timestamps and the prediction file format
        self.base = base_cls(**label_args)
        # this reader stands for the underlying corpus: checkpoints and caches name it
        self.name = base_cls.name
        self.level = base_cls.level
        self.label_step = base_cls.label_step
        self.partitions = dict(base_cls.partitions)
        self.targets = tuple(base_cls.targets)
        self.prediction_format = base_cls.prediction_format
        self.source_names = _source_names(self.sources)
        super().__init__(
            root=root,
            features=self.source_names,
            targets=list(targets) if targets is not None else list(self.base.target_names),
            synthetic_seed=first.data_args.get("synthetic_seed", 0) if synthetic_seed is None else synthetic_seed,
        )
        #: plain reading options, part of the corpus cache key with the prediction files
        self.source_paths = [str(run.path.resolve()) for run in self.sources]
        self.label_args = {k: (str(v) if isinstance(v, Path) else v) for k, v in label_args.items()}

    def resolve_root(self) -> Path:
        """The corpus folder the labels come from."""
        self.root = self.base.resolve_root()
        return self.root

    def _prediction_dir(self, run: SourceRun, partition: str) -> Path:
        folder = note_source(run.path / "predictions" / partition)
        if not folder.exists():
            raise CorpusFormatError(
                f"fusion source {run.path}: no predictions of partition {partition!r} "
                f"({folder} is missing); {_EXPORT_HINT}"
            )
        return folder

    def read(self, partition: str) -> list[Recording]:
        """Labels of ``partition`` from the corpus, features from the sources' prediction files."""
        for run in self.sources:
            self._prediction_dir(run, partition)
        recordings = []
        for rec in self.base.read(partition):
            features = {}
            for run, name in zip(self.sources, self.source_names):
                try:
                    values = self.base.read_predictions(run.path / "predictions", partition, rec, run.targets)
                except CorpusFormatError as err:
                    if "not found" in str(err):
                        raise CorpusFormatError(f"fusion source {run.path}: {err}; {_EXPORT_HINT}") from None
                    raise
                features[name] = np.asarray(values, dtype=np.float32)
            targets = None
            if rec.targets is not None:
                columns = [self.base.target_names.index(t) for t in self.target_names]
                targets = np.asarray(rec.targets)[:, columns]
            recordings.append(
                Recording(
                    id=rec.id,
                    features=features,
                    timestamps=np.asarray(rec.timestamps),
                    targets=targets,
                    meta=dict(rec.meta),
                )
            )
        return recordings

    def write_predictions(
        self,
        out_dir: Path,
        partition: str | None,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Write in the underlying corpus's prediction format."""
        self.base.write_predictions(out_dir, partition, recording, preds, target_names)

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """Read in the underlying corpus's prediction format (so fused runs can be fused again)."""
        return self.base.read_predictions(out_dir, partition, recording, target_names)
