"""Loading trained models from checkpoints, without running code from the file.

A checkpoint written by :class:`zoo.task.EmotionTask` carries, in its hyper-parameters, the
resolved recipe, the model name and arguments, feature names/dims, target names, label step,
label shift and the train-partition normalisation statistics (as in nanoGPT, the checkpoint is
all one needs). It is read with ``torch.load(weights_only=True)``: only tensors and plain
containers are unpickled, so a file carrying a code payload is refused.

Every command that loads a checkpoint goes through :func:`read_checkpoint` (``zoo fit ckpt=`` to
resume, ``zoo validate|test|predict ckpt=``, ``zoo export``, ``zoo predict MODEL``,
:func:`load_pretrained`). Only local checkpoint files are read: a URL (``https://``, ``s3://``,
...) is refused, because remote checkpoints are what Lightning would unpickle with
``weights_only=False``. A Hugging Face ``org/name`` given to :func:`load_pretrained` names a
bundle (safetensors and JSON only), read from the local Hugging Face cache (:mod:`zoo.hub`).
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo._registry import building_from_checkpoint
from zoo.data._normalize import FeatureNormalizer
from zoo.data._sequence import prepare_features
from zoo.postprocess import PostProcessor

__all__ = [
    "CheckpointError",
    "local_checkpoint_path",
    "merge_reader_state",
    "read_checkpoint",
    "resume_checkpoint",
    "task_from_checkpoint",
    "store_postprocessor",
    "PretrainedModel",
    "load_pretrained",
]


class CheckpointError(ValueError):
    """A file is not a loadable affect-zoo checkpoint; the message says why."""


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def local_checkpoint_path(path: str | Path) -> Path:
    """``path`` as a local file, refusing URLs and other non-local locations.

    Raises:
        CheckpointError: ``path`` is a URL (``http://``, ``https://``, ``s3://``, ``file://``, ...).
        FileNotFoundError: the file does not exist.
    """
    text = str(path)
    if _URL.match(text):
        raise CheckpointError(
            f"checkpoint {text!r}: only local checkpoint files are loaded (a remote checkpoint would "
            "be unpickled by Lightning with weights_only=False, which runs any code it carries); "
            "download it, check where it comes from, and pass the local path"
        )
    local = Path(text).expanduser()
    if not local.is_file():
        raise FileNotFoundError(f"checkpoint not found: {local}")
    return local


#: data arguments a checkpoint's ``reader_state`` never sets: where data is read from, and what
#: the checkpoint's other fields already fix
_NOT_RESTORED = re.compile(r"^(root|seed|features|targets|normalization_stats)$|_(dir|path|file|root)$")


def merge_reader_state(args: Mapping[str, Any], reader_state: Any, source: str) -> dict[str, Any]:
    """The datamodule arguments ``args`` plus the reading options a checkpoint or bundle restores.

    ``reader_state`` (from ``data_spec``) restores options the trained model depends on, such as
    SEWA's bag-of-words vocabulary. It never sets a location (``root``, ``*_dir``, ``*_path``,
    ``*_file``) or the feature/target/normalisation fields, and never overrides a value the user
    gave in ``args``: a conflict is an error naming both values.

    Args:
        args: the user's datamodule arguments (``data.args`` of the command line and recipe).
        reader_state: ``data_spec["reader_state"]`` (``None`` or a mapping).
        source: the checkpoint or bundle, for the error message.

    Raises:
        CheckpointError: a forbidden key, or a value different from the user's.
    """
    merged = dict(args)
    if not reader_state:
        return merged
    if not isinstance(reader_state, Mapping):
        raise CheckpointError(f"{source}: data_spec.reader_state must be a mapping, got {type(reader_state).__name__}")
    for key, value in reader_state.items():
        if _NOT_RESTORED.search(str(key)):
            raise CheckpointError(
                f"{source}: data_spec.reader_state sets {key!r} = {value!r}; a checkpoint may restore "
                "reading options (e.g. a vocabulary), never where data is read from or what its "
                "other fields fix. Refusing to use it."
            )
        if args.get(key) is not None and args[key] != value:
            raise CheckpointError(
                f"{source}: data_spec.reader_state sets {key!r} = {value!r}, but data.args.{key} = "
                f"{args[key]!r} was given; the model was trained with the checkpoint's value. Remove "
                f"data.args.{key} to use it, or use a checkpoint trained with yours."
            )
        merged[key] = value
    return merged


def resume_checkpoint(path: str | Path) -> str:
    """Check a checkpoint for ``zoo fit ckpt=PATH`` (resuming) with :func:`read_checkpoint` and
    return its local path, to hand to ``Trainer.fit(ckpt_path=..., weights_only=True)``.

    Raises:
        CheckpointError, FileNotFoundError: see :func:`read_checkpoint`.
    """
    local = local_checkpoint_path(path)
    read_checkpoint(local)
    return str(local.resolve())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Safely read an affect-zoo Lightning checkpoint (a local file, ``weights_only=True``).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: a URL, a corrupt file, a pickle with code in it, or a checkpoint that
            was not written by affect-zoo's ``EmotionTask``.
    """
    path = local_checkpoint_path(path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (not a torch.save zip archive)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = next((l.strip() for l in str(err).splitlines() if "Unsupported" in l), "")
        raise CheckpointError(
            f"{path}: refused to load — the file holds objects other than tensors and plain "
            f"containers, and loading it could run code (weights_only loading). {reason}"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no 'state_dict' entry)")
    if "affect_zoo" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise CheckpointError(
            f"{path}: a Lightning checkpoint, but not one written by affect-zoo's EmotionTask "
            "(no 'affect_zoo' marker / hyper-parameters)"
        )
    hparams = checkpoint["hyper_parameters"]
    for key in ("model", "data_spec"):
        if key not in hparams:
            raise CheckpointError(f"{path}: hyper-parameters lack {key!r}")
    return checkpoint


def task_from_checkpoint(path: str | Path) -> Any:
    """Rebuild the :class:`~zoo.task.EmotionTask` of a checkpoint with its trained weights."""
    from zoo.task import EmotionTask

    checkpoint = read_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    try:
        with building_from_checkpoint():
            task = EmotionTask(**hparams)
    except KeyError as err:
        raise CheckpointError(f"{path}: {err.args[0]}") from err
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: weights do not fit model {hparams['model']!r}: {str(err).splitlines()[0]}"
        ) from err
    postprocess = checkpoint["affect_zoo"].get("postprocess")
    if postprocess is not None:
        try:
            task.postprocessor = PostProcessor.from_dict(postprocess)
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from err
    return task


def store_postprocessor(path: str | Path, postprocessor: PostProcessor) -> None:
    """Add a fitted post-processing chain to an existing checkpoint file (atomically)."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    checkpoint["affect_zoo"]["postprocess"] = postprocessor.to_dict()
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


class PretrainedModel(nn.Module):
    """A trained network with its input preparation, ready for inference.

    Attributes:
        net: the registered network (eval mode).
        spec: the data spec stored in the checkpoint.
        recipe: the resolved recipe of the training run.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: Mapping[str, Any],
        recipe: Mapping[str, Any] | None = None,
        postprocessor: PostProcessor | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.postprocessor = postprocessor
        self.spec = dict(spec)
        self.recipe = dict(recipe or {})
        #: the train-partition z-normalisation, the same module the training step uses
        self.normalizer = FeatureNormalizer.from_spec(spec.get("normalization"))
        self.eval()

    @property
    def feature_dims(self) -> dict[str, int]:
        """Expected input feature sets and their dimensions."""
        return dict(self.spec["feature_dims"])

    @property
    def target_names(self) -> list[str]:
        """Output columns, in order."""
        return list(self.spec["target_names"])

    @torch.no_grad()
    def predict(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Predict one recording.

        Args:
            features: feature set name → raw ``(T, D)`` array on the label timeline, as the corpus
                distributes it; delay and normalisation are applied here as in training.

        Returns:
            ``(T, K)`` float32 predictions in :attr:`target_names` order, post-processed with the
            chain fitted on validation data when the run had ``postprocess.enabled``.
        """
        names = list(self.spec["feature_names"])
        for name in names:
            if name not in features:
                raise KeyError(f"predict: feature set {name!r} missing; the model needs {names}")
            expected = self.spec["feature_dims"][name]
            if np.ndim(features[name]) != 2 or np.shape(features[name])[1] != expected:
                raise ValueError(
                    f"predict: feature set {name!r} has shape {np.shape(features[name])}, expected (T, {expected})"
                )
        lengths = {np.shape(features[n])[0] for n in names}
        if len(lengths) != 1:
            raise ValueError(f"predict: feature sets have different lengths {sorted(lengths)}")
        delayed = prepare_features(
            features,
            feature_names=names,
            label_step=float(self.spec["label_step"]),
            label_shift=float(self.spec.get("label_shift", 0.0)),
            feature_delay=self.spec.get("feature_delay"),
        )
        device = next(self.net.parameters()).device
        # (a read-only, memory-mapped input is copied: torch tensors must be writable)
        inputs = {
            n: torch.from_numpy(x if x.flags.writeable else np.array(x)).unsqueeze(0).to(device)
            for n, x in delayed.items()
        }
        mask = torch.ones(1, lengths.pop(), dtype=torch.bool, device=device)
        # on the device, as in training; not in place: on the CPU the tensors may be the caller's arrays
        inputs = self.normalizer(inputs, mask)
        preds = self.net(inputs, mask)[0].float().cpu().numpy()
        if self.postprocessor is not None:
            preds = self.postprocessor.apply(preds, self.target_names)
        return preds


def load_pretrained(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    allow_download: bool = False,
    revision: str | None = None,
) -> PretrainedModel:
    """Load a checkpoint written by ``zoo fit``, or a bundle of ``zoo export``, for inference.

    Args:
        path: a Lightning ``.ckpt`` file from a run folder, a bundle folder (holding
            ``config.json`` and ``model.safetensors``; see :mod:`zoo.bundle`), or a Hugging Face
            repository id ``org/name`` holding a bundle, read from the Hugging Face cache.
        map_location: device to put the weights on.
        allow_download: fetch ``org/name`` from the Hub when the cache lacks it (default: never;
            ``HF_HUB_OFFLINE=1`` forbids it in any case). Only the bundle's files are fetched.
        revision: a branch, tag or commit of ``org/name``.

    Returns:
        An eval-mode :class:`PretrainedModel`.

    Raises:
        FileNotFoundError, CheckpointError: see :func:`read_checkpoint`.
        zoo.bundle.BundleError: a folder that is not a loadable bundle.
        zoo.hub.HubError: ``org/name`` is not in the cache and downloading was not allowed (the
            message says how to allow it), or it cannot be fetched.
    """
    from zoo.hub import is_repo_id, resolve_pretrained

    if is_repo_id(path):  # anything else stays as given (a URL is refused by read_checkpoint)
        path = resolve_pretrained(path, allow_download=allow_download, revision=revision)
    if Path(path).expanduser().is_dir():
        from zoo.bundle import load_bundle

        return load_bundle(path, map_location=map_location)
    task = task_from_checkpoint(path)
    hparams = task.hparams
    model = PretrainedModel(task.net, hparams["data_spec"], hparams.get("recipe"), task.postprocessor)
    return model.to(map_location)
