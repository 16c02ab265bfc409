"""The wheel a user gets from ``pip install .`` works outside the checkout.

The test builds the wheel from a copy of the working tree, installs it (without dependencies)
into a fresh virtual environment whose only other path is the project environment's
site-packages (for torch & co.), and runs the installed ``zoo`` from a folder outside the
checkout: ``zoo list recipes`` must list every shipped recipe and a ``fast_dev_run`` of one recipe
must train. The editable install of the checkout is not visible there (its ``.pth`` hook is only
run for site folders), so every file used comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SKIP_COPY = shutil.ignore_patterns(
    ".git", ".venv", "runs", "wandb", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "lightning_logs"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src") / "affect-zoo"
    shutil.copytree(ROOT, src, ignore=_SKIP_COPY, symlinks=True)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        check=True,
    )
    (built,) = out.glob("affect_zoo-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # dependencies (torch, lightning, ...) from the project environment, after the wheel's own files
    (Path(purelib) / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
    )
    return venv


def _zoo(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AFFECT_ZOO_RUN_DIR")}
    return subprocess.run(
        [str(venv / "bin" / "zoo"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_wheel_ships_recipes_and_package_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = [p.relative_to(ROOT).as_posix() for p in (ROOT / "recipes").rglob("*.yaml")]
    assert shipped, "no recipes in the checkout"
    for recipe in shipped:
        assert any(n.endswith(recipe) for n in names), f"{recipe} is not in {wheel.name}"
    assert any(n.endswith("paper_scores/sun2020.yaml") or n.endswith("paper_scores/__init__.py") for n in names)
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"zoo"}, f"the wheel installs top-level packages {sorted(tops)}; only `zoo` belongs to us"


@pytest.mark.slow
def test_installed_wheel_lists_and_trains_outside_the_checkout(installed: Path, tmp_path: Path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import zoo; print(zoo.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert str(installed) in where and str(ROOT) not in where, where
    listed = _zoo(installed, tmp_path, "list", "recipes")
    assert listed.returncode == 0, listed.stderr
    shipped = {f"{p.parent.name}/{p.stem}" for p in (ROOT / "recipes").glob("*/*.yaml") if p.parent.name != "sweeps"}
    assert {line.split()[0] for line in listed.stdout.splitlines()[1:]} == shipped
    fit = _zoo(
        installed,
        tmp_path,
        "fit",
        "muse_car/sun2020_lstm_selfattn",
        "trainer.fast_dev_run=true",
        f"output_dir={tmp_path / 'runs'}",
        "trainer.enable_progress_bar=false",
        "logger=none",
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert (tmp_path / "runs").is_dir() and not (ROOT / "recipes" / "runs").exists()
    version = _zoo(installed, tmp_path, "--version")
    assert version.stdout.strip().startswith("affect-zoo ")
