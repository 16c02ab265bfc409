"""The ``zoo`` command line.

Usage::

    zoo show RECIPE [key=value ...]         the resolved recipe, each value with where it comes from
    zoo fit RECIPE [key=value ...]          train, then score val and test with the best checkpoint
    zoo validate RECIPE ckpt=PATH [...]     score the val partition
    zoo test RECIPE ckpt=PATH [...]         score the test partition (where labels exist)
    zoo predict RECIPE ckpt=PATH [...]      write predictions in the corpus's format
    zoo predict MODEL INPUT [--output DIR] [--plot]   MODEL: bundle folder, .ckpt or Hugging Face id org/name
                                            (--allow-download); INPUT: feature folder in the corpus layout
    zoo predict BUNDLE MEDIA [--output DIR] [--plot]  MEDIA: WAV/MP4 file or folder (features extracted)
    zoo export RUN|CKPT OUT_DIR [--overwrite] [--push-to-hub ORG/NAME]   bundle (safetensors + config + card)
    zoo sweep SWEEP [--local|--worker] [--count N] [--storage URL] [key=value ...]   Optuna search of a
                                            W&B sweep file here or on many machines (SWEEP: muse_car/sun2020)
    zoo sweep SWEEP [--count N] [--dry-run]  the same file on a W&B server (dry run: check + print trials)
    zoo baseline RECIPE [--draws N] [key=value ...]   chance level: random predictions, scored
    zoo report RUNS... [--baselines DIRS] [--output FILE]   papers' scores beside ours (docs/results.md)
    zoo list [recipes|models|corpora|sweeps] [PATTERN]   what ships: names, papers, sizes
    zoo --version
    zoo extract FEATURE --input ... --output DIR --layout L   features from raw media (--list)
    zoo import NAME [SOURCE] OUT_DIR [--allow-download]   a public pretrained model as a bundle
    zoo evaluate BUNDLE... --corpus NAME | --corpora NAME... [key=value ...]   cross-corpus CCC

``RECIPE`` is a YAML path (anywhere: the shipped ``defaults.yaml`` applies unless a
``defaults.yaml`` lies beside it or above) or ``<corpus>/<name>`` of a shipped recipe. Overrides are
``key=value`` or ``--key=value`` (the forms W&B sweep agents pass), e.g.
``trainer.max_epochs=5 model.args.hidden_size=64 trainer.devices=2 trainer.strategy=ddp``.
Finding your way: ``zoo list recipes``; ``zoo show RECIPE`` (or ``--print_config`` after any
``fit|validate|test|predict RECIPE ...``: print the resolved recipe and exit); ``zoo fit RECIPE
--help`` lists every key of the recipe with its value; ``zoo COMMAND --help`` shows an example.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

RUN_COMMANDS = ("fit", "validate", "test", "predict")
LIST_KINDS = ("recipes", "models", "corpora", "sweeps")
_RECIPE = "muse_car/sun2020_lstm_selfattn"
_CKPT = "runs/<run>/checkpoints/best.ckpt"
#: one example per sub-command, shown at the end of ``zoo COMMAND --help``
EXAMPLES = {
    "show": f"zoo show {_RECIPE} trainer.max_epochs=5",
    "fit": f"zoo fit {_RECIPE} trainer.max_epochs=5 model.args.hidden_size=64 logger=[csv,tensorboard]\n"
    f"  zoo fit {_RECIPE} --help            # every key of the recipe, with its value",
    "validate": f"zoo validate {_RECIPE} ckpt={_CKPT}",
    "test": f"zoo test {_RECIPE} ckpt={_CKPT}",
    "predict": f"zoo predict {_RECIPE} ckpt={_CKPT} data.args.predict_partition=val\n"
    f"  zoo predict bundles/sun2020 /data/new-videos --output preds/ --plot\n"
    f"  zoo predict my-org/sun2020-muse-car my_talk.wav --allow-download",
    "baseline": "zoo baseline cmu_mosei/williams2018_blstm --draws 30",
    "sweep": "zoo sweep muse_car/sun2020 --local --count 8 trainer.max_epochs=20\n"
    "  zoo sweep muse_car/sun2020 --worker --count 40 --storage postgresql://host/db   # one per GPU/machine\n"
    "  zoo sweep sewa/atmaja2020 --dry-run --count 5",
    "export": "zoo export runs/<run> bundles/sun2020 --push-to-hub my-org/sun2020-muse-car",
    "report": "zoo report runs/ --baselines runs/baselines --output docs/results.md",
    "list": "zoo list recipes 'sewa/*'",
    "extract": "zoo extract egemaps --input audio/ --output feats/ --layout muse_car",
    "import": "zoo import audeering-msp-dim bundles/w2v2-msp-dim --allow-download\n"
    "  zoo predict bundles/w2v2-msp-dim my.wav --step 0.25 --window 2 --plot",
    "evaluate": "zoo evaluate bundles/a bundles/b --corpora recola sewa muse_car cmu_mosei\n"
    "  zoo evaluate bundles/a --corpus recola data.args.root=/data/RECOLA",
}


PREDICT_FORMS = """two forms:
  zoo predict RECIPE ckpt=PATH [key=value ...]   predictions of a corpus partition, in the corpus's format,
                                                 into a run folder (data.args.predict_partition=val|test)
  zoo predict MODEL INPUT [options]              MODEL: a bundle folder (zoo export), a .ckpt file, or a
                                                 Hugging Face id org/name of a bundle (read from the local
                                                 cache; --allow-download fetches it); INPUT: a folder of
                                                 feature files in the corpus layout, or WAV/MP4 files"""


def _sub(sub: Any, command: str, help_text: str) -> argparse.ArgumentParser:
    """A sub-command parser whose ``--help`` ends with an example."""
    return sub.add_parser(
        command,
        help=help_text,
        epilog=f"example:\n  {EXAMPLES[command]}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The ``zoo`` parser; ``zoo extract``'s own options (which import the extractors) only when
    ``chosen`` (the sub-command on the command line) is ``extract``, so that every other command
    starts without them."""
    parser = argparse.ArgumentParser(
        prog="zoo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from zoo._version import __version__

    parser.add_argument("--version", action="version", version=f"affect-zoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = _sub(sub, "show", "print a recipe resolved over defaults.yaml, each value with its origin")
    p.add_argument("recipe", help="recipe YAML (path or <corpus>/<name>)")
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value or --key=value")
    for command in RUN_COMMANDS:
        p = _sub(sub, command, f"{command} a recipe" + (", or a model on your files" if command == "predict" else ""))
        if command == "predict":
            p.description = PREDICT_FORMS
        p.add_argument(
            "recipe",
            help="recipe YAML (path or <corpus>/<name>); RECIPE --help lists its keys"
            + (
                "; or MODEL: a bundle folder, a .ckpt file or a Hugging Face id org/name"
                if command == "predict"
                else ""
            ),
        )
        p.add_argument(
            "overrides",
            nargs=argparse.REMAINDER,
            help="key=value or --key=value; --print_config prints the resolved recipe and exits"
            + ("; after MODEL: INPUT and the options below" if command == "predict" else ""),
        )
        if command == "predict":
            from zoo.hub.predict_bundle import add_model_arguments

            add_model_arguments(p, with_input=False)
    p = _sub(sub, "baseline", "chance level: score random draws of the training labels")
    p.add_argument("--draws", type=int, default=10, help="random draws to average (default 10)")
    p.add_argument("recipe", help="recipe YAML (path or <corpus>/<name>)")
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value or --key=value")
    p = _sub(sub, "sweep", "search a sweep file: with Optuna here (--local, --worker) or on a W&B server")
    p.add_argument("sweep_file", help="sweep YAML (W&B format): a path or a shipped name such as muse_car/sun2020")
    p.add_argument(
        "--count",
        type=int,
        default=None,
        help="trials: of the whole study (--local/--worker, default 5 or the whole grid), of the W&B agent, "
        "or printed (--dry-run, default 5)",
    )
    p.add_argument("--dry-run", action="store_true", help="check the file and print the first trials' commands")
    p.add_argument("--local", action="store_true", help="search with Optuna in this process: a new study, no server")
    p.add_argument(
        "--worker",
        action="store_true",
        help="work on the study named --study (default: the file's name) with the other workers sharing --storage",
    )
    p.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="--local/--worker: the study's database (default sqlite:///OUTPUT/STUDY/study.db; several "
        "machines: postgresql://... or mysql+pymysql://...)",
    )
    p.add_argument("--study", default=None, help="--local/--worker: the study's name")
    p.add_argument("--seed", type=int, default=0, help="seed of the search's own draws (--dry-run, --local)")
    p.add_argument(
        "--output", default="runs", help="--local/--worker: parent folder of the sweep folder (default runs)"
    )
    p.add_argument("--project", default=None, help="W&B project (server path)")
    p.add_argument("--entity", default=None, help="W&B entity (server path)")
    p.add_argument(
        "overrides", nargs="*", help="--local/--worker: key=value applied to every trial (e.g. trainer.max_epochs=5)"
    )
    p = _sub(sub, "export", "export a checkpoint as a self-contained bundle (safetensors)")
    p.add_argument(
        "ckpt",
        help="a run folder of `zoo fit` (its scored checkpoint), or a checkpoint (runs/<run>/checkpoints/x.ckpt)",
    )
    p.add_argument("out_dir", help="bundle folder (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="replace the bundle files in a non-empty OUT_DIR")
    p.add_argument(
        "--push-to-hub",
        metavar="ORG/NAME",
        default=None,
        help="then upload the bundle to this Hugging Face model repository (created if missing)",
    )
    p.add_argument("--private", action="store_true", help="--push-to-hub: create the repository private")
    p = _sub(sub, "report", "the papers' scores beside run results (Markdown)")
    p.add_argument("runs", nargs="+", help="folders holding zoo fit run folders")
    p.add_argument("--baselines", nargs="*", default=[], help="folders holding zoo baseline run folders")
    p.add_argument("--output", default=None, help="write the report here (default: print it)")
    p = _sub(sub, "list", "what ships: recipes, models (paper, corpora, size), corpora, sweeps")
    p.add_argument("kind", nargs="?", choices=LIST_KINDS, default=None, help="one table (default: all)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern of the names, e.g. 'sewa/*'")
    p = _sub(sub, "extract", "extract features from raw media into a corpus layout")
    if chosen == "extract":
        from zoo.features.cli import add_arguments as _extract_arguments

        _extract_arguments(p)
    p = _sub(sub, "import", "import a public pretrained model as a bundle (zoo import --help)")
    if chosen == "import":  # its options import torch: only when it is the command
        from zoo.hub.importers import add_arguments as _import_arguments

        _import_arguments(p)
    p = _sub(sub, "evaluate", "score bundles on corpora: the cross-corpus CCC matrix")
    if chosen == "evaluate":
        from zoo.reports.evaluate import add_arguments as _evaluate_arguments

        _evaluate_arguments(p)
    return parser


TRACEBACK_ENV = "AFFECT_ZOO_TRACEBACK"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the process exit code.

    Output piped into a reader that stops early (``zoo list | head``) ends quietly, as ``ls`` and
    ``git`` do: no traceback, exit status 141 (SIGPIPE).
    """
    try:
        return run(argv)["exit_code"]
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


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
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Destroy the process group a DDP run opened, while the interpreter is still whole.

    Lightning leaves it open; a gloo group destroyed only at interpreter exit can abort the
    process with SIGABRT (Gloo's worker threads still hold tensors when the interpreter is torn
    down; pytorch/pytorch#179291 proposed an atexit hook for it and was abandoned), which failed a
    two-node run that had finished and written its results.
    """
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


def _rank() -> int:
    """This process's global rank: Lightning's once it is imported, else from the launcher's
    environment (the variables Lightning reads), so that an early error needs no Lightning."""
    lightning = sys.modules.get("pytorch_lightning")
    if lightning is not None:
        return int(lightning.utilities.rank_zero_only.rank)
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _report_error(command: str, err: BaseException, show_traceback: bool) -> None:
    if _rank() != 0:
        return  # under DDP every process fails alike; one line is enough
    if show_traceback:
        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split()) or type(err).__name__
    hint = "" if show_traceback else f" (--traceback or {TRACEBACK_ENV}=1 shows where)"
    print(f"zoo {command}: error: {message}{hint}", file=sys.stderr)


def _run(argv: Sequence[str]) -> dict[str, Any]:
    parser = _parser(next((a for a in argv if not a.startswith("-")), None))
    args, extra = parser.parse_known_args(argv)
    if args.command in ("sweep", "evaluate") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]  # key=value after --local/--count options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "extract":
        from zoo.features.cli import run_extract

        return {"exit_code": run_extract(args)}
    if args.command == "export":
        return _export(args)
    if args.command == "import":
        from zoo.hub.importers import run_import_cli

        return run_import_cli(args)
    if args.command == "evaluate":
        from zoo.reports.evaluate import run_evaluate_cli

        return run_evaluate_cli(args)
    if args.command == "predict":
        from zoo.hub.predict_bundle import is_model_reference, model_option_args, run_predict_cli

        options = model_option_args(args)
        if is_model_reference(args.recipe, [*options, *args.overrides]):  # zoo predict MODEL INPUT [...]
            return run_predict_cli(args.recipe, [*options, *args.overrides])
        flags = ("--output", "--plot", "--weights", "--transcripts", "--allow-download", "--step", "--window")
        options += [o for o in args.overrides if o.split("=", 1)[0] in flags]
        if options:
            from zoo.errors import ConfigError

            raise ConfigError(
                f"{' '.join(options)}: options of `zoo predict MODEL INPUT`; `zoo predict RECIPE ckpt=...` "
                "writes into its run folder"
            )
    if args.command == "baseline":
        args.draws, args.overrides = _pop_draws(args.draws, args.overrides)
    if args.command in ("show", *RUN_COMMANDS, "baseline"):
        shown = _finding_your_way(args.command, args.recipe, args.overrides)
        if shown is not None:
            print(shown, end="")
            return {"exit_code": 0}
    if args.command == "report":
        from zoo.reports.report import write_report

        try:
            text = write_report(args.runs, args.output, args.baselines)
        except (FileNotFoundError, ValueError) as err:
            print(f"zoo report: {err}", file=sys.stderr)
            return {"exit_code": 2}
        print(f"report written to {args.output}" if args.output else text)
        return {"exit_code": 0}
    if args.command == "list":
        from zoo.cli.catalog import list_text

        print(list_text(args.kind, args.pattern))
        return {"exit_code": 0}

    if args.command == "sweep":
        return _sweep(args)

    from zoo.config.recipe import load_recipe

    cfg = load_recipe(args.recipe, args.overrides)  # ConfigError: one line, exit 2 (see run)

    from pytorch_lightning.utilities import rank_zero_only

    from zoo.runner.run import run_command

    out = run_command(
        args.command, cfg, overrides=args.overrides, **({"draws": args.draws} if args.command == "baseline" else {})
    )
    if rank_zero_only.rank == 0:  # once, also under DDP
        print(f"run folder: {out['run_dir']}", flush=True)
    return {"exit_code": 0, **out}


def _sweep(args: argparse.Namespace) -> dict[str, Any]:
    """``zoo sweep FILE [--local|--worker|--dry-run] ...`` (errors: :class:`~zoo.sweeps.sweep.SweepError`, exit 2)."""
    from zoo.errors import ConfigError

    if args.local or args.worker:
        from zoo.sweeps.local import run_local_sweep

        folder, trials = run_local_sweep(
            args.sweep_file,
            count=args.count,
            output_dir=args.output,
            seed=args.seed,
            overrides=args.overrides,
            storage=args.storage,
            study_name=args.study,
            worker=args.worker,
        )
        print((folder / "trials.md").read_text() + f"\nsweep folder: {folder}")
        return {"exit_code": 0, "run_dir": folder, "trials": trials}
    if args.overrides or args.storage or args.study:
        raise ConfigError(
            "key=value overrides, --storage and --study are for --local and --worker (a W&B agent runs the sweep file's command)"
        )
    from zoo.sweeps.sweep import run_sweep

    commands = run_sweep(
        args.sweep_file,
        count=args.count,
        dry_run=args.dry_run,
        project=args.project,
        entity=args.entity,
        seed=args.seed,
    )
    return {"exit_code": 0, "commands": commands}


def _export(args: argparse.Namespace) -> dict[str, Any]:
    """``zoo export CKPT OUT_DIR [--overwrite] [--push-to-hub ORG/NAME [--private]]``."""
    from zoo.hub.bundle import bundle_fingerprint, export_bundle

    ckpt = run_checkpoint(args.ckpt)
    if str(ckpt) != args.ckpt:
        print(f"exporting {ckpt} (the checkpoint zoo fit scored)")
    try:
        bundle = export_bundle(ckpt, args.out_dir, overwrite=args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"zoo export: {err}", file=sys.stderr)
        return {"exit_code": 2}
    print(f"bundle written to {bundle} (fingerprint sha256 {bundle_fingerprint(bundle)})")
    out: dict[str, Any] = {"exit_code": 0, "run_dir": bundle}
    if args.push_to_hub:
        from zoo.hub.bundle import push_to_hub

        out["commit_url"] = push_to_hub(bundle, args.push_to_hub, private=args.private)  # HubError: exit 2
        print(f"bundle pushed to https://huggingface.co/{args.push_to_hub} ({out['commit_url']})")
    return out


def run_checkpoint(path: str) -> Path:
    """``path`` itself, or for a run folder of ``zoo fit`` the checkpoint its results came from
    (``checkpoints/swa.ckpt`` when SWA averaged the weights, else ``checkpoints/best.ckpt``).

    Raises:
        ConfigError: a folder that holds no such checkpoint (for a seeds run: naming its seed runs).
    """
    from zoo.errors import ConfigError

    folder = Path(path).expanduser()
    if not folder.is_dir():
        return Path(path)
    for name in ("swa.ckpt", "best.ckpt"):
        if (folder / "checkpoints" / name).is_file():
            return folder / "checkpoints" / name
    inner = sorted(p.parent.parent for p in folder.glob("*/checkpoints/best.ckpt"))
    hint = f"; its runs: {', '.join(str(p) for p in inner)}" if inner else ""
    raise ConfigError(f"{folder}: not a run folder with checkpoints/best.ckpt{hint}")


def _pop_draws(draws: int, overrides: Sequence[str]) -> tuple[int, list[str]]:
    """``--draws N`` / ``--draws=N`` given after the recipe (argparse leaves it among the overrides)."""
    rest, i, items = [], 0, list(overrides)
    while i < len(items):
        item = items[i]
        if item == "--draws" and i + 1 < len(items):
            draws, i = _int_option("--draws", items[i + 1]), i + 2
            continue
        if item.startswith("--draws="):
            draws = _int_option("--draws", item.split("=", 1)[1])
        else:
            rest.append(item)
        i += 1
    return draws, rest


def _int_option(name: str, text: str) -> int:
    from zoo.errors import ConfigError

    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {text!r}") from None


def _finding_your_way(command: str, recipe: str, overrides: list[str]) -> str | None:
    """What ``zoo show``, ``--print_config`` and ``RECIPE --help`` print; ``None`` to run the command.

    ``--print_config`` and ``--help`` are taken out of ``overrides`` (in place).
    """
    from zoo.config.show import recipe_keys_help, show_recipe

    wants_help = any(o in ("--help", "-h") for o in overrides)
    print_config = "--print_config" in overrides or "--print-config" in overrides
    overrides[:] = [o for o in overrides if o not in ("--help", "-h", "--print_config", "--print-config")]
    if wants_help:
        return recipe_keys_help(recipe, command)
    if command == "show" or print_config:
        return show_recipe(recipe, overrides)
    return None


if __name__ == "__main__":
    sys.exit(main())
