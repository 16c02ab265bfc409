"""``zoo report``: the papers' headline scores beside ours, from run folders, as a results page.

Each paper's numbers live in ``zoo/reports/paper_scores/<paper>.yaml`` (one entry per score the paper
reports for a configuration that one of our recipes reproduces)::

    paper: "Sun et al. 2020"
    scores:
      - recipe: muse_car/sun2020_lstm_selfattn
        overrides: "data.args.features=[egemaps,vggface]"   # the paper's configuration
        metric: val/ccc_arousal                              # our logged key
        value: 0.4
        source: "Table 3, row 2"

:func:`find_runs` reads every run folder under the given directories (a folder holding
``config.yaml`` and ``results.json``, as ``zoo fit`` writes it) and names each run by its recipe
and the settings in which it differs from that recipe. A paper score *matches* a run when it is
for the same recipe and each of its overrides holds in the run's config.

The page (:func:`build_report`, written by :func:`write_report`) has one section per corpus (the
recipes' folder): a figure of our headline score beside chance per run, and a table with **one
row per run** (a recipe or a paper variant of it): the paper's headline metric, the paper's
figure, ours, chance, and a link to the run's full metrics on the corpus's detail page
(:func:`build_details`). The headline of a run (:func:`headline`) is chosen among the paper scores
matching it: the CCC family first (then MAE, then any), the development set after post-processing
first (then before it, then test), the ``mean`` alone when the paper gives one, else every target
it gives; where two tables give a figure for one metric, the one listed first in the paper-scores
file. A run no paper score matches shows the first of ``ccc_mean``, ``mae_mean``, …
(:data:`FALLBACK_KEYS`) of its own results. *Chance* is ``zoo baseline`` of the same recipe
(``--baselines``); a CCC without a baseline run is 0 by definition (a constant predictor has no
covariance with the labels).

The page records the runs it was made from: regenerate it with ``bash scripts/results.sh``. Our
scores come from the synthetic corpora unless the runs' ``data.args.root`` points at a real corpus,
so they show that a recipe learns, not that it matches the paper's figure.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

__all__ = [
    "PaperScore",
    "RunRecord",
    "Headline",
    "load_paper_scores",
    "find_runs",
    "headline",
    "build_report",
    "build_details",
    "write_report",
]

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
#: an absolute path (or one under ~) in a ``key=value`` text: never shown (no machine paths)
_PATH = re.compile(r"(?<=[=\[,])(?:/|~)[^,\]\s]*")


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
    from zoo.config.recipe import load_recipe

    try:
        base = _flatten(load_recipe(recipe_path))
    except Exception:  # the recipe moved or was deleted since the run: show nothing rather than guess
        return ()
    out = []
    for key in sorted(set(flat) | set(base)):
        if any(key == b.rstrip(".") or (b.endswith(".") and key.startswith(b)) for b in _BOOKKEEPING):
            continue
        if key not in flat and any(k.startswith(f"{key}.") for k in flat):
            continue  # an empty mapping of the recipe the run filled: its entries are listed
        if flat.get(key, _MISSING) != base.get(key, _MISSING):
            value = flat.get(key, None)
            text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)
            out.append(_PATH.sub("<path>", f"{key}={text.replace(chr(34), '')}"))
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


# --------------------------------------------------------------------------- the results page
#: metric families in headline order, and how the page names them
FAMILIES = {
    "ccc": "CCC",
    "mae": "MAE",
    "pearson": "Pearson r",
    "rmse": "RMSE",
    "acc2": "binary acc.",
    "acc4": "4-class acc.",
}
#: result prefixes in headline order, and how the page names them
STAGES = {"val_postprocessed": "dev, post-processed", "val": "dev", "test": "test"}
#: headline of a run that no paper score matches: the first of these its results hold
FALLBACK_KEYS = ("val_postprocessed/ccc_mean", "val/ccc_mean", "test/ccc_mean", "test/mae_mean", "val/mae_mean")
#: settings that make a paper variant of a recipe (shown in its label); other differences of a run
#: from its recipe (epochs, sizes, rates of the synthetic-corpus rows) are on the detail page only
VARIANT_KEYS = (
    "model.name",
    "data.args.features",
    "data.args.modalities",
    "data.args.targets",
    "data.args.interlocutor",
    "model.args.freeze",
    "model.args.n_stages",
    "model.args.context",
)


@dataclass
class Headline:
    """A run's row on the results page: the paper's headline scores that match it, and ours."""

    run: RunRecord
    keys: list[str]
    paper: list[PaperScore]

    @property
    def corpus(self) -> str:
        return self.run.recipe.split("/")[0]

    @property
    def variant(self) -> str:
        """The recipe's name plus the differences that make a paper variant of it."""
        name = self.run.recipe.split("/", 1)[1]
        keep = [d for d in self.run.differences if d.split("=")[0] in VARIANT_KEYS]
        return f"{name} ({', '.join(keep)})" if keep else name

    @property
    def family(self) -> str:
        """The headline's metric family as the page names it (``CCC``, ``MAE``, …)."""
        if not self.keys:
            return "–"
        family = self.keys[0].split("/", 1)[1].rsplit("_", 1)[0]
        return FAMILIES.get(family, family)

    @property
    def metric(self) -> str:
        """``dev CCC arousal / valence`` (with the paper's source when there is one)."""
        if not self.keys:
            return "–"
        stage, rest = self.keys[0].split("/", 1)
        family = rest.rsplit("_", 1)[0]
        targets = " / ".join(k.split("/", 1)[1][len(family) + 1 :] for k in self.keys)
        text = f"{STAGES.get(stage, stage)} {FAMILIES.get(family, family)} {targets}"
        sources = sorted({s.source.split(",")[0] for s in self.paper})
        return f"{text} ({', '.join(sources)})" if sources else text

    def ours(self) -> list[float | None]:
        return [self.run.results.get(k) for k in self.keys]

    def paper_values(self) -> list[float | None]:
        by_key = {s.metric: s.value for s in self.paper}
        return [by_key.get(k) for k in self.keys]


def headline(run: RunRecord, paper_scores: Sequence[PaperScore]) -> Headline:
    """The headline of ``run`` (see the module docstring)."""
    matching = [s for s in paper_scores if s.matches(run)]

    def rank(score: PaperScore) -> tuple[int, int]:
        stage, rest = score.metric.split("/", 1)
        family = rest.rsplit("_", 1)[0]
        families, stages = list(FAMILIES), list(STAGES)
        return (
            families.index(family) if family in families else len(families),
            stages.index(stage) if stage in stages else len(stages),
        )

    if matching:
        best = min(rank(s) for s in matching)
        chosen = [s for s in matching if rank(s) == best]
        means = [s for s in chosen if s.metric.endswith("_mean")]
        chosen = means or chosen
        # one figure per metric: where two of the paper's tables give one (Williams et al. 2018's
        # Tables 4 and 5), the one listed first in the paper-scores file is the headline
        firsts: dict[str, PaperScore] = {}
        for score in chosen:
            firsts.setdefault(score.metric, score)
        chosen = list(firsts.values())
        return Headline(run, [s.metric for s in chosen], chosen)
    key = next((k for k in FALLBACK_KEYS if k in run.results), None)
    if key is None:
        key = next((k for k in sorted(run.results) if k.startswith(("val/", "test/")) and "/loss" not in k), "")
    return Headline(run, [key] if key else [], [])


def _values(values: Sequence[float | None]) -> str:
    return " / ".join(_fmt(v) for v in values) if values else "–"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _chance(head: Headline, baselines: Mapping[str, RunRecord]) -> list[float | None]:
    base = baselines.get(head.run.recipe)
    out = []
    for key in head.keys:
        value = base.results.get(key) if base else None
        out.append(0.0 if value is None and "/ccc_" in key else value)
    return out


def _anchor(text: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _corpus_title(corpus: str) -> str:
    """``RECOLA (AVEC 2016)``: the opening words of the corpus reader's docstring, else the name."""
    try:
        from zoo.data.registry import corpus_class

        doc = inspect.getdoc(inspect.getmodule(corpus_class(corpus))) or ""
    except Exception:  # an unknown or derived corpus: its folder name
        return corpus
    first = doc.splitlines()[0] if doc else ""
    return first.split(":")[0].strip() or corpus


def _headings(heads: Sequence[Headline]) -> dict[int, str]:
    """The detail-page heading of each run (``variant``, numbered when a variant repeats)."""
    seen: dict[str, int] = {}
    out = {}
    for i, head in enumerate(heads):
        seen[head.variant] = seen.get(head.variant, 0) + 1
        out[i] = head.variant if seen[head.variant] == 1 else f"{head.variant} #{seen[head.variant]}"
    return out


def _by_corpus(heads: Sequence[Headline]) -> dict[str, list[Headline]]:
    groups: dict[str, list[Headline]] = {}
    for head in heads:
        groups.setdefault(head.corpus, []).append(head)
    return groups


def build_report(
    runs: Sequence[RunRecord],
    baselines: Sequence[RunRecord] = (),
    paper_scores: Sequence[PaperScore] | None = None,
    details_dir: str = "results",
) -> str:
    """The results page (Markdown, without its title block).

    Args:
        runs: trained runs (``zoo fit``).
        baselines: ``zoo baseline`` runs; matched to a run by recipe name.
        paper_scores: the papers' numbers (default: every file of ``zoo/reports/paper_scores``).
        details_dir: folder (relative to the page) of the per-corpus figures and detail pages.

    Returns:
        Per corpus: a heading, its figure and a table of one row per run.
    """
    paper_scores = load_paper_scores() if paper_scores is None else list(paper_scores)
    base = _baselines_by_recipe(baselines)
    sections = []
    for corpus, heads in _by_corpus([headline(r, paper_scores) for r in runs]).items():
        headings = _headings(heads)
        lines = [
            f"## {_corpus_title(corpus)}",
            "",
            f"![{corpus}: our headline score beside chance]({details_dir}/{corpus}.svg)",
            "",
            "| run | paper's headline metric | paper | ours (synthetic) | chance | all metrics |",
            "|---|---|---|---|---|---|",
        ]
        for i, head in enumerate(heads):
            link = f"{details_dir}/{corpus}.md#{_anchor(headings[i])}"
            lines.append(
                f"| `{head.variant}` | {head.metric} | {_values(head.paper_values()) if head.paper else '–'} | "
                f"{_values(head.ours())} | {_values(_chance(head, base))} | [{corpus} #{i + 1}]({link}) |"
            )
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _baselines_by_recipe(baselines: Sequence[RunRecord]) -> dict[str, RunRecord]:
    out: dict[str, RunRecord] = {}
    for b in baselines:
        out.setdefault(b.recipe, b)
    return out


def build_details(
    runs: Sequence[RunRecord],
    baselines: Sequence[RunRecord] = (),
    paper_scores: Sequence[PaperScore] | None = None,
) -> dict[str, str]:
    """Per corpus, the detail page (Markdown): per run its differences from the recipe, every
    result (ours, with chance in parentheses) and the paper scores that match it; then the
    paper scores that no run matches."""
    paper_scores = load_paper_scores() if paper_scores is None else list(paper_scores)
    base = _baselines_by_recipe(baselines)
    heads = [headline(r, paper_scores) for r in runs]
    pages = {}
    for corpus, group in _by_corpus(heads).items():
        headings = _headings(group)
        lines = [
            f"# {_corpus_title(corpus)}: every metric of every run",
            "",
            "Back to [the results](../results.md).",
            "",
        ]
        for i, head in enumerate(group):
            run = head.run
            differs = ", ".join(f"`{d}`" for d in run.differences) or "nothing (the recipe as shipped)"
            lines += [f"## {headings[i]}", "", f"Recipe `{run.recipe}`; the run differs from it in: {differs}.", ""]
            lines += _results_table(run, base.get(run.recipe))
            matched = [s for s in paper_scores if s.matches(run)]
            if matched:
                lines += ["", "The paper's figures for this configuration:", ""]
                lines += [f"* `{s.metric}` {_fmt(s.value)} — {s.paper}, {s.source}" for s in matched]
            lines.append("")
        unmatched = [
            s for s in paper_scores if s.recipe.startswith(f"{corpus}/") and not any(s.matches(h.run) for h in group)
        ]
        if unmatched:
            lines += ["## Paper figures without a run here", ""]
            lines += [
                f"* `{s.recipe}` {('`' + ' '.join(s.overrides) + '`') if s.overrides else '(as shipped)'}: "
                f"`{s.metric}` {_fmt(s.value)} — {s.paper}, {s.source}"
                for s in unmatched
            ]
            lines.append("")
        pages[corpus] = "\n".join(lines)
    return pages


def _results_table(run: RunRecord, baseline: RunRecord | None) -> list[str]:
    """Rows ``stage metric`` × columns targets (and mean): ``ours (chance)``."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    targets: list[str] = []
    for key in sorted(run.results):
        if "/" not in key or key.endswith("_std") or "_" not in key.split("/", 1)[1]:
            continue
        stage, rest = key.split("/", 1)
        family, target = rest.rsplit("_", 1)
        chance = baseline.results.get(key) if baseline else None
        cells.setdefault((stage, family), {})[target] = _fmt(run.results[key]) + (
            f" ({_fmt(chance)})" if chance is not None else ""
        )
        if target != "mean" and target not in targets:
            targets.append(target)
    columns = targets + ["mean"]
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for (stage, family), row in cells.items():
        lines.append(f"| {stage} {family} | " + " | ".join(row.get(c, "") for c in columns) + " |")
    return lines


def write_report(run_folders: Sequence[Path], output: Path | None, baseline_folders: Sequence[Path] = ()) -> str:
    """Build the results page from run folders and write it, with its detail pages and figures in
    ``<output's folder>/results/`` (or return the page only, without ``output``)."""
    runs = find_runs(run_folders)
    if not runs:
        raise FileNotFoundError(f"no run folder (config.yaml + results.json) under {', '.join(map(str, run_folders))}")
    baselines = find_runs(baseline_folders) if baseline_folders else []
    text = (
        "# Results: the papers' headline scores beside ours\n\n"
        "Written by `zoo report` — regenerate everything on this page with `bash scripts/results.sh`; "
        "do not edit by hand.\n\n"
        "*paper*: the figure the paper reports on the **real** corpus (its table in the metric column). "
        "*ours*: the run's score on the **synthetic** corpus of the recipe (the run named in the first "
        "column, with the shorter training of the recipe tables `tests/recipes/*.csv`); it shows that the "
        "recipe learns, not that it reproduces the paper's figure, which needs the licensed corpus. "
        "*chance*: `zoo baseline` of the same recipe (random draws of the training labels; CCC 0 for a "
        "constant predictor). Several figures in a cell are the targets the paper reports "
        "(e.g. arousal / valence). Each row links to every metric of its run.\n\n" + build_report(runs, baselines)
    )
    if output is not None:
        from zoo.reports.figures import corpus_figure

        output = Path(output)
        folder = output.parent / "results"
        folder.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        scores = load_paper_scores()
        for corpus, page in build_details(runs, baselines, scores).items():
            (folder / f"{corpus}.md").write_text(page)
        base = _baselines_by_recipe(baselines)
        for corpus, heads in _by_corpus([headline(r, scores) for r in runs]).items():
            corpus_figure(
                [(h.variant, h.family, h.ours(), _chance(h, base)) for h in heads],
                _corpus_title(corpus),
                folder / f"{corpus}.svg",
            )
    return text
