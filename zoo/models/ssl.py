"""Self-supervised speech front ends for continuous emotion: wav2vec 2.0 / HuBERT / WavLM + a small head.

Not one of the five reproduced papers: a model family of this zoo, built from the published
recipe of fine-tuning self-supervised speech transformers for dimensional emotion regression
(Wagner et al., "Dawn of the Transformer Era in Speech Emotion Recognition", IEEE TPAMI 2023,
arXiv:2203.07378: wav2vec2-large-robust fine-tuned on MSP-Podcast arousal/dominance/valence, the
convolutional front end frozen; Pepino et al., Interspeech 2021, arXiv:2104.03502: a learned
weighted sum of the encoder's layers) and SUPERB's weighted-layer probe (Yang et al.,
Interspeech 2021, arXiv:2105.01051). The loss is the zoo's shared CCC loss. ``docs/models/ssl.md`` lists what comes from which paper
and what is this zoo's own choice (the time-continuous pooling to label frames, the heads, the
audio-visual fusion).

Encoders (:mod:`zoo.layers.speech_encoder`):
    ``transformers``' ``Wav2Vec2Model``/``HubertModel``/``WavLMModel`` from a local Hugging Face
    folder (``model.args.encoder=/models/wavlm-base-plus``) or a built-in random ``*-tiny``
    architecture (tests, synthetic corpora).

Network, per label frame of the corpus (40 ms RECOLA, 100 ms SEWA, 250 ms MuSe-CaR)::

    audio (B, T, S) waveform, S samples per frame
      -> SpeechEncoder: encoder over each window (chunks <= max_chunk_seconds), the 20 ms frames
         of every hidden state averaged into the label frames          (B, T, L, H)
      -> learned softmax-weighted sum of the L hidden states, or one layer (B, T, H)
      [-> concatenated with a timm face encoder's per-frame features   (B, T, H + F)]
      -> dropout -> head: linear, or BiLSTM -> linear                  (B, T, K)

Audio-visual variant: face crops ``(B, T, H, W, 3)`` through :class:`zoo.layers.visual.VisualNet`
(a ``timm`` backbone with local ImageNet weights), early-fused by concatenation as Tzirakis et
al. 2017 fuse their two streams (§III-D). Audio-text variant: each frame's transcript row (raw
UTF-8 bytes, e.g. SEWA's ``transcript``) through a ``transformers`` text encoder
(:mod:`zoo.layers.text_encoder`), concatenated the same way.

Segment level (CMU-MOSEI): with ``word_feature`` the label frames are 20 ms rows of a segment's
audio; they are averaged into the segment's words, the head runs over the words and the output
is their mean, ``(B, K)``.

Frozen encoders (``freeze="all"``) can have their pooled hidden states computed once per
recording and cached through the corpus cache (:meth:`SSLEmotionNet.feature_encoders`;
``zoo fit`` attaches them to the datamodule); training then runs only the layer weights and the
head on the cached arrays, and the checkpoint still holds the encoder, so it predicts from raw
audio.

BibTeX: Wagner et al. 2023's entry, ``wagner2023dawn``, is in :mod:`zoo.models.wagner2023` (one copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from zoo.layers import MaskedBiLSTM
from zoo.layers.speech_encoder import SpeechEncoder, layer_choice, layer_range
from zoo.layers.text_encoder import TextEncoder
from zoo.layers.visual import VisualNet
from zoo.models.registry import loaded_file, register_model, weights_come_from_checkpoint

__all__ = ["SSLEmotionNet", "FrozenEncoderFeatures", "ssl_audio", "ssl_audiovisual", "ssl_audio_text"]

HEADS = ("linear", "bilstm")
#: storage dtypes of cached encoder outputs (those :mod:`zoo.data._encoded` writes; models do not import the data side)
CACHE_DTYPES = ("float16", "float32")


class FrozenEncoderFeatures:
    """A frozen :class:`SpeechEncoder` as a corpus feature transform (for the corpus cache).

    Maps a recording's raw audio ``(T, S)`` to the pooled hidden states the network can use,
    ``(T, N·H)`` for the ``N`` hidden states of ``layers``, encoding the recording in consecutive
    chunks of ``max_chunk_seconds``. What the corpus cache then does with them (see
    :mod:`zoo.data._encoded`): store them as ``dtype``, and with ``pool_by`` (segment level) average
    the rows of each word. :attr:`key` identifies the output: a digest of the weights, the
    architecture, the chunking and the normalisation, plus the layers, the dtype and the pooling.

    Args:
        encoder: the frozen encoder.
        layers: ``(first, last)`` hidden states kept (inclusive); default all.
        dtype: storage dtype of the cache (``"float16"`` or ``"float32"``).
        pool_by: the word-index feature set whose words the rows are averaged into, or ``None``.
    """

    #: chunks encoded per encoder call
    chunks_per_call = 8

    def __init__(
        self,
        encoder: SpeechEncoder,
        layers: tuple[int, int] | None = None,
        dtype: str = "float32",
        pool_by: str | None = None,
    ) -> None:
        self.encoder = encoder
        self.layers = (0, encoder.num_layers - 1) if layers is None else (int(layers[0]), int(layers[1]))
        self.dtype = dtype
        self.pool_by = pool_by
        first, last = self.layers
        self.key = f"{encoder.weights_digest()}/layers{first}-{last}/{dtype}/pool:{pool_by}"
        #: none: the key is a digest of the weights themselves, so the cache entry stays valid
        #: when the encoder is rebuilt from a checkpoint without its original folder
        self.sources: list = []
        self.output_dim = (last - first + 1) * encoder.hidden_size

    @torch.no_grad()
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """``(T, S)`` float waveform frames → ``(T, N·H)`` float32."""
        device = next(self.encoder.parameters()).device
        was_training = self.encoder.training
        self.encoder.eval()
        frames = np.asarray(audio, np.float32)
        first, last = self.layers
        # a few chunks per call (a whole 5-minute recording at once would hold every chunk's
        # activations together); ``step`` is a whole number of chunks, so the chunks are the
        # same as when the recording is encoded in one call
        step = self.encoder.chunk_frames * self.chunks_per_call
        out = []
        try:
            for start in range(0, len(frames), step):
                piece = torch.as_tensor(frames[start : start + step], device=device)[None]
                mask = torch.ones(piece.shape[:2], dtype=torch.bool, device=device)
                hidden = self.encoder(piece, mask)[0, :, first : last + 1]
                out.append(hidden.reshape(piece.shape[1], -1).float().cpu())
        finally:
            self.encoder.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, self.output_dim), np.float32)


class SSLEmotionNet(nn.Module):
    """Speech encoder (+ optional face encoder) → layer weighting → per-frame head.

    Args:
        feature_dims: from the datamodule; ``audio_feature`` must be there (``S`` samples per frame).
        num_targets: K outputs per frame.
        encoder: preset name (``wavlm-tiny``, ``wav2vec2-tiny``, ``hubert-tiny``: random weights)
            or a local Hugging Face model folder.
        encoder_overrides: encoder config changes (``layerdrop``, ``mask_time_prob``, ...).
        encoder_config: the encoder's full config as a checkpoint stores it (set by
            :meth:`checkpoint_model_args`; a recipe leaves it ``None``).
        audio_feature: name of the raw audio feature set.
        video_feature: name of the face-crop feature set, or ``None`` (audio only).
        word_feature: segment level (CMU-MOSEI): the feature set giving each audio row's word
            index (-1 between words). The label frames are then pooled into the words, the head
            runs over the words, and the output is the mean over the segment's words ``(B, K)``.
        text_feature: the per-frame transcript bytes (e.g. SEWA's ``transcript``), or ``None``.
        text_encoder: ``bert-tiny`` (random) or a local Hugging Face text model folder.
        text_encoder_overrides: text encoder config changes.
        text_state: the text encoder's config and tokenizer as a checkpoint stores them (set by
            :meth:`checkpoint_model_args`).
        freeze_text: keep the text encoder fixed.
        text_max_tokens: longest token sequence per transcript row.
        layer: ``None`` → learned softmax-weighted sum of the hidden states of ``layers``; an
            int → that hidden state (0 = the transformer's input, -1 = the last layer).
        layers: ``[first, last]`` (inclusive, negative counts from the end): the hidden states
            the weighted sum runs over; ``None`` → all. A frozen encoder's cache keeps only
            these (or only ``layer``).
        freeze: ``"none"``, ``"feature_encoder"`` or ``"all"`` (see :class:`SpeechEncoder`).
        gradient_checkpointing: recompute encoder activations in the backward pass.
        normalize_waveform: z-normalise each chunk (``None``: the checkpoint's preprocessor config).
        max_chunk_seconds: longest audio stretch per encoder call.
        cache_encoder_outputs: with ``freeze="all"``, let ``zoo fit``/``test`` cache the
            encoder's pooled hidden states through the corpus cache.
        cache_dtype: dtype of those cached states, ``"float16"`` (half the disk of float32;
            a recording whose outputs overflow it is stored in float32) or ``"float32"``.
        head: ``"linear"`` or ``"bilstm"``.
        head_hidden: BiLSTM units per direction.
        head_layers: BiLSTM layers.
        dropout: dropout on the fused per-frame features.
        shared_head: one head with K outputs; ``False`` → one head per target.
        face_backbone: ``timm`` model of the face encoder.
        face_weights: initial (e.g. ImageNet) weights of the face backbone, read by the runner from
            ``model.args.face_pretrained_path``; ``None`` starts from random weights.
        face_feature_dim: face features per frame (projection of the pooled backbone output).
        face_augment: augment face crops in training (as :class:`~zoo.layers.visual.VisualNet`).
    """

    def __init__(
        self,
        feature_dims: Mapping[str, Any],
        num_targets: int,
        encoder: str = "wavlm-tiny",
        encoder_overrides: Mapping[str, Any] | None = None,
        encoder_config: Mapping[str, Any] | None = None,
        audio_feature: str = "audio",
        video_feature: str | None = None,
        word_feature: str | None = None,
        text_feature: str | None = None,
        text_encoder: str = "bert-tiny",
        text_encoder_overrides: Mapping[str, Any] | None = None,
        text_state: Mapping[str, Any] | None = None,
        freeze_text: bool = False,
        text_max_tokens: int = 128,
        layer: int | None = None,
        layers: list[int] | tuple[int, int] | None = None,
        freeze: str = "feature_encoder",
        gradient_checkpointing: bool = False,
        normalize_waveform: bool | None = None,
        max_chunk_seconds: float = 20.0,
        cache_encoder_outputs: bool = True,
        cache_dtype: str = "float16",
        head: str = "linear",
        head_hidden: int = 64,
        head_layers: int = 1,
        dropout: float = 0.1,
        shared_head: bool = True,
        face_backbone: str = "resnet18",
        face_weights: Mapping[str, Tensor] | None = None,
        face_feature_dim: int = 64,
        face_augment: bool = True,
    ) -> None:
        super().__init__()
        if audio_feature not in feature_dims:
            raise ValueError(
                f"model.args.audio_feature: {audio_feature!r} is not a feature set of the data "
                f"({sorted(feature_dims)}); the speech encoder needs the raw audio feature set"
            )
        frame_samples = feature_dims[audio_feature]
        if not isinstance(frame_samples, int):
            raise ValueError(
                f"feature set {audio_feature!r} has shape {frame_samples}; expected raw audio, one row of samples per frame"
            )
        if head not in HEADS:
            raise ValueError(f"model.args.head must be one of {HEADS}, got {head!r}")
        self.audio_feature, self.video_feature, self.word_feature = audio_feature, video_feature, word_feature
        if word_feature is not None and (word_feature not in feature_dims or video_feature is not None):
            raise ValueError(
                f"model.args.word_feature: {word_feature!r} must be a feature set of the data "
                f"({sorted(feature_dims)}) and is for audio-only segment-level data"
            )
        self.audio = SpeechEncoder(
            encoder,
            frame_samples,
            overrides=encoder_overrides,
            stored_config=encoder_config,
            read_weights=not weights_come_from_checkpoint(),
            normalize_waveform=normalize_waveform,
            max_chunk_seconds=max_chunk_seconds,
            freeze=freeze,
            gradient_checkpointing=gradient_checkpointing,
        )
        self.layer = layer_choice(layer, self.audio.num_layers)
        if self.layer is not None and layers is not None:
            raise ValueError(
                "model.args.layers (the weighted sum's range) and model.args.layer (one layer) exclude each other"
            )
        #: the hidden states the network reads, ``(first, last)`` inclusive
        self.layers = (self.layer, self.layer) if self.layer is not None else layer_range(layers, self.audio.num_layers)
        count = self.layers[1] - self.layers[0] + 1
        self.layer_logits = nn.Parameter(torch.zeros(count)) if self.layer is None else None
        self.cache_encoder_outputs = bool(cache_encoder_outputs)
        if cache_dtype not in CACHE_DTYPES:
            raise ValueError(f"model.args.cache_dtype must be one of {CACHE_DTYPES}, got {cache_dtype!r}")
        self.cache_dtype = cache_dtype
        width = self.audio.hidden_size
        self.visual: nn.Module | None = None
        if video_feature is not None:
            if video_feature not in feature_dims:
                raise ValueError(f"model.args.video_feature: {video_feature!r} is not a feature set of the data")
            self.visual = VisualNet(
                backbone=face_backbone,
                backbone_weights=face_weights,
                augment=face_augment,
                feature_dim=face_feature_dim,
            )
            width += self.visual.output_dim
        self.text_feature = text_feature
        self.text: TextEncoder | None = None
        if text_feature is not None:
            if text_feature not in feature_dims:
                raise ValueError(f"model.args.text_feature: {text_feature!r} is not a feature set of the data")
            self.text = TextEncoder(
                text_encoder,
                overrides=text_encoder_overrides,
                stored=text_state,
                read_weights=not weights_come_from_checkpoint(),
                freeze=freeze_text,
                max_tokens=text_max_tokens,
            )
            width += self.text.output_dim
        self.dropout = nn.Dropout(dropout)
        outputs = [num_targets] if shared_head else [1] * num_targets
        self.heads = nn.ModuleList(self._head(head, width, k, head_hidden, head_layers) for k in outputs)

    @staticmethod
    def _head(kind: str, width: int, outputs: int, hidden: int, layers: int) -> nn.ModuleDict:
        if kind == "linear":
            return nn.ModuleDict({"out": nn.Linear(width, outputs)})
        rnn = MaskedBiLSTM(width, hidden, num_layers=layers)
        return nn.ModuleDict({"rnn": rnn, "out": nn.Linear(rnn.output_dim, outputs)})

    # ------------------------------------------------------------------ hooks used by the task
    def checkpoint_model_args(self) -> dict[str, Any]:
        """What a checkpoint must add to ``model_args`` to rebuild this network without the
        encoder's folder: its full config and the waveform normalisation it was trained with."""
        args = {"encoder_config": self.audio.config_dict(), "normalize_waveform": self.audio.normalize_waveform}
        if self.text is not None:
            args["text_state"] = self.text.checkpoint_state()
        return args

    def feature_encoders(self) -> dict[str, FrozenEncoderFeatures]:
        """``{audio feature: transform}`` when the encoder is frozen and caching is on, else ``{}``."""
        if self.audio.freeze != "all" or not self.cache_encoder_outputs:
            return {}
        if self._encoded_width() == self.audio.frame_samples:  # could not tell cached from raw frames
            return {}
        encoder = FrozenEncoderFeatures(self.audio, self.layers, self.cache_dtype, pool_by=self.word_feature)
        return {self.audio_feature: encoder}

    # ------------------------------------------------------------------ forward
    def _encoded_width(self) -> int:
        """Width of a cached frame: the hidden states of :attr:`layers`, concatenated."""
        return (self.layers[1] - self.layers[0] + 1) * self.audio.hidden_size

    def layer_weights(self) -> Tensor:
        """Softmax weights of all hidden states (zero outside :attr:`layers`; one-hot for a chosen layer)."""
        weights = torch.zeros(self.audio.num_layers)
        first, last = self.layers
        weights[first : last + 1] = 1.0 if self.layer_logits is None else torch.softmax(self.layer_logits.detach(), 0)
        return weights

    def _audio_features(self, audio: Tensor, mask: Tensor) -> Tensor:
        first, last = self.layers
        encoded_width = self._encoded_width()
        if audio.shape[-1] == self.audio.frame_samples:
            hidden = self.audio(audio, mask)[:, :, first : last + 1]  # (B, T, N, H)
        elif audio.shape[-1] == encoded_width:  # pooled hidden states from the corpus cache
            hidden = audio.reshape(*audio.shape[:2], last - first + 1, self.audio.hidden_size)
        else:
            raise ValueError(
                f"{self.audio_feature}: frames of width {audio.shape[-1]}; expected {self.audio.frame_samples} "
                f"waveform samples or {encoded_width} cached encoder outputs"
            )
        if self.layer_logits is not None:
            weights = torch.softmax(self.layer_logits.float(), 0).to(hidden.dtype)
            return torch.einsum("btlh,l->bth", hidden, weights)
        return hidden[:, :, 0]

    @staticmethod
    def pool_words(frames: Tensor, word: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Mean of the frames of each word.

        Args:
            frames: ``(B, T, H)``.
            word: ``(B, T)`` word index of each frame, -1 between words.
            mask: ``(B, T)`` valid frames.

        Returns:
            ``(B, W, H)`` word vectors (``W`` = the largest index + 1) and their left-aligned
            ``(B, W)`` mask; words that hold no frame are left out.
        """
        index = torch.where(mask, word.round().long(), torch.full_like(word, -1, dtype=torch.long))
        count = int(index.max().item()) + 1 if index.numel() else 0
        count = max(count, 1)
        onehot = (index[..., None] == torch.arange(count, device=index.device)).to(frames.dtype)  # (B, T, W)
        sizes = onehot.sum(1)  # (B, W)
        words = torch.einsum("btw,bth->bwh", onehot, frames) / sizes.clamp_min(1.0)[..., None]
        present = sizes > 0
        # words without a frame (zero-length intervals) are dropped: the others move to the
        # front in order, so the word mask is left-aligned like every sequence mask
        order = torch.sort((~present).to(torch.int8), dim=1, stable=True).indices
        words = torch.gather(words, 1, order[..., None].expand_as(words))
        return words, torch.gather(present, 1, order)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``{audio: (B, T, S)[, video: (B, T, H, W, 3)]}``, ``(B, T)`` → ``(B, T, K)``; with a
        ``word_feature``, ``(B, K)``."""
        fused = self._audio_features(features[self.audio_feature], mask)
        if self.word_feature is not None:
            words, word_mask = self.pool_words(fused, features[self.word_feature][..., 0], mask)
            per_word = self._heads(self.dropout(words), word_mask)
            weights = word_mask.to(per_word.dtype)[..., None]
            return (per_word * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        if self.visual is not None:
            fused = torch.cat([fused, self.visual(features[self.video_feature], mask).to(fused.dtype)], -1)
        if self.text is not None:
            fused = torch.cat([fused, self.text(features[self.text_feature], mask).to(fused.dtype)], -1)
        return self._heads(self.dropout(fused), mask)

    def _heads(self, x: Tensor, mask: Tensor) -> Tensor:
        outputs = []
        for head in self.heads:
            h = head["rnn"](x, mask) if "rnn" in head else x
            outputs.append(head["out"](h))
        return torch.cat(outputs, -1) * mask[..., None].to(x.dtype)


def _ssl_net(
    variant: str, feature_dims: Mapping[str, Any], num_targets: int, loaded: Mapping[str, Any] | None, **kwargs: Any
) -> SSLEmotionNet:
    path = kwargs.pop("face_pretrained_path", None)
    face_weights = loaded_file(variant, loaded or {}, "face_pretrained_path", path)
    return SSLEmotionNet(feature_dims, num_targets, face_weights=face_weights, **kwargs)


@register_model(files={"face_pretrained_path": "weights"})
def ssl_audio(
    feature_dims: Mapping[str, Any], num_targets: int, loaded: Mapping[str, Any] | None = None, **kwargs: Any
) -> SSLEmotionNet:
    """Self-supervised speech encoder + layer weighting + linear/BiLSTM head, audio only."""
    return _ssl_net("ssl_audio", feature_dims, num_targets, loaded, **kwargs)


@register_model(files={"face_pretrained_path": "weights"})
def ssl_audiovisual(
    feature_dims: Mapping[str, Any],
    num_targets: int,
    video_feature: str = "video",
    loaded: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SSLEmotionNet:
    """``ssl_audio`` early-fused with a ``timm`` face encoder on the face crops (``video``);
    ``face_pretrained_path`` names the face backbone's initial weights (read by the runner)."""
    return _ssl_net("ssl_audiovisual", feature_dims, num_targets, loaded, video_feature=video_feature, **kwargs)


@register_model(files={"face_pretrained_path": "weights"})
def ssl_audio_text(
    feature_dims: Mapping[str, Any],
    num_targets: int,
    text_feature: str = "transcript",
    loaded: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SSLEmotionNet:
    """``ssl_audio`` early-fused with a ``transformers`` text encoder on the frames' transcript rows."""
    return _ssl_net("ssl_audio_text", feature_dims, num_targets, loaded, text_feature=text_feature, **kwargs)
