"""Weights & Biases sweeps over recipes.

A sweep file (``recipes/sweeps/<corpus>_<paper>.yaml``) is in W&B's own sweep format: ``method``,
``metric`` (``val/ccc_mean``, maximise), ``parameters`` named by recipe keys
(``model.args.hidden_size``, ``optimizer.lr``, …) and a ``command`` that runs
``zoo fit RECIPE ${args_no_hyphens}`` (or ``${args}``, the ``--key=value`` form), e.g.::

    command: [${env}, zoo, fit, recipes/muse_car/sun2020_lstm_selfattn.yaml, ${args_no_hyphens}]

``zoo sweep FILE [--count N]`` registers the sweep with W&B and starts an agent that runs N of
its commands. ``zoo sweep FILE --dry-run --count N`` needs no server: it validates the file with
W&B's ``sweeps`` package (the library W&B's sweep controller uses), checks that every parameter is
a valid key of the recipe, and prints the commands of the first N runs the search would propose.
"""

from __future__ import annotations

import random
import shlex
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from omegaconf import OmegaConf

from zoo.config import ConfigError, load_recipe

__all__ = ["SweepError", "load_sweep", "validate_sweep", "propose_runs", "expand_command", "run_sweep"]

ARG_MACROS = ("${args}", "${args_no_hyphens}")


class SweepError(ValueError):
    """A sweep file is invalid; the message names the file and what is wrong."""


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a sweep YAML file into plain containers."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file not found: {path}")
    config = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    if not isinstance(config, dict):
        raise SweepError(f"{path}: a sweep file must be a mapping")
    return config


def _recipe_of(config: Mapping[str, Any], source: str) -> str:
    command = [str(c) for c in config.get("command", [])]
    if "zoo" not in command or "fit" not in command:
        raise SweepError(f"{source}: command must run `zoo fit RECIPE ${{args_no_hyphens}}`, got {command}")
    index = command.index("fit") + 1
    if index >= len(command) or command[index].startswith("$"):
        raise SweepError(f"{source}: command names no recipe after `zoo fit`")
    if not any(macro in command for macro in ARG_MACROS):
        raise SweepError(f"{source}: command must pass the parameters with ${{args}} or ${{args_no_hyphens}}")
    return command[index]


def _sample_value(spec: Mapping[str, Any]) -> Any:
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return spec["values"][0]
    if "min" in spec:
        return spec["min"]
    raise SweepError(f"cannot read a value from parameter spec {dict(spec)}")


def _sweeps_package() -> Any:
    """Import W&B's ``sweeps`` package, silencing its pydantic-v2 configuration warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Valid config keys have changed in V2")
        import sweeps
    return sweeps


def validate_sweep(config: Mapping[str, Any], source: str = "sweep", repo_root: Path | None = None) -> str:
    """Validate against W&B's sweep schema and against the recipe's keys.

    Returns:
        The recipe path the sweep runs.

    Raises:
        SweepError: naming the file and the offending entry.
    """
    sweeps = _sweeps_package()
    try:
        sweeps.SweepConfig(dict(config))
    except Exception as err:  # jsonschema.ValidationError and friends
        raise SweepError(f"{source}: not a valid W&B sweep: {str(err).splitlines()[0]}") from err
    metric = config.get("metric", {})
    if config.get("method") == "bayes" and not metric.get("name"):
        raise SweepError(f"{source}: a bayes sweep needs metric.name (e.g. val/ccc_mean)")
    recipe = _recipe_of(config, source)
    recipe_path = Path(recipe) if repo_root is None or Path(recipe).is_absolute() else repo_root / recipe
    overrides = [f"{key}={_format(_sample_value(spec))}" for key, spec in config["parameters"].items()]
    try:
        load_recipe(recipe_path, overrides)
    except ConfigError as err:
        raise SweepError(f"{source}: {err}") from err
    return recipe


def _format(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format(v) for v in value) + "]"
    if isinstance(value, (np.floating, float)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def propose_runs(config: Mapping[str, Any], count: int, seed: int = 0) -> list[dict[str, Any]]:
    """The parameter values of the first ``count`` runs the sweep's search would start.

    Uses the ``sweeps`` package offline; earlier proposals are passed back as running, so a grid
    search does not repeat itself and ends when exhausted.
    """
    sweeps = _sweeps_package()
    import sweeps.params  # noqa: F811 - loads the submodule into the package checked above

    config = sweeps.SweepConfig(dict(config))
    runs: list[Any] = []
    proposals = []
    # sweeps.params samples with the module-level `random`, which other libraries reseed; a
    # private generator makes a dry run reproducible (same seed → same proposals).
    with mock.patch.object(sweeps.params, "random", random.Random(seed)):
        np.random.seed(seed)  # bayes search draws from NumPy
        for _ in range(count):
            run = sweeps.next_run(config, runs)
            if run is None:
                break
            run.state = sweeps.RunState.running
            runs.append(run)
            proposals.append({k: v["value"] for k, v in run.config.items()})
    return proposals


def expand_command(config: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The command line an agent runs for ``params`` (W&B's macros expanded)."""
    out: list[str] = []
    for part in config.get("command", []):
        part = str(part)
        if part == "${env}":
            out.append("/usr/bin/env")
        elif part == "${args}":
            out += [f"--{k}={_format(v)}" for k, v in params.items()]
        elif part == "${args_no_hyphens}":
            out += [f"{k}={_format(v)}" for k, v in params.items()]
        else:
            out.append(part)
    return out


def run_sweep(
    path: str | Path,
    count: int | None = None,
    dry_run: bool = False,
    project: str | None = None,
    entity: str | None = None,
    seed: int = 0,
) -> list[list[str]]:
    """Validate a sweep; print the proposed commands (dry run) or create it and run an agent.

    Returns:
        The commands proposed (dry run) or an empty list.
    """
    config = load_sweep(path)
    validate_sweep(config, str(path), repo_root=Path.cwd())
    if dry_run:
        commands = [expand_command(config, params) for params in propose_runs(config, count or 5, seed)]
        for i, command in enumerate(commands, 1):
            print(f"run {i}: {shlex.join(command)}")
        return commands
    import wandb

    sweep_id = wandb.sweep(dict(config), project=project or config.get("project", "affect-zoo"), entity=entity)
    wandb.agent(sweep_id, count=count, project=project or config.get("project", "affect-zoo"), entity=entity)
    return []


def proposed_overrides(command: Sequence[str]) -> list[str]:
    """The ``key=value`` overrides of an expanded command (what ``zoo fit`` receives)."""
    return [part for part in command if "=" in part and not part.startswith("/")]
