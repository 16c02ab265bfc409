"""One run folder for all the processes of a run started by an external launcher.

Lightning's own launcher (``trainer.devices=N`` on one machine) starts the other processes from
the user's one, which has made the run folder already: they inherit its path in
``AFFECT_ZOO_RUN_DIR`` (:func:`zoo.runner.run.make_run_dir`). A cluster launcher starts every process
itself, on every machine, at about the same time:

* **torchrun** (Lightning's ``TorchElasticEnvironment``): the process of global rank 0 makes the
  folder and publishes its path in the key-value store that torchrun's agents already share
  (the ``TCPStore`` at ``MASTER_ADDR:MASTER_PORT``, keyed by the restart count); the others read
  it from there;
* **SLURM** (``srun``; Lightning's ``SLURMEnvironment``): the folder's name is made from the job
  (``<recipe>-<command>-slurm<job>[.<step>]``, or ``run_name``), which every task knows; task 0
  makes it, the others wait for it to appear.

The output folder must therefore be on a filesystem every machine sees (the run folder holds the
checkpoint every process reads back to score it). Corpus caches are written atomically (a private
temporary folder renamed into place), so all processes may build them at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from zoo.errors import ConfigError

__all__ = ["cluster_launcher", "global_rank", "launch_tag", "shared_run_dir"]

#: how long the other processes wait for the first one's run folder
WAIT_SECONDS = 300
_calls = 0


def cluster_launcher() -> str | None:
    """``"torchrun"`` or ``"slurm"`` when such a launcher started this process as one of several."""
    from pytorch_lightning.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    if TorchElasticEnvironment.detect() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "torchrun"
    if SLURMEnvironment.detect() and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        return "slurm"
    return None


def global_rank() -> int:
    """This process's rank among all processes of the launch (0 outside a cluster launch)."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))


def launch_tag() -> str:
    """A name part that is the same in every process of one launch and differs between launches
    (``slurm<job>.<step>`` under SLURM; under torchrun its run id and port)."""
    if os.environ.get("SLURM_JOB_ID"):
        tag = f"slurm{os.environ['SLURM_JOB_ID']}"
        if os.environ.get("SLURM_STEP_ID"):
            tag += f".{os.environ['SLURM_STEP_ID']}"
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
        return tag + (f"-r{restarts}" if restarts else "")
    return f"torchrun-{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}-{os.environ.get('MASTER_PORT', '0')}"


def _agent_store() -> object | None:
    """A client of torchrun's own store, or ``None`` when its agents share none."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    from torch.distributed import TCPStore

    return TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        is_master=False,
        timeout=timedelta(seconds=WAIT_SECONDS),
    )


def shared_run_dir(make_new: Callable[[], Path], named: Path) -> Path:
    """The run folder all processes of a cluster launch agree on.

    Args:
        make_new: makes a fresh folder (with the date in its name); called by rank 0 when the
            launcher shares a store to publish it in.
        named: the folder to use otherwise (named after :func:`launch_tag` or ``run_name``):
            rank 0 makes it, the others wait for it.

    Raises:
        ConfigError: ``named`` exists already (rank 0), or it did not appear in time.
    """
    global _calls
    _calls += 1
    rank = global_rank()
    store = _agent_store()
    if store is not None:
        key = f"affect_zoo/run_dir/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{_calls}"
        if rank == 0:
            run_dir = make_new()
            store.set(key, str(run_dir.resolve()))
            return run_dir
        return Path(store.get(key).decode())
    if rank == 0:
        try:
            named.mkdir(parents=True)
        except FileExistsError:
            raise ConfigError(
                f"run folder {named} exists already: give run_name=NEW_NAME to the processes of this launch"
            ) from None
        return named
    deadline = time.monotonic() + WAIT_SECONDS
    while not named.is_dir():
        if time.monotonic() > deadline:
            raise ConfigError(
                f"the run folder {named} did not appear within {WAIT_SECONDS} s: is output_dir on a "
                "filesystem every machine sees?"
            )
        time.sleep(0.5)
    return named
