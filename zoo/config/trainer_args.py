"""``trainer.*`` and ``callbacks.*`` of a recipe, checked against Lightning itself.

Every argument of ``pytorch_lightning.Trainer`` passes through ``trainer.*`` (``trainer.max_steps=3``,
``trainer.check_val_every_n_epoch=2``, ``trainer.profiler=simple``, ``trainer.detect_anomaly=true``
…): the keys are checked against ``Trainer.__init__``'s own signature, so the list follows the
installed Lightning, and a typo gets the closest valid name. The arguments that ``zoo`` sets itself
(``logger``, ``callbacks``, ``enable_checkpointing``, ``default_root_dir``, ``use_distributed_sampler``)
are refused with the recipe key that controls them.

``callbacks.*`` adds the callbacks Lightning users reach for, each ``null`` (off) or the keyword
arguments of its class, checked against the class's signature:

* ``callbacks.lr_monitor`` — :class:`~pytorch_lightning.callbacks.LearningRateMonitor` (on by
  default with a logger: ``{logging_interval: epoch}``);
* ``callbacks.swa`` — :class:`~pytorch_lightning.callbacks.StochasticWeightAveraging`
  (e.g. ``callbacks.swa.swa_lrs=0.001``);
* ``callbacks.model_summary`` — :class:`~pytorch_lightning.callbacks.ModelSummary`
  (``callbacks.model_summary.max_depth=2``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from zoo.errors import ConfigError

__all__ = ["TRAINER_OWNED", "check_trainer_args", "check_callback_args", "build_callbacks"]

#: Trainer arguments that zoo sets itself, and the recipe key that controls each
TRAINER_OWNED = {
    "logger": "logger (csv | wandb | tensorboard | none, or a list)",
    "callbacks": "callbacks.* and checkpoint.* / early_stopping.*",
    "enable_checkpointing": "checkpoint.*",
    "default_root_dir": "output_dir / run_name",
    "use_distributed_sampler": "(the datamodule places its own samplers)",
}


def _callback_classes() -> dict[str, type]:
    from pytorch_lightning.callbacks import LearningRateMonitor, ModelSummary, StochasticWeightAveraging

    return {"lr_monitor": LearningRateMonitor, "swa": StochasticWeightAveraging, "model_summary": ModelSummary}


def _parameters(fn: Any) -> tuple[set[str], bool]:
    params = inspect.signature(fn).parameters
    names = {n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params.values())


def _unknown(key: str, valid: set[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    hint = f" Did you mean {where}.{close[0]}?" if close else ""
    return ConfigError(f"unknown key '{where}.{key}'.{hint} Valid keys: {', '.join(sorted(valid))}")


def check_trainer_args(trainer: Mapping[str, Any]) -> None:
    """Every ``trainer.*`` key is an argument of ``pytorch_lightning.Trainer`` that zoo does not own.

    Raises:
        ConfigError: naming the key, the closest valid one, or the recipe key that controls it.
    """
    import pytorch_lightning as pl

    valid, _ = _parameters(pl.Trainer.__init__)
    for key in trainer:
        if key in TRAINER_OWNED:
            raise ConfigError(f"trainer.{key} is set by zoo itself; use {TRAINER_OWNED[key]}")
        if key not in valid:
            raise _unknown(str(key), valid - set(TRAINER_OWNED), "trainer")


def check_callback_args(callbacks: Mapping[str, Any]) -> None:
    """``callbacks.<name>`` is a known callback, ``null`` or a mapping of its class's arguments."""
    classes = _callback_classes()
    for name, args in callbacks.items():
        if name not in classes:
            raise _unknown(str(name), set(classes), "callbacks")
        if args is None or args is False:
            continue
        if not isinstance(args, Mapping):
            raise ConfigError(
                f"callbacks.{name}: expected null or a mapping of {classes[name].__name__}'s arguments, got {args!r}"
            )
        valid, open_kwargs = _parameters(classes[name].__init__)
        for key in args:
            if key not in valid and not open_kwargs:
                raise _unknown(str(key), valid, f"callbacks.{name}")


def build_callbacks(callbacks: Mapping[str, Any] | None, has_logger: bool) -> list[Any]:
    """The Lightning callbacks of a recipe's ``callbacks`` block (checked first)."""
    callbacks = dict(callbacks or {})
    check_callback_args(callbacks)
    classes = _callback_classes()
    out = []
    for name, args in callbacks.items():
        if args is None or args is False or (name == "lr_monitor" and not has_logger):
            continue  # LearningRateMonitor needs a logger to write to
        out.append(classes[name](**dict(args)))
    return out
