"""The extraction benchmark runs in --tiny mode and reports every extractor."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "extract_speed.py"


@pytest.mark.slow
def test_extract_benchmark_tiny(tmp_path, capsys):
    from zoo.features import list_extractors

    module = runpy.run_path(str(BENCH), run_name="extract_speed")
    assert module["main"](["--tiny", "--out", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    names = [row["extractor"] for row in result["rows"]]
    assert names == list_extractors()
    dims = {row["extractor"]: row["dim"] for row in result["rows"]}
    assert dims["egemaps"] == 88 and dims["vggish"] == 128 and dims["timm_face"] == 513
    assert dims["bert4"] == 32 and dims["word_vectors"] == 300
    assert all(row["s_per_min"] > 0 for row in result["rows"])
    assert "| egemaps | audio | 88 |" in capsys.readouterr().out
