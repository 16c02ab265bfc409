"""Which extractor produced each training feature set of a model (recorded in its bundle).

``zoo export`` records, per feature set of the model, the extractor that made its training
features, so that ``zoo predict BUNDLE media.wav`` can compute the same features from raw media:

* a feature folder written by ``zoo extract`` holds ``extract_settings.json``: its extractor,
  hop, window, options, weights path and sha256 are recorded as they are. The built-in synthetic
  corpora write the same file into the folders they compute from their own media (MuSe-CaR's
  ``egemaps`` and ``vggface``); a weights path recorded relative to the corpus folder is made
  absolute;
* a corpus's own distributed feature set that a registered extractor reproduces is recorded
  from :data:`CORPUS_EXTRACTORS` (MuSe-CaR ``egemaps``: openSMILE eGeMAPS v02 functionals, 5 s
  windows every 0.25 s, as MuSe 2020 computed them);
* a raw waveform set (the ``audio`` of MuSe-CaR and SEWA, RECOLA's ``audio`` in raw mode) is
  recorded as the ``waveform`` extractor on the label step (RECOLA: z-normalised per recording
  when ``audio_normalization=recording``), RECOLA's raw ``video`` as the ``face_crops``
  extractor serving images (``face_present=false``) with the run's ``face_size`` as ``size``
  and its ``crop_box`` (``"centre"`` when none);
* anything else is recorded as ``None``: the organisers' third-party features (VGGFace, AUs, bag
  of audio words, ...), the synthetic corpora's statistically generated sets and the virtual
  sets a datamodule computes itself.

With ``root=None`` (a run on a built-in synthetic corpus) the corpus is looked up in the cache
where the datamodule wrote it. A bundle without the field (exported before provenance was
recorded) has unknown provenance. :func:`missing_reason` says in one sentence why a feature set
cannot be extracted from media; :data:`MEDIA_CONSTANTS` are the virtual sets that take one value
for a whole media file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CORPUS_EXTRACTORS",
    "MEDIA_CONSTANTS",
    "PROVENANCE_KEYS",
    "corpus_folder",
    "feature_folder_of",
    "feature_provenance",
    "missing_reason",
]

logger = logging.getLogger(__name__)

#: keys of one recorded extractor (``source`` says where the record came from)
PROVENANCE_KEYS = ("extractor", "hop", "win", "options", "weights", "weights_sha256", "source")

#: (datamodule, feature set) of a corpus's distributed features -> the extractor reproducing them
CORPUS_EXTRACTORS: dict[tuple[str, str], dict[str, Any]] = {
    ("muse_car", "egemaps"): {
        "extractor": "egemaps",
        "hop": 0.25,
        "win": 5.0,
        "options": {},
        "weights": None,
        "weights_sha256": None,
        "source": "MuSe 2020 organisers' eGeMAPS: openSMILE eGeMAPSv02 functionals, 5 s windows every 0.25 s",
    },
}

#: (datamodule, virtual feature set) -> (its value over a whole media file, why)
MEDIA_CONSTANTS: dict[tuple[str, str], tuple[float, str]] = {
    ("muse_car", "segment_id"): (1.0, "a media file is one topic segment: segment_id 1"),
}

#: (datamodule, feature set) served as the raw 16 kHz waveform (RECOLA: in raw mode)
_WAVEFORM_SETS = {("muse_car", "audio"), ("sewa", "audio"), ("recola", "audio")}

#: who distributed the feature sets of each corpus (for the messages)
_DISTRIBUTORS = {
    "muse_car": "the MuSe 2020 organisers",
    "recola": "the AVEC 2016 organisers",
    "sewa": "the AVEC 2017/2019 organisers",
    "cmu_mosei": "the CMU-MultimodalSDK",
}
_VIRTUAL = {
    ("muse_car", "segment_id"): (
        "is the topic segment id of the MuSe-CaR files, which raw media does not carry "
        "(a model trained with data.args.use_segment_id=false does without it)"
    ),
    ("cmu_mosei", "waveform"): (
        "is the audio of each transcribed CMU-MOSEI segment, which a media file does not have "
        "(segment-level models take segments and their words)"
    ),
    ("cmu_mosei", "waveform_word"): "is the word of each 20 ms audio row of a CMU-MOSEI segment",
    ("sewa", "text_bow"): "is computed by the SEWA datamodule from transcriptions/<id>.csv",
    ("sewa", "text_emb"): "is computed by the SEWA datamodule from transcriptions/<id>.csv",
}


def corpus_folder(datamodule: str | None, root: str | Path | None, data_args: Mapping[str, Any] | None) -> Path | None:
    """The corpus folder of a run: ``root``, or (``root=None``) its synthetic corpus in the cache
    if it is there; ``None`` when neither can be found."""
    if root is not None:
        return Path(root).expanduser()
    if datamodule is None:
        return None
    from zoo.data import create_datamodule

    args = {k: v for k, v in (data_args or {}).items() if k not in ("root", "normalization_stats")}
    try:
        folder = create_datamodule(datamodule, **args).corpus.synthetic_root()
    except Exception as err:  # noqa: BLE001 - an unknown or derived datamodule has no synthetic corpus
        logger.debug("no synthetic corpus for %s: %s", datamodule, err)
        return None
    return folder if folder.is_dir() else None


def feature_folder_of(
    datamodule: str | None, root: str | Path | None, name: str, data_args: Mapping[str, Any] | None = None
) -> Path | None:
    """The folder a corpus reader reads feature set ``name`` from, or ``None`` if it has none."""
    from .writers import feature_folder

    if root is None or datamodule not in ("muse_car", "recola", "sewa"):
        return None
    if datamodule == "recola":
        from zoo.data.corpora.recola.reader import FEATURE_FOLDERS

        if (data_args or {}).get("mode", "features") != "features" or name not in FEATURE_FOLDERS:
            return None
        name = FEATURE_FOLDERS[name]
    return feature_folder(datamodule, Path(root).expanduser(), name)


def _from_settings(path: Path, corpus: Path | None) -> dict[str, Any] | None:
    """The extractor recorded in an ``extract_settings.json``; ``None`` if unreadable."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        logger.warning("%s: unreadable (%s); its feature set's extractor is not recorded", path, err)
        return None
    if not isinstance(settings, dict) or not isinstance(settings.get("extractor"), str):
        logger.warning("%s: no 'extractor'; its feature set's extractor is not recorded", path)
        return None
    entry = {key: settings.get(key) for key in PROVENANCE_KEYS if key != "source"}
    entry["options"] = dict(entry.get("options") or {})
    weights = entry.get("weights")
    if isinstance(weights, str) and corpus is not None and not Path(weights).is_absolute():
        entry["weights"] = str((corpus / weights).resolve())  # shipped with the corpus
    entry["source"] = f"zoo extract ({path.parent.name}/{path.name})"
    return entry


def _raw(datamodule: str, name: str, data_args: Mapping[str, Any], label_step: float | None) -> dict | None:
    """The record of a raw set (waveform, RECOLA's face crops), or ``None`` if ``name`` is not one."""
    if datamodule == "recola" and name == "video" and data_args.get("mode", "features") == "raw" and label_step:
        crop_box = data_args.get("crop_box")
        return {
            "extractor": "face_crops",
            "hop": float(label_step),
            "win": None,
            "options": {
                "size": int(data_args.get("face_size", 96)),
                "crop_box": "centre" if crop_box is None else [int(v) for v in crop_box],
                "face_present": False,
            },
            "weights": None,
            "weights_sha256": None,
            "source": "the recola reader's raw face crops: the frame nearest each label time, cropped and resized",
        }
    if (datamodule, name) not in _WAVEFORM_SETS or label_step is None:
        return None
    normalize = False
    if datamodule == "recola":
        if data_args.get("mode", "features") != "raw":
            return None
        normalize = data_args.get("audio_normalization", "recording") == "recording"
    return {
        "extractor": "waveform",
        "hop": float(label_step),
        "win": None,
        "options": {"normalize": normalize},
        "weights": None,
        "weights_sha256": None,
        "source": f"the {datamodule} reader's raw 16 kHz {name!r}, one frame of samples per label step",
    }


def feature_provenance(
    datamodule: str | None,
    root: str | Path | None,
    feature_names: Sequence[str],
    data_args: Mapping[str, Any] | None = None,
    label_step: float | None = None,
) -> dict[str, dict[str, Any] | None]:
    """The extractor of every feature set, or ``None`` where no registered extractor made it.

    Args:
        datamodule: the run's datamodule name (``muse_car``, ``recola``, ``sewa``, ...).
        root: the corpus folder of the run (``None``: the built-in synthetic corpus, looked up in
            the cache).
        feature_names: the model's feature sets.
        data_args: the run's ``data.args`` (RECOLA's ``mode``, the synthetic corpus's options).
        label_step: the corpus's label step in seconds (the hop of a raw waveform set).

    Returns:
        ``{feature set: {extractor, hop, win, options, weights, weights_sha256, source} | None}``.
    """
    from .settings import SETTINGS_FILE

    args = dict(data_args or {})
    corpus = corpus_folder(datamodule, root, args)
    if root is None and corpus is None and datamodule in _DISTRIBUTORS:
        logger.warning(
            "the synthetic %s corpus of this run is not in the cache: the extractors of its feature "
            "sets are not recorded (export where it was trained)",
            datamodule,
        )
    out: dict[str, dict[str, Any] | None] = {}
    for name in feature_names:
        raw = _raw(str(datamodule), name, args, label_step)
        if raw is not None:
            out[name] = raw
            continue
        virtual = (str(datamodule), name) in _VIRTUAL
        folder = None if virtual else feature_folder_of(datamodule, corpus, name, args)
        entry = None
        if folder is not None and (folder / SETTINGS_FILE).is_file():
            entry = _from_settings(folder / SETTINGS_FILE, corpus)
        elif folder is not None and folder.is_dir() and root is not None:
            entry = CORPUS_EXTRACTORS.get((str(datamodule), name))
        elif folder is not None and root is not None:
            logger.warning(
                "feature folder %s not found: the extractor of %r is not recorded (export "
                "where the training corpus is readable to record it)",
                folder,
                name,
            )
        out[name] = dict(entry) if entry is not None else None
    return out


def missing_reason(config: Mapping[str, Any], name: str, data_args: Mapping[str, Any] | None = None) -> str:
    """Why feature set ``name`` of a bundle config has no recorded extractor (one clause).

    Args:
        config: the bundle's ``config.json``.
        name: a feature set of the bundle.
        data_args: the ``data.args`` of the bundle's recipe (RECOLA's ``mode``).
    """
    datamodule = str(config.get("datamodule") or config.get("corpus") or "")
    if (datamodule, name) in _VIRTUAL:
        return f"feature set {name!r} {_VIRTUAL[datamodule, name]}"
    if datamodule == "recola" and (data_args or {}).get("mode") == "raw":
        suffix = "wav" if name == "audio" else "mp4"
        return (
            f"feature set {name!r} is RECOLA's raw {name}, read by the datamodule in raw mode: put the "
            f"file into FOLDER/recordings_{name}/<name>.{suffix} and run `zoo predict BUNDLE FOLDER`"
        )
    if config.get("corpus_root") is None and datamodule in _DISTRIBUTORS:
        return (
            f"feature set {name!r} of this bundle comes from the built-in synthetic corpus, which "
            f"generates it from the emotion directly (no extractor of the zoo computes it from media)"
        )
    who = _DISTRIBUTORS.get(datamodule)
    if who is not None:
        return f"feature set {name!r} was distributed by {who}; no extractor reproduces it"
    return (
        f"feature set {name!r} was not written by `zoo extract` (no extract_settings.json) and no "
        f"registered extractor is known to reproduce it"
    )
