"""Synthetic corpora written in the layout of the real ones: the cache they live in and its helpers.

Each corpus's writer is in its own room (``zoo/data/corpora/<name>/synthetic.py``); this package
holds what they share: the cache folder, :func:`ensure_synthetic` and the voice, face and noise
generators (``_voice``, ``_face``, ``_random``).

The real corpora need a licence agreement, so every datamodule can instead run on a small synthetic
corpus with the same folder layout, file formats and quirks (duplicate partition rows, missing test
labels, annotation delay, ...). The corpora are generated once, deterministically from a seed, and
cached under ``$AFFECT_ZOO_CACHE/synthetic`` (default ``~/.cache/affect-zoo/synthetic``).

A writer is a callable ``writer(out_dir: Path, seed: int) -> Path`` that creates ``out_dir``
atomically (all or nothing) and raises :class:`FileExistsError` when ``out_dir`` already holds a
corpus.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["cache_dir", "caller_random_state_kept", "default_synthetic_root", "ensure_synthetic", "staged_folder"]

CACHE_ENV = "AFFECT_ZOO_CACHE"

Writer = Callable[..., Path]


def cache_dir() -> Path:
    """Cache folder of affect-zoo: ``$AFFECT_ZOO_CACHE`` or ``~/.cache/affect-zoo``."""
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else Path.home() / ".cache" / "affect-zoo"
    return base.expanduser()


def default_synthetic_root(name: str, version: str, seed: int) -> Path:
    """Folder of a cached synthetic corpus.

    Args:
        name: corpus name (e.g. ``"muse_car"``).
        version: generator version; bump it whenever the generator's output changes so that
            stale caches are not reused.
        seed: generator seed.

    Returns:
        ``<cache>/synthetic/<name>-<version>-seed<seed>``.
    """
    return cache_dir() / "synthetic" / f"{name}-{version}-seed{int(seed)}"


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A private sibling folder to write ``target`` into; renamed to ``target`` when the block ends.

    Readers only ever see a missing or a complete ``target``; on an error the staging folder is
    removed and ``target`` is left as it was.

    Raises:
        FileExistsError: ``target`` holds files already, or appeared while the block ran.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield staging
        try:
            os.replace(staging, target)
        except OSError as err:
            raise FileExistsError(f"{target} appeared while the corpus was being written") from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def caller_random_state_kept() -> Iterator[None]:
    """Run the block without changing the global random state of ``random``, NumPy and torch.

    A synthetic corpus is written on the first run that needs it, after the run has seeded the
    global generators (``seed_everything``); writing it draws from them (the face extractor's
    network is built with random initial weights before its saved ones are loaded). Without
    this, the first run on a fresh cache trained from other initial weights than every later
    run of the same command.
    """
    import random

    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _is_complete(folder: Path) -> bool:
    """A corpus folder is complete once it exists and is not empty (it appears by rename)."""
    return folder.is_dir() and any(folder.iterdir())


def ensure_synthetic(name: str, writer: Writer, seed: int = 0, version: str = "1", root: Path | None = None) -> Path:
    """Write a synthetic corpus unless it is already there, and return its folder.

    Safe when several processes (e.g. DDP ranks) call it at once without any lock: each one
    writes into its own temporary folder next to the target and renames it into place; a rename
    that fails because another process finished first discards its own copy. Readers therefore
    only ever see a missing or a complete corpus.

    Args:
        name: corpus name, used in the cache folder name.
        writer: ``writer(out_dir, seed=seed) -> Path`` writing the corpus.
        seed: generator seed.
        version: generator version (part of the folder name).
        root: target folder; default :func:`default_synthetic_root`.

    Returns:
        The corpus folder.
    """
    target = Path(root) if root is not None else default_synthetic_root(name, version, seed)
    if _is_complete(target):
        return target
    try:
        with staged_folder(target) as staging, caller_random_state_kept():
            writer(staging, seed=seed)
    except FileExistsError:
        if not _is_complete(target):
            raise
        # another process finished first: keep its copy, ours was discarded
    return target
