"""Recipe loading: ``defaults.yaml`` ← recipe ← command-line overrides, in OmegaConf struct mode.

As in dinov2's ``utils/config.py`` the three layers are merged with :func:`OmegaConf.merge`. Every
key of a recipe or override must exist in ``defaults.yaml``; an unknown key is an error naming it,
the closest valid key and all valid keys at that level. Only the argument blocks that are passed
straight to a registered constructor (``model.args``, ``data.args``, ``optimizer.args``) are open;
their keys are checked against the constructor's signature when it is built.

Overrides come as ``key=value`` (``${args_no_hyphens}`` of a W&B sweep) or ``--key=value``
(``${args}``); values are parsed as YAML (``trainer.devices=2``, ``seeds=[1,2,3]``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["ConfigError", "OPEN_BLOCKS", "find_defaults", "parse_overrides", "load_recipe"]

OPEN_BLOCKS = ("model.args", "data.args", "optimizer.args", "optimizer.lr_multipliers")
RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


class ConfigError(ValueError):
    """A recipe or override is invalid; the message names the key and what is allowed."""


def find_defaults(recipe_path: Path) -> Path:
    """The ``defaults.yaml`` in the recipe's folder or the nearest folder above it."""
    for folder in [recipe_path.parent, *recipe_path.parent.parents]:
        candidate = folder / "defaults.yaml"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no defaults.yaml found in {recipe_path.parent} or any folder above it")


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A recipe given as a path, or as ``<corpus>/<name>`` relative to the shipped recipes."""
    path = Path(recipe).expanduser()
    candidates = [path, RECIPES_DIR / path]
    candidates += [c.with_suffix(".yaml") for c in candidates if c.suffix != ".yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"recipe not found: {recipe} (also looked in {RECIPES_DIR})")


def parse_overrides(args: Sequence[str]) -> list[str]:
    """Normalise ``--key=value`` / ``--key value`` / ``key=value`` into ``key=value`` strings."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            arg = arg[2:]
            if "=" not in arg:
                if i + 1 >= len(args):
                    raise ConfigError(f"override --{arg} has no value")
                arg = f"{arg}={args[i + 1]}"
                i += 1
        if "=" not in arg:
            raise ConfigError(f"override {arg!r} is not of the form key=value")
        out.append(arg)
        i += 1
    return out


def _is_open(path: str) -> bool:
    return any(path == block or path.startswith(block + ".") for block in OPEN_BLOCKS)


def _check_keys(layer: Any, schema: Any, source: str, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first key of ``layer`` that ``schema`` lacks."""
    if not isinstance(layer, DictConfig) or not isinstance(schema, DictConfig):
        return
    for key in layer.keys():
        path = f"{prefix}{key}"
        if _is_open(prefix.rstrip(".")):
            continue
        if key not in list(schema.keys()):
            valid = sorted(str(k) for k in schema.keys())
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" Did you mean {prefix}{close[0]!s}?" if close else ""
            where = prefix.rstrip(".") or "the top level"
            raise ConfigError(
                f"{source}: unknown key {path!r}.{hint} Valid keys at {where}: {', '.join(valid)}"
            )
        child_schema = schema[key] if not OmegaConf.is_missing(schema, key) else None
        child_layer = layer[key] if not OmegaConf.is_missing(layer, key) else None
        if isinstance(child_schema, DictConfig) and child_schema is not None:
            _check_keys(child_layer, child_schema, source, f"{path}.")


def load_recipe(recipe: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Merge defaults, the recipe and overrides; return the resolved config as plain containers.

    Args:
        recipe: recipe YAML path (or ``<corpus>/<name>`` under the shipped ``recipes/``).
        overrides: ``key=value`` or ``--key=value`` strings.

    Raises:
        ConfigError: unknown keys, missing mandatory values or unparsable overrides.
    """
    recipe_path = resolve_recipe_path(recipe)
    defaults_path = find_defaults(recipe_path)
    defaults = OmegaConf.load(defaults_path)
    layer = OmegaConf.load(recipe_path) if recipe_path != defaults_path else OmegaConf.create()
    if isinstance(layer, ListConfig) or layer is None:
        raise ConfigError(f"{recipe_path}: a recipe must be a mapping of keys to values")
    try:
        cli = OmegaConf.from_dotlist(parse_overrides(overrides))
    except Exception as err:  # omegaconf raises several grammar errors
        raise ConfigError(f"cannot parse overrides {list(overrides)}: {err}") from err
    _check_keys(layer, defaults, str(recipe_path))
    _check_keys(cli, defaults, "command-line override")
    OmegaConf.set_struct(defaults, True)
    for block in OPEN_BLOCKS:
        node = OmegaConf.select(defaults, block)
        if node is not None:
            OmegaConf.set_struct(node, False)
    try:
        base = OmegaConf.merge(defaults, layer)
    except Exception as err:  # e.g. a mapping where defaults.yaml has a value
        raise ConfigError(f"{recipe_path}: does not fit {defaults_path}: {err}") from err
    try:
        merged = OmegaConf.merge(base, cli)
    except Exception as err:  # e.g. loss.weights={...} over a recipe's list
        raise ConfigError(
            f"command-line override {list(overrides)} does not fit {recipe_path}: {err} "
            "(a list cannot be merged with a mapping: override it with the same kind, or its items "
            "one key at a time)"
        ) from err
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ConfigError(f"{recipe_path}: mandatory keys without a value: {', '.join(missing)}")
    resolved = OmegaConf.to_container(merged, resolve=True)
    resolved["recipe"] = str(recipe_path)
    return resolved
