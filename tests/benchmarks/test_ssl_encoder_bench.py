"""The self-supervised encoder benchmark still runs (two configurations, in-process), so it never rots."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ssl_encoder.py"


@pytest.mark.slow
def test_ssl_benchmark_configurations_run():
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("ssl_encoder_bench", BENCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sizes = {"frames": 10, "samples": 640, "batch": 2, "encoder": "tiny", "steps": 1, "warmup": 1}
        full = module.run_one({**sizes, "mode": "fine-tune all", "precision": "32"})
        cached = module.run_one({**sizes, "mode": "frozen, cached", "precision": "bf16-mixed"})
    finally:
        sys.path.remove(str(BENCH.parent))
    assert full["windows_per_s"] > 0 and full["peak_rss_mib"] > 0
    assert cached["encode_s_per_window"] > 0
    assert cached["trainable"] < full["trainable"]  # only the layer weights and the head train
