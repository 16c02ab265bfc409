#!/usr/bin/env bash
# Regenerate docs/results.md: run every recipe-table row (tests/recipes/*.csv) on its synthetic
# corpus, the random baseline (`zoo baseline`) of every shipped recipe, then `zoo report`.
# Usage: bash scripts/results.sh [OUT_DIR]   (default runs/results; about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/results}
export WANDB_MODE=offline
rm -rf "$out/recipes" "$out/baselines"
mkdir -p "$out/recipes" "$out/baselines"
AFFECT_ZOO_RECIPE_RUNS="$out/recipes" .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/recipes/test_recipes.py -k test_recipe_trains
for recipe in recipes/*/*.yaml; do
  case "$recipe" in recipes/sweeps/*|*_late_fusion.yaml|*_multistage_svr.yaml|*_multimodal.yaml) continue ;; esac
  .venv/bin/zoo baseline "$recipe" output_dir="$out/baselines" trainer.enable_progress_bar=false > /dev/null
done
.venv/bin/zoo report "$out/recipes" --baselines "$out/baselines" --output docs/results.md
