"""``zoo extract``: run an extractor over raw recordings and write a corpus feature layout.

Usage::

    zoo extract FEATURE --input DIR_OR_FILE [...] --output DIR --layout {muse_car,sewa,recola}
                [--hop 0.25] [--win 5] [--weights PATH] [--name FOLDER] [--timeline DIR]
                [--option KEY=VALUE ...] [--overwrite]
    zoo extract --list

Runs are resumable: a recording whose output file exists is skipped unless ``--overwrite``
(files are written to a temporary name and renamed, so a file that exists is complete).
The output folder must not be inside an input folder, and no output file may be an input file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import ExtractorError, extractor_class, label_times, list_extractors
from .writers import LAYOUTS, output_paths, write_features

__all__ = ["add_arguments", "format_extractor_table", "read_timeline", "run_extract"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``zoo extract`` arguments to ``parser``."""
    parser.add_argument("feature", nargs="?", help="extractor name (see --list)")
    parser.add_argument("--input", nargs="+", default=[], help="input files or folders")
    parser.add_argument("--output", help="corpus folder to write into")
    parser.add_argument("--layout", choices=LAYOUTS, default="muse_car")
    parser.add_argument("--hop", type=float, default=None, help="label step in seconds")
    parser.add_argument("--win", type=float, default=None, help="analysis window in seconds")
    parser.add_argument("--weights", default=None, help="local weights file / model folder")
    parser.add_argument("--name", default=None, help="feature folder name (default: FEATURE)")
    parser.add_argument(
        "--timeline", default=None,
        help="folder of <id>.csv files with a 'timestamp' column in ms (and optionally "
             "'segment_id'), e.g. a MuSe-CaR label folder, or ';'-separated SEWA label files "
             "(name;time in seconds;...): features are written on those frames",
    )
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="extractor option, e.g. fps=30, arch=resnet18 (repeatable)")
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
    """Label timestamps (s) and segment ids of ``<folder>/<id>.csv``.

    MuSe-CaR style: a header with ``timestamp`` in ms (and optionally ``segment_id``). SEWA label
    files (``;``-separated, name then time in seconds, with or without header, AVEC 2017 and 2019)
    are read with :func:`datamodules.sewa.read_label_file` — e.g. to write word vectors on every
    label frame of a recording whose labels run past its last turn.
    """
    import pandas as pd

    path = Path(folder) / f"{recording_id}.csv"
    if not path.is_file():
        raise ExtractorError(f"{path}: timeline file not found for recording {recording_id!r}")
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    if first.count(";") >= 2:
        from datamodules._sequence import CorpusFormatError
        from datamodules.sewa import read_label_file

        try:
            times, _ = read_label_file(path, targets=())
        except CorpusFormatError as err:
            raise ExtractorError(str(err)) from None
        return times, None
    frame = pd.read_csv(path, skipinitialspace=True)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "timestamp" not in frame.columns:
        raise ExtractorError(f"{path}: line 1: no 'timestamp' column; found {list(frame.columns)}")
    ms = pd.to_numeric(frame["timestamp"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(ms))
    if len(bad):
        raise ExtractorError(f"{path}: line {bad[0] + 2}, field 'timestamp': not a number")
    seg = frame["segment_id"].to_numpy(dtype=np.int64) if "segment_id" in frame.columns else None
    return ms / 1000.0, seg


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
            args.feature, [Path(p) for p in args.input], Path(args.output), args.layout,
            hop=args.hop, win=args.win, weights=args.weights, name=args.name,
            timeline=Path(args.timeline) if args.timeline else None,
            options=_parse_options(args.option), overwrite=args.overwrite,
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
    from tqdm.auto import tqdm

    cls = extractor_class(feature)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    for path in inputs:
        if not path.exists():
            raise ExtractorError(f"{path}: input not found")
    folder_name = name or feature
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
    written, skipped = [], 0
    bar = tqdm(list(zip(recordings, targets)), desc=f"extract {feature}", unit="file", disable=not progress)
    for (rec_id, source), target in bar:
        if all(p.exists() for p in target) and not overwrite:
            skipped += 1
            continue
        if timeline is not None:
            times, segments = read_timeline(timeline, rec_id)
        else:
            times, segments = label_times(extractor.duration(source), extractor.hop), None
        out = extractor.extract(source, times)
        write_features(layout, target, rec_id, out, segment_ids=segments, feature=folder_name)
        written.extend(target)
    return {"written": len(written) // len(targets[0]), "skipped": skipped, "files": written,
            "folder": targets[0][0].parent}
