"""Feature extractors that turn raw media into the corpus feature layouts (``zoo extract``).

Every extractor is a class registered by name with :func:`register_extractor`. It declares its
modality (``audio``/``visual``/``text``), its output dimension (or ``None`` when it depends on the
model file, e.g. a timm backbone or a BERT directory), its default label hop and analysis window,
and implements:

* ``find_inputs(paths) -> [(recording_id, path)]`` — which inputs are recordings;
* ``duration(path) -> seconds`` — length of a recording (to build the default label timeline);
* ``extract(path, times) -> FeatureOutput`` — a ``(T, D)`` array on the label timestamps ``times``.

The label timeline is built by :mod:`zoo.features.cli` (``times = 0, hop, 2·hop, … ≤ duration``,
or read from a ``--timeline`` folder), so every extractor writes exactly one row per label frame.

Example::

    from zoo.features import create_extractor, label_times
    ex = create_extractor("egemaps", hop=0.25, win=5.0)
    out = ex.extract("talk.wav", label_times(ex.duration("talk.wav"), 0.25))
    out.values.shape   # (T, 88)
"""

from __future__ import annotations

from typing import Any

from zoo.features import base as _base
from zoo.features.base import Extractor, ExtractorError, FeatureOutput, label_times, register_extractor

__all__ = [
    "Extractor",
    "ExtractorError",
    "FeatureOutput",
    "create_extractor",
    "extractor_class",
    "label_times",
    "list_extractors",
    "register_extractor",
]


def extractor_class(name: str) -> type[Extractor]:
    """The registered class of ``name``; unknown names list the registered ones."""
    return _base.REGISTRY.get(name)


def create_extractor(name: str, **kwargs: Any) -> Extractor:
    """Build the extractor ``name`` with ``kwargs`` (hop, win, weights, extractor options)."""
    return extractor_class(name)(**kwargs)


def list_extractors(pattern: str = "*") -> list[str]:
    """Registered extractor names matching the glob ``pattern``, sorted."""
    return _base.REGISTRY.names(pattern)
