"""``zoo import``: public pretrained dimensional emotion models as affect-zoo bundles.

Each importer reads a published model's files as their authors distribute them, maps their
tensors onto a registered network of this zoo, and writes a bundle (:func:`zoo.hub.bundle.write_bundle`)
that every command takes like a bundle of ``zoo export``: ``zoo predict BUNDLE my.wav --step 0.25
--window 2`` (sliding windows, :mod:`zoo.hub.sliding_window`), ``zoo evaluate BUNDLE --corpus recola``,
``zoo.load_pretrained(BUNDLE)``.

Weights are only read from formats that cannot run code: safetensors, a tensors-only state dict
through ``torch.load(weights_only=True)``, ONNX initialisers through the ``onnx`` package. The
source is a local folder/file or a Hugging Face repository in the local Hugging Face cache;
nothing is downloaded unless ``allow_download=True`` (``HF_HUB_OFFLINE=1`` forbids it anyway).

Importers (:data:`IMPORTERS`):

* ``audeering-msp-dim`` — ``audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim`` (Wagner et
  al. 2023; :mod:`zoo.models.wagner2023`). Files: ``config.json`` (``model_type`` wav2vec2,
  ``id2label`` arousal/dominance/valence), ``preprocessor_config.json`` (``do_normalize``,
  ``sampling_rate`` 16000), ``model.safetensors`` or ``pytorch_model.bin`` with the tensors
  ``wav2vec2.*`` (the encoder), ``classifier.dense.*`` and ``classifier.out_proj.*`` (the head).
  Licence CC BY-NC-SA 4.0 (research, non-commercial).
* ``hsemotion-va`` — HSEmotion's ``enet_b0_8_va_mtl.onnx`` (Savchenko 2022; :mod:`zoo.models.savchenko2022`):
  an ONNX file exported by ``torch.onnx.export`` (opset 11, input ``(batch, 3, 224, 224)``,
  output ``(batch, 10)``: 8 expression logits, valence, arousal); its graph runs as
  :class:`zoo.layers.onnx_graph.OnnxGraph`. Code and models Apache-2.0; trained on AffectNet.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zoo.hub.bundle import _sha256_file as _sha256

__all__ = ["IMPORTERS", "ImportError_", "Importer", "import_pretrained", "read_state_dict"]

AUDEERING_REPO = "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim"
_W2V2_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class ImportError_(ValueError):  # noqa: N801 - ImportError is a builtin
    """A source that cannot be imported; the message names the file, tensor or field."""


@dataclass(frozen=True)
class Importer:
    """One importable public model.

    Attributes:
        name: the ``zoo import`` sub-command argument.
        description: one line for ``zoo import --help``.
        default_source: where it is looked up when no source is given (a Hub id or ``None``).
        licence: the licence of the weights, repeated in the bundle's card and config.
        run: ``run(source, out_dir, step, window, allow_download, overwrite) -> Path``.
    """

    name: str
    description: str
    default_source: str | None
    licence: str
    run: Callable[..., Path]


# --------------------------------------------------------------------------- reading
def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ImportError_(f"{path}: not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImportError_(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ImportError_(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a tensors-only ``torch.save`` state dict read with
    ``torch.load(weights_only=True)`` (no pickled code is ever run).

    Raises:
        ImportError_: unreadable file, not a mapping of names to tensors.
    """
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError, RuntimeError) as err:
            raise ImportError_(f"{path}: not a readable safetensors file ({err})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError, RuntimeError, zip errors, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImportError_(
            f"{path}: cannot be read as a tensors-only state dict with torch.load(weights_only=True) "
            f"({first}); nothing else is ever unpickled"
        ) from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImportError_(f"{path}: expected a state dict (tensor name -> tensor), got {type(state).__name__}")
    return dict(state)


def _hub_files(repo: str, names: list[tuple[str, ...]], allow_download: bool, revision: str | None) -> list[Path]:
    """One file per group of ``names`` (the first available of each group) from the Hugging Face
    cache, downloaded only when ``allow_download``.

    Raises:
        ImportError_: a file absent from the cache (and downloading not allowed) or from the repository.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    found = []
    for group in names:
        path = None
        for name in group:
            try:
                path = hf_hub_download(repo, name, revision=revision, local_files_only=not allow_download)
                break
            except (LocalEntryNotFoundError, EntryNotFoundError):
                continue
            except Exception as err:  # noqa: BLE001 - repository not found, gated, network errors
                raise ImportError_(f"{repo}: cannot fetch {name}: {str(err).splitlines()[0]}") from None
        if path is None:
            hint = (
                "not in the Hugging Face cache, and downloading was not allowed: pass --allow-download "
                "(allow_download=True), or give a local folder holding the files"
                if not allow_download
                else "not in the repository, or it could not be downloaded (HF_HUB_OFFLINE=1 forbids downloads)"
            )
            raise ImportError_(f"{repo}: {' or '.join(group)}: {hint}")
        found.append(Path(path))
    return found


def _source_files(
    source: str | Path, groups: list[tuple[str, ...]], allow_download: bool, revision: str | None
) -> list[Path]:
    """The files of ``groups`` from a local folder, else from the Hub repository ``source``."""
    from zoo.hub.huggingface import is_repo_id

    if is_repo_id(str(source)):
        return _hub_files(str(source), groups, allow_download, revision)
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise ImportError_(f"{folder}: not a folder (give the model's folder or its Hugging Face id org/name)")
    out = []
    for group in groups:
        present = [folder / n for n in group if (folder / n).is_file()]
        if not present:
            raise ImportError_(f"{folder}: holds none of {', '.join(group)}")
        out.append(present[0])
    return out


# --------------------------------------------------------------------------- bundles
def _card(title: str, licence: str, spdx: str, lines: list[str], tags: list[str]) -> str:
    """Model card with the Hub's front matter (its own parser checks it)."""
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(library_name="affect-zoo", license=spdx, tags=["affect-zoo", "emotion-recognition", *tags])
    text = f"---\n{data.to_yaml()}\n---\n\n# {title}\n\n" + "\n".join(lines) + f"\n\n## Licence\n\n{licence}\n"
    ModelCard(text)
    return text


def _bundle_config(
    architecture: str,
    paper: str,
    model_args: Mapping[str, Any],
    feature: str,
    dim: int,
    extractor: Mapping[str, Any],
    targets: list[str],
    step: float,
    window: float,
    imported: Mapping[str, Any],
) -> dict[str, Any]:
    from zoo._version import __version__
    from zoo.hub.bundle import BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION
    from zoo.hub.sliding_window import SLIDING_KEY

    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "zoo_version": __version__,
        "architecture": architecture,
        "paper": paper,
        "model_args": dict(model_args),
        "datamodule": None,
        "corpus": None,
        "level": "frame",
        "corpus_root": None,
        "feature_names": [feature],
        "feature_dims": {feature: int(dim)},
        "target_names": list(targets),
        "label_step": float(step),
        "label_shift": 0.0,
        "feature_delay": {},
        "normalization": None,
        "reader_state": None,
        "reader_info": {},
        "postprocess": None,
        "backbone_weights": [],
        "feature_extractors": {
            feature: {"weights": None, "weights_sha256": None, "win": None, "options": {}, **extractor, "hop": step}
        },
        SLIDING_KEY: {"step": float(step), "window": float(window)},
        "imported": dict(imported),
        "results": None,
    }


def _load_strict(net: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: Path) -> None:
    """``net.load_state_dict(tensors)`` with errors naming the tensor and both shapes."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise ImportError_(
            f"{source}: tensors do not match the architecture its config describes: missing "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ImportError_(
                f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, the config implies {tuple(expected[name].shape)}"
            )
    net.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)


def _check_step_window(step: float, window: float) -> None:
    for name, value in (("--step", step), ("--window", window)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ImportError_(f"{name} must be a number of seconds > 0, got {value!r}")


# --------------------------------------------------------------------------- audeering
#: weight-norm tensor names of ``transformers`` before 4.38 (``weight_g``/``weight_v``) -> today's
_WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


def _encoder_name(key: str, expected: Mapping[str, Any]) -> str:
    """A checkpoint's encoder tensor name in the naming of the installed ``transformers``."""
    if key in expected:
        return key
    head, _, last = key.rpartition(".")
    if last in _WEIGHT_NORM and f"{head}.{_WEIGHT_NORM[last]}" in expected:
        return f"{head}.{_WEIGHT_NORM[last]}"
    for new, old in _WEIGHT_NORM.items():  # a newer file read by an older transformers
        if key.endswith(old) and key[: -len(old)] + new in expected:
            return key[: -len(old)] + new
    return key


def import_audeering_msp_dim(
    source: str | Path | None,
    out_dir: str | Path,
    step: float = 0.25,
    window: float = 2.0,
    allow_download: bool = False,
    overwrite: bool = False,
    revision: str | None = None,
) -> Path:
    """Import ``audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim`` as a sliding-window bundle.

    Args:
        source: the model's folder, or its Hub id (default :data:`AUDEERING_REPO`, from the cache).
        out_dir: the bundle folder to write.
        step: default label step of the bundle's predictions (seconds).
        window: default seconds of audio per prediction.
        allow_download: fetch missing files from the Hugging Face Hub.
        overwrite: replace an earlier bundle in ``out_dir``.
        revision: a branch, tag or commit of the Hub repository.

    Raises:
        ImportError_: a missing or malformed file, unexpected tensors or shapes.
    """
    from zoo.data.raw_audio import SAMPLE_RATE
    from zoo.hub.bundle import write_bundle
    from zoo.models.wagner2023 import PAPER, SlidingWindowW2V2

    _check_step_window(step, window)
    source = source or AUDEERING_REPO
    config_path, pre_path, weights_path = _source_files(
        source, [("config.json",), ("preprocessor_config.json",), _W2V2_WEIGHTS], allow_download, revision
    )
    config = _read_json(config_path)
    if config.get("model_type") != "wav2vec2":
        raise ImportError_(f"{config_path}: 'model_type' is {config.get('model_type')!r}, expected 'wav2vec2'")
    labels = config.get("id2label")
    if not isinstance(labels, dict) or not labels:
        raise ImportError_(f"{config_path}: 'id2label' must name the outputs (e.g. 0: arousal), got {labels!r}")
    try:
        targets = [str(labels[k]).strip().lower() for k in sorted(labels, key=int)]
    except ValueError:
        raise ImportError_(f"{config_path}: 'id2label' keys must be output indices, got {sorted(labels)}") from None
    if len(set(targets)) != len(targets) or not all(targets):
        raise ImportError_(f"{config_path}: 'id2label' names must be distinct and non-empty, got {targets}")
    pre = _read_json(pre_path)
    if int(pre.get("sampling_rate", SAMPLE_RATE)) != SAMPLE_RATE:
        raise ImportError_(f"{pre_path}: 'sampling_rate' is {pre.get('sampling_rate')}, expected {SAMPLE_RATE}")
    do_normalize = bool(pre.get("do_normalize", True))

    tensors = read_state_dict(weights_path)
    frame = int(round(step * SAMPLE_RATE))
    try:
        net = SlidingWindowW2V2(
            {"audio": frame}, len(targets), encoder_config=config, window=window, normalize_waveform=do_normalize
        )
    except Exception as err:  # noqa: BLE001 - transformers raises many types for bad configs
        raise ImportError_(f"{config_path}: cannot build wav2vec 2.0 from it ({err})") from None
    expected = net.encoder.state_dict()
    mapped, foreign = {}, []
    for key, tensor in tensors.items():
        if key.startswith("wav2vec2."):
            mapped["encoder." + _encoder_name(key[len("wav2vec2.") :], expected)] = tensor
        elif key.startswith(("classifier.dense.", "classifier.out_proj.")):
            mapped["head." + key[len("classifier.") :]] = tensor
        else:
            foreign.append(key)
    if foreign:
        raise ImportError_(
            f"{weights_path}: tensors {foreign[:5]} are neither the encoder (wav2vec2.*) nor the "
            "regression head (classifier.dense.*, classifier.out_proj.*) of the model card"
        )
    _load_strict(net, mapped, weights_path)
    files = {p.name: _sha256(p) for p in (config_path, pre_path, weights_path)}
    licence = (
        "CC BY-NC-SA 4.0 (audEERING; research, non-commercial use; a commercial licence is sold by "
        "audEERING). The weights were fine-tuned on MSP-Podcast v1.7, whose licence also applies."
    )
    bundle_config = _bundle_config(
        "wagner2023_msp_dim",
        PAPER,
        {
            "encoder_config": config,
            "window": float(window),
            "normalize_waveform": do_normalize,
            "audio_feature": "audio",
        },
        "audio",
        frame,
        {"extractor": "waveform", "source": "zoo import audeering-msp-dim: the 16 kHz waveform"},
        targets,
        step,
        window,
        {
            "importer": "audeering-msp-dim",
            "source": str(source),
            "files": files,
            "licence": licence,
            "training_data": "MSP-Podcast v1.7",
        },
    )
    card = _card(
        "audEERING wav2vec 2.0 MSP-Podcast dimensional model — affect-zoo bundle",
        licence,
        "cc-by-nc-sa-4.0",
        [
            f"- **Paper**: {PAPER}",
            f"- **Source**: `{source}` (files and sha256 in `config.json` `imported`)",
            f"- **Targets**: {', '.join(targets)} (roughly 0 to 1)",
            f"- **Input**: 16 kHz audio; one prediction every {step:g} s from the {window:g} s around it",
            "- **Use**: `zoo predict THIS_FOLDER my.wav --step 0.25 --window 2 --plot`",
        ],
        ["wav2vec2", "msp-podcast", *[f"target:{t}" for t in targets]],
    )
    recipe = {"model": {"name": "wagner2023_msp_dim"}, "data": {"name": None, "args": {}}}
    state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    return write_bundle(Path(out_dir), state, bundle_config, recipe, card, overwrite)


# --------------------------------------------------------------------------- HSEmotion
HSEMOTION_FILE = "enet_b0_8_va_mtl.onnx"


def import_hsemotion_va(
    source: str | Path | None,
    out_dir: str | Path,
    step: float = 0.25,
    window: float = 2.0,
    allow_download: bool = False,
    overwrite: bool = False,
) -> Path:
    """Import HSEmotion's valence/arousal face model (ONNX) as a sliding-window bundle.

    Args:
        source: the ``.onnx`` file (e.g. ``enet_b0_8_va_mtl.onnx``) or a folder holding
            :data:`HSEMOTION_FILE`. The file is not on the Hugging Face Hub: download it from the
            HSEmotion repository (``models/affectnet_emotions/onnx/``) yourself.
        out_dir: the bundle folder to write.
        step: default label step (seconds).
        window: default seconds over which per-frame predictions are averaged.
        allow_download: not used (nothing is downloaded for this model); kept for one signature.
        overwrite: replace an earlier bundle in ``out_dir``.

    Raises:
        ImportError_: no such file, an unsupported operator, not a multi-task (expressions +
            valence + arousal) model.
    """
    from zoo.hub.bundle import write_bundle
    from zoo.layers.onnx_graph import OnnxGraph, OnnxGraphError, graph_from_onnx, graph_input_shape
    from zoo.models.savchenko2022 import PAPER, FaceWindowVA

    _check_step_window(step, window)
    if source is None:
        raise ImportError_(
            f"give the path of {HSEMOTION_FILE} (HSEmotion repository, models/affectnet_emotions/onnx/; "
            "it is not on the Hugging Face Hub, so nothing is downloaded)"
        )
    path = Path(source).expanduser()
    path = path / HSEMOTION_FILE if path.is_dir() else path
    if not path.is_file():
        raise ImportError_(f"{path}: not found")
    try:
        graph, tensors = graph_from_onnx(path)
        shape = graph_input_shape(path)
    except OnnxGraphError as err:
        raise ImportError_(str(err)) from None
    if len(shape) != 4 or shape[1] != 3 or not isinstance(shape[2], int) or shape[2] != shape[3]:
        raise ImportError_(f"{path}: input shape {shape}; expected (batch, 3, S, S) face crops")
    size = int(shape[2])
    probe = OnnxGraph(graph)
    probe.load_state_dict({probe.slots[k]: v.float() for k, v in tensors.items()})
    with torch.no_grad():
        width = probe.eval()(torch.zeros(1, 3, size, size)).shape[-1]
    if width not in (9, 10):
        raise ImportError_(
            f"{path}: {width} outputs; a multi-task HSEmotion model has 7 or 8 expression logits followed "
            "by valence and arousal (the *_va_mtl models)"
        )
    targets, index = ["valence", "arousal"], [width - 2, width - 1]
    args = {"graph": graph, "output_index": index, "image_size": size, "window": float(window), "step": float(step)}
    dim = size * size * 3 + 1
    net = FaceWindowVA({"face": dim}, 2, **args)
    _load_strict(net, {f"net.{net.net.slots[k]}": v for k, v in tensors.items()}, path)
    licence = (
        "HSEmotion code and models: Apache-2.0 (HSEmotion repository). The weights were trained on "
        "AffectNet (academic, non-commercial licence) after VGGFace2 pre-training; check both before use."
    )
    config = _bundle_config(
        "savchenko2022_va",
        PAPER,
        args,
        "face",
        dim,
        {"extractor": "face_crops", "options": {"size": size}, "source": "zoo import hsemotion-va: face crops"},
        targets,
        step,
        window,
        {
            "importer": "hsemotion-va",
            "source": str(path),
            "files": {path.name: _sha256(path)},
            "licence": licence,
            "training_data": "AffectNet (VGGFace2 pre-training)",
        },
    )
    card = _card(
        "HSEmotion EfficientNet valence/arousal face model — affect-zoo bundle",
        licence,
        "apache-2.0",
        [
            f"- **Paper**: {PAPER}",
            f"- **Source**: `{path.name}` (sha256 in `config.json` `imported`)",
            "- **Targets**: valence, arousal (AffectNet scale, -1 to 1)",
            f"- **Input**: a video with `<id>.boxes.csv` face boxes; one prediction every {step:g} s, "
            f"averaged over {window:g} s",
            "- **Use**: `zoo predict THIS_FOLDER my.mp4 --step 0.25 --window 2 --plot`",
        ],
        ["efficientnet", "affectnet", "target:valence", "target:arousal"],
    )
    recipe = {"model": {"name": "savchenko2022_va"}, "data": {"name": None, "args": {}}}
    state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    return write_bundle(Path(out_dir), state, config, recipe, card, overwrite)


IMPORTERS: dict[str, Importer] = {
    "audeering-msp-dim": Importer(
        "audeering-msp-dim",
        "wav2vec 2.0 fine-tuned on MSP-Podcast (arousal, dominance, valence); Wagner et al. 2023",
        AUDEERING_REPO,
        "CC BY-NC-SA 4.0",
        import_audeering_msp_dim,
    ),
    "hsemotion-va": Importer(
        "hsemotion-va",
        "HSEmotion EfficientNet-B0 face model (ONNX; valence, arousal, AffectNet); Savchenko 2022",
        None,
        "Apache-2.0 (weights trained on AffectNet)",
        import_hsemotion_va,
    ),
}


def import_pretrained(name: str, source: str | Path | None, out_dir: str | Path, **options: Any) -> Path:
    """Run the importer ``name`` (a key of :data:`IMPORTERS`); see each importer for ``options``.

    Raises:
        ImportError_: unknown importer, or the importer's own errors.
    """
    if name not in IMPORTERS:
        raise ImportError_(f"unknown importer {name!r}; available: {', '.join(IMPORTERS)}")
    return IMPORTERS[name].run(source, out_dir, **options)


# --------------------------------------------------------------------------- command line
def add_arguments(parser: Any) -> None:
    """The arguments of ``zoo import``."""
    lines = [f"{name}: {imp.description} (licence {imp.licence})" for name, imp in IMPORTERS.items()]
    parser.description = "import a public pretrained model as an affect-zoo bundle:\n  " + "\n  ".join(lines)
    parser.add_argument("name", help=f"which model: {', '.join(IMPORTERS)}")
    parser.add_argument(
        "source",
        nargs="?",
        default=None,
        help="the model's local folder/file or its Hugging Face id (default: the importer's, read from "
        "the Hugging Face cache)",
    )
    parser.add_argument("out_dir", help="the bundle folder to write")
    parser.add_argument("--step", type=float, default=0.25, help="default seconds between predictions (0.25)")
    parser.add_argument("--window", type=float, default=2.0, help="default seconds of media per prediction (2)")
    parser.add_argument("--allow-download", action="store_true", help="fetch missing files from the Hub")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier bundle in OUT_DIR")


def run_import_cli(args: Any) -> dict[str, Any]:
    """``zoo import NAME [SOURCE] OUT_DIR``; returns ``{"exit_code", "run_dir"}``."""
    import sys

    from zoo.hub.bundle import bundle_fingerprint

    source, out_dir = args.source, args.out_dir
    try:
        bundle = import_pretrained(
            args.name,
            source,
            out_dir,
            step=args.step,
            window=args.window,
            allow_download=args.allow_download,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"zoo import: {' '.join(str(err).split())}", file=sys.stderr)
        return {"exit_code": 2}
    licence = IMPORTERS[args.name].licence
    print(f"bundle written to {bundle} (fingerprint sha256 {bundle_fingerprint(bundle)}; licence {licence})")
    return {"exit_code": 0, "run_dir": bundle}
