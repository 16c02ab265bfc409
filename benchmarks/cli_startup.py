"""How long ``zoo list`` (and ``zoo --help``) take, side by side with another checkout.

``zoo list`` used to import torch, Lightning and every model module (to read the registry, the
papers and the corpora) before printing; it now reads YAML files and ``zoo/models/catalog.json``
only. This script times fresh ``python -c 'from zoo.cli import main; main([...])'`` processes of
this checkout and, with ``--baseline DIR``, of another one (e.g. ``git worktree add /tmp/before
<commit>``), alternating the two so that both see the same machine load::

    python benchmarks/cli_startup.py --baseline /tmp/before --rounds 5

It prints a Markdown table of the median wall time of each command and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["list"], ["--help"])


def _time(checkout: Path, args: list[str]) -> float:
    """Wall seconds of one fresh interpreter running ``zoo ARGS`` from ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    code = (
        f"import sys; from zoo.cli import main; sys.argv = ['zoo', *{args!r}]\ntry:\n main()\nexcept SystemExit:\n pass"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=checkout, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trees = {"this checkout": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for command in COMMANDS:
            for label, tree in trees.items():  # alternating: both trees see the same load
                times.setdefault((label, " ".join(command)), []).append(_time(tree, command))
    print(f"median of {args.rounds} fresh processes ({os.cpu_count()} CPUs, python {sys.version.split()[0]})\n")
    header = "| command | " + " | ".join(f"{label} (s)" for label in trees) + (" | ratio |" if args.baseline else " |")
    print(header + "\n|" + "---|" * (len(trees) + 1 + bool(args.baseline)))
    for command in COMMANDS:
        name = " ".join(command)
        medians = [statistics.median(times[(label, name)]) for label in trees]
        ratio = f" {medians[1] / medians[0]:.1f}× faster |" if args.baseline else ""
        print(f"| zoo {name} | " + " | ".join(f"{m:.2f}" for m in medians) + " |" + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
