"""The ``zoo`` command line.

Usage::

    zoo fit RECIPE [key=value ...]          train, then score val and test with the best checkpoint
    zoo validate RECIPE ckpt=PATH [...]     score the val partition
    zoo test RECIPE ckpt=PATH [...]         score the test partition (where labels exist)
    zoo predict RECIPE ckpt=PATH [...]      write predictions in the corpus's format
    zoo list [models|datamodules] [PATTERN] what is registered

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
    sub = parser.add_subparsers(dest="command", required=True)
    for command in RUN_COMMANDS:
        p = sub.add_parser(command, help=f"{command} a recipe")
        p.add_argument("recipe", help="recipe YAML (path or <corpus>/<name>)")
        p.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value or --key=value")
    p = sub.add_parser("list", help="list registered models and datamodules")
    p.add_argument("kind", nargs="?", choices=("models", "datamodules"), default=None)
    p.add_argument("pattern", nargs="?", default="*")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the process exit code."""
    return run(argv)["exit_code"]


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` and execute it; returns ``{"exit_code", "run_dir", "results"}``."""
    args = _parser().parse_args(argv)
    if args.command == "list":
        from datamodules import list_datamodules
        from zoo import list_models

        if args.kind in (None, "models"):
            print("models:\n  " + "\n  ".join(list_models(args.pattern)))
        if args.kind in (None, "datamodules"):
            print("datamodules:\n  " + "\n  ".join(list_datamodules(args.pattern)))
        return {"exit_code": 0}

    from zoo.config import ConfigError, load_recipe

    try:
        cfg = load_recipe(args.recipe, args.overrides)
    except ConfigError as err:
        print(f"zoo {args.command}: {err}", file=sys.stderr)
        return {"exit_code": 2}

    from zoo.run import run_command

    out = run_command(args.command, cfg)
    print(f"run folder: {out['run_dir']}")
    return {"exit_code": 0, **out}


if __name__ == "__main__":
    sys.exit(main())
