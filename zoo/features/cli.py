"""``zoo extract``: run an extractor over raw recordings and write a corpus feature layout.

Usage::

    zoo extract FEATURE --input DIR_OR_FILE [...] --output DIR --layout CORPUS
                [--hop 0.25] [--win 5] [--weights PATH] [--name FOLDER] [--timeline DIR]
                [--option KEY=VALUE ...] [--overwrite]
    zoo extract --list

Runs are resumable: a recording whose output file exists is skipped unless ``--overwrite``
(files are written to a temporary name and renamed, so a file that exists is complete).
The output folder must not be inside an input folder, and no output file may be an input file.

The feature folder records how it was made in ``extract_settings.json`` (extractor, layout, hop,
window, weights and their sha256, options, timeline). A run into a folder made with other
settings is refused, naming the settings that differ (one folder never mixes two extractions);
a folder holding files without that record (e.g. a corpus's own features) is never written to.

``--layout`` is any corpus whose reader declares an extract layout (``Corpus.extract_layout``,
:mod:`zoo.data.extract_layout`; built in: ``muse_car``, ``sewa``, ``recola``): the layout names the
feature folder (RECOLA: one its datamodule reads, ``features_audio``, ``features_video_appearance``
or ``features_video_geometric``; ``--name`` takes the feature set, e.g. ``video_appearance``, or the
folder name; default by modality), where each file goes and its table format.

Without ``--timeline`` features are written on ``0, hop, 2·hop, …`` up to the recording's
length; where the output already holds that recording's labels (the layout's label folder, e.g.
MuSe-CaR ``label_segments``, RECOLA ``ratings_gold_standard``, SEWA ``labels``) and their frames
differ, the run stops and says which ``--timeline`` to pass. ``--timeline`` takes label files of
any layout (``<id>.csv`` with a ``timestamp`` column in ms as MuSe-CaR's, ``;``-separated SEWA
label files, RECOLA gold-standard ``<id>.arff``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import ExtractorError, extractor_class, label_times, list_extractors
from .settings import SETTINGS_FILE, extraction_settings, sha256_path
from .writers import extract_layout, feature_folder, layouts, output_paths, write_features

__all__ = [
    "add_arguments",
    "extraction_settings",
    "format_extractor_table",
    "read_timeline",
    "run_extract",
    "SETTINGS_FILE",
]

#: settings that must match for a run to add to an existing feature folder
_COMPARED = ("extractor", "layout", "hop", "win", "weights_sha256", "options", "timeline")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``zoo extract`` arguments to ``parser``."""
    parser.add_argument("feature", nargs="?", help="extractor name (see --list)")
    parser.add_argument("--input", nargs="+", default=[], help="input files or folders")
    parser.add_argument("--output", help="corpus folder to write into")
    from zoo.data.extract_layout import DEFAULT_LAYOUT

    parser.add_argument("--layout", choices=layouts(), default=DEFAULT_LAYOUT, help="the corpus layout to write")
    parser.add_argument("--hop", type=float, default=None, help="label step in seconds")
    parser.add_argument("--win", type=float, default=None, help="analysis window in seconds")
    parser.add_argument("--weights", default=None, help="local weights file / model folder")
    parser.add_argument("--name", default=None, help="feature folder name (default: FEATURE)")
    parser.add_argument(
        "--timeline",
        default=None,
        help="folder of <id>.csv files with a 'timestamp' column in ms (and optionally "
        "'segment_id'), e.g. a MuSe-CaR label folder, or ';'-separated SEWA label files "
        "(name;time in seconds;...): features are written on those frames",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extractor option, e.g. fps=30, arch=resnet18 (repeatable)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo finished files")
    parser.add_argument("--list", action="store_true", help="list the extractors and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def format_extractor_table() -> str:
    """One line per extractor: name, modality, dimension, default hop/window, summary."""
    lines = [f"{'name':<14}{'modality':<9}{'dim':<46}{'hop s':<7}{'win s':<7}description"]
    for name in list_extractors():
        cls = extractor_class(name)
        dim = str(cls.dim) if cls.dim is not None else cls.dim_note
        win = "-" if cls.default_win is None else f"{cls.default_win:g}"
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        lines.append(f"{name:<14}{cls.modality:<9}{dim:<46}{cls.default_hop:<7g}{win:<7}{doc}")
    return "\n".join(lines)


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    options = {}
    for item in items:
        if "=" not in item:
            raise ExtractorError(f"--option {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        options[key.strip()] = yaml.safe_load(value)
    return options


def read_timeline(folder: Path, recording_id: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Label timestamps (s) and segment ids of one recording's label file, in whichever corpus
    layout's format ``folder`` holds it (:meth:`~zoo.data.extract_layout.ExtractLayout.read_timeline`).

    Raises:
        ExtractorError: no layout's label file for ``recording_id`` in ``folder``, or a malformed one.
    """
    for layout in layouts():
        try:
            found = extract_layout(layout).read_timeline(Path(folder), recording_id)
        except ValueError as err:  # CorpusFormatError: naming file, line and field
            raise ExtractorError(str(err)) from None
        if found is not None:
            return found
    raise ExtractorError(
        f"{folder}: no label file of recording {recording_id!r} that a known layout reads ({', '.join(layouts())}; "
        "see each corpus page for its label format: MuSe-CaR style CSVs need a 'timestamp' column in ms)"
    )


def _label_timeline_folder(layout: str, output: Path) -> Path | None:
    """Where the output corpus keeps per-recording label times (for the --timeline hint)."""
    folder = extract_layout(layout).label_folder(output)
    return folder if folder is not None and folder.is_dir() else None


def _check_default_timeline(layout: str, output: Path, rec_id: str, times: np.ndarray) -> None:
    """Without --timeline: refuse features whose frames differ from the labels already there."""
    folder = _label_timeline_folder(layout, output)
    if folder is None or not ((folder / f"{rec_id}.csv").is_file() or (folder / f"{rec_id}.arff").is_file()):
        return
    labels, _ = read_timeline(folder, rec_id)
    if len(labels) != len(times) or np.max(np.abs(labels - times)) > 1e-3:
        raise ExtractorError(
            f"recording {rec_id}: without --timeline features are written on 0, hop, 2*hop, ... "
            f"({len(times)} frames, {times[0]:.3f}-{times[-1]:.3f} s), but its labels in {folder} have "
            f"{len(labels)} frames ({labels[0]:.3f}-{labels[-1]:.3f} s), so the datamodule would refuse "
            f"the features. Pass --timeline {folder} to write them on the label frames"
        )


_sha256_path = sha256_path  # the name predict_media imported


def check_settings(folder: Path, settings: dict[str, Any]) -> None:
    """Refuse to add to ``folder`` unless it was made with the same ``settings``; record them.

    Raises:
        ExtractorError: the folder was made with other settings (each difference named), or
            holds files without a settings record.
    """
    path = folder / SETTINGS_FILE
    if path.is_file():
        try:
            recorded = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ExtractorError(f"{path}: malformed JSON ({err.msg}, line {err.lineno})") from None
        differ = [
            f"{k}: {recorded.get(k)!r} in the folder, {settings.get(k)!r} now"
            for k in _COMPARED
            if recorded.get(k) != settings.get(k)
        ]
        has_files = any(p.is_file() and p.name != SETTINGS_FILE for p in folder.rglob("*"))
        if differ and has_files:
            raise ExtractorError(
                f"{folder} holds features extracted with other settings ({'; '.join(differ)}); one "
                "folder never mixes two extractions. Choose another --name or --output, or delete "
                "the folder to extract it again"
            )
        if has_files or recorded == settings:
            return  # same settings: resume
        # an earlier run stopped before writing any file: record this run's settings instead
    elif folder.is_dir():
        existing = [p for p in folder.rglob("*") if p.is_file()]
        if existing:
            raise ExtractorError(
                f"{folder} holds {len(existing)} file(s) (e.g. {existing[0].relative_to(folder)}) but no "
                f"{SETTINGS_FILE}: they were not written by zoo extract with known settings (a corpus's "
                "own features?) and are never added to or overwritten. Choose another --name or --output"
            )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(settings, indent=2) + "\n")
    os.replace(tmp, path)


def _check_paths(inputs: list[Path], output: Path, planned: list[Path]) -> None:
    out = output.resolve()
    for path in inputs:
        src = path.resolve()
        if src.is_dir() and (out == src or src in out.parents):
            raise ExtractorError(
                f"--output {output} is inside the input folder {path}; choose a folder outside "
                f"the source data (sources are never written to)"
            )
    sources = {p.resolve() for p in inputs}
    for target in planned:
        if target.resolve() in sources:
            raise ExtractorError(f"output file {target} is an input file; refusing to overwrite it")


def run_extract(args: argparse.Namespace) -> int:
    """Execute parsed ``zoo extract`` arguments; returns the exit code."""
    if args.list:
        print(format_extractor_table())
        return 0
    if not args.feature or not args.input or not args.output:
        print("zoo extract: FEATURE, --input and --output are required (or --list)", file=sys.stderr)
        return 2
    try:
        summary = extract(
            args.feature,
            [Path(p) for p in args.input],
            Path(args.output),
            args.layout,
            hop=args.hop,
            win=args.win,
            weights=args.weights,
            name=args.name,
            timeline=Path(args.timeline) if args.timeline else None,
            options=_parse_options(args.option),
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (ExtractorError, KeyError, ValueError) as err:
        print(f"zoo extract: {err}", file=sys.stderr)
        return 2
    print(
        f"zoo extract {args.feature}: {summary['written']} written, {summary['skipped']} skipped "
        f"(already finished) → {summary['folder']}"
    )
    return 0


def extract(
    feature: str,
    inputs: list[Path],
    output: Path,
    layout: str,
    hop: float | None = None,
    win: float | None = None,
    weights: str | None = None,
    name: str | None = None,
    timeline: Path | None = None,
    options: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Extract ``feature`` for every recording in ``inputs`` into ``output`` (see module doc).

    Returns:
        ``{"written": n, "skipped": n, "files": [paths], "folder": feature folder}``.
    """
    from functools import partial

    from tqdm.auto import tqdm

    cls = extractor_class(feature)
    target_layout = extract_layout(layout)
    for path in inputs:
        if not path.exists():
            raise ExtractorError(f"{path}: input not found")
    try:
        folder_name = target_layout.folder_name(name, feature, cls.modality)
    except ValueError as err:
        raise ExtractorError(str(err)) from None
    _check_paths(inputs, output, [])
    extractor = cls(hop=hop, win=win, weights=weights, **(options or {}))
    recordings = extractor.find_inputs(inputs)
    if not recordings:
        raise ExtractorError(
            f"no inputs for extractor {feature!r} in {[str(p) for p in inputs]} "
            f"(expected {', '.join(cls.input_suffixes) or 'see docs/features.md'})"
        )
    targets = [output_paths(layout, output, folder_name, rec_id) for rec_id, _ in recordings]
    _check_paths(inputs + [p for _, p in recordings], output, [p for group in targets for p in group])
    folder = feature_folder(layout, output, folder_name)
    check_settings(folder, extraction_settings(extractor, layout, options or {}, timeline))
    written, skipped = [], 0
    bar = tqdm(list(zip(recordings, targets)), desc=f"extract {feature}", unit="file", disable=not progress)
    for n, ((rec_id, source), target) in enumerate(bar, start=1):
        if all(p.exists() for p in target) and not overwrite:
            skipped += 1
            continue
        if timeline is not None:
            times, segments = read_timeline(timeline, rec_id)
        else:
            times, segments = label_times(extractor.duration(source), extractor.hop), None
            _check_default_timeline(layout, output, rec_id, times)
        # progress within a recording (windows, frames, batches), below the per-file bar
        extractor.progress = partial(tqdm, desc=f"{rec_id} ({n}/{len(recordings)})", leave=False, disable=not progress)
        out = extractor.extract(source, times)
        write_features(layout, target, rec_id, out, segment_ids=segments, feature=folder_name)
        written.extend(target)
    return {
        "written": len(written) // len(targets[0]),
        "skipped": skipped,
        "files": written,
        "folder": targets[0][0].parent,
    }
