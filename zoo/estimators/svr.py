"""Banks of support vector regressors, one per target, saved as plain arrays; their CCC scoring.

The building blocks of the estimator models (Chen et al. 2017's SVR baseline, Atmaja & Akagi
2020's multistage SVR fusion, :mod:`zoo.models`): like :mod:`zoo.layers` for the networks, this
module imports nothing of affect-zoo but :mod:`zoo.ccc`, reads no file and knows no corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR, LinearSVR

from zoo.ccc import concordance_cc

__all__ = ["SVRBank", "ccc_per_target"]


# --------------------------------------------------------------------------- SVR bank
class SVRBank:
    """One ``Pipeline(StandardScaler, SVR | LinearSVR)`` per target, saveable as arrays.

    Args:
        kernel: ``"linear"`` → :class:`~sklearn.svm.LinearSVR` (liblinear, fast on many
            frames); any other kernel (``"rbf"``, ``"poly"``, ``"sigmoid"``) → :class:`~sklearn.svm.SVR`.
        C: regularisation.
        epsilon: width of the ε-insensitive tube.
        gamma: SVR kernel coefficient (``"scale"``, ``"auto"`` or a float).
        max_iter: liblinear iterations (LinearSVR).
        seed: LinearSVR's random state.
        standardize: z-score the inputs (fitted per bank) before the SVR; ``False`` feeds them
            as they are (the scaler step is then the identity, stored as mean 0, scale 1).
    """

    def __init__(
        self,
        kernel: str = "linear",
        C: float = 1.0,
        epsilon: float = 0.0,
        gamma: str | float = "scale",
        max_iter: int = 5000,
        seed: int = 0,
        standardize: bool = True,
    ) -> None:
        self.kernel, self.C, self.epsilon, self.gamma = kernel, float(C), float(epsilon), gamma
        self.max_iter, self.seed = int(max_iter), int(seed)
        self.standardize = bool(standardize)
        self.pipelines: list[Pipeline] = []

    def _regressor(self) -> SVR | LinearSVR:
        if self.kernel == "linear":
            return LinearSVR(
                C=self.C, epsilon=self.epsilon, max_iter=self.max_iter, random_state=self.seed, dual="auto"
            )
        return SVR(kernel=self.kernel, C=self.C, epsilon=self.epsilon, gamma=self.gamma)

    def fit(self, x: np.ndarray, y: np.ndarray) -> SVRBank:
        """Fit one pipeline per column of ``y`` ``(N, K)``."""
        if not np.all(np.isfinite(y)):
            raise ValueError("SVRBank.fit: targets contain NaN or inf")
        self.pipelines = []
        for k in range(y.shape[1]):
            scaler = StandardScaler(with_mean=self.standardize, with_std=self.standardize)
            pipe = Pipeline([("scaler", scaler), ("svr", self._regressor())])
            pipe.fit(np.asarray(x, np.float64), np.asarray(y[:, k], np.float64))
            self.pipelines.append(pipe)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N, D)`` → ``(N, K)``."""
        if not self.pipelines:
            raise RuntimeError("SVRBank is not fitted")
        x = np.asarray(x, np.float64)
        return np.stack([p.predict(x) for p in self.pipelines], axis=1)

    def config(self) -> dict[str, Any]:
        """Hyper-parameters (JSON)."""
        return {
            "kernel": self.kernel,
            "C": self.C,
            "epsilon": self.epsilon,
            "gamma": self.gamma,
            "max_iter": self.max_iter,
            "seed": self.seed,
            "standardize": self.standardize,
        }

    def get_state(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and metadata of all fitted pipelines (no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"config": self.config(), "num_targets": len(self.pipelines), "gamma_": []}
        for k, pipe in enumerate(self.pipelines):
            scaler, svr = pipe.named_steps["scaler"], pipe.named_steps["svr"]
            p = f"{prefix}t{k}."
            identity = np.zeros(scaler.n_features_in_), np.ones(scaler.n_features_in_)  # standardize=False
            arrays[p + "scaler.mean_"] = identity[0] if scaler.mean_ is None else scaler.mean_
            arrays[p + "scaler.scale_"] = identity[1] if scaler.scale_ is None else scaler.scale_
            arrays[p + "scaler.var_"] = identity[1] if scaler.var_ is None else scaler.var_
            arrays[p + "scaler.n_samples_seen_"] = np.asarray(scaler.n_samples_seen_)
            if isinstance(svr, LinearSVR):
                arrays[p + "svr.coef_"] = svr.coef_
                arrays[p + "svr.intercept_"] = np.asarray(svr.intercept_)
                meta["gamma_"].append(None)
            else:
                for name in (
                    "support_vectors_",
                    "dual_coef_",
                    "intercept_",
                    "support_",
                    "_n_support",
                    "shape_fit_",
                    "_probA",
                    "_probB",
                ):
                    arrays[p + "svr." + name] = np.asarray(getattr(svr, name))
                meta["gamma_"].append(float(svr._gamma))
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], prefix: str = "") -> SVRBank:
        """Rebuild fitted scikit-learn pipelines from :meth:`get_state` output."""
        bank = cls(**meta["config"])
        for k in range(int(meta["num_targets"])):
            p = f"{prefix}t{k}."
            scaler = StandardScaler()
            scaler.mean_ = np.asarray(arrays[p + "scaler.mean_"], np.float64)
            scaler.scale_ = np.asarray(arrays[p + "scaler.scale_"], np.float64)
            scaler.var_ = np.asarray(arrays[p + "scaler.var_"], np.float64)
            scaler.n_samples_seen_ = arrays[p + "scaler.n_samples_seen_"].item()
            scaler.n_features_in_ = len(scaler.mean_)
            svr = bank._regressor()
            if isinstance(svr, LinearSVR):
                svr.coef_ = np.asarray(arrays[p + "svr.coef_"], np.float64)
                svr.intercept_ = np.asarray(arrays[p + "svr.intercept_"], np.float64)
                svr.n_features_in_ = svr.coef_.shape[-1]
            else:
                sv = np.ascontiguousarray(arrays[p + "svr.support_vectors_"], np.float64)
                dual = np.ascontiguousarray(arrays[p + "svr.dual_coef_"], np.float64)
                intercept = np.asarray(arrays[p + "svr.intercept_"], np.float64)
                svr.support_vectors_ = sv
                svr.dual_coef_ = svr._dual_coef_ = dual
                svr.intercept_ = intercept
                svr._intercept_ = intercept.copy()
                svr.support_ = np.asarray(arrays[p + "svr.support_"], np.int32)
                svr._n_support = np.asarray(arrays[p + "svr._n_support"], np.int32)
                svr.shape_fit_ = tuple(int(v) for v in arrays[p + "svr.shape_fit_"])
                svr._probA = np.asarray(arrays[p + "svr._probA"], np.float64)
                svr._probB = np.asarray(arrays[p + "svr._probB"], np.float64)
                svr._gamma = float(meta["gamma_"][k])
                svr._sparse = False
                svr.fit_status_ = 0
                svr.n_features_in_ = sv.shape[1]
            bank.pipelines.append(Pipeline([("scaler", scaler), ("svr", svr)]))
        return bank


def ccc_per_target(preds: Sequence[np.ndarray], golds: Sequence[np.ndarray]) -> np.ndarray:
    """Pooled CCC per target over all recordings: ``(K,)``."""
    p = torch.from_numpy(np.concatenate(preds).astype(np.float64))[None]
    g = torch.from_numpy(np.concatenate(golds).astype(np.float64))[None]
    return concordance_cc(p, g).numpy().reshape(-1)
