#!/usr/bin/env bash
# Regenerate docs/results.md with its figures and detail pages (docs/results/<corpus>.svg|.md):
#   1. train every row of the recipe tables (tests/recipes/*.csv) on its synthetic corpus
#      (the slow recipe tests, keeping their run folders);
#   2. `zoo baseline` (chance) of every recipe that has a run;
#   3. `zoo report` of the runs beside the papers' figures (zoo/reports/paper_scores/*.yaml).
#
# Usage: bash scripts/results.sh [-k EXPR] [--report-only] [OUT_DIR]
#   OUT_DIR        where the runs go (default runs/results); nothing under docs/ but the page,
#                  its figures and detail pages is written
#   -k EXPR        only the recipe-table rows whose test id matches EXPR (pytest -k), e.g.
#                  -k williams2018 (the page then shows those rows only)
#   --report-only  skip steps 1-2: rebuild the page from the runs already in OUT_DIR
# The interpreter is $PYTHON, else .venv/bin/python of this checkout, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
select="" report_only="" out="runs/results" status=0
while [ $# -gt 0 ]; do
  case "$1" in
    -k) select="$2"; shift 2 ;;
    --report-only) report_only=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) out="$1"; shift ;;
  esac
done
python=${PYTHON:-}
[ -n "$python" ] || { [ -x .venv/bin/python ] && python=.venv/bin/python; } || python=python3
export WANDB_MODE=offline
if [ -z "$report_only" ]; then
  rm -rf "$out/recipes" "$out/baselines"
  mkdir -p "$out/recipes" "$out/baselines"
  # two workers, each table's rows on one of them in order (as the test command runs them)
  AFFECT_ZOO_RECIPE_RUNS="$out/recipes" "$python" -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup \
    tests/recipes/test_recipes.py -k "test_recipe_trains${select:+ and ($select)}" || status=$?
  # chance of every recipe that has a run (recipes fusing other runs have no baseline of their own)
  "$python" - "$out/recipes" <<'EOF' | while read -r recipe; do
import sys
from pathlib import Path
from omegaconf import OmegaConf
recipes = {OmegaConf.load(p)["recipe"] for p in Path(sys.argv[1]).rglob("config.yaml")}
print("\n".join(sorted(recipes)))
EOF
    case "$recipe" in *_late_fusion.yaml|*_multistage_svr.yaml|*_multimodal.yaml) continue ;; esac
    "$python" -m zoo.cli baseline "$recipe" output_dir="$out/baselines" trainer.enable_progress_bar=false \
      < /dev/null > /dev/null
  done
fi
"$python" -m zoo.cli report "$out/recipes" --baselines "$out/baselines" --output docs/results.md
if [ "$status" -ne 0 ]; then
  echo "results.sh: recipe rows failed (pytest exit $status); the page shows the runs that finished" >&2
fi
exit "$status"
