"""Every shipped recipe trains end to end on its synthetic corpus (tables in ``*.csv`` here).

As in SpeechBrain's recipe tests, each table row names a recipe, the overrides that make it fast on
CPU, and the test score it must beat. The recipes keep their own (the papers') settings: a row may
only shrink sizes and time (:data:`SIZE_AND_TIME`), pick one of the recipe's documented variants
(:data:`VARIANTS`), wire a staged or fusion recipe to earlier rows (:data:`STAGING`), or say that a
file the recipe names is not available offline (:data:`ENVIRONMENT`) — never change a learning
setting (learning rate, batch size, normalisation, label shift, freezing, ...) so that a recipe
learns on synthetic data; :func:`test_rows_only_shrink_sizes_and_time` checks it. Each row's
``minimum`` is above what chance scores — a constant prediction scores 0 CCC, random draws of the
training labels (``zoo baseline RECIPE``) about 0 — by a clear margin.

Rows run in file order; an override may refer to an earlier row's run by its recipe name:
``{ckpt:recola/tzirakis2017_audio}`` is that run's best checkpoint and
``{run:recola/tzirakis2017_audio}`` its run folder (for staged training and fusion recipes).
Columns: ``recipe, overrides, metric, minimum[, name]`` (metric defaults to ``test/ccc_mean``).
The optional ``name`` is the row's alias for those placeholders (default: the recipe), so that two
runs of one recipe (e.g. two unimodal sources of a late fusion) can both be referred to.

With ``AFFECT_ZOO_RECIPE_RUNS=DIR`` the run folders are kept under ``DIR`` (instead of pytest's
temporary folders), for ``zoo report`` to build ``docs/results.md`` from (``scripts/results.sh``).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = []
for table in sorted(Path(__file__).parent.glob("*.csv")):
    with open(table, newline="") as f:
        ROWS += [dict(row, table=table.stem) for row in csv.DictReader(f)]
RUNS: dict[str, Path] = {}  # row name (default: recipe) → run folder of the latest row with it


def _resolve(overrides: str) -> list[str]:
    def sub(match: re.Match) -> str:
        kind, recipe = match.group(1), match.group(2)
        if recipe not in RUNS:
            pytest.fail(f"override refers to {recipe}, which has not run earlier in the table")
        run = RUNS[recipe]
        return str(run / "checkpoints" / "best.ckpt") if kind == "ckpt" else str(run)

    return [re.sub(r"\{(ckpt|run):([^}]+)\}", sub, token) for token in overrides.split()]


#: overrides that only make a run smaller or shorter
SIZE_AND_TIME = {
    "trainer.max_epochs",
    "trainer.limit_train_batches",
    "data.args.win_len",  # shorter windows (with their hop): the same data in smaller pieces
    "data.args.hop_len",
    "data.args.eval_batch_size",  # how many whole recordings are evaluated at once (memory)
    "data.args.face_size",
    "model.args.hidden_size",
    "model.args.hidden_sizes",
    "model.args.conv1_filters",  # fewer convolution channels (Tzirakis et al. 2017's speech network)
    "model.args.conv2_filters",
    "model.args.backbone",  # a smaller timm network of the same family (resnet18 for resnet50)
    "model.args.frame_step",  # the SVRs fit on every n-th frame
}
#: overrides that pick a variant the recipe documents (an ablation, a target, a feature set)
VARIANTS = {
    "model.name",  # Sun et al. 2020 Table 1 ablations
    "data.args.targets",
    "data.args.features",
    "loss.weights",  # one weight per target of the chosen targets
    "export_predictions",  # the train/val predictions a late fusion reads
}
#: overrides that connect a staged or fusion recipe to the runs of earlier rows
STAGING = {"data.args.sources", "model.args.sources", "model.args.audio_checkpoint", "model.args.visual_checkpoint"}
#: overrides that say a file named by the recipe is not available offline
ENVIRONMENT = {"model.args.pretrained_path": "null"}  # ImageNet weights: a warning, then random init
#: variants only with the value the recipe documents
DOCUMENTED_VALUES = {"model.args.freeze": "all"}  # the ssl recipes' "frozen encoder, outputs cached"


def test_rows_only_shrink_sizes_and_time():
    """No row changes a learning setting of its recipe (see the module docstring)."""
    for row in ROWS:
        for token in row["overrides"].split():
            key, _, value = token.partition("=")
            if key in SIZE_AND_TIME | VARIANTS | STAGING:
                continue
            allowed = {**ENVIRONMENT, **DOCUMENTED_VALUES}.get(key)
            assert allowed is not None and value == allowed, (
                f"tests/recipes/{row['table']}.csv, {row['recipe']}: override {token!r} changes how the "
                f"recipe learns; rows may only shrink sizes and time"
            )


def test_every_shipped_recipe_is_in_a_table():
    shipped = {
        str(p.relative_to(ROOT / "recipes").with_suffix(""))
        for p in (ROOT / "recipes").glob("*/*.yaml")
        if p.parent.name != "sweeps"
    }
    missing = shipped - {row["recipe"] for row in ROWS}
    assert not missing, f"recipes without a row in tests/recipes/*.csv: {sorted(missing)}"


# rows refer to earlier rows of their own table only: under pytest-xdist (--dist loadgroup) a
# table's rows stay together, in order, on one worker
PARAMS = [pytest.param(r, marks=pytest.mark.xdist_group(r["table"])) for r in ROWS]


@pytest.mark.slow
@pytest.mark.parametrize("row", PARAMS, ids=[f"{r['recipe']}[{r['overrides']}]" for r in ROWS])
def test_recipe_trains_and_beats_constant_predictor(row, tmp_path, zoo_cli):
    output_dir = Path(os.environ.get("AFFECT_ZOO_RECIPE_RUNS") or tmp_path)
    run_dir = zoo_cli(
        "fit",
        row["recipe"],
        *_resolve(row["overrides"]),
        f"output_dir={output_dir}",
        "trainer.enable_progress_bar=false",
    )
    RUNS[row.get("name") or row["recipe"]] = run_dir
    results = json.loads((run_dir / "results.json").read_text())
    metric = row.get("metric") or "test/ccc_mean"
    print(
        f"{row['recipe']} [{row['overrides']}]: {metric} = {results[metric]:.4f} "
        f"(minimum {row['minimum']}); all: {json.dumps(results, sort_keys=True)}"
    )  # shown by pytest -rP
    assert results[metric] > float(row["minimum"]), results
    assert (run_dir / "config.yaml").is_file()
    written = [p for p in (run_dir / "predictions").rglob("*") if p.is_file()]
    assert written and all(p.suffix in (".csv", ".arff") for p in written), written  # the corpus's format
