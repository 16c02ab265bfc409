"""Shared test settings: one cache folder per test run, W&B offline, a trained run.

**The cache.** Every synthetic corpus, corpus-cache entry (parsed partitions, frozen encoder
outputs) and CMU-MOSEI alignment a test asks for through the defaults is written once per test
run into one folder (``$AFFECT_ZOO_CACHE``, set here) and reused by every later test: tests that
need a corpus should take the default synthetic one (``root=None``, or a recipe) rather than
write their own into ``tmp_path``. Under ``pytest-xdist`` the workers of one run share the folder
(writes are atomic renames, so concurrent workers are safe). ``AFFECT_ZOO_TEST_CACHE=DIR`` keeps
it in ``DIR`` across runs instead — the fast inner loop of development (see the README); CI
leaves it unset, so each CI run starts from an empty folder.

**Threads.** Under ``pytest-xdist`` each worker runs with one intra-op thread (and passes
``OMP_NUM_THREADS=1`` to the processes it starts): two workers with two threads each on two cores
would oversubscribe them, and OpenMP's spin-waiting makes that many times slower.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

#: a folder that keeps the test cache across runs (development only; CI leaves it unset)
PERSISTENT_CACHE_ENV = "AFFECT_ZOO_TEST_CACHE"


#: fixtures that make a test end to end (it trains through the CLI): such a test is ``slow``
END_TO_END_FIXTURES = frozenset({"trained_muse_run", "zoo_cli"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark end-to-end tests ``slow`` by what they use, so new ones join the slow set by themselves
    and ``pytest -m "not slow"`` stays the fast inner loop; keep the users of the session's trained
    run on one xdist worker."""
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if END_TO_END_FIXTURES & uses:
            item.add_marker(pytest.mark.slow)
        if "trained_muse_run" in uses:  # under pytest-xdist: one worker trains it, once
            item.add_marker(pytest.mark.xdist_group("trained_muse_run"))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def _run_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder of this test run (shared by its xdist workers), or the persistent one."""
    persistent = os.environ.get(PERSISTENT_CACHE_ENV)
    if persistent:
        folder = Path(persistent).expanduser()
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "zoo-cache"  # the run's folder, above the workers'
    else:
        return tmp_path_factory.mktemp("zoo-cache")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Synthetic corpora go to the run's cache; W&B never reaches a server."""
    os.environ["AFFECT_ZOO_CACHE"] = str(_run_cache(tmp_path_factory))
    os.environ["WANDB_MODE"] = "offline"
    os.environ.pop("AFFECT_ZOO_RUN_DIR", None)
    yield


QUICK = ["trainer.enable_progress_bar=false", "logger=csv"]


def run_cli(*args: str) -> Path:
    """Run ``zoo`` in-process and return its run folder."""
    from zoo.cli import run

    out = run(list(args))
    assert out["exit_code"] == 0
    return Path(out["run_dir"])


@pytest.fixture(scope="session")
def trained_muse_run(tmp_path_factory: pytest.TempPathFactory, _isolated_environment) -> Path:
    """One short Sun 2020 run on synthetic MuSe-CaR, shared by the tests that need a checkpoint."""
    out = tmp_path_factory.mktemp("runs")
    run_dir = run_cli(
        "fit",
        "muse_car/sun2020_lstm_selfattn",
        f"output_dir={out}",
        "trainer.max_epochs=3",
        "model.args.hidden_size=32",
        "export_predictions=[train,val,test]",
        *QUICK,
    )
    assert json.loads((run_dir / "results.json").read_text())
    return run_dir


@pytest.fixture()
def zoo_cli():
    """The in-process ``zoo`` runner (see :func:`run_cli`)."""
    return run_cli


@pytest.fixture(autouse=True)
def _no_inherited_run_folder():
    """``zoo`` remembers its run folder in ``$AFFECT_ZOO_RUN_DIR`` for the DDP processes it starts;
    a test that calls ``make_run_dir`` directly would otherwise hand its folder to later tests."""
    os.environ.pop("AFFECT_ZOO_RUN_DIR", None)
    yield
    os.environ.pop("AFFECT_ZOO_RUN_DIR", None)
