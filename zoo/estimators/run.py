"""Running non-neural estimators (SVR baselines, multistage SVR fusion) from a recipe.

``zoo fit RECIPE`` calls :func:`run_estimator_command` instead of Lightning when the recipe's
model is registered with ``@register_model(estimator=True)``. The variant function returns an object with
this protocol::

    input_level: str        "frame" (prepared frame features), "turn" (one sample per subject
                            turn, SEWA's ``turn_data``) or "sources" (the predictions that
                            earlier runs exported, for late fusion)
    fit_stage: str          "train" (baselines) or "val" (fusion, fitted on devel)
    sources: list[str]      run folders (input_level "sources" only)
    fit(inputs, targets)    lists of per-recording arrays (N_r, D) and (N_r, K)
    predict(inputs)         list of (N_r, K) arrays
    get_state() -> (arrays: dict[str, np.ndarray], meta: JSON-able dict)
    set_state(arrays, meta)
    cv_predictions_         optional: honest (cross-validated) predictions of the fit inputs,
                            used to score the fit stage instead of in-sample predictions
    stage_scores_           optional: {stage number: (K,) CCC per target} reported per stage

Scores are :func:`zoo.ccc.concordance_cc` pooled over all frames of a partition, written to
``results.json`` under the Lightning path's keys (``val/ccc_<target>``, ``val/ccc_mean``,
``test/...``) and printed with :func:`zoo.runner.run.format_results`. Predictions go through the
datamodule's ``write_predictions`` (``predictions/<corpus partition>/``).

Post-processing (``postprocess.enabled``, e.g. Chen et al. 2017's smoothing by averaging, §5.2)
is fitted on the val predictions after the estimator is fitted, exactly as for the Lightning
models (:func:`zoo.training.postprocess.fit_postprocessor`; never on test): val is scored before it
(``val/…``) and after it (``val_postprocessed/…``), test and predict outputs go through it, and it
is saved as ``checkpoints/postprocess.json`` beside the estimator (read back by the other
commands).

Fitted estimators are saved without pickle: ``checkpoints/estimator.npz`` (plain arrays,
loaded with ``allow_pickle=False``) and ``checkpoints/estimator.json`` (model name, its
arguments, the datamodule's ``data_spec``, hyper-parameters). :func:`load_estimator` rebuilds the
scikit-learn objects from them; :class:`SVRBank` stores, per target, the StandardScaler's
``mean_``/``scale_``/``var_`` and the SVR's support vectors, dual coefficients and intercept
(``LinearSVR``: ``coef_`` and ``intercept_``; :mod:`zoo.estimators.svr`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from zoo.estimators.svr import ccc_per_target
from zoo.models.registry import create_model
from zoo.training.postprocess import PostProcessor, fit_postprocessor

__all__ = [
    "load_estimator",
    "run_estimator_command",
    "save_estimator",
]

FORMAT_VERSION = 1


# --------------------------------------------------------------------------- save / load
def save_estimator(
    folder: str | Path, estimator: Any, model_name: str, model_args: Mapping[str, Any], data_spec: Mapping[str, Any]
) -> Path:
    """Write ``estimator.npz`` + ``estimator.json`` into ``folder``; returns the JSON path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays, meta = estimator.get_state()
    np.savez(folder / "estimator.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    info = {
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "model_args": dict(model_args),
        "data_spec": dict(data_spec),
        "meta": meta,
    }
    path = folder / "estimator.json"
    path.write_text(json.dumps(info, indent=2, default=_json_default))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_estimator(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild a saved estimator from ``estimator.json`` (or its folder) and ``estimator.npz``.

    Returns:
        ``(estimator, info)`` where ``info`` holds ``model``, ``model_args`` and ``data_spec``.

    Raises:
        FileNotFoundError: a file is missing. ValueError: not an affect-zoo estimator file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "estimator.json"
    if path.suffix == ".npz":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: estimator description not found")
    info = json.loads(path.read_text())
    if info.get("format_version") != FORMAT_VERSION or "model" not in info:
        raise ValueError(f"{path}: not an affect-zoo estimator file (format_version {info.get('format_version')!r})")
    spec = info["data_spec"]
    estimator = create_model(
        info["model"],
        feature_dims=dict(spec["feature_dims"]),
        num_targets=len(spec["target_names"]),
        **info["model_args"],
    )
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    estimator.set_state(arrays, info["meta"])
    return estimator, info


# --------------------------------------------------------------------------- data
def _frame_inputs(dm: Any, stage: str) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    recs = dm.recordings(stage)
    xs = [np.concatenate([r.features[n].reshape(r.num_frames, -1) for n in dm.feature_names], 1) for r in recs]
    ys = None if any(r.targets is None for r in recs) else [np.asarray(r.targets) for r in recs]
    return xs, ys


def _source_targets(run_dir: Path, dm: Any) -> list[str]:
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path}: a fusion source must be a run folder with config.yaml")
    cfg = OmegaConf.to_container(OmegaConf.load(cfg_path), resolve=True)
    targets = (cfg.get("data", {}).get("args") or {}).get("targets")
    if targets is None:
        targets = dm.corpus.default_targets or dm.corpus.targets
    return list(targets)


def _source_inputs(dm: Any, stage: str, sources: Sequence[str]) -> list[np.ndarray]:
    """Per recording: the predictions of every source run, side by side ``(T, Σ K_s)``."""
    recs = dm.raw_recordings(stage)
    columns: list[list[np.ndarray]] = [[] for _ in recs]
    for source in sources:
        run = Path(source)
        targets = _source_targets(run, dm)
        folder = run / "predictions" / dm.partitions[stage]
        for i, rec in enumerate(recs):
            columns[i].append(dm.read_predictions(folder, rec, targets))
    return [np.concatenate(c, 1) for c in columns]


def _turn_inputs(dm: Any, stage: str) -> tuple[list[dict[str, Any]], list[np.ndarray], list[np.ndarray] | None]:
    turns = dm.corpus.turn_data(dm.recordings(stage))  # an error for corpora without turns
    xs = [t["features"] for t in turns]
    ys = None if any(t["targets"] is None for t in turns) else [t["targets"] for t in turns]
    return turns, xs, ys


def _predict_frames(estimator: Any, dm: Any, stage: str) -> list[np.ndarray]:
    level = estimator.input_level
    if level == "frame":
        return [np.asarray(p) for p in estimator.predict(_frame_inputs(dm, stage)[0])]
    if level == "sources":
        return [np.asarray(p) for p in estimator.predict(_source_inputs(dm, stage, estimator.sources))]
    if level == "turn":
        turns, xs, _ = _turn_inputs(dm, stage)
        to_frames = dm.corpus.turns_to_frames
        return [to_frames(t["spans"], p, t["num_frames"]) for t, p in zip(turns, estimator.predict(xs))]
    raise ValueError(f"unknown estimator input_level {level!r}")


def _fit(estimator: Any, dm: Any) -> None:
    stage = estimator.fit_stage
    if stage not in ("train", "val"):
        raise ValueError(f"estimator fit_stage must be 'train' or 'val', got {stage!r}")
    level = estimator.input_level
    if level == "turn":
        _, xs, ys = _turn_inputs(dm, stage)
    elif level == "sources":
        xs = _source_inputs(dm, stage, estimator.sources)
        ys = _frame_inputs(dm, stage)[1]
    else:
        xs, ys = _frame_inputs(dm, stage)
    if ys is None:
        raise RuntimeError(f"cannot fit on the {stage} partition: it has no labels")
    estimator.fit(xs, ys)


def _labels(dm: Any, stage: str) -> list[np.ndarray] | None:
    recs = dm.raw_recordings(stage)
    return None if any(r.targets is None for r in recs) else [np.asarray(r.targets) for r in recs]


def _write(dm: Any, out_dir: Path, stage: str, preds: Sequence[np.ndarray], target_names: Sequence[str]) -> None:
    for rec, p in zip(dm.raw_recordings(stage), preds):
        dm.write_predictions(out_dir / dm.partitions[stage], rec, np.asarray(p, np.float32), target_names)


# --------------------------------------------------------------------------- command
def run_estimator_command(command: str, cfg: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """``fit``/``validate``/``test``/``predict`` for an estimator recipe (see module docstring).

    ``fit`` fits on the estimator's ``fit_stage`` (train, or devel for fusion; test labels are
    never read for fitting), saves it, scores val and (when labelled) test, and writes the
    predictions of ``test`` and of the partitions in ``export_predictions``. The other commands
    load ``ckpt`` (an ``estimator.json``).

    Returns:
        ``{"run_dir", "results", "best_ckpt"}`` like :func:`zoo.runner.run.run_command`.
    """
    from zoo.runner.run_io import build_datamodule, format_results, save_json

    run_dir = Path(run_dir)
    model_name, model_args = cfg["model"]["name"], dict(cfg["model"]["args"])
    if command == "fit":
        dm = build_datamodule(cfg)
        dm.prepare_data()
        spec = dm.data_spec()
        estimator = create_model(
            model_name, feature_dims=dict(spec["feature_dims"]), num_targets=len(spec["target_names"]), **model_args
        )
        _fit(estimator, dm)
        best = save_estimator(run_dir / "checkpoints", estimator, model_name, model_args, spec)
        stages = ["val", "test"]
        export = {"test", *cfg.get("export_predictions", [])}
    else:
        if not cfg.get("ckpt"):
            raise ValueError(f"`zoo {command}` needs a saved estimator: add ckpt=PATH/estimator.json")
        estimator, info = load_estimator(cfg["ckpt"])
        dm = build_datamodule(cfg, info["data_spec"])
        dm.prepare_data()
        best = Path(cfg["ckpt"])
        stage = {"validate": "val", "test": "test", "predict": dm.predict_partition}.get(command)
        if stage is None:
            raise ValueError(f"unknown command {command!r}")
        stages, export = [stage], {stage}
    target_names = list(dm.target_names)
    results: dict[str, float] = {}
    settings = cfg.get("postprocess") or {}
    pp_path = (Path(best) if Path(best).is_dir() else Path(best).parent) / "postprocess.json"
    postprocessor = None
    if command != "fit" and pp_path.is_file():
        postprocessor = PostProcessor.from_dict(json.loads(pp_path.read_text()))
    for stage in stages:
        if stage == estimator.fit_stage and getattr(estimator, "cv_predictions_", None) is not None:
            preds = [np.asarray(p) for p in estimator.cv_predictions_]  # honest (cross-validated)
        else:
            preds = _predict_frames(estimator, dm, stage)
        golds = _labels(dm, stage)
        if postprocessor is not None:
            preds = [postprocessor.apply(np.asarray(p), target_names) for p in preds]
        if golds is not None and command != "predict":
            ccc = ccc_per_target(preds, golds)
            stage_results = {f"{stage}/ccc_{t}": float(v) for t, v in zip(target_names, ccc)}
            stage_results[f"{stage}/ccc_mean"] = float(np.mean(ccc))
            print(f"\n{format_results(stage_results, target_names, stage)}\n")
            results.update(stage_results)
        if command == "fit" and stage == "val" and settings.get("enabled") and golds is not None:
            postprocessor = fit_postprocessor(
                preds,
                golds,
                target_names,
                dm.label_step,
                steps=settings["steps"],
                median_seconds=tuple(settings["median_seconds"]),
                max_shift_seconds=settings["max_shift_seconds"],
            )
            pp_path.write_text(json.dumps(postprocessor.to_dict(), indent=2))
            post = {
                f"val_postprocessed/ccc_{t}": list(c.val_ccc.values())[-1] for t, c in postprocessor.targets.items()
            }
            post["val_postprocessed/ccc_mean"] = float(np.mean(list(post.values())))
            print(
                f"post-processing fitted on val:\n{postprocessor.describe()}\n"
                f"{format_results(post, target_names, 'val_postprocessed')}\n"
            )
            results.update(post)
        if stage in export:
            _write(dm, run_dir / "predictions", stage, preds, target_names)
    for number, scores in sorted((getattr(estimator, "stage_scores_", None) or {}).items()):
        key = f"{estimator.fit_stage}_stage{number}"
        stage_results = {f"{key}/ccc_{t}": float(v) for t, v in zip(target_names, scores)}
        stage_results[f"{key}/ccc_mean"] = float(np.mean(scores))
        print(f"{format_results(stage_results, target_names, key)}\n")
        results.update(stage_results)
    save_json(run_dir / "results.json", results)
    return {"run_dir": run_dir, "results": results, "best_ckpt": str(best)}
