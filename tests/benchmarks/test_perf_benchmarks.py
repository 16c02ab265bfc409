"""Every performance benchmark runs in ``--tiny`` mode as a user would run it, so none can rot.

The figures are not checked (they depend on the machine); the scripts must finish, print their
tables with the expected rows, and the data-path script must see the cache being used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(name: str, tmp_path: Path) -> str:
    env = {**os.environ, "AFFECT_ZOO_CACHE": str(tmp_path / "cache"), "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert f"command: `python benchmarks/{name}.py --tiny`" in out.stdout
    assert "machine: " in out.stdout
    return out.stdout


@pytest.mark.slow
def test_lightning_overhead_tiny(tmp_path: Path):
    text = run_benchmark("lightning_overhead", tmp_path)
    for row in ("| bare PyTorch |", "| Lightning lean |", "| Lightning defaults |"):
        assert row in text
    assert "max |weight difference|" in text


@pytest.mark.slow
def test_data_path_tiny(tmp_path: Path):
    text = run_benchmark("data_path", tmp_path)
    assert "| 1× |" in text and "| 2× |" in text
    assert "| cache (mmap) |" in text
    assert "parse / cached" in text


@pytest.mark.slow
def test_scaling_tiny(tmp_path: Path):
    text = run_benchmark("scaling", tmp_path)
    assert "epoch time vs corpus size" in text and "training step vs window length" in text
    assert "quadratic share of fit" in text


@pytest.mark.slow
def test_precision_devices_tiny(tmp_path: Path):
    text = run_benchmark("precision_devices", tmp_path)
    assert "| bf16-mixed | cpu |" in text and "| 32 | cpu |" in text
    assert "| 2 | ddp |" in text and "| 1 | single |" in text


@pytest.mark.slow
def test_data_wait_tiny(tmp_path: Path):
    text = run_benchmark("data_wait", tmp_path)
    for row in (
        "| 88 | before: per-window host normalise + collate |",
        "| 300 | shipped: raw windows + collate into reused buffers, normalised in the step |",
    ):
        assert row in text
    assert "data wait % of step" in text


@pytest.mark.slow
def test_precision_devices_tzirakis_visual_tiny(tmp_path: Path):
    env = {**os.environ, "AFFECT_ZOO_CACHE": str(tmp_path / "cache"), "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "precision_devices.py"),
            "--tiny",
            "--model",
            "tzirakis2017_visual",
            "--skip-ddp",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "| tzirakis2017_visual | 32 | cpu |" in out.stdout
    assert "| tzirakis2017_visual | bf16-mixed | cpu |" in out.stdout
    assert "data-parallel" not in out.stdout  # --skip-ddp


@pytest.mark.slow
def test_gpu_check_script_syntax_and_refusals(tmp_path: Path):
    script = ROOT / "benchmarks" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    bad = subprocess.run(["bash", str(script), "--nonsense"], capture_output=True, text=True)
    assert bad.returncode == 64 and "usage:" in bad.stderr
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}  # no GPU visible
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "sees no CUDA GPU" in out.stderr


def test_suite_time_plugin_reports_the_main_threads_cpu(tmp_path: Path, monkeypatch):
    """The plugin of benchmarks/suite_time.py (the script itself runs pytest twice: not in CI)."""
    import importlib.util
    import json
    import types

    spec = importlib.util.spec_from_file_location("suite_time", ROOT / "benchmarks" / "suite_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv(module.OUT_ENV, str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    sum(i * i for i in range(2_000_000))  # some CPU on this thread
    module.pytest_sessionfinish(types.SimpleNamespace(testscollected=3), 0)
    figures = json.loads((tmp_path / "gw1.json").read_text())
    assert figures["worker"] == "gw1" and figures["tests"] == 3
    assert 0 < figures["main_thread_cpu_s"] <= figures["cpu_s"] + 0.05  # the main thread is part of the process
