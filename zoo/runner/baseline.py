"""``zoo baseline RECIPE``: the chance level of a recipe's metrics (random predictions).

Williams et al. (2018, §5.1) report a random baseline next to their networks so that a reader
sees what the metrics give without learning; on CMU-MOSEI that matters, because the binary and
4-class accuracies of emotion presence are high by chance (most intensities are 0). This module
computes a baseline for any recipe and scores it on the validation and test partitions with the
recipe's own metrics (``metrics: [mae, acc2, acc4, pearson]``, ``[ccc]``, …), exactly as
``zoo fit`` scores a trained model. The recipe key ``baseline.procedure`` picks how predictions
are drawn:

* ``training_labels`` (default, every recipe) — every prediction of a target drawn at random
  from that target's **training** labels (the training distribution, with replacement;
  :func:`zoo.models.williams2018.random_baseline`);
* ``williams2018`` (the CMU-MOSEI Williams recipes) — the paper's fully-randomised procedure of
  §5.1 (:func:`zoo.models.williams2018.williams2018_random_predictions`: a number of labels in 0..6, that
  many emotions chosen, intensities on the grid of thirds); it reads no label at all. The
  paper's Table 1 (``random_baseline`` of ``zoo/reports/paper_scores/williams2018.yaml``) is printed beside.

The figures are means over ``draws`` independent draws; ``results.json`` also holds their
standard deviations. No test label is read to make the predictions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.models.williams2018 import random_baseline, williams2018_random_predictions
from zoo.training.metrics import build_metric

__all__ = ["PROCEDURES", "run_baseline", "paper_random_baseline"]

PROCEDURES = ("training_labels", "williams2018")
PAPER_SCORES = Path(__file__).resolve().parents[1] / "reports" / "paper_scores" / "williams2018.yaml"
#: emotion targets the §5.1 procedure applies to (intensities in [0, 3])
_EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")


def paper_random_baseline(path: Path = PAPER_SCORES) -> dict[str, float]:
    """Table 1 of Williams et al. 2018 (``random_baseline`` of the paper-scores file): key → MAE."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    table = data.get("random_baseline")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no `random_baseline` mapping (Table 1 of the paper)")
    return {k: float(v) for k, v in table.items() if k != "source"}


def _draw(procedure: str, train: np.ndarray | None, n: int, k: int, seed: int) -> np.ndarray:
    if procedure == "williams2018":
        return williams2018_random_predictions(n, k, seed=seed)
    return random_baseline(train, n, seed=seed)


def _labelled_batches(datamodule: Any, stage: str) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``(targets, mask)`` of every batch of a partition; mask ``None`` for segment-level targets."""
    loader = {
        "train": datamodule.train_dataloader,
        "val": datamodule.val_dataloader,
        "test": datamodule.test_dataloader,
    }[stage]()
    for batch in loader:
        if not bool(torch.as_tensor(batch["has_targets"]).all()):
            raise RuntimeError(f"the {stage} partition has recordings without labels; it cannot be scored")
        targets = batch["targets"]
        yield targets, (batch["mask"] if datamodule.level == "frame" else None)


def _valid_rows(targets: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
    k = targets.shape[-1]
    rows = targets[mask] if mask is not None else targets.reshape(-1, k)
    return rows.double().numpy()


def run_baseline(cfg: Mapping[str, Any], run_dir: Path, draws: int = 10) -> dict[str, Any]:
    """Score random predictions on val and test with the recipe's metrics.

    Args:
        cfg: the resolved recipe.
        run_dir: the run folder (``results.json`` and ``config.yaml`` are written there).
        draws: independent random draws to average over.

    Returns:
        ``{"run_dir", "results"}``; results hold ``<stage>/<metric>_<target>`` and ``_mean`` (mean
        over draws) and ``<stage>/<metric>_mean_std`` (their standard deviation).
    """
    from zoo.runner.run_io import build_datamodule, format_results, save_config, save_json

    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    procedure = str((cfg.get("baseline") or {}).get("procedure", "training_labels"))
    if procedure not in PROCEDURES:
        raise ValueError(f"baseline.procedure must be one of {PROCEDURES}, got {procedure!r}")
    save_config(cfg, run_dir)
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.setup("test")
    target_names = list(datamodule.target_names)
    if procedure == "williams2018":
        other = [t for t in target_names if t not in _EMOTIONS]
        if other:
            raise ValueError(
                f"baseline.procedure=williams2018 draws emotion intensities in [0, 3] (§5.1); "
                f"the recipe's targets include {other}"
            )
        train = None  # the paper's procedure reads no label
    else:
        train = np.concatenate([_valid_rows(t, m) for t, m in _labelled_batches(datamodule, "train")])
    metric_names = list(cfg["metrics"])
    results: dict[str, float] = {}
    seed = int(cfg["seed"])
    for stage in ("val", "test"):
        try:
            batches = list(_labelled_batches(datamodule, stage))
        except RuntimeError as err:
            print(f"{stage}: not scored ({err})")
            continue
        per_draw: dict[str, list[np.ndarray]] = {m: [] for m in metric_names}
        for draw in range(draws):
            metrics = {m: build_metric(m, len(target_names)) for m in metric_names}
            rng_seed = seed * 1000 + draw * 2 + (stage == "test")
            for b, (targets, mask) in enumerate(batches):
                shape = targets.shape
                flat = _draw(procedure, train, int(np.prod(shape[:-1])), shape[-1], rng_seed * 100003 + b)
                preds = torch.from_numpy(flat).reshape(shape).to(targets.dtype)
                for metric in metrics.values():
                    metric.update(preds, targets, mask)
            for name, metric in metrics.items():
                per_draw[name].append(metric.compute().double().reshape(-1).numpy())
        stage_results: dict[str, float] = {}
        for name, values in per_draw.items():
            values = np.stack(values)  # (draws, K)
            for target, column in zip(target_names, values.T):
                stage_results[f"{stage}/{name}_{target}"] = float(column.mean())
            means = values.mean(axis=1)
            stage_results[f"{stage}/{name}_mean"] = float(means.mean())
            stage_results[f"{stage}/{name}_mean_std"] = float(means.std())
        how = "Williams et al. 2018, §5.1" if procedure == "williams2018" else "from the training labels"
        print(f"\nrandom baseline ({draws} draws, {how})\n{format_results(stage_results, target_names, stage)}\n")
        if procedure == "williams2018" and stage == "test":
            print(_beside_table1(stage_results))
        results.update(stage_results)
    save_json(run_dir / "results.json", results)
    return {"run_dir": run_dir, "results": results}


def _beside_table1(results: Mapping[str, float]) -> str:
    """Our test MAE of the §5.1 procedure beside the paper's Table 1."""
    paper = paper_random_baseline()
    lines = ["MAE of the random baseline   ours    paper (Table 1, authors' test set)"]
    for key in [k for k in paper if k in results]:
        lines.append(f"  {key:<26} {results[key]:6.3f}  {paper[key]:6.2f}")
    return "\n".join(lines) + "\n"
