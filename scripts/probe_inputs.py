#!/usr/bin/env python
"""Corruption and tampering probes of every input affect-zoo reads (issues 12 and 24).

Writes small synthetic corpora (RECOLA, SEWA AVEC 2017 and 2019, MuSe-CaR, CMU-MOSEI ``.csd`` and
aligned pickle) in their real layouts, one tiny checkpoint and its bundle, then runs a catalogue
of probes: each corrupts one file of a fresh copy (truncate it, empty it, a non-numeric cell,
NaN/inf, a wrong delimiter, a missing column, a duplicated timestamp, a wrong step, a name column
naming another recording, a corrupt WAV or HDF5 file, a pickle with a wrong layout or a code
payload, a URL or foreign checkpoint, an edited or symlinked bundle, a ``reader_state`` setting
``root``; issue 24: absurd and out-of-range values, another recording's file, unreadable files
and stray bytes, checkpoints with NaN statistics or weights, command-line mistakes) and reads it
through the library's own entry points (``raw_recordings`` with ``use_cache=False``,
:func:`zoo.hub.checkpoint_io.read_checkpoint` / ``load_pretrained``, :func:`zoo.hub.bundle.load_bundle`, the
``zoo`` command). Each outcome is one of:

* ``refused`` — an affect-zoo error (``CorpusFormatError``, ``CheckpointError``, ``BundleError``,
  any ``ValueError``/``OSError``, or ``zoo`` exiting with status 2) whose message names the file
  and, for a probe that damages one row or field, a line/row/field/column/key;
* ``warned`` — accepted with a warning that names the file (CMU-MOSEI's ``MoseiDataWarning`` for
  dropped items, which ``strict=True`` makes an error; SEWA's ``SewaDataWarning`` for feature rows
  running far past the last label);
* ``harmless`` — accepted, and the data read is identical to the pristine file's;
* ``unclear`` — an affect-zoo error (or ``zoo`` exit 2) that does not name the file (or the row,
  the key), or that says what it must not (advice to load a file unsafely), or a refusal that
  left a run folder behind;
* ``crash`` — an exception from deep inside a library (``KeyError``, ``IndexError``,
  ``UnicodeDecodeError``, h5py, pandas, ...) or ``zoo`` exiting with status 1 (a traceback);
* ``silent`` — accepted with different data (e.g. NaN labels or a shifted timeline) or, for a
  checkpoint/bundle, loaded at all.

Usage::

    python scripts/probe_inputs.py            # the table and the totals; exit 1 if any probe is
                                              # unclear, a crash or silent
    python scripts/probe_inputs.py --only muse_car --verbose
    python scripts/probe_inputs.py --corpora sewa2017,cmu_mosei --no-artifacts   # a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REFUSED, WARNED, HARMLESS, UNCLEAR, CRASH, SILENT = "refused", "warned", "harmless", "unclear", "crash", "silent"
OUTCOMES = (REFUSED, WARNED, HARMLESS, UNCLEAR, CRASH, SILENT)
#: a message "locates" the damage when it names a line, row, field, column, key or the like
LOCATED = re.compile(r"\b(line|lines|row|rows|field|column|columns|attribute|key|frame|sample|timestamp|video)\b", re.I)
#: the recipe the tiny checkpoint is trained with
RECIPE = "muse_car/sun2020_lstm_selfattn"

Loader = Callable[[Path], Any]


# =========================================================================== probes
@dataclass(frozen=True)
class Probe:
    """One corruption of one file of an asset (a corpus folder, a checkpoint or a bundle).

    Attributes:
        asset: name of the pristine folder the probe copies (see :func:`build_assets`).
        kind: what the file is (``"gold standard ARFF"``, ``"checkpoint"``, ...).
        name: what the probe does (``"NaN label"``, ...).
        target: the corrupted file, relative to the asset folder.
        corrupt: ``corrupt(path)`` damages the file at ``path`` (the copy's).
        load: ``load(copy)`` reads the copy through the library's entry point.
        mention: text a clear message contains; default the target's path relative to the
            asset (messages name the full path, so this tells ``labels/x.csv`` from
            ``features/x.csv``).
        locate: whether a clear message must also name a line/row/field/column/key.
        compare: whether an accepted file is compared with the pristine reading (corpora);
            otherwise (checkpoints, bundles) accepting it at all is ``silent``.
        accept_ok: accepting is the right answer (the loader checks what it did itself), e.g.
            resuming a run without its overrides: ``harmless`` when the loader returns.
        forbid: text a clear message must not contain (e.g. advice to load unsafely).
    """

    asset: str
    kind: str
    name: str
    target: str
    corrupt: Callable[[Path], None]
    load: Loader
    mention: str | None = None
    locate: bool = False
    compare: bool = True
    accept_ok: bool = False
    forbid: str | None = None

    @property
    def label(self) -> str:
        """``asset: kind: name``."""
        return f"{self.asset}: {self.kind}: {self.name}"


@dataclass
class Result:
    """What a probe did: its outcome and the first line of the message (or why it is silent)."""

    probe: Probe
    outcome: str
    message: str


# =========================================================================== text files
@dataclass(frozen=True)
class TextLayout:
    """Where things are in a delimited text file (CSV or ARFF), for the text mutations.

    Attributes:
        delimiter: cell separator.
        header_lines: lines before the first data row (ARFF: found from ``@data``).
        value_col: a label or feature column to damage.
        time_col: the time column, or ``None``.
        drop_col: the column the "missing column" probe removes (header and rows).
        name_col: the recording-name column, or ``None``.
        other_name: a name of another recording of the corpus (for ``name_col``).
        arff: the file is ARFF (``@attribute`` lines declare the columns).
        kind: ``"label"`` or ``"feature"`` for the files holding values a model learns from
            (they get the absurd-value probes), ``""`` otherwise.
        label_range: the range the corpus declares for a label file's values.
    """

    delimiter: str
    header_lines: int = 0
    value_col: int = 1
    time_col: int | None = None
    drop_col: int = 0
    name_col: int | None = None
    other_name: str = ""
    arff: bool = False
    kind: str = ""
    label_range: tuple[float, float] | None = None


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _data_start(lines: Sequence[str], layout: TextLayout) -> int:
    """Index of the first data row."""
    if layout.arff:
        return next(i for i, l in enumerate(lines) if l.strip().lower() == "@data") + 1
    return layout.header_lines


def _map_rows(path: Path, layout: TextLayout, edit: Callable[[int, list[str]], None]) -> None:
    """Call ``edit(row, cells)`` on every data row (0-based ``row``) and write the file back."""
    lines = _lines(path)
    start = _data_start(lines, layout)
    for i in range(start, len(lines)):
        if not lines[i].strip():
            continue
        cells = lines[i].split(layout.delimiter)
        edit(i - start, cells)
        lines[i] = layout.delimiter.join(cells)
    _write_lines(path, lines)


def _edit_cell(path: Path, layout: TextLayout, row: int, col: int, value: Callable[[str], str]) -> None:
    """Replace one cell of data row ``row`` (0-based) with ``value(old)``."""

    def edit(i: int, cells: list[str]) -> None:
        if i == row:
            cells[col] = value(cells[col])

    _map_rows(path, layout, edit)


def _scaled(cell: str, factor: float) -> str:
    """A time cell multiplied by ``factor``, written with the cell's own decimals."""
    text = cell.strip().strip("'\"")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{float(text) * factor:.{decimals}f}"


def truncate_mid_row(path: Path, layout: TextLayout) -> None:
    """Cut the file right after a delimiter past 60 % of it (the last row loses cells)."""
    data = path.read_bytes()
    cut = data.index(layout.delimiter.encode(), int(len(data) * 0.6)) + 1
    path.write_bytes(data[:cut])


def truncate_rows(path: Path, layout: TextLayout) -> None:
    """Keep the header and the first half of the data rows (a well-formed, shorter file)."""
    lines = _lines(path)
    start = _data_start(lines, layout)
    _write_lines(path, lines[: start + (len(lines) - start) // 2])


def empty(path: Path, layout: TextLayout | None = None) -> None:
    """Make the file zero bytes long."""
    path.write_bytes(b"")


def non_numeric(path: Path, layout: TextLayout) -> None:
    """``abc`` in the value column of data row 3."""
    _edit_cell(path, layout, 3, layout.value_col, lambda _: "abc")


def nan_cell(path: Path, layout: TextLayout) -> None:
    """``nan`` in the value column of data row 3."""
    _edit_cell(path, layout, 3, layout.value_col, lambda _: "nan")


def inf_cell(path: Path, layout: TextLayout) -> None:
    """``inf`` in the value column of data row 3."""
    _edit_cell(path, layout, 3, layout.value_col, lambda _: "inf")


def arff_missing_value(path: Path, layout: TextLayout) -> None:
    """ARFF's missing value ``?`` in the value column of data row 3."""
    _edit_cell(path, layout, 3, layout.value_col, lambda _: "?")


def tab_delimited(path: Path, layout: TextLayout) -> None:
    """Every delimiter of the data rows (and a CSV header) becomes a tab."""
    lines = _lines(path)
    start = _data_start(lines, layout) if layout.arff else 0
    lines[start:] = [l.replace(layout.delimiter, "\t") for l in lines[start:]]
    _write_lines(path, lines)


def drop_column(path: Path, layout: TextLayout) -> None:
    """Remove column ``drop_col`` from every row, its header cell and its ARFF declaration."""
    lines = _lines(path)
    start = _data_start(lines, layout)
    for i in range(len(lines)):
        if i >= start or (not layout.arff and i < layout.header_lines):
            cells = lines[i].split(layout.delimiter)
            del cells[layout.drop_col]
            lines[i] = layout.delimiter.join(cells)
    if layout.arff:
        declared = [i for i, l in enumerate(lines[:start]) if l.strip().lower().startswith("@attribute")]
        del lines[declared[layout.drop_col]]
    _write_lines(path, lines)


def duplicate_time(path: Path, layout: TextLayout) -> None:
    """Data row 5 gets the time of row 4 (a duplicated, non-increasing timestamp)."""
    lines = _lines(path)
    start = _data_start(lines, layout)
    previous = lines[start + 4].split(layout.delimiter)[layout.time_col]
    _edit_cell(path, layout, 5, layout.time_col, lambda _: previous)


def double_step(path: Path, layout: TextLayout) -> None:
    """Every time doubled: the file's step is twice the corpus's."""

    def edit(_: int, cells: list[str]) -> None:
        cells[layout.time_col] = _scaled(cells[layout.time_col], 2.0)

    _map_rows(path, layout, edit)


def other_recording(path: Path, layout: TextLayout) -> None:
    """The name column of data row 3 names another recording of the corpus."""
    _edit_cell(path, layout, 3, layout.name_col, lambda old: old.replace(old.strip("'\""), layout.other_name))


def huge_cell(path: Path, layout: TextLayout) -> None:
    """``1e30`` in the value column of data row 3: finite, but absurd for a label or a feature."""
    _edit_cell(path, layout, 3, layout.value_col, lambda _: "1e30")


def beyond_range(path: Path, layout: TextLayout) -> None:
    """A label half a unit above the range the corpus declares, in data row 3."""
    high = layout.label_range[1] if layout.label_range else 1.0
    _edit_cell(path, layout, 3, layout.value_col, lambda _: f"{high + 0.5:.6f}")


#: text mutation → (probe name, needs, the message must locate the damage)
TEXT_MUTATIONS: dict[Callable[[Path, TextLayout], None], tuple[str, str, bool]] = {
    truncate_mid_row: ("truncated mid-row", "", True),
    truncate_rows: ("truncated at a row boundary", "", False),
    empty: ("empty file", "", False),
    non_numeric: ("non-numeric cell", "", True),
    nan_cell: ("NaN cell", "", True),
    inf_cell: ("inf cell", "", True),
    arff_missing_value: ("ARFF '?' cell", "arff", True),
    tab_delimited: ("tab instead of the delimiter", "", False),
    drop_column: ("missing column", "", False),
    duplicate_time: ("duplicated timestamp", "time", True),
    double_step: ("twice the label step", "time", False),
    other_recording: ("row names another recording", "name", True),
    huge_cell: ("value 1e30", "data", True),
    beyond_range: ("label outside the declared range", "label", True),
}


def _applies(needs: str, layout: TextLayout) -> bool:
    return {
        "": True,
        "arff": layout.arff,
        "time": layout.time_col is not None,
        "name": layout.name_col is not None,
        "data": layout.kind in ("label", "feature"),
        "label": layout.kind == "label",
    }[needs]


def text_probes(
    asset: str, kind: str, target: str, layout: TextLayout, load: Loader, skip: Iterable[str] = ()
) -> list[Probe]:
    """Every text mutation that applies to ``layout`` (minus the names in ``skip``) as probes."""
    probes = []
    for mutate, (name, needs, locate) in TEXT_MUTATIONS.items():
        if _applies(needs, layout) and name not in skip:
            probes.append(Probe(asset, kind, name, target, _bind(mutate, layout), load, locate=locate))
    return probes


def _bind(mutate: Callable[[Path, TextLayout], None], layout: TextLayout) -> Callable[[Path], None]:
    return lambda path: mutate(path, layout)


# =========================================================================== binary files
def keep_fraction(fraction: float) -> Callable[[Path], None]:
    """A mutation keeping the first ``fraction`` of the file's bytes."""

    def cut(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return cut


def overwrite(offset: int, junk: bytes) -> Callable[[Path], None]:
    """A mutation overwriting bytes at ``offset`` with ``junk``."""

    def smash(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[offset : offset + len(junk)] = junk
        path.write_bytes(bytes(data))

    return smash


def replace_with(data: Callable[[Path], bytes]) -> Callable[[Path], None]:
    """A mutation replacing the file's bytes with ``data(path)``."""
    return lambda path: path.write_bytes(data(path))


def symlink_loop(path: Path) -> None:
    """The file becomes a symbolic link to itself (opening it fails with ELOOP)."""
    path.unlink()
    path.symlink_to(path.name)


def unreadable(path: Path) -> None:
    """The file loses every permission (only meaningful when the probes do not run as root)."""
    path.chmod(0)


def non_utf8_byte(path: Path) -> None:
    """Byte ``0xff`` (never valid UTF-8) written into the third line."""
    data = path.read_bytes()
    at = [i for i, b in enumerate(data) if b == ord("\n")][1] + 2
    path.write_bytes(data[:at] + b"\xff" + data[at:])


def copied_from(other: str) -> Callable[[Path], None]:
    """The file is replaced by a copy of its sibling ``other`` (another recording's file)."""
    return lambda path: path.write_bytes((path.parent / other).read_bytes())


#: the probes that need a file the current user cannot read are left out when running as root
CAN_MAKE_UNREADABLE = hasattr(os, "geteuid") and os.geteuid() != 0


def file_access_probes(asset: str, kind: str, target: str, load: Loader) -> list[Probe]:
    """A symbolic-link loop (and, when not root, an unreadable file) in place of ``target``."""
    mutations: dict[str, Callable[[Path], None]] = {"symbolic link loop": symlink_loop}
    if CAN_MAKE_UNREADABLE:
        mutations["unreadable file"] = unreadable
    return [Probe(asset, kind, name, target, mutate, load) for name, mutate in mutations.items()]


def _float_wav_with(value: float) -> Callable[[Path], None]:
    """The WAV rewritten as 32-bit float with one sample set to ``value``."""

    def apply(path: Path) -> None:
        import soundfile as sf

        signal, rate = sf.read(path, dtype="float32")
        signal[len(signal) // 3] = value
        sf.write(path, signal, rate, subtype="FLOAT")

    return apply


def _shorter_video(path: Path) -> None:
    """The video re-encoded with only its first half of the frames (it ends long before the labels)."""
    import av

    with av.open(str(path)) as source:
        stream = source.streams.video[0]
        rate = stream.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in source.decode(stream)]
    tmp = path.with_name("short.mp4")
    with av.open(str(tmp), "w") as out:
        video = out.add_stream("mpeg4", rate=rate)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = "yuv420p"
        for image in frames[: len(frames) // 2]:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    tmp.replace(path)


def _swap_columns(first: int, second: int) -> Callable[[Path], None]:
    """Two columns swapped in the header and in every row (a file written in another column order)."""

    def apply(path: Path) -> None:
        lines = _lines(path)
        for i, line in enumerate(lines):
            cells = line.split(";")
            if len(cells) > max(first, second):
                cells[first], cells[second] = cells[second], cells[first]
                lines[i] = ";".join(cells)
        _write_lines(path, lines)

    return apply


def _extra_column(path: Path) -> None:
    """One more column (header ``extra``, value ``0.5``) at the end of every line."""
    lines = _lines(path)
    _write_lines(path, [f"{line};{'extra' if i == 0 else '0.5'}" for i, line in enumerate(lines)])


# =========================================================================== CMU-MOSEI
def _first_train_video(csd: Path) -> str:
    return json.loads((csd.parent / "folds.json").read_text())["train"][0]


def h5_edit(edit: Callable[[Any], None]) -> Callable[[Path], None]:
    """A mutation editing the ``data/<first train video>`` group of a ``.csd`` file with h5py."""

    def apply(path: Path) -> None:
        import h5py

        video = _first_train_video(path)
        with h5py.File(path, "r+") as f:
            edit(f[next(iter(f.keys()))]["data"][video])

    return apply


def _nan_label(group: Any) -> None:
    values = group["features"][()]
    values[0, 1] = np.nan
    group["features"][...] = values


def _nan_interval(group: Any) -> None:
    values = group["intervals"][()]
    values[0, 0] = np.nan
    group["intervals"][...] = values


def _short_features(group: Any) -> None:
    values = group["features"][()]
    del group["features"]
    group.create_dataset("features", data=values[:-1])


def _set_feature(row: int, col: int, value: float) -> Callable[[Any], None]:
    """An h5 edit setting ``features[row, col]`` of the video to ``value``."""

    def edit(group: Any) -> None:
        values = group["features"][()]
        values[row, col] = value
        group["features"][...] = values

    return edit


def _inverted_words(group: Any) -> None:
    """Every word interval of the video ends before it starts (start and end swapped)."""
    values = group["intervals"][()]
    group["intervals"][...] = values[:, ::-1]


def _wider_features(group: Any) -> None:
    """The video's features get one more column than the file's other videos."""
    values = group["features"][()]
    del group["features"]
    group.create_dataset("features", data=np.concatenate([values, values[:, :1]], axis=1))


def _pickle_edit(edit: Callable[[dict], Any]) -> Callable[[Path], None]:
    """A mutation loading the aligned pickle, editing it and writing it back."""

    def apply(path: Path) -> None:
        with open(path, "rb") as f:
            data = pickle.load(f)
        result = edit(data)
        with open(path, "wb") as f:
            pickle.dump(data if result is None else result, f, protocol=4)

    return apply


class _Payload:
    """Unpickling this creates the file ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _with_payload(path: Path) -> bytes:
    return pickle.dumps({"train": {"audio": _Payload(path.parent / "PAYLOAD-RAN")}}, protocol=4)


def _nan_regression(data: dict) -> None:
    data["train"]["regression_labels"][0] = np.nan


def _flat_audio(data: dict) -> None:
    data["train"]["audio"] = data["train"]["audio"][:, :, 0]


def _short_labels(data: dict) -> None:
    data["train"]["regression_labels"] = data["train"]["regression_labels"][:-1]


def _pkl_value(key: str, value: float) -> Callable[[dict], None]:
    """A pickle edit setting the first value of ``train[key]`` to ``value``."""

    def edit(data: dict) -> None:
        array = data["train"][key]
        array.reshape(-1)[0] = value

    return edit


def _pkl_huge_audio(data: dict) -> None:
    """One valid audio step of the first train segment becomes 1e30."""
    audio = data["train"]["audio"]
    step = int(np.flatnonzero(np.abs(audio[0]).sum(axis=1) > 0)[-1])
    audio[0, step, 0] = 1e30


def _pkl_segment_in_two_folds(data: dict) -> None:
    """The first train segment is also listed (same id, same arrays) in the valid fold."""
    train, valid = data["train"], data["valid"]
    for key in list(valid):
        if isinstance(valid[key], np.ndarray) and isinstance(train.get(key), np.ndarray):
            valid[key] = np.concatenate([valid[key], train[key][:1]], axis=0)


def _pkl_video_in_two_folds(data: dict) -> None:
    """A valid segment's id names a train video (``<video>$_$<clip>``, another clip)."""
    video = str(data["train"]["id"][0]).split("$_$")[0]
    ids = np.asarray(data["valid"]["id"], dtype=object)
    ids[0] = f"{video}$_$99"
    data["valid"]["id"] = ids


def _json_bad_byte(path: Path) -> None:
    """Byte ``0xff`` right after the first ``[`` of a JSON file."""
    data = path.read_bytes()
    at = data.index(b"[") + 1
    path.write_bytes(data[:at] + b"\xff" + data[at:])


def _folds_overlap(path: Path) -> None:
    folds = json.loads(path.read_text())
    folds["valid"].append(folds["train"][0])
    path.write_text(json.dumps(folds))


# =========================================================================== checkpoints, bundles
def _foreign_checkpoint(path: Path) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(
        {
            "state_dict": {"layer.weight": torch.zeros(2, 2)},
            "epoch": 3,
            "global_step": 10,
            "pytorch-lightning_version": "2.0.0",
        },
        buffer,
    )
    return buffer.getvalue()


def _payload_checkpoint(path: Path) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {"model": "x", "data_spec": {}},
            "affect_zoo": {},
            "callbacks": {"x": _Payload(path.parent / "PAYLOAD-RAN")},
        },
        buffer,
    )
    return buffer.getvalue()


def _checkpoint_field(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """A mutation editing the checkpoint's dictionary (read safely, written back with torch.save)."""

    def apply(path: Path) -> None:
        import torch

        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        edit(checkpoint)
        torch.save(checkpoint, path)

    return apply


def _reader_state_root(checkpoint: dict) -> None:
    checkpoint["hyper_parameters"]["data_spec"]["reader_state"] = {"root": "/tmp/elsewhere"}


def _normalization(checkpoint: dict) -> dict:
    spec = checkpoint["hyper_parameters"]["data_spec"]
    return next(iter(spec["normalization"].values()))


def _std_zero(checkpoint: dict) -> None:
    _normalization(checkpoint)["std"][0] = 0.0


def _mean_nan(checkpoint: dict) -> None:
    _normalization(checkpoint)["mean"][0] = float("nan")


def _label_shift_nan(checkpoint: dict) -> None:
    checkpoint["hyper_parameters"]["data_spec"]["label_shift"] = float("nan")


def _nan_weights(checkpoint: dict) -> None:
    key = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][key] = torch_nan_like(checkpoint["state_dict"][key])


def torch_nan_like(tensor: Any) -> Any:
    """A copy of ``tensor`` whose first element is NaN."""
    out = tensor.clone()
    out.view(-1)[0] = float("nan")
    return out


def _nan_safetensors(path: Path) -> None:
    """One weight of the bundle's ``model.safetensors`` becomes NaN."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    key = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[key] = torch_nan_like(tensors[key])
    save_file(tensors, str(path))


def _edit_json(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))

    return apply


def _resealed(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    """Edit a bundle file, then recompute manifest.json (a forger who knows the format)."""

    def apply(path: Path) -> None:
        edit(path)
        folder = path.parent
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"] = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name != "manifest.json"
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return apply


def _symlink_to_passwd(path: Path) -> None:
    path.unlink()
    path.symlink_to("/etc/passwd")


def _flip_weights(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF
    path.write_bytes(bytes(data))


def _add_pickle(path: Path) -> None:
    (path.parent / "extra.pkl").write_bytes(pickle.dumps({"a": 1}))


#: overrides that make a run of :data:`RECIPE` take a second (one batch, a tiny network)
TINY_FIT = (
    "data.args.features=[egemaps]",
    "data.args.batch_size=4",
    "model.args.hidden_size=4",
    "model.args.head_hidden_size=4",
    "model.args.num_heads=1",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.enable_progress_bar=false",
    "logger=csv",
)


def zoo_loader(
    argv: Callable[[Path], list[str]],
    escaped: str | None = None,
    env: dict[str, str] | None = None,
    folder_ok: bool = False,
) -> Loader:
    """A loader running ``zoo ARGV(copy)`` in this process, its run folders under ``COPY/runs``.

    Returns the run's results when ``zoo`` exits with 0 (``escaped``: a path, relative to the copy,
    that such a run must not have written — if it did, the run is returned all the same and the
    probe is ``silent``). A non-zero exit raises :class:`ZooExit` with the printed error, or
    :class:`LeftBehind` when the refused command still made a run folder (unless ``folder_ok``: a
    run that failed while training keeps its folder).
    """

    def load(copy: Path) -> Any:
        from zoo.cli import run

        stderr = io.StringIO()
        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                result = run(argv(copy))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if result["exit_code"] != 0:
            made = sorted((copy / "runs").iterdir()) if (copy / "runs").is_dir() and not folder_ok else []
            if escaped and (copy / escaped).exists():
                made.append(copy / escaped)
            if made:
                raise LeftBehind(f"refused (exit {result['exit_code']}), but left {made[0]}")
            raise ZooExit(result["exit_code"], stderr.getvalue().strip())
        return result

    return load


def _zoo_validate(ckpt_name: str, corpus: Path, *extra: str) -> Loader:
    """A loader running ``zoo validate RECIPE ckpt=COPY/ckpt_name [extra...]``."""
    return zoo_loader(
        lambda copy: [
            "validate",
            RECIPE,
            f"ckpt={copy / ckpt_name}",
            f"data.args.root={corpus}",
            "data.args.features=[egemaps]",
            "trainer.enable_progress_bar=false",
            f"output_dir={copy / 'runs'}",
            "logger=csv",
            *extra,
        ]
    )


class ZooExit(Exception):
    """``zoo`` exited with a non-zero status; the message is what it printed on stderr."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text.splitlines()[-1] if text else f"exit status {code}")
        self.code = code
        self.lines = len(text.splitlines())


class LeftBehind(Exception):
    """A command that was refused still made a run folder (or wrote outside ``output_dir``)."""


# =========================================================================== assets and readers
@dataclass
class Assets:
    """The pristine folders probes copy, by name, and a scratch folder."""

    folders: dict[str, Path] = field(default_factory=dict)
    scratch: Path = Path(".")


def _write_recola(base: Path, folders: dict[str, Path]) -> Path:
    from zoo.data.corpora.recola.synthetic import write_synthetic_recola

    return write_synthetic_recola(
        base / "recola", n_per_partition=1, duration_s=4.0, video_size=32, feature_sets=["audio"]
    )


def _write_sewa(release: str) -> Callable[[Path, dict[str, Path]], Path]:
    from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa

    counts = (
        {"Train": 1, "Devel": 1, "Test": 1} if release == "avec2017" else {"Train_DE": 1, "Devel_DE": 1, "Test_DE": 1}
    )
    return lambda base, folders: write_synthetic_sewa(base / f"sewa-{release}", release=release, counts=counts)


def _write_muse_car(base: Path, folders: dict[str, Path]) -> Path:
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    return write_synthetic_muse_car(
        base / "muse_car", n_videos={"train": 2, "devel": 1, "test": 1}, feature_sets=["egemaps"]
    )


def _write_cmu_mosei(base: Path, folders: dict[str, Path]) -> Path:
    from zoo.data.corpora.cmu_mosei.synthetic import write_synthetic_cmu_mosei

    return write_synthetic_cmu_mosei(base / "cmu_mosei", n_videos={"train": 2, "valid": 1, "test": 1})


def _write_cmu_mosei_pkl(base: Path, folders: dict[str, Path]) -> Path:
    """The aligned pickle (MMSA layout) of the ``cmu_mosei`` corpus, alone in its folder."""
    from zoo.data.corpora.cmu_mosei.synthetic import write_aligned_pickle

    folder = base / "cmu_mosei_pkl"
    folder.mkdir()
    write_aligned_pickle(folders["cmu_mosei"], folder / "aligned.pkl")
    return folder


#: corpus asset → writer ``(base, assets written so far) -> folder``, in dependency order
WRITERS: dict[str, Callable[[Path, dict[str, Path]], Path]] = {
    "recola": _write_recola,
    "sewa2017": _write_sewa("avec2017"),
    "sewa2019": _write_sewa("avec2019"),
    "muse_car": _write_muse_car,
    "cmu_mosei": _write_cmu_mosei,
    "cmu_mosei_pkl": _write_cmu_mosei_pkl,
}
#: what an asset needs written first
NEEDS = {"cmu_mosei_pkl": ("cmu_mosei",), "checkpoint": ("muse_car",)}


def _write_checkpoint_and_bundle(base: Path, corpus: Path) -> dict[str, Path]:
    """One tiny Sun et al. 2020 checkpoint (1 epoch, 1 batch) and its exported bundle."""
    from zoo.cli import run
    from zoo.hub.bundle import export_bundle

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out = run(
            [
                "fit",
                RECIPE,
                f"data.args.root={corpus}",
                *TINY_FIT,
                "early_stopping.enabled=false",
                f"output_dir={base / 'runs'}",
            ]
        )
    if out["exit_code"] != 0:
        raise RuntimeError(f"training the probe checkpoint failed (exit {out['exit_code']})")
    checkpoint = base / "checkpoint"
    checkpoint.mkdir()
    shutil.copy(out["best_ckpt"], checkpoint / "model.ckpt")
    bundle = export_bundle(checkpoint / "model.ckpt", base / "bundle")
    cli = base / "cli"
    cli.mkdir()
    return {"checkpoint": checkpoint, "bundle": bundle, "run": Path(out["run_dir"]), "cli": cli}


def build_assets(base: Path, corpora: Iterable[str] | None = None, artifacts: bool = True) -> Assets:
    """Write pristine assets under ``base``.

    Args:
        base: an empty folder.
        corpora: the corpus assets to write (default: all of :data:`WRITERS`).
        artifacts: also train the tiny checkpoint and export its bundle (needs ``muse_car``).
    """
    wanted = set(WRITERS if corpora is None else corpora) | (set(NEEDS["checkpoint"]) if artifacts else set())
    for name in list(wanted):
        wanted |= set(NEEDS.get(name, ()))
    folders: dict[str, Path] = {}
    for name, write in WRITERS.items():
        if name in wanted:
            folders[name] = write(base, folders)
    if artifacts:
        folders.update(_write_checkpoint_and_bundle(base, folders["muse_car"]))
    scratch = base / "scratch"
    scratch.mkdir()
    return Assets(folders, scratch)


def corpus_reader(build: Callable[[Path], Any], partition: str = "train") -> Loader:
    """A loader reading ``partition`` of a datamodule built on the copied corpus."""
    return lambda root: build(root).raw_recordings(partition)


def _recola(**kwargs: Any) -> Callable[[Path], Any]:
    from zoo.data import create_datamodule

    return lambda root: create_datamodule("recola", root=root, use_cache=False, **{"features": ["audio"], **kwargs})


def _sewa(release: str, features: Sequence[str], **kwargs: Any) -> Callable[[Path], Any]:
    from zoo.data import create_datamodule

    return lambda root: create_datamodule(
        "sewa", root=root, release=release, features=list(features), use_cache=False, **kwargs
    )


def _muse() -> Callable[[Path], Any]:
    from zoo.data import create_datamodule

    return lambda root: create_datamodule("muse_car", root=root, features=["egemaps"], use_cache=False)


def _mosei_csd(scratch: Path, strict: bool = False) -> Callable[[Path], Any]:
    from zoo.data import create_datamodule

    def build(root: Path) -> Any:
        cache = Path(tempfile.mkdtemp(dir=scratch, prefix="mosei-cache-"))  # never a stale alignment
        return create_datamodule("cmu_mosei", root=root, folds=root / "folds.json", cache_dir=cache, strict=strict)

    return build


def _mosei_pkl(strict: bool = False) -> Callable[[Path], Any]:
    from zoo.data import create_datamodule

    return lambda root: create_datamodule(
        "cmu_mosei", root=root / "aligned.pkl", format="pkl", targets=["sentiment"], strict=strict
    )


# =========================================================================== the catalogue
def recola_probes(assets: Assets) -> list[Probe]:
    """Gold standard and feature ARFFs, individual ratings (``ratings="mean"``), WAV (raw mode)."""
    recola = corpus_reader(_recola())
    ratings = corpus_reader(_recola(ratings="mean"))
    raw_audio = corpus_reader(_recola(mode="raw"))
    return [
        *text_probes(
            "recola",
            "gold standard ARFF",
            "ratings_gold_standard/arousal/train_1.arff",
            TextLayout(
                ",",
                value_col=2,
                time_col=1,
                drop_col=2,
                name_col=0,
                other_name="dev_1",
                arff=True,
                kind="label",
                label_range=(-1.0, 1.0),
            ),
            recola,
        ),
        *text_probes(
            "recola",
            "feature ARFF",
            "features_audio/arousal/train_1.arff",
            TextLayout(
                ",", value_col=5, time_col=1, drop_col=1, name_col=0, other_name="dev_1", arff=True, kind="feature"
            ),
            recola,
        ),
        *text_probes(
            "recola",
            "individual ratings CSV",
            "ratings_individual/arousal/train_1.csv",
            TextLayout(";", header_lines=1, value_col=2, time_col=0, drop_col=0, kind="label", label_range=(-1.0, 1.0)),
            ratings,
        ),
        Probe(
            "recola",
            "individual ratings CSV",
            "a rater column missing",
            "ratings_individual/arousal/train_1.csv",
            _bind(drop_column, TextLayout(";", header_lines=1, drop_col=2)),
            ratings,
        ),
        *binary_probes(
            "recola",
            "WAV",
            "recordings_audio/train_1.wav",
            raw_audio,
            {
                "truncated WAV": keep_fraction(0.5),
                "WAV cut inside its header": _cut_at(30),
                "corrupt RIFF header": overwrite(0, b"JUNKJUNKJUNK"),
                "empty WAV": empty,
                "float WAV with a sample of 1e30": _float_wav_with(1e30),
            },
        ),
        *binary_probes(
            "recola",
            "MP4",
            "recordings_video/train_1.mp4",
            corpus_reader(_recola(mode="raw", features=["video"], face_size=16)),
            {"video shorter than its labels": _shorter_video},
        ),
        *binary_probes(
            "recola",
            "gold standard ARFF",
            "ratings_gold_standard/arousal/train_1.arff",
            recola,
            {"another recording's file (Instance_name dev_1)": copied_from("dev_1.arff")},
        ),
        *binary_probes(
            "recola",
            "feature ARFF",
            "features_audio/arousal/train_1.arff",
            recola,
            {"another recording's file (Instance_name dev_1)": copied_from("dev_1.arff")},
        ),
        *file_access_probes("recola", "gold standard ARFF", "ratings_gold_standard/arousal/train_1.arff", recola),
        *file_access_probes("recola", "feature ARFF", "features_audio/arousal/train_1.arff", recola),
    ]


def sewa2017_probes(assets: Assets) -> list[Probe]:
    """Headerless label and feature files, and the subject's turns (``interlocutor="purified"``)."""
    sewa = corpus_reader(_sewa("avec2017", ["audio_features_xbow_6s"], interlocutor="purified"))
    return [
        *text_probes(
            "sewa2017",
            "label CSV (no header)",
            "labels/Train_01.csv",
            TextLayout(
                ";",
                value_col=2,
                time_col=1,
                drop_col=4,
                name_col=0,
                other_name="Devel_01",
                kind="label",
                label_range=(-1.0, 1.0),
            ),
            sewa,
        ),
        *text_probes(
            "sewa2017",
            "feature CSV (no header)",
            "audio_features_xbow_6s/Train_01.csv",
            TextLayout(";", value_col=5, time_col=1, drop_col=1, name_col=0, other_name="Devel_01", kind="feature"),
            sewa,
        ),
        *text_probes(
            "sewa2017",
            "turns CSV",
            "turns/Train_01.csv",
            TextLayout(";", value_col=1, drop_col=1),
            sewa,
            skip=("truncated at a row boundary",),
        ),
        *binary_probes(
            "sewa2017", "label CSV (no header)", "labels/Train_01.csv", sewa, {"a non-UTF-8 byte": non_utf8_byte}
        ),
        *binary_probes(
            "sewa2017",
            "transcription CSV",
            "transcriptions/Train_01.csv",
            corpus_reader(_sewa("avec2017", ["text_bow"])),
            {"a non-UTF-8 byte": non_utf8_byte},
        ),
        *file_access_probes("sewa2017", "label CSV (no header)", "labels/Train_01.csv", sewa),
        *file_access_probes("sewa2017", "feature CSV (no header)", "audio_features_xbow_6s/Train_01.csv", sewa),
    ]


def sewa2019_probes(assets: Assets) -> list[Probe]:
    """Label files with a header and the 40 ms FAU feature files."""
    sewa = corpus_reader(_sewa("avec2019", ["visual_features"], cultures=["DE"]))
    return [
        *text_probes(
            "sewa2019",
            "label CSV (header)",
            "labels/Train_DE_01.csv",
            TextLayout(
                ";",
                header_lines=1,
                value_col=2,
                time_col=1,
                drop_col=2,
                name_col=0,
                other_name="Devel_DE_01",
                kind="label",
                label_range=(-1.0, 1.0),
            ),
            sewa,
        ),
        *text_probes(
            "sewa2019",
            "FAU feature CSV",
            "visual_features/Train_DE_01.csv",
            TextLayout(
                ";",
                header_lines=1,
                value_col=4,
                time_col=1,
                drop_col=1,
                name_col=0,
                other_name="Devel_DE_01",
                kind="feature",
            ),
            sewa,
        ),
        *binary_probes(
            "sewa2019",
            "FAU feature CSV",
            "visual_features/Train_DE_01.csv",
            sewa,
            {"two AU columns swapped (header and values)": _swap_columns(3, 4), "an extra column": _extra_column},
        ),
    ]


def muse_car_probes(assets: Assets) -> list[Probe]:
    """The partition table, a label file and a feature file of a training video."""
    muse = corpus_reader(_muse())
    video = _muse_train_video(assets.folders["muse_car"])
    return [
        *text_probes(
            "muse_car",
            "partition CSV",
            "metadata/partition.csv",
            TextLayout(",", header_lines=1, value_col=0, drop_col=1),
            muse,
            skip=("truncated at a row boundary", "inf cell"),
        ),
        *text_probes(
            "muse_car",
            "label CSV",
            f"c1_muse_wild/label_segments/arousal/{video}.csv",
            TextLayout(",", header_lines=1, value_col=1, time_col=0, drop_col=1, kind="label", label_range=(-1.0, 1.0)),
            muse,
        ),
        *text_probes(
            "muse_car",
            "feature CSV",
            f"c1_muse_wild/feature_segments/label_aligned/egemaps/{video}.csv",
            TextLayout(",", header_lines=1, value_col=5, time_col=0, drop_col=0, kind="feature"),
            muse,
        ),
        *file_access_probes("muse_car", "label CSV", f"c1_muse_wild/label_segments/arousal/{video}.csv", muse),
        *file_access_probes(
            "muse_car", "feature CSV", f"c1_muse_wild/feature_segments/label_aligned/egemaps/{video}.csv", muse
        ),
        *file_access_probes("muse_car", "partition CSV", "metadata/partition.csv", muse),
    ]


def cmu_mosei_probes(assets: Assets) -> list[Probe]:
    """``.csd`` HDF5 files (labels and COVAREP) and the folds file, by default and ``strict=True``."""
    mosei = corpus_reader(_mosei_csd(assets.scratch))
    probes = []
    for kind, target in (("labels .csd", "CMU_MOSEI_Labels.csd"), ("COVAREP .csd", "CMU_MOSEI_COVAREP.csd")):
        probes += binary_probes(
            "cmu_mosei",
            kind,
            target,
            mosei,
            {
                "truncated HDF5": keep_fraction(0.5),
                "corrupt HDF5 signature": overwrite(0, b"NOTHDF5!"),
                "empty file": empty,
                "features and intervals of different lengths": h5_edit(_short_features),
                "NaN interval": h5_edit(_nan_interval),
            },
        )
    probes += binary_probes(
        "cmu_mosei", "labels .csd", "CMU_MOSEI_Labels.csd", mosei, {"NaN label": h5_edit(_nan_label)}
    )
    probes += binary_probes(
        "cmu_mosei",
        "labels .csd (strict=True)",
        "CMU_MOSEI_Labels.csd",
        corpus_reader(_mosei_csd(assets.scratch, strict=True)),
        {"NaN label": h5_edit(_nan_label), "NaN interval": h5_edit(_nan_interval)},
    )
    probes += binary_probes(
        "cmu_mosei",
        "folds JSON",
        "folds.json",
        mosei,
        {
            "truncated JSON": keep_fraction(0.5),
            "video in two folds": _folds_overlap,
            "empty file": empty,
            "a non-UTF-8 byte": _json_bad_byte,
        },
    )
    probes += binary_probes(
        "cmu_mosei",
        "labels .csd",
        "CMU_MOSEI_Labels.csd",
        mosei,
        {"label 1e30": h5_edit(_set_feature(0, 1, 1e30)), "happy 3.5 (range [0, 3])": h5_edit(_set_feature(0, 1, 3.5))},
    )
    probes += binary_probes(
        "cmu_mosei", "COVAREP .csd", "CMU_MOSEI_COVAREP.csd", mosei, {"value 1e30": h5_edit(_set_feature(5, 0, 1e30))}
    )
    probes += binary_probes(
        "cmu_mosei",
        "word vectors .csd",
        "CMU_MOSEI_TimestampedWordVectors.csd",
        mosei,
        {
            "word intervals ending before they start": h5_edit(_inverted_words),
            "NaN word vector": h5_edit(_set_feature(1, 0, np.nan)),
        },
    )
    probes += binary_probes(
        "cmu_mosei",
        "FACET .csd",
        "CMU_MOSEI_VisualFacet42.csd",
        mosei,
        {"one video with an extra column": h5_edit(_wider_features)},
    )
    probes += file_access_probes("cmu_mosei", "labels .csd", "CMU_MOSEI_Labels.csd", mosei)
    probes += file_access_probes("cmu_mosei", "folds JSON", "folds.json", mosei)
    return probes


def cmu_mosei_pkl_probes(assets: Assets) -> list[Probe]:
    """The aligned pickle: damaged, a code payload, wrong layouts, NaN labels."""
    probes = binary_probes(
        "cmu_mosei_pkl",
        "aligned pickle",
        "aligned.pkl",
        corpus_reader(_mosei_pkl()),
        {
            "truncated pickle": keep_fraction(0.5),
            "code payload": replace_with(_with_payload),
            "a list, not a dict": _pickle_edit(lambda d: [d]),
            "no train partition": _pickle_edit(lambda d: {k: v for k, v in d.items() if k != "train"}),
            "2-d audio array": _pickle_edit(_flat_audio),
            "fewer labels than segments": _pickle_edit(_short_labels),
            "NaN label": _pickle_edit(_nan_regression),
            "label 1e30": _pickle_edit(_pkl_value("regression_labels", 1e30)),
            "sentiment 3.5 (range [-3, 3])": _pickle_edit(_pkl_value("regression_labels", 3.5)),
            "audio value 1e30": _pickle_edit(_pkl_huge_audio),
            "segment in two folds": _pickle_edit(_pkl_segment_in_two_folds),
            "video in two folds": _pickle_edit(_pkl_video_in_two_folds),
        },
    )
    probes += file_access_probes("cmu_mosei_pkl", "aligned pickle", "aligned.pkl", corpus_reader(_mosei_pkl()))
    probes += binary_probes(
        "cmu_mosei_pkl",
        "aligned pickle (strict=True)",
        "aligned.pkl",
        corpus_reader(_mosei_pkl(strict=True)),
        {"NaN label": _pickle_edit(_nan_regression)},
    )
    return probes


def _cut_at(size: int) -> Callable[[Path], None]:
    def cut(path: Path) -> None:
        path.write_bytes(path.read_bytes()[:size])

    return cut


def _muse_train_video(root: Path) -> str:
    rows = (root / "metadata" / "partition.csv").read_text().splitlines()[1:]
    return next(r.split(",")[0] for r in rows if r.split(",")[1].strip() == "train")


def binary_probes(
    asset: str, kind: str, target: str, load: Loader, mutations: dict[str, Callable[[Path], None]]
) -> list[Probe]:
    """Probes of one file from a ``{name: mutation}`` table (no row to locate)."""
    return [Probe(asset, kind, name, target, mutate, load) for name, mutate in mutations.items()]


def artifact_probes(assets: Assets) -> list[Probe]:
    """Probes of checkpoints and bundles (accepting any of them is ``silent``)."""
    from zoo.hub.bundle import load_bundle
    from zoo.hub.checkpoint_io import read_checkpoint, task_from_checkpoint
    from zoo.hub.pretrained import load_pretrained

    read = lambda copy: read_checkpoint(copy / "model.ckpt")  # noqa: E731
    rebuild = lambda copy: task_from_checkpoint(copy / "model.ckpt")  # noqa: E731
    pretrained = lambda copy: load_pretrained(copy / "model.ckpt")  # noqa: E731
    url = "https://example.org/models/model.ckpt"
    probes = [
        Probe("checkpoint", "checkpoint", name, "model.ckpt", mutate, loader, compare=False)
        for name, mutate, loader in (
            ("pickle payload (weights_only refuses it)", replace_with(_payload_checkpoint), read),
            ("another program's Lightning checkpoint", replace_with(_foreign_checkpoint), read),
            ("not a zip archive", replace_with(lambda p: b"PK? not really a checkpoint\n" * 10), read),
            ("truncated checkpoint", keep_fraction(0.5), read),
            ("weights of another shape", _checkpoint_field(_wider_weights), rebuild),
            ("normalisation std 0 (load_pretrained)", _checkpoint_field(_std_zero), pretrained),
            ("normalisation mean NaN (load_pretrained)", _checkpoint_field(_mean_nan), pretrained),
            ("label_shift NaN (load_pretrained)", _checkpoint_field(_label_shift_nan), pretrained),
            ("NaN weights (load_pretrained)", _checkpoint_field(_nan_weights), pretrained),
        )
    ]
    probes.append(
        Probe(
            "checkpoint",
            "checkpoint",
            "a URL as ckpt",
            "model.ckpt",
            lambda p: None,
            lambda copy: read_checkpoint(url),
            mention=url,
            compare=False,
        )
    )
    validate = _zoo_validate("model.ckpt", assets.folders["muse_car"])
    probes.append(
        Probe(
            "checkpoint",
            "checkpoint",
            "reader_state sets root (zoo validate)",
            "model.ckpt",
            _checkpoint_field(_reader_state_root),
            validate,
            compare=False,
        )
    )
    bundle = lambda copy: load_bundle(copy)  # noqa: E731
    probes += [
        Probe("bundle", "bundle", name, target, mutate, bundle, mention=mention, compare=False)
        for name, target, mutate, mention in (
            ("config.json edited after export", "config.json", _edit_json(_shift_labels), None),
            ("weights edited after export", "model.safetensors", _flip_weights, None),
            ("config.json is a symlink", "config.json", _symlink_to_passwd, None),
            (
                "reader_state sets root (manifest resealed)",
                "config.json",
                _resealed(_edit_json(lambda c: c.update(reader_state={"root": "/tmp/elsewhere"}))),
                None,
            ),
            ("a pickle file added", "config.json", _add_pickle, "extra.pkl"),
            ("manifest.json removed", "manifest.json", lambda p: p.unlink(), "manifest.json"),
            ("NaN weights (manifest resealed)", "model.safetensors", _resealed(_nan_safetensors), None),
        )
    ]
    for name, extra in (
        ("zoo validate ckpt=... loss.name=mse", "loss.name=mse"),
        ("zoo validate ckpt=... model.args.hidden_size=64", "model.args.hidden_size=64"),
    ):
        key = extra.split("=")[0]
        probes.append(
            Probe(
                "checkpoint",
                "command line",
                name,
                "model.ckpt",
                lambda p: None,
                _zoo_validate("model.ckpt", assets.folders["muse_car"], extra),
                mention=key,
                compare=False,
            )
        )
    return probes


def _wider_weights(checkpoint: dict) -> None:
    import torch

    key = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][key] = torch.zeros(*[s + 1 for s in checkpoint["state_dict"][key].shape])


def _shift_labels(config: dict) -> None:
    config["label_shift"] = float(config.get("label_shift") or 0.0) + 2.0


def _fit_argv(corpus: Path, *extra: str, tiny: Sequence[str] = TINY_FIT) -> Callable[[Path], list[str]]:
    return lambda copy: [
        "fit",
        RECIPE,
        f"data.args.root={corpus}",
        *tiny,
        f"output_dir={copy / 'runs'}",
        *[e.replace("{copy}", str(copy)) for e in extra],
    ]


def _write_evil_weights(path: Path) -> None:
    """A ``.pth`` file whose unpickling would run code (refused by ``weights_only`` loading)."""
    path.write_bytes(pickle.dumps({"conv.weight": _Payload(path.parent / "PAYLOAD-RAN")}, protocol=4))


def cli_probes(assets: Assets) -> list[Probe]:
    """Command-line mistakes: option values, run names, a resumed run without its overrides, unsafe
    pretrained weights, a training loss that is not finite. A refusal must be ``zoo`` exit 2 with
    one line naming the key (or file), and no run folder left behind."""
    muse = assets.folders["muse_car"]
    probes = [
        Probe(
            "cli",
            "option value",
            f"{override}",
            "runs",
            lambda p: None,
            zoo_loader(_fit_argv(muse, override)),
            mention=key,
            compare=False,
        )
        for key, override in (
            ("data.args.batch_size", "data.args.batch_size=0"),
            ("data.args.eval_batch_size", "data.args.eval_batch_size=1.5"),
            ("early_stopping.patience", "early_stopping.patience=-1"),
            ("data.args.features", "data.args.features=[egemaps,egemaps]"),
            ("data.args.root", "data.args.root="),
        )
    ]
    probes += [
        Probe(
            "cli",
            "run name",
            "run_name=../../escaped",
            "runs",
            lambda p: None,
            zoo_loader(_fit_argv(muse, "output_dir={copy}/out/runs", "run_name=../../escaped"), escaped="escaped"),
            mention="run_name",
            compare=False,
        ),
        Probe(
            "cli",
            "run name",
            "run_name=${oc.env:ZOO_PROBE_NAME}",
            "runs",
            lambda p: None,
            zoo_loader(_fit_argv(muse, "run_name=${oc.env:ZOO_PROBE_NAME}"), env={"ZOO_PROBE_NAME": "from-env"}),
            mention="run_name",
            compare=False,
        ),
        Probe(
            "cli",
            "pretrained weights",
            "model.args.pretrained_path=evil.pth (a pickle payload)",
            "evil.pth",
            _write_evil_weights,
            zoo_loader(
                lambda copy: [
                    "fit",
                    "recola/tzirakis2017_visual",
                    f"data.args.root={assets.folders['recola']}",
                    f"model.args.pretrained_path={copy / 'evil.pth'}",
                    "model.args.backbone=resnet18",
                    "data.args.face_size=16",
                    "trainer.max_epochs=1",
                    "trainer.enable_progress_bar=false",
                    "logger=csv",
                    f"output_dir={copy / 'runs'}",
                ]
            ),
            forbid="weights_only=False",
            compare=False,
        ),
    ]
    if "run" in assets.folders:
        probes.append(
            Probe(
                "run",
                "command line",
                "resume ckpt=last.ckpt without the run's overrides",
                "checkpoints/last.ckpt",
                lambda p: None,
                zoo_loader(
                    lambda copy: [
                        "fit",
                        RECIPE,
                        f"data.args.root={muse}",
                        "data.args.features=[egemaps]",
                        "trainer.max_epochs=2",
                        "trainer.limit_train_batches=1",
                        "trainer.enable_progress_bar=false",
                        "logger=csv",
                        f"ckpt={copy / 'checkpoints' / 'last.ckpt'}",
                    ]
                ),
                compare=False,
                accept_ok=True,
            )
        )
    diverging = [t for t in TINY_FIT if not t.startswith("trainer.limit_train_batches")]
    probes.append(
        Probe(
            "cli",
            "command line",
            "training loss not finite (optimizer.lr=1e30): the message names a file and a row",
            "runs",
            lambda p: None,
            zoo_loader(
                _fit_argv(muse, "optimizer.lr=1e30", "trainer.limit_train_batches=3", tiny=diverging), folder_ok=True
            ),
            mention="c1_muse_wild/feature_segments/label_aligned/egemaps/",
            locate=True,
            compare=False,
        )
    )
    return probes


#: asset → the probes of its files
CATALOGUE: dict[str, Callable[[Assets], list[Probe]]] = {
    "recola": recola_probes,
    "sewa2017": sewa2017_probes,
    "sewa2019": sewa2019_probes,
    "muse_car": muse_car_probes,
    "cmu_mosei": cmu_mosei_probes,
    "cmu_mosei_pkl": cmu_mosei_pkl_probes,
    "checkpoint": artifact_probes,
    "cli": cli_probes,
}


def catalogue(assets: Assets) -> list[Probe]:
    """Every probe whose asset was built."""
    return [probe for asset, probes in CATALOGUE.items() if asset in assets.folders for probe in probes(assets)]


# =========================================================================== running
def digest(value: Any) -> str:
    """A fingerprint of what a reader returned (ids, timestamps, targets, features)."""
    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if isinstance(x, np.ndarray):
            h.update(str((x.dtype, x.shape)).encode())
            h.update(np.ascontiguousarray(x).tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                feed(str(k))
                feed(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                feed(v)
        elif hasattr(x, "__dict__"):
            feed(vars(x))
        else:
            h.update(repr(x).encode())

    feed(value)
    return h.hexdigest()


def _copy_asset(assets: Assets, probe: Probe, index: int) -> Path:
    copy = assets.scratch / f"probe-{index:03d}"
    shutil.copytree(assets.folders[probe.asset], copy, symlinks=True)
    return copy


def _quiet_call(load: Loader, copy: Path) -> tuple[Any, list[str]]:
    """``load(copy)`` with warnings and log records collected (and not printed)."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                records.append(record.getMessage())

    handler, root = Collect(), logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = load(copy)
        records += [str(w.message) for w in caught]
    finally:
        root.removeHandler(handler)
    return value, records


def classify_error(probe: Probe, err: BaseException) -> tuple[str, str]:
    """``(outcome, first line)`` of an exception raised by a probe's loader."""
    from zoo.errors import AffectZooError

    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    mention = probe.mention or probe.target
    ours = isinstance(err, (AffectZooError, ValueError, OSError, ZooExit)) and not isinstance(
        err, (KeyError, IndexError, UnicodeError)
    )
    if isinstance(err, LeftBehind):
        return UNCLEAR, str(err)
    if isinstance(err, ZooExit) and err.code != 2:
        return CRASH, f"zoo exit {err.code}: {first}"
    if not ours:
        return CRASH, f"{type(err).__name__}: {first}"
    if probe.forbid and probe.forbid in text:
        return UNCLEAR, f"says {probe.forbid!r}: {first}"
    if mention not in text:
        return UNCLEAR, f"{type(err).__name__} without {mention}: {first}"
    if probe.locate and not LOCATED.search(text.replace(str(Path(probe.target).parent), "")):
        return UNCLEAR, f"names no line/field: {first}"
    return REFUSED, first


def run_probe(probe: Probe, assets: Assets, index: int, pristine: dict[tuple[str, int], str]) -> Result:
    """Corrupt a fresh copy of the probe's asset, load it, and classify what happened."""
    copy = _copy_asset(assets, probe, index)
    try:
        probe.corrupt(copy / probe.target)
        try:
            value, notes = _quiet_call(probe.load, copy)
        except Exception as err:  # noqa: BLE001 - classifying every failure is the point
            outcome, message = classify_error(probe, err)
        else:
            outcome, message = _classify_accepted(probe, value, notes, pristine)
        if (copy / probe.target).parent.joinpath("PAYLOAD-RAN").exists():
            outcome, message = SILENT, "the pickle payload RAN: " + message
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return Result(probe, outcome, message)


def _classify_accepted(
    probe: Probe, value: Any, notes: list[str], pristine: dict[tuple[str, int], str]
) -> tuple[str, str]:
    mention = probe.mention or probe.target
    if probe.accept_ok:
        return HARMLESS, "accepted, as it should be"
    if not probe.compare:
        return SILENT, "loaded"
    named = [n for n in notes if mention in n]
    if named:
        return WARNED, named[0].splitlines()[0]
    if digest(value) == pristine[(probe.asset, id(probe.load))]:
        return HARMLESS, "accepted; the data read is identical to the pristine file's"
    if notes:
        return UNCLEAR, f"accepted with a warning without {mention}: {notes[0].splitlines()[0]}"
    return SILENT, "accepted; the data read differs from the pristine file's"


def pristine_digests(probes: Sequence[Probe], assets: Assets) -> dict[tuple[str, int], str]:
    """The digest of every (asset, loader) pair of the corpus probes on unmodified copies."""
    out: dict[tuple[str, int], str] = {}
    for probe in probes:
        key = (probe.asset, id(probe.load))
        if probe.compare and key not in out:
            copy = _copy_asset(assets, probe, 999)
            try:
                out[key] = digest(_quiet_call(probe.load, copy)[0])
            finally:
                shutil.rmtree(copy, ignore_errors=True)
    return out


def run_probes(probes: Sequence[Probe], assets: Assets) -> list[Result]:
    """Run every probe (pristine readings first) and return the results in order."""
    pristine = pristine_digests(probes, assets)
    return [run_probe(p, assets, i, pristine) for i, p in enumerate(probes)]


def totals(results: Sequence[Result]) -> dict[str, int]:
    """``{"tried": N, outcome: count, ...}``."""
    counts = {"tried": len(results)}
    counts.update({o: sum(r.outcome == o for r in results) for o in OUTCOMES})
    return counts


def format_table(results: Sequence[Result], verbose: bool = False, width: int = 110) -> str:
    """One line per probe (``--verbose``: every probe; else the problems and a per-file summary)."""
    lines = [f"{'outcome':9} {'probe':68} message"]
    for r in results:
        if verbose or r.outcome in (UNCLEAR, CRASH, SILENT):
            message = r.message if len(r.message) <= width else r.message[: width - 3] + "..."
            lines.append(f"{r.outcome:9} {r.probe.label[:68]:68} {message}")
    return "\n".join(lines)


def format_totals(counts: dict[str, int]) -> str:
    """``tried 150: refused 140, warned 2, harmless 3, unclear 2, crash 1, silent 2``."""
    return f"tried {counts['tried']}: " + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the assets in a temporary folder, run the catalogue, print the table and totals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the probes whose 'asset: kind: name' contains this text")
    parser.add_argument("--verbose", action="store_true", help="one line per probe, not only the problems")
    parser.add_argument(
        "--corpora", help=f"comma-separated corpus assets to write and probe (default all: {','.join(WRITERS)})"
    )
    parser.add_argument(
        "--no-artifacts", action="store_true", help="skip the checkpoint and bundle probes (no training)"
    )
    args = parser.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoo-probes-") as tmp:
        corpora = args.corpora.split(",") if args.corpora else None
        unknown = sorted(set(corpora or ()) - set(WRITERS))
        if unknown:
            parser.error(f"unknown corpora {unknown}; choose from {list(WRITERS)}")
        assets = build_assets(Path(tmp), corpora=corpora, artifacts=not args.no_artifacts)
        probes = [p for p in catalogue(assets) if not args.only or args.only in p.label]
        results = run_probes(probes, assets)
    print(format_table(results, verbose=args.verbose))
    counts = totals(results)
    print(f"\n{format_totals(counts)}  ({time.perf_counter() - started:.0f} s)")
    return 1 if counts[UNCLEAR] or counts[CRASH] or counts[SILENT] else 0


if __name__ == "__main__":
    sys.exit(main())
