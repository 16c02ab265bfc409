"""Sweep files: W&B's sweep format, read, checked and named like recipes.

A sweep file (``recipes/sweeps/<corpus>_<paper>.yaml``, named ``<corpus>/<paper>`` on the command
line) is in W&B's own sweep format: ``method`` (grid, random, bayes), ``metric`` (``val/ccc_mean``,
maximise), ``parameters`` named by recipe keys (``model.args.hidden_size``, ``optimizer.lr``, …),
optionally ``early_terminate`` (hyperband), and a ``command`` that runs ``zoo fit RECIPE
${args_no_hyphens}`` (or ``${args}``, the ``--key=value`` form), e.g.::

    command: [${env}, zoo, fit, muse_car/sun2020_lstm_selfattn, ${args_no_hyphens}]

The same file is searched two ways:

* ``zoo sweep FILE [--count N]`` registers it with a W&B server and starts an agent
  (``wandb.sweep`` / ``wandb.agent``; the server validates and proposes);
* ``zoo sweep FILE --local`` / ``--worker`` searches it with Optuna on this machine or on many
  (:mod:`zoo.sweeps.local`; the parameters become Optuna distributions in :mod:`zoo.sweeps.space`).

``zoo sweep FILE --dry-run --count N`` needs neither: it checks the file (the keys W&B's format
has, every parameter a valid key of the recipe) and prints the commands of the first N runs the
local search would propose.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.config.recipe import RECIPES_DIR, ConfigError, did_you_mean, load_recipe, load_yaml
from zoo.sweeps.space import SweepError, format_value, parse_space, quiet_optuna

__all__ = [
    "SweepError",
    "load_sweep",
    "resolve_sweep_path",
    "shipped_sweeps",
    "validate_sweep",
    "sweep_recipe",
    "propose_runs",
    "expand_command",
    "proposed_overrides",
    "run_sweep",
]

ARG_MACROS = ("${args}", "${args_no_hyphens}")
#: the top-level keys of W&B's sweep format
SWEEP_KEYS = (
    "program",
    "method",
    "metric",
    "parameters",
    "command",
    "early_terminate",
    "name",
    "description",
    "project",
    "entity",
    "run_cap",
)
METHODS = ("grid", "random", "bayes")
SWEEPS_DIR = RECIPES_DIR / "sweeps"


def _corpora() -> list[str]:
    return sorted(p.name for p in RECIPES_DIR.iterdir() if p.is_dir() and p.name != "sweeps")


def _sweep_name(path: Path) -> str:
    """``muse_car_sun2020.yaml`` → ``muse_car/sun2020`` (the corpus is a folder of the recipes)."""
    for corpus in sorted(_corpora(), key=len, reverse=True):
        if path.stem.startswith(corpus + "_"):
            return f"{corpus}/{path.stem[len(corpus) + 1 :]}"
    return path.stem


def shipped_sweeps() -> dict[str, Path]:
    """The sweep files that ship with the package: ``{"muse_car/sun2020": path, ...}``."""
    return {_sweep_name(p): p.resolve() for p in sorted(SWEEPS_DIR.glob("*.yaml"))}


def resolve_sweep_path(sweep: str | Path) -> Path:
    """A sweep file given as a path, or by its name ``<corpus>/<paper>`` (``muse_car/sun2020``).

    Raises:
        SweepError: neither exists; the message offers the closest shipped names.
    """
    path = Path(sweep).expanduser()
    if path.is_file():
        return path.resolve()
    shipped = shipped_sweeps()
    name = str(sweep).removesuffix(".yaml").removeprefix("sweeps/")
    if name in shipped:
        return shipped[name]
    by_stem = {p.stem: p for p in shipped.values()}
    if name in by_stem:
        return by_stem[name]
    hint = did_you_mean(name, list(shipped))
    raise SweepError(
        f"sweep not found: {sweep} is neither a file nor a shipped sweep name (<corpus>/<paper>).{hint} "
        "`zoo list sweeps` lists them"
    )


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a sweep file (a path or a shipped name) into plain containers.

    Raises:
        SweepError: missing file, invalid YAML (``file:line:column``) or not a mapping.
    """
    from omegaconf import OmegaConf

    path = resolve_sweep_path(path)
    try:
        config = OmegaConf.to_container(load_yaml(path), resolve=False)
    except ConfigError as err:
        raise SweepError(str(err)) from None
    if not isinstance(config, dict):
        raise SweepError(f"{path}: a sweep file must be a mapping")
    return config


def _command(config: Mapping[str, Any], source: str) -> list[str]:
    command = config.get("command")
    if not isinstance(command, list):
        raise SweepError(f"{source}: command must be a list, e.g. [${{env}}, zoo, fit, RECIPE, ${{args_no_hyphens}}]")
    return [str(c) for c in command]


def recipe_of(config: Mapping[str, Any], source: str) -> str:
    """The recipe the sweep's ``command`` trains (as written: a name or a path)."""
    command = _command(config, source)
    if "zoo" not in command or "fit" not in command:
        raise SweepError(f"{source}: command must run `zoo fit RECIPE ${{args_no_hyphens}}`, got {command}")
    index = command.index("fit") + 1
    if index >= len(command) or command[index].startswith("$"):
        raise SweepError(f"{source}: command names no recipe after `zoo fit`")
    if not any(macro in command for macro in ARG_MACROS):
        raise SweepError(f"{source}: command must pass the parameters with ${{args}} or ${{args_no_hyphens}}")
    return command[index]


def sweep_recipe(config: Mapping[str, Any], source: str | Path) -> str:
    """The recipe to load: as written, relative to the sweep file's folder, or a shipped name."""
    recipe = recipe_of(config, str(source))
    beside = Path(source).expanduser().parent / recipe
    if not Path(recipe).expanduser().is_file() and beside.is_file():
        return str(beside)
    return recipe


def fixed_overrides(config: Mapping[str, Any]) -> list[str]:
    """The sweep command's own ``key=value`` parts after the recipe (``logger=`` dropped: the
    local search logs to CSV; ``logger=wandb`` is for the W&B path)."""
    command = _command(config, "sweep")
    after = command[command.index("fit") + 2 :]
    return [part for part in after if "=" in part and part not in ARG_MACROS and not part.startswith("logger=")]


def _check_schema(config: Mapping[str, Any], source: str) -> None:
    for key in config:
        if key not in SWEEP_KEYS:
            raise SweepError(
                f"{source}: unknown key {key!r} of a W&B sweep.{did_you_mean(str(key), SWEEP_KEYS)} "
                f"Valid keys: {', '.join(SWEEP_KEYS)}"
            )
    method = config.get("method")
    if method not in METHODS:
        raise SweepError(f"{source}: method must be one of {', '.join(METHODS)}, found {method!r}")
    metric = config.get("metric", {})
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
        raise SweepError(f"{source}: metric must be a mapping with a name, e.g. {{name: val/ccc_mean, goal: maximize}}")
    if metric.get("goal", "minimize") not in ("maximize", "minimize"):
        raise SweepError(f"{source}: metric.goal must be maximize or minimize, found {metric.get('goal')!r}")
    parameters = config.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise SweepError(f"{source}: parameters must be a non-empty mapping of recipe keys to their values")


def validate_sweep(config: Mapping[str, Any], source: str | Path = "sweep") -> str:
    """Check a sweep against W&B's format, the local search and the recipe's keys.

    Returns:
        The recipe the sweep runs (as :func:`sweep_recipe` resolves it).

    Raises:
        SweepError: naming the file and the offending entry.
    """
    source = str(source)
    _check_schema(config, source)
    space = parse_space(config, source)
    recipe = sweep_recipe(config, source)
    overrides = [f"{key}={format_value(value)}" for key, value in space.example().items()]
    try:
        load_recipe(recipe, [*overrides, *fixed_overrides(config)])
    except ConfigError as err:
        raise SweepError(f"{source}: {err}") from err
    return recipe


def propose_runs(config: Mapping[str, Any], count: int, seed: int = 0) -> list[dict[str, Any]]:
    """The parameter values of the first ``count`` trials the local search would start (offline).

    An in-memory Optuna study with the sweep's sampler; a grid ends when exhausted.
    """
    import optuna

    quiet_optuna()
    space = parse_space(config, "sweep")
    study = optuna.create_study(sampler=space.sampler(seed), direction=space.direction)
    proposals = []
    for _ in range(min(count, space.grid_size() or count)):
        proposals.append(space.suggest(study.ask()))
    return proposals


def expand_command(config: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The command line an agent runs for ``params`` (W&B's macros expanded)."""
    out: list[str] = []
    for part in _command(config, "sweep"):
        if part == "${env}":
            out.append("/usr/bin/env")
        elif part == "${args}":
            out += [f"--{k}={format_value(v)}" for k, v in params.items()]
        elif part == "${args_no_hyphens}":
            out += [f"{k}={format_value(v)}" for k, v in params.items()]
        else:
            out.append(part)
    return out


def proposed_overrides(command: Sequence[str]) -> list[str]:
    """The ``key=value`` overrides of an expanded command (what ``zoo fit`` receives)."""
    return [part for part in command if "=" in part and not part.startswith("/")]


def run_sweep(
    path: str | Path,
    count: int | None = None,
    dry_run: bool = False,
    project: str | None = None,
    entity: str | None = None,
    seed: int = 0,
) -> list[list[str]]:
    """Validate a sweep; print the proposed commands (dry run) or create it on W&B and run an agent.

    Returns:
        The commands proposed (dry run) or an empty list.
    """
    path = resolve_sweep_path(path)
    config = load_sweep(path)
    validate_sweep(config, path)
    if dry_run:
        commands = [expand_command(config, params) for params in propose_runs(config, count or 5, seed)]
        for i, command in enumerate(commands, 1):
            print(f"run {i}: {shlex.join(command)}")
        return commands
    import wandb

    project = project or config.get("project", "affect-zoo")
    sweep_id = wandb.sweep(dict(config), project=project, entity=entity)
    wandb.agent(sweep_id, count=count, project=project, entity=entity)
    return []
