"""The frozen-feature cache size benchmark still runs (tiny mode), and its sizes follow from the
storage choices: half the bytes in float16, 1/L for one of L layers, CMU-MOSEI one row per word."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ssl_cache.py"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cache_size_benchmark_runs_and_sizes_follow_the_storage(capsys):
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("ssl_cache_bench", BENCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows = module.main(["--tiny"])["sizes"]
    finally:
        sys.path.remove(str(BENCH.parent))
    assert "corpus durations" in capsys.readouterr().out
    by = {(r["corpus"], r["storage"].split(",")[0] + "," + r["storage"].split(",")[1]): r for r in rows}
    layers, width = 4, 64  # the wavlm-tiny preset: 3 layers + the transformer's input, 64 wide
    for corpus, step in (("RECOLA", 0.04), ("SEWA", 0.1), ("MuSe-CaR", 0.25), ("CMU-MOSEI", 0.02)):
        full = by[(corpus, "float32, all layers")]
        half = by[(corpus, "float16, all layers")]
        one = by[(corpus, "float16, 1 layer")]
        assert full["rows per hour"] == round(3600 / step)
        assert full["row bytes"] == layers * width * 4 and half["row bytes"] == layers * width * 2
        assert one["row bytes"] == width * 2
        ratio = half["measured GB per hour"] / full["measured GB per hour"]
        if corpus == "CMU-MOSEI":  # per word: a word every 0.3 s (200 words/min) instead of a row every 20 ms
            assert half["rows per hour"] < full["rows per hour"] / 10 and ratio < 0.1
        else:
            # half, plus the timestamps, targets and manifest (large next to a 2 s clip)
            assert half["rows per hour"] == full["rows per hour"] and 0.5 < ratio < 0.7
        assert full["projected GB, whole corpus"] == pytest.approx(
            full["measured GB per hour"] * module.CORPORA[corpus]["hours"]
        )
