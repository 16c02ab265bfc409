"""The record of how a feature folder was made (``extract_settings.json``).

``zoo extract`` writes it into every feature folder it fills, and the synthetic corpora write it
into the feature folders they compute from their own media with the same extractors, so that
:mod:`zoo.features.provenance` can tell which extractor (hop, window, options, weights and their
sha256) made a model's training features. This module imports nothing from ``zoo.data``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["SETTINGS_FILE", "extraction_settings", "sha256_path"]

SETTINGS_FILE = "extract_settings.json"


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted)."""

    def file_digest(item: Path) -> str:
        digest = hashlib.sha256()
        with open(item, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    if path.is_file():
        return file_digest(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(item.relative_to(path)).encode() + b"\0" + file_digest(item).encode())
    return digest.hexdigest()


def extraction_settings(
    extractor: Any,
    layout: str,
    options: dict[str, Any],
    timeline: Path | None,
    weights_relative_to: Path | None = None,
) -> dict[str, Any]:
    """What decides the content of a feature folder, as plain JSON types.

    Args:
        extractor: the :class:`~zoo.features.Extractor` that wrote the folder.
        layout: corpus layout (``muse_car``, ``sewa``, ``recola``).
        options: the extractor's options (``--option KEY=VALUE``).
        timeline: the ``--timeline`` folder, if any.
        weights_relative_to: record the weights path relative to this folder (a corpus that ships
            its extractor's weights, so that it can be moved); default: the absolute path.
    """
    weights = getattr(extractor, "weights", None)
    recorded = None
    if weights is not None:
        recorded = str(Path(weights).resolve())
        if weights_relative_to is not None:
            recorded = Path(weights).resolve().relative_to(Path(weights_relative_to).resolve()).as_posix()
    settings = {
        "extractor": extractor.name,
        "layout": layout,
        "hop": extractor.hop,
        "win": extractor.win,
        "weights": recorded,
        "weights_sha256": sha256_path(Path(weights)) if weights is not None else None,
        "options": dict(sorted((options or {}).items())),
        "timeline": str(timeline.resolve()) if timeline is not None else None,
    }
    return json.loads(json.dumps(settings, default=str))
