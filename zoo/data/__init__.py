"""Corpus datamodules of affect-zoo.

Each corpus has one :class:`~pytorch_lightning.LightningDataModule`, registered by name so that
recipes can refer to it without import paths::

    dm = create_datamodule("muse_car", root=None, features=["egemaps"])

``root=None`` selects the built-in synthetic corpus written in the real layout.
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable, TypeVar

__all__ = ["register_datamodule", "create_datamodule", "list_datamodules", "datamodule_class"]

_T = TypeVar("_T", bound=type)
_DATAMODULES: dict[str, type] = {}
# Modules that register corpora when imported; imported lazily on first registry access so that
# ``import zoo.data`` stays cheap.
_CORPUS_MODULES = (
    "zoo.data.muse_car",
    "zoo.data.recola",
    "zoo.data.sewa",
    "zoo.data.cmu_mosei",
    "zoo.data.fusion",
)


def register_datamodule(name: str) -> Callable[[_T], _T]:
    """Class decorator registering a datamodule under ``name``.

    Args:
        name: registry name used in recipes (``data.name``).

    Raises:
        ValueError: if ``name`` is already taken by another class.
    """

    def decorator(cls: _T) -> _T:
        existing = _DATAMODULES.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"datamodule name {name!r} is already registered by {existing!r}")
        _DATAMODULES[name] = cls
        return cls

    return decorator


def _load_corpus_modules() -> None:
    from zoo._registry import import_present_modules

    import_present_modules(_CORPUS_MODULES)


def list_datamodules(pattern: str = "*") -> list[str]:
    """Registered datamodule names matching a shell-style ``pattern``, sorted."""
    _load_corpus_modules()
    return sorted(n for n in _DATAMODULES if fnmatch.fnmatch(n, pattern))


def datamodule_class(name: str) -> type:
    """The class registered under ``name``.

    Raises:
        KeyError: naming the closest registered names when ``name`` is unknown.
    """
    _load_corpus_modules()
    try:
        return _DATAMODULES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _DATAMODULES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown datamodule {name!r}.{hint} Registered: {', '.join(sorted(_DATAMODULES))}"
        ) from None


def create_datamodule(name: str, **kwargs: Any) -> Any:
    """Build the datamodule registered under ``name`` with ``kwargs``."""
    return datamodule_class(name)(**kwargs)
