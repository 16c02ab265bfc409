"""Tzirakis et al. (2017): layer sizes and parameter counts from the paper's description,
FFT convolution against ``F.conv1d``, visual network, pretrained weights, staged multimodal
model, bf16 autocast."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from zoo import create_model
from zoo.hub.checkpoint_io import read_weights_file
from zoo.layers.visual import VisualNet
from zoo.models.registry import list_models
from zoo.models.tzirakis2017 import SpeechNet, fft_conv1d
from zoo.training.task import EmotionTask


@pytest.fixture(autouse=True, scope="module")
def _few_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def lstm_params(i: int, h: int, layers: int) -> int:
    return sum(4 * ((i if layer == 0 else h) * h + h * h + 2 * h) for layer in range(layers))


# --------------------------------------------------------------------------- speech network
# By hand from the paper: conv 20 filters × 80 taps on 1 channel; conv 40 filters × 4000 taps
# (500 ms at 8 kHz) on 20 channels; max-pool 2 in time and 10 across channels.
CONV1 = 1 * 80 * 20 + 20  # 1 620
CONV2 = 20 * 4000 * 40 + 40  # 3 200 040
FEATURES_PER_FRAME = (640 // 2) * (40 // 10)  # 320 samples at 8 kHz × 4 channels = 1280


def test_speech_network_layers_and_parameter_count():
    net = SpeechNet()
    assert tuple(net.conv1.weight.shape) == (20, 1, 80)
    assert tuple(net.conv2.weight.shape) == (40, 20, 4000)
    assert n_params(net.conv1) == CONV1 and n_params(net.conv2) == CONV2
    assert n_params(net) == CONV1 + CONV2 == 3_201_660
    assert FEATURES_PER_FRAME == 1280 == net.output_dim


def test_speech_network_gives_1280_features_per_40ms_frame():
    net = SpeechNet(dropout=0.0).eval()
    audio = torch.randn(2, 7, 640)
    mask = torch.ones(2, 7, dtype=torch.bool)
    with torch.no_grad():
        out = net(audio, mask)
    assert out.shape == (2, 7, 1280)
    # Independent reference with F.conv1d / max_pool1d on the whole waveform, which the network
    # takes as given (the datamodule z-normalised the whole recording, §III-B).
    x = audio.reshape(2, 1, -1)
    x = F.max_pool1d(F.relu(F.conv1d(F.pad(x, (39, 40)), net.conv1.weight, net.conv1.bias)), 2)
    x = F.conv1d(F.pad(x, (1999, 2000)), net.conv2.weight, net.conv2.bias)  # (2, 40, 7*320)
    x = x.reshape(2, 4, 10, -1).amax(dim=2)  # channels 0-9 → 0, 10-19 → 1, ...
    frame3 = x[:, :, 3 * 320 : 4 * 320]  # (2, 4, 320): frame 3, 4 channels × 320 samples
    expected = frame3.permute(0, 2, 1).reshape(2, 1280)
    torch.testing.assert_close(out[:, 3], expected, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("kernel", [1, 80, 81, 4000])
def test_fft_convolution_equals_direct(kernel):
    g = torch.Generator().manual_seed(kernel)
    x = torch.randn(2, 3, 5000, generator=g)
    w = torch.randn(5, 3, kernel, generator=g)
    b = torch.randn(5, generator=g)
    torch.testing.assert_close(fft_conv1d(x, w, b), F.conv1d(x, w, b, padding="same"), atol=2e-3, rtol=1e-4)


def test_fft_convolution_gradients_match_direct():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 600, generator=g, requires_grad=True)
    w = torch.randn(3, 2, 50, generator=g, requires_grad=True)
    fft_conv1d(x, w).square().sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    F.conv1d(x, w, padding="same").square().sum().backward()
    torch.testing.assert_close(gx, x.grad, atol=1e-2, rtol=1e-3)
    torch.testing.assert_close(gw, w.grad, atol=1e-2, rtol=1e-3)


def test_padded_frames_do_not_change_valid_outputs():
    net = create_model("tzirakis2017_audio", feature_dims={"audio": 640}, num_targets=2, hidden_size=8).eval()
    audio = torch.randn(1, 12, 640)
    padded = torch.cat([audio, torch.randn(1, 5, 640) * 100], dim=1)
    mask = torch.zeros(1, 17, dtype=torch.bool)
    mask[0, :12] = True
    with torch.no_grad():
        a = net({"audio": audio}, torch.ones(1, 12, dtype=torch.bool))
        b = net({"audio": padded}, mask)
    torch.testing.assert_close(a, b[:, :12], atol=1e-4, rtol=1e-4)


def test_speech_network_runs_under_cpu_bf16_autocast():
    net = create_model("tzirakis2017_audio", feature_dims={"audio": 640}, num_targets=2, hidden_size=16)
    audio = torch.randn(2, 6, 640)
    mask = torch.ones(2, 6, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net({"audio": audio}, mask)
    assert out.shape == (2, 6, 2) and torch.isfinite(out.float()).all()
    out.float().sum().backward()
    assert torch.isfinite(net.speech.conv2.weight.grad).all()


# --------------------------------------------------------------------------- visual network
def test_visual_network_resnet50_gives_640_per_frame():
    net = VisualNet(chunk_size=3).eval()
    assert net.output_dim == 640  # §III-D: "the visual network 640 features"
    assert net.backbone.num_features == 2048 and tuple(net.proj.weight.shape) == (640, 2048)
    assert VisualNet(backbone="resnet18", feature_dim=None).output_dim == 512  # pool output as is
    video = torch.randint(0, 256, (1, 4, 96, 96, 3), dtype=torch.uint8)
    mask = torch.tensor([[True, True, True, False]])
    with torch.no_grad():
        out = net(video, mask)
        pooled = net.backbone((video[0, 2].permute(2, 0, 1)[None].float() / 255 - net.mean) / net.std)
    assert out.shape == (1, 4, 640)
    torch.testing.assert_close(out[0, 2], pooled[0] @ net.proj.weight.T + net.proj.bias, atol=1e-4, rtol=1e-4)
    assert torch.all(out[0, 3] == 0)  # padded frame
    # the same frame alone gives the same features (eval mode: no augmentation, BN frozen)
    with torch.no_grad():
        single = net(video[:, 1:2], torch.ones(1, 1, dtype=torch.bool))
    torch.testing.assert_close(out[:, 1], single[:, 0], atol=1e-4, rtol=1e-4)


def test_visual_augmentation_only_in_training():
    torch.manual_seed(0)
    net = VisualNet(backbone="resnet18")
    video = torch.randint(0, 256, (1, 2, 32, 32, 3), dtype=torch.uint8)
    mask = torch.ones(1, 2, dtype=torch.bool)
    net.eval()
    with torch.no_grad():
        a, b = net(video, mask), net(video, mask)
    torch.testing.assert_close(a, b)
    net.train()
    net.backbone.eval()  # isolate the augmentation from batch-norm statistics
    with torch.no_grad():
        c, d = net(video, mask), net(video, mask)
    assert not torch.allclose(c, d)


def test_missing_pretrained_path_names_it(tmp_path):
    path = tmp_path / "nowhere" / "resnet18.safetensors"
    with pytest.raises(FileNotFoundError, match=str(path)):
        read_weights_file(path)


@pytest.mark.parametrize("fmt", ["safetensors", "torch"])
def test_loads_pretrained_weights_saved_by_the_test(tmp_path, fmt):
    import timm

    source = timm.create_model("resnet18", pretrained=False, num_classes=10)  # with a classifier
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    state = source.state_dict()
    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / "r18.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "r18.pth"
        torch.save({"state_dict": state}, path)
    net = VisualNet(backbone="resnet18", backbone_weights=read_weights_file(path))
    torch.testing.assert_close(net.backbone.conv1.weight, state["conv1.weight"])
    torch.testing.assert_close(net.backbone.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])


def test_pretrained_weights_of_another_backbone_are_refused(tmp_path):
    import timm

    path = tmp_path / "r18.pth"
    torch.save(timm.create_model("resnet18", num_classes=0).state_dict(), path)
    with pytest.raises(ValueError, match="do not fit resnet34"):
        VisualNet(backbone="resnet34", backbone_weights=read_weights_file(path))


# --------------------------------------------------------------------------- full models
def test_variants_are_registered_and_sized():
    assert set(list_models("tzirakis2017_*")) == {
        "tzirakis2017_audio",
        "tzirakis2017_visual",
        "tzirakis2017_multimodal",
    }
    audio = create_model("tzirakis2017_audio", feature_dims={"audio": 640}, num_targets=2)
    assert n_params(audio) == CONV1 + CONV2 + lstm_params(1280, 256, 2) + (256 * 2 + 2)
    visual = create_model("tzirakis2017_visual", feature_dims={"video": [96, 96, 3]}, num_targets=2)
    assert n_params(visual.lstm) == lstm_params(640, 256, 2)


def test_audio_model_rejects_wrong_frame_size():
    with pytest.raises(ValueError, match="audio frames have 320 samples"):
        create_model("tzirakis2017_audio", feature_dims={"audio": 320}, num_targets=2)


SPEC = {
    "feature_names": ["audio", "video"],
    "feature_dims": {"audio": 640, "video": [32, 32, 3]},
    "target_names": ["arousal", "valence"],
    "label_step": 0.04,
}
SMALL = {"hidden_size": 8, "backbone": "resnet18"}


def save_task(tmp_path, name: str, model: str, args: dict, spec: dict) -> tuple:
    task = EmotionTask(model=model, data_spec=spec, model_args=args)
    with torch.no_grad():
        for p in task.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    checkpoint = {
        "state_dict": task.state_dict(),
        "hyper_parameters": dict(task.hparams),
        "affect_zoo": {"format_version": 1, "model": model},
    }
    path = tmp_path / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path, task


def test_multimodal_keeps_the_extractor_weights_of_both_checkpoints(tmp_path):
    audio_spec = {**SPEC, "feature_names": ["audio"], "feature_dims": {"audio": 640}}
    video_spec = {**SPEC, "feature_names": ["video"], "feature_dims": {"video": [32, 32, 3]}}
    a_path, a_task = save_task(tmp_path, "a", "tzirakis2017_audio", {"hidden_size": 8, "conv2_kernel": 400}, audio_spec)
    v_path, v_task = save_task(tmp_path, "v", "tzirakis2017_visual", SMALL, video_spec)
    net = create_model(
        "tzirakis2017_multimodal",
        feature_dims=SPEC["feature_dims"],
        num_targets=2,
        audio_checkpoint=str(a_path),
        visual_checkpoint=str(v_path),
        hidden_size=16,
    )
    for name, value in a_task.net.speech.state_dict().items():
        torch.testing.assert_close(net.speech.state_dict()[name], value)
    for name, value in v_task.net.visual.state_dict().items():
        torch.testing.assert_close(net.visual.state_dict()[name], value)
    assert net.speech.conv2.kernel_size == (400,)  # extractor settings come from the checkpoint
    assert net.lstm.input_dim == 1280 + 640  # resnet18 features projected to 640
    out = net(
        {"audio": torch.randn(1, 3, 640), "video": torch.randint(0, 256, (1, 3, 32, 32, 3), dtype=torch.uint8)},
        torch.ones(1, 3, dtype=torch.bool),
    )
    assert out.shape == (1, 3, 2)
    frozen = create_model(
        "tzirakis2017_multimodal",
        feature_dims=SPEC["feature_dims"],
        num_targets=2,
        audio_checkpoint=str(a_path),
        visual_checkpoint=str(v_path),
        freeze_extractors=True,
    )
    assert not any(p.requires_grad for p in frozen.speech.parameters())
    assert all(p.requires_grad for p in frozen.lstm.parameters())
    # checkpoints swapped: clear error naming the expected model
    with pytest.raises(ValueError, match="tzirakis2017_visual.*tzirakis2017_audio"):
        create_model(
            "tzirakis2017_multimodal",
            feature_dims=SPEC["feature_dims"],
            num_targets=2,
            audio_checkpoint=str(v_path),
            visual_checkpoint=str(a_path),
        )


def test_multimodal_needs_checkpoints_unless_from_scratch():
    with pytest.raises(ValueError, match="audio_checkpoint is null"):
        create_model("tzirakis2017_multimodal", feature_dims=SPEC["feature_dims"], num_targets=2)
    net = create_model(
        "tzirakis2017_multimodal", feature_dims=SPEC["feature_dims"], num_targets=2, from_scratch=True, **SMALL
    )
    assert net.lstm.input_dim == 1280 + 640 == 1920  # §III-D


@pytest.mark.slow
def test_speech_network_trains_with_bf16_mixed_through_the_cli(tmp_path, zoo_cli):
    run_dir = zoo_cli(
        "fit",
        "recola/tzirakis2017_audio",
        f"output_dir={tmp_path}",
        "trainer.precision=bf16-mixed",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "data.args.win_len=25",
        "data.args.hop_len=25",
        "data.args.batch_size=2",
        "data.args.eval_batch_size=1",
        "model.args.hidden_size=8",
        "trainer.enable_progress_bar=false",
        "export_predictions=[]",
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert "val/ccc_mean" in results
    assert any((run_dir / "predictions").rglob("*.arff"))
