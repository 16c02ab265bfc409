"""``zoo predict BUNDLE MEDIA``: predict raw audio/video with a bundle in one command.

``MEDIA`` is a WAV/FLAC/OGG or MP4 (MKV, MOV, AVI, WebM) file, or a folder of them. The bundle's
``config.json`` records which extractor made each training feature set (``feature_extractors``,
see :mod:`zoo.features.provenance`); those extractors run on each file with the recorded hop,
window, options and weights, on the bundle's label step (``0, step, 2·step, …`` up to the file's
length: RECOLA 40 ms, SEWA 100 ms, MuSe-CaR 250 ms), and the model is applied as in
:meth:`zoo.hub.pretrained.PretrainedModel.predict` (feature delay, train-partition normalisation,
fitted post-processing). One CSV per file, ``<output>/<id>.csv``: ``timestamp`` in the corpus's
unit (MuSe-CaR ms, RECOLA and SEWA s) and one column per target; ``--plot`` adds
``<output>/plots/<id>.png``.

``MODEL`` may also be a checkpoint of ``zoo fit`` (``runs/<run>/checkpoints/best.ckpt``): the
extractors are then looked up as ``zoo export`` would record them, in the corpus the run was
trained on (for the built-in synthetic corpora: in the cache), so a model predicts media straight
after training.

Inputs per modality: audio extractors read the file's audio (MP4 audio decoded with PyAV; the raw
``waveform`` of the self-supervised and Tzirakis et al. 2017 models is resampled to 16 kHz), the
face extractor reads the video with its ``<id>.boxes.csv`` crop boxes next to it (no face
detector ships); a file without a video stream (a WAV) has no face in any frame, which the face
extractor writes as zero rows (``face_present`` 0), as for the frames of a video where no face is
seen. Text extractors read ``--transcripts DIR/<id>.csv`` (``start,end,word``). Virtual sets that
take one value for a whole file (:func:`zoo.features.provenance.media_constant`: MuSe-CaR's
``segment_id`` is 1) are filled in.
Extractors that need weights use the recorded file when it is still there, else ``--weights
SET=PATH``; either must have the recorded sha256.

A bundle whose features cannot be computed from media (the organisers' third-party features, a
synthetic corpus's random features, no recorded provenance) is refused before anything runs, with
each feature set and the reason.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.features import Extractor, ExtractorError, create_extractor, extractor_class, label_times

__all__ = ["MediaPredictError", "is_media_input", "media_config", "media_extractors", "predict_media"]

logger = logging.getLogger(__name__)

_SETUP_HINT = "extract {what} yourself into a corpus layout and run `zoo predict BUNDLE CORPUS_DIR`"


def _corpus_of(config: Mapping[str, Any]) -> Any:
    """The reader class of the corpus a bundle was trained on, or ``None`` (unknown here, or none)."""
    from zoo.data import corpus_class

    name = config.get("datamodule") or config.get("corpus")
    try:
        return corpus_class(str(name)) if name else None
    except KeyError:
        return None


def _time_unit(config: Mapping[str, Any]) -> tuple[str, float]:
    """``(unit, factor from seconds)`` of the written ``timestamp`` column: the training corpus's own."""
    corpus = _corpus_of(config)
    return tuple(corpus.time_unit) if corpus is not None else ("s", 1.0)


class MediaPredictError(ValueError):
    """A bundle or input that cannot be predicted from raw media (one line, exit status 2)."""


@dataclass
class PlannedFeature:
    """One feature set of the model and the extractor that computes it from media (or the one
    value it takes over a whole file, for a virtual set such as MuSe-CaR's ``segment_id``)."""

    name: str
    extractor: Extractor | None
    dim: int | list[int]
    constant: float | None = None


def is_media_input(path: str | Path) -> bool:
    """Whether ``zoo predict MODEL INPUT`` got media: a file (or a missing one named like media), or a
    folder with a media file in it."""
    from zoo.features.media import MEDIA_SUFFIXES, is_media

    path = Path(path).expanduser()
    if not path.exists():
        return path.suffix.lower() in MEDIA_SUFFIXES  # then find_media says it is missing
    return path.is_file() or (path.is_dir() and any(is_media(p) for p in path.iterdir()))


def _data_args(model: Any) -> dict[str, Any]:
    return dict(((model.recipe or {}).get("data") or {}).get("args") or {})


def _unsupported(config: Mapping[str, Any], model: Any) -> list[str]:
    """Why each feature set that cannot be extracted from media cannot be (empty: all can)."""
    from zoo.features import list_extractors
    from zoo.features.provenance import missing_reason

    names, args = list(config["feature_names"]), _data_args(model)
    if "feature_extractors" not in config:
        return [
            f"the bundle records no feature extractors (exported before affect-zoo recorded them), so "
            f"how its feature sets {names} were made is unknown: export it again from its checkpoint "
            f"(`zoo export CKPT DIR --overwrite`, where the training corpus is readable), or "
            + _SETUP_HINT.format(what="them")
        ]
    from zoo.features.provenance import media_constant

    corpus = _corpus_of(config)
    problems: dict[str, str] = {}
    for name in names:
        entry = config["feature_extractors"].get(name)
        if entry is None and media_constant(config.get("datamodule"), name) is not None:
            continue
        if entry is None:
            problems[name] = missing_reason(config, name, args)
        elif entry["extractor"] not in list_extractors():
            problems[name] = (
                f"feature set {name!r} was made by extractor {entry['extractor']!r}, which this "
                f"affect-zoo does not register (upgrade affect-zoo)"
            )
        elif corpus is not None and corpus.media_feature_problem(name, args, names):
            problems[name] = corpus.media_feature_problem(name, args, names)
    if not problems:
        return []
    what = "it" if len(problems) == 1 else "them"
    return list(problems.values())[:-1] + [f"{list(problems.values())[-1]}: {_SETUP_HINT.format(what=what)}"]


def _weights(name: str, entry: Mapping[str, Any], given: Mapping[str, str | Path]) -> Path | None:
    """The weights file for ``name``'s extractor: ``--weights``, else the recorded path; sha256 checked."""
    from zoo.features.cli import _sha256_path

    if not extractor_class(entry["extractor"]).needs_weights:
        return None
    path = given.get(name, given.get(entry["extractor"]))
    recorded = entry.get("weights")
    if path is None and recorded and Path(recorded).exists():
        path = recorded
    digest = entry.get("weights_sha256")
    if path is None:
        raise MediaPredictError(
            f"feature set {name!r} needs the weights of extractor {entry['extractor']!r}"
            + (f" (recorded at {recorded}, not found here)" if recorded else "")
            + f"; pass --weights {name}=PATH"
            + (f" (sha256 {digest})" if digest else "")
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise MediaPredictError(f"--weights {name}={path}: not found")
    if digest and _sha256_path(path) != digest:
        raise MediaPredictError(
            f"{path}: sha256 {_sha256_path(path)} differs from the {digest} of the weights feature set "
            f"{name!r} was extracted with; features from other weights would not be the model's inputs"
        )
    return path


def media_config(model: Any) -> dict[str, Any]:
    """What predicting media needs to know of a model: a bundle's ``config.json``, or for a
    checkpoint the same fields as ``zoo export`` would record (the extractors looked up in the
    corpus the run was trained on)."""
    config = getattr(model, "bundle_config", None)
    if config is not None:
        return config
    from zoo.features.provenance import feature_provenance

    spec = model.spec
    data = (model.recipe or {}).get("data") or {}
    args = dict(data.get("args") or {})
    datamodule = data.get("name", spec.get("corpus"))
    step = float(spec["label_step"])
    return {
        "datamodule": datamodule,
        "corpus": spec.get("corpus"),
        "corpus_root": args.get("root"),
        "feature_names": list(spec["feature_names"]),
        "feature_dims": dict(spec["feature_dims"]),
        "label_step": step,
        "feature_extractors": feature_provenance(datamodule, args.get("root"), spec["feature_names"], args, step),
    }


def media_extractors(
    model: Any, weights: Mapping[str, str | Path] | None = None, config: Mapping[str, Any] | None = None
) -> list[PlannedFeature]:
    """The extractor of every feature set of a bundle or checkpoint, built with the recorded settings.

    Args:
        model: a bundle or checkpoint loaded by :func:`zoo.load_pretrained`.
        weights: ``{feature set or extractor name: path}`` for extractors that need weights.
        config: the model's :func:`media_config` (computed when not given).

    Raises:
        MediaPredictError: a feature set without an extractor (each named with the reason),
            missing or mismatching weights, another dimension.
    """
    from zoo.features.provenance import media_constant

    config = media_config(model) if config is None else config
    problems = _unsupported(config, model)
    if problems:
        raise MediaPredictError("cannot compute this model's features from media: " + "; ".join(problems))
    planned = []
    for name in config["feature_names"]:
        entry = config["feature_extractors"][name]
        dim = config["feature_dims"][name]
        dim = [int(d) for d in dim] if isinstance(dim, (list, tuple)) else int(dim)
        if entry is None:  # a virtual set with one value per file (checked by _unsupported)
            value, _ = media_constant(config.get("datamodule"), name)
            planned.append(PlannedFeature(name, None, dim, constant=value))
            continue
        try:
            extractor = create_extractor(
                entry["extractor"],
                hop=entry["hop"],
                win=entry.get("win"),
                weights=_weights(name, entry, weights or {}),
                **dict(entry.get("options") or {}),
            )
        except (TypeError, ExtractorError) as err:
            raise MediaPredictError(
                f"feature set {name!r}: cannot build extractor {entry['extractor']!r}: {err}"
            ) from None
        given = getattr(extractor, "output_shape", lambda: None)() or extractor.output_dim()
        if given not in (None, dim):
            raise MediaPredictError(
                f"feature set {name!r}: extractor {entry['extractor']!r} gives features of shape "
                f"{given}, the model takes {dim}"
            )
        planned.append(PlannedFeature(name, extractor, dim))
    return planned


def _has_video(path: Path) -> bool:
    from zoo.features.visual import VIDEO_SUFFIXES

    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return False
    import av

    with av.open(str(path)) as container:
        return bool(container.streams.video)


def _extractor_input(feature: PlannedFeature, path: Path, workdir: Path, transcripts: Path | None) -> Path | None:
    """The file ``feature``'s extractor reads for the media file ``path`` (``None``: a face set of a
    file without video, whose every frame has no face)."""
    from zoo.features.media import write_audio_wav

    modality, name = feature.extractor.modality, feature.name
    if modality == "audio":
        cached = workdir / f"{path.stem}.wav"
        return cached if cached.is_file() else write_audio_wav(path, workdir)
    if modality == "visual":
        return path if _has_video(path) else None
    if transcripts is None:
        raise MediaPredictError(
            f"feature set {name!r} is computed from a transcript (extractor "
            f"{feature.extractor.name!r}): pass --transcripts DIR holding {path.stem}.csv "
            "(start,end,word)"
        )
    transcript = Path(transcripts).expanduser() / f"{path.stem}.csv"
    if not transcript.is_file():
        raise MediaPredictError(f"{transcript}: transcript of {path} not found (feature set {name!r})")
    return transcript


def media_features(
    planned: list[PlannedFeature],
    path: Path,
    times: np.ndarray,
    workdir: Path,
    transcripts: Path | None = None,
) -> dict[str, np.ndarray]:
    """Every planned feature set of the media file ``path`` on the label timestamps ``times``."""
    features = {}
    for feature in planned:
        if feature.extractor is None:
            features[feature.name] = np.full((len(times), feature.dim), feature.constant, np.float32)
            continue
        source = _extractor_input(feature, path, workdir, transcripts)
        if source is None and not hasattr(feature.extractor, "absent"):
            raise MediaPredictError(
                f"{path}: has no video, but feature set {feature.name!r} is computed from video "
                f"(extractor {feature.extractor.name!r})"
            )
        if source is None:
            logger.warning("%s has no video stream: feature set %r has no face in any frame", path, feature.name)
            values = feature.extractor.absent(times).values
        elif getattr(feature.extractor, "output_shape", lambda: None)() is not None:  # images, not vectors
            values = feature.extractor.images(source, times)
        else:
            values = feature.extractor.extract(source, times).values
        expected = (len(times), *(feature.dim if isinstance(feature.dim, list) else [feature.dim]))
        if values.shape != expected:
            raise MediaPredictError(
                f"{path}: extractor {feature.extractor.name!r} gave features of shape "
                f"{values.shape} for feature set {feature.name!r}, expected {expected}"
            )
        features[feature.name] = values
    return features


def write_prediction_csv(path: Path, timestamps: np.ndarray, preds: np.ndarray, targets: list[str]) -> Path:
    """``timestamp,<target>...`` (values with 9 significant digits, float32 round-trips)."""
    import pandas as pd

    frame = pd.DataFrame(np.asarray(preds, dtype=np.float64), columns=targets)
    frame.insert(0, "timestamp", timestamps)
    frame.to_csv(path, index=False, float_format="%.9g")
    return path


def predict_media(
    model_path: str | Path,
    input_path: str | Path,
    output_dir: str | Path | None = None,
    plot: bool = False,
    weights: Mapping[str, str | Path] | None = None,
    transcripts: str | Path | None = None,
    step: float | None = None,
    window: float | None = None,
) -> dict[str, Any]:
    """Predict every media file of ``input_path`` with a bundle (see the module docstring).

    Args:
        model_path: bundle folder of ``zoo export``, or a checkpoint of ``zoo fit``.
        input_path: a media file or a folder of them.
        output_dir: new or empty folder (default ``./predictions/<bundle>-<date>-<time>``).
        plot: also draw ``<output>/plots/<id>.png`` (each target over time).
        weights: ``{feature set or extractor: path}`` for extractors that need weights.
        transcripts: folder of ``<id>.csv`` transcripts for text feature sets.
        step: label step in seconds, for sliding-window bundles (``zoo import``; see
            :func:`zoo.hub.sliding_window.set_sliding_window`); default the bundle's.
        window: seconds of media per prediction, for sliding-window bundles.

    Returns:
        ``{"output": Path, "files": [...], "plots": [...], "scores": {}, "unit": "s"|"ms"}``.

    Raises:
        MediaPredictError, BundleError, ExtractorError: one-line errors naming the file or set.
    """
    from zoo.features.media import find_media, media_duration
    from zoo.hub.predict_output import plot_recording, prepare_output
    from zoo.hub.pretrained import load_pretrained
    from zoo.hub.sliding_window import set_sliding_window

    model_path, input_path = Path(model_path).expanduser(), Path(input_path).expanduser()
    recordings = find_media(input_path)
    output_dir = prepare_output(model_path, input_path, output_dir)
    model = load_pretrained(model_path)
    set_sliding_window(model, step, window)  # --step/--window: sliding-window bundles only
    config, targets = media_config(model), list(model.target_names)
    planned = media_extractors(model, weights, config)
    unit, factor = _time_unit(config)
    step = float(config["label_step"])
    output_dir.mkdir(parents=True, exist_ok=True)
    files, plots = [], []
    with tempfile.TemporaryDirectory(prefix="zoo-predict-media-") as tmp:
        for rec_id, path in recordings:
            times = label_times(media_duration(path), step)
            preds = model.predict(media_features(planned, path, times, Path(tmp), transcripts and Path(transcripts)))
            stamps = np.rint(times * factor).astype(np.int64) if factor != 1.0 else times
            files.append(write_prediction_csv(output_dir / f"{rec_id}.csv", stamps, preds, targets))
            if plot:
                plots.append(
                    plot_recording(output_dir / "plots" / f"{rec_id}.png", rec_id, times, preds, None, targets)
                )
    return {"output": output_dir, "files": files, "plots": plots, "scores": {}, "unit": unit}
