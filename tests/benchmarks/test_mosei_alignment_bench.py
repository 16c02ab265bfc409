"""The CMU-MOSEI alignment benchmark still runs (tiny mode), so it never rots; and, where the
CMU-MultimodalSDK is available (``$AFFECT_ZOO_MMSDK``), ours agrees with its ``mmdataset.align``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "mosei_alignment.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("mosei_alignment_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_alignment_benchmark_runs(bench, capsys, monkeypatch):
    monkeypatch.delenv(bench.SDK_ENV, raising=False)
    sdk, why = bench.find_sdk(None)
    rows = bench.main(["--tiny"])
    modes = ["streaming", "eager"] + (["sdk"] if sdk is not None else [])
    assert [(r["videos"], r["mode"]) for r in rows] == [(n, m) for n in (2, 4) for m in modes]
    for n in (2, 4):
        words = {r["words"] for r in rows if r["videos"] == n}
        assert len(words) == 1 and words.pop() > 0  # every mode aligned the same words
    assert all(r["seconds"] > 0 and r["tracemalloc_mb"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "CMU-MOSEI alignment benchmark" in out
    if sdk is None:
        assert f"sdk: skipped — {why}" in out


def test_sdk_folder_is_checked(bench, tmp_path):
    sdk, why = bench.find_sdk(str(tmp_path))
    assert sdk is None and "holds no mmsdk/mmdatasdk package" in why


@pytest.mark.skipif(not os.environ.get("AFFECT_ZOO_MMSDK"), reason="CMU-MultimodalSDK not given ($AFFECT_ZOO_MMSDK)")
def test_alignment_equals_the_sdk(bench, tmp_path):
    """Same words kept, same averages: bit-identical in float64, float32 rounding apart otherwise."""
    sdk, why = bench.find_sdk(None)
    assert sdk is not None, why
    root = bench.write_corpus(tmp_path / "corpus", 3)
    check = bench.compare_with_sdk(root, sdk, tmp_path / "float64")
    for kind in ("float32", "float64"):
        assert check[kind]["words"] > 50 and check[kind]["presence_mismatches"] == 0
    assert check["float64"]["max_abs_diff"] <= 1e-12
    assert check["float32"]["max_abs_diff"] <= 1e-5
