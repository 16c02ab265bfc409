"""CI runs the README's test command: the command the README gives for the test suite is the
last line of .ci/run, word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^bash scripts/bootstrap\.sh && (\.venv/bin/python -m pytest[^\n]*)$", readme, re.MULTILINE)
    assert len(commands) == 1, commands  # the quick start's test-suite command
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert ci[-1] == commands[0]
