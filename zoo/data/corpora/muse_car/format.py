"""MuSe 2020 (MuSe-Wild sub-challenge, MuSe-CaR) file layout and CSV tables.

The layout of the challenge package::

    <root>/metadata/partition.csv                                   Id,Proposal
    <root>/c1_muse_wild/label_segments/<target>/<id>.csv            timestamp,value,segment_id
    <root>/c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv
                                                                    timestamp,segment_id,<D cols>

Timestamps are integer milliseconds. :func:`label_table` and :func:`feature_table` write the two
CSV tables; their ``number_format`` decides how the values are written (see
:data:`NumberFormat`), so that each writer keeps its own bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np

__all__ = [
    "FEATURE_KEYS",
    "LABEL_HEADER",
    "NumberFormat",
    "PARTITION_HEADER",
    "WILD",
    "feature_folder",
    "feature_path",
    "feature_table",
    "format_fixed",
    "label_aligned_folder",
    "label_path",
    "label_table",
    "partition_path",
]

#: Folder of the MuSe-Wild sub-challenge inside the package.
WILD = "c1_muse_wild"
#: Header of ``metadata/partition.csv``.
PARTITION_HEADER = ("Id", "Proposal")
#: Header of a label file.
LABEL_HEADER = ("timestamp", "value", "segment_id")
#: First two columns of a label-aligned feature file.
FEATURE_KEYS = ("timestamp", "segment_id")

#: How values are written: a Python format spec applied to each value (e.g. ``".9g"``), or the
#: number of decimals of a fixed-point format (one for all value columns or one per column;
#: written by the vectorised :func:`format_fixed`).
NumberFormat = Union[str, int, Sequence[int], np.ndarray]


# --------------------------------------------------------------------------- paths
def partition_path(root: str | Path) -> Path:
    """``<root>/metadata/partition.csv``."""
    return Path(root) / "metadata" / "partition.csv"


def label_path(root: str | Path, target: str, video_id: str) -> Path:
    """``<root>/c1_muse_wild/label_segments/<target>/<id>.csv``."""
    return Path(root) / WILD / "label_segments" / target / f"{video_id}.csv"


def label_aligned_folder(root: str | Path) -> Path:
    """``<root>/c1_muse_wild/feature_segments/label_aligned`` (one folder per feature set)."""
    return Path(root) / WILD / "feature_segments" / "label_aligned"


def feature_folder(root: str | Path, feature: str) -> Path:
    """``<root>/c1_muse_wild/feature_segments/label_aligned/<feature>``."""
    return label_aligned_folder(root) / feature


def feature_path(root: str | Path, feature: str, video_id: str) -> Path:
    """``<root>/c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv``."""
    return feature_folder(root, feature) / f"{video_id}.csv"


# --------------------------------------------------------------------------- tables
def format_fixed(values: np.ndarray, decimals: np.ndarray) -> bytes:
    """Fixed-point CSV rows of a (T, C) matrix, vectorised (no per-cell Python formatting).

    Each cell is rounded to ``decimals[c]`` digits and written without padding, e.g. ``-12.5``,
    ``0.0310``, ``1750``; rows end with ``\\n``. Each cell's characters are first put in
    "slots" (digit k of the integer ``round(x * 10**decimals)`` in slot k, then the sign, then
    ``.``/``,``/newline), gathered into output order per column, and the unused 0 bytes dropped.

    Args:
        values: ``(T, C)`` numbers.
        decimals: ``(C,)`` decimals per column (0: an integer without a point).

    Returns:
        The rows, ASCII.
    """
    if values.size == 0:
        return b""
    decimals = np.asarray(decimals, np.int64)
    q = np.rint(values * 10.0**decimals).astype(np.int64)
    neg, rest = q < 0, np.abs(q)
    n_slots = max(len(str(int(rest.max()))), int(decimals.max()) + 1)  # digit slots
    n_digits = np.maximum(1, decimals + 1)  # at least one digit before the point
    n_digits = np.broadcast_to(n_digits, q.shape).copy()
    for k in range(1, n_slots):
        n_digits = np.maximum(n_digits, np.where(rest >= 10**k, k + 1, 0))
    sign, blank, dot, comma, newline = range(n_slots, n_slots + 5)
    slots = np.zeros(q.shape + (n_slots + 5,), np.uint8)
    for k in range(n_slots):
        rest, digit = np.divmod(rest, 10)
        slots[..., k] = (digit + 48) * (n_digits > k)
    # a minus sign goes into the (otherwise empty) slot right after the number's last digit
    for k in range(n_slots + 1):
        at_k = neg & (n_digits == k)
        if at_k.any():
            slots[..., k] = np.where(at_k, ord("-"), slots[..., k])
    slots[..., dot], slots[..., comma], slots[..., newline] = ord("."), ord(","), ord("\n")
    # output position p (0 = rightmost char of the number) → slot, per column
    has_dot = decimals > 0
    width = n_slots + 2  # digits, sign and point
    pos = np.arange(width)[None, :]
    dec = decimals[:, None]
    slot = pos - (has_dot[:, None] & (pos > dec))
    slot = np.where(has_dot[:, None] & (pos == dec), dot, np.where(slot > sign, blank, slot))
    order = np.empty((q.shape[1], width + 1), np.int64)
    order[:, :width] = slot[:, ::-1]
    order[:, width] = comma
    order[-1, width] = newline
    flat = slots[:, np.arange(q.shape[1])[:, None], order].reshape(-1)
    return flat[flat != 0].tobytes()


def _header(names: Sequence[str]) -> bytes:
    """Header line; a ``,`` inside a column name becomes ``_``."""
    return (",".join(str(n).replace(",", "_") for n in names) + "\n").encode()


def _fixed_decimals(number_format: NumberFormat, n_values: int) -> np.ndarray:
    """Decimals of the value columns as an ``(n_values,)`` int64 array."""
    decimals = np.asarray(number_format, np.int64).reshape(-1)
    return np.broadcast_to(decimals, (n_values,)) if decimals.size == 1 else decimals


def feature_table(
    timestamps_ms: np.ndarray,
    segment_ids: np.ndarray,
    values: np.ndarray,
    columns: Sequence[str],
    number_format: NumberFormat = ".9g",
) -> bytes:
    """A label-aligned feature file: ``timestamp,segment_id,<columns>`` then one row per frame.

    Args:
        timestamps_ms: ``(T,)`` integer milliseconds.
        segment_ids: ``(T,)`` integer topic segment ids.
        values: ``(T, D)`` features.
        columns: the D feature column names (a ``,`` in a name is written as ``_``).
        number_format: see :data:`NumberFormat`; with decimals, timestamps and segment ids are
            written with 0 decimals by the same fixed-point writer.

    Returns:
        The whole file, ASCII, ``\\n`` line ends.
    """
    header = _header([*FEATURE_KEYS, *columns])
    if isinstance(number_format, str):
        values = np.asarray(values, dtype=np.float64)
        rows = [",".join(format(v, number_format) for v in row) for row in values]
        body = "".join(f"{t},{s},{row}\n" for t, s, row in zip(timestamps_ms, segment_ids, rows))
        return header + body.encode()
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    decimals = np.concatenate([[0, 0], _fixed_decimals(number_format, values.shape[1])])
    matrix = np.column_stack([np.asarray(timestamps_ms, np.float64), np.asarray(segment_ids, np.float64), values])
    return header + format_fixed(matrix, decimals)


def label_table(
    timestamps_ms: np.ndarray, values: np.ndarray, segment_ids: np.ndarray, number_format: NumberFormat = 5
) -> bytes:
    """A label file: ``timestamp,value,segment_id`` then one row per frame.

    Args:
        timestamps_ms: ``(T,)`` integer milliseconds.
        values: ``(T,)`` label values.
        segment_ids: ``(T,)`` integer topic segment ids.
        number_format: see :data:`NumberFormat` (default: 5 decimals, fixed point).

    Returns:
        The whole file, ASCII, ``\\n`` line ends.
    """
    header = _header(LABEL_HEADER)
    values = np.asarray(values, np.float64).reshape(-1)
    if isinstance(number_format, str):
        body = "".join(f"{t},{format(v, number_format)},{s}\n" for t, v, s in zip(timestamps_ms, values, segment_ids))
        return header + body.encode()
    decimals = np.array([0, int(_fixed_decimals(number_format, 1)[0]), 0])
    matrix = np.column_stack([np.asarray(timestamps_ms, np.float64), values, np.asarray(segment_ids, np.float64)])
    return header + format_fixed(matrix, decimals)
