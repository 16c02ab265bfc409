"""Pretrained model bundles: a folder anyone can load without running code from it.

``zoo export CKPT OUT_DIR`` turns a checkpoint of ``zoo fit`` into::

    OUT_DIR/
      model.safetensors   the network's state dict (safetensors: tensors only, no pickle)
      config.json         format version, architecture, model arguments, features and dims,
                          targets, label step/shift, feature delay, normalisation statistics,
                          fitted post-processing, backbone weights provenance, sha256 of the weights
      recipe.yaml         the resolved recipe of the training run
      README.md           model card: paper, corpus, features, figures of the run, licence note

:func:`load_bundle` (used by :func:`zoo.load_pretrained` for directories) reads only JSON, YAML
(safe loader) and safetensors. A bundle that holds a pickle-capable file (``.pt``, ``.pkl``,
``.ckpt``, ...), or whose ``model.safetensors`` is not a safetensors file, is refused before
anything is deserialised; wrong tensor shapes, missing files, unknown architectures and
malformed JSON are errors that name the tensor, file or key.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Mapping

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "BundleError",
    "export_bundle",
    "load_bundle",
    "model_card",
    "backbone_provenance",
    "paper_reference",
]

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "affect-zoo-bundle"
BUNDLE_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
RECIPE_FILE = "recipe.yaml"
CARD_FILE = "README.md"
BUNDLE_FILES = (WEIGHTS_FILE, CONFIG_FILE, RECIPE_FILE, CARD_FILE)
#: file suffixes that can carry pickled code; a bundle holding one is refused
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".npy", ".npz", ".dill")
_REQUIRED_KEYS = {
    "format": str,
    "format_version": int,
    "architecture": str,
    "model_args": dict,
    "feature_names": list,
    "feature_dims": dict,
    "target_names": list,
    "label_step": (int, float),
}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack")
_WEIGHT_KEY = re.compile(r"(path|weights|checkpoint|pretrained|backbone|model_dir|model_name)", re.I)


class BundleError(ValueError):
    """A folder is not a loadable affect-zoo bundle; the message names the file, key or tensor."""


# --------------------------------------------------------------------------- helpers
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted)."""
    if path.is_file():
        return _sha256_file(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(item.relative_to(path)).encode() + b"\0")
        digest.update(_sha256_file(item).encode())
    return digest.hexdigest()


def backbone_provenance(model_args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Local weight files/folders named by the model arguments, with their sha256.

    An argument counts when its value is a string naming an existing file or folder and either
    its key looks like a weights argument (``pretrained_path``, ``backbone_weights``, ...) or the
    value looks like a path (contains ``/`` or ends in a weights suffix). Nested mappings are
    searched too (keys joined with ``.``).
    """
    found: list[dict[str, Any]] = []

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(f"{prefix}{key}.", item)
            return
        if not isinstance(value, str) or not value:
            return
        key = prefix.rstrip(".")
        path = Path(value).expanduser()
        looks_like_path = "/" in value or path.suffix.lower() in _WEIGHT_SUFFIXES
        if not (_WEIGHT_KEY.search(key.rsplit(".", 1)[-1]) or looks_like_path):
            return
        if path.exists():
            found.append({
                "arg": key,
                "path": str(path.resolve()),
                "kind": "file" if path.is_file() else "directory",
                "sha256": _sha256_path(path),
            })

    visit("", dict(model_args))
    return found


def paper_reference(architecture: str) -> str:
    """The paper of a registered model: its module's ``PAPER`` constant, else its docstring's
    first line, plus the first link found in the docstring."""
    from zoo._registry import model_entrypoint

    module = importlib.import_module(model_entrypoint(architecture).__module__)
    paper = getattr(module, "PAPER", None)
    if isinstance(paper, str) and paper.strip():
        return paper.strip()
    doc = (module.__doc__ or "").strip()
    first = doc.splitlines()[0].strip() if doc else architecture
    link = re.search(r"https?://\S+", doc)
    if link and link.group(0) not in first:
        first = f"{first} {link.group(0)}"
    return first


def _json_safe(value: Any) -> Any:
    """Plain JSON types; non-finite floats become ``null`` (strict JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _json_safe(value.item())
    return value


# --------------------------------------------------------------------------- export
def model_card(config: Mapping[str, Any], results: Mapping[str, float] | None) -> str:
    """The bundle's ``README.md``: paper, corpus, features, figures of the run, licence note."""
    corpus = config.get("corpus") or "unknown corpus"
    root = config.get("corpus_root")
    corpus_line = (
        f"`{corpus}` — the built-in **synthetic** corpus in the real layout (not the real data)"
        if root is None
        else f"`{corpus}` read from `{root}`"
    )
    lines = [
        f"# {config['architecture']} — affect-zoo pretrained bundle",
        "",
        f"- **Paper**: {config.get('paper', config['architecture'])}",
        f"- **Corpus**: {corpus_line}",
        f"- **Targets**: {', '.join(config['target_names'])} (label step {config['label_step']} s, "
        f"label shift {config.get('label_shift', 0.0)} s)",
        "- **Features**: " + ", ".join(f"`{n}` ({config['feature_dims'][n]}-d)" for n in config["feature_names"]),
        f"- **Model arguments**: `{json.dumps(config['model_args'], sort_keys=True)}`",
        f"- **Normalisation**: {'train-partition z-scoring (statistics in config.json)' if config.get('normalization') else 'none'}",
        f"- **Post-processing**: {'fitted on validation data (config.json `postprocess`)' if config.get('postprocess') else 'none'}",
    ]
    for item in config.get("backbone_weights") or []:
        lines.append(f"- **Backbone weights** (`{item['arg']}`): `{item['path']}`, sha256 `{item['sha256']}`")
    lines += ["", "## Figures of the training run", ""]
    if results:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| `{k}` | {float(v):.4f} |" for k, v in sorted(results.items()) if isinstance(v, (int, float))]
    else:
        lines.append("No `results.json` was found next to the checkpoint's run folder.")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "import zoo",
        "model = zoo.load_pretrained('PATH/TO/THIS/FOLDER')",
        "preds = model.predict({name: features_T_by_D, ...})   # (T, K), raw features in",
        "```",
        "",
        "or `zoo predict PATH/TO/THIS/FOLDER CORPUS_ROOT --output OUT [--plot]`.",
        "",
        "## Licence",
        "",
        f"These weights were trained on {corpus}; **the licence of that corpus applies to them** "
        "(most emotion corpora allow academic, non-commercial use only). The affect-zoo code is "
        "Apache-2.0.",
        "",
    ]
    return "\n".join(lines)


def export_bundle(ckpt: str | Path, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write a self-contained bundle of a ``zoo fit`` checkpoint.

    Args:
        ckpt: Lightning checkpoint of a run (``runs/<run>/checkpoints/best.ckpt``).
        out_dir: bundle folder; created if missing.
        overwrite: replace the bundle files in a non-empty ``out_dir`` (other files are left).

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` is not empty and ``overwrite`` is false.
        FileNotFoundError, CheckpointError: see :func:`zoo.pretrained.read_checkpoint`.
    """
    from zoo import __version__
    from zoo.pretrained import read_checkpoint, task_from_checkpoint

    ckpt, out_dir = Path(ckpt).expanduser(), Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; choose an empty folder or pass --overwrite")
    checkpoint = read_checkpoint(ckpt)
    task = task_from_checkpoint(ckpt)
    hparams = checkpoint["hyper_parameters"]
    spec = dict(hparams["data_spec"])
    recipe = dict(hparams.get("recipe") or {})
    model_args = dict(hparams.get("model_args") or {})
    data = recipe.get("data") or {}
    state = {k: v.detach().cpu().contiguous().clone() for k, v in task.net.state_dict().items()}

    run_dir = ckpt.resolve().parent.parent
    results_path = run_dir / "results.json"
    results = None
    if ckpt.resolve().parent.name == "checkpoints" and results_path.is_file():
        try:
            results = json.loads(results_path.read_text())
        except json.JSONDecodeError:
            logger.warning("%s is not valid JSON; the model card has no figures", results_path)
    config = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "zoo_version": __version__,
        "architecture": hparams["model"],
        "paper": paper_reference(hparams["model"]),
        "model_args": model_args,
        "datamodule": data.get("name", spec.get("corpus")),
        "corpus": spec.get("corpus"),
        "corpus_root": (data.get("args") or {}).get("root"),
        "feature_names": list(spec["feature_names"]),
        "feature_dims": dict(spec["feature_dims"]),
        "target_names": list(spec["target_names"]),
        "label_step": float(spec["label_step"]),
        "label_shift": float(spec.get("label_shift", 0.0)),
        "feature_delay": dict(spec.get("feature_delay") or {}),
        "normalization": spec.get("normalization"),
        "reader_state": spec.get("reader_state"),
        "postprocess": task.postprocessor.to_dict() if task.postprocessor is not None else None,
        "backbone_weights": backbone_provenance(model_args),
        "results": results,
        "source_checkpoint": str(ckpt.resolve()),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / WEIGHTS_FILE
    save_file(state, str(weights), metadata={"format": "pt", "architecture": hparams["model"]})
    config["weights_sha256"] = _sha256_file(weights)
    config = _json_safe(config)
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=False, allow_nan=False))
    OmegaConf.save(OmegaConf.create(_json_safe(recipe)), out_dir / RECIPE_FILE)
    (out_dir / CARD_FILE).write_text(model_card(config, results))
    return out_dir


# --------------------------------------------------------------------------- load
def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise BundleError(f"{folder}: missing file {CONFIG_FILE} (not an affect-zoo bundle)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BundleError(
            f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    except UnicodeDecodeError as err:
        raise BundleError(f"{path}: not UTF-8 text ({err})") from None
    if not isinstance(config, dict):
        raise BundleError(f"{path}: the top level must be a JSON object, got {type(config).__name__}")
    if config.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path}: 'format' is {config.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    for key, kind in _REQUIRED_KEYS.items():
        if key not in config:
            raise BundleError(f"{path}: missing key {key!r}")
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise BundleError(f"{path}: key {key!r} has the wrong type {type(config[key]).__name__}")
    if config["format_version"] > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {config['format_version']} is newer than this "
            f"affect-zoo reads ({BUNDLE_FORMAT_VERSION}); upgrade affect-zoo"
        )
    missing = [n for n in config["feature_names"] if n not in config["feature_dims"]]
    if missing:
        raise BundleError(f"{path}: 'feature_dims' lacks the feature sets {missing}")
    return config


def _refuse_pickles(folder: Path) -> None:
    for item in sorted(folder.rglob("*")):
        if item.is_file() and item.suffix.lower() in PICKLE_SUFFIXES:
            raise BundleError(
                f"{folder}: holds {item.relative_to(folder)}, a file format that can carry pickled "
                "code; bundles carry weights only as model.safetensors. Refusing to load the "
                "bundle (nothing was unpickled); remove the file if you trust it is not needed."
            )


def _sniff(path: Path) -> str:
    head = path.read_bytes()[:4] if path.stat().st_size else b""
    if head[:1] == b"\x80":
        return " It starts like a Python pickle."
    if head[:2] == b"PK":
        return " It is a zip archive (torch.save format)."
    return ""


def _open_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, refusing anything else without deserialising it."""
    if not path.is_file():
        raise BundleError(f"{path.parent}: missing file {path.name}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise BundleError(
            f"{path}: not a safetensors file ({err}).{_sniff(path)} It was not loaded; bundles "
            "never unpickle weights."
        ) from None


def _model_args(config: Mapping[str, Any]) -> dict[str, Any]:
    """Model arguments; backbone weight paths missing on this machine become ``None`` (the
    bundle's own weights replace them)."""
    args = dict(config["model_args"])
    for item in config.get("backbone_weights") or []:
        if "." in str(item.get("arg", "")) or item.get("arg") not in args:
            continue
        if not Path(str(args[item["arg"]])).expanduser().exists():
            logger.info("backbone weights %s not found; using the bundle's weights", args[item["arg"]])
            args[item["arg"]] = None
    return args


def load_bundle(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a bundle written by :func:`export_bundle` as an eval-mode ``PretrainedModel``.

    Args:
        path: the bundle folder.
        map_location: device to put the weights on.

    Raises:
        BundleError: missing file, malformed JSON, unknown architecture, tensors with the wrong
            names or shapes, a pickle payload, or weights not matching their recorded sha256.
    """
    from zoo._registry import create_model, list_models
    from zoo.postprocess import PostProcessor
    from zoo.pretrained import PretrainedModel

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BundleError(f"{folder}: not a bundle folder")
    _refuse_pickles(folder)
    config = _read_config(folder)
    architecture = config["architecture"]
    registered = list_models()
    if architecture not in registered:
        raise BundleError(
            f"{folder / CONFIG_FILE}: unknown architecture {architecture!r}; registered: "
            f"{', '.join(registered)}"
        )
    weights_path = folder / WEIGHTS_FILE
    tensors = _open_weights(weights_path)
    try:
        net = create_model(
            architecture,
            feature_dims=dict(config["feature_dims"]),
            num_targets=len(config["target_names"]),
            **_model_args(config),
        )
    except (TypeError, ValueError, KeyError) as err:
        raise BundleError(f"{folder / CONFIG_FILE}: cannot build {architecture!r}: {err}") from err
    expected = net.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise BundleError(
            f"{weights_path}: tensors do not match {architecture!r}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise BundleError(
                f"{weights_path}: tensor {name!r} has shape {tuple(tensor.shape)}, but "
                f"{architecture!r} with the bundle's config expects {tuple(expected[name].shape)}"
            )
    recorded = config.get("weights_sha256")
    if recorded is not None and recorded != _sha256_file(weights_path):
        raise BundleError(f"{weights_path}: sha256 differs from 'weights_sha256' in {CONFIG_FILE}; the file was changed")
    net.load_state_dict(tensors, strict=True)
    postprocessor = None
    if config.get("postprocess") is not None:
        try:
            postprocessor = PostProcessor.from_dict(config["postprocess"])
        except (ValueError, AttributeError) as err:
            raise BundleError(f"{folder / CONFIG_FILE}: 'postprocess': {err}") from err
    recipe: dict[str, Any] = {"data": {"name": config.get("datamodule"), "args": {}}}
    recipe_path = folder / RECIPE_FILE
    if recipe_path.is_file():
        try:
            loaded = OmegaConf.to_container(OmegaConf.load(recipe_path), resolve=False)
        except Exception as err:  # yaml / omegaconf grammar errors
            raise BundleError(f"{recipe_path}: malformed YAML: {err}") from None
        if isinstance(loaded, dict):
            recipe = loaded
    spec = {
        "corpus": config.get("corpus"),
        "feature_names": list(config["feature_names"]),
        "feature_dims": dict(config["feature_dims"]),
        "target_names": list(config["target_names"]),
        "label_step": float(config["label_step"]),
        "label_shift": float(config.get("label_shift") or 0.0),
        "feature_delay": dict(config.get("feature_delay") or {}),
        "normalization": config.get("normalization"),
    }
    if config.get("reader_state") is not None:
        spec["reader_state"] = config["reader_state"]
    model = PretrainedModel(net, spec, recipe, postprocessor)
    model.bundle_config = config
    return model.to(map_location)
