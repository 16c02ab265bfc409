"""The fidelity tables of docs/models/*.md: every test a row cites exists, and every row whose
verdict is *exact* cites at least one named test.

A row's test column holds references in backticks: ``tests/<path>.py::<test>`` (a parametrised
test may add ``[...]``), ``::<test>`` for another test of the file named before it in the cell, or
a whole file ``tests/<path>.py``; other evidence (``docs/…``, ``recipes/…``, ``benchmarks/…``) may be
named beside them. An
*exact* verdict needs a named test — one that fails when the setting changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs" / "models").glob("*.md"))
TEST_HEADERS = ("test", "tests", "pinned by")
EVIDENCE = ("docs/", "recipes/", "benchmarks/")
SPAN = re.compile(r"`([^`]+)`")
REFERENCE = re.compile(r"^(tests/[\w/]+\.py)?(?:::(\w+)(\[[^\]]*\])?)?$")


def _cells(line: str) -> list[str]:
    """The cells of a table line (``\\|`` is a pipe inside a cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _rows(page: Path) -> list[tuple[int, dict[str, str]]]:
    """``(line number, {column: cell})`` of every table with a test and a verdict column."""
    rows, header = [], None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            names = [c.lower() for c in cells]
            header = names if any(n in TEST_HEADERS for n in names) and "verdict" in names else []
            continue
        if not header or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        rows.append((number, dict(zip(header, cells))))
    return rows


def _references(cell: str) -> list[tuple[str, str | None]]:
    """``(file, test name or None)`` of each reference in a test cell (``::name`` inherits the file)."""
    refs, current = [], None
    for span in SPAN.findall(cell):
        for token in span.split():
            token = token.rstrip(",;")
            if token.startswith(EVIDENCE):
                continue
            match = REFERENCE.match(token)
            if not match or not (match.group(1) or match.group(2)):
                raise AssertionError(f"{token!r} is not a test reference (tests/<path>.py[::name] or ::name)")
            current = match.group(1) or current
            if current is None:
                raise AssertionError(f"{token!r} names no file before it")
            refs.append((current, match.group(2)))
    return refs


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_cited_tests_exist_and_exact_rows_cite_one(page: Path):
    rows = _rows(page)
    problems = []
    for number, row in rows:
        cell = next(row[h] for h in TEST_HEADERS if h in row)
        try:
            refs = _references(cell)
        except AssertionError as err:
            problems.append(f"line {number}: {err}")
            continue
        for file, name in refs:
            path = ROOT / file
            if not path.is_file():
                problems.append(f"line {number}: {file} does not exist")
            elif name and not re.search(rf"^(async )?def {name}\(", path.read_text(), re.MULTILINE):
                problems.append(f"line {number}: {file} has no test {name}")
        verdict = re.sub(r"[*_`]", "", row["verdict"]).strip().lower()
        if verdict.startswith("exact") and not any(name for _, name in refs):
            problems.append(f"line {number}: verdict {row['verdict'][:30]!r} cites no named test")
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)
    assert rows or page.stem == "ssl", f"{page.name}: no fidelity table found"
