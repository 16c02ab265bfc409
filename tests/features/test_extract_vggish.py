"""VGGish: published layer sizes, log-mel against a NumPy reference, local checkpoints, alignment."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from zoo.features import ExtractorError, create_extractor, label_times
from zoo.features.vggish import VGGish, load_vggish, log_mel, log_mel_patches


def test_layer_configuration_matches_the_paper():
    model = VGGish()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.endswith("weight")}
    convs = [s for s in shapes.values() if len(s) == 4]
    fcs = [s for s in shapes.values() if len(s) == 2]
    assert convs == [
        (64, 1, 3, 3),
        (128, 64, 3, 3),
        (256, 128, 3, 3),
        (256, 256, 3, 3),
        (512, 256, 3, 3),
        (512, 512, 3, 3),
    ]
    assert fcs == [(4096, 12288), (4096, 4096), (128, 4096)]  # 12288 = 6 x 4 x 512
    pools = [m for m in model.features if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 4
    assert model(torch.zeros(2, 1, 96, 64)).shape == (2, 128)


def _numpy_log_mel(signal: np.ndarray) -> np.ndarray:
    """Reference: VGGish's recipe written out in NumPy (16 kHz input)."""
    n = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)  # periodic Hann
    count = 1 + (len(signal) - 400) // 160
    frames = np.stack([signal[i * 160 : i * 160 + 400] for i in range(count)]) * window
    magnitude = np.abs(np.fft.rfft(frames, 512))  # (count, 257)
    mel = lambda f: 1127.0 * np.log(1 + np.asarray(f) / 700.0)  # noqa: E731
    bins = mel(np.linspace(0, 8000, 257))
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    fb = np.zeros((257, 64))
    for i in range(64):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        fb[:, i] = np.maximum(0, np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)))
    fb[0] = 0
    return np.log(magnitude @ fb + 0.01)


def test_log_mel_matches_numpy_reference(wav_dir):
    signal, sr = sf.read(wav_dir / "rec_b.wav", dtype="float32")
    ours = log_mel(signal, sr)
    ref = _numpy_log_mel(signal.astype(np.float64))
    assert ours.shape == ref.shape == (1 + (len(signal) - 400) // 160, 64)
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    patches, centres = log_mel_patches(signal, sr)
    assert patches.shape == (2, 96, 64)  # 2.0 s → two 0.96 s patches
    np.testing.assert_allclose(centres, [0.4875, 1.4475])
    np.testing.assert_array_equal(patches[1], ours[96:192])


def test_vggish_checkpoint_yields_128_per_patch_aligned_to_hop(wav_dir, vggish_weights):
    ex = create_extractor("vggish", weights=vggish_weights, hop=0.25)
    times = label_times(ex.duration(wav_dir / "rec_a.wav"), 0.25)  # 3.1 s: 3 patches
    out = ex.extract(wav_dir / "rec_a.wav", times)
    assert out.values.shape == (13, 128)
    signal, sr = sf.read(wav_dir / "rec_a.wav", dtype="float32")
    patches, centres = log_mel_patches(signal, sr)
    model = VGGish()
    model.load_state_dict(torch.load(vggish_weights, weights_only=True))
    with torch.no_grad():
        emb = model.eval()(torch.from_numpy(patches)).numpy()
    # label t takes the mean of patches centred in [t-0.125, t+0.125), else the nearest patch
    for k, t in enumerate(times):
        nearest = int(np.argmin(np.abs(centres - t)))
        np.testing.assert_allclose(out.values[k], emb[nearest], rtol=1e-4, atol=1e-5)
    again = create_extractor("vggish", weights=vggish_weights).extract(wav_dir / "rec_a.wav", times)
    np.testing.assert_array_equal(out.values, again.values)


def test_logmel_extractor_shape(wav_dir):
    ex = create_extractor("logmel", hop=0.1)
    times = label_times(ex.duration(wav_dir / "rec_b.wav"), 0.1)
    out = ex.extract(wav_dir / "rec_b.wav", times)
    assert out.values.shape == (21, 64)
    signal, sr = sf.read(wav_dir / "rec_b.wav", dtype="float32")
    frames = _numpy_log_mel(signal.astype(np.float64))
    centre = np.arange(len(frames)) * 0.01 + 0.0125
    inside = (centre >= 0.95) & (centre < 1.05)  # label t = 1.0 s
    np.testing.assert_allclose(out.values[10], frames[inside].mean(0), atol=2e-3)


def test_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(ExtractorError, match="--weights"):
        create_extractor("vggish")
    with pytest.raises(ExtractorError, match="not found"):
        create_extractor("vggish", weights=tmp_path / "absent.pth")


def test_wrong_tensor_shape_names_the_tensor(tmp_path):
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in VGGish().state_dict().items()}
    state = {k: torch.zeros(shape if k.startswith("features.0.") else (1,)) for k, shape in shapes.items()}
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ExtractorError, match=r"'features\.3\.weight' has shape \(1,\).*\(128, 64, 3, 3\)"):
        load_vggish(tmp_path / "bad.pth")
    del state["embeddings.4.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(ExtractorError, match=r"missing tensors \['embeddings\.4\.weight'\]"):
        load_vggish(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ExtractorError, match="cannot read VGGish weights"):
        load_vggish(tmp_path / "junk.pth")
