"""Self-supervised speech encoders (wav2vec 2.0, HuBERT, WavLM) over label-frame waveforms.

The encoders are ``transformers``' ``Wav2Vec2Model``, ``HubertModel`` and ``WavLMModel``, chosen
by the ``model_type`` of a local Hugging Face model folder (``config.json`` + ``model.safetensors``
or ``pytorch_model.bin``; ``preprocessor_config.json`` is read for ``do_normalize``) or by the
name of a built-in, randomly initialised *tiny* architecture (:data:`PRESETS`, for tests and the
synthetic corpora: no weights are downloaded at run time, ever).

:class:`SpeechEncoder` takes the datamodules' raw audio feature set — ``(B, T, S)``: ``S``
samples (16 kHz) per label frame, 640 for RECOLA's 40 ms, 1600 for SEWA's 100 ms, 4000 for
MuSe-CaR's 250 ms — joins each window's frames back into one waveform, runs the encoder over it
in chunks of at most ``max_chunk_seconds`` (self-attention over a whole 5-minute recording would
need gigabytes), and average-pools the encoder's 20 ms frames into the label frames
(:func:`frame_pooling_matrix`). The hidden states of all layers are kept, so that a learned
weighted sum of layers (Yang et al. 2021, SUPERB) or one chosen layer can be taken on top.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "ENCODER_TYPES",
    "PRESETS",
    "SAMPLE_RATE",
    "SpeechEncoder",
    "frame_pooling_matrix",
    "load_speech_encoder",
    "save_tiny_encoder",
    "layer_choice",
    "layer_range",
    "conv_geometry",
]

SAMPLE_RATE = 16000
#: ``config.json`` model_type → (config class, model class) in ``transformers``
ENCODER_TYPES: dict[str, tuple[str, str]] = {
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "hubert": ("HubertConfig", "HubertModel"),
    "wavlm": ("WavLMConfig", "WavLMModel"),
}
_TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "conv_dim": (32, 32, 32, 32, 32, 32, 32),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "mask_time_prob": 0.0,
    "layerdrop": 0.0,
}
#: built-in architectures, randomly initialised (the standard 7-layer convolutional front end, 32 channels wide,
#: 400-sample receptive field, 320-sample (20 ms) stride; a 3-layer, 64-wide transformer)
PRESETS: dict[str, dict[str, Any]] = {
    "wav2vec2-tiny": {"model_type": "wav2vec2", **_TINY},
    "hubert-tiny": {"model_type": "hubert", **_TINY},
    "wavlm-tiny": {"model_type": "wavlm", **_TINY, "num_buckets": 32, "max_bucket_distance": 200},
}
FREEZE_CHOICES = ("none", "feature_encoder", "all")
#: config keys that record provenance, not architecture (left out of :meth:`SpeechEncoder.weights_digest`)
_PROVENANCE_KEYS = frozenset({"transformers_version", "architectures", "torch_dtype", "dtype"})
_log = logging.getLogger(__name__)


def _classes(model_type: str, where: str) -> tuple[type, type]:
    import transformers

    if model_type not in ENCODER_TYPES:
        raise ValueError(
            f"{where}: model_type {model_type!r} is not a supported speech encoder; expected one of {list(ENCODER_TYPES)}"
        )
    config_name, model_name = ENCODER_TYPES[model_type]
    return getattr(transformers, config_name), getattr(transformers, model_name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _missing_folder_message(path: Path) -> str:
    return (
        f"model.args.encoder: {path} is not a folder. Give a local Hugging Face model folder "
        f"(config.json and {' or '.join(WEIGHT_FILES[::2])}), downloaded beforehand, e.g. "
        "`huggingface-cli download microsoft/wavlm-base-plus --local-dir /models/wavlm-base-plus` "
        f"(nothing is downloaded at run time), or one of the built-in random architectures {sorted(PRESETS)}"
    )


def load_speech_encoder(
    encoder: str | Path,
    overrides: Mapping[str, Any] | None = None,
    stored_config: Mapping[str, Any] | None = None,
    read_weights: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build a speech encoder.

    Args:
        encoder: a built-in preset name (:data:`PRESETS`, random weights, with a warning) or a
            local Hugging Face model folder.
        overrides: config values to change (e.g. ``{"layerdrop": 0.05, "mask_time_prob": 0.05}``);
            with a folder, only values that do not change the shapes of its weights.
        stored_config: a full config (``config.to_dict()``) as kept in a checkpoint: the encoder
            is built from it, its weights left to the checkpoint; nothing is read from disk.
        read_weights: ``False`` builds a folder's architecture without reading its weights (a
            checkpoint is about to supply them).

    Returns:
        ``(model, info)`` with ``info = {"source": ..., "do_normalize": bool or None}``.

    Raises:
        FileNotFoundError: no such folder, no ``config.json`` or no weights in it.
        ValueError: an unsupported ``model_type`` or an unreadable config.
    """
    overrides = dict(overrides or {})
    if stored_config is not None:
        config_dict = dict(stored_config)
        config_cls, model_cls = _classes(str(config_dict.get("model_type")), "model.args.encoder_config")
        try:
            config = config_cls.from_dict({k: v for k, v in config_dict.items() if k != "model_type"})
            model = model_cls(config)
        except Exception as err:  # noqa: BLE001 - a damaged checkpoint can fail in many ways
            raise ValueError(
                f"model.args.encoder_config of the checkpoint: cannot rebuild the encoder ({err})"
            ) from None
        return model, {"source": "checkpoint", "do_normalize": None}
    name = str(encoder)
    if name in PRESETS:
        preset = {**PRESETS[name], **overrides}
        config_cls, model_cls = _classes(preset.pop("model_type"), f"preset {name}")
        model = model_cls(config_cls(**preset))
        if read_weights:
            warnings.warn(
                f"speech encoder {name!r} is a built-in architecture with random weights (for tests and the "
                "synthetic corpora); point model.args.encoder at a downloaded checkpoint folder for real use",
                UserWarning,
                stacklevel=2,
            )
        return model, {"source": name, "do_normalize": True}
    path = Path(name).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(_missing_folder_message(path))
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"model.args.encoder: {config_file} not found (a Hugging Face model folder has one)")
    model_type = _read_json(config_file).get("model_type")
    config_cls, model_cls = _classes(str(model_type), str(config_file))
    weights = [path / f for f in WEIGHT_FILES if (path / f).is_file()]
    if not weights and read_weights:
        raise FileNotFoundError(f"model.args.encoder: no weights in {path} (expected one of {list(WEIGHT_FILES)})")
    preprocessor = path / "preprocessor_config.json"
    do_normalize = bool(_read_json(preprocessor).get("do_normalize", True)) if preprocessor.is_file() else True
    if read_weights:
        try:
            model = model_cls.from_pretrained(path, local_files_only=True, **overrides)
        except Exception as err:  # noqa: BLE001 - safetensors, torch and transformers raise their own types
            raise ValueError(f"model.args.encoder: cannot load the {model_type} weights of {path}: {err}") from None
    else:
        config = config_cls.from_pretrained(path, local_files_only=True, **overrides)
        model = model_cls(config)
    return model, {"source": str(path), "do_normalize": do_normalize}


def save_tiny_encoder(
    folder: str | Path, preset: str = "wavlm-tiny", seed: int = 0, do_normalize: bool = True, **overrides: Any
) -> Path:
    """Save a randomly initialised preset as a Hugging Face model folder (for tests and
    benchmarks: the layout a downloaded checkpoint has)."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model, _ = load_speech_encoder(preset, overrides)
    folder = Path(folder)
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"do_normalize": do_normalize, "sampling_rate": SAMPLE_RATE, "feature_size": 1}), encoding="utf-8"
    )
    return folder


def conv_geometry(config: Any) -> tuple[int, int]:
    """(receptive field, stride) in samples of an encoder's convolutional front end."""
    receptive, stride = 1, 1
    for kernel, step in zip(config.conv_kernel, config.conv_stride):
        receptive += (int(kernel) - 1) * stride
        stride *= int(step)
    return receptive, stride


@lru_cache(maxsize=64)
def _pooling(frames: int, frame_samples: int, encoder_frames: int, receptive: int, stride: int) -> np.ndarray:
    centres = np.arange(encoder_frames) * stride + (receptive - 1) / 2.0
    owner = np.floor(centres / frame_samples).astype(np.int64)
    matrix = np.zeros((frames, encoder_frames), np.float64)
    inside = (owner >= 0) & (owner < frames)
    matrix[owner[inside], np.flatnonzero(inside)] = 1.0
    empty = matrix.sum(1) == 0
    if empty.any() and encoder_frames:
        label_centres = (np.flatnonzero(empty) + 0.5) * frame_samples
        nearest = np.abs(label_centres[:, None] - centres[None, :]).argmin(1)
        matrix[np.flatnonzero(empty), nearest] = 1.0
    matrix /= np.maximum(matrix.sum(1, keepdims=True), 1.0)
    return matrix.astype(np.float32)


def frame_pooling_matrix(
    frames: int, frame_samples: int, encoder_frames: int, receptive: int, stride: int
) -> np.ndarray:
    """``(frames, encoder_frames)`` averaging weights from encoder frames to label frames.

    Encoder frame ``j`` covers samples ``[j·stride, j·stride + receptive)``; it belongs to the
    label frame that holds its centre sample. Each label frame is the mean of its frames; one
    that holds no frame centre (label steps shorter than the stride, or the window's last
    frame) takes the encoder frame whose centre is nearest to its own.
    """
    return _pooling(int(frames), int(frame_samples), int(encoder_frames), int(receptive), int(stride)).copy()


class SpeechEncoder(nn.Module):
    """A speech encoder over label-frame waveforms, pooled back to the label frames.

    Args:
        encoder: preset name or local Hugging Face folder (see :func:`load_speech_encoder`).
        frame_samples: samples per label frame (the audio feature set's width).
        overrides: encoder config changes (``layerdrop``, ``mask_time_prob``, ...).
        stored_config: full config from a checkpoint (see :func:`load_speech_encoder`).
        read_weights: read the folder's weights (``False`` when a checkpoint supplies them).
        normalize_waveform: z-normalise each chunk's valid samples before the encoder, as the
            checkpoint's feature extractor does (``do_normalize``); ``None`` → the folder's
            ``preprocessor_config.json`` (true for the presets).
        max_chunk_seconds: longest stretch of audio given to the encoder at once.
        freeze: ``"none"``, ``"feature_encoder"`` (the convolutional front end, as in most
            wav2vec 2.0 fine-tuning) or ``"all"``.
        gradient_checkpointing: recompute the encoder's activations in the backward pass
            (``transformers``' gradient checkpointing: less memory, more compute).
    """

    def __init__(
        self,
        encoder: str | Path,
        frame_samples: int,
        overrides: Mapping[str, Any] | None = None,
        stored_config: Mapping[str, Any] | None = None,
        read_weights: bool = True,
        normalize_waveform: bool | None = None,
        max_chunk_seconds: float = 20.0,
        freeze: str = "feature_encoder",
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if freeze not in FREEZE_CHOICES:
            raise ValueError(f"model.args.freeze must be one of {FREEZE_CHOICES}, got {freeze!r}")
        if not isinstance(frame_samples, int) or frame_samples < 1:
            raise ValueError(f"SpeechEncoder: frame_samples must be a positive int, got {frame_samples!r}")
        self.model, info = load_speech_encoder(encoder, overrides, stored_config, read_weights)
        self.source = info["source"]
        stored_normalize = info["do_normalize"]
        self.normalize_waveform = bool(
            normalize_waveform
            if normalize_waveform is not None
            else (True if stored_normalize is None else stored_normalize)
        )
        self.frame_samples = frame_samples
        self.chunk_frames = max(1, int(round(max_chunk_seconds * SAMPLE_RATE / frame_samples)))
        self.receptive, self.stride = conv_geometry(self.model.config)
        self.use_attention_mask = getattr(self.model.config, "feat_extract_norm", "group") == "layer"
        self.freeze = freeze
        if freeze in ("all", "feature_encoder"):
            # transformers' own switch (what ``freeze_feature_encoder`` calls; HubertModel lacks that
            # method): besides the parameters it clears the encoder's ``_requires_grad`` flag, which
            # otherwise marks the waveform as requiring grad in training, so that every backward
            # pass ran through the whole frozen CNN to the input
            self.model.feature_extractor._freeze_parameters()
        if freeze == "all":
            self.model.requires_grad_(False)
        if gradient_checkpointing:
            enable = getattr(self.model, "activation_checkpointing_enable", None)  # transformers >= 5
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    @property
    def checkpointing(self) -> bool:
        """Whether activation (gradient) checkpointing is on."""
        flag = getattr(self.model, "is_activation_checkpointing", None)
        return bool(flag if flag is not None else self.model.is_gradient_checkpointing)

    @property
    def num_layers(self) -> int:
        """Hidden states returned: the transformer's input plus one per layer."""
        return int(self.model.config.num_hidden_layers) + 1

    @property
    def hidden_size(self) -> int:
        """Width of each hidden state."""
        return int(self.model.config.hidden_size)

    def config_dict(self) -> dict[str, Any]:
        """The encoder's full config, to rebuild it without its folder (checkpoints)."""
        return json.loads(self.model.config.to_json_string(use_diff=False))

    def train(self, mode: bool = True) -> SpeechEncoder:
        """A fully frozen encoder stays in eval mode (no dropout) while the rest trains."""
        super().train(mode)
        if self.freeze == "all":
            self.model.eval()
        return self

    def weights_digest(self) -> str:
        """SHA-256 of the config and every weight: the identity of a frozen encoder's outputs."""
        config = {
            k: v for k, v in self.config_dict().items() if not k.startswith("_") and k not in _PROVENANCE_KEYS
        }  # where the config was read from and by which version does not change the outputs
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        digest.update(f"{self.normalize_waveform}/{self.chunk_frames}/{self.frame_samples}".encode())
        return digest.hexdigest()

    def _normalize(self, wave: Tensor, valid: Tensor) -> Tensor:
        count = valid.sum(1, keepdim=True).clamp_min(1)
        mean = (wave * valid).sum(1, keepdim=True) / count
        var = (((wave - mean) * valid) ** 2).sum(1, keepdim=True) / count
        return (wave - mean) / torch.sqrt(var + 1e-7) * valid

    def _pooling_weights(self, valid_frames: Tensor, chunk: int, encoder_frames: int) -> Tensor:
        """``(N, chunk, J)`` pooling weights of each chunk, from the encoder frames computed from
        its own valid samples only (a padded chunk's frames past its end are never used)."""
        out = torch.zeros(len(valid_frames), chunk, encoder_frames)
        for frames in valid_frames.unique().tolist():
            valid_samples = torch.tensor([frames * self.frame_samples])
            usable = min(int(self.model._get_feat_extract_output_lengths(valid_samples)[0]), encoder_frames)
            matrix = frame_pooling_matrix(frames, self.frame_samples, max(usable, 1), self.receptive, self.stride)
            rows = (valid_frames == frames).nonzero().flatten()
            out[rows, :frames, : matrix.shape[1]] = torch.from_numpy(matrix)
        return out

    def _hidden_states(self, wave: Tensor, valid: Tensor) -> Tensor:
        """``(N, J, L, H)`` hidden states of ``N`` chunks of waveform.

        A transformer whose weights need no gradient (``freeze="all"``) runs on the CPU one
        chunk at a time. Its attention projects ``(J, N, H)``-shaped (time-major, transposed)
        activations; with ``N > 1`` and a weight that does not require grad, ``torch.matmul``
        does not fold them into one matrix product but calls ``bmm`` with the weight expanded
        over the ``J`` steps, which the CPU kernel materialises for bfloat16 (a ``J × H × H``
        copy per projection: 60× slower under ``bf16-mixed``, 4× slower in float32 for a
        WavLM-Base layer; pytorch/pytorch#151934). One chunk at a time (``N = 1``) folds into
        a plain matrix product. Trainable weights fold either way, and on a GPU the batched
        product does not copy, so those keep the batch.
        """
        mask = valid.long() if self.use_attention_mask else None
        frozen = not any(p.requires_grad for p in self.model.encoder.parameters())
        if wave.device.type == "cpu" and frozen and len(wave) > 1:
            pieces = [self._hidden_states(wave[i : i + 1], valid[i : i + 1]) for i in range(len(wave))]
            return torch.cat(pieces)
        outputs = self.model(wave, attention_mask=mask, output_hidden_states=True)
        return torch.stack(outputs.hidden_states, dim=2)

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        """Hidden states of every layer, pooled to the label frames.

        Args:
            frames: ``(B, T, S)`` waveform samples per label frame.
            mask: ``(B, T)`` True on real frames.

        Returns:
            ``(B, T, L, H)``: ``L`` = :attr:`num_layers` hidden states, zeros at padded frames.
        """
        batch, length, samples = frames.shape
        if samples != self.frame_samples:
            raise ValueError(
                f"SpeechEncoder: audio frames of {samples} samples, expected {self.frame_samples} "
                f"({self.frame_samples / SAMPLE_RATE * 1000:g} ms at 16 kHz)"
            )
        chunk = min(self.chunk_frames, length)
        pad = (-length) % chunk
        if pad:
            frames = torch.nn.functional.pad(frames, (0, 0, 0, pad))
            mask = torch.nn.functional.pad(mask, (0, pad))
        n_chunks = frames.shape[1] // chunk
        pieces = frames.reshape(batch * n_chunks, chunk * samples)
        chunk_mask = mask.reshape(batch * n_chunks, chunk)
        keep = chunk_mask.any(1)
        out = frames.new_zeros(batch * n_chunks, chunk, self.num_layers, self.hidden_size)
        if keep.any():
            wave = pieces[keep].float()
            valid = chunk_mask[keep].repeat_interleave(samples, dim=1)
            if self.normalize_waveform:
                wave = self._normalize(wave, valid.to(wave.dtype))
            else:
                wave = wave * valid
            hidden = self._hidden_states(wave, valid)  # (N, J, L, H)
            weights = self._pooling_weights(chunk_mask[keep].sum(1), chunk, hidden.shape[1]).to(
                hidden.device, hidden.dtype
            )
            pooled = torch.einsum("ncj,njlh->nclh", weights, hidden)
            out = out.to(pooled.dtype)
            out[keep] = pooled
        out = out.reshape(batch, n_chunks * chunk, self.num_layers, self.hidden_size)[:, :length]
        return out * mask[:, :length, None, None].to(out.dtype)


def layer_choice(layer: int | None, num_layers: int) -> int | None:
    """Validate ``model.args.layer``: ``None`` (learned weighted sum) or a hidden-state index."""
    if layer is None:
        return None
    if not isinstance(layer, int) or isinstance(layer, bool) or not -num_layers <= layer < num_layers:
        raise ValueError(f"model.args.layer must be None or an int in [{-num_layers}, {num_layers}), got {layer!r}")
    return layer % num_layers


def layer_range(layers: Any, num_layers: int) -> tuple[int, int]:
    """Validate ``model.args.layers``: ``None`` (all hidden states) or ``[first, last]`` (inclusive,
    negative indices count from the end) → ``(first, last)`` with ``0 <= first <= last < num_layers``."""
    if layers is None:
        return 0, num_layers - 1
    valid = (
        isinstance(layers, (list, tuple))
        and len(layers) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) and -num_layers <= i < num_layers for i in layers)
    )
    if valid:
        first, last = (i % num_layers for i in layers)
        if first <= last:
            return first, last
    raise ValueError(
        f"model.args.layers must be None or [first, last] with hidden-state indices in [{-num_layers}, "
        f"{num_layers}) and first <= last, got {layers!r}"
    )
