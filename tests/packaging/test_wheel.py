"""The wheel a user gets from ``pip install .`` works outside the checkout.

The test builds the wheel from a copy of the working tree, installs it (without dependencies)
into a fresh virtual environment whose only other path is the project environment's
site-packages (for torch & co.), and runs the installed ``zoo`` from a folder outside the
checkout: ``zoo list recipes`` must list every shipped recipe; a recipe file outside the checkout
must train, its run be exported and predicted by a Hugging Face id read from a local cache, and a
shipped sweep run 2 Optuna trials. The editable install of the checkout is not visible there (its
``.pth`` hook is only run for site folders), so every file used comes from the wheel.
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
sys.path.insert(0, str(ROOT / "tests" / "zoo"))
from _tiny_runs import write_tiny_corpus  # noqa: E402

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


def _zoo(venv: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AFFECT_ZOO_RUN_DIR")} | (env or {})
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
    """From a folder outside the checkout, with only the wheel's files: ``zoo list``; a user's own
    recipe file (no defaults.yaml near it) trains; its run is exported and predicted by a Hugging
    Face id from a prepared local cache; a shipped sweep, named like a recipe, runs 2 Optuna trials."""
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
    assert listed.stdout.splitlines()[0].split()[0] == "RECIPE"
    assert {line.split()[0] for line in listed.stdout.splitlines()[1:]} == shipped
    # a recipe of the user's own, outside any checkout
    corpus = write_tiny_corpus(tmp_path / "muse")
    recipe = tmp_path / "my-recipes" / "sun_small.yaml"
    recipe.parent.mkdir()
    recipe.write_text((ROOT / "recipes" / "muse_car" / "sun2020_lstm_selfattn.yaml").read_text())
    small = [
        f"data.args.root={corpus}",
        "data.args.features=[egemaps]",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "early_stopping.enabled=false",
        "trainer.enable_progress_bar=false",
    ]
    fit = _zoo(
        installed, tmp_path, "fit", str(recipe), *small, "model.args.hidden_size=8", f"output_dir={tmp_path / 'runs'}"
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("sun_small-fit-") and not (ROOT / "recipes" / "runs").exists()
    # its bundle, as the Hugging Face cache holds a downloaded repository, predicted by its id
    exported = _zoo(installed, tmp_path, "export", str(run_dir), str(tmp_path / "bundle"))
    assert exported.returncode == 0, exported.stderr[-3000:]
    cache = tmp_path / "hf-cache"
    snapshot = cache / "models--my-org--sun-small" / "snapshots" / ("0" * 40)
    shutil.copytree(tmp_path / "bundle", snapshot)
    (cache / "models--my-org--sun-small" / "refs").mkdir()
    (cache / "models--my-org--sun-small" / "refs" / "main").write_text("0" * 40)
    offline = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    predicted = _zoo(installed, tmp_path, "predict", "my-org/sun-small", str(corpus), "--output", "preds", env=offline)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "preds" / "arousal").glob("*.csv"))
    # a shipped sweep by name: 2 trials with Optuna, ranked in trials.csv
    swept = _zoo(
        installed, tmp_path, "sweep", "muse_car/sun2020", "--local", "--count", "2", "--output", "sweeps", *small
    )
    assert swept.returncode == 0, swept.stderr[-3000:]
    (folder,) = (tmp_path / "sweeps").iterdir()
    rows = (folder / "trials.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",complete," in row for row in rows[1:]), rows
    version = _zoo(installed, tmp_path, "--version")
    assert version.stdout.strip().startswith("affect-zoo ")
