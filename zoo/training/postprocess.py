"""Post-processing of continuous predictions, fitted on the validation partition.

The chain of Tzirakis et al. 2017 (§ V, opening paragraph; after Trigeorgis et al. 2016 and the
AVEC baselines), applied per target and per recording, each step kept only if it raises the
validation CCC:

1. **median filtering** with a window between 0.4 s and 20 s (or **mean**: a moving average over
   a window from the same grid, the "smoothing by averaging the predictions within a fixed
   window" of Chen et al. 2017, §5.2; a recipe lists ``mean`` instead of ``median``);
2. **centring**: add the bias between the gold standard and the prediction means;
3. **scaling**: stretch the prediction around its (fitted) mean by the ratio of the standard
   deviations of gold standard and prediction;
4. **time shift**: delay the prediction by 0.04 s to 10 s (raters react late, so a model that
   follows the signal is early): ``out[t] = pred[t − k]``, repeating the first frame.

:func:`fit_postprocessor` sees only validation predictions and labels; the fitted
:class:`PostProcessor` (plain numbers) is stored in the checkpoint and applied unchanged to the
test partition and by :func:`zoo.load_pretrained`. CCC is the pooled CCC of :mod:`zoo.ccc` over
the concatenated recordings, as the challenges score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from scipy.ndimage import median_filter, uniform_filter1d

from zoo.ccc import concordance_cc

__all__ = ["TargetChain", "PostProcessor", "fit_postprocessor", "STEPS", "median_window_grid", "shift_grid"]

STEPS = ("median", "mean", "centre", "scale", "shift")


@dataclass
class TargetChain:
    """Fitted steps for one target; a step left at its neutral value is off.

    Attributes:
        median: median filter length in frames (odd; 0 = off).
        mean: moving-average length in frames (odd, centred; 0 = off).
        bias: value added after filtering (0 = off).
        scale: stretch factor around ``centre_of_scale`` (1 = off).
        centre_of_scale: the fitted mean around which scaling stretches.
        shift: delay in frames (0 = off).
        val_ccc: validation CCC after each kept step, for the record.
    """

    median: int = 0
    bias: float = 0.0
    mean: int = 0
    scale: float = 1.0
    centre_of_scale: float = 0.0
    shift: int = 0
    val_ccc: dict[str, float] = field(default_factory=dict)

    def apply(self, pred: np.ndarray) -> np.ndarray:
        """Apply the chain to one recording's predictions of this target."""
        out = np.asarray(pred, dtype=np.float64)
        for step in STEPS:
            out = self.apply_step(step, out)
        return out

    def apply_step(self, step: str, x: np.ndarray) -> np.ndarray:
        """Apply one step (a no-op when it is off)."""
        if step == "median" and self.median > 1:
            return median_filter(x, size=self.median, mode="nearest")
        if step == "mean" and self.mean > 1:
            return uniform_filter1d(x, size=self.mean, mode="nearest")
        if step == "centre" and self.bias != 0.0:
            return x + self.bias
        if step == "scale" and self.scale != 1.0:
            return self.centre_of_scale + self.scale * (x - self.centre_of_scale)
        if step == "shift" and self.shift != 0:
            return x[np.clip(np.arange(len(x)) - self.shift, 0, len(x) - 1)]
        return x


@dataclass
class PostProcessor:
    """Per-target fitted chains plus the label step they were fitted at."""

    label_step: float
    targets: dict[str, TargetChain]

    def apply(self, preds: np.ndarray, target_names: Sequence[str]) -> np.ndarray:
        """Post-process one recording's ``(T, K)`` predictions (columns in ``target_names``)."""
        out = np.array(preds, dtype=np.float32, copy=True)
        for k, name in enumerate(target_names):
            if name in self.targets:
                out[:, k] = self.targets[name].apply(out[:, k])
        return out

    def apply_batch(self, preds: torch.Tensor, mask: torch.Tensor, target_names: Sequence[str]) -> torch.Tensor:
        """Post-process padded whole-recording predictions ``(B, T, K)``; padding untouched."""
        out = preds.detach().float().cpu().numpy().copy()
        lengths = mask.sum(dim=1).cpu().tolist()
        for b, length in enumerate(lengths):
            out[b, :length] = self.apply(out[b, :length], target_names)
        return torch.from_numpy(out).to(preds.device)

    def describe(self) -> str:
        """One line per target naming the kept steps in seconds."""
        lines = []
        for name, chain in self.targets.items():
            parts = []
            if chain.median > 1:
                parts.append(f"median {chain.median * self.label_step:.2f} s")
            if chain.mean > 1:
                parts.append(f"moving average {chain.mean * self.label_step:.2f} s")
            if chain.bias != 0.0:
                parts.append(f"centring {chain.bias:+.3f}")
            if chain.scale != 1.0:
                parts.append(f"scaling ×{chain.scale:.3f}")
            if chain.shift:
                parts.append(f"shift {chain.shift * self.label_step:.2f} s")
            lines.append(f"{name}: {', '.join(parts) or 'no step improved validation CCC'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain types, safe for ``weights_only`` checkpoints and JSON."""
        return {"label_step": self.label_step, "targets": {n: asdict(c) for n, c in self.targets.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PostProcessor:
        """Inverse of :meth:`to_dict`, with a clear error for a malformed entry."""
        try:
            return cls(float(data["label_step"]), {n: TargetChain(**c) for n, c in data["targets"].items()})
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed post-processing entry: {err}") from err


def median_window_grid(label_step: float, low: float = 0.4, high: float = 20.0, count: int = 12) -> list[int]:
    """Odd median-filter lengths (frames) log-spaced between ``low`` and ``high`` seconds."""
    frames = np.geomspace(max(low / label_step, 3), max(high / label_step, 3), count)
    return sorted({int(f) // 2 * 2 + 1 for f in frames})


def shift_grid(label_step: float, low: float = 0.04, high: float = 10.0) -> list[int]:
    """Delays (frames) from ``low`` to ``high`` seconds in steps of one label frame."""
    first = max(1, int(round(low / label_step)))
    return list(range(first, int(round(high / label_step)) + 1))


def _pooled_ccc(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray]) -> float:
    value = concordance_cc(torch.from_numpy(np.concatenate(preds)), torch.from_numpy(np.concatenate(golds)))
    return float(value)


def _fit_target(
    preds: Sequence[np.ndarray],
    golds: Sequence[np.ndarray],
    label_step: float,
    steps: Sequence[str],
    median_windows: Sequence[int],
    shifts: Sequence[int],
) -> TargetChain:
    chain = TargetChain()
    best = _pooled_ccc([chain.apply(p) for p in preds], golds)
    chain.val_ccc["raw"] = best
    for step in STEPS:
        if step not in steps:
            continue
        base = [chain.apply(p) for p in preds]  # later steps are still off
        candidates: list[TargetChain] = []
        if step == "median":
            candidates = [replace(chain, median=w) for w in median_windows]
        elif step == "mean":
            candidates = [replace(chain, mean=w) for w in median_windows]
        elif step == "centre":
            bias = float(np.mean(np.concatenate(golds)) - np.mean(np.concatenate(base)))
            candidates = [replace(chain, bias=bias)]
        elif step == "scale":
            base_all = np.concatenate(base)
            std = float(np.std(base_all))
            if std > 0:
                ratio = float(np.std(np.concatenate(golds))) / std
                candidates = [replace(chain, scale=ratio, centre_of_scale=float(np.mean(base_all)))]
        elif step == "shift":
            candidates = [replace(chain, shift=k) for k in shifts]
        for candidate in candidates:
            score = _pooled_ccc([candidate.apply_step(step, b) for b in base], golds)
            if score > best + 1e-9:
                best, chain = score, candidate
        chain.val_ccc[step] = best
    return chain


def fit_postprocessor(
    preds: Sequence[np.ndarray],
    golds: Sequence[np.ndarray],
    target_names: Sequence[str],
    label_step: float,
    steps: Sequence[str] = STEPS,
    median_seconds: tuple[float, float] = (0.4, 20.0),
    max_shift_seconds: float = 10.0,
) -> PostProcessor:
    """Fit the chain on validation recordings.

    Args:
        preds: per recording ``(T_i, K)`` validation predictions.
        golds: per recording ``(T_i, K)`` validation labels (never test labels).
        target_names: the K column names.
        label_step: seconds per frame.
        steps: which of ``median``, ``mean``, ``centre``, ``scale``, ``shift`` to try, in this order.
        median_seconds: range of median (and moving-average) window lengths tried.
        max_shift_seconds: longest delay tried.
    """
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown post-processing steps {sorted(unknown)}; choose from {STEPS}")
    if len(preds) != len(golds) or not preds:
        raise ValueError("fit_postprocessor needs the same, non-zero number of predictions and labels")
    windows = median_window_grid(label_step, *median_seconds)
    shifts = shift_grid(label_step, label_step, max_shift_seconds)
    chains = {}
    for k, name in enumerate(target_names):
        chains[name] = _fit_target(
            [np.asarray(p)[:, k] for p in preds],
            [np.asarray(g)[:, k] for g in golds],
            label_step,
            steps,
            windows,
            shifts,
        )
    return PostProcessor(float(label_step), chains)
