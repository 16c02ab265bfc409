"""Tzirakis et al. (2017): end-to-end speech, visual and audio-visual emotion recognition.

Paper:
    Panagiotis Tzirakis, George Trigeorgis, Mihalis A. Nicolaou, Björn W. Schuller, Stefanos
    Zafeiriou. "End-to-End Multimodal Emotion Recognition Using Deep Neural Networks". IEEE
    Journal of Selected Topics in Signal Processing 11(8):1301-1309, 2017.
    https://doi.org/10.1109/JSTSP.2017.2764438 — arXiv:1704.08619.

Code:
    The authors' TensorFlow code is https://github.com/tzirakis/Multimodal-Emotion-Recognition
    (``models.py``: ``audio_model``, ``video_model``, ``recurrent_model``). This module is a
    re-implementation from the paper's description, not a port; differences are noted below.

BibTeX::

    @article{tzirakis2017end,
      title   = {End-to-End Multimodal Emotion Recognition Using Deep Neural Networks},
      author  = {Tzirakis, Panagiotis and Trigeorgis, George and Nicolaou, Mihalis A. and
                 Schuller, Bj{\\"o}rn W. and Zafeiriou, Stefanos},
      journal = {IEEE Journal of Selected Topics in Signal Processing},
      volume  = {11},
      number  = {8},
      pages   = {1301--1309},
      year    = {2017},
      doi     = {10.1109/JSTSP.2017.2764438},
    }

Speech network (per 6 s window of 16 kHz audio, 150 frames of 40 ms = 640 samples)::

    waveform (B, T·640), z-normalised per recording by the datamodule before it was cut (§III-B)
      -> Conv1d(1 -> 20, kernel 80 = 5 ms, 'same') -> ReLU (half-wave rectification)
      -> MaxPool1d(2)                                  (B, 20, T·320): 8 kHz
      -> Conv1d(20 -> 40, kernel 4000 = 500 ms at 8 kHz, 'same')
      -> max over groups of 10 channels                (B, 4, T·320)
      -> cut into T frames of 320 samples              (B, T, 320, 4) -> (B, T, 1280)
      -> Dropout(0.5)

    1280 = (640 samples / pool 2) × (40 filters / channel pool 10) = 320 × 4 per 40 ms frame.
    Parameters: conv1 1·80·20 + 20 = 1 620; conv2 20·4000·40 + 40 = 3 200 040.

The 500 ms kernel spans 12.5 frames, so the convolutions run over the whole window's waveform
(not frame by frame, as in the released code, which convolves each 40 ms frame separately) and
the result is cut back into frames. With a 4000-tap kernel the direct convolution is slow on a
CPU; ``conv_impl="fft"`` (the default for kernels ≥ 256 taps, ``"auto"``) computes the same
cross-correlation with real FFTs in float32 — identical up to rounding (tested against
``F.conv1d``). The released code also applies ReLU after the second convolution (TF-slim's
default activation); ``conv2_relu=True`` reproduces that.

Visual network: ResNet-50 (timm, ``num_classes=0``) on 96×96 RGB face crops → 2048 per frame,
then a linear layer to the paper's 640 features (§III-D gives the number, not the layer; the
released code keeps the 2048-d pool output: ``feature_dim=None``), ImageNet mean/std
normalisation inside the model. In ``train()`` mode each sequence is
augmented as in the paper (resize to 110×110, random 96×96 crop, random brightness and
saturation; one draw per sequence so its frames stay consistent), with
``torchvision.transforms.v2`` on tensors. ImageNet weights come from a local file
(``pretrained_path``: safetensors or a torch state dict); without one a warning naming
``model.args.pretrained_path`` is logged, as the network then trains from scratch.

Recurrent part: 2-layer unidirectional LSTM with 256 cells (packed by the frame mask), then a
per-frame linear layer to the targets; trained with the CCC loss. The released code uses peephole
LSTM cells with cell clipping; ``nn.LSTM`` has neither.

Evaluation length: with ``eval_win_len`` (the recipes: the training window, 150 frames) the
network runs each evaluation recording in windows of that length, each from a zero LSTM state as
in training, and averages overlapping predictions (:mod:`zoo.layers.windows`); ``None`` runs whole
recordings (7500 frames in RECOLA) through LSTMs trained on 150-frame windows.

Multimodal: the speech and visual extractors of two trained unimodal checkpoints
(``net.speech.*``, ``net.visual.*``) are loaded, their LSTMs discarded, features concatenated
(1280 + 640 = 1920, §III-D) and a new 2-layer LSTM trained; extractors are fine-tuned unless
``freeze_extractors=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.layers import MaskedBiLSTM
from zoo.layers.visual import VisualNet
from zoo.layers.windows import eval_window_spans, windowed_forward
from zoo.models.registry import loaded_file, register_model, weights_come_from_checkpoint

__all__ = [
    "SpeechNet",
    "VisualNet",
    "Tzirakis2017Net",
    "fft_conv1d",
    "tzirakis2017_audio",
    "tzirakis2017_visual",
    "tzirakis2017_multimodal",
]

CONV_IMPLS = ("auto", "direct", "fft")
_log = logging.getLogger(__name__)


def fft_conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.conv1d(x, weight, bias, padding="same")`` computed with real FFTs, in float32.

    Same cross-correlation and the same 'same' padding as PyTorch (``(K-1)//2`` zeros on the
    left, the rest on the right), at ``O(L log L)`` cost instead of ``O(L·K)``.

    Args:
        x: ``(B, C_in, L)``.
        weight: ``(C_out, C_in, K)``.
        bias: ``(C_out,)`` or ``None``.

    Returns:
        ``(B, C_out, L)`` float32.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, weight = x.float(), weight.float()
        length, k = x.shape[-1], weight.shape[-1]
        n = length + k - 1
        nfft = 1 << (n - 1).bit_length()
        spec_x = torch.fft.rfft(x, nfft)  # (B, I, F)
        spec_w = torch.fft.rfft(weight.flip(-1), nfft)  # (O, I, F)
        # Y[b, o, f] = sum_i X[b, i, f] W[o, i, f], accumulated over input channels: batched
        # complex matmuls over thousands of frequencies are slow on CPU, and a full broadcast
        # (B, O, I, F) would not fit in memory for long windows.
        # (unbind, not indexing: its backward stacks the slices instead of zero-filling a full
        # gradient per slice)
        xs, ws = spec_x.unbind(1), spec_w.unbind(1)
        spec_y = xs[0][:, None, :] * ws[0][None]
        for x_i, w_i in zip(xs[1:], ws[1:]):
            spec_y = spec_y + x_i[:, None, :] * w_i[None]
        full = torch.fft.irfft(spec_y, nfft)
        start = k - 1 - (k - 1) // 2
        y = full[..., start : start + length]
        if bias is not None:
            y = y + bias.float()[None, :, None]
    return y


class SpeechNet(nn.Module):
    """The paper's convolutional speech feature extractor (see the module docstring).

    Args:
        frame_samples: samples per 40 ms frame at 16 kHz (640).
        conv1_filters: filters of the first convolution (20).
        conv1_kernel: its kernel in samples (80 = 5 ms at 16 kHz).
        pool: temporal max-pool after it (2: to 8 kHz).
        conv2_filters: filters of the second convolution (40).
        conv2_kernel: its kernel in samples at the pooled rate (4000 = 500 ms at 8 kHz).
        channel_pool: max-pool size across channels (10: 40 -> 4 channels).
        dropout: dropout on the output features (0.5).
        normalize_input: z-normalise each sequence's waveform over its valid samples (off: the
            paper normalises each recording before it is cut into 6 s sequences, §III-B, which
            the ``recola`` datamodule does with ``audio_normalization="recording"``; on, training
            windows and whole evaluation recordings would be normalised differently).
        conv2_relu: ReLU after the second convolution (as in the released code).
        conv_impl: ``"direct"`` (``F.conv1d``), ``"fft"`` or ``"auto"`` (FFT for kernels of
            256 taps or more) for the second convolution.
    """

    def __init__(
        self,
        frame_samples: int = 640,
        conv1_filters: int = 20,
        conv1_kernel: int = 80,
        pool: int = 2,
        conv2_filters: int = 40,
        conv2_kernel: int = 4000,
        channel_pool: int = 10,
        dropout: float = 0.5,
        normalize_input: bool = False,
        conv2_relu: bool = False,
        conv_impl: str = "auto",
    ) -> None:
        super().__init__()
        if frame_samples % pool:
            raise ValueError(f"SpeechNet: frame_samples ({frame_samples}) must be divisible by pool ({pool})")
        if conv2_filters % channel_pool:
            raise ValueError(
                f"SpeechNet: conv2_filters ({conv2_filters}) must be divisible by channel_pool ({channel_pool})"
            )
        if conv_impl not in CONV_IMPLS:
            raise ValueError(f"SpeechNet: conv_impl must be one of {CONV_IMPLS}, got {conv_impl!r}")
        self.frame_samples = frame_samples
        self.pool = pool
        self.channel_pool = channel_pool
        self.normalize_input = normalize_input
        self.conv2_relu = conv2_relu
        self.conv_impl = conv_impl
        self.conv1 = nn.Conv1d(1, conv1_filters, conv1_kernel, padding="same")
        self.conv2 = nn.Conv1d(conv1_filters, conv2_filters, conv2_kernel, padding="same")
        self.dropout = nn.Dropout(dropout)

    @property
    def output_dim(self) -> int:
        """Features per frame: ``frame_samples / pool × conv2_filters / channel_pool`` (1280)."""
        return (self.frame_samples // self.pool) * (self.conv2.out_channels // self.channel_pool)

    def _conv2(self, x: Tensor) -> Tensor:
        use_fft = self.conv_impl == "fft" or (self.conv_impl == "auto" and self.conv2.kernel_size[0] >= 256)
        if use_fft:
            return fft_conv1d(x, self.conv2.weight, self.conv2.bias)
        return self.conv2(x)

    def forward(self, audio: Tensor, mask: Tensor) -> Tensor:
        """``(B, T, frame_samples)`` waveform frames → ``(B, T, output_dim)`` features."""
        if audio.dim() != 3 or audio.shape[-1] != self.frame_samples:
            raise ValueError(f"SpeechNet expects audio of shape (B, T, {self.frame_samples}), got {tuple(audio.shape)}")
        b, t, s = audio.shape
        x = audio.float()
        valid = mask[:, :, None].expand(b, t, s).to(x.dtype)
        if self.normalize_input:
            count = valid.sum(dim=(1, 2), keepdim=True).clamp_min(1.0)
            mean = (x * valid).sum(dim=(1, 2), keepdim=True) / count
            var = (((x - mean) * valid) ** 2).sum(dim=(1, 2), keepdim=True) / count
            x = (x - mean) / torch.sqrt(var + 1e-8)
        x = (x * valid).reshape(b, 1, t * s)
        x = F.max_pool1d(F.relu(self.conv1(x)), self.pool)  # (B, C1, T*s/pool)
        # zero the padded frames again (ReLU(bias) is not zero), so that the 500 ms kernel sees
        # exactly the zero padding a shorter, unpadded sequence would get
        x = x * mask.repeat_interleave(s // self.pool, dim=1)[:, None, :].to(x.dtype)
        x = self._conv2(x)  # (B, C2, T*s/pool)
        if self.conv2_relu:
            x = F.relu(x)
        c2 = x.shape[1]
        x = x.reshape(b, c2 // self.channel_pool, self.channel_pool, -1).amax(dim=2)  # (B, C2/cp, L)
        x = x.reshape(b, x.shape[1], t, s // self.pool).permute(0, 2, 3, 1)  # (B, T, s/pool, C)
        return self.dropout(x.reshape(b, t, self.output_dim))


class Tzirakis2017Net(nn.Module):
    """Extractor(s) → dropout'd features → 2-layer LSTM → per-frame linear head.

    Args:
        feature_dims: ``{"audio": 640}`` and/or ``{"video": [H, W, 3]}`` from the datamodule.
        num_targets: outputs per frame (2: arousal, valence).
        modalities: ``("audio",)``, ``("video",)`` or both.
        hidden_size: LSTM cells per layer (256).
        num_lstm_layers: stacked LSTM layers (2).
        speech_args: keyword arguments of :class:`SpeechNet`.
        visual_args: keyword arguments of :class:`VisualNet`.
        visual_dropout: dropout on the visual features (0.5).
        freeze_extractors: keep the extractor weights fixed (no gradient).
        eval_win_len: evaluation length: ``None`` runs each whole recording through the network
            in one piece; a number of frames runs it in windows of that length, each from a zero
            LSTM state as in training (:func:`zoo.layers.windows.windowed_forward`). The recipes
            set the training window (150 frames, ``${data.args.win_len}``): the paper's
            sequences are the 6 s pieces the recordings are cut into (§III-B), and Table II shows
            that the length changes the scores.
        eval_hop_len: frames between evaluation windows (``None`` = ``eval_win_len``: consecutive
            windows); smaller values overlap them and average each frame's predictions.
    """

    def __init__(
        self,
        feature_dims: Mapping[str, Any],
        num_targets: int,
        modalities: Sequence[str],
        hidden_size: int = 256,
        num_lstm_layers: int = 2,
        speech_args: Mapping[str, Any] | None = None,
        visual_args: Mapping[str, Any] | None = None,
        visual_dropout: float = 0.5,
        freeze_extractors: bool = False,
        eval_win_len: int | None = None,
        eval_hop_len: int | None = None,
    ) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.eval_win_len = int(eval_win_len) if eval_win_len else None
        self.eval_hop_len = int(eval_hop_len) if eval_hop_len else self.eval_win_len
        if self.eval_win_len is not None:
            eval_window_spans(self.eval_win_len + 1, self.eval_win_len, self.eval_hop_len)  # checks the pair now
        missing = [m for m in self.modalities if m not in feature_dims]
        if missing:
            raise ValueError(
                f"Tzirakis2017Net needs feature sets {list(self.modalities)}; the data gives "
                f"{sorted(feature_dims)} (use the recola datamodule with mode=raw)"
            )
        width = 0
        if "audio" in self.modalities:
            self.speech = SpeechNet(**dict(speech_args or {}))
            dim = feature_dims["audio"]
            if dim != self.speech.frame_samples:
                raise ValueError(
                    f"audio frames have {dim} samples but SpeechNet expects {self.speech.frame_samples} "
                    "(40 ms at 16 kHz)"
                )
            width += self.speech.output_dim
        if "video" in self.modalities:
            self.visual = VisualNet(**dict(visual_args or {}))
            self.visual_dropout = nn.Dropout(visual_dropout)
            dims = list(feature_dims["video"]) if isinstance(feature_dims["video"], (list, tuple)) else []
            if len(dims) != 3 or dims[-1] != 3:
                raise ValueError(f"video frames must be (H, W, 3) images, got feature dims {feature_dims['video']}")
            width += self.visual.output_dim
        self.input_dim = width
        self.lstm = MaskedBiLSTM(width, hidden_size, num_layers=num_lstm_layers, bidirectional=False)
        self.head = nn.Linear(hidden_size, num_targets)
        if freeze_extractors:
            for name in ("speech", "visual"):
                if hasattr(self, name):
                    getattr(self, name).requires_grad_(False)

    def extract(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Concatenated per-frame features ``(B, T, input_dim)``."""
        parts = []
        if "audio" in self.modalities:
            parts.append(self.speech(features["audio"], mask))
        if "video" in self.modalities:
            parts.append(self.visual_dropout(self.visual(features["video"], mask)))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``(B, T, K)`` predictions; in eval mode in windows of ``eval_win_len`` when it is set."""
        if not self.training and self.eval_win_len is not None:
            return windowed_forward(self._forward_sequences, features, mask, self.eval_win_len, self.eval_hop_len)
        return self._forward_sequences(features, mask)

    def _forward_sequences(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        x = self.extract(features, mask)
        return self.head(self.lstm(x, mask))


# --------------------------------------------------------------------------- variants
_SPEECH_KEYS = (
    "conv1_filters",
    "conv1_kernel",
    "pool",
    "conv2_filters",
    "conv2_kernel",
    "channel_pool",
    "normalize_input",
    "conv2_relu",
    "conv_impl",
)
_VISUAL_KEYS = ("backbone", "pretrained_path", "augment", "brightness", "saturation", "chunk_size", "feature_dim")


def _split_args(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    speech = {k: kwargs.pop(k) for k in _SPEECH_KEYS if k in kwargs}
    visual = {k: kwargs.pop(k) for k in _VISUAL_KEYS if k in kwargs}
    if "dropout" in kwargs:
        speech["dropout"] = kwargs["dropout"]
        kwargs["visual_dropout"] = kwargs.pop("dropout")
    return speech, visual, kwargs


@register_model
def tzirakis2017_audio(feature_dims: Mapping[str, Any], num_targets: int, **kwargs: Any) -> Tzirakis2017Net:
    """Speech network + 2-layer LSTM on ``features["audio"]`` ``(B, T, 640)``.

    Keyword arguments: ``hidden_size``, ``num_lstm_layers``, ``dropout`` and those of
    :class:`SpeechNet` (``conv2_kernel``, ``conv_impl``, ...).
    """
    speech, visual, rest = _split_args(dict(kwargs))
    if visual:
        raise TypeError(f"tzirakis2017_audio got unexpected keyword arguments {sorted(visual)}")
    rest.pop("visual_dropout", None)
    return Tzirakis2017Net(feature_dims, num_targets, ("audio",), speech_args=speech, **rest)


@register_model(files={"pretrained_path": "weights"})
def tzirakis2017_visual(
    feature_dims: Mapping[str, Any], num_targets: int, loaded: Mapping[str, Any] | None = None, **kwargs: Any
) -> Tzirakis2017Net:
    """ResNet-50 + 2-layer LSTM on ``features["video"]`` ``(B, T, 96, 96, 3)`` uint8.

    Keyword arguments: ``hidden_size``, ``num_lstm_layers``, ``dropout``, ``pretrained_path``
    (the ImageNet weights file, read by the runner and handed in through ``loaded``) and those
    of :class:`~zoo.layers.visual.VisualNet` (``backbone``, ``augment``, ...).
    """
    speech, visual, rest = _split_args(dict(kwargs))
    speech.pop("dropout", None)
    if speech:
        raise TypeError(f"tzirakis2017_visual got unexpected keyword arguments {sorted(speech)}")
    path = visual.pop("pretrained_path", None)
    if path is None and not weights_come_from_checkpoint():
        _log.warning(
            "tzirakis2017_visual: model.args.pretrained_path is null, so %s is trained FROM SCRATCH; "
            "the paper fine-tunes ImageNet weights (Tzirakis et al. 2017 §III-D). See "
            "docs/models/tzirakis2017.md ('ImageNet weights') for how to make the local file.",
            visual.get("backbone", "resnet50"),
        )
    visual["backbone_weights"] = loaded_file("tzirakis2017_visual", loaded or {}, "pretrained_path", path)
    return Tzirakis2017Net(feature_dims, num_targets, ("video",), visual_args=visual, **rest)


def _extractor(
    checkpoint: Mapping[str, Any], expected_model: str, prefix: str
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Model args and ``prefix``-stripped extractor weights of a unimodal checkpoint's content."""
    path, model = checkpoint["path"], checkpoint["model"]
    if model != expected_model:
        raise ValueError(f"{path}: a checkpoint of model {model!r}, but {expected_model!r} is needed here")
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{path}: no weights under {prefix!r}")
    return dict(checkpoint["model_args"]), state


@register_model(
    files={"audio_checkpoint": "checkpoint", "visual_checkpoint": "checkpoint", "pretrained_path": "weights"}
)
def tzirakis2017_multimodal(
    feature_dims: Mapping[str, Any],
    num_targets: int,
    audio_checkpoint: str | None = None,
    visual_checkpoint: str | None = None,
    from_scratch: bool = False,
    freeze_extractors: bool = False,
    loaded: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Tzirakis2017Net:
    """Speech + visual extractors from two unimodal checkpoints → new 2-layer LSTM.

    Args:
        feature_dims: needs ``audio`` and ``video``.
        num_targets: outputs per frame.
        audio_checkpoint: best checkpoint of a ``tzirakis2017_audio`` run.
        visual_checkpoint: best checkpoint of a ``tzirakis2017_visual`` run.
        from_scratch: allow missing checkpoints (extractors start untrained).
        freeze_extractors: do not fine-tune the loaded extractors.
        loaded: the two checkpoints' contents, read by the runner
            (:func:`zoo.hub.checkpoint_io.read_model_files`).
        **kwargs: ``hidden_size``, ``num_lstm_layers``, ``dropout``; extractor arguments are
            taken from the unimodal checkpoints (explicit ones are used with ``from_scratch``).

    Raises:
        ValueError: a checkpoint is ``None`` without ``from_scratch=True``, or a checkpoint of
            another model.
    """
    speech, visual, rest = _split_args(dict(kwargs))
    states: dict[str, dict[str, Tensor]] = {}
    for arg, path, model, prefix in (
        ("audio_checkpoint", audio_checkpoint, "tzirakis2017_audio", "net.speech."),
        ("visual_checkpoint", visual_checkpoint, "tzirakis2017_visual", "net.visual."),
    ):
        if path is None:
            if not from_scratch:
                raise ValueError(
                    f"tzirakis2017_multimodal: model.args.{arg} is null. Train {model} first and pass "
                    f"its checkpoints/best.ckpt (staged training, as in the paper), or set "
                    "model.args.from_scratch=true to start the extractors untrained"
                )
            continue
        content = loaded_file("tzirakis2017_multimodal", loaded or {}, arg, path)
        args, state = _extractor(content, model, prefix)
        s_args, v_args, _ = _split_args(args)
        if model.endswith("audio"):
            speech.update(s_args)
        else:
            v_args.pop("pretrained_path", None)  # weights come from the checkpoint
            visual.update(v_args)
        states[prefix] = state
    imagenet = visual.pop("pretrained_path", None)  # initial weights of an untrained visual extractor
    if visual_checkpoint is None:
        visual["backbone_weights"] = loaded_file("tzirakis2017_multimodal", loaded or {}, "pretrained_path", imagenet)
    net = Tzirakis2017Net(feature_dims, num_targets, ("audio", "video"), speech_args=speech, visual_args=visual, **rest)
    for prefix, state in states.items():
        module = net.speech if prefix == "net.speech." else net.visual
        module.load_state_dict(state, strict=True)
    if freeze_extractors:
        net.speech.requires_grad_(False)
        net.visual.requires_grad_(False)
    return net
