"""``zoo report``: the paper's reported score beside ours, from run folders, as a Markdown table.

Each paper's numbers live in ``zoo/paper_scores/<paper>.yaml`` (one entry per score the paper
reports for a configuration that one of our recipes reproduces)::

    paper: "Sun et al. 2020"
    scores:
      - recipe: muse_car/sun2020_lstm_selfattn
        overrides: "data.args.features=[egemaps,vggface]"   # the paper's configuration
        metric: val/ccc_arousal                              # our logged key
        value: 0.4
        source: "Table 3, row 2"

``build_report`` reads every run folder found under the given directories (a folder holding
``config.yaml`` and ``results.json``, as ``zoo fit`` writes it), names each run by its recipe and
the settings in which it differs from that recipe (what the recipe tables of ``tests/recipes``
override), and puts, per recorded metric, the paper's score of a matching entry (same recipe; each
of the entry's overrides holds in the run's config), our score, and the chance level of the same
recipe from ``zoo baseline`` run folders (``--baselines``). A CCC of a constant predictor is 0 by
definition (its covariance with the labels is 0), so a CCC row without a baseline run shows 0.

The table is a record of the runs it was made from: regenerate it with ``scripts/results.sh``.
Our scores come from the synthetic corpora unless the runs' ``data.args.root`` points at a real
corpus, so they show that a recipe learns, not that it matches the paper's number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

__all__ = ["PaperScore", "RunRecord", "load_paper_scores", "find_runs", "build_report", "write_report"]

PAPER_SCORES_DIR = Path(__file__).resolve().parent / "paper_scores"
# Keys that say where and how a run was launched, not what it trained: never shown as differences.
_BOOKKEEPING = (
    "output_dir",
    "run_name",
    "ckpt",
    "recipe",
    "seeds",
    "export_predictions",
    "logger",
    "wandb.",
    "trainer.enable_progress_bar",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.strategy",
    "trainer.num_nodes",
    "trainer.log_every_n_steps",
)


@dataclass(frozen=True)
class PaperScore:
    """One score a paper reports for a configuration of one of our recipes."""

    paper: str
    recipe: str
    overrides: tuple[str, ...]
    metric: str
    value: float
    source: str

    def matches(self, run: RunRecord) -> bool:
        """Same recipe, and every override of the paper's configuration holds in the run."""
        if run.recipe != self.recipe:
            return False
        flat = run.flat_config
        for override in self.overrides:
            key, _, raw = override.partition("=")
            if flat.get(key, _MISSING) != _parse_value(raw):
                return False
        return True


@dataclass
class RunRecord:
    """A run folder: its recipe name, resolved config and results."""

    path: Path
    recipe: str
    flat_config: dict[str, Any]
    results: dict[str, float]
    differences: tuple[str, ...]

    @property
    def label(self) -> str:
        return " ".join(self.differences)


_MISSING = object()


def _parse_value(raw: str) -> Any:
    """An override's value as OmegaConf reads it on the command line (``[a,b]`` → list)."""
    return OmegaConf.to_container(OmegaConf.from_dotlist([f"v={raw}"]))["v"]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        if not node and prefix:
            out[prefix[:-1]] = {}
        return out
    return {prefix[:-1]: node}


def load_paper_scores(folder: Path = PAPER_SCORES_DIR) -> list[PaperScore]:
    """Every ``<paper>.yaml`` of ``folder``, validated.

    Raises:
        ValueError: a file or entry without the required fields, naming the file and entry.
    """
    scores: list[PaperScore] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("paper"), str)
            or not isinstance(data.get("scores"), list)
        ):
            raise ValueError(f"{path}: expected a mapping with `paper` (text) and `scores` (a list)")
        for i, entry in enumerate(data["scores"]):
            missing = [k for k in ("recipe", "metric", "value", "source") if k not in (entry or {})]
            if missing:
                raise ValueError(f"{path}: scores[{i}] lacks {', '.join(missing)}")
            if not isinstance(entry["value"], (int, float)) or isinstance(entry["value"], bool):
                raise ValueError(f"{path}: scores[{i}].value: expected a number, got {entry['value']!r}")
            overrides = tuple(str(entry.get("overrides") or "").split())
            for override in overrides:
                if "=" not in override:
                    raise ValueError(f"{path}: scores[{i}].overrides: {override!r} is not key=value")
            scores.append(
                PaperScore(
                    data["paper"],
                    str(entry["recipe"]),
                    overrides,
                    str(entry["metric"]),
                    float(entry["value"]),
                    str(entry["source"]),
                )
            )
    return scores


def _recipe_name(recipe_path: str) -> str:
    """``/…/recipes/muse_car/sun2020_lstm_selfattn.yaml`` → ``muse_car/sun2020_lstm_selfattn``."""
    path = Path(recipe_path)
    return f"{path.parent.name}/{path.stem}"


def _differences(flat: Mapping[str, Any], recipe_path: str) -> tuple[str, ...]:
    """``key=value`` for every setting in which a run differs from its recipe as shipped."""
    from zoo.config import load_recipe

    try:
        base = _flatten(load_recipe(recipe_path))
    except Exception:  # the recipe moved or was deleted since the run: show nothing rather than guess
        return ()
    out = []
    for key in sorted(set(flat) | set(base)):
        if any(key == b.rstrip(".") or (b.endswith(".") and key.startswith(b)) for b in _BOOKKEEPING):
            continue
        if flat.get(key, _MISSING) != base.get(key, _MISSING):
            value = flat.get(key, None)
            text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)
            out.append(f"{key}={text.replace(chr(34), '')}")
    return tuple(out)


def find_runs(folders: Iterable[Path]) -> list[RunRecord]:
    """Every run folder (``config.yaml`` + ``results.json``) under ``folders``, sorted by recipe."""
    runs = []
    for folder in folders:
        folder = Path(folder)
        if not folder.exists():
            raise FileNotFoundError(f"no such run folder: {folder}")
        for results_path in sorted(folder.rglob("results.json")):
            config_path = results_path.parent / "config.yaml"
            if not config_path.is_file():
                continue
            cfg = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
            if "recipe" not in cfg:
                raise ValueError(f"{config_path}: no `recipe` key; was it written by `zoo fit`?")
            results = json.loads(results_path.read_text())
            flat = _flatten({k: v for k, v in cfg.items() if k != "recipe"})
            runs.append(
                RunRecord(
                    results_path.parent,
                    _recipe_name(cfg["recipe"]),
                    flat,
                    {k: float(v) for k, v in results.items()},
                    _differences(flat, cfg["recipe"]),
                )
            )
    return sorted(runs, key=lambda r: (r.recipe, r.label))


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def build_report(
    runs: Sequence[RunRecord],
    baselines: Sequence[RunRecord] = (),
    paper_scores: Sequence[PaperScore] | None = None,
    metrics: Sequence[str] = ("val/", "val_postprocessed/", "test/"),
) -> str:
    """The Markdown results table.

    Args:
        runs: trained runs (``zoo fit``).
        baselines: ``zoo baseline`` runs; matched to a run by recipe name.
        paper_scores: the papers' numbers (default: every file of ``zoo/paper_scores``).
        metrics: prefixes of the result keys shown (``_std`` keys are never shown).

    Returns:
        Markdown: one table row per (run, metric) where the run has the metric, plus one row per
        paper score that no run matched (so a missing run is visible, not hidden).
    """
    paper_scores = load_paper_scores() if paper_scores is None else list(paper_scores)
    baseline_by_recipe: dict[str, RunRecord] = {}
    for b in baselines:
        baseline_by_recipe.setdefault(b.recipe, b)
    lines = [
        "| recipe | run differs from the recipe in | metric | paper | source | ours | chance |",
        "|---|---|---|---|---|---|---|",
    ]
    used: set[int] = set()
    for run in runs:
        keys = [k for k in sorted(run.results) if k.startswith(tuple(metrics)) and not k.endswith("_std")]
        for key in keys:
            paper = next(((i, s) for i, s in enumerate(paper_scores) if s.metric == key and s.matches(run)), None)
            if paper is not None:
                used.add(paper[0])
            baseline = baseline_by_recipe.get(run.recipe)
            chance = baseline.results.get(key) if baseline else (0.0 if "/ccc_" in key else None)
            lines.append(
                f"| `{run.recipe}` | {('`' + run.label + '`') if run.label else 'nothing'} | `{key}` | "
                f"{_fmt(paper[1].value) if paper else '–'} | "
                f"{(paper[1].paper + ', ' + paper[1].source) if paper else ''} | {_fmt(run.results[key])} | "
                f"{_fmt(chance)} |"
            )
    for i, score in enumerate(paper_scores):
        if i not in used:
            config = " ".join(score.overrides)
            lines.append(
                f"| `{score.recipe}` | {('`' + config + '`') if config else 'nothing'} | `{score.metric}` | "
                f"{_fmt(score.value)} | {score.paper}, {score.source} | no run | – |"
            )
    return "\n".join(lines) + "\n"


def write_report(run_folders: Sequence[Path], output: Path | None, baseline_folders: Sequence[Path] = ()) -> str:
    """Build the report from folders and write it under a fixed header (or return it only)."""
    runs = find_runs(run_folders)
    if not runs:
        raise FileNotFoundError(f"no run folder (config.yaml + results.json) under {', '.join(map(str, run_folders))}")
    table = build_report(runs, find_runs(baseline_folders) if baseline_folders else ())
    text = (
        "# Results: the papers' scores beside ours\n\n"
        "Written by `zoo report` (regenerate with `bash scripts/results.sh`); do not edit by hand.\n\n"
        "*paper*: the score the paper reports on the **real** corpus (its table in *source*). "
        "*ours*: the run's score, on the **synthetic** corpus of the recipe's datamodule unless the "
        "run set `data.args.root`; it shows that the recipe learns (a constant predictor scores a CCC "
        "of 0), not that it matches the paper's figure, which needs the licensed corpus. *chance*: "
        "`zoo baseline` of the same recipe (random draws of the training labels), or 0 for a CCC "
        "without a baseline run. A paper score that no run reproduced is listed with *no run*.\n\n" + table
    )
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
    return text
