"""Shared machinery for frame-level sequence corpora.

Every corpus datamodule reads its own files into :class:`Recording` objects; everything after
that is shared and lives here:

* **feature delay / label shift** — raters react late, so the label at time ``t`` describes the
  signal at ``t - delay``. ``label_shift=s`` (seconds, positive or negative) pairs the label at
  ``t`` with the features at ``t - s``; ``feature_delay={name: s}`` adds a delay for one feature
  set (Chen et al. 2017 delay text by 1 s). The shift is applied to the *features*, so targets,
  metrics, timestamps and exported predictions all stay on the corpus's own label timeline and no
  label frame is lost. Frames shifted in from outside the recording repeat its edge frame.
* **normalisation** — per-dimension z-scoring with statistics from the train partition only,
  computed in one streaming pass over recordings (never on val/test data). The loaders yield
  *raw* features; the statistics travel in :meth:`SequenceDataModule.data_spec` to
  :class:`~zoo.task.EmotionTask`, whose :class:`~zoo.data._normalize.FeatureNormalizer`
  normalises each batch on the model's device before the step (and zeroes padded frames again).
  Host paths that need normalised arrays (:meth:`SequenceDataModule.recordings`,
  :func:`prepare_features`) use the same arithmetic (:func:`~zoo.data._normalize.zscore`).
* **windowing** — training recordings are cut into windows of ``win_len`` frames every
  ``hop_len`` frames; the last window is aligned to the end (or, with ``last_window=
  "remainder"``, is the shorter rest) so no frame is dropped. Val/test/predict use whole
  recordings.
* **padding + masks** — :func:`collate_sequences` pads to the longest item and yields the batch
  dict ``{"features": {name: (B,T,D)}, "targets": (B,T,K), "mask": (B,T), "ids": [...],
  "timestamps": (B,T), "has_targets": (B,)}``.
* **fast data path** — :meth:`SequenceDataModule.raw_recordings` goes through the corpus cache
  (:mod:`zoo.data._cache`): a corpus whose datamodule lists its files (``source_files``) is
  parsed once and then memory-mapped from ``.npy`` files. The loaders never materialise
  delayed copies of the corpus: :class:`SequenceDataset` delays each window when it is read
  (the same rows as :func:`prepare_features`), so resident memory does not grow with the corpus
  size, and the per-window work does not grow with the normalisation (measured in
  ``benchmarks/data_wait.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from zoo.data._buffers import BatchBufferPool
from zoo.data._normalize import zscore_numpy
from zoo.errors import ConfigError, CorpusFormatError

__all__ = [
    "CorpusFormatError",
    "Recording",
    "FeatureStats",
    "compute_feature_stats",
    "shift_frames",
    "prepare_features",
    "window_starts",
    "SequenceDataset",
    "WindowPreparer",
    "collate_sequences",
    "SequenceCollator",
    "EvalShardSampler",
    "ShardPaddedDataset",
    "default_num_workers",
    "SequenceDataModule",
]

STAGE_PARTITIONS = ("train", "val", "test")
#: bytes of float64 work per chunk in :func:`compute_feature_stats` (bounds its memory)
_STATS_CHUNK_BYTES = 32 * 2**20


@dataclass
class Recording:
    """One recording (video/session) of a corpus, on its label timeline.

    Attributes:
        id: the corpus's own recording name (e.g. ``"17"``, ``"Train_01"``).
        features: feature set name → ``(T, D)`` float32 array, row ``t`` at ``timestamps[t]``;
            raw inputs may have more axes (``(T, 640)`` audio samples, ``(T, H, W, 3)`` uint8
            face crops) and keep their dtype.
        timestamps: ``(T,)`` float64 seconds of the label frames.
        targets: ``(T, K)`` float32 labels in the datamodule's target order; ``None`` when the
            partition's labels are not distributed (e.g. challenge test sets).
        meta: per-frame extras needed to write predictions back (e.g. ``segment_id``).
    """

    id: str
    features: dict[str, np.ndarray]
    timestamps: np.ndarray
    targets: np.ndarray | None
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        for name, array in self.features.items():
            if array.ndim < 2 or array.shape[0] != n:
                raise CorpusFormatError(
                    f"recording {self.id}: feature set {name!r} has shape {array.shape}, "
                    f"expected ({n}, ...) to match its {n} label frames"
                )
        if self.targets is not None and (self.targets.ndim != 2 or self.targets.shape[0] != n):
            raise CorpusFormatError(
                f"recording {self.id}: targets have shape {self.targets.shape}, expected ({n}, K)"
            )

    @property
    def num_frames(self) -> int:
        """Number of label frames."""
        return len(self.timestamps)


@dataclass
class FeatureStats:
    """Mean and standard deviation per dimension of one feature set (train partition)."""

    mean: np.ndarray
    std: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, safe for ``torch.load(weights_only=True)`` checkpoints and JSON."""
        return {"mean": self.mean.astype(float).tolist(), "std": self.std.astype(float).tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> "FeatureStats":
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64))

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` in float32, as a new array (``x`` is never modified).

        The statistics are kept in float64 (they are accumulated and stored that way) but applied
        in float32, the features' own precision, by :func:`~zoo.data._normalize.zscore` — the
        arithmetic the training step applies on the device, so host and device paths give the
        same numbers.
        """
        return zscore_numpy(x, self.mean, self.std)


def compute_feature_stats(
    recordings: Iterable[Recording], names: Sequence[str], min_std: float = 1e-8
) -> dict[str, FeatureStats]:
    """Per-dimension mean/std of each feature set over all frames, in one streaming pass.

    Partial results of chunks of frames (at most ~32 MB of float64 each, read straight from
    memory-mapped arrays, never concatenated) are merged with the pairwise update of Chan et al.
    (1979), so memory does not grow with the corpus or a recording's length, and the result equals
    the population statistics of the concatenated frames. Dimensions with a standard deviation
    below ``min_std`` get std 1.

    Args:
        recordings: the train partition.
        names: feature sets to summarise.
        min_std: floor under which a dimension is treated as constant.
    """
    count = {n: 0 for n in names}
    mean: dict[str, np.ndarray | None] = {n: None for n in names}
    m2: dict[str, np.ndarray | None] = {n: None for n in names}
    for rec in recordings:
        for name in names:
            array = rec.features[name]
            row_bytes = 8 * max(1, int(np.prod(array.shape[1:])))
            step = max(1, _STATS_CHUNK_BYTES // row_bytes)
            for lo in range(0, array.shape[0], step):
                x = np.asarray(array[lo : lo + step], dtype=np.float64)
                n_b = x.shape[0]
                mean_b = x.mean(axis=0)
                m2_b = ((x - mean_b) ** 2).sum(axis=0)
                n_a = count[name]
                if n_a == 0:
                    mean[name], m2[name] = mean_b, m2_b
                else:
                    delta = mean_b - mean[name]
                    total = n_a + n_b
                    mean[name] = mean[name] + delta * (n_b / total)
                    m2[name] = m2[name] + m2_b + delta**2 * (n_a * n_b / total)
                count[name] = n_a + n_b
    stats = {}
    for name in names:
        if count[name] == 0:
            raise ValueError(f"cannot compute normalisation statistics: no frames of {name!r}")
        std = np.sqrt(m2[name] / count[name])
        std = np.where(std < min_std, 1.0, std)
        stats[name] = FeatureStats(mean[name], std)
    return stats


def shift_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Delay a ``(T, D)`` sequence by ``frames`` (negative: advance), repeating the edge frame.

    ``out[t] = x[clip(t - frames, 0, T - 1)]``.
    """
    if frames == 0 or len(x) == 0:
        return x
    index = np.clip(np.arange(len(x)) - frames, 0, len(x) - 1)
    return x[index]


def seconds_to_frames(seconds: float, label_step: float) -> int:
    """Nearest whole number of label frames in ``seconds``."""
    return int(round(seconds / label_step))


def prepare_features(
    features: Mapping[str, np.ndarray],
    *,
    feature_names: Sequence[str],
    label_step: float,
    label_shift: float = 0.0,
    feature_delay: Mapping[str, float] | None = None,
    normalization: Mapping[str, FeatureStats] | None = None,
) -> dict[str, np.ndarray]:
    """Turn one recording's raw features into model inputs: delay, then z-normalise.

    The whole-recording host path (:meth:`SequenceDataModule.recordings`, estimators, turn
    features); the loaders delay per window with :class:`WindowPreparer` and the step normalises
    (:class:`~zoo.data._normalize.FeatureNormalizer`), with the same numbers. Without
    ``normalization`` it only delays, as :func:`zoo.load_pretrained` uses it before normalising
    on the model's device.

    Args:
        features: feature set name → ``(T, D)`` array.
        feature_names: the sets to keep, in model order.
        label_step: seconds between label frames.
        label_shift: seconds by which labels lag all features.
        feature_delay: extra per-set delay in seconds.
        normalization: train-partition statistics per set; sets without statistics (raw audio,
            images) are passed through unnormalised.

    Returns:
        feature set name → float32 array (uint8 image arrays keep their dtype).
    """
    delays = dict(feature_delay or {})
    unknown = set(delays) - set(feature_names)
    if unknown:
        raise ValueError(
            f"feature_delay names {sorted(unknown)}, which are not among the features "
            f"{list(feature_names)}"
        )
    out = {}
    for name in feature_names:
        if name not in features:
            raise KeyError(f"feature set {name!r} missing; got {sorted(features)}")
        x = np.asarray(features[name])
        if x.dtype != np.uint8:
            x = x.astype(np.float32, copy=False)
        shift = seconds_to_frames(label_shift + delays.get(name, 0.0), label_step)
        x = shift_frames(x, shift)
        stats = None if normalization is None else normalization.get(name)
        if stats is not None:
            if stats.mean.shape[0] != x.shape[1]:
                raise ValueError(
                    f"feature set {name!r} has {x.shape[1]} dimensions but its normalisation "
                    f"statistics have {stats.mean.shape[0]}"
                )
            x = stats.normalise(x)
        out[name] = np.ascontiguousarray(x)
    return out


class WindowPreparer:
    """The delay of :func:`prepare_features` applied to one window ``[start, end)`` at a time.

    ``preparer(features, start, end)`` equals ``prepare_features(features, ...)[name][start:end]``
    without normalisation, for every set, number for number, but reads only the rows the window
    needs (its own rows, or the edge-repeated rows shifted in by the delay), so a memory-mapped
    recording is never copied whole. Features come out as float32 (uint8 images keep their
    dtype) — an undelayed float32 window is a read-only view of the recording, copied only by
    :func:`collate_sequences` into the batch — and *not* normalised: the training step normalises the batch on the model's device
    (:class:`~zoo.data._normalize.FeatureNormalizer`), which keeps the per-window work of the
    loader independent of the normalisation. Build it with :meth:`from_options`, which validates
    like :func:`prepare_features`.

    Args:
        feature_names: the sets to keep, in model order.
        shifts: delay in frames per set (``out[t] = x[clip(t - shift, 0, T - 1)]``).
    """

    def __init__(self, feature_names: Sequence[str], shifts: Mapping[str, int]) -> None:
        self.feature_names = list(feature_names)
        self.shifts = {n: int(shifts.get(n, 0)) for n in self.feature_names}

    @classmethod
    def from_options(
        cls,
        *,
        feature_names: Sequence[str],
        label_step: float,
        label_shift: float = 0.0,
        feature_delay: Mapping[str, float] | None = None,
    ) -> "WindowPreparer":
        """Same arguments (and errors) as :func:`prepare_features`, minus the features and the
        normalisation."""
        delays = dict(feature_delay or {})
        unknown = set(delays) - set(feature_names)
        if unknown:
            raise ValueError(
                f"feature_delay names {sorted(unknown)}, which are not among the features "
                f"{list(feature_names)}"
            )
        shifts = {
            n: seconds_to_frames(label_shift + delays.get(n, 0.0), label_step) for n in feature_names
        }
        return cls(feature_names, shifts)

    def __call__(self, features: Mapping[str, np.ndarray], start: int, end: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self.feature_names:
            if name not in features:
                raise KeyError(f"feature set {name!r} missing; got {sorted(features)}")
            x = features[name]
            shift = self.shifts[name]
            if shift == 0 or len(x) == 0:
                window = x[start:end]  # a view: collate_sequences copies it into the batch once
            else:
                window = x[np.clip(np.arange(start, end) - shift, 0, len(x) - 1)]
            out[name] = np.asarray(window, dtype=np.uint8 if x.dtype == np.uint8 else np.float32)
        return out


def _owned(x: np.ndarray) -> np.ndarray:
    """``x``, or an in-memory copy when it is a read-only (memory-mapped) array."""
    return x if x.flags.writeable else np.array(x)


#: how the last training window of a recording is placed (see :func:`window_starts`)
LAST_WINDOW_CHOICES = ("align_end", "remainder")


def window_starts(
    num_frames: int, win_len: int, hop_len: int, last_window: str = "align_end"
) -> list[int]:
    """Start frames of training windows covering a recording.

    Windows start every ``hop_len`` frames. When the last regular window does not reach the end,
    ``last_window`` says what covers the rest, so every frame is used either way:

    * ``"align_end"`` (default): one more full ``win_len`` window, aligned to the end (it
      overlaps the previous window by more than ``win_len - hop_len`` frames);
    * ``"remainder"``: one more window starting ``hop_len`` after the previous one and cut at
      the end, so it is shorter than ``win_len`` (the released code of Sun et al. 2020,
      ``utils.segment_sample``).

    Both give the same number of windows. A recording of at most ``win_len`` frames gives a
    single (possibly shorter) window. Window ``i`` ends at ``min(start_i + win_len, num_frames)``.
    """
    if win_len <= 0 or hop_len <= 0:
        raise ValueError(f"win_len and hop_len must be positive, got {win_len} and {hop_len}")
    if last_window not in LAST_WINDOW_CHOICES:
        raise ValueError(
            f"last_window must be one of {', '.join(LAST_WINDOW_CHOICES)}, got {last_window!r}"
        )
    if num_frames <= win_len:
        return [0]
    starts = list(range(0, num_frames - win_len + 1, hop_len))
    if starts[-1] + win_len < num_frames:
        starts.append(num_frames - win_len if last_window == "align_end" else starts[-1] + hop_len)
    return starts


class SequenceDataset(Dataset):
    """Items are (possibly windowed) slices of recordings.

    Args:
        recordings: recordings whose features are already prepared (delayed; normalised or
            not), or raw (possibly memory-mapped) recordings together with ``prepare``.
        num_targets: K, used for recordings without labels.
        win_len: window length in frames, or ``None`` for whole recordings.
        hop_len: hop between windows in frames.
        last_window: ``"align_end"`` or ``"remainder"`` (see :func:`window_starts`).
        prepare: delays each item's window when it is read (see :class:`WindowPreparer`);
            ``None`` serves the features as they are.
    """

    def __init__(
        self,
        recordings: Sequence[Recording],
        num_targets: int,
        win_len: int | None = None,
        hop_len: int | None = None,
        prepare: WindowPreparer | None = None,
        last_window: str = "align_end",
    ) -> None:
        self.recordings = list(recordings)
        self.num_targets = num_targets
        self.prepare = prepare
        self.index: list[tuple[int, int, int]] = []
        for r, rec in enumerate(self.recordings):
            if win_len is None:
                self.index.append((r, 0, rec.num_frames))
            else:
                starts = window_starts(rec.num_frames, win_len, hop_len or win_len, last_window)
                for start in starts:
                    self.index.append((r, start, min(start + win_len, rec.num_frames)))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r, start, end = self.index[i]
        rec = self.recordings[r]
        targets = rec.targets
        has_targets = targets is not None
        if targets is None:
            targets = np.zeros((end - start, self.num_targets), np.float32)
        else:
            targets = _owned(targets[start:end])
        if self.prepare is not None:
            features = self.prepare(rec.features, start, end)
        else:
            features = {n: _owned(x[start:end]) for n, x in rec.features.items()}
        return {
            "features": features,
            "targets": targets,
            "timestamps": _owned(rec.timestamps[start:end]),
            "id": rec.id,
            "start": start,
            "has_targets": has_targets,
        }


def default_num_workers(cuda: bool | None = None) -> int:
    """DataLoader worker processes when the user does not choose: 0 on CPU, up to 4 with a GPU.

    On a CPU-only machine the model and the loader share the same cores: items are slices of
    in-memory or memory-mapped arrays (tens of microseconds each), so a worker process only adds
    batch pickling/IPC and steals a core from the model's intra-op threads; loading in the main
    process is fastest (measured in ``benchmarks/data_path.py``: data wait is a few percent of a
    step). With a GPU the main process mostly waits for kernels, so workers overlap reading,
    delay/normalisation and collation with compute: ``min(4, cpus // 2)`` leaves half the cores
    to the main process (and to the other DDP ranks' main processes).

    Args:
        cuda: whether training runs on a GPU; ``None`` → ``torch.cuda.is_available()``.
    """
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if not cuda:
        return 0
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def collate_sequences(
    items: Sequence[dict[str, Any]], allocate: Callable[[tuple[int, ...], torch.dtype], torch.Tensor] | None = None
) -> dict[str, Any]:
    """Pad items to the longest one and stack them into the batch dict (see module docstring).

    Args:
        items: dataset items (``features``, ``targets``, ``timestamps``, ``id``, ``start`` …).
        allocate: makes the uninitialised ``(B, T, D)`` feature tensors, every element of which
            is then written; ``None`` → ``torch.empty`` (:class:`SequenceCollator` passes a
            :class:`~zoo.data._buffers.BatchBufferPool`'s reused buffers).
    """
    lengths = [len(item["timestamps"]) for item in items]
    batch_size, max_len = len(items), max(lengths)
    first = items[0]
    allocate = allocate or (lambda shape, dtype: torch.empty(shape, dtype=dtype))
    # empty, not zeros: training windows are mostly full length, and zero-filling a batch of a
    # 4096-d set (100 MB) cost as much as filling it; only the padding rows are zeroed below
    features = {
        name: allocate((batch_size, max_len, *x.shape[1:]), torch.from_numpy(np.empty(0, x.dtype)).dtype)
        for name, x in first["features"].items()
    }
    num_targets = first["targets"].shape[1]
    targets = torch.zeros(batch_size, max_len, num_targets, dtype=torch.float32)
    timestamps = torch.zeros(batch_size, max_len, dtype=torch.float64)
    mask = torch.zeros(batch_size, max_len, dtype=torch.bool)
    # NumPy views of the batch tensors: windows (possibly read-only memory-mapped views) are
    # copied straight into their rows, with no intermediate array
    feature_rows = {name: tensor.numpy() for name, tensor in features.items()}
    for b, (item, length) in enumerate(zip(items, lengths)):
        for name, x in item["features"].items():
            feature_rows[name][b, :length] = x
            if length < max_len:
                feature_rows[name][b, length:] = 0
        targets[b, :length] = torch.from_numpy(np.ascontiguousarray(item["targets"]))
        timestamps[b, :length] = torch.from_numpy(np.asarray(item["timestamps"], np.float64))
        mask[b, :length] = True
    return {
        "features": features,
        "targets": targets,
        "mask": mask,
        "timestamps": timestamps,
        "ids": [item["id"] for item in items],
        "starts": torch.tensor([item["start"] for item in items], dtype=torch.long),
        "has_targets": torch.tensor([item["has_targets"] for item in items], dtype=torch.bool),
        "padding": torch.tensor([bool(item.get("padding", False)) for item in items], dtype=torch.bool),
    }


class SequenceCollator:
    """:func:`collate_sequences` into reused feature buffers (the training loaders' collate_fn).

    The feature tensors of a batch come from a :class:`~zoo.data._buffers.BatchBufferPool`: a
    buffer is written again only once nothing holds the batch that carried it, so the numbers a
    step sees are exactly :func:`collate_sequences`'s, without faulting in a fresh 100 MB
    allocation per batch of a wide feature set (measured in ``benchmarks/data_wait.py``). In a
    DataLoader worker every batch is a fresh allocation (it leaves through shared memory).

    Args:
        max_buffers: buffers the pool keeps (Lightning holds one prefetched batch besides the
            current one; a few more cover the last, shorter batch and evaluation batches).
    """

    def __init__(self, max_buffers: int = 4) -> None:
        self.pool = BatchBufferPool(max_buffers)

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return collate_sequences(items, allocate=self.pool.empty)


class ShardPaddedDataset(Dataset):
    """An evaluation dataset plus one *padding* item, for ranks that get no item of their own.

    Under DDP every process must run at least one evaluation batch: a process without batches
    skips the whole evaluation loop in Lightning, so it never joins the metrics' synchronisation
    and the others wait for it forever (or :class:`UnrepeatedDistributedSampler` asserts, as with
    3 test recordings on 4 processes). Item ``len(dataset)`` repeats item 0 with
    ``"padding": True``; :class:`~zoo.task.EmotionTask` runs the model on it and drops it from
    the loss, the metrics and the written predictions.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        #: index of the padding item, served only by :class:`EvalShardSampler` to empty ranks
        self.padding_index = len(dataset)

    def __len__(self) -> int:
        return len(self.dataset)  # the padding item is not part of the data

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i == self.padding_index:
            return {**self.dataset[0], "padding": True}
        return self.dataset[i]


class EvalShardSampler(Sampler):
    """Every evaluation item goes to exactly one process (``rank::world_size``), none repeated.

    Unlike Lightning's default distributed sampler it never pads a shard with repeated
    recordings (which would bias a pooled CCC), and unlike :class:`UnrepeatedDistributedSampler`
    it accepts a partition with fewer items than processes: a rank without items gets the
    padding item of a :class:`ShardPaddedDataset`.

    Raises:
        ValueError: a rank gets no item and ``dataset`` has no padding item.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None) -> None:
        self.num_replicas = torch.distributed.get_world_size() if num_replicas is None else num_replicas
        self.rank = torch.distributed.get_rank() if rank is None else rank
        self.indices = list(range(self.rank, len(dataset), self.num_replicas))
        if not self.indices:
            padding = getattr(dataset, "padding_index", None)
            if padding is None or len(dataset) == 0:
                raise ValueError(
                    f"an evaluation partition of {len(dataset)} items cannot be shared by "
                    f"{self.num_replicas} processes; use fewer devices"
                )
            self.indices = [padding]

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:  # noqa: D102 - the order never changes
        pass


class SequenceDataModule(pl.LightningDataModule):
    """Base datamodule for corpora with per-frame features and continuous labels.

    Subclasses set :attr:`corpus_name`, :attr:`label_step` and :attr:`partitions` and implement
    :meth:`default_root`, :meth:`load_partition` and :meth:`write_predictions`; everything else
    (delay, normalisation, windowing, loaders) is shared.

    Args:
        root: corpus folder in the distributed layout; ``None`` → the synthetic corpus.
        features: feature sets to use together (early fusion), in model order.
        targets: target dimensions, in output order.
        win_len: training window length in label frames; ``None`` trains on whole recordings
            padded to the longest in the batch (as Atmaja & Akagi 2020).
        hop_len: hop between training windows in label frames.
        last_window: the last training window of a recording: ``"align_end"`` (a full window
            aligned to the recording's end) or ``"remainder"`` (the shorter rest after the last
            regular window, as the released code of Sun et al. 2020); see :func:`window_starts`.
        batch_size: training batch size (windows).
        eval_batch_size: batch size of whole recordings for val/test/predict.
        num_workers: DataLoader worker processes; ``None`` → :func:`default_num_workers` (0 on
            CPU, where loading in the main process is fastest; up to 4 with a GPU). Workers are
            kept alive between epochs (``persistent_workers``).
        normalize: z-normalise features with train-partition statistics (computed here, carried
            by :meth:`data_spec`; the loaders yield raw features and the model normalises each
            batch on its device, see :class:`~zoo.data._normalize.FeatureNormalizer`).
        label_shift: seconds by which labels lag the features (annotation delay).
        feature_delay: extra delay in seconds per feature set.
        normalization_stats: statistics to use instead of computing them (e.g. from a checkpoint),
            as ``{name: {"mean": [...], "std": [...]}}``.
        predict_partition: stage partition (``"train"``, ``"val"`` or ``"test"``) used by predict.
        seed: seed of the training shuffle (``zoo`` passes the recipe's ``seed``).
        synthetic_seed: seed of the built-in synthetic corpus (``root=None``). Independent of
            ``seed``: every training seed of ``seeds=[1,2,3]`` trains on the same corpus, and
            ``zoo test`` of any seed's checkpoint scores that corpus.
        pin_memory: pin host memory for GPU transfer; ``None`` → when CUDA is available.
        cache_dir: folder of the corpus cache (:mod:`zoo.data._cache`); ``None`` →
            ``<affect-zoo cache>/corpus-cache``. Never inside the corpus folder.
        use_cache: parse the corpus once and memory-map it afterwards (for datamodules that
            implement :meth:`source_files`); ``False`` parses on every load.
    """

    corpus_name: str = "sequence"
    label_step: float = 1.0
    #: feature sets never z-normalised with corpus statistics (raw waveforms, images)
    raw_feature_names: tuple[str, ...] = ()
    partitions: dict[str, str] = {"train": "train", "val": "devel", "test": "test"}
    available_targets: tuple[str, ...] = ("arousal", "valence")

    def __init__(
        self,
        root: str | Path | None = None,
        features: Sequence[str] = (),
        targets: Sequence[str] = ("arousal", "valence"),
        win_len: int | None = 200,
        hop_len: int = 100,
        last_window: str = "align_end",
        batch_size: int = 32,
        eval_batch_size: int = 8,
        num_workers: int | None = None,
        normalize: bool = True,
        label_shift: float = 0.0,
        feature_delay: Mapping[str, float] | None = None,
        normalization_stats: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
        predict_partition: str = "test",
        seed: int = 0,
        pin_memory: bool | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        synthetic_seed: int = 0,
    ) -> None:
        super().__init__()
        if not features:
            raise ValueError(f"{type(self).__name__}: give at least one feature set in `features`")
        unknown = [t for t in targets if t not in self.available_targets]
        if unknown or not targets:
            raise ValueError(
                f"{type(self).__name__}: unknown targets {unknown or list(targets)}; "
                f"available: {list(self.available_targets)}"
            )
        if predict_partition not in STAGE_PARTITIONS:
            raise ValueError(
                f"predict_partition must be one of {STAGE_PARTITIONS}, got {predict_partition!r}"
            )
        self.root = Path(root).expanduser() if root is not None else None
        self.feature_names = list(features)
        self.target_names = list(targets)
        self.win_len = int(win_len) if win_len else None
        self.hop_len = int(hop_len)
        if last_window not in LAST_WINDOW_CHOICES:
            raise ConfigError(
                f"data.args.last_window must be one of {', '.join(LAST_WINDOW_CHOICES)}, "
                f"found {last_window!r}"
            )
        self.last_window = str(last_window)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        self.normalize = bool(normalize)
        self.label_shift = float(label_shift)
        self.feature_delay = dict(feature_delay or {})
        self.predict_partition = predict_partition
        self.seed = int(seed)
        self.synthetic_seed = int(synthetic_seed)
        if self.win_len is not None and self.hop_len > self.win_len:
            raise ConfigError(
                f"data.args.hop_len must be at most data.args.win_len ({self.win_len} frames), "
                f"found {self.hop_len}: the frames between windows would never be trained on"
            )
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.use_cache = bool(use_cache)
        self.normalization: dict[str, FeatureStats] | None = (
            {n: FeatureStats.from_dict(s) for n, s in normalization_stats.items()}
            if normalization_stats is not None
            else None
        )
        self._raw: dict[str, list[Recording]] = {}
        self._prepared: dict[str, list[Recording]] = {}
        self.feature_dims: dict[str, int] = {}

    # ----------------------------------------------------------------- subclass hooks
    def default_root(self) -> Path:
        """Write the synthetic corpus once (if missing) and return its folder."""
        raise NotImplementedError

    def load_partition(self, partition: str) -> list[Recording]:
        """Read one partition (the corpus's own name) from :attr:`root`."""
        raise NotImplementedError

    def source_files(self, partition: str) -> list[Path] | None:
        """Optional: every file :meth:`load_partition` reads for ``partition``.

        Implementing it turns on the corpus cache (:mod:`zoo.data._cache`): the partition is
        parsed once, later loads memory-map the cached arrays, and a change to any listed file
        (size or modification time) rebuilds the entry. ``None`` (the default) → not cached.
        """
        return None

    def write_predictions(
        self, out_dir: Path, recording: Recording, preds: np.ndarray, target_names: Sequence[str]
    ) -> None:
        """Write one recording's ``(T, K)`` predictions in the corpus's submission format."""
        raise NotImplementedError

    # ----------------------------------------------------------------- lifecycle
    def prepare_data(self) -> None:
        """Generate the synthetic corpus when no root is given (called on one process)."""
        if self.root is None:
            self.default_root()

    def _resolved_root(self) -> Path:
        if self.root is None:
            self.root = self.default_root()
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.corpus_name} corpus folder not found: {self.root}")
        return self.root

    def raw_recordings(self, stage_partition: str) -> list[Recording]:
        """Recordings of a stage partition (``train``/``val``/``test``) as read from disk."""
        if stage_partition not in self._raw:
            from ._cache import load_partition_cached

            self._resolved_root()
            recordings = load_partition_cached(self, self.partitions[stage_partition])
            if not recordings:
                raise CorpusFormatError(
                    f"{self.corpus_name}: partition {self.partitions[stage_partition]!r} of "
                    f"{self.root} holds no recordings"
                )
            self._raw[stage_partition] = recordings
            self._check_dims(recordings)
        return self._raw[stage_partition]

    def _check_dims(self, recordings: Sequence[Recording]) -> None:
        for rec in recordings:
            for name in self.feature_names:
                shape = rec.features[name].shape[1:]
                dim = int(shape[0]) if len(shape) == 1 else [int(d) for d in shape]
                expected = self.feature_dims.setdefault(name, dim)
                if dim != expected:
                    raise CorpusFormatError(
                        f"{self.corpus_name}: feature set {name!r} of recording {rec.id} has "
                        f"{dim} dimensions, other recordings have {expected}"
                    )

    def recordings(self, stage_partition: str) -> list[Recording]:
        """Recordings of a stage partition with features delayed and normalised, on the host.

        This materialises prepared in-memory copies (kept for inspection and whole-recording
        tools such as estimators); the dataloaders do not use it — they delay each window on the
        fly from :meth:`raw_recordings` and leave the normalisation to the step.
        """
        if stage_partition not in self._prepared:
            raw = self.raw_recordings(stage_partition)
            self._ensure_normalization()
            self._prepared[stage_partition] = [
                Recording(
                    id=rec.id,
                    features=prepare_features(
                        rec.features,
                        feature_names=self.feature_names,
                        label_step=self.label_step,
                        label_shift=self.label_shift,
                        feature_delay=self.feature_delay,
                        normalization=self.normalization if self.normalize else None,
                    ),
                    timestamps=rec.timestamps,
                    targets=rec.targets,
                    meta=rec.meta,
                )
                for rec in raw
            ]
        return self._prepared[stage_partition]

    @property
    def normalized_feature_names(self) -> list[str]:
        """Feature sets z-normalised with train statistics (all but the raw ones)."""
        return [n for n in self.feature_names if n not in self.raw_feature_names]

    def _ensure_normalization(self) -> None:
        if self.normalize and self.normalization is None and self.normalized_feature_names:
            self.normalization = compute_feature_stats(
                self.raw_recordings("train"), self.normalized_feature_names
            )

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

    def data_spec(self) -> dict[str, Any]:
        """Everything a checkpoint needs to rebuild the model and its inputs (plain types)."""
        if not self.feature_dims:
            self.raw_recordings("train")
        self._ensure_normalization()
        return {
            "corpus": self.corpus_name,
            "feature_names": list(self.feature_names),
            "feature_dims": {n: self.feature_dims[n] for n in self.feature_names},
            "target_names": list(self.target_names),
            "label_step": float(self.label_step),
            "label_shift": self.label_shift,
            "feature_delay": dict(self.feature_delay),
            "normalization": (
                {n: s.to_dict() for n, s in self.normalization.items()}
                if self.normalize and self.normalization is not None
                else None
            ),
        }

    # ----------------------------------------------------------------- loaders
    def _distributed_sampler(self, dataset: Dataset, shuffle: bool) -> Sampler | None:
        """Our own sampler under DDP (the trainer runs with ``use_distributed_sampler=False``).

        Lightning's default evaluation sampler pads shards by repeating recordings, which would
        bias a pooled CCC; :class:`EvalShardSampler` gives every recording to exactly one process
        (a process left without one evaluates a padding item that counts nowhere), and the
        metrics and the loss merge the uneven shards exactly.
        """
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return None
        if shuffle:
            return DistributedSampler(dataset, shuffle=True, seed=self.seed, drop_last=False)
        return EvalShardSampler(dataset)

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        if not shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            dataset = ShardPaddedDataset(dataset)  # a rank may get no recording (see EvalShardSampler)
        sampler = self._distributed_sampler(dataset, shuffle)
        if shuffle and sampler is None:
            # One process: the same sampler with one replica. Its order is a function of (seed,
            # epoch) alone (Lightning calls set_epoch), so a run resumed from last.ckpt shuffles
            # the remaining epochs exactly as the uninterrupted run did.
            sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=self.seed)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            sampler=sampler,
            # a private generator: creating the loader's iterator never draws from the global
            # torch RNG (which drives dropout and is restored on resume)
            generator=torch.Generator().manual_seed(self.seed),
            collate_fn=SequenceCollator(),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def window_preparer(self) -> WindowPreparer:
        """The delay of this datamodule, applied per window by the datasets.

        The loaders yield raw (delayed, unnormalised) features; the statistics reach the model
        through :meth:`data_spec` and :class:`~zoo.task.EmotionTask` normalises each batch.
        """
        return WindowPreparer.from_options(
            feature_names=self.feature_names,
            label_step=self.label_step,
            label_shift=self.label_shift,
            feature_delay=self.feature_delay,
        )

    def _dataset(self, stage_partition: str, windowed: bool) -> SequenceDataset:
        return SequenceDataset(
            self.raw_recordings(stage_partition),
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
        return self._loader(
            self._dataset(self.predict_partition, False), self.eval_batch_size, shuffle=False
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
        """Write a batch of whole-recording predictions ``(B, T, K)`` via :meth:`write_predictions`.

        Files go to ``out_dir/<the corpus's partition name>/``.
        """
        by_id = {rec.id: rec for rec in self.raw_recordings(stage_partition)}
        for b, rec_id in enumerate(ids):
            rec = by_id[rec_id]
            valid = preds[b][mask[b]]
            if len(valid) != rec.num_frames:
                raise RuntimeError(
                    f"recording {rec_id}: {len(valid)} predicted frames for {rec.num_frames} label "
                    "frames; prediction writing needs whole recordings"
                )
            self.write_predictions(out_dir / self.partitions[stage_partition], rec, valid, target_names)

    def total_frames(self, stage_partition: str) -> int:
        """Number of label frames in a stage partition."""
        return sum(r.num_frames for r in self.raw_recordings(stage_partition))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self.root}, features={self.feature_names}, "
            f"targets={self.target_names}, label_step={self.label_step})"
        )

