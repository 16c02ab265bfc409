"""The cross-corpus matrix of docs/cross_corpus.md: four ``ssl_audio`` bundles x four corpora.

Trains ``recipes/{recola,sewa,muse_car,cmu_mosei}/ssl_audio.yaml`` briefly, with the sizes of their
first row in ``tests/recipes/<corpus>.csv`` (the recipe table CI runs), exports each run as a
bundle, and scores every bundle on every corpus with ``zoo evaluate`` (the built-in synthetic
corpora unless ``--root CORPUS=PATH`` is given)::

    python scripts/cross_corpus_matrix.py --work cross-corpus            # fit, export, evaluate
    python scripts/cross_corpus_matrix.py --work cross-corpus --stage evaluate   # reuse the bundles

``--work`` receives ``runs/``, ``bundles/``, ``evaluation/`` (``matrix.md``, ``matrix.csv``,
``matrix.png``, ``scores.json``) and ``evaluation-sentiment/`` (the three arousal/valence
bundles' valence against CMU-MOSEI's sentiment, ``--map valence=sentiment``); ``--docs`` also
copies both tables into ``docs/cross_corpus.md`` (between its markers) and the heatmap into
``docs/figures/cross_corpus.png``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("recola", "sewa", "muse_car", "cmu_mosei")
MARKERS = {
    "evaluation": ("<!-- matrix: begin (scripts/cross_corpus_matrix.py) -->", "<!-- matrix: end -->"),
    "evaluation-sentiment": ("<!-- sentiment: begin (scripts/cross_corpus_matrix.py) -->", "<!-- sentiment: end -->"),
}


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


def update_docs(work: Path) -> None:
    """Put each ``matrix.md`` between its markers in ``docs/cross_corpus.md``; copy the heatmap."""
    page = ROOT / "docs" / "cross_corpus.md"
    text = page.read_text()
    for folder, (begin, end) in MARKERS.items():
        if begin not in text or end not in text:
            raise SystemExit(f"{page}: markers {begin!r} ... {end!r} not found")
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{(work / folder / 'matrix.md').read_text().strip()}\n{end}{tail}"
    page.write_text(text)
    figures = ROOT / "docs" / "figures"
    figures.mkdir(exist_ok=True)
    shutil.copyfile(work / "evaluation" / "matrix.png", figures / "cross_corpus.png")


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
        bundles = [str(work / "bundles" / f"{c}-ssl_audio") for c in CORPORA]
        for folder in MARKERS:
            if (work / folder).exists():
                shutil.rmtree(work / folder)
        roots = {}
        for item in args.root:
            corpus, _, path = item.partition("=")
            roots[corpus] = f"{corpus}.data.args.root={path}"
        _zoo("evaluate", *bundles, "--corpora", *CORPORA, "--output", str(work / "evaluation"), *roots.values())
        # the arousal/valence bundles share no target with CMU-MOSEI: their valence against its sentiment
        mosei_root = [roots[c] for c in roots if c == "cmu_mosei"]
        _zoo(
            "evaluate",
            *bundles[:3],
            "--corpora",
            "cmu_mosei",
            "--map",
            "valence=sentiment",
            "--output",
            str(work / "evaluation-sentiment"),
            *mosei_root,
        )
        if args.docs:
            update_docs(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
