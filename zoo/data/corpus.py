"""The one shape of a corpus: a plain reader of the files as their owners distribute them.

A :class:`Corpus` knows its corpus's layout and nothing else — no windows, batches, loaders or
Lightning; :class:`~zoo.data.datamodule.CorpusDataModule` does all of that for every corpus. A
reader declares, as class attributes:

* ``name`` (the recipes' ``data.name``), ``level`` (``"frame"`` or ``"segment"``), ``label_step``
  (seconds; 0 at segment level), ``partitions`` (stage → the corpus's own partition name),
  ``targets`` (every target it can read), ``label_range`` (the range each target's labels lie in,
  by the corpus's definition; readers refuse labels outside it), ``default_features``,
  ``prediction_format``;
* ``State``: a dataclass of what a trained model depends on besides its weights (SEWA's
  bag-of-words vocabulary), stored in :class:`~zoo.data.types.DataSpec` ``reader_state`` and given
  back to the reader's constructor when new data is read; ``None`` when there is none;
* ``datamodule_defaults``: the corpus's own defaults of datamodule options (``win_len``,
  ``batch_size``, ...), which a recipe can still override;
* ``option_rules``: the declared types and ranges of its own options (:class:`~zoo.config.option_rules.Rule`),
  checked before anything is built (a subclass's rules extend and override its base's);

and implements:

* ``__init__(root, features, targets, synthetic_seed, **options)`` with its reading options as
  explicit keyword arguments (they are the ``data.args`` a recipe may give the reader);
* :meth:`read` (one partition → :class:`~zoo.data.types.Recording` list), calling
  :func:`~zoo.data.sources.note_source` on every file it opens or looks for (that log keys the
  corpus cache; there is no separate list of files to keep in sync);
* :meth:`write_synthetic` (a small corpus in the real layout, with a learnable signal);
* :meth:`write_predictions` / :meth:`read_predictions` (the corpus's submission format);
* optionally :meth:`read_folder` (a user's own recordings in the layout, for ``zoo predict``) and
  :meth:`feature_file` (the file a recording's feature set is read from, named in messages).

Readers register with :func:`~zoo.data.registry.register_corpus`; ``docs/adding_a_corpus.md``
walks through adding one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from zoo.config.option_rules import Rule
from zoo.data.synthetic import default_synthetic_root, ensure_synthetic
from zoo.data.types import LEVELS, STAGE_PARTITIONS, Recording
from zoo.errors import ConfigError, CorpusFormatError

__all__ = ["Corpus", "waveform_record"]


class Corpus:
    """Base class of the corpus readers (see the module docstring).

    Args:
        root: corpus folder in the distributed layout; ``None`` → the synthetic corpus, written
            once into the cache by :meth:`write_synthetic`.
        features: feature sets to read, in model input order; ``None`` → ``default_features``.
        targets: targets to read, in output order; ``None`` → ``default_targets``.
        synthetic_seed: seed of the synthetic corpus (``root=None``).

    Raises:
        ConfigError: an empty feature list or an unknown target.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = "frame"
    label_step: ClassVar[float] = 0.0
    partitions: ClassVar[Mapping[str, str]] = {"train": "train", "val": "devel", "test": "test"}
    targets: ClassVar[tuple[str, ...]] = ()
    #: target → ``(low, high)``: the range the corpus declares for its labels (readers refuse
    #: labels outside it); a target not listed has no declared range
    label_range: ClassVar[Mapping[str, tuple[float, float]]] = {}
    #: targets read when none are given; ``None`` → all of :attr:`targets`
    default_targets: ClassVar[tuple[str, ...] | None] = None
    default_features: ClassVar[tuple[str, ...]] = ()
    #: one line saying where and how predictions are written
    prediction_format: ClassVar[str] = ""
    #: dataclass of the reader's trained state (see the module docstring), or ``None``
    State: ClassVar[type | None] = None
    #: the corpus's own defaults for datamodule options (``win_len``, ``batch_size``, ...)
    datamodule_defaults: ClassVar[Mapping[str, Any]] = {}
    #: option → its declared type and range (see :mod:`zoo.config.option_rules`); these are the base's
    option_rules: ClassVar[Mapping[str, Rule]] = {
        "root": Rule(str, low=1, nullable=True, path=True, meaning="null: the built-in synthetic corpus"),
        "features": Rule(list, low=1, nullable=True, items=Rule(str, low=1), distinct=True),
        "targets": Rule(list, low=1, nullable=True, items=Rule(str, low=1), distinct=True),
        "synthetic_seed": Rule(int, low=0),
    }
    #: bump whenever :meth:`write_synthetic` writes different bytes (cached corpora are rebuilt)
    synthetic_version: ClassVar[str] = "1"
    #: a derived corpus (e.g. prediction fusion) has no synthetic corpus of its own and is left
    #: out of :func:`~zoo.data.registry.list_corpora` by default
    derived: ClassVar[bool] = False
    #: the reading options (``data.args``) under which the reader serves each recording's raw
    #: 16 kHz waveform as its first feature set — in label frames (frame level) or consecutive
    #: rows (segment level) — so that any audio model can be scored on the corpus
    #: (``zoo evaluate``); ``None`` when the corpus has no audio
    raw_audio_args: ClassVar[Mapping[str, Any] | None] = None
    #: globs (relative to a root) that mark this corpus's layout: a given root that matches none of
    #: them but another corpus's is refused by name (a CMU-MOSEI model pointed at a MuSe-CaR folder)
    layout_markers: ClassVar[tuple[str, ...]] = ()
    #: ``(unit, factor from seconds)`` of the ``timestamp`` column ``zoo predict`` writes for raw
    #: media with a model trained on this corpus (MuSe-CaR's label files count milliseconds)
    time_unit: ClassVar[tuple[str, float]] = ("s", 1.0)
    #: how ``zoo extract --layout <name>`` writes feature files into this corpus's layout
    #: (a :class:`~zoo.data.extract_layout.ExtractLayout`), or ``None`` when it cannot
    extract_layout: ClassVar[Any] = None
    # ---- where feature sets come from (recorded in bundles; ``zoo predict`` on raw media)
    #: who distributed the corpus's feature sets (for messages), or ``None``
    feature_distributor: ClassVar[str | None] = None
    #: distributed feature set → the registered extractor that reproduces it
    #: (``{extractor, hop, win, options, weights, weights_sha256, source}``)
    distributed_extractors: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: feature sets the reader serves as the raw 16 kHz waveform, one frame of samples per label step
    waveform_features: ClassVar[tuple[str, ...]] = ()
    #: feature sets the reader computes itself → why raw media cannot give them (one clause)
    virtual_features: ClassVar[Mapping[str, str]] = {}
    #: virtual feature sets that take one value over a whole media file → ``(value, why)``
    media_constants: ClassVar[Mapping[str, tuple[float, str]]] = {}

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        synthetic_seed: int = 0,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else None
        self.feature_names = list(features) if features is not None else list(self.default_features)
        if not self.feature_names:
            raise ConfigError(f"{self.name}: give at least one feature set in data.args.features")
        if isinstance(features, str):
            raise ConfigError(f"{self.name}: data.args.features must be a list, got {features!r}")
        self.target_names = list(targets) if targets is not None else list(self.default_targets or self.targets)
        unknown = [t for t in self.target_names if t not in self.targets]
        if unknown or not self.target_names:
            raise ConfigError(
                f"{self.name}: unknown targets {unknown or self.target_names}; available: {list(self.targets)}"
            )
        self.synthetic_seed = int(synthetic_seed)
        #: feature sets never z-normalised with train statistics (raw waveforms, images, ids)
        self.raw_feature_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.level not in LEVELS:
            raise TypeError(f"{cls.__qualname__}.level must be one of {LEVELS}, got {cls.level!r}")
        if set(cls.partitions) != set(STAGE_PARTITIONS):
            raise TypeError(f"{cls.__qualname__}.partitions must map exactly {STAGE_PARTITIONS}")
        if cls.State is not None and not dataclasses.is_dataclass(cls.State):
            raise TypeError(f"{cls.__qualname__}.State must be a dataclass or None")

    # ----------------------------------------------------------------- location
    def synthetic_variant(self) -> tuple[str, dict[str, Any]]:
        """Cache folder name and :meth:`write_synthetic` options of this reader's synthetic
        corpus (a reader whose options change the synthetic corpus overrides it)."""
        return self.name, {}

    def synthetic_root(self) -> Path:
        """The cache folder of this reader's synthetic corpus, whether it is written yet or not."""
        folder_name, _ = self.synthetic_variant()
        return default_synthetic_root(folder_name, self.synthetic_version, self.synthetic_seed)

    def resolve_root(self) -> Path:
        """:attr:`root`, writing the synthetic corpus first when it is ``None``.

        Raises:
            FileNotFoundError: the given root does not exist.
        """
        if self.root is None:
            folder_name, options = self.synthetic_variant()
            writer = type(self).write_synthetic

            def write(out_dir: Path, seed: int) -> Path:
                return writer(out_dir, seed=seed, **options)

            self.root = ensure_synthetic(folder_name, write, seed=self.synthetic_seed, version=self.synthetic_version)
        if not self.root.exists():
            raise FileNotFoundError(f"{self.name} corpus not found: {self.root}")
        self._check_layout(self.root)
        return self.root

    @classmethod
    def layout_found(cls, root: Path) -> str | None:
        """The first of :attr:`layout_markers` present under ``root`` (a relative path), or ``None``."""
        for pattern in cls.layout_markers:
            hit = next(iter(sorted(root.glob(pattern))), None)
            if hit is not None:
                return hit.relative_to(root).as_posix()
        return None

    def _check_layout(self, root: Path) -> None:
        """Refuse a folder in another corpus's layout, naming both corpora.

        Raises:
            CorpusFormatError: ``root`` has none of this corpus's layout markers but another's.
        """
        if not self.layout_markers or not root.is_dir() or self.layout_found(root) is not None:
            return
        readers, todo = {}, list(Corpus.__subclasses__())  # every reader loaded (the registry's, at least)
        while todo:
            cls = todo.pop()
            todo += cls.__subclasses__()
            if cls.name and cls.layout_markers and cls.name != self.name:
                readers.setdefault(cls.name, cls)
        for name, other in sorted(readers.items()):
            found = other.layout_found(root)
            if found is not None:
                raise CorpusFormatError(
                    f"{root} is a {name} folder (it has {found}), but this {self.name} model or recipe reads "
                    f"{self.name} folders (with {' or '.join(self.layout_markers)}); give a {self.name} folder, "
                    f"or a {name} model or recipe"
                )

    # ----------------------------------------------------------------- reading
    def read(self, partition: str) -> list[Recording]:
        """Read one partition (the corpus's own name, a value of :attr:`partitions`).

        Every file opened or looked for goes through :func:`~zoo.data.sources.note_source`.

        Raises:
            CorpusFormatError: a file that does not have the expected layout, naming the file,
                the line or field, and what was expected.
        """
        raise NotImplementedError

    def read_folder(self) -> list[Recording]:
        """Every recording under :attr:`root` whatever its name (no partition list needed),
        labelled where labels exist: a user's own recordings, for ``zoo predict MODEL FOLDER``.

        Raises:
            CorpusFormatError: this corpus cannot read loose folders, or the read failed.
        """
        raise CorpusFormatError(
            f"{self.name}: reading a folder of new recordings is not supported; give the corpus "
            "in its distributed layout"
        )

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, **options: Any) -> Path:
        """Write a small synthetic corpus in the real layout into the new folder ``out_dir``."""
        raise NotImplementedError

    @classmethod
    def all_option_rules(cls) -> dict[str, Rule]:
        """:attr:`option_rules` of the class and its bases (a subclass's rule wins)."""
        rules: dict[str, Rule] = {}
        for klass in reversed(cls.__mro__):
            rules.update(klass.__dict__.get("option_rules", {}))
        return rules

    @classmethod
    def label_ranges(cls, targets: Sequence[str]) -> list[tuple[float, float]]:
        """``(low, high)`` of each of ``targets`` (:attr:`label_range`; unbounded when undeclared)."""
        return [tuple(cls.label_range.get(t, (-np.inf, np.inf))) for t in targets]

    def feature_file(self, recording_id: str, feature_set: str) -> Path | None:
        """The file feature set ``feature_set`` of recording ``recording_id`` is read from, for
        messages (e.g. a training loss that is not finite); ``None`` when there is no one file."""
        return None

    def turn_data(self, recordings: Sequence[Recording]) -> list[dict[str, Any]]:
        """One sample per speaker turn of prepared ``recordings``, for non-temporal models
        (e.g. Chen et al. 2017's SVR); only corpora with turn annotations have them.

        Raises:
            CorpusFormatError: this corpus has no turn annotations.
        """
        raise CorpusFormatError(f"{self.name} has no turn annotations, so no turn-level data")

    @staticmethod
    def turns_to_frames(spans: np.ndarray, preds: np.ndarray, num_frames: int) -> np.ndarray:
        """Turn-level predictions ``(n, K)`` of :meth:`turn_data`'s turns → frame level ``(T, K)``.

        Frames inside a turn (``spans``: ``(n, 2)`` first and end frame) get the turn's
        prediction; frames between turns are interpolated linearly between the neighbouring
        turn centres (held constant beyond the first/last turn).
        """
        preds = np.asarray(preds, np.float64)
        out = np.zeros((num_frames, preds.shape[1]))
        if len(spans) == 0:
            return out
        centres = (spans[:, 0] + spans[:, 1] - 1) / 2.0
        frames = np.arange(num_frames)
        for k in range(preds.shape[1]):
            out[:, k] = np.interp(frames, centres, preds[:, k])
        for (lo, hi), p in zip(spans, preds):
            out[lo:hi] = p
        return out

    # ----------------------------------------------------------------- where features come from
    @classmethod
    def feature_source_folder(cls, root: Path, feature: str, data_args: Mapping[str, Any]) -> Path | None:
        """The folder the reader reads feature set ``feature`` from under ``root`` (where
        ``zoo extract`` leaves its ``extract_settings.json``), or ``None`` when it has none."""
        return cls.extract_layout.feature_folder(Path(root), feature) if cls.extract_layout is not None else None

    @classmethod
    def raw_feature_record(
        cls, feature: str, data_args: Mapping[str, Any], label_step: float | None
    ) -> dict[str, Any] | None:
        """The extractor record of a feature set the reader serves raw (a waveform), or ``None``."""
        if feature not in cls.waveform_features or label_step is None:
            return None
        return waveform_record(cls.name, feature, label_step, normalize=False)

    @classmethod
    def media_missing_reason(cls, feature: str, data_args: Mapping[str, Any]) -> str | None:
        """Why feature set ``feature`` cannot be computed from media, when the corpus knows (else ``None``)."""
        why = cls.virtual_features.get(feature)
        return f"feature set {feature!r} {why}" if why else None

    # ----------------------------------------------------------------- a user's own media
    @classmethod
    def recording_partitions(cls, root: Path, ids: Sequence[str]) -> dict[str, str | None]:
        """The corpus partition of each recording id of a folder in this layout, or ``None``.

        By default an id ``<partition>_...`` (RECOLA ``dev_3``, SEWA ``Devel_DE_01``) names its
        partition; a corpus with a partition table overrides this.
        """
        names = [str(v) for v in cls.partitions.values()]
        return {str(i): next((n for n in names if str(i).startswith(f"{n}_")), None) for i in ids}

    @classmethod
    def media_feature_problem(
        cls, feature: str, data_args: Mapping[str, Any], model_features: Sequence[str]
    ) -> str | None:
        """Why feature set ``feature`` (of a model reading ``model_features`` with reading options
        ``data_args``) cannot be computed from a raw media file alone, or ``None`` when it can."""
        return None

    # ----------------------------------------------------------------- state
    def state(self) -> Any:
        """The reader's trained state (an instance of :attr:`State`), or ``None``."""
        return None

    def reader_state(self) -> dict[str, Any]:
        """:meth:`state` as plain types, for :class:`~zoo.data.types.DataSpec`."""
        state = self.state()
        return {} if state is None else dataclasses.asdict(state)

    @classmethod
    def restore_state(cls, reader_state: Mapping[str, Any], source: str) -> dict[str, Any]:
        """Reader options that restore a stored ``reader_state`` (only :attr:`State`'s fields).

        Raises:
            ConfigError: a field :attr:`State` does not declare, naming ``source``.
        """
        if not reader_state:
            return {}
        if cls.State is None:
            raise ConfigError(
                f"{source}: data_spec.reader_state {sorted(reader_state)} given, but the "
                f"{cls.name} reader declares no state"
            )
        declared = {f.name for f in dataclasses.fields(cls.State)}
        unknown = sorted(set(reader_state) - declared)
        if unknown:
            raise ConfigError(
                f"{source}: data_spec.reader_state has fields {unknown}, the {cls.name} reader "
                f"declares only {sorted(declared)}"
            )
        return dataclasses.asdict(cls.State(**reader_state))

    def describe(self) -> dict[str, Any]:
        """Descriptive reading options kept in the checkpoint (``DataSpec.reader_info``)."""
        return {}

    def padding_blocks(self, feature: str) -> int:
        """Into how many equal blocks the reader's zero padding splits a frame of ``feature``
        (``data.args.zero_padding: normalised``; see :func:`zoo.data._normalize.padding_mask`):
        1 (whole frames) unless a reader concatenates independently padded parts."""
        return 1

    # ----------------------------------------------------------------- predictions
    @staticmethod
    def prediction_folder(out_dir: Path, partition: str | None) -> Path:
        """``out_dir/<partition>``, or ``out_dir`` itself when no partition is given."""
        return Path(out_dir) / partition if partition else Path(out_dir)

    def write_predictions(
        self, out_dir: Path, partition: str, recording: Recording, preds: np.ndarray, target_names: Sequence[str]
    ) -> None:
        """Write one recording's predictions (frame level ``(T, K)``, segment level ``(K,)``) for
        ``partition`` under the run's prediction folder ``out_dir``, in the corpus's format."""
        raise NotImplementedError

    def read_predictions(
        self, out_dir: Path, partition: str, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        """Read back what :meth:`write_predictions` wrote for ``recording``.

        Raises:
            CorpusFormatError: a missing file or rows that do not match ``recording``.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root}, features={self.feature_names}, targets={self.target_names})"


def waveform_record(corpus: str, feature: str, label_step: float, normalize: bool) -> dict[str, Any]:
    """The ``waveform`` extractor's record of a raw 16 kHz feature set on the label step."""
    return {
        "extractor": "waveform",
        "hop": float(label_step),
        "win": None,
        "options": {"normalize": bool(normalize)},
        "weights": None,
        "weights_sha256": None,
        "source": f"the {corpus} reader's raw 16 kHz {feature!r}, one frame of samples per label step",
    }
