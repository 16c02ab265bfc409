"""Checks every corpus reader shares: label ranges, absurd feature values, file access and text
decoding, and feature sets whose width changes from file to file.

Each check names the file and, where one is to blame, the row (line) and the field:

* :func:`check_label_range` — a label outside the range its corpus declares
  (:attr:`~zoo.data.corpus.Corpus.label_range`) is refused.
* :func:`warn_outliers` — a feature value far outside the other values of its column in the same
  file (:data:`OUTLIER_FACTOR` times the column's 99th-percentile distance to its median) gets
  a :class:`~zoo.errors.CorpusDataWarning`: one such value (``1e30``) would otherwise inflate the
  normalisation statistics by orders of magnitude. Real data can hold extreme values, so this is a
  warning, not a refusal.
* :func:`read_bytes` / :func:`decode_text` — a file that cannot be opened (a symbolic-link loop, no
  permission, a folder) or bytes that are not UTF-8 become one
  :class:`~zoo.errors.CorpusFormatError` naming the file (and the line and byte), never a bare
  ``OSError`` or ``UnicodeDecodeError``.
* :class:`WidthCheck` — every file of a feature set has the width of the first one read.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from zoo.data.sources import note_source
from zoo.errors import CorpusDataWarning, CorpusFormatError

__all__ = [
    "OUTLIER_FACTOR",
    "WidthCheck",
    "check_label_range",
    "decode_text",
    "outlier_bounds",
    "outlier_cells",
    "read_bytes",
    "read_text",
    "warn_outliers",
]

#: a value is "far outside" its column when its distance to the column's median exceeds this many
#: times the column's 99th-percentile distance (for a Gaussian column: about 26 000 standard
#: deviations; 1e30 in any real feature file is caught, heavy-tailed real features are not)
OUTLIER_FACTOR = 1e4
#: labels are compared with their declared range with this slack (values written rounded)
RANGE_SLACK = 1e-6
#: the bounds of a large array are computed from at most this many evenly strided rows
MAX_SAMPLE_ROWS = 20_000
_CHUNK_ROWS = 8192

#: ``locate(row, col)``: where cell ``(row, col)`` is, e.g. ``"line 5, field 'value'"``
Locate = Callable[[int, int], str]


# --------------------------------------------------------------------------- labels
def check_label_range(
    path: str | Path,
    values: np.ndarray,
    ranges: Sequence[tuple[float, float]],
    locate: Locate,
) -> None:
    """Refuse label values outside their declared ranges.

    Args:
        path: the label file (for the message).
        values: ``(T, K)`` (or ``(T,)``) finite labels.
        ranges: ``(low, high)`` of each of the K columns.
        locate: where cell ``(row, col)`` of ``values`` is in the file.

    Raises:
        CorpusFormatError: naming the file, the first offending row and field, the value, the
            range and how many values are outside it.
    """
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        values = values[:, None]
    low = np.asarray([r[0] for r in ranges], np.float64)
    high = np.asarray([r[1] for r in ranges], np.float64)
    outside = (values < low - RANGE_SLACK) | (values > high + RANGE_SLACK)
    if not outside.any():
        return
    row, col = (int(i) for i in np.argwhere(outside)[0])
    raise CorpusFormatError(
        f"{path}: {locate(row, col)}: label {values[row, col]:g} is outside the range "
        f"[{low[col]:g}, {high[col]:g}] the corpus declares ({int(outside.sum())} such value(s) in the file)"
    )


# --------------------------------------------------------------------------- feature values
def outlier_bounds(sample: np.ndarray, factor: float = OUTLIER_FACTOR) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the ``(low, high)`` bounds outside which a value is far outside the column.

    A column's spread is the 99th percentile (the lower one, so that a single value of a short
    column does not count itself) of the distances to its median; the bounds are the median ±
    ``factor`` spreads. A column that is constant in 99 % of the rows (a sparse count) borrows the
    median spread of the other columns. NaN and infinite values are left out (the readers judge
    those themselves); a sample of fewer than 4 rows has no bounds (±inf).

    Args:
        sample: ``(T, D)`` rows (all of a file's, or a sample of them).
        factor: see :data:`OUTLIER_FACTOR`.
    """
    x = np.asarray(_sample_rows(np.asarray(sample)), np.float64)
    if x.ndim != 2 or x.shape[0] < 4:
        width = x.shape[1] if x.ndim == 2 else 0
        return np.full(width, -np.inf), np.full(width, np.inf)
    x = np.where(np.isfinite(x), x, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        median = np.nanmedian(x, axis=0)
        spread = np.nanquantile(np.abs(x - median), 0.99, axis=0, method="lower")
    usable = np.isfinite(spread) & (spread > 0)
    fallback = float(np.median(spread[usable])) if usable.any() else 1.0
    scale = np.where(usable, spread, fallback)
    median = np.where(np.isfinite(median), median, 0.0)
    return median - factor * scale, median + factor * scale


def _sample_rows(values: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_SAMPLE_ROWS` evenly strided rows (the statistics of a big array)."""
    stride = max(1, -(-len(values) // MAX_SAMPLE_ROWS))
    return np.asarray(values[::stride])


def _far(block: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    x = np.asarray(block, np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & ((x < bounds[0]) | (x > bounds[1]))


def outlier_cells(values: np.ndarray, factor: float = OUTLIER_FACTOR) -> np.ndarray:
    """``(T, D)`` bool: the cells far outside the other values of their column (:func:`outlier_bounds`)."""
    values = np.asarray(values)
    if values.ndim != 2:
        return np.zeros(values.shape, bool)
    return _far(values, outlier_bounds(_sample_rows(values), factor))


def warn_outliers(
    path: str | Path,
    values: np.ndarray | Iterable[np.ndarray],
    locate: Locate,
    what: str = "feature",
    sample: np.ndarray | None = None,
) -> int:
    """Warn (:class:`~zoo.errors.CorpusDataWarning`) about the values far outside their column
    (:func:`outlier_bounds`), naming the file, the first such cell and the count.

    Args:
        path: the file (for the message).
        values: a ``(T, D)`` array, or blocks of rows (read one at a time, so that a large array
            is never copied whole); ``locate`` counts rows over all blocks.
        locate: where cell ``(row, col)`` is in the file.
        what: what the values are, for the message.
        sample: rows to compute the bounds from (default: a strided sample of ``values``, which
            must then be an array).

    Returns:
        The number of such values.
    """
    if isinstance(values, np.ndarray):
        blocks: Iterable[np.ndarray] = (values[i : i + _CHUNK_ROWS] for i in range(0, len(values), _CHUNK_ROWS))
        sample = _sample_rows(values) if sample is None else sample
    else:
        blocks = values
    bounds = outlier_bounds(sample)
    count, first, offset = 0, None, 0
    for block in blocks:
        if block.ndim != 2 or block.shape[1] != len(bounds[0]):
            return 0
        far = _far(block, bounds)
        if first is None and far.any():
            row, col = (int(i) for i in np.argwhere(far)[0])
            first = (offset + row, col, float(block[row, col]))
        count += int(far.sum())
        offset += len(block)
    if first is not None:
        row, col, value = first
        warnings.warn(
            f"{path}: {locate(row, col)}: {what} value {value:g} is far outside the file's other values of "
            f"that column ({count} such value(s)); it would dominate the normalisation statistics — check the file",
            CorpusDataWarning,
            stacklevel=3,
        )
    return count


# --------------------------------------------------------------------------- file access
def read_bytes(path: str | Path, what: str) -> bytes:
    """The bytes of ``path`` (noted as a corpus source).

    Raises:
        CorpusFormatError: the file is missing or cannot be read (symbolic-link loop, no
            permission, a folder, ...), naming the file and the reason.
    """
    path = note_source(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorpusFormatError(f"{path}: {what} file not found") from None
    except OSError as err:
        raise CorpusFormatError(f"{path}: cannot read the {what} file ({err.strerror or err})") from None


def decode_text(path: str | Path, data: bytes, what: str) -> str:
    """``data`` decoded as UTF-8.

    Raises:
        CorpusFormatError: the bytes are not UTF-8, naming the file, the line, the byte offset
            and the byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise CorpusFormatError(
            f"{path}: line {line}: byte 0x{data[err.start]:02x} at offset {err.start} is not UTF-8 "
            f"({what} files are UTF-8 text)"
        ) from None


def read_text(path: str | Path, what: str) -> str:
    """:func:`read_bytes` then :func:`decode_text`."""
    return decode_text(path, read_bytes(path, what), what)


# --------------------------------------------------------------------------- widths
class WidthCheck:
    """Every file of a feature set has the width of the first file read of that set."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, Path]] = {}

    def check(self, feature_set: str, path: str | Path, width: int, unit: str = "feature columns") -> None:
        """Record or compare the width of one file.

        Raises:
            CorpusFormatError: naming the file, its width and the first file's.
        """
        expected, first = self._first.setdefault(feature_set, (int(width), Path(path)))
        if int(width) != expected:
            raise CorpusFormatError(
                f"{path}: {width} {unit}, but {first} of the same feature set {feature_set!r} has {expected}"
            )
