"""The part of a run's configuration that its checkpoint fixes (``ckpt=``).

``zoo validate|test|predict RECIPE ckpt=PATH`` rebuild the model from the checkpoint — its
architecture and arguments, loss, metrics, optimiser, scheduler and fitted post-processing are
the checkpoint's, whatever the recipe says; ``zoo fit RECIPE ckpt=.../last.ckpt`` resumes the run
the checkpoint belongs to, with its data options and seed as well. :func:`reconcile_with_checkpoint`
makes the run's configuration say so, before any run folder is made:

* a value the recipe (or ``defaults.yaml``) gives differently is replaced by the checkpoint's, so
  that ``config.yaml`` records what is used (and a resumed run gets its own configuration back:
  the original run's overrides need not be given again);
* a command-line override that contradicts the checkpoint is refused, in one line naming each
  such key, the value given and the checkpoint's — it would be silently ignored otherwise.

Reading the stored recipe memory-maps the checkpoint (the weights are not read).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytorch_lightning.utilities import rank_zero_info

from zoo.errors import ConfigError

__all__ = ["FIXED_KEYS", "RESUME_KEYS", "reconcile_with_checkpoint"]

#: what a checkpoint fixes for ``validate``/``test``/``predict`` (the model it rebuilds)
FIXED_KEYS = ("model", "loss", "metrics", "optimizer", "scheduler")
#: what it fixes in addition when ``fit`` resumes from it (the run it continues)
RESUME_KEYS = ("seed", "data.name", "data.args")
#: ``data.args`` that may change on resume: where data is, and how it is loaded
_MAY_CHANGE = re.compile(
    r"^data\.args\.(root|cache_dir|num_workers|pin_memory|use_cache|predict_partition|eval_batch_size|folds"
    r"|normalization_stats)$|_(dir|path|file|pattern)$"
)
#: open blocks: a key missing from the checkpoint's recipe is a difference too
_OPEN = ("model.args.", "data.args.", "optimizer.args.", "optimizer.lr_multipliers.", "loss.weights.")
_ABSENT = object()


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Dotted key → leaf value (lists are leaves; an empty mapping has no leaves)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}"))
        return out
    return {prefix: value}


def _select(cfg: Mapping[str, Any], key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _leaves(cfg: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = _select(cfg, key)
        if value is not _ABSENT:
            out.update(_flatten(value, key))
    return out


def _set(cfg: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = cfg
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if value is _ABSENT:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = copy.deepcopy(value)


def _overridden(key: str, overrides: Sequence[str]) -> str | None:
    """The command-line override that sets ``key`` (or a block holding it, or a key inside it)."""
    for override in overrides:
        name = override.lstrip("-").split("=", 1)[0].strip()
        if key == name or key.startswith(name + ".") or name.startswith(key + "."):
            return override.lstrip("-")
    return None


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else repr(value)


def reconcile_with_checkpoint(command: str, cfg: Mapping[str, Any], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The configuration ``command`` really runs with ``cfg["ckpt"]`` (see the module docstring).

    Args:
        command: ``fit`` (resuming), ``validate``, ``test`` or ``predict``; other commands and a
            recipe without ``ckpt`` are returned unchanged.
        cfg: the resolved recipe.
        overrides: the command-line overrides (``key=value``) that produced it.

    Returns:
        A copy of ``cfg`` holding the checkpoint's values of the keys it fixes.

    Raises:
        ConfigError: command-line overrides that contradict the checkpoint, each named with the
            value given and the checkpoint's.
        CheckpointError, FileNotFoundError: the checkpoint cannot be read (see
            :func:`zoo.hub.checkpoint_io.read_checkpoint`).
    """
    from zoo.models.registry import is_estimator

    if not cfg.get("ckpt") or command not in ("fit", "validate", "test", "predict"):
        return dict(cfg)
    if is_estimator(cfg["model"]["name"]):
        return dict(cfg)  # an estimator.json, not a Lightning checkpoint
    from zoo.hub.checkpoint_io import read_checkpoint

    checkpoint = read_checkpoint(cfg["ckpt"], mmap=True)
    stored = checkpoint["hyper_parameters"].get("recipe")
    if not isinstance(stored, Mapping):
        return dict(cfg)  # written before checkpoints carried their recipe
    keys = FIXED_KEYS + (RESUME_KEYS if command == "fit" else ())
    theirs, ours = _leaves(stored, keys), _leaves(cfg, keys)
    differ = []
    for key in sorted(set(theirs) | set(ours)):
        if command == "fit" and _MAY_CHANGE.search(key):
            continue
        if key not in theirs and not key.startswith(_OPEN):
            continue  # a key newer than the checkpoint's recipe
        mine, stored_value = ours.get(key, _ABSENT), theirs.get(key, _ABSENT)
        if mine != stored_value:
            differ.append((key, mine, stored_value))
    conflicts = [(k, o, s) for k, o, s in differ if _overridden(k, overrides)]
    if conflicts:
        shown = "; ".join(f"{_overridden(k, overrides)} (the checkpoint has {k}={_show(s)})" for k, o, s in conflicts)
        what = "resumes the run of" if command == "fit" else "rebuilds the model from"
        raise ConfigError(
            f"zoo {command} {what} {cfg['ckpt']}, which fixes keys these command-line overrides change: {shown}. "
            "Remove them (the checkpoint's values are used), or train a new model with them"
        )
    out = copy.deepcopy(dict(cfg))
    for key, _, stored_value in differ:
        _set(out, key, stored_value)
    if command != "fit" and out["postprocess"]["enabled"] and checkpoint["affect_zoo"].get("postprocess") is None:
        if _overridden("postprocess.enabled", overrides):
            raise ConfigError(
                f"postprocess.enabled=true: {cfg['ckpt']} holds no fitted post-processing (its run had "
                "postprocess.enabled=false, or stopped before fitting it); remove the override"
            )
        differ.append(("postprocess.enabled", True, False))
        out["postprocess"]["enabled"] = False
    if differ:
        rank_zero_info(
            f"from the checkpoint {cfg['ckpt']}: "
            + ", ".join(f"{k}={_show(s)} (recipe: {_show(o)})" for k, o, s in differ[:8])
            + (f" and {len(differ) - 8} more" if len(differ) > 8 else "")
        )
    return out
