"""audEERING's public dimensional speech emotion model, imported as a sliding-window network.

Wagner et al., "Dawn of the Transformer Era in Speech Emotion Recognition: Closing the Valence
Gap", IEEE TPAMI 45(9), 2023, arXiv:2203.07378; weights ``audeering/wav2vec2-large-robust-12-ft-
emotion-msp-dim`` (wav2vec 2.0 Large Robust pruned to 12 transformer layers, fine-tuned on
MSP-Podcast v1.7; outputs arousal, dominance, valence, roughly in [0, 1]; licence CC BY-NC-SA 4.0).

What the model card specifies (and this module reproduces): the waveform (16 kHz) is z-normalised
by the checkpoint's feature extractor (``do_normalize``: ``(x - mean) / sqrt(var + 1e-7)`` over
the input), run through ``Wav2Vec2Model`` without an attention mask, the last hidden state is
averaged over time, and a regression head ``dense (H -> H) -> tanh -> out_proj (H -> 3)``
(dropout before each linear layer, inactive at inference) gives the three values.

The model scores one utterance; this zoo applies it over **sliding windows** (this zoo's
choice, not the card's): label frame ``k`` of the input (``k · step`` seconds) is scored on the
``window`` seconds of audio centred on it, moved inside the recording near its ends (a recording
shorter than the window is scored whole). Input: the zoo's raw audio feature set, ``(B, T, S)``
with ``S = step · 16000`` samples per label frame, read back into one waveform per recording; so
the step is the input's and the window is :attr:`SlidingWindowW2V2.window` (both settable at
prediction time: ``zoo predict BUNDLE my.wav --step 0.25 --window 2``).

``zoo import audeering-msp-dim`` (:mod:`zoo.hub.importers`) writes the bundle: the encoder's config is a
model argument (``encoder_config``), its weights and the head's are the bundle's safetensors file.

BibTeX::

    @article{wagner2023dawn,
      title   = {Dawn of the Transformer Era in Speech Emotion Recognition: Closing the Valence Gap},
      author  = {Wagner, Johannes and Triantafyllopoulos, Andreas and Wierstorf, Hagen and
                 Schmitt, Maximilian and Burkhardt, Felix and Eyben, Florian and Schuller, Bj{\\"o}rn W.},
      journal = {IEEE Transactions on Pattern Analysis and Machine Intelligence},
      volume  = {45}, number = {9}, pages = {10745--10759}, year = {2023},
      doi     = {10.1109/TPAMI.2023.3263585},
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from zoo.layers.speech_encoder import SAMPLE_RATE, load_speech_encoder
from zoo.models.registry import register_model

__all__ = ["PAPER", "SlidingWindowW2V2", "window_starts", "wagner2023_msp_dim"]

PAPER = (
    "Wagner et al. 2023, Dawn of the Transformer Era in Speech Emotion Recognition: Closing the "
    "Valence Gap, IEEE TPAMI (arXiv:2203.07378); weights audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim"
)


def window_starts(frames: int, frame_samples: int, total: int, window_samples: int) -> tuple[Tensor, int]:
    """First sample of the window of each label frame, and the windows' length.

    Frame ``k`` is centred on sample ``k · frame_samples`` (its label time); its window of
    ``window_samples`` is moved inside ``[0, total)`` near the ends; a signal shorter than the
    window gives every frame the whole signal.

    Returns:
        ``(starts (frames,), length)``.
    """
    length = min(int(window_samples), int(total))
    centres = torch.arange(frames, dtype=torch.long) * int(frame_samples)
    starts = (centres - length // 2).clamp(min=0, max=int(total) - length)
    return starts, length


class SlidingWindowW2V2(nn.Module):
    """wav2vec 2.0 + mean pooling + dense-tanh-linear head over a sliding window per label frame.

    Args:
        feature_dims: ``{audio_feature: S}``, ``S`` waveform samples (16 kHz) per label frame.
        num_targets: outputs (3 for the MSP-Podcast model: arousal, dominance, valence).
        encoder_config: the ``Wav2Vec2Config`` as a dict (the checkpoint's ``config.json``).
        window: seconds of audio per prediction.
        normalize_waveform: z-normalise each window (the feature extractor's ``do_normalize``).
        audio_feature: name of the raw audio feature set.
        windows_per_call: windows given to the encoder at once (memory vs speed).
    """

    def __init__(
        self,
        feature_dims: Mapping[str, Any],
        num_targets: int,
        encoder_config: Mapping[str, Any],
        window: float = 2.0,
        normalize_waveform: bool = True,
        audio_feature: str = "audio",
        windows_per_call: int = 16,
    ) -> None:
        super().__init__()
        if audio_feature not in feature_dims or not isinstance(feature_dims[audio_feature], int):
            raise ValueError(
                f"model.args.audio_feature: {audio_feature!r} must be a raw audio feature set of the data "
                f"(one row of samples per label frame), got {dict(feature_dims)}"
            )
        if str(encoder_config.get("model_type")) != "wav2vec2":
            raise ValueError(f"encoder_config.model_type must be 'wav2vec2', got {encoder_config.get('model_type')!r}")
        self.audio_feature = audio_feature
        self.window = float(window)
        self.normalize_waveform = bool(normalize_waveform)
        self.windows_per_call = max(1, int(windows_per_call))
        self.encoder, _ = load_speech_encoder(None, stored_config=encoder_config)
        hidden = int(self.encoder.config.hidden_size)
        self.head = nn.ModuleDict({"dense": nn.Linear(hidden, hidden), "out_proj": nn.Linear(hidden, num_targets)})

    @property
    def window(self) -> float:
        """Seconds of audio per prediction (> 0)."""
        return self._window

    @window.setter
    def window(self, seconds: float) -> None:
        if not float(seconds) > 0:
            raise ValueError(f"window must be > 0 seconds, got {seconds!r}")
        self._window = float(seconds)

    def score_windows(self, waves: Tensor) -> Tensor:
        """``(N, W)`` waveforms → ``(N, K)``: the model card's forward, one utterance per row."""
        if self.normalize_waveform:
            mean = waves.mean(1, keepdim=True)
            var = waves.var(1, unbiased=False, keepdim=True)
            waves = (waves - mean) / torch.sqrt(var + 1e-7)
        hidden = self.encoder(waves).last_hidden_state.mean(1)
        return self.head["out_proj"](torch.tanh(self.head["dense"](hidden)))

    def forward(self, features: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """``{audio: (B, T, S)}``, ``(B, T)`` → ``(B, T, K)`` (zeros at padded frames)."""
        frames = features[self.audio_feature].float()
        batch, length, samples = frames.shape
        out = frames.new_zeros(batch, length, self.head["out_proj"].out_features)
        window_samples = max(1, int(round(self.window * SAMPLE_RATE)))
        for b in range(batch):
            valid = int(mask[b].sum())
            if valid == 0:
                continue
            wave = frames[b, :valid].reshape(-1)
            starts, size = window_starts(valid, samples, wave.numel(), window_samples)
            index = starts[:, None].to(wave.device) + torch.arange(size, device=wave.device)[None, :]
            for i in range(0, valid, self.windows_per_call):
                out[b, i : i + self.windows_per_call] = self.score_windows(wave[index[i : i + self.windows_per_call]])
        return out * mask[..., None].to(out.dtype)


@register_model
def wagner2023_msp_dim(feature_dims: Mapping[str, Any], num_targets: int, **kwargs: Any) -> SlidingWindowW2V2:
    """audEERING's wav2vec 2.0 MSP-Podcast arousal/dominance/valence model over sliding windows."""
    return SlidingWindowW2V2(feature_dims, num_targets, **kwargs)
