"""Writing one feature file per recording into a corpus layout (``zoo extract --layout``).

Each layout is the corpus reader's own :class:`~zoo.data.extract_layout.ExtractLayout`
(``Corpus.extract_layout``): MuSe-CaR's label-aligned CSVs, SEWA's ``;``-separated tables, RECOLA's
ARFF feature folders, and any corpus that declares one — this module names no corpus.

Every file is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so an interrupted run never leaves a half file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import FeatureOutput

__all__ = ["extract_layout", "feature_folder", "layouts", "output_path", "output_paths", "write_features"]


def layouts() -> tuple[str, ...]:
    """The corpora ``zoo extract`` can write (those whose reader declares an extract layout)."""
    from zoo.data import corpus_class, list_corpora  # lazily: zoo.data imports the datamodule

    return tuple(n for n in list_corpora() if corpus_class(n).extract_layout is not None)


def extract_layout(layout: str) -> Any:
    """The :class:`~zoo.data.extract_layout.ExtractLayout` of corpus ``layout``.

    Raises:
        ValueError: no registered corpus of that name declares one.
    """
    from zoo.data import corpus_class

    try:
        found = corpus_class(layout).extract_layout
    except KeyError:
        found = None
    if found is None:
        raise ValueError(f"unknown layout {layout!r}; expected one of {layouts()}")
    return found


def output_paths(layout: str, output: str | Path, feature: str, recording_id: str) -> list[Path]:
    """The file(s) ``layout`` keeps for feature folder ``feature`` of ``recording_id``."""
    return extract_layout(layout).feature_paths(Path(output), feature, recording_id)


def feature_folder(layout: str, output: str | Path, feature: str) -> Path:
    """The folder that holds feature ``feature`` of every recording (and its settings record)."""
    return extract_layout(layout).feature_folder(Path(output), feature)


def output_path(layout: str, output: str | Path, feature: str, recording_id: str) -> Path:
    """The first (for most layouts the only) file of :func:`output_paths`."""
    return output_paths(layout, output, feature, recording_id)[0]


def write_features(
    layout: str,
    path: str | Path | list[Path],
    recording_id: str,
    out: FeatureOutput,
    segment_ids: np.ndarray | None = None,
    feature: str = "features",
) -> list[Path]:
    """Write one recording's features atomically (temp file + ``os.replace``).

    Args:
        layout: a corpus with an extract layout (:func:`layouts`).
        path: final file path, or several (the same content is written to each; see
            :func:`output_paths`).
        recording_id: name written into the file where the layout keeps one.
        out: features on the label timeline.
        segment_ids: ``(T,)`` topic segment ids where the layout keeps them (MuSe-CaR; default 0).
        feature: the feature folder's name (RECOLA's ARFF relation).

    Returns:
        The written paths.
    """
    text = extract_layout(layout).render(recording_id, out, segment_ids, feature)
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    for target in paths:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    return paths
