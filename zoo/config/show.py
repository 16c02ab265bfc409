"""What a recipe resolves to, and where each value comes from.

``zoo show RECIPE [key=value ...]`` (and ``zoo fit RECIPE ... --print_config``, as Lightning's CLI
has it) prints the resolved recipe as YAML, each value followed by the layer that set it:
``defaults.yaml``, the recipe, or the command line. ``zoo fit RECIPE --help`` lists every key of
the recipe with its value and origin, one per line, the form a user copies into an override.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

__all__ = ["value_origins", "show_recipe", "recipe_keys_help"]

_LAYERS = ("defaults", "recipe", "command line")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node} if prefix else {}


def _layer_keys(layer: Any) -> set[str]:
    container = OmegaConf.to_container(layer, resolve=False) if layer is not None else {}
    return set(_flatten(container or {}))


def value_origins(recipe: str | Path, overrides: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """The resolved recipe and, per dotted key, the layer that set its value.

    Returns:
        ``(config, origins)``: the config as :func:`zoo.config.recipe.load_recipe` resolves it, and
        ``{"trainer.max_epochs": "recipe", ...}`` (``defaults``, ``recipe`` or ``command line``).
    """
    from zoo.config.recipe import find_defaults, load_recipe, load_yaml, parse_overrides, resolve_recipe_path

    cfg = load_recipe(recipe, overrides)
    path = resolve_recipe_path(recipe)
    defaults_path = find_defaults(path)
    layers = [
        load_yaml(defaults_path),
        load_yaml(path) if path != defaults_path else None,
        OmegaConf.from_dotlist(parse_overrides(overrides)),
    ]
    keys = [_layer_keys(layer) for layer in layers]
    origins = {}
    for key in _flatten({k: v for k, v in cfg.items() if k != "recipe"}):
        # the last layer that set the key or a mapping above it (a list or mapping replaced whole)
        setters = [
            name
            for name, layer_keys in zip(_LAYERS, keys)
            if any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in layer_keys)
        ]
        origins[key] = setters[-1] if setters else "defaults"
    origins["__defaults__"] = str(defaults_path)
    origins["__recipe__"] = str(path)
    return cfg, origins


def _inline(value: Any) -> str:
    """A leaf value as one line of YAML (lists in flow style)."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _emit(node: Mapping[str, Any], origins: Mapping[str, str], prefix: str, indent: int, lines: list[str]) -> None:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        pad = "  " * indent
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{key}:")
            _emit(value, origins, dotted + ".", indent + 1, lines)
        else:
            lines.append(f"{pad}{key}: {_inline(value)}  # {origins.get(dotted, 'defaults')}")


def show_recipe(recipe: str | Path, overrides: Sequence[str] = ()) -> str:
    """The resolved recipe as YAML, each leaf annotated with the layer that set it.

    The text is valid YAML: ``yaml.safe_load`` of it gives the resolved config back.
    """
    cfg, origins = value_origins(recipe, overrides)
    lines = [
        f"# recipe:   {origins['__recipe__']}",
        f"# defaults: {origins['__defaults__']}",
        "# after each value: the layer that set it (defaults, recipe, command line)",
    ]
    _emit({k: v for k, v in cfg.items() if k != "recipe"}, origins, "", 0, lines)
    return "\n".join(lines) + "\n"


def recipe_keys_help(recipe: str | Path, command: str = "fit") -> str:
    """Every key of the recipe with its value and origin, as overrides are written."""
    cfg, origins = value_origins(recipe)
    flat = _flatten({k: v for k, v in cfg.items() if k != "recipe"})
    width = max(len(k) for k in flat)
    lines = [
        f"usage: zoo {command} {recipe} [key=value ...] [--print_config] [--traceback]",
        "",
        f"Keys of {origins['__recipe__']} (merged over {origins['__defaults__']}); override any of them,",
        "e.g. trainer.max_epochs=5 optimizer.lr=0.001 data.args.root=/path/to/corpus. Keys under",
        "model.args, data.args and optimizer.args go to the constructors (checked when they are built);",
        "Lightning Trainer arguments go under trainer.*.",
        "",
    ]
    for key, value in flat.items():
        lines.append(f"  {key:<{width}} = {_inline(value):<24} [{origins[key]}]")
    return "\n".join(lines) + "\n"
