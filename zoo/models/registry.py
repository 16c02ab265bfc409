"""Model registry, in the style of ``timm.models._registry``.

Each paper file registers thin variant functions::

    @register_model
    def sun2020_lstm_selfattn(**kwargs) -> nn.Module: ...

Every variant is called as ``fn(feature_dims=..., num_targets=..., **hparams)`` and returns a
plain ``nn.Module`` whose ``forward(features, mask)`` maps ``{name: (B, T, D)}`` and a ``(B, T)``
mask to ``(B, T, K)`` (or ``(B, K)`` for segment-level models).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Any

from torch import nn

__all__ = [
    "register_model",
    "create_model",
    "list_models",
    "model_entrypoint",
    "is_estimator",
    "building_from_checkpoint",
    "weights_come_from_checkpoint",
]

ModelFn = Callable[..., nn.Module]
_MODELS: dict[str, ModelFn] = {}
_FROM_CHECKPOINT: contextvars.ContextVar[bool] = contextvars.ContextVar("weights_from_checkpoint", default=False)


@contextlib.contextmanager
def building_from_checkpoint() -> Iterator[None]:
    """Within this block models are built only to receive a checkpoint's trained weights.

    A variant that would otherwise read initial weights from a file (e.g. ImageNet weights at
    ``pretrained_path``) skips it: the file the run was trained from need not exist where the
    checkpoint is loaded, and its weights are overwritten anyway.
    """
    token = _FROM_CHECKPOINT.set(True)
    try:
        yield
    finally:
        _FROM_CHECKPOINT.reset(token)


def weights_come_from_checkpoint() -> bool:
    """True inside :func:`building_from_checkpoint`."""
    return _FROM_CHECKPOINT.get()


def register_model(fn: ModelFn) -> ModelFn:
    """Register ``fn`` under its ``__name__``.

    A variant that returns a scikit-learn style estimator (``fit``/``predict``) instead of an
    ``nn.Module`` sets ``fn.is_estimator = True`` before registering (see :func:`is_estimator`);
    ``zoo`` then trains it with :mod:`zoo.estimators.run` instead of Lightning.

    Raises:
        ValueError: if another function already holds the name.
    """
    name = fn.__name__
    existing = _MODELS.get(name)
    if existing is not None and existing.__module__ != fn.__module__:
        raise ValueError(f"model {name!r} is already registered by {existing.__module__}")
    _MODELS[name] = fn
    return fn


# Paper modules register their variants when imported; they are imported on first registry use.
_PAPER_MODULES = (
    "zoo.models.sun2020",
    "zoo.models.tzirakis2017",
    "zoo.models.chen2017",
    "zoo.models.atmaja2020",
    "zoo.models.williams2018",
    "zoo.models.late_fusion",
    "zoo.models.ssl",
    "zoo.models.wagner2023",
    "zoo.models.savchenko2022",
)


_papers_loaded = False


def _load_paper_modules() -> None:
    """Import every module of :data:`_PAPER_MODULES`; each must register at least one model.

    A missing module (a misspelt entry, a file left out of a package) raises
    :class:`ModuleNotFoundError`, and one that registers nothing raises :class:`ImportError`:
    a registry never silently lacks a paper.
    """
    global _papers_loaded
    if _papers_loaded:
        return
    for name in _PAPER_MODULES:
        importlib.import_module(name)
        if not any(fn.__module__ == name or fn.__module__.startswith(name + ".") for fn in _MODELS.values()):
            raise ImportError(f"{name} was imported but registered no model")
    _papers_loaded = True


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    _load_paper_modules()
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def model_entrypoint(name: str) -> ModelFn:
    """The variant function registered under ``name``.

    Raises:
        KeyError: naming close matches and all registered models when ``name`` is unknown.
    """
    _load_paper_modules()
    try:
        return _MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Registered: {', '.join(sorted(_MODELS))}") from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered under ``name`` with ``kwargs``.

    Raises:
        KeyError: unknown model name.
        TypeError: an argument the model does not take, naming it.
    """
    fn = model_entrypoint(name)
    try:
        return fn(**kwargs)
    except TypeError as err:
        if "unexpected keyword" in str(err) or "got an unexpected" in str(err):
            raise TypeError(f"model {name!r}: {err}") from err
        raise


def is_estimator(name: str) -> bool:
    """Whether the model registered as ``name`` is a non-neural estimator (e.g. an SVR)."""
    return bool(getattr(model_entrypoint(name), "is_estimator", False))
