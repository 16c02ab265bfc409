"""Running a benchmark script as users do, and finding the authors' checkouts the comparisons need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_script(
    name: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """``python benchmarks/<name>.py ARGS`` from the repository root; fails with its stderr on a non-zero exit."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out


def authors_checkout(variable: str, marker: str, repository: str) -> str:
    """The folder ``$variable`` names when it holds ``marker``; else the test is skipped, saying how to run it."""
    folder = os.environ.get(variable)
    if not folder or not (Path(folder) / marker).is_file():
        pytest.skip(
            f"the authors' code is absent: set {variable} to a checkout of github.com/{repository} to run this comparison"
        )
    return folder
