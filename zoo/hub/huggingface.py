"""Bundles as Hugging Face model repositories: card metadata, resolving ``org/name``, pushing.

A bundle folder (``zoo export``) is already laid out as a model repository: ``config.json``,
``model.safetensors`` and a ``README.md`` model card. This module adds what the Hub reads:

* :func:`card_metadata` — the card's YAML front matter (``library_name``, ``tags``, ``datasets``,
  ``license`` and a ``model-index`` with the CCC the run reached on which partition), built with
  ``huggingface_hub.ModelCardData``/``EvalResult`` so that the Hub's own parser accepts it;
* :func:`resolve_pretrained` — ``zoo.load_pretrained("org/name")``: the bundle's files from the
  Hugging Face cache (``huggingface_hub.snapshot_download``), downloading only when the caller
  allows it; ``HF_HUB_OFFLINE=1`` is honoured by the library. Only the bundle's own files are
  fetched (never a pickle-capable file), and the folder is then loaded like any local bundle;
* :func:`zoo.hub.bundle.push_to_hub` — ``zoo export CKPT OUT --push-to-hub org/name``: the verified bundle folder
  uploaded with ``HfApi.upload_folder``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "HubError",
    "BUNDLE_PATTERNS",
    "is_repo_id",
    "is_repo_name",
    "card_metadata",
    "card_with_metadata",
    "resolve_pretrained",
    "offline_mode",
    "upload_failure",
]

#: the files a bundle consists of; the only ones fetched from or sent to the Hub
BUNDLE_PATTERNS = ["config.json", "model.safetensors", "README.md", "recipe.yaml", "manifest.json"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_METRIC = re.compile(r"^(val|test)/(\w+?)_(.+)$")
_SPLITS = {"val": "validation", "test": "test"}


class HubError(ValueError):
    """A Hub reference cannot be resolved or a bundle cannot be pushed; the message says why."""


def is_repo_name(text: str) -> bool:
    """Whether ``text`` has the form ``org/name`` of a Hub repository id (whatever exists locally)."""
    return bool(_REPO_ID.match(str(text)))


def is_repo_id(ref: str | Path) -> bool:
    """``org/name`` that is not an existing local path."""
    text = str(ref)
    return bool(_REPO_ID.match(text)) and not Path(text).expanduser().exists()


_TRUE = ("1", "ON", "YES", "TRUE")


def offline_mode() -> str | None:
    """What forbids the Hugging Face libraries any network access (``"HF_HUB_OFFLINE=1"``), or None."""
    import os

    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(name, "").strip()
        if value.upper() in _TRUE:
            return f"{name}={value}"
    return "the Hugging Face offline mode" if constants.HF_HUB_OFFLINE else None


def _default_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _first_line(err: BaseException, limit: int = 240) -> str:
    text = " ".join((str(err).splitlines() or [type(err).__name__])[0].split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def upload_failure(err: BaseException, repo_id: str, folder: Path) -> HubError:
    """The one-line error of a failed upload: why, and that the bundle is on disk."""
    if offline_mode():
        why = f"{offline_mode()} is set, which forbids network access"
    elif type(err).__name__ == "LocalTokenNotFoundError":
        why = "not logged in (run `hf auth login` or set HF_TOKEN)"
    else:
        why = f"{type(err).__name__}: {_first_line(err)}"
    return HubError(
        f"upload to https://huggingface.co/{repo_id} failed ({why}); the bundle is on disk at {folder} "
        f"(upload it later with `hf upload {repo_id} {folder}`)"
    )


def card_metadata(config: Mapping[str, Any], results: Mapping[str, float] | None) -> Any:
    """The model card's metadata (``huggingface_hub.ModelCardData``) of a bundle config.

    ``model-index`` holds one result per ``<stage>/<metric>_<target>`` figure of the run (val as
    the ``validation`` split, test as ``test``); the dataset is the bundle's corpus, marked
    *synthetic* when the run read the built-in synthetic corpus.
    """
    from huggingface_hub import EvalResult, ModelCardData

    corpus = str(config.get("corpus") or "unknown")
    synthetic = config.get("corpus_root") is None
    dataset_name = f"{corpus} (synthetic, affect-zoo)" if synthetic else corpus
    architecture = str(config["architecture"])
    eval_results = []
    for key, value in sorted((results or {}).items()):
        match = _METRIC.match(key)
        if not match or key.endswith("_std") or not isinstance(value, (int, float)):
            continue
        stage, metric, target = match.groups()
        eval_results.append(
            EvalResult(
                task_type="continuous-emotion-recognition",
                task_name="Continuous emotion recognition",
                dataset_type=corpus,
                dataset_name=dataset_name,
                dataset_split=_SPLITS[stage],
                metric_type=metric,
                metric_name=f"{metric.upper()} {target} ({_SPLITS[stage]})",
                metric_value=float(value),
            )
        )
    return ModelCardData(
        library_name="affect-zoo",
        license="other",  # the weights fall under the training corpus's licence (see the card)
        tags=["affect-zoo", "emotion-recognition", "continuous-emotion-recognition", "regression", architecture, corpus]
        + [f"target:{t}" for t in config.get("target_names", [])],
        datasets=[corpus],
        model_name=f"{architecture}-{corpus}",
        eval_results=eval_results or None,
    )


def card_with_metadata(card_text: str, config: Mapping[str, Any], results: Mapping[str, float] | None) -> str:
    """``README.md`` text with the YAML front matter of :func:`card_metadata` prepended."""
    from huggingface_hub import ModelCard

    metadata = card_metadata(config, results).to_yaml()
    text = f"---\n{metadata}\n---\n\n{card_text}"
    ModelCard(text)  # the Hub's own parser: raises if the front matter is not what it accepts
    return text


def resolve_pretrained(
    ref: str | Path, allow_download: bool = False, cache_dir: str | Path | None = None, revision: str | None = None
) -> Path:
    """A local path for ``ref``: a folder or ``.ckpt`` as given, or ``org/name`` from the Hub cache.

    Args:
        ref: a bundle folder, a checkpoint, or a Hub repository id ``org/name``.
        allow_download: fetch ``org/name`` from the Hub when the cache lacks it (default: never).
        cache_dir: the Hugging Face cache (default: the library's, ``HF_HUB_CACHE``).
        revision: a branch, tag or commit of the repository.

    Raises:
        HubError: ``org/name`` is not in the cache and downloading is not allowed (or the Hub
            cannot be reached), naming the repository and how to allow the download.
    """
    if not is_repo_id(ref):
        return Path(ref).expanduser()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            repo_id=str(ref),
            revision=revision,
            cache_dir=cache_dir,
            allow_patterns=BUNDLE_PATTERNS,
            local_files_only=not allow_download,
        )
    except LocalEntryNotFoundError as err:
        where = cache_dir or _default_cache()
        if not allow_download:
            hint = (
                f"it is not in the Hugging Face cache ({where}) and downloading was not allowed: add "
                "--allow-download (zoo predict, zoo evaluate) or pass allow_download=True, or copy the "
                "cache from a machine that has it"
            )
        elif offline_mode():
            hint = (
                f"it is not in the Hugging Face cache ({where}), and {offline_mode()} is set, which forbids downloads"
            )
        else:
            hint = f"it is not in the Hugging Face cache ({where}) and could not be downloaded: {_first_line(err)}"
        raise HubError(f"{ref}: no such local folder or file; as a Hugging Face id, {hint}") from None
    except Exception as err:  # repository not found, gated, network errors
        raise HubError(f"{ref}: cannot fetch it from the Hugging Face Hub: {_first_line(err)}") from None
    path = Path(folder)
    if not (path / "config.json").is_file():
        raise HubError(f"{ref}: the repository has no config.json; it is not an affect-zoo bundle")
    return path
