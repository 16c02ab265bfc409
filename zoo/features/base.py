"""The extractor base class, its output type and the extractor registry's storage.

:mod:`zoo.features` re-exports everything here and imports the built-in extractors on first use
of the registry; the extractor modules import this module (never the package), so the package
and its extractors do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from zoo.registry import Registry

__all__ = ["Extractor", "ExtractorError", "FeatureOutput", "label_times", "register_extractor"]

#: the extractors (:class:`zoo.registry.Registry`); the built-in ones register when their modules load
REGISTRY: Registry[type[Extractor]] = Registry(
    "extractor", ("zoo.features.audio", "zoo.features.text", "zoo.features.visual")
)


class ExtractorError(RuntimeError):
    """A problem with an extractor's input or weights (the message names the file/field)."""


@dataclass
class FeatureOutput:
    """Features of one recording on its label timeline.

    Attributes:
        values: ``(T, D)`` float32 features, one row per label timestamp.
        timestamps: ``(T,)`` label timestamps in seconds.
        columns: ``D`` column names.
    """

    values: np.ndarray
    timestamps: np.ndarray
    columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if self.values.ndim != 2 or len(self.values) != len(self.timestamps):
            raise ValueError(f"features {self.values.shape} do not match {len(self.timestamps)} timestamps")
        if not self.columns:
            self.columns = [f"f{j}" for j in range(self.values.shape[1])]
        if len(self.columns) != self.values.shape[1]:
            raise ValueError(f"{len(self.columns)} column names for {self.values.shape[1]} columns")


class Extractor:
    """Base class of the extractors (see the module docstring for the contract).

    Args:
        hop: label step in seconds (default: the class's ``default_hop``).
        win: analysis window in seconds where the extractor has one (default ``default_win``).
        weights: local model/embedding file or folder, for extractors that need one.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    dim: ClassVar[int | None] = None
    dim_note: ClassVar[str] = ""
    default_hop: ClassVar[float] = 0.25
    default_win: ClassVar[float | None] = None
    needs_weights: ClassVar[bool] = False
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    #: set by ``zoo extract``: ``progress(iterable, total=..., unit=...)`` wraps the inner loops
    #: of an extraction (windows, frames, batches) in a progress bar (``tqdm``); ``None`` = none
    progress: Callable[..., Any] | None = None

    def __init__(self, hop: float | None = None, win: float | None = None, weights: str | Path | None = None) -> None:
        self.hop = float(hop if hop is not None else self.default_hop)
        self.win = win if win is not None else self.default_win
        if self.win is not None:
            self.win = float(self.win)
        if self.hop <= 0 or (self.win is not None and self.win <= 0):
            raise ValueError(f"{self.name}: hop and win must be positive, got {self.hop}, {self.win}")
        self.weights = Path(weights) if weights is not None else None
        if self.needs_weights:
            if self.weights is None:
                raise ExtractorError(
                    f"extractor {self.name!r} needs local weights: pass --weights PATH "
                    f"({self.weights_help()}); features from a randomly initialised network are "
                    f"never written"
                )
            if not self.weights.exists():
                raise ExtractorError(f"{self.weights}: weights for extractor {self.name!r} not found")

    @classmethod
    def weights_help(cls) -> str:
        """What ``--weights`` must point to."""
        return "a local weights file"

    # ------------------------------------------------------------------ inputs
    def find_inputs(self, paths: Sequence[str | Path]) -> list[tuple[str, Path]]:
        """Recordings among ``paths`` (files, or folders searched non-recursively).

        Returns:
            ``(recording_id, path)`` pairs sorted by id; the id is the file stem.
        """
        found: dict[str, Path] = {}
        for path in map(Path, paths):
            if path.is_dir():
                candidates = sorted(p for p in path.iterdir() if self._accepts(p))
                self._note_skipped(path, [p for p in path.iterdir() if p.is_file() and not self._accepts(p)])
            elif path.exists():
                if not self._accepts(path):
                    raise ExtractorError(
                        f"{path}: not an input of extractor {self.name!r} (expected {', '.join(self.input_suffixes)})"
                    )
                candidates = [path]
            else:
                raise ExtractorError(f"{path}: input not found")
            for candidate in candidates:
                rec_id = self.recording_id(candidate)
                if rec_id in found and found[rec_id] != candidate:
                    raise ExtractorError(f"{candidate}: recording id {rec_id!r} also given by {found[rec_id]}")
                found[rec_id] = candidate
        return sorted(found.items())

    def _note_skipped(self, folder: Path, skipped: Sequence[Path]) -> None:
        """One warning line naming the files of an input folder that are not inputs (never silent)."""
        if not skipped:
            return
        import warnings

        names = sorted(p.name for p in skipped)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        warnings.warn(
            f"{folder}: {len(names)} file(s) skipped, not inputs of extractor {self.name!r} "
            f"(expected {', '.join(self.input_suffixes)}): {shown}",
            UserWarning,
            stacklevel=3,
        )

    def _accepts(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in self.input_suffixes

    def recording_id(self, path: Path) -> str:
        """Recording id of an input (its file stem)."""
        return path.stem

    # ------------------------------------------------------------------ extraction
    def duration(self, path: Path) -> float:
        """Length of the recording in seconds."""
        raise NotImplementedError

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        """Features of the recording at ``path`` on the label timestamps ``times`` (seconds)."""
        raise NotImplementedError

    def steps(self, iterable: Any, total: int | None = None, unit: str = "frame") -> Any:
        """``iterable``, advancing the progress bar of ``zoo extract`` (if any) per item."""
        if self.progress is None:
            return iterable
        return self.progress(iterable, total=total, unit=unit)

    def output_dim(self) -> int | None:
        """Output dimension once constructed (``None`` if only known after loading weights)."""
        return self.dim


def register_extractor(name: str) -> Callable[[type[Extractor]], type[Extractor]]:
    """Class decorator registering an :class:`Extractor` subclass under ``name``."""

    def decorator(cls: type[Extractor]) -> type[Extractor]:
        cls.name = name
        return REGISTRY.add(name, cls)

    return decorator


def label_times(duration: float, hop: float) -> np.ndarray:
    """Label timestamps ``0, hop, 2·hop, …`` up to and including ``duration`` (seconds)."""
    count = int(np.floor(duration / hop + 1e-9)) + 1
    return np.round(np.arange(count) * hop, 9)
