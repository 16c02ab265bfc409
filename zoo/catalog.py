"""What ships with affect-zoo: the recipes, one line each (``zoo list recipes``)."""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass

from omegaconf import OmegaConf

__all__ = ["RecipeEntry", "list_recipes"]


@dataclass(frozen=True)
class RecipeEntry:
    """A shipped recipe: its name, corpus (its folder), model and the model's paper."""

    name: str
    corpus: str
    model: str
    paper: str

    def line(self, width: int = 36) -> str:
        return f"{self.name:<{width}} {self.corpus:<10} {self.model:<32} {self.paper}"


def _paper_of(model: str) -> str:
    """The reference that opens the docstring of the model's paper module (``Sun et al. (2020)``)."""
    from zoo._registry import model_entrypoint

    try:
        module = inspect.getmodule(model_entrypoint(model))
    except KeyError:
        return f"unknown model {model!r}"
    first = (inspect.getdoc(module) or "").splitlines()[0] if module else ""
    return first.split(":")[0].rstrip(".") or module.__name__


def list_recipes(pattern: str = "*") -> list[RecipeEntry]:
    """Every shipped recipe whose name (``<corpus>/<name>``) matches ``pattern``, sorted."""
    from zoo.config import RECIPES_DIR

    entries = []
    for path in sorted(RECIPES_DIR.glob("*/*.yaml")):
        name = f"{path.parent.name}/{path.stem}"
        if path.parent.name == "sweeps" or not fnmatch.fnmatch(name, pattern):
            continue
        recipe = OmegaConf.load(path)
        model = str(OmegaConf.select(recipe, "model.name", default="?"))
        entries.append(RecipeEntry(name, path.parent.name, model, _paper_of(model)))
    return entries
