"""Reader (and a small writer) of CMU Multimodal SDK computational sequences (``.csd``), without the SDK.

A ``.csd`` file is HDF5 with exactly one root group, named after the feature set (e.g.
``glove_vectors``, ``COVAREP``, ``All Labels``)::

    /<root name>/data/<video id>/features     (T, D)  one row per frame / word / segment
    /<root name>/data/<video id>/intervals    (T, 2)  start and end of each row, in seconds
    /<root name>/metadata/<key>               (1,)    a JSON string (``json.dumps`` of the value)

as written by ``mmsdk.mmdatasdk.computational_sequence.file_ops.write_CSD`` (CMU-MultimodalSDK,
https://github.com/CMU-MultiComp-Lab/CMU-MultimodalSDK). The SDK's metadata template lists the keys
``root name``, ``computational sequence description``, ``dimension names``, ``computational sequence
version``, ``alignment compatible``, ``dataset name``, ``dataset version``, ``creator``, ``contact``,
``featureset bib citation`` and ``dataset bib citation``; this reader accepts any keys. Metadata
values are JSON-decoded from ``bytes`` or ``str``; a value that is not JSON is kept as text (as the
SDK does).

The root group's name is whatever the file holds (there must be exactly one). Arrays are read
per video, on demand (:meth:`ComputationalSequence.read`), so a file of any size is never loaded
at once. Every problem raises :class:`~zoo.data._sequence.CorpusFormatError` naming the file
and, where it applies, the video and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.sources import note_source
from zoo.errors import CorpusFormatError

__all__ = ["ComputationalSequence", "decode_metadata_value", "write_csd", "SDK_METADATA_KEYS"]

#: Metadata keys of the SDK's template (``mmsdk/mmdatasdk/configurations/metadataconfigs.py``).
SDK_METADATA_KEYS = (
    "root name",
    "computational sequence description",
    "dimension names",
    "computational sequence version",
    "alignment compatible",
    "dataset name",
    "dataset version",
    "creator",
    "contact",
    "featureset bib citation",
    "dataset bib citation",
)


def decode_metadata_value(raw: Any) -> Any:
    """JSON-decode one metadata value (``bytes``/``str``, or a 1-element array of them).

    A value that is not valid JSON is returned as text.
    """
    if isinstance(raw, np.ndarray):
        raw = raw.reshape(-1)[0] if raw.size else ""
    if isinstance(raw, (bytes, np.bytes_)):
        raw = bytes(raw).decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        return raw.item() if isinstance(raw, np.generic) else raw
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, ValueError):
        return raw


class ComputationalSequence:
    """One open ``.csd`` file; read-only, arrays are read per video.

    Use as a context manager (or call :meth:`close`)::

        with ComputationalSequence("CMU_MOSEI_COVAREP.csd") as seq:
            features, intervals = seq.read("-3g5yACwYnA")

    Args:
        path: the ``.csd`` file.

    Raises:
        CorpusFormatError: missing file, not HDF5, not exactly one root group, or no ``data``
            group under the root.
    """

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        if not note_source(self.path).is_file():
            raise CorpusFormatError(f"{self.path}: computational sequence file not found")
        try:
            # read-only, without HDF5's file lock: network filesystems (a cluster's shared data) often refuse it
            self._file = h5py.File(self.path, "r", locking=False)
        except OSError as err:
            raise CorpusFormatError(f"{self.path}: not a readable HDF5 computational sequence ({err})") from None
        roots = list(self._file.keys())
        if len(roots) != 1:
            self._file.close()
            raise CorpusFormatError(
                f"{self.path}: a computational sequence has exactly one root group; found {len(roots)}: {roots}"
            )
        self.root_name: str = roots[0]
        root = self._file[self.root_name]
        if not isinstance(root, h5py.Group) or "data" not in root:
            self._file.close()
            raise CorpusFormatError(f"{self.path}: root group {self.root_name!r} has no 'data' group")
        self._data = root["data"]
        self._metadata_group = root.get("metadata")
        self._metadata: dict[str, Any] | None = None

    # ----------------------------------------------------------------- metadata
    @property
    def metadata(self) -> dict[str, Any]:
        """Metadata ``{key: decoded JSON value}`` (empty when the file has no ``metadata`` group)."""
        if self._metadata is None:
            self._metadata = {}
            if self._metadata_group is not None:
                for key in self._metadata_group.keys():
                    self._metadata[key] = decode_metadata_value(self._metadata_group[key][()])
        return self._metadata

    # ----------------------------------------------------------------- videos
    @property
    def video_ids(self) -> list[str]:
        """Video ids held in the file, in the file's (HDF5 name) order."""
        return list(self._data.keys())

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and video_id in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self.video_ids)

    def _group(self, video_id: str):
        """The HDF5 group of one video (one lookup: a read touches it for both fields)."""
        group = self._data.get(video_id) if isinstance(video_id, str) else None
        if group is None:
            raise CorpusFormatError(f"{self.path}: video {video_id!r} not found in {self.root_name!r}/data")
        return group

    def _field(self, video_id: str, field: str, group: Any = None) -> np.ndarray:
        """The whole array of one field of a video.

        Numeric arrays are read through h5py's low-level dataset API (half the per-call cost of
        ``group[field][()]``, which counts: a corpus read opens thousands of small datasets);
        others (byte strings) through the high-level one.
        """
        import h5py

        group = self._group(video_id) if group is None else group
        try:
            dataset = h5py.h5d.open(group.id, field.encode())
        except (KeyError, AttributeError, TypeError, ValueError):  # no such member, not a dataset, not a group
            raise CorpusFormatError(
                f"{self.path}: video {video_id!r}: field {field!r} missing (expected "
                f"{self.root_name}/data/{video_id}/{field})"
            ) from None
        if dataset.dtype.kind not in "biuf" or dataset.shape is None:
            return np.asarray(h5py.Dataset(dataset)[()])
        out = np.empty(dataset.shape, dataset.dtype)
        if out.size:
            dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        return out

    def read_intervals(self, video_id: str, group: Any = None) -> np.ndarray:
        """``(T, 2)`` float64 intervals of one video."""
        intervals = np.asarray(self._field(video_id, "intervals", group), dtype=np.float64)
        if intervals.ndim != 2 or intervals.shape[1] != 2:
            raise CorpusFormatError(
                f"{self.path}: video {video_id!r}: field 'intervals' has shape {intervals.shape}, expected (T, 2)"
            )
        return intervals

    def read(self, video_id: str, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Features and intervals of one video.

        Args:
            video_id: the video.
            dtype: dtype of the returned features; ``None`` keeps the stored dtype (e.g. the
                byte strings of ``TimestampedWords``).

        Returns:
            ``(features (T, D), intervals (T, 2) float64)``; 1-d features are returned as (T, 1).

        Raises:
            CorpusFormatError: missing field, wrong shapes, or features and intervals of different
                lengths.
        """
        group = self._group(video_id)
        intervals = self.read_intervals(video_id, group)
        features = self._field(video_id, "features", group)
        if features.ndim == 1:
            features = features[:, None]
        if features.ndim != 2:
            raise CorpusFormatError(
                f"{self.path}: video {video_id!r}: field 'features' has shape {features.shape}, expected (T, D)"
            )
        if features.shape[0] != intervals.shape[0]:
            raise CorpusFormatError(
                f"{self.path}: video {video_id!r}: field 'features' has {features.shape[0]} rows but "
                f"field 'intervals' has {intervals.shape[0]}"
            )
        if dtype is not None:
            try:
                features = features.astype(dtype, copy=False)
            except (TypeError, ValueError):
                raise CorpusFormatError(
                    f"{self.path}: video {video_id!r}: field 'features' of dtype {features.dtype} is not numeric"
                ) from None
        return features, intervals

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self) -> ComputationalSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ComputationalSequence({str(self.path)!r}, root={self.root_name!r})"


def write_csd(
    path: str | Path,
    root_name: str,
    data: Mapping[str, tuple[np.ndarray, np.ndarray]],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a computational sequence in the SDK layout (used by the synthetic corpus).

    Args:
        path: output ``.csd`` file (overwritten).
        root_name: name of the root group.
        data: video id → ``(features (T, D), intervals (T, 2))``.
        metadata: key → value, each stored as a ``(1,)`` variable-length string dataset holding
            ``json.dumps(value)``, as the SDK writes it.
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "w") as f:
        root = f.create_group(root_name)
        group = root.create_group("data")
        for video_id, (features, intervals) in data.items():
            video = group.create_group(video_id)
            video.create_dataset("features", data=features)
            video.create_dataset("intervals", data=np.asarray(intervals, dtype=np.float64))
        meta = root.create_group("metadata")
        for key, value in (metadata or {}).items():
            dataset = meta.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            dataset[0] = json.dumps(value)
    return path
