"""RECOLA (AVEC 2016 release) folder names, paths and the individual-ratings table.

The layout of the release::

    <root>/recordings_audio/<name>.wav
    <root>/recordings_video/<name>.mp4
    <root>/ratings_gold_standard/<target>/<name>.arff        GOLDSTANDARD ARFF (see GOLD_*)
    <root>/ratings_individual/<target>/<name>.csv           time;FM1;...  (';'-separated)
    <root>/<feature folder>/<target>/<name>.arff             feature ARFF, one copy per target

ARFF itself is read and written by :mod:`zoo.data.arff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "AUDIO_FOLDER",
    "FEATURE_FOLDERS",
    "GOLD_ATTRIBUTES",
    "GOLD_FLOAT_FORMAT",
    "GOLD_FOLDER",
    "GOLD_RELATION",
    "RATERS",
    "RATINGS_FOLDER",
    "TARGETS",
    "VIDEO_FOLDER",
    "audio_path",
    "feature_folder",
    "feature_path",
    "format_ratings",
    "gold_path",
    "ratings_path",
    "video_path",
]

AUDIO_FOLDER = "recordings_audio"
VIDEO_FOLDER = "recordings_video"
GOLD_FOLDER = "ratings_gold_standard"
RATINGS_FOLDER = "ratings_individual"
#: The targets; gold standard, ratings and feature folders have one sub-folder each.
TARGETS = ("arousal", "valence")
#: The organisers' feature sets → their folders.
FEATURE_FOLDERS = {
    "audio": "features_audio",
    "video_appearance": "features_video_appearance",
    "video_geometric": "features_video_geometric",
}
#: ``@relation``, attributes and number formats of a gold-standard (and prediction) ARFF file.
GOLD_RELATION = "GOLDSTANDARD"
GOLD_ATTRIBUTES = (("Instance_name", "string"), ("frameTime", "numeric"), ("GoldStandard", "numeric"))
GOLD_FLOAT_FORMAT = ("%.2f", "%.2f", "%.6f")
#: The six raters of every individual-ratings file (header names; the release pads some with a space).
RATERS = ("FM1", "FM2", "FM3", "FF1", "FF2", "FF3")


# --------------------------------------------------------------------------- paths
def audio_path(root: str | Path, name: str) -> Path:
    """``<root>/recordings_audio/<name>.wav``."""
    return Path(root) / AUDIO_FOLDER / f"{name}.wav"


def video_path(root: str | Path, name: str) -> Path:
    """``<root>/recordings_video/<name>.mp4``."""
    return Path(root) / VIDEO_FOLDER / f"{name}.mp4"


def gold_path(root: str | Path, target: str, name: str) -> Path:
    """``<root>/ratings_gold_standard/<target>/<name>.arff``."""
    return Path(root) / GOLD_FOLDER / target / f"{name}.arff"


def ratings_path(root: str | Path, target: str, name: str) -> Path:
    """``<root>/ratings_individual/<target>/<name>.csv``."""
    return Path(root) / RATINGS_FOLDER / target / f"{name}.csv"


def feature_folder(root: str | Path, folder: str) -> Path:
    """``<root>/<folder>``: one feature set, one sub-folder per target."""
    return Path(root) / folder


def feature_path(root: str | Path, folder: str, target: str, name: str) -> Path:
    """``<root>/<folder>/<target>/<name>.arff``; ``folder`` is a folder name such as
    ``features_audio`` (:data:`FEATURE_FOLDERS`) or one written by ``zoo extract``."""
    return feature_folder(root, folder) / target / f"{name}.arff"


# --------------------------------------------------------------------------- tables
def format_ratings(times: np.ndarray, raters: Sequence[str], ratings: np.ndarray) -> str:
    """An individual-ratings file: header ``time;<raters>``, then ``%.2f`` times and ``%.6f``
    ratings, ``;``-separated.

    Args:
        times: ``(T,)`` seconds.
        raters: the R rater names (``FM1``, ...).
        ratings: ``(T, R)`` ratings.

    Returns:
        The whole file, ``\\n`` line ends.
    """
    lines = [";".join(("time", *raters))]
    lines += [f"{t:.2f};" + ";".join(f"{r:.6f}" for r in row) for t, row in zip(times, ratings)]
    return "\n".join(lines) + "\n"
