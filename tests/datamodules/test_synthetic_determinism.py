"""A synthetic corpus depends on its seed alone, not on the process (string hash seed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = (
    "import numpy as np\n"
    "from zoo.data.corpora.cmu_mosei.synthetic import _video_ids\n"
    "print(_video_ids(np.random.default_rng(0), 40))\n"
)


def _ids(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow  # two fresh interpreters importing the package
def test_cmu_mosei_video_ids_do_not_follow_the_string_hash_seed():
    assert _ids("1") == _ids("2")
