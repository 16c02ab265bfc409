"""Pretrained model bundles: a folder anyone can load without running code from it.

``zoo export CKPT OUT_DIR`` turns a checkpoint of ``zoo fit`` into::

    OUT_DIR/
      model.safetensors   the network's state dict (safetensors: tensors only, no pickle)
      config.json         format version, architecture, model arguments, features and dims,
                          targets, label step/shift, feature delay, normalisation statistics,
                          fitted post-processing, backbone weights provenance, the
                          extractor of each feature set (zoo.features.provenance)
      recipe.yaml         the resolved recipe of the training run
      README.md           model card: paper, corpus, features, figures of the run, licence note,
                          with the Hugging Face front matter (library_name, tags, datasets and a
                          model-index with the CCC reached on which partition; zoo.hub.huggingface)
      manifest.json       sha256 of every other file of the bundle (README.md included)

The folder is a valid Hugging Face model repository: ``zoo export CKPT OUT --push-to-hub org/name``
uploads it (:func:`push_to_hub`), and ``zoo.load_pretrained("org/name")`` reads it back
from the Hugging Face cache (:func:`zoo.hub.huggingface.resolve_pretrained`), through the same checks.

:func:`load_bundle` (used by :func:`zoo.load_pretrained` for directories) reads only JSON, YAML
(safe loader) and safetensors, and checks, before it builds anything:

* the folder holds plain files only (no symbolic links) and no pickle-capable file (``.pt``,
  ``.pkl``, ``.ckpt``, ...);
* ``manifest.json`` lists exactly the files present, each with its sha256 (mandatory: a bundle
  without one was written by an older affect-zoo and must be exported again);
* every field of ``config.json`` has the right type and agrees with the others (feature dims,
  statistics lengths, ``std > 0`` and finite, unique targets, registered architecture, ...);
* every weight of ``model.safetensors`` is finite (:mod:`zoo.hub.spec_checks`, as for checkpoints).

The manifest detects a changed, added or removed file; it is not a signature. Whoever can
rewrite the files can rewrite the manifest too, so compare the bundle's fingerprint (the sha256
of ``manifest.json``, printed by ``zoo export`` and kept as ``model.bundle_sha256``) with the one
its publisher gives. Errors name the file, the field and what was expected.

``zoo export`` writes the bundle into a temporary folder next to ``OUT_DIR`` and swaps it in
with a rename, so a failed export leaves nothing half-written; it refuses symbolic links (a
linked ``OUT_DIR`` or a link inside it), and ``--overwrite`` replaces only a folder that holds
nothing but a bundle's files.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from zoo.data.types import DataSpec, DataSpecError
from zoo.hub.spec_checks import check_finite_weights, check_spec_numbers, finite_number

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "BundleError",
    "bundle_fingerprint",
    "export_bundle",
    "write_bundle",
    "load_bundle",
    "push_to_hub",
    "model_card",
    "backbone_provenance",
    "paper_reference",
]

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "affect-zoo-bundle"
#: 2: manifest.json with the sha256 of every file (version 1 bundles had none)
BUNDLE_FORMAT_VERSION = 2
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
RECIPE_FILE = "recipe.yaml"
CARD_FILE = "README.md"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "affect-zoo-bundle-manifest"
BUNDLE_FILES = (WEIGHTS_FILE, CONFIG_FILE, RECIPE_FILE, CARD_FILE, MANIFEST_FILE)
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
            found.append(
                {
                    "arg": key,
                    "path": str(path.resolve()),
                    "kind": "file" if path.is_file() else "directory",
                    "sha256": _sha256_path(path),
                }
            )

    visit("", dict(model_args))
    return found


def paper_reference(architecture: str) -> str:
    """The paper of a registered model: its module's ``PAPER`` constant, else its docstring's
    first line, plus the first link found in the docstring."""
    from zoo.models.registry import model_entrypoint

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


def _card_text(config: Mapping[str, Any], results: Mapping[str, float] | None) -> str:
    """``README.md`` of a bundle: :func:`model_card` under the Hub's YAML front matter."""
    from zoo.hub.huggingface import card_with_metadata

    return card_with_metadata(model_card(config, results), config, results)


def _links_in(folder: Path) -> list[Path]:
    """Symbolic links inside ``folder`` (never followed), as paths relative to it."""
    links = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                links.append(Path(dirpath, name).relative_to(folder))
    return sorted(links)


def _check_export_target(out_dir: Path, overwrite: bool) -> None:
    """Refuse links, non-folders, and folders holding anything but a bundle's files."""
    if out_dir.is_symlink():
        raise FileExistsError(
            f"{out_dir} is a symbolic link (to {os.readlink(out_dir)}); bundles are written only "
            "into a real folder, never through a link"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; choose an empty folder or pass --overwrite")
    links = _links_in(out_dir)
    if links:
        raise FileExistsError(
            f"{out_dir} holds the symbolic link {links[0]}; --overwrite replaces only a folder of "
            "plain files, never through a link"
        )
    foreign = sorted(
        p.relative_to(out_dir) for p in out_dir.rglob("*") if p.relative_to(out_dir).as_posix() not in BUNDLE_FILES
    )
    if foreign:
        raise FileExistsError(
            f"{out_dir} holds {', '.join(map(str, foreign[:5]))}, which is not part of a bundle; "
            "--overwrite replaces only an earlier bundle (nothing else is deleted). Move those "
            "files or choose another folder"
        )


def _write_manifest(folder: Path) -> str:
    """Write ``manifest.json`` (sha256 of every other file); returns its own sha256."""
    files = {}
    for item in sorted(folder.rglob("*")):
        name = item.relative_to(folder).as_posix()
        if item.is_file() and name != MANIFEST_FILE:
            files[name] = _sha256_file(item)
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "algorithm": "sha256",
        "files": files,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return _sha256_file(folder / MANIFEST_FILE)


def bundle_fingerprint(folder: str | Path) -> str:
    """The sha256 of a bundle's ``manifest.json``: one value that pins every file of the bundle."""
    return _sha256_file(Path(folder).expanduser() / MANIFEST_FILE)


def export_bundle(ckpt: str | Path, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write a self-contained bundle of a ``zoo fit`` checkpoint.

    The bundle is written into a temporary folder beside ``out_dir`` and renamed into place
    (an earlier bundle there is swapped out and then deleted), so ``out_dir`` never holds a
    half-written bundle and nothing is written through a symbolic link.

    Args:
        ckpt: Lightning checkpoint of a run (``runs/<run>/checkpoints/best.ckpt``).
        out_dir: bundle folder; created if missing.
        overwrite: replace an earlier bundle in ``out_dir`` (a folder holding only bundle files).

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` is a link, holds a link, is not empty without ``overwrite``,
            or holds files that are not a bundle's.
        FileNotFoundError, CheckpointError: see :func:`zoo.hub.checkpoint_io.read_checkpoint`.
    """
    from zoo._version import __version__
    from zoo.features.provenance import feature_provenance
    from zoo.hub.checkpoint_io import read_checkpoint, task_from_checkpoint

    ckpt, out_dir = Path(ckpt).expanduser(), Path(out_dir).expanduser()
    _check_export_target(out_dir, overwrite)
    checkpoint = read_checkpoint(ckpt)
    task = task_from_checkpoint(ckpt)
    hparams = checkpoint["hyper_parameters"]
    spec = DataSpec.from_dict(hparams["data_spec"], str(ckpt))
    recipe = dict(hparams.get("recipe") or {})
    model_args = dict(hparams.get("model_args") or {})
    data = recipe.get("data") or {}
    data_args = dict(data.get("args") or {})
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
        "datamodule": data.get("name", spec.corpus),
        "corpus": spec.corpus,
        "level": spec.level,
        "corpus_root": (data.get("args") or {}).get("root"),
        "feature_names": list(spec.feature_names),
        "feature_dims": dict(spec.feature_dims),
        "target_names": list(spec.target_names),
        "label_step": float(spec.label_step),
        "label_shift": float(spec.label_shift),
        "feature_delay": dict(spec.feature_delay),
        "normalization": spec.normalization,
        "reader_state": spec.reader_state or None,
        "reader_info": spec.reader_info,
        "postprocess": task.postprocessor.to_dict() if task.postprocessor is not None else None,
        "backbone_weights": backbone_provenance(model_args),
        # which extractor made each training feature set (None: none registered did)
        "feature_extractors": feature_provenance(
            data.get("name", spec.corpus), data_args.get("root"), spec.feature_names, data_args, spec.label_step
        ),
        "results": results,
        "source_checkpoint": str(ckpt.resolve()),
    }
    config = _json_safe(config)
    return write_bundle(out_dir, state, config, recipe, _card_text(config, results), overwrite)


def write_bundle(
    out_dir: Path,
    state: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    recipe: Mapping[str, Any],
    card: str,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder: weights, ``config.json``, ``recipe.yaml``, the card and the manifest.

    Shared by :func:`export_bundle` and the importers of public models (:mod:`zoo.hub.importers`).
    The config is validated first (a bundle that would be refused is never written); the files
    go into a temporary folder beside ``out_dir`` that is renamed into place (an earlier bundle
    there is swapped out, then deleted).

    Raises:
        FileExistsError: see :func:`export_bundle`.
        BundleError: a config field that :func:`load_bundle` would refuse.
    """
    out_dir = Path(out_dir).expanduser()
    _check_export_target(out_dir, overwrite)
    config = _json_safe(config)
    _validate_config(config, Path(CONFIG_FILE))  # never write a bundle that would be refused

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.export-", dir=out_dir.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a bundle is an ordinary folder
        # one metadata entry: safetensors keeps metadata in a hash map, so with several entries
        # their order (and the file's sha256) would change from one export to the next
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=False, allow_nan=False))
        OmegaConf.save(OmegaConf.create(_json_safe(recipe)), tmp / RECIPE_FILE)
        (tmp / CARD_FILE).write_text(card)
        fingerprint = _write_manifest(tmp)  # last: it pins every file above, the card included
        if out_dir.exists():
            _check_export_target(out_dir, overwrite)  # again, right before the swap
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "bundle")  # renames the entry itself, never through a link
            try:
                os.replace(tmp, out_dir)
            except BaseException:
                os.replace(old / "bundle", out_dir)  # put the earlier bundle back
                raise
            shutil.rmtree(old)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("bundle %s written (fingerprint sha256 %s)", out_dir, fingerprint)
    return out_dir


# --------------------------------------------------------------------------- load
def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"{path.parent}: missing file {path.name} ({what})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BundleError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except UnicodeDecodeError as err:
        raise BundleError(f"{path}: not UTF-8 text ({err})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: the top level must be a JSON object, got {type(data).__name__}")
    return data


def _reexport_hint(folder: Path) -> str:
    return (
        f"export it again from its checkpoint with this affect-zoo: "
        f"`zoo export runs/<run>/checkpoints/best.ckpt {folder} --overwrite`"
    )


def _verify_manifest(folder: Path) -> str:
    """Check that ``manifest.json`` lists exactly the files present with their sha256.

    Returns:
        The sha256 of ``manifest.json`` (the bundle's fingerprint).
    """
    links = _links_in(folder)
    if links:
        raise BundleError(f"{folder}: {links[0]} is a symbolic link; a bundle holds plain files only")
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"{folder}: no {MANIFEST_FILE} with the sha256 of its files; the bundle was written by an "
            f"older affect-zoo (bundle format 1) or is not a bundle. Its files cannot be checked, so it "
            f"is not loaded; {_reexport_hint(folder)}"
        )
    manifest = _read_json(path, "the bundle's file list")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BundleError(f"{path}: 'format' is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if manifest.get("algorithm") != "sha256":
        raise BundleError(f"{path}: 'algorithm' is {manifest.get('algorithm')!r}, expected 'sha256'")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{path}: 'files' must be a non-empty object of file name -> sha256")
    for name, digest in files.items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or name == MANIFEST_FILE or not parts:
            raise BundleError(f"{path}: 'files' names {name!r}; expected a file inside the bundle")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise BundleError(f"{path}: 'files'.{name!r} must be a sha256 hex digest, got {digest!r}")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST_FILE}
    for name in sorted(set(files) - present):
        raise BundleError(f"{folder}: missing file {name} (listed in {MANIFEST_FILE})")
    for name in sorted(present - set(files)):
        raise BundleError(
            f"{folder}: holds {name}, which {MANIFEST_FILE} does not list; a bundle holds only the "
            f"files it was exported with. Remove it, or {_reexport_hint(folder)}"
        )
    for name in required_files():
        if name not in files:
            raise BundleError(f"{path}: 'files' lacks {name}, a file every bundle has")
    for name, digest in sorted(files.items()):
        if _sha256_file(folder / name) != digest:
            raise BundleError(
                f"{folder / name}: sha256 differs from the one in {MANIFEST_FILE}; the file was changed "
                f"after export. Refusing to load the bundle; {_reexport_hint(folder)}"
            )
    return _sha256_file(path)


def required_files() -> tuple[str, ...]:
    """Files every bundle holds besides ``manifest.json``."""
    return (WEIGHTS_FILE, CONFIG_FILE)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _validate_config(config: Mapping[str, Any], path: Path) -> None:
    """Check every field of a bundle config; the error names the field and what was expected."""

    def fail(field: str, expected: str, got: Any) -> None:
        shown = json.dumps(got)[:120] if not isinstance(got, str) else repr(got)
        raise BundleError(f"{path}: field {field!r}: expected {expected}, got {shown}")

    if config.get("format") != BUNDLE_FORMAT:
        fail("format", repr(BUNDLE_FORMAT), config.get("format"))
    for key, kind in _REQUIRED_KEYS.items():
        if key not in config:
            raise BundleError(f"{path}: missing key {key!r}")
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise BundleError(f"{path}: key {key!r} has the wrong type {type(config[key]).__name__}")
    version = config["format_version"]
    if version > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version} is newer than this "
            f"affect-zoo reads ({BUNDLE_FORMAT_VERSION}); upgrade affect-zoo"
        )
    if version < BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version} is older than {BUNDLE_FORMAT_VERSION} "
            f"(no file checksums); {_reexport_hint(path.parent)}"
        )
    from zoo.models.registry import list_models

    registered = list_models()
    if config["architecture"] not in registered:
        raise BundleError(
            f"{path}: unknown architecture {config['architecture']!r}; registered: {', '.join(registered)}"
        )
    if not all(isinstance(k, str) for k in config["model_args"]):
        fail("model_args", "an object with string keys", config["model_args"])
    names = config["feature_names"]
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        fail("feature_names", "a non-empty list of distinct feature set names", names)
    dims = config["feature_dims"]
    if set(dims) != set(names):
        fail("feature_dims", f"one entry per feature set {names}", dims)
    for name, dim in dims.items():
        if not _positive_int(dim) and not (isinstance(dim, list) and dim and all(map(_positive_int, dim))):
            fail(f"feature_dims.{name}", "a positive integer (or an image set's shape: positive integers)", dim)
    targets = config["target_names"]
    if not targets or not all(isinstance(t, str) and t for t in targets) or len(set(targets)) != len(targets):
        fail("target_names", "a non-empty list of distinct target names", targets)
    if config.get("level", "frame") not in ("frame", "segment"):
        fail("level", "'frame' or 'segment'", config.get("level"))
    if config.get("level") == "segment":  # one label per segment (CMU-MOSEI): no label step
        if config["label_step"] != 0:
            fail("label_step", "0 for a segment-level bundle (one label per segment)", config["label_step"])
    elif not finite_number(config["label_step"]) or config["label_step"] <= 0:
        fail("label_step", "a finite number of seconds > 0", config["label_step"])
    check_spec_numbers(config, names, dims, fail)
    post = config.get("postprocess")
    if post is not None:
        if not isinstance(post, dict) or not isinstance(post.get("targets"), dict):
            fail("postprocess", "null or an object with 'label_step' and 'targets'", post)
        unknown = [t for t in post["targets"] if t not in targets]
        if unknown:
            fail("postprocess.targets", f"targets among {targets}", unknown)
        if not finite_number(post.get("label_step")) or abs(post["label_step"] - config["label_step"]) > 1e-9:
            fail("postprocess.label_step", f"the bundle's label_step {config['label_step']}", post.get("label_step"))
    state = config.get("reader_state")
    if state is not None:
        from zoo.hub.checkpoint_io import CheckpointError, merge_reader_state

        try:
            merge_reader_state({}, state, str(path))
        except CheckpointError as err:
            raise BundleError(str(err)) from None
    for key in ("datamodule", "corpus", "corpus_root"):
        if config.get(key) is not None and not isinstance(config[key], str):
            fail(key, "a string or null", config[key])
    if config.get("datamodule") is not None:
        from zoo.data import list_corpora

        corpora = list_corpora(include_derived=True)
        if config["datamodule"] not in corpora:
            fail("datamodule", f"a registered corpus ({', '.join(corpora)})", config["datamodule"])
    backbones = config.get("backbone_weights") or []
    if not isinstance(backbones, list) or not all(isinstance(b, dict) for b in backbones):
        fail("backbone_weights", "a list of objects", backbones)
    extractors = config.get("feature_extractors", {})  # absent: exported before it was recorded
    if not isinstance(extractors, dict) or ("feature_extractors" in config and set(extractors) != set(names)):
        fail("feature_extractors", f"an object with one entry per feature set {names}", extractors)
    for name, entry in extractors.items():
        where = f"feature_extractors.{name}"
        if entry is None:
            continue  # no registered extractor made this set
        if not isinstance(entry, dict):
            fail(where, "null or an object with 'extractor', 'hop', 'win', 'options', 'weights_sha256'", entry)
        if not isinstance(entry.get("extractor"), str) or not entry["extractor"]:
            fail(f"{where}.extractor", "an extractor name", entry.get("extractor"))
        if not finite_number(entry.get("hop")) or entry["hop"] <= 0:
            fail(f"{where}.hop", "a finite number of seconds > 0", entry.get("hop"))
        if entry.get("win") is not None and (not finite_number(entry["win"]) or entry["win"] <= 0):
            fail(f"{where}.win", "null or a finite number of seconds > 0", entry["win"])
        if not isinstance(entry.get("options", {}), dict):
            fail(f"{where}.options", "an object of extractor options", entry.get("options"))
        for key in ("weights", "source"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                fail(f"{where}.{key}", "a string or null", entry[key])
        digest = entry.get("weights_sha256")
        if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            fail(f"{where}.weights_sha256", "null or a sha256 hex digest", digest)
    from zoo.hub.sliding_window import validate_sliding_window

    validate_sliding_window(config, fail)


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    config = _read_json(path, "not an affect-zoo bundle")
    _validate_config(config, path)
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
            f"{path}: not a safetensors file ({err}).{_sniff(path)} It was not loaded; bundles never unpickle weights."
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


def load_bundle(path: str | Path, map_location: str | torch.device = "cpu", allow_download: bool = False) -> Any:
    """Load a bundle written by :func:`export_bundle` as an eval-mode ``PretrainedModel``.

    Args:
        path: the bundle folder, or a Hugging Face repository id ``org/name`` holding one
            (read from the Hugging Face cache; see :func:`zoo.hub.huggingface.resolve_pretrained`).
        map_location: device to put the weights on.
        allow_download: fetch ``org/name`` from the Hub when the cache lacks it.

    Raises:
        BundleError: missing file, malformed JSON, unknown architecture, tensors with the wrong
            names or shapes, a pickle payload, or weights not matching their recorded sha256.
    """
    from zoo.hub.checkpoint_io import build_model
    from zoo.hub.huggingface import resolve_pretrained
    from zoo.hub.inference import PretrainedModel
    from zoo.models.registry import building_from_checkpoint
    from zoo.training.postprocess import PostProcessor

    folder = resolve_pretrained(path, allow_download=allow_download)
    if not folder.is_dir():
        raise BundleError(f"{folder}: not a bundle folder")
    _refuse_pickles(folder)
    fingerprint = _verify_manifest(folder)
    config = _read_config(folder)
    architecture = config["architecture"]
    weights_path = folder / WEIGHTS_FILE
    tensors = _open_weights(weights_path)

    def bad_weight(name: str, expected: str, found: Any) -> NoReturn:
        raise BundleError(f"{weights_path}: tensor {name!r}: expected {expected}, found {found}; refusing to load")

    check_finite_weights(tensors, bad_weight)
    try:
        with building_from_checkpoint():  # the bundle's weights replace any initial weights
            net = build_model(
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
            f"{weights_path}: tensors do not match {architecture!r}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise BundleError(
                f"{weights_path}: tensor {name!r} has shape {tuple(tensor.shape)}, but "
                f"{architecture!r} with the bundle's config expects {tuple(expected[name].shape)}"
            )
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
    # the bundle's data fields as a DataSpec (bundles written before it had no level/reader_info)
    try:
        spec = DataSpec.from_dict(
            {key: config[key] for key in DataSpec.__dataclass_fields__ if config.get(key) is not None},
            str(folder / CONFIG_FILE),
        ).to_dict()
    except (DataSpecError, TypeError) as err:
        raise BundleError(str(err)) from None
    model = PretrainedModel(net, spec, recipe, postprocessor)
    model.bundle_config = config
    model.bundle_sha256 = fingerprint
    return model.to(map_location)


def push_to_hub(
    bundle_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None, api: Any = None
) -> str:
    """Upload a bundle folder to ``repo_id`` (created if missing); returns the commit URL.

    The folder is loaded first (manifest, config and weights verified), so a damaged bundle is
    never published; only the bundle's own files are sent.

    Raises:
        HubError: ``repo_id`` is not ``org/name``; the bundle does not load (the reason); or the
            upload failed (no network, ``HF_HUB_OFFLINE=1``, no token, ...), saying the bundle is
            on disk.
    """
    from zoo.hub.huggingface import BUNDLE_PATTERNS, HubError, is_repo_name, upload_failure

    if not is_repo_name(repo_id):
        raise HubError(f"--push-to-hub: expected a repository id org/name, got {repo_id!r}")
    folder = Path(bundle_dir).expanduser()
    try:
        load_bundle(folder)
    except Exception as err:
        raise HubError(f"{folder}: not pushed, the bundle does not load: {err}") from None
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    try:
        api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="model",
            allow_patterns=BUNDLE_PATTERNS,
            commit_message=f"affect-zoo bundle {folder.name}",
        )
    except Exception as err:  # no network, offline mode, no token, refused: one line, the bundle stays
        raise upload_failure(err, repo_id, folder) from None
    return str(getattr(commit, "commit_url", commit))
