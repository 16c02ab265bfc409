"""Loading trained models for inference: :func:`load_pretrained`.

A Lightning checkpoint of ``zoo fit`` is read by :mod:`zoo.hub.checkpoint_io` (``weights_only``, local
files only), a bundle folder of ``zoo export`` by :mod:`zoo.hub.bundle`, and a Hugging Face
``org/name`` names a bundle read from the local Hugging Face cache (:mod:`zoo.hub.huggingface`). Either way
the result is a :class:`~zoo.hub.inference.PretrainedModel`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.hub.bundle import load_bundle
from zoo.hub.checkpoint_io import task_from_checkpoint
from zoo.hub.huggingface import is_repo_id, resolve_pretrained
from zoo.hub.inference import PretrainedModel

__all__ = ["PretrainedModel", "load_pretrained"]


def load_pretrained(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    allow_download: bool = False,
    revision: str | None = None,
) -> PretrainedModel:
    """Load a checkpoint written by ``zoo fit``, or a bundle of ``zoo export``, for inference.

    Args:
        path: a Lightning ``.ckpt`` file from a run folder, a bundle folder (holding
            ``config.json`` and ``model.safetensors``; see :mod:`zoo.hub.bundle`), or a Hugging Face
            repository id ``org/name`` holding a bundle, read from the Hugging Face cache.
        map_location: device to put the weights on.
        allow_download: fetch ``org/name`` from the Hub when the cache lacks it (default: never;
            ``HF_HUB_OFFLINE=1`` forbids it in any case). Only the bundle's files are fetched.
        revision: a branch, tag or commit of ``org/name``.

    Returns:
        An eval-mode :class:`PretrainedModel`.

    Raises:
        FileNotFoundError, zoo.hub.checkpoint_io.CheckpointError: see :func:`~zoo.hub.checkpoint_io.read_checkpoint`.
        zoo.hub.bundle.BundleError: a folder that is not a loadable bundle.
        zoo.hub.huggingface.HubError: ``org/name`` is not in the cache and downloading was not allowed (the
            message says how to allow it), or it cannot be fetched.
    """
    if is_repo_id(path):  # anything else stays as given (a URL is refused by read_checkpoint)
        path = resolve_pretrained(path, allow_download=allow_download, revision=revision)
    if Path(path).expanduser().is_dir():
        return load_bundle(path, map_location=map_location)
    task = task_from_checkpoint(path)
    hparams = task.hparams
    model = PretrainedModel(task.net, hparams["data_spec"], hparams.get("recipe"), task.postprocessor)
    return model.to(map_location)
