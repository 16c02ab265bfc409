"""The cross-corpus matrix of docs/cross_corpus.md: four ``ssl_audio`` bundles x four corpora.

Trains ``recipes/{recola,sewa,muse_car,cmu_mosei}/ssl_audio.yaml`` briefly, with the sizes of their
first row in ``tests/recipes/<corpus>.csv`` (the recipe table CI runs), exports each run as a
bundle, and scores every bundle on every corpus with ``zoo evaluate`` (the built-in synthetic
corpora unless ``--root CORPUS=PATH`` is given)::

    python scripts/cross_corpus_matrix.py --work cross-corpus            # fit, export, evaluate
    python scripts/cross_corpus_matrix.py --work cross-corpus --stage evaluate   # reuse the bundles

``--work`` receives ``runs/``, ``bundles/`` and ``evaluation/`` (``matrix.md``, ``matrix.csv``,
``matrix.png``, ``scores.json``); ``--docs`` also copies the table and the heatmap into
``docs/cross_corpus.md`` (between its ``matrix`` markers) and ``docs/figures/cross_corpus.png``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("recola", "sewa", "muse_car", "cmu_mosei")
BEGIN, END = "<!-- matrix: begin (scripts/cross_corpus_matrix.py) -->", "<!-- matrix: end -->"


def table_overrides(corpus: str) -> list[str]:
    """The overrides of the first ``<corpus>/ssl_audio`` row of ``tests/recipes/<corpus>.csv``."""
    with open(ROOT / "tests" / "recipes" / f"{corpus}.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["recipe"] == f"{corpus}/ssl_audio":
                return row["overrides"].split()
    raise SystemExit(f"tests/recipes/{corpus}.csv has no {corpus}/ssl_audio row")


def _zoo(*argv: str) -> dict:
    from zoo.cli import run

    out = run(list(argv))
    if out["exit_code"] != 0:
        raise SystemExit(f"zoo {' '.join(argv)} failed (exit {out['exit_code']})")
    return out


def fit_and_export(work: Path) -> list[Path]:
    """One brief run per corpus, exported as ``<work>/bundles/<corpus>-ssl_audio``."""
    bundles = []
    for corpus in CORPORA:
        out = _zoo(
            "fit",
            f"{corpus}/ssl_audio",
            *table_overrides(corpus),
            f"output_dir={work / 'runs'}",
            "trainer.enable_progress_bar=false",
        )
        bundle = work / "bundles" / f"{corpus}-ssl_audio"
        _zoo("export", str(Path(out["run_dir"]) / "checkpoints" / "best.ckpt"), str(bundle), "--overwrite")
        bundles.append(bundle)
    return bundles


def update_docs(evaluation: Path) -> None:
    """Put ``matrix.md`` between the markers of ``docs/cross_corpus.md`` and copy the heatmap."""
    page = ROOT / "docs" / "cross_corpus.md"
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{page}: markers {BEGIN!r} ... {END!r} not found")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(f"{head}{BEGIN}\n{(evaluation / 'matrix.md').read_text().strip()}\n{END}{tail}")
    figures = ROOT / "docs" / "figures"
    figures.mkdir(exist_ok=True)
    shutil.copyfile(evaluation / "matrix.png", figures / "cross_corpus.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, type=Path, help="folder for runs, bundles and the evaluation")
    parser.add_argument("--stage", choices=("all", "fit", "evaluate"), default="all")
    parser.add_argument("--root", action="append", default=[], metavar="CORPUS=PATH", help="a real corpus")
    parser.add_argument("--docs", action="store_true", help="update docs/cross_corpus.md and its figure")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    if args.stage in ("all", "fit"):
        fit_and_export(work)
    if args.stage in ("all", "evaluate"):
        bundles = [work / "bundles" / f"{c}-ssl_audio" for c in CORPORA]
        evaluation = work / "evaluation"
        if evaluation.exists():
            shutil.rmtree(evaluation)
        roots = []
        for item in args.root:
            corpus, _, path = item.partition("=")
            roots.append(f"{corpus}.data.args.root={path}")
        _zoo("evaluate", *map(str, bundles), "--corpora", *CORPORA, "--output", str(evaluation), *roots)
        if args.docs:
            update_docs(evaluation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
