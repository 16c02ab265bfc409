"""Synthetic media and locally saved weights for the feature-extraction tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SR = 16000


def speech_like(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """AM/FM harmonic signal with pauses and a little noise (deterministic)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 2.3 * t), 0, None) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
    return (0.3 * envelope * voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="session")
def wav_dir(tmp_path_factory) -> Path:
    """Folder with two speech-like WAVs (3.1 s and 2.0 s, 16 kHz)."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("wavs")
    sf.write(folder / "rec_a.wav", speech_like(3.1, seed=1), SR)
    sf.write(folder / "rec_b.wav", speech_like(2.0, seed=2), SR)
    return folder


@pytest.fixture(scope="session")
def vggish_weights(tmp_path_factory) -> Path:
    """A random-init VGGish state dict saved to a local file."""
    import torch

    from zoo.features.vggish import VGGish

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vggish") / "vggish.pth"
    torch.save(VGGish().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def resnet18_weights(tmp_path_factory) -> Path:
    """A random-init timm resnet18 state dict (with its 1000-class head) saved locally."""
    import timm
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("timm") / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    return path


WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "car",
    "is",
    "fast",
    "red",
    "and",
    "drive",
    "##s",
    "##ing",
    "very",
    "good",
    "bad",
    "it",
    "a",
    "road",
]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 4-layer, 32-wide BERT with a 20-token vocabulary saved as a local model directory."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).eval().save_pretrained(folder)
    BertTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def make_speech():
    """The :func:`speech_like` generator (test modules cannot import conftest under importlib)."""
    return speech_like
