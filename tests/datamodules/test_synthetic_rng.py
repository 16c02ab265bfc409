"""Writing a synthetic corpus leaves the caller's random state alone, so the first run on a fresh
cache trains exactly like every later run of the same command (it used not to: the writer drew
from the global torch generator after the run had seeded it)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from zoo.data.synthetic import ensure_synthetic


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def _greedy_writer(out_dir: Path, seed: int) -> Path:
    """A writer that draws from every global generator, as building a network does."""
    torch.manual_seed(seed)
    torch.nn.Linear(8, 8)
    np.random.seed(seed)
    random.seed(seed)
    out_dir.mkdir(parents=True)
    (out_dir / "data.csv").write_text(f"{np.random.rand():.6f}\n")
    return out_dir


def _seed(value: int) -> None:
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def test_the_callers_random_streams_continue_as_if_nothing_was_written(tmp_path: Path):
    _seed(7)
    expected = _draws()
    _seed(7)
    ensure_synthetic("greedy", _greedy_writer, seed=3, root=tmp_path / "corpus")
    assert (tmp_path / "corpus" / "data.csv").is_file()
    assert _draws() == expected
    _seed(7)
    ensure_synthetic("greedy", _greedy_writer, seed=3, root=tmp_path / "corpus")  # already there: nothing drawn
    assert _draws() == expected
