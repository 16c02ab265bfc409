"""How ``zoo extract --layout <corpus>`` writes feature files into a corpus's own layout.

A corpus reader that can take extracted features declares an :class:`ExtractLayout` as its
``extract_layout`` class attribute (:class:`~zoo.data.corpus.Corpus`); ``zoo extract`` and the
synthetic corpora then write through it, so a new corpus works with ``--layout`` without touching
anything outside its own package. A layout says:

* which feature folder a ``--name`` (or the extractor's feature name) becomes, and where each
  recording's file(s) of that folder go;
* how one recording's features are written (:meth:`ExtractLayout.render`, text in the layout's
  own table format, values with 9 significant digits, exact for float32);
* where the corpus keeps per-recording label files, and how to read a recording's label times
  from them (``--timeline``, and the check that features land on the label frames).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["DEFAULT_LAYOUT", "NUMBER_FORMAT", "ExtractLayout"]

#: the layout ``zoo extract`` writes when none is given
DEFAULT_LAYOUT = "muse_car"
#: Python format spec of extracted feature values: 9 significant digits (exact for float32)
NUMBER_FORMAT = ".9g"


class ExtractLayout:
    """Where and how ``zoo extract`` writes one corpus's feature files.

    Args:
        paths: the corpus's format module, whose ``feature_folder(root, folder)`` and
            ``feature_path(root, folder, recording_id)`` place one file per recording (a layout
            keeping several files per recording overrides :meth:`feature_paths`).

    Subclasses implement :meth:`render` and, for ``--timeline``, :meth:`label_folder` and
    :meth:`read_timeline`.
    """

    def __init__(self, paths: ModuleType | None = None) -> None:
        self.paths = paths

    def folder_name(self, name: str | None, feature: str, modality: str) -> str:
        """The feature folder for ``--name`` ``name`` of extractor ``feature`` (of ``modality``).

        Raises:
            ValueError: a name this corpus's reader would not read.
        """
        return name or feature

    def feature_folder(self, output: Path, folder: str) -> Path:
        """The folder holding feature folder ``folder`` of every recording (and its settings record)."""
        return self.paths.feature_folder(output, folder)

    def feature_paths(self, output: Path, folder: str, recording_id: str) -> list[Path]:
        """The file(s) that keep ``folder``'s features of ``recording_id`` (the same text goes to each)."""
        return [self.paths.feature_path(output, folder, recording_id)]

    def render(self, recording_id: str, out: Any, segment_ids: np.ndarray | None, folder: str) -> str:
        """One recording's features as the text of its file.

        Args:
            recording_id: the recording.
            out: its features: ``timestamps`` ``(T,)`` in seconds, ``values`` ``(T, D)`` and
                ``columns`` (a :class:`~zoo.features.base.FeatureOutput`).
            segment_ids: ``(T,)`` topic segment ids where the layout keeps them, else ``None``.
            folder: the feature folder's name.
        """
        raise NotImplementedError

    def label_folder(self, output: Path) -> Path | None:
        """The folder of per-recording label files in ``output`` (their frames are the timeline)."""
        return None

    def read_timeline(self, folder: Path, recording_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Label times (s) and segment ids of ``recording_id`` from a label folder in this
        layout's format, or ``None`` when ``folder`` holds no such file for it.

        Raises:
            ValueError: the file is this layout's but malformed (naming file, line and field).
        """
        return None
