"""Which files a corpus reader opens: the record that keys the corpus cache.

A reader never lists its files in advance. Every file it opens — or looks for and does not find,
such as a test label file that is not distributed — passes through :func:`note_source`, which
records it in the :class:`SourceLog` active around the read (a context variable, so nested or
concurrent reads keep separate logs). A directory that a reader lists (``glob``) is noted too:
adding or removing a file changes the directory's modification time.

:func:`sources_state` then describes those files by path, size and modification time (ns); the
corpus cache stores it with each entry and reuses the entry only while it is unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["SourceLog", "note_source", "recording_sources", "sources_state"]

_ACTIVE: contextvars.ContextVar[SourceLog | None] = contextvars.ContextVar("corpus_source_log", default=None)


def _stat(path: str) -> list:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return [path, None, None]
    return [path, st.st_size, st.st_mtime_ns]


def sources_state(paths: Iterable[str | os.PathLike]) -> list[list]:
    """``[[path, size, mtime_ns], ...]`` of ``paths`` (absolute, sorted, unique; missing files
    have ``None`` size and time)."""
    return [_stat(p) for p in sorted({os.path.abspath(os.fspath(p)) for p in paths})]


class SourceLog:
    """The files one read opened or probed, with their state when they were first noted."""

    def __init__(self) -> None:
        self._first_seen: dict[str, list] = {}

    def note(self, path: str | os.PathLike) -> None:
        """Record ``path`` (kept with its size/time at this moment)."""
        key = os.path.abspath(os.fspath(path))
        if key not in self._first_seen:
            self._first_seen[key] = _stat(key)

    @property
    def paths(self) -> list[str]:
        """Every noted path, sorted."""
        return sorted(self._first_seen)

    def state_when_read(self) -> list[list]:
        """:func:`sources_state` as it was when each file was noted."""
        return [self._first_seen[p] for p in self.paths]

    def unchanged_since_read(self) -> bool:
        """No noted file changed (or appeared/disappeared) while the read went on."""
        return sources_state(self.paths) == self.state_when_read()


def note_source(path: str | os.PathLike) -> Path:
    """Record ``path`` in the active :class:`SourceLog` (if any) and return it as a ``Path``.

    Readers call it on every file they open or look for, right before doing so.
    """
    log = _ACTIVE.get()
    if log is not None:
        log.note(path)
    return Path(path)


@contextlib.contextmanager
def recording_sources() -> Iterator[SourceLog]:
    """Collect the files noted within the block into a new :class:`SourceLog`."""
    log = SourceLog()
    token = _ACTIVE.set(log)
    try:
        yield log
    finally:
        _ACTIVE.reset(token)
