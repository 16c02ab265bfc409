"""Inference with a trained model: :class:`PretrainedModel`, what :func:`zoo.load_pretrained`
returns for a checkpoint or a bundle.

It applies the model's own input preparation — the feature delay and the train-partition
normalisation of its :class:`~zoo.data.types.DataSpec` — and its fitted post-processing to
whole recordings given as arrays, on any device.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.data._normalize import FeatureNormalizer
from zoo.data._sequence import prepare_features
from zoo.training.postprocess import PostProcessor

__all__ = ["PretrainedModel"]


class PretrainedModel(nn.Module):
    """A trained network with its input preparation, ready for inference.

    Attributes:
        net: the registered network (eval mode).
        spec: the data spec stored in the checkpoint.
        recipe: the resolved recipe of the training run.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: Mapping[str, Any],
        recipe: Mapping[str, Any] | None = None,
        postprocessor: PostProcessor | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.postprocessor = postprocessor
        self.spec = dict(spec)
        self.recipe = dict(recipe or {})
        #: the train-partition z-normalisation, the same module the training step uses
        self.normalizer = FeatureNormalizer.from_spec(spec.get("normalization"))
        self.eval()

    @property
    def feature_dims(self) -> dict[str, int]:
        """Expected input feature sets and their dimensions."""
        return dict(self.spec["feature_dims"])

    @property
    def target_names(self) -> list[str]:
        """Output columns, in order."""
        return list(self.spec["target_names"])

    @torch.no_grad()
    def predict(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Predict one recording.

        Args:
            features: feature set name → raw ``(T, D)`` array on the label timeline, as the corpus
                distributes it; delay and normalisation are applied here as in training.

        Returns:
            ``(T, K)`` float32 predictions in :attr:`target_names` order, post-processed with the
            chain fitted on validation data when the run had ``postprocess.enabled``.

        Raises:
            ValueError: a missing or misshapen feature set, or predictions that are not finite
                (never returned).
        """
        names = list(self.spec["feature_names"])
        for name in names:
            if name not in features:
                raise KeyError(f"predict: feature set {name!r} missing; the model needs {names}")
            expected = self.spec["feature_dims"][name]
            frame = tuple(expected) if isinstance(expected, (list, tuple)) else (expected,)  # images: (H, W, C)
            if tuple(np.shape(features[name])[1:]) != frame:
                shape = ", ".join(str(d) for d in ("T", *frame))
                raise ValueError(
                    f"predict: feature set {name!r} has shape {np.shape(features[name])}, expected ({shape})"
                )
        lengths = {np.shape(features[n])[0] for n in names}
        if len(lengths) != 1:
            raise ValueError(f"predict: feature sets have different lengths {sorted(lengths)}")
        delayed = prepare_features(
            features,
            feature_names=names,
            label_step=float(self.spec["label_step"]),
            label_shift=float(self.spec.get("label_shift", 0.0)),
            feature_delay=self.spec.get("feature_delay"),
        )
        # (a network may hold only buffers, e.g. an imported ONNX graph: its initialisers)
        device = next(itertools.chain(self.net.parameters(), self.net.buffers())).device
        # (a read-only, memory-mapped input is copied: torch tensors must be writable)
        inputs = {
            n: torch.from_numpy(x if x.flags.writeable else np.array(x)).unsqueeze(0).to(device)
            for n, x in delayed.items()
        }
        mask = torch.ones(1, lengths.pop(), dtype=torch.bool, device=device)
        # on the device, as in training; not in place: on the CPU the tensors may be the caller's arrays
        inputs = self.normalizer(inputs, mask)
        preds = self.net(inputs, mask)[0].float().cpu().numpy()
        if self.postprocessor is not None:
            preds = self.postprocessor.apply(preds, self.target_names)
        bad = ~np.isfinite(preds)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise ValueError(
                f"predict: the model gave {int(bad.sum())} NaN/inf value(s) of {preds.size} (first at frame "
                f"{frame}); check the input features (finite, on the model's scale) — no prediction is returned"
            )
        return preds
