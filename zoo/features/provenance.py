"""Which extractor produced each training feature set of a model (recorded in its bundle).

``zoo export`` records, per feature set of the model, the extractor that made its training
features, so that ``zoo predict BUNDLE media.wav`` can compute the same features from raw media:

* a feature folder written by ``zoo extract`` holds ``extract_settings.json``: its extractor,
  hop, window, options, weights path and sha256 are recorded as they are. The built-in synthetic
  corpora write the same file into the folders they compute from their own media (MuSe-CaR's
  ``egemaps`` and ``vggface``); a weights path recorded relative to the corpus folder is made
  absolute;
* a corpus's own distributed feature set that a registered extractor reproduces is recorded
  from its reader's ``distributed_extractors`` (MuSe-CaR ``egemaps``: openSMILE eGeMAPS v02
  functionals, 5 s windows every 0.25 s, as MuSe 2020 computed them);
* a set the reader serves raw is recorded as its reader says (``Corpus.raw_feature_record``:
  the ``audio`` of MuSe-CaR and SEWA as the ``waveform`` extractor on the label step; RECOLA in
  raw mode its ``audio``, z-normalised per recording when ``audio_normalization=recording``, and
  its ``video`` as the ``face_crops`` extractor with the run's ``face_size`` and ``crop_box``);
* anything else is recorded as ``None``: the organisers' third-party features (VGGFace, AUs, bag
  of audio words, ...), the synthetic corpora's statistically generated sets and the virtual
  sets a datamodule computes itself.

With ``root=None`` (a run on a built-in synthetic corpus) the corpus is looked up in the cache
where the datamodule wrote it. A bundle without the field (exported before provenance was
recorded) has unknown provenance. :func:`missing_reason` says in one sentence why a feature set
cannot be extracted from media; :func:`media_constant` gives the virtual sets that take one value
for a whole media file. Every corpus fact comes from the corpus reader's hooks
(:class:`~zoo.data.corpus.Corpus`): this module names no corpus.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "PROVENANCE_KEYS",
    "corpus_folder",
    "feature_folder_of",
    "feature_provenance",
    "media_constant",
    "missing_reason",
]

logger = logging.getLogger(__name__)

#: keys of one recorded extractor (``source`` says where the record came from)
PROVENANCE_KEYS = ("extractor", "hop", "win", "options", "weights", "weights_sha256", "source")


def _reader(datamodule: str | None) -> Any:
    """The corpus reader class registered as ``datamodule``, or ``None``."""
    if not datamodule:
        return None
    from zoo.data import corpus_class  # lazily: zoo.data imports the datamodule

    try:
        return corpus_class(str(datamodule))
    except KeyError:
        return None


def media_constant(datamodule: str | None, name: str) -> tuple[float, str] | None:
    """``(value, why)`` of a virtual feature set that takes one value over a whole media file."""
    reader = _reader(datamodule)
    return None if reader is None else reader.media_constants.get(name)


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
    reader = _reader(datamodule)
    if root is None or reader is None:
        return None
    return reader.feature_source_folder(Path(root).expanduser(), name, dict(data_args or {}))


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
    reader = _reader(datamodule)
    corpus = corpus_folder(datamodule, root, args)
    if root is None and corpus is None and reader is not None and reader.feature_distributor:
        logger.warning(
            "the synthetic %s corpus of this run is not in the cache: the extractors of its feature "
            "sets are not recorded (export where it was trained)",
            datamodule,
        )
    out: dict[str, dict[str, Any] | None] = {}
    for name in feature_names:
        raw = reader.raw_feature_record(name, args, label_step) if reader is not None else None
        if raw is not None:
            out[name] = raw
            continue
        virtual = reader is not None and name in reader.virtual_features
        folder = None if virtual else feature_folder_of(datamodule, corpus, name, args)
        entry = None
        if folder is not None and (folder / SETTINGS_FILE).is_file():
            entry = _from_settings(folder / SETTINGS_FILE, corpus)
        elif folder is not None and folder.is_dir() and root is not None:
            entry = reader.distributed_extractors.get(name) if reader is not None else None
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
    reader = _reader(config.get("datamodule") or config.get("corpus"))
    known = reader.media_missing_reason(name, dict(data_args or {})) if reader is not None else None
    if known is not None:
        return known
    who = reader.feature_distributor if reader is not None else None
    if config.get("corpus_root") is None and who:
        return (
            f"feature set {name!r} of this bundle comes from the built-in synthetic corpus, which "
            f"generates it from the emotion directly (no extractor of the zoo computes it from media)"
        )
    if who:
        return f"feature set {name!r} was distributed by {who}; no extractor reproduces it"
    return (
        f"feature set {name!r} was not written by `zoo extract` (no extract_settings.json) and no "
        f"registered extractor is known to reproduce it"
    )
