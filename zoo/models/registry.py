"""Model registry, in the style of ``timm.models._registry``.

Each paper file registers thin variant functions::

    @register_model
    def sun2020_lstm_selfattn(feature_dims, num_targets, **kwargs) -> nn.Module: ...

    @register_model(files={"pretrained_path": "weights"})
    def tzirakis2017_visual(feature_dims, num_targets, loaded=None, **kwargs) -> nn.Module: ...

    @register_model(estimator=True)
    def chen2017_svr(feature_dims, num_targets, **kwargs) -> SVRRegressor: ...

Every variant is called as ``fn(feature_dims=..., num_targets=..., **hparams)`` and returns a
plain ``nn.Module`` whose ``forward(features, mask)`` maps ``{name: (B, T, D)}`` and a ``(B, T)``
mask to ``(B, T, K)`` (or ``(B, K)`` for segment-level models), or (``estimator=True``) a
scikit-learn style estimator trained by :mod:`zoo.estimators.run`.

Models read no files. A variant whose arguments name files declares them with ``files``
(argument → ``"weights"``: a state dict file, or ``"checkpoint"``: an affect-zoo checkpoint); the
runner reads them (:func:`zoo.hub.checkpoint_io.read_model_files`) and hands what they hold to the
variant as ``loaded={argument: content}``; ``zoo.create_model`` does the same for Python users.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from torch import nn

from zoo.registry import Registry

__all__ = [
    "FILE_KINDS",
    "register_model",
    "create_model",
    "list_models",
    "model_entrypoint",
    "model_files",
    "is_estimator",
    "loaded_file",
    "building_from_checkpoint",
    "weights_come_from_checkpoint",
]

ModelFn = Callable[..., Any]
#: what a file argument may name: a state dict file, or an affect-zoo checkpoint
FILE_KINDS = ("weights", "checkpoint")
#: the modules that register the built-in variants, imported on first registry use
PAPER_MODULES = (
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
#: the model variants (:class:`zoo.registry.Registry`)
REGISTRY: Registry[ModelFn] = Registry("model", PAPER_MODULES)
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


def register_model(
    fn: ModelFn | None = None,
    *,
    estimator: bool = False,
    files: Mapping[str, str] | None = None,
) -> Any:
    """Register a variant function under its ``__name__`` (``@register_model`` or with options).

    Args:
        fn: the variant function.
        estimator: it returns a scikit-learn style estimator (``fit``/``predict``) instead of an
            ``nn.Module``; ``zoo`` then trains it with :mod:`zoo.estimators.run`.
        files: its arguments that name files, each with what the file holds (:data:`FILE_KINDS`);
            the variant then takes ``loaded`` (see the module docstring).

    Raises:
        ValueError: another function already holds the name, or an unknown file kind.
    """
    declared = dict(files or {})
    for arg, kind in declared.items():
        if kind not in FILE_KINDS:
            raise ValueError(f"register_model: files[{arg!r}] is {kind!r}; expected one of {FILE_KINDS}")

    def register(function: ModelFn) -> ModelFn:
        function.is_estimator = bool(estimator)  # type: ignore[attr-defined]
        function.model_files = declared  # type: ignore[attr-defined]
        return REGISTRY.add(function.__name__, function)

    return register(fn) if fn is not None else register


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return REGISTRY.names(pattern)


def model_entrypoint(name: str) -> ModelFn:
    """The variant function registered under ``name``.

    Raises:
        KeyError: naming close matches and all registered models when ``name`` is unknown.
    """
    return REGISTRY.get(name)


def model_files(name: str) -> dict[str, str]:
    """The file arguments the variant ``name`` declares: ``{argument: kind}``."""
    return dict(getattr(model_entrypoint(name), "model_files", {}))


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered under ``name`` with ``kwargs`` (reads no file).

    A variant declaring ``files`` gets ``loaded`` (default: nothing loaded); a file argument
    given without its content is refused by the variant. :func:`zoo.create_model` reads the
    files first (:func:`zoo.hub.checkpoint_io.build_model`).

    Raises:
        KeyError: unknown model name.
        TypeError: an argument the model does not take, naming it.
    """
    fn = model_entrypoint(name)
    if getattr(fn, "model_files", None):
        kwargs.setdefault("loaded", {})
    elif kwargs.get("loaded"):
        raise TypeError(f"model {name!r} declares no file arguments, but was given loaded={sorted(kwargs['loaded'])}")
    else:
        kwargs.pop("loaded", None)
    try:
        return fn(**kwargs)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise TypeError(f"model {name!r}: {err}") from err
        raise


def is_estimator(name: str) -> bool:
    """Whether the model registered as ``name`` is a non-neural estimator (e.g. an SVR)."""
    return bool(getattr(model_entrypoint(name), "is_estimator", False))


def loaded_file(model: str, loaded: Mapping[str, Any], argument: str, path: Any) -> Any:
    """What the file named by ``argument`` holds, as the variant ``model`` was handed it.

    Returns ``None`` when ``path`` is ``None`` (no file named) or when the model is built to
    receive a checkpoint's trained weights and the runner skipped the initial weights.

    Raises:
        ValueError: a file was named but not read for the variant (it was built with the bare
            :func:`create_model`, which reads no file).
    """
    if path is None:
        return None
    if argument not in loaded:
        if weights_come_from_checkpoint() and model_files(model).get(argument) == "weights":
            return None
        raise ValueError(
            f"{model}: model.args.{argument} names a file ({path}), and models read no files: build it "
            "with zoo.create_model or from a recipe (both read the files a model declares), or pass "
            f"loaded={{{argument!r}: ...}}"
        )
    return loaded[argument]
