"""Recipe loading: ``defaults.yaml`` ← recipe ← command-line overrides, in OmegaConf struct mode.

As in dinov2's ``utils/config.py`` the three layers are merged with :func:`OmegaConf.merge`. Every
key of a recipe or override must exist in ``defaults.yaml``; an unknown key is an error naming it,
the closest valid key and all valid keys at that level. The argument blocks that are passed
straight to a registered constructor (``model.args``, ``data.args``, ``optimizer.args``) are open;
their keys are checked against the constructor's signature when it is built. ``trainer`` and
``callbacks`` are open too, and checked here against Lightning itself
(:func:`zoo.config.trainer_args.check_trainer_args`, :func:`~zoo.config.trainer_args.check_callback_args`): every
``pytorch_lightning.Trainer`` argument passes (``trainer.max_steps=3``), a typo does not.

Overrides come as ``key=value`` (``${args_no_hyphens}`` of a W&B sweep) or ``--key=value``
(``${args}``); values are parsed as YAML (``trainer.devices=2``, ``seeds=[1,2,3]``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from zoo.errors import ConfigError

__all__ = [
    "ConfigError",
    "OPEN_BLOCKS",
    "RECIPES_DIR",
    "load_yaml",
    "find_defaults",
    "shipped_recipes",
    "did_you_mean",
    "resolve_recipe_path",
    "parse_overrides",
    "load_recipe",
    "check_types",
]

OPEN_BLOCKS = ("model.args", "data.args", "optimizer.args", "optimizer.lr_multipliers", "callbacks")
#: open blocks whose keys are checked here, by the function that knows the valid ones
_CHECKED_BLOCKS = ("trainer", "callbacks")
RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"  # a link to the checkout's recipes/; a copy in the wheel


PACKAGE_DEFAULTS = RECIPES_DIR / "defaults.yaml"


def load_yaml(path: str | Path) -> Any:
    """``OmegaConf.load(path)``; invalid YAML is a :class:`ConfigError` naming ``file:line:column``.

    Raises:
        ConfigError: a syntax error (unclosed bracket, bad indentation, a tab, a duplicate key, ...),
            as ``<file>:<line>:<column>: invalid YAML: <problem>``.
    """
    import yaml

    try:
        return OmegaConf.load(path)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context = getattr(err, "context", None)
        detail = f"{problem} ({context})" if context else str(problem)
        raise ConfigError(f"{where}: invalid YAML: {detail}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a text (UTF-8) YAML file: {err.reason} at byte {err.start}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a YAML file") from None


def find_defaults(recipe_path: Path) -> Path:
    """The ``defaults.yaml`` in the recipe's folder or the nearest folder above it, else the
    package's own (so a recipe anywhere on disk resolves against the shipped defaults)."""
    for folder in [recipe_path.parent, *recipe_path.parent.parents]:
        candidate = folder / "defaults.yaml"
        if candidate.is_file():
            return candidate
    return PACKAGE_DEFAULTS


def shipped_recipes() -> list[str]:
    """The names (``<corpus>/<name>``) of the recipes that ship with the package, sorted."""
    return sorted(
        f"{path.parent.name}/{path.stem}" for path in RECIPES_DIR.glob("*/*.yaml") if path.parent.name != "sweeps"
    )


def did_you_mean(name: str, choices: Sequence[str], n: int = 3) -> str:
    """`` Did you mean a, b?`` for the close matches of ``name`` among ``choices`` (else ``""``)."""
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not close:  # a prefix or a fragment: `muse_car/sun2020`, `williams`
        close = [c for c in choices if name and name.lower() in c.lower()][:n]
    return f" Did you mean {', '.join(close)}?" if close else ""


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A recipe given as a path, or as ``<corpus>/<name>`` relative to the shipped recipes.

    Raises:
        ConfigError: neither exists; the message offers the closest shipped names.
    """
    path = Path(recipe).expanduser()
    candidates = [path, RECIPES_DIR / path]
    candidates += [c.with_suffix(".yaml") for c in candidates if c.suffix != ".yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if path.is_dir():
        raise ConfigError(f"recipe {recipe}: is a folder; give a recipe YAML file or a name such as {_EXAMPLE}")
    names = shipped_recipes()
    hint = did_you_mean(str(recipe).removesuffix(".yaml"), names)
    raise ConfigError(
        f"recipe not found: {recipe} is neither a YAML file nor a shipped recipe name (<corpus>/<name>).{hint} "
        "`zoo list recipes` lists them"
    )


_EXAMPLE = "muse_car/sun2020_lstm_selfattn"


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


def _check_block(block: str, layer: Any, source: str) -> None:
    """The keys of ``trainer`` / ``callbacks`` in one layer, checked against Lightning's signatures."""
    from zoo.config.trainer_args import check_callback_args, check_trainer_args

    check = {"trainer": check_trainer_args, "callbacks": check_callback_args}[block]
    try:
        check(OmegaConf.to_container(layer, resolve=False))
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def _check_keys(layer: Any, schema: Any, source: str, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first key of ``layer`` that ``schema`` lacks."""
    if not isinstance(layer, DictConfig) or not isinstance(schema, DictConfig):
        return
    if prefix.rstrip(".") in _CHECKED_BLOCKS:
        _check_block(prefix.rstrip("."), layer, source)
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
            raise ConfigError(f"{source}: unknown key {path!r}.{hint} Valid keys at {where}: {', '.join(valid)}")
        child_schema = schema[key] if not OmegaConf.is_missing(schema, key) else None
        child_layer = layer[key] if not OmegaConf.is_missing(layer, key) else None
        if isinstance(child_schema, DictConfig) and child_schema is not None:
            _check_keys(child_layer, child_schema, source, f"{path}.")


def _check_override_values(overrides: Sequence[str]) -> None:
    """Command-line values are taken as written: an OmegaConf interpolation (``run_name=${oc.env:HOME}``)
    would put an environment variable or another key's value where none is documented, and an
    empty value (``data.args.root=$UNSET``) would silently mean null.

    Raises:
        ConfigError: naming the override.
    """
    for override in overrides:
        key, _, value = override.partition("=")
        if not value.strip():
            raise ConfigError(
                f"command-line override {key}= has an empty value (an unset shell variable?); write {key}=null for null"
            )
        if "${" in value.replace("\\${", ""):
            raise ConfigError(
                f"command-line override {key}={value}: interpolations (${{...}}) are not resolved in "
                "overrides; write the value itself (your shell expands $VARIABLES)"
            )


_NUMBER = (int, float)
#: keys whose allowed types are not simply the type of their value in ``defaults.yaml``
#: (``None`` in a tuple: the key may be null)
_TYPES: dict[str, tuple[Any, ...]] = {
    "seeds": (list, None),
    "run_name": (str, None),
    "ckpt": (str, None),
    "loss.weights": (list, dict, None),
    "loss.aggregation": (str,),
    "trainer.devices": (int, str, list),  # 2, "auto", [0, 1]
    "trainer.precision": (str, int),  # "bf16-mixed", 32
    "trainer.fast_dev_run": (bool, int),
    "trainer.gradient_clip_val": (*_NUMBER, None),
    "trainer.limit_train_batches": (*_NUMBER, None),
    "trainer.limit_val_batches": (*_NUMBER, None),
    "trainer.max_epochs": (int,),
    "wandb.entity": (str, None),
    "wandb.mode": (str, None),
    "logger": (str, list, bool, None),  # csv, [csv,wandb], none
}
#: list keys whose items have one type
_ITEM_TYPES: dict[str, type] = {"seeds": int, "metrics": str, "export_predictions": str, "logger": str}
_ITEM_NAMES = {int: "integers", str: "strings"}
_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    None: "null",
}


def _type_ok(value: Any, allowed: tuple[Any, ...]) -> bool:
    for kind in allowed:
        if kind is None and value is None:
            return True
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind in (str, bool, list, dict) and isinstance(value, kind):
            return True
    return False


def _coerce(value: Any, allowed: tuple[Any, ...]) -> Any:
    """A number written as a string (``"1e-3"`` in a recipe) becomes the number it spells."""
    if isinstance(value, str) and str not in allowed and (int in allowed or float in allowed):
        for kind in (int, float):
            if kind in allowed:
                try:
                    return kind(value)
                except ValueError:
                    pass
    return value


def _allowed(path: str, default: Any) -> tuple[Any, ...] | None:
    if path in _TYPES:
        return _TYPES[path]
    if default is None:
        return None  # a null default says nothing about the type
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (float,)
    if isinstance(default, str):
        return (str,)
    if isinstance(default, list):
        return (list,)
    if isinstance(default, dict):
        return (dict,)
    return None


def check_types(cfg: dict[str, Any], defaults: dict[str, Any], source: str, prefix: str = "") -> None:
    """Check (in place) that every value has the type its key has in ``defaults.yaml``.

    ``trainer.max_epochs=abc``, ``optimizer.lr=fast`` or ``seeds=abc`` is a :class:`ConfigError`
    naming the key, the expected type and the value found; a number written as a string in a
    YAML file (``lr: "1e-3"``) is converted. Open blocks (``model.args`` ...) are left to the
    constructors they are passed to.

    Args:
        cfg: the merged recipe as plain containers (modified in place by the conversion).
        defaults: ``defaults.yaml`` as plain containers.
        source: where the values came from (recipe path and overrides), for the message.
    """
    for key, default in defaults.items():
        path = f"{prefix}{key}"
        if key not in cfg or _is_open(path):
            continue
        value = cfg[key]
        if isinstance(default, dict) and path not in _TYPES:
            if isinstance(value, dict):
                check_types(value, default, source, f"{path}.")
                continue
        allowed = _allowed(path, default)
        if allowed is None:
            continue
        value = cfg[key] = _coerce(value, allowed)
        if not _type_ok(value, allowed):
            expected = " or ".join(_TYPE_NAMES.get(k, str(k)) for k in allowed)
            raise ConfigError(f"{source}: {path} must be {expected}, found {value!r}")
        item_type = _ITEM_TYPES.get(path)
        if item_type is not None and isinstance(value, list):
            value = cfg[key] = [_coerce(v, (item_type,)) for v in value]
            bad = [v for v in value if not _type_ok(v, (item_type,))]
            if bad:
                raise ConfigError(f"{source}: {path} must be a list of {_ITEM_NAMES[item_type]}, found {value!r}")


def load_recipe(recipe: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Merge defaults, the recipe and overrides; return the resolved config as plain containers.

    Args:
        recipe: recipe YAML path (or ``<corpus>/<name>`` under the shipped ``recipes/``).
        overrides: ``key=value`` or ``--key=value`` strings.

    Raises:
        ConfigError: unknown keys, missing mandatory values, unparsable overrides or a value
            whose type differs from the key's in ``defaults.yaml`` (see :func:`check_types`).
    """
    recipe_path = resolve_recipe_path(recipe)
    defaults_path = find_defaults(recipe_path)
    defaults = load_yaml(defaults_path)
    layer = load_yaml(recipe_path) if recipe_path != defaults_path else OmegaConf.create()
    if isinstance(layer, ListConfig) or layer is None:
        raise ConfigError(f"{recipe_path}: a recipe must be a mapping of keys to values")
    try:
        cli = OmegaConf.from_dotlist(parse_overrides(overrides))
    except Exception as err:  # omegaconf raises several grammar errors
        raise ConfigError(f"cannot parse overrides {list(overrides)}: {err}") from err
    _check_keys(layer, defaults, str(recipe_path))
    _check_keys(cli, defaults, "command-line override")
    _check_override_values(parse_overrides(overrides))
    OmegaConf.set_struct(defaults, True)
    for block in (*OPEN_BLOCKS, *_CHECKED_BLOCKS):
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
    source = str(recipe_path) + (f" with overrides {list(overrides)}" if overrides else "")
    check_types(resolved, OmegaConf.to_container(defaults, resolve=False), source)
    resolved["recipe"] = str(recipe_path)
    return resolved
