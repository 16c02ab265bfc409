"""The recipe's ``logger``: one or several of Lightning's loggers, and what a run adds to W&B.

``logger`` is ``csv`` (default), ``wandb``, ``tensorboard``, ``none``, or a list of them
(``logger=[csv,wandb]``, ``logger=[csv,tensorboard]``). Each writes under the run folder:
CSV to ``logs/metrics.csv``, TensorBoard event files to ``tensorboard/`` (through ``tensorboardX``),
W&B to ``wandb/`` (``WANDB_MODE=offline`` works without a server).

At the end of ``zoo fit``, :func:`log_run_outputs` gives a W&B run what a reader looks for: the
val/test tables (``wandb.Table``), the figures of the run folder's ``plots/`` (learning curves and
gold vs prediction per target) and, when the run was exported, the bundle as a model artifact.
The resolved recipe is the W&B run's config from the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

from zoo.errors import ConfigError

__all__ = ["LOGGER_KINDS", "logger_kinds", "build_loggers", "log_run_outputs"]

LOGGER_KINDS = ("csv", "wandb", "tensorboard")


def logger_kinds(value: Any) -> list[str]:
    """The logger kinds a recipe's ``logger`` names (``none``/``null``/``false``: none).

    Raises:
        ConfigError: an unknown kind, or a kind named twice.
    """
    if value in (None, False, "none"):
        return []
    kinds = [value] if isinstance(value, str) else list(value)
    for kind in kinds:
        if kind not in LOGGER_KINDS:
            raise ConfigError(
                f"logger: unknown logger {kind!r}; choose from {', '.join(LOGGER_KINDS)}, none, "
                "or a list such as [csv,wandb]"
            )
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"logger: {kinds} names a logger twice")
    return kinds


def _wandb_logger(cfg: Mapping[str, Any], run_dir: Path) -> WandbLogger:
    w = cfg["wandb"]
    kwargs: dict[str, Any] = {
        "project": w["project"],
        "save_dir": str(run_dir),
        "name": run_dir.name,
        "tags": list(w["tags"]),
        "config": dict(cfg),
    }
    if w.get("entity"):
        kwargs["entity"] = w["entity"]
    if w.get("mode"):
        kwargs["mode"] = w["mode"]
        kwargs["offline"] = w["mode"] == "offline"
    return WandbLogger(**kwargs)


def build_loggers(cfg: Mapping[str, Any], run_dir: Path) -> list[Logger]:
    """Lightning loggers of the recipe, in the order named (the first one is ``trainer.logger``)."""
    out: list[Logger] = []
    for kind in logger_kinds(cfg["logger"]):
        if kind == "csv":
            out.append(CSVLogger(save_dir=str(run_dir), name="", version="logs"))
        elif kind == "tensorboard":
            out.append(
                TensorBoardLogger(save_dir=str(run_dir), name="", version="tensorboard", default_hp_metric=False)
            )
        else:
            out.append(_wandb_logger(cfg, run_dir))
    return out


def log_run_outputs(
    loggers: Sequence[Logger],
    results: Mapping[str, float],
    target_names: Sequence[str],
    plots: Sequence[Path] = (),
    bundle: Path | None = None,
) -> None:
    """Give the W&B loggers the run's result tables, figures and (optionally) its bundle."""
    wandb_loggers = [lg for lg in loggers if isinstance(lg, WandbLogger)]
    if not wandb_loggers:
        return
    import wandb

    for lg in wandb_loggers:
        run = lg.experiment
        for stage in ("val", "test"):
            metrics = sorted(
                {
                    k.split("/")[1].rsplit("_", 1)[0]
                    for k in results
                    if k.startswith(f"{stage}/") and k.split("/")[1].rsplit("_", 1)[-1] in [*target_names, "mean"]
                }
            )
            if not metrics:
                continue
            columns = ["metric", *target_names, "mean"]
            rows = [[m, *[results.get(f"{stage}/{m}_{t}") for t in [*target_names, "mean"]]] for m in metrics]
            run.log({f"{stage}/results": wandb.Table(columns=columns, data=rows)})
        images = {f"plots/{p.stem}": wandb.Image(str(p)) for p in plots if Path(p).is_file()}
        if images:
            run.log(images)
        if bundle is not None and Path(bundle).is_dir():
            artifact = wandb.Artifact(name=f"bundle-{Path(bundle).name}", type="model")
            artifact.add_dir(str(bundle))
            run.log_artifact(artifact)
