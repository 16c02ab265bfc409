"""The ``zoo`` command line.

Usage::

    zoo fit RECIPE [key=value ...]          train, then score val and test with the best checkpoint
    zoo validate RECIPE ckpt=PATH [...]     score the val partition
    zoo test RECIPE ckpt=PATH [...]         score the test partition (where labels exist)
    zoo predict RECIPE ckpt=PATH [...]      write predictions in the corpus's format
    zoo predict MODEL INPUT [--output DIR] [--plot]   MODEL: bundle folder or .ckpt; INPUT: feature folder
    zoo predict BUNDLE MEDIA [--output DIR] [--plot]  MEDIA: WAV/MP4 file or folder (features extracted)
    zoo export CKPT OUT_DIR [--overwrite]   self-contained bundle (safetensors + config.json + card)
    zoo sweep SWEEP.yaml [--count N] [--dry-run]   W&B sweep (dry run: validate + print runs offline)
    zoo sweep SWEEP.yaml --local --count N [key=value ...]   the same search on this machine, no server
    zoo baseline [--draws N] RECIPE [...]   chance level: random draws of the training labels, scored
    zoo report RUNS... [--baselines DIRS] [--output FILE]   papers' scores beside ours (docs/results.md)
    zoo list [recipes|models|datamodules] [PATTERN]   what ships and is registered
    zoo --version
    zoo extract FEATURE --input ... --output DIR --layout L   features from raw media (--list)

``RECIPE`` is a YAML path or ``<corpus>/<name>`` under the shipped ``recipes/``. Overrides are
``key=value`` or ``--key=value`` (the forms W&B sweep agents pass), e.g.
``trainer.max_epochs=5 model.args.hidden_size=64 trainer.devices=2 trainer.strategy=ddp``.

Exit status: 0 done; 2 a configuration, corpus-format or input error, reported as one line on
stderr (``--traceback`` anywhere on the command line, or ``AFFECT_ZOO_TRACEBACK=1``, shows the
stack too); 143 stopped by SIGTERM (no results; resume from ``last.ckpt``); 1 anything else,
with its stack. Results tables and the run folder go to stdout, logs and warnings to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, Sequence

__all__ = ["main"]

RUN_COMMANDS = ("fit", "validate", "test", "predict")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from zoo import __version__

    parser.add_argument("--version", action="version", version=f"affect-zoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in RUN_COMMANDS:
        p = sub.add_parser(command, help=f"{command} a recipe")
        p.add_argument("recipe", help="recipe YAML (path or <corpus>/<name>)")
        p.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value or --key=value")
    p = sub.add_parser("baseline", help="chance level: score random draws of the training labels")
    p.add_argument("--draws", type=int, default=10, help="random draws to average (default 10)")
    p.add_argument("recipe", help="recipe YAML (path or <corpus>/<name>)")
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value or --key=value")
    p = sub.add_parser("sweep", help="run (or --dry-run) a W&B sweep over a recipe")
    p.add_argument("sweep_file", help="recipes/sweeps/<corpus>_<paper>.yaml")
    p.add_argument("--count", type=int, default=None, help="runs for the agent (dry run: default 5)")
    p.add_argument("--dry-run", action="store_true", help="validate and print the first runs' commands offline")
    p.add_argument("--project", default=None)
    p.add_argument("--entity", default=None)
    p.add_argument("--seed", type=int, default=0, help="seed of the search's random proposals (dry run, --local)")
    p.add_argument("--local", action="store_true",
                   help="search on this machine without a W&B server: --count trials, ranked table + plot")
    p.add_argument("--output", default="runs", help="--local: parent folder of the sweep folder (default runs)")
    p.add_argument("overrides", nargs="*", help="--local: key=value applied to every trial (e.g. trainer.max_epochs=5)")
    p = sub.add_parser("export", help="export a checkpoint as a self-contained bundle (safetensors)")
    p.add_argument("ckpt", help="checkpoint of `zoo fit` (runs/<run>/checkpoints/best.ckpt)")
    p.add_argument("out_dir", help="bundle folder (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="replace the bundle files in a non-empty OUT_DIR")
    p = sub.add_parser("report", help="the papers' scores beside run results (Markdown)")
    p.add_argument("runs", nargs="+", help="folders holding zoo fit run folders")
    p.add_argument("--baselines", nargs="*", default=[], help="folders holding zoo baseline run folders")
    p.add_argument("--output", default=None, help="write the report here (default: print it)")
    p = sub.add_parser("list", help="list shipped recipes, registered models and datamodules")
    p.add_argument("kind", nargs="?", choices=("recipes", "models", "datamodules"), default=None)
    p.add_argument("pattern", nargs="?", default="*")
    p = sub.add_parser("extract", help="extract features from raw media into a corpus layout")
    from zoo.features.cli import add_arguments as _extract_arguments

    _extract_arguments(p)
    return parser


TRACEBACK_ENV = "AFFECT_ZOO_TRACEBACK"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the process exit code."""
    return run(argv)["exit_code"]


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` and execute it; returns ``{"exit_code", "run_dir", "results"}``.

    Errors that are the user's to fix (:class:`~zoo.errors.AffectZooError`, and ``ValueError`` /
    ``FileNotFoundError`` raised by corpus readers) become one line on stderr and exit status 2;
    a run stopped by SIGTERM exits with 143.
    """
    from zoo.errors import AffectZooError, RunInterrupted

    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in argv or os.environ.get(TRACEBACK_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--traceback"]
    command = next((a for a in argv if not a.startswith("-")), "zoo")
    try:
        return _run(argv)
    except RunInterrupted as err:
        _report_error(command, err, show_traceback)
        return {"exit_code": err.exit_code}
    except (AffectZooError, FileNotFoundError, ValueError) as err:
        _report_error(command, err, show_traceback)
        return {"exit_code": 2}


def _report_error(command: str, err: BaseException, show_traceback: bool) -> None:
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        return  # under DDP every process fails alike; one line is enough
    if show_traceback:
        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split()) or type(err).__name__
    hint = "" if show_traceback else f" (--traceback or {TRACEBACK_ENV}=1 shows where)"
    print(f"zoo {command}: error: {message}{hint}", file=sys.stderr)


def _run(argv: Sequence[str]) -> dict[str, Any]:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "sweep" and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]  # key=value after --local/--count options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "extract":
        from zoo.features.cli import run_extract

        return {"exit_code": run_extract(args)}
    if args.command == "export":
        from zoo.bundle import export_bundle

        try:
            bundle = export_bundle(args.ckpt, args.out_dir, overwrite=args.overwrite)
        except (FileExistsError, FileNotFoundError, ValueError) as err:
            print(f"zoo export: {err}", file=sys.stderr)
            return {"exit_code": 2}
        print(f"bundle written to {bundle}")
        return {"exit_code": 0, "run_dir": bundle}
    if args.command == "predict":
        from zoo.predict_bundle import is_model_path, run_predict_cli

        if is_model_path(args.recipe):  # zoo predict BUNDLE|CKPT INPUT [--output DIR] [--plot]
            return run_predict_cli(args.recipe, args.overrides)
    if args.command == "report":
        from zoo.report import write_report

        try:
            text = write_report(args.runs, args.output, args.baselines)
        except (FileNotFoundError, ValueError) as err:
            print(f"zoo report: {err}", file=sys.stderr)
            return {"exit_code": 2}
        print(f"report written to {args.output}" if args.output else text)
        return {"exit_code": 0}
    if args.command == "list":
        from zoo.data import list_datamodules
        from zoo import list_models

        if args.kind in (None, "recipes"):
            from zoo.catalog import list_recipes

            print("recipes:\n  " + "\n  ".join(entry.line() for entry in list_recipes(args.pattern)))
        if args.kind in (None, "models"):
            print("models:\n  " + "\n  ".join(list_models(args.pattern)))
        if args.kind in (None, "datamodules"):
            print("datamodules:\n  " + "\n  ".join(list_datamodules(args.pattern)))
        return {"exit_code": 0}

    if args.command == "sweep":
        from zoo.sweep import SweepError, run_sweep

        if args.local:
            from zoo.sweep_local import run_local_sweep

            try:
                count = 5 if args.count is None else args.count
                folder, trials = run_local_sweep(args.sweep_file, count=count, output_dir=args.output,
                                                 seed=args.seed, overrides=args.overrides)
            except SweepError as err:
                print(f"zoo sweep: {err}", file=sys.stderr)
                return {"exit_code": 2}
            print((folder / "trials.md").read_text() + f"\nsweep folder: {folder}")
            return {"exit_code": 0, "run_dir": folder, "trials": trials}
        if args.overrides:
            print("zoo sweep: key=value overrides are for --local (a W&B agent takes the sweep file's)", file=sys.stderr)
            return {"exit_code": 2}
        try:
            commands = run_sweep(args.sweep_file, count=args.count, dry_run=args.dry_run,
                                 project=args.project, entity=args.entity, seed=args.seed)
        except SweepError as err:
            print(f"zoo sweep: {err}", file=sys.stderr)
            return {"exit_code": 2}
        return {"exit_code": 0, "commands": commands}

    from zoo.config import load_recipe

    cfg = load_recipe(args.recipe, args.overrides)  # ConfigError: one line, exit 2 (see run)

    from pytorch_lightning.utilities import rank_zero_only

    from zoo.run import run_command

    out = run_command(args.command, cfg, **({"draws": args.draws} if args.command == "baseline" else {}))
    if rank_zero_only.rank == 0:  # once, also under DDP
        print(f"run folder: {out['run_dir']}", flush=True)
    return {"exit_code": 0, **out}


if __name__ == "__main__":
    sys.exit(main())
