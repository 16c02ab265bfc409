"""The CMU-MOSEI alignment benchmark still runs (tiny mode), so it never rots."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "mosei_alignment.py"


def test_tiny_alignment_benchmark_runs(capsys):
    spec = importlib.util.spec_from_file_location("mosei_alignment_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--tiny"])
    assert [(r["videos"], r["mode"]) for r in rows] == [(2, "streaming"), (2, "eager"), (4, "streaming"), (4, "eager")]
    for streaming, eager in zip(rows[::2], rows[1::2]):
        assert streaming["words"] == eager["words"] > 0
        assert streaming["seconds"] > 0 and streaming["tracemalloc_mb"] > 0
    assert "CMU-MOSEI alignment benchmark" in capsys.readouterr().out
