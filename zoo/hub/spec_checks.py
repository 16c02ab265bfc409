"""Checks of what a trained model carries besides its architecture, shared by checkpoints
(:mod:`zoo.hub.checkpoint_io`) and bundles (:mod:`zoo.hub.bundle`), so that both are trusted alike.

* :func:`check_spec_numbers` — the numbers of a stored :class:`~zoo.data.types.DataSpec`: a finite
  label shift and feature delays (of known feature sets), normalisation statistics of the right
  length that are finite, with every standard deviation > 0. A NaN mean or a zero std would make
  every prediction NaN; a NaN shift cannot even be turned into frames.
* :func:`check_finite_weights` — every floating-point weight is finite: a model with one NaN weight
  predicts NaN everywhere.

Both report the first problem through ``fail(field, expected, found)``, which raises the caller's
own error (``CheckpointError``, ``BundleError``) naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

__all__ = ["finite_number", "check_spec_numbers", "check_finite_weights"]

#: ``fail(field, expected, found)`` raises the caller's error
Fail = Callable[[str, str, Any], NoReturn]


def finite_number(value: Any) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_spec_numbers(spec: Mapping[str, Any], names: Sequence[str], dims: Mapping[str, Any], fail: Fail) -> None:
    """Check ``label_shift``, ``feature_delay`` and ``normalization`` of a stored data spec.

    Args:
        spec: the stored spec (a checkpoint's ``data_spec`` or a bundle's config).
        names: its feature sets.
        dims: feature set → dimension (an integer; raw sets may have a shape list).
        fail: raises the caller's error for ``(field, expected, found)``.
    """
    if not finite_number(spec.get("label_shift", 0.0)):
        fail("label_shift", "a finite number of seconds", spec.get("label_shift"))
    delay = spec.get("feature_delay") or {}
    if not isinstance(delay, Mapping):
        fail("feature_delay", "an object of feature set -> seconds", delay)
    for name, value in delay.items():
        if name not in names:
            fail(f"feature_delay.{name}", f"a feature set of {list(names)}", name)
        if not finite_number(value):
            fail(f"feature_delay.{name}", "a finite number of seconds", value)
    norm = spec.get("normalization")
    if norm is None:
        return
    if not isinstance(norm, Mapping):
        fail("normalization", "null or an object of feature set -> {mean, std}", norm)
    for name, stats in norm.items():
        if name not in names:
            fail(f"normalization.{name}", f"statistics of a feature set of {list(names)}", name)
        if not isinstance(stats, Mapping) or not {"mean", "std"} <= set(stats) <= {"mean", "std", "padding_blocks"}:
            fail(f"normalization.{name}", "an object with 'mean', 'std' and optionally 'padding_blocks'", stats)
        blocks = stats.get("padding_blocks", 0)  # zero padding kept in normalised space (Chen et al. 2017)
        length = dims.get(name)
        if (
            isinstance(blocks, bool)
            or not isinstance(blocks, int)
            or blocks < 0
            or (blocks and isinstance(length, int) and length % blocks)
        ):
            fail(f"normalization.{name}.padding_blocks", f"0 or a whole divisor of {length}", blocks)
        for key in ("mean", "std"):
            values = stats[key]
            if not isinstance(values, (list, tuple)) or (isinstance(length, int) and len(values) != length):
                fail(
                    f"normalization.{name}.{key}",
                    f"a list of {length} numbers (feature_dims.{name})",
                    values if not isinstance(values, (list, tuple)) else f"a list of {len(values)}",
                )
            bad = [i for i, v in enumerate(values) if not finite_number(v) or (key == "std" and v <= 0)]
            if bad:
                what = "finite numbers > 0" if key == "std" else "finite numbers"
                fail(f"normalization.{name}.{key}[{bad[0]}]", what, values[bad[0]])


def check_finite_weights(tensors: Mapping[str, Any], fail: Fail) -> None:
    """Every floating-point tensor of ``tensors`` (a state dict) is finite.

    ``fail`` gets the tensor's name as the field, and the count of NaN/inf values found.
    """
    import torch

    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor) or not (tensor.is_floating_point() or tensor.is_complex()):
            continue
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            fail(name, "finite weights", f"{bad} NaN/inf value(s) of {tensor.numel()}")
