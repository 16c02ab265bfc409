"""The errors affect-zoo reports to a user as one line (``zoo`` exits with status 2).

A tiny module with no heavy imports, so corpus readers (``zoo.data``) can raise these without
importing any model code. Every message names the file or the recipe key, what was expected and
what was found; ``zoo --traceback ...`` (or ``AFFECT_ZOO_TRACEBACK=1``) shows the stack as well.

Hierarchy::

    AffectZooError
    ├── ConfigError        a recipe key or override is invalid (unknown name, wrong type, ...)
    ├── CorpusFormatError  a corpus file does not have the layout or content the reader expects
    ├── TrainingError      a run cannot go on (e.g. the loss became NaN or infinite)
    └── RunInterrupted     the run was stopped by SIGTERM (``zoo`` exits with 143 = 128 + 15)

``ConfigError`` and ``CorpusFormatError`` are also ``ValueError`` (code that caught ValueError
before keeps working); ``TrainingError`` is a ``RuntimeError``.

:class:`CorpusDataWarning` (a ``UserWarning``) is what a reader says about a file it could read
but that looks damaged (a value far outside the others, float audio beyond [-1, 1], ...); the
message names the file.
"""

from __future__ import annotations

__all__ = [
    "AffectZooError",
    "ConfigError",
    "CorpusFormatError",
    "CorpusDataWarning",
    "TrainingError",
    "RunInterrupted",
]


class AffectZooError(Exception):
    """Base of the errors that ``zoo`` reports as one clear line and exit status 2."""


class ConfigError(AffectZooError, ValueError):
    """A recipe or override is invalid; the message names the key, what is allowed and what was found."""


class CorpusFormatError(AffectZooError, ValueError):
    """A corpus file does not have the layout or content the reader expects.

    The message always names the file and, where it applies, the row and the field.
    """


class CorpusDataWarning(UserWarning):
    """A corpus file was read, but looks damaged; the message names the file and what is odd."""


class TrainingError(AffectZooError, RuntimeError):
    """Training cannot continue (e.g. a non-finite loss); the message names the step and batch."""


class RunInterrupted(AffectZooError):
    """A run stopped by SIGTERM before it finished; it wrote no results.

    Attributes:
        exit_code: 143 (128 + SIGTERM), the status a shell reports for a process killed by it.
    """

    exit_code = 143
