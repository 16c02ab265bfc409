"""One registry implementation for the zoo's two registries: models and corpus readers.

A :class:`Registry` maps names to objects (variant functions, ``Corpus`` classes). Its built-in
entries live in modules that register them when imported; the registry imports those modules on
first use, strictly: a missing module, or one that registers nothing, is an error, never a
silently absent entry. Installed packages may add entries through an entry-point group. Unknown
names are answered with the closest registered ones.

Used by :mod:`zoo.models.registry` (``register_model``) and :mod:`zoo.data.registry`
(``register_corpus``). This module imports nothing of affect-zoo.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


def _origin(obj: object) -> tuple[str, str]:
    return getattr(obj, "__module__", ""), getattr(obj, "__qualname__", type(obj).__qualname__)


class Registry(Generic[T]):
    """Names → objects, with lazily imported built-in modules.

    Args:
        kind: what an entry is, for messages (``"model"``, ``"corpus"``).
        builtin_modules: the modules holding the built-in entries: a sequence (each must register
            at least one entry defined in it) or a mapping ``name → module`` (each must register
            that name).
        entry_point_group: installed packages add entries under this group (``name = module``);
            loading the module must register ``name``.
    """

    def __init__(
        self,
        kind: str,
        builtin_modules: Sequence[str] | Mapping[str, str],
        entry_point_group: str | None = None,
    ) -> None:
        self.kind = kind
        self.builtin_modules = builtin_modules
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T] = {}
        self._loaded = False

    # ------------------------------------------------------------------ registering
    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name``; registering the same definition again is a no-op.

        Raises:
            ValueError: another definition (module and qualified name) holds ``name``.
        """
        existing = self._entries.get(name)
        if existing is not None and _origin(existing) != _origin(obj):
            module, qualname = _origin(existing)
            raise ValueError(f"{self.kind} name {name!r} is already registered by {module}.{qualname}")
        self._entries[name] = obj
        return obj

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """Import the built-in modules and the entry points (once)."""
        if self._loaded:
            return
        if isinstance(self.builtin_modules, Mapping):
            for name, module in self.builtin_modules.items():
                importlib.import_module(module)  # a missing or broken module raises here
                if name not in self._entries:
                    raise ImportError(f"{module} was imported but registered no {self.kind} {name!r}")
        else:
            for module in self.builtin_modules:
                importlib.import_module(module)
                if not any(_origin(obj)[0] == module for obj in self._entries.values()):
                    raise ImportError(f"{module} was imported but registered no {self.kind}")
        if self.entry_point_group:
            for entry in entry_points(group=self.entry_point_group):
                before = set(self._entries)
                entry.load()
                if entry.name not in self._entries:
                    added = sorted(set(self._entries) - before)
                    raise ImportError(
                        f"entry point {entry.name!r} ({entry.value}) of group {self.entry_point_group!r} "
                        f"registered no {self.kind} {entry.name!r} (it registered {added or 'nothing'})"
                    )
        self._loaded = True

    # ------------------------------------------------------------------ looking up
    def get(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            KeyError: naming the closest registered names (and all of them) when ``name`` is unknown.
        """
        self.load()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self, pattern: str = "*", where: Callable[[T], bool] | None = None) -> list[str]:
        """Registered names matching a shell-style ``pattern`` (and ``where``), sorted."""
        self.load()
        return sorted(
            n for n, obj in self._entries.items() if fnmatch.fnmatch(n, pattern) and (where is None or where(obj))
        )

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(sorted(self._entries))
