"""Importing the test suite's toy corpus (``tests/corpora/toy.py``) once, by path (pytest runs with
``--import-mode=importlib``); importing it registers the ``toy`` corpus."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MODULE = "tests.corpora.toy"


def load_toy_corpus() -> ModuleType:
    """The toy corpus module (imported on the first call)."""
    if MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            MODULE, Path(__file__).resolve().parents[1] / "corpora" / "toy.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE]
