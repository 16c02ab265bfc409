"""What ships with affect-zoo, fast: ``zoo list`` (recipes, models, corpora, sweeps).

``zoo list`` reads YAML files and one JSON file and imports neither torch nor a model module, so it
answers in well under a second. What needs the models — each one's paper, the corpora its
recipes train it on, its parameter count with its recipe's settings — is kept in
``zoo/models/catalog.json``, written by ``python scripts/model_catalog.py`` (which builds every
model on its recipe's synthetic corpus) and checked against the registry by the tests.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "RecipeEntry",
    "ModelEntry",
    "MODEL_CATALOG",
    "list_recipes",
    "list_model_entries",
    "build_model_catalog",
    "format_table",
    "list_text",
]

MODEL_CATALOG = Path(__file__).resolve().parents[1] / "models" / "catalog.json"


@dataclass(frozen=True)
class RecipeEntry:
    """A shipped recipe: its name, corpus (its folder), model and the model's paper."""

    name: str
    corpus: str
    model: str
    paper: str

    def row(self) -> list[str]:
        return [self.name, self.corpus, self.model, self.paper]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its paper, what it is, the corpora of its recipes and its size."""

    name: str
    paper: str
    description: str
    corpora: tuple[str, ...]
    parameters: int | None
    reference: str  # the recipe whose settings the parameters are counted with, or why there is no count

    def row(self) -> list[str]:
        size = f"{self.parameters:,}" if self.parameters is not None else "-"
        return [self.name, self.paper, ",".join(self.corpora) or "-", size, self.reference]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell (nothing cut); ``right``: indices aligned right."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _catalog() -> dict[str, Any]:
    return json.loads(MODEL_CATALOG.read_text())


def list_model_entries(pattern: str = "*") -> list[ModelEntry]:
    """The registered models whose name matches ``pattern``, from ``model_catalog.json``."""
    out = []
    for name, entry in sorted(_catalog()["models"].items()):
        if fnmatch.fnmatch(name, pattern):
            out.append(
                ModelEntry(
                    name,
                    entry["paper"],
                    entry["description"],
                    tuple(entry["corpora"]),
                    entry["parameters"],
                    entry["reference"],
                )
            )
    return out


def list_recipes(pattern: str = "*") -> list[RecipeEntry]:
    """Every shipped recipe whose name (``<corpus>/<name>``) matches ``pattern``, sorted."""
    from omegaconf import OmegaConf

    from zoo.config.recipe import RECIPES_DIR, load_yaml, shipped_recipes

    papers = {name: entry["paper"] for name, entry in _catalog()["models"].items()}
    entries = []
    for name in shipped_recipes():
        if not fnmatch.fnmatch(name, pattern):
            continue
        recipe = load_yaml(RECIPES_DIR / f"{name}.yaml")
        model = str(OmegaConf.select(recipe, "model.name", default="?"))
        entries.append(RecipeEntry(name, name.split("/")[0], model, papers.get(model, f"unknown model {model!r}")))
    return entries


# --------------------------------------------------------------------------- building the catalogue
def _paper_and_description(model: str) -> tuple[str, str]:
    """``("Sun et al. (2020)", "BiLSTM and ...")`` from the first docstring line of the model's module."""
    from zoo.models.registry import model_entrypoint

    module = inspect.getmodule(model_entrypoint(model))
    first = (inspect.getdoc(module) or "").splitlines()[0] if module else model
    paper, _, description = first.partition(":")
    return paper.strip().rstrip("."), description.strip().rstrip(".")


def _recipe_models() -> dict[str, list[str]]:
    from omegaconf import OmegaConf

    from zoo.config.recipe import RECIPES_DIR, load_yaml, shipped_recipes

    by_model: dict[str, list[str]] = {}
    for name in shipped_recipes():
        model = str(OmegaConf.select(load_yaml(RECIPES_DIR / f"{name}.yaml"), "model.name"))
        by_model.setdefault(model, []).append(name)
    return by_model


def reference_recipe(model: str, by_model: dict[str, list[str]]) -> tuple[str | None, list[str]]:
    """The recipe a model's parameters are counted with, and the overrides that select the model:
    its first recipe, else (an ablation such as ``sun2020_lstm``) the first recipe of another
    model of the same paper module."""
    from zoo.models.registry import model_entrypoint

    if by_model.get(model):
        return by_model[model][0], []
    module = model_entrypoint(model).__module__
    for other, recipes in sorted(by_model.items()):
        if model_entrypoint(other).__module__ == module:
            return recipes[0], [f"model.name={model}"]
    return None, []


def count_parameters(recipe: str, overrides: Sequence[str]) -> int:
    """Parameters of the recipe's model (trainable or not), built on the recipe's synthetic corpus."""
    from zoo.config.recipe import load_recipe
    from zoo.models.registry import building_from_checkpoint
    from zoo.runner.run import build_task
    from zoo.runner.run_io import build_datamodule

    cfg = load_recipe(recipe, list(overrides))
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    with building_from_checkpoint():  # the architecture only: no initial weights read from files
        task = build_task(cfg, datamodule.data_spec())
    return int(sum(p.numel() for p in task.net.parameters()))


def build_model_catalog() -> dict[str, Any]:
    """Every registered model with its paper, corpora and parameter count (see the module docstring).

    Estimators (SVRs) have no parameter count; nor has a model whose recipe needs trained runs
    (late fusion: its size follows its sources).
    """
    from zoo.models.registry import is_estimator, list_models

    by_model = _recipe_models()
    models: dict[str, Any] = {}
    for model in list_models():
        paper, description = _paper_and_description(model)
        recipe, overrides = reference_recipe(model, by_model)
        corpora = sorted({r.split("/")[0] for r in by_model.get(model, [recipe] if recipe else [])})
        if is_estimator(model):
            parameters, reference = None, "an estimator (support vector regression): no network"
        elif recipe is None:
            parameters, reference = None, "no shipped recipe"
        else:
            try:
                try:
                    parameters = count_parameters(recipe, overrides)
                except ValueError as err:  # staged training: the extractors come from earlier runs
                    if "from_scratch=true" not in str(err):
                        raise
                    overrides = [*overrides, "model.args.from_scratch=true"]
                    parameters = count_parameters(recipe, overrides)
                reference = recipe + (f" {' '.join(overrides)}" if overrides else "")
            except Exception as err:  # e.g. late fusion: data.args.sources must name trained runs
                parameters, reference = None, f"{recipe} needs {_needs(err)}"
        models[model] = {
            "paper": paper,
            "description": description,
            "corpora": corpora,
            "parameters": parameters,
            "reference": reference,
        }
    return {"models": models, "corpora": _corpora()}


def _corpora() -> dict[str, Any]:
    """Every ``data.name`` (corpora and derived corpora) with its level, label step, targets and partition names."""
    from zoo.data import corpus_class, list_corpora

    out = {}
    for name in list_corpora(include_derived=True):
        cls = corpus_class(name)
        parts = cls.partitions
        out[name] = {
            "level": cls.level,
            "label_step": float(cls.label_step),
            "targets": list(cls.targets),
            "partitions": f"{parts['train']}/{parts['val']}/{parts['test']}",
        }
    return out


def _needs(err: Exception) -> str:
    text = " ".join(str(err).split())
    return "trained source runs (its size follows them)" if "sources" in text else text[:120]


# --------------------------------------------------------------------------- zoo list
def _corpus_rows(pattern: str) -> list[list[str]]:
    rows = []
    for name, entry in sorted(_catalog()["corpora"].items()):
        if fnmatch.fnmatch(name, pattern):
            derived = "its sources'"  # a derived corpus (late fusion) takes them from the runs it reads
            step = (
                f"{entry['label_step']:g} s"
                if entry["label_step"]
                else "segment"
                if entry["level"] == "segment"
                else derived
            )
            targets = ",".join(entry["targets"]) or derived
            rows.append([name, entry["level"], step, targets, entry["partitions"]])
    return rows


def _sweep_rows(pattern: str) -> list[list[str]]:
    import yaml

    from zoo.sweeps.sweep import shipped_sweeps

    rows = []
    for name, path in shipped_sweeps().items():
        if fnmatch.fnmatch(name, pattern):
            config = yaml.safe_load(path.read_text())
            command = [str(c) for c in config.get("command", [])]
            recipe = command[command.index("fit") + 1] if "fit" in command else "?"
            metric = config.get("metric") or {}
            target = f"{metric.get('goal', 'minimize')} {metric.get('name', '?')}"
            rows.append([name, recipe, config.get("method", "?"), str(len(config.get("parameters") or {})), target])
    return rows


def list_text(kind: str | None = None, pattern: str = "*") -> str:
    """What ``zoo list [KIND] [PATTERN]`` prints: one table per kind, each with its header."""
    sections = []
    if kind in (None, "recipes"):
        rows = [e.row() for e in list_recipes(pattern)]
        sections.append(format_table(["RECIPE", "CORPUS", "MODEL", "PAPER"], rows))
    if kind in (None, "models"):
        rows = [e.row() for e in list_model_entries(pattern)]
        header = ["MODEL", "PAPER", "CORPORA", "PARAMETERS", "COUNTED WITH (recipe settings)"]
        sections.append(format_table(header, rows, right=(3,)))
    if kind in (None, "corpora"):
        header = ["CORPUS", "LEVEL", "LABEL STEP", "TARGETS", "PARTITIONS (train/val/test)"]
        sections.append(format_table(header, _corpus_rows(pattern)))
    if kind in (None, "sweeps"):
        header = ["SWEEP", "RECIPE", "METHOD", "PARAMETERS", "METRIC"]
        sections.append(format_table(header, _sweep_rows(pattern), right=(3,)))
    return "\n\n".join(sections)
