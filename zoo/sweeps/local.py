"""``zoo sweep FILE --local`` / ``--worker``: a W&B sweep file searched with Optuna, no W&B server.

The sweep file's parameters, method and early termination become an Optuna study
(:mod:`zoo.sweeps.space`) kept in a database: a SQLite file in the sweep folder by default, or any
SQL database URL Optuna's ``RDBStorage`` takes (``--storage postgresql://user@host/db``), so that
several processes — one per GPU, one per machine — work on one sweep::

    zoo sweep muse_car/sun2020 --local --count 20                   # one process, a new study
    zoo sweep muse_car/sun2020 --worker --count 20 --storage URL    # start as many as you like

Every worker trains the trials it takes with ``zoo fit`` in its own process (one trial per
number: the database hands each trial to one worker), reports the metric to the study after each
validation epoch (so ``early_terminate`` can stop a weak trial) and records the result; the next
proposal then learns from every worker's trials. A worker stops when the study holds ``--count``
trials (the total over all workers) or a grid is exhausted. One sweep folder holds::

    <output_dir>/<study>/
      study.db                     the Optuna study (SQLite; absent with --storage)
      study.db.lock                workers starting together take turns creating the study's tables
      trial001/ trial002/ ...      complete run folders (config.yaml, checkpoints, results.json)
      trials.csv                   every trial of the study, ranked by the metric (best first)
      trials.md                    the same as a Markdown table
      parallel_coordinates.png     each finished trial a line across the parameters, coloured by the metric
      history.png                  the metric of each trial in the order they were started, and the best so far

The tables and plots are written by each worker when it finishes, from the database, so the last
worker's cover all trials. Logging goes to CSV in every trial (a ``logger=wandb`` in the sweep's
command is for the W&B path); extra ``key=value`` overrides apply to every trial and are stored
with the study, so a worker joining it needs none.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from zoo.sweeps.space import SearchSpace, parse_space, quiet_optuna
from zoo.sweeps.sweep import (
    SweepError,
    fixed_overrides,
    format_value,
    load_sweep,
    recipe_of,
    resolve_sweep_path,
    validate_sweep,
)

__all__ = ["Trial", "run_local_sweep", "study_trials", "rank_trials", "plot_parallel_coordinates", "plot_history"]

DEFAULT_COUNT = 5
#: the study's settings, stored with it by the process that creates it
_ATTRS = ("sweep", "recipe", "overrides", "count", "seed")


@dataclass
class Trial:
    """One trial of the study and what its run gave."""

    name: str
    params: dict[str, Any]
    number: int = 0
    state: str = "complete"
    metric: float | None = None
    run_dir: Path | None = None
    worker: str = ""
    error: str | None = None
    results: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- the study
def _storage(url: str) -> Any:
    """Optuna's RDB storage for ``url`` (SQLite waits for a busy file instead of failing).

    Workers started together all try to create the study tables: for a SQLite file they take
    turns through a lock file beside it; for a database server a worker that loses the race
    (``IntegrityError`` or "table ... already exists") tries again and finds the tables made.
    """
    kwargs: dict[str, Any] = {"heartbeat_interval": 60, "grace_period": 180}
    if url.startswith("sqlite:"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    with _sqlite_creation_lock(url):
        for attempt in range(10):
            try:
                return _rdb_storage(url, kwargs)
            except ModuleNotFoundError as err:
                raise SweepError(
                    f"--storage {url}: the database driver {err.name!r} is not installed (e.g. pip install "
                    "psycopg2-binary for postgresql://, pymysql for mysql+pymysql://)"
                ) from None
            except Exception as err:  # sqlalchemy: bad URL, refused connection, no such database
                if _lost_creation_race(err) and attempt < 9:
                    time.sleep(0.5)  # another worker created the tables at the same moment: they exist now
                    continue
                raise SweepError(
                    f"--storage {url}: cannot open the database: {' '.join(str(err).split())[:300]}"
                ) from None
    raise AssertionError("unreachable")


def _rdb_storage(url: str, kwargs: Mapping[str, Any]) -> Any:
    import optuna

    with warnings.catch_warnings():  # the heartbeat (stale trials of a killed worker fail) is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, **kwargs)


def _lost_creation_race(err: Exception) -> bool:
    """Whether ``err`` is what a worker gets when another created the same tables a moment before."""
    return "IntegrityError" in type(err).__name__ or "already exists" in str(err)


@contextlib.contextmanager
def _sqlite_creation_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.lock`` while opening a SQLite ``url`` (no-op otherwise)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        yield
        return
    import fcntl

    lock_path = Path(url[len(prefix) :] + ".lock")
    if not lock_path.parent.is_dir():
        yield  # sqlalchemy names the missing folder in its own error
        return
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open_study(
    space: SearchSpace,
    storage: Any,
    name: str,
    settings: Mapping[str, Any],
    join: bool,
) -> tuple[Any, bool]:
    """Create the study, or (``join``) load the one of that name; returns ``(study, created)``."""
    import optuna

    common = {"sampler": space.sampler(int(settings["seed"])), "pruner": space.pruner()}
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=space.direction, **common)
    except optuna.exceptions.DuplicatedStudyError:
        if not join:
            raise SweepError(
                f"study {name!r} exists already in {storage.url}; add --worker to work on it, or give another --study"
            ) from None
        study = optuna.load_study(study_name=name, storage=storage, **common)
        return study, False
    for key in _ATTRS:
        study.set_user_attr(key, settings[key])
    return study, True


def _joined_settings(study: Any, settings: Mapping[str, Any], count: int | None) -> dict[str, Any]:
    """The settings a joining worker uses: the study's own, checked against this worker's."""
    stored: dict[str, Any] = {}
    for _ in range(60):  # the creating process writes them right after creating the study
        stored = dict(study.user_attrs)
        if all(k in stored for k in _ATTRS):
            break
        time.sleep(0.5)
    else:
        raise SweepError(f"study {study.study_name!r} is not an affect-zoo sweep (it has no sweep settings)")
    if json.dumps(stored["sweep"], sort_keys=True) != json.dumps(settings["sweep"], sort_keys=True):
        raise SweepError(f"study {study.study_name!r} was created from a different sweep file; give another --study")
    if settings["overrides"] and list(settings["overrides"]) != list(stored["overrides"]):
        raise SweepError(
            f"study {study.study_name!r} runs its trials with the overrides {stored['overrides']}; "
            "a worker joining it gives none or the same"
        )
    if count is not None and count != stored["count"]:
        study.set_user_attr("count", count)  # a worker may extend (or shorten) the sweep
        stored["count"] = count
    return stored


def _budget(study: Any, space: SearchSpace) -> int:
    count = int(study.user_attrs["count"])
    grid = space.grid_size()
    return min(count, grid) if grid is not None else count


def _surplus(trial: Any) -> bool:
    return bool(trial.user_attrs.get("surplus"))


# --------------------------------------------------------------------------- one trial
def _pruning_callback(trial: Any, metric: str) -> Any:
    """A Lightning callback reporting ``metric`` to the Optuna trial after each validation epoch
    of ``fit``, and stopping the training when the study's pruner says so."""
    import pytorch_lightning as pl
    from pytorch_lightning.trainer.states import TrainerFn

    class ReportToStudy(pl.Callback):
        pruned_at: int | None = None

        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
                return
            value = trainer.callback_metrics.get(metric)
            if value is None or not math.isfinite(float(value)):
                return
            epoch = trainer.current_epoch + 1
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                trainer.should_stop = True

    return ReportToStudy()


class _Objective:
    """Trains one trial per call; never raises (Optuna's failure logs would print tracebacks)."""

    def __init__(self, space: SearchSpace, settings: Mapping[str, Any], recipe: str, folder: Path, source: str) -> None:
        self.space, self.settings, self.recipe, self.folder, self.source = space, settings, recipe, folder, source
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.stop_error: BaseException | None = None
        self.ran: list[int] = []

    def __call__(self, trial: Any) -> float:
        import optuna

        study = trial.study
        earlier = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and not _surplus(t)]
        if len(earlier) >= _budget(study, self.space):  # two workers asked for the last trial at once
            trial.set_user_attr("surplus", True)
            study.stop()
            raise optuna.TrialPruned("the sweep has its trials")
        params = self.space.suggest(trial)
        name = f"trial{trial.number + 1:03d}"
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("run_dir", str((self.folder / name).resolve()))
        args = [f"{k}={format_value(v)}" for k, v in params.items()]
        args += [*fixed_overrides(self.settings["sweep"]), *self.settings["overrides"]]
        args += [f"output_dir={self.folder}", f"run_name={name}", "logger=csv", "seeds=null"]
        try:
            cfg = _trial_config(self.recipe, args, self.source, name)
        except SweepError as err:
            return self._stop(trial, err)
        callback = _pruning_callback(trial, self.space.metric)
        print(f"{name} ({self.worker}): " + " ".join(args[: len(params)]), file=sys.stderr, flush=True)
        from zoo.errors import RunInterrupted
        from zoo.runner.run import run_command

        try:
            out = run_command("fit", cfg, callbacks=[callback])
        except (KeyboardInterrupt, RunInterrupted) as err:
            return self._stop(trial, err)
        except Exception as err:  # a trial that diverges or crashes is recorded, the search goes on
            message = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            trial.set_user_attr("error", message)
            print(f"{name} failed: {message}", file=sys.stderr, flush=True)
            return float("nan")
        self.ran.append(trial.number)
        results = {k: float(v) for k, v in (out.get("results") or {}).items() if isinstance(v, (int, float))}
        trial.set_user_attr("results", results)
        value = results.get(self.space.metric)
        if value is None or not math.isfinite(value):
            trial.set_user_attr("error", f"the run logged no finite {self.space.metric}")
            return float("nan")
        print(f"{name}: {self.space.metric} {value:.4f}", file=sys.stderr, flush=True)
        if callback.pruned_at is not None:
            trial.set_user_attr("pruned_at_epoch", callback.pruned_at)
            raise optuna.TrialPruned(f"stopped after epoch {callback.pruned_at}")
        return value

    def _stop(self, trial: Any, err: BaseException) -> float:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        self.stop_error = err
        trial.study.stop()
        return float("nan")


def _trial_config(recipe: str, args: Sequence[str], source: str, name: str) -> dict[str, Any]:
    from zoo.config.recipe import ConfigError, load_recipe

    try:
        cfg = load_recipe(recipe, args)
    except ConfigError as err:
        raise SweepError(f"{source}: {name}: {err}") from err
    trainer = cfg["trainer"]
    if not _one_device(trainer.get("devices")):
        raise SweepError(
            f"{source}: trainer.devices={trainer.get('devices')}: a sweep trains each trial in one process; "
            "start one worker per GPU instead (CUDA_VISIBLE_DEVICES=i zoo sweep ... --worker)"
        )
    if int(trainer.get("num_nodes") or 1) != 1:
        raise SweepError(f"{source}: trainer.num_nodes must be 1 in a sweep; start one worker per machine instead")
    return cfg


def _one_device(devices: Any) -> bool:
    """Whether Lightning's ``devices`` value means one device (no DDP re-launch of the command)."""
    if isinstance(devices, list):
        return len(devices) == 1
    if isinstance(devices, str) and devices.strip() in ("auto", "-1"):
        import torch

        return torch.cuda.device_count() <= 1
    try:
        return int(devices) == 1
    except (TypeError, ValueError):  # "0,1"
        return False


# --------------------------------------------------------------------------- tables and plots
def study_trials(study: Any, metric: str) -> list[Trial]:
    """Every trial of the study (surplus ones, which never ran, left out), in trial order."""
    out = []
    for t in study.get_trials(deepcopy=False):
        if _surplus(t):
            continue
        attrs = t.user_attrs
        results = dict(attrs.get("results") or {})
        value = t.value if t.state.name == "COMPLETE" else None
        if t.state.name == "PRUNED":  # the score of its best checkpoint, as for the others
            value = results.get(metric)
        out.append(
            Trial(
                name=f"trial{t.number + 1:03d}",
                params=dict(t.params),
                number=t.number,
                state=t.state.name.lower(),
                metric=value,
                run_dir=Path(attrs["run_dir"]) if attrs.get("run_dir") else None,
                worker=str(attrs.get("worker", "")),
                error=attrs.get("error"),
                results=results,
            )
        )
    return out


def rank_trials(trials: Sequence[Trial], goal: str) -> list[Trial]:
    """Complete trials best first (``goal``: maximize | minimize), then pruned ones by the score
    they reached, then failed and running ones."""

    def ordered(state: str) -> list[Trial]:
        done = [t for t in trials if t.state == state and t.metric is not None and math.isfinite(t.metric)]
        return sorted(done, key=lambda t: t.metric, reverse=goal == "maximize")

    ranked = ordered("complete") + ordered("pruned")
    return ranked + [t for t in trials if t not in ranked]


def _write_tables(trials: Sequence[Trial], metric: str, folder: Path) -> None:
    params = sorted({k for t in trials for k in t.params})
    header = ["rank", "trial", "state", metric, *params, "worker", "run_dir", "error"]
    rows = []
    for rank, trial in enumerate(trials, 1):
        rows.append(
            [
                str(rank) if trial.state == "complete" and trial.metric is not None else "-",
                trial.name,
                trial.state,
                "" if trial.metric is None else f"{trial.metric:.6g}",
                *[format_value(trial.params.get(p, "")) for p in params],
                trial.worker,
                str(trial.run_dir or ""),
                trial.error or "",
            ]
        )
    with _atomic(folder / "trials.csv") as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    shown = len(header) - 3  # worker, run folder and error stay in the CSV
    lines = ["| " + " | ".join(header[:shown]) + " |", "|" + "---|" * shown]
    lines += ["| " + " | ".join(r[:shown]) + " |" for r in rows]
    with _atomic(folder / "trials.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary sibling to write, renamed onto ``path`` (workers finishing at once never
    leave a table or figure half written)."""
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with _atomic(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _finished(trials: Sequence[Trial]) -> list[Trial]:
    return [t for t in trials if t.metric is not None and math.isfinite(t.metric)]


def plot_parallel_coordinates(trials: Sequence[Trial], metric: str, goal: str, path: Path) -> Path | None:
    """One polyline per finished trial over the parameter axes (each scaled to [0, 1]; a
    categorical parameter takes the index of its value), coloured by the metric."""
    done = _finished(trials)
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
            levels = sorted({format_value(v) for v in raw})
            axes_values.append([levels.index(format_value(v)) / max(len(levels) - 1, 1) for v in raw])
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
    _save(fig, path)
    return path


def plot_history(trials: Sequence[Trial], metric: str, goal: str, path: Path) -> Path | None:
    """The metric of every finished trial by trial number (pruned ones hollow), and the best so far."""
    done = sorted(_finished(trials), key=lambda t: t.number)
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = np.array([t.number + 1 for t in done])
    values = np.array([t.metric for t in done], dtype=float)
    complete = np.array([t.state == "complete" for t in done])
    best = np.maximum.accumulate(values) if goal == "maximize" else np.minimum.accumulate(values)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.scatter(numbers[complete], values[complete], label="complete", color="C0")
    if (~complete).any():
        ax.scatter(numbers[~complete], values[~complete], label="pruned", facecolors="none", edgecolors="C1")
    ax.step(numbers, best, where="post", color="C2", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{len(done)} trials")
    ax.legend(fontsize=7)
    _save(fig, path)
    return path


def write_summary(study: Any, space: SearchSpace, folder: Path) -> list[Trial]:
    """``trials.csv``, ``trials.md`` and the two plots of every trial in the study; the ranked trials."""
    ranked = rank_trials(study_trials(study, space.metric), space.goal)
    _write_tables(ranked, space.metric, folder)
    plot_parallel_coordinates(ranked, space.metric, space.goal, folder / "parallel_coordinates.png")
    plot_history(ranked, space.metric, space.goal, folder / "history.png")
    return ranked


# --------------------------------------------------------------------------- entry point
def run_local_sweep(
    path: str | Path,
    count: int | None = None,
    output_dir: str | Path = "runs",
    seed: int = 0,
    overrides: Sequence[str] = (),
    storage: str | None = None,
    study_name: str | None = None,
    worker: bool = False,
) -> tuple[Path, list[Trial]]:
    """Search a sweep file with Optuna, in this process, until the study holds ``count`` trials.

    Args:
        path: the sweep YAML (W&B format, as ``zoo sweep`` takes it), or a shipped name.
        count: trials of the whole study (all workers together; a grid ends sooner when
            exhausted); default: the study's own when joining, else 5.
        output_dir: parent of the sweep folder.
        seed: seed of the search's own draws (the trials' training seed is the recipe's).
        overrides: ``key=value`` applied to every trial after the proposal's parameters.
        storage: a SQL database URL (default: ``sqlite:///<sweep folder>/study.db``).
        study_name: the study's name (default: the sweep file's name, with the date unless
            ``worker``).
        worker: join the study if it exists (several processes on one sweep), instead of
            starting a new one.

    Returns:
        The sweep folder and every trial of the study, ranked best first.

    Raises:
        SweepError: an invalid sweep file, a bad ``count``, a study that exists (without
            ``worker``) or belongs to another sweep, or a database that cannot be opened.
    """
    if count is not None and count < 1:
        raise SweepError(f"--count must be >= 1 for a local sweep, got {count}")
    path = resolve_sweep_path(path)
    config = load_sweep(path)
    recipe = validate_sweep(config, path)
    space = parse_space(config, str(path))
    stem = path.stem
    name = study_name or (stem if worker else f"{stem}-{datetime.now():%Y%m%d-%H%M%S}")
    folder = Path(output_dir).expanduser().resolve() / name
    folder.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{folder / 'study.db'}"
    settings = {
        "sweep": config,
        "recipe": recipe_of(config, str(path)),  # as written: each worker resolves it where it runs
        "overrides": list(overrides),
        "count": count if count is not None else (space.grid_size() or DEFAULT_COUNT),
        "seed": seed,
    }
    quiet_optuna()
    db = _storage(url)
    study, created = _open_study(space, db, name, settings, join=worker)
    if not created:
        settings = _joined_settings(study, settings, count)
        # a grid maps trial numbers to points by the creator's seed; random and Bayesian draws
        # need a stream of their own in each worker (the same seed would propose the same values)
        stored_seed = int(settings["seed"])
        study.sampler = space.sampler(stored_seed if space.method == "grid" else stored_seed + 1 + os.getpid())
    print(
        f"study {name!r} in {url}: {'created' if created else 'joined'}; up to {_budget(study, space)} trials"
        + (f"; more workers: zoo sweep {path} --worker --study {name} --storage {url}" if created else ""),
        file=sys.stderr,
        flush=True,
    )
    objective = _Objective(space, settings, recipe, folder, str(path))
    existing = [t for t in study.get_trials(deepcopy=False) if not _surplus(t)]
    if len(existing) < _budget(study, space):

        def stop_at_budget(study: Any, _trial: Any) -> None:
            if len([t for t in study.get_trials(deepcopy=False) if not _surplus(t)]) >= _budget(study, space):
                study.stop()

        study.optimize(objective, callbacks=[stop_at_budget], gc_after_trial=True)
    ranked = write_summary(study, space, folder)
    if objective.stop_error is not None:  # a trial that cannot be configured, or an interruption
        raise objective.stop_error
    return folder, ranked
