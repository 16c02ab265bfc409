"""Checks a resolved recipe before any data is read or any epoch is trained.

:func:`check_names` looks up every registry name of the recipe (model, datamodule, loss,
optimiser, scheduler, metrics, logger); :func:`check_values` checks every option value against its
declared type and range (:mod:`zoo.config.option_rules`: the recipe's keys, ``data.args`` of the
datamodule and its reader), before any run folder is made; :func:`check_monitors` compares every ``monitor`` key
(checkpoint, early stopping, plateau scheduler) with the keys :class:`~zoo.training.task.EmotionTask`
will log, so a typo such as ``checkpoint.monitor=val/ccc_man`` fails at once instead of after the
first epoch. Both raise :class:`~zoo.errors.ConfigError` naming the key, the allowed values and
the value found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zoo.errors import ConfigError

__all__ = ["check_names", "check_values", "check_monitors", "logged_keys", "OPTIMIZERS", "SCHEDULERS", "LOGGERS"]

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULERS = ("none", "plateau", "step")
LOGGERS = ("csv", "wandb", "tensorboard", "none")  # or a list of them (zoo.training.loggers.logger_kinds)
_MODES = ("min", "max")


def _choice(key: str, value: Any, allowed: Iterable[str]) -> None:
    allowed = sorted(allowed)
    if value in allowed:
        return
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise ConfigError(f"{key}: unknown value {value!r}.{hint} Expected one of: {', '.join(allowed)}")


def check_names(cfg: Mapping[str, Any]) -> None:
    """Every registry name and choice of the recipe exists.

    Raises:
        ConfigError: naming the key (``model.name``, ``optimizer.name``, ...), the value found and
            the valid values.
    """
    from zoo.data import list_corpora
    from zoo.models.registry import is_estimator, list_models

    _choice("model.name", cfg["model"]["name"], list_models())
    _choice("data.name", cfg["data"]["name"], list_corpora(include_derived=True))
    from zoo.training.loggers import logger_kinds

    for kind in logger_kinds(cfg.get("logger")):
        _choice("logger", kind, LOGGERS)
    if is_estimator(cfg["model"]["name"]):
        return  # SVRs: no loss, optimiser, scheduler or Lightning metrics
    from zoo.training.losses import LOSSES
    from zoo.training.metrics import METRICS

    _choice("loss.name", cfg["loss"]["name"], LOSSES)
    _choice("optimizer.name", str(cfg["optimizer"]["name"]).lower(), OPTIMIZERS)
    _choice("scheduler.name", str(cfg["scheduler"]["name"]).lower(), SCHEDULERS)
    for metric in cfg["metrics"]:
        _choice("metrics", metric, METRICS)
    for key in ("checkpoint", "early_stopping", "scheduler"):
        _choice(f"{key}.mode", cfg[key]["mode"], _MODES)


def check_values(cfg: Mapping[str, Any]) -> None:
    """Every option value of the recipe keeps its declared type and range (nothing is built).

    Raises:
        ConfigError: ``<key>: expected <what>, found <value>`` (e.g. ``data.args.eval_batch_size:
            expected an integer >= 1, found 1.5``).
    """
    from zoo.config.option_rules import RECIPE_RULES, check_options
    from zoo.data.datamodule import check_data_options

    check_options(cfg, RECIPE_RULES)
    args = cfg["data"].get("args") or {}
    if not isinstance(args, Mapping):
        raise ConfigError(f"data.args: expected a mapping of datamodule options, found {args!r}")
    check_data_options(cfg["data"]["name"], args)


def logged_keys(metrics: Sequence[str], target_names: Sequence[str], stage: str = "val") -> list[str]:
    """The epoch-level keys :class:`~zoo.training.task.EmotionTask` logs while fitting."""
    keys = ["train/loss", f"{stage}/loss"]
    for metric in metrics:
        keys += [f"{stage}/{metric}_{t}" for t in [*target_names, "mean"]]
    return keys


def check_monitors(cfg: Mapping[str, Any], target_names: Sequence[str]) -> None:
    """Every monitored key of a ``fit`` is one the task logs.

    Args:
        cfg: the resolved recipe.
        target_names: the datamodule's targets (they name the per-target keys).

    Raises:
        ConfigError: ``checkpoint.monitor``, ``early_stopping.monitor`` (when enabled) or
            ``scheduler.monitor`` (plateau) names a key that is never logged.
    """
    keys = logged_keys(cfg["metrics"], target_names)
    monitors = [("checkpoint.monitor", cfg["checkpoint"]["monitor"])]
    if cfg["early_stopping"]["enabled"]:
        monitors.append(("early_stopping.monitor", cfg["early_stopping"]["monitor"]))
    if str(cfg["scheduler"]["name"]).lower() == "plateau":
        monitors.append(("scheduler.monitor", cfg["scheduler"]["monitor"]))
    _check_plateau_interval(cfg)
    for key, monitor in monitors:
        if monitor is None and key == "checkpoint.monitor":
            continue  # Lightning then keeps the last epoch's weights
        if monitor not in keys:
            close = difflib.get_close_matches(str(monitor), keys, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{key}: {monitor!r} is not a key this run logs.{hint} Logged keys: {', '.join(keys)}")


def _check_plateau_interval(cfg: Mapping[str, Any]) -> None:
    """A plateau scheduler steps every epoch, so it cannot watch a value validated less often.

    Raises:
        ConfigError: ``scheduler.monitor`` is a ``val/`` key and ``trainer.check_val_every_n_epoch``
            is above 1 (Lightning would stop at the first epoch without validation).
    """
    every = cfg["trainer"].get("check_val_every_n_epoch") or 1
    monitor = str(cfg["scheduler"]["monitor"])
    if str(cfg["scheduler"]["name"]).lower() == "plateau" and monitor.startswith("val/") and every > 1:
        raise ConfigError(
            f"scheduler.monitor: {monitor!r} is logged every {every} epochs (trainer.check_val_every_n_epoch="
            f"{every}), but the plateau scheduler steps every epoch; use scheduler.monitor=train/loss, "
            "another scheduler, or validate every epoch"
        )
