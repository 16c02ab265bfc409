"""VGGish: the VGG-like audio embedding network of AudioSet, and its log-mel input.

Paper: S. Hershey, S. Chaudhuri, D. P. W. Ellis, J. F. Gemmeke, A. Jansen, R. C. Moore,
M. Plakal, D. Platt, R. A. Saurous, B. Seybold, M. Slaney, R. J. Weiss, K. Wilson,
"CNN Architectures for Large-Scale Audio Classification", ICASSP 2017,
https://arxiv.org/abs/1609.09430. Original code (TF-Slim):
https://github.com/tensorflow/models/tree/master/research/audioset/vggish

BibTeX::

    @inproceedings{hershey2017cnn,
      title={{CNN} Architectures for Large-Scale Audio Classification},
      author={Hershey, Shawn and Chaudhuri, Sourish and Ellis, Daniel P. W. and Gemmeke, Jort F.
              and Jansen, Aren and Moore, R. Channing and Plakal, Manoj and Platt, Devin and
              Saurous, Rif A. and Seybold, Bryan and Slaney, Malcolm and Weiss, Ron J. and
              Wilson, Kevin},
      booktitle={ICASSP}, year={2017}}

Layer configuration (``vggish_slim.py``): input ``96 × 64`` log-mel patch; conv3×3-64, maxpool
2×2, conv128, pool, conv256 ×2, pool, conv512 ×2, pool (→ ``6 × 4 × 512``), fc4096 ×2, fc128.
Every conv/fc has a ReLU except the 128-d embedding layer (``activation_fn=None`` in the
current TF code; the torchvggish port keeps a ReLU there — ``final_relu=True``). The flatten
uses the TF (height, width, channel) order so that converted TF weights give the same numbers.
Parameter names follow torchvggish (``features.<i>``, ``embeddings.<i>``), so its converted
state dict loads directly. The AudioSet PCA/quantisation post-processing is not applied.

Input parameters (``vggish_params.py``): 16 kHz mono, 25 ms periodic-Hann window, 10 ms hop,
512-point FFT magnitude, 64 HTK mel bands 125–7500 Hz, ``log(mel + 0.01)``, non-overlapping
patches of 96 frames (0.96 s). The STFT is torchaudio's; the mel matrix is VGGish's own
(triangles linear in mel), see :func:`vggish_mel_matrix`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .base import ExtractorError

__all__ = [
    "PATCH_FRAMES",
    "SAMPLE_RATE",
    "VGGish",
    "load_vggish",
    "log_mel",
    "log_mel_patches",
    "vggish_mel_matrix",
]

SAMPLE_RATE = 16000
WIN_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
N_FFT = 512
N_MELS = 64
F_MIN, F_MAX = 125.0, 7500.0
LOG_OFFSET = 0.01
PATCH_FRAMES = 96  # 0.96 s
FRAME_HOP_S = HOP_SAMPLES / SAMPLE_RATE


class VGGish(nn.Module):
    """The VGGish network: ``(B, 1, 96, 64)`` log-mel patches → ``(B, 128)`` embeddings.

    Args:
        final_relu: apply a ReLU to the 128-d embedding (torchvggish) instead of none (TF).
    """

    def __init__(self, final_relu: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for width in block:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [
            nn.Linear(512 * 6 * 4, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 128),
        ]
        if final_relu:
            head.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*head)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 96, 64)`` or ``(B, 96, 64)`` → ``(B, 128)``."""
        if patches.dim() == 3:
            patches = patches.unsqueeze(1)
        x = self.features(patches)  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # TF flatten order (H, W, C)
        return self.embeddings(x)


def load_vggish(path: str | Path, final_relu: bool = False) -> VGGish:
    """VGGish with weights from a local state-dict file (``torch.save(model.state_dict())``).

    Raises:
        ExtractorError: missing/unreadable file, missing or unexpected tensors, or a tensor with
            the wrong shape (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise ExtractorError(f"{path}: VGGish weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise ExtractorError(f"{path}: cannot read VGGish weights: {err}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ExtractorError(f"{path}: expected a state dict (name → tensor), got {type(state)}")
    model = VGGish(final_relu=final_relu)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ExtractorError(
            f"{path}: not a VGGish state dict; missing tensors {missing[:6]}, unexpected tensors {unexpected[:6]}"
        )
    for key, tensor in expected.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != tuple(tensor.shape):
            raise ExtractorError(f"{path}: tensor {key!r} has shape {got}, VGGish expects {tuple(tensor.shape)}")
    model.load_state_dict(state)
    return model.eval()


def vggish_mel_matrix() -> np.ndarray:
    """``(257, 64)`` VGGish mel weights: triangles linear on the HTK mel scale, DC bin zero.

    This is the filter bank of ``mel_features.spectrogram_to_mel_matrix`` (mel =
    1127·ln(1 + f/700)); torchaudio's ``melscale_fbanks`` draws the triangles linear in Hz
    instead, which gives slightly different numbers, so the VGGish matrix is built here.
    """

    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    bins_mel = to_mel(np.linspace(0.0, SAMPLE_RATE / 2.0, N_FFT // 2 + 1))
    edges = np.linspace(to_mel(F_MIN), to_mel(F_MAX), N_MELS + 2)
    lower = (bins_mel[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None, :]
    upper = (edges[None, 2:] - bins_mel[:, None]) / (edges[2:] - edges[1:-1])[None, :]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights[0, :] = 0.0
    return weights.astype(np.float32)


def log_mel(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """VGGish log-mel frames of a mono signal: ``(N, 64)``; frame ``i`` covers samples
    ``[160·i, 160·i + 400)`` at 16 kHz (``N = 1 + (len - 400) // 160``).

    The magnitude spectrogram comes from ``torchaudio.transforms.Spectrogram`` (periodic Hann
    of 400 samples inside a 512-point FFT; the signal is padded by 56 samples on each side so
    that frames start where VGGish's do), followed by :func:`vggish_mel_matrix` and
    ``log(mel + 0.01)``. Other sample rates are resampled to 16 kHz with torchaudio.
    """
    import torchaudio

    wave = torch.as_tensor(np.asarray(signal, dtype=np.float32))
    if sample_rate != SAMPLE_RATE:
        wave = torchaudio.functional.resample(wave, sample_rate, SAMPLE_RATE)
    if len(wave) < WIN_SAMPLES:
        wave = torch.nn.functional.pad(wave, (0, WIN_SAMPLES - len(wave)))
    pad = (N_FFT - WIN_SAMPLES) // 2
    wave = torch.nn.functional.pad(wave, (pad, pad))
    spectrogram = torchaudio.transforms.Spectrogram(
        n_fft=N_FFT,
        win_length=WIN_SAMPLES,
        hop_length=HOP_SAMPLES,
        power=1.0,
        center=False,
        window_fn=torch.hann_window,
    )(wave)  # (257, N), magnitude
    mel = spectrogram.T.double() @ torch.from_numpy(vggish_mel_matrix()).double()
    return torch.log(mel + LOG_OFFSET).numpy().astype(np.float32)


def log_mel_patches(signal: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``96 × 64`` patches and the centre time of each (seconds).

    The last incomplete patch is dropped, as in ``vggish_input.waveform_to_examples``; a signal
    shorter than one patch is zero-padded (in the log domain: ``log(0.01)``) to one patch.
    """
    frames = log_mel(signal, sample_rate)
    if len(frames) < PATCH_FRAMES:
        pad = np.full((PATCH_FRAMES - len(frames), N_MELS), np.log(LOG_OFFSET), dtype=np.float32)
        frames = np.concatenate([frames, pad])
    count = len(frames) // PATCH_FRAMES
    patches = frames[: count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, N_MELS)
    patch_s = PATCH_FRAMES * FRAME_HOP_S
    centres = np.arange(count) * patch_s + (patch_s - FRAME_HOP_S + WIN_SAMPLES / SAMPLE_RATE) / 2
    return patches, centres
