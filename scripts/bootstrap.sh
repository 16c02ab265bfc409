#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install affect-zoo into it.
# Re-runnable: a second run does nothing unless pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."  # the real checkout, also when run through a symlink
PYTHON=${PYTHON:-python3}
stamp=.venv/.affect-zoo-install
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch/torchvision/torchaudio are pinned together in pyproject.toml (see the comment there).
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "$want" > "$stamp"
