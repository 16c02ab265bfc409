"""Model registry, in the style of ``timm.models._registry``.

Each paper file registers thin variant functions::

    @register_model
    def sun2020_lstm_selfattn(**kwargs) -> nn.Module: ...

Every variant is called as ``fn(feature_dims=..., num_targets=..., **hparams)`` and returns a
plain ``nn.Module`` whose ``forward(features, mask)`` maps ``{name: (B, T, D)}`` and a ``(B, T)``
mask to ``(B, T, K)`` (or ``(B, K)`` for segment-level models).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from typing import Any, Callable

from torch import nn

__all__ = ["register_model", "create_model", "list_models", "model_entrypoint"]

ModelFn = Callable[..., nn.Module]
_MODELS: dict[str, ModelFn] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Register ``fn`` under its ``__name__``.

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
_PAPER_MODULES = ("zoo.sun2020",)


def _load_paper_modules() -> None:
    for module in _PAPER_MODULES:
        importlib.import_module(module)


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
        raise KeyError(
            f"unknown model {name!r}.{hint} Registered: {', '.join(sorted(_MODELS))}"
        ) from None


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
