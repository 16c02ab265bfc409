"""Running a resolved recipe: build the datamodule, the task and Lightning's Trainer, then fit,
validate, test or predict. One run writes one folder::

    runs/<run_name>/
      config.yaml            the resolved recipe (defaults ← recipe ← overrides)
      checkpoints/best.ckpt  best on checkpoint.monitor (val/ccc_mean), and last.ckpt
                             (swa.ckpt: the averaged weights, with callbacks.swa)
      logs/metrics.csv       Lightning's CSV log (logger=csv; tensorboard/ and wandb/ for the others)
      plots/                 learning curves, gold vs prediction of a few recordings (zoo.runner.plots)
      predictions/<partition>/...   test predictions in the corpus's own format
      bundle/                with export_bundle=true: the bundle of the evaluated checkpoint
      results.json           final metrics of the command

``trainer.*`` is handed to Lightning's Trainer as it is (any of its arguments; a string
``trainer.profiler`` writes its report into the run folder), ``callbacks.*`` adds Lightning's
callbacks and ``logger`` one or several loggers (:mod:`zoo.config.trainer_args`, :mod:`zoo.training.loggers`).

Under DDP, Lightning re-launches the command line in each process; the run folder chosen by the
first process travels to the others in the ``AFFECT_ZOO_RUN_DIR`` environment variable.

A run folder is named ``<recipe>[-<model>][-seed<N>]-<command>-<time>``: the model when it is not
the recipe's own (an ablation with ``model.name=...``), the seed when it is not 0. ``zoo fit
RECIPE ckpt=<run>/checkpoints/last.ckpt`` resumes *into* ``<run>``: the checkpoint callback keeps
its best score, the CSV log grows, and with ``trainer.deterministic=true`` the result equals the
uninterrupted run's bit for bit (the shuffle order depends only on seed and epoch, and
:class:`~zoo.training.callbacks.RandomStateCheckpoint` restores the random states). A command that fails
leaves a ``FAILED`` file with the error in its run folder (or no folder, if nothing was written
but ``config.yaml``); one stopped by SIGTERM leaves ``INTERRUPTED`` and raises
:class:`~zoo.errors.RunInterrupted`.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, StochasticWeightAveraging
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from torch.utils.data import DataLoader

from zoo.config.checkpoint import reconcile_with_checkpoint
from zoo.config.preflight import check_monitors, check_names, check_values
from zoo.config.trainer_args import build_callbacks
from zoo.data._sequence import SequenceDataset, collate_sequences
from zoo.errors import ConfigError, RunInterrupted
from zoo.hub.checkpoint_io import read_model_files, resume_checkpoint, store_postprocessor, task_from_checkpoint
from zoo.models.registry import is_estimator
from zoo.runner.run_io import build_datamodule, format_results, save_config, save_json
from zoo.training.callbacks import CorpusPredictionWriter, RandomStateCheckpoint
from zoo.training.loggers import build_loggers, log_run_outputs
from zoo.training.metrics import build_metric
from zoo.training.postprocess import fit_postprocessor
from zoo.training.seeds import run_seeds
from zoo.training.task import EmotionTask, ProvidesFeatureEncoders

__all__ = ["run_command", "make_run_dir", "build_trainer", "format_results"]

RUN_DIR_ENV = "AFFECT_ZOO_RUN_DIR"

#: Library messages known to be harmless for these runs, filtered so that what remains on stderr
#: is worth reading (each with the reason it does not apply).
_HARMLESS_WARNINGS = (
    # Lightning 2.6 calls a torch.utils._pytree API that torch 2.11 deprecated; nothing of ours
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # EmotionTask logs epoch-level values only (on_step=False), so the step interval never matters
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    # a resumed fit writes into its own run folder's checkpoints/ on purpose
    r"Checkpoint directory .* exists and is not empty",
)


class _DropAdvertisement(logging.Filter):
    """Lightning logs an advertisement for its cloud logger on every Trainer; not a diagnostic."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return not str(record.getMessage()).startswith("💡 Tip")


def quiet_library_noise() -> None:
    """Install the filters above (idempotent)."""
    for pattern in _HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropAdvertisement) for f in log.filters):
            log.addFilter(_DropAdvertisement())


def run_stem(cfg: Mapping[str, Any], command: str, when: str | None = None) -> str:
    """``<recipe>[-<model>][-seed<N>]-<command>-<time>`` (``when`` instead of the time when
    given), or ``run_name`` when given."""
    if cfg.get("run_name"):
        return str(cfg["run_name"])
    recipe = Path(cfg["recipe"])
    parts = [recipe.stem]
    try:
        recipe_model = OmegaConf.select(OmegaConf.load(recipe), "model.name")
    except Exception:  # the recipe was read moments ago; never fail a run over its name
        recipe_model = None
    if cfg["model"]["name"] != recipe_model:
        parts.append(str(cfg["model"]["name"]))
    if cfg.get("seeds"):
        parts.append("seeds" + "_".join(str(s) for s in cfg["seeds"]))
    elif int(cfg.get("seed", 0)) != 0:
        parts.append(f"seed{cfg['seed']}")
    return "-".join([*parts, command, when or f"{datetime.now():%Y%m%d-%H%M%S}"])


def resume_run_dir(cfg: Mapping[str, Any], command: str) -> Path | None:
    """The run folder a ``fit`` resumes into: the one holding ``ckpt`` (``<run>/checkpoints/x.ckpt``)."""
    if command != "fit" or not cfg.get("ckpt"):
        return None
    run_dir = Path(cfg["ckpt"]).expanduser().resolve().parent.parent
    if (run_dir / "config.yaml").is_file() and Path(cfg["ckpt"]).expanduser().resolve().parent.name == "checkpoints":
        return run_dir
    return None


def make_run_dir(cfg: Mapping[str, Any], command: str) -> Path:
    """A fresh run folder (never an existing one), shared by all DDP processes (also those a
    cluster launcher started: :mod:`zoo.runner.launch`)."""
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited:
        return Path(inherited)
    resumed = resume_run_dir(cfg, command)
    if resumed is not None:
        os.environ[RUN_DIR_ENV] = str(resumed)
        return resumed
    output = Path(cfg["output_dir"]).expanduser()

    def fresh() -> Path:
        base = output / run_stem(cfg, command)
        output.mkdir(parents=True, exist_ok=True)
        for n in itertools.count():
            run_dir = base.with_name(f"{base.name}-{n}") if n else base
            try:  # mkdir is the claim: two processes starting in the same second get two folders
                run_dir.mkdir()
            except FileExistsError:
                continue
            return run_dir
        raise AssertionError("unreachable")

    from zoo.runner.launch import cluster_launcher, launch_tag, shared_run_dir

    if cluster_launcher() is None:
        run_dir = fresh()
    else:
        run_dir = shared_run_dir(fresh, output / run_stem(cfg, command, when=launch_tag()))
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    return run_dir


def attach_feature_encoders(task: EmotionTask, datamodule: Any) -> None:
    """Let the datamodule apply the network's frozen feature encoders once per recording and
    cache their outputs with the corpus (e.g. a frozen speech encoder, ``model.args.freeze=all``)."""
    if not isinstance(task.net, ProvidesFeatureEncoders):
        return
    for name, encoder in task.net.feature_encoders().items():
        datamodule.attach_feature_encoder(name, encoder)
        rank_zero_info(f"feature set {name!r}: frozen encoder outputs computed once and cached with the corpus")


def build_task(cfg: Mapping[str, Any], data_spec: Mapping[str, Any]) -> EmotionTask:
    """A fresh :class:`EmotionTask` for the recipe's model.

    Raises:
        ConfigError: ``model.args`` the model does not take, or ``loss`` settings that do not fit
            the targets.
    """
    try:
        return _new_task(cfg, data_spec)
    except TypeError as err:
        if "unexpected keyword" not in str(err) and "missing" not in str(err):
            raise
        raise ConfigError(f"model.args of {cfg['model']['name']!r}: {err}") from err
    except ValueError as err:
        if not str(err).startswith(("loss", "unknown loss", "optimizer")) and "loss weights" not in str(err):
            raise
        raise ConfigError(str(err)) from err


def _new_task(cfg: Mapping[str, Any], data_spec: Mapping[str, Any]) -> EmotionTask:
    return EmotionTask(
        model=cfg["model"]["name"],
        data_spec=dict(data_spec),
        model_args=dict(cfg["model"]["args"]),
        loss=dict(cfg["loss"]),
        metrics=list(cfg["metrics"]),
        optimizer=dict(cfg["optimizer"]),
        scheduler=dict(cfg["scheduler"]),
        recipe=dict(cfg),
        loaded_files=read_model_files(cfg["model"]["name"], cfg["model"]["args"]),
    )


def _rows_before(metrics_csv: Path, ckpt: str) -> list[dict[str, float]]:
    """The CSV log rows of the epochs ``ckpt`` completed (a resumed run logs the later ones again)."""
    import csv

    from zoo.hub.checkpoint_io import read_checkpoint

    state = read_checkpoint(ckpt)
    last_epoch, steps = int(state.get("epoch", -1)), int(state.get("global_step", 0))
    rows = []
    with metrics_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            values = {k: float(v) for k, v in row.items() if v not in ("", None)}
            epoch = values.get("epoch")
            if (epoch is not None and epoch <= last_epoch) or (epoch is None and values.get("step", steps) < steps):
                for key in ("epoch", "step"):  # written as integers, as Lightning does
                    if key in values:
                        values[key] = int(values[key])
                rows.append(values)
    return rows


def _keep_csv_rows(logger: CSVLogger, run_dir: Path, resume_from: str) -> None:
    """A resumed run keeps the CSV rows of the epochs its checkpoint completed.

    Lightning's CSV writer deletes an existing ``metrics.csv``; the rows are put back into the
    writer, which appends the later epochs to them.
    """
    metrics_csv = run_dir / "logs" / "metrics.csv"
    if not metrics_csv.is_file() or rank_zero_only.rank != 0:
        return
    rows = _rows_before(metrics_csv, resume_from)
    for old in (metrics_csv, run_dir / "logs" / "hparams.yaml"):
        old.unlink(missing_ok=True)
    logger.experiment.metrics[:0] = rows


def _loggers(cfg: Mapping[str, Any], run_dir: Path, resume_from: str | None = None) -> list[Logger]:
    """The recipe's loggers (:func:`zoo.training.loggers.build_loggers`), a resumed CSV log kept."""
    loggers = build_loggers(cfg, run_dir)
    for logger in loggers:
        if resume_from and isinstance(logger, CSVLogger):
            _keep_csv_rows(logger, run_dir, resume_from)
    return loggers


def _profiler(value: Any, run_dir: Path) -> Any:
    """``trainer.profiler=simple|advanced|pytorch`` writes ``<stage>-profile.txt`` into the run folder."""
    from pytorch_lightning.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler

    kinds = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}
    if isinstance(value, str) and value in kinds:
        return kinds[value](dirpath=str(run_dir), filename="profile")
    return value  # anything else is Lightning's to accept or refuse


def build_trainer(
    cfg: Mapping[str, Any], run_dir: Path, fitting: bool, extra_callbacks: Sequence[pl.Callback] = ()
) -> pl.Trainer:
    """Lightning's Trainer with the recipe's settings, callbacks and loggers.

    Every ``trainer.*`` key is a Trainer argument (checked when the recipe was loaded); the
    arguments zoo owns (``logger``, ``callbacks``, ...) come from their own recipe keys;
    ``extra_callbacks`` are a caller's own (e.g. a sweep's pruning callback).
    """
    trainer_args = {k: v for k, v in cfg["trainer"].items() if v is not None}
    if "profiler" in trainer_args:
        trainer_args["profiler"] = _profiler(trainer_args["profiler"], run_dir)
    loggers = _loggers(cfg, run_dir, resume_from=cfg.get("ckpt") if fitting else None)
    callbacks: list[pl.Callback] = [CorpusPredictionWriter(run_dir / "predictions")]
    if fitting:
        callbacks.append(RandomStateCheckpoint())
        ck = cfg["checkpoint"]
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / "checkpoints",
                filename="best",
                monitor=ck["monitor"],
                mode=ck["mode"],
                save_last=ck["save_last"],
                auto_insert_metric_name=False,
            )
        )
        es = cfg["early_stopping"]
        if es["enabled"]:
            callbacks.append(
                EarlyStopping(
                    monitor=es["monitor"], mode=es["mode"], patience=es["patience"], min_delta=es["min_delta"]
                )
            )
        callbacks += build_callbacks(cfg.get("callbacks"), has_logger=bool(loggers))
    callbacks += list(extra_callbacks)
    quiet_library_noise()
    # Lightning's summary table goes to stdout (among the results) and reports "Total FLOPs: 0"
    # for these models; one line on stderr instead (see _run), unless callbacks.model_summary asks
    trainer_args.setdefault("enable_model_summary", False)
    return pl.Trainer(
        default_root_dir=str(run_dir),
        logger=loggers or False,
        callbacks=callbacks,
        enable_checkpointing=fitting,
        # The datamodule places its own samplers under DDP (no duplicated eval recordings).
        use_distributed_sampler=False,
        **trainer_args,
    )


def print_results(text: str) -> None:
    """Results go to stdout, once (rank 0 under DDP); logs and warnings stay on stderr."""
    if rank_zero_only.rank == 0:
        print(text, flush=True)


def scoring_note(ckpt: str | None, postprocessor: Any, applied: bool) -> str:
    """What a results table scored: ``(scored: <ckpt> (epoch 3, step 120); no post-processing)``.

    ``applied``: whether the stage applies ``postprocessor`` (test and prediction do, the raw
    validation table does not).
    """
    if ckpt:
        from zoo.hub.checkpoint_io import read_checkpoint

        state = read_checkpoint(ckpt)
        where = f"{ckpt} (epoch {int(state.get('epoch', -1))}, step {int(state.get('global_step', 0))})"
    else:
        where = "the weights at the end of training (no checkpoint was kept)"
    if applied and postprocessor is not None:
        post = "post-processing fitted on val applied: " + "; ".join(postprocessor.describe().splitlines())
    elif postprocessor is not None:
        post = "raw predictions (the post-processing fitted on val is applied to test only)"
    else:
        post = "no post-processing"
    return f"(scored: {where}; {post})"


def _report(
    results: list[Mapping[str, float]], task: EmotionTask, stage: str, run_dir: Path, note: str = ""
) -> dict[str, float]:
    merged = {k: float(v) for r in results for k, v in r.items()}
    table = "\n".join([format_results(merged, task.target_names, stage), *([note] if note else [])])
    print_results(f"\n{table}\n")
    save_json(run_dir / "results.json", merged)
    return merged


def run_command(
    command: str,
    cfg: Mapping[str, Any],
    draws: int = 10,
    overrides: Sequence[str] = (),
    callbacks: Sequence[pl.Callback] = (),
) -> dict[str, Any]:
    """Execute ``fit``, ``validate``, ``test``, ``predict`` or ``baseline`` for a resolved recipe.

    Before any folder is made, the registry names and option values are checked, and with
    ``ckpt`` the keys the checkpoint fixes are taken from it
    (:func:`~zoo.config.checkpoint.reconcile_with_checkpoint`: ``config.yaml`` records what is
    used; a command-line override that contradicts the checkpoint is refused).

    Args:
        command: the ``zoo`` command.
        cfg: the resolved recipe.
        draws: ``baseline`` only: random draws to average (see :mod:`zoo.runner.baseline`).
        overrides: the command-line overrides ``cfg`` was resolved with.
        callbacks: Lightning callbacks added to the recipe's (a local sweep's pruning).

    Returns:
        ``{"run_dir": Path, "results": {...}, "best_ckpt": str | None}``.
    """
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    owns_run_dir = RUN_DIR_ENV not in os.environ
    fresh = owns_run_dir and resume_run_dir(cfg, command) is None
    check_names(cfg)  # before any folder is made
    check_values(cfg)
    cfg = reconcile_with_checkpoint(command, cfg, overrides)
    try:
        run_dir = make_run_dir(cfg, command)
        for stale in ("FAILED", "INTERRUPTED"):  # a resumed run starts over clean
            if rank_zero_only.rank == 0:
                (run_dir / stale).unlink(missing_ok=True)
        try:
            if command == "baseline":
                from zoo.runner.baseline import run_baseline

                return run_baseline(cfg, run_dir, draws=draws)
            if cfg.get("seeds") and command == "fit":
                return run_seeds(cfg, run_dir, lambda seed_cfg, seed_dir: _run(command, seed_cfg, seed_dir, callbacks))
            return _run(command, cfg, run_dir, callbacks)
        except SIGTERMException as err:  # Lightning's own exception is a SystemExit with status 0
            _mark_failed(run_dir, "INTERRUPTED", "stopped by SIGTERM", remove_if_empty=False)
            last = run_dir / "checkpoints" / "last.ckpt"
            hint = f"; resume with ckpt={last}" if last.is_file() else ""
            raise RunInterrupted(f"run {run_dir} was stopped by SIGTERM before it finished{hint}") from err
        except BaseException as err:
            _mark_failed(run_dir, "FAILED", f"{type(err).__name__}: {err}", remove_if_empty=fresh)
            raise
    finally:
        if owns_run_dir:  # the variable only links this run's DDP processes
            os.environ.pop(RUN_DIR_ENV, None)
        _finish_wandb()


def _mark_failed(run_dir: Path, marker: str, message: str, remove_if_empty: bool) -> None:
    """Remove a run folder that holds nothing but ``config.yaml``, or write ``marker`` into it."""
    if rank_zero_only.rank != 0 or not run_dir.is_dir():
        return
    if remove_if_empty and all(p.name == "config.yaml" for p in run_dir.iterdir()):
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
        return
    (run_dir / marker).write_text(message.rstrip() + "\n")


def _finish_wandb() -> None:
    """Close an open W&B run so its summary and files are written (offline runs too)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _run(command: str, cfg: Mapping[str, Any], run_dir: Path, callbacks: Sequence[pl.Callback] = ()) -> dict[str, Any]:
    pl.seed_everything(int(cfg["seed"]), workers=True, verbose=False)
    save_config(cfg, run_dir)
    if is_estimator(cfg["model"]["name"]):  # SVR baselines and SVR fusion: no Lightning loop
        from zoo.estimators.run import run_estimator_command

        return run_estimator_command(command, cfg, run_dir)
    out: dict[str, Any] = {"run_dir": run_dir, "results": {}, "best_ckpt": None}

    if command == "fit":
        datamodule = build_datamodule(cfg)
        check_monitors(cfg, datamodule.target_names)
        datamodule.prepare_data()
        task = build_task(cfg, datamodule.data_spec())
        attach_feature_encoders(task, datamodule)
        trainer = build_trainer(cfg, run_dir, fitting=True, extra_callbacks=callbacks)
        params = sum(p.numel() for p in task.parameters() if p.requires_grad)
        rank_zero_info(f"model {cfg['model']['name']}: {params:,} trainable parameters; run folder {run_dir}")
        # resuming: a local affect-zoo checkpoint, checked and read with weights_only=True only
        resume = resume_checkpoint(cfg["ckpt"]) if cfg.get("ckpt") else None
        trainer.fit(task, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        if cfg["trainer"].get("fast_dev_run"):
            return out
        best = _evaluated_checkpoint(trainer, run_dir)
        out["best_ckpt"] = best or None
        if best:
            task = task_from_checkpoint(best)
        validated = trainer.validate(task, datamodule=datamodule, verbose=False)
        out["results"].update(_report(validated, task, "val", run_dir, scoring_note(best, None, applied=False)))
        if cfg["postprocess"]["enabled"]:
            out["results"].update(_fit_postprocessing(cfg, task, datamodule, trainer, best, run_dir))
        if _has_labels(datamodule, "test"):
            note = scoring_note(best, task.postprocessor, applied=True)
            tested = trainer.test(task, datamodule=datamodule, verbose=False)
            out["results"].update(_report(tested, task, "test", run_dir, note))
        else:
            trainer.predict(task, datamodule=datamodule, return_predictions=False)
            rank_zero_info("test labels are not distributed: predictions written, no test score")
        _export_predictions(cfg, task, datamodule, trainer)
        if trainer.is_global_zero:
            out.update(_finish_fit(cfg, task, datamodule, trainer, out, run_dir))
        return out

    if not cfg.get("ckpt"):
        raise ValueError(f"`zoo {command}` needs a checkpoint: add ckpt=PATH")
    task = task_from_checkpoint(cfg["ckpt"])
    if not cfg["postprocess"]["enabled"]:
        task.postprocessor = None
    datamodule = build_datamodule(cfg, task.hparams["data_spec"])
    datamodule.prepare_data()
    attach_feature_encoders(task, datamodule)
    trainer = build_trainer(cfg, run_dir, fitting=False)
    if command == "validate":
        note = scoring_note(cfg["ckpt"], task.postprocessor, applied=False)
        out["results"] = _report(
            trainer.validate(task, datamodule=datamodule, verbose=False), task, "val", run_dir, note
        )
    elif command == "test":
        if not _has_labels(datamodule, "test"):
            raise RuntimeError(
                f"the test partition of {datamodule.corpus_name} at {datamodule.root} has no labels; "
                "it cannot be scored. Use `zoo predict` to write predictions."
            )
        note = scoring_note(cfg["ckpt"], task.postprocessor, applied=True)
        out["results"] = _report(trainer.test(task, datamodule=datamodule, verbose=False), task, "test", run_dir, note)
    elif command == "predict":
        trainer.predict(task, datamodule=datamodule, return_predictions=False)
        rank_zero_info(f"predictions written to {run_dir / 'predictions'}")
    else:
        raise ValueError(f"unknown command {command!r}")
    return out


def _evaluated_checkpoint(trainer: pl.Trainer, run_dir: Path) -> str:
    """The checkpoint ``zoo fit`` scores: ``best.ckpt``, or with SWA the averaged weights.

    :class:`~pytorch_lightning.callbacks.StochasticWeightAveraging` puts the average into the
    model when training ends, after the last checkpoint was written; it is saved as
    ``checkpoints/swa.ckpt``. Training stopped before SWA's last epoch (early stopping) leaves
    no average, and ``best.ckpt`` is scored.
    """
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    swa = next((c for c in trainer.callbacks if isinstance(c, StochasticWeightAveraging)), None)
    if swa is None:
        return best
    if trainer.max_epochs != -1 and trainer.current_epoch - 1 != swa.swa_end:
        rank_zero_warn(
            f"callbacks.swa: training stopped after epoch {trainer.current_epoch - 1}, before SWA's "
            f"last epoch {swa.swa_end} (early stopping?); scoring {best or 'the last weights'}"
        )
        return best
    path = run_dir / "checkpoints" / "swa.ckpt"
    trainer.save_checkpoint(path, weights_only=False)  # read back with weights_only loading all the same
    rank_zero_info(f"SWA: averaged weights saved as {path}; they are scored instead of best.ckpt")
    return str(path)


def _finish_fit(
    cfg: Mapping[str, Any],
    task: EmotionTask,
    datamodule: Any,
    trainer: pl.Trainer,
    out: Mapping[str, Any],
    run_dir: Path,
) -> dict[str, Any]:
    """Rank 0 after a fit: figures, the optional bundle, and what W&B is given."""
    plots = _write_plots(task, datamodule, run_dir, last_epoch=trainer.current_epoch - 1)
    bundle = None
    if cfg.get("export_bundle") and out.get("best_ckpt"):
        from zoo.hub.bundle import export_bundle

        bundle = export_bundle(out["best_ckpt"], run_dir / "bundle")
        rank_zero_info(f"bundle written to {bundle}")
    log_run_outputs(trainer.loggers, out["results"], task.target_names, plots=plots, bundle=bundle)
    return {"plots": plots, "bundle": bundle}


#: recordings whose gold standard and prediction ``plots/`` shows
PLOT_RECORDINGS = 3


def _write_plots(task: EmotionTask, datamodule: Any, run_dir: Path, last_epoch: int) -> list[Path]:
    """``plots/``: learning curves and, for frame-level corpora, gold vs prediction of a few
    test (or, without test labels, val) recordings. A plotting error is one warning line."""
    from zoo.runner.plots import plot_learning_curves, plot_recording_prediction

    plots: list[Path] = []
    try:
        metrics_csv = run_dir / "logs" / "metrics.csv"
        if metrics_csv.is_file():
            plots.append(plot_learning_curves(metrics_csv, run_dir / "plots" / "learning_curves.png", last_epoch))
        if datamodule.level == "frame":
            partition = "test" if _has_labels(datamodule, "test") else "val"
            recordings = datamodule.raw_recordings(partition)[:PLOT_RECORDINGS]
            preds, golds = predict_recordings(task, datamodule, partition, limit=PLOT_RECORDINGS)
            for rec, pred, gold in zip(recordings, preds, golds):
                plots.append(
                    plot_recording_prediction(
                        run_dir / "plots" / f"{partition}_{rec.id}.png",
                        rec.timestamps,
                        pred,
                        gold,
                        task.target_names,
                        f"{partition} recording {rec.id}",
                    )
                )
    except Exception as err:  # a figure is never worth a finished run
        print(
            f"warning: plots/ incomplete, drawing failed: {type(err).__name__}: {' '.join(str(err).split())}",
            file=sys.stderr,
        )
    return [p for p in plots if p is not None]


@torch.no_grad()
def predict_recordings(
    task: EmotionTask, datamodule: Any, stage_partition: str, limit: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Raw ``(T, K)`` predictions and labels of the recordings of a partition, in one process.

    Runs without a distributed sampler, so every DDP process gets the same, complete result.
    Each recording is delayed as the dataloaders do it (the datamodule's window preparer) and its
    features normalised as the validation step does it (:meth:`EmotionTask.normalize_batch`);
    ``limit`` keeps the first recordings only.
    """
    dataset = SequenceDataset(
        datamodule.raw_recordings(stage_partition)[:limit], len(task.target_names), prepare=datamodule.window_preparer()
    )
    loader = DataLoader(dataset, batch_size=datamodule.eval_batch_size, collate_fn=collate_sequences)
    was_training = task.training
    task.eval()
    preds, golds = [], []
    for batch in loader:
        batch = {
            **batch,
            "features": {n: x.to(task.device) for n, x in batch["features"].items()},
            "mask": batch["mask"].to(task.device),
        }
        batch = task.normalize_batch(batch)  # the features z-normalised as every step does it
        out = task(batch["features"], batch["mask"]).float().cpu().numpy()
        for b, length in enumerate(batch["mask"].sum(1).tolist()):
            preds.append(out[b, :length])
            golds.append(batch["targets"][b, :length].numpy())
    task.train(was_training)
    return preds, golds


def _fit_postprocessing(
    cfg: Mapping[str, Any], task: EmotionTask, datamodule: Any, trainer: pl.Trainer, best_ckpt: str, run_dir: Path
) -> dict[str, float]:
    """Fit the post-processing chain on val (never test), store it in the best checkpoint."""
    settings = cfg["postprocess"]
    preds, golds = predict_recordings(task, datamodule, "val")
    postprocessor = fit_postprocessor(
        preds,
        golds,
        task.target_names,
        datamodule.label_step,
        steps=settings["steps"],
        median_seconds=tuple(settings["median_seconds"]),
        max_shift_seconds=settings["max_shift_seconds"],
    )
    task.postprocessor = postprocessor
    if best_ckpt and trainer.is_global_zero:
        store_postprocessor(best_ckpt, postprocessor)
    rank_zero_info(f"post-processing fitted on val:\n{postprocessor.describe()}")
    results = {f"val_postprocessed/ccc_{t}": list(c.val_ccc.values())[-1] for t, c in postprocessor.targets.items()}
    results["val_postprocessed/ccc_mean"] = float(np.mean(list(results.values())))
    results.update(_postprocessed_metrics(cfg, postprocessor, preds, golds, task.target_names))
    note = scoring_note(best_ckpt, postprocessor, applied=True)
    print_results(f"\n{format_results(results, task.target_names, 'val_postprocessed')}\n{note}\n")
    save_json(run_dir / "results.json", results)
    return results


def _postprocessed_metrics(
    cfg: Mapping[str, Any],
    postprocessor: Any,
    preds: list[np.ndarray],
    golds: list[np.ndarray],
    target_names: list[str],
) -> dict[str, float]:
    """The recipe's other metrics (``pearson``, ``rmse``, …) of the post-processed val predictions,
    pooled over the partition's frames like the step's metrics (papers that smooth before scoring,
    e.g. Chen et al. 2017 Table 8, report PCC and RMSE after smoothing too)."""
    names = [m for m in cfg.get("metrics") or [] if m != "ccc"]
    if not names or not preds:
        return {}
    pred = torch.from_numpy(np.concatenate([postprocessor.apply(p, target_names) for p in preds]).astype(np.float32))
    gold = torch.from_numpy(np.concatenate(golds).astype(np.float32))
    mask = torch.ones(1, len(pred), dtype=torch.bool)
    out: dict[str, float] = {}
    for name in names:
        metric = build_metric(name, len(target_names))
        metric.update(pred[None], gold[None], mask)
        values = metric.compute().reshape(-1).tolist()
        out.update({f"val_postprocessed/{name}_{t}": float(v) for t, v in zip(target_names, values)})
        out[f"val_postprocessed/{name}_mean"] = float(np.mean(values))
    return out


def _export_predictions(cfg: Mapping[str, Any], task: EmotionTask, datamodule: Any, trainer: pl.Trainer) -> None:
    """Write predictions of the partitions in ``export_predictions`` besides test (e.g. for
    late fusion, which trains on the source models' own train/val predictions)."""
    for stage_partition in cfg["export_predictions"]:
        if stage_partition == "test":
            continue  # written while testing
        if stage_partition not in ("train", "val"):
            raise ValueError(f"export_predictions: unknown partition {stage_partition!r}; use train, val, test")
        datamodule.predict_partition = stage_partition
        trainer.predict(task, datamodule=datamodule, return_predictions=False)


def _has_labels(datamodule: Any, stage_partition: str) -> bool:
    return all(rec.targets is not None for rec in datamodule.raw_recordings(stage_partition))
