"""``zoo sweep FILE --local --count N``: a W&B sweep file searched on this machine, no server.

The same sweep file that ``zoo sweep FILE`` hands to W&B is searched here by W&B's own search
code (the ``sweeps`` package: grid, random and Bayesian search): each proposal is trained with
``zoo fit`` in-process, its result (the sweep's ``metric.name``, from the run's ``results.json``)
is passed back to the search as a finished run, and the next proposal is drawn — so a Bayesian
search learns from the trials before it, as W&B's controller would. One sweep folder holds::

    <output_dir>/<sweep>-local-<date>/
      trial001/ trial002/ ...      complete run folders (config.yaml, checkpoints, results.json)
      trials.csv                   one row per trial, ranked by the metric (best first)
      trials.md                    the same as a Markdown table
      parallel_coordinates.png     each trial a line across the parameters, coloured by the metric

Logging goes to CSV in every trial (a ``logger=wandb`` in the sweep's command is for the W&B
path); extra ``key=value`` overrides apply to every trial (e.g. ``trainer.max_epochs=5``).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from zoo.sweep import ARG_MACROS, SweepError, _format, _recipe_of, _sweeps_package, load_sweep, validate_sweep

__all__ = ["Trial", "run_local_sweep", "rank_trials", "plot_parallel_coordinates"]


@dataclass
class Trial:
    """One proposal of the search and what its run gave."""

    name: str
    params: dict[str, Any]
    metric: float | None = None
    run_dir: Path | None = None
    error: str | None = None
    results: dict[str, float] = field(default_factory=dict)


def _fixed_overrides(config: Mapping[str, Any]) -> list[str]:
    """The sweep command's own ``key=value`` parts after the recipe (``logger=`` dropped: CSV here)."""
    command = [str(c) for c in config.get("command", [])]
    after = command[command.index("fit") + 2 :]
    return [part for part in after if "=" in part and part not in ARG_MACROS and not part.startswith("logger=")]


def rank_trials(trials: Sequence[Trial], goal: str) -> list[Trial]:
    """Finished trials best first (``goal``: maximize | minimize), then failed ones."""
    done = [t for t in trials if t.metric is not None and math.isfinite(t.metric)]
    done.sort(key=lambda t: t.metric, reverse=goal == "maximize")
    return done + [t for t in trials if t not in done]


def _write_tables(trials: Sequence[Trial], metric: str, folder: Path) -> None:
    params = sorted({k for t in trials for k in t.params})
    header = ["rank", "trial", metric, *params, "run_dir", "error"]
    rows = []
    for rank, trial in enumerate(trials, 1):
        value = "" if trial.metric is None else f"{trial.metric:.6g}"
        rows.append(
            [
                str(rank) if trial.metric is not None else "-",
                trial.name,
                value,
                *[_format(trial.params.get(p, "")) for p in params],
                str(trial.run_dir or ""),
                trial.error or "",
            ]
        )
    with open(folder / "trials.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    lines = ["| " + " | ".join(header[:-2]) + " |", "|" + "---|" * (len(header) - 2)]
    lines += ["| " + " | ".join(r[:-2]) + " |" for r in rows]
    (folder / "trials.md").write_text("\n".join(lines) + "\n")


def plot_parallel_coordinates(trials: Sequence[Trial], metric: str, goal: str, path: Path) -> Path | None:
    """One polyline per finished trial over the parameter axes (each scaled to [0, 1]; a
    categorical parameter takes the index of its value), coloured by the metric."""
    done = [t for t in trials if t.metric is not None and math.isfinite(t.metric)]
    params = sorted({k for t in done for k in t.params})
    if not done or not params:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_values = []
    tick_labels = []
    for p in params:
        raw = [t.params.get(p) for t in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            lo, hi = float(min(raw)), float(max(raw))
            axes_values.append([(float(v) - lo) / (hi - lo) if hi > lo else 0.5 for v in raw])
            tick_labels.append(f"{p}\n[{lo:.3g}, {hi:.3g}]")
        else:
            levels = sorted({_format(v) for v in raw})
            axes_values.append([levels.index(_format(v)) / max(len(levels) - 1, 1) for v in raw])
            tick_labels.append(f"{p}\n{{{', '.join(levels)}}}")
    scores = np.array([t.metric for t in done], dtype=float)
    norm = matplotlib.colors.Normalize(scores.min(), scores.max() if scores.max() > scores.min() else scores.min() + 1)
    cmap = matplotlib.colormaps["viridis" if goal == "maximize" else "viridis_r"]
    fig, ax = plt.subplots(figsize=(max(4, 2.2 * len(params)), 4))
    xs = np.arange(len(params))
    for i, score in enumerate(scores):
        ax.plot(xs, [axis[i] for axis in axes_values], color=cmap(norm(score)), alpha=0.85, lw=1.5)
    ax.set_xticks(xs, tick_labels, fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(params) - 0.9)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    ax.set_title(f"{len(done)} trials")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_local_sweep(
    path: str | Path, count: int, output_dir: str | Path = "runs", seed: int = 0, overrides: Sequence[str] = ()
) -> tuple[Path, list[Trial]]:
    """Search a sweep file on this machine for ``count`` trials (fewer when a grid ends).

    Args:
        path: the sweep YAML (W&B format, as ``zoo sweep`` takes it).
        count: at most this many trials.
        output_dir: parent of the sweep folder.
        seed: seed of the search's own random draws (the trials' training seed is the recipe's).
        overrides: ``key=value`` applied to every trial after the proposal's parameters.

    Returns:
        The sweep folder and the trials ranked best first.

    Raises:
        SweepError: an invalid sweep file, or ``count < 1``.
    """
    from zoo.config import ConfigError, load_recipe
    from zoo.run import run_command

    if count < 1:
        raise SweepError(f"--count must be >= 1 for a local sweep, got {count}")
    config = load_sweep(path)
    validate_sweep(config, str(path), repo_root=Path.cwd())
    recipe = _recipe_of(config, str(path))
    metric = (config.get("metric") or {}).get("name") or "val/ccc_mean"
    goal = (config.get("metric") or {}).get("goal", "maximize")
    sweeps = _sweeps_package()
    import sweeps.params  # noqa: F811 - loads the submodule into the package checked above

    sweep_config = sweeps.SweepConfig(dict(config))
    folder = Path(output_dir).expanduser() / f"{Path(path).stem}-local-{datetime.now():%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=False)
    history: list[Any] = []
    trials: list[Trial] = []
    rng = random.Random(seed)
    np_state = np.random.RandomState(seed).get_state()
    for i in range(1, count + 1):
        # sweeps draws from the module-level `random` and NumPy's global generator: private
        # generators make the search reproducible whatever the trials do to the global ones
        outer_np_state = np.random.get_state()
        np.random.set_state(np_state)
        try:
            with mock.patch.object(sweeps.params, "random", rng):
                proposal = sweeps.next_run(sweep_config, history)
        finally:
            np_state = np.random.get_state()
            np.random.set_state(outer_np_state)
        if proposal is None:  # a grid is exhausted
            break
        params = {k: v["value"] for k, v in proposal.config.items()}
        trial = Trial(f"trial{i:03d}", params)
        trials.append(trial)
        args = [f"{k}={_format(v)}" for k, v in params.items()] + _fixed_overrides(config) + list(overrides)
        args += [f"output_dir={folder}", f"run_name={trial.name}", "logger=csv", "seeds=null"]
        try:
            cfg = load_recipe(recipe, args)
        except ConfigError as err:
            raise SweepError(f"{path}: trial {i}: {err}") from err
        try:
            out = run_command("fit", cfg)
        except Exception as err:  # a trial that diverges or crashes is recorded, the search goes on
            trial.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            state = sweeps.RunState.failed
        else:
            trial.run_dir = Path(out["run_dir"])
            trial.results = dict(out.get("results") or {})
            value = trial.results.get(metric)
            trial.metric = float(value) if value is not None else None
            if trial.metric is None:
                trial.error = f"the run logged no {metric}"
            state = sweeps.RunState.finished
        summary = {metric: trial.metric} if trial.metric is not None else {}
        proposal.state = state
        proposal.summary_metrics = summary
        proposal.history = [summary] if summary else []
        history.append(proposal)
    ranked = rank_trials(trials, goal)
    _write_tables(ranked, metric, folder)
    plot_parallel_coordinates(ranked, metric, goal, folder / "parallel_coordinates.png")
    return folder, ranked
