"""Frame-level machinery of :class:`~zoo.data.datamodule.CorpusDataModule`.

* **feature delay / label shift** — raters react late, so the label at time ``t`` describes the
  signal at ``t - delay``. ``label_shift=s`` (seconds, positive or negative) pairs the label at
  ``t`` with the features at ``t - s``; ``feature_delay={name: s}`` adds a delay for one feature
  set (Chen et al. 2017 delay text by 1 s). The shift is applied to the *features*, so targets,
  metrics, timestamps and exported predictions all stay on the corpus's own label timeline and no
  label frame is lost. Frames shifted in from outside the recording repeat its edge frame.
* **normalisation statistics** — per-dimension mean/std from the train partition only, computed
  in one streaming pass over recordings (:func:`compute_feature_stats`). The loaders yield *raw*
  features; :class:`~zoo.training.task.EmotionTask`'s :class:`~zoo.data._normalize.FeatureNormalizer`
  normalises each batch on the model's device. Host paths that need normalised arrays
  (:func:`prepare_features`) use the same arithmetic (:func:`~zoo.data._normalize.zscore`).
* **windowing** — training recordings are cut into windows of ``win_len`` frames every
  ``hop_len`` frames; the last window is aligned to the end (or, with ``last_window=
  "remainder"``, is the shorter rest) so no frame is dropped. Val/test/predict use whole
  recordings.
* **padding + masks** — :func:`collate_sequences` pads to the longest item and yields the batch
  dict ``{"features": {name: (B,T,D)}, "targets": (B,T,K), "mask": (B,T), "ids": [...],
  "timestamps": (B,T), "has_targets": (B,)}``.
* **no copies of the corpus** — :class:`SequenceDataset` delays each window of the (possibly
  memory-mapped) recordings when it is read (the same rows as :func:`prepare_features`), so
  resident memory does not grow with the corpus size (measured in ``benchmarks/data_wait.py``).
* **evaluation shards** — :class:`EvalShardSampler` and :class:`ShardPaddedDataset`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from zoo.data._buffers import BatchBufferPool
from zoo.data._normalize import FeatureStats, padding_mask
from zoo.data.types import Recording
from zoo.errors import CorpusFormatError

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
    "LAST_WINDOW_CHOICES",
]

#: bytes of float64 work per chunk in :func:`compute_feature_stats` (bounds its memory)
_STATS_CHUNK_BYTES = 32 * 2**20


def compute_feature_stats(
    recordings: Iterable[Recording],
    names: Sequence[str],
    min_std: float = 1e-8,
    padding_blocks: Mapping[str, int] | None = None,
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
        padding_blocks: set name → padding blocks (:func:`~zoo.data._normalize.padding_mask`):
            the zero padding of those sets is left out, so each dimension's statistics are those
            of its real values (a dimension with none gets mean 0, std 1); the result carries
            ``padding_blocks``, so that normalising with it maps the padding to 0.
    """
    blocks = {n: int(k) for n, k in (padding_blocks or {}).items() if k}
    count: dict[str, Any] = {n: 0 for n in names}
    mean: dict[str, np.ndarray | None] = {n: None for n in names}
    m2: dict[str, np.ndarray | None] = {n: None for n in names}
    for rec in recordings:
        for name in names:
            array = rec.features[name]
            row_bytes = 8 * max(1, int(np.prod(array.shape[1:])))
            step = max(1, _STATS_CHUNK_BYTES // row_bytes)
            for lo in range(0, array.shape[0], step):
                x = np.asarray(array[lo : lo + step], dtype=np.float64)
                n_b, mean_b, m2_b = _chunk_moments(x, blocks.get(name, 0))
                n_a = count[name]
                if mean[name] is None:
                    mean[name], m2[name] = mean_b, m2_b
                else:
                    total = n_a + n_b
                    delta = mean_b - mean[name]
                    if name in blocks:  # counts per dimension, some possibly 0
                        share = np.divide(n_b, total, out=np.zeros_like(mean_b), where=total > 0)
                        mean[name] = mean[name] + delta * share
                        m2[name] = m2[name] + m2_b + delta**2 * n_a * share
                    else:
                        mean[name] = mean[name] + delta * (n_b / total)
                        m2[name] = m2[name] + m2_b + delta**2 * (n_a * n_b / total)
                count[name] = n_a + n_b
    stats = {}
    for name in names:
        if mean[name] is None or not np.any(np.asarray(count[name]) > 0):
            raise ValueError(f"cannot compute normalisation statistics: no frames of {name!r}")
        n = np.asarray(count[name], np.float64)
        std = np.sqrt(np.divide(m2[name], n, out=np.zeros_like(m2[name]), where=n > 0))
        std = np.where(std < min_std, 1.0, std)
        stats[name] = FeatureStats(np.where(n > 0, mean[name], 0.0), std, blocks.get(name, 0))
    return stats


def _chunk_moments(x: np.ndarray, blocks: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """Count, mean and sum of squared deviations per dimension of a chunk ``(n, D)``; with
    ``blocks``, over the elements that are not zero padding (counts per dimension)."""
    if not blocks:
        mean_b = x.mean(axis=0)
        return x.shape[0], mean_b, ((x - mean_b) ** 2).sum(axis=0)
    real = ~padding_mask(torch.from_numpy(x), blocks).numpy()
    n_b = real.sum(axis=0)
    mean_b = np.divide((x * real).sum(axis=0), n_b, out=np.zeros(x.shape[1]), where=n_b > 0)
    return n_b, mean_b, (((x - mean_b) * real) ** 2).sum(axis=0)


def shift_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Delay a ``(T, D)`` sequence by ``frames`` (negative: advance), repeating the edge frame.

    ``out[t] = x[clip(t - frames, 0, T - 1)]``.
    """
    if frames == 0 or len(x) == 0:
        return x
    index = np.clip(np.arange(len(x)) - frames, 0, len(x) - 1)
    return x[index]


def seconds_to_frames(seconds: float, label_step: float) -> int:
    """Nearest whole number of label frames in ``seconds`` (0 for no time at all, whatever the
    step: segment-level corpora have no frame step)."""
    if seconds == 0:
        return 0
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

    The whole-recording host path (:meth:`~zoo.data.datamodule.CorpusDataModule.recordings`, estimators, turn
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
            f"feature_delay names {sorted(unknown)}, which are not among the features {list(feature_names)}"
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
    ) -> WindowPreparer:
        """Same arguments (and errors) as :func:`prepare_features`, minus the features and the
        normalisation."""
        delays = dict(feature_delay or {})
        unknown = set(delays) - set(feature_names)
        if unknown:
            raise ValueError(
                f"feature_delay names {sorted(unknown)}, which are not among the features {list(feature_names)}"
            )
        shifts = {n: seconds_to_frames(label_shift + delays.get(n, 0.0), label_step) for n in feature_names}
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


def window_starts(num_frames: int, win_len: int, hop_len: int, last_window: str = "align_end") -> list[int]:
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
        raise ValueError(f"last_window must be one of {', '.join(LAST_WINDOW_CHOICES)}, got {last_window!r}")
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
    ``"padding": True``; :class:`~zoo.training.task.EmotionTask` runs the model on it and drops it from
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
