"""One datamodule for every corpus: :class:`CorpusDataModule`.

A corpus reader (:class:`~zoo.data.corpus.Corpus`) turns files into
:class:`~zoo.data.types.Recording` objects; everything after that is the same for every corpus and
lives here (the machinery itself is in :mod:`zoo.data._sequence`, :mod:`zoo.data._segments`,
:mod:`zoo.data._cache` and :mod:`zoo.data._normalize`):

* **reading through the corpus cache** — the first read of a partition is parsed and stored as
  memory-mapped ``.npy`` arrays, keyed by the files the reader opened;
* **normalisation statistics** from the train partition only (``zscore`` or ``maxabs``), carried
  to the model in :class:`~zoo.data.types.DataSpec`; the loaders yield raw features and
  :class:`~zoo.training.task.EmotionTask` normalises each batch on its device;
* **frame level** (RECOLA, SEWA, MuSe-CaR) — label shift and per-set feature delays, training
  windows of ``win_len`` frames every ``hop_len`` frames, whole recordings for evaluation, padded
  batches with masks (:func:`~zoo.data._sequence.collate_sequences`);
* **segment level** (CMU-MOSEI) — whole segments, padded (:func:`~zoo.data._segments.collate_segments`);
* **distribution** — a shuffle that is a function of ``(seed, epoch)`` under one process and DDP,
  and evaluation shards that give every recording to exactly one process.

The level is declared by the reader, never guessed from array shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

from zoo.config.option_rules import Rule, check_options
from zoo.data._cache import read_partition_cached
from zoo.data._encoded import FeatureEncoder, encode_partition
from zoo.data._segments import SegmentDataset, collate_segments
from zoo.data._sequence import (
    LAST_WINDOW_CHOICES,
    EvalShardSampler,
    FeatureStats,
    SequenceCollator,
    SequenceDataset,
    ShardPaddedDataset,
    WindowPreparer,
    compute_feature_stats,
    default_num_workers,
    prepare_features,
)
from zoo.data.corpus import Corpus
from zoo.data.registry import corpus_class
from zoo.data.types import STAGE_PARTITIONS, DataSpec, Recording
from zoo.errors import ConfigError, CorpusFormatError

__all__ = ["CorpusDataModule", "DATA_OPTION_RULES", "NORMALIZATIONS", "check_data_options"]

NORMALIZATIONS = (True, False, "zscore", "maxabs")
ZERO_PADDING = ("raw", "normalised")


class CorpusDataModule(pl.LightningDataModule):
    """The datamodule of every corpus: reading, normalisation, windows, batches, distribution.

    Args:
        corpus: registered corpus name (``data.name``) or a :class:`~zoo.data.corpus.Corpus`
            subclass.
        root: corpus folder in the distributed layout; ``None`` → the synthetic corpus.
        features: feature sets to use together (early fusion), in model order; ``None`` → the
            reader's default.
        targets: target dimensions, in output order; ``None`` → every target of the reader.
        win_len: frame level: training window length in label frames; ``None`` trains on whole
            recordings padded to the longest in the batch (as Atmaja & Akagi 2020).
        hop_len: frame level: hop between training windows in label frames.
        last_window: frame level: the last training window of a recording, ``"align_end"`` (a
            full window aligned to the recording's end) or ``"remainder"`` (the shorter rest
            after the last regular window, as the released code of Sun et al. 2020).
        batch_size: training batch size (windows or segments).
        eval_batch_size: batch size of whole recordings/segments for val/test/predict.
        num_workers: DataLoader worker processes; ``None`` → :func:`default_num_workers`.
        normalize: ``True``/``"zscore"`` (z-score with train statistics), ``"maxabs"`` (divide
            by the train partition's largest magnitude per dimension) or ``False``.
        label_shift: frame level: seconds by which labels lag the features.
        feature_delay: frame level: extra delay in seconds per feature set.
        zero_padding: ``"raw"``: zeros a reader wrote as padding are normalised like any value
            (they become ``-mean / std``); ``"normalised"``: every all-zero frame of a normalised
            set (or all-zero block, :meth:`~zoo.data.corpus.Corpus.padding_blocks`) is padding,
            left out of the train statistics and 0 after normalisation — zero padding of the
            model input, as Chen et al. (2017) pad purified/doubled interlocutor frames, frames
            outside text turns and frames without a face.
        normalization_stats: statistics to use instead of computing them (from a checkpoint).
        predict_partition: stage partition (``"train"``, ``"val"`` or ``"test"``) used by predict.
        seed: seed of the training shuffle (``zoo`` passes the recipe's ``seed``).
        synthetic_seed: seed of the built-in synthetic corpus (``root=None``); independent of
            ``seed``, so every training seed trains on the same corpus.
        pin_memory: pin host memory for GPU transfer; ``None`` → when CUDA is available.
        cache_dir: folder of the corpus cache; ``None`` → ``<affect-zoo cache>/corpus-cache``.
        use_cache: parse each partition once and memory-map it afterwards; ``False`` parses on
            every load.
        cache_encoded: keep the outputs of attached frozen encoders (:meth:`attach_feature_encoder`)
            in the corpus cache; ``None`` → as ``use_cache``. A reader that does not cache its
            raw partitions may still cache the encoded ones (CMU-MOSEI: encoding is what costs).
        **reader_options: the reader's own options (``release``, ``mode``, ``nan_policy``, ...:
            the keyword arguments of its constructor).

    Raises:
        ConfigError: an unknown option, or a value outside its choices.
    """

    def __init__(self, corpus: str | type[Corpus], /, **options: Any) -> None:
        super().__init__()
        corpus_cls = corpus_class(corpus) if isinstance(corpus, str) else corpus
        check_data_options(corpus_cls, options)
        merged = {**_GENERIC_DEFAULTS, **corpus_cls.datamodule_defaults, **options}
        reader_params = _reader_parameters(corpus_cls)
        unknown = sorted(k for k in merged if k not in _GENERIC_DEFAULTS and k not in reader_params)
        if unknown:
            raise ConfigError(
                f"{corpus_cls.name}: unknown data.args {unknown}; the datamodule takes "
                f"{sorted(_GENERIC_DEFAULTS)} and the {corpus_cls.name} reader "
                f"{sorted(reader_params)}"
            )
        reader_args = {k: v for k, v in merged.items() if k in reader_params}
        #: the corpus reader (plain: no loaders, no Lightning)
        self.corpus: Corpus = corpus_cls(**reader_args)
        self._configure(**{k: merged[k] for k in _GENERIC_DEFAULTS})
        self._raw: dict[str, list[Recording]] = {}
        self._prepared: dict[str, list[Recording]] = {}
        self.feature_dims: dict[str, Any] = {}
        #: frozen encoders applied to raw feature sets when partitions load (cached with them)
        self.feature_encoders: dict[str, FeatureEncoder] = {}

    def _configure(
        self,
        win_len: int | None,
        hop_len: int,
        last_window: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int | None,
        normalize: bool | str,
        label_shift: float,
        feature_delay: Mapping[str, float] | None,
        zero_padding: str,
        normalization_stats: Mapping[str, Mapping[str, Sequence[float]]] | None,
        predict_partition: str,
        seed: int,
        pin_memory: bool | None,
        cache_dir: str | Path | None,
        use_cache: bool,
        cache_encoded: bool | None,
    ) -> None:
        if predict_partition not in STAGE_PARTITIONS:
            raise ConfigError(
                f"data.args.predict_partition must be one of {STAGE_PARTITIONS}, got {predict_partition!r}"
            )
        if last_window not in LAST_WINDOW_CHOICES:
            raise ConfigError(
                f"data.args.last_window must be one of {', '.join(LAST_WINDOW_CHOICES)}, found {last_window!r}"
            )
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"data.args.normalize must be true, false, 'zscore' or 'maxabs', got {normalize!r}")
        if zero_padding not in ZERO_PADDING:
            raise ConfigError(f"data.args.zero_padding must be one of {', '.join(ZERO_PADDING)}, got {zero_padding!r}")
        self.win_len = int(win_len) if win_len else None
        self.hop_len = int(hop_len)
        if self.win_len is not None and self.hop_len > self.win_len:
            raise ConfigError(
                f"data.args.hop_len must be at most data.args.win_len ({self.win_len} frames), "
                f"found {self.hop_len}: the frames between windows would never be trained on"
            )
        if self.level == "segment" and (float(label_shift) or feature_delay):
            raise ConfigError(f"{self.corpus.name} is segment-level: label_shift and feature_delay do not apply")
        self.last_window = str(last_window)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        self.normalize = normalize
        self.label_shift = float(label_shift)
        self.feature_delay = dict(feature_delay or {})
        self.zero_padding = str(zero_padding)
        self.predict_partition = predict_partition
        self.seed = int(seed)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.use_cache = bool(use_cache)
        if cache_encoded is not None and not isinstance(cache_encoded, bool):
            raise ConfigError(f"data.args.cache_encoded must be true, false or null, got {cache_encoded!r}")
        self.cache_encoded = self.use_cache if cache_encoded is None else cache_encoded
        self.normalization: dict[str, FeatureStats] | None = (
            {n: FeatureStats.from_dict(s) for n, s in normalization_stats.items()} if normalization_stats else None
        )

    # ----------------------------------------------------------------- what the reader declares
    @property
    def corpus_name(self) -> str:
        """The registered corpus name."""
        return self.corpus.name

    @property
    def level(self) -> str:
        """``"frame"`` or ``"segment"``, as the reader declares."""
        return self.corpus.level

    @property
    def label_step(self) -> float:
        """Seconds per label frame (0 at segment level)."""
        return float(self.corpus.label_step)

    @property
    def partitions(self) -> Mapping[str, str]:
        """Stage partition → the corpus's own partition name."""
        return self.corpus.partitions

    @property
    def available_targets(self) -> tuple[str, ...]:
        """Every target the reader can read."""
        return tuple(self.corpus.targets)

    @property
    def feature_names(self) -> list[str]:
        """Feature sets in model input order."""
        return self.corpus.feature_names

    @property
    def target_names(self) -> list[str]:
        """Targets in output order."""
        return self.corpus.target_names

    @property
    def root(self) -> Path | None:
        """The corpus folder (``None`` until the synthetic corpus is resolved)."""
        return self.corpus.root

    @property
    def raw_feature_names(self) -> tuple[str, ...]:
        """Feature sets never normalised with train statistics."""
        return tuple(self.corpus.raw_feature_names)

    @property
    def normalized_feature_names(self) -> list[str]:
        """Feature sets normalised with train statistics (all but the raw ones)."""
        return [n for n in self.feature_names if n not in self.raw_feature_names]

    # ----------------------------------------------------------------- lifecycle
    def prepare_data(self) -> None:
        """Write the synthetic corpus when no root is given (called on one process)."""
        self.corpus.resolve_root()

    def _resolved_root(self) -> Path:
        return self.corpus.resolve_root()

    def attach_feature_encoder(self, name: str, encoder: FeatureEncoder) -> None:
        """Serve feature set ``name`` through a frozen ``encoder``, applied once per recording
        when a partition loads and kept in the corpus cache (:mod:`zoo.data._encoded`).

        Partitions loaded before are dropped and reloaded encoded. :attr:`feature_dims` keeps the
        raw width (what a model reads without the cache, e.g. at prediction time).

        Raises:
            ConfigError: ``name`` is not a raw feature set of this datamodule.
        """
        if name not in self.feature_names or name not in self.raw_feature_names:
            raise ConfigError(
                f"{self.corpus_name}: cannot encode feature set {name!r}: encoders apply to the raw "
                f"feature sets {list(self.raw_feature_names)} of features {self.feature_names}"
            )
        if not isinstance(encoder, FeatureEncoder):
            raise TypeError(f"feature encoder of {name!r} must have key, sources, output_dim and __call__")
        if not self.feature_dims:
            self.raw_recordings("train")  # record the raw widths first
        self.feature_encoders[name] = encoder
        self._raw.clear()
        self._prepared.clear()

    def raw_recordings(self, stage_partition: str) -> list[Recording]:
        """Recordings of a stage partition (``train``/``val``/``test``) as read from disk (with
        any attached feature encoders applied)."""
        if stage_partition not in self._raw:
            partition = self.partitions[stage_partition]
            if self.feature_encoders:  # the raw partition is read only to build a missing encoded entry
                self._raw[stage_partition] = encode_partition(
                    self.corpus,
                    partition,
                    lambda: self._read_raw(partition),
                    self.feature_encoders,
                    self.cache_dir,
                    self.cache_encoded,
                )
            else:
                self._raw[stage_partition] = self._read_raw(partition)
        return self._raw[stage_partition]

    def _read_raw(self, partition: str) -> list[Recording]:
        recordings = read_partition_cached(self.corpus, partition, self.cache_dir, self.use_cache)
        if not recordings:
            what = "segments" if self.level == "segment" else "recordings"
            raise CorpusFormatError(f"{self.corpus_name}: partition {partition!r} of {self.root} holds no {what}")
        self._check_dims(recordings)
        return recordings

    def load_folder(self) -> list[Recording]:
        """Every recording under the root, labelled where labels exist (``zoo predict``)."""
        self.corpus.resolve_root()
        recordings = self.corpus.read_folder()
        self._check_dims(recordings)
        return recordings

    def _check_dims(self, recordings: Sequence[Recording]) -> None:
        for rec in recordings:
            if rec.level != self.level:
                raise CorpusFormatError(
                    f"{self.corpus_name}: the reader returned a {rec.level}-level "
                    f"recording {rec.id}; the corpus is {self.level}-level"
                )
            for name in self.feature_names:
                shape = rec.features[name].shape[1:]
                dim = int(shape[0]) if len(shape) == 1 else [int(d) for d in shape]
                expected = self.feature_dims.setdefault(name, dim)
                if dim != expected:
                    source = self.corpus.feature_file(rec.id, name)
                    raise CorpusFormatError(
                        (f"{source}: " if source is not None else "")
                        + f"{self.corpus_name}: feature set {name!r} of recording {rec.id} has "
                        f"{dim} dimensions, other recordings have {expected}"
                    )

    def recordings(self, stage_partition: str) -> list[Recording]:
        """Recordings of a stage partition with features delayed and normalised, on the host.

        For inspection and whole-recording tools (estimators, turn data); the loaders serve raw
        windows and leave the normalisation to the step.
        """
        if stage_partition not in self._prepared:
            raw = self.raw_recordings(stage_partition)
            self._ensure_normalization()
            stats = self.normalization if self.normalize else None
            self._prepared[stage_partition] = [
                Recording(
                    id=rec.id,
                    features=prepare_features(
                        rec.features,
                        feature_names=self.feature_names,
                        label_step=self.label_step,
                        label_shift=self.label_shift,
                        feature_delay=self.feature_delay,
                        normalization=stats,
                    ),
                    timestamps=rec.timestamps,
                    targets=rec.targets,
                    meta=rec.meta,
                    level=rec.level,
                )
                for rec in raw
            ]
        return self._prepared[stage_partition]

    def _ensure_normalization(self) -> None:
        if not self.normalize or self.normalization is not None or not self.normalized_feature_names:
            return
        train = self.raw_recordings("train")
        names = self.normalized_feature_names
        blocks = {n: self.corpus.padding_blocks(n) for n in names} if self.zero_padding == "normalised" else {}
        if self.normalize == "maxabs":  # padding zeros neither raise a maximum nor move under it
            stats = {}
            for name in names:
                scale = np.max(
                    [np.abs(np.asarray(r.features[name])).max(axis=0) for r in train if len(r.features[name])], axis=0
                ).astype(np.float64)
                stats[name] = FeatureStats(np.zeros_like(scale), np.where(scale > 0, scale, 1.0), blocks.get(name, 0))
            self.normalization = stats
        else:
            self.normalization = compute_feature_stats(train, names, padding_blocks=blocks)

    def setup(self, stage: str | None = None) -> None:
        """Load what ``stage`` needs; normalisation statistics always come from train."""
        needed = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": (self.predict_partition,),
            None: ("train", "val", "test"),
        }[stage]
        for part in needed:
            self.raw_recordings(part)
        self._ensure_normalization()

    def spec(self) -> DataSpec:
        """The :class:`~zoo.data.types.DataSpec` a model trained on this data needs."""
        if not self.feature_dims:
            self.raw_recordings("train")
        self._ensure_normalization()
        return DataSpec(
            corpus=self.corpus_name,
            level=self.level,
            feature_names=list(self.feature_names),
            feature_dims={n: self.feature_dims[n] for n in self.feature_names},
            target_names=list(self.target_names),
            label_step=float(self.label_step),
            label_shift=self.label_shift,
            feature_delay=dict(self.feature_delay),
            normalization=(
                {n: s.to_dict() for n, s in self.normalization.items()}
                if self.normalize and self.normalization is not None
                else None
            ),
            reader_state=self.corpus.reader_state(),
            reader_info=self.corpus.describe(),
        )

    def data_spec(self) -> dict[str, Any]:
        """:meth:`spec` as plain types (what checkpoints store)."""
        return self.spec().to_dict()

    # ----------------------------------------------------------------- loaders
    def _distributed_sampler(self, dataset: Dataset, shuffle: bool) -> Sampler | None:
        """Our own sampler under DDP (the trainer runs with ``use_distributed_sampler=False``).

        Lightning's default evaluation sampler pads shards by repeating recordings, which would
        bias a pooled CCC; :class:`EvalShardSampler` gives every recording to exactly one process
        (a process left without one evaluates a padding item that counts nowhere).
        """
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return None
        if shuffle:
            return DistributedSampler(dataset, shuffle=True, seed=self.seed, drop_last=False)
        return EvalShardSampler(dataset)

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        if not shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            dataset = ShardPaddedDataset(dataset)  # a rank may get no recording (see EvalShardSampler)
        # a private generator: creating the loader's iterator never draws from the global torch
        # RNG (which drives dropout and is restored on resume)
        generator = torch.Generator().manual_seed(self.seed)
        sampler = self._distributed_sampler(dataset, shuffle)
        if shuffle and sampler is None and self.level == "segment":
            # the shuffle segment-level runs have always used: a RandomSampler drawing from the
            # loader's own generator (kept so that trained results do not change)
            sampler = RandomSampler(dataset, generator=generator)
        elif shuffle and sampler is None:
            # one process: the DDP sampler with one replica, whose order is a function of (seed,
            # epoch) alone (Lightning calls set_epoch), so a run resumed from last.ckpt shuffles
            # the remaining epochs exactly as the uninterrupted run did
            sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=self.seed)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            sampler=sampler,
            generator=generator,
            collate_fn=collate_segments if self.level == "segment" else SequenceCollator(),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def window_preparer(self) -> WindowPreparer:
        """The feature delay of this datamodule, applied per window by the datasets."""
        return WindowPreparer.from_options(
            feature_names=self.feature_names,
            label_step=self.label_step,
            label_shift=self.label_shift,
            feature_delay=self.feature_delay,
        )

    def _dataset(self, stage_partition: str, windowed: bool) -> Dataset:
        recordings = self.raw_recordings(stage_partition)
        if self.level == "segment":
            return SegmentDataset(recordings, len(self.target_names))
        return SequenceDataset(
            recordings,
            num_targets=len(self.target_names),
            win_len=self.win_len if windowed else None,  # None: whole recordings
            hop_len=self.hop_len,
            prepare=self.window_preparer(),
            last_window=self.last_window,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("train", windowed=True), self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val", False), self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("test", False), self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.predict_partition, False), self.eval_batch_size, shuffle=False)

    # ----------------------------------------------------------------- predictions
    def write_predictions(
        self,
        out_dir: Path,
        recording: Recording,
        preds: np.ndarray,
        target_names: Sequence[str],
        partition: str | None = None,
    ) -> None:
        """Write one recording's predictions in the corpus's format under ``out_dir`` (in the
        partition's sub-folder/file when ``partition``, the corpus's own name, is given)."""
        self.corpus.write_predictions(Path(out_dir), partition, recording, preds, target_names)

    def read_predictions(
        self,
        out_dir: Path,
        recording: Recording,
        target_names: Sequence[str] | None = None,
        partition: str | None = None,
    ) -> np.ndarray:
        """Read back what :meth:`write_predictions` wrote for ``recording``."""
        return self.corpus.read_predictions(
            Path(out_dir), partition, recording, list(target_names or self.target_names)
        )

    def write_batch_predictions(
        self,
        out_dir: Path,
        stage_partition: str,
        ids: Sequence[str],
        preds: np.ndarray,
        mask: np.ndarray,
        target_names: Sequence[str],
    ) -> None:
        """Write a batch of whole-recording predictions (frame level ``(B, T, K)``, segment level
        ``(B, K)``) for a stage partition under ``out_dir``, in the corpus's format."""
        preds = np.asarray(preds)
        expected = (len(ids), len(target_names)) if self.level == "segment" else None
        if (expected is not None and preds.shape != expected) or (
            expected is None and (preds.ndim != 3 or len(preds) != len(ids) or preds.shape[2] != len(target_names))
        ):
            shape = (
                "(B, K) = " + str(expected) if expected else f"(B, T, K) with B = {len(ids)}, K = {len(target_names)}"
            )
            raise ValueError(f"{self.level}-level predictions must be {shape}, got {preds.shape}")
        by_id = {rec.id: rec for rec in self.raw_recordings(stage_partition)}
        partition = self.partitions[stage_partition]
        for b, rec_id in enumerate(ids):
            rec = by_id[rec_id]
            if self.level == "segment":
                values = preds[b]
            else:
                values = preds[b][mask[b]]
                if len(values) != rec.num_frames:
                    raise RuntimeError(
                        f"recording {rec_id}: {len(values)} predicted frames for {rec.num_frames} label "
                        "frames; prediction writing needs whole recordings"
                    )
            bad = ~np.isfinite(np.asarray(values, np.float64))
            if bad.any():
                raise ValueError(
                    f"recording {rec_id}: the model predicted {int(bad.sum())} NaN/inf value(s); no prediction "
                    f"file is written for it (are its features, {self._source(rec_id)}, finite and on the "
                    "model's scale?)"
                )
            self.corpus.write_predictions(Path(out_dir), partition, rec, values, target_names)

    def _source(self, recording_id: str) -> str:
        """The files of a recording's feature sets, for messages (or its feature set names)."""
        files = [self.corpus.feature_file(recording_id, n) for n in self.feature_names]
        return ", ".join(str(f) if f is not None else repr(n) for f, n in zip(files, self.feature_names))

    def total_frames(self, stage_partition: str) -> int:
        """Number of label frames (segment level: word steps) in a stage partition."""
        return sum(r.num_frames for r in self.raw_recordings(stage_partition))

    def __repr__(self) -> str:
        return (
            f"CorpusDataModule({self.corpus_name!r}, root={self.root}, features={self.feature_names}, "
            f"targets={self.target_names}, level={self.level!r})"
        )


#: the datamodule's own options and their defaults (a reader may declare other defaults in
#: ``datamodule_defaults``); everything else in ``data.args`` goes to the reader
_GENERIC_DEFAULTS: dict[str, Any] = {
    "win_len": 200,
    "hop_len": 100,
    "last_window": "align_end",
    "batch_size": 32,
    "eval_batch_size": 8,
    "num_workers": None,
    "normalize": True,
    "label_shift": 0.0,
    "feature_delay": None,
    "zero_padding": "raw",
    "normalization_stats": None,
    "predict_partition": "test",
    "seed": 0,
    "pin_memory": None,
    "cache_dir": None,
    "use_cache": True,
    "cache_encoded": None,
}


#: declared types and ranges of the datamodule's own options (next to their defaults above); each
#: reader declares its own (:attr:`~zoo.data.corpus.Corpus.option_rules`)
DATA_OPTION_RULES: dict[str, Rule] = {
    "win_len": Rule(int, low=1, nullable=True, meaning="null: whole recordings"),
    "hop_len": Rule(int, low=1),
    "last_window": Rule(choices=LAST_WINDOW_CHOICES),
    "batch_size": Rule(int, low=1),
    "eval_batch_size": Rule(int, low=1),
    "num_workers": Rule(int, low=0, nullable=True),
    "normalize": Rule(choices=NORMALIZATIONS),
    "label_shift": Rule(float),
    "feature_delay": Rule(dict, nullable=True),
    "normalization_stats": Rule(dict, nullable=True),
    "predict_partition": Rule(choices=STAGE_PARTITIONS),
    "seed": Rule(int, low=0),
    "pin_memory": Rule(bool, nullable=True),
    "cache_dir": Rule(str, low=1, nullable=True, path=True),
    "use_cache": Rule(bool),
}


def check_data_options(corpus: str | type[Corpus], options: Mapping[str, Any]) -> None:
    """Check ``data.args`` against their declared types and ranges, building nothing.

    Args:
        corpus: registered corpus name or reader class.
        options: the ``data.args`` given (defaults are not checked).

    Raises:
        ConfigError: ``data.args.<key>: expected ..., found ...``.
    """
    corpus_cls = corpus_class(corpus) if isinstance(corpus, str) else corpus
    check_options(options, {**DATA_OPTION_RULES, **corpus_cls.all_option_rules()}, prefix="data.args.")


def _reader_parameters(corpus_cls: type[Corpus]) -> set[str]:
    """Keyword arguments a reader's constructor takes, following ``**kwargs`` up to the base class."""
    names: set[str] = set()
    for cls in corpus_cls.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names
