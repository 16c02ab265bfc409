"""Checkpoint I/O: reading, checking and updating the checkpoints of ``zoo fit``, never running
code from them.

A checkpoint written by :class:`zoo.training.task.EmotionTask` carries, in its hyper-parameters, the
resolved recipe, the model name and arguments and the :class:`~zoo.data.types.DataSpec` (feature
names/dims, target names, level, label step and shift, train-partition normalisation statistics,
the reader's state). It is read with ``torch.load(weights_only=True)``: only tensors and plain
containers are unpickled, so a file carrying a code payload is refused.

Every command that loads a checkpoint goes through :func:`read_checkpoint` (``zoo fit ckpt=`` to
resume, ``zoo validate|test|predict ckpt=``, ``zoo export``, ``zoo predict MODEL``,
:func:`zoo.hub.pretrained.load_pretrained`), which checks what a checkpoint carries as a bundle's is
checked (:mod:`zoo.hub.spec_checks`): finite weights, finite normalisation statistics with every std
> 0, a finite label shift and feature delays. Only local checkpoint files are read: a URL
(``https://``, ``s3://``, ...) is refused, because remote checkpoints are what Lightning would
unpickle with ``weights_only=False``. Inference on a loaded model is :mod:`zoo.hub.inference`.

Models read no files: a variant declares the arguments that name files when it registers
(``@register_model(files={"pretrained_path": "weights"})``, :mod:`zoo.models.registry`), and
:func:`read_model_files` reads them for it — for the runner, :func:`task_from_checkpoint`, the
bundle loader and :func:`zoo.create_model` (:func:`build_model`) — handing the variant
``loaded={argument: content}``:

* ``"weights"`` — initial weights (e.g. ImageNet weights of a backbone): a state dict from a
  safetensors file or a torch file read with ``weights_only=True``; skipped when the model is
  built to receive a checkpoint's trained weights (:func:`~zoo.models.registry.building_from_checkpoint`);
* ``"checkpoint"`` — an affect-zoo checkpoint (e.g. a unimodal run whose extractor a multimodal
  model reuses): ``{"path", "model", "model_args", "state_dict"}`` read by :func:`read_checkpoint`;
  read in both cases, as the extractor's architecture comes from it.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from zoo.hub.safe_load import safe_torch_load
from zoo.hub.spec_checks import check_finite_weights, check_spec_numbers, finite_number
from zoo.models.registry import building_from_checkpoint, create_model, model_files, weights_come_from_checkpoint
from zoo.training.postprocess import PostProcessor

__all__ = [
    "CheckpointError",
    "build_model",
    "read_model_files",
    "read_weights_file",
    "local_checkpoint_path",
    "merge_reader_state",
    "read_checkpoint",
    "resume_checkpoint",
    "task_from_checkpoint",
    "store_postprocessor",
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


def read_checkpoint(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """Safely read an affect-zoo Lightning checkpoint (a local file, ``weights_only=True``).

    Args:
        path: the ``.ckpt`` file.
        mmap: memory-map the tensors instead of reading them (to look at the recipe and data
            spec only); the weights are then not checked for finiteness.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: a URL, a corrupt file, a pickle with code in it, a checkpoint that was
            not written by affect-zoo's ``EmotionTask``, or one whose data spec or weights hold
            values no model can use (NaN/inf, a std of 0; see :mod:`zoo.hub.spec_checks`).
    """
    path = local_checkpoint_path(path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (not a torch.save zip archive)")
    checkpoint = safe_torch_load(path, "PyTorch checkpoint", CheckpointError, mmap=mmap)
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
    _check_values(path, checkpoint, weights=not mmap)
    return checkpoint


def _check_values(path: Path, checkpoint: Mapping[str, Any], weights: bool) -> None:
    """The checks of :mod:`zoo.hub.spec_checks` on a checkpoint's data spec (and weights)."""
    spec = checkpoint["hyper_parameters"]["data_spec"]

    def fail(field: str, expected: str, found: Any) -> None:
        shown = found if isinstance(found, str) else repr(found)[:120]
        raise CheckpointError(
            f"{path}: hyper_parameters.data_spec.{field}: expected {expected}, found {shown}; refusing to use "
            "this checkpoint (its predictions would be NaN or wrong)"
        )

    if not isinstance(spec, Mapping) or not isinstance(spec.get("feature_dims"), Mapping):
        raise CheckpointError(f"{path}: hyper_parameters.data_spec is not a data spec with feature_dims")
    step = spec.get("label_step", 0.0)
    if not finite_number(step) or step < 0:
        fail("label_step", "a finite number of seconds >= 0", step)
    dims = spec["feature_dims"]
    check_spec_numbers(spec, list(spec.get("feature_names") or dims), dims, fail)
    if weights:

        def bad_weight(name: str, expected: str, found: Any) -> None:
            raise CheckpointError(f"{path}: state_dict[{name!r}]: expected {expected}, found {found}; refusing to load")

        check_finite_weights(checkpoint["state_dict"], bad_weight)


def task_from_checkpoint(path: str | Path) -> Any:
    """Rebuild the :class:`~zoo.training.task.EmotionTask` of a checkpoint with its trained weights."""
    from zoo.training.task import EmotionTask

    checkpoint = read_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    try:
        with building_from_checkpoint():
            task = EmotionTask(
                **hparams, loaded_files=read_model_files(hparams["model"], hparams.get("model_args") or {})
            )
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


# --------------------------------------------------------------------------- files named by model arguments
def read_weights_file(path: str | Path, argument: str = "pretrained_path") -> dict[str, Tensor]:
    """A state dict from a safetensors file or a torch file read with ``weights_only=True``.

    Args:
        path: the file.
        argument: the model argument that named it (for messages: ``model.args.<argument>``).

    Raises:
        FileNotFoundError: naming the argument and how to make the file.
        ValueError: the file holds no state dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained weights not found: {path} (model.args.{argument}). Make the file on a "
            "machine with internet access and copy it here, e.g. python -c \"import timm, "
            "safetensors.torch as st; st.save_file(timm.create_model('resnet50', pretrained=True)"
            f".state_dict(), '{path.name}')\" (docs/models/tzirakis2017.md, 'ImageNet weights'); "
            f"or set model.args.{argument}=null to train from scratch"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = safe_torch_load(path, f"weights file (model.args.{argument})")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    return state


def _read_model_checkpoint(path: str | Path) -> dict[str, Any]:
    checkpoint = read_checkpoint(path)
    return {
        "path": str(path),
        "model": checkpoint["hyper_parameters"]["model"],
        "model_args": dict(checkpoint["hyper_parameters"].get("model_args") or {}),
        "state_dict": checkpoint["state_dict"],
    }


def read_model_files(model: str, model_args: Mapping[str, Any]) -> dict[str, Any]:
    """What the files named by ``model_args`` hold, for the variant's ``loaded`` argument.

    Args:
        model: a registered model name.
        model_args: its arguments (a file argument that is ``None`` or absent is skipped).

    Raises:
        FileNotFoundError, ValueError, zoo.hub.checkpoint_io.CheckpointError: a file that is
            missing or not what the variant declared.
    """
    loaded: dict[str, Any] = {}
    for argument, kind in model_files(model).items():
        path = model_args.get(argument)
        if path is None:
            continue
        if kind == "weights":
            if not weights_come_from_checkpoint():  # trained weights replace the initial ones
                loaded[argument] = read_weights_file(path, argument)
        else:
            loaded[argument] = _read_model_checkpoint(path)
    return loaded


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """:func:`~zoo.models.registry.create_model` after reading the files its arguments name."""
    if model_files(name):
        kwargs["loaded"] = {**read_model_files(name, kwargs), **dict(kwargs.get("loaded") or {})}
    return create_model(name, **kwargs)
