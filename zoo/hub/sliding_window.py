"""Sliding-window bundles: imported models whose step and window are chosen at prediction time.

A bundle written by ``zoo import`` (:mod:`zoo.hub.importers`) scores each label frame on a window of
media around it; its ``config.json`` says so under ``sliding_window``::

    "sliding_window": {"step": 0.25, "window": 2.0}

``step`` is the default label step (the ``hop`` of the bundle's feature extractors) and
``window`` the network's default window (its ``window`` attribute). ``zoo predict BUNDLE
my.wav --step 0.1 --window 3`` (:func:`set_sliding_window`) changes both for one prediction:
the extractors run at the new hop (the raw waveform's frame width follows it) and the network
scores the new window. A bundle trained by ``zoo fit`` has no such entry: its sequence model
was trained at one label step, so ``--step``/``--window`` are refused for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SLIDING_KEY", "SlidingWindowError", "set_sliding_window", "validate_sliding_window"]

SLIDING_KEY = "sliding_window"


class SlidingWindowError(ValueError):
    """``--step``/``--window`` that a bundle cannot take (one line, exit status 2)."""


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def validate_sliding_window(config: Mapping[str, Any], fail: Callable[[str, str, Any], None]) -> None:
    """Check a bundle config's ``sliding_window`` entry (absent: nothing to check).

    Args:
        config: the bundle's ``config.json``.
        fail: ``fail(field, expected, got)`` raises the bundle error.
    """
    entry = config.get(SLIDING_KEY)
    if entry is None:
        return
    if not isinstance(entry, dict) or set(entry) != {"step", "window"}:
        fail(SLIDING_KEY, "an object with exactly 'step' and 'window' (seconds)", entry)
    for key in ("step", "window"):
        if not _positive(entry[key]):
            fail(f"{SLIDING_KEY}.{key}", "a finite number of seconds > 0", entry[key])
    if abs(float(entry["step"]) - float(config["label_step"])) > 1e-9:
        fail(f"{SLIDING_KEY}.step", f"the bundle's label_step {config['label_step']}", entry["step"])


def set_sliding_window(model: Any, step: float | None = None, window: float | None = None) -> None:
    """Predict with ``model`` (a loaded bundle) at another label step and/or window.

    Updates, on the loaded model only (the bundle's files are untouched): the label step of its
    spec and config, the ``hop`` of each feature extractor, the width of feature sets whose
    extractor's width follows the hop (the raw waveform), and the network's ``window``.

    Raises:
        SlidingWindowError: the bundle is not a sliding-window bundle, or a value is not > 0.
    """
    if step is None and window is None:
        return
    config = getattr(model, "bundle_config", None)
    if config is None or config.get(SLIDING_KEY) is None:
        current = (config or {}).get("label_step", (getattr(model, "spec", None) or {}).get("label_step"))
        raise SlidingWindowError(
            "--step/--window apply to sliding-window bundles (written by `zoo import`); this model "
            f"was trained as a sequence model at its label step ({current} s) and predicts at that step"
        )
    for name, value in (("--step", step), ("--window", window)):
        if value is not None and not _positive(value):
            raise SlidingWindowError(f"{name} must be a number of seconds > 0, got {value!r}")
    if window is not None:
        model.net.window = float(window)
        config[SLIDING_KEY]["window"] = float(window)
    if step is None:
        return
    from zoo.features import create_extractor

    step = float(step)
    if hasattr(model.net, "step"):  # networks that average over label frames need the step
        model.net.step = step
    config["label_step"] = step
    config[SLIDING_KEY]["step"] = step
    model.spec["label_step"] = step
    for name, entry in (config.get("feature_extractors") or {}).items():
        if entry is None:
            continue
        entry["hop"] = step
        width = create_extractor(entry["extractor"], hop=step, **dict(entry.get("options") or {})).output_dim()
        if width is not None and config["feature_dims"][name] != width:
            config["feature_dims"][name] = width
            model.spec["feature_dims"] = {**model.spec["feature_dims"], name: width}
