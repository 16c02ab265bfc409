"""What every command shares: the recipe's datamodule, results tables and run-folder files.

``zoo fit|validate|test|predict`` (:mod:`zoo.runner.run`), ``zoo baseline`` (:mod:`zoo.runner.baseline`) and
estimator runs (:mod:`zoo.estimators.run`) import these helpers from here, so none of the
commands imports another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from zoo.data import corpus_class, create_datamodule
from zoo.errors import ConfigError
from zoo.hub.checkpoint_io import merge_reader_state

__all__ = ["build_datamodule", "format_results", "save_json", "save_config"]


def build_datamodule(cfg: Mapping[str, Any], data_spec: Mapping[str, Any] | None = None) -> Any:
    """The recipe's datamodule; with ``data_spec`` (from a checkpoint) its stored statistics."""
    args = dict(cfg["data"]["args"])
    args.setdefault("seed", cfg["seed"])
    if data_spec is not None and data_spec.get("normalization") is not None:
        args["normalization_stats"] = data_spec["normalization"]
    if data_spec is not None and data_spec.get("reader_state"):  # e.g. SEWA's bag-of-words vocabulary
        source = str(cfg.get("ckpt") or "the checkpoint")
        args = merge_reader_state(args, data_spec["reader_state"], source)
        corpus_class(cfg["data"]["name"]).restore_state(data_spec["reader_state"], source)  # declared fields only
    try:
        datamodule = create_datamodule(cfg["data"]["name"], **args)
    except TypeError as err:
        raise ConfigError(f"data.args of {cfg['data']['name']!r}: {err}") from err
    if data_spec is not None:
        for key, value in (("feature_names", datamodule.feature_names), ("target_names", datamodule.target_names)):
            if list(data_spec[key]) != list(value):
                raise ValueError(
                    f"the checkpoint was trained with {key} {list(data_spec[key])}, but the recipe's "
                    f"datamodule gives {list(value)}; set data.args to match"
                )
    return datamodule


def format_results(results: Mapping[str, float], target_names: list[str], stage: str) -> str:
    """A plain-text table of per-target metrics, e.g. CCC of arousal/valence and the mean."""
    metrics = sorted(
        {
            k.split("/")[1].rsplit("_", 1)[0]
            for k in results
            if k.startswith(f"{stage}/") and k.split("/")[1].rsplit("_", 1)[-1] in target_names + ["mean"]
        }
    )
    columns = target_names + ["mean"]
    lines = [f"{stage:<8}" + "".join(f"{c:>12}" for c in columns)]
    for metric in metrics:
        row = [results.get(f"{stage}/{metric}_{c}", float("nan")) for c in columns]
        lines.append(f"{metric:<8}" + "".join(f"{v:>12.4f}" for v in row))
    return "\n".join(lines)


@rank_zero_only
def save_json(path: Path, data: Mapping[str, Any]) -> None:
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(data)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True))


@rank_zero_only
def save_config(cfg: Mapping[str, Any], run_dir: Path) -> None:
    path = run_dir / "config.yaml"
    if not path.exists():
        OmegaConf.save(OmegaConf.create(dict(cfg)), path)
