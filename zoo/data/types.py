"""The data types every corpus reader, the datamodule and the models share.

This module imports nothing from :mod:`zoo` but :mod:`zoo.errors`, so readers, the generic
datamodule, the task and checkpoint code can all import it without import cycles.

* :class:`Recording` — one recording (frame level) or one segment (segment level) as a reader
  returns it.
* :class:`DataSpec` — everything a trained model needs to know about its data: what the
  datamodule hands to :class:`~zoo.training.task.EmotionTask` and what a checkpoint stores (as
  :meth:`DataSpec.to_dict`, plain types only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from zoo.errors import CorpusFormatError

__all__ = ["LEVELS", "STAGE_PARTITIONS", "Recording", "DataSpec", "DataSpecError"]

#: ``frame``: per-frame labels on a fixed label step (RECOLA, SEWA, MuSe-CaR); ``segment``: one
#: label vector per segment of variable length (CMU-MOSEI).
LEVELS = ("frame", "segment")
#: the stage partitions of every corpus (each corpus maps them to its own names)
STAGE_PARTITIONS = ("train", "val", "test")


@dataclass
class Recording:
    """One recording (video/session) of a corpus on its label timeline, or one segment.

    Attributes:
        id: the corpus's own recording or segment name (e.g. ``"17"``, ``"Train_01"``,
            ``"-3g5yACwYnA[2]"``).
        features: feature set name → ``(T, D)`` array, row ``t`` at ``timestamps[t]`` (frame
            level) or word step ``t`` (segment level); raw inputs may have more axes (``(T, 640)``
            audio samples, ``(T, H, W, 3)`` uint8 face crops) and keep their dtype.
        timestamps: ``(T,)`` float64 seconds of the label frames. Segment level: the ``(T,)``
            step indices (a segment has one label, not a timeline).
        targets: frame level ``(T, K)``, segment level ``(K,)`` float32 labels in the target order
            of the reader; ``None`` when the partition's labels are not distributed.
        meta: per-frame extras needed to write predictions back (e.g. ``segment_id``).
        level: ``"frame"`` or ``"segment"``, as declared by the corpus.
    """

    id: str
    features: dict[str, np.ndarray]
    timestamps: np.ndarray
    targets: np.ndarray | None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    level: str = "frame"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"recording {self.id}: level must be one of {LEVELS}, got {self.level!r}")
        n = len(self.timestamps)
        for name, array in self.features.items():
            if array.ndim < 2 or array.shape[0] != n:
                raise CorpusFormatError(
                    f"recording {self.id}: feature set {name!r} has shape {array.shape}, "
                    f"expected ({n}, ...) to match its {n} label frames"
                )
        if self.targets is None:
            return
        if self.level == "frame" and (self.targets.ndim != 2 or self.targets.shape[0] != n):
            raise CorpusFormatError(f"recording {self.id}: targets have shape {self.targets.shape}, expected ({n}, K)")
        if self.level == "segment" and self.targets.ndim != 1:
            raise CorpusFormatError(f"segment {self.id}: targets have shape {self.targets.shape}, expected (K,)")

    @property
    def num_frames(self) -> int:
        """Number of label frames (segment level: word steps)."""
        return len(self.timestamps)


class DataSpecError(ValueError):
    """A stored data specification is not one this version can restore."""


#: top-level keys of data specs written before :class:`DataSpec` existed, which only described
#: the reader's options; they are kept (in :attr:`DataSpec.reader_info`) but restore nothing
_LEGACY_INFO_KEYS = ("release", "interlocutor", "interlocutor_features", "maxlen", "truncate", "format")
#: corpora whose level old specs did not store
_LEGACY_SEGMENT_CORPORA = ("cmu_mosei",)


@dataclass
class DataSpec:
    """What a trained model needs to know about its data; stored in checkpoints and bundles.

    A datamodule's :meth:`~zoo.data.datamodule.CorpusDataModule.spec` fills every field; a spec
    built by hand needs only ``feature_dims`` and ``target_names`` (it is then a frame-level spec
    whose feature order is that of ``feature_dims``).

    Attributes:
        feature_dims: feature set → dimension (or shape list for raw inputs).
        target_names: model outputs in order.
        corpus: registered corpus name (``"muse_car"``, ...).
        level: ``"frame"`` (outputs ``(B, T, K)``) or ``"segment"`` (outputs ``(B, K)``).
        feature_names: feature sets in model input order.
        label_step: seconds per label frame (0 for segment-level corpora).
        label_shift: seconds by which labels lag the features.
        feature_delay: extra delay in seconds per feature set.
        normalization: train-partition statistics ``{name: {"mean": [...], "std": [...]}}`` of
            the normalised sets, or ``None``.
        reader_state: the reader's trained state (e.g. SEWA's ``vocabulary``), restored into the
            reader's declared :attr:`~zoo.data.corpus.Corpus.State` when new data is read.
        reader_info: descriptive reading options (release, strategy, ...); restores nothing.
    """

    feature_dims: dict[str, Any]
    target_names: list[str]
    corpus: str = ""
    level: str = "frame"
    feature_names: list[str] = field(default_factory=list)
    label_step: float = 0.0
    label_shift: float = 0.0
    feature_delay: dict[str, float] = field(default_factory=dict)
    normalization: dict[str, dict[str, list[float]]] | None = None
    reader_state: dict[str, Any] = field(default_factory=dict)
    reader_info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.feature_names:
            self.feature_names = list(self.feature_dims)
        if self.level not in LEVELS:
            raise DataSpecError(f"data_spec.level must be one of {LEVELS}, got {self.level!r}")
        missing = [n for n in self.feature_names if n not in self.feature_dims]
        if missing:
            raise DataSpecError(f"data_spec.feature_dims lacks the feature sets {missing}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types (safe for ``torch.load(weights_only=True)``, YAML and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "data_spec") -> DataSpec:
        """Parse a stored spec, including those written before this class (no ``level``).

        Args:
            data: the stored mapping.
            source: where it comes from, for error messages (a checkpoint path).

        Raises:
            DataSpecError: a missing required field or an unknown one, naming ``source``.
        """
        if isinstance(data, DataSpec):
            return data
        if not isinstance(data, Mapping):
            raise DataSpecError(f"{source}: data_spec must be a mapping, got {type(data).__name__}")
        values = dict(data)
        info = dict(values.pop("reader_info", None) or {})
        for key in _LEGACY_INFO_KEYS:
            if key in values:
                info[key] = values.pop(key)
        if "level" not in values and "corpus" in values:
            values["level"] = "segment" if values["corpus"] in _LEGACY_SEGMENT_CORPORA else "frame"
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - names)
        if unknown:
            raise DataSpecError(f"{source}: data_spec has unknown fields {unknown}; known: {sorted(names)}")
        required = ("feature_dims", "target_names")
        absent = [k for k in required if k not in values]
        if absent:
            raise DataSpecError(f"{source}: data_spec lacks the fields {absent}")
        values["reader_state"] = dict(values.get("reader_state") or {})
        values["feature_delay"] = dict(values.get("feature_delay") or {})
        return cls(**values, reader_info=info)
