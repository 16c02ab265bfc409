"""SEWA (AVEC 2017 and AVEC 2019 CES releases) file layout and ``;``-separated tables.

The layout of both releases::

    <root>/labels/<name>.csv              'name';time;arousal;valence;liking (AVEC 2019: header)
    <root>/<feature folder>/<name>.csv    name;time;<features> (with or without header, ';' or ',')
    <root>/turns/<name>.csv               start;end  (AVEC 2017: the subject's turns)
    <root>/transcriptions/<name>.csv      start;end;text  (AVEC 2017)

Every table has the recording name in its first column and the time in seconds in its second;
:func:`format_table` writes one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "LABELS",
    "TRANSCRIPTIONS",
    "TURNS",
    "feature_folder",
    "feature_path",
    "format_table",
    "label_path",
    "transcription_path",
    "turns_path",
]

#: Folder of the label files.
LABELS = "labels"
#: Folder of the subject's turns (AVEC 2017).
TURNS = "turns"
#: Folder of the transcriptions (AVEC 2017).
TRANSCRIPTIONS = "transcriptions"
#: Folder of the recordings' audio (``<name>.wav``), read as the raw ``audio`` feature set.
AUDIO = "audio"


# --------------------------------------------------------------------------- paths
def label_path(root: str | Path, name: str) -> Path:
    """``<root>/labels/<name>.csv``."""
    return Path(root) / LABELS / f"{name}.csv"


def feature_folder(root: str | Path, feature: str) -> Path:
    """``<root>/<feature>``: one feature set, one file per recording."""
    return Path(root) / feature


def feature_path(root: str | Path, feature: str, name: str) -> Path:
    """``<root>/<feature>/<name>.csv``."""
    return feature_folder(root, feature) / f"{name}.csv"


def turns_path(root: str | Path, name: str) -> Path:
    """``<root>/turns/<name>.csv``."""
    return Path(root) / TURNS / f"{name}.csv"


def audio_path(root: str | Path, name: str) -> Path:
    """``<root>/audio/<name>.wav``."""
    return Path(root) / AUDIO / f"{name}.wav"


def transcription_path(root: str | Path, name: str) -> Path:
    """``<root>/transcriptions/<name>.csv``."""
    return Path(root) / TRANSCRIPTIONS / f"{name}.csv"


# --------------------------------------------------------------------------- tables
def format_table(
    name: str,
    times: np.ndarray,
    values: np.ndarray,
    *,
    sep: str = ";",
    header: Sequence[str] | None = None,
    quote: bool = True,
    value_format: str = ".6f",
    time_format: str | None = None,
) -> str:
    """A SEWA table: optional header, then ``<name><sep><time><sep><values...>`` per row.

    Args:
        name: recording name written in the first column of every row.
        times: ``(T,)`` seconds.
        values: ``(T, D)`` (or ``(T,)``) numbers.
        sep: column separator (``;`` or ``,``).
        header: header cells (a ``sep`` inside a cell is written as ``_``); ``None``: no header.
        quote: write the name as ``'name'`` (as the label files do).
        value_format: format spec of the values, printf-compatible (``".6f"``, ``".9g"``, ...).
        time_format: format spec of the times; ``None``: ``value_format``.

    Returns:
        The whole file, ``\\n`` line ends.
    """
    buf = io.StringIO()
    if header is not None:
        buf.write(sep.join(str(h).replace(sep, "_") for h in header) + "\n")
    label = f"'{name}'" if quote else name
    body = np.column_stack([times, values]).astype(np.float64, copy=False)
    width = body.shape[1] - 1
    fmt = [f"%{time_format or value_format}"] + [f"%{value_format}"] * width
    lines = io.StringIO()
    np.savetxt(lines, body, fmt=fmt, delimiter=sep)
    for line in lines.getvalue().splitlines():
        buf.write(f"{label}{sep}{line}\n")
    return buf.getvalue()
