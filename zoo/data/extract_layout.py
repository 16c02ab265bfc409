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

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_LAYOUT", "NUMBER_FORMAT", "ExtractLayout"]

#: the layout ``zoo extract`` writes when none is given
DEFAULT_LAYOUT = "muse_car"
#: Python format spec of extracted feature values: 9 significant digits (exact for float32)
NUMBER_FORMAT = ".9g"


class ExtractLayout:
    """Where and how ``zoo extract`` writes one corpus's feature files (override every method
    but :meth:`folder_name`)."""

    def folder_name(self, name: str | None, feature: str, modality: str) -> str:
        """The feature folder for ``--name`` ``name`` of extractor ``feature`` (of ``modality``).

        Raises:
            ValueError: a name this corpus's reader would not read.
        """
        return name or feature

    def feature_folder(self, output: Path, folder: str) -> Path:
        """The folder holding feature folder ``folder`` of every recording (and its settings record)."""
        raise NotImplementedError

    def feature_paths(self, output: Path, folder: str, recording_id: str) -> list[Path]:
        """The file(s) that keep ``folder``'s features of ``recording_id`` (the same text goes to each)."""
        raise NotImplementedError

    def render(
        self,
        recording_id: str,
        timestamps: np.ndarray,
        values: np.ndarray,
        columns: Sequence[str],
        segment_ids: np.ndarray | None,
        folder: str,
    ) -> str:
        """One recording's features ``(T, D)`` at ``timestamps`` (s) as the text of its file."""
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
