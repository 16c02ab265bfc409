"""The ``zoo`` command line.

Usage::

    zoo fit RECIPE [key=value ...]          train, then score val and test with the best checkpoint
    zoo validate RECIPE ckpt=PATH [...]     score the val partition
    zoo test RECIPE ckpt=PATH [...]         score the test partition (where labels exist)
    zoo predict RECIPE ckpt=PATH [...]      write predictions in the corpus's format
    zoo predict MODEL INPUT [--output DIR] [--plot]   MODEL: bundle folder or .ckpt; INPUT: feature folder
    zoo export CKPT OUT_DIR [--overwrite]   self-contained bundle (safetensors + config.json + card)
    zoo sweep SWEEP.yaml [--count N] [--dry-run]   W&B sweep (dry run: validate + print runs offline)
    zoo baseline [--draws N] RECIPE [...]   chance level: random draws of the training labels, scored
    zoo report RUNS... [--baselines DIRS] [--output FILE]   papers' scores beside ours (docs/results.md)
    zoo list [recipes|models|datamodules] [PATTERN]   what ships and is registered
    zoo --version
    zoo extract FEATURE --input ... --output DIR --layout L   features from raw media (--list)

``RECIPE`` is a YAML path or ``<corpus>/<name>`` under the shipped ``recipes/``. Overrides are
``key=value`` or ``--key=value`` (the forms W&B sweep agents pass), e.g.
``trainer.max_epochs=5 model.args.hidden_size=64 trainer.devices=2 trainer.strategy=ddp``.
"""

from __future__ import annotations

import argparse
import sys
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
    p.add_argument("--seed", type=int, default=0, help="seed of the dry run's random proposals")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the process exit code."""
    return run(argv)["exit_code"]


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` and execute it; returns ``{"exit_code", "run_dir", "results"}``."""
    args = _parser().parse_args(argv)
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
        from datamodules import list_datamodules
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

        try:
            commands = run_sweep(args.sweep_file, count=args.count, dry_run=args.dry_run,
                                 project=args.project, entity=args.entity, seed=args.seed)
        except SweepError as err:
            print(f"zoo sweep: {err}", file=sys.stderr)
            return {"exit_code": 2}
        return {"exit_code": 0, "commands": commands}

    from zoo.config import ConfigError, load_recipe

    try:
        cfg = load_recipe(args.recipe, args.overrides)
    except ConfigError as err:
        print(f"zoo {args.command}: {err}", file=sys.stderr)
        return {"exit_code": 2}

    from zoo.run import run_command

    out = run_command(args.command, cfg, **({"draws": args.draws} if args.command == "baseline" else {}))
    print(f"run folder: {out['run_dir']}")
    return {"exit_code": 0, **out}


if __name__ == "__main__":
    sys.exit(main())
