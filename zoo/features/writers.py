"""Writers of one feature file per recording in the corpus layouts.

* ``muse_car``: ``<output>/c1_muse_wild/feature_segments/label_aligned/<feature>/<id>.csv`` —
  header ``timestamp,segment_id,<columns>``, timestamp in integer ms (read back by
  :func:`zoo.data.corpora.muse_car.reader.read_feature_file`).
* ``sewa``: ``<output>/<feature>/<id>.csv`` — ``;``-separated, header ``name;time;<columns>``,
  name quoted as in the AVEC 2019 label files (``'Devel_DE_01'``), time in seconds.
* ``recola``: ``<output>/<feature>/{arousal,valence}/<id>.arff`` (the AVEC 2016 feature folders
  hold one copy per target because the baseline shifts features per target; the extracted
  features are not shifted, so both copies are identical — shift with ``label_shift`` /
  ``feature_delay`` in the datamodule) — ``@relation <feature>``, attributes
  ``Instance_name string``, ``frameTime numeric``, one ``numeric`` attribute per column, then
  ``@data`` rows ``<id>,<time>,<values>`` like the AVEC 2016 feature files.

Every file is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so an interrupted run never leaves a half file under the final name.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .base import FeatureOutput

__all__ = ["LAYOUTS", "RECOLA_TARGETS", "feature_folder", "output_path", "output_paths", "write_features"]

LAYOUTS = ("muse_car", "sewa", "recola")
RECOLA_TARGETS = ("arousal", "valence")
#: Python format spec of the feature values: 9 significant digits (exact for float32).
_NUMBER_FORMAT = ".9g"


def output_paths(layout: str, output: str | Path, feature: str, recording_id: str) -> list[Path]:
    """The file(s) ``layout`` keeps for feature folder ``feature`` of ``recording_id``."""
    from zoo.data.corpora.muse_car import format as muse  # lazily: zoo.data imports the datamodule
    from zoo.data.corpora.recola import format as recola
    from zoo.data.corpora.sewa import format as sewa

    if layout == "muse_car":
        return [muse.feature_path(output, feature, recording_id)]
    if layout == "sewa":
        return [sewa.feature_path(output, feature, recording_id)]
    if layout == "recola":
        return [recola.feature_path(output, feature, target, recording_id) for target in RECOLA_TARGETS]
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def feature_folder(layout: str, output: str | Path, feature: str) -> Path:
    """The folder that holds feature ``feature`` of every recording (and its settings record)."""
    from zoo.data.corpora.muse_car import format as muse
    from zoo.data.corpora.recola import format as recola
    from zoo.data.corpora.sewa import format as sewa

    if layout == "muse_car":
        return muse.feature_folder(output, feature)
    if layout == "sewa":
        return sewa.feature_folder(output, feature)
    if layout == "recola":
        return recola.feature_folder(output, feature)
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def output_path(layout: str, output: str | Path, feature: str, recording_id: str) -> Path:
    """The first (for ``muse_car``/``sewa`` the only) file of :func:`output_paths`."""
    return output_paths(layout, output, feature, recording_id)[0]


def _fmt(values: np.ndarray) -> list[str]:
    """Comma-joined rows, 9 significant digits (exact for float32)."""
    return [",".join(f"{v:{_NUMBER_FORMAT}}" for v in row) for row in np.asarray(values, dtype=np.float64)]


def _muse_car(buf: io.StringIO, rec_id: str, out: FeatureOutput, segment_ids: np.ndarray | None) -> None:
    from zoo.data.corpora.muse_car.format import feature_table

    ms = np.rint(out.timestamps * 1000.0).astype(np.int64)
    seg = np.zeros(len(ms), dtype=np.int64) if segment_ids is None else np.asarray(segment_ids, np.int64)
    buf.write(feature_table(ms, seg, out.values, out.columns, number_format=_NUMBER_FORMAT).decode("utf-8"))


def _sewa(buf: io.StringIO, rec_id: str, out: FeatureOutput, segment_ids) -> None:
    from zoo.data.corpora.sewa.format import format_table

    buf.write(
        format_table(
            rec_id,
            out.timestamps,
            out.values,
            sep=";",
            header=["name", "time", *out.columns],
            value_format=_NUMBER_FORMAT,
            time_format=".6f",
        )
    )


def _arff_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_.\-]+", name) else "'" + name.replace("'", "\\'") + "'"


def _recola(buf: io.StringIO, rec_id: str, out: FeatureOutput, segment_ids, relation: str = "") -> None:
    buf.write(f"@relation {_arff_name(relation or 'features')}\n\n")
    buf.write("@attribute Instance_name string\n@attribute frameTime numeric\n")
    for c in out.columns:
        buf.write(f"@attribute {_arff_name(c)} numeric\n")
    buf.write("\n@data\n")
    name = _arff_name(rec_id)
    for t, row in zip(out.timestamps, _fmt(out.values)):
        buf.write(f"{name},{t:.6f},{row}\n")


_WRITERS: dict[str, Callable] = {"muse_car": _muse_car, "sewa": _sewa, "recola": _recola}


def write_features(
    layout: str,
    path: str | Path | list[Path],
    recording_id: str,
    out: FeatureOutput,
    segment_ids: np.ndarray | None = None,
    feature: str = "features",
) -> list[Path]:
    """Write one recording's features atomically (temp file + ``os.replace``).

    Args:
        layout: ``muse_car``, ``sewa`` or ``recola``.
        path: final file path, or several (the same content is written to each; see
            :func:`output_paths`).
        recording_id: name written into the ``name``/``Instance_name`` column.
        out: features on the label timeline.
        segment_ids: ``(T,)`` MuSe-CaR topic segment ids (default 0).
        feature: ARFF relation name.

    Returns:
        The written paths.
    """
    if layout not in _WRITERS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    buf = io.StringIO()
    if layout == "recola":
        _recola(buf, recording_id, out, segment_ids, relation=feature)
    else:
        _WRITERS[layout](buf, recording_id, out, segment_ids)
    text = buf.getvalue()
    for target in paths:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    return paths
